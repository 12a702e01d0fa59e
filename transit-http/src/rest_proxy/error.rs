//! Errors as Confluent's REST Proxy answers them: an HTTP status and `{"error_code", "message"}`.
//!
//! The codes are Confluent's own (`io.confluent.kafkarest.Errors` and rest-utils' JSON
//! mappers), so a client written for Confluent branches the same way here.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::api::{ErrorBody, V2_JSON};

/// Malformed JSON (rest-utils answers a parse error with 400 / 400).
pub(crate) const MALFORMED_JSON: u32 = 400;
/// Unknown route.
pub(crate) const NOT_FOUND: u32 = 404;
/// Known route, wrong method.
pub(crate) const METHOD_NOT_ALLOWED: u32 = 405;
/// Body over the configured limit.
pub(crate) const TOO_LARGE: u32 = 413;
/// Content type this proxy does not take.
pub(crate) const UNSUPPORTED_MEDIA_TYPE: u32 = 415;
/// Well-formed JSON of the wrong shape (rest-utils: 422 / 422).
pub(crate) const UNPROCESSABLE: u32 = 422;
/// Topic not found.
pub(crate) const TOPIC_NOT_FOUND: u32 = 40401;
/// Partition not found.
pub(crate) const PARTITION_NOT_FOUND: u32 = 40402;
/// No schema has the given id (the schema registry's code).
pub(crate) const SCHEMA_NOT_FOUND: u32 = 40403;
/// The registry refused a schema as incompatible with the subject (the registry's code).
pub(crate) const INCOMPATIBLE_SCHEMA: u32 = 40901;
/// Records have keys but the request has no key schema.
pub(crate) const KEY_SCHEMA_MISSING: u32 = 42201;
/// Records have values but the request has no value schema.
pub(crate) const VALUE_SCHEMA_MISSING: u32 = 42202;
/// A record's JSON does not fit its schema.
pub(crate) const JSON_CONVERSION: u32 = 42203;
/// The schema given is not a valid Avro schema.
pub(crate) const INVALID_SCHEMA: u32 = 42205;
/// The schema registry could not be used.
pub(crate) const REGISTRY_ERROR: u32 = 50001;
/// The bus failed a record (Confluent's "Kafka error").
pub(crate) const BUS_ERROR: u32 = 50002;
/// The bus failed a record, and trying again may succeed (Confluent's retriable Kafka error).
pub(crate) const BUS_RETRIABLE: u32 = 50003;

/// A rejected request: nothing of it was published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} ({error_code}): {message}")]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) error_code: u32,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, error_code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            error_code,
            message: message.into(),
        }
    }

    /// 422 with a Confluent sub-code.
    pub(crate) fn unprocessable(error_code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, error_code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error_code: self.error_code,
            message: self.message,
        };
        json_response(self.status, &body)
    }
}

/// `value` as JSON with the REST Proxy's content type.
pub(crate) fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response {
    crate::server::json_response(status, V2_JSON, value)
}
