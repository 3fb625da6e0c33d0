//! Faults injected from outside: the database stops or crashes, an object
//! vanishes, a read breaks off, many requests at once. Each ends in a clear
//! status or a retry that ingests exactly once; never a 5xx other than 503,
//! never a panic, never a duplicate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flux_csv_ingest::IngestState;
use flux_local::s3::REGION;
use flux_local::stack::RunningStack;
use flux_shared::secrets::ExposeSecret;
use flux_shared::uploads::BucketConfig;
use flux_tests::{event_channel, stack_with_own_postgres, Api, STRONG_PASSWORD};
use futures::future::join_all;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A stack with a PostgreSQL of its own (so a test may stop it), S3 events
/// captured when `capture` is set.
async fn own_stack(
    capture: bool,
) -> (
    RunningStack,
    Option<tokio::sync::mpsc::UnboundedReceiver<aws_lambda_events::s3::S3Event>>,
) {
    let (handler, events) = if capture {
        let (handler, events) = event_channel();
        (Some(handler), Some(events))
    } else {
        (None, None)
    };
    (stack_with_own_postgres(handler).await, events)
}

fn orders_csv(orders: usize) -> String {
    let mut csv = String::from("order_id,ordered_at,item_name,quantity,unit_price\n");
    for order in 0..orders {
        for item in 0..3 {
            csv.push_str(&format!(
                "F-{order:06},2026-01-29 {:02}:{:02},item {item},1,2.50\n",
                order / 60 % 24,
                order % 60
            ));
        }
    }
    csv
}

async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// Every route answers 503 (a problem, `retry-after`) while the database is
/// down, and serves again once it is back, with no restart.
#[tokio::test]
async fn routes_answer_503_while_the_database_is_down_and_recover() {
    let (mut stack, _) = own_stack(false).await;
    let api = Api::new(&stack);
    let owner = api.register("down@bistro.example", "Bistro").await;
    let token = owner["access_token"].as_str().unwrap().to_string();
    let login = json!({"email": "down@bistro.example", "password": STRONG_PASSWORD});
    let new_upload = json!({"filename": "a.csv", "size_bytes": 10});

    let cluster = stack.database.cluster.as_mut().unwrap();
    let port = cluster.port().unwrap();
    // Stopped while a request is in flight: that one may still succeed.
    let (in_flight, ()) = tokio::join!(api.get("/uploads", Some(&token)), cluster.stop());
    assert!(
        [200, 503].contains(&in_flight.status),
        "{:?}",
        in_flight.body
    );

    let replies = [
        api.post("/auth/login", &login).await,
        api.get("/auth/me", Some(&token)).await,
        api.get("/uploads", Some(&token)).await,
        api.post_auth("/uploads", &token, &new_upload).await,
        api.get(
            "/uploads/00000000-0000-0000-0000-000000000001",
            Some(&token),
        )
        .await,
        api.get("/sales/summary", Some(&token)).await,
        api.get("/sales/transactions/1", Some(&token)).await,
        api.post(
            "/auth/refresh",
            &json!({"refresh_token": owner["refresh_token"]}),
        )
        .await,
    ];
    for reply in &replies {
        assert_eq!(reply.status, 503, "{:?}", reply.body);
        assert_eq!(reply.header("content-type"), "application/problem+json");
        assert_eq!(reply.body["type"], "https://flux.dev/problems/unavailable");
        assert!(!reply.header("retry-after").is_empty());
    }

    let cluster = stack.database.cluster.as_mut().unwrap();
    cluster.start(port).await.expect("restart");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reply = api.post("/auth/login", &login).await;
        if reply.status == 200 {
            break;
        }
        assert_eq!(reply.status, 503, "{:?}", reply.body);
        assert!(Instant::now() < deadline, "still down");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(api.get("/uploads", Some(&token)).await.status, 200);
    assert_eq!(
        api.post_auth("/uploads", &token, &new_upload).await.status,
        201
    );
}

/// csv-ingest with a short stale-claim window, over the stack's database
/// and the given S3 endpoint.
fn ingest_state(stack: &RunningStack, s3_url: &str) -> IngestState {
    let bucket = BucketConfig {
        bucket: stack.s3.bucket.clone(),
        endpoint_url: Some(s3_url.to_string()),
    };
    IngestState {
        pool: stack.database.app.pool().unwrap(),
        s3: bucket.client_with(
            REGION,
            &stack.s3.access_key,
            stack.s3.secret_key.expose_secret(),
        ),
        bucket: stack.s3.bucket.clone(),
        stale_after: Duration::from_secs(2),
        heartbeat_every: Duration::from_millis(200),
    }
}

/// Retries an invocation the way Lambda does, until it succeeds.
async fn retry_until_done(state: &IngestState, event: &aws_lambda_events::s3::S3Event) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match flux_csv_ingest::handle(state, event.clone(), "retry").await {
            Ok(()) => return,
            Err(e) => assert!(Instant::now() < deadline, "never ingested: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test]
async fn a_database_crash_mid_ingest_leaves_nothing_and_the_retry_ingests_once() {
    let (mut stack, events) = own_stack(true).await;
    let mut events = events.unwrap();
    let api = Api::new(&stack);
    let token = api.register("crash@bistro.example", "Bistro").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let csv = orders_csv(40_000);
    let id = api.upload(&token, "big.csv", csv.as_bytes()).await;
    let event = events.recv().await.unwrap();
    let state = Arc::new(ingest_state(&stack, &stack.s3.url));

    let ingest = tokio::spawn({
        let (state, event) = (state.clone(), event.clone());
        async move { flux_csv_ingest::handle(&state, event, "first").await }
    });
    // Crash once rows are landing.
    let superuser = flux_tests::connect(&stack.database.human_url).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(
        &superuser,
        "SELECT coalesce(max(rows_total), 0) FROM data_uploads",
    )
    .await
        < 5_000
    {
        assert!(Instant::now() < deadline, "the ingest never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cluster = stack.database.cluster.as_mut().unwrap();
    let port = cluster.port().unwrap();
    cluster.crash().await;
    assert!(ingest.await.unwrap().is_err(), "the first attempt fails");
    cluster.start(port).await.expect("recover");

    retry_until_done(&state, &event).await;
    let upload = api.wait_final(&token, &id).await;
    assert_eq!(
        (
            &upload["status"],
            &upload["rows_ingested"],
            &upload["transactions_ingested"]
        ),
        (&json!("completed"), &json!(120_000), &json!(40_000)),
        "{upload}"
    );
    let superuser = flux_tests::connect(&stack.database.human_url).await;
    assert_eq!(
        count(&superuser, "SELECT count(*) FROM transactions").await,
        40_000
    );
    assert_eq!(
        count(&superuser, "SELECT count(*) FROM transaction_items").await,
        120_000
    );
}

#[tokio::test]
async fn an_object_deleted_before_ingest_fails_its_upload_clearly() {
    let (stack, events) = own_stack(true).await;
    let mut events = events.unwrap();
    let api = Api::new(&stack);
    let token = api.register("gone@bistro.example", "Bistro").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let id = api
        .upload(&token, "gone.csv", orders_csv(3).as_bytes())
        .await;
    let event = events.recv().await.unwrap();
    let key =
        flux_shared::uploads::decode_event_key(event.records[0].s3.object.key.as_deref().unwrap())
            .unwrap();
    std::fs::remove_file(stack.data_dir.join("s3").join(&stack.s3.bucket).join(key)).unwrap();
    flux_csv_ingest::handle(&stack.ingest, event, "gone")
        .await
        .expect("a vanished object is the upload's failure, not a retry");
    let upload = api.wait_final(&token, &id).await;
    assert_eq!(upload["status"], "failed");
    assert_eq!(
        upload["error"],
        "the uploaded file is no longer in storage; upload it again"
    );
}

/// A proxy to `upstream` whose first connection is cut after `cut_after`
/// bytes of response; later ones pass everything.
async fn flaky_proxy(upstream: String, cut_after: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut client, _)) = listener.accept().await {
            let mut server = TcpStream::connect(&upstream).await.unwrap();
            let limit = if std::mem::take(&mut first) {
                Some(cut_after)
            } else {
                None
            };
            tokio::spawn(async move {
                let (mut client_read, mut client_write) = client.split();
                let (mut server_read, mut server_write) = server.split();
                let upstream = tokio::io::copy(&mut client_read, &mut server_write);
                let downstream = async {
                    let mut sent = 0;
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = server_read.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        let n = limit.map_or(n, |limit| n.min(limit - sent));
                        if client_write.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                        sent += n;
                        if limit == Some(sent) {
                            return;
                        }
                    }
                };
                tokio::select! {
                    _ = upstream => {}
                    _ = downstream => {}
                }
            });
        }
    });
    url
}

#[tokio::test]
async fn a_read_cut_off_mid_file_is_retried_and_ingested_once() {
    let (stack, events) = own_stack(true).await;
    let mut events = events.unwrap();
    let api = Api::new(&stack);
    let token = api.register("cut@bistro.example", "Bistro").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let csv = orders_csv(10_000);
    let id = api.upload(&token, "cut.csv", csv.as_bytes()).await;
    let event = events.recv().await.unwrap();
    let proxy = flaky_proxy(
        stack.s3.url.trim_start_matches("http://").to_string(),
        200_000,
    )
    .await;
    let state = ingest_state(&stack, &proxy);

    let first = flux_csv_ingest::handle(&state, event.clone(), "first").await;
    assert!(
        matches!(first, Err(flux_csv_ingest::IngestError::Interrupted(_))),
        "{first:?}"
    );
    let upload = api.get(&format!("/uploads/{id}"), Some(&token)).await.body;
    assert_eq!(
        upload["status"], "processing",
        "waiting for the retry: {upload}"
    );
    // The claim was released: the retry takes over at once, not after 2 s.
    let started = Instant::now();
    flux_csv_ingest::handle(&state, event, "retry")
        .await
        .expect("the retry ingests");
    assert!(started.elapsed() < Duration::from_secs(2));
    let upload = api.wait_final(&token, &id).await;
    assert_eq!(
        (&upload["status"], &upload["rows_ingested"]),
        (&json!("completed"), &json!(30_000)),
        "{upload}"
    );
    let superuser = flux_tests::connect(&stack.database.human_url).await;
    assert_eq!(
        count(&superuser, "SELECT count(*) FROM transaction_items").await,
        30_000
    );
}

#[tokio::test]
async fn many_sign_ins_and_uploads_at_once_get_no_5xx_and_no_duplicates() {
    let (stack, _) = own_stack(false).await;
    let api = Api::new(&stack);
    let registrations: Vec<Value> = (0..50)
        .map(|i| {
            json!({"email": format!("crowd{i}@bistro.example"), "password": STRONG_PASSWORD,
                   "restaurant_name": format!("Crowd {i}")})
        })
        .collect();
    for body in &registrations {
        assert_eq!(api.post("/auth/register", body).await.status, 201);
    }
    let logins: Vec<Value> = (0..50)
        .map(|i| json!({"email": format!("crowd{i}@bistro.example"), "password": STRONG_PASSWORD}))
        .collect();
    let replies = join_all(logins.iter().map(|body| api.post("/auth/login", body))).await;
    assert!(
        replies.iter().all(|r| r.status == 200),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );

    // Twenty overlapping files of one restaurant: every order exactly once.
    let token = replies[0].body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let files: Vec<String> = (0..20)
        .map(|n| {
            let mut csv = String::from("order_id,ordered_at,item_name,quantity,unit_price\n");
            for order in n * 50..n * 50 + 200 {
                csv.push_str(&format!("C-{order:05},2026-01-29 19:05,item,1,2.00\n"));
                csv.push_str(&format!("C-{order:05},2026-01-29 19:05,other,2,1.00\n"));
            }
            csv
        })
        .collect();
    let uploads = join_all(
        files
            .iter()
            .map(|csv| api.ingest(&token, "crowd.csv", csv.as_bytes())),
    )
    .await;
    let mut ingested = 0;
    for (_, upload) in &uploads {
        assert_eq!(upload["status"], "completed", "{upload}");
        assert_eq!(
            upload["rows_ingested"].as_i64().unwrap() + upload["rows_duplicate"].as_i64().unwrap(),
            400
        );
        ingested += upload["transactions_ingested"].as_i64().unwrap();
    }
    let distinct_orders = 19 * 50 + 200;
    assert_eq!(ingested, distinct_orders);
    let superuser = flux_tests::connect(&stack.database.human_url).await;
    assert_eq!(
        count(&superuser, "SELECT count(*) FROM transactions").await,
        distinct_orders
    );
    assert_eq!(
        count(&superuser, "SELECT count(*) FROM transaction_items").await,
        distinct_orders * 2
    );
}
