//! The database side of ingestion: claiming an upload exactly once, the
//! heartbeat and progress, and landing all of an upload's rows together with
//! its final status in one transaction.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use deadpool_postgres::Pool;
use flux_shared::tenant::with_tenant;
use flux_shared::uploads::UploadKey;
use futures::pin_mut;
use tokio::sync::mpsc;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use crate::rows::{Line, RowError};

/// An upload this invocation owns until it finishes it.
#[derive(Clone, Debug)]
pub struct Claim {
    pub key: UploadKey,
    pub claim_id: Uuid,
    pub timezone: Tz,
}

pub enum Claimed {
    Mine(Claim),
    /// Another invocation is working on it and is alive.
    Busy,
    /// Already finished (a duplicate event).
    Finished,
    /// No upload has this key.
    Unknown,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),
}

impl StoreError {
    /// A problem with the data itself (retrying cannot help), as opposed
    /// to an unavailable database.
    pub fn is_data_error(&self) -> bool {
        match self {
            StoreError::Database(e) => e
                .code()
                .is_some_and(|c| c.code().starts_with("22") || c.code().starts_with("23")),
            StoreError::Pool(_) => false,
        }
    }
}

pub async fn claim(
    pool: &Pool,
    key: UploadKey,
    stale_after: Duration,
) -> Result<Claimed, StoreError> {
    let mut client = pool.get().await?;
    let claim_id = Uuid::new_v4();
    let stale_secs = stale_after.as_secs_f64();
    with_tenant(&mut client, key.restaurant, async |tx| {
        let claimed = tx
            .query_opt(
                "UPDATE data_uploads u
                 SET status = 'processing', claim_id = $4, heartbeat_at = now(),
                     started_at = coalesce(u.started_at, now()), rows_total = 0, rows_ingested = 0
                 FROM restaurants r
                 WHERE u.id = $1 AND u.restaurant_id = $2 AND u.s3_key = $3 AND r.id = u.restaurant_id
                   AND (u.status = 'awaiting_upload'
                        OR (u.status = 'processing' AND u.heartbeat_at < now() - make_interval(secs => $5)))
                 RETURNING r.timezone",
                &[&key.upload, &key.restaurant.0, &key.object_key(), &claim_id, &stale_secs],
            )
            .await?;
        if let Some(row) = claimed {
            let timezone: String = row.get(0);
            return Ok(Claimed::Mine(Claim {
                key,
                claim_id,
                timezone: timezone.parse().unwrap_or(Tz::UTC),
            }));
        }
        let status: Option<String> = tx
            .query_opt(
                "SELECT status::text FROM data_uploads WHERE id = $1 AND restaurant_id = $2 AND s3_key = $3",
                &[&key.upload, &key.restaurant.0, &key.object_key()],
            )
            .await?
            .map(|r| r.get(0));
        Ok(match status.as_deref() {
            None => Claimed::Unknown,
            Some("processing") => Claimed::Busy,
            Some(_) => Claimed::Finished,
        })
    })
    .await
}

/// Counters the parser advances and the heartbeat publishes.
#[derive(Default)]
pub struct Progress {
    pub rows_total: AtomicU64,
    pub rows_valid: AtomicU64,
}

/// Refreshes the claim's heartbeat and progress every `every` until dropped,
/// on its own connection, outside the ingest transaction.
pub struct Heartbeat(tokio::task::JoinHandle<()>);

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub fn heartbeat(pool: Pool, claim: Claim, progress: Arc<Progress>, every: Duration) -> Heartbeat {
    Heartbeat(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            let total = progress.rows_total.load(Ordering::Relaxed) as i64;
            let valid = progress.rows_valid.load(Ordering::Relaxed) as i64;
            let beat = async {
                let mut client = pool.get().await?;
                with_tenant(&mut client, claim.key.restaurant, async |tx| {
                    tx.execute(
                        "UPDATE data_uploads SET heartbeat_at = now(), rows_total = $3, rows_ingested = $4
                         WHERE id = $1 AND claim_id = $2 AND status = 'processing'",
                        &[&claim.key.upload, &claim.claim_id, &total, &valid],
                    )
                    .await
                })
                .await?;
                Ok::<_, StoreError>(())
            };
            if let Err(e) = beat.await {
                tracing::warn!(error = %e, "heartbeat failed");
            }
        }
    }))
}

/// Marks the claimed upload failed with a file-level message.
pub async fn fail(pool: &Pool, claim: &Claim, message: &str) -> Result<(), StoreError> {
    let mut client = pool.get().await?;
    with_tenant(&mut client, claim.key.restaurant, async |tx| {
        tx.execute(
            "UPDATE data_uploads SET status = 'failed', error = $3, finished_at = clock_timestamp(), heartbeat_at = clock_timestamp()
             WHERE id = $1 AND claim_id = $2 AND status = 'processing'",
            &[&claim.key.upload, &claim.claim_id, &message],
        )
        .await
    })
    .await?;
    Ok(())
}

/// What the parser found, besides the valid lines it streamed.
#[derive(Debug, Default)]
pub struct ParseSummary {
    /// Data rows, blank lines excluded, voided lines included.
    pub rows_total: u64,
    pub rows_rejected: u64,
    /// Errors of the first rejected rows (see [`MAX_STORED_ERROR_ROWS`]).
    pub errors: Vec<RowError>,
}

pub const MAX_STORED_ERROR_ROWS: usize = 1000;

/// The final counts, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: &'static str,
    pub rows_total: i64,
    pub rows_ingested: i64,
    pub rows_rejected: i64,
    pub rows_duplicate: i64,
    pub transactions_ingested: i64,
    pub error: Option<String>,
}

pub enum Landed {
    Done(Outcome),
    /// Another invocation took the upload over; this one changed nothing.
    Superseded,
    /// The parser refused the whole file.
    FileProblem(String),
}

const STAGING: &str = "CREATE TEMP TABLE ingest_rows (
    line bigint NOT NULL, order_id text NOT NULL, ordered_at timestamptz NOT NULL, item_name text NOT NULL,
    category text, quantity numeric NOT NULL, unit_price numeric NOT NULL, discount numeric NOT NULL,
    tax numeric NOT NULL, line_total numeric NOT NULL, payment_method text NOT NULL
) ON COMMIT DROP";

/// Streams the valid lines into a staging table with binary COPY while the
/// parser produces them, then lands everything in one transaction.
pub async fn land<E: std::fmt::Display>(
    pool: &Pool,
    claim: &Claim,
    mut lines: mpsc::Receiver<Vec<Line>>,
    parsed: tokio::task::JoinHandle<Result<ParseSummary, E>>,
) -> Result<Landed, StoreError> {
    let started = std::time::Instant::now();
    let phase = |name: &str| {
        tracing::info!(
            phase = name,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "ingest phase done"
        )
    };
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "SELECT set_config('app.restaurant_id', $1, true)",
        &[&claim.key.restaurant.0.to_string()],
    )
    .await?;
    // Sorting and grouping a whole file in memory instead of on disk.
    tx.batch_execute("SET LOCAL work_mem = '128MB'").await?;
    tx.batch_execute(STAGING).await?;
    let sink = tx
        .copy_in(
            "COPY ingest_rows (line, order_id, ordered_at, item_name, category, quantity, unit_price, discount, tax,
                               line_total, payment_method) FROM STDIN (FORMAT binary)",
        )
        .await?;
    let types = [
        Type::INT8,
        Type::TEXT,
        Type::TIMESTAMPTZ,
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
            let row: [&(dyn ToSql + Sync); 11] = [
                &line,
                &l.order_id,
                &l.ordered_at,
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
    }
    writer.finish().await?;
    phase("parsed and staged");
    // Fresh statistics, or the planner guesses a tiny table.
    tx.batch_execute("ANALYZE ingest_rows").await?;
    let summary = match parsed.await {
        Ok(Ok(summary)) => summary,
        Ok(Err(problem)) => return Ok(Landed::FileProblem(problem.to_string())),
        Err(join) => {
            return Ok(Landed::FileProblem(format!(
                "the file could not be parsed: {join}"
            )))
        }
    };
    if summary.rows_total == 0 {
        return Ok(Landed::FileProblem(
            "the file has a header row but no data rows".into(),
        ));
    }

    let rid = claim.key.restaurant.0;
    let upload = claim.key.upload;
    // Rows that disagree with the first row of their order on ordered_at.
    tx.batch_execute(
        "CREATE TEMP TABLE ingest_disagree ON COMMIT DROP AS
         SELECT r.line, r.order_id, r.ordered_at AS found, f.ordered_at AS expected
         FROM ingest_rows r
         JOIN (SELECT DISTINCT ON (order_id) order_id, ordered_at FROM ingest_rows ORDER BY order_id, line) f
           ON f.order_id = r.order_id
         WHERE r.ordered_at <> f.ordered_at;
         DELETE FROM ingest_rows r USING ingest_disagree d WHERE r.line = d.line;",
    )
    .await?;
    phase("checked orders");
    let disagree_count: i64 = tx
        .query_one("SELECT count(*) FROM ingest_disagree", &[])
        .await?
        .get(0);
    let mut errors = summary.errors;
    let disagree = tx
        .query(
            "SELECT line, order_id, to_char(found AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    to_char(expected AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
             FROM ingest_disagree ORDER BY line LIMIT $1",
            &[&(MAX_STORED_ERROR_ROWS as i64)],
        )
        .await?;
    for row in &disagree {
        let order: String = row.get(1);
        let expected: String = row.get(3);
        errors.push(RowError {
            line: row.get::<_, i64>(0) as u64,
            column: Some("ordered_at".into()),
            value: Some(row.get(2)),
            message: format!("disagrees with the first row of order {order} ({expected})"),
        });
    }
    errors.sort_by_key(|e| e.line);
    let mut kept_lines = 0;
    let mut last_line = None;
    errors.retain(|e| {
        if last_line != Some(e.line) {
            last_line = Some(e.line);
            kept_lines += 1;
        }
        kept_lines <= MAX_STORED_ERROR_ROWS
    });

    let staged: i64 = tx
        .query_one("SELECT count(*) FROM ingest_rows", &[])
        .await?
        .get(0);
    // One row per order, with time-ordered ids (UUIDv7 layout: this
    // moment's milliseconds, then a counter) so index inserts append
    // instead of scattering across the index.
    tx.batch_execute(
        "CREATE TEMP TABLE ingest_orders ON COMMIT DROP AS
         SELECT (p.prefix || lpad(to_hex(row_number() OVER (ORDER BY g.order_id)), 16, '0'))::uuid AS id, g.*
         FROM (SELECT order_id, min(ordered_at) AS ordered_at, sum(line_total) AS subtotal,
                      sum(discount) AS discount, sum(tax) AS tax, count(*) AS item_count,
                      (array_agg(payment_method ORDER BY line))[1] AS payment_method
               FROM ingest_rows GROUP BY order_id) g,
              (SELECT lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') || '7000'
                 AS prefix) p",
    )
    .await?;
    phase("grouped orders");
    // Orders this restaurant already has (earlier uploads, or a concurrent
    // one) are not inserted again (ON CONFLICT DO NOTHING); their rows count
    // as duplicates. Items go in with exactly the transactions inserted here.
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
                 INSERT INTO transaction_items (restaurant_id, transaction_id, item_name, category, quantity,
                                                unit_price, discount, tax, line_total)
                 SELECT $1, i.id, r.item_name, r.category, r.quantity, r.unit_price, r.discount, r.tax, r.line_total
                 FROM ingest_rows r JOIN inserted i ON i.order_id = r.order_id
                 ORDER BY i.id, r.line
                 RETURNING 1
             )
             SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM items)",
            &[&rid, &upload],
        )
        .await?;
    let transactions_ingested: i64 = counts.get(0);
    let rows_ingested: i64 = counts.get(1);
    phase("inserted items");
    let mut lines_col = Vec::with_capacity(errors.len());
    let mut columns_col: Vec<Option<String>> = Vec::with_capacity(errors.len());
    let mut values_col: Vec<Option<String>> = Vec::with_capacity(errors.len());
    let mut messages_col = Vec::with_capacity(errors.len());
    let mut seq_col = Vec::with_capacity(errors.len());
    let mut previous = None;
    let mut seq = 0i32;
    for e in errors {
        seq = if previous == Some(e.line) { seq + 1 } else { 0 };
        previous = Some(e.line);
        lines_col.push(e.line as i64);
        columns_col.push(e.column);
        values_col.push(e.value);
        messages_col.push(e.message);
        seq_col.push(seq);
    }
    tx.execute(
        "INSERT INTO data_upload_errors (upload_id, restaurant_id, line, column_name, value, message, seq)
         SELECT $1, $2, * FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::int[])",
        &[&upload, &rid, &lines_col, &columns_col, &values_col, &messages_col, &seq_col],
    )
    .await?;

    let rows_rejected = summary.rows_rejected as i64 + disagree_count;
    let outcome = Outcome {
        status: if rows_ingested == 0 && rows_rejected > 0 && staged == 0 {
            "failed"
        } else if rows_rejected > 0 {
            "completed_with_errors"
        } else {
            "completed"
        },
        rows_total: summary.rows_total as i64,
        rows_ingested,
        rows_rejected,
        rows_duplicate: staged - rows_ingested,
        transactions_ingested,
        error: (rows_ingested == 0 && rows_rejected > 0 && staged == 0)
            .then(|| "no valid rows".to_string()),
    };
    let updated = tx
        .execute(
            "UPDATE data_uploads
             SET status = $3::text::upload_status, rows_total = $4, rows_ingested = $5, rows_rejected = $6,
                 rows_duplicate = $7, transactions_ingested = $8, error = $9, finished_at = clock_timestamp(), heartbeat_at = clock_timestamp()
             WHERE id = $1 AND claim_id = $2 AND status = 'processing'",
            &[
                &upload,
                &claim.claim_id,
                &outcome.status,
                &outcome.rows_total,
                &outcome.rows_ingested,
                &outcome.rows_rejected,
                &outcome.rows_duplicate,
                &outcome.transactions_ingested,
                &outcome.error,
            ],
        )
        .await?;
    if updated == 0 {
        // Rolled back on drop: the newer claim owns the upload.
        return Ok(Landed::Superseded);
    }
    tx.commit().await?;
    Ok(Landed::Done(outcome))
}
