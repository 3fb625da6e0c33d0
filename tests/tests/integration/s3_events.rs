//! The local S3 endpoint accepts presigned PUTs made by aws-sdk-s3, refuses
//! tampered ones, and sends csv-ingest the S3Event AWS would.

use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::presigning::PresigningConfig;
use flux_local::stack::RunningStack;
use flux_tests::{event_channel, spawn_stack, TestDb};
use secrecy::ExposeSecret;

fn s3_client(stack: &RunningStack) -> aws_sdk_s3::Client {
    let credentials = Credentials::new(
        &stack.s3.access_key,
        stack.s3.secret_key.expose_secret(),
        None,
        None,
        "flux-tests",
    );
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(flux_local::s3::REGION))
        .endpoint_url(&stack.s3.url)
        .credentials_provider(credentials)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn presigned_put(stack: &RunningStack, key: &str, body: &[u8]) -> reqwest::RequestBuilder {
    let presigned = s3_client(stack)
        .put_object()
        .bucket(&stack.s3.bucket)
        .key(key)
        .content_type("text/csv")
        .content_length(body.len() as i64)
        .presigned(PresigningConfig::expires_in(Duration::from_secs(900)).unwrap())
        .await
        .unwrap();
    let mut request = reqwest::Client::new()
        .put(presigned.uri())
        .body(body.to_vec());
    // Exactly the headers that were signed, as the browser will send them.
    let signed: Vec<(String, String)> = presigned
        .headers()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert!(
        signed.iter().any(|(n, _)| n == "content-type"),
        "{signed:?}"
    );
    for (name, value) in signed {
        request = request.header(name, value);
    }
    request
}

#[tokio::test]
async fn a_presigned_put_stores_the_object_and_fires_the_s3_event() {
    let db = TestDb::new().await;
    let (handler, mut events) = event_channel();
    let stack = spawn_stack(&db, Some(handler)).await;
    let key = "uploads/3f1c/Sales Jan.csv";
    let body = b"order_id,ordered_at\nA-1,2026-01-29 19:05\n";

    let response = presigned_put(&stack, key, body).await.send().await.unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "{}",
        response.text().await.unwrap()
    );

    let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("event within 5 s")
        .unwrap();
    let record = &event.records[0];
    assert_eq!(record.event_source.as_deref(), Some("aws:s3"));
    assert_eq!(record.event_name.as_deref(), Some("ObjectCreated:Put"));
    assert_eq!(
        record.s3.bucket.name.as_deref(),
        Some(stack.s3.bucket.as_str())
    );
    // Keys arrive URL-encoded, spaces as '+', exactly as from AWS.
    assert_eq!(
        record.s3.object.key.as_deref(),
        Some("uploads/3f1c/Sales+Jan.csv")
    );
    assert_eq!(record.s3.object.size, Some(body.len() as i64));

    // The object is really there.
    let stored = s3_client(&stack)
        .get_object()
        .bucket(&stack.s3.bucket)
        .key(key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(stored.as_ref(), body);
}

#[tokio::test]
async fn tampered_or_oversized_presigned_puts_are_refused_without_an_event() {
    let db = TestDb::new().await;
    let (handler, mut events) = event_channel();
    let stack = spawn_stack(&db, Some(handler)).await;
    let body = b"order_id\nA-1\n";

    // A different key under the same signature.
    let presigned = presigned_put(&stack, "uploads/r/u.csv", body)
        .await
        .build()
        .unwrap();
    let tampered_url = presigned.url().as_str().replace("u.csv", "other.csv");
    let response = reqwest::Client::new()
        .put(tampered_url)
        .header("content-type", "text/csv")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);

    // A different content type than the one signed.
    let mut wrong_type = presigned_put(&stack, "uploads/r/u.csv", body)
        .await
        .build()
        .unwrap();
    wrong_type
        .headers_mut()
        .insert("content-type", "application/octet-stream".parse().unwrap());
    let response = reqwest::Client::new().execute(wrong_type).await.unwrap();
    assert_eq!(response.status().as_u16(), 403);

    assert!(
        tokio::time::timeout(Duration::from_millis(500), events.recv())
            .await
            .is_err(),
        "no event for refused uploads"
    );
}
