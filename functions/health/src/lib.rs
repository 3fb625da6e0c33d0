//! `GET /health`: is the service up, and can it reach its database? Always
//! answers within 2 s: the database check is bounded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use flux_shared::config::{StartupError, Vars};
use flux_shared::db::DbFailure;
use flux_shared::http::{self, HttpConfig, Request, Response, Routed};
use flux_shared::problem::Problem;
use flux_shared::routes::{self, Route};
use flux_shared::secrets::Secrets;
use lambda_http::http::StatusCode;
use serde::Serialize;

flux_shared::operations! {
    /// What health serves.
    pub enum Operation {
        Health => get "/health",
    }
}

pub const ROUTES: &[Route] = <Operation as routes::Operation>::ROUTES;

/// How long the database check may take before it counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_millis(1500);

/// Built once per container.
pub struct HealthState {
    pub http: HttpConfig,
    pub pool: Pool,
}

/// What its deployment sets (Terraform's `routes.tf`); a test holds both to it.
pub const ENVIRONMENT: &[&str] = flux_shared::environment![
    flux_shared::config::FUNCTION_ENVIRONMENT,
    flux_shared::db::APP_ENVIRONMENT,
    http::ENVIRONMENT,
];

impl HealthState {
    pub fn new(http: HttpConfig, pool: Pool) -> Self {
        Self { http, pool }
    }

    /// The state as deployed: every setting from `vars`, secrets through `secrets`.
    pub async fn from_env(
        vars: &(impl Vars + ?Sized),
        secrets: &Arc<Secrets>,
    ) -> Result<Self, StartupError> {
        let pool = flux_shared::db::app_pool(vars, secrets).await?;
        Ok(Self::new(HttpConfig::from_env(vars), pool))
    }
}

#[derive(Debug, Serialize)]
struct HealthReport {
    status: &'static str,
    version: &'static str,
    checks: Checks,
}

#[derive(Debug, Serialize)]
struct Checks {
    database: Check,
}

#[derive(Debug, Serialize)]
struct Check {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

pub async fn handle(state: &HealthState, req: Request) -> Response {
    http::serve(
        &state.http,
        req,
        async |routed: Routed<Operation>, _req| match routed.operation {
            Operation::Health => Ok::<_, Problem>(health(state).await),
        },
    )
    .await
}

async fn health(state: &HealthState) -> Response {
    let database = check_database(&state.pool).await;
    let healthy = database.status == "ok";
    let report = HealthReport {
        status: if healthy { "ok" } else { "unavailable" },
        version: env!("CARGO_PKG_VERSION"),
        checks: Checks { database },
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    http::json_response(status, &report)
}

async fn check_database(pool: &Pool) -> Check {
    let started = Instant::now();
    let probe = async {
        let client = pool.get().await.map_err(DbFailure::from)?;
        client.simple_query("SELECT 1").await?;
        Ok::<_, DbFailure>(())
    };
    let error = match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(())) => {
            return Check {
                status: "ok",
                latency_ms: Some((started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0),
                error: None,
            }
        }
        Ok(Err(cause)) => {
            tracing::warn!(error = %cause, "database check failed");
            "unreachable"
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = CHECK_TIMEOUT.as_millis() as u64,
                "database check timed out"
            );
            "timeout"
        }
    };
    Check {
        status: "error",
        latency_ms: None,
        error: Some(error),
    }
}
