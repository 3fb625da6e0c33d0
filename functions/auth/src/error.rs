//! The auth domain's errors and their one conversion to problem responses.

use flux_shared::db::DbFailure;
use flux_shared::http::internal_error;
use flux_shared::passwords::PasswordError;
use flux_shared::problem::{FieldError, Problem};
use flux_shared::tenant::AccessError;
use http::StatusCode;
use lambda_http::http;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Refused before any auth logic (a malformed body, no token): the
    /// problem as is.
    #[error(transparent)]
    Refused(#[from] Problem),
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("email already registered")]
    EmailTaken,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("too many failed sign-ins")]
    Throttled { retry_after: u64 },
    #[error("refresh token is invalid")]
    InvalidRefreshToken,
    #[error("the account no longer exists")]
    AccountGone,
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Database(#[from] DbFailure),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("signing the access token: {0}")]
    Signing(#[from] jsonwebtoken::errors::Error),
    #[error("the token keys: {0}")]
    Keys(#[from] flux_shared::tokens::TokenError),
    #[error("the signing keys: {0}")]
    SigningKeys(#[from] flux_shared::tokens::keys::KeyError),
    #[error("a secret: {0}")]
    Secrets(#[from] flux_shared::secrets::SecretsError),
    #[error(transparent)]
    Config(#[from] flux_shared::config::ConfigError),
    #[error("database setup: {0}")]
    DbSetup(#[from] flux_shared::db::DbError),
}

flux_shared::database_errors!(AuthError::Database);

impl From<AuthError> for Problem {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Refused(problem) => problem,
            AuthError::Invalid(errors) => Problem::validation(errors),
            AuthError::EmailTaken => Problem::conflict("an account with this email already exists"),
            AuthError::InvalidCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-credentials",
                "Invalid email or password",
            )
            .with_detail("Invalid email or password"),
            AuthError::Throttled { retry_after } => Problem::too_many_requests(retry_after),
            AuthError::InvalidRefreshToken => {
                Problem::unauthorized("the refresh token is invalid, expired or revoked")
            }
            AuthError::AccountGone => Problem::unauthorized("the account no longer exists"),
            AuthError::Access(error) => error.into(),
            AuthError::Database(failure) => failure.into(),
            other => internal_error(&other),
        }
    }
}

/// Whether a database error is a unique violation of `constraint`.
pub fn is_unique_violation(error: &tokio_postgres::Error, constraint: &str) -> bool {
    error.as_db_error().is_some_and(|e| {
        *e.code() == tokio_postgres::error::SqlState::UNIQUE_VIOLATION
            && e.constraint() == Some(constraint)
    })
}
