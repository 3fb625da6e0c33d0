//! The data-upload function: presigned uploads, their status, row errors,
//! fresh URLs and undoing an upload (API.md "Uploads"), always scoped to the
//! caller's restaurant.

mod input;
mod presign;
mod row_errors;
mod uploads;
mod view;

use std::sync::Arc;

use deadpool_postgres::Pool;
use flux_shared::config::{self, StartupError, Vars};
use flux_shared::db::{DbFailure, DbSettings};
use flux_shared::http::{self, internal_error, HttpConfig, Request, Response, Routed};
use flux_shared::problem::Problem;
use flux_shared::routes::{self, Route};
use flux_shared::secrets::Secrets;
use flux_shared::tenant::AccessError;
use flux_shared::tokens::Verifier;
use flux_shared::uploads::BucketConfig;

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
pub const ENVIRONMENT: &[&str] = &[
    "RUST_LOG",
    "SECRETS_SOURCE",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_TLS",
    "DB_APP_SECRET_ID",
    "DB_STATEMENT_TIMEOUT_MS",
    "ALLOWED_ORIGINS",
    "AUTH_ISSUER",
    "AUTH_AUDIENCE",
    "AUTH_PUBLIC_KEYS_SECRET_ID",
    "UPLOADS_BUCKET",
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
        let db = DbSettings::from_env(vars, secrets, "DB_APP_SECRET_ID").await?;
        let bucket = BucketConfig::from_env(vars)?;
        let mut state = Self::new(
            HttpConfig::from_env(vars),
            db.pool()?,
            Verifier::from_env(vars, secrets).await?,
            bucket.client().await,
            bucket.bucket,
        );
        state.max_size_bytes = config::parsed(vars, "UPLOAD_MAX_BYTES", DEFAULT_MAX_SIZE_BYTES)?;
        Ok(state)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Refused before any upload logic (token, body, query): the problem as is.
    #[error(transparent)]
    Refused(#[from] Problem),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Database(#[from] DbFailure),
    #[error(transparent)]
    Input(#[from] input::NewUploadError),
    #[error("no such upload")]
    NotFound,
    #[error("the upload is {0}, not waiting for its file")]
    NotAwaitingFile(view::ShownStatus),
    #[error("the upload is being ingested")]
    BeingIngested,
    #[error(transparent)]
    Presign(#[from] presign::PresignError),
}

flux_shared::database_errors!(UploadError::Database);

impl From<UploadError> for Problem {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::Refused(problem) => problem,
            UploadError::Access(error) => error.into(),
            UploadError::Database(failure) => failure.into(),
            UploadError::Input(input::NewUploadError::Invalid(errors)) => {
                Problem::validation(errors)
            }
            UploadError::Input(input::NewUploadError::TooLarge { max }) => {
                Problem::payload_too_large(format!("files are limited to {max} bytes"))
            }
            UploadError::NotFound => Problem::not_found(),
            UploadError::NotAwaitingFile(status) => Problem::conflict(format!(
                "the upload is {status}: only an upload still waiting for its file gets a new URL"
            )),
            UploadError::BeingIngested => {
                Problem::conflict("the upload is being ingested; delete it once it has finished")
            }
            UploadError::Presign(_) => internal_error(&error),
        }
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
