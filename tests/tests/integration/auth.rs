//! The auth contract (API.md "Auth") end to end, against a real database.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use flux_local::stack::{RunningStack, AUTH_KEYS_SECRET};
use flux_shared::secrets::Secrets;
use flux_shared::tokens::keys::AuthKeys;
use flux_shared::tokens::{Claims, Role};
use flux_tests::{TestApp, STRONG_PASSWORD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

async fn stack_keys(stack: &RunningStack) -> AuthKeys {
    let secrets = Secrets::dir(stack.data_dir.join("secrets"));
    AuthKeys::from_secret(&secrets.get(AUTH_KEYS_SECRET).await.unwrap()).unwrap()
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn login_body(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password})
}

#[tokio::test]
async fn register_signs_the_owner_in_and_me_returns_the_profile() {
    let app = TestApp::spawn().await;
    let stack = &app.stack;
    let api = &app.api;
    let reply = api
        .post(
            "/auth/register",
            &json!({"email": "  Chef@Example.com ", "password": STRONG_PASSWORD,
                    "restaurant_name": " Chez Flux ", "timezone": "Europe/Paris", "unknown": 1}),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.header("cache-control"), "no-store");
    let body = &reply.body;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["email"], "Chef@Example.com");
    assert_eq!(body["user"]["role"], "owner");
    assert_eq!(body["restaurant"]["name"], "Chez Flux");
    assert_eq!(body["restaurant"]["timezone"], "Europe/Paris");
    assert_eq!(body["user"]["restaurant_id"], body["restaurant"]["id"]);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 43);

    let access = body["access_token"].as_str().unwrap();
    let claims = claims_of(access);
    assert_eq!(claims["iss"], stack.api_url);
    assert_eq!(claims["aud"], "flux-api");
    assert_eq!(claims["sub"], body["user"]["id"]);
    assert_eq!(claims["rid"], body["restaurant"]["id"]);
    assert_eq!(claims["role"], "owner");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert!(claims["jti"].is_string());

    let me = api.get("/auth/me", Some(access)).await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body["user"], body["user"]);
    assert_eq!(me.body["restaurant"], body["restaurant"]);
    assert_eq!(me.header("cache-control"), "no-store");
}

#[tokio::test]
async fn registration_input_is_validated_with_named_fields() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let cases = [
        (
            json!({"password": STRONG_PASSWORD, "restaurant_name": "R"}),
            "email",
            "is required",
        ),
        (
            json!({"email": "a@b.co", "restaurant_name": "R"}),
            "password",
            "is required",
        ),
        (
            json!({"email": "a@b.co", "password": STRONG_PASSWORD}),
            "restaurant_name",
            "is required",
        ),
        (
            json!({"email": "not-an-email", "password": STRONG_PASSWORD, "restaurant_name": "R"}),
            "email",
            "valid",
        ),
        (
            json!({"email": "a@b.co", "password": "short", "restaurant_name": "R"}),
            "password",
            "12",
        ),
        (
            json!({"email": "a@b.co", "password": "x".repeat(129), "restaurant_name": "R"}),
            "password",
            "128",
        ),
        (
            json!({"email": "a@b.co", "password": "password1234", "restaurant_name": "R"}),
            "password",
            "too easy",
        ),
        (
            json!({"email": "a.long.address@b.co", "password": "A.Long.Address@b.co", "restaurant_name": "R"}),
            "password",
            "email",
        ),
        (
            json!({"email": "a@b.co", "password": STRONG_PASSWORD, "restaurant_name": "   "}),
            "restaurant_name",
            "empty",
        ),
        (
            json!({"email": "a@b.co", "password": STRONG_PASSWORD, "restaurant_name": "x".repeat(121)}),
            "restaurant_name",
            "120",
        ),
        (
            json!({"email": "a@b.co", "password": STRONG_PASSWORD, "restaurant_name": "R", "timezone": "Mars/Base"}),
            "timezone",
            "IANA",
        ),
        (
            json!({"email": 5, "password": STRONG_PASSWORD, "restaurant_name": "R"}),
            "email",
            "must be a string",
        ),
    ];
    for (body, field, message) in cases {
        let reply = api.post("/auth/register", &body).await;
        assert_eq!(reply.status, 400, "{body} -> {:?}", reply.body);
        assert_eq!(reply.header("content-type"), "application/problem+json");
        let errors = reply.body["errors"].as_array().expect("errors");
        assert!(
            errors
                .iter()
                .any(|e| e["field"] == field && e["message"].as_str().unwrap().contains(message)),
            "{body} -> {:?}",
            reply.body
        );
    }

    let not_json = api
        .send(
            api.raw()
                .post(format!("{}/auth/register", api.base))
                .body("email=a")
                .header("content-type", "application/x-www-form-urlencoded"),
        )
        .await;
    assert_eq!(not_json.status, 415);
    let malformed = api
        .send(
            api.raw()
                .post(format!("{}/auth/register", api.base))
                .body("{\"email\":")
                .header("content-type", "application/json"),
        )
        .await;
    assert_eq!(malformed.status, 400);
    let huge =
        json!({"email": "a@b.co", "password": "p".repeat(70 * 1024), "restaurant_name": "R"});
    assert_eq!(api.post("/auth/register", &huge).await.status, 413);
}

#[tokio::test]
async fn a_taken_email_is_a_conflict_even_under_concurrent_registration() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    api.register("owner@bistro.example", "Bistro").await;
    let again = api
        .post(
            "/auth/register",
            &json!({"email": " OWNER@Bistro.Example", "password": STRONG_PASSWORD, "restaurant_name": "Other"}),
        )
        .await;
    assert_eq!(again.status, 409, "{:?}", again.body);

    let attempts = (0..8).map(|i| {
        let api = api.clone();
        async move {
            api.post(
                "/auth/register",
                &json!({"email": "race@bistro.example", "password": STRONG_PASSWORD, "restaurant_name": format!("R{i}")}),
            )
            .await
            .status
        }
    });
    let mut statuses = futures::future::join_all(attempts).await;
    statuses.sort();
    assert_eq!(statuses, vec![201, 409, 409, 409, 409, 409, 409, 409]);
}

#[tokio::test]
async fn login_failures_look_the_same_whether_or_not_the_email_exists() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    api.register("known@bistro.example", "Bistro").await;

    let ok = api
        .post(
            "/auth/login",
            &login_body("KNOWN@bistro.example ", STRONG_PASSWORD),
        )
        .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(ok.body["user"]["email"], "known@bistro.example");

    let wrong = api
        .post(
            "/auth/login",
            &login_body("known@bistro.example", "wrong-password-123"),
        )
        .await;
    let unknown = api
        .post(
            "/auth/login",
            &login_body("nobody@bistro.example", "wrong-password-123"),
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.header("www-authenticate"), "Bearer");
    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("request_id");
        v
    };
    assert_eq!(strip(wrong.body.clone()), strip(unknown.body.clone()));
    assert_eq!(wrong.body["detail"], "Invalid email or password");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Unknown emails are verified against a dummy hash: the two failure paths
/// take the same time. Medians of 20 must be within 2× of each other: without
/// the dummy verify the ratio is about 8 (one argon2 hash against a lookup),
/// while the other tests running alongside make 25 % swings ordinary.
#[tokio::test]
async fn unknown_email_and_wrong_password_take_the_same_time() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let users: Vec<String> = (0..5)
        .map(|i| format!("timing{i}@bistro.example"))
        .collect();
    for (i, email) in users.iter().enumerate() {
        api.register(email, &format!("Bistro {i}")).await;
    }
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..20 {
        // 4 tries per user stays under the per-email limit; 40 under the per-IP one.
        let started = Instant::now();
        let reply = api
            .post(
                "/auth/login",
                &login_body(&users[i % 5], "not-the-password-1"),
            )
            .await;
        wrong.push(started.elapsed());
        assert_eq!(reply.status, 401);
        let started = Instant::now();
        let reply = api
            .post(
                "/auth/login",
                &login_body(&format!("ghost{i}@bistro.example"), "not-the-password-1"),
            )
            .await;
        unknown.push(started.elapsed());
        assert_eq!(reply.status, 401);
    }
    let (wrong, unknown) = (median(wrong), median(unknown));
    let ratio = wrong.as_secs_f64() / unknown.as_secs_f64();
    println!("login failure medians: wrong password {wrong:?}, unknown email {unknown:?}, ratio {ratio:.3}");
    assert!(
        (0.5..=2.0).contains(&ratio),
        "wrong {wrong:?} vs unknown {unknown:?}"
    );
}

#[tokio::test]
async fn repeated_failures_lock_an_email_even_for_the_right_password() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    api.register("locked@bistro.example", "Bistro").await;
    api.register("reset@bistro.example", "Bistro 2").await;

    // Success resets the per-email counter: 4 failures, a success, 4 more, a success.
    for _ in 0..2 {
        for _ in 0..4 {
            let reply = api
                .post(
                    "/auth/login",
                    &login_body("reset@bistro.example", "wrong-password-123"),
                )
                .await;
            assert_eq!(reply.status, 401);
        }
        let reply = api
            .post(
                "/auth/login",
                &login_body("reset@bistro.example", STRONG_PASSWORD),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }

    for _ in 0..5 {
        let reply = api
            .post(
                "/auth/login",
                &login_body("locked@bistro.example", "wrong-password-123"),
            )
            .await;
        assert_eq!(reply.status, 401);
    }
    let locked = api
        .post(
            "/auth/login",
            &login_body("Locked@bistro.example", STRONG_PASSWORD),
        )
        .await;
    assert_eq!(locked.status, 429, "{:?}", locked.body);
    let retry_after: u64 = locked.header("retry-after").parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(
        locked.body["type"],
        "https://flux.dev/problems/rate-limited"
    );
    // Other accounts are unaffected.
    let other = api
        .post(
            "/auth/login",
            &login_body("reset@bistro.example", STRONG_PASSWORD),
        )
        .await;
    assert_eq!(other.status, 200);
}

#[tokio::test]
async fn many_failures_from_one_address_lock_that_address() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    api.register("victim@bistro.example", "Bistro").await;
    for i in 0..50 {
        let reply = api
            .post(
                "/auth/login",
                &login_body(&format!("spray{i}@bistro.example"), "wrong-password-123"),
            )
            .await;
        assert_eq!(reply.status, 401, "attempt {i}");
    }
    let reply = api
        .post(
            "/auth/login",
            &login_body("victim@bistro.example", STRONG_PASSWORD),
        )
        .await;
    assert_eq!(reply.status, 429);
    assert!(!reply.header("retry-after").is_empty());
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_session() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let api = &app.api;
    let first = api.register("rotate@bistro.example", "Bistro").await;
    let t0 = first["refresh_token"].as_str().unwrap().to_string();

    let r1 = api
        .post("/auth/refresh", &json!({"refresh_token": t0}))
        .await;
    assert_eq!(r1.status, 200, "{:?}", r1.body);
    assert_eq!(r1.header("cache-control"), "no-store");
    let t1 = r1.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(t1, t0);
    assert_eq!(r1.body["user"], first["user"]);

    // The same token again at once (a racing tab): the same successor.
    let again = api
        .post("/auth/refresh", &json!({"refresh_token": t0}))
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["refresh_token"], t1.as_str());

    // Move the rotation out of the grace window, then reuse it.
    let superuser = db.superuser().await;
    superuser
        .execute("UPDATE refresh_tokens SET rotated_at = rotated_at - interval '11 seconds' WHERE rotated_at IS NOT NULL", &[])
        .await
        .unwrap();
    let reuse = api
        .post("/auth/refresh", &json!({"refresh_token": t0}))
        .await;
    assert_eq!(reuse.status, 401);
    assert_eq!(reuse.header("www-authenticate"), "Bearer");
    // The whole family is revoked: the legitimate successor fails too.
    let after = api
        .post("/auth/refresh", &json!({"refresh_token": t1}))
        .await;
    assert_eq!(after.status, 401);
    let reason: String = superuser
        .query_one("SELECT revoked_reason FROM auth_sessions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(reason, "refresh token reuse");

    for bad in [
        json!({"refresh_token": "not-a-token"}),
        json!({"refresh_token": ""}),
    ] {
        assert_eq!(api.post("/auth/refresh", &bad).await.status, 401);
    }
    assert_eq!(api.post("/auth/refresh", &json!({})).await.status, 400);
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_yield_one_successor() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let api = &app.api;
    let first = api.register("tabs@bistro.example", "Bistro").await;
    let t0 = first["refresh_token"].as_str().unwrap().to_string();
    let attempts = (0..6).map(|_| {
        let api = api.clone();
        let t0 = t0.clone();
        async move {
            api.post("/auth/refresh", &json!({"refresh_token": t0}))
                .await
        }
    });
    let replies = futures::future::join_all(attempts).await;
    let successors: std::collections::BTreeSet<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{:?}", r.body);
            r.body["refresh_token"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(successors.len(), 1, "{successors:?}");
    let tokens: i64 = db
        .superuser()
        .await
        .query_one("SELECT count(*) FROM refresh_tokens", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(tokens, 2, "the original and exactly one successor");
}

#[tokio::test]
async fn expired_sessions_cannot_refresh() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let api = &app.api;
    let first = api.register("old@bistro.example", "Bistro").await;
    db.superuser()
        .await
        .execute(
            "UPDATE auth_sessions SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    let reply = api
        .post(
            "/auth/refresh",
            &json!({"refresh_token": first["refresh_token"]}),
        )
        .await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn logout_revokes_the_session_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let first = api.register("bye@bistro.example", "Bistro").await;
    let token = first["refresh_token"].clone();
    let reply = api
        .post("/auth/logout", &json!({"refresh_token": token}))
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        api.post("/auth/logout", &json!({"refresh_token": token}))
            .await
            .status,
        204
    );
    assert_eq!(
        api.post("/auth/logout", &json!({"refresh_token": "unknown"}))
            .await
            .status,
        204
    );
    assert_eq!(
        api.post("/auth/refresh", &json!({"refresh_token": token}))
            .await
            .status,
        401
    );
    // Another session of the same user is untouched.
    let other = api
        .post(
            "/auth/login",
            &login_body("bye@bistro.example", STRONG_PASSWORD),
        )
        .await;
    let refreshed = api
        .post(
            "/auth/refresh",
            &json!({"refresh_token": other.body["refresh_token"]}),
        )
        .await;
    assert_eq!(refreshed.status, 200);
}

fn sign(keys: &AuthKeys, claims: &Claims) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(keys.active_kid.clone());
    jsonwebtoken::encode(&header, claims, &keys.signing).unwrap()
}

#[tokio::test]
async fn tampered_tokens_of_every_kind_are_refused() {
    let app = TestApp::spawn().await;
    let stack = &app.stack;
    let api = &app.api;
    let first = api.register("tokens@bistro.example", "Bistro").await;
    let keys = stack_keys(stack).await;
    let valid: Claims =
        serde_json::from_value(claims_of(first["access_token"].as_str().unwrap())).unwrap();
    let now = chrono::Utc::now().timestamp();

    let mut cases: Vec<(&str, String)> = Vec::new();
    let with = |f: &dyn Fn(&mut Claims)| {
        let mut c = valid.clone();
        f(&mut c);
        sign(&keys, &c)
    };
    cases.push((
        "wrong issuer",
        with(&|c| c.iss = "https://evil.example".into()),
    ));
    cases.push(("wrong audience", with(&|c| c.aud = "other-api".into())));
    // alg: none, with the original claims.
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = first["access_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap()
        .to_string();
    cases.push(("alg none", format!("{none_header}.{payload}.")));
    // HS256 signed with the public key as the HMAC secret.
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(keys.active_kid.clone());
    let public_pem = keys.public_keys[0].public_key_pem.as_bytes();
    cases.push((
        "HS256 with the public key",
        jsonwebtoken::encode(&hs, &valid, &EncodingKey::from_secret(public_pem)).unwrap(),
    ));
    // Signed by another key under the same kid.
    let other = AuthKeys::from_secret(&flux_shared::tokens::keys::generate_secret(
        &keys.active_kid,
    ))
    .unwrap();
    cases.push(("wrong signature", sign(&other, &valid)));
    let mut unknown_kid = Header::new(Algorithm::RS256);
    unknown_kid.kid = Some("nope".into());
    cases.push((
        "unknown kid",
        jsonwebtoken::encode(&unknown_kid, &valid, &keys.signing).unwrap(),
    ));
    let mut parts: Vec<String> = first["access_token"]
        .as_str()
        .unwrap()
        .split('.')
        .map(String::from)
        .collect();
    let mut tampered_claims = claims_of(first["access_token"].as_str().unwrap());
    tampered_claims["role"] = json!("owner");
    tampered_claims["rid"] = json!(uuid::Uuid::new_v4());
    parts[1] = URL_SAFE_NO_PAD.encode(tampered_claims.to_string());
    cases.push(("edited payload", parts.join(".")));
    cases.push(("garbage", "abc.def".into()));

    cases.push((
        "a lifetime longer than issued",
        with(&|c| c.exp = now + 100 * 365 * 24 * 3600),
    ));
    cases.push(("issued in the future", with(&|c| c.iat = now + 3600)));
    for (name, token) in &cases {
        let reply = api.get("/auth/me", Some(token)).await;
        assert_eq!(reply.status, 401, "{name}: {:?}", reply.body);
        assert_eq!(reply.header("www-authenticate"), "Bearer", "{name}");
        assert_eq!(
            reply.body["type"], "https://flux.dev/problems/unauthorized",
            "{name}"
        );
    }
    // An expired token says so, so that a client knows to refresh (API.md).
    let expired = with(&|c| c.exp = now - 31);
    let reply = api.get("/auth/me", Some(&expired)).await;
    assert_eq!(reply.status, 401, "{:?}", reply.body);
    assert_eq!(
        reply.body["type"],
        "https://flux.dev/problems/token-expired"
    );
    assert_eq!(
        reply.header("www-authenticate"),
        r#"Bearer error="invalid_token", error_description="expired""#
    );
    let missing = api.get("/auth/me", None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.header("www-authenticate"), "Bearer");
    let basic = api
        .send(
            api.raw()
                .get(format!("{}/auth/me", api.base))
                .header("authorization", "Basic YTpi"),
        )
        .await;
    assert_eq!(basic.status, 401);

    // Inside the 30 s leeway an expired token is still accepted.
    let lenient = with(&|c| c.exp = now - 10);
    assert_eq!(api.get("/auth/me", Some(&lenient)).await.status, 200);
}

#[tokio::test]
async fn a_user_never_sees_another_restaurant_through_me() {
    let app = TestApp::spawn().await;
    let stack = &app.stack;
    let api = &app.api;
    let a = api.register("a@alpha.example", "Alpha").await;
    let b = api.register("b@bravo.example", "Bravo").await;
    let keys = stack_keys(stack).await;
    // A validly signed token pairing A's user with B's restaurant finds nothing.
    let mut claims: Claims =
        serde_json::from_value(claims_of(a["access_token"].as_str().unwrap())).unwrap();
    claims.rid = b["restaurant"]["id"].as_str().unwrap().parse().unwrap();
    claims.role = Role::Owner;
    let reply = api.get("/auth/me", Some(&sign(&keys, &claims))).await;
    assert_eq!(reply.status, 401, "{:?}", reply.body);
    let mine = api
        .get("/auth/me", Some(a["access_token"].as_str().unwrap()))
        .await;
    assert_eq!(mine.body["restaurant"]["name"], "Alpha");
}

#[tokio::test]
async fn jwks_and_discovery_publish_keys_that_verify_access_tokens() {
    let app = TestApp::spawn().await;
    let stack = &app.stack;
    let api = &app.api;
    let first = api.register("keys@bistro.example", "Bistro").await;
    let jwks = api.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status, 200);
    let jwk = &jwks.body["keys"][0];
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["alg"], "RS256");
    let token = first["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.kid.as_deref(), jwk["kid"].as_str());
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.set_audience(&["flux-api"]);
    validation.set_issuer(&[&stack.api_url]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("verifies with the published key");

    let discovery = api.get("/.well-known/openid-configuration", None).await;
    assert_eq!(discovery.status, 200);
    assert_eq!(discovery.body["issuer"], stack.api_url);
    assert_eq!(
        discovery.body["jwks_uri"],
        format!("{}/.well-known/jwks.json", stack.api_url)
    );
    assert_eq!(
        discovery.body["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
}

#[tokio::test]
async fn outdated_password_hashes_are_upgraded_at_login() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let api = &app.api;
    api.register("legacy@bistro.example", "Bistro").await;
    use argon2::password_hash::PasswordHasher;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(1024, 1, 1, None).unwrap(),
    );
    let weak_hash = weak
        .hash_password(STRONG_PASSWORD.as_bytes())
        .unwrap()
        .to_string();
    let superuser = db.superuser().await;
    superuser
        .execute("UPDATE users SET password_hash = $1", &[&weak_hash])
        .await
        .unwrap();
    let reply = api
        .post(
            "/auth/login",
            &login_body("legacy@bistro.example", STRONG_PASSWORD),
        )
        .await;
    assert_eq!(reply.status, 200);
    let stored: String = superuser
        .query_one("SELECT password_hash FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
}

/// PostgreSQL cannot store NUL in text: inputs carrying one are refused or
/// fail like any bad input, never with a 500 (found by schemathesis).
#[tokio::test]
async fn control_characters_in_inputs_are_refused_not_a_server_error() {
    let app = TestApp::spawn().await;
    let api = &app.api;
    let reply = api
        .post(
            "/auth/register",
            &json!({"email": "nul@chez.example", "password": STRONG_PASSWORD, "restaurant_name": "Chez\u{0}Flux"}),
        )
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(reply.body["errors"][0]["field"], "restaurant_name");
    let reply = api
        .post(
            "/auth/register",
            &json!({"email": "n\u{0}ul@chez.example", "password": STRONG_PASSWORD, "restaurant_name": "Chez Flux"}),
        )
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    let reply = api
        .post(
            "/auth/login",
            &login_body("\u{87}B\u{0}\u{1a}", STRONG_PASSWORD),
        )
        .await;
    assert_eq!(reply.status, 401, "{:?}", reply.body);
    assert_eq!(reply.body["detail"], "Invalid email or password");
    let reply = api
        .post("/auth/refresh", &json!({"refresh_token": "ab\u{0}c"}))
        .await;
    assert_eq!(reply.status, 401, "{:?}", reply.body);
}
