//! Benchmarks that print their figures, each against the local stack in
//! one run. `cargo run --release -p flux-bench -- auth`

mod ingest;

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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    flux_shared::telemetry::init();
    match Cli::parse().command {
        Command::Auth { logins } => auth(logins).await,
        Command::Ingest { rows } => ingest::run(rows).await,
    }
}

pub(crate) async fn start_stack() -> anyhow::Result<(RunningStack, tempfile::TempDir)> {
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
        on_object_created: None,
    })
    .await?;
    Ok((stack, dir))
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
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
    Ok(())
}
