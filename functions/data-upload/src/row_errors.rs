//! `GET /uploads/{id}/errors`: the rejected rows, by line number, paginated.

use flux_shared::http::{self, Request, Response};
use flux_shared::ids::UploadId;
use flux_shared::pages::{Page, PageRequest};
use flux_shared::tenant::with_caller;
use flux_shared::tokens::Caller;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::{UploadError, UploadState};

/// One problem of a rejected row. `value` is the cell as the file wrote it:
/// untrusted text, shown as it is.
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

pub async fn list(
    state: &UploadState,
    caller: &Caller,
    upload_id: UploadId,
    req: &Request,
) -> Result<Response, UploadError> {
    let page: PageRequest<ErrorCursor> = PageRequest::from_query(req)?;
    let (line, seq) = page.after.as_ref().map_or((-1, -1), |c| (c.line, c.seq));
    let mut client = state.pool.get().await?;
    // One transaction: the upload must be the caller's, then its errors.
    let rows = with_caller(&mut client, caller, async |tx| {
        let exists = tx
            .query_opt(
                "SELECT 1 FROM data_uploads WHERE id = $1 AND restaurant_id = $2",
                &[&upload_id, &caller.restaurant_id],
            )
            .await?
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
                &caller.restaurant_id,
                &line,
                &seq,
                &(page.limit + 1),
            ],
        )
        .await
        .map(Some)
    })
    .await?
    .ok_or(UploadError::NotFound)?;
    let items: Vec<RowError> = rows
        .iter()
        .map(|r| RowError {
            line: r.get("line"),
            column: r.get("column_name"),
            value: r.get("value"),
            message: r.get("message"),
            seq: r.get("seq"),
        })
        .collect();
    let page = Page::from_rows(items, page.limit, |e| ErrorCursor {
        line: e.line,
        seq: e.seq,
    });
    Ok(http::json_response(StatusCode::OK, &page))
}
