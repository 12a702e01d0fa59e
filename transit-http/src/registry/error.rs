//! Confluent's error answers: an HTTP status and `{"error_code":…, "message":…}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use transit_core::codec::RegistryError;

use super::json;

/// An error answer, with Confluent's error code (the HTTP status, or the status and two
/// digits: 40401 is "subject not found").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: u32,
    pub(crate) message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error_code: u32,
    message: &'a str,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// A bare HTTP error, worded as Confluent's server (Jersey) words it.
    pub(crate) fn http(status: StatusCode) -> Self {
        let reason = status.canonical_reason().unwrap_or("Error");
        Self::new(
            status,
            u32::from(status.as_u16()),
            format!("HTTP {} {reason}", status.as_u16()),
        )
    }

    pub(crate) fn invalid_version(text: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            42202,
            transit_registry::InvalidVersion(text.to_string()).to_string(),
        )
    }

    pub(crate) fn invalid_schema(message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
            format!("Invalid schema: {message}"),
        )
    }

    pub(crate) fn schema_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, 40403, "Schema not found")
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::SubjectNotFound { subject } => Self::new(
                StatusCode::NOT_FOUND,
                40401,
                format!("Subject '{subject}' not found."),
            ),
            RegistryError::VersionNotFound { version, .. } => Self::new(
                StatusCode::NOT_FOUND,
                40402,
                format!("Version {version} not found."),
            ),
            // Id 0 is what a lookup by schema text reports: there is no id to name.
            RegistryError::SchemaNotFound { id } if id.0 == 0 => Self::schema_not_found(),
            RegistryError::SchemaNotFound { id } => Self::new(
                StatusCode::NOT_FOUND,
                40403,
                format!("Schema {id} not found"),
            ),
            RegistryError::Incompatible { subject, message } => Self::new(
                StatusCode::CONFLICT,
                409,
                format!(
                    "Schema being registered is incompatible with an earlier schema for subject \
                     \"{subject}\", details: {message}"
                ),
            ),
            RegistryError::InvalidSchema { message } => Self::invalid_schema(message),
            RegistryError::Backend { source } => {
                tracing::error!(error = %transit_core::error_chain(source.as_ref()), "schema registry backend failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    50001,
                    "Error in the backend data store",
                )
            }
            other => {
                tracing::error!(error = %transit_core::error_chain(&other), "schema registry failed");
                Self::http(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

impl From<transit_registry::Refusal> for ApiError {
    fn from(refusal: transit_registry::Refusal) -> Self {
        match refusal {
            transit_registry::Refusal::Registry(error) => error.into(),
            other => {
                let status = StatusCode::from_u16(other.status())
                    .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
                Self::new(status, other.code(), other.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json(
            self.status,
            &ErrorBody {
                error_code: self.code,
                message: &self.message,
            },
        )
    }
}
