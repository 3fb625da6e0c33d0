//! The database: settings from the environment, a small `deadpool-postgres`
//! pool (Lambda serves one request per container), TLS with certificate
//! verification to RDS / RDS Proxy, and timeouts on every connection.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::config::Host;
use tokio_postgres::NoTls;

use crate::config::{self, ConfigError, Vars};
use crate::secrets::{ExposeSecret, Secrets, SecretsError};

pub use deadpool_postgres::{Object as Connection, PoolError};
pub use tokio_postgres::Error as PgError;

/// Where the database is ([`DbSettings::from_env`]); the optional
/// timeouts and pool size are each function's own.
pub const ENVIRONMENT: &[&str] = &["DB_HOST", "DB_PORT", "DB_NAME", "DB_TLS"];

/// [`ENVIRONMENT`] and the secret of the application role every function
/// but migrate connects as.
pub const APP_ENVIRONMENT: &[&str] = crate::environment![ENVIRONMENT, &[APP_SECRET_ID]];

/// The variable naming the application role's credentials secret.
pub const APP_SECRET_ID: &str = "DB_APP_SECRET_ID";

/// The pool every function but migrate serves from: the application role,
/// as its deployment sets it ([`APP_ENVIRONMENT`]).
pub async fn app_pool(
    vars: &(impl Vars + ?Sized),
    secrets: &Arc<Secrets>,
) -> Result<Pool, DbError> {
    DbSettings::from_env(vars, secrets, APP_SECRET_ID)
        .await?
        .pool()
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("reading the CA bundle {}: {source}", path.display())]
    CaBundle {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
    #[error("connection pool: {0}")]
    Pool(#[from] deadpool_postgres::BuildError),
    #[error("{}", describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbTls {
    /// Plain TCP: only for loopback and unix sockets.
    Off,
    /// TLS, verifying the server certificate against the public web roots
    /// (RDS Proxy's certificates chain to them) plus an optional CA bundle
    /// (the RDS CA bundle when connecting to an instance directly).
    Verify { extra_ca_file: Option<PathBuf> },
}

/// How to reach PostgreSQL. `Debug` never shows the password
/// (`tokio_postgres::Config` redacts it).
#[derive(Clone, Debug)]
pub struct DbSettings {
    pub pg: tokio_postgres::Config,
    pub tls: DbTls,
    pub pool_max: usize,
    pub statement_timeout: Duration,
    pub connect_timeout: Duration,
    /// How long a statement waits for a lock before failing (migrate sets
    /// it, so a migration never queues live traffic behind it for long).
    pub lock_timeout: Option<Duration>,
    /// How long a request waits for a pooled connection when all are busy.
    /// A Lambda serves one request at a time and never waits; a process
    /// serving many at once (the local stack) queues them a while.
    pub pool_wait: Duration,
    /// Where the user and password came from, read again when the server
    /// refuses them (the app password was rotated while this container ran).
    pub credentials: Option<CredentialSource>,
}

#[derive(Clone)]
pub struct CredentialSource {
    pub secrets: Arc<Secrets>,
    pub secret_id: String,
}

impl std::fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialSource")
            .field("secret_id", &self.secret_id)
            .finish()
    }
}

/// The shape of an RDS-managed credentials secret.
#[derive(serde::Deserialize)]
struct DbCredentials {
    username: String,
    password: String,
}

impl DbSettings {
    /// From a connection URL, with the default timeouts and pool size.
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        let pg: tokio_postgres::Config =
            url.parse()
                .map_err(|e: tokio_postgres::Error| ConfigError::Invalid {
                    name: "DATABASE_URL",
                    reason: e.to_string(),
                })?;
        let tls = if is_local(&pg) {
            DbTls::Off
        } else {
            DbTls::Verify {
                extra_ca_file: None,
            }
        };
        Ok(Self {
            pg,
            tls,
            pool_max: 2,
            statement_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(2),
            lock_timeout: None,
            pool_wait: Duration::from_secs(10),
            credentials: None,
        })
    }

    /// `DATABASE_URL`, or `DB_HOST` / `DB_PORT` / `DB_NAME` with the user and
    /// password from the secret named by `secret_var` (RDS's JSON shape).
    /// Tuning: `DB_TLS` (`off` | `verify`, default `verify` unless loopback),
    /// `DB_CA_FILE`, `DB_POOL_MAX`, `DB_STATEMENT_TIMEOUT_MS`, `DB_LOCK_TIMEOUT_MS`,
    /// `DB_CONNECT_TIMEOUT_MS`.
    pub async fn from_env(
        vars: &(impl Vars + ?Sized),
        secrets: &Arc<Secrets>,
        secret_var: &'static str,
    ) -> Result<Self, DbError> {
        let mut settings = match config::optional(vars, "DATABASE_URL") {
            Some(url) => Self::from_url(&url)?,
            None => {
                let host = config::required(vars, "DB_HOST")?;
                let port = config::parsed(vars, "DB_PORT", 5432u16)?;
                let dbname = config::required(vars, "DB_NAME")?;
                let secret_id = config::required(vars, secret_var)?;
                let creds: DbCredentials = secrets.get_json(&secret_id).await?;
                let mut pg = tokio_postgres::Config::new();
                pg.host(&host)
                    .port(port)
                    .dbname(&dbname)
                    .user(&creds.username)
                    .password(creds.password);
                let mut settings = Self::from_url("postgres://localhost")?;
                settings.tls = if is_local(&pg) {
                    DbTls::Off
                } else {
                    DbTls::Verify {
                        extra_ca_file: None,
                    }
                };
                settings.pg = pg;
                settings.credentials = Some(CredentialSource {
                    secrets: Arc::clone(secrets),
                    secret_id,
                });
                settings
            }
        };
        let extra_ca_file = config::optional(vars, "DB_CA_FILE").map(PathBuf::from);
        settings.tls = match config::optional(vars, "DB_TLS").as_deref() {
            None => match settings.tls {
                DbTls::Verify { .. } => DbTls::Verify { extra_ca_file },
                DbTls::Off => DbTls::Off,
            },
            Some("off") => DbTls::Off,
            Some("verify") => DbTls::Verify { extra_ca_file },
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "DB_TLS",
                    reason: format!("expected off or verify, got {other:?}"),
                }
                .into())
            }
        };
        settings.pool_max = config::parsed(vars, "DB_POOL_MAX", settings.pool_max)?;
        settings.statement_timeout = Duration::from_millis(config::parsed(
            vars,
            "DB_STATEMENT_TIMEOUT_MS",
            settings.statement_timeout.as_millis() as u64,
        )?);
        settings.lock_timeout = match config::parsed::<u64>(vars, "DB_LOCK_TIMEOUT_MS", 0)? {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        };
        settings.connect_timeout = Duration::from_millis(config::parsed(
            vars,
            "DB_CONNECT_TIMEOUT_MS",
            settings.connect_timeout.as_millis() as u64,
        )?);
        Ok(settings)
    }

    /// The driver config with the per-connection timeouts applied.
    fn driver_config(&self) -> tokio_postgres::Config {
        let mut pg = self.pg.clone();
        pg.connect_timeout(self.connect_timeout);
        // Startup options cost no extra round trip and cannot be forgotten.
        let mut options = format!(
            "-c statement_timeout={} -c idle_in_transaction_session_timeout={}",
            self.statement_timeout.as_millis(),
            self.statement_timeout.as_millis().max(1000) * 2
        );
        if let Some(lock_timeout) = self.lock_timeout {
            options.push_str(&format!(" -c lock_timeout={}", lock_timeout.as_millis()));
        }
        pg.options(options);
        if pg.get_application_name().is_none() {
            pg.application_name("flux");
        }
        if let DbTls::Verify { .. } = self.tls {
            // The driver's default ("prefer") would carry on in clear text
            // when the server, or whoever sits in between, declines TLS.
            pg.ssl_mode(tokio_postgres::config::SslMode::Require);
        }
        pg
    }

    fn tls_connector(&self) -> Result<Option<tokio_postgres_rustls::MakeRustlsConnect>, DbError> {
        let DbTls::Verify { extra_ca_file } = &self.tls else {
            return Ok(None);
        };
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = extra_ca_file {
            let unreadable = |source| DbError::CaBundle {
                path: path.clone(),
                source,
            };
            let pem = std::fs::read(path).map_err(unreadable)?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                roots.add(cert.map_err(unreadable)?)?;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Some(tokio_postgres_rustls::MakeRustlsConnect::new(config)))
    }

    /// A small pool; connections are made lazily, so building it never blocks.
    pub fn pool(&self) -> Result<Pool, DbError> {
        let pg = self.driver_config();
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let connect = CredentialRefreshing {
            tls: self.tls_connector()?,
            source: self.credentials.clone(),
            current: std::sync::Mutex::new(None),
        };
        let manager = Manager::from_connect(pg, connect, manager_config);
        let pool = Pool::builder(manager)
            .max_size(self.pool_max)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.pool_wait))
            .create_timeout(Some(self.connect_timeout))
            .recycle_timeout(Some(self.connect_timeout))
            .build()?;
        Ok(pool)
    }

    /// One connection outside any pool (migrations, administration).
    pub async fn connect(&self) -> Result<tokio_postgres::Client, DbError> {
        let pg = self.driver_config();
        let client = match self.tls_connector()? {
            Some(tls) => {
                let (client, connection) = pg.connect(tls).await?;
                tokio::spawn(log_connection_end(connection));
                client
            }
            None => {
                let (client, connection) = pg.connect(NoTls).await?;
                tokio::spawn(log_connection_end(connection));
                client
            }
        };
        Ok(client)
    }
}

/// Opens pool connections; when the server refuses the credentials, reads
/// them again from their secret and tries once more. So rotating the app
/// password never strands a warm container on the old one.
struct CredentialRefreshing {
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    source: Option<CredentialSource>,
    /// Credentials read after a refusal; they replace the ones from startup.
    current: std::sync::Mutex<Option<(String, Vec<u8>)>>,
}

type Connected = (tokio_postgres::Client, tokio::task::JoinHandle<()>);

impl CredentialRefreshing {
    async fn open(&self, pg: &tokio_postgres::Config) -> Result<Connected, tokio_postgres::Error> {
        let mut pg = pg.clone();
        if let Some((user, password)) = self.current.lock().expect("not poisoned").clone() {
            pg.user(&user).password(password);
        }
        Ok(match &self.tls {
            Some(tls) => {
                let (client, connection) = pg.connect(tls.clone()).await?;
                (client, tokio::spawn(log_connection_end(connection)))
            }
            None => {
                let (client, connection) = pg.connect(NoTls).await?;
                (client, tokio::spawn(log_connection_end(connection)))
            }
        })
    }

    /// The credentials as the secret holds them now, if it can be read.
    async fn reread(&self, source: &CredentialSource) -> bool {
        match source.secrets.refresh(&source.secret_id).await {
            Ok(raw) => match serde_json::from_str::<DbCredentials>(raw.expose_secret()) {
                Ok(creds) => {
                    *self.current.lock().expect("not poisoned") =
                        Some((creds.username, creds.password.into_bytes()));
                    true
                }
                Err(_) => {
                    tracing::error!(secret = %source.secret_id, "database secret is not the expected JSON");
                    false
                }
            },
            Err(e) => {
                tracing::error!(error = %e, "database credentials could not be read again");
                false
            }
        }
    }
}

impl deadpool_postgres::Connect for CredentialRefreshing {
    fn connect(
        &self,
        pg: &tokio_postgres::Config,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Connected, tokio_postgres::Error>> + Send + '_>,
    > {
        let pg = pg.clone();
        Box::pin(async move {
            match self.open(&pg).await {
                Err(e) if is_refused_credentials(&e) => match &self.source {
                    Some(source) if self.reread(source).await => {
                        tracing::warn!("database refused the credentials; read them again");
                        self.open(&pg).await
                    }
                    _ => Err(e),
                },
                other => other,
            }
        })
    }
}

/// 28P01 invalid_password, 28000 invalid_authorization_specification (the
/// user does not exist or may not log in).
fn is_refused_credentials(error: &tokio_postgres::Error) -> bool {
    error
        .as_db_error()
        .is_some_and(|db| db.code().code().starts_with("28"))
}

async fn log_connection_end<F>(connection: F)
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>>,
{
    if let Err(e) = connection.await {
        tracing::warn!(error = %e, "database connection ended with an error");
    }
}

fn is_local(pg: &tokio_postgres::Config) -> bool {
    pg.get_hosts().iter().all(|host| match host {
        Host::Unix(_) => true,
        Host::Tcp(name) => matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1"),
    })
}

/// A database failure while serving a request. One rule for every
/// function: 503 when the database cannot be reached or is overloaded, a
/// logged 500 otherwise. Domain errors hold it and `?` both causes into it
/// (see [`crate::database_errors!`]).
#[derive(Debug, thiserror::Error)]
pub enum DbFailure {
    #[error("database pool: {0}")]
    Pool(#[from] PoolError),
    #[error("database: {}", describe(.0))]
    Query(#[from] tokio_postgres::Error),
}

impl DbFailure {
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbFailure::Pool(e) => is_unavailable(e),
            DbFailure::Query(e) => is_unreachable(e),
        }
    }
}

impl From<DbFailure> for crate::problem::Problem {
    fn from(failure: DbFailure) -> Self {
        if failure.is_unavailable() {
            tracing::warn!(error = %failure, "database unavailable");
            crate::problem::Problem::unavailable()
        } else {
            crate::http::internal_error(&failure)
        }
    }
}

/// `From` the pool's and the driver's errors into `$error::$variant`
/// (a [`DbFailure`]), so a handler `?`s `pool.get()` and queries alike.
#[macro_export]
macro_rules! database_errors {
    ($error:ident :: $variant:ident) => {
        impl From<$crate::db::PoolError> for $error {
            fn from(error: $crate::db::PoolError) -> Self {
                $error::$variant(error.into())
            }
        }

        impl From<$crate::db::PgError> for $error {
            fn from(error: $crate::db::PgError) -> Self {
                $error::$variant(error.into())
            }
        }
    };
}

/// True when the error means the database is unreachable or overloaded
/// (a 503), rather than a bug in a query (a 500).
pub fn is_unavailable(error: &PoolError) -> bool {
    match error {
        PoolError::Timeout(_) | PoolError::Closed | PoolError::NoRuntimeSpecified => true,
        PoolError::Backend(e) => is_unreachable(e),
        PoolError::PostCreateHook(_) => false,
    }
}

/// True when a driver error means the database went away, refused us or is
/// overloaded: no connection, a connection exception (class 08), too many
/// connections (53), an administrator shutdown or a cancelled statement (57).
pub fn is_unreachable(error: &tokio_postgres::Error) -> bool {
    match error.as_db_error() {
        None => true,
        Some(db) => ["08", "53", "57"]
            .iter()
            .any(|class| db.code().code().starts_with(class)),
    }
}

/// A database error as the logs show it: SQLSTATE, constraint and message.
/// Never put in a response.
pub fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let constraint = db
                .constraint()
                .map(|c| format!(" (constraint {c})"))
                .unwrap_or_default();
            format!(
                "SQLSTATE {}{constraint}: {}",
                db.code().code(),
                db.message()
            )
        }
        None => match std::error::Error::source(error) {
            Some(cause) => format!("{error}: {cause}"),
            None => error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_default_to_plain_and_remote_to_verified_tls() {
        let local = DbSettings::from_url("postgres://app:pw@127.0.0.1:5432/flux").unwrap();
        assert_eq!(local.tls, DbTls::Off);
        let remote = DbSettings::from_url("postgres://app:pw@db.example.internal/flux").unwrap();
        assert!(matches!(remote.tls, DbTls::Verify { .. }));
        assert!(!format!("{local:?}").contains("pw@"), "{local:?}");
    }

    #[tokio::test]
    async fn host_settings_need_the_credentials_secret() {
        let vars: &[(&str, &str)] = &[("DB_HOST", "proxy.example.internal"), ("DB_NAME", "flux")];
        let err = DbSettings::from_env(vars, &Arc::new(Secrets::env()), "DB_SECRET_ID")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("DB_SECRET_ID"), "{err}");
    }

    #[test]
    fn every_connection_gets_a_statement_timeout() {
        let mut settings = DbSettings::from_url("postgres://app@127.0.0.1/flux").unwrap();
        settings.statement_timeout = Duration::from_millis(1500);
        let options = settings.driver_config().get_options().unwrap().to_string();
        assert!(options.contains("statement_timeout=1500"), "{options}");
        assert!(!options.contains("lock_timeout"), "{options}");
    }

    #[tokio::test]
    async fn migrate_sets_a_lock_timeout() {
        let vars: &[(&str, &str)] = &[
            ("DATABASE_URL", "postgres://owner@127.0.0.1/flux"),
            ("DB_LOCK_TIMEOUT_MS", "10000"),
        ];
        let settings = DbSettings::from_env(vars, &Arc::new(Secrets::env()), "DB_SECRET_ID")
            .await
            .unwrap();
        let options = settings.driver_config().get_options().unwrap().to_string();
        assert!(options.contains("lock_timeout=10000"), "{options}");
    }
}
