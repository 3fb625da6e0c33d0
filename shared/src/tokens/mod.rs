//! Access tokens: RS256 JWTs with a `kid`. The auth function signs them;
//! every protected route verifies them here and gets a typed [`Caller`].
//! Verification accepts only RS256, the configured issuer and audience, at
//! most 30 s of clock skew, and no lifetime longer than the configured one.
//! Whether the token's session is still live is the database's to say
//! (see [`crate::tenant::begin_for`]).

pub mod keys;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use postgres_types::{FromSql, ToSql};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::{self, ConfigError, Vars};
use crate::http::Request;
use crate::ids::{RestaurantId, UserId};
use crate::problem::Problem;
use crate::secrets::{ExposeSecret, Secrets, SecretsError};

pub const LEEWAY_SECS: u64 = 30;
/// The default lifetime of an access token.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// A user's role (PostgreSQL's `user_role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSql, FromSql)]
#[serde(rename_all = "snake_case")]
#[postgres(name = "user_role", rename_all = "snake_case")]
pub enum Role {
    Owner,
    Manager,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::Staff => "staff",
        }
    }
}

/// The claims of an access token (API.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub rid: Uuid,
    /// The sign-in session (refresh-token family) the token was issued for.
    pub sid: Uuid,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
}

/// The verified caller of a protected route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: UserId,
    pub restaurant_id: RestaurantId,
    pub session_id: Uuid,
    pub role: Role,
}

/// What [`TokenConfig::from_env`] reads (the access-token lifetime is
/// optional and left to its default in deployments).
pub const TOKEN_ENVIRONMENT: &[&str] = &["AUTH_ISSUER", "AUTH_AUDIENCE"];

/// What [`Verifier::from_env`] reads.
pub const VERIFIER_ENVIRONMENT: &[&str] =
    crate::environment![TOKEN_ENVIRONMENT, &["AUTH_PUBLIC_KEYS_SECRET_ID"]];

/// Who issues tokens and for whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenConfig {
    pub issuer: String,
    pub audience: String,
    /// How long an access token is valid; verifiers refuse longer ones.
    pub access_ttl: Duration,
}

impl TokenConfig {
    /// `AUTH_ISSUER` (the API's base URL), `AUTH_AUDIENCE` (default
    /// `flux-api`) and `AUTH_ACCESS_TOKEN_TTL_SECS` (default 900).
    pub fn from_env(vars: &(impl Vars + ?Sized)) -> Result<Self, ConfigError> {
        Ok(Self {
            issuer: config::required(vars, "AUTH_ISSUER")?,
            audience: config::optional(vars, "AUTH_AUDIENCE")
                .unwrap_or_else(|| "flux-api".to_string()),
            access_ttl: Duration::from_secs(config::parsed(
                vars,
                "AUTH_ACCESS_TOKEN_TTL_SECS",
                ACCESS_TOKEN_TTL.as_secs(),
            )?),
        })
    }

    /// For the local stack and tests: the default lifetime.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            access_ttl: ACCESS_TOKEN_TTL,
        }
    }
}

/// One public key, as configured for verifiers.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PublicKeyPem {
    pub kid: String,
    pub public_key_pem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's key id is missing or unknown")]
    UnknownKey,
    #[error("the token has expired")]
    Expired,
    #[error("the token's lifetime is longer than tokens are issued for")]
    TooLong,
    #[error("the token is invalid: {0}")]
    Invalid(String),
    #[error("invalid public key {kid}: {reason}")]
    BadKey { kid: String, reason: String },
}

/// Verifies access tokens against every published key (so signing keys can
/// rotate without signing everyone out).
pub struct Verifier {
    keys: RwLock<HashMap<String, DecodingKey>>,
    validation: Validation,
    max_lifetime_secs: i64,
    source: Option<PublicKeySource>,
}

/// The secret that publishes the public keys, read again when a token names
/// a key this container has not seen (a new key was staged since it started).
struct PublicKeySource {
    secrets: Arc<Secrets>,
    secret_id: String,
    /// At most one read per interval, however many unknown kids arrive.
    last_read: tokio::sync::Mutex<Option<Instant>>,
}

/// How often an unknown `kid` may cause the public keys to be read again.
const KEY_REREAD_INTERVAL: Duration = Duration::from_secs(30);

impl Verifier {
    pub fn new(config: &TokenConfig, public_keys: &[PublicKeyPem]) -> Result<Self, TokenError> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = vec![Algorithm::RS256];
        validation.leeway = LEEWAY_SECS;
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        Ok(Self {
            keys: RwLock::new(decoding_keys(public_keys)?),
            validation,
            max_lifetime_secs: (config.access_ttl.as_secs() + LEEWAY_SECS) as i64,
            source: None,
        })
    }

    /// Token settings from the environment ([`TokenConfig::from_env`]) and
    /// the public keys from the secret `AUTH_PUBLIC_KEYS_SECRET_ID` names:
    /// a JSON list of `{"kid", "public_key_pem"}` that migrate publishes.
    pub async fn from_env(
        vars: &(impl Vars + ?Sized),
        secrets: &Arc<Secrets>,
    ) -> Result<Self, VerifierSetupError> {
        let config = TokenConfig::from_env(vars)?;
        let secret_id = config::required(vars, "AUTH_PUBLIC_KEYS_SECRET_ID")?;
        let keys = read_public_keys(secrets, &secret_id, false).await?;
        let mut verifier = Self::new(&config, &keys)?;
        verifier.source = Some(PublicKeySource {
            secrets: Arc::clone(secrets),
            secret_id,
            last_read: tokio::sync::Mutex::new(None),
        });
        Ok(verifier)
    }

    /// Reads the published keys again, unless that was done moments ago.
    async fn reread_keys(&self) -> bool {
        let Some(source) = &self.source else {
            return false;
        };
        let mut last_read = source.last_read.lock().await;
        if last_read.is_some_and(|at| at.elapsed() < KEY_REREAD_INTERVAL) {
            return false;
        }
        *last_read = Some(Instant::now());
        let read = read_public_keys(&source.secrets, &source.secret_id, true).await;
        match read.and_then(|keys| Ok(decoding_keys(&keys)?)) {
            Ok(keys) => {
                *self.keys.write().expect("not poisoned") = keys;
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "public keys could not be read again");
                false
            }
        }
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::Invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.read().expect("not poisoned").get(kid).cloned())
            .ok_or(TokenError::UnknownKey)?;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid(e.to_string()),
            })?;
        // A good signature is not enough: a token must not outlive what
        // the issuer grants, nor claim to be issued in the future.
        let now = chrono::Utc::now().timestamp();
        // In i128: with extreme claims the difference overflows i64, and a
        // wrapped one would pass (found by the token_verifier fuzz target).
        if i128::from(claims.exp) - i128::from(claims.iat) > i128::from(self.max_lifetime_secs) {
            return Err(TokenError::TooLong);
        }
        if claims.iat > now + LEEWAY_SECS as i64 {
            return Err(TokenError::Invalid("issued in the future".into()));
        }
        Ok(claims)
    }

    /// The caller behind a request's `Authorization: Bearer` header; 401
    /// (with `www-authenticate: Bearer`) for anything else.
    pub async fn authenticate(&self, req: &Request) -> Result<Caller, Problem> {
        let header = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .ok_or_else(|| Problem::unauthorized("a Bearer access token is required"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Problem::unauthorized("the Authorization header must be `Bearer <token>`")
            })?;
        let verified = match self.verify(token) {
            Err(TokenError::UnknownKey) if self.reread_keys().await => self.verify(token),
            verified => verified,
        };
        let claims = verified.map_err(|e| {
            tracing::info!(reason = %e, "access token rejected");
            match e {
                TokenError::Expired => Problem::token_expired(),
                _ => Problem::unauthorized("the access token is invalid"),
            }
        })?;
        let span = tracing::Span::current();
        span.record("user_id", tracing::field::display(claims.sub));
        span.record("restaurant_id", tracing::field::display(claims.rid));
        Ok(Caller {
            user_id: UserId(claims.sub),
            restaurant_id: RestaurantId(claims.rid),
            session_id: claims.sid,
            role: claims.role,
        })
    }
}

/// Why verifying functions could not start.
#[derive(Debug, thiserror::Error)]
pub enum VerifierSetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Keys(#[from] TokenError),
}

async fn read_public_keys(
    secrets: &Secrets,
    secret_id: &str,
    fresh: bool,
) -> Result<Vec<PublicKeyPem>, VerifierSetupError> {
    let raw = if fresh {
        secrets.refresh(secret_id).await?
    } else {
        secrets.get(secret_id).await?
    };
    serde_json::from_str(raw.expose_secret()).map_err(|e| {
        SecretsError::Malformed {
            id: secret_id.to_string(),
            reason: format!("not a JSON list of public keys: {e}"),
        }
        .into()
    })
}

fn decoding_keys(public_keys: &[PublicKeyPem]) -> Result<HashMap<String, DecodingKey>, TokenError> {
    let mut keys = HashMap::new();
    for key in public_keys {
        let decoding = DecodingKey::from_rsa_pem(key.public_key_pem.as_bytes()).map_err(|e| {
            TokenError::BadKey {
                kid: key.kid.clone(),
                reason: e.to_string(),
            }
        })?;
        keys.insert(key.kid.clone(), decoding);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(claims: &serde_json::Value) -> (Verifier, String) {
        use aws_lc_rs::encoding::AsDer;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der: aws_lc_rs::encoding::Pkcs8V1Der = pair.as_der().unwrap();
        let signing =
            jsonwebtoken::EncodingKey::from_rsa_pem(pem("PRIVATE KEY", der.as_ref()).as_bytes())
                .unwrap();
        let public = aws_lc_rs::signature::KeyPair::public_key(&pair);
        let spki: aws_lc_rs::encoding::PublicKeyX509Der = public.as_der().unwrap();
        let pem = pem("PUBLIC KEY", spki.as_ref());
        let verifier = Verifier::new(
            &TokenConfig::new("https://issuer.example", "flux-api"),
            &[PublicKeyPem {
                kid: "k".into(),
                public_key_pem: pem,
            }],
        )
        .unwrap();
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some("k".into());
        let token = jsonwebtoken::encode(&header, claims, &signing).unwrap();
        (verifier, token)
    }

    fn pem(label: &str, der: &[u8]) -> String {
        use base64::Engine;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    /// Found by the token_verifier fuzz target: exp − iat overflowed i64,
    /// and a wrapped (negative) lifetime passed the check.
    #[test]
    fn an_extreme_lifetime_is_refused_not_wrapped() {
        let (verifier, token) = signed(&serde_json::json!({
            "iss": "https://issuer.example", "aud": "flux-api",
            "sub": Uuid::nil(), "rid": Uuid::nil(), "sid": Uuid::nil(), "jti": Uuid::nil(),
            "role": "owner", "iat": -6_650_775_360_372_994_971i64, "exp": 8_319_836_419_735_486_244i64
        }));
        assert!(matches!(verifier.verify(&token), Err(TokenError::TooLong)));
    }
}
