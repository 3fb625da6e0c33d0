//! The csv-ingest function: S3 ObjectCreated events → validated rows →
//! PostgreSQL, exactly once per upload (CSV.md, API.md "Ingestion").

pub mod columns;
pub mod land;
pub mod orders;
pub mod reader;
pub mod rows;
pub mod store;
pub mod values;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::s3::S3Event;
use deadpool_postgres::Pool;
use flux_shared::uploads::UploadKey;
use tokio::io::AsyncRead;
use tokio::sync::mpsc;
use tracing::Instrument;

use land::{Landed, ParseSummary, MAX_STORED_ERROR_ROWS};
use reader::FileProblem;
use rows::{Outcome as RowOutcome, RowParser};
use store::{Claim, Claimed, Progress, StoreError};

/// Valid lines travel from the parser to the loader in batches of this many.
const BATCH_LINES: usize = 2048;

/// Built once per container.
pub struct IngestState {
    /// Its statement timeout must allow for landing a large file.
    pub pool: Pool,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    /// A claim whose heartbeat is older than this may be taken over.
    pub stale_after: Duration,
    pub heartbeat_every: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Another invocation is ingesting this upload; try again later (Lambda
    /// retries asynchronous invocations), by which time it has finished or
    /// stopped heart-beating.
    #[error("upload {0} is being ingested by another invocation")]
    Busy(uuid::Uuid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Handles every record of an event. Keys that are not uploads are logged
/// and dropped; an error makes Lambda retry the whole event, which is safe:
/// finished uploads are skipped.
pub async fn handle(state: &IngestState, event: S3Event) -> Result<(), IngestError> {
    for record in event.records {
        let raw_key = record.s3.object.key.unwrap_or_default();
        let Some(key) = UploadKey::from_event_key(&raw_key) else {
            tracing::warn!(key = %raw_key, "object is not an upload; ignored");
            continue;
        };
        ingest(state, key).await?;
    }
    Ok(())
}

pub async fn ingest(state: &IngestState, key: UploadKey) -> Result<(), IngestError> {
    let span =
        tracing::info_span!("ingest", upload_id = %key.upload, restaurant_id = %key.restaurant);
    ingest_claimed(state, key).instrument(span).await
}

async fn ingest_claimed(state: &IngestState, key: UploadKey) -> Result<(), IngestError> {
    let claim = match store::claim(&state.pool, key, state.stale_after).await? {
        Claimed::Mine(claim) => claim,
        Claimed::Busy => return Err(IngestError::Busy(key.upload)),
        Claimed::Finished => {
            tracing::info!("upload already ingested; duplicate event ignored");
            return Ok(());
        }
        Claimed::Unknown => {
            tracing::warn!("no upload has this key; event dropped");
            return Ok(());
        }
    };
    tracing::info!("ingesting");
    let progress = Arc::new(Progress::default());
    let _heartbeat = store::heartbeat(
        state.pool.clone(),
        claim.clone(),
        progress.clone(),
        state.heartbeat_every,
    );

    // The fast path first; the staged path when it finds an order spread
    // across the file, reading the file again from the start.
    let mut staged = false;
    let landed = loop {
        let Some((lines, parser)) = open_object(state, &claim, &progress).await else {
            store::fail(&state.pool, &claim, "the uploaded file could not be read").await?;
            return Ok(());
        };
        if staged {
            break land::staged::land(&state.pool, &claim, lines, parser).await;
        }
        match land::direct::land(&state.pool, &claim, lines, parser).await {
            Ok(Some(landed)) => break Ok(landed),
            Ok(None) => {
                tracing::info!("orders are spread across the file; landing it through staging");
                progress.restart();
                staged = true;
            }
            Err(e) => break Err(e),
        }
    };
    match landed {
        Ok(Landed::Done(outcome)) => {
            tracing::info!(
                status = outcome.status,
                rows_total = outcome.rows_total,
                rows_ingested = outcome.rows_ingested,
                rows_rejected = outcome.rows_rejected,
                rows_duplicate = outcome.rows_duplicate,
                "upload ingested"
            );
            Ok(())
        }
        Ok(Landed::Superseded) => {
            tracing::warn!("another invocation took this upload over; nothing written");
            Ok(())
        }
        Ok(Landed::FileProblem(message)) => {
            tracing::info!(error = %message, "upload refused");
            store::fail(&state.pool, &claim, &message).await?;
            Ok(())
        }
        Err(e) if e.is_data_error() => {
            tracing::error!(error = %e, "upload could not be stored");
            store::fail(
                &state.pool,
                &claim,
                "the file could not be ingested (a value is out of range)",
            )
            .await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

type Parsing = (
    mpsc::Receiver<Vec<rows::Line>>,
    tokio::task::JoinHandle<Result<ParseSummary, FileProblem>>,
);

/// Starts reading the object from S3 and parsing it on its own task: its
/// valid lines, and the parser's summary at the end. `None` when the object
/// cannot be read.
async fn open_object(
    state: &IngestState,
    claim: &Claim,
    progress: &Arc<Progress>,
) -> Option<Parsing> {
    let object = state
        .s3
        .get_object()
        .bucket(&state.bucket)
        .key(claim.key.object_key())
        .send()
        .await;
    let body = match object {
        Ok(object) => object.body.into_async_read(),
        Err(e) => {
            tracing::error!(error = %aws_sdk_s3::error::DisplayErrorContext(&e), "cannot read the object");
            return None;
        }
    };
    let (lines_tx, lines_rx) = mpsc::channel(4);
    let parser = tokio::spawn(parse(body, claim.clone(), lines_tx, progress.clone()));
    Some((lines_rx, parser))
}

/// Parses the stream on its own task, sending valid lines to the loader as
/// they come, so parsing and loading use both cores.
async fn parse<R: AsyncRead + Unpin + Send>(
    body: R,
    claim: Claim,
    lines: mpsc::Sender<Vec<rows::Line>>,
    progress: Arc<Progress>,
) -> Result<ParseSummary, FileProblem> {
    let (sniffed, mut stream) = reader::open(body).await?;
    let parser = RowParser {
        columns: sniffed.columns,
        timezone: claim.timezone,
        numbers: sniffed.numbers,
        encoding: sniffed.encoding,
    };
    let mut summary = ParseSummary::default();
    let mut error_rows = 0usize;
    let mut batch = Vec::with_capacity(BATCH_LINES);
    while let Some((line, record)) = stream.next().await? {
        summary.rows_total += 1;
        let fields: Vec<&[u8]> = record.iter().collect();
        match parser.parse(&fields, line) {
            RowOutcome::Valid(valid) => {
                batch.push(valid);
                if batch.len() == BATCH_LINES {
                    progress
                        .rows_valid
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_LINES));
                    if lines.send(full).await.is_err() {
                        return Err(FileProblem::Unreadable("the loader stopped".into()));
                    }
                }
            }
            RowOutcome::Rejected(errors) => {
                summary.rows_rejected += 1;
                if error_rows < MAX_STORED_ERROR_ROWS {
                    error_rows += 1;
                    summary.errors.extend(errors);
                }
            }
            RowOutcome::Skipped => {}
        }
        progress
            .rows_total
            .store(summary.rows_total, Ordering::Relaxed);
    }
    if !batch.is_empty() {
        progress
            .rows_valid
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let _ = lines.send(batch).await;
    }
    Ok(summary)
}
