//! The function binaries as Lambda runs them: each `main.rs` as cargo built
//! it, started under the Runtime API (flux_local::runtime_api) with the
//! environment its deployment declares (its `ENVIRONMENT`), and fed the
//! events AWS sends: API Gateway v2 payloads, S3 batches, migrate's
//! invocations. The handlers are tested in-process elsewhere; this is the
//! adapters, the configuration and the event shapes.

use std::collections::HashMap;
use std::time::Duration;

use flux_local::runtime_api::{LocalDeployment, Outcome};
use flux_tests::lambda::{Running, WITHIN};
use flux_tests::TestDb;
use serde_json::json;

/// The deployed environment of `function` (its ENVIRONMENT), pointed at a
/// test database and a secrets directory instead of RDS and Secrets Manager.
fn deployed_environment(
    declared: &[&str],
    db: &TestDb,
    secrets: &std::path::Path,
) -> HashMap<String, String> {
    let database: tokio_postgres::Config = db.owner_url.parse().unwrap();
    LocalDeployment {
        database: &database,
        secrets_dir: secrets,
        bucket: "uploads",
    }
    .environment(declared)
    .unwrap()
}

/// The secrets as Terraform leaves them (no signing keys yet).
fn terraform_secrets() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let owner = json!({"username": "flux_owner", "password": "trusted-locally"});
    let app = json!({"username": "flux_app", "password": "trusted-locally"});
    std::fs::write(dir.path().join("db-owner"), owner.to_string()).unwrap();
    std::fs::write(dir.path().join("db-app"), app.to_string()).unwrap();
    dir
}

#[tokio::test]
async fn migrate_then_the_api_functions_serve_as_lambda_runs_them() {
    let db = TestDb::new().await;
    let secrets = terraform_secrets();
    let env = |declared| deployed_environment(declared, &db, secrets.path());

    let migrate = Running::ready("migrate", &env(flux_migrate::ENVIRONMENT)).await;
    let Outcome::Response(outcome) = migrate.invoke(json!({})).await else {
        panic!("migrate failed")
    };
    assert_eq!(outcome["action"], "migrate", "{outcome}");
    assert!(outcome["active_kid"].is_string(), "{outcome}");
    let Outcome::Error { message, .. } = migrate.invoke(json!({"action": "drop-everything"})).await
    else {
        panic!("an unknown action must fail the invocation")
    };
    assert!(
        message.contains("drop-everything") || message.contains("unknown variant"),
        "{message}"
    );

    let auth = Running::ready("auth", &env(flux_auth::ENVIRONMENT)).await;
    let (token, me) = auth.sign_up("lambda@example.com", "Runtime Bistro").await;
    assert_eq!(me["restaurant"]["name"], "Runtime Bistro", "{me}");
    let (status, jwks) = auth.http("GET", "/.well-known/jwks.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"][0]["kid"], outcome["active_kid"]);

    let sales = Running::ready("sales", &env(flux_sales::ENVIRONMENT)).await;
    let (status, body) = sales
        .http("GET", "/sales/transactions", Some(&token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = sales.http("GET", "/sales/transactions", None, None).await;
    assert_eq!(status, 401, "{body}");

    let uploads = Running::ready("data-upload", &env(flux_data_upload::ENVIRONMENT)).await;
    let (status, body) = uploads.http("GET", "/uploads", Some(&token), None).await;
    assert_eq!(status, 200, "{body}");

    let health = Running::ready("health", &env(flux_health::ENVIRONMENT)).await;
    let (status, body) = health.http("GET", "/health", None, None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn csv_ingest_takes_an_s3_batch_as_s3_sends_it() {
    let csv = b"order_id,ordered_at,item,quantity,unit_price\nA1,2026-01-29 20:00,Soup,2,4.50\n";
    let (app, captured) = flux_tests::captured_upload("s3@example.com", csv).await;
    let (db, stack, api) = (&app.db, &app.stack, &app.api);
    let secrets = terraform_secrets();
    let mut vars = deployed_environment(flux_csv_ingest::ENVIRONMENT, db, secrets.path());
    vars.insert("UPLOADS_BUCKET".into(), stack.s3.bucket.clone());
    // Outside AWS the bucket is the local stack's S3 endpoint.
    vars.insert("S3_ENDPOINT_URL".into(), stack.s3.url.clone());
    // Lambda's credentials for the role; here the local endpoint's.
    vars.insert("AWS_ACCESS_KEY_ID".into(), stack.s3.access_key.clone());
    vars.insert(
        "AWS_SECRET_ACCESS_KEY".into(),
        secrecy::ExposeSecret::expose_secret(&stack.s3.secret_key).to_string(),
    );
    let ingest = Running::ready("csv-ingest", &vars).await;
    // Two records in one captured.event, as S3 may batch them: the real upload and
    // a key no upload has.
    let mut batch = serde_json::to_value(&captured.event).unwrap();
    let mut stranger = batch["Records"][0].clone();
    stranger["s3"]["object"]["key"] = format!(
        "uploads/{}/{}.csv",
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4()
    )
    .into();
    batch["Records"].as_array_mut().unwrap().push(stranger);
    let outcome = ingest.invoke(batch).await;
    assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
    let upload = api.wait_final(&captured.token, &captured.id).await;
    assert_eq!(upload["status"], "completed", "{upload}");
    assert_eq!(upload["rows_ingested"], 1, "{upload}");
}

#[tokio::test]
async fn a_function_missing_its_configuration_reports_an_init_error_naming_it() {
    let db = TestDb::new().await;
    let secrets = terraform_secrets();
    for (name, declared, missing) in [
        ("auth", flux_auth::ENVIRONMENT, "AUTH_ISSUER"),
        (
            "data-upload",
            flux_data_upload::ENVIRONMENT,
            "UPLOADS_BUCKET",
        ),
        ("health", flux_health::ENVIRONMENT, "DB_APP_SECRET_ID"),
    ] {
        let mut vars = deployed_environment(declared, &db, secrets.path());
        vars.remove(missing);
        let mut running = Running::start(name, &vars).await;
        match running.api.started(WITHIN).await {
            Err(Some(Outcome::Error { message, .. })) => {
                assert!(message.contains(missing), "{name}: {message}")
            }
            other => panic!("{name} without {missing}: {other:?}"),
        }
        let mut exit = None;
        for _ in 0..300 {
            exit = running.child.try_wait().unwrap();
            if exit.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            !exit.expect("it exits").success(),
            "{name} must exit after an init error"
        );
    }
}
