//! A client for the REST Proxy v2 produce API: what the weather hardware speaks.
//!
//! It sends exactly the original hardware's request (`key_schema` and `value_schema` as JSON
//! strings, then `records` of `key` / `value`, as `application/vnd.kafka.avro.v2+json`), so it
//! works against this proxy and against Confluent's. One client holds one connection pool:
//! build it once and call it as often as needed (once per simulated hour is nothing).

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{StatusCode, Url};
use serde::Serialize;
use serde_json::Value as Json;

use super::api::{ErrorBody, ProduceResponse, AVRO_V2, V2_JSON};
use crate::client_security::{ClientSecurity, ClientSecurityError};

/// How long a request may take, connection included, unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of an unexpected answer an error quotes.
const BODY_QUOTE_LIMIT: usize = 200;

/// What can go wrong producing through a REST proxy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestProxyError {
    /// The base URL is not a URL that can take a path.
    #[error("invalid REST proxy URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it does not work.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("building the HTTP client")]
    Client(#[source] reqwest::Error),
    /// The security settings (CA file, user info) are not usable.
    #[error("the REST proxy client's security settings")]
    Security(#[source] ClientSecurityError),
    /// The request body could not be written as JSON (strings and JSON values always can;
    /// this keeps the client free of panics).
    #[error("encoding the produce request")]
    Encode(#[source] serde_json::Error),
    /// The request could not be sent or its answer read (connection refused, timeout...).
    #[error("producing to {topic:?} through {url}")]
    Transport {
        /// The topic produced to.
        topic: String,
        /// The URL posted to.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The proxy rejected the request with Confluent's error JSON; nothing was published.
    #[error("the REST proxy rejected the request ({status}, error {error_code}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// Confluent's error code (42203, 40401...).
        error_code: u32,
        /// The proxy's message.
        message: String,
    },
    /// The proxy accepted the request but the bus failed some of its records; the response
    /// says which (the others are stored).
    #[error("the bus failed {failed} of {total} records: {first_error}")]
    RecordsFailed {
        /// How many records failed.
        failed: usize,
        /// How many records were sent.
        total: usize,
        /// The first failure's message.
        first_error: String,
        /// The whole answer.
        response: ProduceResponse,
    },
    /// The answer was not the REST proxy's JSON (a proxy in between, another service...).
    #[error("unexpected answer from the REST proxy ({status}): {body}")]
    UnexpectedResponse {
        /// The HTTP status.
        status: u16,
        /// The beginning of the body.
        body: String,
    },
}

/// The request body, in the original hardware's field order.
#[derive(Serialize)]
struct AvroRequest<'a> {
    key_schema: &'a str,
    value_schema: &'a str,
    records: Vec<RecordBody<'a>>,
}

#[derive(Serialize)]
struct RecordBody<'a> {
    key: &'a Json,
    value: &'a Json,
}

/// Produces records to a Confluent REST Proxy v2 (this crate's, or Confluent's).
#[derive(Debug, Clone)]
pub struct RestProxyClient {
    http: reqwest::Client,
    base: Url,
    security: std::sync::Arc<ClientSecurity>,
}

impl RestProxyClient {
    /// A client of the proxy at `base_url` (such as `http://127.0.0.1:8082`), with
    /// [`DEFAULT_TIMEOUT`] per request.
    ///
    /// # Example
    ///
    /// A client of transit's own REST Proxy (over the in-memory bus and registry, on a free
    /// port), posting one weather reading as the original hardware did:
    ///
    /// ```
    /// # #[cfg(feature = "rest-proxy")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    ///
    /// use serde_json::json;
    /// use tokio_util::sync::CancellationToken;
    /// use transit_core::bus::{EventBus, TopicSpec};
    /// use transit_core::codec::AvroRecord;
    /// use transit_core::event::{WeatherEvent, WeatherKey};
    /// use transit_http::rest_proxy::{self, RestProxy, RestProxyClient, RestProxyConfig};
    /// use transit_mem::{MemBus, MemRegistry};
    ///
    /// let bus = Arc::new(MemBus::new());
    /// bus.create_topic(&TopicSpec::new("weather", 1)).await?;
    /// let registry = Arc::new(MemRegistry::new());
    /// let proxy = RestProxy::new(bus.clone(), registry.clone(), RestProxyConfig::default());
    /// let listener = rest_proxy::bind("127.0.0.1:0".parse()?).await?;
    /// let base_url = format!("http://{}", listener.local_addr()?);
    /// let shutdown = CancellationToken::new();
    /// let server = tokio::spawn(rest_proxy::serve(listener, proxy, shutdown.clone()));
    ///
    /// let client = RestProxyClient::new(&base_url)?;
    /// let key = json!({ "timestamp": 1_700_000_000_000_i64 });
    /// let value = json!({ "temperature": 41.5, "status": "cloudy" });
    /// let answer = client
    ///     .produce_avro(
    ///         "weather",
    ///         WeatherKey::schema_json(),
    ///         WeatherEvent::schema_json(),
    ///         &[(key, value)],
    ///     )
    ///     .await?;
    /// assert_eq!(answer.offsets[0].offset, Some(0));
    /// assert_eq!(bus.offsets("weather", 0), Some((0, 1)));
    /// assert_eq!(registry.subjects(), ["weather-key", "weather-value"]);
    ///
    /// shutdown.cancel();
    /// server.await??;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "rest-proxy"))]
    /// # fn main() {}
    /// ```
    pub fn new(base_url: impl AsRef<str>) -> Result<Self, RestProxyError> {
        Self::with_timeout(base_url, DEFAULT_TIMEOUT)
    }

    /// A client of the proxy at `base_url` whose requests give up after `timeout`.
    pub fn with_timeout(
        base_url: impl AsRef<str>,
        timeout: Duration,
    ) -> Result<Self, RestProxyError> {
        Self::with_security(base_url, ClientSecurity::none(), timeout)
    }

    /// A client sending `security`'s credentials (`basic.auth.user.info`) and trusting its CA
    /// (`ssl.ca.location`) for `https://`.
    pub fn with_security(
        base_url: impl AsRef<str>,
        security: ClientSecurity,
        timeout: Duration,
    ) -> Result<Self, RestProxyError> {
        let text = base_url.as_ref();
        let invalid = |reason: String| RestProxyError::InvalidUrl {
            url: text.to_string(),
            reason,
        };
        let mut base = Url::parse(text).map_err(|_| RestProxyError::InvalidUrl {
            url: if text.contains('@') {
                "(an unparsable URL with credentials)".to_string()
            } else {
                text.to_string()
            },
            reason: "not a URL".to_string(),
        })?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("use an http:// or https:// URL".to_string()));
        }
        if !base.username().is_empty() || base.password().is_some() {
            let _ = base.set_password(None);
            let _ = base.set_username("");
            return Err(RestProxyError::InvalidUrl {
                url: base.to_string(),
                reason: "credentials in the URL are not taken: use basic.auth.user.info"
                    .to_string(),
            });
        }
        // A base without a trailing slash would lose its last segment when joined.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = security
            .client_builder()
            .map_err(RestProxyError::Security)?
            .timeout(timeout)
            .build()
            .map_err(RestProxyError::Client)?;
        Ok(Self {
            http,
            base,
            security: std::sync::Arc::new(security),
        })
    }

    /// Publishes `records` (key and value in Avro's JSON encoding) to `topic`, with the key
    /// and value schemas inline (Avro JSON text), as the weather hardware does.
    ///
    /// Returns the proxy's answer once the records are stored. A rejected request is
    /// [`RestProxyError::Rejected`] with the proxy's code and message; records the bus failed
    /// are [`RestProxyError::RecordsFailed`], never a quiet success.
    pub async fn produce_avro(
        &self,
        topic: &str,
        key_schema: &str,
        value_schema: &str,
        records: &[(Json, Json)],
    ) -> Result<ProduceResponse, RestProxyError> {
        let body = AvroRequest {
            key_schema,
            value_schema,
            records: records
                .iter()
                .map(|(key, value)| RecordBody { key, value })
                .collect(),
        };
        let url = self.topic_url(topic)?;
        let transport = |source| RestProxyError::Transport {
            topic: topic.to_string(),
            url: url.to_string(),
            source,
        };
        let body = serde_json::to_vec(&body).map_err(RestProxyError::Encode)?;
        let response = self
            .security
            .authorize(self.http.post(url.clone()))
            .header(CONTENT_TYPE, AVRO_V2)
            .header(ACCEPT, V2_JSON)
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(transport)?;
        interpret(status, &bytes, records.len())
    }

    fn topic_url(&self, topic: &str) -> Result<Url, RestProxyError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| RestProxyError::InvalidUrl {
                url: self.base.to_string(),
                reason: "the URL cannot take a path".to_string(),
            })?
            .pop_if_empty()
            .push("topics")
            .push(topic);
        Ok(url)
    }
}

fn interpret(
    status: StatusCode,
    body: &[u8],
    total: usize,
) -> Result<ProduceResponse, RestProxyError> {
    if status.is_success() {
        if let Ok(response) = serde_json::from_slice::<ProduceResponse>(body) {
            let failed = response.failures().count();
            if failed == 0 {
                return Ok(response);
            }
            let first_error = response
                .failures()
                .next()
                .and_then(|(_, first)| first.error.clone())
                .unwrap_or_default();
            return Err(RestProxyError::RecordsFailed {
                failed,
                total,
                first_error,
                response,
            });
        }
    } else if let Ok(error) = serde_json::from_slice::<ErrorBody>(body) {
        return Err(RestProxyError::Rejected {
            status: status.as_u16(),
            error_code: error.error_code,
            message: error.message,
        });
    }
    let text = String::from_utf8_lossy(body);
    let body = match text.char_indices().nth(BODY_QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.into_owned(),
    };
    Err(RestProxyError::UnexpectedResponse {
        status: status.as_u16(),
        body,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn urls_are_checked_and_joined() {
        let client = RestProxyClient::new("http://127.0.0.1:8082").expect("client");
        assert_eq!(
            client
                .topic_url("org.chicago.cta.weather.v1")
                .expect("url")
                .as_str(),
            "http://127.0.0.1:8082/topics/org.chicago.cta.weather.v1"
        );
        let prefixed = RestProxyClient::new("http://proxy:8082/kafka").expect("client");
        assert_eq!(
            prefixed.topic_url("t").expect("url").as_str(),
            "http://proxy:8082/kafka/topics/t"
        );
        assert!(matches!(
            RestProxyClient::new("not a url"),
            Err(RestProxyError::InvalidUrl { .. })
        ));
        assert!(matches!(
            RestProxyClient::new("mailto:x@y"),
            Err(RestProxyError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn the_body_has_the_hardware_shape() {
        let key = json!({"timestamp": 1});
        // serde_json sorts an object's keys; a hand-written body in any order is the same.
        let value = json!({"status": "cloudy", "temperature": 41});
        let body = AvroRequest {
            key_schema: "{\"type\": \"long\"}",
            value_schema: "\"string\"",
            records: vec![RecordBody {
                key: &key,
                value: &value,
            }],
        };
        assert_eq!(
            serde_json::to_string(&body).expect("serialises"),
            r#"{"key_schema":"{\"type\": \"long\"}","value_schema":"\"string\"","records":[{"key":{"timestamp":1},"value":{"status":"cloudy","temperature":41}}]}"#
        );
    }

    #[test]
    fn answers_map_to_results() {
        let ok = br#"{"key_schema_id":1,"value_schema_id":2,"offsets":[{"partition":0,"offset":5,"error_code":null,"error":null}]}"#;
        let response = interpret(StatusCode::OK, ok, 1).expect("success");
        assert_eq!(response.offsets[0].offset, Some(5));

        let failed = br#"{"key_schema_id":1,"value_schema_id":2,"offsets":[{"partition":null,"offset":null,"error_code":50002,"error":"closed"}]}"#;
        assert!(matches!(
            interpret(StatusCode::OK, failed, 1),
            Err(RestProxyError::RecordsFailed { failed: 1, total: 1, ref first_error, .. }) if first_error == "closed"
        ));

        let rejected = br#"{"error_code":42203,"message":"Conversion of JSON to Avro failed"}"#;
        assert!(matches!(
            interpret(StatusCode::UNPROCESSABLE_ENTITY, rejected, 1),
            Err(RestProxyError::Rejected {
                status: 422,
                error_code: 42203,
                ..
            })
        ));

        assert!(matches!(
            interpret(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>", 1),
            Err(RestProxyError::UnexpectedResponse { status: 502, .. })
        ));
    }
}
