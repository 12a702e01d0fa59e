//! What the schema registry tests share: schemas to register, a registry served over HTTP, and
//! requests to it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use transit_core::bus::EventBus;
use transit_http::registry;
use transit_http::server::Security;
use transit_registry::BusRegistry;

use crate::http::content_type_of;

pub const V1: &str =
    r#"{"type":"record","name":"Arrival","fields":[{"name":"station_id","type":"int"}]}"#;
pub const V2: &str = r#"{"type":"record","name":"Arrival","fields":[{"name":"station_id","type":"int"},{"name":"train_id","type":"string","default":""}]}"#;
/// Adds a field without a default: old data cannot fill it.
pub const V3_BREAKS: &str = r#"{"type":"record","name":"Arrival","fields":[{"name":"station_id","type":"int"},{"name":"line","type":"string"}]}"#;
pub const OTHER: &str = r#"{"type":"enum","name":"Direction","symbols":["a","b"]}"#;
pub const NEXT: &str =
    r#"{"type":"record","name":"Weather","fields":[{"name":"temperature","type":"float"}]}"#;

/// The content type Confluent's registry answers with.
pub const REGISTRY_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A registry served over HTTP, and what stops it.
#[derive(Debug)]
pub struct RegistryServer {
    pub address: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), transit_http::server::ServeError>>,
}

impl RegistryServer {
    /// Opens the registry in `topic` of `bus` and serves it on a free port.
    pub async fn start(bus: Arc<dyn EventBus>, topic: &str) -> Self {
        Self::start_secured(bus, topic, Security::open()).await
    }

    /// [`Self::start`] with HTTPS and users as `security` says.
    pub async fn start_secured(bus: Arc<dyn EventBus>, topic: &str, security: Security) -> Self {
        let registry = BusRegistry::open(bus, topic)
            .await
            .unwrap_or_else(|error| panic!("opening the registry on {topic}: {error:?}"));
        let listener = registry::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("binding the registry");
        let address = listener.local_addr().expect("the registry's address");
        let shutdown = CancellationToken::new();
        let scheme = if security.is_tls() { "https" } else { "http" };
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            registry::serve_secured(listener, registry, &security, stop).await
        });
        Self {
            address,
            scheme,
            shutdown,
            task,
        }
    }

    /// Stops serving; the registry (and its bus handle) goes with the server.
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the registry stops within 10 s")
            .expect("the registry task did not panic")
            .expect("the registry served without error");
    }

    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.address)
    }
}

/// An answer: status, content type and JSON body (`Null` when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn code(&self) -> Option<u64> {
        self.body["error_code"].as_u64()
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }

    /// The body as JSON; fails if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("the body is not JSON: {error}: {self:?}"))
    }

    pub fn assert_error(&self, status: u16, code: u64) {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        assert_eq!(self.code(), Some(code), "{self:?}");
        assert!(!self.message().is_empty(), "{self:?}");
        assert_eq!(self.content_type, REGISTRY_TYPE, "{self:?}");
    }
}

pub async fn send_as(
    server: &RegistryServer,
    method: Method,
    path: &str,
    body: Option<String>,
    content_type: Option<&str>,
) -> Answer {
    let client = reqwest::Client::new();
    let mut request = client.request(method.clone(), format!("{}{path}", server.url()));
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("{method} {path}: {error}"));
    let status = response.status();
    let content_type = content_type_of(&response);
    let text = response.text().await.expect("reading the answer");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        content_type,
        body,
        text,
    }
}

pub async fn get(server: &RegistryServer, path: &str) -> Answer {
    send_as(server, Method::GET, path, None, None).await
}

pub async fn post(server: &RegistryServer, path: &str, body: Value) -> Answer {
    send_as(
        server,
        Method::POST,
        path,
        Some(body.to_string()),
        Some(REGISTRY_TYPE),
    )
    .await
}

pub async fn register(server: &RegistryServer, subject: &str, schema: &str) -> Answer {
    post(
        server,
        &format!("/subjects/{subject}/versions"),
        json!({ "schema": schema }),
    )
    .await
}
