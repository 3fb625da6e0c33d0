//! Landing an upload's rows: all of them, its errors and its final status in
//! one transaction, so a crash or a timeout leaves nothing half-ingested.
//!
//! [`direct`] inserts orders as the parser produces them: one pass, for files
//! whose orders' lines are close together, as POS exports are. When an order
//! turns out to be spread across the file, it gives up and [`staged`] lands
//! the file again through a staging table that it groups in SQL.

pub mod direct;
pub mod staged;

use deadpool_postgres::{Object, Transaction};
use flux_shared::tenant;
use flux_shared::uploads::UploadStatus;
use tokio_postgres::Error;

use crate::reader::FileProblem;
use crate::rows::RowError;
use crate::store::{self, Claim, StoreError};

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
    pub status: UploadStatus,
    pub rows_total: i64,
    pub rows_ingested: i64,
    pub rows_rejected: i64,
    pub rows_duplicate: i64,
    pub transactions_ingested: i64,
    pub error: Option<String>,
    /// Time spent keeping the rollups (logged, for the benchmark).
    pub rollup_ms: u64,
}

pub enum Landed {
    Done(Outcome),
    /// Another invocation took the upload over; this one changed nothing.
    Superseded,
    /// The parser refused the whole file.
    FileProblem(String),
    /// The parser crashed (a bug of ours): logged, and the upload fails.
    Crashed,
    /// Reading the object broke off: nothing was written, a retry may succeed.
    Interrupted,
}

/// What a landing path found beyond the parser's summary.
#[derive(Debug, Default)]
pub struct Landing {
    /// The block the upload's transaction ids were drawn from.
    pub block: i64,
    /// Valid lines that agree with their order, in orders within range.
    pub lines: i64,
    /// Of those, lines inserted (the rest belong to orders already stored).
    pub rows_ingested: i64,
    pub transactions_ingested: i64,
    /// Lines the parser passed that their order refused: they disagree
    /// with its first line, or its sums are out of range.
    pub rejected: i64,
    /// Errors of the first of them.
    pub errors: Vec<RowError>,
    /// Time spent adding up and writing the rollups.
    pub rollup_time: std::time::Duration,
}

impl Landing {
    /// A line the parser passed, refused by its order.
    pub fn reject(&mut self, error: RowError) {
        self.rejected += 1;
        if self.errors.len() < MAX_STORED_ERROR_ROWS {
            self.errors.push(error);
        }
    }
}

/// Starts the landing transaction as the upload's restaurant.
pub async fn begin<'a>(client: &'a mut Object, claim: &Claim) -> Result<Transaction<'a>, Error> {
    let tx = client.transaction().await?;
    tenant::scope(&tx, claim.key.restaurant).await?;
    Ok(tx)
}

/// Stores the errors and the final status, and commits, unless a newer
/// claim owns the upload.
pub async fn finish(
    tx: Transaction<'_>,
    claim: &Claim,
    summary: ParseSummary,
    landing: Landing,
) -> Result<Landed, StoreError> {
    let rid = claim.key.restaurant;
    let upload = claim.key.upload;
    let mut errors = summary.errors;
    errors.extend(landing.errors);
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

    let rows_rejected = summary.rows_rejected as i64 + landing.rejected;
    let no_valid_rows = landing.lines == 0 && rows_rejected > 0;
    let outcome = Outcome {
        status: if no_valid_rows {
            UploadStatus::Failed
        } else if rows_rejected > 0 {
            UploadStatus::CompletedWithErrors
        } else {
            UploadStatus::Completed
        },
        rows_total: summary.rows_total as i64,
        rows_ingested: landing.rows_ingested,
        rows_rejected,
        rows_duplicate: landing.lines - landing.rows_ingested,
        transactions_ingested: landing.transactions_ingested,
        error: no_valid_rows.then(|| "no valid rows".to_string()),
        rollup_ms: landing.rollup_time.as_millis() as u64,
    };
    let updated = store::finish(&tx, claim, &outcome, landing.block).await?;
    if !updated {
        // Rolled back on drop: the newer claim owns the upload.
        return Ok(Landed::Superseded);
    }
    tx.commit().await?;
    Ok(Landed::Done(outcome))
}

/// The parser's result once the lines have all been landed.
pub async fn parsed(
    parsed: tokio::task::JoinHandle<Result<ParseSummary, FileProblem>>,
) -> Result<ParseSummary, Landed> {
    let summary = match parsed.await {
        Ok(Ok(summary)) => summary,
        Ok(Err(FileProblem::Unreadable(_))) => return Err(Landed::Interrupted),
        Ok(Err(problem)) => return Err(Landed::FileProblem(problem.to_string())),
        Err(join) => {
            tracing::error!(error = %join, "the parser crashed");
            return Err(Landed::Crashed);
        }
    };
    if summary.rows_total == 0 {
        return Err(Landed::FileProblem(
            "the file has a header row but no data rows".into(),
        ));
    }
    Ok(summary)
}
