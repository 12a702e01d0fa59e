//! The HTTP client of a Confluent-compatible schema registry (Confluent's own, or transit's
//! server), as a [`SchemaRegistry`].
//!
//! Both directions are cached for the life of the client: a (subject, schema text) pair
//! registers once, and an id is fetched once, so a producer or consumer asks the registry
//! once per schema, however many records it handles. Concurrent first requests for the same
//! thing share one HTTP call. Only successes are cached: a failed call is tried again next
//! time.
//!
//! A registry that cannot be reached, or answers 5xx, is asked again with a growing pause
//! (100 ms up to 2 s) for up to [`RETRY_FOR`]: a registry restarting does not stop a producer
//! registering a new schema or a consumer looking up a new id, it delays them. Past that, the
//! call fails with the URL in the error. The log says so once per change of state for the whole
//! client, however many calls wait: its first failed attempt, then its 2nd, 4th, 8th... (with
//! the count), and once when the registry answers again. With [`RegistryClient::with_metrics`],
//! each retry and each error (its last one in words) is counted in the process's
//! [`PipelineMetrics`] as the component [`METRICS_COMPONENT`], for `/metrics`.
//!
//! `https://` and HTTP basic auth take Confluent's client settings, as a
//! [`ClientSecurity`]: `basic.auth.user.info` and `ssl.ca.location`
//! ([`RegistryClient::with_security`]).
//!
//! A schema with references (types other registered versions define, as Confluent's registry
//! allows) is handed to decoders as one self-contained text: the client fetches the
//! referenced versions too and writes their types out ([`RegistryClient::schema`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tokio::sync::OnceCell;
use transit_core::codec::{RegistryError, SchemaId, SchemaRegistry};
use transit_core::metrics::PipelineMetrics;
use transit_registry::{SchemaReference, SubjectVersion, VersionSelector};

use crate::client_security::{is_tls_refusal, ClientSecurity, ClientSecurityError};

/// How long connecting to the registry may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a whole request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a call keeps asking a registry that is down or failing (5xx) before it fails.
pub const RETRY_FOR: Duration = Duration::from_secs(120);

/// The component the client's retries and errors are counted as in a process's metrics
/// (`transit_retries_total{component="registry client"}`).
pub const METRICS_COMPONENT: &str = "registry client";

const CONTENT: &str = "application/vnd.schemaregistry.v1+json";
const ACCEPTED: &str =
    "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json";

/// What went wrong talking to the registry, as the source of a
/// [`RegistryError::Backend`] (or of [`RegistryClient::new`]'s error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryClientError {
    /// The base URL is not a usable `http://` or `https://` URL.
    #[error("invalid schema registry URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("building the schema registry's HTTP client")]
    Build(#[source] reqwest::Error),
    /// The security settings (CA file, user info) are not usable.
    #[error("the schema registry client's security settings")]
    Security(#[source] ClientSecurityError),
    /// The request failed: connection refused, timeout...
    #[error("{method} {url}")]
    Http {
        /// The method.
        method: Method,
        /// The URL.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: reqwest::Error,
    },
    /// The registry answered with an error this client has no variant for.
    #[error("{method} {url} answered {status} (error code {code:?}): {message}")]
    Status {
        /// The method.
        method: Method,
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Confluent's error code, when the body had one.
        code: Option<u32>,
        /// The error's message, or the start of the body.
        message: String,
    },
    /// A success answer that is not what the API describes.
    #[error("{method} {url}: unexpected answer")]
    Body {
        /// The method.
        method: Method,
        /// The URL.
        url: String,
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },
}

impl RegistryClientError {
    /// Whether asking again may succeed: the registry could not be reached or timed out, or
    /// answered with a server error (5xx); not a refusal, a bad URL or a malformed answer.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Http { source, .. } => {
                (source.is_connect() || source.is_timeout() || source.is_request())
                    && !is_tls_refusal(source)
            }
            Self::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// `url` with any password in it replaced by `***`, to quote in an error.
fn redacted(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_string(),
        // Unparsable: it may still hold `user:password@`; quote only what precedes `//`.
        Err(_) if url.contains('@') => "(an unparsable URL with credentials)".to_string(),
        Err(_) => url.to_string(),
    }
}

/// (subject, schema text) → the cell of its id.
type IdCells = HashMap<(String, String), Arc<OnceCell<SchemaId>>>;

/// Single-flight caches: one cell per key, filled by the first successful call.
#[derive(Debug, Default)]
struct Caches {
    ids: Mutex<IdCells>,
    schemas: Mutex<HashMap<SchemaId, Arc<OnceCell<String>>>>,
}

impl Caches {
    fn id_cell(&self, subject: &str, schema: &str) -> Arc<OnceCell<SchemaId>> {
        let mut ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            ids.entry((subject.to_string(), schema.to_string()))
                .or_default(),
        )
    }

    fn schema_cell(&self, id: SchemaId) -> Arc<OnceCell<String>> {
        let mut schemas = self.schemas.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(schemas.entry(id).or_default())
    }
}

/// What a request was about, to turn an error answer into the right [`RegistryError`].
#[derive(Debug, Default, Clone, Copy)]
struct About<'a> {
    subject: Option<&'a str>,
    version: Option<u32>,
    id: Option<SchemaId>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error_code: Option<u32>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct IdBody {
    id: u32,
}

#[derive(Deserialize)]
struct SchemaBody {
    schema: String,
    /// Absent (or null) for a schema without references, as Confluent answers.
    #[serde(default)]
    references: Option<Vec<SchemaReference>>,
}

#[derive(Deserialize)]
struct VersionBody {
    subject: String,
    version: u32,
    id: u32,
    schema: String,
    #[serde(default)]
    references: Option<Vec<SchemaReference>>,
}

impl From<VersionBody> for SubjectVersion {
    fn from(body: VersionBody) -> Self {
        Self {
            subject: body.subject,
            version: body.version,
            id: SchemaId(body.id),
            schema: body.schema,
            references: body.references.unwrap_or_default(),
        }
    }
}

/// The failed attempts of every call of a client (and its clones) since the registry last
/// answered: one count, so that many calls waiting at once log as one outage.
#[derive(Debug, Default)]
struct Outage {
    failed: AtomicU32,
}

/// A Confluent-compatible schema registry over HTTP, with caches both ways.
///
/// # Clone
///
/// A clone shares the connection pool and the caches.
#[derive(Clone)]
pub struct RegistryClient {
    base: Url,
    http: reqwest::Client,
    security: Arc<ClientSecurity>,
    caches: Arc<Caches>,
    outage: Arc<Outage>,
    metrics: Option<Arc<PipelineMetrics>>,
}

impl fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryClient")
            .field("base", &self.base.as_str())
            .field("user_info", &self.security.user_info)
            .finish_non_exhaustive()
    }
}

impl RegistryClient {
    /// A client of the registry at `base_url` (e.g. `http://127.0.0.1:8081`), with
    /// [`CONNECT_TIMEOUT`] and [`REQUEST_TIMEOUT`].
    ///
    /// # Example
    ///
    /// A client of transit's own registry server (over the in-memory bus, on a free port): it
    /// registers a schema and lists the subjects. `http://` and `https://` URLs are taken.
    ///
    /// ```
    /// # #[cfg(feature = "registry")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    ///
    /// use tokio_util::sync::CancellationToken;
    /// use transit_core::codec::AvroRecord;
    /// use transit_core::event::WeatherEvent;
    /// use transit_registry::BusRegistry;
    /// use transit_http::registry;
    /// use transit_http::RegistryClient;
    /// use transit_mem::MemBus;
    ///
    /// let schemas = BusRegistry::open(Arc::new(MemBus::new()), "_schemas").await?;
    /// let listener = registry::bind("127.0.0.1:0".parse()?).await?;
    /// let base_url = format!("http://{}", listener.local_addr()?);
    /// let shutdown = CancellationToken::new();
    /// let server = tokio::spawn(registry::serve(listener, schemas, shutdown.clone()));
    ///
    /// let client = RegistryClient::new(&base_url)?;
    /// let id = client
    ///     .register_schema("weather-value", WeatherEvent::schema_json())
    ///     .await?;
    /// assert_eq!(client.subjects().await?, ["weather-value"]);
    /// assert_eq!(client.latest("weather-value").await?.id, id);
    ///
    /// assert!(RegistryClient::new("ftp://registry.example.com").is_err());
    ///
    /// shutdown.cancel();
    /// server.await??;
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "registry"))]
    /// # fn main() {}
    /// ```
    pub fn new(base_url: &str) -> Result<Self, RegistryClientError> {
        Self::with_timeouts(base_url, CONNECT_TIMEOUT, REQUEST_TIMEOUT)
    }

    /// A client with its own timeouts.
    pub fn with_timeouts(
        base_url: &str,
        connect: Duration,
        request: Duration,
    ) -> Result<Self, RegistryClientError> {
        Self::with_security(base_url, ClientSecurity::none(), connect, request)
    }

    /// A client sending `security`'s credentials and trusting its CA for `https://`.
    pub fn with_security(
        base_url: &str,
        security: ClientSecurity,
        connect: Duration,
        request: Duration,
    ) -> Result<Self, RegistryClientError> {
        let invalid = |reason: String| RegistryClientError::InvalidUrl {
            url: redacted(base_url),
            reason,
        };
        let base = Url::parse(base_url).map_err(|error| invalid(error.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "scheme {:?} is not supported: use http:// or https://",
                base.scheme()
            )));
        }
        if !base.username().is_empty() || base.password().is_some() {
            // Credentials in a URL end up in logs and errors; Confluent's settings keep them
            // apart.
            return Err(invalid(
                "credentials in the URL are not taken: use basic.auth.user.info".into(),
            ));
        }
        if base.cannot_be_a_base() || base.query().is_some() {
            return Err(invalid("expected a base URL without a query".into()));
        }
        let http = security
            .client_builder()
            .map_err(RegistryClientError::Security)?
            .connect_timeout(connect)
            .timeout(request)
            .build()
            .map_err(RegistryClientError::Build)?;
        Ok(Self {
            base,
            http,
            security: Arc::new(security),
            caches: Arc::default(),
            outage: Arc::default(),
            metrics: None,
        })
    }

    /// The same client, counting its retries and errors in `metrics` as
    /// [`METRICS_COMPONENT`], with the last error in words (URLs, never credentials: the
    /// client takes none in its URL).
    pub fn with_metrics(mut self, metrics: Arc<PipelineMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn record_retry(&self, error: &str) {
        if let Some(metrics) = &self.metrics {
            metrics.record_retry(METRICS_COMPONENT, error);
        }
    }

    fn record_error(&self, error: &str) {
        if let Some(metrics) = &self.metrics {
            metrics.record_error(METRICS_COMPONENT, error);
        }
    }

    /// The security settings (credentials shown as `user:***`).
    pub fn security(&self) -> &ClientSecurity {
        &self.security
    }

    /// The registry's base URL.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// The URL of `segments` under the base, each segment percent-encoded (subjects may hold
    /// any character).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // A base URL that can be a base always has path segments.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// [`Self::call_once`], again while the registry is unreachable or failing, for up to
    /// [`RETRY_FOR`]; its own refusals (4xx) are answers, not retried.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<String>,
        about: About<'_>,
    ) -> Result<T, RegistryError> {
        let started = tokio::time::Instant::now();
        let deadline = started + RETRY_FOR;
        let mut pause = Duration::from_millis(100);
        loop {
            let outcome = self
                .call_once(method.clone(), url.clone(), body.clone(), about)
                .await;
            let transient = match &outcome {
                Err(RegistryError::Backend { source }) => source
                    .downcast_ref::<RegistryClientError>()
                    .filter(|error| error.is_transient()),
                _ => None,
            };
            match transient {
                Some(error) if tokio::time::Instant::now() + pause < deadline => {
                    let error = transit_core::error_chain(error);
                    self.record_retry(&error);
                    // The client's attempts 1, 2, 4, 8... are said, over all its calls: a
                    // registry down for two minutes is a handful of lines, not one per call
                    // every two seconds.
                    let failed = self.outage.failed.fetch_add(1, Ordering::Relaxed) + 1;
                    if failed.is_power_of_two() {
                        tracing::warn!(
                            %method,
                            %url,
                            %error,
                            attempt = failed,
                            waited_s = started.elapsed().as_secs(),
                            "the schema registry is not answering; asking again"
                        );
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Some(error) => {
                    let error = transit_core::error_chain(error);
                    tracing::warn!(
                        %method,
                        %url,
                        %error,
                        waited_s = started.elapsed().as_secs(),
                        "the schema registry did not answer in time; giving up on this call"
                    );
                    self.record_error(&error);
                    return outcome;
                }
                None => {
                    let failed = self.outage.failed.swap(0, Ordering::Relaxed);
                    // Any answer (a refusal too) says the registry is back.
                    if failed > 0 {
                        tracing::info!(
                            %url,
                            waited_s = started.elapsed().as_secs(),
                            "the schema registry answers again after {failed} failed attempts"
                        );
                    }
                    return outcome;
                }
            }
        }
    }

    async fn call_once<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<String>,
        about: About<'_>,
    ) -> Result<T, RegistryError> {
        let http_error = |source| RegistryError::Backend {
            source: Box::new(RegistryClientError::Http {
                method: method.clone(),
                url: url.to_string(),
                source,
            }),
        };
        let mut request = self
            .security
            .authorize(self.http.request(method.clone(), url.clone()))
            .header(ACCEPT, HeaderValue::from_static(ACCEPTED));
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static(CONTENT))
                .body(body);
        }
        tracing::debug!(%method, %url, "schema registry request");
        let response = request.send().await.map_err(http_error)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(http_error)?;
        if !status.is_success() {
            return Err(error_from_answer(
                &method,
                &url,
                status.as_u16(),
                &bytes,
                about,
            ));
        }
        serde_json::from_slice(&bytes).map_err(|source| RegistryError::Backend {
            source: Box::new(RegistryClientError::Body {
                method,
                url: url.to_string(),
                source,
            }),
        })
    }

    /// Registers `schema` under `subject` (or finds it registered) and returns its id; once
    /// per (subject, schema text) for the life of the client.
    pub async fn register_schema(
        &self,
        subject: &str,
        schema: &str,
    ) -> Result<SchemaId, RegistryError> {
        let cell = self.caches.id_cell(subject, schema);
        let id = *cell
            .get_or_try_init(|| async {
                let url = self.url(&["subjects", subject, "versions"]);
                let body = serde_json::json!({ "schema": schema }).to_string();
                let about = About {
                    subject: Some(subject),
                    ..About::default()
                };
                let answer: IdBody = self.call(Method::POST, url, Some(body), about).await?;
                Ok::<_, RegistryError>(SchemaId(answer.id))
            })
            .await?;
        // The id names this schema (the registry found it equal): no need to fetch it later.
        let _ = self.caches.schema_cell(id).set(schema.to_string());
        Ok(id)
    }

    /// The schema with this id as one self-contained text; fetched once for the life of the
    /// client. A schema with references (types defined by other registered schemas) comes
    /// with those types written out where first used, the referenced versions fetched too
    /// (soft-deleted ones included, as old records still name them), so a decoder can parse
    /// it alone.
    pub async fn schema(&self, id: SchemaId) -> Result<String, RegistryError> {
        let cell = self.caches.schema_cell(id);
        let schema = cell
            .get_or_try_init(|| async {
                let url = self.url(&["schemas", "ids", &id.0.to_string()]);
                let about = About {
                    id: Some(id),
                    ..About::default()
                };
                let answer: SchemaBody = self.call(Method::GET, url, None, about).await?;
                let references = answer.references.unwrap_or_default();
                if references.is_empty() {
                    return Ok::<_, RegistryError>(answer.schema);
                }
                let texts = self.referenced_texts(references).await?;
                transit_registry::standalone_schema(&answer.schema, &texts).map_err(|message| {
                    RegistryError::InvalidSchema {
                        message: format!("schema {id} with its references: {message}"),
                    }
                })
            })
            .await?;
        Ok(schema.clone())
    }

    /// The texts of the schemas `references` name, transitively, each one's own references
    /// before it and each reference name once: the order the registry itself parses them in.
    async fn referenced_texts(
        &self,
        references: Vec<SchemaReference>,
    ) -> Result<Vec<String>, RegistryError> {
        let mut texts = Vec::new();
        let mut visited = std::collections::HashSet::new();
        // Depth first without recursion: each frame is a list of references, how far it got,
        // and the text of the schema they belong to (written once its references are).
        let mut stack: Vec<(Vec<SchemaReference>, usize, Option<String>)> =
            vec![(references, 0, None)];
        while let Some((references, next, _)) = stack.last_mut() {
            let Some(reference) = references.get(*next).cloned() else {
                if let Some((_, _, Some(text))) = stack.pop() {
                    texts.push(text);
                }
                continue;
            };
            *next += 1;
            if !visited.insert(reference.name.clone()) {
                continue;
            }
            let version = self
                .version_including_deleted(&reference.subject, reference.version)
                .await?;
            stack.push((version.references, 0, Some(version.schema)));
        }
        Ok(texts)
    }

    /// Version `version` of `subject`, soft-deleted or not (`?deleted=true`); not cached.
    async fn version_including_deleted(
        &self,
        subject: &str,
        version: u32,
    ) -> Result<SubjectVersion, RegistryError> {
        let mut url = self.url(&["subjects", subject, "versions", &version.to_string()]);
        url.query_pairs_mut().append_pair("deleted", "true");
        let about = About {
            subject: Some(subject),
            version: Some(version),
            ..About::default()
        };
        let answer: VersionBody = self.call(Method::GET, url, None, about).await?;
        Ok(answer.into())
    }

    /// Every subject (not cached: it changes).
    pub async fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        let url = self.url(&["subjects"]);
        self.call(Method::GET, url, None, About::default()).await
    }

    /// Asks the registry once, without retrying, whether it answers and takes this client's
    /// credentials (`GET /subjects`): for a process to tell, before it starts, a registry
    /// that is down (a [`RegistryError::Backend`] whose [`RegistryClientError`] is
    /// [transient](RegistryClientError::is_transient)) from settings that can never work
    /// (a refusal such as 401, a URL that is not the registry's); and for a readiness probe,
    /// which asks again on its own schedule rather than wait out a call's retries.
    pub async fn check(&self) -> Result<(), RegistryError> {
        let url = self.url(&["subjects"]);
        let checked = self
            .call_once::<Vec<String>>(Method::GET, url, None, About::default())
            .await;
        if let Err(error) = &checked {
            // Counted, not logged: its caller says what it means (the process starting
            // without the registry, a readiness check failing).
            self.record_error(&transit_core::error_chain(error));
        }
        checked.map(drop)
    }

    /// The versions of `subject` (not cached).
    pub async fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        let url = self.url(&["subjects", subject, "versions"]);
        let about = About {
            subject: Some(subject),
            ..About::default()
        };
        self.call(Method::GET, url, None, about).await
    }

    /// The version of `subject` a selector names (not cached). A missing `latest` is reported
    /// as version 0.
    pub async fn version(
        &self,
        subject: &str,
        version: VersionSelector,
    ) -> Result<SubjectVersion, RegistryError> {
        let text = version.to_string();
        let url = self.url(&["subjects", subject, "versions", &text]);
        let about = About {
            subject: Some(subject),
            version: Some(match version {
                VersionSelector::Number(n) => n,
                VersionSelector::Latest => 0,
            }),
            ..About::default()
        };
        let answer: VersionBody = self.call(Method::GET, url, None, about).await?;
        Ok(answer.into())
    }

    /// The latest version of `subject` (not cached).
    pub async fn latest(&self, subject: &str) -> Result<SubjectVersion, RegistryError> {
        self.version(subject, VersionSelector::Latest).await
    }

    /// The version of `subject` holding `schema`, if registered there (not cached).
    pub async fn lookup(
        &self,
        subject: &str,
        schema: &str,
    ) -> Result<SubjectVersion, RegistryError> {
        let url = self.url(&["subjects", subject]);
        let body = serde_json::json!({ "schema": schema }).to_string();
        let about = About {
            subject: Some(subject),
            ..About::default()
        };
        let answer: VersionBody = self.call(Method::POST, url, Some(body), about).await?;
        Ok(answer.into())
    }
}

/// The [`RegistryError`] an error answer means: Confluent's error codes map to the variants
/// named by meaning; anything else is a backend error with the URL and what was said.
fn error_from_answer(
    method: &Method,
    url: &Url,
    status: u16,
    body: &[u8],
    about: About<'_>,
) -> RegistryError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let code = parsed.as_ref().and_then(|b| b.error_code);
    let message = parsed.and_then(|b| b.message).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        text.chars().take(512).collect()
    });
    let subject = || about.subject.unwrap_or_default().to_string();
    match (code, status) {
        (Some(40401), _) => RegistryError::SubjectNotFound { subject: subject() },
        (Some(40402), _) => RegistryError::VersionNotFound {
            subject: subject(),
            version: about.version.unwrap_or(0),
        },
        (Some(40403), _) => RegistryError::SchemaNotFound {
            id: about.id.unwrap_or(SchemaId(0)),
        },
        (Some(409), _) | (None, 409) => RegistryError::Incompatible {
            subject: subject(),
            message,
        },
        (Some(42201), _) => RegistryError::InvalidSchema { message },
        _ => RegistryError::Backend {
            source: Box::new(RegistryClientError::Status {
                method: method.clone(),
                url: url.to_string(),
                status,
                code,
                message,
            }),
        },
    }
}

#[async_trait]
impl SchemaRegistry for RegistryClient {
    async fn register(&self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError> {
        self.register_schema(subject, schema).await
    }

    async fn schema_by_id(&self, id: SchemaId) -> Result<String, RegistryError> {
        self.schema(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address nothing listens on.
    fn closed() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let address = listener.local_addr().expect("its address");
        format!("http://{address}")
    }

    #[tokio::test]
    async fn retries_and_failed_checks_are_counted_with_the_last_error() {
        let url = closed();
        let metrics = PipelineMetrics::new();
        let client = RegistryClient::new(&url)
            .expect("a client")
            .with_metrics(Arc::clone(&metrics));
        // Abandoned while it still asks again (for RETRY_FOR): its retries are counted so far.
        let asked =
            tokio::time::timeout(Duration::from_secs(1), client.schema_by_id(SchemaId(4))).await;
        assert!(asked.is_err(), "a registry down is asked again");
        let snapshot = metrics.snapshot();
        let retries = snapshot.retries[METRICS_COMPONENT];
        assert!(retries >= 2, "{retries} retries in a second");
        let last = &snapshot.last_error[METRICS_COMPONENT].message;
        assert!(last.contains(&format!("{url}/schemas/ids/4")), "{last}");

        assert!(client.clone().check().await.is_err());
        let snapshot = metrics.snapshot();
        assert_eq!(
            snapshot.retries[METRICS_COMPONENT], retries,
            "a check is not retried"
        );
        assert_eq!(snapshot.errors[METRICS_COMPONENT], retries + 1);
        assert!(snapshot.last_error[METRICS_COMPONENT]
            .message
            .contains(&format!("{url}/subjects")));
        assert_eq!(client.outage.failed.load(Ordering::Relaxed) as u64, retries);
    }

    fn map(status: u16, body: &str, about: About<'_>) -> RegistryError {
        let url = Url::parse("http://registry:8081/subjects/s/versions").unwrap();
        error_from_answer(&Method::POST, &url, status, body.as_bytes(), about)
    }

    fn about_s() -> About<'static> {
        About {
            subject: Some("s"),
            version: Some(4),
            id: Some(SchemaId(9)),
        }
    }

    #[test]
    fn confluent_error_codes_map_to_variants() {
        let body = |code: u32| format!(r#"{{"error_code":{code},"message":"m {code}"}}"#);
        assert!(matches!(
            map(404, &body(40401), about_s()),
            RegistryError::SubjectNotFound { subject } if subject == "s"
        ));
        assert!(matches!(
            map(404, &body(40402), about_s()),
            RegistryError::VersionNotFound { version: 4, .. }
        ));
        assert!(matches!(
            map(404, &body(40403), about_s()),
            RegistryError::SchemaNotFound { id: SchemaId(9) }
        ));
        assert!(matches!(
            map(409, &body(409), about_s()),
            RegistryError::Incompatible { message, .. } if message == "m 409"
        ));
        assert!(matches!(
            map(422, &body(42201), about_s()),
            RegistryError::InvalidSchema { message } if message == "m 42201"
        ));
    }

    #[test]
    fn other_answers_are_backend_errors_with_the_url() {
        for (status, body) in [
            (
                500,
                r#"{"error_code":50001,"message":"Error in the backend data store"}"#,
            ),
            (502, "<html>bad gateway</html>"),
            (422, r#"{"error_code":42202,"message":"bad version"}"#),
        ] {
            let error = map(status, body, About::default());
            let RegistryError::Backend { source } = error else {
                panic!("expected Backend for {status}, got {error:?}");
            };
            let text = source.to_string();
            assert!(
                text.contains("http://registry:8081/subjects/s/versions"),
                "{text}"
            );
            assert!(text.contains(&status.to_string()), "{text}");
        }
    }

    #[test]
    fn urls_encode_subjects_and_keep_a_base_path() {
        let client = RegistryClient::new("http://localhost:8081/registry/").unwrap();
        let url = client.url(&["subjects", "a b/c", "versions"]);
        assert_eq!(
            url.as_str(),
            "http://localhost:8081/registry/subjects/a%20b%2Fc/versions"
        );
        let bare = RegistryClient::new("http://localhost:8081").unwrap();
        assert_eq!(
            bare.url(&["subjects"]).as_str(),
            "http://localhost:8081/subjects"
        );
    }

    #[test]
    fn unusable_urls_are_refused() {
        for url in [
            "ftp://registry",
            "registry:8081",
            "not a url",
            "http://h/?q=1",
            "https://user:s3cret@registry",
        ] {
            assert!(
                matches!(
                    RegistryClient::new(url),
                    Err(RegistryClientError::InvalidUrl { .. })
                ),
                "{url}"
            );
        }
        let error = RegistryClient::new("https://user:s3cret@registry").unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
        assert!(RegistryClient::new("https://registry:8081").is_ok());
    }
}
