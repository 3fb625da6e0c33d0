//! Applies `migrations/` (embedded at build time) as the owner role, and
//! gives the application role its password. The deploy pipeline invokes the
//! `migrate` Lambda; the local stack and the test harness call [`migrate`].

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// The role the functions connect as; created by the first migration.
pub const APP_ROLE: &str = "flux_app";

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("migration failed: {0}")]
    Migration(#[from] refinery::Error),
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
}

/// What a run did, as the Lambda returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationReport {
    /// The migrations this run applied, as `V<version>__<name>`, in order.
    pub applied: Vec<String>,
    /// The schema version after the run.
    pub version: Option<i32>,
}

/// Applies every pending migration, each in its own transaction.
pub async fn migrate(client: &mut tokio_postgres::Client) -> Result<MigrationReport, MigrateError> {
    let runner = embedded::migrations::runner();
    let report = runner.run_async(client).await?;
    let applied = report
        .applied_migrations()
        .iter()
        .map(|m| format!("V{}__{}", m.version(), m.name()))
        .collect();
    let version = runner
        .get_last_applied_migration_async(client)
        .await?
        .map(|m| m.version());
    Ok(MigrationReport { applied, version })
}

/// Sets the application role's password. Only a SCRAM verifier computed here
/// is sent, so the password never reaches the server's statement log.
pub async fn set_app_password(
    client: &tokio_postgres::Client,
    password: &SecretString,
) -> Result<(), MigrateError> {
    let verifier = postgres_protocol::password::scram_sha_256(password.expose_secret().as_bytes());
    // A verifier holds only base64 and `$:`; quoting it is still done by the server.
    let sql: String = client
        .query_one(
            "SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)",
            &[&APP_ROLE, &verifier],
        )
        .await?
        .get(0);
    // Roles are cluster-wide: an ALTER ROLE racing another one (two stacks
    // or deploys sharing a server) fails with "tuple concurrently updated";
    // the statement is idempotent, so try again.
    let mut attempt = 0;
    loop {
        match client.batch_execute(&sql).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 10 && is_concurrent_update(&e) => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn is_concurrent_update(error: &tokio_postgres::Error) -> bool {
    error
        .as_db_error()
        .is_some_and(|e| e.message().contains("tuple concurrently updated"))
}
