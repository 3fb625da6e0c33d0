//! Tenant context. Every tenant table is under row-level security keyed on
//! `app.restaurant_id`; this sets it for exactly one transaction, so a pooled
//! connection never carries one caller's restaurant into the next request.

use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, Transaction};
use uuid::Uuid;

/// The restaurant a request acts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RestaurantId(pub Uuid);

impl std::fmt::Display for RestaurantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
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
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT set_config('app.restaurant_id', $1, true)",
        &[&restaurant.0.to_string()],
    )
    .await?;
    let value = work(&tx).await?;
    tx.commit().await?;
    Ok(value)
}
