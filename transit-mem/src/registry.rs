//! An in-memory schema registry with Confluent's model: subjects, versions, global ids, and a
//! compatibility rule checked on registration.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;
use async_trait::async_trait;
use transit_core::codec::{RegistryError, SchemaId, SchemaRegistry};

/// Which new schemas a subject accepts (Confluent's levels, the ones this registry checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compatibility {
    /// A new schema must read data written with the subject's latest schema.
    #[default]
    Backward,
    /// Anything goes.
    None,
}

/// A registered version of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectVersion {
    /// The subject.
    pub subject: String,
    /// The version within the subject, from 1.
    pub version: u32,
    /// The schema's global id.
    pub id: SchemaId,
    /// The schema, as registered.
    pub schema: String,
}

#[derive(Debug, Default)]
struct State {
    /// Schemas by global id; ids are positions + 1.
    schemas: Vec<(String, Schema)>,
    /// Global id by canonical form: one id per distinct schema across subjects, as Confluent.
    ids_by_canonical: HashMap<String, SchemaId>,
    /// Ids of each subject's versions, in order.
    subjects: BTreeMap<String, Vec<SchemaId>>,
    compatibility: Compatibility,
}

/// An in-memory schema registry. A clone is another handle to the same registry.
#[derive(Debug, Clone, Default)]
pub struct MemRegistry {
    state: Arc<Mutex<State>>,
}

impl MemRegistry {
    /// An empty registry checking BACKWARD compatibility.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty registry with the given compatibility level.
    pub fn with_compatibility(compatibility: Compatibility) -> Self {
        let registry = Self::new();
        registry.lock().compatibility = compatibility;
        registry
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; a poisoned one still holds consistent state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `schema` under `subject`, checking compatibility with the subject's latest.
    pub fn register_schema(&self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError> {
        let parsed = Schema::parse_str(schema).map_err(|error| RegistryError::InvalidSchema {
            message: error.to_string(),
        })?;
        let canonical = parsed.canonical_form();
        let mut state = self.lock();
        let versions = state.subjects.get(subject).cloned().unwrap_or_default();
        if let Some(&id) = state.ids_by_canonical.get(&canonical) {
            if versions.contains(&id) {
                return Ok(id);
            }
        }
        if let (Compatibility::Backward, Some(latest)) = (state.compatibility, versions.last()) {
            let (_, latest_schema) = &state.schemas[(latest.0 - 1) as usize];
            SchemaCompatibility::can_read(latest_schema, &parsed).map_err(|error| {
                RegistryError::Incompatible {
                    subject: subject.to_string(),
                    message: format!(
                        "BACKWARD: the new schema cannot read data written with version {}: {error}",
                        versions.len()
                    ),
                }
            })?;
        }
        let id = match state.ids_by_canonical.get(&canonical) {
            Some(&id) => id,
            None => {
                state.schemas.push((schema.to_string(), parsed));
                let id = SchemaId(state.schemas.len() as u32);
                state.ids_by_canonical.insert(canonical, id);
                id
            }
        };
        state
            .subjects
            .entry(subject.to_string())
            .or_default()
            .push(id);
        Ok(id)
    }

    /// The schema with this global id.
    pub fn schema(&self, id: SchemaId) -> Result<String, RegistryError> {
        let state = self.lock();
        id.0.checked_sub(1)
            .and_then(|index| state.schemas.get(index as usize))
            .map(|(text, _)| text.clone())
            .ok_or(RegistryError::SchemaNotFound { id })
    }

    /// Every subject, sorted.
    pub fn subjects(&self) -> Vec<String> {
        self.lock().subjects.keys().cloned().collect()
    }

    /// The versions of `subject`, from 1.
    pub fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        let state = self.lock();
        let versions = subject_versions(&state, subject)?;
        Ok((1..=versions.len() as u32).collect())
    }

    /// Version `version` of `subject`.
    pub fn version(&self, subject: &str, version: u32) -> Result<SubjectVersion, RegistryError> {
        let state = self.lock();
        let versions = subject_versions(&state, subject)?;
        let id = version
            .checked_sub(1)
            .and_then(|index| versions.get(index as usize))
            .copied()
            .ok_or_else(|| RegistryError::VersionNotFound {
                subject: subject.to_string(),
                version,
            })?;
        Ok(SubjectVersion {
            subject: subject.to_string(),
            version,
            id,
            schema: state.schemas[(id.0 - 1) as usize].0.clone(),
        })
    }

    /// The latest version of `subject`.
    pub fn latest(&self, subject: &str) -> Result<SubjectVersion, RegistryError> {
        let count = self.versions(subject)?.len() as u32;
        self.version(subject, count)
    }

    /// The version of `subject` holding `schema`, if it is registered there.
    pub fn lookup(&self, subject: &str, schema: &str) -> Result<SubjectVersion, RegistryError> {
        let canonical = Schema::parse_str(schema)
            .map_err(|error| RegistryError::InvalidSchema {
                message: error.to_string(),
            })?
            .canonical_form();
        let position = {
            let state = self.lock();
            let versions = subject_versions(&state, subject)?;
            state
                .ids_by_canonical
                .get(&canonical)
                .and_then(|id| versions.iter().position(|v| v == id))
        };
        match position {
            Some(index) => self.version(subject, index as u32 + 1),
            None => Err(RegistryError::SchemaNotFound { id: SchemaId(0) }),
        }
    }
}

fn subject_versions<'a>(state: &'a State, subject: &str) -> Result<&'a [SchemaId], RegistryError> {
    state
        .subjects
        .get(subject)
        .map(Vec::as_slice)
        .ok_or_else(|| RegistryError::SubjectNotFound {
            subject: subject.to_string(),
        })
}

#[async_trait]
impl SchemaRegistry for MemRegistry {
    async fn register(&self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError> {
        self.register_schema(subject, schema)
    }

    async fn schema_by_id(&self, id: SchemaId) -> Result<String, RegistryError> {
        self.schema(id)
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
