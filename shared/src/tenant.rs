//! Tenant context. Every tenant table is under row-level security keyed on
//! `app.restaurant_id`; this sets it for exactly one transaction, so a pooled
//! connection never carries one caller's restaurant into the next request.

use tokio_postgres::{Client, Transaction};

use crate::tokens::Caller;

pub use crate::ids::{RestaurantId, UserId};

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Signed out, revoked after refresh-token reuse, or expired: the access
    /// token's signature is still good, but its session is over.
    #[error("the session of this access token has ended")]
    SessionEnded,
    #[error(transparent)]
    Database(#[from] crate::db::DbFailure),
}

crate::database_errors!(AccessError::Database);

impl From<AccessError> for crate::problem::Problem {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::SessionEnded => {
                Self::unauthorized("the session of this access token has ended")
            }
            AccessError::Database(failure) => failure.into(),
        }
    }
}

/// Starts a transaction scoped to `restaurant`, for work no caller asked
/// for (ingestion, sign-up, sign-in).
pub async fn begin(
    client: &mut Client,
    restaurant: RestaurantId,
) -> Result<Transaction<'_>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    scope(&tx, restaurant).await?;
    Ok(tx)
}

/// Scopes the rest of an open transaction to `restaurant` (for work that
/// started its transaction itself, e.g. with a particular isolation level).
pub async fn scope(
    tx: &Transaction<'_>,
    restaurant: RestaurantId,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "SELECT set_config('app.restaurant_id', $1, true)",
        &[&restaurant.to_string()],
    )
    .await?;
    Ok(())
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
            &[&caller.restaurant_id, &caller.session_id, &caller.user_id],
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

/// Runs the queries of `work` acting for `caller` (see [`begin_for`]),
/// committing when it returns `Ok` and rolling back otherwise.
pub async fn with_caller<T>(
    client: &mut Client,
    caller: &Caller,
    work: impl AsyncFnOnce(&Transaction<'_>) -> Result<T, tokio_postgres::Error>,
) -> Result<T, AccessError> {
    let tx = begin_for(client, caller).await?;
    let value = work(&tx).await?;
    tx.commit().await?;
    Ok(value)
}
