//! `GET /auth/me`: who the access token belongs to.

use flux_shared::http::{self, Request, Response};
use flux_shared::tenant;
use lambda_http::http::StatusCode;
use serde::Serialize;

use crate::accounts::{self, RestaurantView, UserView};
use crate::{AuthError, AuthState};

#[derive(Serialize)]
struct MeResponse {
    user: UserView,
    restaurant: RestaurantView,
}

pub async fn me(state: &AuthState, req: &Request) -> Result<Response, AuthError> {
    let keys = state.keys.current().await;
    let caller = keys.verifier.authenticate(req).await?;
    let mut client = state.pool.get().await?;
    let tx = tenant::begin_for(&mut client, &caller).await?;
    let (user, restaurant) = accounts::profile(&tx, caller.restaurant_id, caller.user_id).await?;
    tx.commit().await?;
    Ok(http::json_response(
        StatusCode::OK,
        &MeResponse { user, restaurant },
    ))
}
