//! The harness itself: what every other test relies on.

use std::time::{Duration, Instant};

use flux_tests::TestApp;

/// A test that fails drops its app without shutting it down: the stack must
/// stop serving then, not linger until the test process ends.
#[tokio::test]
async fn a_dropped_app_stops_serving_even_when_its_test_panicked() {
    let app = TestApp::spawn().await;
    let url = format!("{}/health", app.api.base);
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);

    let failed = tokio::spawn(async move {
        let _app = app;
        panic!("a failing test");
    })
    .await;
    assert!(failed.is_err());

    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match reqwest::get(&url).await {
            Err(e) if e.is_connect() => break,
            answered => assert!(
                Instant::now() < deadline,
                "still serving after the drop: {answered:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
