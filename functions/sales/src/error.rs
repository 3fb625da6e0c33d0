//! The sales domain's errors and their one conversion to problem responses.

use flux_shared::db::{self, is_unavailable, PoolError};
use flux_shared::http::internal_error;
use flux_shared::problem::Problem;
use flux_shared::tenant::AccessError;

#[derive(Debug, thiserror::Error)]
pub enum SalesError {
    #[error("the session has ended")]
    SessionEnded,
    #[error("database pool: {0}")]
    Pool(#[from] PoolError),
    #[error("database: {}", db::describe(.0))]
    Database(#[from] tokio_postgres::Error),
    #[error("the restaurant's timezone {0:?} is unknown")]
    UnknownTimezone(String),
}

impl From<AccessError> for SalesError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::SessionEnded => SalesError::SessionEnded,
            AccessError::Database(e) => SalesError::Database(e),
        }
    }
}

impl From<SalesError> for Problem {
    fn from(error: SalesError) -> Self {
        match error {
            SalesError::SessionEnded => {
                Problem::unauthorized("the session of this access token has ended")
            }
            SalesError::Pool(e) if is_unavailable(&e) => {
                tracing::warn!(error = %e, "database unavailable");
                Problem::unavailable()
            }
            SalesError::Database(e) if db::is_unreachable(&e) => {
                tracing::warn!(error = %db::describe(&e), "database unavailable");
                Problem::unavailable()
            }
            other => internal_error(&other),
        }
    }
}
