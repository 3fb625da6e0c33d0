//! The `csv-ingest` Lambda, invoked asynchronously by S3 ObjectCreated
//! events. Builds its state once per container.

use std::time::Duration;

use aws_lambda_events::s3::S3Event;
use flux_csv_ingest::IngestState;
use flux_shared::config::ProcessEnv;
use flux_shared::db::DbSettings;
use flux_shared::secrets::Secrets;
use flux_shared::uploads::BucketConfig;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    flux_shared::telemetry::init();
    let secrets = Secrets::from_env(&ProcessEnv).await?;
    let settings = DbSettings::from_env(&ProcessEnv, &secrets, "DB_APP_SECRET_ID").await?;
    let bucket = BucketConfig::from_env(&ProcessEnv)?;
    let state = IngestState {
        pool: settings.pool()?,
        s3: bucket.client().await,
        bucket: bucket.bucket,
        stale_after: Duration::from_secs(30),
        heartbeat_every: flux_csv_ingest::HEARTBEAT_EVERY,
    };
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        flux_csv_ingest::handle(state, event.payload, &event.context.request_id)
            .await
            .map_err(Error::from)
    }))
    .await
}
