//! What the local stack serves itself, beside the functions: the reference
//! dashboard at `/` (plain HTML, CSS and JavaScript modules, no build step,
//! embedded so it works from any directory) and the OpenAPI document.

use flux_shared::http::{self as api, HttpConfig, Request, Response, Routed};
use flux_shared::problem::Problem;
use flux_shared::routes::{Operation, Route};
use http::HeaderValue;
use lambda_http::Body;

flux_shared::operations! {
    enum Page {
        Index => get "/",
        DashboardFile => get "/dashboard/{file}",
        OpenApi => get "/openapi.json",
    }
}

const ROUTES: &[Route] = <Page as Operation>::ROUTES;

/// The API's OpenAPI document, as checked in (a test keeps it true to the
/// route tables).
const OPENAPI: &str = include_str!("../../docs/openapi.json");

const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../dashboard/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../dashboard/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../dashboard/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../dashboard/api.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../dashboard/dom.js"),
    ),
    (
        "upload.js",
        "text/javascript; charset=utf-8",
        include_str!("../dashboard/upload.js"),
    ),
    (
        "uploads.js",
        "text/javascript; charset=utf-8",
        include_str!("../dashboard/uploads.js"),
    ),
    (
        "analytics.js",
        "text/javascript; charset=utf-8",
        include_str!("../dashboard/analytics.js"),
    ),
];

/// The page's own scripts and styles only; it talks to any API (`?api=`)
/// and PUTs files to the storage its URLs name.
const CSP: &str =
    "default-src 'self'; connect-src *; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                   script-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub fn serves(path: &str) -> bool {
    ROUTES.iter().any(|r| r.fits(path))
}

pub async fn handle(config: &HttpConfig, req: Request) -> Response {
    api::serve(
        config,
        req,
        async |routed: Routed<Page>, _req| -> Result<Response, Problem> {
            let name = match routed.operation {
                Page::OpenApi => {
                    // As checked in: it is JSON (a test parses it), so it is
                    // not parsed again on every request.
                    let mut response = http::Response::new(Body::Text(OPENAPI.to_string()));
                    response.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json; charset=utf-8"),
                    );
                    return Ok(response);
                }
                Page::Index => "index.html",
                Page::DashboardFile => routed.params.get("file").unwrap_or_default(),
            };
            let (_, content_type, text) = FILES
                .iter()
                .find(|(file, _, _)| *file == name)
                .ok_or_else(Problem::not_found)?;
            let mut response = http::Response::new(Body::Text(text.to_string()));
            let headers = response.headers_mut();
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(content_type),
            );
            headers.insert(
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache"),
            );
            headers.insert(
                http::header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            Ok(response)
        },
    )
    .await
}
