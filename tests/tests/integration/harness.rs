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

/// A stack that started its own PostgreSQL and is dropped without
/// `shutdown` (a test that panicked) stops that server too.
#[tokio::test]
async fn a_dropped_stack_stops_the_postgresql_it_started() {
    let stack = flux_tests::stack_with_own_postgres(None).await;
    let port = stack.database.app.pg.get_ports()[0];
    let address = format!("127.0.0.1:{port}");
    assert!(tokio::net::TcpStream::connect(&address).await.is_ok());

    drop(stack);
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(&address).await.is_ok() {
        assert!(Instant::now() < deadline, "PostgreSQL still runs");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
