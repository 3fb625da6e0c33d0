//! `GET /sales/payments`: orders and totals per payment method, all five,
//! in the contract's order.

use chrono::NaiveDate;
use flux_shared::http::{Request, Response};
use flux_shared::tokens::Caller;
use rust_decimal::Decimal;
use serde::Serialize;
use tokio_postgres::Client;

use crate::figures::{money, share};
use crate::query::Query;
use crate::{ok, open, SalesError};

const METHODS: [&str; 5] = ["card", "cash", "mobile", "gift_card", "other"];

#[derive(Serialize)]
struct Payments {
    from: NaiveDate,
    to: NaiveDate,
    items: Vec<Method>,
}

#[derive(Serialize)]
struct Method {
    payment_method: &'static str,
    orders: i64,
    total: String,
    share: f64,
}

pub async fn get(
    client: &mut Client,
    caller: &Caller,
    req: &Request,
) -> Result<Response, SalesError> {
    let mut query = Query::of(req);
    let (tx, timezone) = open(client, caller).await?;
    let period = query.period(timezone);
    query.finish()?;
    let period = period.expect("a valid query has a period");
    let rows = tx
        .query(
            "SELECT payment_method::text AS method, sum(orders) AS orders, sum(total) AS total
             FROM sales_payments WHERE restaurant_id = $1 AND day >= $2 AND day <= $3
             GROUP BY payment_method",
            &[&caller.restaurant_id, &period.from, &period.to],
        )
        .await?;
    tx.commit().await?;
    let mut figures = [(0i64, Decimal::ZERO); 5];
    for row in rows {
        let method: &str = row.get("method");
        if let Some(i) = METHODS.iter().position(|m| *m == method) {
            let orders: Decimal = row.get("orders");
            figures[i] = (orders.try_into().unwrap_or(i64::MAX), row.get("total"));
        }
    }
    let period_total: Decimal = figures.iter().map(|(_, total)| *total).sum();
    ok(&Payments {
        from: period.from,
        to: period.to,
        items: METHODS
            .iter()
            .zip(figures)
            .map(|(method, (orders, total))| Method {
                payment_method: method,
                orders,
                total: money(total),
                share: share(total, period_total),
            })
            .collect(),
    })
}
