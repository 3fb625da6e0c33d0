//! `GET /sales/transactions` and `GET /sales/transactions/{id}`: the
//! period's orders, newest first, and one order with its lines. These two
//! read the sales tables themselves.

use chrono::{DateTime, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use flux_shared::http::{Request, Response};
use flux_shared::pages::{Page, PageRequest};
use flux_shared::problem::Problem;
use flux_shared::timestamps;
use flux_shared::tokens::Caller;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio_postgres::{Client, Row};
use uuid::Uuid;

use crate::figures::{money, quantity, unit_price};
use crate::query::Query;
use crate::{ok, open, SalesError};

#[derive(Serialize)]
struct Transaction {
    /// Opaque to clients: the row's key, as a string.
    id: String,
    order_id: String,
    #[serde(with = "timestamps")]
    ordered_at: DateTime<Utc>,
    subtotal: String,
    discount: String,
    tax: String,
    total: String,
    item_count: i32,
    payment_method: String,
    upload_id: Option<Uuid>,
}

impl Transaction {
    fn of(row: &Row) -> Self {
        let money_of = |name: &str| money(row.get::<_, Decimal>(name));
        Self {
            id: row.get::<_, i64>("id").to_string(),
            order_id: row.get("order_id"),
            ordered_at: row.get("ordered_at"),
            subtotal: money_of("subtotal"),
            discount: money_of("discount"),
            tax: money_of("tax"),
            total: money_of("total"),
            item_count: row.get("item_count"),
            payment_method: row.get("payment_method"),
            upload_id: row.get("upload_id"),
        }
    }
}

const COLUMNS: &str = "id, order_id, ordered_at, subtotal, discount, tax, total, item_count,
                       payment_method::text AS payment_method, upload_id";

#[derive(Serialize, Deserialize)]
struct Cursor {
    ordered_at: DateTime<Utc>,
    id: i64,
}

/// The first instant of a local date: midnight, or the first moment after
/// it where a clock change skipped midnight.
fn start_of_day(day: NaiveDate, timezone: Tz) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    (0..=24 * 60)
        .find_map(|minutes| {
            match timezone.from_local_datetime(&(midnight + chrono::TimeDelta::minutes(minutes))) {
                LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                    Some(at.with_timezone(&Utc))
                }
                LocalResult::None => None,
            }
        })
        .unwrap_or_else(|| midnight.and_utc())
}

pub async fn list(
    client: &mut Client,
    caller: &Caller,
    req: &Request,
) -> Result<Response, SalesError> {
    let page: PageRequest<Cursor> = PageRequest::from_query(req)?;
    let mut query = Query::of(req);
    let (tx, timezone) = open(client, caller).await?;
    let period = query.period(timezone);
    query.finish()?;
    let period = period.expect("a valid query has a period");
    let (after_time, after_id) = match &page.after {
        Some(c) => (Some(c.ordered_at), Some(c.id)),
        None => (None, None),
    };
    let rows = tx
        .query(
            &format!(
                "SELECT {COLUMNS} FROM transactions
                 WHERE restaurant_id = $1 AND ordered_at >= $2 AND ordered_at < $3
                   AND ($4::timestamptz IS NULL OR (ordered_at, id) < ($4, $5))
                 ORDER BY ordered_at DESC, id DESC LIMIT $6"
            ),
            &[
                &caller.restaurant_id,
                &start_of_day(period.from, timezone),
                &start_of_day(period.end(), timezone),
                &after_time,
                &after_id,
                &(page.limit + 1),
            ],
        )
        .await?;
    tx.commit().await?;
    let items: Vec<(Transaction, Cursor)> = rows
        .iter()
        .map(|r| {
            (
                Transaction::of(r),
                Cursor {
                    ordered_at: r.get("ordered_at"),
                    id: r.get("id"),
                },
            )
        })
        .collect();
    let page = Page::from_rows(items, page.limit, |(_, cursor)| Cursor { ..*cursor });
    ok(&Page {
        items: page.items.into_iter().map(|(t, _)| t).collect::<Vec<_>>(),
        next_cursor: page.next_cursor,
    })
}

#[derive(Serialize)]
struct Detail {
    #[serde(flatten)]
    transaction: Transaction,
    items: Vec<Line>,
}

#[derive(Serialize)]
struct Line {
    item_name: String,
    category: Option<String>,
    quantity: String,
    unit_price: String,
    discount: String,
    tax: String,
    line_total: String,
}

pub async fn one(client: &mut Client, caller: &Caller, id: i64) -> Result<Response, SalesError> {
    let (tx, _) = open(client, caller).await?;
    let row = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM transactions WHERE id = $1 AND restaurant_id = $2"),
            &[&id, &caller.restaurant_id],
        )
        .await?
        .ok_or_else(Problem::not_found)?;
    let lines = tx
        .query(
            "SELECT item_name, category, quantity, unit_price, discount, tax, line_total
             FROM transaction_items WHERE transaction_id = $1 AND restaurant_id = $2 ORDER BY line_no",
            &[&id, &caller.restaurant_id],
        )
        .await
        ?;
    tx.commit().await?;
    ok(&Detail {
        transaction: Transaction::of(&row),
        items: lines
            .iter()
            .map(|r| Line {
                item_name: r.get("item_name"),
                category: r.get("category"),
                quantity: quantity(r.get("quantity")),
                unit_price: unit_price(r.get("unit_price")),
                discount: money(r.get("discount")),
                tax: money(r.get("tax")),
                line_total: money(r.get("line_total")),
            })
            .collect(),
    })
}
