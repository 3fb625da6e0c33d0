//! `POST /auth/login`: throttled sign-in with email and password.

use deadpool_postgres::Pool;
use flux_shared::http::{self, Request, RequestMeta, Response};
use flux_shared::passwords::{self, Verification};
use lambda_http::http::StatusCode;
use serde::Deserialize;

use crate::accounts::{self, Candidate};
use crate::input::LoginEmail;
use crate::issuing::token_response;
use crate::throttle::{self, LoginLimits, Reservation, Reserved, Subjects};
use crate::{AuthError, AuthState};

/// Passwords longer than this are not even hashed at login (bounded cost).
const MAX_LOGIN_PASSWORD_BYTES: usize = 1024;

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

pub async fn login(
    state: &AuthState,
    req: &Request,
    meta: &RequestMeta,
) -> Result<Response, AuthError> {
    let body: LoginBody = http::json_body(req)?;
    let email = LoginEmail::parse(&body.email);
    let ip = client_ip(state, req, meta);
    let subjects = Subjects::new(email.throttle_key(), &ip);
    let (reservation, candidate) = reserve(&state.pool, &state.limits, &subjects, &email)
        .await
        .inspect_err(|e| {
            if let AuthError::Throttled { .. } = e {
                tracing::info!(%ip, "sign-in throttled");
            }
        })?;
    let password = Some(body.password)
        .filter(|p| p.len() <= MAX_LOGIN_PASSWORD_BYTES)
        .unwrap_or_default();
    let verification = verify(&password, candidate.as_ref()).await?;
    let Some(candidate) = candidate.filter(|_| verification.matches && !password.is_empty()) else {
        throttle::failed(reservation);
        tracing::info!(%ip, "sign-in failed");
        return Err(AuthError::InvalidCredentials);
    };
    let mut client = state.pool.get().await?;
    throttle::succeeded(&client, reservation, &subjects).await?;

    let upgraded = match verification.needs_rehash {
        true => Some(passwords::hash(password).await?),
        false => None,
    };
    let rehashed = upgraded.is_some();
    let session = accounts::sign_in(&mut client, &candidate, upgraded, &state.sessions).await?;
    tracing::info!(user_id = %candidate.user_id, restaurant_id = %candidate.restaurant, rehashed, "signed in");
    let keys = state.keys.current().await;
    let response = token_response(&mut client, &state.tokens, &keys.auth, session).await?;
    Ok(http::json_response(StatusCode::OK, &response))
}

/// Reserves an attempt (or refuses: throttled) and finds the account. The
/// connection goes back to the pool before the password is verified: that
/// is the slow part, and needs no database.
async fn reserve(
    pool: &Pool,
    limits: &LoginLimits,
    subjects: &Subjects,
    email: &LoginEmail,
) -> Result<(Reservation, Option<Candidate>), AuthError> {
    let mut client = pool.get().await?;
    let reservation = match throttle::reserve(&mut client, limits, subjects).await? {
        Reserved::Attempt(reservation) => reservation,
        Reserved::Locked { retry_after } => return Err(AuthError::Throttled { retry_after }),
    };
    let candidate = accounts::find_for_sign_in(&mut client, email).await?;
    Ok((reservation, candidate))
}

/// Verifies against the account's hash, or against a constant one when
/// there is no account, so both take as long.
async fn verify(password: &str, candidate: Option<&Candidate>) -> Result<Verification, AuthError> {
    let phc = candidate.map_or(passwords::UNKNOWN_ACCOUNT_HASH, |c| {
        c.password_hash.as_str()
    });
    Ok(passwords::verify(password.to_string(), phc.to_string()).await?)
}

/// The client's address: API Gateway's view of it, or, behind a proxy we
/// run, the hop that proxy appended to `x-forwarded-for` (the last one;
/// everything before it is whatever the client wrote).
fn client_ip(state: &AuthState, req: &Request, meta: &RequestMeta) -> String {
    if state.trust_forwarded_for {
        let last_hop = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty());
        if let Some(hop) = last_hop {
            return hop.to_string();
        }
    }
    meta.source_ip
        .clone()
        .unwrap_or_else(|| "unknown".to_string())
}
