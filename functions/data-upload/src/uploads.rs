//! Creating, listing, showing and deleting uploads, and fresh URLs for
//! uploads whose file never arrived.

use flux_shared::http::{self, Request, Response};
use flux_shared::ids::UploadId;
use flux_shared::pages::{Page, PageRequest};
use flux_shared::problem::{FieldError, Problem};
use flux_shared::tenant::{self, with_caller};
use flux_shared::tokens::Caller;
use flux_shared::uploads::{UploadKey, UploadStatus};
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::input::{NewUpload, NewUploadBody};
use crate::presign::presign;
use crate::view::{ShownStatus, UploadView, COLUMNS, STATUS_SQL};
use crate::{UploadError, UploadState};

pub async fn create(
    state: &UploadState,
    caller: &Caller,
    req: &Request,
) -> Result<Response, UploadError> {
    let body: NewUploadBody = http::json_body(req)?;
    let upload = NewUpload::parse(body, state.max_size_bytes)?;
    let key = UploadKey {
        restaurant: caller.restaurant_id,
        upload: UploadId::new_v4(),
    };
    let presigned = presign(state, &key, &upload.content_type, upload.size_bytes).await?;
    let mut client = state.pool.get().await?;
    let row = with_caller(&mut client, caller, async |tx| {
        tx.query_one(
            &format!(
                "INSERT INTO data_uploads (id, restaurant_id, user_id, filename, s3_key, size_bytes,
                                           content_type, url_expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 RETURNING {COLUMNS}"
            ),
            &[
                &key.upload,
                &caller.restaurant_id,
                &caller.user_id,
                &upload.filename,
                &key.object_key(),
                &upload.size_bytes,
                &upload.content_type,
                &presigned.expires_at,
            ],
        )
        .await
    })
    .await?;
    tracing::info!(upload_id = %key.upload, size_bytes = upload.size_bytes, "upload created");
    Ok(http::json_response(
        StatusCode::CREATED,
        &presigned.created(UploadView::of(&row)),
    ))
}

#[derive(Serialize, Deserialize)]
struct UploadCursor {
    created_at: chrono::DateTime<chrono::Utc>,
    id: Uuid,
}

/// `?status=failed,completed_with_errors`: the statuses asked for, every
/// one when absent.
fn status_filter(req: &Request) -> Result<Option<Vec<String>>, Problem> {
    let query = req.uri().query().unwrap_or("");
    let Some(raw) = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "status")
        .map(|(_, v)| v.into_owned())
        .last()
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    let wanted: Vec<String> = raw.split(',').map(|s| s.trim().to_string()).collect();
    if let Some(unknown) = wanted.iter().find(|s| ShownStatus::parse(s).is_none()) {
        let statuses: Vec<&str> = ShownStatus::ALL.iter().map(|s| s.as_str()).collect();
        return Err(Problem::invalid_query(vec![FieldError::new(
            "status",
            format!("{unknown:?} is not a status; use {}", statuses.join(", ")),
        )]));
    }
    Ok(Some(wanted))
}

pub async fn list(
    state: &UploadState,
    caller: &Caller,
    req: &Request,
) -> Result<Response, UploadError> {
    let page: PageRequest<UploadCursor> = PageRequest::from_query(req)?;
    let statuses = status_filter(req)?;
    let (after_time, after_id) = match &page.after {
        Some(c) => (Some(c.created_at), Some(c.id)),
        None => (None, None),
    };
    let mut client = state.pool.get().await?;
    let rows = with_caller(&mut client, caller, async |tx| {
        tx.query(
            &format!(
                "SELECT {COLUMNS} FROM data_uploads
                 WHERE restaurant_id = $1
                   AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
                   AND ($5::text[] IS NULL OR ({STATUS_SQL}) = ANY($5))
                 ORDER BY created_at DESC, id DESC
                 LIMIT $4"
            ),
            &[
                &caller.restaurant_id,
                &after_time,
                &after_id,
                &(page.limit + 1),
                &statuses,
            ],
        )
        .await
    })
    .await?;
    let items: Vec<UploadView> = rows.iter().map(UploadView::of).collect();
    let page = Page::from_rows(items, page.limit, |u| UploadCursor {
        created_at: u.created_at,
        id: u.id,
    });
    Ok(http::json_response(StatusCode::OK, &page))
}

pub async fn show(
    state: &UploadState,
    caller: &Caller,
    id: UploadId,
) -> Result<Response, UploadError> {
    let mut client = state.pool.get().await?;
    let row = with_caller(&mut client, caller, async |tx| {
        tx.query_opt(
            &format!("SELECT {COLUMNS} FROM data_uploads WHERE id = $1 AND restaurant_id = $2"),
            &[&id, &caller.restaurant_id],
        )
        .await
    })
    .await?
    .ok_or(UploadError::NotFound)?;
    Ok(http::json_response(StatusCode::OK, &UploadView::of(&row)))
}

/// `POST /uploads/{id}/url`: a fresh URL for an upload whose file never
/// arrived (a failed or abandoned PUT), so the browser can try again.
pub async fn fresh_url(
    state: &UploadState,
    caller: &Caller,
    id: UploadId,
) -> Result<Response, UploadError> {
    let key = UploadKey {
        restaurant: caller.restaurant_id,
        upload: id,
    };
    let mut client = state.pool.get().await?;
    let tx = tenant::begin_for(&mut client, caller).await?;
    let row = tx
        .query_opt(
            &format!(
                "SELECT {COLUMNS}, content_type FROM data_uploads
                 WHERE id = $1 AND restaurant_id = $2 FOR UPDATE"
            ),
            &[&id, &caller.restaurant_id],
        )
        .await?
        .ok_or(UploadError::NotFound)?;
    let upload = UploadView::of(&row);
    if !upload.status.awaits_file() {
        return Err(UploadError::NotAwaitingFile(upload.status));
    }
    let content_type: String = row.get("content_type");
    let presigned = presign(state, &key, &content_type, upload.size_bytes).await?;
    let row = tx
        .query_one(
            &format!(
                "UPDATE data_uploads SET url_expires_at = $3 WHERE id = $1 AND restaurant_id = $2
                 RETURNING {COLUMNS}"
            ),
            &[&id, &caller.restaurant_id, &presigned.expires_at],
        )
        .await?;
    tx.commit().await?;
    Ok(http::json_response(
        StatusCode::CREATED,
        &presigned.created(UploadView::of(&row)),
    ))
}

/// `DELETE /uploads/{id}`: the upload, its row errors, the transactions it
/// ingested with their lines, and its share of every rollup, in one
/// database transaction; then its file. Orders it skipped as duplicates
/// belong to the uploads that ingested them and stay.
pub async fn delete(
    state: &UploadState,
    caller: &Caller,
    id: UploadId,
) -> Result<Response, UploadError> {
    let mut client = state.pool.get().await?;
    let tx = tenant::begin_for(&mut client, caller).await?;
    // The row lock keeps csv-ingest from claiming the upload meanwhile.
    let upload = tx
        .query_opt(
            &format!("SELECT {COLUMNS} FROM data_uploads WHERE id = $1 AND restaurant_id = $2 FOR UPDATE"),
            &[&id, &caller.restaurant_id],
        )
        .await
        ?
        .map(|row| UploadView::of(&row))
        .ok_or(UploadError::NotFound)?;
    if upload.status == ShownStatus::Stored(UploadStatus::Processing) {
        return Err(UploadError::BeingIngested);
    }
    if let Some(block) = upload.transaction_block {
        let (first, after) = (block << 32, (block + 1) << 32);
        tx.execute("SELECT sales_rollups_remove($1)", &[&id])
            .await?;
        tx.execute(
            "DELETE FROM transaction_items WHERE transaction_id >= $1 AND transaction_id < $2",
            &[&first, &after],
        )
        .await?;
        tx.execute(
            "DELETE FROM transactions WHERE restaurant_id = $3 AND id >= $1 AND id < $2",
            &[&first, &after, &caller.restaurant_id],
        )
        .await?;
    }
    tx.execute(
        "DELETE FROM data_uploads WHERE id = $1 AND restaurant_id = $2",
        &[&id, &caller.restaurant_id],
    )
    .await?;
    tx.commit().await?;
    tracing::info!(upload_id = %id, transactions = upload.transactions_ingested, "upload deleted");
    // The file goes too; if it cannot, the bucket's lifecycle expires it.
    if let Err(e) = state
        .s3
        .delete_object()
        .bucket(&state.bucket)
        .key(&upload.s3_key)
        .send()
        .await
    {
        tracing::warn!(error = %aws_sdk_s3::error::DisplayErrorContext(&e), "the upload's file was not deleted");
    }
    Ok(http::no_content())
}
