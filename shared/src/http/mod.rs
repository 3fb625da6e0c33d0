//! The API's HTTP conventions (API.md "Conventions"): request ids and
//! logging, routing to a function's operations, problem responses, security
//! and cache headers, CORS, the body limit and JSON. Every function's handler
//! runs its operations through [`serve`].

mod cors;
mod json;
mod request;
mod responses;

use std::str::FromStr;
use std::time::Instant;

use lambda_http::Body;
use tracing::Instrument;

use crate::problem::Problem;
use crate::routes::{self, Matched, Operation, Params};

pub use cors::{HttpConfig, ENVIRONMENT};
pub use json::json_body;
pub use request::{RequestMeta, MAX_BODY_BYTES};
pub use responses::{cache_publicly, internal_error, json_response, no_content, problem_response};

pub type Request = lambda_http::Request;
pub type Response = http::Response<Body>;

/// A request routed to one of a function's operations.
#[derive(Debug)]
pub struct Routed<O> {
    pub operation: O,
    pub params: Params,
    pub meta: RequestMeta,
}

impl<O> Routed<O> {
    /// The path parameter `name` as a `T` (an id); 404 when it is not one
    /// (a malformed id is as unknown as another restaurant's).
    pub fn param<T: FromStr>(&self, name: &str) -> Result<T, Problem> {
        self.params
            .get(name)
            .and_then(|raw| raw.parse().ok())
            .ok_or_else(Problem::not_found)
    }
}

/// Runs one request through the API's conventions: request id and logging,
/// CORS preflight, routing to one of `O`'s operations (404 / 405 problems),
/// the body limit, and the headers every response carries. `handler` sees
/// only requests for one of its operations; its error becomes a problem
/// response.
pub async fn serve<O, E, F>(config: &HttpConfig, req: Request, handler: F) -> Response
where
    O: Operation,
    E: Into<Problem>,
    F: AsyncFnOnce(Routed<O>, Request) -> Result<Response, E>,
{
    let started = Instant::now();
    let meta = RequestMeta::of(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let origin = config.allowed_origin(&req);
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
        if cors::is_preflight(&req) {
            return Ok(cors::preflight(O::ROUTES, &path));
        }
        let (index, params) = match routes::find(O::ROUTES, &method, &path) {
            Matched::Route(index, params) => (index, params),
            Matched::MethodNotAllowed(allowed) => {
                return Err(Problem::method_not_allowed(&allowed))
            }
            Matched::NotFound => {
                return Err(
                    Problem::not_found().with_detail(format!("no route for {method} {path}"))
                )
            }
        };
        request::check_body_size(&req)?;
        let routed = Routed {
            operation: O::ALL[index],
            params,
            meta: meta.clone(),
        };
        handler(routed, req).await.map_err(Into::into)
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
    responses::finish_headers(response.headers_mut(), &meta.request_id);
    cors::allow_origin(response.headers_mut(), origin.as_deref());
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        )
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    use http::header::HeaderValue;
    use http::{HeaderMap, Method, StatusCode};

    crate::operations! {
        enum Things {
            Create => post "/things",
        }
    }

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
        let response = serve(&config, req, async |_: Routed<Things>, req| {
            let thing: Thing = json_body(&req)?;
            Ok::<_, Problem>(json_response(
                StatusCode::CREATED,
                &serde_json::json!({"name": thing.name}),
            ))
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
        assert_eq!(headers["cache-control"], "no-store", "the default");
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
        let handler = async |_: Routed<Things>, _: Request| -> Result<Response, Problem> {
            panic!("not routed")
        };
        let response = serve(&config, request(Method::GET, "/nope", "", ""), handler).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = serve(&config, request(Method::GET, "/things", "", ""), handler).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()["allow"], "POST");

        let mut preflight = request(Method::OPTIONS, "/things", "", "");
        preflight.headers_mut().insert(
            "access-control-request-method",
            HeaderValue::from_static("POST"),
        );
        let response = serve(&config, preflight, handler).await;
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

    #[tokio::test]
    async fn a_handler_may_choose_its_cache_policy_and_problems_are_never_stored() {
        let config = HttpConfig::default();
        let cached = serve(
            &config,
            request(Method::POST, "/things", "application/json", "{}"),
            async |_: Routed<Things>, _| {
                let response = json_response(StatusCode::OK, &serde_json::json!({}));
                Ok::<_, Problem>(cache_publicly(
                    response,
                    std::time::Duration::from_secs(300),
                ))
            },
        )
        .await;
        assert_eq!(cached.headers()["cache-control"], "public, max-age=300");
        let missing = serve(
            &config,
            request(Method::GET, "/nope", "", ""),
            async |_: Routed<Things>, _| -> Result<Response, Problem> { panic!("not routed") },
        )
        .await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(missing.headers()["cache-control"], "no-store");
    }
}
