//! A Confluent REST Proxy v2-compatible produce endpoint (axum on hyper), over any
//! `EventBus` and `SchemaRegistry` (feature `rest-proxy`), and a client for it with the
//! weather station that posts through it (feature `rest-proxy-client`).
//!
//! Route: `POST /topics/{topic}` with
//! - `application/vnd.kafka.avro.v2+json`: records in Avro's JSON encoding with `key_schema` /
//!   `value_schema` (registered under `<topic>-key` / `<topic>-value`) or `key_schema_id` /
//!   `value_schema_id`; each record is published in the Confluent wire format;
//! - `application/vnd.kafka.json.v2+json`: records' keys and values published as JSON bytes.
//!
//! The answer comes only after the bus stored the records (`publish_batch` returned), with the
//! partition and offset of each, or a per-record `error_code` for the ones the bus failed: a
//! 200 never hides a rejection. A request with any bad record is rejected whole (Confluent's
//! error JSON and codes, see [`ErrorBody`]) and nothing of it is published.
//!
//! Rejections (status / `error_code`), Confluent's codes:
//! - 415 / 415: a content type other than the two above (the binary embedded format,
//!   `application/vnd.kafka.binary.v2+json`, included: it is not supported);
//! - 400 / 400: malformed JSON; 422 / 422: JSON of the wrong shape (no or empty `records`, an
//!   unknown field, a bad `partition`), or an invalid topic name;
//! - 422 / 42201: records with keys but no key schema; 422 / 42202: records with values but
//!   no value schema; 422 / 42205: an invalid schema; 422 / 42203: a record that does not fit
//!   its schema (the message names the field and why, e.g.
//!   `records[0].value.status: "foggy" is not a symbol of WeatherStatus`);
//! - 404 / 40401: unknown topic; 404 / 40402: unknown partition; 404 / 40403: unknown schema
//!   id; 409 / 40901: the registry refused the schema as incompatible; 500 / 50001: the
//!   registry failed;
//! - 413 / 413: a body over [`RestProxyConfig::max_body_bytes`]; 404 / 404: unknown route;
//!   405 / 405: another method than `POST`.
//!
//! Records the bus fails are answered 200 with a per-record `error_code` of 50002 (50003 when a
//! retry may succeed), as Confluent does.

mod api;
#[cfg(feature = "rest-proxy")]
mod avro_json;
#[cfg(feature = "rest-proxy-client")]
mod client;
#[cfg(feature = "rest-proxy")]
mod error;
#[cfg(feature = "rest-proxy")]
mod produce;
#[cfg(feature = "rest-proxy")]
mod request;
#[cfg(feature = "rest-proxy")]
mod server;
#[cfg(feature = "rest-proxy-client")]
mod weather;

#[cfg(feature = "rest-proxy")]
pub use crate::server::ServeError;
pub use api::{ErrorBody, PartitionOffset, ProduceResponse, AVRO_V2, BINARY_V2, JSON_V2, V2_JSON};
#[cfg(feature = "rest-proxy-client")]
pub use client::{RestProxyClient, RestProxyError, DEFAULT_TIMEOUT};
#[cfg(feature = "rest-proxy")]
pub use server::{
    bind, serve, serve_secured, RestProxy, RestProxyConfig, DEFAULT_ADDRESS, DEFAULT_MAX_BODY_BYTES,
};
#[cfg(feature = "rest-proxy-client")]
pub use weather::RestProxyWeather;
