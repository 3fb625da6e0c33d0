//! The test harness: one throwaway PostgreSQL per test run (started from the
//! installed binaries, or `DATABASE_URL` when set), a migrated template
//! database, one fresh database per test cloned from it, and the whole local
//! stack spawned in-process on free ports.

pub mod lambda;
pub mod terraform;

use std::path::PathBuf;
use std::sync::Arc;

use flux_local::postgres::{Auth, PgCluster};
use flux_local::s3::ObjectCreatedHandler;
use flux_local::stack::{RunningStack, StackOptions};
use flux_migrate::APP_ROLE;
use flux_shared::db::DbSettings;
use tokio::sync::OnceCell;

/// Per process, so two runs against one `DATABASE_URL` do not collide.
fn template_name() -> String {
    format!("flux_template_{}", std::process::id())
}
const OWNER: &str = "flux_owner";

/// The server every test of this run shares.
struct TestServer {
    /// A superuser URL without the database name, ending in `/`.
    base_url: String,
    /// Kept for the life of the process; its server stops when we exit.
    _cluster: Option<PgCluster>,
}

static SERVER: OnceCell<TestServer> = OnceCell::const_new();

async fn server() -> &'static TestServer {
    SERVER.get_or_init(start_server).await
}

async fn start_server() -> TestServer {
    let (base_url, cluster) = match std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => {
            let base = url
                .rsplit_once('/')
                .map(|(b, _)| format!("{b}/"))
                .expect("DATABASE_URL has a path");
            (base, None)
        }
        None => {
            let dir = scratch_dir("pg");
            let mut cluster =
                PgCluster::new(&dir, Auth::Trust, false).expect("PostgreSQL binaries");
            cluster.init().expect("initdb");
            cluster.start(0).await.expect("start PostgreSQL");
            let base = cluster.superuser_url("");
            (base, Some(cluster))
        }
    };
    let admin = connect(&format!("{base_url}postgres")).await;
    let template = template_name();
    for statement in [
        format!("DROP DATABASE IF EXISTS {template}"),
        format!(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER}') THEN
                 CREATE ROLE {OWNER} LOGIN CREATEROLE;
               END IF;
             END $$"
        ),
        format!("CREATE DATABASE {template} OWNER {OWNER}"),
    ] {
        admin
            .batch_execute(&statement)
            .await
            .expect("create the template database");
    }
    let owner_url = with_user(&format!("{base_url}{template}"), OWNER);
    let mut owner = connect(&owner_url).await;
    flux_migrate::migrate(&mut owner)
        .await
        .expect("migrate the template");
    drop(owner);
    TestServer {
        base_url,
        _cluster: cluster,
    }
}

/// A fresh, migrated database of its own for one test.
pub struct TestDb {
    pub name: String,
    /// The owner role (runs migrations, owns the tables; still under FORCEd RLS).
    pub owner_url: String,
    /// A superuser, for looking across restaurants in assertions.
    pub superuser_url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let server = server().await;
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let admin = connect(&format!("{}postgres", server.base_url)).await;
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE {} OWNER {OWNER}",
                template_name()
            ))
            .await
            .expect("clone the template");
        let superuser_url = format!("{}{name}", server.base_url);
        Self {
            owner_url: with_user(&superuser_url, OWNER),
            superuser_url,
            name,
        }
    }

    /// An empty database, owned by the owner role and not migrated, for
    /// tests of the migrations themselves.
    pub async fn empty() -> Self {
        let server = server().await;
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let admin = connect(&format!("{}postgres", server.base_url)).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name} OWNER {OWNER}"))
            .await
            .expect("create a database");
        let superuser_url = format!("{}{name}", server.base_url);
        Self {
            owner_url: with_user(&superuser_url, OWNER),
            superuser_url,
            name,
        }
    }

    /// Settings for the application role (no ownership, no BYPASSRLS).
    pub fn app_settings(&self) -> DbSettings {
        DbSettings::from_url(&with_user(&self.owner_url, APP_ROLE)).expect("valid URL")
    }

    pub async fn superuser(&self) -> tokio_postgres::Client {
        connect(&self.superuser_url).await
    }

    pub async fn app(&self) -> tokio_postgres::Client {
        self.app_settings()
            .connect()
            .await
            .expect("connect as the app role")
    }
}

/// One test's system: a fresh database, the local stack over it and an API
/// client. The stack stops when it is dropped, so a failing test stops its
/// servers too (`harness.rs` holds it to that).
pub struct TestApp {
    pub db: TestDb,
    pub stack: RunningStack,
    pub api: Api,
}

impl TestApp {
    /// The stack over a fresh database; uploads are ingested as in AWS.
    pub async fn spawn() -> Self {
        Self::spawn_with(None).await
    }

    /// The stack with ObjectCreated events going to `on_object_created`.
    pub async fn spawn_with(on_object_created: Option<ObjectCreatedHandler>) -> Self {
        let db = TestDb::new().await;
        let stack = spawn_stack(&db, on_object_created).await;
        let api = Api::new(&stack);
        Self { db, stack, api }
    }

    /// [`TestApp::spawn`] and the access token of a freshly registered
    /// owner, `(email, restaurant name)`.
    pub async fn signed_in((email, restaurant): (&str, &str)) -> (Self, String) {
        let app = Self::spawn().await;
        let token = owner_token(&app.api, email, restaurant).await;
        (app, token)
    }
}

/// The local stack on free ports, over a fresh database, with ObjectCreated
/// events going to `on_object_created` when given.
pub async fn spawn_stack(
    db: &TestDb,
    on_object_created: Option<ObjectCreatedHandler>,
) -> RunningStack {
    // FLUX_TEST_LOG=1 shows the stack's JSON logs, for diagnosing a failure.
    if std::env::var_os("FLUX_TEST_LOG").is_some() {
        flux_shared::telemetry::init();
    }
    RunningStack::start(StackOptions {
        api_port: 0,
        s3_port: 0,
        data_dir: scratch_dir("stack"),
        database_url: Some(db.owner_url.clone()),
        s3_endpoint: None,
        allowed_origins: vec!["http://localhost:5173".into()],
        on_object_created,
        access_token_ttl: None,
    })
    .await
    .expect("start the local stack")
}

/// The local stack with a PostgreSQL of its own (so a test may stop or
/// crash it), ObjectCreated events going to `on_object_created` when given.
pub async fn stack_with_own_postgres(
    on_object_created: Option<ObjectCreatedHandler>,
) -> RunningStack {
    RunningStack::start(StackOptions {
        api_port: 0,
        s3_port: 0,
        data_dir: scratch_dir("own-postgres"),
        database_url: None,
        s3_endpoint: None,
        allowed_origins: vec![],
        on_object_created,
        access_token_ttl: None,
    })
    .await
    .expect("a stack with its own PostgreSQL")
}

/// A handler that forwards every ObjectCreated event to a channel.
pub fn event_channel() -> (
    ObjectCreatedHandler,
    tokio::sync::mpsc::UnboundedReceiver<aws_lambda_events::s3::S3Event>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let handler: ObjectCreatedHandler = Arc::new(move |event| {
        let _ = tx.send(event);
        Box::pin(async {})
    });
    (handler, rx)
}

/// One uploaded file whose S3 event was captured instead of ingested.
pub struct CapturedUpload {
    /// The owner's access token.
    pub token: String,
    /// The upload's id.
    pub id: String,
    pub event: aws_lambda_events::s3::S3Event,
}

/// A stack whose S3 events are captured instead of ingested, and one
/// uploaded file's event: for driving csv-ingest by hand.
pub async fn captured_upload(email: &str, csv: &[u8]) -> (TestApp, CapturedUpload) {
    let (handler, mut events) = event_channel();
    let app = TestApp::spawn_with(Some(handler)).await;
    let token = owner_token(&app.api, email, "Captured").await;
    let id = app.api.upload(&token, "captured.csv", csv).await;
    let event = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
        .await
        .expect("an ObjectCreated event")
        .expect("the event channel is open");
    (app, CapturedUpload { token, id, event })
}

/// A directory under the system temp dir, readable by the `postgres` user
/// when we are root. Directories of earlier runs whose process is gone are
/// removed first, so repeated runs do not fill the disk.
pub fn scratch_dir(kind: &str) -> PathBuf {
    let root = std::env::temp_dir().join("flux-tests");
    std::fs::create_dir_all(&root).expect("temp dir");
    clean_stale(&root);
    let dir = root.join(format!(
        "{}-{kind}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    use std::os::unix::fs::PermissionsExt;
    for path in [&root, &dir] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod scratch dir");
    }
    dir
}

fn clean_stale(root: &std::path::Path) {
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("URL has a scheme");
    let host_part = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{user}@{host_part}")
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(connection);
    client
}

/// A JSON client for the stack's API.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    client: reqwest::Client,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Api {
    pub fn new(stack: &RunningStack) -> Self {
        Self {
            base: stack.api_url.clone(),
            client: reqwest::Client::new(),
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.send(self.client.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Reply {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    pub fn raw(&self) -> &reqwest::Client {
        &self.client
    }

    /// Registers a restaurant and its owner; returns the token response.
    pub async fn register(&self, email: &str, restaurant: &str) -> serde_json::Value {
        let reply = self
            .post(
                "/auth/register",
                &serde_json::json!({
                    "email": email,
                    "password": STRONG_PASSWORD,
                    "restaurant_name": restaurant,
                    "timezone": "Europe/Paris"
                }),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body
    }
}

/// The routes anyone may call (API.md); every other route needs a token.
pub const PUBLIC_ROUTES: &[&str] = &[
    "GET /health",
    "POST /auth/register",
    "POST /auth/login",
    "POST /auth/refresh",
    "POST /auth/logout",
    "GET /.well-known/jwks.json",
    "GET /.well-known/openid-configuration",
];

/// A password every rule accepts.
pub const STRONG_PASSWORD: &str = "violet-otter-juggles-42-plums";

/// The owner's access token after registering a fresh restaurant.
pub async fn owner_token(api: &Api, email: &str, restaurant: &str) -> String {
    let body = api.register(email, restaurant).await;
    body["access_token"]
        .as_str()
        .expect("access token")
        .to_string()
}

impl Api {
    pub async fn post_auth(&self, path: &str, token: &str, body: &serde_json::Value) -> Reply {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// POST /uploads, then PUT the bytes to the presigned URL with exactly
    /// the headers the API said to send. Returns the upload id.
    pub async fn upload(&self, token: &str, filename: &str, bytes: &[u8]) -> String {
        let created = self
            .post_auth(
                "/uploads",
                token,
                &serde_json::json!({"filename": filename, "size_bytes": bytes.len(), "content_type": "text/csv"}),
            )
            .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        let mut put = self
            .client
            .put(created.body["upload_url"].as_str().unwrap())
            .body(bytes.to_vec());
        for (name, value) in created.body["upload_headers"].as_object().unwrap() {
            put = put.header(name.as_str(), value.as_str().unwrap());
        }
        let response = put.send().await.expect("PUT");
        assert_eq!(
            response.status().as_u16(),
            200,
            "{}",
            response.text().await.unwrap_or_default()
        );
        created.body["upload"]["id"].as_str().unwrap().to_string()
    }

    /// Polls GET /uploads/{id} until a final status (30 s at most).
    /// Uploads a file and waits until its ingestion reaches a final status:
    /// the upload's id and its final state.
    pub async fn ingest(
        &self,
        token: &str,
        filename: &str,
        bytes: &[u8],
    ) -> (String, serde_json::Value) {
        let id = self.upload(token, filename, bytes).await;
        let upload = self.wait_final(token, &id).await;
        (id, upload)
    }

    pub async fn wait_final(&self, token: &str, id: &str) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let reply = self.get(&format!("/uploads/{id}"), Some(token)).await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
            let status = reply.body["status"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if ["completed", "completed_with_errors", "failed"].contains(&status.as_str()) {
                return reply.body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still {status}: {:?}",
                reply.body
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}
