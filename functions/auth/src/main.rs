//! The `auth` Lambda: builds its state once per container, then serves.

use flux_auth::keys::AuthKeys;
use flux_auth::AuthState;
use flux_shared::config::{self, ProcessEnv};
use flux_shared::db::DbSettings;
use flux_shared::http::HttpConfig;
use flux_shared::secrets::Secrets;
use flux_shared::tokens::TokenConfig;
use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    flux_shared::telemetry::init();
    let secrets = Secrets::from_env(&ProcessEnv).await?;
    let settings = DbSettings::from_env(&ProcessEnv, &secrets, "DB_APP_SECRET_ID").await?;
    let keys_secret = secrets
        .get(&config::required(&ProcessEnv, "AUTH_KEYS_SECRET_ID")?)
        .await?;
    let mut state = AuthState::new(
        HttpConfig::from_env(&ProcessEnv),
        settings.pool()?,
        TokenConfig::from_env(&ProcessEnv)?,
        AuthKeys::from_secret(&keys_secret)?,
    )
    .await?;
    state.trust_forwarded_for = config::parsed(&ProcessEnv, "TRUST_FORWARDED_FOR", false)?;
    let state = &state;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(flux_auth::handle(state, req).await)
    }))
    .await
}
