//! The registry's state machine: schemas by global id, subjects with versions, the
//! compatibility level. Pure: no I/O, no locks; callers decide where its entries are stored.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use apache_avro::Schema;

use crate::reference::{self, SchemaReference};
use crate::Compatibility;
use transit_core::codec::{RegistryError, SchemaId};

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
    /// The registered schemas whose types it uses (empty for most schemas).
    pub references: Vec<SchemaReference>,
}

/// One stored fact of the registry: version `version` of `subject` is schema `id`. It is what
/// a record of the `_schemas` topic holds, and what [`SchemaCatalog::apply`] replays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaEntry {
    /// The subject.
    pub subject: String,
    /// The version within the subject, from 1.
    pub version: u32,
    /// The schema's global id.
    pub id: SchemaId,
    /// The schema (Avro JSON).
    pub schema: String,
    /// The registered schemas whose types it uses.
    pub references: Vec<SchemaReference>,
    /// Soft-deleted by a Confluent registry: the id still resolves, the version is not listed.
    pub deleted: bool,
}

/// What registering a schema comes to, decided before anything is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// The subject already has this schema: nothing to store, answer with its id.
    Existing(SubjectVersion),
    /// A new version: store this entry, then [`SchemaCatalog::apply`] it.
    New(SchemaEntry),
}

impl Registration {
    /// The schema's global id, whether it is new or not.
    pub fn id(&self) -> SchemaId {
        match self {
            Self::Existing(version) => version.id,
            Self::New(entry) => entry.id,
        }
    }
}

/// A version as a request names it: a number, or the latest (`latest` or `-1`, as Confluent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSelector {
    /// Version `n`, from 1.
    Number(u32),
    /// The subject's latest version.
    Latest,
}

/// A version that is neither a positive number (up to 2^31 - 1, Confluent's bound) nor
/// `latest`/`-1`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"")]
pub struct InvalidVersion(pub String);

impl FromStr for VersionSelector {
    type Err = InvalidVersion;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.eq_ignore_ascii_case("latest") || text == "-1" {
            return Ok(Self::Latest);
        }
        match text.parse::<i32>() {
            Ok(n) if n >= 1 => Ok(Self::Number(n as u32)),
            _ => Err(InvalidVersion(text.to_string())),
        }
    }
}

impl fmt::Display for VersionSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Latest => f.write_str("latest"),
        }
    }
}

/// The outcome of a compatibility check: empty `messages` means compatible.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompatibilityReport {
    /// One line per broken rule and version, naming the field concerned.
    pub messages: Vec<String>,
}

impl CompatibilityReport {
    /// Whether the schema passed.
    pub fn is_compatible(&self) -> bool {
        self.messages.is_empty()
    }
}

/// Why a stored entry could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The entry's schema does not parse.
    #[error("version {version} of {subject:?}: invalid Avro schema: {message}")]
    InvalidSchema {
        /// The subject.
        subject: String,
        /// The version.
        version: u32,
        /// What the parser said.
        message: String,
    },
    /// Versions and ids start at 1.
    #[error("version {version} of {subject:?} with id {id}: versions and ids start at 1")]
    Zero {
        /// The subject.
        subject: String,
        /// The version.
        version: u32,
        /// The id.
        id: SchemaId,
    },
    /// The entry references a version that is not there (yet: restoring retries it once the
    /// other entries are applied).
    #[error("version {version} of {subject:?}: {message}")]
    MissingReference {
        /// The subject.
        subject: String,
        /// The version.
        version: u32,
        /// Which reference is missing.
        message: String,
    },
    /// The id already names a different schema.
    #[error("id {id} already names another schema than version {version} of {subject:?}")]
    IdConflict {
        /// The subject.
        subject: String,
        /// The version.
        version: u32,
        /// The id.
        id: SchemaId,
    },
}

#[derive(Debug)]
pub(crate) struct Stored {
    /// The text as first registered: what clients get back for the id.
    pub(crate) text: String,
    /// Self-contained: the types of its references written out.
    pub(crate) parsed: Schema,
    /// The schemas whose types it uses.
    pub(crate) references: Vec<SchemaReference>,
    /// The identity key (see [`identity`]).
    pub(crate) identity: String,
}

#[derive(Debug, Default)]
pub(crate) struct Subject {
    /// Live versions, by number.
    pub(crate) versions: BTreeMap<u32, SchemaId>,
    /// Soft-deleted versions: not listed, their ids still resolve, until deleted for good.
    pub(crate) deleted: BTreeMap<u32, SchemaId>,
    /// The highest version stored, soft-deleted ones included: version numbers are not
    /// reused until a permanent delete, as in Confluent.
    pub(crate) highest: u32,
    /// The subject's own compatibility level, over the global one.
    pub(crate) compatibility: Option<Compatibility>,
    /// The subject's own mode, over the global one.
    pub(crate) mode: Option<crate::Mode>,
}

/// The registry's state: schemas by global id, subjects with versions, the compatibility
/// level.
///
/// One global id per distinct schema across subjects, as Confluent does: registering under a
/// second subject a schema that is already known gives the same id (and a version of its own
/// in that subject). Two texts are the same schema when they parse to the same Avro schema,
/// defaults, docs and aliases included (the Parsing Canonical Form drops defaults, which would
/// merge schemas that resolve data differently), and with the same references (a schema may
/// use the named types of other registered versions: see [`SchemaReference`]).
#[derive(Debug, Default)]
pub struct SchemaCatalog {
    pub(crate) schemas: BTreeMap<SchemaId, Stored>,
    pub(crate) ids_by_identity: HashMap<String, SchemaId>,
    pub(crate) subjects: BTreeMap<String, Subject>,
    pub(crate) compatibility: Compatibility,
    pub(crate) mode: crate::Mode,
    /// The highest id ever handed out, so a permanently deleted id is not given again while
    /// the registry runs.
    pub(crate) highest_id: u32,
}

/// Parses `schema` (without references), with its identity key: the full JSON apache-avro
/// writes for it, which ignores whitespace, key order and `"int"` versus `{"type":"int"}`, but
/// keeps defaults.
pub(crate) fn parse(schema: &str) -> Result<(Schema, String), String> {
    let parsed = Schema::parse_str(schema).map_err(|error| error.to_string())?;
    let identity = identity(&parsed);
    Ok((parsed, identity))
}

/// Why a schema with references does not parse.
#[derive(Debug)]
pub(crate) enum ParseError {
    /// A reference names a version that is not there.
    MissingReference(String),
    /// The schema (with its references' types) is not valid Avro.
    Invalid(String),
}

impl ParseError {
    pub(crate) fn message(self) -> String {
        match self {
            Self::MissingReference(message) | Self::Invalid(message) => message,
        }
    }
}

fn identity(schema: &Schema) -> String {
    // Serialising a parsed schema to JSON cannot fail (string keys, JSON values); should it
    // ever, the canonical form still identifies the schema, only more coarsely.
    serde_json::to_string(schema).unwrap_or_else(|_| schema.canonical_form())
}

fn invalid(message: String) -> RegistryError {
    RegistryError::InvalidSchema { message }
}

fn invalid_parse(error: ParseError) -> RegistryError {
    invalid(error.message())
}

impl SchemaCatalog {
    /// An empty catalog checking BACKWARD compatibility.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty catalog with the given compatibility level.
    pub fn with_compatibility(compatibility: Compatibility) -> Self {
        Self {
            compatibility,
            ..Self::default()
        }
    }

    /// The compatibility level new versions are checked against.
    pub fn compatibility(&self) -> Compatibility {
        self.compatibility
    }

    /// Sets the compatibility level for versions registered from now on.
    pub fn set_compatibility(&mut self, compatibility: Compatibility) {
        self.compatibility = compatibility;
    }

    /// How many distinct schemas (global ids) the catalog holds.
    pub fn schema_count(&self) -> usize {
        self.schemas.len()
    }

    /// The texts of the schemas `references` name, transitively, each one's own references
    /// before it, once per reference name (as Confluent resolves them). Soft-deleted versions
    /// count with `include_deleted` (reading what is stored), not for a new registration.
    pub(crate) fn referenced_texts(
        &self,
        references: &[SchemaReference],
        include_deleted: bool,
    ) -> Result<Vec<String>, ParseError> {
        let mut texts = Vec::new();
        let mut visited = std::collections::HashSet::new();
        self.collect_referenced(references, include_deleted, &mut visited, &mut texts)?;
        Ok(texts)
    }

    fn collect_referenced(
        &self,
        references: &[SchemaReference],
        include_deleted: bool,
        visited: &mut std::collections::HashSet<String>,
        texts: &mut Vec<String>,
    ) -> Result<(), ParseError> {
        for reference in references {
            let id = self.subjects.get(&reference.subject).and_then(|subject| {
                subject.versions.get(&reference.version).or_else(|| {
                    include_deleted
                        .then(|| subject.deleted.get(&reference.version))
                        .flatten()
                })
            });
            let stored = id.and_then(|id| self.schemas.get(id)).ok_or_else(|| {
                ParseError::MissingReference(format!(
                    "No schema reference found for subject \"{}\" and version {}",
                    reference.subject, reference.version
                ))
            })?;
            // Marked before recursing, so a cycle of references ends.
            if !visited.insert(reference.name.clone()) {
                continue;
            }
            self.collect_referenced(&stored.references, include_deleted, visited, texts)?;
            texts.push(stored.text.clone());
        }
        Ok(())
    }

    /// Parses `schema` with the types of its references: the self-contained schema and its
    /// identity key (the schema's own form and its references: the same text with other
    /// references is another schema, as in Confluent).
    pub(crate) fn parse_referencing(
        &self,
        schema: &str,
        references: &[SchemaReference],
        include_deleted: bool,
    ) -> Result<(Schema, String), ParseError> {
        if references.is_empty() {
            return parse(schema).map_err(ParseError::Invalid);
        }
        let texts = self.referenced_texts(references, include_deleted)?;
        let parsed = reference::parse(schema, &texts).map_err(ParseError::Invalid)?;
        let listed = serde_json::to_string(references).unwrap_or_default();
        let identity = format!("{}\u{0}{listed}", identity(&parsed.own));
        Ok((parsed.standalone, identity))
    }

    /// Decides what registering `schema` (using the types of `references`) under `subject`
    /// comes to, without changing anything: the existing version if the subject has the schema
    /// already, else a new entry (next version, the schema's id if known under another
    /// subject, else the next id) once the schema passed the compatibility check.
    pub fn prepare(
        &self,
        subject: &str,
        schema: &str,
        references: &[SchemaReference],
    ) -> Result<Registration, RegistryError> {
        let (parsed, identity) = self
            .parse_referencing(schema, references, false)
            .map_err(invalid_parse)?;
        let known = self.ids_by_identity.get(&identity).copied();
        let entry = self.subjects.get(subject);
        if let (Some(id), Some(entry)) = (known, entry) {
            if let Some((&version, _)) = entry.versions.iter().find(|(_, &v)| v == id) {
                return self.version(subject, version).map(Registration::Existing);
            }
        }
        let report = self.check_against(subject, &parsed, self.checked_versions(subject));
        if let Some(message) = report.messages.into_iter().next() {
            return Err(RegistryError::Incompatible {
                subject: subject.to_string(),
                message,
            });
        }
        let id = known.unwrap_or_else(|| self.next_id());
        Ok(Registration::New(SchemaEntry {
            subject: subject.to_string(),
            version: entry.map_or(0, |e| e.highest) + 1,
            id,
            schema: schema.to_string(),
            references: references.to_vec(),
            deleted: false,
        }))
    }

    /// Registers `schema` (without references) under `subject` in memory.
    pub fn register(&mut self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError> {
        self.register_with_references(subject, schema, &[])
    }

    /// Registers `schema` using the types of `references` under `subject` in memory:
    /// [`Self::prepare`] then [`Self::apply`].
    pub fn register_with_references(
        &mut self,
        subject: &str,
        schema: &str,
        references: &[SchemaReference],
    ) -> Result<SchemaId, RegistryError> {
        match self.prepare(subject, schema, references)? {
            Registration::Existing(version) => Ok(version.id),
            Registration::New(entry) => {
                let id = entry.id;
                // A prepared entry parses and names a fresh id or the same schema's.
                self.apply(entry)
                    .map_err(|error| invalid(error.to_string()))?;
                Ok(id)
            }
        }
    }

    /// Applies a stored entry as it is, without a compatibility check: the decision was made
    /// when it was stored. Restoring replays entries in the order they were stored; an entry
    /// for a version that exists replaces it, as a later record of the same key does.
    pub fn apply(&mut self, entry: SchemaEntry) -> Result<(), ApplyError> {
        let SchemaEntry {
            subject,
            version,
            id,
            schema,
            references,
            deleted,
        } = entry;
        if version == 0 || id.0 == 0 {
            return Err(ApplyError::Zero {
                subject,
                version,
                id,
            });
        }
        let (parsed, identity) = match self.parse_referencing(&schema, &references, true) {
            Ok(parsed) => parsed,
            Err(ParseError::Invalid(message)) => {
                return Err(ApplyError::InvalidSchema {
                    subject,
                    version,
                    message,
                })
            }
            Err(ParseError::MissingReference(message)) => {
                return Err(ApplyError::MissingReference {
                    subject,
                    version,
                    message,
                })
            }
        };
        match self.schemas.get(&id) {
            Some(stored) if stored.identity != identity => {
                return Err(ApplyError::IdConflict {
                    subject,
                    version,
                    id,
                })
            }
            Some(_) => {}
            None => {
                // Should two ids hold one schema (a store written elsewhere), the first wins
                // for registration; both still resolve.
                self.ids_by_identity.entry(identity.clone()).or_insert(id);
                self.schemas.insert(
                    id,
                    Stored {
                        text: schema,
                        parsed,
                        references,
                        identity,
                    },
                );
            }
        }
        self.highest_id = self.highest_id.max(id.0);
        let entry = self.subjects.entry(subject).or_default();
        entry.highest = entry.highest.max(version);
        if deleted {
            entry.versions.remove(&version);
            entry.deleted.insert(version, id);
        } else {
            entry.deleted.remove(&version);
            entry.versions.insert(version, id);
        }
        Ok(())
    }

    /// The schema with this global id.
    pub fn schema(&self, id: SchemaId) -> Result<&str, RegistryError> {
        self.schemas
            .get(&id)
            .map(|stored| stored.text.as_str())
            .ok_or(RegistryError::SchemaNotFound { id })
    }

    /// The references of the schema with this id (empty for most).
    pub fn schema_references(&self, id: SchemaId) -> Result<&[SchemaReference], RegistryError> {
        self.schemas
            .get(&id)
            .map(|stored| stored.references.as_slice())
            .ok_or(RegistryError::SchemaNotFound { id })
    }

    /// The schema with this id as one self-contained text: as registered without references;
    /// with them, with the types they define written out where first used (what a decoder
    /// parses, having no registry to ask for the references).
    pub fn standalone_schema(&self, id: SchemaId) -> Result<String, RegistryError> {
        let stored = self
            .schemas
            .get(&id)
            .ok_or(RegistryError::SchemaNotFound { id })?;
        if stored.references.is_empty() {
            return Ok(stored.text.clone());
        }
        Ok(reference::standalone_text(&stored.parsed))
    }

    /// The ids of the schemas that reference version `version` of `subject`, ascending: those
    /// with a live version, and with `include_deleted` those with soft-deleted ones only too.
    pub fn referenced_by(
        &self,
        subject: &str,
        version: u32,
        include_deleted: bool,
    ) -> Vec<SchemaId> {
        self.schemas
            .iter()
            .filter(|(_, stored)| {
                stored
                    .references
                    .iter()
                    .any(|r| r.subject == subject && r.version == version)
            })
            .map(|(&id, _)| id)
            .filter(|&id| include_deleted || self.is_live(id))
            .collect()
    }

    /// Whether some subject holds the schema with this id in a live version.
    fn is_live(&self, id: SchemaId) -> bool {
        self.subjects
            .values()
            .any(|subject| subject.versions.values().any(|&v| v == id))
    }

    /// Every (subject, version) that holds the schema with this id.
    pub fn subject_versions_of(&self, id: SchemaId) -> Result<Vec<(String, u32)>, RegistryError> {
        self.schema(id)?;
        Ok(self
            .subjects
            .iter()
            .flat_map(|(name, subject)| {
                subject
                    .versions
                    .iter()
                    .filter(move |(_, &v)| v == id)
                    .map(move |(&version, _)| (name.clone(), version))
            })
            .collect())
    }

    /// Every subject with at least one version, sorted.
    pub fn subjects(&self) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(_, subject)| !subject.versions.is_empty())
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn subject(&self, subject: &str) -> Result<&Subject, RegistryError> {
        self.subjects
            .get(subject)
            .filter(|s| !s.versions.is_empty())
            .ok_or_else(|| RegistryError::SubjectNotFound {
                subject: subject.to_string(),
            })
    }

    /// The versions of `subject`, ascending.
    pub fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        Ok(self.subject(subject)?.versions.keys().copied().collect())
    }

    /// Version `version` of `subject`.
    pub fn version(&self, subject: &str, version: u32) -> Result<SubjectVersion, RegistryError> {
        let id = *self
            .subject(subject)?
            .versions
            .get(&version)
            .ok_or_else(|| RegistryError::VersionNotFound {
                subject: subject.to_string(),
                version,
            })?;
        Ok(SubjectVersion {
            subject: subject.to_string(),
            version,
            id,
            schema: self.schema(id)?.to_string(),
            references: self.schema_references(id)?.to_vec(),
        })
    }

    /// Version `version` of `subject`, live or soft-deleted (what a referrer's references
    /// name).
    pub fn version_including_deleted(
        &self,
        subject: &str,
        version: u32,
    ) -> Result<SubjectVersion, RegistryError> {
        let entry = self
            .subjects
            .get(subject)
            .filter(|s| !s.versions.is_empty() || !s.deleted.is_empty())
            .ok_or_else(|| RegistryError::SubjectNotFound {
                subject: subject.to_string(),
            })?;
        let id = *entry
            .versions
            .get(&version)
            .or_else(|| entry.deleted.get(&version))
            .ok_or_else(|| RegistryError::VersionNotFound {
                subject: subject.to_string(),
                version,
            })?;
        Ok(SubjectVersion {
            subject: subject.to_string(),
            version,
            id,
            schema: self.schema(id)?.to_string(),
            references: self.schema_references(id)?.to_vec(),
        })
    }

    /// The latest version of `subject`.
    pub fn latest(&self, subject: &str) -> Result<SubjectVersion, RegistryError> {
        let (&version, _) = self
            .subject(subject)?
            .versions
            .last_key_value()
            .ok_or_else(|| RegistryError::SubjectNotFound {
                subject: subject.to_string(),
            })?;
        self.version(subject, version)
    }

    /// The version a selector names.
    pub fn select(
        &self,
        subject: &str,
        selector: VersionSelector,
    ) -> Result<SubjectVersion, RegistryError> {
        match selector {
            VersionSelector::Number(version) => self.version(subject, version),
            VersionSelector::Latest => self.latest(subject),
        }
    }

    /// The version of `subject` holding `schema` with these references, if it is registered
    /// there; otherwise [`RegistryError::SchemaNotFound`] (with id 0: the schema has no id
    /// here).
    pub fn lookup(
        &self,
        subject: &str,
        schema: &str,
        references: &[SchemaReference],
    ) -> Result<SubjectVersion, RegistryError> {
        let (_, identity) = self
            .parse_referencing(schema, references, true)
            .map_err(invalid_parse)?;
        let versions = &self.subject(subject)?.versions;
        let id = self.ids_by_identity.get(&identity);
        match versions.iter().find(|(_, v)| Some(*v) == id) {
            Some((&version, _)) => self.version(subject, version),
            None => Err(RegistryError::SchemaNotFound { id: SchemaId(0) }),
        }
    }

    /// Checks `schema` against the version `against` names, under the catalog's level (but
    /// against that one version only, as Confluent's `POST /compatibility/.../versions/{v}`).
    pub fn check_compatibility(
        &self,
        subject: &str,
        against: VersionSelector,
        schema: &str,
        references: &[SchemaReference],
    ) -> Result<CompatibilityReport, RegistryError> {
        let (parsed, _) = self
            .parse_referencing(schema, references, false)
            .map_err(invalid_parse)?;
        let old = self.select(subject, against)?;
        Ok(self.check_against(subject, &parsed, vec![(old.version, old.id)]))
    }

    /// Checks `schema` against the versions the catalog's level names (the latest, or all for a
    /// transitive level), as registering would; an unknown subject accepts anything.
    pub fn check_registration(
        &self,
        subject: &str,
        schema: &str,
        references: &[SchemaReference],
    ) -> Result<CompatibilityReport, RegistryError> {
        let (parsed, _) = self
            .parse_referencing(schema, references, false)
            .map_err(invalid_parse)?;
        Ok(self.check_against(subject, &parsed, self.checked_versions(subject)))
    }

    /// The level `subject` is checked at: its own, else the global one.
    pub fn subject_compatibility(&self, subject: &str) -> Compatibility {
        self.subjects
            .get(subject)
            .and_then(|s| s.compatibility)
            .unwrap_or(self.compatibility)
    }

    /// The versions a new schema of `subject` is checked against, newest first.
    fn checked_versions(&self, subject: &str) -> Vec<(u32, SchemaId)> {
        let Some(entry) = self.subjects.get(subject) else {
            return Vec::new();
        };
        let newest_first = entry.versions.iter().rev().map(|(&v, &id)| (v, id));
        if self.subject_compatibility(subject).is_transitive() {
            newest_first.collect()
        } else {
            newest_first.take(1).collect()
        }
    }

    fn check_against(
        &self,
        subject: &str,
        new: &Schema,
        versions: Vec<(u32, SchemaId)>,
    ) -> CompatibilityReport {
        let level = self.subject_compatibility(subject);
        let messages = versions
            .into_iter()
            .filter_map(|(version, id)| {
                let old = &self.schemas.get(&id)?.parsed;
                level.check(new, old, version).err()
            })
            .collect();
        CompatibilityReport { messages }
    }

    pub(crate) fn next_id(&self) -> SchemaId {
        let stored = self.schemas.last_key_value().map_or(0, |(id, _)| id.0);
        SchemaId(stored.max(self.highest_id) + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
    const V1_SPACED: &str = r#"{ "name": "R", "type": "record", "fields": [ {"type": {"type": "int"}, "name": "a"} ] }"#;
    const V2: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}]}"#;
    const V2_OTHER_DEFAULT: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":"y"}]}"#;
    const V3_DROPS_B_ADDS_C: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"c","type":"long"}]}"#;

    #[test]
    fn registering_is_idempotent_and_ids_are_global() {
        let mut catalog = SchemaCatalog::new();
        let id = catalog.register("t-value", V1).unwrap();
        assert_eq!(id, SchemaId(1));
        assert_eq!(catalog.register("t-value", V1).unwrap(), id);
        // The same schema, written differently, is the same schema.
        assert_eq!(catalog.register("t-value", V1_SPACED).unwrap(), id);
        assert_eq!(catalog.register("u-value", V1).unwrap(), id);
        assert_eq!(catalog.versions("t-value").unwrap(), vec![1]);
        assert_eq!(catalog.versions("u-value").unwrap(), vec![1]);
        assert_eq!(catalog.schema(id).unwrap(), V1);
        assert_eq!(
            catalog.subject_versions_of(id).unwrap(),
            vec![("t-value".to_string(), 1), ("u-value".to_string(), 1)]
        );
    }

    #[test]
    fn a_different_default_is_a_different_schema() {
        let mut catalog = SchemaCatalog::with_compatibility(Compatibility::None);
        let first = catalog.register("s", V2).unwrap();
        let second = catalog.register("s", V2_OTHER_DEFAULT).unwrap();
        assert_ne!(first, second);
        assert_eq!(catalog.versions("s").unwrap(), vec![1, 2]);
    }

    #[test]
    fn an_earlier_version_registered_again_keeps_its_version() {
        let mut catalog = SchemaCatalog::new();
        let id1 = catalog.register("s", V1).unwrap();
        catalog.register("s", V2).unwrap();
        assert_eq!(catalog.register("s", V1).unwrap(), id1);
        assert_eq!(catalog.versions("s").unwrap(), vec![1, 2]);
        assert_eq!(catalog.lookup("s", V1, &[]).unwrap().version, 1);
        assert_eq!(catalog.latest("s").unwrap().version, 2);
    }

    #[test]
    fn incompatible_schemas_are_refused_with_the_field_and_rule() {
        let mut catalog = SchemaCatalog::new();
        catalog.register("s", V1).unwrap();
        catalog.register("s", V2).unwrap();
        // Backward against the latest (v2) only: dropping b is fine, adding c without a
        // default is not.
        match catalog.register("s", V3_DROPS_B_ADDS_C) {
            Err(RegistryError::Incompatible { subject, message }) => {
                assert_eq!(subject, "s");
                assert!(message.contains("'c'"), "{message}");
                assert!(message.contains("BACKWARD"), "{message}");
                assert!(message.contains("version 2"), "{message}");
            }
            other => panic!("expected Incompatible, got {other:?}"),
        }
        assert_eq!(catalog.versions("s").unwrap(), vec![1, 2]);
    }

    #[test]
    fn transitive_levels_check_every_version() {
        // b loses its default: v2's data has b, v1's does not.
        const V3_B_REQUIRED: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}"#;
        let mut latest_only = SchemaCatalog::new();
        let mut transitive = SchemaCatalog::with_compatibility(Compatibility::BackwardTransitive);
        for catalog in [&mut latest_only, &mut transitive] {
            catalog.register("s", V1).unwrap();
            catalog.register("s", V2).unwrap();
        }
        assert!(latest_only
            .check_registration("s", V3_B_REQUIRED, &[])
            .unwrap()
            .is_compatible());
        let report = transitive
            .check_registration("s", V3_B_REQUIRED, &[])
            .unwrap();
        assert_eq!(report.messages.len(), 1, "{:?}", report.messages);
        assert!(
            report.messages[0].contains("version 1"),
            "{:?}",
            report.messages
        );
        assert!(
            report.messages[0].contains("BACKWARD_TRANSITIVE"),
            "{:?}",
            report.messages
        );
    }

    #[test]
    fn the_compatibility_check_targets_one_version() {
        let mut catalog = SchemaCatalog::new();
        catalog.register("s", V1).unwrap();
        catalog.register("s", V2).unwrap();
        let ok = catalog
            .check_compatibility("s", VersionSelector::Number(1), V2_OTHER_DEFAULT, &[])
            .unwrap();
        assert!(ok.is_compatible());
        let bad = catalog
            .check_compatibility("s", VersionSelector::Latest, V3_DROPS_B_ADDS_C, &[])
            .unwrap();
        assert!(!bad.is_compatible());
        assert!(matches!(
            catalog.check_compatibility("s", VersionSelector::Number(9), V1, &[]),
            Err(RegistryError::VersionNotFound { version: 9, .. })
        ));
        assert!(matches!(
            catalog.check_compatibility("nope", VersionSelector::Latest, V1, &[]),
            Err(RegistryError::SubjectNotFound { .. })
        ));
    }

    #[test]
    fn prepare_changes_nothing_until_applied() {
        let mut catalog = SchemaCatalog::new();
        let Registration::New(entry) = catalog.prepare("s", V1, &[]).unwrap() else {
            panic!("a new subject's first schema is new");
        };
        assert_eq!((entry.version, entry.id), (1, SchemaId(1)));
        assert!(catalog.subjects().is_empty());
        catalog.apply(entry).unwrap();
        assert!(matches!(
            catalog.prepare("s", V1, &[]).unwrap(),
            Registration::Existing(SubjectVersion { version: 1, .. })
        ));
    }

    #[test]
    fn applied_entries_restore_ids_versions_and_what_comes_next() {
        let mut catalog = SchemaCatalog::new();
        for (subject, version, id, schema) in [("a", 1, 4, V1), ("b", 1, 9, V2), ("a", 2, 9, V2)] {
            catalog
                .apply(SchemaEntry {
                    subject: subject.into(),
                    version,
                    id: SchemaId(id),
                    schema: schema.into(),
                    references: Vec::new(),
                    deleted: false,
                })
                .unwrap();
        }
        assert_eq!(catalog.subjects(), vec!["a", "b"]);
        assert_eq!(catalog.latest("a").unwrap().id, SchemaId(9));
        assert_eq!(catalog.register("b", V1).unwrap(), SchemaId(4));
        // New ids continue after the highest one stored.
        assert_eq!(
            catalog.register("c", V2_OTHER_DEFAULT).unwrap(),
            SchemaId(10)
        );
    }

    #[test]
    fn deleted_versions_are_hidden_but_never_reused() {
        let mut catalog = SchemaCatalog::new();
        catalog.register("s", V1).unwrap();
        catalog
            .apply(SchemaEntry {
                subject: "s".into(),
                version: 2,
                id: SchemaId(2),
                schema: V2.into(),
                references: Vec::new(),
                deleted: true,
            })
            .unwrap();
        assert_eq!(catalog.versions("s").unwrap(), vec![1]);
        assert_eq!(catalog.schema(SchemaId(2)).unwrap(), V2);
        let Registration::New(entry) = catalog.prepare("s", V2_OTHER_DEFAULT, &[]).unwrap() else {
            panic!("not registered yet");
        };
        assert_eq!(entry.version, 3);
    }

    #[test]
    fn bad_entries_are_refused_without_changing_anything() {
        let mut catalog = SchemaCatalog::new();
        catalog.register("s", V1).unwrap();
        let entry = |version, id, schema: &str| SchemaEntry {
            subject: "s".into(),
            version,
            id: SchemaId(id),
            schema: schema.into(),
            references: Vec::new(),
            deleted: false,
        };
        assert!(matches!(
            catalog.apply(entry(2, 1, V2)),
            Err(ApplyError::IdConflict { .. })
        ));
        assert!(matches!(
            catalog.apply(entry(2, 2, "{nope")),
            Err(ApplyError::InvalidSchema { .. })
        ));
        assert!(matches!(
            catalog.apply(entry(0, 2, V2)),
            Err(ApplyError::Zero { .. })
        ));
        assert_eq!(catalog.versions("s").unwrap(), vec![1]);
        assert_eq!(catalog.schema_count(), 1);
    }

    #[test]
    fn unknown_things_are_typed_errors() {
        let mut catalog = SchemaCatalog::new();
        assert!(matches!(
            catalog.schema(SchemaId(7)),
            Err(RegistryError::SchemaNotFound { .. })
        ));
        assert!(matches!(
            catalog.versions("nope"),
            Err(RegistryError::SubjectNotFound { .. })
        ));
        assert!(matches!(
            catalog.latest("nope"),
            Err(RegistryError::SubjectNotFound { .. })
        ));
        catalog.register("s", V1).unwrap();
        assert!(matches!(
            catalog.version("s", 2),
            Err(RegistryError::VersionNotFound { .. })
        ));
        assert!(matches!(
            catalog.lookup("s", V2, &[]),
            Err(RegistryError::SchemaNotFound { .. })
        ));
        assert!(matches!(
            catalog.register("s", "{not json"),
            Err(RegistryError::InvalidSchema { .. })
        ));
    }

    #[test]
    fn version_selectors_parse_as_confluent_does() {
        assert_eq!("latest".parse(), Ok(VersionSelector::Latest));
        assert_eq!("-1".parse(), Ok(VersionSelector::Latest));
        assert_eq!("3".parse(), Ok(VersionSelector::Number(3)));
        for bad in ["0", "-2", "abc", "", "2147483648", "1.5"] {
            assert!(bad.parse::<VersionSelector>().is_err(), "{bad}");
        }
    }
}
