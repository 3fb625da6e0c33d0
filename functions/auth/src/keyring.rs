//! The signing keys, as the keys secret holds them now. A rotation step
//! (migrate: stage, activate, retire) reaches a warm container within the
//! secrets cache's lifetime, without a restart.

use std::sync::{Arc, RwLock};

use flux_shared::secrets::{ExposeSecret, SecretString, Secrets};
use flux_shared::tokens::keys::AuthKeys;
use flux_shared::tokens::{TokenConfig, Verifier};

use crate::error::AuthError;

/// The keys in use and a verifier for every key they publish.
pub struct Keys {
    pub auth: AuthKeys,
    pub verifier: Verifier,
    /// The secret they were loaded from, to notice when it changes.
    raw: SecretString,
}

pub struct KeyRing {
    tokens: TokenConfig,
    source: Option<(Arc<Secrets>, String)>,
    current: RwLock<Arc<Keys>>,
}

impl KeyRing {
    /// Keys read from `secret_id` now and followed from then on.
    pub async fn from_secret(
        tokens: &TokenConfig,
        secrets: Arc<Secrets>,
        secret_id: String,
    ) -> Result<Self, AuthError> {
        let raw = secrets.get(&secret_id).await?;
        let keys = load(tokens, raw)?;
        Ok(Self {
            tokens: tokens.clone(),
            source: Some((secrets, secret_id)),
            current: RwLock::new(Arc::new(keys)),
        })
    }

    /// Keys that never change (tests).
    pub fn fixed(tokens: &TokenConfig, raw: SecretString) -> Result<Self, AuthError> {
        Ok(Self {
            tokens: tokens.clone(),
            source: None,
            current: RwLock::new(Arc::new(load(tokens, raw)?)),
        })
    }

    /// The keys as the secret holds them; if it cannot be read or no longer
    /// loads, the ones in use stay (and the error is logged).
    pub async fn current(&self) -> Arc<Keys> {
        let current = Arc::clone(&self.current.read().expect("not poisoned"));
        let Some((secrets, secret_id)) = &self.source else {
            return current;
        };
        let raw = match secrets.get(secret_id).await {
            Ok(raw) if raw.expose_secret() == current.raw.expose_secret() => return current,
            Ok(raw) => raw,
            Err(e) => {
                tracing::error!(error = %e, "signing keys could not be read again");
                return current;
            }
        };
        match load(&self.tokens, raw) {
            Ok(keys) => {
                let keys = Arc::new(keys);
                tracing::info!(active_kid = %keys.auth.active_kid, "signing keys changed");
                *self.current.write().expect("not poisoned") = Arc::clone(&keys);
                keys
            }
            Err(e) => {
                tracing::error!(error = %e, "the changed signing keys do not load; kept the old ones");
                current
            }
        }
    }
}

fn load(tokens: &TokenConfig, raw: SecretString) -> Result<Keys, AuthError> {
    let auth = AuthKeys::from_secret(&raw)?;
    let verifier = Verifier::new(tokens, &auth.public_keys)?;
    Ok(Keys {
        auth,
        verifier,
        raw,
    })
}
