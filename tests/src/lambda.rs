//! A function binary run as Lambda runs it, under the Runtime API emulator
//! (flux_local::runtime_api).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use flux_local::runtime_api::{api_gateway_event, http_reply, Outcome, RuntimeApi};
use serde_json::Value;

pub const WITHIN: Duration = Duration::from_secs(30);

/// target/<profile>/<name>, as `cargo build` makes it. `cargo test` builds
/// the function crates' binaries only as unit-test harnesses, so the first
/// use builds the real ones (the same profile and features as the tests),
/// once per test process.
fn binary(name: &str) -> PathBuf {
    static BUILT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(root)
            .args(["build", "--workspace", "--bins", "--quiet"])
            .status()
            .map_err(|e| e.to_string())?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("cargo build: {status}"))
    });
    if let Err(e) = built {
        panic!("building the function binaries failed: {e}");
    }
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
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

    /// Through this (auth) function: registers `restaurant` and its owner,
    /// then reads `/auth/me` with the new token. The token and the profile.
    pub async fn sign_up(&self, email: &str, restaurant: &str) -> (String, Value) {
        let register = serde_json::json!({"email": email, "password": "a long enough password 1",
                                          "restaurant_name": restaurant});
        let (status, body) = self
            .http("POST", "/auth/register", None, Some(register))
            .await;
        assert_eq!(status, 201, "{body}");
        let token = body["access_token"].as_str().unwrap().to_string();
        let (status, me) = self.http("GET", "/auth/me", Some(&token), None).await;
        assert_eq!(status, 200, "{me}");
        (token, me)
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
