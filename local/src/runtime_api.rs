//! The Lambda Runtime API (version 2018-06-01) on loopback, so the real
//! function binaries run as Lambda runs them: the binary polls
//! `invocation/next`, answers with `response` or `error`, and reports a
//! failed start to `init/error`. Tests and `flux-bench cold-start` use it.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};

const PREFIX: &str = "/2018-06-01/runtime";

/// Where a function binary run here finds what its deployment would give
/// it: a database and a secrets directory instead of RDS and Secrets
/// Manager (the `*_SECRET_ID`s name files in it), and a bucket.
pub struct LocalDeployment<'a> {
    pub database: &'a tokio_postgres::Config,
    pub secrets_dir: &'a std::path::Path,
    pub bucket: &'a str,
}

impl LocalDeployment<'_> {
    /// A value for each variable of `declared` (a function's
    /// `ENVIRONMENT`); an error names one this does not know.
    pub fn environment(&self, declared: &[&str]) -> anyhow::Result<HashMap<String, String>> {
        let db = self.database;
        let host = match db.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            other => anyhow::bail!("a TCP database, not {other:?}"),
        };
        declared
            .iter()
            .map(|var| {
                let value = match *var {
                    "RUST_LOG" => "warn".to_string(),
                    "SECRETS_SOURCE" => format!("dir:{}", self.secrets_dir.display()),
                    "DB_HOST" => host.clone(),
                    "DB_PORT" => db.get_ports().first().unwrap_or(&5432).to_string(),
                    "DB_NAME" => db.get_dbname().unwrap_or("flux").to_string(),
                    "DB_TLS" => "off".to_string(),
                    "DB_APP_SECRET_ID" => "db-app".to_string(),
                    "DB_OWNER_SECRET_ID" => "db-owner".to_string(),
                    "AUTH_KEYS_SECRET_ID" => "auth-keys".to_string(),
                    "AUTH_PUBLIC_KEYS_SECRET_ID" => "auth-public-keys".to_string(),
                    "AUTH_ISSUER" => "https://api.flux.example".to_string(),
                    "AUTH_AUDIENCE" => "flux-api".to_string(),
                    "ALLOWED_ORIGINS" => "https://app.flux.example".to_string(),
                    "UPLOADS_BUCKET" => self.bucket.to_string(),
                    "DB_STATEMENT_TIMEOUT_MS" => "30000".to_string(),
                    "DB_LOCK_TIMEOUT_MS" => "10000".to_string(),
                    "DB_POOL_MAX" => "2".to_string(),
                    other => anyhow::bail!("no local value for {other}"),
                };
                Ok((var.to_string(), value))
            })
            .collect()
    }
}

/// How an invocation ended, as the runtime reported it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Value),
    Error { error_type: String, message: String },
}

#[derive(Default)]
struct Inner {
    queue: Mutex<VecDeque<(String, Value)>>,
    queued: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<Outcome>>,
    /// When the runtime first asked for work: its initialisation ended.
    first_poll: Mutex<Option<Instant>>,
    events: Notify,
}

pub struct RuntimeApi {
    address: String,
    function_name: String,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    pub async fn start(function_name: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let inner = Arc::new(Inner::default());
        let served = Arc::clone(&inner);
        let arn = format!("arn:aws:lambda:eu-west-1:123456789012:function:{function_name}:live");
        let server = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (inner, arn) = (Arc::clone(&served), arn.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let (inner, arn) = (Arc::clone(&inner), arn.clone());
                        async move { Ok::<_, Infallible>(handle(&inner, &arn, req).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Ok(Self {
            address,
            function_name: function_name.to_string(),
            inner,
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// What Lambda itself sets in a function's environment.
    pub fn lambda_environment(&self, memory_mb: u32) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address.clone()),
            ("AWS_LAMBDA_FUNCTION_NAME", self.function_name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "1".to_string()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", self.function_name),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/27/[1]local".to_string(),
            ),
            ("AWS_REGION", "eu-west-1".to_string()),
            ("AWS_DEFAULT_REGION", "eu-west-1".to_string()),
            ("AWS_ACCESS_KEY_ID", "runtime-api".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "runtime-api".to_string()),
            ("_HANDLER", "bootstrap".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Hands `event` to the runtime and waits for its answer.
    pub async fn invoke(&self, event: Value, within: Duration) -> Option<Outcome> {
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        self.inner
            .waiting
            .lock()
            .expect("not poisoned")
            .insert(id.clone(), tx);
        self.inner
            .queue
            .lock()
            .expect("not poisoned")
            .push_back((id, event));
        self.inner.queued.notify_one();
        tokio::time::timeout(within, rx).await.ok()?.ok()
    }

    /// Waits until the runtime asks for its first event (it started) or
    /// reports that it could not start.
    pub async fn started(&self, within: Duration) -> Result<Instant, Option<Outcome>> {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.inner.events.notified();
            if let Some(at) = *self.inner.first_poll.lock().expect("not poisoned") {
                return Ok(at);
            }
            if let Some(error) = self.inner.init_error.lock().expect("not poisoned").clone() {
                return Err(Some(error));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, notified).await.is_err() {
                return Err(None);
            }
        }
    }
}

async fn handle(
    inner: &Inner,
    arn: &str,
    req: http::Request<Incoming>,
) -> http::Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return reply(404, "{}".into());
    };
    match (method.as_str(), rest) {
        ("GET", "/invocation/next") => {
            inner
                .first_poll
                .lock()
                .expect("not poisoned")
                .get_or_insert_with(Instant::now);
            inner.events.notify_waiters();
            let (id, event) = loop {
                let notified = inner.queued.notified();
                if let Some(next) = inner.queue.lock().expect("not poisoned").pop_front() {
                    break next;
                }
                notified.await;
            };
            let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
            http::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .header("lambda-runtime-aws-request-id", &id)
                .header("lambda-runtime-deadline-ms", deadline.to_string())
                .header("lambda-runtime-invoked-function-arn", arn)
                .header(
                    "lambda-runtime-trace-id",
                    format!(
                        "Root=1-{:x}-{}",
                        chrono::Utc::now().timestamp(),
                        &id.replace('-', "")[..24]
                    ),
                )
                .body(Full::new(Bytes::from(event.to_string())))
                .expect("valid response")
        }
        ("POST", "/init/error") => {
            *inner.init_error.lock().expect("not poisoned") = Some(error_outcome(&body));
            inner.events.notify_waiters();
            reply(202, r#"{"status":"OK"}"#.into())
        }
        ("POST", rest) => {
            let Some((id, kind)) = rest
                .strip_prefix("/invocation/")
                .and_then(|r| r.split_once('/'))
            else {
                return reply(404, "{}".into());
            };
            let outcome = match kind {
                "response" => {
                    Outcome::Response(serde_json::from_slice(&body).unwrap_or(Value::Null))
                }
                "error" => error_outcome(&body),
                _ => return reply(404, "{}".into()),
            };
            match inner.waiting.lock().expect("not poisoned").remove(id) {
                Some(waiter) => {
                    let _ = waiter.send(outcome);
                    reply(202, r#"{"status":"OK"}"#.into())
                }
                None => reply(400, r#"{"errorType":"InvalidRequestID"}"#.into()),
            }
        }
        _ => reply(404, "{}".into()),
    }
}

fn error_outcome(body: &[u8]) -> Outcome {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    Outcome::Error {
        error_type: value["errorType"].as_str().unwrap_or_default().to_string(),
        message: value["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    }
}

fn reply(status: u16, body: String) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("valid response")
}

/// An API Gateway HTTP API request (payload format 2.0), with the JWT
/// authorizer's claims (as strings, as API Gateway passes them) when a
/// bearer token is given.
pub fn api_gateway_event(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Value {
    let (raw_path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut headers =
        serde_json::json!({"content-type": "application/json", "user-agent": "runtime-api"});
    let mut context = serde_json::json!({
        "accountId": "123456789012", "apiId": "api1",
        "domainName": "api1.execute-api.eu-west-1.amazonaws.com", "domainPrefix": "api1",
        "requestId": uuid::Uuid::new_v4().to_string(), "routeKey": "$default", "stage": "$default",
        "time": "27/Nov/2026:21:00:00 +0000", "timeEpoch": 1_795_813_200_000u64,
        "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                 "sourceIp": "203.0.113.7", "userAgent": "runtime-api"}
    });
    if let Some(token) = token {
        headers["authorization"] = format!("Bearer {token}").into();
        let claims = token
            .split('.')
            .nth(1)
            .and_then(|p| {
                use base64::Engine;
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p)
                    .ok()
            })
            .and_then(|json| serde_json::from_slice::<serde_json::Map<String, Value>>(&json).ok())
            .unwrap_or_default();
        let claims: serde_json::Map<String, Value> = claims
            .into_iter()
            .map(|(k, v)| {
                let text = v.as_str().map_or_else(|| v.to_string(), String::from);
                (k, Value::String(text))
            })
            .collect();
        context["authorizer"] = serde_json::json!({"jwt": {"claims": claims, "scopes": null}});
    }
    serde_json::json!({
        "version": "2.0", "routeKey": "$default", "rawPath": raw_path, "rawQueryString": query,
        "headers": headers, "requestContext": context,
        "body": body.map(Value::to_string), "isBase64Encoded": false
    })
}

/// The status and JSON body of an API Gateway response payload.
pub fn http_reply(outcome: &Outcome) -> Option<(u16, Value)> {
    let Outcome::Response(response) = outcome else {
        return None;
    };
    let status = response["statusCode"].as_u64()? as u16;
    let body = response["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    Some((status, body))
}

/// An S3 `ObjectCreated:Put` notification for `objects` (key and size), in
/// one batch, shaped as S3 sends it to Lambda (keys URL-encoded).
pub fn s3_event(bucket: &str, objects: &[(&str, usize)]) -> Value {
    let records: Vec<Value> = objects
        .iter()
        .enumerate()
        .map(|(i, (key, size))| {
            let encoded: String =
                percent_encoding::utf8_percent_encode(key, S3_KEY_ESCAPES).to_string();
            serde_json::json!({
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
                "eventTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AROAEXAMPLE:uploader"},
                "requestParameters": {"sourceIPAddress": "203.0.113.7"},
                "responseElements": {"x-amz-request-id": format!("C3D13FE58DE4C81{i}"),
                                     "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
                "s3": {"s3SchemaVersion": "1.0", "configurationId": "csv-ingest",
                       "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKEXAMPLE"},
                                  "arn": format!("arn:aws:s3:::{bucket}")},
                       "object": {"key": encoded, "size": size,
                                  "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                                  "sequencer": format!("0055AED6DCD90281E{i}")}}
            })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

/// What S3 escapes in event keys: everything but unreserved characters and `/`.
const S3_KEY_ESCAPES: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');
