//! One function per route: parse the request, ask the registry, answer as Confluent does.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use transit_core::codec::SchemaId;
use transit_registry::{
    BusRegistry, Compatibility, Mode, SchemaReference, SubjectVersion, VersionSelector,
};

use super::body::JsonBody;
use super::error::ApiError;
use super::json;

type Answer = Result<Response, ApiError>;

/// The body of a registration, a lookup and a compatibility check.
#[derive(Debug, Deserialize)]
pub(crate) struct SchemaRequest {
    schema: String,
    #[serde(default, rename = "schemaType")]
    schema_type: Option<String>,
    #[serde(default)]
    references: Option<Vec<ReferenceRequest>>,
    /// The id to register under: IMPORT mode only.
    #[serde(default)]
    id: Option<u32>,
    /// The version to register as: IMPORT mode only.
    #[serde(default)]
    version: Option<u32>,
}

/// One reference of a request, as Confluent takes it: every field is needed, and version
/// `-1` is the subject's latest.
#[derive(Debug, Deserialize)]
pub(crate) struct ReferenceRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    version: Option<i64>,
}

impl SchemaRequest {
    /// The Avro schema text, or why this registry cannot take it.
    fn avro(&self) -> Result<&str, ApiError> {
        if let Some(kind) = self
            .schema_type
            .as_deref()
            .filter(|t| !t.eq_ignore_ascii_case("AVRO"))
        {
            return Err(ApiError::invalid_schema(format!(
                "schema type {kind} is not supported, only AVRO"
            )));
        }
        Ok(&self.schema)
    }

    /// The references, each version a number (`-1` pinned to the subject's latest now, as
    /// Confluent stores it); a reference missing a field or naming no version is an invalid
    /// schema (42201), as Confluent answers.
    fn references(&self, registry: &BusRegistry) -> Result<Vec<SchemaReference>, ApiError> {
        let Some(references) = &self.references else {
            return Ok(Vec::new());
        };
        references
            .iter()
            .map(|reference| {
                let (Some(name), Some(subject), Some(version)) =
                    (&reference.name, &reference.subject, reference.version)
                else {
                    return Err(ApiError::invalid_schema(format!(
                        "Invalid reference: {{name='{}', subject='{}', version={}}}",
                        reference.name.as_deref().unwrap_or("null"),
                        reference.subject.as_deref().unwrap_or("null"),
                        reference
                            .version
                            .map_or("null".to_string(), |v| v.to_string()),
                    )));
                };
                let not_found = || {
                    ApiError::invalid_schema(format!(
                        "No schema reference found for subject \"{subject}\" and version {version}"
                    ))
                };
                let version = match version {
                    -1 => registry.latest(subject).map_err(|_| not_found())?.version,
                    n => u32::try_from(n)
                        .ok()
                        .filter(|&n| n >= 1)
                        .ok_or_else(not_found)?,
                };
                Ok(SchemaReference {
                    name: name.clone(),
                    subject: subject.clone(),
                    version,
                })
            })
            .collect()
    }
}

#[derive(Serialize)]
struct VersionBody<'a> {
    subject: &'a str,
    version: u32,
    id: u32,
    #[serde(skip_serializing_if = "<[SchemaReference]>::is_empty")]
    references: &'a [SchemaReference],
    schema: &'a str,
}

impl<'a> From<&'a SubjectVersion> for VersionBody<'a> {
    fn from(version: &'a SubjectVersion) -> Self {
        Self {
            subject: &version.subject,
            version: version.version,
            id: version.id.0,
            references: &version.references,
            schema: &version.schema,
        }
    }
}

/// `GET /schemas/ids/{id}`'s answer: the schema, and its references when it has any.
#[derive(Serialize)]
struct SchemaBody<'a> {
    schema: &'a str,
    #[serde(skip_serializing_if = "<[SchemaReference]>::is_empty")]
    references: &'a [SchemaReference],
}

fn ok(body: &impl Serialize) -> Answer {
    Ok(json(StatusCode::OK, body))
}

fn version_selector(text: &str) -> Result<VersionSelector, ApiError> {
    text.parse().map_err(|_| ApiError::invalid_version(text))
}

/// Ids are unsigned 32-bit numbers here; anything else names no schema.
fn schema_id(text: &str) -> Result<SchemaId, ApiError> {
    text.parse::<u32>().map(SchemaId).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            40403,
            format!("Schema {text} not found"),
        )
    })
}

/// Raw schema text, as Confluent's `/schema` routes answer.
fn raw_schema(schema: String) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, super::CONTENT_TYPE)],
        schema,
    )
        .into_response()
}

pub(crate) async fn root() -> Answer {
    ok(&serde_json::json!({}))
}

pub(crate) async fn schema_types() -> Answer {
    ok(&["AVRO"])
}

pub(crate) async fn schema_by_id(
    State(registry): State<BusRegistry>,
    Path(id): Path<String>,
) -> Answer {
    let id = schema_id(&id)?;
    let (schema, references) = registry.read(|catalog| {
        let schema = catalog.schema(id)?.to_string();
        let references = catalog.schema_references(id)?.to_vec();
        Ok::<_, transit_core::codec::RegistryError>((schema, references))
    })?;
    ok(&SchemaBody {
        schema: &schema,
        references: &references,
    })
}

pub(crate) async fn raw_schema_by_id(
    State(registry): State<BusRegistry>,
    Path(id): Path<String>,
) -> Answer {
    Ok(raw_schema(registry.schema(schema_id(&id)?)?))
}

pub(crate) async fn versions_of_id(
    State(registry): State<BusRegistry>,
    Path(id): Path<String>,
) -> Answer {
    let id = schema_id(&id)?;
    let versions = registry.read(|catalog| catalog.subject_versions_of(id))?;
    let body: Vec<_> = versions
        .iter()
        .map(|(subject, version)| serde_json::json!({ "subject": subject, "version": version }))
        .collect();
    ok(&body)
}

pub(crate) async fn subjects(
    State(registry): State<BusRegistry>,
    RawQuery(query): RawQuery,
) -> Answer {
    let deleted = flag(query.as_deref(), "deleted");
    ok(&registry.read(|catalog| catalog.subjects_with_deleted(deleted)))
}

pub(crate) async fn versions(
    State(registry): State<BusRegistry>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let deleted = flag(query.as_deref(), "deleted");
    ok(&registry.read(|catalog| catalog.versions_with_deleted(&subject, deleted))?)
}

pub(crate) async fn register(
    State(registry): State<BusRegistry>,
    Path(subject): Path<String>,
    JsonBody(request): JsonBody<SchemaRequest>,
) -> Answer {
    let schema = request.avro()?;
    let references = request.references(&registry)?;
    let id = registry
        .register_request(
            &subject,
            schema,
            &references,
            request.id.map(SchemaId),
            request.version,
        )
        .await?;
    ok(&serde_json::json!({ "id": id.0 }))
}

/// `DELETE /subjects/{subject}` (`?permanent=true` after a soft delete): the versions deleted.
pub(crate) async fn delete_subject(
    State(registry): State<BusRegistry>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let permanent = flag(query.as_deref(), "permanent");
    ok(&registry.delete_subject(&subject, permanent).await?)
}

/// `DELETE /subjects/{subject}/versions/{version}`: the version deleted.
pub(crate) async fn delete_version(
    State(registry): State<BusRegistry>,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Answer {
    let selector = version_selector(&version)?;
    let permanent = flag(query.as_deref(), "permanent");
    ok(&registry
        .delete_version(&subject, selector, permanent)
        .await?)
}

/// `GET /subjects/{subject}/versions/{version}/referencedby`: the ids of the schemas that
/// reference this version (a soft-deleted one too), ascending; those held by live versions
/// only, unless `?deleted=true`; `?offset=` and `?limit=` (negative: all) page them, as
/// Confluent.
pub(crate) async fn referenced_by(
    State(registry): State<BusRegistry>,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Answer {
    let selector = version_selector(&version)?;
    let deleted = flag(query.as_deref(), "deleted");
    let ids = registry.read(|catalog| {
        let version = match selector {
            VersionSelector::Latest => catalog.latest(&subject)?.version,
            VersionSelector::Number(n) => {
                let versions = catalog.versions_with_deleted(&subject, true)?;
                if !versions.contains(&n) {
                    return Err(transit_core::codec::RegistryError::VersionNotFound {
                        subject: subject.clone(),
                        version: n,
                    });
                }
                n
            }
        };
        Ok(catalog.referenced_by(&subject, version, deleted))
    })?;
    let offset = number(query.as_deref(), "offset").unwrap_or(0).max(0) as usize;
    let limit = number(query.as_deref(), "limit")
        .and_then(|limit| usize::try_from(limit).ok())
        .unwrap_or(usize::MAX);
    let page: Vec<u32> = ids.iter().skip(offset).take(limit).map(|id| id.0).collect();
    ok(&page)
}

/// The integer `name=` among the query's pairs, if there is one.
fn number(query: Option<&str>, name: &str) -> Option<i64> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.parse().ok())
            .flatten()
    })
}

pub(crate) async fn lookup(
    State(registry): State<BusRegistry>,
    Path(subject): Path<String>,
    JsonBody(request): JsonBody<SchemaRequest>,
) -> Answer {
    let references = request.references(&registry)?;
    let version = registry.lookup(&subject, request.avro()?, &references)?;
    ok(&VersionBody::from(&version))
}

/// `GET /subjects/{subject}/versions/{version}`; with `?deleted=true` a soft-deleted version
/// too, as Confluent.
pub(crate) async fn version(
    State(registry): State<BusRegistry>,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Answer {
    let selector = version_selector(&version)?;
    let version = match selector {
        VersionSelector::Number(n) if flag(query.as_deref(), "deleted") => {
            registry.read(|catalog| catalog.version_including_deleted(&subject, n))?
        }
        _ => registry.version(&subject, selector)?,
    };
    ok(&VersionBody::from(&version))
}

pub(crate) async fn version_schema(
    State(registry): State<BusRegistry>,
    Path((subject, version)): Path<(String, String)>,
) -> Answer {
    let version = registry.version(&subject, version_selector(&version)?)?;
    Ok(raw_schema(version.schema))
}

/// Whether `?verbose=true` is among the query's pairs.
fn verbose(query: Option<&str>) -> bool {
    flag(query, "verbose")
}

/// Whether `name=true` is among the query's pairs.
fn flag(query: Option<&str>, name: &str) -> bool {
    query.is_some_and(|query| {
        query.split('&').any(|pair| {
            pair.split_once('=').is_some_and(|(key, value)| {
                key.eq_ignore_ascii_case(name) && value.eq_ignore_ascii_case("true")
            })
        })
    })
}

fn compatibility_answer(messages: Vec<String>, verbose: bool) -> Answer {
    if verbose {
        ok(&serde_json::json!({ "is_compatible": messages.is_empty(), "messages": messages }))
    } else {
        ok(&serde_json::json!({ "is_compatible": messages.is_empty() }))
    }
}

pub(crate) async fn compatibility_with_version(
    State(registry): State<BusRegistry>,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    JsonBody(request): JsonBody<SchemaRequest>,
) -> Answer {
    let against = version_selector(&version)?;
    let references = request.references(&registry)?;
    let report = registry.check_compatibility(&subject, against, request.avro()?, &references)?;
    compatibility_answer(report.messages, verbose(query.as_deref()))
}

/// Against what registering would check: the latest version, or all for a transitive level.
pub(crate) async fn compatibility_with_subject(
    State(registry): State<BusRegistry>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
    JsonBody(request): JsonBody<SchemaRequest>,
) -> Answer {
    let schema = request.avro()?;
    let references = request.references(&registry)?;
    let report =
        registry.read(|catalog| catalog.check_registration(&subject, schema, &references))?;
    compatibility_answer(report.messages, verbose(query.as_deref()))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ConfigRequest {
    compatibility: String,
}

pub(crate) async fn get_config(State(registry): State<BusRegistry>) -> Answer {
    ok(&serde_json::json!({ "compatibilityLevel": registry.compatibility().name() }))
}

fn level(request: &ConfigRequest) -> Result<Compatibility, ApiError> {
    request.compatibility.parse().map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            42203,
            "Invalid compatibility level. Valid values are none, backward, forward, full, \
             backward_transitive, forward_transitive, and full_transitive",
        )
    })
}

pub(crate) async fn put_config(
    State(registry): State<BusRegistry>,
    JsonBody(request): JsonBody<ConfigRequest>,
) -> Answer {
    let level = level(&request)?;
    registry.set_compatibility(level).await?;
    ok(&serde_json::json!({ "compatibility": level.name() }))
}

/// `DELETE /config`: the global level back to BACKWARD; answers the level it had.
pub(crate) async fn delete_config(State(registry): State<BusRegistry>) -> Answer {
    let previous = registry.compatibility();
    registry.set_compatibility(Compatibility::default()).await?;
    ok(&serde_json::json!({ "compatibilityLevel": previous.name() }))
}

/// `GET /config/{subject}`: the subject's own level (40408 without one), or with
/// `?defaultToGlobal=true` the level it is checked at.
pub(crate) async fn get_subject_config(
    State(registry): State<BusRegistry>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let own = registry.read(|catalog| catalog.own_compatibility(&subject));
    let level = match own {
        Some(level) => level,
        None if flag(query.as_deref(), "defaultToGlobal") => registry.compatibility(),
        None => return Err(transit_registry::Refusal::NoSubjectCompatibility(subject).into()),
    };
    ok(&serde_json::json!({ "compatibilityLevel": level.name() }))
}

pub(crate) async fn put_subject_config(
    State(registry): State<BusRegistry>,
    Path(subject): Path<String>,
    JsonBody(request): JsonBody<ConfigRequest>,
) -> Answer {
    let level = level(&request)?;
    registry
        .set_subject_compatibility(&subject, Some(level))
        .await?;
    ok(&serde_json::json!({ "compatibility": level.name() }))
}

/// `DELETE /config/{subject}`: back to the global level; answers the level it had.
pub(crate) async fn delete_subject_config(
    State(registry): State<BusRegistry>,
    Path(subject): Path<String>,
) -> Answer {
    let own = registry.read(|catalog| catalog.own_compatibility(&subject));
    registry.set_subject_compatibility(&subject, None).await?;
    let previous = own.unwrap_or_else(|| registry.compatibility());
    ok(&serde_json::json!({ "compatibilityLevel": previous.name() }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ModeRequest {
    mode: String,
}

fn mode(request: &ModeRequest) -> Result<Mode, ApiError> {
    request
        .mode
        .parse()
        .map_err(|error: transit_registry::InvalidMode| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, 42204, error.to_string())
        })
}

pub(crate) async fn get_mode(State(registry): State<BusRegistry>) -> Answer {
    ok(&serde_json::json!({ "mode": registry.mode().name() }))
}

/// `PUT /mode` (`?force=true` to import into a registry that has subjects).
pub(crate) async fn put_mode(
    State(registry): State<BusRegistry>,
    RawQuery(query): RawQuery,
    JsonBody(request): JsonBody<ModeRequest>,
) -> Answer {
    let mode = mode(&request)?;
    registry
        .set_mode(None, mode, flag(query.as_deref(), "force"))
        .await?;
    ok(&serde_json::json!({ "mode": mode.name() }))
}

/// `GET /mode/{subject}`: its own mode (40409 without one), or with `?defaultToGlobal=true`
/// the mode it is in.
pub(crate) async fn get_subject_mode(
    State(registry): State<BusRegistry>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let mode = match registry.read(|catalog| catalog.own_mode(&subject)) {
        Some(mode) => mode,
        None if flag(query.as_deref(), "defaultToGlobal") => registry.mode(),
        None => return Err(transit_registry::Refusal::NoSubjectMode(subject).into()),
    };
    ok(&serde_json::json!({ "mode": mode.name() }))
}

pub(crate) async fn put_subject_mode(
    State(registry): State<BusRegistry>,
    Path(subject): Path<String>,
    RawQuery(query): RawQuery,
    JsonBody(request): JsonBody<ModeRequest>,
) -> Answer {
    let mode = mode(&request)?;
    registry
        .set_mode(Some(&subject), mode, flag(query.as_deref(), "force"))
        .await?;
    ok(&serde_json::json!({ "mode": mode.name() }))
}

/// `DELETE /mode/{subject}`: back to the global mode; answers the mode it had.
pub(crate) async fn delete_subject_mode(
    State(registry): State<BusRegistry>,
    Path(subject): Path<String>,
) -> Answer {
    let own = registry.read(|catalog| catalog.own_mode(&subject));
    registry.delete_subject_mode(&subject).await?;
    let previous = own.unwrap_or_else(|| registry.mode());
    ok(&serde_json::json!({ "mode": previous.name() }))
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::http(StatusCode::NOT_FOUND)
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::http(StatusCode::METHOD_NOT_ALLOWED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_from_the_query() {
        assert_eq!(number(Some("offset=2&limit=-1"), "limit"), Some(-1));
        assert_eq!(number(Some("offset=2&limit=-1"), "offset"), Some(2));
        assert_eq!(number(Some("offset=x"), "offset"), None);
        assert_eq!(number(None, "offset"), None);
    }

    #[test]
    fn verbose_is_read_from_the_query() {
        assert!(verbose(Some("verbose=true")));
        assert!(verbose(Some("a=b&verbose=TRUE")));
        assert!(!verbose(Some("verbose=false")));
        assert!(!verbose(None));
    }
}
