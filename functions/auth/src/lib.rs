//! The auth function: register, login, refresh, logout, me, and the keys
//! that verify access tokens (API.md "Auth").

mod accounts;
mod error;
pub mod input;
mod issuing;
pub mod keyring;
pub mod sessions;
pub mod throttle;

use std::sync::Arc;

use deadpool_postgres::Pool;
use flux_shared::config::{self, Vars};
use flux_shared::db::DbSettings;
use flux_shared::http::{self, HttpConfig, Request, RequestMeta, Response, Routed};
use flux_shared::passwords;
use flux_shared::problem::{FieldError, Problem};
use flux_shared::routes::Route;
use flux_shared::secrets::Secrets;
use flux_shared::tenant;
use flux_shared::tokens::TokenConfig;
use lambda_http::http::{HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

use accounts::{Registration, RestaurantView, UserView};
pub use error::AuthError;
use input::{Email, LoginEmail, NewPassword, RestaurantName, TimeZone};
use issuing::token_response;
use keyring::KeyRing;
use sessions::{RefreshToken, Refreshed, SessionPolicy};
use throttle::{LoginLimits, Reserved, Subjects};

pub const ROUTES: &[Route] = &[
    Route::post("/auth/register"),
    Route::post("/auth/login"),
    Route::post("/auth/refresh"),
    Route::post("/auth/logout"),
    Route::get("/auth/me"),
    Route::get("/.well-known/jwks.json"),
    Route::get("/.well-known/openid-configuration"),
];

/// What its deployment sets (Terraform's `routes.tf`); a test holds both to it.
pub const ENVIRONMENT: &[&str] = &[
    "RUST_LOG",
    "SECRETS_SOURCE",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_TLS",
    "DB_APP_SECRET_ID",
    "ALLOWED_ORIGINS",
    "AUTH_ISSUER",
    "AUTH_AUDIENCE",
    "AUTH_KEYS_SECRET_ID",
];

/// Passwords longer than this are not even hashed at login (bounded cost).
const MAX_LOGIN_PASSWORD_BYTES: usize = 1024;

/// Built once per container.
pub struct AuthState {
    pub http: HttpConfig,
    pub pool: Pool,
    pub tokens: TokenConfig,
    /// Signing keys, followed as rotation changes their secret.
    pub keys: KeyRing,
    pub sessions: SessionPolicy,
    pub limits: LoginLimits,
    /// Use `x-forwarded-for` for the client address (only behind a proxy we run).
    pub trust_forwarded_for: bool,
}

impl AuthState {
    pub async fn new(
        http: HttpConfig,
        pool: Pool,
        tokens: TokenConfig,
        keys: KeyRing,
    ) -> Result<Self, AuthError> {
        Ok(Self {
            http,
            pool,
            tokens,
            keys,
            sessions: SessionPolicy::default(),
            limits: LoginLimits::default(),
            trust_forwarded_for: false,
        })
    }

    /// The state as deployed: every setting read from `vars` (see
    /// [`ENVIRONMENT`]), secrets through `secrets`.
    pub async fn from_env(
        vars: &(impl Vars + ?Sized),
        secrets: &Arc<Secrets>,
    ) -> Result<Self, AuthError> {
        let db = DbSettings::from_env(vars, secrets, "DB_APP_SECRET_ID").await?;
        let tokens = TokenConfig::from_env(vars)?;
        let keys_secret = config::required(vars, "AUTH_KEYS_SECRET_ID")?;
        let keys = KeyRing::from_secret(&tokens, Arc::clone(secrets), keys_secret).await?;
        let mut state = Self::new(HttpConfig::from_env(vars), db.pool()?, tokens, keys).await?;
        state.trust_forwarded_for = config::parsed(vars, "TRUST_FORWARDED_FOR", false)?;
        Ok(state)
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
            "/.well-known/jwks.json" => public_json(&state.keys.current().await.auth.jwks),
            _ => public_json(&openid_configuration(&state.tokens)),
        },
    )
    .await
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
    let (Some(email), Some(restaurant_name), Some(timezone), Some(password)) =
        (email, name, timezone, password)
    else {
        return Err(AuthError::Invalid(errors).into());
    };

    let registration = Registration {
        email,
        restaurant_name,
        timezone,
        password_hash: passwords::hash(password.into_inner())
            .await
            .map_err(AuthError::from)?,
    };
    let mut client = state.pool.get().await.map_err(AuthError::from)?;
    let registered = accounts::register(&mut client, &registration, &state.sessions).await?;
    tracing::info!(user_id = %registered.user_id, restaurant_id = %registered.restaurant, "registered");
    let response = token_response(
        &mut client,
        &state.tokens,
        &state.keys.current().await.auth,
        registered.restaurant,
        registered.user_id,
        registered.session,
    )
    .await?;
    http::json_response(StatusCode::CREATED, &response)
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(state: &AuthState, req: &Request, meta: &RequestMeta) -> Result<Response, Problem> {
    let body: LoginBody = http::json_body(req)?;
    let email = LoginEmail::parse(&body.email);
    let ip = client_ip(state, req, meta);
    let subjects = Subjects::new(email.throttle_key(), &ip);
    // The connection goes back to the pool while the password is verified:
    // that is the slow part, and needs no database.
    let (reservation, candidate) = {
        let mut client = state.pool.get().await.map_err(AuthError::from)?;
        let reservation = match throttle::reserve(&mut client, &state.limits, &subjects)
            .await
            .map_err(AuthError::from)?
        {
            Reserved::Attempt(reservation) => reservation,
            Reserved::Locked { retry_after } => {
                tracing::info!(%ip, "sign-in throttled");
                return Err(AuthError::Throttled { retry_after }.into());
            }
        };
        let candidate = accounts::find_for_sign_in(&mut client, &email)
            .await
            .map_err(AuthError::from)?;
        (reservation, candidate)
    };
    let phc = candidate
        .as_ref()
        .map_or(passwords::UNKNOWN_ACCOUNT_HASH, |c| {
            c.password_hash.as_str()
        });
    let password = Some(body.password)
        .filter(|p| p.len() <= MAX_LOGIN_PASSWORD_BYTES)
        .unwrap_or_default();
    let verification = passwords::verify(password.clone(), phc.to_string())
        .await
        .map_err(AuthError::from)?;
    let Some(candidate) = candidate.filter(|_| verification.matches && !password.is_empty()) else {
        throttle::failed(reservation);
        tracing::info!(%ip, "sign-in failed");
        return Err(AuthError::InvalidCredentials.into());
    };
    let mut client = state.pool.get().await.map_err(AuthError::from)?;
    throttle::succeeded(&client, reservation, &subjects)
        .await
        .map_err(AuthError::from)?;

    let upgraded = match verification.needs_rehash {
        true => Some(passwords::hash(password).await.map_err(AuthError::from)?),
        false => None,
    };
    let rehashed = upgraded.is_some();
    let session = accounts::sign_in(&mut client, &candidate, upgraded, &state.sessions).await?;
    tracing::info!(user_id = %candidate.user_id, restaurant_id = %candidate.restaurant, rehashed, "signed in");
    let response = token_response(
        &mut client,
        &state.tokens,
        &state.keys.current().await.auth,
        candidate.restaurant,
        candidate.user_id,
        session,
    )
    .await?;
    http::json_response(StatusCode::OK, &response)
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

async fn refresh(state: &AuthState, req: &Request) -> Result<Response, Problem> {
    let body: RefreshBody = http::json_body(req)?;
    let presented = RefreshToken(body.refresh_token);
    // One reading of the keys for the whole exchange.
    let keys = state.keys.current().await;
    let mut client = state.pool.get().await.map_err(AuthError::from)?;
    let outcome = sessions::rotate(
        &mut client,
        &presented,
        &keys.auth.refresh_token_key,
        &state.sessions,
    )
    .await
    .map_err(AuthError::from)?;
    match outcome {
        Refreshed::Token {
            session,
            user_id,
            restaurant,
        } => {
            let response = token_response(
                &mut client,
                &state.tokens,
                &keys.auth,
                restaurant,
                user_id,
                session,
            )
            .await?;
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
    let caller = state
        .keys
        .current()
        .await
        .verifier
        .authenticate(req)
        .await?;
    let mut client = state.pool.get().await.map_err(AuthError::from)?;
    let tx = tenant::begin_for(&mut client, &caller)
        .await
        .map_err(AuthError::from)?;
    let (user, restaurant) = accounts::profile(&tx, caller.restaurant_id, caller.user_id).await?;
    tx.commit().await.map_err(AuthError::from)?;
    http::json_response(StatusCode::OK, &MeResponse { user, restaurant })
}

/// The client's address: API Gateway's view of it, or, behind a proxy we
/// run, the hop that proxy appended to `x-forwarded-for` (the last one;
/// everything before it is whatever the client wrote).
fn client_ip(state: &AuthState, req: &Request, meta: &RequestMeta) -> String {
    if state.trust_forwarded_for {
        let last_hop = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty());
        if let Some(hop) = last_hop {
            return hop.to_string();
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
        "claims_supported": ["iss", "aud", "sub", "rid", "sid", "role", "iat", "exp", "jti"]
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
