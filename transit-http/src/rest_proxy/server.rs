//! The proxy's server: its state, routes, and serving them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::server;
use crate::server::ServeError;
use transit_core::codec::SchemaRegistry;
use transit_core::EventBus;

use super::api::ProduceResponse;

use super::error::{self, ApiError, METHOD_NOT_ALLOWED, NOT_FOUND, TOO_LARGE};
use super::produce::Producer;
use super::request::{embedded_format, parse_body};

/// The address the proxy binds to unless told otherwise: this machine only, on Confluent's
/// REST Proxy port.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:8082";

/// The server's name in errors.
const SERVER: &str = "REST Proxy";

/// The largest request body accepted unless configured otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// How the proxy behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestProxyConfig {
    /// Bodies larger than this are answered 413 without being parsed.
    pub max_body_bytes: usize,
}

impl Default for RestProxyConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// The proxy's state: the bus it publishes to and the registry its schemas live in. A clone is
/// another handle to the same proxy.
#[derive(Debug, Clone)]
pub struct RestProxy {
    producer: Arc<Producer>,
    config: RestProxyConfig,
}

impl RestProxy {
    /// A proxy publishing to `bus`, registering and looking up schemas in `registry`.
    ///
    /// # Example
    ///
    /// A proxy over the in-memory bus and registry, served on a free port; one JSON record
    /// posted to it is on the bus when the answer comes; then shut down:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    ///
    /// use tokio_util::sync::CancellationToken;
    /// use transit_core::bus::{EventBus, TopicSpec};
    /// use transit_http::rest_proxy::{self, ProduceResponse, RestProxy, RestProxyConfig, JSON_V2};
    /// use transit_mem::{MemBus, MemRegistry};
    ///
    /// let bus = Arc::new(MemBus::new());
    /// bus.create_topic(&TopicSpec::new("notes", 1)).await?;
    /// let proxy = RestProxy::new(
    ///     bus.clone(),
    ///     Arc::new(MemRegistry::new()),
    ///     RestProxyConfig::default(),
    /// );
    /// let listener = rest_proxy::bind("127.0.0.1:0".parse()?).await?;
    /// let url = format!("http://{}/topics/notes", listener.local_addr()?);
    /// let shutdown = CancellationToken::new();
    /// let server = tokio::spawn(rest_proxy::serve(listener, proxy, shutdown.clone()));
    ///
    /// let answer = reqwest::Client::new()
    ///     .post(&url)
    ///     .header("content-type", JSON_V2)
    ///     .body(r#"{"records":[{"key":"clark-lake","value":{"note":"delays"}}]}"#)
    ///     .send()
    ///     .await?;
    /// assert_eq!(answer.status(), 200);
    /// let answer: ProduceResponse = answer.json().await?;
    /// assert_eq!(answer.offsets[0].offset, Some(0));
    /// assert_eq!(bus.offsets("notes", 0), Some((0, 1)));
    ///
    /// shutdown.cancel();
    /// server.await??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        config: RestProxyConfig,
    ) -> Self {
        Self {
            producer: Arc::new(Producer::new(bus, registry)),
            config,
        }
    }

    /// The routes: `POST /topics/{topic}`; anything else gets Confluent's error JSON (404 for
    /// an unknown path, 405 for another method on a known one).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/topics/{topic}", post(produce))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(self.config.max_body_bytes))
            .with_state(self.clone())
    }
}

/// Binds `address` for the proxy.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, ServeError> {
    server::bind(SERVER, address).await
}

/// Serves `proxy` on `listener` until `shutdown` is cancelled; requests in flight finish (and
/// so are answered after their records are stored) before it returns.
pub async fn serve(
    listener: TcpListener,
    proxy: RestProxy,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    serve_secured(listener, proxy, &server::Security::open(), shutdown).await
}

/// Serves `proxy` on `listener` as `security` says (HTTPS, HTTP basic auth; producing needs a
/// read-write user) until `shutdown` is cancelled.
pub async fn serve_secured(
    listener: TcpListener,
    proxy: RestProxy,
    security: &server::Security,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(
            %address,
            tls = security.is_tls(),
            users = security.users.as_ref().map_or(0, server::Users::len),
            "REST Proxy listening"
        );
    }
    server::serve_secured(
        SERVER,
        listener,
        proxy.router(),
        security,
        |method, _| !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS),
        super::api::V2_JSON,
        shutdown,
    )
    .await
}

async fn produce(
    State(proxy): State<RestProxy>,
    topic: Result<Path<String>, axum::extract::rejection::PathRejection>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let started = Instant::now();
    let topic = match topic {
        Ok(Path(topic)) => topic,
        Err(rejection) => {
            let error = ApiError::new(
                rejection.status(),
                u32::from(rejection.status().as_u16()),
                rejection.body_text(),
            );
            return rejected("?", 0, error);
        }
    };
    let outcome = produce_request(&proxy, &topic, &headers, request).await;
    let (records, failed, response) = match outcome {
        Ok((records, response)) => {
            let failed = response.failures().count();
            if failed > 0 {
                tracing::warn!(
                    topic = %topic,
                    records,
                    failed,
                    first_error = response.failures().next().and_then(|(_, o)| o.error.as_deref()),
                    "the bus failed records of a produce request"
                );
            }
            let answer = error::json_response(StatusCode::OK, &response);
            (records, failed, answer)
        }
        Err((records, error)) => (records, 0, rejected(&topic, records, error)),
    };
    tracing::debug!(
        topic = %topic,
        records,
        failed,
        status = response.status().as_u16(),
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "produce request"
    );
    response
}

/// The request's record count (for the log) and the answer, or why it was rejected.
async fn produce_request(
    proxy: &RestProxy,
    topic: &str,
    headers: &HeaderMap,
    request: Request,
) -> Result<(usize, ProduceResponse), (usize, ApiError)> {
    let format = embedded_format(headers).map_err(|e| (0, e))?;
    let body = Bytes::from_request(request, &())
        .await
        .map_err(|rejection| {
            let status = rejection.status();
            let error = if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    status,
                    TOO_LARGE,
                    format!(
                        "Request body is larger than {} bytes",
                        proxy.config.max_body_bytes
                    ),
                )
            } else {
                ApiError::new(status, u32::from(status.as_u16()), rejection.body_text())
            };
            (0, error)
        })?;
    let request = parse_body(&body, format).map_err(|e| (0, e))?;
    let records = request.records.len();
    let response = proxy
        .producer
        .produce(topic, format, request)
        .await
        .map_err(|e| (records, e))?;
    Ok((records, response))
}

fn rejected(topic: &str, records: usize, error: ApiError) -> Response {
    tracing::warn!(
        topic = %topic,
        records,
        status = error.status.as_u16(),
        error_code = error.error_code,
        reason = %error.message,
        "produce request rejected"
    );
    error.into_response()
}

async fn not_found(method: Method, uri: Uri) -> Response {
    tracing::warn!(%method, path = %uri.path(), "REST proxy: no such route");
    ApiError::new(StatusCode::NOT_FOUND, NOT_FOUND, "HTTP 404 Not Found").into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    tracing::warn!(%method, path = %uri.path(), "REST proxy: method not allowed");
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed",
    )
    .into_response();
    // The only route takes POST.
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}
