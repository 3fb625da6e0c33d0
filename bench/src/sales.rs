//! `flux-bench sales`: loads 5 restaurants of 1M item lines each (3 years of
//! history, 150 items in 12 categories, busier evenings and weekends)
//! through the real upload path, then times every analytics endpoint over
//! 30 days, 1 year and 3 years for one restaurant through the local stack's
//! HTTP, next to the same figures computed by a GROUP BY over the raw
//! tables in the same run.

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{Datelike, Days, NaiveDate};
use serde_json::{json, Value};

use crate::ingest::put_file;
use crate::percentile;

const TIMEZONES: [&str; 5] = [
    "Europe/Paris",
    "America/New_York",
    "Asia/Tokyo",
    "Europe/London",
    "America/Los_Angeles",
];
const CATEGORIES: [&str; 12] = [
    "Pizza",
    "Pasta",
    "Starters",
    "Salads",
    "Mains",
    "Grill",
    "Desserts",
    "Coffee",
    "Soft drinks",
    "Wine",
    "Beer",
    "Cocktails",
];
const PAYMENTS: [&str; 8] = [
    "card",
    "card",
    "card",
    "card",
    "cash",
    "mobile",
    "mobile",
    "gift_card",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `lines` item lines over the 3 years ending `last`, as local times.
fn generate(path: &std::path::Path, lines: u64, last: NaiveDate, seed: u64) -> anyhow::Result<()> {
    let mut rng = Rng(seed);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(
        out,
        "order_id,ordered_at,item_name,category,quantity,unit_price,discount,tax,payment_method"
    )?;
    let first = last - Days::new(1095);
    let days = 1096u64;
    // About 3 lines an order; busier on Friday and Saturday.
    let weights: Vec<u64> = (0..days)
        .map(
            |d| match (first + Days::new(d)).weekday().number_from_monday() {
                5 | 6 => 14,
                7 => 11,
                _ => 9,
            },
        )
        .collect();
    let total_weight: u64 = weights.iter().sum();
    let mut written = 0u64;
    let mut order = 0u64;
    for (d, weight) in weights.iter().enumerate() {
        let day = first + Days::new(d as u64);
        let mut left = match d as u64 == days - 1 {
            true => lines - written,
            false => (lines * weight / total_weight).min(lines - written),
        };
        while left > 0 {
            order += 1;
            // Lunch and dinner.
            let hour = if rng.below(3) == 0 {
                11 + rng.below(4)
            } else {
                18 + rng.below(5)
            };
            let minute = rng.below(60);
            let payment = PAYMENTS[rng.below(PAYMENTS.len() as u64) as usize];
            let n = (1 + rng.below(5)).min(left);
            for _ in 0..n {
                let item = rng.below(150);
                let category = CATEGORIES[(item % 12) as usize];
                let price = 250 + (item * 137) % 2500;
                let quantity = 1 + rng.below(3);
                let discount = if rng.below(12) == 0 { 100 } else { 0 };
                writeln!(
                    out,
                    "R-{order:08},{day} {hour:02}:{minute:02},Item {item:03},{category},{quantity},{}.{:02},{}.{:02},{}.{:02},{payment}",
                    price / 100,
                    price % 100,
                    discount / 100,
                    discount % 100,
                    price * quantity / 1200,
                    price * quantity / 12 % 100
                )?;
            }
            left -= n;
            written += n;
        }
    }
    out.flush()?;
    Ok(())
}

async fn timed<F: std::future::Future<Output = anyhow::Result<()>>>(
    runs: usize,
    mut run: impl FnMut() -> F,
) -> anyhow::Result<(Duration, Duration)> {
    for _ in 0..3 {
        run().await?;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        run().await?;
        samples.push(started.elapsed());
    }
    Ok((
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.95),
    ))
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

pub async fn run(lines: u64, runs: usize, raw_runs: usize) -> anyhow::Result<()> {
    let (stack, dir) = crate::start_stack().await?;
    let client = reqwest::Client::new();
    let last = NaiveDate::from_ymd_opt(2026, 10, 31).expect("a date");
    let mut first_token = String::new();
    let mut first_restaurant = uuid::Uuid::nil();
    let loading = Instant::now();
    for (r, timezone) in TIMEZONES.iter().enumerate() {
        let account: Value = client
            .post(format!("{}/auth/register", stack.api_url))
            .json(&json!({"email": format!("sales{r}@bench.example"), "password": "violet-otter-juggles-42-plums",
                          "restaurant_name": format!("Bench {r}"), "timezone": timezone}))
            .send()
            .await?
            .json()
            .await?;
        let token = account["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let file = dir.path().join("sales.csv");
        generate(&file, lines, last, 0x9e37_79b9 + r as u64)?;
        let size = std::fs::metadata(&file)?.len();
        let created: Value = client
            .post(format!("{}/uploads", stack.api_url))
            .bearer_auth(&token)
            .json(&json!({"filename": "history.csv", "size_bytes": size}))
            .send()
            .await?
            .json()
            .await?;
        put_file(&created, &file).await?;
        let id = created["upload"]["id"].as_str().unwrap_or_default();
        loop {
            let upload: Value = client
                .get(format!("{}/uploads/{id}", stack.api_url))
                .bearer_auth(&token)
                .send()
                .await?
                .json()
                .await?;
            match upload["status"].as_str() {
                Some("completed") => break,
                Some("processing") | Some("awaiting_upload") => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                _ => anyhow::bail!("load failed: {upload}"),
            }
        }
        if r == 0 {
            first_token = token;
            first_restaurant = account["restaurant"]["id"]
                .as_str()
                .unwrap_or_default()
                .parse()?;
        }
    }
    eprintln!(
        "loaded {} restaurants of {lines} lines in {:.1?}",
        TIMEZONES.len(),
        loading.elapsed()
    );
    let (superuser, connection) =
        tokio_postgres::connect(&stack.database.human_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    superuser.batch_execute("ANALYZE").await?;

    let ranges = [
        ("30 days", last - Days::new(29)),
        ("1 year", last - Days::new(364)),
        ("3 years", last - Days::new(1095)),
    ];
    let endpoints = [
        ("summary by day", "/sales/summary?granularity=day"),
        ("summary by week", "/sales/summary?granularity=week"),
        ("summary by month", "/sales/summary?granularity=month"),
        ("items", "/sales/items?"),
        ("categories", "/sales/categories?"),
        ("hours", "/sales/hours?"),
        ("payments", "/sales/payments?"),
        ("transactions", "/sales/transactions?"),
    ];
    let timezone = TIMEZONES[0];
    // The same figures from the raw tables, the plain way.
    let local = "(t.ordered_at AT TIME ZONE $2)";
    let raw_sql = |endpoint: &str| -> Option<String> {
        let period = format!("t.restaurant_id = $1 AND {local}::date BETWEEN $3 AND $4");
        Some(match endpoint {
            "summary by day" => format!(
                "SELECT {local}::date, count(*), sum(t.item_count), sum(t.subtotal), sum(t.discount), sum(t.tax)
                 FROM transactions t WHERE {period} GROUP BY 1"
            ),
            "summary by month" => format!(
                "SELECT date_trunc('month', {local}), count(*), sum(t.subtotal), sum(t.discount), sum(t.tax)
                 FROM transactions t WHERE {period} GROUP BY 1"
            ),
            "items" => format!(
                "SELECT i.item_name, count(DISTINCT i.transaction_id), sum(i.quantity), sum(i.line_total), sum(i.discount)
                 FROM transaction_items i JOIN transactions t ON t.id = i.transaction_id WHERE {period}
                 GROUP BY 1 ORDER BY sum(i.line_total) - sum(i.discount) DESC LIMIT 20"
            ),
            "categories" => format!(
                "SELECT i.category, count(DISTINCT i.transaction_id), sum(i.quantity), sum(i.line_total), sum(i.discount)
                 FROM transaction_items i JOIN transactions t ON t.id = i.transaction_id WHERE {period} GROUP BY 1"
            ),
            "hours" => format!(
                "SELECT extract(isodow FROM {local}), extract(hour FROM {local}), count(*), sum(t.subtotal - t.discount)
                 FROM transactions t WHERE {period} GROUP BY 1, 2"
            ),
            "payments" => format!(
                "SELECT t.payment_method, count(*), sum(t.total) FROM transactions t WHERE {period} GROUP BY 1"
            ),
            _ => return None,
        })
    };

    println!(
        "{:<18} {:<8} {:>9} {:>9}   {:>9} {:>9}   (ms; API through the local stack's HTTP, {runs} warm runs; raw GROUP BY, {raw_runs} runs)",
        "endpoint", "range", "API p50", "API p95", "raw p50", "raw p95"
    );
    for (name, path) in endpoints {
        for (range, from) in ranges {
            let url = format!("{}{path}&from={from}&to={last}", stack.api_url);
            let (p50, p95) = timed(runs, || {
                let request = client.get(&url).bearer_auth(&first_token).send();
                async move {
                    let response = request.await?;
                    anyhow::ensure!(response.status().is_success(), "{}", response.status());
                    response.bytes().await?;
                    Ok(())
                }
            })
            .await?;
            let raw = match raw_sql(name) {
                Some(sql) => {
                    let restaurant = first_restaurant;
                    let (p50, p95) = timed(raw_runs, || {
                        let superuser = &superuser;
                        let sql = sql.clone();
                        async move {
                            superuser
                                .query(&sql, &[&restaurant, &timezone, &from, &last])
                                .await?;
                            Ok(())
                        }
                    })
                    .await?;
                    format!("{:>9} {:>9}", ms(p50), ms(p95))
                }
                None => format!("{:>9} {:>9}", "-", "-"),
            };
            println!(
                "{name:<18} {range:<8} {:>9} {:>9}   {raw}",
                ms(p50),
                ms(p95)
            );
        }
    }
    stack.shutdown().await;
    Ok(())
}
