//! Accounts in the database: a restaurant with its first user, the user a
//! sign-in names, and the profile a token response shows.

use flux_shared::tenant::{self, RestaurantId, UserId};
use flux_shared::tokens::Role;
use serde::Serialize;
use tokio_postgres::Client;

use crate::error::{is_unique_violation, AuthError};
use crate::input::{Email, LoginEmail, RestaurantName, TimeZone};
use crate::sessions::{self, Session, SessionPolicy};

#[derive(Serialize)]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    pub restaurant_id: RestaurantId,
}

#[derive(Serialize)]
pub struct RestaurantView {
    pub id: RestaurantId,
    pub name: String,
    pub timezone: String,
}

/// A new restaurant and its owner, signed in at once.
pub struct Registration {
    pub email: Email,
    pub restaurant_name: RestaurantName,
    pub timezone: TimeZone,
    pub password_hash: String,
}

pub async fn register(
    client: &mut Client,
    registration: &Registration,
    policy: &SessionPolicy,
) -> Result<Session, AuthError> {
    let restaurant = RestaurantId::new_v4();
    let user_id = UserId::new_v4();
    let tx = tenant::begin(client, restaurant).await?;
    tx.execute(
        "INSERT INTO restaurants (id, name, timezone) VALUES ($1, $2, $3)",
        &[
            &restaurant,
            &registration.restaurant_name.as_str(),
            &registration.timezone.as_str(),
        ],
    )
    .await?;
    tx.execute(
        "INSERT INTO users (id, restaurant_id, email, email_key, password_hash, role)
         VALUES ($1, $2, $3, $4, $5, 'owner')",
        &[
            &user_id,
            &restaurant,
            &registration.email.as_str(),
            &registration.email.key(),
            &registration.password_hash,
        ],
    )
    .await
    .map_err(|e| {
        if is_unique_violation(&e, "users_email_key_key") {
            AuthError::EmailTaken
        } else {
            AuthError::from(e)
        }
    })?;
    let session = sessions::start(&tx, restaurant, user_id, policy).await?;
    tx.commit().await?;
    Ok(session)
}

/// The account a sign-in names, with what its password is checked against.
pub struct Candidate {
    pub user_id: UserId,
    pub restaurant: RestaurantId,
    pub password_hash: String,
}

/// Finds the account by its email key. The restaurant is not known yet: the
/// `login_lookup` policy shows a user row to a transaction that names its key.
pub async fn find_for_sign_in(
    client: &mut Client,
    email: &LoginEmail,
) -> Result<Option<Candidate>, tokio_postgres::Error> {
    let Some(key) = email.key() else {
        return Ok(None);
    };
    let tx = client.transaction().await?;
    tx.execute("SELECT set_config('app.login_email', $1, true)", &[&key])
        .await?;
    let row = tx
        .query_opt(
            "SELECT id, restaurant_id, password_hash FROM users WHERE email_key = $1",
            &[&key],
        )
        .await?;
    tx.commit().await?;
    Ok(row.map(|r| Candidate {
        user_id: r.get("id"),
        restaurant: r.get("restaurant_id"),
        password_hash: r.get("password_hash"),
    }))
}

/// Starts a session for a verified candidate, storing an upgraded password
/// hash when the old one's parameters were outdated.
pub async fn sign_in(
    client: &mut Client,
    candidate: &Candidate,
    upgraded_hash: Option<String>,
    policy: &SessionPolicy,
) -> Result<Session, AuthError> {
    let tx = tenant::begin(client, candidate.restaurant).await?;
    if let Some(hash) = &upgraded_hash {
        tx.execute(
            "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
            &[&candidate.user_id, hash],
        )
        .await?;
    }
    let session = sessions::start(&tx, candidate.restaurant, candidate.user_id, policy).await?;
    tx.commit().await?;
    Ok(session)
}

/// The user and restaurant, read in `tx` (scoped to the restaurant).
pub async fn profile(
    tx: &tokio_postgres::Transaction<'_>,
    restaurant: RestaurantId,
    user_id: UserId,
) -> Result<(UserView, RestaurantView), AuthError> {
    let row = tx
        .query_opt(
            "SELECT u.email, u.role, r.name, r.timezone
             FROM users u JOIN restaurants r ON r.id = u.restaurant_id
             WHERE u.id = $1 AND u.restaurant_id = $2",
            &[&user_id, &restaurant],
        )
        .await?
        .ok_or(AuthError::AccountGone)?;
    Ok((
        UserView {
            id: user_id,
            email: row.get("email"),
            role: row.get("role"),
            restaurant_id: restaurant,
        },
        RestaurantView {
            id: restaurant,
            name: row.get("name"),
            timezone: row.get("timezone"),
        },
    ))
}
