//! CORS: which origins may call the API, and the preflight answer.

use http::header::HeaderValue;
use http::{HeaderMap, Method};

use super::{responses, Request, Response};
use crate::config::{self, Vars};
use crate::routes::{self, Matched, Route};

/// What [`HttpConfig::from_env`] reads.
pub const ENVIRONMENT: &[&str] = &["ALLOWED_ORIGINS"];

/// What every function's HTTP layer needs from configuration.
#[derive(Clone, Debug, Default)]
pub struct HttpConfig {
    /// Origins allowed by CORS (`ALLOWED_ORIGINS`, comma separated; `*` for any).
    pub allowed_origins: Vec<String>,
}

impl HttpConfig {
    pub fn from_env(vars: &(impl Vars + ?Sized)) -> Self {
        Self {
            allowed_origins: config::list(vars, "ALLOWED_ORIGINS"),
        }
    }

    /// The request's `origin` when it is one this API answers.
    pub(super) fn allowed_origin(&self, req: &Request) -> Option<String> {
        req.headers()
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .filter(|origin| self.allowed_origins.iter().any(|o| o == "*" || o == origin))
            .map(str::to_string)
    }
}

pub(super) fn is_preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
}

pub(super) fn preflight(routes: &[Route], path: &str) -> Response {
    let methods = match routes::find(routes, &Method::OPTIONS, path) {
        Matched::MethodNotAllowed(allowed) => allowed.join(", "),
        _ => "GET, POST".to_string(),
    };
    let mut response = responses::no_content();
    let headers = response.headers_mut();
    headers.insert(
        http::header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_str(&format!("{methods}, OPTIONS")).expect("method names are valid"),
    );
    headers.insert(
        http::header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    headers.insert(
        http::header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

/// What a response to an allowed origin carries.
pub(super) fn allow_origin(headers: &mut HeaderMap, allowed_origin: Option<&str>) {
    if let Some(origin) = allowed_origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("x-request-id, retry-after, www-authenticate"),
        );
    }
    headers.append(http::header::VARY, HeaderValue::from_static("origin"));
}
