//! An API Gateway stand-in: turns each HTTP request into the `lambda_http`
//! request a Lambda would get (API Gateway v2 request context included) and
//! hands it to the handler of the function that owns the route.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
};
use lambda_http::request::RequestContext;
use lambda_http::Body;

use flux_shared::http::{self as api, HttpConfig, Request, Response, Routed};
use flux_shared::problem::Problem;
use flux_shared::routes::{NoOperation, Route};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::serving::Responder;

/// API Gateway's own payload limit; the functions apply the API's tighter one.
const GATEWAY_MAX_BODY: usize = 10 * 1024 * 1024;

pub type Handler = Arc<dyn Fn(Request) -> BoxFuture<'static, Response> + Send + Sync>;

/// One Lambda function: the routes API Gateway sends it and its handler.
#[derive(Clone)]
pub struct Function {
    pub name: &'static str,
    pub routes: &'static [Route],
    pub handler: Handler,
}

pub struct Gateway {
    pub functions: Vec<Function>,
    /// For the problems the gateway answers itself (no such route).
    pub http: HttpConfig,
}

impl Gateway {
    /// The function that owns `path`, whatever the method: the function
    /// itself answers 405 for a method it does not serve.
    fn function_for(&self, path: &str) -> Option<&Function> {
        self.functions
            .iter()
            .find(|f| f.routes.iter().any(|r| r.fits(path)))
    }
}

impl Responder for Gateway {
    type Body = Full<Bytes>;

    async fn respond(
        &self,
        req: http::Request<Incoming>,
        peer: SocketAddr,
    ) -> http::Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let bytes = match Limited::new(body, GATEWAY_MAX_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => {
                let too_large = Problem::payload_too_large(format!(
                    "request bodies are limited to {GATEWAY_MAX_BODY} bytes"
                ));
                return to_hyper(api::problem_response(&too_large));
            }
        };
        let body = if bytes.is_empty() {
            Body::Empty
        } else {
            match String::from_utf8(bytes.to_vec()) {
                Ok(text) => Body::Text(text),
                Err(e) => Body::Binary(e.into_bytes()),
            }
        };
        let mut req = http::Request::from_parts(parts, body);
        let context = request_context(&req, peer);
        req.extensions_mut()
            .insert(RequestContext::ApiGatewayV2(context));
        let path = req.uri().path().to_string();
        let response = match self.function_for(&path) {
            Some(function) => (function.handler)(req).await,
            None if crate::site::serves(&path) => crate::site::handle(&self.http, req).await,
            // No function owns the path: the same 404 problem, with all the
            // conventions, that any function gives.
            None => {
                api::serve(
                    &self.http,
                    req,
                    async |routed: Routed<NoOperation>, _| -> Result<Response, Problem> {
                        match routed.operation {}
                    },
                )
                .await
            }
        };
        to_hyper(response)
    }
}

fn request_context(req: &Request, peer: SocketAddr) -> ApiGatewayV2httpRequestContext {
    let now = chrono::Utc::now();
    let mut description = ApiGatewayV2httpRequestContextHttpDescription::default();
    description.method = req.method().clone();
    description.path = Some(req.uri().path().to_string());
    description.protocol = Some("HTTP/1.1".into());
    description.source_ip = Some(peer.ip().to_string());
    description.user_agent = req
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.request_id = Some(uuid::Uuid::new_v4().to_string());
    context.stage = Some("$default".into());
    context.account_id = Some("000000000000".into());
    context.apiid = Some("flux-local".into());
    context.domain_name = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    context.time_epoch = now.timestamp_millis();
    context.time = Some(now.format("%d/%b/%Y:%H:%M:%S %z").to_string());
    context.http = description;
    context
}

fn to_hyper(response: Response) -> http::Response<Full<Bytes>> {
    response.map(|body| match body {
        Body::Empty => Full::new(Bytes::new()),
        Body::Text(text) => Full::new(Bytes::from(text)),
        Body::Binary(bytes) => Full::new(Bytes::from(bytes)),
        _ => Full::new(Bytes::new()),
    })
}

/// Serves the API on `listener` until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    crate::serving::serve(listener, gateway, shutdown).await
}
