//! A schema registry whose state lives in a compacted topic on any [`EventBus`].

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;

use crate::record::{self, StoredRecord};
use crate::{
    ApplyError, Change, Compatibility, CompatibilityReport, Mode, Refusal, Registration,
    SchemaCatalog, SchemaEntry,
};
use crate::{SchemaReference, SubjectVersion, VersionSelector};
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
        self.register_with_references(subject, schema, &[]).await
    }

    /// Registers `schema`, using the types of `references` (registered versions), under
    /// `subject`, as [`Self::register_schema`].
    pub async fn register_with_references(
        &self,
        subject: &str,
        schema: &str,
        references: &[SchemaReference],
    ) -> Result<SchemaId, RegistryError> {
        // The common case (a producer starting up) needs neither the writer nor the bus.
        if let Registration::Existing(version) =
            self.catalog().prepare(subject, schema, references)?
        {
            return Ok(version.id);
        }
        let this = self.clone();
        let (subject, schema) = (subject.to_string(), schema.to_string());
        let references = references.to_vec();
        tokio::spawn(async move { this.register_now(&subject, &schema, &references).await })
            .await
            .map_err(|error| RegistryError::Backend {
                source: Box::new(error),
            })?
    }

    async fn register_now(
        &self,
        subject: &str,
        schema: &str,
        references: &[SchemaReference],
    ) -> Result<SchemaId, RegistryError> {
        let _writer = self.inner.writer.lock().await;
        // Decided again under the writer: another registration may have come first.
        let entry = match self.catalog().prepare(subject, schema, references)? {
            Registration::Existing(version) => return Ok(version.id),
            Registration::New(entry) => entry,
        };
        if let Err(refusal) = self.catalog().check_writable(Some(subject)) {
            return Err(RegistryError::Backend {
                source: Box::new(refusal),
            });
        }
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

    /// Registers as a request of the HTTP API does: with an id (and maybe a version) given,
    /// an import (IMPORT mode only, Confluent's rule); else as [`Self::register_schema`], refused
    /// when the subject is read-only.
    pub async fn register_request(
        &self,
        subject: &str,
        schema: &str,
        references: &[SchemaReference],
        id: Option<SchemaId>,
        version: Option<u32>,
    ) -> Result<SchemaId, Refusal> {
        let Some(id) = id else {
            return self
                .register_with_references(subject, schema, references)
                .await
                .map_err(|error| match error {
                    RegistryError::Backend { source } => match source.downcast::<Refusal>() {
                        Ok(refusal) => *refusal,
                        Err(source) => Refusal::Registry(RegistryError::Backend { source }),
                    },
                    other => Refusal::Registry(other),
                });
        };
        let (subject, schema) = (subject.to_string(), schema.to_string());
        let references = references.to_vec();
        let what = format!("an import of id {id} into {subject:?}");
        self.commit(what, move |catalog| {
            let entry = catalog.prepare_import(&subject, &schema, &references, id, version)?;
            Ok((id, entry.map(Change::Schema).into_iter().collect()))
        })
        .await
    }

    /// Sets (`Some`) or removes (`None`: back to the global level) `subject`'s own
    /// compatibility level, once stored. Removing a level the subject does not have is 40408.
    pub async fn set_subject_compatibility(
        &self,
        subject: &str,
        level: Option<Compatibility>,
    ) -> Result<(), Refusal> {
        let subject = subject.to_string();
        let what = format!("the compatibility level of {subject:?}");
        self.commit(what, move |catalog| {
            if level.is_none() && catalog.own_compatibility(&subject).is_none() {
                return Err(Refusal::NoSubjectCompatibility(subject));
            }
            Ok((
                (),
                vec![Change::Config {
                    subject: Some(subject),
                    compatibility: level,
                }],
            ))
        })
        .await
    }

    /// Sets the global mode (`subject: None`) or a subject's; IMPORT needs an empty registry
    /// (or subject) unless `force`d.
    pub async fn set_mode(
        &self,
        subject: Option<&str>,
        mode: Mode,
        force: bool,
    ) -> Result<(), Refusal> {
        let subject = subject.map(str::to_string);
        self.commit(format!("mode {mode}"), move |catalog| {
            Ok((
                (),
                vec![catalog.prepare_mode(subject.as_deref(), mode, force)?],
            ))
        })
        .await
    }

    /// Removes `subject`'s own mode (back to the global one); 40409 if it has none.
    pub async fn delete_subject_mode(&self, subject: &str) -> Result<(), Refusal> {
        let subject = subject.to_string();
        self.commit(format!("the mode of {subject:?}"), move |catalog| {
            if catalog.own_mode(&subject).is_none() {
                return Err(Refusal::NoSubjectMode(subject));
            }
            Ok((
                (),
                vec![Change::Mode {
                    subject: Some(subject),
                    mode: None,
                }],
            ))
        })
        .await
    }

    /// Soft-deletes every version of `subject`, or with `permanent` deletes the soft-deleted
    /// ones for good; the versions deleted.
    pub async fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Vec<u32>, Refusal> {
        let subject = subject.to_string();
        let what = format!("a delete of {subject:?}");
        self.commit(what, move |catalog| {
            catalog.prepare_delete_subject(&subject, permanent)
        })
        .await
    }

    /// Soft-deletes one version of `subject`, or with `permanent` deletes a soft-deleted one
    /// for good; the version deleted.
    pub async fn delete_version(
        &self,
        subject: &str,
        version: VersionSelector,
        permanent: bool,
    ) -> Result<u32, Refusal> {
        let subject = subject.to_string();
        let what = format!("a delete of version {version} of {subject:?}");
        self.commit(what, move |catalog| {
            let (version, change) = catalog.prepare_delete_version(&subject, version, permanent)?;
            Ok((version, vec![change]))
        })
        .await
    }

    /// Decides on the current state under the writer, stores the changes decided (one batch),
    /// then applies them: the memory never runs ahead of the topic. Runs in a task of its
    /// own, so it completes even if the caller stops waiting.
    async fn commit<T, F>(&self, what: String, decide: F) -> Result<T, Refusal>
    where
        T: Send + 'static,
        F: FnOnce(&SchemaCatalog) -> Result<(T, Vec<Change>), Refusal> + Send + 'static,
    {
        let this = self.clone();
        tokio::spawn(async move {
            let _writer = this.inner.writer.lock().await;
            let (answer, changes) = {
                let catalog = this.catalog();
                decide(&catalog)?
            };
            if changes.is_empty() {
                return Ok(answer);
            }
            let records = changes.iter().map(record::change_record).collect();
            this.store_all(records, what.clone()).await?;
            let mut catalog = this.catalog_mut();
            for change in changes {
                catalog
                    .apply_change(change)
                    .map_err(|error| RegistryError::Backend {
                        source: Box::new(error),
                    })?;
            }
            drop(catalog);
            tracing::info!(topic = %this.inner.topic, change = %what, "schema registry changed");
            Ok(answer)
        })
        .await
        .map_err(|error| {
            Refusal::Registry(RegistryError::Backend {
                source: Box::new(error),
            })
        })?
    }

    async fn store(&self, key: Bytes, value: Bytes, what: String) -> Result<(), RegistryError> {
        self.store_all(vec![(key, Some(value))], what).await
    }

    /// Stores records (a `None` value is a tombstone) in one batch.
    async fn store_all(
        &self,
        records: Vec<(Bytes, Option<Bytes>)>,
        what: String,
    ) -> Result<(), RegistryError> {
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as i64);
        let records = records
            .into_iter()
            .map(|(key, value)| {
                let mut record = Record::new(key, Bytes::new(), timestamp_ms).with_partition(0);
                record.value = value;
                record
            })
            .collect();
        let topic = &self.inner.topic;
        match self.inner.bus.publish_batch(topic, records).await {
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

    /// The global mode.
    pub fn mode(&self) -> Mode {
        self.catalog().mode()
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

    /// The version of `subject` holding `schema` with these references, if registered there.
    pub fn lookup(
        &self,
        subject: &str,
        schema: &str,
        references: &[SchemaReference],
    ) -> Result<SubjectVersion, RegistryError> {
        self.catalog().lookup(subject, schema, references)
    }

    /// Checks `schema` (with these references) against one version of `subject`, registering
    /// nothing.
    pub fn check_compatibility(
        &self,
        subject: &str,
        against: VersionSelector,
        schema: &str,
        references: &[SchemaReference],
    ) -> Result<CompatibilityReport, RegistryError> {
        self.catalog()
            .check_compatibility(subject, against, schema, references)
    }
}

/// Applies a change that cannot fail (levels, modes, subject deletes).
fn apply_change(catalog: &mut SchemaCatalog, change: Change) {
    if let Err(error) = catalog.apply_change(change) {
        tracing::warn!(error = %error, "skipping a change of the schemas topic");
    }
}

/// Replays the table's records into a catalog, skipping (and logging) what cannot be used.
fn restore(rows: &[Delivery]) -> (SchemaCatalog, RestoreSummary) {
    let mut catalog = SchemaCatalog::new();
    let mut summary = RestoreSummary {
        records: rows.len(),
        ..RestoreSummary::default()
    };
    // A referenced version's record can come after its referrer's (the referenced version was
    // soft-deleted later, or imported out of order): such entries wait until the rest is
    // applied.
    let mut waiting: Vec<(&Delivery, SchemaEntry, ApplyError)> = Vec::new();
    let mut subject_deletes = Vec::new();
    for row in rows {
        let skip = |reason: &dyn std::error::Error| skip_record(row, reason);
        match record::decode(row.key.as_deref(), row.value.as_deref()) {
            Ok(StoredRecord::Schema(entry)) => match catalog.apply(entry.clone()) {
                Ok(()) => {}
                Err(error @ ApplyError::MissingReference { .. }) => {
                    waiting.push((row, entry, error));
                }
                Err(error) => {
                    skip(&error);
                    summary.skipped += 1;
                }
            },
            Ok(StoredRecord::Config {
                subject: None,
                compatibility,
            }) => catalog.set_compatibility(compatibility.unwrap_or_default()),
            Ok(StoredRecord::Config {
                subject: Some(subject),
                compatibility,
            }) => apply_change(
                &mut catalog,
                Change::Config {
                    subject: Some(subject),
                    compatibility,
                },
            ),
            Ok(StoredRecord::Mode { subject, mode }) => {
                apply_change(&mut catalog, Change::Mode { subject, mode });
            }
            Ok(StoredRecord::DeleteSubject { subject, version }) => {
                subject_deletes.push((subject.clone(), version));
                apply_change(&mut catalog, Change::DeleteSubject { subject, version });
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
    let mut applied_late = false;
    loop {
        let before = waiting.len();
        let mut still = Vec::new();
        for (row, entry, _) in waiting {
            match catalog.apply(entry.clone()) {
                Ok(()) => applied_late = true,
                Err(error @ ApplyError::MissingReference { .. }) => still.push((row, entry, error)),
                Err(error) => {
                    skip_record(row, &error);
                    summary.skipped += 1;
                }
            }
        }
        if still.is_empty() || still.len() == before {
            for (row, _, error) in &still {
                skip_record(row, error);
                summary.skipped += 1;
            }
            break;
        }
        waiting = still;
    }
    if applied_late {
        // A subject's soft delete covers the versions applied late too.
        for (subject, version) in subject_deletes {
            apply_change(&mut catalog, Change::DeleteSubject { subject, version });
        }
    }
    summary.schemas = catalog.schema_count();
    summary.subjects = catalog.subjects().len();
    (catalog, summary)
}

fn skip_record(row: &Delivery, reason: &dyn std::error::Error) {
    tracing::warn!(
        topic = %row.topic,
        partition = row.partition,
        offset = row.offset,
        reason = %transit_core::error_chain(reason),
        "skipping a record of the schemas topic"
    );
}

#[async_trait]
impl SchemaRegistry for BusRegistry {
    async fn register(&self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError> {
        self.register_schema(subject, schema).await
    }

    /// Self-contained: a schema with references comes with their types written out.
    async fn schema_by_id(&self, id: SchemaId) -> Result<String, RegistryError> {
        self.catalog().standalone_schema(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            references: Vec::new(),
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
