//! An upload as the API shows it (API.md "Upload"), read by column name.
//! Two statuses are derived when read, in SQL so that the `status` filter
//! and the view agree: `expired` for an upload whose URL ran out with no
//! file, and `failed` for one whose ingestion worker has been silent longer
//! than a Lambda may run (its retries are spent too).

use chrono::{DateTime, Utc};
use flux_shared::timestamps;
use serde::Serialize;
use uuid::Uuid;

/// The columns [`UploadView::of`] reads, as a select list.
pub const COLUMNS: &str =
    "id, filename, size_bytes, rows_total, rows_ingested, rows_rejected, rows_duplicate,
    transactions_ingested, bytes_processed, url_expires_at, created_at, started_at, finished_at,
    transaction_block, s3_key,
    CASE WHEN status = 'awaiting_upload' AND url_expires_at < now() THEN 'expired'
         WHEN status = 'processing' AND heartbeat_at < now() - interval '16 minutes' THEN 'failed'
         ELSE status::text END AS status,
    CASE WHEN status = 'processing' AND heartbeat_at < now() - interval '16 minutes'
         THEN 'ingestion was interrupted; upload the file again'
         ELSE error END AS error";

/// Every status a client may see, and filter by.
pub const STATUSES: &[&str] = &[
    "awaiting_upload",
    "processing",
    "completed",
    "completed_with_errors",
    "failed",
    "expired",
];

/// The effective status as SQL, for filtering.
pub const STATUS_SQL: &str =
    "CASE WHEN status = 'awaiting_upload' AND url_expires_at < now() THEN 'expired'
         WHEN status = 'processing' AND heartbeat_at < now() - interval '16 minutes' THEN 'failed'
         ELSE status::text END";

#[derive(Debug, Serialize)]
pub struct UploadView {
    pub id: Uuid,
    pub filename: String,
    pub size_bytes: i64,
    pub status: String,
    pub rows_total: i64,
    pub rows_ingested: i64,
    pub rows_rejected: i64,
    pub rows_duplicate: i64,
    pub transactions_ingested: i64,
    pub bytes_processed: i64,
    pub error: Option<String>,
    #[serde(with = "timestamps")]
    pub expires_at: DateTime<Utc>,
    #[serde(with = "timestamps")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamps::option")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "timestamps::option")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Where its transactions are (see migration V4); not shown.
    #[serde(skip)]
    pub transaction_block: Option<i64>,
    #[serde(skip)]
    pub s3_key: String,
}

impl UploadView {
    pub fn of(row: &tokio_postgres::Row) -> Self {
        Self {
            id: row.get("id"),
            filename: row.get("filename"),
            size_bytes: row.get("size_bytes"),
            status: row.get("status"),
            rows_total: row.get("rows_total"),
            rows_ingested: row.get("rows_ingested"),
            rows_rejected: row.get("rows_rejected"),
            rows_duplicate: row.get("rows_duplicate"),
            transactions_ingested: row.get("transactions_ingested"),
            bytes_processed: row.get("bytes_processed"),
            error: row.get("error"),
            expires_at: row.get("url_expires_at"),
            created_at: row.get("created_at"),
            started_at: row.get("started_at"),
            finished_at: row.get("finished_at"),
            transaction_block: row.get("transaction_block"),
            s3_key: row.get("s3_key"),
        }
    }
}
