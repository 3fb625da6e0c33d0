//! The access-token verifier against anything a client can send: arbitrary
//! strings, and validly signed tokens with arbitrary claims. It never
//! panics, and accepts nothing it should not.
#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use flux_shared::tokens::keys::{generate_secret, AuthKeys};
use flux_shared::tokens::{TokenConfig, Verifier};
use jsonwebtoken::{Algorithm, Header};
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<AuthKeys> =
    LazyLock::new(|| AuthKeys::from_secret(&generate_secret("fuzz")).expect("keys"));
static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    Verifier::new(
        &TokenConfig::new("https://issuer.example", "flux-api"),
        &KEYS.public_keys,
    )
    .expect("verifier")
});

#[derive(Arbitrary, Debug)]
enum Input {
    Raw(String),
    Signed {
        iss_ok: bool,
        aud_ok: bool,
        iat: i64,
        exp: i64,
        nbf: Option<i64>,
        role: u8,
        extra: Option<String>,
    },
}

fuzz_target!(|input: Input| {
    match input {
        Input::Raw(token) => {
            let _ = VERIFIER.verify(&token);
        }
        Input::Signed {
            iss_ok,
            aud_ok,
            iat,
            exp,
            nbf,
            role,
            extra,
        } => {
            let role = ["owner", "manager", "staff", "admin"][usize::from(role % 4)];
            let mut claims = serde_json::json!({
                "iss": if iss_ok { "https://issuer.example" } else { "https://evil.example" },
                "aud": if aud_ok { "flux-api" } else { "other" },
                "sub": "00000000-0000-4000-8000-000000000001",
                "rid": "00000000-0000-4000-8000-000000000002",
                "sid": "00000000-0000-4000-8000-000000000003",
                "role": role,
                "iat": iat,
                "exp": exp,
                "jti": "00000000-0000-4000-8000-000000000004",
            });
            if let Some(nbf) = nbf {
                claims["nbf"] = nbf.into();
            }
            if let Some(extra) = extra {
                claims["extra"] = extra.into();
            }
            let mut header = Header::new(Algorithm::RS256);
            header.kid = Some("fuzz".into());
            let Ok(token) = jsonwebtoken::encode(&header, &claims, &KEYS.signing) else {
                return;
            };
            if let Ok(verified) = VERIFIER.verify(&token) {
                let now = chrono::Utc::now().timestamp();
                assert!(iss_ok && aud_ok && role != "admin");
                assert!(verified.exp >= now - 30, "expired token accepted");
                assert!(verified.iat <= now + 30, "token from the future accepted");
                assert!(
                    i128::from(verified.exp) - i128::from(verified.iat) <= 900 + 30,
                    "lifetime longer than issued accepted"
                );
            }
        }
    }
});
