//! `GET /sales/items` and `GET /sales/categories`: the period's figures per
//! item name and per category, best first, from the month and day rollups.

use chrono::NaiveDate;
use flux_shared::http::{Request, Response};
use flux_shared::tokens::Caller;
use rust_decimal::Decimal;
use serde::Serialize;
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;

use crate::figures::{money, quantity, share, Figures};
use crate::query::{Period, Query};
use crate::summary::totals;
use crate::{in_windows, ok, open, SalesError};

#[derive(Serialize)]
struct ItemsPage<T> {
    from: NaiveDate,
    to: NaiveDate,
    items: Vec<T>,
    totals: Figures,
}

#[derive(Serialize)]
struct Item {
    item_name: String,
    category: Option<String>,
    orders: i64,
    quantity: String,
    gross_sales: String,
    discounts: String,
    net_sales: String,
    share: f64,
}

#[derive(Serialize)]
struct Category {
    category: Option<String>,
    orders: i64,
    items: i64,
    quantity: String,
    gross_sales: String,
    discounts: String,
    net_sales: String,
    share: f64,
}

/// The window parameters ($2..$7) of a period.
fn window_params(period: &Period) -> [NaiveDate; 6] {
    let w = period.windows();
    [
        w.months.0, w.months.1, w.head.0, w.head.1, w.tail.0, w.tail.1,
    ]
}

pub async fn items(
    client: &mut Client,
    caller: &Caller,
    req: &Request,
) -> Result<Response, SalesError> {
    let mut query = Query::of(req);
    let limit = query.limit(20, 200);
    let order_by = query.choice(
        "order_by",
        &["net_sales", "quantity", "orders"],
        "net_sales",
    );
    let (tx, timezone) = open(client, caller).await?;
    let period = query.period(timezone);
    query.finish()?;
    let period = period.expect("a valid query has a period");
    // Ties by name, in code point order whatever the database's collation.
    let rank = match order_by {
        "quantity" => "quantity DESC, item_name COLLATE \"C\"",
        "orders" => "orders DESC, item_name COLLATE \"C\"",
        _ => "gross - discounts DESC, item_name COLLATE \"C\"",
    };
    let sql = format!(
        "WITH sums AS (
             SELECT item_name, sum(orders) AS orders, sum(quantity) AS quantity, sum(gross) AS gross,
                    sum(discounts) AS discounts
             FROM {items} AS w
             GROUP BY item_name
         ), ranked AS (
             SELECT * FROM sums ORDER BY {rank} LIMIT $8
         ), categories AS (
             SELECT DISTINCT ON (item_name) item_name, category
             FROM (SELECT item_name, category, sum(items) AS lines FROM {categories} AS w
                   WHERE item_name IN (SELECT item_name FROM ranked)
                   GROUP BY item_name, category) c
             ORDER BY item_name, lines DESC, category COLLATE \"C\"
         )
         SELECT r.*, c.category FROM ranked r LEFT JOIN categories c USING (item_name) ORDER BY {rank}",
        items = in_windows("sales_items", "item_name, orders, quantity, gross, discounts"),
        categories = in_windows("sales_item_categories", "item_name, category, items"),
    );
    let windows = window_params(&period);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&caller.restaurant_id];
    params.extend(windows.iter().map(|d| d as &(dyn ToSql + Sync)));
    params.push(&limit);
    let rows = tx.query(&sql, &params).await?;
    let totals = totals(&tx, caller, &period).await?;
    tx.commit().await?;
    let items = rows
        .iter()
        .map(|r| {
            let (gross, discounts): (Decimal, Decimal) = (r.get("gross"), r.get("discounts"));
            Item {
                item_name: r.get("item_name"),
                category: r.get("category"),
                orders: r.get::<_, Decimal>("orders").try_into().unwrap_or(i64::MAX),
                quantity: quantity(r.get("quantity")),
                gross_sales: money(gross),
                discounts: money(discounts),
                net_sales: money(gross - discounts),
                share: share(gross - discounts, totals.net()),
            }
        })
        .collect();
    ok(&ItemsPage {
        from: period.from,
        to: period.to,
        items,
        totals: totals.view(),
    })
}

pub async fn categories(
    client: &mut Client,
    caller: &Caller,
    req: &Request,
) -> Result<Response, SalesError> {
    let mut query = Query::of(req);
    let (tx, timezone) = open(client, caller).await?;
    let period = query.period(timezone);
    query.finish()?;
    let period = period.expect("a valid query has a period");
    let sql =
        format!(
        "SELECT category, sum(orders) AS orders, sum(items) AS items, sum(quantity) AS quantity,
                sum(gross) AS gross, sum(discounts) AS discounts
         FROM {} AS w
         GROUP BY category
         -- '' is no category: it comes last among equals.
         ORDER BY sum(gross) - sum(discounts) DESC, category = '', category COLLATE \"C\"",
        in_windows("sales_categories", "category, orders, items, quantity, gross, discounts")
    );
    let windows = window_params(&period);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&caller.restaurant_id];
    params.extend(windows.iter().map(|d| d as &(dyn ToSql + Sync)));
    let rows = tx.query(&sql, &params).await?;
    let totals = totals(&tx, caller, &period).await?;
    tx.commit().await?;
    let categories = rows
        .iter()
        .map(|r| {
            let (gross, discounts): (Decimal, Decimal) = (r.get("gross"), r.get("discounts"));
            let category: String = r.get("category");
            Category {
                category: (!category.is_empty()).then_some(category),
                orders: r.get::<_, Decimal>("orders").try_into().unwrap_or(i64::MAX),
                items: r.get::<_, Decimal>("items").try_into().unwrap_or(i64::MAX),
                quantity: quantity(r.get("quantity")),
                gross_sales: money(gross),
                discounts: money(discounts),
                net_sales: money(gross - discounts),
                share: share(gross - discounts, totals.net()),
            }
        })
        .collect();
    ok(&ItemsPage {
        from: period.from,
        to: period.to,
        items: categories,
        totals: totals.view(),
    })
}
