//! The data-upload function: presigned uploads and their status and row
//! errors (API.md "Uploads"), always scoped to the caller's restaurant.

mod input;
mod pages;

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use flux_shared::db::{self, is_unavailable};
use flux_shared::http::{self, internal_error, HttpConfig, Request, Response, Routed};
use flux_shared::problem::Problem;
use flux_shared::routes::Route;
use flux_shared::tenant::{with_caller, AccessError};
use flux_shared::tokens::{Caller, Verifier};
use flux_shared::uploads::UploadKey;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use input::{NewUpload, NewUploadBody, NewUploadError};
use pages::{Page, PageRequest};

pub const ROUTES: &[Route] = &[
    Route::post("/uploads"),
    Route::get("/uploads"),
    Route::get("/uploads/{id}"),
    Route::get("/uploads/{id}/errors"),
];

pub const DEFAULT_MAX_SIZE_BYTES: i64 = 1 << 30;
pub const URL_TTL: Duration = Duration::from_secs(15 * 60);

/// Built once per container.
pub struct UploadState {
    pub http: HttpConfig,
    pub pool: Pool,
    pub verifier: Verifier,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub max_size_bytes: i64,
}

#[derive(Debug, thiserror::Error)]
enum UploadError {
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database: {}", db::describe(.0))]
    Database(#[from] tokio_postgres::Error),
    #[error("the session has ended")]
    SessionEnded,
    #[error("presigning: {0}")]
    Presign(String),
}

impl From<AccessError> for UploadError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::SessionEnded => UploadError::SessionEnded,
            AccessError::Database(e) => UploadError::Database(e),
        }
    }
}

impl From<UploadError> for Problem {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::SessionEnded => {
                Problem::unauthorized("the session of this access token has ended")
            }
            UploadError::Pool(e) if is_unavailable(&e) => {
                tracing::warn!(error = %e, "database unavailable");
                Problem::unavailable()
            }
            UploadError::Database(e) if db::is_unreachable(&e) => {
                tracing::warn!(error = %db::describe(&e), "database unavailable");
                Problem::unavailable()
            }
            other => internal_error(&other),
        }
    }
}

pub async fn handle(state: &UploadState, req: Request) -> Response {
    http::serve(
        &state.http,
        ROUTES,
        req,
        async |routed: Routed, req: Request| {
            let caller = state.verifier.authenticate(&req)?;
            match (routed.route.method, routed.route.path) {
                ("POST", "/uploads") => create(state, &caller, &req).await,
                ("GET", "/uploads") => list(state, &caller, &req).await,
                (_, "/uploads/{id}") => show(state, &caller, routed.params.get("id")).await,
                _ => errors(state, &caller, routed.params.get("id"), &req).await,
            }
        },
    )
    .await
}

/// An upload as the API shows it.
#[derive(Debug, Serialize)]
struct UploadView {
    id: Uuid,
    filename: String,
    size_bytes: i64,
    status: String,
    rows_total: i64,
    rows_ingested: i64,
    rows_rejected: i64,
    rows_duplicate: i64,
    transactions_ingested: i64,
    error: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

const UPLOAD_COLUMNS: &str = "id, filename, size_bytes, status::text, rows_total, rows_ingested, rows_rejected,
     rows_duplicate, transactions_ingested, error, created_at, started_at, finished_at, url_expires_at, heartbeat_at";

/// A worker silent for longer than the longest Lambda run (15 minutes) is
/// gone, and so are its retries: the upload will never finish.
const ABANDONED_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(16);

impl UploadView {
    fn from_row(row: &tokio_postgres::Row) -> Self {
        let mut status: String = row.get(3);
        let mut error: Option<String> = row.get(9);
        let url_expires_at: DateTime<Utc> = row.get(13);
        let heartbeat_at: Option<DateTime<Utc>> = row.get(14);
        // A URL that expired with no file: nothing will ever arrive.
        if status == "awaiting_upload" && url_expires_at < Utc::now() {
            status = "expired".to_string();
        }
        if status == "processing"
            && heartbeat_at.is_some_and(|beat| Utc::now() - beat > ABANDONED_AFTER)
        {
            status = "failed".to_string();
            error = Some("ingestion was interrupted; upload the file again".to_string());
        }
        Self {
            id: row.get(0),
            filename: row.get(1),
            size_bytes: row.get(2),
            status,
            rows_total: row.get(4),
            rows_ingested: row.get(5),
            rows_rejected: row.get(6),
            rows_duplicate: row.get(7),
            transactions_ingested: row.get(8),
            error,
            created_at: row.get(10),
            started_at: row.get(11),
            finished_at: row.get(12),
        }
    }
}

#[derive(Serialize)]
struct Created {
    upload: UploadView,
    upload_url: String,
    upload_method: &'static str,
    upload_headers: serde_json::Map<String, serde_json::Value>,
    expires_at: DateTime<Utc>,
}

async fn create(state: &UploadState, caller: &Caller, req: &Request) -> Result<Response, Problem> {
    let body: NewUploadBody = http::json_body(req)?;
    let upload = NewUpload::parse(body, state.max_size_bytes).map_err(|e| match e {
        NewUploadError::Invalid(errors) => Problem::validation(errors),
        NewUploadError::TooLarge { max } => {
            Problem::payload_too_large(format!("files are limited to {max} bytes"))
        }
    })?;
    let key = UploadKey {
        restaurant: caller.restaurant_id,
        upload: Uuid::new_v4(),
    };
    let presigned = presign(state, &key, &upload.content_type, upload.size_bytes).await?;
    let expires_at = presigned.expires_at;

    let mut client = state.pool.get().await.map_err(UploadError::from)?;
    let row = with_caller(&mut client, caller, async |tx| {
        tx.query_one(
            &format!(
                "INSERT INTO data_uploads (id, restaurant_id, user_id, filename, s3_key, size_bytes, url_expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 RETURNING {UPLOAD_COLUMNS}"
            ),
            &[
                &key.upload,
                &caller.restaurant_id.0,
                &caller.user_id,
                &upload.filename,
                &key.object_key(),
                &upload.size_bytes,
                &expires_at,
            ],
        )
        .await
        .map_err(UploadError::from)
    })
    .await?;
    tracing::info!(upload_id = %key.upload, restaurant_id = %caller.restaurant_id, size_bytes = upload.size_bytes, "upload created");
    http::json_response(
        StatusCode::CREATED,
        &Created {
            upload: UploadView::from_row(&row),
            upload_url: presigned.url,
            upload_method: "PUT",
            upload_headers: presigned.headers,
            expires_at,
        },
    )
}

/// A URL the browser PUTs one upload's file to, and the headers to send.
struct Presigned {
    url: String,
    headers: serde_json::Map<String, serde_json::Value>,
    expires_at: DateTime<Utc>,
}

/// Signs a PUT of exactly `size_bytes` to the upload's key, once:
/// `If-None-Match: *` makes S3 refuse a second PUT to a key that holds an
/// object, so the stored file stays the one that was ingested.
async fn presign(
    state: &UploadState,
    key: &UploadKey,
    content_type: &str,
    size_bytes: i64,
) -> Result<Presigned, UploadError> {
    let expires_at = Utc::now() + URL_TTL;
    let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(URL_TTL)
        .map_err(|e| UploadError::Presign(e.to_string()))?;
    let presigned = state
        .s3
        .put_object()
        .bucket(&state.bucket)
        .key(key.object_key())
        .content_type(content_type)
        .content_length(size_bytes)
        .if_none_match("*")
        .presigned(config)
        .await
        .map_err(|e| UploadError::Presign(e.to_string()))?;
    // Every signed header but those the browser sets itself (host, and
    // content-length, which is signed too: the body must be that size).
    let headers = presigned
        .headers()
        .filter(|(name, _)| {
            !["host", "content-length"].contains(&name.to_ascii_lowercase().as_str())
        })
        .map(|(name, value)| (name.to_ascii_lowercase(), serde_json::Value::from(value)))
        .collect();
    Ok(Presigned {
        url: presigned.uri().to_string(),
        headers,
        expires_at,
    })
}

#[derive(Serialize, Deserialize)]
struct UploadCursor {
    created_at: DateTime<Utc>,
    id: Uuid,
}

async fn list(state: &UploadState, caller: &Caller, req: &Request) -> Result<Response, Problem> {
    let page: PageRequest<UploadCursor> = PageRequest::from_query(req)?;
    let (after_time, after_id) = match &page.after {
        Some(c) => (Some(c.created_at), Some(c.id)),
        None => (None, None),
    };
    let mut client = state.pool.get().await.map_err(UploadError::from)?;
    let rows = with_caller(&mut client, caller, async |tx| {
        tx.query(
            &format!(
                "SELECT {UPLOAD_COLUMNS} FROM data_uploads
                 WHERE restaurant_id = $1
                   AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
                 ORDER BY created_at DESC, id DESC
                 LIMIT $4"
            ),
            &[
                &caller.restaurant_id.0,
                &after_time,
                &after_id,
                &(page.limit + 1),
            ],
        )
        .await
        .map_err(UploadError::from)
    })
    .await?;
    let items: Vec<UploadView> = rows.iter().map(UploadView::from_row).collect();
    let page = Page::from_rows(items, page.limit, |u| UploadCursor {
        created_at: u.created_at,
        id: u.id,
    });
    http::json_response(StatusCode::OK, &page)
}

/// The upload, if `id` names one of the caller's restaurant's uploads.
async fn find(
    client: &mut tokio_postgres::Client,
    caller: &Caller,
    id: Option<&str>,
) -> Result<Option<tokio_postgres::Row>, UploadError> {
    let Some(id) = id.and_then(|id| Uuid::parse_str(id).ok()) else {
        return Ok(None);
    };
    with_caller(client, caller, async |tx| {
        tx.query_opt(
            &format!(
                "SELECT {UPLOAD_COLUMNS} FROM data_uploads WHERE id = $1 AND restaurant_id = $2"
            ),
            &[&id, &caller.restaurant_id.0],
        )
        .await
        .map_err(UploadError::from)
    })
    .await
}

async fn show(state: &UploadState, caller: &Caller, id: Option<&str>) -> Result<Response, Problem> {
    let mut client = state.pool.get().await.map_err(UploadError::from)?;
    let row = find(&mut client, caller, id)
        .await?
        .ok_or_else(Problem::not_found)?;
    http::json_response(StatusCode::OK, &UploadView::from_row(&row))
}

#[derive(Serialize)]
struct RowError {
    line: i64,
    column: Option<String>,
    value: Option<String>,
    message: String,
    #[serde(skip)]
    seq: i32,
}

#[derive(Serialize, Deserialize)]
struct ErrorCursor {
    line: i64,
    seq: i32,
}

async fn errors(
    state: &UploadState,
    caller: &Caller,
    id: Option<&str>,
    req: &Request,
) -> Result<Response, Problem> {
    let page: PageRequest<ErrorCursor> = PageRequest::from_query(req)?;
    let Some(upload_id) = id.and_then(|id| Uuid::parse_str(id).ok()) else {
        return Err(Problem::not_found());
    };
    let (line, seq) = page.after.as_ref().map_or((-1, -1), |c| (c.line, c.seq));
    let mut client = state.pool.get().await.map_err(UploadError::from)?;
    // One transaction: the upload must be the caller's, then its errors.
    let rows = with_caller(&mut client, caller, async |tx| {
        let exists = tx
            .query_opt(
                "SELECT 1 FROM data_uploads WHERE id = $1 AND restaurant_id = $2",
                &[&upload_id, &caller.restaurant_id.0],
            )
            .await
            .map_err(UploadError::from)?
            .is_some();
        if !exists {
            return Ok(None);
        }
        tx.query(
            "SELECT line, column_name, value, message, seq FROM data_upload_errors
             WHERE upload_id = $1 AND restaurant_id = $2 AND (line, seq) > ($3, $4)
             ORDER BY line, seq
             LIMIT $5",
            &[
                &upload_id,
                &caller.restaurant_id.0,
                &line,
                &seq,
                &(page.limit + 1),
            ],
        )
        .await
        .map(Some)
        .map_err(UploadError::from)
    })
    .await?
    .ok_or_else(Problem::not_found)?;
    let items: Vec<RowError> = rows
        .iter()
        .map(|r| RowError {
            line: r.get(0),
            column: r.get(1),
            value: r.get(2),
            message: r.get(3),
            seq: r.get(4),
        })
        .collect();
    let page = Page::from_rows(items, page.limit, |e| ErrorCursor {
        line: e.line,
        seq: e.seq,
    });
    http::json_response(StatusCode::OK, &page)
}
