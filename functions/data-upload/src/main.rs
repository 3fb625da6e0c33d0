//! The `data-upload` Lambda: builds its state once per container, then serves.

use flux_data_upload::{UploadState, DEFAULT_MAX_SIZE_BYTES};
use flux_shared::config::{self, ProcessEnv};
use flux_shared::db::DbSettings;
use flux_shared::http::HttpConfig;
use flux_shared::secrets::Secrets;
use flux_shared::tokens::Verifier;
use flux_shared::uploads::BucketConfig;
use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    flux_shared::telemetry::init();
    let secrets = Secrets::from_env(&ProcessEnv).await?;
    let settings = DbSettings::from_env(&ProcessEnv, &secrets, "DB_APP_SECRET_ID").await?;
    let bucket = BucketConfig::from_env(&ProcessEnv)?;
    let state = UploadState {
        http: HttpConfig::from_env(&ProcessEnv),
        pool: settings.pool()?,
        verifier: Verifier::from_env(&ProcessEnv)?,
        s3: bucket.client().await,
        bucket: bucket.bucket,
        max_size_bytes: config::parsed(&ProcessEnv, "UPLOAD_MAX_BYTES", DEFAULT_MAX_SIZE_BYTES)?,
    };
    let state = &state;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(flux_data_upload::handle(state, req).await)
    }))
    .await
}
