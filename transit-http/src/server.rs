//! Binding and serving an HTTP router: what the dashboard, the schema registry and the REST
//! Proxy share.

use std::net::SocketAddr;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[cfg(feature = "tls")]
mod security;
#[cfg(feature = "tls")]
pub use security::{IsWrite, Role, Security, SecurityError, TlsIdentity, Users, HANDSHAKE_TIMEOUT};

/// Whether a secret someone sent equals the one expected, looking at every byte of the longer
/// of the two whatever differs, so the time taken tells nothing of how much of a guess was
/// right (what the basic-auth passwords and the what-if token are checked with).
#[cfg(any(feature = "tls", feature = "what-if"))]
pub(crate) fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut difference = u8::from(given.len() != expected.len());
    for i in 0..given.len().max(expected.len()) {
        let a = given.get(i).copied().unwrap_or(0);
        let b = expected.get(i).copied().unwrap_or(0);
        difference |= std::hint::black_box(a ^ b);
    }
    difference == 0
}

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

/// Serves `router` on `listener` as `security` says (HTTPS, basic auth of its users, a
/// read-only user refused what `is_write` calls a write) until `shutdown` is cancelled;
/// requests in flight finish first. Refusals are Confluent's error JSON in `content_type`.
#[cfg(feature = "tls")]
pub async fn serve_secured(
    server: &'static str,
    listener: TcpListener,
    router: Router,
    security: &Security,
    is_write: IsWrite,
    content_type: &'static str,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    let router = match &security.users {
        Some(users) => router.layer(axum::middleware::from_fn_with_state(
            security::AuthState {
                users: users.clone(),
                is_write,
                content_type,
            },
            security::authorize,
        )),
        None => router,
    };
    let Some(identity) = &security.tls else {
        return serve(server, listener, router, shutdown).await;
    };
    let listener = security::TlsListener::new(server, listener, identity, shutdown.clone())
        .map_err(|source| ServeError::Serve { server, source })?;
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|source| ServeError::Serve { server, source })
}
