//! Rotation as an operator runs it, through migrate's actions, against a
//! server that checks passwords: warm containers follow every step without
//! a restart, and nobody signed in is signed out by a rotation.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use flux_auth::AuthState;
use flux_local::postgres::{Auth, PgCluster, SUPERUSER};
use flux_migrate::{Action, Migrator};
use flux_sales::SalesState;
use flux_shared::secrets::{SecretString, Secrets};
use lambda_http::{Body, Request};
use serde_json::{json, Value};

const SUPERUSER_PASSWORD: &str = "rotation-superuser-pw";

struct Deployment {
    cluster: PgCluster,
    vars: HashMap<String, String>,
    secrets: Arc<Secrets>,
    secrets_dir: std::path::PathBuf,
}

/// A password-checking server and the secrets as Terraform leaves them:
/// owner and app credentials, no signing keys.
async fn deployment() -> Deployment {
    let dir = flux_tests::scratch_dir("rotation");
    let mut cluster = PgCluster::new(
        dir.join("pg"),
        Auth::Password(SecretString::from(SUPERUSER_PASSWORD.to_string())),
        false,
    )
    .unwrap();
    cluster.init().unwrap();
    cluster.start(0).await.unwrap();
    flux_tests::connect(&cluster.superuser_url("postgres"))
        .await
        .batch_execute("CREATE DATABASE flux")
        .await
        .unwrap();
    let secrets_dir = dir.join("secrets");
    std::fs::create_dir_all(&secrets_dir).unwrap();
    let owner = json!({"username": SUPERUSER, "password": SUPERUSER_PASSWORD});
    std::fs::write(secrets_dir.join("db-owner"), owner.to_string()).unwrap();
    let app =
        json!({"username": "flux_app", "password": "first-app-password", "engine": "postgres"});
    std::fs::write(secrets_dir.join("db-app"), app.to_string()).unwrap();
    let port = cluster.port().unwrap().to_string();
    let vars = [
        ("DB_HOST", "127.0.0.1"),
        ("DB_PORT", port.as_str()),
        ("DB_NAME", "flux"),
        ("DB_TLS", "off"),
        ("DB_OWNER_SECRET_ID", "db-owner"),
        ("DB_APP_SECRET_ID", "db-app"),
        ("AUTH_KEYS_SECRET_ID", "auth-keys"),
        ("AUTH_PUBLIC_KEYS_SECRET_ID", "auth-public-keys"),
        ("AUTH_ISSUER", "https://api.flux.example"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // No cache: each step is visible at once (deployed, within 5 minutes).
    let secrets = Arc::new(Secrets::dir(&secrets_dir).with_cache_ttl(Duration::ZERO));
    Deployment {
        cluster,
        vars,
        secrets,
        secrets_dir,
    }
}

fn request(method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Request {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
    builder.body(body).unwrap()
}

async fn call_auth(state: &AuthState, req: Request) -> (u16, Value) {
    let response = flux_auth::handle(state, req).await;
    let status = response.status().as_u16();
    let body = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    (status, body)
}

async fn register(state: &AuthState, email: &str, restaurant: &str) {
    let body = json!({"email": email, "password": "a long enough password 1",
                      "restaurant_name": restaurant});
    let (status, reply) =
        call_auth(state, request("POST", "/auth/register", None, Some(body))).await;
    assert_eq!(status, 201, "{reply}");
}

async fn sign_in(state: &AuthState, email: &str) -> String {
    let body = json!({"email": email, "password": "a long enough password 1"});
    let (status, reply) = call_auth(state, request("POST", "/auth/login", None, Some(body))).await;
    assert_eq!(status, 200, "{reply}");
    reply["access_token"].as_str().unwrap().to_string()
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn me(state: &AuthState, token: &str) -> u16 {
    call_auth(state, request("GET", "/auth/me", Some(token), None))
        .await
        .0
}

async fn sales(state: &SalesState, token: &str) -> u16 {
    let req = request("GET", "/sales/transactions", Some(token), None);
    flux_sales::handle(state, req).await.status().as_u16()
}

#[tokio::test]
async fn signing_keys_rotate_under_warm_containers_without_signing_anyone_out() {
    let mut deployed = deployment().await;
    let migrator = Migrator::from_env(&deployed.vars, &deployed.secrets)
        .await
        .unwrap();
    let first = migrator.run(Action::Migrate).await.unwrap();
    let original = first.active_kid.clone().unwrap();
    assert_eq!(first.published_kids, vec![original.clone()]);
    // Terraform never held the keys: the first migrate made them, and a
    // second one keeps them.
    let again = migrator.run(Action::Migrate).await.unwrap();
    assert_eq!(again.active_kid, Some(original.clone()));
    assert!(again.migrations.unwrap().applied.is_empty());

    // Warm containers, started before any rotation.
    let auth = AuthState::from_env(&deployed.vars, &deployed.secrets)
        .await
        .unwrap();
    let sales_fn = SalesState::from_env(&deployed.vars, &deployed.secrets)
        .await
        .unwrap();
    register(&auth, "ana@example.com", "Chez Ana").await;
    let old = sign_in(&auth, "ana@example.com").await;
    assert_eq!(kid(&old), original);

    // Staging publishes the new key and signs with nothing new.
    tokio::time::sleep(Duration::from_millis(1100)).await; // key ids are per second
    let staged = migrator.run(Action::StageSigningKey).await.unwrap();
    assert_eq!(staged.active_kid, Some(original.clone()));
    assert_eq!(staged.published_kids.len(), 2);
    let newer = staged.published_kids[1].clone();
    assert_ne!(newer, original);
    assert_eq!(kid(&sign_in(&auth, "ana@example.com").await), original);
    let repeated = migrator.run(Action::StageSigningKey).await.unwrap();
    assert_eq!(
        repeated.published_kids, staged.published_kids,
        "stage is idempotent"
    );

    // Activation: the warm auth container signs with the new key; the warm
    // sales container, which never saw that key, accepts it; old tokens hold.
    let activated = migrator.run(Action::ActivateSigningKey).await.unwrap();
    assert_eq!(activated.active_kid, Some(newer.clone()));
    let new = sign_in(&auth, "ana@example.com").await;
    assert_eq!(kid(&new), newer);
    assert_eq!(sales(&sales_fn, &new).await, 200);
    assert_eq!(sales(&sales_fn, &old).await, 200);
    assert_eq!(me(&auth, &old).await, 200);
    assert_eq!(me(&auth, &new).await, 200);
    let (_, jwks) = call_auth(&auth, request("GET", "/.well-known/jwks.json", None, None)).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "{jwks}");

    // Retiring drops the old key everywhere it is read again.
    let retired = migrator.run(Action::RetireSigningKeys).await.unwrap();
    assert_eq!(retired.published_kids, vec![newer.clone()]);
    assert_eq!(me(&auth, &old).await, 401);
    assert_eq!(me(&auth, &new).await, 200);
    assert_eq!(sales(&sales_fn, &new).await, 200);
    let fresh_sales = SalesState::from_env(&deployed.vars, &deployed.secrets)
        .await
        .unwrap();
    assert_eq!(sales(&fresh_sales, &old).await, 401);
    let public: Value = serde_json::from_str(
        &std::fs::read_to_string(deployed.secrets_dir.join("auth-public-keys")).unwrap(),
    )
    .unwrap();
    assert!(!public.to_string().contains("PRIVATE"), "{public}");
    deployed.cluster.stop().await;
}

#[tokio::test]
async fn the_app_password_rotates_while_warm_pools_keep_working() {
    let mut deployed = deployment().await;
    let migrator = Migrator::from_env(&deployed.vars, &deployed.secrets)
        .await
        .unwrap();
    let migrated = migrator.run(Action::Migrate).await.unwrap();
    assert_eq!(migrated.app_role.as_deref(), Some("flux_app"));
    let auth = AuthState::from_env(&deployed.vars, &deployed.secrets)
        .await
        .unwrap();
    register(&auth, "bo@example.com", "Bo's").await;
    let token = sign_in(&auth, "bo@example.com").await;

    let superuser = flux_tests::connect(&deployed.cluster.superuser_url("flux")).await;
    let kick_app_connections = || async {
        superuser
            .batch_execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE usename IN ('flux_app', 'flux_app_a', 'flux_app_b')",
            )
            .await
            .unwrap();
    };
    for expected_role in ["flux_app_a", "flux_app_b", "flux_app_a"] {
        let rotated = migrator.run(Action::RotateAppPassword).await.unwrap();
        assert_eq!(rotated.app_role.as_deref(), Some(expected_role));
        let secret: Value = serde_json::from_str(
            &std::fs::read_to_string(deployed.secrets_dir.join("db-app")).unwrap(),
        )
        .unwrap();
        assert_eq!(secret["username"], expected_role);
        assert_eq!(secret["engine"], "postgres", "other fields are kept");
        // The warm pool reconnects (its old connections are gone) and finds
        // its credentials refused after the second rotation: it reads them
        // again and carries on.
        kick_app_connections().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut ok = false;
        for _ in 0..3 {
            // The first use of a pooled connection killed above may fail.
            if me(&auth, &token).await == 200 {
                ok = true;
                break;
            }
        }
        assert!(
            ok,
            "auth lost the database after rotating to {expected_role}"
        );
    }
    // Credentials the warm pool started with stop working (the original
    // login retired): it reads the secret again and logs in as the role
    // the secret names now.
    superuser
        .batch_execute("ALTER ROLE flux_app NOLOGIN")
        .await
        .unwrap();
    kick_app_connections().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(me(&auth, &token).await);
    }
    assert_eq!(statuses.last(), Some(&200), "{statuses:?}");
    let logged_in_as: Vec<String> = superuser
        .query(
            "SELECT DISTINCT usename::text FROM pg_stat_activity WHERE usename LIKE 'flux_app%'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(logged_in_as, vec!["flux_app_a".to_string()]);
    // The login roles hold the app role's rights and nothing more.
    let rights: (bool, bool, bool) = {
        let row = superuser
            .query_one(
                "SELECT rolsuper, rolbypassrls, pg_has_role('flux_app_b', 'flux_app', 'MEMBER') \
                 FROM pg_roles WHERE rolname = 'flux_app_b'",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1), row.get(2))
    };
    assert_eq!(rights, (false, false, true));
    deployed.cluster.stop().await;
}
