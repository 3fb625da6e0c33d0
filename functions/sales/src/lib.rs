//! The sales function: what the restaurant owner came for (API.md "Sales
//! analytics"). Every figure but the transactions list and detail is read
//! from the rollups csv-ingest keeps, in the restaurant's timezone.

mod error;
mod figures;
mod hours;
mod items;
mod payments;
mod query;
mod summary;
mod transactions;

use std::sync::Arc;

use chrono_tz::Tz;
use deadpool_postgres::Pool;
use flux_shared::config::{StartupError, Vars};
use flux_shared::http::{self, HttpConfig, Request, Response, Routed};
use flux_shared::routes::{self, Route};
use flux_shared::secrets::Secrets;
use flux_shared::tenant;
use flux_shared::tokens::{Caller, Verifier};
use tokio_postgres::{Client, Transaction};

pub use error::SalesError;

flux_shared::operations! {
    /// What sales serves, one per route.
    pub enum Operation {
        Summary => get "/sales/summary",
        Items => get "/sales/items",
        Categories => get "/sales/categories",
        Hours => get "/sales/hours",
        Payments => get "/sales/payments",
        Transactions => get "/sales/transactions",
        Transaction => get "/sales/transactions/{id}",
    }
}

pub const ROUTES: &[Route] = <Operation as routes::Operation>::ROUTES;

/// Built once per container.
pub struct SalesState {
    pub http: HttpConfig,
    pub pool: Pool,
    pub verifier: Verifier,
}

/// What its deployment sets (Terraform's `routes.tf`); a test holds both to it.
pub const ENVIRONMENT: &[&str] = flux_shared::environment![
    flux_shared::config::FUNCTION_ENVIRONMENT,
    flux_shared::db::APP_ENVIRONMENT,
    http::ENVIRONMENT,
    flux_shared::tokens::VERIFIER_ENVIRONMENT,
];

impl SalesState {
    pub fn new(http: HttpConfig, pool: Pool, verifier: Verifier) -> Self {
        Self {
            http,
            pool,
            verifier,
        }
    }

    /// The state as deployed: every setting from `vars`, secrets through `secrets`.
    pub async fn from_env(
        vars: &(impl Vars + ?Sized),
        secrets: &Arc<Secrets>,
    ) -> Result<Self, StartupError> {
        let pool = flux_shared::db::app_pool(vars, secrets).await?;
        Ok(Self::new(
            HttpConfig::from_env(vars),
            pool,
            Verifier::from_env(vars, secrets).await?,
        ))
    }
}

pub async fn handle(state: &SalesState, req: Request) -> Response {
    http::serve(
        &state.http,
        req,
        async |routed: Routed<Operation>, req: Request| {
            let caller = state.verifier.authenticate(&req).await?;
            let mut client = state.pool.get().await?;
            let client = &mut client;
            match routed.operation {
                Operation::Summary => summary::get(client, &caller, &req).await,
                Operation::Items => items::items(client, &caller, &req).await,
                Operation::Categories => items::categories(client, &caller, &req).await,
                Operation::Hours => hours::get(client, &caller, &req).await,
                Operation::Payments => payments::get(client, &caller, &req).await,
                Operation::Transactions => transactions::list(client, &caller, &req).await,
                Operation::Transaction => {
                    transactions::one(client, &caller, routed.param("id")?).await
                }
            }
        },
    )
    .await
}

/// A read-only transaction acting for the caller, and their restaurant's
/// timezone, in which every date of the request is meant.
async fn open<'a>(
    client: &'a mut Client,
    caller: &Caller,
) -> Result<(Transaction<'a>, Tz), SalesError> {
    let tx = tenant::begin_for(client, caller).await?;
    let name: String = tx
        .query_one(
            "SELECT timezone FROM restaurants WHERE id = $1",
            &[&caller.restaurant_id],
        )
        .await?
        .get(0);
    let timezone = name
        .parse()
        .map_err(|_| SalesError::UnknownTimezone(name))?;
    Ok((tx, timezone))
}

/// The rows of rollup `table` (its `columns`) that cover a period's
/// windows, parameters $1 (restaurant) and $2..$7 (see
/// [`query::Windows`]): one primary-key range scan per window, whatever the
/// planner would make of one condition with ORs.
fn in_windows(table: &str, columns: &str) -> String {
    let range = |span: &str, from: u8, to: u8| {
        format!(
            "SELECT {columns} FROM {table}
             WHERE restaurant_id = $1 AND span = '{span}' AND start >= ${from} AND start < ${to}"
        )
    };
    format!(
        "({} UNION ALL {} UNION ALL {})",
        range("month", 2, 3),
        range("day", 4, 5),
        range("day", 6, 7)
    )
}

fn ok<T: serde::Serialize>(body: &T) -> Result<Response, SalesError> {
    Ok(http::json_response(lambda_http::http::StatusCode::OK, body))
}
