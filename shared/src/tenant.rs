//! Tenant context. Every tenant table is under row-level security keyed on
//! `app.restaurant_id`; this sets it for exactly one transaction, so a pooled
//! connection never carries one caller's restaurant into the next request.

use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, Transaction};
use uuid::Uuid;

use crate::tokens::Caller;

/// The restaurant a request acts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RestaurantId(pub Uuid);

impl std::fmt::Display for RestaurantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Signed out, revoked after refresh-token reuse, or expired: the access
    /// token's signature is still good, but its session is over.
    #[error("the session of this access token has ended")]
    SessionEnded,
    #[error(transparent)]
    Database(#[from] tokio_postgres::Error),
}

/// Starts a transaction scoped to `restaurant`, for work no caller asked
/// for (ingestion, sign-up, sign-in).
pub async fn begin(
    client: &mut Client,
    restaurant: RestaurantId,
) -> Result<Transaction<'_>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT set_config('app.restaurant_id', $1, true)",
        &[&restaurant.0.to_string()],
    )
    .await?;
    Ok(tx)
}

/// Starts a transaction acting for a verified caller: scoped to their
/// restaurant, and only while the session their token names is live, so a
/// token stops working at logout, not at its expiry.
pub async fn begin_for<'a>(
    client: &'a mut Client,
    caller: &Caller,
) -> Result<Transaction<'a>, AccessError> {
    let tx = client.transaction().await?;
    let live: bool = tx
        .query_one(
            "SELECT app_act_for($1, $2, $3)",
            &[&caller.restaurant_id.0, &caller.session_id, &caller.user_id],
        )
        .await?
        .get(0);
    if !live {
        return Err(AccessError::SessionEnded);
    }
    Ok(tx)
}

/// Runs `work` in a transaction scoped to `restaurant`, committing when it
/// returns `Ok` and rolling back otherwise.
pub async fn with_tenant<T, E>(
    client: &mut Client,
    restaurant: RestaurantId,
    work: impl AsyncFnOnce(&Transaction<'_>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<tokio_postgres::Error>,
{
    let tx = begin(client, restaurant).await?;
    let value = work(&tx).await?;
    tx.commit().await?;
    Ok(value)
}

/// Runs `work` acting for `caller` (see [`begin_for`]), committing when it
/// returns `Ok` and rolling back otherwise.
pub async fn with_caller<T, E>(
    client: &mut Client,
    caller: &Caller,
    work: impl AsyncFnOnce(&Transaction<'_>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<tokio_postgres::Error> + From<AccessError>,
{
    let tx = begin_for(client, caller).await?;
    let value = work(&tx).await?;
    tx.commit().await?;
    Ok(value)
}
