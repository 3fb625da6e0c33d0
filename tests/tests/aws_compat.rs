//! Our AWS usage against an independent implementation, moto: the Secrets
//! Manager backend with database credentials in RDS's JSON shape, and an
//! upload's round trip (presigned PUT, csv-ingest streaming the object back)
//! through an S3 that is not the local stack's.
//!
//! Needs `MOTO_ENDPOINT`: `bash .ci/aws-compat` starts moto and runs this.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use flux_local::stack::{RunningStack, StackOptions};
use flux_shared::db::DbSettings;
use flux_shared::secrets::Secrets;
use flux_tests::{owner_token, scratch_dir, Api, TestDb};
use serde_json::json;

const REGION: &str = "us-east-1";

fn moto() -> String {
    std::env::var("MOTO_ENDPOINT")
        .expect("MOTO_ENDPOINT is not set: `bash .ci/aws-compat` starts moto and runs these tests")
}

fn credentials() -> Credentials {
    Credentials::new("moto", "moto-secret", None, None, "static")
}

#[tokio::test]
async fn secrets_manager_holds_the_database_credentials_the_functions_connect_with() {
    let db = TestDb::new().await;
    let client = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(moto())
            .credentials_provider(credentials())
            .build(),
    );
    let secret_id = format!("flux/test/{}/db-app", uuid::Uuid::new_v4());
    client
        .create_secret()
        .name(&secret_id)
        .secret_string(
            json!({"username": "flux_app", "password": "not-checked-by-trust"}).to_string(),
        )
        .send()
        .await
        .expect("create the secret");
    let secrets = std::sync::Arc::new(Secrets::aws(client));

    // The cloud configuration: host, port and name from the environment,
    // user and password from the secret.
    let url: tokio_postgres::Config = db.owner_url.parse().unwrap();
    let port = url.get_ports()[0].to_string();
    let name = url.get_dbname().unwrap().to_string();
    let vars: [(&str, &str); 4] = [
        ("DB_HOST", "127.0.0.1"),
        ("DB_PORT", &port),
        ("DB_NAME", &name),
        ("DB_APP_SECRET_ID", &secret_id),
    ];
    let settings = DbSettings::from_env(&vars[..], &secrets, "DB_APP_SECRET_ID")
        .await
        .expect("settings from Secrets Manager");
    let client = settings.connect().await.expect("connect");
    let user: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(user, "flux_app");

    let missing = secrets.get("flux/test/no-such-secret").await;
    assert!(missing.is_err(), "an unknown secret is an error");
}

#[tokio::test]
async fn an_upload_round_trips_through_an_independent_s3() {
    // The local stack signs for an external endpoint with these.
    std::env::set_var("AWS_ACCESS_KEY_ID", "moto");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "moto-secret");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(moto())
            .force_path_style(true)
            .credentials_provider(credentials())
            .build(),
    );
    let _ = s3.create_bucket().bucket("flux-uploads").send().await;

    let db = TestDb::new().await;
    let stack = RunningStack::start(StackOptions {
        api_port: 0,
        s3_port: 0,
        data_dir: scratch_dir("stack"),
        database_url: Some(db.owner_url.clone()),
        s3_endpoint: Some(moto()),
        allowed_origins: vec![],
        on_object_created: None,
        access_token_ttl: None,
    })
    .await
    .expect("start the local stack");
    let api = Api::new(&stack);
    let token = owner_token(&api, "owner@moto.example", "Moto").await;
    let csv = "order_id,ordered_at,item_name,quantity,unit_price\nM-1,2026-01-29 19:05,Soup,2,7.25\nM-1,2026-01-29 19:05,Bread,1,2.00\n";
    let id = api.upload(&token, "moto sales.csv", csv.as_bytes()).await;

    // moto sends no events: deliver the one S3 would.
    let me = api.get("/auth/me", Some(&token)).await;
    let key = format!(
        "uploads/{}/{id}.csv",
        me.body["restaurant"]["id"].as_str().unwrap()
    );
    let event: aws_lambda_events::s3::S3Event = serde_json::from_value(json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": REGION,
            "eventTime": "2026-01-29T19:05:00.000Z",
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "moto"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "moto", "x-amz-id-2": "moto"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "csv-ingest",
                "bucket": {"name": "flux-uploads", "ownerIdentity": {"principalId": "moto"},
                           "arn": "arn:aws:s3:::flux-uploads"},
                "object": {"key": key, "size": csv.len(), "eTag": "moto", "sequencer": "00"}
            }
        }]
    }))
    .unwrap();
    flux_csv_ingest::handle(&stack.ingest, event, "test")
        .await
        .expect("ingest");
    let upload = api.wait_final(&token, &id).await;
    assert_eq!(
        (
            &upload["status"],
            &upload["rows_ingested"],
            &upload["transactions_ingested"]
        ),
        (&json!("completed"), &json!(2), &json!(1)),
        "{upload}"
    );
    stack.shutdown().await;
}
