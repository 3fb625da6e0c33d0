//! What data-upload and csv-ingest agree on: where an upload's object lives
//! (`uploads/{restaurant_id}/{upload_id}.csv`) and how to reach the bucket.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use postgres_types::{FromSql, ToSql};
use serde::Serialize;
use uuid::Uuid;

use crate::config::{self, ConfigError, Vars};
use crate::ids::{RestaurantId, UploadId};

/// Where an upload is in its life (PostgreSQL's `upload_status`, API.md's
/// `status`). data-upload's `uploads` module creates and ends uploads;
/// csv-ingest's `store` moves them through ingestion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSql, FromSql)]
#[serde(rename_all = "snake_case")]
#[postgres(name = "upload_status", rename_all = "snake_case")]
pub enum UploadStatus {
    AwaitingUpload,
    Processing,
    Completed,
    CompletedWithErrors,
    Failed,
}

impl UploadStatus {
    /// As PostgreSQL and the API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingUpload => "awaiting_upload",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::CompletedWithErrors => "completed_with_errors",
            Self::Failed => "failed",
        }
    }
}

impl std::fmt::Display for UploadStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The object key of one upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadKey {
    pub restaurant: RestaurantId,
    pub upload: UploadId,
}

impl UploadKey {
    pub fn object_key(&self) -> String {
        format!("uploads/{}/{}.csv", self.restaurant, self.upload)
    }

    /// Parses a plain object key; anything else is `None`.
    pub fn parse(key: &str) -> Option<Self> {
        let rest = key.strip_prefix("uploads/")?.strip_suffix(".csv")?;
        let (restaurant, upload) = rest.split_once('/')?;
        let restaurant = Uuid::parse_str(restaurant).ok()?;
        let upload = Uuid::parse_str(upload).ok()?;
        // Only the canonical spelling: no braces, no uppercase variants.
        let parsed = Self {
            restaurant: RestaurantId(restaurant),
            upload: UploadId(upload),
        };
        (parsed.object_key() == key).then_some(parsed)
    }

    /// Parses a key as S3 event notifications carry it: form-encoded
    /// (`+` is a space), then percent-encoded.
    pub fn from_event_key(encoded: &str) -> Option<Self> {
        Self::parse(&decode_event_key(encoded)?)
    }
}

/// Decodes an S3 event key: `+` → space, then percent-decoding.
pub fn decode_event_key(encoded: &str) -> Option<String> {
    let spaced = encoded.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Where uploads are stored.
#[derive(Clone, Debug)]
pub struct BucketConfig {
    pub bucket: String,
    /// A custom endpoint (the local stack); AWS's own when `None`.
    pub endpoint_url: Option<String>,
}

impl BucketConfig {
    /// `UPLOADS_BUCKET`, and `S3_ENDPOINT_URL` for a non-AWS endpoint.
    pub fn from_env(vars: &(impl Vars + ?Sized)) -> Result<Self, ConfigError> {
        Ok(Self {
            bucket: config::required(vars, "UPLOADS_BUCKET")?,
            endpoint_url: config::optional(vars, "S3_ENDPOINT_URL"),
        })
    }

    /// A client from the default credential chain (the Lambda role).
    pub async fn client(&self) -> aws_sdk_s3::Client {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let mut builder = aws_sdk_s3::config::Builder::from(&sdk);
        if let Some(url) = &self.endpoint_url {
            builder = builder.endpoint_url(url).force_path_style(true);
        }
        aws_sdk_s3::Client::from_conf(builder.build())
    }

    /// A client with explicit static credentials (the local stack, tests).
    pub fn client_with(
        &self,
        region: &str,
        access_key: &str,
        secret_key: &str,
    ) -> aws_sdk_s3::Client {
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .credentials_provider(Credentials::new(
                access_key, secret_key, None, None, "static",
            ));
        if let Some(url) = &self.endpoint_url {
            builder = builder.endpoint_url(url).force_path_style(true);
        }
        aws_sdk_s3::Client::from_conf(builder.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_reject_anything_else() {
        let key = UploadKey {
            restaurant: RestaurantId::new_v4(),
            upload: UploadId::new_v4(),
        };
        assert_eq!(UploadKey::parse(&key.object_key()), Some(key));
        for bad in [
            "uploads/x/y.csv",
            "other/a/b.csv",
            &key.object_key().replace(".csv", ".txt"),
            &key.object_key().to_uppercase(),
            &format!("{}/extra", key.object_key()),
        ] {
            assert_eq!(UploadKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn event_keys_are_decoded_like_s3_encodes_them() {
        assert_eq!(
            decode_event_key("a+b%2Bc%3D.csv").as_deref(),
            Some("a b+c=.csv")
        );
        let key = UploadKey {
            restaurant: RestaurantId::new_v4(),
            upload: UploadId::new_v4(),
        };
        assert_eq!(UploadKey::from_event_key(&key.object_key()), Some(key));
    }
}
