//! `cargo run --release -p flux-local`: the whole Flux backend on one machine.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use flux_local::database::LocalDatabase;
use flux_local::stack::{RunningStack, StackOptions};
use flux_local::{database, seed};

#[derive(Parser)]
#[command(about = "Runs the Flux backend locally: PostgreSQL, an S3 endpoint and the API")]
struct Cli {
    /// Port of the API.
    #[arg(long, env = "FLUX_LOCAL_PORT", default_value_t = 3000, global = true)]
    port: u16,
    /// Port of the S3 endpoint.
    #[arg(
        long,
        env = "FLUX_LOCAL_S3_PORT",
        default_value_t = 9000,
        global = true
    )]
    s3_port: u16,
    /// Where the database, objects and generated secrets are kept between runs.
    #[arg(
        long,
        env = "FLUX_LOCAL_DATA_DIR",
        default_value = ".flux-local",
        global = true
    )]
    data_dir: PathBuf,
    /// An existing PostgreSQL to use (its user runs the migrations) instead of a private one.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    /// An external S3 endpoint instead of the built-in one (it fires no events to csv-ingest).
    #[arg(long, env = "FLUX_LOCAL_S3_ENDPOINT", global = true)]
    s3_endpoint: Option<String>,
    /// Browser origins allowed by CORS, comma separated.
    #[arg(
        long,
        env = "ALLOWED_ORIGINS",
        default_value = "http://localhost:5173,http://127.0.0.1:5173",
        value_delimiter = ',',
        global = true
    )]
    allowed_origins: Vec<String>,
    /// Access tokens' lifetime in seconds (default 900).
    #[arg(long, env = "AUTH_ACCESS_TOKEN_TTL_SECS", global = true)]
    access_token_ttl_secs: Option<u64>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and S3 endpoint (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Create a demo restaurant, its owner and a sample CSV, and print the credentials.
    Seed,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // What went wrong and what to do, in words: no backtrace for a person.
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let mut cli = Cli::parse();
    // Logs go to stderr: stdout is what a person reads (the URLs, seed's
    // credentials), never interleaved with JSON.
    flux_shared::telemetry::init_on_stderr();
    if cli.database_url.is_none() {
        if let Err(e) = database::binaries_available() {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
    std::fs::create_dir_all(&cli.data_dir)?;
    match cli.command.take().unwrap_or(Command::Serve) {
        Command::Serve => serve(cli).await,
        Command::Migrate => {
            let mut db =
                LocalDatabase::bring_up(&cli.data_dir.canonicalize()?, cli.database_url.as_deref())
                    .await?;
            println!("applied: {:?}", db.migrations.applied);
            println!("schema version: {:?}", db.migrations.version);
            db.stop().await;
            Ok(())
        }
        Command::Seed => {
            let data_dir = cli.data_dir.canonicalize()?;
            let api = seed::running_api(&data_dir)?;
            let report = seed::seed(&api, &data_dir).await?;
            let what = if report.created {
                "created"
            } else {
                "already there"
            };
            println!(
                "demo restaurant {what}: {} ({}) on {api}",
                seed::DEMO_RESTAURANT,
                report.restaurant_id
            );
            println!("email:    {}", seed::DEMO_EMAIL);
            println!("password: {}", seed::DEMO_PASSWORD);
            println!("sample CSV: {}", report.sample_csv.display());
            Ok(())
        }
    }
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    // Listening from the start: a SIGTERM during start-up still stops cleanly.
    let stop = tokio::spawn(wait_for_signal());
    let stack = RunningStack::start(StackOptions {
        api_port: cli.port,
        s3_port: cli.s3_port,
        data_dir: cli.data_dir,
        database_url: cli.database_url,
        s3_endpoint: cli.s3_endpoint,
        allowed_origins: cli.allowed_origins,
        on_object_created: None,
        access_token_ttl: cli
            .access_token_ttl_secs
            .map(std::time::Duration::from_secs),
    })
    .await?;
    println!("API: {}", stack.api_url);
    println!("S3: {} (bucket {})", stack.s3.url, stack.s3.bucket);
    println!("DATABASE_URL: {}", stack.database.human_url);
    println!(
        "sample CSV: {}",
        seed::write_sample(&stack.data_dir)?.display()
    );
    if !stack.database.migrations.applied.is_empty() {
        println!(
            "migrations applied: {}",
            stack.database.migrations.applied.join(", ")
        );
    }
    let _ = stop.await;
    eprintln!("shutting down");
    stack.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
