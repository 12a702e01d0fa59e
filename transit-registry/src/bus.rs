//! A schema registry whose state lives in a compacted topic on any [`EventBus`].

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;

use crate::record::{self, StoredRecord};
use crate::{Compatibility, CompatibilityReport, Registration, SchemaCatalog};
use crate::{SubjectVersion, VersionSelector};
use transit_core::bus::{self, Delivery, EventBus, PublishError, Record, TopicSpec};
use transit_core::codec::{RegistryError, SchemaId, SchemaRegistry};
use transit_core::processor::{read_table, ProcessorError};

/// The topic Confluent's registry keeps its schemas in (`kafkastore.topic`).
pub const DEFAULT_TOPIC: &str = "_schemas";

/// Why [`BusRegistry::open`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The schemas topic could not be created.
    #[error("creating the schemas topic {topic}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// What the bus said.
        #[source]
        source: bus::Error,
    },
    /// The schemas topic could not be read back.
    #[error("restoring the schemas topic {topic}")]
    Restore {
        /// The topic.
        topic: String,
        /// What reading the table said.
        #[source]
        source: ProcessorError,
    },
}

/// A write to the schemas topic failed: the registry answers "error in the backend data
/// store", and nothing was registered.
#[derive(Debug, thiserror::Error)]
#[error("storing {what} on the schemas topic {topic}")]
pub struct StoreError {
    /// The topic.
    pub topic: String,
    /// What was being stored, e.g. `version 2 of "s"`.
    pub what: String,
    /// What the bus said.
    #[source]
    pub source: PublishError,
}

/// What a restore found, for the log and for callers that report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RestoreSummary {
    /// Distinct schemas (global ids) restored.
    pub schemas: usize,
    /// Subjects with at least one version.
    pub subjects: usize,
    /// Records read (the last one of each key).
    pub records: usize,
    /// Records that could not be read or applied, logged and left out.
    pub skipped: usize,
}

#[derive(Debug)]
struct Inner {
    bus: Arc<dyn EventBus>,
    topic: String,
    /// Read by every request; written only by the one writer below, after the bus stored
    /// the record. Never held across an await.
    catalog: RwLock<SchemaCatalog>,
    /// Serialises check + publish + apply, so two registrations cannot both take the same
    /// version or id.
    writer: tokio::sync::Mutex<()>,
}

/// A [`SchemaRegistry`] with Confluent's model whose state lives in a compacted topic
/// (`_schemas` by default) of any bus, in Confluent's own record format: restarting is
/// opening it again over the same bus.
///
/// # Contract
///
/// - A registration answers only after the bus stored its record, so an id a client got is
///   never lost by a restart. A registration runs to completion even if its caller stops
///   waiting (it runs in a task of its own), so the topic and the memory never disagree.
/// - **One writer.** The topic is read once, at [`BusRegistry::open`]; registrations are
///   serialised within the process, not across processes. Run one registry process per topic
///   (Confluent elects a primary for the same reason). Two processes writing the same topic
///   could hand out the same id twice.
/// - A record of the topic that cannot be read or applied is logged (topic, partition,
///   offset, reason) and skipped; it never stops the registry.
///
/// # Clone
///
/// A clone is another handle to the same registry.
#[derive(Debug, Clone)]
pub struct BusRegistry {
    inner: Arc<Inner>,
}

impl fmt::Display for BusRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "schema registry on {} topic {}",
            self.inner.bus, self.inner.topic
        )
    }
}

impl BusRegistry {
    /// Opens the registry stored in `topic` of `bus`: creates the topic (compacted, one
    /// partition, so records keep their order) if it is missing, then restores every subject,
    /// version, id and the compatibility level from it.
    pub async fn open(bus: Arc<dyn EventBus>, topic: &str) -> Result<Self, OpenError> {
        bus.create_topic(&TopicSpec::new(topic, 1).compacted())
            .await
            .map_err(|source| OpenError::CreateTopic {
                topic: topic.to_string(),
                source,
            })?;
        let rows = read_table(bus.as_ref(), topic)
            .await
            .map_err(|source| OpenError::Restore {
                topic: topic.to_string(),
                source,
            })?;
        let (catalog, summary) = restore(&rows);
        tracing::info!(
            topic,
            schemas = summary.schemas,
            subjects = summary.subjects,
            records = summary.records,
            skipped = summary.skipped,
            compatibility = %catalog.compatibility(),
            "schema registry restored"
        );
        Ok(Self {
            inner: Arc::new(Inner {
                bus,
                topic: topic.to_string(),
                catalog: RwLock::new(catalog),
                writer: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The topic the registry lives in.
    pub fn topic(&self) -> &str {
        &self.inner.topic
    }

    fn catalog(&self) -> RwLockReadGuard<'_, SchemaCatalog> {
        // Nothing panics while holding the lock; a poisoned one still holds consistent state.
        self.inner
            .catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn catalog_mut(&self) -> RwLockWriteGuard<'_, SchemaCatalog> {
        self.inner
            .catalog
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `read` on the current state: every query of [`SchemaCatalog`] is available.
    pub fn read<T>(&self, read: impl FnOnce(&SchemaCatalog) -> T) -> T {
        read(&self.catalog())
    }

    /// Registers `schema` under `subject` and returns its global id, once stored on the bus.
    /// A schema the subject already has returns its id without writing anything.
    pub async fn register_schema(
        &self,
        subject: &str,
        schema: &str,
    ) -> Result<SchemaId, RegistryError> {
        // The common case (a producer starting up) needs neither the writer nor the bus.
        if let Registration::Existing(version) = self.catalog().prepare(subject, schema)? {
            return Ok(version.id);
        }
        let this = self.clone();
        let (subject, schema) = (subject.to_string(), schema.to_string());
        tokio::spawn(async move { this.register_now(&subject, &schema).await })
            .await
            .map_err(|error| RegistryError::Backend {
                source: Box::new(error),
            })?
    }

    async fn register_now(&self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError> {
        let _writer = self.inner.writer.lock().await;
        // Decided again under the writer: another registration may have come first.
        let entry = match self.catalog().prepare(subject, schema)? {
            Registration::Existing(version) => return Ok(version.id),
            Registration::New(entry) => entry,
        };
        let what = format!("version {} of {:?}", entry.version, entry.subject);
        let (key, value) = record::schema_record(&entry);
        self.store(key, value, what).await?;
        let id = entry.id;
        self.catalog_mut()
            .apply(entry)
            .map_err(|error| RegistryError::Backend {
                source: Box::new(error),
            })?;
        tracing::info!(subject, id = id.0, topic = %self.inner.topic, "schema registered");
        Ok(id)
    }

    /// Sets the global compatibility level, once stored on the bus.
    pub async fn set_compatibility(&self, level: Compatibility) -> Result<(), RegistryError> {
        let this = self.clone();
        tokio::spawn(async move {
            let _writer = this.inner.writer.lock().await;
            let (key, value) = record::config_record(level);
            this.store(key, value, format!("compatibility level {level}"))
                .await?;
            this.catalog_mut().set_compatibility(level);
            tracing::info!(%level, topic = %this.inner.topic, "compatibility level set");
            Ok(())
        })
        .await
        .map_err(|error| RegistryError::Backend {
            source: Box::new(error),
        })?
    }

    async fn store(&self, key: Bytes, value: Bytes, what: String) -> Result<(), RegistryError> {
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as i64);
        let record = Record::new(key, value, timestamp_ms).with_partition(0);
        let topic = &self.inner.topic;
        match self.inner.bus.publish_batch(topic, vec![record]).await {
            Ok(_) => Ok(()),
            Err(source) => {
                let error = StoreError {
                    topic: topic.clone(),
                    what,
                    source,
                };
                tracing::error!(error = %transit_core::error_chain(&error), "schema registry store failed");
                Err(RegistryError::Backend {
                    source: Box::new(error),
                })
            }
        }
    }

    /// The global compatibility level.
    pub fn compatibility(&self) -> Compatibility {
        self.catalog().compatibility()
    }

    /// The schema with this global id.
    pub fn schema(&self, id: SchemaId) -> Result<String, RegistryError> {
        self.catalog().schema(id).map(str::to_string)
    }

    /// Every subject, sorted.
    pub fn subjects(&self) -> Vec<String> {
        self.catalog().subjects()
    }

    /// The versions of `subject`, ascending.
    pub fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        self.catalog().versions(subject)
    }

    /// The version of `subject` a selector names.
    pub fn version(
        &self,
        subject: &str,
        version: VersionSelector,
    ) -> Result<SubjectVersion, RegistryError> {
        self.catalog().select(subject, version)
    }

    /// The latest version of `subject`.
    pub fn latest(&self, subject: &str) -> Result<SubjectVersion, RegistryError> {
        self.catalog().latest(subject)
    }

    /// The version of `subject` holding `schema`, if registered there.
    pub fn lookup(&self, subject: &str, schema: &str) -> Result<SubjectVersion, RegistryError> {
        self.catalog().lookup(subject, schema)
    }

    /// Checks `schema` against one version of `subject`, registering nothing.
    pub fn check_compatibility(
        &self,
        subject: &str,
        against: VersionSelector,
        schema: &str,
    ) -> Result<CompatibilityReport, RegistryError> {
        self.catalog().check_compatibility(subject, against, schema)
    }
}

/// Replays the table's records into a catalog, skipping (and logging) what cannot be used.
fn restore(rows: &[Delivery]) -> (SchemaCatalog, RestoreSummary) {
    let mut catalog = SchemaCatalog::new();
    let mut summary = RestoreSummary {
        records: rows.len(),
        ..RestoreSummary::default()
    };
    for row in rows {
        let skip = |reason: &dyn std::error::Error| {
            tracing::warn!(
                topic = %row.topic,
                partition = row.partition,
                offset = row.offset,
                reason = %transit_core::error_chain(reason),
                "skipping a record of the schemas topic"
            );
        };
        match record::decode(row.key.as_deref(), row.value.as_deref()) {
            Ok(StoredRecord::Schema(entry)) => {
                if let Err(error) = catalog.apply(entry) {
                    skip(&error);
                    summary.skipped += 1;
                }
            }
            Ok(StoredRecord::Config {
                subject: None,
                compatibility,
            }) => catalog.set_compatibility(compatibility.unwrap_or_default()),
            Ok(StoredRecord::Config {
                subject: Some(subject),
                ..
            }) => {
                tracing::warn!(
                    topic = %row.topic,
                    partition = row.partition,
                    offset = row.offset,
                    subject,
                    "ignoring a per-subject compatibility level: only the global level is kept"
                );
            }
            Ok(StoredRecord::Ignored { keytype }) => {
                tracing::debug!(topic = %row.topic, offset = row.offset, keytype, "ignored");
            }
            Err(error) => {
                skip(&error);
                summary.skipped += 1;
            }
        }
    }
    summary.schemas = catalog.schema_count();
    summary.subjects = catalog.subjects().len();
    (catalog, summary)
}

#[async_trait]
impl SchemaRegistry for BusRegistry {
    async fn register(&self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError> {
        self.register_schema(subject, schema).await
    }

    async fn schema_by_id(&self, id: SchemaId) -> Result<String, RegistryError> {
        self.schema(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SchemaEntry;

    fn row(offset: u64, key: &[u8], value: Option<&[u8]>) -> Delivery {
        Delivery {
            topic: Arc::from(DEFAULT_TOPIC),
            partition: 0,
            offset,
            key: Some(Bytes::copy_from_slice(key)),
            value: value.map(Bytes::copy_from_slice),
            headers: Vec::new(),
            timestamp_ms: 0,
        }
    }

    fn schema_row(offset: u64, subject: &str, version: u32, id: u32, schema: &str) -> Delivery {
        let (key, value) = record::schema_record(&SchemaEntry {
            subject: subject.into(),
            version,
            id: SchemaId(id),
            schema: schema.into(),
            deleted: false,
        });
        row(offset, &key, Some(&value))
    }

    #[test]
    fn restore_replays_entries_and_skips_bad_records() {
        let (config_key, config_value) = record::config_record(Compatibility::None);
        let rows = vec![
            schema_row(0, "a", 1, 1, r#""int""#),
            row(1, b"\xff not json", Some(b"{}")),
            row(2, br#"{"keytype":"NOOP","magic":0}"#, None),
            schema_row(3, "a", 2, 5, r#""long""#),
            // An id that names another schema already: skipped, not a panic.
            schema_row(4, "b", 1, 1, r#""string""#),
            schema_row(5, "c", 1, 6, "{not avro"),
            row(6, &config_key, Some(&config_value)),
        ];
        let (catalog, summary) = restore(&rows);
        assert_eq!(
            summary,
            RestoreSummary {
                schemas: 2,
                subjects: 1,
                records: 7,
                skipped: 3
            }
        );
        assert_eq!(catalog.versions("a").unwrap(), vec![1, 2]);
        assert_eq!(catalog.schema(SchemaId(5)).unwrap(), r#""long""#);
        assert_eq!(catalog.compatibility(), Compatibility::None);
    }
}
