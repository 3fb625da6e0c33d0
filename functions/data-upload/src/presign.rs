//! Upload URLs: a PUT to one object key, signed for exactly one size, for
//! 15 minutes, once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use flux_shared::uploads::UploadKey;
use serde::Serialize;

use crate::view::UploadView;
use crate::{UploadError, UploadState};

pub const URL_TTL: Duration = Duration::from_secs(15 * 60);

/// Why an upload URL could not be signed (a bug or bad credentials, never
/// the client's doing).
#[derive(Debug, thiserror::Error)]
pub enum PresignError {
    #[error("presigning config: {0}")]
    Config(#[from] aws_sdk_s3::presigning::PresigningConfigError),
    #[error("signing the PUT: {}", aws_sdk_s3::error::DisplayErrorContext(.0))]
    Sign(Box<aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::put_object::PutObjectError>>),
}

/// What the browser needs to PUT the file (API.md `POST /uploads`).
#[derive(Serialize)]
pub struct Created {
    pub upload: UploadView,
    pub upload_url: String,
    pub upload_method: &'static str,
    pub upload_headers: serde_json::Map<String, serde_json::Value>,
    #[serde(with = "flux_shared::timestamps")]
    pub expires_at: DateTime<Utc>,
}

/// A URL the browser PUTs one upload's file to, and the headers to send.
pub struct Presigned {
    pub url: String,
    pub headers: serde_json::Map<String, serde_json::Value>,
    pub expires_at: DateTime<Utc>,
}

impl Presigned {
    pub fn created(self, upload: UploadView) -> Created {
        Created {
            upload,
            upload_url: self.url,
            upload_method: "PUT",
            upload_headers: self.headers,
            expires_at: self.expires_at,
        }
    }
}

/// Signs a PUT of exactly `size_bytes` to the upload's key, once:
/// `If-None-Match: *` makes S3 refuse a second PUT to a key that holds an
/// object, so the stored file stays the one that was ingested.
pub async fn presign(
    state: &UploadState,
    key: &UploadKey,
    content_type: &str,
    size_bytes: i64,
) -> Result<Presigned, UploadError> {
    let expires_at = Utc::now() + URL_TTL;
    let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(URL_TTL)
        .map_err(PresignError::Config)?;
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
        .map_err(|e| PresignError::Sign(Box::new(e)))?;
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
