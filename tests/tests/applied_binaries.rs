//! The function binaries on the environment Terraform gave them: run by
//! `.ci/terraform` while dev is applied in moto. Each binary starts with its
//! Lambda's variables exactly as the applied state holds them; only the
//! database (a local PostgreSQL) and the AWS endpoints (that moto) are
//! overridden. Secrets come from moto's Secrets Manager, where Terraform
//! left them (migrate creates the signing keys there); the upload goes
//! through moto's S3.
//!
//! Needs FLUX_TF_LIVE_STATE (`terraform show -json` of the applied dev) and
//! FLUX_TF_LIVE_ENDPOINT (its moto); not run by `cargo test` alone.

use std::collections::HashMap;

use flux_local::runtime_api::{s3_event, Outcome};
use flux_tests::lambda::Running;
use flux_tests::terraform::{self, State};
use flux_tests::TestDb;
use serde_json::{json, Value};

fn master_username(state: &State) -> String {
    let db = state
        .of_type("aws_db_instance")
        .next()
        .expect("a database in the applied state");
    db["username"].as_str().unwrap().to_string()
}

fn s3(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("eu-west-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "moto", "moto", None, None, "static",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn secrets_manager(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new("eu-west-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "moto", "moto", None, None, "static",
        ))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

#[tokio::test]
async fn the_binaries_serve_on_the_applied_environment() {
    let state = State::read(std::path::Path::new(
        &std::env::var("FLUX_TF_LIVE_STATE").expect("FLUX_TF_LIVE_STATE; run .ci/terraform"),
    ));
    let endpoint =
        std::env::var("FLUX_TF_LIVE_ENDPOINT").expect("FLUX_TF_LIVE_ENDPOINT; run .ci/terraform");
    let db = TestDb::new().await;
    let local: tokio_postgres::Config = db.owner_url.parse().unwrap();
    let host = match &local.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        other => panic!("a TCP test database, not {other:?}"),
    };
    let environment = |function: &str| {
        let mut vars: HashMap<String, String> = terraform::environment(state.lambda(function))
            .into_iter()
            .collect();
        // The overrides, and nothing else: where the database and AWS are.
        for (k, v) in [
            ("DB_HOST", host.clone()),
            ("DB_PORT", local.get_ports()[0].to_string()),
            ("DB_NAME", local.get_dbname().unwrap().to_string()),
            ("DB_TLS", "off".to_string()),
            ("AWS_ENDPOINT_URL", endpoint.clone()),
            ("S3_ENDPOINT_URL", endpoint.clone()),
            ("RUST_LOG", "warn".to_string()),
        ] {
            vars.insert(k.to_string(), v);
        }
        vars
    };

    // RDS keeps the owner's credentials in the secret it manages, under the
    // instance's master username; moto's holds its own default user ("admin").
    // (The local server trusts loopback: any password will do.)
    let secrets = secrets_manager(&endpoint).await;
    let owner_secret = &environment("migrate")["DB_OWNER_SECRET_ID"];
    let master = master_username(&state);
    let held = secrets
        .get_secret_value()
        .secret_id(owner_secret)
        .send()
        .await
        .ok();
    let held_user = held
        .and_then(|v| v.secret_string().map(String::from))
        .and_then(|v| serde_json::from_str::<Value>(&v).ok())
        .and_then(|v| v["username"].as_str().map(String::from));
    if held_user.as_deref() != Some(master.as_str()) {
        secrets
            .put_secret_value()
            .secret_id(owner_secret)
            .secret_string(json!({"username": master, "password": "rds-managed"}).to_string())
            .send()
            .await
            .unwrap();
    }
    let keys_secret = environment("auth")["AUTH_KEYS_SECRET_ID"].clone();
    assert!(
        secrets
            .get_secret_value()
            .secret_id(&keys_secret)
            .send()
            .await
            .is_err(),
        "Terraform must not have given the signing keys a value"
    );

    // The deploy's invocation of migrate creates the keys inside "AWS".
    let migrate = Running::ready("migrate", &environment("migrate")).await;
    let outcome = match migrate.invoke(json!({})).await {
        Outcome::Response(outcome) => outcome,
        failed => panic!("migrate failed: {failed:?}"),
    };
    let kid = outcome["active_kid"].as_str().unwrap().to_string();
    let stored = secrets
        .get_secret_value()
        .secret_id(&keys_secret)
        .send()
        .await
        .unwrap();
    assert!(stored.secret_string().unwrap().contains(&kid));

    let auth = Running::ready("auth", &environment("auth")).await;
    let (token, me) = auth.sign_up("applied@example.com", "Applied").await;

    let uploads = Running::ready("data-upload", &environment("data-upload")).await;
    let csv = "order_id,ordered_at,item,quantity,unit_price\nA1,2026-01-29 20:00,Soup,2,4.50\n";
    let request = json!({"filename": "applied.csv", "size_bytes": csv.len()});
    let (status, created) = uploads
        .http("POST", "/uploads", Some(&token), Some(request))
        .await;
    assert_eq!(status, 201, "{created}");
    let mut put = reqwest::Client::new().put(created["upload_url"].as_str().unwrap());
    for (name, value) in created["upload_headers"].as_object().unwrap() {
        put = put.header(name, value.as_str().unwrap());
    }
    // The bucket refuses anything but TLS (DenyInsecureTransport), and moto
    // enforces it: on loopback, where moto speaks plain HTTP, that one
    // statement goes. (The contract test checks the policy in the state.)
    let bucket = environment("csv-ingest")["UPLOADS_BUCKET"].clone();
    s3(&endpoint)
        .delete_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let stored = put.body(csv).send().await.unwrap();
    let status = stored.status();
    assert!(
        status.is_success(),
        "PUT to moto's S3: {status} {}",
        stored.text().await.unwrap_or_default()
    );

    // The event S3 sends for it, batched with a key that matches nothing.
    let id = created["upload"]["id"].as_str().unwrap();
    let key = format!(
        "uploads/{}/{id}.csv",
        me["restaurant"]["id"].as_str().unwrap()
    );
    let stranger = format!(
        "uploads/{}/{}.csv",
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4()
    );
    let event = s3_event(&bucket, &[(&key, csv.len()), (&stranger, 10)]);
    let ingest = Running::ready("csv-ingest", &environment("csv-ingest")).await;
    let outcome = ingest.invoke(event).await;
    assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
    let (status, upload) = uploads
        .http("GET", &format!("/uploads/{id}"), Some(&token), None)
        .await;
    assert_eq!(status, 200, "{upload}");
    assert_eq!(
        (upload["status"].as_str(), upload["rows_ingested"].as_i64()),
        (Some("completed"), Some(1)),
        "{upload}"
    );

    let sales = Running::ready("sales", &environment("sales")).await;
    let january = "/sales/transactions?from=2026-01-01&to=2026-01-31";
    let (status, body) = sales.http("GET", january, Some(&token), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1), "{body}");

    let health = Running::ready("health", &environment("health")).await;
    let (status, body) = health.http("GET", "/health", None, None).await;
    assert_eq!(status, 200, "{body}");

    // What this test stored goes, every version of it, so that the
    // environment can be destroyed (the bucket is never force-destroyed).
    let s3 = s3(&endpoint);
    let versions = s3
        .list_object_versions()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let stored = versions
        .versions()
        .iter()
        .map(|v| (v.key(), v.version_id()));
    let markers = versions
        .delete_markers()
        .iter()
        .map(|m| (m.key(), m.version_id()));
    for (key, version) in stored.chain(markers) {
        s3.delete_object()
            .bucket(&bucket)
            .key(key.unwrap())
            .set_version_id(version.map(String::from))
            .send()
            .await
            .unwrap();
    }
}
