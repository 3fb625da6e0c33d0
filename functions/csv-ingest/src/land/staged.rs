//! The general path: every valid line goes into a staging table with binary
//! COPY while the parser produces them; SQL then groups the lines into
//! orders wherever they are in the file.

use deadpool_postgres::Pool;
use futures::pin_mut;
use tokio::sync::mpsc;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::{begin, finish, parsed, Landed, Landing, ParseSummary, MAX_STORED_ERROR_ROWS};
use crate::amounts;
use crate::reader::FileProblem;
use crate::rows::{Line, RowError};
use crate::store::{Claim, Progress, StoreError};
use std::sync::atomic::Ordering;

const STAGING: &str = "CREATE TEMP TABLE ingest_rows (
    line bigint NOT NULL, order_id text NOT NULL, ordered_at timestamptz NOT NULL, ordered_at_cell text NOT NULL,
    item_name text NOT NULL, category text, quantity numeric NOT NULL, unit_price numeric NOT NULL,
    discount numeric NOT NULL, tax numeric NOT NULL, line_total numeric NOT NULL, payment_method text NOT NULL
) ON COMMIT DROP";

pub async fn land(
    pool: &Pool,
    claim: &Claim,
    mut lines: mpsc::Receiver<Vec<Line>>,
    parser: tokio::task::JoinHandle<Result<ParseSummary, FileProblem>>,
    progress: &Progress,
) -> Result<Landed, StoreError> {
    let mut client = pool.get().await?;
    let tx = begin(&mut client, claim).await?;
    // Sorting and grouping a whole file in memory instead of on disk.
    tx.batch_execute("SET LOCAL work_mem = '128MB'").await?;
    tx.batch_execute(STAGING).await?;
    let sink = tx
        .copy_in(
            "COPY ingest_rows (line, order_id, ordered_at, ordered_at_cell, item_name, category, quantity, unit_price,
                               discount, tax, line_total, payment_method) FROM STDIN (FORMAT binary)",
        )
        .await?;
    let types = [
        Type::INT8,
        Type::TEXT,
        Type::TIMESTAMPTZ,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::NUMERIC,
        Type::NUMERIC,
        Type::NUMERIC,
        Type::NUMERIC,
        Type::NUMERIC,
        Type::TEXT,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    pin_mut!(writer);
    while let Some(batch) = lines.recv().await {
        for l in &batch {
            let line = l.line as i64;
            let row: [&(dyn ToSql + Sync); 12] = [
                &line,
                &l.order_id,
                &l.ordered_at,
                &l.ordered_at_cell,
                &l.item_name,
                &l.category,
                &l.quantity,
                &l.unit_price,
                &l.discount,
                &l.tax,
                &l.line_total,
                &l.payment_method.as_str(),
            ];
            writer.as_mut().write(&row).await?;
        }
        progress
            .rows_ingested
            .fetch_add(batch.len() as u64, Ordering::Release);
    }
    writer.finish().await?;
    // Fresh statistics, or the planner guesses a tiny table.
    tx.batch_execute("ANALYZE ingest_rows").await?;
    let summary = match parsed(parser).await {
        Ok(summary) => summary,
        Err(landed) => return Ok(landed),
    };

    let rid = claim.key.restaurant;
    let upload = claim.key.upload;
    let mut landing = Landing::default();
    // Rows that disagree with the first row of their order on ordered_at,
    // then orders whose sums are out of range (CSV.md): refused, row by row.
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE ingest_refused ON COMMIT DROP AS
         SELECT r.line, r.order_id, r.ordered_at_cell, f.ordered_at AS expected
         FROM ingest_rows r
         JOIN (SELECT DISTINCT ON (order_id) order_id, ordered_at FROM ingest_rows ORDER BY order_id, line) f
           ON f.order_id = r.order_id
         WHERE r.ordered_at <> f.ordered_at;
         DELETE FROM ingest_rows r USING ingest_refused d WHERE r.line = d.line;
         INSERT INTO ingest_refused (line, order_id, ordered_at_cell)
         SELECT r.line, r.order_id, r.ordered_at_cell
         FROM ingest_rows r JOIN (
             SELECT order_id FROM ingest_rows GROUP BY order_id
             HAVING greatest(abs(sum(line_total)), sum(discount), sum(tax),
                             abs(sum(line_total) - sum(discount) + sum(tax))) >= {limit}
         ) o ON o.order_id = r.order_id;
         DELETE FROM ingest_rows r USING ingest_refused d WHERE r.line = d.line AND d.expected IS NULL;",
        limit = amounts::ORDER_LIMIT
    ))
    .await?;
    landing.rejected = tx
        .query_one("SELECT count(*) FROM ingest_refused", &[])
        .await?
        .get(0);
    landing.errors = tx
        .query(
            "SELECT line, order_id, ordered_at_cell,
                    to_char(expected AT TIME ZONE $2, 'YYYY-MM-DD HH24:MI:SS') AS expected
             FROM ingest_refused ORDER BY line LIMIT $1",
            &[&(MAX_STORED_ERROR_ROWS as i64), &claim.timezone.name()],
        )
        .await?
        .iter()
        .map(|row| {
            let order_id: String = row.get("order_id");
            match row.get::<_, Option<String>>("expected") {
                Some(expected) => RowError {
                    line: row.get::<_, i64>("line") as u64,
                    column: Some("ordered_at".into()),
                    value: Some(row.get("ordered_at_cell")),
                    message: format!(
                        "disagrees with the first row of order {order_id} ({expected} {})",
                        claim.timezone.name()
                    ),
                },
                None => RowError {
                    line: row.get::<_, i64>("line") as u64,
                    column: Some("order_id".into()),
                    value: Some(order_id),
                    message: amounts::ORDER_MESSAGE.into(),
                },
            }
        })
        .collect();
    let lines: i64 = tx
        .query_one("SELECT count(*) FROM ingest_rows", &[])
        .await?
        .get(0);
    // One row per order, with time-ordered ids in the UUIDv7 layout: this
    // moment's milliseconds, a counter (so index inserts append instead of
    // scattering across the index), then random bits, so that two uploads
    // landing in the same millisecond cannot collide.
    // One row per order, numbered in the upload's block in file order.
    let block: i64 = tx
        .query_one("SELECT nextval('transaction_blocks')", &[])
        .await?
        .get(0);
    tx.execute(
        "CREATE TEMP TABLE ingest_orders ON COMMIT DROP AS
         SELECT ($1::bigint << 32) + row_number() OVER (ORDER BY g.first_line) AS id, g.*
         FROM (SELECT order_id, min(line) AS first_line, min(ordered_at) AS ordered_at,
                      sum(line_total) AS subtotal, sum(discount) AS discount, sum(tax) AS tax,
                      count(*) AS item_count, (array_agg(payment_method ORDER BY line))[1] AS payment_method
               FROM ingest_rows GROUP BY order_id) g",
        &[&block],
    )
    .await?;
    // Orders this restaurant already has (earlier uploads, or a concurrent
    // one) are not inserted again (ON CONFLICT DO NOTHING); their rows count
    // as duplicates. Items go in with exactly the transactions inserted here,
    // numbered in file order; then the upload's share of the rollups.
    let counts = tx
        .query_one(
            "WITH inserted AS (
                 INSERT INTO transactions (id, restaurant_id, upload_id, order_id, ordered_at, subtotal, discount,
                                           tax, total, item_count, payment_method)
                 SELECT id, $1, $2, order_id, ordered_at, subtotal, discount, tax, subtotal - discount + tax,
                        item_count, payment_method::payment_method
                 FROM ingest_orders ORDER BY id
                 ON CONFLICT (restaurant_id, order_id) DO NOTHING
                 RETURNING id, order_id
             ), items AS (
                 INSERT INTO transaction_items (restaurant_id, transaction_id, line_no, item_name, category,
                                                quantity, unit_price, discount, tax, line_total)
                 SELECT $1, i.id, row_number() OVER (PARTITION BY i.id ORDER BY r.line), r.item_name, r.category,
                        r.quantity, r.unit_price, r.discount, r.tax, r.line_total
                 FROM ingest_rows r JOIN inserted i ON i.order_id = r.order_id
                 ORDER BY i.id, r.line
                 RETURNING 1
             )
             SELECT (SELECT count(*) FROM inserted) AS transactions, (SELECT count(*) FROM items) AS items",
            &[&rid, &upload],
        )
        .await?;
    let started = std::time::Instant::now();
    tx.execute("SELECT sales_rollups_add($1, $2)", &[&block, &upload])
        .await?;
    landing.rollup_time = started.elapsed();
    landing.block = block;
    landing.lines = lines;
    landing.rows_ingested = counts.get("items");
    landing.transactions_ingested = counts.get("transactions");
    finish(tx, claim, summary, landing).await
}
