//! The public documents that let others verify our tokens: the signing
//! keys (JWKS) and the OpenID configuration that points to them.

use std::time::Duration;

use flux_shared::http::{self, Response};
use flux_shared::tokens::TokenConfig;
use lambda_http::http::StatusCode;

use crate::AuthState;

/// Keys change rarely, and rotation publishes a new one well before use.
const CACHE_FOR: Duration = Duration::from_secs(300);

pub async fn jwks(state: &AuthState) -> Response {
    public_json(&state.keys.current().await.auth.jwks)
}

pub fn openid_configuration(tokens: &TokenConfig) -> Response {
    let issuer = tokens.issuer.trim_end_matches('/');
    public_json(&serde_json::json!({
        "issuer": tokens.issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "claims_supported": ["iss", "aud", "sub", "rid", "sid", "role", "iat", "exp", "jti"]
    }))
}

fn public_json(body: &serde_json::Value) -> Response {
    http::cache_publicly(http::json_response(StatusCode::OK, body), CACHE_FOR)
}
