//! Every analytics answer against a straightforward SQL over the raw
//! `transactions` and `transaction_items`, for random uploads (several
//! timezones, DST edges, duplicates, spread orders, deletes, concurrent
//! uploads) and random periods. The rollups are an optimisation: any
//! difference from the raw rows is a bug.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{Days, NaiveDate};
use flux_tests::{spawn_stack, Api, TestDb, STRONG_PASSWORD};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};

/// A deterministic generator (xorshift), so a failing case reproduces.
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

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const TIMEZONES: &[&str] = &[
    "Europe/Paris",
    "America/New_York",
    "UTC",
    "Asia/Kolkata",
    "Pacific/Auckland",
];

/// Days around the 2026 clock changes: US (8 March, 1 November), Europe
/// (29 March, 25 October), New Zealand (5 April, 27 September).
const DAYS: &[&str] = &[
    "2026-03-07",
    "2026-03-08",
    "2026-03-09",
    "2026-03-28",
    "2026-03-29",
    "2026-03-30",
    "2026-04-04",
    "2026-04-05",
    "2026-04-06",
    "2026-09-26",
    "2026-09-27",
    "2026-10-24",
    "2026-10-25",
    "2026-10-26",
    "2026-10-31",
    "2026-11-01",
    "2026-11-02",
    "2025-12-31",
    "2026-01-01",
];

/// (name, usual category, its other one: the most frequent must win)
const MENU: &[(&str, &str, &str)] = &[
    ("Margherita", "Pizza", "Mains"),
    ("Tiramisu", "Dessert", ""),
    ("Soup, of the day", "Starters", "Soups"),
    ("Espresso", "Drinks", "Coffee"),
    ("Lasagne", "Mains", ""),
    ("Café crème", "Drinks", "Drinks"),
];

const PAYMENTS: &[&str] = &["card", "cash", "mobile", "gift_card", "other", "", "Card"];

fn cents(value: u64) -> String {
    format!("{}.{:02}", value / 100, value % 100)
}

/// A file of `orders` orders drawn from a pool of ids shared by all the
/// restaurant's uploads (so later uploads repeat earlier orders).
fn file(rng: &mut Rng, orders: usize) -> String {
    let mut csv = String::from(
        "order_id,ordered_at,item_name,category,quantity,unit_price,discount,tax,payment_method\n",
    );
    for _ in 0..orders {
        let order = format!("O-{}", rng.below(150));
        let day = rng.pick(DAYS);
        let (hour, minute) = (rng.below(24), rng.below(60));
        // Local times mostly; some with an explicit offset.
        let ordered_at = match rng.below(4) {
            0 => format!("{day}T{hour:02}:{minute:02}:00Z"),
            _ => format!("{day} {hour:02}:{minute:02}"),
        };
        let payment = rng.pick(PAYMENTS);
        for _ in 0..1 + rng.below(3) {
            let (name, usual, other) = rng.pick(MENU);
            let category = if rng.below(5) == 0 { other } else { usual };
            let quantity = match rng.below(4) {
                0 => "0.5".to_string(),
                1 => "1.25".to_string(),
                n => n.to_string(),
            };
            let price = 50 + rng.below(3000);
            let discount = if rng.below(4) == 0 {
                cents(rng.below(200))
            } else {
                String::new()
            };
            let tax = cents(rng.below(300));
            csv.push_str(&format!(
                "{order},{ordered_at},\"{name}\",{category},{quantity},{},{discount},{tax},{payment}\n",
                cents(price)
            ));
        }
    }
    csv
}

/// A file whose first order comes back after 2,100 other lines: it lands
/// through the staged path (and its SQL rollups).
fn spread_file(rng: &mut Rng) -> String {
    let mut csv = file(rng, 1);
    let first = csv.lines().nth(1).unwrap().to_string();
    csv.push_str(&file(rng, 1100)["order_id,ordered_at,item_name,category,quantity,unit_price,discount,tax,payment_method\n".len()..]);
    csv.push_str(
        &first
            .replace("\"Margherita\"", "\"Lasagne\"")
            .replace("\"Tiramisu\"", "\"Lasagne\""),
    );
    csv.push('\n');
    csv
}

fn money(value: Decimal) -> String {
    let mut rounded = value.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
    rounded.rescale(2);
    rounded.to_string()
}

fn share(part: Decimal, whole: Decimal) -> Value {
    if whole.is_zero() {
        return json!(0.0);
    }
    let ratio = (part / whole).round_dp_with_strategy(4, RoundingStrategy::MidpointNearestEven);
    json!(f64::from_str(&ratio.to_string()).unwrap())
}

/// The API's figures from raw sums.
fn figures(
    orders: i64,
    items: i64,
    quantity: Decimal,
    gross: Decimal,
    discounts: Decimal,
    tax: Decimal,
) -> Value {
    let net = gross - discounts;
    let average = if orders == 0 {
        Decimal::ZERO
    } else {
        net / Decimal::from(orders)
    };
    json!({"orders": orders, "items": items, "quantity": quantity.normalize().to_string(),
           "gross_sales": money(gross), "discounts": money(discounts), "net_sales": money(net),
           "tax": money(tax), "total": money(net + tax), "average_order": money(average)})
}

/// The raw rows of one restaurant in one period, read directly.
struct Raw<'a> {
    client: &'a tokio_postgres::Client,
    restaurant: uuid::Uuid,
    timezone: &'a str,
    from: NaiveDate,
    to: NaiveDate,
}

const LOCAL: &str = "(t.ordered_at AT TIME ZONE $2)";
const IN_PERIOD: &str =
    "t.restaurant_id = $1 AND (t.ordered_at AT TIME ZONE $2)::date BETWEEN $3 AND $4";

impl Raw<'_> {
    async fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        self.client
            .query(
                sql,
                &[&self.restaurant, &self.timezone, &self.from, &self.to],
            )
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Totals and buckets, the gaps filled.
    async fn summary(&self, granularity: &str) -> Value {
        let bucket = match granularity {
            "week" => format!("date_trunc('week', {LOCAL})::date"),
            "month" => format!("date_trunc('month', {LOCAL})::date"),
            _ => format!("{LOCAL}::date"),
        };
        let rows = self
            .query(&format!(
                "SELECT {bucket} AS bucket, count(*) AS orders, sum(t.item_count)::bigint AS items,
                        sum((SELECT sum(quantity) FROM transaction_items i WHERE i.transaction_id = t.id)) AS quantity,
                        sum(t.subtotal) AS gross, sum(t.discount) AS discounts, sum(t.tax) AS tax
                 FROM transactions t WHERE {IN_PERIOD} GROUP BY 1"
            ))
            .await;
        let mut buckets: BTreeMap<NaiveDate, Value> = BTreeMap::new();
        let mut start = match granularity {
            "week" => {
                self.from
                    - Days::new(u64::from(
                        chrono::Datelike::weekday(&self.from).num_days_from_monday(),
                    ))
            }
            "month" => chrono::Datelike::with_day(&self.from, 1).unwrap(),
            _ => self.from,
        };
        while start <= self.to {
            buckets.insert(
                start,
                figures(
                    0,
                    0,
                    Decimal::ZERO,
                    Decimal::ZERO,
                    Decimal::ZERO,
                    Decimal::ZERO,
                ),
            );
            start = match granularity {
                "week" => start + Days::new(7),
                "month" => start.checked_add_months(chrono::Months::new(1)).unwrap(),
                _ => start + Days::new(1),
            };
        }
        let mut totals = (
            0i64,
            0i64,
            Decimal::ZERO,
            Decimal::ZERO,
            Decimal::ZERO,
            Decimal::ZERO,
        );
        for r in rows {
            let row = (
                r.get::<_, i64>("orders"),
                r.get::<_, i64>("items"),
                r.get::<_, Decimal>("quantity"),
                r.get::<_, Decimal>("gross"),
                r.get::<_, Decimal>("discounts"),
                r.get::<_, Decimal>("tax"),
            );
            totals = (
                totals.0 + row.0,
                totals.1 + row.1,
                totals.2 + row.2,
                totals.3 + row.3,
                totals.4 + row.4,
                totals.5 + row.5,
            );
            buckets.insert(
                r.get("bucket"),
                figures(row.0, row.1, row.2, row.3, row.4, row.5),
            );
        }
        let period_net = totals.3 - totals.4;
        json!({
            "totals": figures(totals.0, totals.1, totals.2, totals.3, totals.4, totals.5),
            "net": period_net.to_string(),
            "buckets": buckets.into_iter().map(|(start, mut f)| { f["start"] = json!(start.to_string()); f }).collect::<Vec<_>>()
        })
    }

    async fn items(&self, net: Decimal, order_by: &str) -> Vec<Value> {
        let rows = self
            .query(&format!(
                "SELECT i.item_name, count(DISTINCT i.transaction_id) AS orders, sum(i.quantity) AS quantity,
                        sum(i.line_total) AS gross, sum(i.discount) AS discounts,
                        (SELECT c.category FROM transaction_items c JOIN transactions t ON t.id = c.transaction_id
                         WHERE {IN_PERIOD} AND c.item_name = i.item_name AND c.category IS NOT NULL
                         GROUP BY c.category ORDER BY count(*) DESC, c.category COLLATE \"C\" LIMIT 1) AS category
                 FROM transaction_items i JOIN transactions t ON t.id = i.transaction_id
                 WHERE {IN_PERIOD} GROUP BY i.item_name"
            ))
            .await;
        let mut items: Vec<(Decimal, String, Value)> = rows
            .iter()
            .map(|r| {
                let (gross, discounts): (Decimal, Decimal) = (r.get("gross"), r.get("discounts"));
                let orders: i64 = r.get("orders");
                let quantity: Decimal = r.get("quantity");
                let rank = match order_by {
                    "quantity" => quantity,
                    "orders" => Decimal::from(orders),
                    _ => gross - discounts,
                };
                let name: String = r.get("item_name");
                (rank, name.clone(), json!({"item_name": name, "category": r.get::<_, Option<String>>("category"),
                    "orders": orders, "quantity": quantity.normalize().to_string(), "gross_sales": money(gross),
                    "discounts": money(discounts), "net_sales": money(gross - discounts), "share": share(gross - discounts, net)}))
            })
            .collect();
        items.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()))
        });
        items.into_iter().map(|(_, _, v)| v).collect()
    }

    async fn categories(&self, net: Decimal) -> Vec<Value> {
        let rows = self
            .query(&format!(
                "SELECT i.category, count(DISTINCT i.transaction_id) AS orders, count(*) AS items,
                        sum(i.quantity) AS quantity, sum(i.line_total) AS gross, sum(i.discount) AS discounts
                 FROM transaction_items i JOIN transactions t ON t.id = i.transaction_id
                 WHERE {IN_PERIOD} GROUP BY i.category"
            ))
            .await;
        let mut categories: Vec<(Decimal, Option<String>, Value)> = rows
            .iter()
            .map(|r| {
                let (gross, discounts): (Decimal, Decimal) = (r.get("gross"), r.get("discounts"));
                let category: Option<String> = r.get("category");
                (gross - discounts, category.clone(), json!({"category": category, "orders": r.get::<_, i64>("orders"),
                    "items": r.get::<_, i64>("items"), "quantity": r.get::<_, Decimal>("quantity").normalize().to_string(),
                    "gross_sales": money(gross), "discounts": money(discounts), "net_sales": money(gross - discounts),
                    "share": share(gross - discounts, net)}))
            })
            .collect();
        // Best first; among equals, named ones by name, then none.
        categories.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then_with(|| a.1.is_none().cmp(&b.1.is_none()))
                .then_with(|| {
                    a.1.as_deref()
                        .unwrap_or("")
                        .as_bytes()
                        .cmp(b.1.as_deref().unwrap_or("").as_bytes())
                })
        });
        categories.into_iter().map(|(_, _, v)| v).collect()
    }

    async fn hours(&self) -> Vec<Value> {
        let rows = self
            .query(&format!(
                "SELECT extract(isodow FROM {LOCAL})::int AS weekday, extract(hour FROM {LOCAL})::int AS hour,
                        count(*) AS orders, sum(t.subtotal - t.discount) AS net
                 FROM transactions t WHERE {IN_PERIOD} GROUP BY 1, 2"
            ))
            .await;
        let mut cells: Vec<Value> = (1..=7)
            .flat_map(|w| {
                (0..24).map(
                    move |h| json!({"weekday": w, "hour": h, "orders": 0, "net_sales": "0.00"}),
                )
            })
            .collect();
        for r in rows {
            let (w, h): (i32, i32) = (r.get("weekday"), r.get("hour"));
            cells[((w - 1) * 24 + h) as usize] = json!({"weekday": w, "hour": h, "orders": r.get::<_, i64>("orders"),
                "net_sales": money(r.get("net"))});
        }
        cells
    }

    async fn payments(&self) -> Vec<Value> {
        let rows = self
            .query(&format!(
                "SELECT t.payment_method::text AS method, count(*) AS orders, sum(t.total) AS total
                 FROM transactions t WHERE {IN_PERIOD} GROUP BY 1"
            ))
            .await;
        let found: BTreeMap<String, (i64, Decimal)> = rows
            .iter()
            .map(|r| (r.get("method"), (r.get("orders"), r.get("total"))))
            .collect();
        let all: Decimal = found.values().map(|(_, t)| *t).sum();
        ["card", "cash", "mobile", "gift_card", "other"]
            .iter()
            .map(|m| {
                let (orders, total) = found.get(*m).copied().unwrap_or((0, Decimal::ZERO));
                json!({"payment_method": m, "orders": orders, "total": money(total), "share": share(total, all)})
            })
            .collect()
    }

    async fn transaction_ids(&self) -> Vec<String> {
        self.query(&format!(
            "SELECT t.id FROM transactions t WHERE {IN_PERIOD} ORDER BY t.ordered_at DESC, t.id DESC"
        ))
        .await
        .iter()
        .map(|r| r.get::<_, i64>(0).to_string())
        .collect()
    }
}

async fn get(api: &Api, token: &str, path: &str) -> Value {
    let reply = api.get(path, Some(token)).await;
    assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
    reply.body
}

/// Every endpoint for one restaurant and one period, against the raw rows.
async fn check(api: &Api, token: &str, raw: &Raw<'_>, case: &str) {
    let period = format!("from={}&to={}", raw.from, raw.to);
    let mut net = Decimal::ZERO;
    for granularity in ["day", "week", "month"] {
        let expected = raw.summary(granularity).await;
        let got = get(
            api,
            token,
            &format!("/sales/summary?{period}&granularity={granularity}"),
        )
        .await;
        assert_eq!(
            got["totals"], expected["totals"],
            "{case} summary totals {period}"
        );
        assert_eq!(
            got["buckets"], expected["buckets"],
            "{case} summary {granularity} {period}"
        );
        net = Decimal::from_str(expected["net"].as_str().unwrap()).unwrap();
    }
    for order_by in ["net_sales", "quantity", "orders"] {
        let got = get(
            api,
            token,
            &format!("/sales/items?{period}&order_by={order_by}&limit=200"),
        )
        .await;
        assert_eq!(
            got["items"],
            json!(raw.items(net, order_by).await),
            "{case} items by {order_by} {period}"
        );
    }
    let got = get(api, token, &format!("/sales/categories?{period}")).await;
    assert_eq!(
        got["items"],
        json!(raw.categories(net).await),
        "{case} categories {period}"
    );
    let got = get(api, token, &format!("/sales/hours?{period}")).await;
    assert_eq!(
        got["cells"],
        json!(raw.hours().await),
        "{case} hours {period}"
    );
    let got = get(api, token, &format!("/sales/payments?{period}")).await;
    assert_eq!(
        got["items"],
        json!(raw.payments().await),
        "{case} payments {period}"
    );
    let mut ids = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get(
            api,
            token,
            &format!("/sales/transactions?{period}&limit=37{cursor}"),
        )
        .await;
        ids.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(
        ids,
        raw.transaction_ids().await,
        "{case} transactions {period}"
    );
}

#[tokio::test]
async fn analytics_agree_with_the_raw_rows_for_random_uploads_and_periods() {
    for seed in [0x5eed_0001_u64, 0x5eed_0002, 0x5eed_0003] {
        let mut rng = Rng(seed);
        let db = TestDb::new().await;
        let stack = spawn_stack(&db, None).await;
        let api = Api::new(&stack);
        let superuser = db.superuser().await;
        for r in 0..2 {
            let timezone = *rng.pick(TIMEZONES);
            let account = api
                .post(
                    "/auth/register",
                    &json!({"email": format!("r{r}-{seed}@property.example"), "password": STRONG_PASSWORD,
                            "restaurant_name": format!("Property {r}"), "timezone": timezone}),
                )
                .await
                .body;
            let token = account["access_token"].as_str().unwrap().to_string();
            let restaurant: uuid::Uuid = account["restaurant"]["id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            let mut uploads = Vec::new();
            for _ in 0..2 {
                let orders = 20 + rng.below(40) as usize;
                let (id, upload) = api
                    .ingest(&token, "a.csv", file(&mut rng, orders).as_bytes())
                    .await;
                assert_ne!(upload["status"], "failed", "{upload}");
                uploads.push(id);
            }
            // Two at once: their shared orders land once, in one of them.
            let (a, b) = (file(&mut rng, 40), file(&mut rng, 40));
            let (x, y) = tokio::join!(
                api.ingest(&token, "b.csv", a.as_bytes()),
                api.ingest(&token, "c.csv", b.as_bytes())
            );
            uploads.extend([x.0, y.0]);
            if r == 0 {
                let (id, upload) = api
                    .ingest(&token, "spread.csv", spread_file(&mut rng).as_bytes())
                    .await;
                assert_ne!(upload["status"], "failed", "{upload}");
                uploads.push(id);
            }
            // Undo one of them.
            let victim = uploads.remove(rng.below(uploads.len() as u64) as usize);
            let reply = api
                .send(
                    api.raw()
                        .delete(format!("{}/uploads/{victim}", api.base))
                        .bearer_auth(&token),
                )
                .await;
            assert_eq!(reply.status, 204, "{:?}", reply.body);
            // And one more after the delete, repeating some of its orders.
            api.ingest(&token, "d.csv", file(&mut rng, 30).as_bytes())
                .await;

            for _ in 0..4 {
                let from = rng.pick(DAYS).parse::<NaiveDate>().unwrap() - Days::new(rng.below(10));
                let to = from + Days::new(rng.below(75));
                let raw = Raw {
                    client: &superuser,
                    restaurant,
                    timezone,
                    from,
                    to,
                };
                check(&api, &token, &raw, &format!("seed {seed:x}, {timezone}")).await;
            }
            // A long period: whole months from month rows, edges from days.
            let raw = Raw {
                client: &superuser,
                restaurant,
                timezone,
                from: NaiveDate::from_ymd_opt(2025, 11, 17).unwrap(),
                to: NaiveDate::from_ymd_opt(2026, 11, 13).unwrap(),
            };
            check(
                &api,
                &token,
                &raw,
                &format!("seed {seed:x}, {timezone}, a year"),
            )
            .await;
        }
    }
}
