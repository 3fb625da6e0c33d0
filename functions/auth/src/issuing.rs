//! Token responses: a signed access token for a session, with the profile
//! the browser app shows.

use chrono::Utc;
use flux_shared::tenant;
use flux_shared::tokens::{Claims, TokenConfig};
use serde::Serialize;
use tokio_postgres::Client;
use uuid::Uuid;

use crate::accounts::{self, RestaurantView, UserView};
use crate::error::AuthError;
use crate::sessions::Session;
use flux_shared::tokens::keys::AuthKeys;

#[derive(Serialize)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: String,
    user: UserView,
    restaurant: RestaurantView,
}

/// The token response for a user signed in with `session`.
pub async fn token_response(
    client: &mut Client,
    tokens: &TokenConfig,
    keys: &AuthKeys,
    session: Session,
) -> Result<TokenResponse, AuthError> {
    let tx = tenant::begin(client, session.restaurant).await?;
    let (user, restaurant) = accounts::profile(&tx, session.restaurant, session.user_id).await?;
    tx.commit().await?;
    let access_token = sign(tokens, keys, &user, session.id)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: tokens.access_ttl.as_secs(),
        refresh_token: session.refresh_token.0,
        user,
        restaurant,
    })
}

fn sign(
    tokens: &TokenConfig,
    keys: &AuthKeys,
    user: &UserView,
    session_id: Uuid,
) -> Result<String, AuthError> {
    let now = Utc::now().timestamp();
    let claims = Claims {
        iss: tokens.issuer.clone(),
        aud: tokens.audience.clone(),
        sub: user.id.0,
        rid: user.restaurant_id.0,
        sid: session_id,
        role: user.role,
        iat: now,
        exp: now + tokens.access_ttl.as_secs() as i64,
        jti: Uuid::new_v4(),
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(keys.active_kid.clone());
    Ok(jsonwebtoken::encode(&header, &claims, &keys.signing)?)
}
