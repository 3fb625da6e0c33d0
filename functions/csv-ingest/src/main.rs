//! The `csv-ingest` Lambda, invoked asynchronously by S3 ObjectCreated
//! events. Builds its state once per container.

use std::sync::Arc;

use aws_lambda_events::s3::S3Event;
use flux_csv_ingest::IngestState;
use flux_shared::config::{self, ProcessEnv};
use flux_shared::secrets::Secrets;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    flux_shared::telemetry::init();
    let state = &config::start(async {
        let secrets = Arc::new(Secrets::from_env(&ProcessEnv).await?);
        IngestState::from_env(&ProcessEnv, &secrets).await
    })
    .await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        flux_csv_ingest::handle(state, event.payload, &event.context.request_id)
            .await
            .map_err(Error::from)
    }))
    .await
}
