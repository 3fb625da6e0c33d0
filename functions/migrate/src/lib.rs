//! Applies `migrations/` (embedded at build time) as the owner role, and
//! gives the application role its password. The deploy pipeline invokes the
//! `migrate` Lambda; the local stack and the test harness call [`migrate`].

use flux_shared::tenant::{self, RestaurantId};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

mod operations;
pub use operations::{Action, Invocation, Migrator, Outcome, ENVIRONMENT};

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// The role the functions connect as; created by the first migration.
pub const APP_ROLE: &str = "flux_app";

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("migration failed: {0}")]
    Migration(#[from] refinery::Error),
    #[error("database: {}", flux_shared::db::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Connect(#[from] flux_shared::db::DbError),
    #[error(transparent)]
    Secrets(#[from] flux_shared::secrets::SecretsError),
    #[error(transparent)]
    Keys(#[from] flux_shared::tokens::keys::KeyError),
    #[error("the application's database secret: {0}")]
    AppSecret(&'static str),
    #[error("{0} is not a role the application may log in as")]
    UnknownRole(String),
}

/// What a run did, as the Lambda returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationReport {
    /// The migrations this run applied, as `V<version>__<name>`, in order.
    pub applied: Vec<String>,
    /// The schema version after the run.
    pub version: Option<i32>,
}

/// Applies every pending migration, each in its own transaction, then
/// finishes what SQL alone cannot (see [`key_emails`]).
pub async fn migrate(client: &mut tokio_postgres::Client) -> Result<MigrationReport, MigrateError> {
    migrate_to(client, None).await
}

/// Applies pending migrations up to `version` (all when `None`).
pub async fn migrate_to(
    client: &mut tokio_postgres::Client,
    version: Option<i32>,
) -> Result<MigrationReport, MigrateError> {
    let runner = embedded::migrations::runner().set_target(match version {
        Some(version) => refinery::Target::Version(version),
        None => refinery::Target::Latest,
    });
    let report = runner.run_async(client).await?;
    if has_table(client, "email_key_backfill").await? {
        key_emails(client).await?;
    }
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

async fn has_table(
    client: &tokio_postgres::Client,
    name: &str,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await?
        .get(0))
}

/// Gives accounts created before emails had keys (migration V3) the key
/// sign-in looks them up by, computed by the same code as at sign-in. Two
/// old accounts whose emails only PostgreSQL told apart cannot both have a
/// key: the later one is left unkeyed, logged, and kept for a human.
pub async fn key_emails(client: &mut tokio_postgres::Client) -> Result<(), MigrateError> {
    let pending = client
        .query(
            "SELECT user_id, restaurant_id, email FROM email_key_backfill",
            &[],
        )
        .await?;
    for row in pending {
        let user_id: uuid::Uuid = row.get("user_id");
        let restaurant: RestaurantId = row.get("restaurant_id");
        let email: &str = row.get("email");
        let tx = tenant::begin(client, restaurant).await?;
        let keyed = tx
            .execute(
                "UPDATE users SET email_key = $2 WHERE id = $1",
                &[&user_id, &flux_shared::emails::key(email)],
            )
            .await;
        match keyed {
            Ok(_) => {
                tx.execute(
                    "DELETE FROM email_key_backfill WHERE user_id = $1",
                    &[&user_id],
                )
                .await?;
                tx.commit().await?;
            }
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
                tracing::warn!(%user_id, %restaurant, "email key taken by another account; left unkeyed");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Sets the application role's password. Only a SCRAM verifier computed here
/// is sent, so the password never reaches the server's statement log.
pub async fn set_app_password(
    client: &tokio_postgres::Client,
    password: &SecretString,
) -> Result<(), MigrateError> {
    set_role_password(client, APP_ROLE, password).await
}

/// Sets the password of `role`: [`APP_ROLE`] itself, or one of the login
/// roles that rotation alternates between (created as members of it, so
/// they hold exactly its grants and policies).
pub async fn set_role_password(
    client: &tokio_postgres::Client,
    role: &str,
    password: &SecretString,
) -> Result<(), MigrateError> {
    if !matches!(role, APP_ROLE | "flux_app_a" | "flux_app_b") {
        return Err(MigrateError::UnknownRole(role.to_string()));
    }
    let verifier = postgres_protocol::password::scram_sha_256(password.expose_secret().as_bytes());
    // Roles are cluster-wide: an ALTER ROLE racing another one (two stacks
    // or deploys sharing a server) fails with "tuple concurrently updated",
    // a CREATE ROLE racing another with a duplicate; each attempt decides
    // again whether to create, so trying again is safe.
    let mut attempt = 0;
    loop {
        // A verifier holds only base64 and `$:`; quoting it is still done by the server.
        let sql: String = client
            .query_one(
                "SELECT CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = $1) \
                    THEN format('ALTER ROLE %I LOGIN PASSWORD %L', $1::text, $2::text) \
                    ELSE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE \
                                 NOBYPASSRLS INHERIT IN ROLE %I PASSWORD %L', \
                                $1::text, $3::text, $2::text) END",
                &[&role, &verifier, &APP_ROLE],
            )
            .await?
            .get(0);
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

/// 32 random bytes, URL-safe: a database password nobody types.
pub(crate) fn fresh_password() -> SecretString {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("system randomness");
    SecretString::from(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn is_concurrent_update(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_OBJECT)
        || error
            .as_db_error()
            .is_some_and(|e| e.message().contains("tuple concurrently updated"))
}
