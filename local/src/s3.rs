//! An S3-compatible endpoint on loopback, storing objects on disk (`s3s-fs`,
//! which checks SigV4 signatures and presigned URLs like S3 does). After
//! every object is created it sends the same `S3Event` that AWS delivers to
//! csv-ingest, key URL-encoded and all, asynchronously like S3 invoking Lambda.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use aws_lambda_events::s3::S3Event;
use futures::future::BoxFuture;
use http::{Method, StatusCode};
use hyper::body::Incoming;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::serving::Responder;

/// Receives every ObjectCreated event, as csv-ingest's Lambda would.
pub type ObjectCreatedHandler = Arc<dyn Fn(S3Event) -> BoxFuture<'static, ()> + Send + Sync>;

pub const REGION: &str = "us-east-1";

/// What a client needs to talk to the endpoint.
#[derive(Clone, Debug)]
pub struct S3Endpoint {
    pub url: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: secrecy::SecretString,
}

/// The uploads bucket's CORS rule, as `infrastructure/modules/storage`
/// sets it in AWS (a test compares the two): browsers PUT files straight
/// to presigned URLs from the app's origins.
pub const CORS_METHODS: &[&str] = &["PUT"];
pub const CORS_HEADERS: &[&str] = &["content-type", "content-length", "if-none-match"];
pub const CORS_EXPOSE: &[&str] = &["etag"];
pub const CORS_MAX_AGE: u32 = 3000;

/// Serves S3 on `listener` until `shutdown` turns true, answering browsers
/// from `allowed_origins` as the bucket's CORS rule does.
pub async fn serve(
    listener: TcpListener,
    root: PathBuf,
    endpoint: S3Endpoint,
    allowed_origins: Vec<String>,
    on_created: Option<ObjectCreatedHandler>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    use secrecy::ExposeSecret;
    std::fs::create_dir_all(root.join(&endpoint.bucket))?;
    let fs = s3s_fs::FileSystem::new(&root)
        .map_err(|e| anyhow::anyhow!("s3 storage at {}: {e:?}", root.display()))?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(
        endpoint.access_key.clone(),
        endpoint.secret_key.expose_secret().to_string(),
    ));
    let notifier = Arc::new(Notifier {
        service: builder.build(),
        root,
        on_created,
        conditional_puts: std::sync::Mutex::new(std::collections::HashSet::new()),
        allowed_origins,
    });
    crate::serving::serve(listener, notifier, shutdown).await
}

struct Notifier {
    service: S3Service,
    root: PathBuf,
    on_created: Option<ObjectCreatedHandler>,
    /// Keys with a conditional PUT in flight: S3 lets one of two racing
    /// conditional writes win and refuses the other.
    conditional_puts: std::sync::Mutex<std::collections::HashSet<PathBuf>>,
    allowed_origins: Vec<String>,
}

/// Releases a key's conditional-PUT slot when the PUT is done.
struct InFlight<'a> {
    notifier: &'a Notifier,
    path: PathBuf,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.notifier
            .conditional_puts
            .lock()
            .expect("not poisoned")
            .remove(&self.path);
    }
}

impl Responder for Notifier {
    type Body = s3s::Body;

    /// CORS around every request, as S3 does it for a bucket with a CORS
    /// rule: preflights are answered without any signature, and every
    /// answer to an allowed origin, errors included, says it is allowed.
    async fn respond(
        &self,
        req: http::Request<Incoming>,
        peer: SocketAddr,
    ) -> http::Response<s3s::Body> {
        let origin = req
            .headers()
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .filter(|o| self.allowed_origins.iter().any(|a| a == "*" || a == o))
            .map(str::to_string);
        let mut response = match req
            .headers()
            .get(http::header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            Some(method) if req.method() == Method::OPTIONS => {
                preflight(origin.as_deref(), method, req.headers())
            }
            _ => self.handle_s3(req, peer).await,
        };
        if let Some(origin) = origin.and_then(|o| http::HeaderValue::from_str(&o).ok()) {
            let headers = response.headers_mut();
            headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
                http::HeaderValue::from_str(&CORS_EXPOSE.join(", ")).expect("static names"),
            );
        }
        response
            .headers_mut()
            .append(http::header::VARY, http::HeaderValue::from_static("origin"));
        response
    }
}

impl Notifier {
    async fn handle_s3(
        &self,
        req: http::Request<Incoming>,
        peer: SocketAddr,
    ) -> http::Response<s3s::Body> {
        let event_name = creates_object(&req);
        let path = req.uri().path().to_string();
        let target = split_path(&path);
        // The files live on disk: `.` and `..` must never name a path.
        if let Some((bucket, key)) = &target {
            if [bucket.as_str(), key.as_str()]
                .iter()
                .flat_map(|p| p.split('/'))
                .any(|segment| segment == "." || segment == "..")
            {
                return s3_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "object keys may not contain . or .. segments",
                );
            }
        }
        // S3's conditional write: `If-None-Match: *` refuses to replace an object.
        let _in_flight = match (&target, event_name, if_none_match_any(&req)) {
            (Some((bucket, key)), Some(_), true) => {
                let file = self.root.join(bucket).join(key);
                if file.exists() {
                    return s3_error(
                        StatusCode::PRECONDITION_FAILED,
                        "PreconditionFailed",
                        "At least one of the pre-conditions you specified did not hold",
                    );
                }
                if !self
                    .conditional_puts
                    .lock()
                    .expect("not poisoned")
                    .insert(file.clone())
                {
                    return s3_error(
                        StatusCode::CONFLICT,
                        "ConditionalRequestConflict",
                        "A conflicting conditional operation is in progress on this object",
                    );
                }
                Some(InFlight {
                    notifier: self,
                    path: file,
                })
            }
            _ => None,
        };
        let response = match self.service.call(req.map(s3s::Body::from)).await {
            Ok(response) => response,
            Err(e) => {
                tracing::error!(error = ?e, "s3 request failed");
                let mut response = http::Response::new(s3s::Body::empty());
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response
            }
        };
        tracing::info!(s3 = true, %path, status = response.status().as_u16(), "s3 request");
        if let (Some(event_name), true) = (event_name, response.status().is_success()) {
            let etag = response
                .headers()
                .get(http::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim_matches('"').to_string())
                .unwrap_or_default();
            if let (Some(on_created), Some((bucket, key))) = (&self.on_created, split_path(&path)) {
                let size = std::fs::metadata(self.root.join(&bucket).join(&key))
                    .map(|m| m.len())
                    .unwrap_or(0);
                let event = object_created_event(event_name, &bucket, &key, size, &etag, peer);
                tokio::spawn(on_created(event));
            }
        }
        response
    }
}

/// A preflight against the CORS rule: allowed when the origin, the method
/// and every header asked for are; 403 otherwise, as S3 answers.
fn preflight(
    origin: Option<&str>,
    method: &http::HeaderValue,
    headers: &http::HeaderMap,
) -> http::Response<s3s::Body> {
    let asked_headers: Vec<String> = headers
        .get_all(http::header::ACCESS_CONTROL_REQUEST_HEADERS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    let allowed = origin.is_some()
        && method.to_str().is_ok_and(|m| CORS_METHODS.contains(&m))
        && asked_headers
            .iter()
            .all(|h| CORS_HEADERS.contains(&h.as_str()));
    if !allowed {
        return s3_error(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed: the origin, method or headers are not in the bucket's CORS rule",
        );
    }
    let mut response = http::Response::new(s3s::Body::empty());
    let h = response.headers_mut();
    let value =
        |v: String| http::HeaderValue::from_str(&v).expect("header names and methods are valid");
    h.insert(
        http::header::ACCESS_CONTROL_ALLOW_METHODS,
        value(CORS_METHODS.join(", ")),
    );
    if !asked_headers.is_empty() {
        h.insert(
            http::header::ACCESS_CONTROL_ALLOW_HEADERS,
            value(asked_headers.join(", ")),
        );
    }
    h.insert(
        http::header::ACCESS_CONTROL_MAX_AGE,
        value(CORS_MAX_AGE.to_string()),
    );
    response
}

fn if_none_match_any(req: &http::Request<Incoming>) -> bool {
    req.headers()
        .get(http::header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes().trim_ascii() == b"*")
}

/// An S3-style XML error response.
fn s3_error(status: StatusCode, code: &str, message: &str) -> http::Response<s3s::Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{}</RequestId></Error>",
        uuid::Uuid::new_v4().simple()
    );
    let mut response = http::Response::new(s3s::Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    response
}

/// The event name when this request, if it succeeds, creates an object.
fn creates_object(req: &http::Request<Incoming>) -> Option<&'static str> {
    let query = req.uri().query().unwrap_or("");
    let has = |name: &str| form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == name);
    match *req.method() {
        Method::PUT if has("partNumber") || has("uploadId") => None,
        Method::PUT if req.headers().contains_key("x-amz-copy-source") => {
            Some("ObjectCreated:Copy")
        }
        Method::PUT => Some("ObjectCreated:Put"),
        Method::POST if has("uploadId") => Some("ObjectCreated:CompleteMultipartUpload"),
        _ => None,
    }
}

/// Bucket and decoded key of a path-style request path, `/bucket/key`.
fn split_path(path: &str) -> Option<(String, String)> {
    let (bucket, key) = path.trim_start_matches('/').split_once('/')?;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
    };
    let key = decode(key)?;
    (!key.is_empty()).then_some((decode(bucket)?, key))
}

/// S3's encoding of keys in event notifications: form encoding (a space is
/// `+`) with `/` left as is.
pub fn encode_event_key(key: &str) -> String {
    form_urlencoded::byte_serialize(key.as_bytes())
        .collect::<String>()
        .replace("%2F", "/")
}

fn object_created_event(
    event_name: &str,
    bucket: &str,
    key: &str,
    size: u64,
    etag: &str,
    peer: SocketAddr,
) -> S3Event {
    let now = chrono::Utc::now();
    let json = serde_json::json!({
        "Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": REGION,
            "eventTime": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "eventName": event_name,
            "userIdentity": {"principalId": "flux-local"},
            "requestParameters": {"sourceIPAddress": peer.ip().to_string()},
            "responseElements": {
                "x-amz-request-id": uuid::Uuid::new_v4().simple().to_string(),
                "x-amz-id-2": uuid::Uuid::new_v4().simple().to_string()
            },
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "csv-ingest",
                "bucket": {
                    "name": bucket,
                    "ownerIdentity": {"principalId": "flux-local"},
                    "arn": format!("arn:aws:s3:::{bucket}")
                },
                "object": {
                    "key": encode_event_key(key),
                    "size": size,
                    "eTag": etag,
                    "sequencer": format!("{:016X}", now.timestamp_nanos_opt().unwrap_or_default())
                }
            }
        }]
    });
    serde_json::from_value(json).expect("the event literal matches aws_lambda_events' S3Event")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_are_encoded_like_s3_does() {
        assert_eq!(
            encode_event_key("uploads/r 1/a=b+c.csv"),
            "uploads/r+1/a%3Db%2Bc.csv"
        );
        assert_eq!(
            split_path("/flux-uploads/uploads/r%201/x.csv"),
            Some(("flux-uploads".into(), "uploads/r 1/x.csv".into()))
        );
        assert_eq!(split_path("/flux-uploads"), None);
    }

    #[test]
    fn events_deserialize_into_the_lambda_type() {
        let event = object_created_event(
            "ObjectCreated:Put",
            "b",
            "k y.csv",
            3,
            "e",
            "127.0.0.1:1".parse().unwrap(),
        );
        let record = &event.records[0];
        assert_eq!(record.event_name.as_deref(), Some("ObjectCreated:Put"));
        assert_eq!(record.s3.object.key.as_deref(), Some("k+y.csv"));
        assert_eq!(record.s3.object.size, Some(3));
        assert_eq!(record.s3.bucket.name.as_deref(), Some("b"));
    }
}
