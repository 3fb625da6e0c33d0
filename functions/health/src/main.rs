//! The `health` Lambda: builds its state once per container, then serves.

use flux_health::HealthState;
use flux_shared::config::ProcessEnv;
use flux_shared::db::DbSettings;
use flux_shared::http::HttpConfig;
use flux_shared::secrets::Secrets;
use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    flux_shared::telemetry::init();
    let secrets = Secrets::from_env(&ProcessEnv).await?;
    let settings = DbSettings::from_env(&ProcessEnv, &secrets, "DB_APP_SECRET_ID").await?;
    let state = HealthState {
        http: HttpConfig::from_env(&ProcessEnv),
        pool: settings.pool()?,
    };
    let state = &state;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(flux_health::handle(state, req).await)
    }))
    .await
}
