//! Failed sign-ins counted per email and per source address in PostgreSQL,
//! so the limits hold across every Lambda container.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::Client;

#[derive(Clone, Copy, Debug)]
pub struct LoginLimits {
    pub per_email: i64,
    pub per_ip: i64,
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_email: 5,
            per_ip: 50,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Seconds until another attempt is allowed, when one is not allowed now.
pub async fn locked_for(
    client: &Client,
    limits: &LoginLimits,
    email_key: &str,
    ip: &str,
) -> Result<Option<u64>, tokio_postgres::Error> {
    let window_secs = limits.window.as_secs_f64();
    let rows = client
        .query(
            "SELECT subject_kind, count(*), min(failed_at) FROM login_failures
             WHERE failed_at > now() - make_interval(secs => $3)
               AND ((subject_kind = 'email' AND subject = $1) OR (subject_kind = 'ip' AND subject = $2))
             GROUP BY subject_kind",
            &[&email_key, &ip, &window_secs],
        )
        .await?;
    let mut wait: Option<u64> = None;
    for row in rows {
        let kind: String = row.get(0);
        let count: i64 = row.get(1);
        let oldest: DateTime<Utc> = row.get(2);
        let limit = if kind == "email" {
            limits.per_email
        } else {
            limits.per_ip
        };
        if count >= limit {
            let until = oldest + limits.window;
            let secs = (until - Utc::now()).num_seconds().max(1) as u64;
            wait = Some(wait.map_or(secs, |w| w.max(secs)));
        }
    }
    Ok(wait)
}

pub async fn record_failure(
    client: &Client,
    email_key: &str,
    ip: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO login_failures (subject_kind, subject) VALUES ('email', $1), ('ip', $2)",
            &[&email_key, &ip],
        )
        .await?;
    // Keep the table small: anything a day old no longer counts.
    client
        .execute(
            "DELETE FROM login_failures WHERE failed_at < now() - interval '1 day'
               AND ((subject_kind = 'email' AND subject = $1) OR (subject_kind = 'ip' AND subject = $2))",
            &[&email_key, &ip],
        )
        .await?;
    Ok(())
}

/// A successful sign-in clears the email's failures (not the address's).
pub async fn reset_email(client: &Client, email_key: &str) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "DELETE FROM login_failures WHERE subject_kind = 'email' AND subject = $1",
            &[&email_key],
        )
        .await?;
    Ok(())
}
