//! Binding and serving an HTTP router: what the dashboard, the schema registry and the REST
//! Proxy share.

use std::net::SocketAddr;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Why a server could not serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The address could not be bound (in use, or not this machine's): the failure users see
    /// most, so it names the server and the address.
    #[error("binding the {server} to {address}")]
    Bind {
        /// Which server: dashboard, schema registry, REST Proxy.
        server: &'static str,
        /// The address asked for.
        address: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The server failed while serving.
    #[error("serving the {server}")]
    Serve {
        /// Which server.
        server: &'static str,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// `body` as JSON with the API's own `content_type` (Confluent's APIs each have one).
pub fn json_response(
    status: StatusCode,
    content_type: &'static str,
    body: &impl serde::Serialize,
) -> Response {
    // Response bodies are plain data with string keys: serialising them cannot fail; a bare
    // 500 would show if it ever did, rather than a panic.
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Binds `address` for `server`.
pub async fn bind(server: &'static str, address: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| ServeError::Bind {
            server,
            address,
            source,
        })
}

/// Serves `router` on `listener` until `shutdown` is cancelled; requests in flight finish
/// first.
pub async fn serve(
    server: &'static str,
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|source| ServeError::Serve { server, source })
}
