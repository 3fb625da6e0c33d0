//! The `sales` Lambda: builds its state once per container, then serves.

use flux_sales::SalesState;
use flux_shared::config::ProcessEnv;
use flux_shared::db::DbSettings;
use flux_shared::http::HttpConfig;
use flux_shared::secrets::Secrets;
use flux_shared::tokens::Verifier;
use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    flux_shared::telemetry::init();
    let secrets = Secrets::from_env(&ProcessEnv).await?;
    let settings = DbSettings::from_env(&ProcessEnv, &secrets, "DB_APP_SECRET_ID").await?;
    let state = SalesState {
        http: HttpConfig::from_env(&ProcessEnv),
        pool: settings.pool()?,
        verifier: Verifier::from_env(&ProcessEnv)?,
    };
    let state = &state;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(flux_sales::handle(state, req).await)
    }))
    .await
}
