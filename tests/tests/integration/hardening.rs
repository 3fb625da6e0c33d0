//! What an attack on the local stack found, each kept fixed: throttling
//! under concurrency, email comparison, forwarded addresses, token lifetime
//! and revocation.

use std::collections::HashMap;

use flux_auth::keyring::KeyRing;
use flux_auth::AuthState;
use flux_shared::http::HttpConfig;
use flux_shared::tokens::keys::generate_secret;
use flux_shared::tokens::TokenConfig;
use flux_tests::{TestApp, TestDb, STRONG_PASSWORD};
use futures::future::join_all;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::request::RequestContext;
use serde_json::{json, Value};

fn login_body(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password})
}

/// How many of `replies` got each status.
fn tally(statuses: impl IntoIterator<Item = u16>) -> HashMap<u16, usize> {
    let mut counts = HashMap::new();
    for status in statuses {
        *counts.entry(status).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn concurrent_wrong_passwords_for_one_email_verify_at_most_five() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    api.register("raced@bistro.example", "Bistro").await;
    let body = login_body("raced@bistro.example", "wrong-password-123");
    let attempts = (0..30).map(|_| api.post("/auth/login", &body));
    let counts = tally(join_all(attempts).await.iter().map(|r| r.status));
    assert_eq!(counts.get(&401), Some(&5), "{counts:?}");
    assert_eq!(counts.get(&429), Some(&25), "{counts:?}");
}

#[tokio::test]
async fn concurrent_sign_ins_from_one_address_verify_at_most_its_limit() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let bodies: Vec<Value> = (0..80)
        .map(|i| login_body(&format!("spray{i}@bistro.example"), "wrong-password-123"))
        .collect();
    let attempts = bodies.iter().map(|body| api.post("/auth/login", body));
    let counts = tally(join_all(attempts).await.iter().map(|r| r.status));
    assert_eq!(counts.get(&401), Some(&50), "{counts:?}");
    assert_eq!(counts.get(&429), Some(&30), "{counts:?}");
}

#[tokio::test]
async fn an_overlong_sign_in_email_is_an_ordinary_failure() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    for email in [
        format!("{}@bistro.example", "é".repeat(1000)),
        format!("{}@bistro.example", "a".repeat(5000)),
    ] {
        let reply = api
            .post("/auth/login", &login_body(&email, STRONG_PASSWORD))
            .await;
        assert_eq!(reply.status, 401, "{:?}", reply.body);
        assert_eq!(reply.body["detail"], "Invalid email or password");
    }
    // Throttled like any other email.
    let body = login_body(
        &format!("{}@bistro.example", "ü".repeat(3000)),
        "wrong-password-123",
    );
    let statuses: Vec<u16> = join_all((0..6).map(|_| api.post("/auth/login", &body)))
        .await
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(tally(statuses).get(&429), Some(&1));
}

#[tokio::test]
async fn one_account_per_email_whatever_its_case_or_script() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let sign_in = async |email: &str| {
        api.post("/auth/login", &login_body(email, STRONG_PASSWORD))
            .await
    };
    for (registered, other_spelling) in [
        ("Émile@bistro.example", "émile@bistro.example"),
        ("ΣΟΦΙΑΣ@bistro.example", "σοφιας@bistro.example"),
        ("İpek@bistro.example", "İPEK@bistro.example"),
        ("kate@bistro.example", "\u{212A}ate@bistro.example"),
    ] {
        let account = api.register(registered, "Bistro").await;
        let user_id = &account["user"]["id"];
        for spelling in [registered, other_spelling] {
            let reply = sign_in(spelling).await;
            assert_eq!(reply.status, 200, "{spelling}: {:?}", reply.body);
            assert_eq!(&reply.body["user"]["id"], user_id, "{spelling}");
        }
        let again = api
            .post(
                "/auth/register",
                &json!({"email": other_spelling, "password": STRONG_PASSWORD,
                        "restaurant_name": "Second"}),
            )
            .await;
        assert_eq!(again.status, 409, "{other_spelling}: {:?}", again.body);
    }
}

#[tokio::test]
async fn accounts_from_before_email_keys_are_keyed_by_the_migration() {
    let db = TestDb::empty().await;
    let mut owner = flux_tests::connect(&db.owner_url).await;
    flux_migrate::migrate_to(&mut owner, Some(2)).await.unwrap();
    // Accounts as the old code stored them: PostgreSQL's lower() told
    // these two apart, so both exist.
    let superuser = db.superuser().await;
    superuser
        .batch_execute(
            "INSERT INTO restaurants (id, name) VALUES
                 ('00000000-0000-0000-0000-00000000000a', 'A'),
                 ('00000000-0000-0000-0000-00000000000b', 'B');
             INSERT INTO users (id, restaurant_id, email, password_hash, role, created_at) VALUES
                 ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-00000000000a',
                  'Émile@Bistro.example', 'x', 'owner', now() - interval '2 days'),
                 ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-00000000000b',
                  'émile@bistro.example', 'x', 'owner', now() - interval '1 day'),
                 ('00000000-0000-0000-0000-0000000000b2', '00000000-0000-0000-0000-00000000000b',
                  'Chef@Bistro.example', 'x', 'manager', now());",
        )
        .await
        .unwrap();
    flux_migrate::migrate(&mut owner).await.unwrap();
    let keys: Vec<(String, Option<String>)> = superuser
        .query(
            "SELECT email, email_key FROM users ORDER BY created_at",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let first = flux_shared::emails::key("Émile@Bistro.example");
    assert_eq!(keys[0].1.as_deref(), Some(first.as_str()));
    assert_eq!(keys[2].1.as_deref(), Some("chef@bistro.example"));
    // The second Émile cannot share the key: left for a human, still listed.
    assert_eq!(keys[1].1, None);
    let waiting: i64 = superuser
        .query_one("SELECT count(*) FROM email_key_backfill", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(waiting, 1);
    // Running again changes nothing and fails nothing.
    flux_migrate::migrate(&mut owner).await.unwrap();
}

/// A sign-in through the auth handler as API Gateway would deliver it,
/// from `source_ip` with the given `x-forwarded-for`.
async fn sign_in_via(state: &AuthState, source_ip: &str, forwarded: &str, email: &str) -> u16 {
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http.source_ip = Some(source_ip.to_string());
    let mut request = http::Request::post("/auth/login")
        .header("content-type", "application/json")
        .header("x-forwarded-for", forwarded)
        .body(lambda_http::Body::Text(
            login_body(email, "wrong-password-123").to_string(),
        ))
        .unwrap();
    request
        .extensions_mut()
        .insert(RequestContext::ApiGatewayV2(context));
    flux_auth::handle(state, request).await.status().as_u16()
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_address_is_the_hop_the_proxy_added() {
    let db = TestDb::new().await;
    let tokens = TokenConfig::new("https://issuer.example", "flux-api");
    let keys = KeyRing::fixed(&tokens, generate_secret("k1")).unwrap();
    let mut state = AuthState::new(
        HttpConfig::default(),
        db.app_settings().pool().unwrap(),
        tokens,
        keys,
    )
    .await
    .unwrap();
    state.trust_forwarded_for = true;
    state.limits.per_ip = 3;
    // The client writes whatever it likes before the proxy's hop.
    for i in 0..3 {
        let forwarded = format!("10.0.0.{i}, 203.0.113.7");
        let status = sign_in_via(&state, "10.1.1.1", &forwarded, &format!("a{i}@x.example")).await;
        assert_eq!(status, 401);
    }
    let status = sign_in_via(&state, "10.1.1.1", "10.9.9.9, 203.0.113.7", "b@x.example").await;
    assert_eq!(
        status, 429,
        "the proxy's hop is the address that is throttled"
    );
    let status = sign_in_via(
        &state,
        "10.1.1.1",
        "203.0.113.7, 198.51.100.1",
        "c@x.example",
    )
    .await;
    assert_eq!(status, 401, "another client behind the same proxy is not");
}

#[tokio::test]
async fn logout_and_refresh_token_reuse_end_the_access_tokens_of_their_session() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let first = api.register("session@bistro.example", "Bistro").await;
    let access = first["access_token"].as_str().unwrap().to_string();
    assert_eq!(api.get("/auth/me", Some(&access)).await.status, 200);
    assert_eq!(api.get("/uploads", Some(&access)).await.status, 200);

    api.post(
        "/auth/logout",
        &json!({"refresh_token": first["refresh_token"]}),
    )
    .await;
    for path in ["/auth/me", "/uploads"] {
        let reply = api.get(path, Some(&access)).await;
        assert_eq!(reply.status, 401, "{path}: {:?}", reply.body);
        assert_eq!(reply.body["type"], "https://flux.dev/problems/unauthorized");
    }
    let created = api
        .post_auth(
            "/uploads",
            &access,
            &json!({"filename": "a.csv", "size_bytes": 10}),
        )
        .await;
    assert_eq!(created.status, 401);

    // A second session: rotate twice, then replay the first token (reuse).
    let second = api
        .post(
            "/auth/login",
            &login_body("session@bistro.example", STRONG_PASSWORD),
        )
        .await
        .body;
    let rotated = api
        .post(
            "/auth/refresh",
            &json!({"refresh_token": second["refresh_token"]}),
        )
        .await
        .body;
    let latest = api
        .post(
            "/auth/refresh",
            &json!({"refresh_token": rotated["refresh_token"]}),
        )
        .await
        .body;
    let latest_access = latest["access_token"].as_str().unwrap();
    assert_eq!(api.get("/auth/me", Some(latest_access)).await.status, 200);
    let replay = api
        .post(
            "/auth/refresh",
            &json!({"refresh_token": second["refresh_token"]}),
        )
        .await;
    assert_eq!(replay.status, 401);
    assert_eq!(api.get("/auth/me", Some(latest_access)).await.status, 401);
}
