//! JSON request bodies: typed values, or problems naming the field in the
//! client's terms.

use serde::de::DeserializeOwned;

use super::Request;
use crate::problem::{FieldError, Problem};

/// The body as `T`: 415 unless it is JSON, 400 naming the field when it is
/// malformed, misses a field or has a field of the wrong type.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, Problem> {
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" && !essence.ends_with("+json") {
        return Err(Problem::unsupported_media_type(
            "the body must be application/json",
        ));
    }
    let bytes: &[u8] = req.body().as_ref();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::bad_request("the request body is empty"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| json_problem(&e))?;
    deserializer.end().map_err(|_| {
        Problem::bad_request("the body has trailing characters after the JSON value")
    })?;
    Ok(value)
}

fn json_problem(error: &serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let inner = error.inner();
    if !inner.is_data() {
        return Problem::bad_request(format!(
            "the body is not valid JSON (line {}, column {})",
            inner.line(),
            inner.column()
        ));
    }
    let path = error.path().to_string();
    let message = inner.to_string();
    let parent = if path == "." {
        String::new()
    } else {
        format!("{path}.")
    };
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(|name| format!("{parent}{name}"))
    };
    let field_error = if let Some(field) = named("missing field `") {
        FieldError::new(field, "is required")
    } else if let Some(field) = named("duplicate field `") {
        FieldError::new(field, "appears more than once")
    } else if path == "." {
        FieldError::new("body", "must be a JSON object")
    } else {
        FieldError::new(path, client_message(&message))
    };
    Problem::validation(vec![field_error])
}

/// serde's message (`invalid type: string "12", expected i64`) in the
/// client's terms (`must be an integer`): never the server's types.
fn client_message(serde_message: &str) -> String {
    let message = serde_message
        .split(" at line ")
        .next()
        .unwrap_or(serde_message);
    if let Some(variants) = message
        .strip_prefix("unknown variant")
        .and_then(|m| m.split_once("expected one of "))
        .map(|(_, variants)| variants.replace('`', ""))
    {
        return format!("must be one of {variants}");
    }
    let expected = message
        .rsplit_once("expected ")
        .map(|(_, expected)| expected)
        .unwrap_or_default();
    let integer = [
        "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "usize", "isize", "integer",
    ]
    .iter()
    .any(|t| expected.split_whitespace().any(|w| w == *t));
    if message.starts_with("invalid value") && integer {
        return "is out of range".into();
    }
    let kind = if integer {
        "an integer"
    } else if ["f32", "f64", "number", "float"]
        .iter()
        .any(|t| expected.contains(t))
    {
        "a number"
    } else if ["bool", "boolean"].iter().any(|t| expected.contains(t)) {
        "true or false"
    } else if ["sequence", "array", "tuple"]
        .iter()
        .any(|t| expected.contains(t))
    {
        "an array"
    } else if ["struct", "map", "object"]
        .iter()
        .any(|t| expected.contains(t))
    {
        "an object"
    } else if expected.to_ascii_lowercase().contains("uuid") {
        "a UUID"
    } else if ["string", "char", "str"]
        .iter()
        .any(|t| expected.contains(t))
    {
        "a string"
    } else {
        return "is not valid here".into();
    };
    format!("must be {kind}")
}
