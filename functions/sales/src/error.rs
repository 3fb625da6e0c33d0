//! The sales domain's errors and their one conversion to problem responses.

use flux_shared::db::DbFailure;
use flux_shared::http::internal_error;
use flux_shared::problem::Problem;
use flux_shared::tenant::AccessError;

#[derive(Debug, thiserror::Error)]
pub enum SalesError {
    /// Refused before any sales logic (token, query): the problem as is.
    #[error(transparent)]
    Refused(#[from] Problem),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Database(#[from] DbFailure),
    #[error("the restaurant's timezone {0:?} is unknown")]
    UnknownTimezone(String),
}

flux_shared::database_errors!(SalesError::Database);

impl From<SalesError> for Problem {
    fn from(error: SalesError) -> Self {
        match error {
            SalesError::Refused(problem) => problem,
            SalesError::Access(error) => error.into(),
            SalesError::Database(failure) => failure.into(),
            SalesError::UnknownTimezone(_) => internal_error(&error),
        }
    }
}
