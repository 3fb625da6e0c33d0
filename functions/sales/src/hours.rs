//! `GET /sales/hours`: orders and net sales by local ISO weekday and hour,
//! all 168 cells.

use chrono::NaiveDate;
use flux_shared::http::{Request, Response};
use flux_shared::tokens::Caller;
use rust_decimal::Decimal;
use serde::Serialize;
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use crate::figures::money;
use crate::query::Query;
use crate::{in_windows, ok, open, SalesError};

#[derive(Serialize)]
struct Hours {
    from: NaiveDate,
    to: NaiveDate,
    cells: Vec<Cell>,
}

#[derive(Serialize)]
struct Cell {
    weekday: i16,
    hour: i16,
    orders: i64,
    net_sales: String,
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
    let w = period.windows();
    let windows = [
        w.months.0, w.months.1, w.head.0, w.head.1, w.tail.0, w.tail.1,
    ];
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&caller.restaurant_id];
    params.extend(windows.iter().map(|d| d as &(dyn ToSql + Sync)));
    let rows = tx
        .query(
            &format!(
                "SELECT weekday, hour, sum(orders) AS orders, sum(net_sales) AS net_sales
                 FROM {} AS w GROUP BY weekday, hour",
                in_windows("sales_hours", "weekday, hour, orders, net_sales")
            ),
            &params,
        )
        .await?;
    tx.commit().await?;
    let mut cells: Vec<Cell> = (1..=7)
        .flat_map(|weekday| {
            (0..24).map(move |hour| Cell {
                weekday,
                hour,
                orders: 0,
                net_sales: money(Decimal::ZERO),
            })
        })
        .collect();
    for row in rows {
        let (weekday, hour): (i16, i16) = (row.get("weekday"), row.get("hour"));
        let cell = &mut cells[((weekday - 1) * 24 + hour) as usize];
        cell.orders = row
            .get::<_, Decimal>("orders")
            .try_into()
            .unwrap_or(i64::MAX);
        cell.net_sales = money(row.get("net_sales"));
    }
    ok(&Hours {
        from: period.from,
        to: period.to,
        cells,
    })
}
