//! Sign-in attempts counted per email and per source address in PostgreSQL,
//! so the limits hold across every Lambda container.
//!
//! An attempt is reserved before its password is verified: under a
//! transaction-scoped advisory lock per subject, the recent attempts are
//! counted and, when there is room, one is recorded. However many requests
//! race, at most `per_email` passwords are verified per email per window.
//! A success releases its reservation (and clears the email's failures);
//! a failure keeps it: the reservation is the failure.

use std::time::Duration;

use aws_lc_rs::digest;
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

/// Who is signing in, as the throttle counts them: digests, so that no
/// input makes an index entry too large.
pub struct Subjects {
    email: String,
    ip: String,
}

impl Subjects {
    pub fn new(email_key: &str, ip: &str) -> Self {
        Self {
            email: hex_digest("email", email_key),
            ip: hex_digest("ip", ip),
        }
    }
}

fn hex_digest(kind: &str, value: &str) -> String {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(kind.as_bytes());
    context.update(b"\0");
    context.update(value.as_bytes());
    context
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An attempt that may go ahead: the failure rows it recorded up front.
#[must_use = "a reservation is released on success or kept as the failure"]
pub struct Reservation {
    ids: Vec<i64>,
}

pub enum Reserved {
    Attempt(Reservation),
    /// Seconds until another attempt is allowed.
    Locked {
        retry_after: u64,
    },
}

/// Rows this old no longer count for anything.
const PRUNE_BATCH: i64 = 100;

pub async fn reserve(
    client: &mut Client,
    limits: &LoginLimits,
    subjects: &Subjects,
) -> Result<Reserved, tokio_postgres::Error> {
    let window_secs = limits.window.as_secs_f64();
    let tx = client.transaction().await?;
    // Always email before address, so two attempts never wait on each other in a cycle.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('login-email:' || $1, 0)),
                pg_advisory_xact_lock(hashtextextended('login-ip:' || $2, 0))",
        &[&subjects.email, &subjects.ip],
    )
    .await?;
    let rows = tx
        .query(
            "SELECT subject_kind, count(*) AS failures, min(failed_at) AS oldest FROM login_failures
             WHERE failed_at > now() - make_interval(secs => $3)
               AND ((subject_kind = 'email' AND subject = $1) OR (subject_kind = 'ip' AND subject = $2))
             GROUP BY subject_kind",
            &[&subjects.email, &subjects.ip, &window_secs],
        )
        .await?;
    let mut wait: Option<u64> = None;
    for row in rows {
        let kind: &str = row.get("subject_kind");
        let count: i64 = row.get("failures");
        let oldest: DateTime<Utc> = row.get("oldest");
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
    if let Some(retry_after) = wait {
        return Ok(Reserved::Locked { retry_after });
    }
    let ids = tx
        .query(
            "INSERT INTO login_failures (subject_kind, subject) VALUES ('email', $1), ('ip', $2) RETURNING id",
            &[&subjects.email, &subjects.ip],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Keep the table small: rows out of every window no longer count.
    tx.execute(
        "DELETE FROM login_failures WHERE id IN (
             SELECT id FROM login_failures WHERE failed_at < now() - make_interval(secs => $1)
             ORDER BY failed_at LIMIT $2)",
        &[&window_secs, &PRUNE_BATCH],
    )
    .await?;
    tx.commit().await?;
    Ok(Reserved::Attempt(Reservation { ids }))
}

/// A successful sign-in: its reservation does not count, and the email's
/// earlier failures are cleared (the address's are not).
pub async fn succeeded(
    client: &Client,
    reservation: Reservation,
    subjects: &Subjects,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "DELETE FROM login_failures
             WHERE id = ANY($1) OR (subject_kind = 'email' AND subject = $2)",
            &[&reservation.ids, &subjects.email],
        )
        .await?;
    Ok(())
}

/// A failed sign-in: the reservation stays, as the failure.
pub fn failed(reservation: Reservation) {
    drop(reservation.ids);
}
