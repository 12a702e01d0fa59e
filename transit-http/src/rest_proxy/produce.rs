//! Producing a parsed request: resolve the schemas, encode every record, publish them in one
//! batch, and say where each landed.
//!
//! Every record is checked and encoded before anything is published, and the whole request
//! goes to the bus in one `publish_batch`: a request is rejected whole or published whole, so a
//! bad second record never leaves the first one behind on the topic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use apache_avro::Schema;
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::Value as Json;
use transit_core::bus::{self, EventBus, PublishError, Record, RecordPosition};
use transit_core::codec::{write_header, RegistryError, SchemaId, SchemaRegistry};

use super::api::{PartitionOffset, ProduceResponse};
use super::avro_json::{AvroJson, Path};
use super::error::{
    ApiError, BUS_ERROR, BUS_RETRIABLE, INCOMPATIBLE_SCHEMA, INVALID_SCHEMA, JSON_CONVERSION,
    KEY_SCHEMA_MISSING, PARTITION_NOT_FOUND, REGISTRY_ERROR, SCHEMA_NOT_FOUND, TOPIC_NOT_FOUND,
    UNPROCESSABLE, VALUE_SCHEMA_MISSING,
};
use super::request::{EmbeddedFormat, Part, ProduceRequest, RecordRequest, SchemaSource};

/// How many schemas (by id, and inline texts by subject) are remembered before the caches
/// start over: enough for every schema a pipeline uses, small enough that a client posting
/// endless distinct schemas cannot grow the proxy's memory.
const SCHEMA_CACHE_LIMIT: usize = 1024;

/// A key or value schema, ready to use.
#[derive(Debug, Clone)]
struct ResolvedSchema {
    id: SchemaId,
    schema: Arc<Schema>,
}

/// Schemas already fetched or registered. Ids are immutable in a registry, so a cached id is
/// never stale; the inline cache saves a registry round trip per request for clients (such as
/// the weather hardware) that send the same schema text every time.
#[derive(Debug, Default)]
struct SchemaCache {
    by_id: HashMap<SchemaId, Arc<Schema>>,
    by_text: HashMap<(String, String), SchemaId>,
}

/// Publishes produce requests to a bus, with schemas from a registry.
#[derive(Debug)]
pub(crate) struct Producer {
    bus: Arc<dyn EventBus>,
    registry: Arc<dyn SchemaRegistry>,
    // No await happens while it is held.
    cache: Mutex<SchemaCache>,
}

impl Producer {
    pub(crate) fn new(bus: Arc<dyn EventBus>, registry: Arc<dyn SchemaRegistry>) -> Self {
        Self {
            bus,
            registry,
            cache: Mutex::new(SchemaCache::default()),
        }
    }

    /// Publishes `request` to `topic`, or rejects it whole.
    pub(crate) async fn produce(
        &self,
        topic: &str,
        format: EmbeddedFormat,
        request: ProduceRequest,
    ) -> Result<ProduceResponse, ApiError> {
        validate_topic_name(topic)?;
        let (records, key_schema_id, value_schema_id) = match format {
            EmbeddedFormat::Json => (json_records(&request.records)?, None, None),
            EmbeddedFormat::Avro => self.avro_records(topic, &request).await?,
        };
        let offsets = self.publish(topic, records).await?;
        Ok(ProduceResponse {
            key_schema_id: key_schema_id.map(|id| id.0),
            value_schema_id: value_schema_id.map(|id| id.0),
            offsets,
        })
    }

    async fn avro_records(
        &self,
        topic: &str,
        request: &ProduceRequest,
    ) -> Result<(Vec<Record>, Option<SchemaId>, Option<SchemaId>), ApiError> {
        let has_keys = request.records.iter().any(|r| r.key.is_some());
        let has_values = request.records.iter().any(|r| r.value.is_some());
        if has_keys && request.key_schema.is_none() {
            return Err(ApiError::unprocessable(
                KEY_SCHEMA_MISSING,
                "Request includes keys and uses a format that requires schemas, but does not \
                 include the key_schema or key_schema_id fields",
            ));
        }
        if has_values && request.value_schema.is_none() {
            return Err(ApiError::unprocessable(
                VALUE_SCHEMA_MISSING,
                "Request includes values and uses a format that requires schemas, but does not \
                 include the value_schema or value_schema_id fields",
            ));
        }
        // Both inline schemas are parsed before either is registered, so a bad value schema
        // does not leave a key schema registered behind.
        let key_parsed = parse_inline(request.key_schema.as_ref(), Part::Key)?;
        let value_parsed = parse_inline(request.value_schema.as_ref(), Part::Value)?;
        let key = self
            .resolve(topic, Part::Key, request.key_schema.as_ref(), key_parsed)
            .await?;
        let value = self
            .resolve(
                topic,
                Part::Value,
                request.value_schema.as_ref(),
                value_parsed,
            )
            .await?;

        let key_encoder = key
            .as_ref()
            .map(|k| encoder(&k.schema, Part::Key))
            .transpose()?;
        let value_encoder = value
            .as_ref()
            .map(|v| encoder(&v.schema, Part::Value))
            .transpose()?;
        let timestamp_ms = now_ms();
        let mut records = Vec::with_capacity(request.records.len());
        for (index, record) in request.records.iter().enumerate() {
            let key_bytes = match (&record.key, &key_encoder, &key) {
                (Some(json), Some(encoder), Some(schema)) => {
                    let root = format!("records[{index}].key");
                    Some(framed(schema.id, encoder, json, &root)?)
                }
                _ => None,
            };
            // A null value with a value schema is encoded by that schema (which must allow
            // null); without one it is a tombstone.
            let value_bytes = match (&value_encoder, &value) {
                (Some(encoder), Some(schema)) => {
                    let json = record.value.as_ref().unwrap_or(&Json::Null);
                    let root = format!("records[{index}].value");
                    Some(framed(schema.id, encoder, json, &root)?)
                }
                _ => None,
            };
            records.push(Record {
                key: key_bytes,
                value: value_bytes,
                headers: Vec::new(),
                timestamp_ms,
                partition: record.partition,
            });
        }
        Ok((records, key.map(|k| k.id), value.map(|v| v.id)))
    }

    /// The id and parsed schema for one half of the records: an inline schema is registered
    /// under `<topic>-key` / `<topic>-value`, an id is looked up.
    async fn resolve(
        &self,
        topic: &str,
        part: Part,
        source: Option<&SchemaSource>,
        parsed: Option<Schema>,
    ) -> Result<Option<ResolvedSchema>, ApiError> {
        match (source, parsed) {
            (Some(SchemaSource::Inline(text)), Some(schema)) => {
                let subject = format!("{topic}-{}", part.as_str());
                let cached = self
                    .lock()
                    .by_text
                    .get(&(subject.clone(), text.clone()))
                    .copied();
                let id = match cached {
                    Some(id) => id,
                    None => {
                        let id = self
                            .registry
                            .register(&subject, text)
                            .await
                            .map_err(|error| registry_error(error, part))?;
                        let mut cache = self.lock();
                        if cache.by_text.len() >= SCHEMA_CACHE_LIMIT {
                            cache.by_text.clear();
                        }
                        cache.by_text.insert((subject, text.clone()), id);
                        id
                    }
                };
                let schema = Arc::new(schema);
                self.remember(id, Arc::clone(&schema));
                Ok(Some(ResolvedSchema { id, schema }))
            }
            (Some(SchemaSource::Id(id)), _) => {
                let id = SchemaId(*id);
                let cached = self.lock().by_id.get(&id).cloned();
                let schema = match cached {
                    Some(schema) => schema,
                    None => {
                        let text = self
                            .registry
                            .schema_by_id(id)
                            .await
                            .map_err(|error| registry_error(error, part))?;
                        let schema = Schema::parse_str(&text).map_err(|error| {
                            ApiError::unprocessable(
                                INVALID_SCHEMA,
                                format!(
                                    "Invalid schema: {} schema {id} from the registry: {error}",
                                    part.as_str()
                                ),
                            )
                        })?;
                        let schema = Arc::new(schema);
                        self.remember(id, Arc::clone(&schema));
                        schema
                    }
                };
                Ok(Some(ResolvedSchema { id, schema }))
            }
            _ => Ok(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SchemaCache> {
        // The cache holds complete entries only, so a poisoned lock still holds a good one.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn remember(&self, id: SchemaId, schema: Arc<Schema>) {
        let mut cache = self.lock();
        if cache.by_id.len() >= SCHEMA_CACHE_LIMIT {
            cache.by_id.clear();
        }
        cache.by_id.insert(id, schema);
    }

    /// Publishes the batch and answers for each record; a failure of the whole batch that is
    /// the request's fault (no such topic or partition) is an error of the whole request.
    async fn publish(
        &self,
        topic: &str,
        records: Vec<Record>,
    ) -> Result<Vec<PartitionOffset>, ApiError> {
        let count = records.len();
        // Kept to tell which records came back unsent; clones share the payload bytes.
        let sent = records.clone();
        match self.bus.publish_batch(topic, records).await {
            Ok(positions) if positions.len() == count => Ok(positions.iter().map(stored).collect()),
            Ok(positions) => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                BUS_ERROR,
                format!(
                    "the bus stored {count} records but reported {} positions",
                    positions.len()
                ),
            )),
            Err(failure) => publish_failure(topic, &sent, failure),
        }
    }
}

fn publish_failure(
    topic: &str,
    sent: &[Record],
    failure: PublishError,
) -> Result<Vec<PartitionOffset>, ApiError> {
    let PublishError { error, unsent } = failure;
    let nothing_stored = unsent.len() >= sent.len();
    if nothing_stored {
        match &error {
            bus::Error::UnknownTopic { .. } => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    TOPIC_NOT_FOUND,
                    format!("Topic not found: {topic:?}"),
                ))
            }
            bus::Error::UnknownPartition { partition, .. } => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    PARTITION_NOT_FOUND,
                    format!("Partition not found: topic {topic:?} has no partition {partition}"),
                ))
            }
            bus::Error::InvalidRequest { message } => {
                return Err(ApiError::unprocessable(UNPROCESSABLE, message.clone()))
            }
            _ => {}
        }
    }
    let code = match error {
        bus::Error::Timeout { .. } => BUS_RETRIABLE,
        _ => BUS_ERROR,
    };
    let message = transit_core::error_chain(&error);
    let failed = unsent_indexes(sent, &unsent);
    Ok((0..sent.len())
        .map(|index| {
            if failed.get(index).copied().unwrap_or(true) {
                PartitionOffset {
                    partition: None,
                    offset: None,
                    error_code: Some(code),
                    error: Some(message.clone()),
                }
            } else {
                // Stored, but the bus reports positions only for a batch that fully succeeded.
                PartitionOffset {
                    partition: None,
                    offset: None,
                    error_code: None,
                    error: None,
                }
            }
        })
        .collect())
}

/// Which of `sent` are in `unsent` (a subsequence of it, in publish order).
fn unsent_indexes(sent: &[Record], unsent: &[Record]) -> Vec<bool> {
    let mut pending = unsent.iter().peekable();
    sent.iter()
        .map(|record| match pending.peek() {
            Some(next) if *next == record => {
                pending.next();
                true
            }
            _ => false,
        })
        .collect()
}

fn stored(position: &RecordPosition) -> PartitionOffset {
    PartitionOffset {
        partition: Some(position.partition),
        offset: Some(position.offset),
        error_code: None,
        error: None,
    }
}

fn registry_error(error: RegistryError, part: Part) -> ApiError {
    let part = part.as_str();
    match error {
        RegistryError::SchemaNotFound { id } => ApiError::new(
            StatusCode::NOT_FOUND,
            SCHEMA_NOT_FOUND,
            format!("Schema not found: no {part} schema has id {id}"),
        ),
        RegistryError::InvalidSchema { message } => ApiError::unprocessable(
            INVALID_SCHEMA,
            format!("Invalid schema: {part} schema: {message}"),
        ),
        RegistryError::Incompatible { subject, message } => ApiError::new(
            StatusCode::CONFLICT,
            INCOMPATIBLE_SCHEMA,
            format!("The {part} schema is incompatible with subject {subject:?}: {message}"),
        ),
        other => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            REGISTRY_ERROR,
            format!(
                "Schema registry error: {}",
                transit_core::error_chain(&other)
            ),
        ),
    }
}

fn parse_inline(source: Option<&SchemaSource>, part: Part) -> Result<Option<Schema>, ApiError> {
    match source {
        Some(SchemaSource::Inline(text)) => Schema::parse_str(text).map(Some).map_err(|error| {
            ApiError::unprocessable(
                INVALID_SCHEMA,
                format!("Invalid schema: {} schema: {error}", part.as_str()),
            )
        }),
        _ => Ok(None),
    }
}

fn encoder(schema: &Schema, part: Part) -> Result<AvroJson<'_>, ApiError> {
    AvroJson::new(schema).map_err(|error| {
        ApiError::unprocessable(
            INVALID_SCHEMA,
            format!("Invalid schema: {} schema: {error}", part.as_str()),
        )
    })
}

/// `json` in the Confluent wire format: magic byte, schema id, Avro body.
fn framed(
    id: SchemaId,
    encoder: &AvroJson<'_>,
    json: &Json,
    root: &str,
) -> Result<Bytes, ApiError> {
    let body = encoder.encode(json, &Path::Root(root)).map_err(|error| {
        ApiError::unprocessable(
            JSON_CONVERSION,
            format!("Conversion of JSON to Avro failed: {error}"),
        )
    })?;
    let mut bytes = Vec::with_capacity(5 + body.len());
    write_header(&mut bytes, id);
    bytes.extend_from_slice(&body);
    Ok(Bytes::from(bytes))
}

fn json_records(records: &[RecordRequest]) -> Result<Vec<Record>, ApiError> {
    let timestamp_ms = now_ms();
    let bytes = |json: &Option<Json>| -> Result<Option<Bytes>, ApiError> {
        json.as_ref()
            .map(|json| {
                serde_json::to_vec(json).map(Bytes::from).map_err(|error| {
                    ApiError::unprocessable(UNPROCESSABLE, format!("re-encoding JSON: {error}"))
                })
            })
            .transpose()
    };
    records
        .iter()
        .map(|record| {
            Ok(Record {
                key: bytes(&record.key)?,
                value: bytes(&record.value)?,
                headers: Vec::new(),
                timestamp_ms,
                partition: record.partition,
            })
        })
        .collect()
}

/// Kafka's topic-name rule, checked before the registry is touched so a bad name does not
/// register subjects for a topic that can never exist.
fn validate_topic_name(topic: &str) -> Result<(), ApiError> {
    let valid = !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            UNPROCESSABLE,
            format!(
                "invalid topic name {topic:?}: use 1 to 249 of ASCII letters, digits, '.', '_' and '-'"
            ),
        ))
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(value: &'static str) -> Record {
        Record::new(
            Bytes::from_static(b"k"),
            Bytes::from_static(value.as_bytes()),
            1,
        )
    }

    #[test]
    fn unsent_records_are_found_in_order() {
        let sent = [record("a"), record("b"), record("c")];
        assert_eq!(unsent_indexes(&sent, &sent[1..]), [false, true, true]);
        assert_eq!(unsent_indexes(&sent, &[]), [false, false, false]);
        assert_eq!(
            unsent_indexes(&sent, &[record("a"), record("c")]),
            [true, false, true]
        );
    }

    #[test]
    fn a_bus_failure_is_reported_per_record() {
        let sent = [record("a"), record("b")];
        let failure = PublishError {
            error: bus::Error::Timeout {
                operation: "publish",
            },
            unsent: vec![record("b")],
        };
        let offsets = publish_failure("t", &sent, failure).expect("per-record answer");
        assert_eq!(offsets[0].error_code, None);
        assert_eq!(offsets[1].error_code, Some(BUS_RETRIABLE));
        assert_eq!(offsets[1].error.as_deref(), Some("publish timed out"));

        let failure = PublishError {
            error: bus::Error::Closed,
            unsent: sent.to_vec(),
        };
        let offsets = publish_failure("t", &sent, failure).expect("per-record answer");
        assert!(offsets.iter().all(|o| o.error_code == Some(BUS_ERROR)));
    }

    #[test]
    fn unknown_topics_and_partitions_reject_the_request() {
        let sent = [record("a")];
        let unknown_topic = PublishError {
            error: bus::Error::UnknownTopic { topic: "t".into() },
            unsent: sent.to_vec(),
        };
        let error = publish_failure("t", &sent, unknown_topic).expect_err("404");
        assert_eq!(
            (error.status.as_u16(), error.error_code),
            (404, TOPIC_NOT_FOUND)
        );
        let unknown_partition = PublishError {
            error: bus::Error::UnknownPartition {
                topic: "t".into(),
                partition: 9,
            },
            unsent: sent.to_vec(),
        };
        let error = publish_failure("t", &sent, unknown_partition).expect_err("404");
        assert_eq!(
            (error.status.as_u16(), error.error_code),
            (404, PARTITION_NOT_FOUND)
        );
    }

    #[test]
    fn topic_names_follow_kafka() {
        assert!(validate_topic_name("org.chicago.cta.weather.v1").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(250)] {
            assert!(validate_topic_name(bad).is_err(), "{bad:?}");
        }
    }
}
