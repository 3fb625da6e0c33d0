//! The API's HTTP conventions in one place (API.md "Conventions"): request
//! ids, problem responses, security headers, CORS, the body limit and JSON.
//! Every function's handler runs its routes through [`serve`].

use std::time::Instant;

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;

use crate::config::{self, Vars};
use crate::problem::{FieldError, Problem};
use crate::routes::{self, Matched, Params, Route};

pub type Request = lambda_http::Request;
pub type Response = http::Response<Body>;

/// Bodies larger than this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

const JSON: &str = "application/json; charset=utf-8";
const PROBLEM_JSON: &str = "application/problem+json";

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

    fn allows(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|o| o == "*" || o == origin)
    }
}

/// Who is asking, as far as the transport knows.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub request_id: String,
    pub source_ip: Option<String>,
}

impl RequestMeta {
    fn of(req: &Request) -> Self {
        let context = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => Some(ctx),
            _ => None,
        };
        let request_id = context
            .and_then(|ctx| ctx.request_id.clone())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let source_ip = context.and_then(|ctx| ctx.http.source_ip.clone());
        Self {
            request_id,
            source_ip,
        }
    }
}

/// A matched route with its path parameters.
#[derive(Debug)]
pub struct Routed {
    pub route: Route,
    pub params: Params,
    pub meta: RequestMeta,
}

/// Runs one request through the API's conventions: request id and logging,
/// CORS preflight, routing (404 / 405 problems), the body limit, and the
/// headers every response carries. `handler` sees only requests for one of
/// `routes`.
pub async fn serve<F>(config: &HttpConfig, routes: &[Route], req: Request, handler: F) -> Response
where
    F: AsyncFnOnce(Routed, Request) -> Result<Response, Problem>,
{
    let started = Instant::now();
    let meta = RequestMeta::of(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let origin = req
        .headers()
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|origin| config.allows(origin))
        .map(str::to_string);
    // Who is asking is recorded once a token is verified.
    let span = tracing::info_span!(
        "request",
        request_id = %meta.request_id,
        %method,
        %path,
        user_id = tracing::field::Empty,
        restaurant_id = tracing::field::Empty
    );

    let result = async {
        if is_preflight(&req) {
            return Ok(preflight(routes, &path));
        }
        let (route, params) = match routes::find(routes, &method, &path) {
            Matched::Route(route, params) => (route, params),
            Matched::MethodNotAllowed(allowed) => {
                return Err(Problem::method_not_allowed(&allowed))
            }
            Matched::NotFound => {
                return Err(
                    Problem::not_found().with_detail(format!("no route for {method} {path}"))
                )
            }
        };
        check_body_size(&req)?;
        let routed = Routed {
            route,
            params,
            meta: meta.clone(),
        };
        handler(routed, req).await
    }
    .instrument(span.clone())
    .await;

    let mut response = match result {
        Ok(response) => response,
        Err(mut problem) => {
            problem.request_id = Some(meta.request_id.clone());
            problem_response(&problem)
        }
    };
    finish_headers(response.headers_mut(), &meta, &path, origin.as_deref());
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        )
    });
    response
}

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

/// A JSON response.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Result<Response, Problem> {
    let body = serde_json::to_string(body).map_err(|e| internal_error(&e))?;
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, JSON)
        .body(Body::Text(body))
        .map_err(|e| internal_error(&e))
}

/// A `204 No Content`.
pub fn no_content() -> Response {
    http::Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::Empty)
        .expect("static response is valid")
}

/// The body as `T`: 415 unless it is JSON, 400 naming the field when it is
/// malformed, misses a field or has a field of the wrong type.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, Problem> {
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" && !essence.ends_with("+json") {
        return Err(Problem::unsupported_media_type(
            "the body must be application/json",
        ));
    }
    let bytes: &[u8] = req.body().as_ref();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::bad_request("the request body is empty"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| json_problem(&e))?;
    deserializer.end().map_err(|_| {
        Problem::bad_request("the body has trailing characters after the JSON value")
    })?;
    Ok(value)
}

fn json_problem(error: &serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let inner = error.inner();
    if !inner.is_data() {
        return Problem::bad_request(format!(
            "the body is not valid JSON (line {}, column {})",
            inner.line(),
            inner.column()
        ));
    }
    let path = error.path().to_string();
    let message = inner.to_string();
    let parent = if path == "." {
        String::new()
    } else {
        format!("{path}.")
    };
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(|name| format!("{parent}{name}"))
    };
    let field_error = if let Some(field) = named("missing field `") {
        FieldError::new(field, "is required")
    } else if let Some(field) = named("duplicate field `") {
        FieldError::new(field, "appears more than once")
    } else if path == "." {
        FieldError::new("body", "must be a JSON object")
    } else {
        FieldError::new(path, client_message(&message))
    };
    Problem::validation(vec![field_error])
}

/// serde's message (`invalid type: string "12", expected i64`) in the
/// client's terms (`must be an integer`): never the server's types.
fn client_message(serde_message: &str) -> String {
    let message = serde_message
        .split(" at line ")
        .next()
        .unwrap_or(serde_message);
    if let Some(variants) = message
        .strip_prefix("unknown variant")
        .and_then(|m| m.split_once("expected one of "))
        .map(|(_, variants)| variants.replace('`', ""))
    {
        return format!("must be one of {variants}");
    }
    let expected = message
        .rsplit_once("expected ")
        .map(|(_, expected)| expected)
        .unwrap_or_default();
    let integer = [
        "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "usize", "isize", "integer",
    ]
    .iter()
    .any(|t| expected.split_whitespace().any(|w| w == *t));
    if message.starts_with("invalid value") && integer {
        return "is out of range".into();
    }
    let kind = if integer {
        "an integer"
    } else if ["f32", "f64", "number", "float"]
        .iter()
        .any(|t| expected.contains(t))
    {
        "a number"
    } else if ["bool", "boolean"].iter().any(|t| expected.contains(t)) {
        "true or false"
    } else if ["sequence", "array", "tuple"]
        .iter()
        .any(|t| expected.contains(t))
    {
        "an array"
    } else if ["struct", "map", "object"]
        .iter()
        .any(|t| expected.contains(t))
    {
        "an object"
    } else if expected.to_ascii_lowercase().contains("uuid") {
        "a UUID"
    } else if ["string", "char", "str"]
        .iter()
        .any(|t| expected.contains(t))
    {
        "a string"
    } else {
        return "is not valid here".into();
    };
    format!("must be {kind}")
}

fn check_body_size(req: &Request) -> Result<(), Problem> {
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let actual = match req.body() {
        Body::Empty => 0,
        Body::Text(text) => text.len(),
        Body::Binary(bytes) => bytes.len(),
        _ => 0,
    };
    if declared.max(actual) > MAX_BODY_BYTES {
        return Err(Problem::payload_too_large(format!(
            "request bodies are limited to {MAX_BODY_BYTES} bytes"
        )));
    }
    Ok(())
}

fn is_preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
}

fn preflight(routes: &[Route], path: &str) -> Response {
    let methods = match routes::find(routes, &Method::OPTIONS, path) {
        Matched::MethodNotAllowed(allowed) => allowed.join(", "),
        _ => "GET, POST".to_string(),
    };
    let mut response = no_content();
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

fn finish_headers(
    headers: &mut HeaderMap,
    meta: &RequestMeta,
    path: &str,
    allowed_origin: Option<&str>,
) {
    if let Ok(id) = HeaderValue::from_str(&meta.request_id) {
        headers.insert(HeaderName::from_static("x-request-id"), id);
    }
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if carries_personal_data(path) {
        headers.insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
    }
    if let Some(origin) = allowed_origin.and_then(|o| HeaderValue::from_str(o).ok()) {
        headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("x-request-id, retry-after, www-authenticate"),
        );
    }
    headers.append(http::header::VARY, HeaderValue::from_static("origin"));
}

/// Responses on these paths carry tokens or personal data and must not be cached.
fn carries_personal_data(path: &str) -> bool {
    ["/auth/", "/uploads", "/sales/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &[Route] = &[Route::post("/things")];

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Thing {
        name: String,
        size: u32,
    }

    fn request(method: Method, path: &str, content_type: &str, body: &str) -> Request {
        http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .header("origin", "https://app.example")
            .body(Body::Text(body.to_string()))
            .unwrap()
    }

    async fn post(body: &str, content_type: &str) -> (StatusCode, HeaderMap, serde_json::Value) {
        let config = HttpConfig {
            allowed_origins: vec!["https://app.example".into()],
        };
        let req = request(Method::POST, "/things", content_type, body);
        let response = serve(&config, ROUTES, req, async |_routed, req| {
            let thing: Thing = json_body(&req)?;
            json_response(
                StatusCode::CREATED,
                &serde_json::json!({"name": thing.name}),
            )
        })
        .await;
        let status = response.status();
        let headers = response.headers().clone();
        let json =
            serde_json::from_slice(response.body().as_ref()).unwrap_or(serde_json::Value::Null);
        (status, headers, json)
    }

    #[tokio::test]
    async fn json_bodies_become_values_or_named_field_problems() {
        let (status, headers, json) = post(
            r#"{"name": "a", "size": 3, "extra": true}"#,
            "application/json",
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(json["name"], "a");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(
            headers["access-control-allow-origin"],
            "https://app.example"
        );
        assert!(!headers["x-request-id"].is_empty());

        let (status, headers, json) = post(r#"{"name": "a"}"#, "application/json").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(json["errors"][0]["field"], "size");
        assert_eq!(
            json["request_id"],
            headers["x-request-id"].to_str().unwrap()
        );

        let (status, _, json) = post(r#"{"name": 5, "size": 3}"#, "application/json").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(json["errors"][0]["field"], "name");
        assert_eq!(json["errors"][0]["message"], "must be a string");

        // The client's terms, never the server's types.
        for (body, field, message) in [
            (
                r#"{"name": "a", "size": "12"}"#,
                "size",
                "must be an integer",
            ),
            (r#"{"name": "a", "size": -1}"#, "size", "is out of range"),
            (
                r#"{"name": "a", "size": 1.5}"#,
                "size",
                "must be an integer",
            ),
            (r#"{"name": ["a"], "size": 1}"#, "name", "must be a string"),
            (
                r#"{"name": "a", "name": "b", "size": 1}"#,
                "name",
                "appears more than once",
            ),
            ("7", "body", "must be a JSON object"),
            ("[]", "body", "must be a JSON object"),
        ] {
            let (status, _, json) = post(body, "application/json").await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(json["errors"][0]["field"], field, "{body}");
            assert_eq!(json["errors"][0]["message"], message, "{body}");
            assert!(!json.to_string().contains("u32"), "{json}");
        }

        let (status, _, json) = post(r#"{"name": "#, "application/json").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(json["type"], "https://flux.dev/problems/bad-request");

        let (status, _, _) = post(r#"{"name": "a", "size": 3}"#, "text/plain").await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

        let big = format!(r#"{{"name": "{}", "size": 1}}"#, "x".repeat(MAX_BODY_BYTES));
        let (status, _, _) = post(&big, "application/json").await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn unknown_paths_and_methods_are_problems_and_preflight_works() {
        let config = HttpConfig {
            allowed_origins: vec!["https://app.example".into()],
        };
        let handler =
            async |_: Routed, _: Request| -> Result<Response, Problem> { panic!("not routed") };
        let response = serve(
            &config,
            ROUTES,
            request(Method::GET, "/nope", "", ""),
            handler,
        )
        .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = serve(
            &config,
            ROUTES,
            request(Method::GET, "/things", "", ""),
            handler,
        )
        .await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()["allow"], "POST");

        let mut preflight = request(Method::OPTIONS, "/things", "", "");
        preflight.headers_mut().insert(
            "access-control-request-method",
            HeaderValue::from_static("POST"),
        );
        let response = serve(&config, ROUTES, preflight, handler).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "https://app.example"
        );
        assert!(response.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization"));
    }
}
