//! The data-upload function: presigned uploads, their status, row errors,
//! fresh URLs and undoing an upload (API.md "Uploads"), always scoped to the
//! caller's restaurant.

mod error;
mod input;
mod presign;
mod row_errors;
mod uploads;
mod view;

use std::sync::Arc;

use deadpool_postgres::Pool;
use flux_shared::config::{self, StartupError, Vars};
use flux_shared::http::{self, HttpConfig, Request, Response, Routed};
use flux_shared::routes::{self, Route};
use flux_shared::secrets::Secrets;
use flux_shared::tokens::Verifier;
use flux_shared::uploads::BucketConfig;

pub use error::UploadError;
pub use presign::URL_TTL;

flux_shared::operations! {
    /// What data-upload serves, one per route.
    pub enum Operation {
        Create => post "/uploads",
        List => get "/uploads",
        Show => get "/uploads/{id}",
        Delete => delete "/uploads/{id}",
        RowErrors => get "/uploads/{id}/errors",
        FreshUrl => post "/uploads/{id}/url",
    }
}

pub const ROUTES: &[Route] = <Operation as routes::Operation>::ROUTES;

pub const DEFAULT_MAX_SIZE_BYTES: i64 = 1 << 30;

/// What its deployment sets (Terraform's `routes.tf`); a test holds both to it.
pub const ENVIRONMENT: &[&str] = flux_shared::environment![
    config::FUNCTION_ENVIRONMENT,
    flux_shared::db::APP_ENVIRONMENT,
    &["DB_STATEMENT_TIMEOUT_MS"],
    http::ENVIRONMENT,
    flux_shared::tokens::VERIFIER_ENVIRONMENT,
    &["UPLOADS_BUCKET"],
];

/// Built once per container.
pub struct UploadState {
    pub http: HttpConfig,
    pub pool: Pool,
    pub verifier: Verifier,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub max_size_bytes: i64,
}

impl UploadState {
    /// The one constructor: files up to [`DEFAULT_MAX_SIZE_BYTES`].
    pub fn new(
        http: HttpConfig,
        pool: Pool,
        verifier: Verifier,
        s3: aws_sdk_s3::Client,
        bucket: String,
    ) -> Self {
        Self {
            http,
            pool,
            verifier,
            s3,
            bucket,
            max_size_bytes: DEFAULT_MAX_SIZE_BYTES,
        }
    }

    /// The state as deployed: every setting from `vars`, secrets through `secrets`.
    pub async fn from_env(
        vars: &(impl Vars + ?Sized),
        secrets: &Arc<Secrets>,
    ) -> Result<Self, StartupError> {
        let pool = flux_shared::db::app_pool(vars, secrets).await?;
        let bucket = BucketConfig::from_env(vars)?;
        let mut state = Self::new(
            HttpConfig::from_env(vars),
            pool,
            Verifier::from_env(vars, secrets).await?,
            bucket.client().await,
            bucket.bucket,
        );
        state.max_size_bytes = config::parsed(vars, "UPLOAD_MAX_BYTES", DEFAULT_MAX_SIZE_BYTES)?;
        Ok(state)
    }
}

pub async fn handle(state: &UploadState, req: Request) -> Response {
    http::serve(
        &state.http,
        req,
        async |routed: Routed<Operation>, req: Request| {
            let caller = state.verifier.authenticate(&req).await?;
            match routed.operation {
                Operation::Create => uploads::create(state, &caller, &req).await,
                Operation::List => uploads::list(state, &caller, &req).await,
                Operation::Show => uploads::show(state, &caller, routed.param("id")?).await,
                Operation::Delete => uploads::delete(state, &caller, routed.param("id")?).await,
                Operation::RowErrors => {
                    row_errors::list(state, &caller, routed.param("id")?, &req).await
                }
                Operation::FreshUrl => {
                    uploads::fresh_url(state, &caller, routed.param("id")?).await
                }
            }
        },
    )
    .await
}
