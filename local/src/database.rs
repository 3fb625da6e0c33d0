//! The local stack's database: an external one (`--database-url`, used as
//! the owner) or a private cluster in the data directory, migrated, with the
//! application role given its password.

use std::path::Path;

use flux_migrate::{MigrationReport, APP_ROLE};
use flux_shared::db::DbSettings;
use secrecy::ExposeSecret;

use crate::postgres::{self, Auth, PgCluster};
use crate::secrets::ensure_secret;

pub const DATABASE: &str = "flux";
pub const OWNER_ROLE: &str = "flux_owner";

pub struct LocalDatabase {
    /// Present when we run the cluster (and must stop it).
    pub cluster: Option<PgCluster>,
    /// Migrations run as this role; it owns the tables.
    pub owner: DbSettings,
    /// What the functions connect as: no ownership, no BYPASSRLS.
    pub app: DbSettings,
    /// For a human with psql: sees every restaurant (superuser) when we run
    /// the cluster, else the URL that was given.
    pub human_url: String,
    pub migrations: MigrationReport,
}

impl LocalDatabase {
    pub async fn bring_up(data_dir: &Path, external_url: Option<&str>) -> anyhow::Result<Self> {
        let secrets_dir = data_dir.join("secrets");
        let (cluster, owner, human_url) = match external_url {
            Some(url) => (None, DbSettings::from_url(url)?, url.to_string()),
            None => {
                let (cluster, owner) = start_cluster(data_dir, &secrets_dir).await?;
                let human_url = cluster.superuser_url(DATABASE);
                (Some(cluster), owner, human_url)
            }
        };
        let mut client = owner.connect().await?;
        let migrations = flux_migrate::migrate(&mut client).await?;
        let app_password = ensure_secret(&secrets_dir, "db-app-password")?;
        flux_migrate::set_app_password(&client, &app_password).await?;
        let mut app = owner.clone();
        app.pg.user(APP_ROLE).password(app_password.expose_secret());
        app.pool_max = 16;
        Ok(Self {
            cluster,
            owner,
            app,
            human_url,
            migrations,
        })
    }

    pub async fn stop(&mut self) {
        if let Some(cluster) = self.cluster.as_mut() {
            cluster.stop().await;
        }
    }
}

async fn start_cluster(
    data_dir: &Path,
    secrets_dir: &Path,
) -> anyhow::Result<(PgCluster, DbSettings)> {
    let superuser_password = ensure_secret(secrets_dir, "db-superuser-password")?;
    let cluster_dir = postgres::reachable_dir(&data_dir.join("postgres"))?;
    if cluster_dir != data_dir.join("postgres") {
        eprintln!(
            "note: PostgreSQL runs as the `postgres` user, which cannot reach {}; its cluster lives in {}",
            data_dir.display(),
            cluster_dir.display()
        );
    }
    let mut cluster = PgCluster::new(
        cluster_dir.clone(),
        Auth::Password(superuser_password),
        true,
    )?;
    cluster.init()?;
    // Keep the port between runs so a pasted DATABASE_URL keeps working.
    let port_file = cluster_dir.join("port");
    let saved_port = std::fs::read_to_string(&port_file)
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok())
        .filter(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok());
    cluster.start(saved_port.unwrap_or(0)).await?;
    let port = cluster.port().expect("started");
    std::fs::write(&port_file, port.to_string())?;

    let owner_password = ensure_secret(secrets_dir, "db-owner-password")?;
    let admin = DbSettings::from_url(&cluster.superuser_url("postgres"))?
        .connect()
        .await?;
    let verifier =
        postgres_protocol::password::scram_sha_256(owner_password.expose_secret().as_bytes());
    let role_exists = admin
        .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&OWNER_ROLE])
        .await?
        .is_some();
    let verb = if role_exists { "ALTER" } else { "CREATE" };
    let sql: String = admin
        .query_one(
            &format!(
                "SELECT format('{verb} ROLE %I LOGIN CREATEROLE PASSWORD %L', $1::text, $2::text)"
            ),
            &[&OWNER_ROLE, &verifier],
        )
        .await?
        .get(0);
    admin.batch_execute(&sql).await?;
    let db_exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&DATABASE])
        .await?
        .is_some();
    if !db_exists {
        admin
            .batch_execute(&format!("CREATE DATABASE {DATABASE} OWNER {OWNER_ROLE}"))
            .await?;
    }
    let owner = DbSettings::from_url(&cluster.url(OWNER_ROLE, Some(&owner_password), DATABASE))?;
    Ok((cluster, owner))
}

/// Whether PostgreSQL binaries are installed (for a clear early message).
pub fn binaries_available() -> Result<(), postgres::PgError> {
    postgres::find_bin_dir().map(|_| ())
}
