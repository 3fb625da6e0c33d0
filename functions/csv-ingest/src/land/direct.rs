//! The fast path: lines are grouped into orders in memory, a stretch of the
//! file at a time, and each stretch goes straight into `transactions` and
//! `transaction_items` in one statement. Statements are pipelined, so the
//! database inserts one stretch while the next is parsed.
//!
//! An order is complete within its stretch when its lines are close together
//! in the file. When an order shows up again in a later stretch, its first
//! part is already stored under this upload: nothing is committed, and the
//! caller lands the file through [`super::staged`] instead.

use deadpool_postgres::Pool;
use futures::stream::{FuturesOrdered, StreamExt};
use tokio::sync::mpsc;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Statement, Transaction};

use super::{begin, finish, parsed, Landed, Landing, ParseSummary};
use crate::orders::{OrderBatch, Stretch};
use crate::reader::FileProblem;
use crate::rows::Line;
use crate::store::{Claim, StoreError};

/// Lines per statement: large enough to amortise a round trip and the
/// statement's overhead, small enough to keep memory flat.
const STRETCH_LINES: usize = 2048;
/// Statements in flight at once.
const PIPELINE_DEPTH: usize = 2;

/// Orders this restaurant already has (from earlier uploads) are not
/// inserted again; their lines count as duplicates, and items go in only
/// with the orders inserted here. One index lookup per order tells both
/// whether it is stored and whether this upload stored it, in an earlier
/// statement (this statement's own rows are not visible to it).
///
/// A concurrent upload inserting one of these orders makes this statement
/// wait for it and then fail with a unique violation: the staged path,
/// which skips conflicts as they come, lands the file then.
const INSERT_STRETCH: &str = "
WITH orders AS MATERIALIZED (
    SELECT o.*, t.found IS NOT NULL AS stored, t.upload_id IS NOT DISTINCT FROM $2 AS stored_here
    FROM unnest($3::uuid[], $4::text[], $5::timestamptz[], $6::numeric[], $7::numeric[], $8::numeric[], $9::int[],
                $10::text[])
         AS o(id, order_id, ordered_at, subtotal, discount, tax, item_count, payment_method)
    -- LATERAL with LIMIT: one index probe per order, whatever the planner
    -- believes about the table, which grows under it during the upload.
    LEFT JOIN LATERAL (
        SELECT true AS found, t.upload_id FROM transactions t
        WHERE t.restaurant_id = $1 AND t.order_id = o.order_id LIMIT 1
    ) t ON true
), inserted AS (
    INSERT INTO transactions (id, restaurant_id, upload_id, order_id, ordered_at, subtotal, discount, tax, total,
                              item_count, payment_method)
    SELECT id, $1, $2, order_id, ordered_at, subtotal, discount, tax, subtotal - discount + tax, item_count,
           payment_method::payment_method
    FROM orders WHERE NOT stored
    RETURNING id
), items AS (
    INSERT INTO transaction_items (restaurant_id, transaction_id, item_name, category, quantity, unit_price,
                                   discount, tax, line_total)
    SELECT $1, l.transaction_id, l.item_name, l.category, l.quantity, l.unit_price, l.discount, l.tax, l.line_total
    FROM unnest($11::uuid[], $12::text[], $13::text[], $14::numeric[], $15::numeric[], $16::numeric[],
                $17::numeric[], $18::numeric[])
         AS l(transaction_id, item_name, category, quantity, unit_price, discount, tax, line_total)
    -- Most stretches hold only new orders: then no lookup is needed.
    WHERE (SELECT NOT bool_or(stored) FROM orders) OR l.transaction_id IN (SELECT id FROM inserted)
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM items),
       EXISTS (SELECT 1 FROM orders WHERE stored AND stored_here)";

struct Inserted {
    orders: i64,
    items: i64,
    /// An order of this stretch is also in an earlier one, or a concurrent
    /// upload is inserting it: the staged path must land the file.
    needs_staging: bool,
}

pub async fn land(
    pool: &Pool,
    claim: &Claim,
    mut lines: mpsc::Receiver<Vec<Line>>,
    parser: tokio::task::JoinHandle<Result<ParseSummary, FileProblem>>,
) -> Result<Option<Landed>, StoreError> {
    let mut client = pool.get().await?;
    let tx = begin(&mut client, claim).await?;
    let statement = tx.prepare(INSERT_STRETCH).await?;
    let mut landing = Landing::default();
    let mut batch = OrderBatch::new(claim.timezone);
    let mut in_flight = FuturesOrdered::new();
    let mut receiving = true;
    // The stretch so far, its out-of-range orders' lines rejected.
    let take = |batch: &mut OrderBatch, landing: &mut Landing| {
        let stretch = std::mem::replace(batch, OrderBatch::new(claim.timezone)).finish();
        for error in &stretch.rejected {
            landing.lines -= 1;
            landing.reject(error.clone());
        }
        stretch
    };
    while receiving || !in_flight.is_empty() {
        tokio::select! {
            Some(done) = in_flight.next() => {
                let done: Inserted = done?;
                if done.needs_staging {
                    return Ok(None);
                }
                landing.transactions_ingested += done.orders;
                landing.rows_ingested += done.items;
            }
            received = lines.recv(), if receiving && in_flight.len() < PIPELINE_DEPTH => {
                let Some(received) = received else {
                    receiving = false;
                    if batch.lines() > 0 {
                        let stretch = take(&mut batch, &mut landing);
                        in_flight.push_back(insert(&tx, &statement, claim, stretch));
                    }
                    continue;
                };
                for line in received {
                    if batch.is_full_before(&line, STRETCH_LINES) {
                        let stretch = take(&mut batch, &mut landing);
                        in_flight.push_back(insert(&tx, &statement, claim, stretch));
                    }
                    match batch.push(line) {
                        Ok(()) => landing.lines += 1,
                        Err(error) => landing.reject(error),
                    }
                }
            }
        }
    }
    drop(in_flight);
    let summary = match parsed(parser).await {
        Ok(summary) => summary,
        Err(landed) => return Ok(Some(landed)),
    };
    finish(tx, claim, summary, landing).await.map(Some)
}

async fn insert(
    tx: &Transaction<'_>,
    statement: &Statement,
    claim: &Claim,
    stretch: Stretch,
) -> Result<Inserted, StoreError> {
    let (o, i) = (&stretch.orders, &stretch.items);
    let inserted = tx
        .query_one(
            statement,
            &[
                &claim.key.restaurant.0,
                &claim.key.upload,
                &o.id,
                &o.order_id,
                &o.ordered_at,
                &o.subtotal,
                &o.discount,
                &o.tax,
                &o.item_count,
                &o.payment_method,
                &i.transaction_id,
                &i.item_name,
                &i.category,
                &i.quantity,
                &i.unit_price,
                &i.discount,
                &i.tax,
                &i.line_total,
            ],
        )
        .await;
    match inserted {
        Ok(row) => Ok(Inserted {
            orders: row.get(0),
            items: row.get(1),
            needs_staging: row.get(2),
        }),
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => Ok(Inserted {
            orders: 0,
            items: 0,
            needs_staging: true,
        }),
        Err(e) => Err(e.into()),
    }
}
