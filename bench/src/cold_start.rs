//! `flux-bench cold-start`: each function's release binary started as
//! Lambda starts it (flux_local::runtime_api), against the local stack's
//! database: time to initialise (process start to its first poll for an
//! event), its first and a warm answer, peak RSS, and the size of what
//! ships (the binary, and its zip as `bootstrap`). Built for this machine's
//! architecture; Lambda runs arm64 (`cargo lambda build --release --arm64`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flux_local::runtime_api::{
    api_gateway_event, http_reply, s3_event, LocalDeployment, Outcome, RuntimeApi,
};
use serde_json::{json, Value};

const FUNCTIONS: [&str; 6] = [
    "health",
    "auth",
    "sales",
    "data-upload",
    "csv-ingest",
    "migrate",
];
const WITHIN: Duration = Duration::from_secs(60);

pub async fn run(runs: usize) -> anyhow::Result<()> {
    let target = build_release_binaries()?;
    let (stack, dir) = crate::start_stack().await?;
    let secrets = dir.path().join("lambda-secrets");
    std::fs::create_dir_all(&secrets)?;
    let app = &stack.database.app.pg;
    let owner = &stack.database.owner.pg;
    let creds = |pg: &tokio_postgres::Config| {
        json!({"username": pg.get_user().unwrap_or_default(),
               "password": String::from_utf8_lossy(pg.get_password().unwrap_or_default())})
        .to_string()
    };
    std::fs::write(secrets.join("db-app"), creds(app))?;
    std::fs::write(secrets.join("db-owner"), creds(owner))?;
    let deployment = LocalDeployment {
        database: app,
        secrets_dir: &secrets,
        bucket: &stack.s3.bucket,
    };
    let vars = |declared: &[&str]| -> anyhow::Result<Vec<(String, String)>> {
        Ok(deployment.environment(declared)?.into_iter().collect())
    };
    let environment = |name: &str| -> anyhow::Result<Vec<(String, String)>> {
        match name {
            "auth" => vars(flux_auth::ENVIRONMENT),
            "sales" => vars(flux_sales::ENVIRONMENT),
            "data-upload" => vars(flux_data_upload::ENVIRONMENT),
            "csv-ingest" => vars(flux_csv_ingest::ENVIRONMENT),
            "migrate" => vars(flux_migrate::ENVIRONMENT),
            _ => vars(flux_health::ENVIRONMENT),
        }
    };

    // migrate first: it creates the signing keys the others read.
    let (_, first, _) =
        cold_start(&target, "migrate", &environment("migrate")?, &json!({})).await?;
    anyhow::ensure!(matches!(first, Outcome::Response(_)), "migrate: {first:?}");
    let auth_env = environment("auth")?;
    let (_, registered, _) = cold_start(
        &target,
        "auth",
        &auth_env,
        &api_gateway_event(
            "POST",
            "/auth/register",
            None,
            Some(
                &json!({"email": "cold@example.com", "password": "a long enough password 1",
                         "restaurant_name": "Cold Start"}),
            ),
        ),
    )
    .await?;
    let token = http_reply(&registered)
        .and_then(|(_, body)| body["access_token"].as_str().map(String::from))
        .ok_or_else(|| anyhow::anyhow!("register: {registered:?}"))?;

    let unknown = format!(
        "uploads/{}/{}.csv",
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4()
    );
    let unknown_upload = s3_event(&stack.s3.bucket, &[(&unknown, 10)]);
    let events: Vec<(&str, Value)> = vec![
        ("health", api_gateway_event("GET", "/health", None, None)),
        (
            "auth",
            api_gateway_event("GET", "/auth/me", Some(&token), None),
        ),
        (
            "sales",
            api_gateway_event(
                "GET",
                "/sales/summary?from=2026-01-01&to=2026-01-31",
                Some(&token),
                None,
            ),
        ),
        (
            "data-upload",
            api_gateway_event("GET", "/uploads", Some(&token), None),
        ),
        ("csv-ingest", unknown_upload),
        ("migrate", json!({})),
    ];
    println!(
        "cold starts: {runs} per function, release build for this machine; each run a new process"
    );
    println!(
        "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "function",
        "init p50",
        "init max",
        "1st p50",
        "warm p50",
        "RSS MiB",
        "binary MiB",
        "zip MiB"
    );
    for (name, event) in &events {
        let env = environment(name)?;
        let (mut inits, mut firsts, mut warms, mut peak) =
            (Vec::new(), Vec::new(), Vec::new(), 0f64);
        for _ in 0..runs {
            let (times, outcome, rss) = cold_start(&target, name, &env, event).await?;
            anyhow::ensure!(
                http_reply(&outcome).is_none_or(|(status, _)| status < 500),
                "{name}: {outcome:?}"
            );
            anyhow::ensure!(
                matches!(outcome, Outcome::Response(_)),
                "{name}: {outcome:?}"
            );
            inits.push(times.0);
            firsts.push(times.1);
            warms.push(times.2);
            peak = peak.max(rss);
        }
        let (binary, zipped) = sizes(&target.join(name), dir.path())?;
        println!(
            "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9.1} {:>10.1} {:>10.1}",
            name,
            ms(crate::percentile(&mut inits, 0.5)),
            ms(*inits.iter().max().unwrap()),
            ms(crate::percentile(&mut firsts, 0.5)),
            ms(crate::percentile(&mut warms, 0.5)),
            peak,
            binary,
            zipped
        );
    }
    stack.shutdown().await;
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// One process from spawn to exit: (init, first answer, warm answer), the
/// first outcome, and its peak RSS in MiB.
async fn cold_start(
    target: &Path,
    name: &str,
    env: &[(String, String)],
    event: &Value,
) -> anyhow::Result<((Duration, Duration, Duration), Outcome, f64)> {
    let api = RuntimeApi::start(&format!("flux-bench-{name}")).await?;
    let spawned = Instant::now();
    let mut child = Command::new(target.join(name))
        .env_clear()
        .envs(api.lambda_environment(256))
        .envs(env.iter().cloned())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let started = api
        .started(WITHIN)
        .await
        .map_err(|e| anyhow::anyhow!("{name} did not start: {e:?}"));
    let result = async {
        let started = started?;
        let asked = Instant::now();
        let first = api
            .invoke(event.clone(), WITHIN)
            .await
            .ok_or_else(|| anyhow::anyhow!("{name}: no answer"))?;
        let first_took = asked.elapsed();
        let asked = Instant::now();
        api.invoke(event.clone(), WITHIN)
            .await
            .ok_or_else(|| anyhow::anyhow!("{name}: no second answer"))?;
        let warm = asked.elapsed();
        let rss = peak_rss_mib(child.id());
        Ok(((started - spawned, first_took, warm), first, rss))
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The binary's size and its zip's, as Lambda receives it (`bootstrap`).
fn sizes(binary: &Path, scratch: &Path) -> anyhow::Result<(f64, f64)> {
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let staged = scratch.join("zip");
    std::fs::create_dir_all(&staged)?;
    std::fs::copy(binary, staged.join("bootstrap"))?;
    let zip = staged.join("bootstrap.zip");
    let _ = std::fs::remove_file(&zip);
    let zipped = Command::new("zip")
        .current_dir(&staged)
        .args(["-q", "-9", "bootstrap.zip", "bootstrap"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let zip_size = if zipped {
        mib(std::fs::metadata(&zip)?.len())
    } else {
        f64::NAN
    };
    Ok((mib(std::fs::metadata(binary)?.len()), zip_size))
}

/// The functions' release binaries, built as they ship.
fn build_release_binaries() -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(&root)
        .args(["build", "--release", "--quiet", "--bins"]);
    for name in FUNCTIONS {
        cargo.args(["-p", &format!("flux-{name}")]);
    }
    anyhow::ensure!(
        cargo.status()?.success(),
        "building the functions' release binaries failed"
    );
    let target =
        std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
    Ok(target.join("release"))
}
