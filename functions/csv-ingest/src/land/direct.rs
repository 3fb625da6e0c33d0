//! The fast path: lines are grouped into orders in memory, a stretch of the
//! file at a time, and each stretch goes straight into `transactions` and
//! `transaction_items` in one statement. Statements are pipelined, so the
//! database inserts one stretch while the next is parsed.
//!
//! An order is complete within its stretch when its lines are close together
//! in the file. When an order shows up again in a later stretch, its first
//! part is already stored under this upload: nothing is committed, and the
//! caller lands the file through [`super::staged`] instead.
//!
//! The upload's share of the rollups is added up as each stretch's insert
//! returns (leaving out the orders it skipped) and written before commit.

use deadpool_postgres::Pool;
use futures::stream::{FuturesOrdered, StreamExt};
use tokio::sync::mpsc;
use tokio_postgres::{Statement, Transaction};

use super::{begin, finish, parsed, Landed, Landing, ParseSummary};
use crate::orders::{OrderBatch, Stretch, TransactionIds};
use crate::reader::FileProblem;
use crate::rollups::{self, Rollups};
use crate::rows::Line;
use crate::store::{Claim, Progress, StoreError};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Lines per statement: large enough to amortise a round trip and the
/// statement's overhead, small enough to keep memory flat.
const STRETCH_LINES: usize = 2048;
/// Statements in flight at once.
const PIPELINE_DEPTH: usize = 2;

/// Orders this restaurant already has (from earlier uploads) are not
/// inserted again (`ON CONFLICT DO NOTHING`, which also waits for a
/// concurrent upload inserting the same order and skips it once that one
/// commits); their lines count as duplicates, and items go in only with the
/// orders inserted here. The statement returns the positions of the orders
/// it skipped, and whether one of them was stored by this very upload, in
/// an earlier statement: an order spread across stretches.
const INSERT_STRETCH: &str = "
WITH inserted AS (
    INSERT INTO transactions (id, restaurant_id, upload_id, order_id, ordered_at, subtotal, discount, tax, total,
                              item_count, payment_method)
    SELECT o.id, $1, $2, o.order_id, o.ordered_at, o.subtotal, o.discount, o.tax, o.subtotal - o.discount + o.tax,
           o.item_count, o.payment_method::payment_method
    FROM unnest($3::bigint[], $4::text[], $5::timestamptz[], $6::numeric[], $7::numeric[], $8::numeric[], $9::int[],
                $10::text[])
         AS o(id, order_id, ordered_at, subtotal, discount, tax, item_count, payment_method)
    ON CONFLICT (restaurant_id, order_id) DO NOTHING
    RETURNING id
), all_inserted AS (
    SELECT (SELECT count(*) FROM inserted) = cardinality($3::bigint[]) AS yes
), items AS (
    INSERT INTO transaction_items (restaurant_id, transaction_id, line_no, item_name, category, quantity, unit_price,
                                   discount, tax, line_total)
    SELECT $1, l.*
    FROM unnest($11::bigint[], $12::int[], $13::text[], $14::text[], $15::numeric[], $16::numeric[],
                $17::numeric[], $18::numeric[], $19::numeric[])
         AS l(transaction_id, line_no, item_name, category, quantity, unit_price, discount, tax, line_total)
    -- Most stretches hold only new orders: then no lookup is needed.
    WHERE (SELECT yes FROM all_inserted) OR l.transaction_id IN (SELECT id FROM inserted)
    RETURNING 1
), skipped AS (
    SELECT o.position::int - 1 AS position, o.order_id
    FROM unnest($3::bigint[], $4::text[]) WITH ORDINALITY AS o(id, order_id, position)
    WHERE NOT (SELECT yes FROM all_inserted) AND o.id NOT IN (SELECT id FROM inserted)
)
SELECT (SELECT count(*) FROM inserted) AS orders, (SELECT count(*) FROM items) AS items,
       (SELECT coalesce(array_agg(position ORDER BY position), '{}') FROM skipped) AS skipped,
       -- LATERAL with LIMIT: an index probe per skipped order (usually
       -- none), never a scan of the table, whatever the planner believes
       -- of it (it grows under the statement's cached plan).
       EXISTS (SELECT 1 FROM skipped s CROSS JOIN LATERAL (
                   SELECT 1 FROM transactions t
                   WHERE t.restaurant_id = $1 AND t.order_id = s.order_id AND t.upload_id = $2 LIMIT 1) stored
       ) AS needs_staging";

struct Inserted {
    orders: i64,
    items: i64,
    /// Positions (in the stretch) of the orders already stored.
    skipped: Vec<i32>,
    /// An order of this stretch is also in an earlier one: the staged path
    /// must land the file.
    needs_staging: bool,
}

pub async fn land(
    pool: &Pool,
    claim: &Claim,
    mut lines: mpsc::Receiver<Vec<Line>>,
    parser: tokio::task::JoinHandle<Result<ParseSummary, FileProblem>>,
    progress: &Progress,
) -> Result<Option<Landed>, StoreError> {
    let mut client = pool.get().await?;
    let tx = begin(&mut client, claim).await?;
    let statement = tx.prepare(INSERT_STRETCH).await?;
    let block: i64 = tx
        .query_one("SELECT nextval('transaction_blocks')", &[])
        .await?
        .get(0);
    let mut ids = TransactionIds::new(block);
    let mut landing = Landing {
        block,
        ..Landing::default()
    };
    let mut rollups = Rollups::new(claim.timezone);
    let mut batch = OrderBatch::new(claim.timezone);
    let mut in_flight = FuturesOrdered::new();
    let mut receiving = true;
    // The stretch so far, its out-of-range orders' lines rejected.
    let take = |batch: &mut OrderBatch, landing: &mut Landing, ids: &mut TransactionIds| {
        let stretch = std::mem::replace(batch, OrderBatch::new(claim.timezone)).finish(ids);
        for error in &stretch.rejected {
            landing.lines -= 1;
            landing.reject(error.clone());
        }
        stretch
    };
    while receiving || !in_flight.is_empty() {
        tokio::select! {
            Some(done) = in_flight.next() => {
                let (done, stretch): (Inserted, Stretch) = done?;
                if done.needs_staging {
                    return Ok(None);
                }
                landing.transactions_ingested += done.orders;
                landing.rows_ingested += done.items;
                progress.rows_ingested.fetch_add(done.items as u64, Ordering::Release);
                let started = Instant::now();
                rollups.add(&stretch, &done.skipped);
                if rollups.len() >= rollups::FLUSH_AT {
                    rollups.flush(&tx, claim.key.restaurant, claim.key.upload).await?;
                }
                landing.rollup_time += started.elapsed();
            }
            received = lines.recv(), if receiving && in_flight.len() < PIPELINE_DEPTH => {
                let Some(received) = received else {
                    receiving = false;
                    if batch.lines() > 0 {
                        let stretch = take(&mut batch, &mut landing, &mut ids);
                        in_flight.push_back(insert(&tx, &statement, claim, stretch));
                    }
                    continue;
                };
                for line in received {
                    if batch.is_full_before(&line, STRETCH_LINES) {
                        let stretch = take(&mut batch, &mut landing, &mut ids);
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
    let started = Instant::now();
    rollups
        .flush(&tx, claim.key.restaurant, claim.key.upload)
        .await?;
    landing.rollup_time += started.elapsed();
    finish(tx, claim, summary, landing).await.map(Some)
}

async fn insert(
    tx: &Transaction<'_>,
    statement: &Statement,
    claim: &Claim,
    stretch: Stretch,
) -> Result<(Inserted, Stretch), StoreError> {
    let (o, i) = (&stretch.orders, &stretch.items);
    let row = tx
        .query_one(
            statement,
            &[
                &claim.key.restaurant,
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
                &i.line_no,
                &i.item_name,
                &i.category,
                &i.quantity,
                &i.unit_price,
                &i.discount,
                &i.tax,
                &i.line_total,
            ],
        )
        .await?;
    let inserted = Inserted {
        orders: row.get("orders"),
        items: row.get("items"),
        skipped: row.get("skipped"),
        needs_staging: row.get("needs_staging"),
    };
    Ok((inserted, stretch))
}
