use std::time::{Duration, Instant};

use flux_health::HealthState;
use flux_shared::db::DbSettings;
use flux_shared::http::HttpConfig;
use flux_tests::{spawn_stack, stack_with_own_postgres, TestDb};
use serde_json::Value;

async fn get(url: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

#[tokio::test]
async fn health_reports_the_database_and_unknown_paths_are_problems() {
    let db = TestDb::new().await;
    let stack = spawn_stack(&db, None).await;

    let (status, headers, body) = get(&format!("{}/health", stack.api_url)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], "0.1.0");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert!(body["checks"]["database"]["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(uuid::Uuid::parse_str(headers["x-request-id"].to_str().unwrap()).is_ok());
    assert_eq!(headers["x-content-type-options"], "nosniff");

    let (status, headers, body) = get(&format!("{}/no/such/route", stack.api_url)).await;
    assert_eq!(status, 404);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["type"], "https://flux.dev/problems/not-found");
    assert_eq!(
        body["request_id"],
        headers["x-request-id"].to_str().unwrap()
    );

    let response = reqwest::Client::new()
        .post(format!("{}/health", stack.api_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "GET");
}

/// The local stack's own PostgreSQL is stopped while it serves: /health
/// turns 503 quickly, and 200 again once the database is back.
#[tokio::test]
async fn health_is_503_while_the_database_is_down_and_recovers() {
    let stack = stack_with_own_postgres(None).await;
    let url = format!("{}/health", stack.api_url);
    assert_eq!(get(&url).await.0, 200);

    let mut stack = stack;
    let cluster = stack
        .database
        .cluster
        .as_mut()
        .expect("the stack runs its own cluster");
    let port = cluster.port().unwrap();
    cluster.stop().await;

    let started = Instant::now();
    let (status, _, body) = get(&url).await;
    let elapsed = started.elapsed();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["database"]["status"], "error");
    assert!(body["checks"]["database"]["error"].is_string());
    assert!(elapsed < Duration::from_millis(2500), "took {elapsed:?}");

    let cluster = stack.database.cluster.as_mut().unwrap();
    cluster.start(port).await.expect("restart");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, body) = get(&url).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A database that accepts connections and never answers: the check is
/// bounded, so /health still answers within 2 s.
#[tokio::test]
async fn health_answers_within_two_seconds_when_the_database_hangs() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut settings =
        DbSettings::from_url(&format!("postgres://flux_app@127.0.0.1:{port}/flux")).unwrap();
    settings.connect_timeout = Duration::from_secs(30);
    let state = HealthState::new(HttpConfig::default(), settings.pool().unwrap());
    let request = http::Request::get("/health")
        .body(lambda_http::Body::Empty)
        .unwrap();

    let started = Instant::now();
    let response = flux_health::handle(&state, request).await;
    let elapsed = started.elapsed();
    assert_eq!(response.status().as_u16(), 503);
    let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(body["checks"]["database"]["error"], "timeout");
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    hold.abort();
}
