//! Sign-in sessions and their refresh tokens. A token is 256 random bits,
//! opaque to the client; only its SHA-256 is stored. Each refresh rotates
//! it; a rotated token presented again is reuse and revokes the session,
//! except within a short grace window, where the same successor is returned
//! (two tabs refreshing at once). A successor is HMAC(key, parent), so it can
//! be handed out again without ever storing a token.

use std::time::Duration;

use aws_lc_rs::{digest, hmac};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use flux_shared::tenant::{self, RestaurantId, UserId};
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::{Client, Transaction};
use uuid::Uuid;

/// An opaque refresh token as the client holds it.
pub struct RefreshToken(pub String);

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshToken(***)")
    }
}

impl RefreshToken {
    fn random() -> Self {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).expect("system randomness");
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    fn successor(&self, key: &SecretString) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key.expose_secret().as_bytes());
        Self(URL_SAFE_NO_PAD.encode(hmac::sign(&key, self.0.as_bytes())))
    }

    fn hash(&self) -> Vec<u8> {
        digest::digest(&digest::SHA256, self.0.as_bytes())
            .as_ref()
            .to_vec()
    }
}

#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    /// Absolute lifetime of a session; refreshing does not extend it.
    pub lifetime: Duration,
    /// How long a rotated token still yields its successor.
    pub reuse_grace: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            lifetime: Duration::from_secs(30 * 24 * 3600),
            reuse_grace: Duration::from_secs(10),
        }
    }
}

/// A session just started or refreshed: its id (access tokens carry it as
/// `sid`), whose it is, and its current refresh token.
pub struct Session {
    pub id: Uuid,
    pub user_id: UserId,
    pub restaurant: RestaurantId,
    pub refresh_token: RefreshToken,
}

/// Starts a session for a user inside the caller's tenant transaction.
pub async fn start(
    tx: &Transaction<'_>,
    restaurant: RestaurantId,
    user_id: UserId,
    policy: &SessionPolicy,
) -> Result<Session, tokio_postgres::Error> {
    let session_id = Uuid::new_v4();
    let expires_at = Utc::now() + policy.lifetime;
    tx.execute(
        "INSERT INTO auth_sessions (id, restaurant_id, user_id, expires_at) VALUES ($1, $2, $3, $4)",
        &[&session_id, &restaurant, &user_id, &expires_at],
    )
    .await?;
    let token = RefreshToken::random();
    insert_token(tx, restaurant, session_id, &token, None, expires_at).await?;
    Ok(Session {
        id: session_id,
        user_id,
        restaurant,
        refresh_token: token,
    })
}

async fn insert_token(
    tx: &Transaction<'_>,
    restaurant: RestaurantId,
    session_id: Uuid,
    token: &RefreshToken,
    parent: Option<Uuid>,
    expires_at: DateTime<Utc>,
) -> Result<Uuid, tokio_postgres::Error> {
    let id = Uuid::new_v4();
    tx.execute(
        "INSERT INTO refresh_tokens (id, restaurant_id, session_id, token_hash, parent_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&id, &restaurant, &session_id, &token.hash(), &parent, &expires_at],
    )
    .await?;
    Ok(id)
}

pub enum Refreshed {
    /// A valid successor for this user.
    Token(Session),
    /// Unknown, expired or revoked.
    Invalid,
    /// A rotated token presented again: the session is now revoked.
    Reused,
}

/// Finds the token's restaurant through the hash-lookup policy, then scopes
/// the transaction to that restaurant, as every other tenant query is.
async fn enter_tenant_of(
    tx: &Transaction<'_>,
    token: &RefreshToken,
) -> Result<Option<Uuid>, tokio_postgres::Error> {
    let hash = token.hash();
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    tx.execute(
        "SELECT set_config('app.refresh_token_hash', $1, true)",
        &[&hex],
    )
    .await?;
    let Some(row) = tx
        .query_opt(
            "SELECT id, restaurant_id FROM refresh_tokens WHERE token_hash = $1",
            &[&hash],
        )
        .await?
    else {
        return Ok(None);
    };
    tenant::scope(tx, row.get("restaurant_id")).await?;
    Ok(Some(row.get("id")))
}

/// Rotates `presented`. Concurrent refreshes of one token are serialised by
/// the row lock, so there is never more than one successor.
pub async fn rotate(
    client: &mut Client,
    presented: &RefreshToken,
    key: &SecretString,
    policy: &SessionPolicy,
) -> Result<Refreshed, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    let Some(token_id) = enter_tenant_of(&tx, presented).await? else {
        return Ok(Refreshed::Invalid);
    };
    let row = tx
        .query_one(
            "SELECT t.restaurant_id, t.session_id, s.user_id, t.rotated_at, t.replaced_by,
                    (s.revoked_at IS NULL AND s.expires_at > now() AND t.expires_at > now()) AS live,
                    s.expires_at
             FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id
             WHERE t.id = $1
             FOR UPDATE OF t",
            &[&token_id],
        )
        .await?;
    let restaurant: RestaurantId = row.get("restaurant_id");
    let session_id: Uuid = row.get("session_id");
    let user_id: UserId = row.get("user_id");
    let rotated_at: Option<DateTime<Utc>> = row.get("rotated_at");
    let replaced_by: Option<Uuid> = row.get("replaced_by");
    let live: bool = row.get("live");
    let session_expires: DateTime<Utc> = row.get("expires_at");
    if !live {
        return Ok(Refreshed::Invalid);
    }
    let successor = presented.successor(key);
    match (rotated_at, replaced_by) {
        (None, _) => {
            let new_id = insert_token(
                &tx,
                restaurant,
                session_id,
                &successor,
                Some(token_id),
                session_expires,
            )
            .await?;
            tx.execute(
                "UPDATE refresh_tokens SET rotated_at = now(), replaced_by = $2 WHERE id = $1",
                &[&token_id, &new_id],
            )
            .await?;
            tx.commit().await?;
            Ok(Refreshed::Token(Session {
                id: session_id,
                user_id,
                restaurant,
                refresh_token: successor,
            }))
        }
        (Some(rotated_at), Some(successor_id)) if within(rotated_at, policy.reuse_grace) => {
            // A racing tab: hand out the same successor, if it is still unused.
            let unused = tx
                .query_opt(
                    "SELECT 1 FROM refresh_tokens WHERE id = $1 AND token_hash = $2 AND rotated_at IS NULL",
                    &[&successor_id, &successor.hash()],
                )
                .await?
                .is_some();
            if unused {
                tx.commit().await?;
                return Ok(Refreshed::Token(Session {
                    id: session_id,
                    user_id,
                    restaurant,
                    refresh_token: successor,
                }));
            }
            revoke_session(&tx, session_id, "refresh token reuse").await?;
            tx.commit().await?;
            Ok(Refreshed::Reused)
        }
        _ => {
            revoke_session(&tx, session_id, "refresh token reuse").await?;
            tx.commit().await?;
            Ok(Refreshed::Reused)
        }
    }
}

fn within(since: DateTime<Utc>, window: Duration) -> bool {
    chrono::TimeDelta::from_std(window).is_ok_and(|w| Utc::now() - since <= w)
}

async fn revoke_session(
    tx: &Transaction<'_>,
    session_id: Uuid,
    reason: &str,
) -> Result<(), tokio_postgres::Error> {
    tx.execute(
        "UPDATE auth_sessions SET revoked_at = coalesce(revoked_at, now()),
                                  revoked_reason = coalesce(revoked_reason, $2)
         WHERE id = $1",
        &[&session_id, &reason],
    )
    .await?;
    Ok(())
}

/// Revokes the session `presented` belongs to; unknown tokens are ignored.
pub async fn end(
    client: &mut Client,
    presented: &RefreshToken,
) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    let Some(token_id) = enter_tenant_of(&tx, presented).await? else {
        return Ok(());
    };
    let session_id: Uuid = tx
        .query_one(
            "SELECT session_id FROM refresh_tokens WHERE id = $1",
            &[&token_id],
        )
        .await?
        .get(0);
    revoke_session(&tx, session_id, "logout").await?;
    tx.commit().await
}
