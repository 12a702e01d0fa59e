//! Request bodies as Confluent's server takes them: JSON under any of its content types (or
//! none), with its answers to what is wrong.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The content types Confluent's server accepts for a request body (`octet-stream` is its
/// "generic request" type).
const ACCEPTED: [&str; 4] = [
    "application/vnd.schemaregistry.v1+json",
    "application/vnd.schemaregistry+json",
    "application/json",
    "application/octet-stream",
];

/// A JSON body of type `T`.
///
/// Malformed JSON is a 400 (error code 400), well-formed JSON of the wrong shape a 422 (error
/// code 422), as Confluent's REST layer answers; a body over the size limit is a 413 and an
/// unknown content type a 415.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
            let essence = content_type
                .to_str()
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if !ACCEPTED.contains(&essence.as_str()) {
                return Err(ApiError::http(StatusCode::UNSUPPORTED_MEDIA_TYPE));
            }
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        413,
                        format!("Request body is larger than {} bytes", super::MAX_BODY),
                    )
                } else {
                    ApiError::new(StatusCode::BAD_REQUEST, 400, rejection.body_text())
                }
            })?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|error| {
                if error.is_data() {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, 422, error.to_string())
                } else {
                    ApiError::new(StatusCode::BAD_REQUEST, 400, error.to_string())
                }
            })
    }
}
