//! An upload as the API shows it (API.md "Upload"), read by column name.
//! Two statuses are derived when read, in SQL so that the `status` filter
//! and the view agree: `expired` for an upload whose URL ran out with no
//! file, and `failed` for one whose ingestion worker has been silent longer
//! than a Lambda may run (its retries are spent too).

use chrono::{DateTime, Utc};
use flux_shared::timestamps;
use flux_shared::uploads::UploadStatus;
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

/// A status as a client sees it: the stored one, or `expired` (derived).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ShownStatus {
    Stored(UploadStatus),
    #[serde(serialize_with = "expired")]
    Expired,
}

fn expired<S: serde::Serializer>(serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(EXPIRED)
}

const EXPIRED: &str = "expired";

impl ShownStatus {
    /// Every status a client may see, and filter by.
    pub const ALL: [Self; 6] = [
        Self::Stored(UploadStatus::AwaitingUpload),
        Self::Stored(UploadStatus::Processing),
        Self::Stored(UploadStatus::Completed),
        Self::Stored(UploadStatus::CompletedWithErrors),
        Self::Stored(UploadStatus::Failed),
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored(status) => status.as_str(),
            Self::Expired => EXPIRED,
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether the upload still waits for its file (a new URL may be had).
    pub fn awaits_file(self) -> bool {
        matches!(
            self,
            Self::Stored(UploadStatus::AwaitingUpload) | Self::Expired
        )
    }
}

impl std::fmt::Display for ShownStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    pub status: ShownStatus,
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
            status: shown_status(row.get("status")),
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

/// `status` as [`COLUMNS`] derives it; anything else is a bug in that SQL.
fn shown_status(raw: &str) -> ShownStatus {
    ShownStatus::parse(raw).unwrap_or_else(|| {
        tracing::error!(status = raw, "the status SQL gave an unknown status");
        ShownStatus::Stored(UploadStatus::Failed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_statuses_are_spelled_as_the_api_and_postgresql_spell_them() {
        let spelled: Vec<String> = ShownStatus::ALL
            .iter()
            .map(|s| {
                serde_json::to_value(s)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            spelled,
            [
                "awaiting_upload",
                "processing",
                "completed",
                "completed_with_errors",
                "failed",
                "expired"
            ]
        );
        for status in ShownStatus::ALL {
            assert_eq!(ShownStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ShownStatus::parse("deleted"), None);
    }
}
