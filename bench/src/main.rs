//! Benchmarks that print their figures, each against the local stack in
//! one run. `cargo run --release -p flux-bench -- auth`

mod capture;
mod cold_start;
mod ingest;
mod memory;
mod sales;

use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use flux_local::stack::{RunningStack, StackOptions};
use serde_json::{json, Value};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Password hashing cost, login latency and token sizes.
    Auth {
        /// Logins to time.
        #[arg(long, default_value_t = 50)]
        logins: usize,
    },
    /// CSV ingestion through the local stack, against `psql \copy` of the same file.
    Ingest {
        /// Data rows to generate (about 3 per order).
        #[arg(long, default_value_t = 1_000_000)]
        rows: u64,
    },
    /// Analytics latency over 5 restaurants of 1M lines each, against GROUP BY over the raw rows.
    Sales {
        /// Item lines per restaurant.
        #[arg(long, default_value_t = 1_000_000)]
        lines: u64,
        /// Warm runs per endpoint and range.
        #[arg(long, default_value_t = 50)]
        runs: usize,
        /// Runs of each raw GROUP BY.
        #[arg(long, default_value_t = 10)]
        raw_runs: usize,
    },
    /// Each function's release binary started as Lambda starts it: init
    /// time, first and warm answer, peak RSS, binary and zip size.
    ColdStart {
        /// Cold starts per function.
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
    /// csv-ingest's peak memory on hostile files: one 1 GiB line, and 1 GiB
    /// of 64 KiB lines.
    Memory {
        /// Size of each file, in MiB.
        #[arg(long, default_value_t = 1024)]
        mib: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    capture::init();
    match Cli::parse().command {
        Command::Auth { logins } => auth(logins).await,
        Command::Ingest { rows } => ingest::run(rows).await,
        Command::Memory { mib } => memory::run(mib).await,
        Command::ColdStart { runs } => cold_start::run(runs).await,
        Command::Sales {
            lines,
            runs,
            raw_runs,
        } => sales::run(lines, runs, raw_runs).await,
    }
}

pub(crate) async fn start_stack() -> anyhow::Result<(RunningStack, tempfile::TempDir)> {
    start_stack_with(None).await
}

/// The local stack; S3 events go to `on_object_created` instead of
/// csv-ingest when given.
pub(crate) async fn start_stack_with(
    on_object_created: Option<flux_local::s3::ObjectCreatedHandler>,
) -> anyhow::Result<(RunningStack, tempfile::TempDir)> {
    let dir = tempfile::Builder::new().prefix("flux-bench-").tempdir()?;
    // PostgreSQL runs as the `postgres` user when we are root: let it in.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let stack = RunningStack::start(StackOptions {
        api_port: 0,
        s3_port: 0,
        data_dir: dir.path().to_path_buf(),
        database_url: std::env::var("DATABASE_URL").ok(),
        s3_endpoint: None,
        allowed_origins: vec![],
        on_object_created,
        access_token_ttl: None,
    })
    .await?;
    Ok((stack, dir))
}

pub(crate) fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

async fn auth(logins: usize) -> anyhow::Result<()> {
    let mut hashes = Vec::new();
    for i in 0..10 {
        let started = Instant::now();
        flux_shared::passwords::hash(format!("benchmark-password-{i}")).await?;
        hashes.push(started.elapsed());
    }
    let (stack, _dir) = start_stack().await?;
    let client = reqwest::Client::new();
    let password = "violet-otter-juggles-42-plums";
    let email = "bench@flux.example";
    let registered: Value = client
        .post(format!("{}/auth/register", stack.api_url))
        .json(&json!({"email": email, "password": password, "restaurant_name": "Bench"}))
        .send()
        .await?
        .json()
        .await?;
    let access = registered["access_token"]
        .as_str()
        .unwrap_or_default()
        .len();
    let refresh = registered["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .len();

    // What a protected request pays for refusing tokens of ended sessions:
    // scoping a transaction with the session check, against without it.
    let token = registered["access_token"].as_str().unwrap_or_default();
    let claims = token_claims(token);
    let db = stack.database.app.connect().await?;
    let (rid, sid, sub) = (
        claims["rid"]
            .as_str()
            .unwrap_or_default()
            .parse::<uuid::Uuid>()?,
        claims["sid"]
            .as_str()
            .unwrap_or_default()
            .parse::<uuid::Uuid>()?,
        claims["sub"]
            .as_str()
            .unwrap_or_default()
            .parse::<uuid::Uuid>()?,
    );
    let mut scoped = Vec::new();
    let mut checked = Vec::new();
    for _ in 0..500 {
        let started = Instant::now();
        db.query_one(
            "SELECT set_config('app.restaurant_id', $1, true)",
            &[&rid.to_string()],
        )
        .await?;
        scoped.push(started.elapsed());
        let started = Instant::now();
        let live: bool = db
            .query_one("SELECT app_act_for($1, $2, $3)", &[&rid, &sid, &sub])
            .await?
            .get(0);
        checked.push(started.elapsed());
        anyhow::ensure!(live, "the session should be live");
    }
    let mut me = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let status = client
            .get(format!("{}/auth/me", stack.api_url))
            .bearer_auth(token)
            .send()
            .await?
            .status();
        me.push(started.elapsed());
        anyhow::ensure!(status.is_success(), "/auth/me failed: {status}");
    }

    let mut latencies = Vec::new();
    for _ in 0..logins {
        let started = Instant::now();
        let status = client
            .post(format!("{}/auth/login", stack.api_url))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await?
            .status();
        latencies.push(started.elapsed());
        anyhow::ensure!(status.is_success(), "login failed: {status}");
    }
    stack.shutdown().await;

    println!(
        "argon2id hash (m=19456 KiB, t=2, p=1): median {:?} over {} hashes",
        percentile(&mut hashes, 0.5),
        hashes.len()
    );
    println!(
        "login over HTTP: p50 {:?}, p95 {:?} over {} logins",
        percentile(&mut latencies, 0.5),
        percentile(&mut latencies, 0.95),
        latencies.len()
    );
    println!("access token: {access} bytes; refresh token: {refresh} bytes");
    println!(
        "session check (revoked tokens refused): scoping a transaction p50 {:?} with it, {:?} without, over {} each",
        percentile(&mut checked, 0.5),
        percentile(&mut scoped, 0.5),
        checked.len()
    );
    println!(
        "/auth/me over HTTP (verify, session check, profile): p50 {:?}, p95 {:?} over {}",
        percentile(&mut me, 0.5),
        percentile(&mut me, 0.95),
        me.len()
    );
    Ok(())
}

/// The claims of a JWT, unverified (the benchmark's own token).
fn token_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null)
}
