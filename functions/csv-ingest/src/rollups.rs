//! An upload's share of the analytics rollups (DESIGN.md), added up in
//! memory as its orders go into the database, and written in the upload's
//! own transaction: so an upload counts in every figure at once when it
//! commits, never twice, never half. The figures are the ones
//! `sales_rollups_add` computes in SQL (migration V4) from stored rows for
//! the staged path. Each flush is also kept as a part of the upload's share
//! (`sales_rollup_shares`), which DELETE /uploads/{id} takes away.
//!
//! Amounts are summed as integer cents (quantities as thousandths): exact,
//! and small. The maps are written out and cleared whenever they grow past
//! [`FLUSH_AT`] entries, so memory stays bounded however many distinct days
//! or item names a file holds (rollup upserts add up).

use flux_shared::ids::{RestaurantId, UploadId};
use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, Timelike};
use chrono_tz::Tz;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use tokio_postgres::Transaction;

use crate::orders::Stretch;

/// Map entries (and interned names) held before they are written out.
pub const FLUSH_AT: usize = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Span {
    Day,
    Month,
}

impl Span {
    fn as_str(self) -> &'static str {
        match self {
            Span::Day => "day",
            Span::Month => "month",
        }
    }
}

/// Sums over orders (and their lines).
#[derive(Clone, Copy, Debug, Default)]
struct Figures {
    orders: i64,
    items: i64,
    quantity_milli: i64,
    gross_cents: i64,
    discount_cents: i64,
    /// Tax (days), total (payments) or net sales (hours), in cents.
    other_cents: i64,
}

/// Rollup figures not yet written, keyed as the rollup tables are. Item
/// names and categories are interned: keys hold their index.
#[derive(Debug)]
pub struct Rollups {
    timezone: Tz,
    names: HashMap<String, u32>,
    name_list: Vec<String>,
    days: HashMap<NaiveDate, Figures>,
    payments: HashMap<(NaiveDate, &'static str), Figures>,
    hours: HashMap<(Span, NaiveDate, i16, i16), Figures>,
    items: HashMap<(Span, NaiveDate, u32), Figures>,
    item_categories: HashMap<(Span, NaiveDate, u32, u32), i64>,
    /// Category name index; `u32::MAX` for lines without one.
    categories: HashMap<(Span, NaiveDate, u32), Figures>,
    /// Parts of the upload's share written so far.
    parts: i32,
}

const NO_CATEGORY: u32 = u32::MAX;

fn cents(value: Decimal) -> i64 {
    (value * Decimal::ONE_HUNDRED).to_i64().unwrap_or(i64::MAX)
}

fn milli(value: Decimal) -> i64 {
    (value * Decimal::ONE_THOUSAND).to_i64().unwrap_or(i64::MAX)
}

impl Rollups {
    pub fn new(timezone: Tz) -> Self {
        Self {
            timezone,
            names: HashMap::new(),
            name_list: Vec::new(),
            days: HashMap::new(),
            payments: HashMap::new(),
            hours: HashMap::new(),
            items: HashMap::new(),
            item_categories: HashMap::new(),
            categories: HashMap::new(),
            parts: 0,
        }
    }

    /// Entries held, names included.
    pub fn len(&self) -> usize {
        self.name_list.len()
            + self.days.len()
            + self.payments.len()
            + self.hours.len()
            + self.items.len()
            + self.item_categories.len()
            + self.categories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&index) = self.names.get(name) {
            return index;
        }
        let index = self.name_list.len() as u32;
        self.names.insert(name.to_string(), index);
        self.name_list.push(name.to_string());
        index
    }

    /// Adds the stretch's orders that were inserted: all but those at the
    /// positions in `skipped` (orders the restaurant already had).
    pub fn add(&mut self, stretch: &Stretch, skipped: &[i32]) {
        let o = &stretch.orders;
        let Some(&first_id) = o.id.first() else {
            return;
        };
        let mut inserted = vec![true; o.id.len()];
        for &position in skipped {
            if let Some(slot) = inserted.get_mut(position as usize) {
                *slot = false;
            }
        }
        // Each order's lines, wherever they are in the stretch.
        let mut lines_of: Vec<Vec<usize>> = vec![Vec::new(); o.id.len()];
        for (line, id) in stretch.items.transaction_id.iter().enumerate() {
            lines_of[(id - first_id) as usize].push(line);
        }
        let i = &stretch.items;
        for (order, lines) in lines_of.iter().enumerate() {
            if !inserted[order] {
                continue;
            }
            let local = o.ordered_at[order].with_timezone(&self.timezone);
            let day = local.date_naive();
            let month = day.with_day(1).expect("every month has a first day");
            let weekday = day.weekday().number_from_monday() as i16;
            let hour = local.hour() as i16;
            let (subtotal, discount) = (cents(o.subtotal[order]), cents(o.discount[order]));
            let quantity: i64 = lines.iter().map(|&l| milli(i.quantity[l])).sum();

            let figures = self.days.entry(day).or_default();
            figures.orders += 1;
            figures.items += lines.len() as i64;
            figures.quantity_milli += quantity;
            figures.gross_cents += subtotal;
            figures.discount_cents += discount;
            figures.other_cents += cents(o.tax[order]);
            let total = cents(o.subtotal[order] - o.discount[order] + o.tax[order]);
            let figures = self
                .payments
                .entry((day, o.payment_method[order]))
                .or_default();
            figures.orders += 1;
            figures.other_cents += total;

            let mut seen_items: Vec<u32> = Vec::with_capacity(lines.len());
            let mut seen_categories: Vec<u32> = Vec::with_capacity(lines.len());
            for span in [(Span::Day, day), (Span::Month, month)] {
                let figures = self
                    .hours
                    .entry((span.0, span.1, weekday, hour))
                    .or_default();
                figures.orders += 1;
                figures.other_cents += subtotal - discount;
                seen_items.clear();
                seen_categories.clear();
                for &l in lines {
                    let item = self.intern(&i.item_name[l]);
                    let category = match &i.category[l] {
                        Some(category) => self.intern(category),
                        None => NO_CATEGORY,
                    };
                    let line = Figures {
                        orders: 0,
                        items: 1,
                        quantity_milli: milli(i.quantity[l]),
                        gross_cents: cents(i.line_total[l]),
                        discount_cents: cents(i.discount[l]),
                        other_cents: 0,
                    };
                    let new_item = !seen_items.contains(&item);
                    if new_item {
                        seen_items.push(item);
                    }
                    let new_category = !seen_categories.contains(&category);
                    if new_category {
                        seen_categories.push(category);
                    }
                    add_line(
                        self.items.entry((span.0, span.1, item)).or_default(),
                        &line,
                        new_item,
                    );
                    add_line(
                        self.categories
                            .entry((span.0, span.1, category))
                            .or_default(),
                        &line,
                        new_category,
                    );
                    if category != NO_CATEGORY {
                        *self
                            .item_categories
                            .entry((span.0, span.1, item, category))
                            .or_default() += 1;
                    }
                }
            }
        }
    }

    /// Writes the figures held (added to what the rollups hold, and kept as
    /// a part of the upload's share, which DELETE takes away) and clears them.
    pub async fn flush(
        &mut self,
        tx: &Transaction<'_>,
        restaurant: RestaurantId,
        upload: UploadId,
    ) -> Result<(), tokio_postgres::Error> {
        if self.is_empty() {
            return Ok(());
        }
        self.parts += 1;
        let share = Share {
            tx,
            restaurant,
            upload,
            part: self.parts,
        };
        let names = std::mem::take(&mut self.name_list);
        self.names.clear();
        let name = |index: u32| -> String {
            match index {
                NO_CATEGORY => String::new(),
                index => names[index as usize].clone(),
            }
        };

        // Written in key order, as every writer of the rollups does, so
        // that two transactions updating the same rows never deadlock.
        let days = sorted(std::mem::take(&mut self.days));
        share
            .write(
                "days",
                "unnest($4::date[], $5::bigint[], $6::bigint[], $7::numeric[], $8::numeric[], $9::numeric[],
                        $10::numeric[]) AS d(day, orders, items, quantity, gross, discounts, tax)",
                "INSERT INTO sales_days AS r (restaurant_id, day, orders, items, quantity, gross, discounts, tax)
                 SELECT $1, d.* FROM d ORDER BY d.day
                 ON CONFLICT (restaurant_id, day) DO UPDATE SET
                     orders = r.orders + excluded.orders, items = r.items + excluded.items,
                     quantity = r.quantity + excluded.quantity, gross = r.gross + excluded.gross,
                     discounts = r.discounts + excluded.discounts, tax = r.tax + excluded.tax",
                &[
                    &days.iter().map(|(d, _)| *d).collect::<Vec<_>>(),
                    &column(&days, |v| v.orders),
                    &column(&days, |v| v.items),
                    &quantities(&days),
                    &money_column(&days, |v| v.gross_cents),
                    &money_column(&days, |v| v.discount_cents),
                    &money_column(&days, |v| v.other_cents),
                ],
            )
            .await?;

        let payments = sorted(std::mem::take(&mut self.payments));
        share
            .write(
                "payments",
                "unnest($4::date[], $5::text[], $6::bigint[], $7::numeric[]) AS d(day, payment_method, orders, total)",
                "INSERT INTO sales_payments AS r (restaurant_id, day, payment_method, orders, total)
                 SELECT $1, d.day, d.payment_method::payment_method, d.orders, d.total FROM d
                 ORDER BY d.day, d.payment_method::payment_method
                 ON CONFLICT (restaurant_id, day, payment_method) DO UPDATE SET
                     orders = r.orders + excluded.orders, total = r.total + excluded.total",
                &[
                    &payments.iter().map(|((d, _), _)| *d).collect::<Vec<_>>(),
                    &payments.iter().map(|((_, m), _)| *m).collect::<Vec<_>>(),
                    &column(&payments, |v| v.orders),
                    &money_column(&payments, |v| v.other_cents),
                ],
            )
            .await?;

        let hours = sorted(std::mem::take(&mut self.hours));
        share
            .write(
                "hours",
                "unnest($4::text[], $5::date[], $6::int2[], $7::int2[], $8::bigint[], $9::numeric[])
                 AS d(span, start, weekday, hour, orders, net_sales)",
                "INSERT INTO sales_hours AS r (restaurant_id, span, start, weekday, hour, orders, net_sales)
                 SELECT $1, d.* FROM d ORDER BY d.span, d.start, d.weekday, d.hour
                 ON CONFLICT (restaurant_id, span, start, weekday, hour) DO UPDATE SET
                     orders = r.orders + excluded.orders, net_sales = r.net_sales + excluded.net_sales",
                &[
                    &hours.iter().map(|(k, _)| k.0.as_str()).collect::<Vec<_>>(),
                    &hours.iter().map(|(k, _)| k.1).collect::<Vec<_>>(),
                    &hours.iter().map(|(k, _)| k.2).collect::<Vec<_>>(),
                    &hours.iter().map(|(k, _)| k.3).collect::<Vec<_>>(),
                    &column(&hours, |v| v.orders),
                    &money_column(&hours, |v| v.other_cents),
                ],
            )
            .await?;

        type Keyed = Vec<((Span, NaiveDate, String), Figures)>;
        let wide: [(&str, &str, Keyed); 2] = [
            (
                "items",
                "item_name",
                sorted(
                    std::mem::take(&mut self.items)
                        .into_iter()
                        .map(|((span, start, item), v)| ((span, start, name(item)), v)),
                ),
            ),
            (
                "categories",
                "category",
                sorted(
                    std::mem::take(&mut self.categories)
                        .into_iter()
                        .map(|((span, start, category), v)| ((span, start, name(category)), v)),
                ),
            ),
        ];
        for (kind, key, figures) in wide {
            share
                .write(
                    kind,
                    &format!(
                        "unnest($4::text[], $5::date[], $6::text[], $7::bigint[], $8::bigint[], $9::numeric[],
                                $10::numeric[], $11::numeric[])
                         AS d(span, start, {key}, orders, items, quantity, gross, discounts)"
                    ),
                    &format!(
                        "INSERT INTO sales_{kind} AS r (restaurant_id, span, start, {key}, orders, items, quantity,
                                                      gross, discounts)
                         SELECT $1, d.* FROM d ORDER BY d.span, d.start, d.{key}
                         ON CONFLICT (restaurant_id, span, start, {key}) DO UPDATE SET
                             orders = r.orders + excluded.orders, items = r.items + excluded.items,
                             quantity = r.quantity + excluded.quantity, gross = r.gross + excluded.gross,
                             discounts = r.discounts + excluded.discounts"
                    ),
                    &[
                        &figures.iter().map(|(k, _)| k.0.as_str()).collect::<Vec<_>>(),
                        &figures.iter().map(|(k, _)| k.1).collect::<Vec<_>>(),
                        &figures.iter().map(|(k, _)| k.2.as_str()).collect::<Vec<_>>(),
                        &column(&figures, |v| v.orders),
                        &column(&figures, |v| v.items),
                        &quantities(&figures),
                        &money_column(&figures, |v| v.gross_cents),
                        &money_column(&figures, |v| v.discount_cents),
                    ],
                )
                .await?;
        }

        let item_categories: Vec<((Span, NaiveDate, String, String), i64)> =
            sorted(std::mem::take(&mut self.item_categories).into_iter().map(
                |((span, start, item, category), n)| ((span, start, name(item), name(category)), n),
            ));
        share
            .write(
                "item_categories",
                "unnest($4::text[], $5::date[], $6::text[], $7::text[], $8::bigint[])
                 AS d(span, start, item_name, category, items)",
                "INSERT INTO sales_item_categories AS r (restaurant_id, span, start, item_name, category, items)
                 SELECT $1, d.* FROM d ORDER BY d.span, d.start, d.item_name, d.category
                 ON CONFLICT (restaurant_id, span, start, item_name, category) DO UPDATE SET
                     items = r.items + excluded.items",
                &[
                    &item_categories.iter().map(|(k, _)| k.0.as_str()).collect::<Vec<_>>(),
                    &item_categories.iter().map(|(k, _)| k.1).collect::<Vec<_>>(),
                    &item_categories.iter().map(|(k, _)| k.2.as_str()).collect::<Vec<_>>(),
                    &item_categories.iter().map(|(k, _)| k.3.as_str()).collect::<Vec<_>>(),
                    &item_categories.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
                ],
            )
            .await?;
        Ok(())
    }
}

fn sorted<K: Ord, V>(map: impl IntoIterator<Item = (K, V)>) -> Vec<(K, V)> {
    let mut rows: Vec<(K, V)> = map.into_iter().collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

fn column<K>(rows: &[(K, Figures)], f: fn(&Figures) -> i64) -> Vec<i64> {
    rows.iter().map(|(_, v)| f(v)).collect()
}

fn money_column<K>(rows: &[(K, Figures)], f: fn(&Figures) -> i64) -> Vec<Decimal> {
    rows.iter().map(|(_, v)| Decimal::new(f(v), 2)).collect()
}

fn quantities<K>(rows: &[(K, Figures)]) -> Vec<Decimal> {
    rows.iter()
        .map(|(_, v)| Decimal::new(v.quantity_milli, 3).normalize())
        .collect()
}

/// Writes one kind of figures: added to its rollup table, and kept, in the
/// same statement, as that kind's part of the upload's share.
struct Share<'a, 'b> {
    tx: &'a Transaction<'b>,
    restaurant: RestaurantId,
    upload: UploadId,
    part: i32,
}

impl Share<'_, '_> {
    /// `rows` names the figures `d` from parameters $4 on; `upsert` adds
    /// them to the rollup.
    async fn write(
        &self,
        kind: &str,
        rows: &str,
        upsert: &str,
        columns: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<(), tokio_postgres::Error> {
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&self.restaurant, &self.upload, &self.part];
        params.extend_from_slice(columns);
        self.tx
            .execute(
                &format!(
                    "WITH d AS (SELECT * FROM {rows}), added AS ({upsert})
                     INSERT INTO sales_rollup_shares (upload_id, restaurant_id, part, kind, figures)
                     SELECT $2, $1, $3, '{kind}', coalesce(jsonb_agg(d), '[]') FROM d"
                ),
                &params,
            )
            .await?;
        Ok(())
    }
}

fn add_line(figures: &mut Figures, line: &Figures, new_order: bool) {
    figures.orders += i64::from(new_order);
    figures.items += line.items;
    figures.quantity_milli += line.quantity_milli;
    figures.gross_cents += line.gross_cents;
    figures.discount_cents += line.discount_cents;
}
