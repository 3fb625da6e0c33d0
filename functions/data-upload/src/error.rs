//! The upload domain's errors and their one conversion to problem responses.

use flux_shared::db::DbFailure;
use flux_shared::http::internal_error;
use flux_shared::problem::Problem;
use flux_shared::tenant::AccessError;

use crate::input::NewUploadError;
use crate::presign::PresignError;
use crate::view::ShownStatus;

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
    Input(#[from] NewUploadError),
    #[error("no such upload")]
    NotFound,
    #[error("the upload is {0}, not waiting for its file")]
    NotAwaitingFile(ShownStatus),
    #[error("the upload is being ingested")]
    BeingIngested,
    #[error(transparent)]
    Presign(#[from] PresignError),
}

flux_shared::database_errors!(UploadError::Database);

impl From<UploadError> for Problem {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::Refused(problem) => problem,
            UploadError::Access(error) => error.into(),
            UploadError::Database(failure) => failure.into(),
            UploadError::Input(NewUploadError::Invalid(errors)) => Problem::validation(errors),
            UploadError::Input(NewUploadError::TooLarge { max }) => {
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
