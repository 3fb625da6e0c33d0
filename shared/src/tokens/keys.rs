//! The signing keys of access tokens and the key that derives refresh-token
//! successors, from one secret:
//! `{"active_kid", "keys": [{"kid", "private_key_pem"}], "refresh_token_key"}`.
//! Every key is published in the JWKS; only the active one signs.

use super::PublicKeyPem;
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::EncodingKey;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the auth keys secret is not the expected JSON: {0}")]
    Shape(String),
    #[error("key {kid}: {reason}")]
    Key { kid: String, reason: String },
    #[error("the active key {0} is not among the keys")]
    NoActiveKey(String),
}

#[derive(Serialize, Deserialize)]
struct KeysSecret {
    active_kid: String,
    keys: Vec<PrivateKey>,
    refresh_token_key: String,
}

#[derive(Serialize, Deserialize)]
struct PrivateKey {
    kid: String,
    /// PKCS#8 PEM (`BEGIN PRIVATE KEY`), as Terraform's `private_key_pem_pkcs8`.
    private_key_pem: String,
}

pub struct AuthKeys {
    pub active_kid: String,
    pub signing: EncodingKey,
    pub jwks: serde_json::Value,
    pub public_keys: Vec<PublicKeyPem>,
    pub refresh_token_key: SecretString,
}

impl AuthKeys {
    pub fn from_secret(secret: &SecretString) -> Result<Self, KeyError> {
        let parsed: KeysSecret = serde_json::from_str(secret.expose_secret())
            .map_err(|e| KeyError::Shape(format!("line {}, column {}", e.line(), e.column())))?;
        let mut signing = None;
        let mut jwks = Vec::new();
        let mut public_keys = Vec::new();
        for key in &parsed.keys {
            let bad = |reason: String| KeyError::Key {
                kid: key.kid.clone(),
                reason,
            };
            let der = match rustls_pemfile::private_key(&mut key.private_key_pem.as_bytes()) {
                Ok(Some(rustls_pki_types_der)) => rustls_pki_types_der.secret_der().to_vec(),
                _ => return Err(bad("not a PEM private key".into())),
            };
            let pair =
                KeyPair::from_pkcs8(&der).map_err(|e| bad(format!("not a PKCS#8 RSA key: {e}")))?;
            let public = pair.public_key();
            jwks.push(serde_json::json!({
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": key.kid,
                "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            }));
            let spki: PublicKeyX509Der = public
                .as_der()
                .map_err(|_| bad("cannot encode the public key".into()))?;
            public_keys.push(PublicKeyPem {
                kid: key.kid.clone(),
                public_key_pem: pem("PUBLIC KEY", spki.as_ref()),
            });
            if key.kid == parsed.active_kid {
                signing = Some(
                    EncodingKey::from_rsa_pem(key.private_key_pem.as_bytes())
                        .map_err(|e| bad(e.to_string()))?,
                );
            }
        }
        let signing = signing.ok_or_else(|| KeyError::NoActiveKey(parsed.active_kid.clone()))?;
        if parsed.refresh_token_key.len() < 32 {
            return Err(KeyError::Shape(
                "refresh_token_key must be at least 32 characters".into(),
            ));
        }
        Ok(Self {
            active_kid: parsed.active_kid,
            signing,
            jwks: serde_json::json!({ "keys": jwks }),
            public_keys,
            refresh_token_key: SecretString::from(parsed.refresh_token_key),
        })
    }
}

/// A fresh secret with one 2048-bit key, for the local stack and tests.
pub fn generate_secret(kid: &str) -> SecretString {
    let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
    let der: Pkcs8V1Der = pair.as_der().expect("PKCS#8 encoding");
    let mut refresh_key = [0u8; 32];
    aws_lc_rs::rand::fill(&mut refresh_key).expect("system randomness");
    let secret = KeysSecret {
        active_kid: kid.to_string(),
        keys: vec![PrivateKey {
            kid: kid.to_string(),
            private_key_pem: pem("PRIVATE KEY", der.as_ref()),
        }],
        refresh_token_key: URL_SAFE_NO_PAD.encode(refresh_key),
    };
    SecretString::from(serde_json::to_string(&secret).expect("serializable"))
}

/// One step of rotating the signing key. Each is safe to repeat, and each
/// leaves every key that signed a still-valid token published:
/// stage publishes a new key without signing with it; activate signs with
/// the newest key; retire drops every key but the active one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyChange {
    Stage,
    Activate,
    Retire,
}

/// `secret` with `change` applied; `None` when it already holds.
pub fn changed(
    secret: &SecretString,
    change: KeyChange,
    new_kid: &str,
) -> Result<Option<SecretString>, KeyError> {
    let mut parsed: KeysSecret = serde_json::from_str(secret.expose_secret())
        .map_err(|e| KeyError::Shape(format!("line {}, column {}", e.line(), e.column())))?;
    let newest = parsed
        .keys
        .last()
        .map(|k| k.kid.clone())
        .unwrap_or_default();
    match change {
        KeyChange::Stage if newest != parsed.active_kid => return Ok(None),
        KeyChange::Stage => {
            let fresh: KeysSecret = serde_json::from_str(generate_secret(new_kid).expose_secret())
                .map_err(|e| KeyError::Shape(e.to_string()))?;
            parsed.keys.extend(fresh.keys);
        }
        KeyChange::Activate if newest == parsed.active_kid => return Ok(None),
        KeyChange::Activate => parsed.active_kid = newest,
        KeyChange::Retire if parsed.keys.len() == 1 => return Ok(None),
        KeyChange::Retire => parsed.keys.retain(|k| k.kid == parsed.active_kid),
    }
    let json = serde_json::to_string(&parsed).map_err(|e| KeyError::Shape(e.to_string()))?;
    // Never store a secret the functions could not load.
    let value = SecretString::from(json);
    AuthKeys::from_secret(&value)?;
    Ok(Some(value))
}

/// A key id that sorts by creation time.
pub fn new_kid() -> String {
    chrono::Utc::now().format("k%Y%m%dT%H%M%SZ").to_string()
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_and_publish_a_jwk() {
        let keys = AuthKeys::from_secret(&generate_secret("k1")).unwrap();
        assert_eq!(keys.active_kid, "k1");
        let jwk = &keys.jwks["keys"][0];
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["e"], "AQAB");
        assert!(jwk["n"].as_str().unwrap().len() > 300);
        assert!(keys.public_keys[0]
            .public_key_pem
            .starts_with("-----BEGIN PUBLIC KEY-----"));
    }

    #[test]
    fn rotation_publishes_before_signing_and_retires_after() {
        let first = generate_secret("k1");
        let staged = changed(&first, KeyChange::Stage, "k2").unwrap().unwrap();
        let keys = AuthKeys::from_secret(&staged).unwrap();
        assert_eq!(keys.active_kid, "k1", "a staged key does not sign yet");
        assert_eq!(keys.jwks["keys"].as_array().unwrap().len(), 2);
        assert!(changed(&staged, KeyChange::Stage, "k3").unwrap().is_none());

        let active = changed(&staged, KeyChange::Activate, "-").unwrap().unwrap();
        let keys = AuthKeys::from_secret(&active).unwrap();
        assert_eq!(keys.active_kid, "k2");
        assert_eq!(keys.public_keys.len(), 2, "k1's tokens still verify");
        assert!(changed(&active, KeyChange::Activate, "-")
            .unwrap()
            .is_none());

        let retired = changed(&active, KeyChange::Retire, "-").unwrap().unwrap();
        let keys = AuthKeys::from_secret(&retired).unwrap();
        assert_eq!(keys.active_kid, "k2");
        assert_eq!(keys.public_keys.len(), 1);
        assert!(changed(&retired, KeyChange::Retire, "-").unwrap().is_none());
    }
}
