//! The auth function: register, login, refresh, logout, me, and the keys
//! that verify access tokens (API.md "Auth").

mod accounts;
mod discovery;
mod error;
pub mod input;
mod issuing;
pub mod keyring;
mod login;
mod me;
mod register;
mod session_tokens;
pub mod sessions;
pub mod throttle;

use std::sync::Arc;

use deadpool_postgres::Pool;
use flux_shared::config::{self, Vars};
use flux_shared::http::{self, HttpConfig, Request, Response, Routed};
use flux_shared::routes::{self, Route};
use flux_shared::secrets::Secrets;
use flux_shared::tokens::TokenConfig;

pub use error::AuthError;
use keyring::KeyRing;
use sessions::SessionPolicy;
use throttle::LoginLimits;

flux_shared::operations! {
    /// What auth serves, one per route.
    pub enum Operation {
        Register => post "/auth/register",
        Login => post "/auth/login",
        Refresh => post "/auth/refresh",
        Logout => post "/auth/logout",
        Me => get "/auth/me",
        Jwks => get "/.well-known/jwks.json",
        OpenIdConfiguration => get "/.well-known/openid-configuration",
    }
}

pub const ROUTES: &[Route] = <Operation as routes::Operation>::ROUTES;

/// What its deployment sets (Terraform's `routes.tf`); a test holds both to it.
pub const ENVIRONMENT: &[&str] = flux_shared::environment![
    config::FUNCTION_ENVIRONMENT,
    flux_shared::db::APP_ENVIRONMENT,
    http::ENVIRONMENT,
    flux_shared::tokens::TOKEN_ENVIRONMENT,
    &["AUTH_KEYS_SECRET_ID"],
];

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
        let pool = flux_shared::db::app_pool(vars, secrets).await?;
        let tokens = TokenConfig::from_env(vars)?;
        let keys_secret = config::required(vars, "AUTH_KEYS_SECRET_ID")?;
        let keys = KeyRing::from_secret(&tokens, Arc::clone(secrets), keys_secret).await?;
        let mut state = Self::new(HttpConfig::from_env(vars), pool, tokens, keys).await?;
        state.trust_forwarded_for = config::parsed(vars, "TRUST_FORWARDED_FOR", false)?;
        Ok(state)
    }
}

pub async fn handle(state: &AuthState, req: Request) -> Response {
    http::serve(
        &state.http,
        req,
        async |routed: Routed<Operation>, req: Request| match routed.operation {
            Operation::Register => register::register(state, &req).await,
            Operation::Login => login::login(state, &req, &routed.meta).await,
            Operation::Refresh => session_tokens::refresh(state, &req).await,
            Operation::Logout => session_tokens::logout(state, &req).await,
            Operation::Me => me::me(state, &req).await,
            Operation::Jwks => Ok(discovery::jwks(state).await),
            Operation::OpenIdConfiguration => Ok(discovery::openid_configuration(&state.tokens)),
        },
    )
    .await
}
