//! The whole system on one machine: database, S3 endpoint with events, and
//! the API routed to the same handlers the Lambdas run.

use std::path::PathBuf;
use std::sync::Arc;

use std::time::Duration;

use flux_auth::keyring::KeyRing;
use flux_auth::AuthState;
use flux_csv_ingest::IngestState;
use flux_data_upload::UploadState;
use flux_health::HealthState;
use flux_sales::SalesState;
use flux_shared::http::HttpConfig;
use flux_shared::secrets::Secrets;
use flux_shared::tokens::TokenConfig;
use flux_shared::tokens::Verifier;
use flux_shared::uploads::BucketConfig;
use futures::FutureExt;
use secrecy::ExposeSecret;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::database::LocalDatabase;
use crate::gateway::{self, Function, Gateway};
use crate::s3::{self, ObjectCreatedHandler, S3Endpoint};
use crate::secrets::{ensure_secret, ensure_secret_with};

/// The auth function's keys, generated once per data directory.
pub const AUTH_KEYS_SECRET: &str = "auth-keys";

pub const BUCKET: &str = "flux-uploads";
pub const S3_ACCESS_KEY: &str = "flux-local";

/// Lambda retries failed asynchronous invocations after about a minute;
/// locally a few seconds keep the loop short.
const RETRY_DELAY: Duration = Duration::from_secs(5);

/// A function as the gateway sees it: its crate's routes and handler, over
/// state built once.
macro_rules! mount {
    ($name:literal, $function:ident, $state:expr) => {{
        let state = $state;
        Function {
            name: $name,
            routes: $function::ROUTES,
            handler: Arc::new(move |req| {
                let state = state.clone();
                async move { $function::handle(&state, req).await }.boxed()
            }),
        }
    }};
}

pub struct StackOptions {
    /// 0 picks a free port.
    pub api_port: u16,
    /// 0 picks a free port.
    pub s3_port: u16,
    pub data_dir: PathBuf,
    /// Use this database (as the owner role) instead of a private cluster.
    pub database_url: Option<String>,
    /// Use this S3 endpoint instead of the built-in one (no events are fired then).
    pub s3_endpoint: Option<String>,
    pub allowed_origins: Vec<String>,
    /// Receives ObjectCreated events instead of csv-ingest (tests).
    pub on_object_created: Option<ObjectCreatedHandler>,
    /// Access tokens' lifetime instead of the default (browser tests
    /// watch one expire).
    pub access_token_ttl: Option<Duration>,
}

pub struct RunningStack {
    pub api_url: String,
    pub data_dir: PathBuf,
    pub s3: S3Endpoint,
    pub database: LocalDatabase,
    /// The csv-ingest state the S3 events go to (tests drive it directly).
    pub ingest: Arc<IngestState>,
    /// Dropping it (a stack dropped without [`RunningStack::shutdown`], as
    /// in a test that panicked) stops every server too: their receivers see
    /// the channel close.
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

impl RunningStack {
    pub async fn start(options: StackOptions) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&options.data_dir)?;
        let data_dir = options.data_dir.canonicalize()?;
        let database = LocalDatabase::bring_up(&data_dir, options.database_url.as_deref()).await?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = Vec::new();

        // Bind both ports before anything is announced, so a busy port fails fast.
        let api_listener = bind(options.api_port, "API (--port)").await?;
        let mut s3_listener = None;
        let s3 = match &options.s3_endpoint {
            Some(url) => S3Endpoint {
                url: url.trim_end_matches('/').to_string(),
                bucket: BUCKET.to_string(),
                access_key: std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
                secret_key: SecretString::from(
                    std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
                ),
            },
            None => {
                let listener = bind(options.s3_port, "S3 (--s3-port)").await?;
                let url = format!("http://{}", listener.local_addr()?);
                s3_listener = Some(listener);
                S3Endpoint {
                    url,
                    bucket: BUCKET.to_string(),
                    access_key: S3_ACCESS_KEY.to_string(),
                    secret_key: ensure_secret(&data_dir.join("secrets"), "s3-secret-key")?,
                }
            }
        };

        let api_url = format!("http://{}", api_listener.local_addr()?);
        // The dashboard the stack serves uploads to its S3 endpoint: its
        // origin is allowed too.
        let port = api_listener.local_addr()?.port();
        let mut allowed_origins = options.allowed_origins.clone();
        allowed_origins.extend([api_url.clone(), format!("http://localhost:{port}")]);
        let http = HttpConfig {
            allowed_origins: allowed_origins.clone(),
        };
        // One pool for the process: locally every function shares it.
        let pool = database.app.pool()?;
        let secrets = Arc::new(Secrets::dir(data_dir.join("secrets")));
        ensure_secret_with(&data_dir.join("secrets"), AUTH_KEYS_SECRET, || {
            flux_shared::tokens::keys::generate_secret("local-1")
        })?;
        let mut tokens = TokenConfig::new(api_url.clone(), "flux-api");
        if let Some(ttl) = options.access_token_ttl {
            tokens.access_ttl = ttl;
        }
        let keys = KeyRing::from_secret(&tokens, secrets, AUTH_KEYS_SECRET.to_string()).await?;
        let public_keys = keys.current().await.auth.public_keys.clone();
        let verifier = Verifier::new(&tokens, &public_keys)?;
        let tokens_for_sales = tokens.clone();
        let auth = Arc::new(AuthState::new(http.clone(), pool.clone(), tokens, keys).await?);
        let bucket = BucketConfig {
            bucket: s3.bucket.clone(),
            endpoint_url: Some(s3.url.clone()),
        };
        let s3_client =
            bucket.client_with(s3::REGION, &s3.access_key, s3.secret_key.expose_secret());
        // As in Terraform: undoing a large upload takes seconds.
        let mut uploads_db = database.app.clone();
        uploads_db.statement_timeout = Duration::from_secs(25);
        uploads_db.pool_max = 4;
        let uploads = Arc::new(UploadState::new(
            http.clone(),
            uploads_db.pool()?,
            verifier,
            s3_client.clone(),
            s3.bucket.clone(),
        ));
        // Ingestion lands whole files in one statement sequence: a long timeout.
        let mut ingest_db = database.app.clone();
        ingest_db.statement_timeout = Duration::from_secs(900);
        ingest_db.pool_max = 4;
        let ingest = Arc::new(IngestState::new(
            ingest_db.pool()?,
            s3_client,
            s3.bucket.clone(),
        ));
        if let Some(listener) = s3_listener {
            let on_created = options
                .on_object_created
                .clone()
                .unwrap_or_else(|| invoke_csv_ingest(ingest.clone()));
            tasks.push(tokio::spawn(s3::serve(
                listener,
                data_dir.join("s3"),
                s3.clone(),
                allowed_origins,
                Some(on_created),
                shutdown_rx.clone(),
            )));
        }
        let sales = Arc::new(SalesState::new(
            http.clone(),
            pool.clone(),
            Verifier::new(&tokens_for_sales, &public_keys)?,
        ));
        let health = Arc::new(HealthState::new(http.clone(), pool));
        let functions = vec![
            mount!("data-upload", flux_data_upload, uploads),
            mount!("sales", flux_sales, sales),
            mount!("auth", flux_auth, auth),
            mount!("health", flux_health, health),
        ];
        let gateway = Arc::new(Gateway { functions, http });
        tasks.push(tokio::spawn(gateway::serve(
            api_listener,
            gateway,
            shutdown_rx,
        )));

        // Found by `seed` and by anyone looking for the stack of this data dir.
        std::fs::write(
            data_dir.join(crate::seed::STACK_FILE),
            serde_json::json!({"api_url": api_url, "s3_url": s3.url, "pid": std::process::id()})
                .to_string(),
        )?;
        Ok(Self {
            api_url,
            data_dir,
            s3,
            database,
            ingest,
            shutdown,
            tasks,
        })
    }

    /// Stops serving, then stops the database if we started it.
    pub async fn shutdown(mut self) {
        let _ = std::fs::remove_file(self.data_dir.join(crate::seed::STACK_FILE));
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        self.database.stop().await;
    }
}

async fn bind(port: u16, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{port} for the {what}: {e}"))
}

/// csv-ingest invocations at once, as the Lambda's reserved concurrency
/// bounds them; each takes up to two of its pool's connections.
const INGEST_CONCURRENCY: usize = 2;

/// Runs csv-ingest for each event the way S3 invokes a Lambda
/// asynchronously: in the background, at most [`INGEST_CONCURRENCY`] at a
/// time (the others wait, as throttled events do), retried twice after a
/// failure.
fn invoke_csv_ingest(state: Arc<IngestState>) -> ObjectCreatedHandler {
    let slots = Arc::new(tokio::sync::Semaphore::new(INGEST_CONCURRENCY));
    Arc::new(move |event| {
        let state = state.clone();
        let slots = slots.clone();
        async move {
            let Ok(_slot) = slots.acquire_owned().await else {
                return;
            };
            for attempt in 0..3u64 {
                let request_id = uuid::Uuid::new_v4().to_string();
                match flux_csv_ingest::handle(&state, event.clone(), &request_id).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, attempt, "csv-ingest failed; retrying");
                        tokio::time::sleep(RETRY_DELAY * (attempt as u32 + 1)).await;
                    }
                }
            }
            tracing::error!("csv-ingest gave up after 3 attempts");
        }
        .boxed()
    })
}
