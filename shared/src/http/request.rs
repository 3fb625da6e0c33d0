//! What the transport tells us about a request, and the body limit.

use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};

use super::Request;
use crate::problem::Problem;

/// Bodies larger than this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Who is asking, as far as the transport knows.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub request_id: String,
    pub source_ip: Option<String>,
}

impl RequestMeta {
    pub(super) fn of(req: &Request) -> Self {
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

/// 413 when the declared or actual body is over [`MAX_BODY_BYTES`].
pub(super) fn check_body_size(req: &Request) -> Result<(), Problem> {
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
