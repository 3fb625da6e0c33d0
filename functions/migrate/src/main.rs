//! The `migrate` Lambda: invoked by the deploy pipeline from inside the VPC.
//! Connects as the owner (secret `DB_OWNER_SECRET_ID`), applies pending
//! migrations, sets the app role's password (secret `DB_APP_SECRET_ID`) and
//! returns the report; any failure fails the invocation, and so the deploy.

use flux_shared::config::{self, ProcessEnv};
use flux_shared::db::DbSettings;
use flux_shared::secrets::{SecretString, Secrets};
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[derive(serde::Deserialize)]
struct AppCredentials {
    password: String,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    flux_shared::telemetry::init();
    let secrets = Secrets::from_env(&ProcessEnv).await?;
    let settings = DbSettings::from_env(&ProcessEnv, &secrets, "DB_OWNER_SECRET_ID").await?;
    let app_secret_id = config::required(&ProcessEnv, "DB_APP_SECRET_ID")?;
    let (settings, secrets, app_secret_id) = (&settings, &secrets, app_secret_id.as_str());

    lambda_runtime::run(service_fn(move |_event: LambdaEvent<serde_json::Value>| async move {
        let mut client = settings.connect().await?;
        let report = flux_migrate::migrate(&mut client).await?;
        let app: AppCredentials = secrets.get_json(app_secret_id).await?;
        flux_migrate::set_app_password(&client, &SecretString::from(app.password)).await?;
        tracing::info!(applied = ?report.applied, version = ?report.version, "migrations applied");
        Ok::<_, Error>(report)
    }))
    .await
}
