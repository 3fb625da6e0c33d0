//! Responses: JSON, problems, 204, and the headers every response carries.

use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use lambda_http::Body;
use serde::Serialize;

use super::Response;
use crate::problem::Problem;

const JSON: &str = "application/json; charset=utf-8";
const PROBLEM_JSON: &str = "application/problem+json";

/// Logs an unexpected error (in the request's span) and returns the 500 problem.
pub fn internal_error(cause: &dyn std::fmt::Display) -> Problem {
    tracing::error!(error = %cause, "internal error");
    Problem::internal()
}

/// A problem as a response, with the headers its status calls for.
pub fn problem_response(problem: &Problem) -> Response {
    let body = serde_json::to_string(problem).expect("a problem always serializes");
    let mut response = http::Response::builder()
        .status(problem.status())
        .header(http::header::CONTENT_TYPE, PROBLEM_JSON)
        .body(Body::Text(body))
        .expect("static headers are valid");
    let headers = response.headers_mut();
    if problem.status() == StatusCode::UNAUTHORIZED {
        headers.insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static(problem.www_authenticate.unwrap_or("Bearer")),
        );
    }
    if let Some(secs) = problem.retry_after {
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if let Some(allow) = problem
        .allow
        .as_deref()
        .and_then(|a| HeaderValue::from_str(a).ok())
    {
        headers.insert(http::header::ALLOW, allow);
    }
    response
}

/// A JSON response; a body that cannot be serialized is a logged 500.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_string(body) {
        Ok(body) => http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, JSON)
            .body(Body::Text(body))
            .expect("static headers are valid"),
        Err(e) => problem_response(&internal_error(&e)),
    }
}

/// A `204 No Content`.
pub fn no_content() -> Response {
    http::Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::Empty)
        .expect("static response is valid")
}

/// Lets shared caches keep `response` for `max_age`. Every other response
/// is `no-store`: most carry tokens or a restaurant's figures.
pub fn cache_publicly(mut response: Response, max_age: Duration) -> Response {
    let value = format!("public, max-age={}", max_age.as_secs());
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_str(&value).expect("digits are a valid header value"),
    );
    response
}

/// The request id, `nosniff`, and `no-store` unless the handler chose a
/// cache policy.
pub(super) fn finish_headers(headers: &mut HeaderMap, request_id: &str) {
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert(HeaderName::from_static("x-request-id"), id);
    }
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(http::header::CACHE_CONTROL) {
        headers.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
    }
}
