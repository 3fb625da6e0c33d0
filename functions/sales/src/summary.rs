//! `GET /sales/summary`: totals, and day, week or month buckets with the
//! gaps filled (charts need them); the first and last buckets count only
//! the days inside the period.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate};
use flux_shared::http::{Request, Response};
use flux_shared::tokens::Caller;
use serde::Serialize;
use tokio_postgres::{Client, Transaction};

use crate::figures::{Figures, Sums};
use crate::query::{first_of_month, next_month, Period, Query};
use crate::{ok, open, SalesError};

#[derive(Serialize)]
struct Summary {
    from: NaiveDate,
    to: NaiveDate,
    granularity: &'static str,
    timezone: &'static str,
    totals: Figures,
    buckets: Vec<Bucket>,
}

#[derive(Serialize)]
struct Bucket {
    start: NaiveDate,
    #[serde(flatten)]
    figures: Figures,
}

pub async fn get(
    client: &mut Client,
    caller: &Caller,
    req: &Request,
) -> Result<Response, SalesError> {
    let mut query = Query::of(req);
    let granularity = query.choice("granularity", &["day", "week", "month"], "day");
    let (tx, timezone) = open(client, caller).await?;
    let period = query.period(timezone);
    query.finish()?;
    let period = period.expect("a valid query has a period");
    let days = day_sums(&tx, caller, &period).await?;
    tx.commit().await?;

    let mut totals = Sums::default();
    let mut buckets: BTreeMap<NaiveDate, Sums> = BTreeMap::new();
    let mut start = bucket_start(period.from, granularity);
    while start <= period.to {
        buckets.insert(start, Sums::default());
        start = next_bucket(start, granularity);
    }
    for (day, sums) in &days {
        totals.add(sums);
        if let Some(bucket) = buckets.get_mut(&bucket_start(*day, granularity)) {
            bucket.add(sums);
        }
    }
    ok(&Summary {
        from: period.from,
        to: period.to,
        granularity,
        timezone: timezone.name(),
        totals: totals.view(),
        buckets: buckets
            .into_iter()
            .map(|(start, sums)| Bucket {
                start,
                figures: sums.view(),
            })
            .collect(),
    })
}

/// Each day of the period with sales, and its sums.
pub async fn day_sums(
    tx: &Transaction<'_>,
    caller: &Caller,
    period: &Period,
) -> Result<Vec<(NaiveDate, Sums)>, SalesError> {
    let rows = tx
        .query(
            "SELECT day, orders, items, quantity, gross, discounts, tax FROM sales_days
             WHERE restaurant_id = $1 AND day >= $2 AND day <= $3",
            &[&caller.restaurant_id, &period.from, &period.to],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get("day"),
                Sums {
                    orders: r.get("orders"),
                    items: r.get("items"),
                    quantity: r.get("quantity"),
                    gross: r.get("gross"),
                    discounts: r.get("discounts"),
                    tax: r.get("tax"),
                },
            )
        })
        .collect())
}

/// The period's totals, for shares.
pub async fn totals(
    tx: &Transaction<'_>,
    caller: &Caller,
    period: &Period,
) -> Result<Sums, SalesError> {
    let mut totals = Sums::default();
    for (_, sums) in day_sums(tx, caller, period).await? {
        totals.add(&sums);
    }
    Ok(totals)
}

/// The day a bucket starts: the day itself, its week's Monday, or its
/// month's first day.
fn bucket_start(day: NaiveDate, granularity: &str) -> NaiveDate {
    match granularity {
        "week" => day - Days::new(u64::from(day.weekday().num_days_from_monday())),
        "month" => first_of_month(day),
        _ => day,
    }
}

fn next_bucket(start: NaiveDate, granularity: &str) -> NaiveDate {
    match granularity {
        "week" => start + Days::new(7),
        "month" => next_month(start),
        _ => start + Days::new(1),
    }
}
