//! RFC 9457 problem documents, the one error shape of the API (API.md).
//! Each domain's error enum converts into a `Problem`; internal causes are
//! logged by the caller with the request id and never put in a response.

use http::StatusCode;
use serde::Serialize;

const TYPE_BASE: &str = "https://flux.dev/problems/";

/// One invalid field of a request body or query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// Filled in by the HTTP layer, which knows the request id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Seconds, sent as `retry-after` on 429 and 503.
    #[serde(skip)]
    pub retry_after: Option<u64>,
    /// Sent as `allow` on 405.
    #[serde(skip)]
    pub allow: Option<String>,
    /// Sent as `www-authenticate` on 401 instead of plain `Bearer`.
    #[serde(skip)]
    pub www_authenticate: Option<&'static str>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str) -> Self {
        Self {
            kind: format!("{TYPE_BASE}{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: None,
            errors: None,
            request_id: None,
            retry_after: None,
            allow: None,
            www_authenticate: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// 400 with one entry per invalid field; the detail repeats the first.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .first()
            .map(|e| format!("{} {}", e.field, e.message))
            .unwrap_or_else(|| "request is invalid".to_string());
        let mut problem = Self::new(
            StatusCode::BAD_REQUEST,
            "validation",
            "Request body is invalid",
        )
        .with_detail(detail);
        problem.errors = Some(errors);
        problem
    }

    /// 400 with one entry per invalid query parameter.
    pub fn invalid_query(errors: Vec<FieldError>) -> Self {
        let mut problem = Self::validation(errors);
        problem.title = "Query is invalid".into();
        problem
    }

    /// 400 for a body or query that cannot be read at all (malformed JSON).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Request is malformed",
        )
        .with_detail(detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
        )
        .with_detail(detail)
    }

    /// 401 for an access token that was valid and has expired: the client
    /// should refresh it (API.md), which a different type and
    /// `www-authenticate` tell it.
    pub fn token_expired() -> Self {
        let mut problem = Self::new(
            StatusCode::UNAUTHORIZED,
            "token-expired",
            "Access token expired",
        )
        .with_detail("the access token has expired; refresh it");
        problem.www_authenticate =
            Some(r#"Bearer error="invalid_token", error_description="expired""#);
        problem
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed").with_detail(detail)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found")
    }

    pub fn method_not_allowed(allow: &[&str]) -> Self {
        let mut problem = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
        );
        problem.allow = Some(allow.join(", "));
        problem
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict").with_detail(detail)
    }

    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
        )
        .with_detail(detail)
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
        )
        .with_detail(detail)
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        let mut problem = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
        )
        .with_detail(format!("try again in {retry_after_secs} seconds"));
        problem.retry_after = Some(retry_after_secs.max(1));
        problem
    }

    /// 503: a dependency is down. The detail stays generic.
    pub fn unavailable() -> Self {
        let mut problem = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service temporarily unavailable",
        )
        .with_detail("a dependency is unavailable; try again shortly");
        problem.retry_after = Some(5);
        problem
    }

    /// 500: a bug. The cause is logged by the caller, never shown.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
        .with_detail("an unexpected error occurred; it has been logged")
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

/// A problem is also the error of a request refused before any domain
/// logic (a malformed body, a missing token): domains pass it through.
impl std::error::Error for Problem {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_problem_matches_the_contract() {
        let mut problem = Problem::validation(vec![FieldError::new(
            "password",
            "must be at least 12 characters",
        )]);
        problem.request_id = Some("req-1".into());
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "https://flux.dev/problems/validation",
                "title": "Request body is invalid",
                "status": 400,
                "detail": "password must be at least 12 characters",
                "errors": [{"field": "password", "message": "must be at least 12 characters"}],
                "request_id": "req-1"
            })
        );
    }

    #[test]
    fn only_validation_problems_carry_errors() {
        let json = serde_json::to_value(Problem::not_found()).unwrap();
        assert!(json.get("errors").is_none());
        assert_eq!(json["status"], 404);
    }
}
