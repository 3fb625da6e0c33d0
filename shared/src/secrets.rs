//! One interface for secrets: AWS Secrets Manager in the cloud, environment
//! variables or files in the local stack's data directory on one machine.
//! Values are `SecretString`s: they never show up in `Debug` output or logs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use crate::config::{self, ConfigError, Vars};

/// How long a value fetched from Secrets Manager is reused before it is read again.
const CACHE_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("secret {id} was not found")]
    NotFound { id: String },
    #[error("secret {id} could not be read: {reason}")]
    Unavailable { id: String, reason: String },
    #[error("secret {id} is malformed: {reason}")]
    Malformed { id: String, reason: String },
}

enum Backend {
    AwsSecretsManager(aws_sdk_secretsmanager::Client),
    /// `FLUX_SECRET_<ID>`, the id upper-cased with non-alphanumerics as `_`.
    Env,
    /// One file per secret, named by the id.
    Dir(PathBuf),
}

/// Secrets, cached per container.
pub struct Secrets {
    backend: Backend,
    cache: Mutex<HashMap<String, (Instant, SecretString)>>,
    ttl: Duration,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.backend {
            Backend::AwsSecretsManager(_) => "aws-secrets-manager".to_string(),
            Backend::Env => "env".to_string(),
            Backend::Dir(dir) => format!("dir:{}", dir.display()),
        };
        f.debug_struct("Secrets")
            .field("backend", &backend)
            .finish()
    }
}

impl Secrets {
    pub fn aws(client: aws_sdk_secretsmanager::Client) -> Self {
        Self::with(Backend::AwsSecretsManager(client))
    }

    pub fn env() -> Self {
        Self::with(Backend::Env)
    }

    pub fn dir(dir: impl Into<PathBuf>) -> Self {
        Self::with(Backend::Dir(dir.into()))
    }

    fn with(backend: Backend) -> Self {
        Self {
            backend,
            cache: Mutex::new(HashMap::new()),
            ttl: CACHE_TTL,
        }
    }

    /// Reuse fetched values this long (tests of rotation use zero).
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Chooses the backend from `SECRETS_SOURCE` (`aws`, `env` or `dir:<path>`);
    /// the default is `aws` inside Lambda and `env` elsewhere.
    pub async fn from_env(vars: &(impl Vars + ?Sized)) -> Result<Self, ConfigError> {
        let in_lambda = vars.var("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let source = config::optional(vars, "SECRETS_SOURCE")
            .unwrap_or_else(|| if in_lambda { "aws" } else { "env" }.to_string());
        match source.as_str() {
            "aws" => {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                Ok(Self::aws(aws_sdk_secretsmanager::Client::new(&sdk)))
            }
            "env" => Ok(Self::env()),
            other => match other.strip_prefix("dir:") {
                Some(path) if !path.is_empty() => Ok(Self::dir(path)),
                _ => Err(ConfigError::Invalid {
                    name: "SECRETS_SOURCE",
                    reason: format!("expected aws, env or dir:<path>, got {other:?}"),
                }),
            },
        }
    }

    /// The secret's value, from the cache while it is fresh.
    pub async fn get(&self, id: &str) -> Result<SecretString, SecretsError> {
        let mut cache = self.cache.lock().await;
        if let Some((fetched, value)) = cache.get(id) {
            if fetched.elapsed() < self.ttl {
                return Ok(value.clone());
            }
        }
        let value = self.fetch(id).await?;
        cache.insert(id.to_string(), (Instant::now(), value.clone()));
        Ok(value)
    }

    /// The secret's current value, never from the cache: after a credential
    /// was refused, the cached one may be the one rotated away.
    pub async fn refresh(&self, id: &str) -> Result<SecretString, SecretsError> {
        let value = self.fetch(id).await?;
        let mut cache = self.cache.lock().await;
        cache.insert(id.to_string(), (Instant::now(), value.clone()));
        Ok(value)
    }

    /// Stores a new current value (migrate creates signing keys and rotates
    /// credentials with it). The `env` backend is read-only.
    pub async fn put(&self, id: &str, value: &SecretString) -> Result<(), SecretsError> {
        let failed = |reason: String| SecretsError::Unavailable {
            id: id.to_string(),
            reason,
        };
        match &self.backend {
            Backend::AwsSecretsManager(client) => {
                client
                    .put_secret_value()
                    .secret_id(id)
                    .secret_string(value.expose_secret())
                    .send()
                    .await
                    .map_err(|e| {
                        failed(aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string())
                    })?;
            }
            Backend::Env => return Err(failed("the env secrets source is read-only".into())),
            Backend::Dir(dir) => write_private(&dir.join(file_name(id)), value)
                .await
                .map_err(|e| failed(e.to_string()))?,
        }
        let mut cache = self.cache.lock().await;
        cache.insert(id.to_string(), (Instant::now(), value.clone()));
        Ok(())
    }

    /// A secret holding JSON, such as RDS's `{"username": ..., "password": ...}`.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        id: &str,
    ) -> Result<T, SecretsError> {
        let raw = self.get(id).await?;
        serde_json::from_str(raw.expose_secret()).map_err(|e| SecretsError::Malformed {
            id: id.to_string(),
            // serde's message may quote the input; keep only where it failed.
            reason: format!(
                "not the expected JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        })
    }

    async fn fetch(&self, id: &str) -> Result<SecretString, SecretsError> {
        match &self.backend {
            Backend::AwsSecretsManager(client) => {
                let out = client
                    .get_secret_value()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| {
                        let service = e.as_service_error();
                        if service.is_some_and(|s| s.is_resource_not_found_exception()) {
                            SecretsError::NotFound { id: id.to_string() }
                        } else {
                            SecretsError::Unavailable {
                                id: id.to_string(),
                                reason: aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                                    .to_string(),
                            }
                        }
                    })?;
                out.secret_string()
                    .map(|s| SecretString::from(s.to_string()))
                    .ok_or_else(|| SecretsError::Malformed {
                        id: id.to_string(),
                        reason: "no SecretString (binary secrets are not supported)".into(),
                    })
            }
            Backend::Env => {
                let name = env_name(id);
                std::env::var(&name)
                    .map(SecretString::from)
                    .map_err(|_| SecretsError::NotFound { id: id.to_string() })
            }
            Backend::Dir(dir) => {
                let path = dir.join(file_name(id));
                match tokio::fs::read_to_string(&path).await {
                    Ok(value) => Ok(SecretString::from(value.trim_end_matches('\n').to_string())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Err(SecretsError::NotFound { id: id.to_string() })
                    }
                    Err(e) => Err(SecretsError::Unavailable {
                        id: id.to_string(),
                        reason: e.to_string(),
                    }),
                }
            }
        }
    }
}

/// Replaces the file whole (a reader never sees half a value), owner-only.
async fn write_private(path: &std::path::Path, value: &SecretString) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let partial = path.with_extension("partial");
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&partial).await?;
    file.write_all(value.expose_secret().as_bytes()).await?;
    file.sync_all().await?;
    tokio::fs::rename(&partial, path).await
}

/// The environment variable that holds secret `id` for the `env` backend.
pub fn env_name(id: &str) -> String {
    let suffix: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("FLUX_SECRET_{suffix}")
}

/// The file that holds secret `id` for the `dir` backend; ids never escape the directory.
pub fn file_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_derived_safely() {
        assert_eq!(env_name("flux/db-app"), "FLUX_SECRET_FLUX_DB_APP");
        assert_eq!(file_name("../../etc/passwd"), "______etc_passwd");
    }

    #[tokio::test]
    async fn dir_backend_reads_files_and_never_debug_prints_values() {
        let dir = std::env::temp_dir().join(format!("flux-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("db-app"), "s3cr3t-value\n").unwrap();
        let secrets = Secrets::dir(&dir);
        let value = secrets.get("db-app").await.unwrap();
        assert_eq!(value.expose_secret(), "s3cr3t-value");
        assert!(!format!("{value:?} {secrets:?}").contains("s3cr3t"));
        assert!(matches!(
            secrets.get("missing").await,
            Err(SecretsError::NotFound { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
