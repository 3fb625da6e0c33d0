//! Typed configuration read from the environment. Every error names the
//! variable so a misconfigured function says exactly what to fix.

use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {name} is required but not set")]
    Missing { name: &'static str },
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A source of variables: the process environment in production, a map in tests.
pub trait Vars {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Vars for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Vars for [(&str, &str)] {
    fn var(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

/// What every function's deployment sets: the log filter and where its
/// secrets come from.
pub const FUNCTION_ENVIRONMENT: &[&str] = &["RUST_LOG", "SECRETS_SOURCE"];

/// A function's `ENVIRONMENT`, made of the lists of the shared parts it
/// uses and its own names, in a `const`:
/// `environment![config::FUNCTION_ENVIRONMENT, db::APP_ENVIRONMENT, &["UPLOADS_BUCKET"]]`.
#[macro_export]
macro_rules! environment {
    ($($part:expr),+ $(,)?) => {{
        const PARTS: &[&[&str]] = &[$($part),+];
        const JOINED: [&str; $crate::config::joined_len(PARTS)] = $crate::config::join(PARTS);
        &JOINED
    }};
}

/// How many names `parts` hold together (for [`environment!`]).
pub const fn joined_len(parts: &[&[&str]]) -> usize {
    let (mut len, mut part) = (0, 0);
    while part < parts.len() {
        len += parts[part].len();
        part += 1;
    }
    len
}

/// `parts`, one after the other (for [`environment!`]).
pub const fn join<const N: usize>(parts: &[&[&'static str]]) -> [&'static str; N] {
    let mut joined = [""; N];
    let (mut at, mut part) = (0, 0);
    while part < parts.len() {
        let mut name = 0;
        while name < parts[part].len() {
            joined[at] = parts[part][name];
            at += 1;
            name += 1;
        }
        part += 1;
    }
    joined
}

/// An optional variable; set-but-empty counts as unset.
pub fn optional(vars: &(impl Vars + ?Sized), name: &'static str) -> Option<String> {
    vars.var(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

pub fn required(vars: &(impl Vars + ?Sized), name: &'static str) -> Result<String, ConfigError> {
    optional(vars, name).ok_or(ConfigError::Missing { name })
}

/// An optional variable parsed into `T`, or `default` when unset.
pub fn parsed<T>(
    vars: &(impl Vars + ?Sized),
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match optional(vars, name) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            reason: e.to_string(),
        }),
    }
}

/// A comma-separated list; empty items are dropped.
pub fn list(vars: &(impl Vars + ?Sized), name: &'static str) -> Vec<String> {
    optional(vars, name)
        .map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Why a function could not build its state at start-up. Lambda reports it
/// as an init error, so the message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Database(#[from] crate::db::DbError),
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error(transparent)]
    Verifier(#[from] crate::tokens::VerifierSetupError),
}

/// Builds a function's state once per container. A failure is logged and
/// reported to the Lambda Runtime API's `init/error` (so the invocation
/// fails with the message, which names what to fix) before `main` returns it.
pub async fn start<T, E: std::fmt::Display>(
    build: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let built = build.await;
    if let Err(e) = &built {
        tracing::error!(error = %e, "the function could not start");
        if let Some(api) = ProcessEnv.var("AWS_LAMBDA_RUNTIME_API") {
            if let Err(report) = report_init_error(&api, &e.to_string()).await {
                tracing::error!(error = %report, "init/error could not be reported");
            }
        }
    }
    built
}

/// POST /2018-06-01/runtime/init/error, over plain HTTP/1.1 on the
/// runtime's loopback address (the runtime client offers no way to do it).
async fn report_init_error(api: &str, message: &str) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body =
        serde_json::json!({"errorType": "Runtime.InitError", "errorMessage": message}).to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: Runtime.InitError\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(api).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await?;
    Ok(())
}

/// Records every variable asked for, to check a function's declared
/// environment against what it reads.
#[derive(Default)]
pub struct Recording<V> {
    pub vars: V,
    pub read: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl<V: Vars> Vars for Recording<V> {
    fn var(&self, name: &str) -> Option<String> {
        self.read
            .lock()
            .expect("not poisoned")
            .insert(name.to_string());
        self.vars.var(name)
    }
}

impl Vars for std::collections::HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_joins_its_parts_in_order() {
        const JOINED: &[&str] = crate::environment![&["A", "B"], &[], &["C"]];
        assert_eq!(JOINED, ["A", "B", "C"]);
        assert_eq!(
            crate::db::APP_ENVIRONMENT,
            [
                "DB_HOST",
                "DB_PORT",
                "DB_NAME",
                "DB_TLS",
                "DB_APP_SECRET_ID"
            ]
        );
    }

    #[test]
    fn missing_and_invalid_variables_are_named() {
        let vars: &[(&str, &str)] = &[("PORT", "eighty"), ("EMPTY", "  ")];
        assert_eq!(
            required(vars, "EMPTY"),
            Err(ConfigError::Missing { name: "EMPTY" })
        );
        let err = parsed::<u16>(vars, "PORT", 1).unwrap_err();
        assert!(err.to_string().contains("PORT"), "{err}");
        assert_eq!(parsed::<u16>(vars, "UNSET", 7), Ok(7));
    }

    #[test]
    fn lists_are_trimmed() {
        let vars: &[(&str, &str)] = &[("ORIGINS", " https://a.example , ,https://b.example")];
        assert_eq!(
            list(vars, "ORIGINS"),
            vec!["https://a.example", "https://b.example"]
        );
    }
}
