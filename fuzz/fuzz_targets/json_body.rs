//! Request bodies as the API's JSON decoding sees them: any bytes, any
//! content type. Decoding never panics; it yields a value, or a 400, 413 or
//! 415 problem whose messages speak the client's language.
#![no_main]

use arbitrary::Arbitrary;
use flux_shared::http::json_body;
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

/// The shapes of the API's bodies: strings, numbers, optional and nested fields.
#[derive(Deserialize, Debug)]
#[allow(dead_code)]
struct Register {
    email: String,
    password: String,
    restaurant_name: String,
    #[serde(default)]
    timezone: Option<String>,
}

#[derive(Deserialize, Debug)]
#[allow(dead_code)]
struct NewUpload {
    filename: String,
    size_bytes: i64,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    nested: Option<Vec<std::collections::HashMap<String, u32>>>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    content_type: u8,
    body: Vec<u8>,
}

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "application/problem+json",
    "text/plain",
    "",
];

fuzz_target!(|input: Input| {
    let content_type = CONTENT_TYPES[usize::from(input.content_type) % CONTENT_TYPES.len()];
    let request = http::Request::post("/x")
        .header("content-type", content_type)
        .body(match String::from_utf8(input.body) {
            Ok(text) => lambda_http::Body::Text(text),
            Err(e) => lambda_http::Body::Binary(e.into_bytes()),
        })
        .expect("request");
    for problem in [
        json_body::<Register>(&request).err(),
        json_body::<NewUpload>(&request).err(),
    ]
    .into_iter()
    .flatten()
    {
        assert!([400, 413, 415].contains(&problem.status), "{problem:?}");
        let text = serde_json::to_string(&problem).expect("serializes");
        for leak in ["i64", "u32", "String", "struct", "invalid type"] {
            assert!(!text.contains(leak), "server types in {text}");
        }
    }
});
