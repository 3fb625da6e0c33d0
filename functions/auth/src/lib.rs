//! The auth function: register, login, refresh, logout, me, and the keys
//! that verify access tokens (API.md "Auth").

mod error;
pub mod input;
pub mod keys;
pub mod sessions;
pub mod throttle;

use chrono::Utc;
use deadpool_postgres::Pool;
use flux_shared::http::{self, HttpConfig, Request, RequestMeta, Response, Routed};
use flux_shared::passwords;
use flux_shared::problem::{FieldError, Problem};
use flux_shared::routes::Route;
use flux_shared::tenant::{with_tenant, RestaurantId};
use flux_shared::tokens::{Claims, Role, TokenConfig, Verifier, ACCESS_TOKEN_TTL};
use lambda_http::http::{HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use error::AuthError;
use input::{Email, NewPassword, RestaurantName, TimeZone};
use keys::AuthKeys;
use sessions::{RefreshToken, Refreshed, SessionPolicy};
use throttle::LoginLimits;

pub const ROUTES: &[Route] = &[
    Route::post("/auth/register"),
    Route::post("/auth/login"),
    Route::post("/auth/refresh"),
    Route::post("/auth/logout"),
    Route::get("/auth/me"),
    Route::get("/.well-known/jwks.json"),
    Route::get("/.well-known/openid-configuration"),
];

/// Passwords longer than this are not even hashed at login (bounded cost).
const MAX_LOGIN_PASSWORD_BYTES: usize = 1024;

/// Built once per container.
pub struct AuthState {
    pub http: HttpConfig,
    pub pool: Pool,
    pub tokens: TokenConfig,
    pub keys: AuthKeys,
    pub verifier: Verifier,
    pub sessions: SessionPolicy,
    pub limits: LoginLimits,
    /// Use `x-forwarded-for` for the client address (only behind a proxy we run).
    pub trust_forwarded_for: bool,
    /// Verified against when the email is unknown, so both paths cost the same.
    dummy_hash: String,
}

impl AuthState {
    pub async fn new(
        http: HttpConfig,
        pool: Pool,
        tokens: TokenConfig,
        keys: AuthKeys,
    ) -> Result<Self, AuthError> {
        let verifier = Verifier::new(&tokens, &keys.public_keys)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let mut filler = [0u8; 24];
        aws_lc_rs::rand::fill(&mut filler)
            .map_err(|_| AuthError::Internal("no randomness".into()))?;
        let dummy_hash = passwords::hash(format!("{filler:?}"))
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(Self {
            http,
            pool,
            tokens,
            keys,
            verifier,
            sessions: SessionPolicy::default(),
            limits: LoginLimits::default(),
            trust_forwarded_for: false,
            dummy_hash,
        })
    }
}

pub async fn handle(state: &AuthState, req: Request) -> Response {
    http::serve(
        &state.http,
        ROUTES,
        req,
        async |routed: Routed, req: Request| match routed.route.path {
            "/auth/register" => register(state, &req).await,
            "/auth/login" => login(state, &req, &routed.meta).await,
            "/auth/refresh" => refresh(state, &req).await,
            "/auth/logout" => logout(state, &req).await,
            "/auth/me" => me(state, &req).await,
            "/.well-known/jwks.json" => public_json(&state.keys.jwks),
            _ => public_json(&openid_configuration(&state.tokens)),
        },
    )
    .await
}

#[derive(Serialize)]
struct UserView {
    id: Uuid,
    email: String,
    role: Role,
    restaurant_id: Uuid,
}

#[derive(Serialize)]
struct RestaurantView {
    id: Uuid,
    name: String,
    timezone: String,
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: String,
    user: UserView,
    restaurant: RestaurantView,
}

#[derive(Deserialize)]
struct RegisterBody {
    email: String,
    password: String,
    restaurant_name: String,
    #[serde(default)]
    timezone: Option<String>,
}

async fn register(state: &AuthState, req: &Request) -> Result<Response, Problem> {
    let body: RegisterBody = http::json_body(req)?;
    let mut errors = Vec::new();
    let email = Email::parse(&body.email)
        .map_err(|m| errors.push(FieldError::new("email", m)))
        .ok();
    let name = RestaurantName::parse(&body.restaurant_name)
        .map_err(|m| errors.push(FieldError::new("restaurant_name", m)))
        .ok();
    let timezone = TimeZone::parse(body.timezone.as_deref())
        .map_err(|m| errors.push(FieldError::new("timezone", m)))
        .ok();
    let other_inputs: Vec<&str> = name.iter().map(RestaurantName::as_str).collect();
    let password = NewPassword::parse(&body.password, email.as_ref(), &other_inputs)
        .map_err(|m| errors.push(FieldError::new("password", m)))
        .ok();
    let (Some(email), Some(name), Some(timezone), Some(password)) =
        (email, name, timezone, password)
    else {
        return Err(AuthError::Invalid(errors).into());
    };

    let hash = passwords::hash(password.into_inner())
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    let restaurant = RestaurantId(Uuid::new_v4());
    let user_id = Uuid::new_v4();
    let mut client = state.pool.get().await.map_err(AuthError::from)?;
    let refresh = with_tenant(&mut client, restaurant, async |tx| {
        tx.execute(
            "INSERT INTO restaurants (id, name, timezone) VALUES ($1, $2, $3)",
            &[&restaurant.0, &name.as_str(), &timezone.as_str()],
        )
        .await?;
        tx.execute(
            "INSERT INTO users (id, restaurant_id, email, password_hash, role) VALUES ($1, $2, $3, $4, 'owner')",
            &[&user_id, &restaurant.0, &email.as_str(), &hash],
        )
        .await
        .map_err(|e| {
            if error::is_unique_violation(&e, "users_email_key") {
                AuthError::EmailTaken
            } else {
                AuthError::Database(e)
            }
        })?;
        Ok::<_, AuthError>(sessions::start(tx, restaurant, user_id, &state.sessions).await?)
    })
    .await?;
    tracing::info!(user_id = %user_id, restaurant_id = %restaurant, "registered");
    let response = token_response(state, &mut client, restaurant, user_id, refresh).await?;
    http::json_response(StatusCode::CREATED, &response)
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(state: &AuthState, req: &Request, meta: &RequestMeta) -> Result<Response, Problem> {
    let body: LoginBody = http::json_body(req)?;
    // Login never explains the rules: anything malformed is just a failure.
    // Control characters (NUL, which PostgreSQL cannot store, among them)
    // are in no registered email, so replacing them keeps that failure.
    let email_key: String = body
        .email
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_control() {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect();
    let ip = client_ip(state, req, meta);
    let mut client = state.pool.get().await.map_err(AuthError::from)?;

    if let Some(retry_after) = throttle::locked_for(&client, &state.limits, &email_key, &ip)
        .await
        .map_err(AuthError::from)?
    {
        tracing::info!(%ip, "sign-in throttled");
        return Err(AuthError::Throttled { retry_after }.into());
    }

    let found = {
        let tx = client.transaction().await.map_err(AuthError::from)?;
        tx.execute(
            "SELECT set_config('app.login_email', $1, true)",
            &[&email_key],
        )
        .await
        .map_err(AuthError::from)?;
        let row = tx
            .query_opt(
                "SELECT id, restaurant_id, password_hash FROM users WHERE lower(email) = $1",
                &[&email_key],
            )
            .await
            .map_err(AuthError::from)?;
        tx.commit().await.map_err(AuthError::from)?;
        row.map(|r| {
            (
                r.get::<_, Uuid>(0),
                RestaurantId(r.get(1)),
                r.get::<_, String>(2),
            )
        })
    };
    let phc = found
        .as_ref()
        .map_or(state.dummy_hash.clone(), |(_, _, phc)| phc.clone());
    let password = if body.password.len() > MAX_LOGIN_PASSWORD_BYTES {
        String::new()
    } else {
        body.password
    };
    let verification = passwords::verify(password.clone(), phc)
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    let (user_id, restaurant) = match found {
        Some((user_id, restaurant, _)) if verification.matches && !password.is_empty() => {
            (user_id, restaurant)
        }
        _ => {
            throttle::record_failure(&client, &email_key, &ip)
                .await
                .map_err(AuthError::from)?;
            tracing::info!(%ip, "sign-in failed");
            return Err(AuthError::InvalidCredentials.into());
        }
    };
    throttle::reset_email(&client, &email_key)
        .await
        .map_err(AuthError::from)?;

    let upgraded = if verification.needs_rehash {
        Some(
            passwords::hash(password)
                .await
                .map_err(|e| AuthError::Internal(e.to_string()))?,
        )
    } else {
        None
    };
    let refresh = with_tenant(&mut client, restaurant, async |tx| {
        if let Some(hash) = &upgraded {
            tx.execute(
                "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
                &[&user_id, hash],
            )
            .await?;
        }
        Ok::<_, AuthError>(sessions::start(tx, restaurant, user_id, &state.sessions).await?)
    })
    .await?;
    tracing::info!(user_id = %user_id, restaurant_id = %restaurant, rehashed = upgraded.is_some(), "signed in");
    let response = token_response(state, &mut client, restaurant, user_id, refresh).await?;
    http::json_response(StatusCode::OK, &response)
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

async fn refresh(state: &AuthState, req: &Request) -> Result<Response, Problem> {
    let body: RefreshBody = http::json_body(req)?;
    let presented = RefreshToken(body.refresh_token);
    let mut client = state.pool.get().await.map_err(AuthError::from)?;
    let outcome = sessions::rotate(
        &mut client,
        &presented,
        &state.keys.refresh_token_key,
        &state.sessions,
    )
    .await
    .map_err(AuthError::from)?;
    match outcome {
        Refreshed::Token {
            token,
            user_id,
            restaurant,
        } => {
            let response = token_response(state, &mut client, restaurant, user_id, token).await?;
            http::json_response(StatusCode::OK, &response)
        }
        Refreshed::Invalid => Err(AuthError::InvalidRefreshToken.into()),
        Refreshed::Reused => {
            tracing::warn!("refresh token reuse: session revoked");
            Err(AuthError::InvalidRefreshToken.into())
        }
    }
}

async fn logout(state: &AuthState, req: &Request) -> Result<Response, Problem> {
    let body: RefreshBody = http::json_body(req)?;
    let mut client = state.pool.get().await.map_err(AuthError::from)?;
    sessions::end(&mut client, &RefreshToken(body.refresh_token))
        .await
        .map_err(AuthError::from)?;
    Ok(http::no_content())
}

#[derive(Serialize)]
struct MeResponse {
    user: UserView,
    restaurant: RestaurantView,
}

async fn me(state: &AuthState, req: &Request) -> Result<Response, Problem> {
    let caller = state.verifier.authenticate(req)?;
    let mut client = state.pool.get().await.map_err(AuthError::from)?;
    let (user, restaurant) =
        load_profile(&mut client, caller.restaurant_id, caller.user_id).await?;
    http::json_response(StatusCode::OK, &MeResponse { user, restaurant })
}

/// The user and restaurant, read under the restaurant's RLS scope.
async fn load_profile(
    client: &mut tokio_postgres::Client,
    restaurant: RestaurantId,
    user_id: Uuid,
) -> Result<(UserView, RestaurantView), AuthError> {
    with_tenant(client, restaurant, async |tx| {
        let row = tx
            .query_opt(
                "SELECT u.email, u.role::text, r.name, r.timezone
                 FROM users u JOIN restaurants r ON r.id = u.restaurant_id
                 WHERE u.id = $1 AND u.restaurant_id = $2",
                &[&user_id, &restaurant.0],
            )
            .await?
            .ok_or(AuthError::AccountGone)?;
        let role = Role::parse(row.get(1))
            .ok_or_else(|| AuthError::Internal("unknown role in database".into()))?;
        Ok((
            UserView {
                id: user_id,
                email: row.get(0),
                role,
                restaurant_id: restaurant.0,
            },
            RestaurantView {
                id: restaurant.0,
                name: row.get(2),
                timezone: row.get(3),
            },
        ))
    })
    .await
}

async fn token_response(
    state: &AuthState,
    client: &mut tokio_postgres::Client,
    restaurant: RestaurantId,
    user_id: Uuid,
    refresh: RefreshToken,
) -> Result<TokenResponse, AuthError> {
    let (user, restaurant) = load_profile(client, restaurant, user_id).await?;
    let access_token = sign_access_token(state, &user)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_TTL.as_secs(),
        refresh_token: refresh.0,
        user,
        restaurant,
    })
}

fn sign_access_token(state: &AuthState, user: &UserView) -> Result<String, AuthError> {
    let now = Utc::now().timestamp();
    let claims = Claims {
        iss: state.tokens.issuer.clone(),
        aud: state.tokens.audience.clone(),
        sub: user.id,
        rid: user.restaurant_id,
        role: user.role,
        iat: now,
        exp: now + ACCESS_TOKEN_TTL.as_secs() as i64,
        jti: Uuid::new_v4(),
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(state.keys.active_kid.clone());
    jsonwebtoken::encode(&header, &claims, &state.keys.signing)
        .map_err(|e| AuthError::Internal(e.to_string()))
}

/// The client's address: API Gateway's view of it, or the first
/// `x-forwarded-for` hop when configured to trust it.
fn client_ip(state: &AuthState, req: &Request, meta: &RequestMeta) -> String {
    if state.trust_forwarded_for {
        if let Some(first) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            return first.to_string();
        }
    }
    meta.source_ip
        .clone()
        .unwrap_or_else(|| "unknown".to_string())
}

fn openid_configuration(tokens: &TokenConfig) -> serde_json::Value {
    let issuer = tokens.issuer.trim_end_matches('/');
    serde_json::json!({
        "issuer": tokens.issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "claims_supported": ["iss", "aud", "sub", "rid", "role", "iat", "exp", "jti"]
    })
}

/// Public, cacheable documents (keys change rarely; rotation keeps old ones).
fn public_json(body: &serde_json::Value) -> Result<Response, Problem> {
    let mut response = http::json_response(StatusCode::OK, body)?;
    response.headers_mut().insert(
        lambda_http::http::header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}
