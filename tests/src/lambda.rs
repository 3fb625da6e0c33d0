//! A function binary run as Lambda runs it, under the Runtime API emulator
//! (flux_local::runtime_api).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use flux_local::runtime_api::{api_gateway_event, http_reply, Outcome, RuntimeApi};
use serde_json::Value;

pub const WITHIN: Duration = Duration::from_secs(30);

/// target/<profile>/<name>, built by `cargo test --workspace` with this test.
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo test --workspace`",
        path.display()
    );
    // `cargo test -p flux-tests` alone does not rebuild the functions' binaries.
    let built = std::fs::metadata(&path).unwrap().modified().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    for dir in [
        root.join("functions").join(name).join("src"),
        root.join("shared/src"),
    ] {
        let newest = newest_file(&dir);
        assert!(
            newest <= built,
            "{} is older than its sources: run `cargo test --workspace`",
            path.display()
        );
    }
    path
}

fn newest_file(dir: &std::path::Path) -> std::time::SystemTime {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            if p.is_dir() {
                newest_file(&p)
            } else {
                std::fs::metadata(&p).unwrap().modified().unwrap()
            }
        })
        .max()
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH)
}

pub struct Running {
    pub api: RuntimeApi,
    pub child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    pub async fn start(name: &str, vars: &HashMap<String, String>) -> Self {
        let api = RuntimeApi::start(&format!("flux-test-{name}"))
            .await
            .unwrap();
        let child = Command::new(binary(name))
            .env_clear()
            .envs(api.lambda_environment(256))
            .envs(vars)
            .stdout(output())
            .stderr(output())
            .spawn()
            .unwrap();
        Self { api, child }
    }

    pub async fn ready(name: &str, vars: &HashMap<String, String>) -> Self {
        let running = Self::start(name, vars).await;
        if let Err(e) = running.api.started(WITHIN).await {
            panic!("{name} did not start: {e:?}");
        }
        running
    }

    pub async fn invoke(&self, event: Value) -> Outcome {
        self.api
            .invoke(event, WITHIN)
            .await
            .expect("an answer in time")
    }

    /// An API Gateway HTTP API (payload 2.0) request; the answer's status and body.
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let outcome = self
            .invoke(api_gateway_event(method, path, token, body.as_ref()))
            .await;
        http_reply(&outcome).unwrap_or_else(|| panic!("{method} {path}: {outcome:?}"))
    }
}

/// The binary's logs: shown with FLUX_TEST_LOG=1, as the stack's are.
fn output() -> std::process::Stdio {
    if std::env::var_os("FLUX_TEST_LOG").is_some() {
        std::process::Stdio::inherit()
    } else {
        std::process::Stdio::null()
    }
}
