//! `POST /auth/register`: a new restaurant and its owner, signed in.

use flux_shared::http::{self, Request, Response};
use flux_shared::passwords;
use flux_shared::problem::FieldError;
use lambda_http::http::StatusCode;
use serde::Deserialize;

use crate::accounts::{self, Registration};
use crate::input::{Email, NewPassword, RestaurantName, TimeZone};
use crate::issuing::token_response;
use crate::{AuthError, AuthState};

#[derive(Deserialize)]
struct RegisterBody {
    email: String,
    password: String,
    restaurant_name: String,
    #[serde(default)]
    timezone: Option<String>,
}

pub async fn register(state: &AuthState, req: &Request) -> Result<Response, AuthError> {
    let (email, restaurant_name, timezone, password) = parse(http::json_body(req)?)?;
    let registration = Registration {
        email,
        restaurant_name,
        timezone,
        password_hash: passwords::hash(password.into_inner()).await?,
    };
    let mut client = state.pool.get().await?;
    let session = accounts::register(&mut client, &registration, &state.sessions).await?;
    tracing::info!(user_id = %session.user_id, restaurant_id = %session.restaurant, "registered");
    let keys = state.keys.current().await;
    let response = token_response(&mut client, &state.tokens, &keys.auth, session).await?;
    Ok(http::json_response(StatusCode::CREATED, &response))
}

/// Every field checked, and every invalid one named at once.
fn parse(body: RegisterBody) -> Result<(Email, RestaurantName, TimeZone, NewPassword), AuthError> {
    let mut errors = Vec::new();
    let email = Email::parse(&body.email)
        .map_err(|m| errors.push(FieldError::new("email", m)))
        .ok();
    let name = RestaurantName::parse(&body.restaurant_name)
        .map_err(|m| errors.push(FieldError::new("restaurant_name", m)))
        .ok();
    let timezone = TimeZone::parse(body.timezone.as_deref())
        .map_err(|m| errors.push(FieldError::new("timezone", m)))
        .ok();
    let other_inputs: Vec<&str> = name.iter().map(RestaurantName::as_str).collect();
    let password = NewPassword::parse(&body.password, email.as_ref(), &other_inputs)
        .map_err(|m| errors.push(FieldError::new("password", m)))
        .ok();
    match (email, name, timezone, password) {
        (Some(email), Some(name), Some(timezone), Some(password)) => {
            Ok((email, name, timezone, password))
        }
        _ => Err(AuthError::Invalid(errors)),
    }
}
