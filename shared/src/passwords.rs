//! Password hashing: argon2id with OWASP's parameters (19 MiB, t=2, p=1),
//! stored as PHC strings, computed off the async runtime.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

/// The hash of a random password nobody kept, with the parameters above:
/// sign-in verifies against it when the email is unknown, so both paths
/// cost the same. A constant, so that a cold start hashes nothing (a test
/// holds it to the current parameters).
pub const UNKNOWN_ACCOUNT_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$pRrK+g0FcNU7a1xvXXBbyA$0JmxiUwalhBNupvfIr45p40Hz5txut3TMsfPpuFHyGE";

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("stored password hash is malformed")]
    MalformedHash,
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

fn hasher() -> Argon2<'static> {
    let params =
        Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("OWASP parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string for `password`, with a fresh random salt.
pub async fn hash(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || {
        hasher()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hashing(e.to_string()))
    })
    .await
    .map_err(|e| PasswordError::Hashing(e.to_string()))?
}

/// Whether `password` matches `phc`, and whether the hash should be
/// recomputed because its parameters are outdated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matches: bool,
    pub needs_rehash: bool,
}

pub async fn verify(password: String, phc: String) -> Result<Verification, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&phc).map_err(|_| PasswordError::MalformedHash)?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        let needs_rehash = parsed.algorithm.as_str() != "argon2id"
            || Params::try_from(&parsed).map_or(true, |p| {
                (p.m_cost(), p.t_cost(), p.p_cost()) != (MEMORY_KIB, ITERATIONS, PARALLELISM)
            });
        Ok(Verification {
            matches,
            needs_rehash,
        })
    })
    .await
    .map_err(|e| PasswordError::Hashing(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_unknown_account_hash_costs_what_a_real_one_does() {
        let checked = verify("anything".into(), UNKNOWN_ACCOUNT_HASH.into())
            .await
            .unwrap();
        assert_eq!(
            checked,
            Verification {
                matches: false,
                needs_rehash: false
            }
        );
    }

    #[tokio::test]
    async fn hashes_verify_and_carry_owasp_parameters() {
        let phc = hash("correct horse battery".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let ok = verify("correct horse battery".into(), phc.clone())
            .await
            .unwrap();
        assert_eq!(
            ok,
            Verification {
                matches: true,
                needs_rehash: false
            }
        );
        let wrong = verify("wrong horse battery".into(), phc).await.unwrap();
        assert!(!wrong.matches);
    }

    #[tokio::test]
    async fn weaker_hashes_are_flagged_for_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        );
        let phc = weak.hash_password(b"pw").unwrap().to_string();
        let result = verify("pw".into(), phc).await.unwrap();
        assert_eq!(
            result,
            Verification {
                matches: true,
                needs_rehash: true
            }
        );
    }
}
