//! The schema registry's HTTP server: Confluent Schema Registry's API (the subset producers,
//! consumers and operators use) over a [`BusRegistry`], so Confluent clients (Java, Python
//! `confluent_kafka`, Go) work with only its URL.
//!
//! Routes (Confluent's paths, status codes and `{"error_code":…, "message":…}` errors, all
//! answered as `application/vnd.schemaregistry.v1+json`):
//! - `POST /subjects/{subject}/versions` `{"schema":"…"}` → `{"id":N}` (409 when incompatible,
//!   naming the field and the rule; 422/42201 for an invalid schema), with
//!   `"references":[{"name":"…","subject":"…","version":N}]` a schema using the named types of
//!   other registered versions (`-1`: the latest; a missing one is 42201, as Confluent);
//! - `POST /subjects/{subject}`: is this schema (with these references) registered here → the
//!   version;
//! - `GET /subjects`, `GET /subjects/{subject}/versions`,
//!   `GET /subjects/{subject}/versions/{version}` (a number, `latest` or `-1`; with
//!   `?deleted=true` a soft-deleted one too; `references` when it has any) and its `/schema`;
//! - `GET /schemas/ids/{id}` → `{"schema":"…"}` (and `references`), its `/schema` and its
//!   `/versions`;
//! - `POST /compatibility/subjects/{subject}/versions/{version}` (and without a version:
//!   against what registering would check) → `{"is_compatible":…}`, with `?verbose=true`
//!   the reasons;
//! - `GET /config`, `PUT /config` `{"compatibility":"FULL"}`, `DELETE /config`: the global
//!   level; `GET`/`PUT`/`DELETE /config/{subject}` a subject's own (`GET` with
//!   `?defaultToGlobal=true` the level it is checked at; 40408 without a level of its own);
//! - `DELETE /subjects/{subject}` and `DELETE /subjects/{subject}/versions/{version}`: a soft
//!   delete, then with `?permanent=true` for good (40401, 40402, 40404, 40405, 40406, 40407 as
//!   Confluent; 42206 while other schemas reference the version); a soft-deleted version's id
//!   still resolves; `GET /subjects?deleted=true` and `.../versions?deleted=true` list
//!   soft-deleted ones too;
//! - `GET`/`PUT /mode` and `GET`/`PUT`/`DELETE /mode/{subject}`: READWRITE, READONLY (42205 for
//!   any change), IMPORT (a registration gives `id` and `version`; `?force=true` to import into
//!   a registry with subjects);
//! - `GET /subjects/{subject}/versions/{version}/referencedby` → the ids of the schemas
//!   referencing it (held by live versions; with `?deleted=true` soft-deleted ones too);
//! - `GET /schemas/types` → `["AVRO"]`, `GET /` → `{}`.
//!
//! Not served: contexts and schema types other than Avro (42201). Run one server per schemas topic (see
//! [`BusRegistry`]'s contract). [`serve_secured`] adds HTTPS and HTTP basic auth.

mod body;
mod error;
mod handlers;

use std::net::SocketAddr;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::server;
pub use crate::server::ServeError;
use transit_registry::BusRegistry;

/// The address the registry binds to unless told otherwise: Confluent's port, this machine
/// only.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:8081";

/// The server's name in errors.
const SERVER: &str = "schema registry";

/// The content type of every answer.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// The largest request body taken (schemas are small; this bounds what a client can make
/// the server hold).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// The routes, over `registry`; [`serve`] serves them on a listener.
pub fn router(registry: BusRegistry) -> Router {
    use handlers as h;
    Router::new()
        .route("/", get(h::root))
        .route("/schemas/types", get(h::schema_types))
        .route("/schemas/ids/{id}", get(h::schema_by_id))
        .route("/schemas/ids/{id}/schema", get(h::raw_schema_by_id))
        .route("/schemas/ids/{id}/versions", get(h::versions_of_id))
        .route("/subjects", get(h::subjects))
        .route(
            "/subjects/{subject}",
            post(h::lookup).delete(h::delete_subject),
        )
        .route(
            "/subjects/{subject}/versions",
            get(h::versions).post(h::register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(h::version).delete(h::delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(h::referenced_by),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(h::version_schema),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(h::compatibility_with_subject),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(h::compatibility_with_version),
        )
        .route(
            "/config",
            get(h::get_config)
                .put(h::put_config)
                .delete(h::delete_config),
        )
        .route(
            "/config/{subject}",
            get(h::get_subject_config)
                .put(h::put_subject_config)
                .delete(h::delete_subject_config),
        )
        .route("/mode", get(h::get_mode).put(h::put_mode))
        .route(
            "/mode/{subject}",
            get(h::get_subject_mode)
                .put(h::put_subject_mode)
                .delete(h::delete_subject_mode),
        )
        .fallback(h::not_found)
        .method_not_allowed_fallback(h::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(registry)
}

/// Binds `address` for the registry.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, ServeError> {
    server::bind(SERVER, address).await
}

/// Serves `registry` on `listener` until `shutdown` is cancelled; requests in flight finish
/// first (a registration in flight is stored either way).
///
/// # Example
///
/// A registry whose schemas live in a topic of the in-memory bus, served on a free port, asked
/// for its subjects, then shut down:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
///
/// use tokio_util::sync::CancellationToken;
/// use transit_registry::BusRegistry;
/// use transit_http::registry;
/// use transit_mem::MemBus;
///
/// let schemas = BusRegistry::open(Arc::new(MemBus::new()), "_schemas").await?;
/// let listener = registry::bind("127.0.0.1:0".parse()?).await?;
/// let subjects = format!("http://{}/subjects", listener.local_addr()?);
/// let shutdown = CancellationToken::new();
/// let server = tokio::spawn(registry::serve(listener, schemas, shutdown.clone()));
///
/// let answer = reqwest::get(&subjects).await?;
/// assert_eq!(answer.status(), 200);
/// assert_eq!(answer.headers()["content-type"], registry::CONTENT_TYPE);
/// assert_eq!(answer.text().await?, "[]");
///
/// shutdown.cancel();
/// server.await??;
/// # Ok(())
/// # }
/// ```
pub async fn serve(
    listener: TcpListener,
    registry: BusRegistry,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    serve_secured(listener, registry, &server::Security::open(), shutdown).await
}

/// Serves `registry` on `listener` as `security` says (HTTPS, HTTP basic auth: a read-only
/// user may read, look a schema up and check compatibility; registering, configuring and
/// deleting need a read-write user) until `shutdown` is cancelled.
pub async fn serve_secured(
    listener: TcpListener,
    registry: BusRegistry,
    security: &server::Security,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(
            %address,
            topic = registry.topic(),
            tls = security.is_tls(),
            users = security.users.as_ref().map_or(0, server::Users::len),
            "schema registry listening"
        );
    }
    server::serve_secured(
        SERVER,
        listener,
        router(registry),
        security,
        is_write,
        CONTENT_TYPE,
        shutdown,
    )
    .await
}

/// Whether a request changes the registry: every `PUT`, `DELETE` and `POST` but a lookup
/// (`POST /subjects/{subject}`) and a compatibility check (`POST /compatibility/...`).
pub fn is_write(method: &axum::http::Method, path: &str) -> bool {
    use axum::http::Method;
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    if *method == Method::POST {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let lookup = segments.len() == 2 && segments[0] == "subjects";
        let check = segments.first() == Some(&"compatibility");
        return !(lookup || check);
    }
    true
}

/// A JSON answer with the registry's content type.
fn json(status: StatusCode, body: &impl Serialize) -> Response {
    server::json_response(status, CONTENT_TYPE, body)
}
