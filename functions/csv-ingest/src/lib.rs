//! The csv-ingest function: S3 ObjectCreated events → validated rows →
//! PostgreSQL, exactly once per upload (CSV.md, API.md "Ingestion").

pub mod amounts;
mod cells;
pub mod columns;
pub mod land;
pub mod orders;
pub mod reader;
pub mod rollups;
pub mod rows;
pub mod store;
pub mod values;
mod vendors;

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::s3::S3Event;
use deadpool_postgres::Pool;
use flux_shared::config::{StartupError, Vars};
use flux_shared::db::{self};
use flux_shared::ids::UploadId;
use flux_shared::secrets::Secrets;
use flux_shared::uploads::BucketConfig;
use flux_shared::uploads::UploadKey;
use futures::FutureExt;
use tokio::io::AsyncRead;
use tokio::sync::mpsc;
use tracing::Instrument;

use land::{Landed, ParseSummary, MAX_STORED_ERROR_ROWS};
use reader::FileProblem;
use rows::{Outcome as RowOutcome, RowParser};
use store::{Claim, Claimed, Progress, StoreError};

/// Valid lines travel from the parser to the loader in batches of this many.
const BATCH_LINES: usize = 2048;

/// What `error` says when ingestion failed for a reason of ours, not the
/// file's: the cause is logged with the request id, never shown.
pub const INTERNAL_FAILURE: &str =
    "the file could not be ingested because of an internal error; it has been logged";

/// How often the claim's heartbeat publishes progress: a client sees the
/// first figures within 250 ms of the file landing, then at least every
/// 500 ms (API.md).
pub const HEARTBEAT_EVERY: Duration = Duration::from_millis(200);

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

/// What its deployment sets (Terraform's `routes.tf`); a test holds both to it.
pub const ENVIRONMENT: &[&str] = flux_shared::environment![
    flux_shared::config::FUNCTION_ENVIRONMENT,
    db::APP_ENVIRONMENT,
    &["DB_STATEMENT_TIMEOUT_MS", "DB_POOL_MAX", "UPLOADS_BUCKET"],
];

/// A claim whose heartbeat is older than this was abandoned (its heartbeat
/// is every [`HEARTBEAT_EVERY`]).
pub const STALE_AFTER: Duration = Duration::from_secs(30);

impl IngestState {
    /// Production timings around the given pool and bucket.
    pub fn new(pool: Pool, s3: aws_sdk_s3::Client, bucket: String) -> Self {
        Self {
            pool,
            s3,
            bucket,
            stale_after: STALE_AFTER,
            heartbeat_every: HEARTBEAT_EVERY,
        }
    }

    /// The state as deployed: every setting from `vars`, secrets through `secrets`.
    pub async fn from_env(
        vars: &(impl Vars + ?Sized),
        secrets: &Arc<Secrets>,
    ) -> Result<Self, StartupError> {
        let pool = flux_shared::db::app_pool(vars, secrets).await?;
        let bucket = BucketConfig::from_env(vars)?;
        Ok(Self::new(pool, bucket.client().await, bucket.bucket))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Another invocation is ingesting this upload; try again later (Lambda
    /// retries asynchronous invocations), by which time it has finished or
    /// stopped heart-beating.
    #[error("upload {0} is being ingested by another invocation")]
    Busy(UploadId),
    /// Reading the object failed part-way (S3 or the network): the claim is
    /// released, so Lambda's retry takes the upload over at once.
    #[error("reading upload {0} was interrupted; a retry will ingest it")]
    Interrupted(UploadId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Handles every record of an event. Keys that are not uploads are logged
/// and dropped; an error makes Lambda retry the whole event, which is safe:
/// finished uploads are skipped. `request_id` is the invocation's, for logs.
pub async fn handle(
    state: &IngestState,
    event: S3Event,
    request_id: &str,
) -> Result<(), IngestError> {
    let span = tracing::info_span!("invocation", request_id);
    async {
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
    .instrument(span)
    .await
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
    let heartbeat = store::heartbeat(
        state.pool.clone(),
        claim.clone(),
        progress.clone(),
        state.heartbeat_every,
    );

    // A panic is a bug of ours: the upload fails with a generic message
    // instead of staying `processing`, and the cause goes to the logs.
    let landed = AssertUnwindSafe(land_object(state, &claim, &progress))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %message, "ingestion panicked");
            Ok(Landed::Crashed)
        });
    match landed {
        Ok(Landed::Done(outcome)) => {
            tracing::info!(
                status = %outcome.status,
                rows_total = outcome.rows_total,
                rows_ingested = outcome.rows_ingested,
                rows_rejected = outcome.rows_rejected,
                rows_duplicate = outcome.rows_duplicate,
                rollup_ms = outcome.rollup_ms,
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
        Ok(Landed::Crashed) => {
            store::fail(&state.pool, &claim, INTERNAL_FAILURE).await?;
            Ok(())
        }
        Ok(Landed::Interrupted) => {
            heartbeat.stop().await;
            store::release(&state.pool, &claim, state.stale_after).await?;
            Err(IngestError::Interrupted(claim.key.upload))
        }
        Err(StoreError::Database(e)) if !db::is_unreachable(&e) => {
            // The data itself, or a bug: retrying would fail the same way.
            tracing::error!(error = %db::describe(&e), "upload could not be stored");
            store::fail(&state.pool, &claim, INTERNAL_FAILURE).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Reads and lands the object: the fast path first, the staged path when it
/// finds an order spread across the file, reading the file again.
async fn land_object(
    state: &IngestState,
    claim: &Claim,
    progress: &Arc<Progress>,
) -> Result<Landed, StoreError> {
    let mut staged = false;
    loop {
        let (lines, parser) = match open_object(state, claim, progress).await {
            Ok(parsing) => parsing,
            Err(landed) => return Ok(landed),
        };
        if staged {
            return land::staged::land(&state.pool, claim, lines, parser, progress).await;
        }
        match land::direct::land(&state.pool, claim, lines, parser, progress).await? {
            Some(landed) => return Ok(landed),
            None => {
                tracing::info!("orders are spread across the file; landing it through staging");
                progress.restart();
                staged = true;
            }
        }
    }
}

type Parsing = (
    mpsc::Receiver<Vec<rows::Line>>,
    tokio::task::JoinHandle<Result<ParseSummary, FileProblem>>,
);

/// Starts reading the object from S3 and parsing it on its own task: its
/// valid lines, and the parser's summary at the end. When the object is
/// gone the upload fails; when S3 cannot be reached, a retry will try again.
async fn open_object(
    state: &IngestState,
    claim: &Claim,
    progress: &Arc<Progress>,
) -> Result<Parsing, Landed> {
    let object = state
        .s3
        .get_object()
        .bucket(&state.bucket)
        .key(claim.key.object_key())
        .send()
        .await;
    let body = match object {
        Ok(object) => object.body.into_async_read(),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
            tracing::warn!("the object is gone");
            return Err(Landed::FileProblem(
                "the uploaded file is no longer in storage; upload it again".into(),
            ));
        }
        Err(e) => {
            tracing::warn!(error = %aws_sdk_s3::error::DisplayErrorContext(&e), "cannot read the object");
            return Err(Landed::Interrupted);
        }
    };
    let (lines_tx, lines_rx) = mpsc::channel(1);
    let body = Counted {
        inner: body,
        progress: progress.clone(),
    };
    let parser = tokio::spawn(parse(body, claim.clone(), lines_tx, progress.clone()));
    Ok((lines_rx, parser))
}

/// The object's bytes, counted as they are read (`bytes_processed`).
struct Counted<R> {
    inner: R,
    progress: Arc<Progress>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counted<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        self.progress.bytes.fetch_add(read, Ordering::Release);
        result
    }
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
            .store(summary.rows_total, Ordering::Release);
    }
    if !batch.is_empty() {
        let _ = lines.send(batch).await;
    }
    Ok(summary)
}
