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
use flux_shared::db::{self, is_unavailable, DbSettings};
use flux_shared::http::{self, internal_error, HttpConfig, Request, Response, Routed};
use flux_shared::problem::Problem;
use flux_shared::routes::Route;
use flux_shared::secrets::Secrets;
use flux_shared::tenant::AccessError;
use flux_shared::tokens::Verifier;
use flux_shared::uploads::BucketConfig;

pub use presign::URL_TTL;

pub const ROUTES: &[Route] = &[
    Route::post("/uploads"),
    Route::get("/uploads"),
    Route::get("/uploads/{id}"),
    Route::delete("/uploads/{id}"),
    Route::get("/uploads/{id}/errors"),
    Route::post("/uploads/{id}/url"),
];

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
    /// The state as deployed: every setting from `vars`, secrets through `secrets`.
    pub async fn from_env(
        vars: &(impl Vars + ?Sized),
        secrets: &Arc<Secrets>,
    ) -> Result<Self, StartupError> {
        let db = DbSettings::from_env(vars, secrets, "DB_APP_SECRET_ID").await?;
        let bucket = BucketConfig::from_env(vars)?;
        Ok(Self {
            http: HttpConfig::from_env(vars),
            pool: db.pool()?,
            verifier: Verifier::from_env(vars, secrets).await?,
            s3: bucket.client().await,
            bucket: bucket.bucket,
            max_size_bytes: config::parsed(vars, "UPLOAD_MAX_BYTES", DEFAULT_MAX_SIZE_BYTES)?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database: {}", db::describe(.0))]
    Database(#[from] tokio_postgres::Error),
    #[error("the session has ended")]
    SessionEnded,
    #[error("presigning: {0}")]
    Presign(String),
}

impl From<AccessError> for UploadError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::SessionEnded => UploadError::SessionEnded,
            AccessError::Database(e) => UploadError::Database(e),
        }
    }
}

impl From<UploadError> for Problem {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::SessionEnded => {
                Problem::unauthorized("the session of this access token has ended")
            }
            UploadError::Pool(e) if is_unavailable(&e) => {
                tracing::warn!(error = %e, "database unavailable");
                Problem::unavailable()
            }
            UploadError::Database(e) if db::is_unreachable(&e) => {
                tracing::warn!(error = %db::describe(&e), "database unavailable");
                Problem::unavailable()
            }
            other => internal_error(&other),
        }
    }
}

pub async fn handle(state: &UploadState, req: Request) -> Response {
    http::serve(
        &state.http,
        ROUTES,
        req,
        async |routed: Routed, req: Request| {
            let caller = state.verifier.authenticate(&req).await?;
            let id = routed.params.get("id");
            match (routed.route.method, routed.route.path) {
                ("POST", "/uploads") => uploads::create(state, &caller, &req).await,
                ("GET", "/uploads") => uploads::list(state, &caller, &req).await,
                ("GET", "/uploads/{id}") => uploads::show(state, &caller, id).await,
                ("DELETE", "/uploads/{id}") => uploads::delete(state, &caller, id).await,
                ("POST", "/uploads/{id}/url") => uploads::fresh_url(state, &caller, id).await,
                _ => row_errors::list(state, &caller, id, &req).await,
            }
        },
    )
    .await
}
