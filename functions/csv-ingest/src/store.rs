//! The upload's lifecycle in the database, every status change csv-ingest
//! makes: claiming it exactly once, the heartbeat and progress while it is
//! ingested, failing it, and storing its outcome. Landing its rows is
//! [`crate::land`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use deadpool_postgres::Pool;
use flux_shared::tenant::with_tenant;
use flux_shared::uploads::{UploadKey, UploadStatus};
use tokio_postgres::Transaction;
use uuid::Uuid;

use crate::land::Outcome;

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
                     started_at = coalesce(u.started_at, now()), rows_total = 0, rows_ingested = 0,
                     bytes_processed = 0
                 FROM restaurants r
                 WHERE u.id = $1 AND u.restaurant_id = $2 AND u.s3_key = $3 AND r.id = u.restaurant_id
                   AND (u.status = 'awaiting_upload'
                        OR (u.status = 'processing' AND u.heartbeat_at < now() - make_interval(secs => $5)))
                 RETURNING r.timezone",
                &[&key.upload, &key.restaurant, &key.object_key(), &claim_id, &stale_secs],
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
        let status: Option<UploadStatus> = tx
            .query_opt(
                "SELECT status FROM data_uploads WHERE id = $1 AND restaurant_id = $2 AND s3_key = $3",
                &[&key.upload, &key.restaurant, &key.object_key()],
            )
            .await?
            .map(|r| r.get("status"));
        Ok(match status {
            None => Claimed::Unknown,
            Some(UploadStatus::Processing) => Claimed::Busy,
            Some(_) => Claimed::Finished,
        })
    })
    .await
}

/// Counters the reader, the parser and the loader advance, and the
/// heartbeat publishes (API.md: a client draws a progress bar from them).
#[derive(Default)]
pub struct Progress {
    /// Bytes of the object read so far.
    pub bytes: AtomicU64,
    /// Data rows read so far.
    pub rows_total: AtomicU64,
    /// Rows landed so far (in the upload's open transaction).
    pub rows_ingested: AtomicU64,
}

impl Progress {
    /// For reading the file again from the start. What was published stays
    /// (the heartbeat never moves a figure back).
    pub fn restart(&self) {
        self.bytes.store(0, Ordering::Relaxed);
        self.rows_total.store(0, Ordering::Relaxed);
        self.rows_ingested.store(0, Ordering::Relaxed);
    }

    /// A consistent reading: rows landed are never more than rows read.
    fn snapshot(&self) -> (i64, i64, i64) {
        // Landed first: what is read afterwards can only be more.
        let ingested = self.rows_ingested.load(Ordering::Acquire) as i64;
        let total = self.rows_total.load(Ordering::Acquire) as i64;
        let bytes = self.bytes.load(Ordering::Acquire) as i64;
        (bytes, total, ingested.min(total))
    }
}

/// Refreshes the claim's heartbeat and progress every `every` until stopped
/// or dropped, on its own connection, outside the ingest transaction.
pub struct Heartbeat {
    task: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Heartbeat {
    /// Stops beating and waits for a beat in flight to land, so that
    /// nothing refreshes the claim after this returns.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn heartbeat(pool: Pool, claim: Claim, progress: Arc<Progress>, every: Duration) -> Heartbeat {
    let (stop, mut stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = &mut stopped => return,
            }
            let (bytes, total, ingested) = progress.snapshot();
            let beat = async {
                let mut client = pool.get().await?;
                with_tenant(&mut client, claim.key.restaurant, async |tx| {
                    tx.execute(
                        "UPDATE data_uploads SET heartbeat_at = now(),
                             bytes_processed = least(greatest(bytes_processed, $3), size_bytes),
                             rows_total = greatest(rows_total, $4),
                             rows_ingested = least(greatest(rows_ingested, $5), greatest(rows_total, $4))
                         WHERE id = $1 AND claim_id = $2 AND status = 'processing'",
                        &[&claim.key.upload, &claim.claim_id, &bytes, &total, &ingested],
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
    });
    Heartbeat {
        task,
        stop: Some(stop),
    }
}

/// Gives the claim up without finishing the upload: its heartbeat is made
/// stale, so the next invocation (Lambda's retry) takes it over at once.
pub async fn release(pool: &Pool, claim: &Claim, stale_after: Duration) -> Result<(), StoreError> {
    let mut client = pool.get().await?;
    let stale_secs = stale_after.as_secs_f64();
    with_tenant(&mut client, claim.key.restaurant, async |tx| {
        tx.execute(
            "UPDATE data_uploads SET heartbeat_at = now() - make_interval(secs => $3)
             WHERE id = $1 AND claim_id = $2 AND status = 'processing'",
            &[&claim.key.upload, &claim.claim_id, &stale_secs],
        )
        .await
    })
    .await?;
    Ok(())
}

/// Marks the claimed upload failed with a file-level message.
pub async fn fail(pool: &Pool, claim: &Claim, message: &str) -> Result<(), StoreError> {
    let mut client = pool.get().await?;
    with_tenant(&mut client, claim.key.restaurant, async |tx| {
        tx.execute(
            "UPDATE data_uploads SET status = 'failed', error = $3, bytes_processed = size_bytes,
                 finished_at = clock_timestamp(), heartbeat_at = clock_timestamp()
             WHERE id = $1 AND claim_id = $2 AND status = 'processing'",
            &[&claim.key.upload, &claim.claim_id, &message],
        )
        .await
    })
    .await?;
    Ok(())
}

/// Stores the outcome of the claimed upload in `tx` (the landing
/// transaction); false when a newer claim owns the upload.
pub async fn finish(
    tx: &Transaction<'_>,
    claim: &Claim,
    outcome: &Outcome,
    transaction_block: i64,
) -> Result<bool, tokio_postgres::Error> {
    let updated = tx
        .execute(
            "UPDATE data_uploads
             SET status = $3, rows_total = $4, rows_ingested = $5, rows_rejected = $6,
                 rows_duplicate = $7, transactions_ingested = $8, error = $9, transaction_block = $10,
                 bytes_processed = size_bytes,
                 finished_at = clock_timestamp(), heartbeat_at = clock_timestamp()
             WHERE id = $1 AND claim_id = $2 AND status = 'processing'",
            &[
                &claim.key.upload,
                &claim.claim_id,
                &outcome.status,
                &outcome.rows_total,
                &outcome.rows_ingested,
                &outcome.rows_rejected,
                &outcome.rows_duplicate,
                &outcome.transactions_ingested,
                &outcome.error,
                &transaction_block,
            ],
        )
        .await?;
    Ok(updated == 1)
}
