//! `POST /auth/refresh` and `POST /auth/logout`: what a refresh token can do.

use flux_shared::http::{self, Request, Response};
use lambda_http::http::StatusCode;
use serde::Deserialize;

use crate::issuing::token_response;
use crate::sessions::{self, RefreshToken, Refreshed};
use crate::{AuthError, AuthState};

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

pub async fn refresh(state: &AuthState, req: &Request) -> Result<Response, AuthError> {
    let body: RefreshBody = http::json_body(req)?;
    let presented = RefreshToken(body.refresh_token);
    // One reading of the keys for the whole exchange.
    let keys = state.keys.current().await;
    let mut client = state.pool.get().await?;
    let outcome = sessions::rotate(
        &mut client,
        &presented,
        &keys.auth.refresh_token_key,
        &state.sessions,
    )
    .await?;
    match outcome {
        Refreshed::Token(session) => {
            let response = token_response(&mut client, &state.tokens, &keys.auth, session).await?;
            Ok(http::json_response(StatusCode::OK, &response))
        }
        Refreshed::Invalid => Err(AuthError::InvalidRefreshToken),
        Refreshed::Reused => {
            tracing::warn!("refresh token reuse: session revoked");
            Err(AuthError::InvalidRefreshToken)
        }
    }
}

pub async fn logout(state: &AuthState, req: &Request) -> Result<Response, AuthError> {
    let body: RefreshBody = http::json_body(req)?;
    let mut client = state.pool.get().await?;
    sessions::end(&mut client, &RefreshToken(body.refresh_token)).await?;
    Ok(http::no_content())
}
