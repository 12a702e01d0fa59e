//! An in-memory schema registry with Confluent's model: subjects, versions, global ids, and a
//! compatibility rule checked on registration. The rules live in
//! [`SchemaCatalog`]; this is the catalog behind a lock.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::{Compatibility, SchemaCatalog, SchemaReference, SubjectVersion};
use async_trait::async_trait;
use transit_core::codec::{RegistryError, SchemaId, SchemaRegistry};

/// An in-memory schema registry. A clone is another handle to the same registry.
#[derive(Debug, Clone, Default)]
pub struct MemRegistry {
    catalog: Arc<Mutex<SchemaCatalog>>,
}

impl MemRegistry {
    /// An empty registry checking BACKWARD compatibility.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty registry with the given compatibility level.
    pub fn with_compatibility(compatibility: Compatibility) -> Self {
        Self {
            catalog: Arc::new(Mutex::new(SchemaCatalog::with_compatibility(compatibility))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SchemaCatalog> {
        // Nothing panics while holding the lock; a poisoned one still holds consistent state.
        self.catalog.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `schema` under `subject`, checking compatibility with the subject's latest.
    pub fn register_schema(&self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError> {
        self.lock().register(subject, schema)
    }

    /// Registers `schema`, using the types of `references`, under `subject`.
    pub fn register_with_references(
        &self,
        subject: &str,
        schema: &str,
        references: &[SchemaReference],
    ) -> Result<SchemaId, RegistryError> {
        self.lock()
            .register_with_references(subject, schema, references)
    }

    /// The schema with this global id.
    pub fn schema(&self, id: SchemaId) -> Result<String, RegistryError> {
        self.lock().schema(id).map(str::to_string)
    }

    /// Every subject, sorted.
    pub fn subjects(&self) -> Vec<String> {
        self.lock().subjects()
    }

    /// The versions of `subject`, from 1.
    pub fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        self.lock().versions(subject)
    }

    /// Version `version` of `subject`.
    pub fn version(&self, subject: &str, version: u32) -> Result<SubjectVersion, RegistryError> {
        self.lock().version(subject, version)
    }

    /// The latest version of `subject`.
    pub fn latest(&self, subject: &str) -> Result<SubjectVersion, RegistryError> {
        self.lock().latest(subject)
    }

    /// The version of `subject` holding `schema` (without references), if it is registered
    /// there.
    pub fn lookup(&self, subject: &str, schema: &str) -> Result<SubjectVersion, RegistryError> {
        self.lock().lookup(subject, schema, &[])
    }

    /// Runs `read` on the current state: every query of [`SchemaCatalog`] is available.
    pub fn read<T>(&self, read: impl FnOnce(&SchemaCatalog) -> T) -> T {
        read(&self.lock())
    }
}

#[async_trait]
impl SchemaRegistry for MemRegistry {
    async fn register(&self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError> {
        self.register_schema(subject, schema)
    }

    /// Self-contained: a schema with references comes with their types written out.
    async fn schema_by_id(&self, id: SchemaId) -> Result<String, RegistryError> {
        self.lock().standalone_schema(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
    const V2_DEFAULT: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}]}"#;
    const V2_NO_DEFAULT: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}"#;

    #[test]
    fn registration_is_idempotent_and_ids_are_global() {
        let registry = MemRegistry::new();
        let id = registry.register_schema("t-value", V1).unwrap();
        assert_eq!(id, SchemaId(1));
        assert_eq!(registry.register_schema("t-value", V1).unwrap(), id);
        assert_eq!(registry.register_schema("u-value", V1).unwrap(), id);
        assert_eq!(registry.versions("t-value").unwrap(), vec![1]);
        assert_eq!(registry.subjects(), vec!["t-value", "u-value"]);
        assert_eq!(registry.schema(id).unwrap(), V1);
    }

    #[test]
    fn backward_compatible_versions_are_listed_in_order() {
        let registry = MemRegistry::new();
        registry.register_schema("s", V1).unwrap();
        let id2 = registry.register_schema("s", V2_DEFAULT).unwrap();
        assert_eq!(registry.versions("s").unwrap(), vec![1, 2]);
        let latest = registry.latest("s").unwrap();
        assert_eq!((latest.version, latest.id), (2, id2));
        assert_eq!(registry.lookup("s", V1).unwrap().version, 1);
    }

    #[test]
    fn an_incompatible_schema_is_refused_naming_the_field() {
        let registry = MemRegistry::new();
        registry.register_schema("s", V1).unwrap();
        let error = registry.register_schema("s", V2_NO_DEFAULT).unwrap_err();
        match error {
            RegistryError::Incompatible { subject, message } => {
                assert_eq!(subject, "s");
                assert!(message.contains('b'), "{message}");
            }
            other => panic!("expected Incompatible, got {other:?}"),
        }
        let lenient = MemRegistry::with_compatibility(Compatibility::None);
        lenient.register_schema("s", V1).unwrap();
        assert!(lenient.register_schema("s", V2_NO_DEFAULT).is_ok());
    }

    #[test]
    fn unknown_things_are_typed_errors() {
        let registry = MemRegistry::new();
        assert!(matches!(
            registry.schema(SchemaId(7)),
            Err(RegistryError::SchemaNotFound { .. })
        ));
        assert!(matches!(
            registry.schema(SchemaId(0)),
            Err(RegistryError::SchemaNotFound { .. })
        ));
        assert!(matches!(
            registry.versions("nope"),
            Err(RegistryError::SubjectNotFound { .. })
        ));
        registry.register_schema("s", V1).unwrap();
        assert!(matches!(
            registry.version("s", 2),
            Err(RegistryError::VersionNotFound { .. })
        ));
        assert!(matches!(
            registry.register_schema("s", "{not json"),
            Err(RegistryError::InvalidSchema { .. })
        ));
    }
}
