//! The `sales` Lambda: builds its state once per container, then serves.

use std::sync::Arc;

use flux_sales::SalesState;
use flux_shared::config::{self, ProcessEnv};
use flux_shared::secrets::Secrets;
use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    flux_shared::telemetry::init();
    let state = &config::start(async {
        let secrets = Arc::new(Secrets::from_env(&ProcessEnv).await?);
        SalesState::from_env(&ProcessEnv, &secrets).await
    })
    .await?;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(flux_sales::handle(state, req).await)
    }))
    .await
}
