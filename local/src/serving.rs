//! The accept loop the local API gateway and S3 endpoint share: HTTP/1 and
//! HTTP/2 on one listener, a task per connection, until shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Answers one request, knowing who sent it.
pub trait Responder: Send + Sync + 'static {
    type Body: hyper::body::Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + 'static;

    fn respond(
        &self,
        req: http::Request<Incoming>,
        peer: SocketAddr,
    ) -> impl Future<Output = http::Response<Self::Body>> + Send;
}

/// Serves `listener`'s connections with `responder` until `shutdown` turns true.
pub async fn serve<R: Responder>(
    listener: TcpListener,
    responder: Arc<R>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = shutdown.changed() => return Ok(()),
        };
        let responder = responder.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let responder = responder.clone();
                async move { Ok::<_, Infallible>(responder.respond(req, peer).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
    }
}
