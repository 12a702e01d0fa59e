//! What operators change besides registering, with Confluent's rules: per-subject
//! compatibility levels, soft then permanent deletes, modes (READWRITE, READONLY, IMPORT) and
//! imports with their own ids.
//!
//! Each operation is decided first on the catalog as it is (returning the [`Change`]s to store,
//! or a [`Refusal`] with Confluent's error code), stored, then applied with
//! [`SchemaCatalog::apply_change`], as registrations are.

use std::fmt;
use std::str::FromStr;

use crate::{Compatibility, SchemaCatalog, SchemaEntry, SchemaReference, VersionSelector};
use transit_core::codec::{RegistryError, SchemaId};

/// Confluent's modes: whether a subject (or the registry) takes writes, and imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// Registrations, deletes and configuration changes are taken (the default).
    #[default]
    ReadWrite,
    /// Nothing changes but the mode itself.
    ReadOnly,
    /// Registrations give their own id and version (copying another registry); no
    /// compatibility check.
    Import,
}

impl Mode {
    /// Confluent's name, e.g. `READWRITE`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ReadWrite => "READWRITE",
            Self::ReadOnly => "READONLY",
            Self::Import => "IMPORT",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A mode name that is not one of Confluent's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid mode. Valid values are READWRITE, READONLY, and IMPORT, not {0:?}")]
pub struct InvalidMode(pub String);

impl FromStr for Mode {
    type Err = InvalidMode;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_uppercase().as_str() {
            "READWRITE" => Ok(Self::ReadWrite),
            "READONLY" => Ok(Self::ReadOnly),
            "IMPORT" => Ok(Self::Import),
            _ => Err(InvalidMode(text.to_string())),
        }
    }
}

/// One stored change of the registry, as a record of the schemas topic holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A version, new or soft-deleted (`deleted`): a `SCHEMA` record.
    Schema(SchemaEntry),
    /// A soft-deleted version deleted for good: a tombstone of its `SCHEMA` key.
    RemoveVersion {
        /// The subject.
        subject: String,
        /// The version.
        version: u32,
    },
    /// Every version of `subject` up to `version` soft-deleted: a `DELETE_SUBJECT` record.
    DeleteSubject {
        /// The subject.
        subject: String,
        /// The highest version deleted.
        version: u32,
    },
    /// The subject's `DELETE_SUBJECT` record removed (a tombstone), once its versions are
    /// deleted for good.
    ForgetDeleteSubject {
        /// The subject.
        subject: String,
    },
    /// A compatibility level set (`Some`) or removed (`None`), of a subject or the global one
    /// (`subject: None`): a `CONFIG` record or its tombstone.
    Config {
        /// The subject, or `None` for the global level.
        subject: Option<String>,
        /// The level.
        compatibility: Option<Compatibility>,
    },
    /// A mode set or removed, of a subject or the global one: a `MODE` record or its
    /// tombstone.
    Mode {
        /// The subject, or `None` for the global mode.
        subject: Option<String>,
        /// The mode.
        mode: Option<Mode>,
    },
}

/// Why an operation is refused, with Confluent's error code ([`Refusal::code`]) and HTTP
/// status ([`Refusal::status`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// What a registration or a lookup can fail with (40401, 40402, 40403, 409, 42201...).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// 40404: the subject's versions are all soft-deleted already.
    #[error("Subject '{0}' was soft deleted.Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    /// 40405: a permanent delete of a subject with live versions.
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    /// 40406: the version is soft-deleted already.
    #[error("Subject '{subject}' Version {version} was soft deleted.Set permanent=true to delete permanently")]
    VersionSoftDeleted {
        /// The subject.
        subject: String,
        /// The version.
        version: u32,
    },
    /// 40407: a permanent delete of a live version.
    #[error("Subject '{subject}' Version {version} was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted {
        /// The subject.
        subject: String,
        /// The version.
        version: u32,
    },
    /// 40408: no level of the subject's own.
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    NoSubjectCompatibility(String),
    /// 40409: no mode of the subject's own.
    #[error("Subject '{0}' does not have subject-level mode configured")]
    NoSubjectMode(String),
    /// 42205: the subject (or registry) is read-only, or the operation needs another mode.
    #[error("{0}")]
    NotPermitted(String),
    /// 42206: other schemas reference this version, so it cannot be deleted (Confluent names
    /// the version by its key).
    #[error("One or more references exist to the schema {{magic=1,keytype=SCHEMA,subject={subject},version={version}}}.")]
    ReferenceExists {
        /// The subject.
        subject: String,
        /// The version referenced.
        version: u32,
    },
}

impl Refusal {
    /// Confluent's error code.
    pub fn code(&self) -> u32 {
        match self {
            Self::Registry(RegistryError::SubjectNotFound { .. }) => 40401,
            Self::Registry(RegistryError::VersionNotFound { .. }) => 40402,
            Self::Registry(RegistryError::SchemaNotFound { .. }) => 40403,
            Self::Registry(RegistryError::Incompatible { .. }) => 409,
            Self::Registry(RegistryError::InvalidSchema { .. }) => 42201,
            Self::Registry(_) => 50001,
            Self::SubjectSoftDeleted(_) => 40404,
            Self::SubjectNotSoftDeleted(_) => 40405,
            Self::VersionSoftDeleted { .. } => 40406,
            Self::VersionNotSoftDeleted { .. } => 40407,
            Self::NoSubjectCompatibility(_) => 40408,
            Self::NoSubjectMode(_) => 40409,
            Self::NotPermitted(_) => 42205,
            Self::ReferenceExists { .. } => 42206,
        }
    }

    /// The HTTP status Confluent answers with: the code's first three digits.
    pub fn status(&self) -> u16 {
        let code = self.code();
        if code >= 10_000 {
            (code / 100) as u16
        } else {
            code as u16
        }
    }
}

fn subject_not_found(subject: &str) -> Refusal {
    Refusal::Registry(RegistryError::SubjectNotFound {
        subject: subject.to_string(),
    })
}

fn version_not_found(subject: &str, version: u32) -> Refusal {
    Refusal::Registry(RegistryError::VersionNotFound {
        subject: subject.to_string(),
        version,
    })
}

impl SchemaCatalog {
    /// The global mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The mode `subject` is in: its own, else the global one.
    pub fn subject_mode(&self, subject: &str) -> Mode {
        self.subjects
            .get(subject)
            .and_then(|s| s.mode)
            .unwrap_or(self.mode)
    }

    /// The subject's own mode, if it has one.
    pub fn own_mode(&self, subject: &str) -> Option<Mode> {
        self.subjects.get(subject).and_then(|s| s.mode)
    }

    /// The subject's own compatibility level, if it has one.
    pub fn own_compatibility(&self, subject: &str) -> Option<Compatibility> {
        self.subjects.get(subject).and_then(|s| s.compatibility)
    }

    /// Refused unless `subject` takes changes (not READONLY).
    pub fn check_writable(&self, subject: Option<&str>) -> Result<(), Refusal> {
        let mode = subject.map_or(self.mode, |s| self.subject_mode(s));
        if mode == Mode::ReadOnly {
            return Err(Refusal::NotPermitted(match subject {
                Some(subject) => format!("Subject {subject} is in read-only mode"),
                None => "The registry is in read-only mode".to_string(),
            }));
        }
        Ok(())
    }

    /// Every subject with a live version, and with `deleted` those with soft-deleted ones
    /// only too, sorted.
    pub fn subjects_with_deleted(&self, deleted: bool) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(_, s)| !s.versions.is_empty() || (deleted && !s.deleted.is_empty()))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The versions of `subject`, soft-deleted ones too with `deleted`, ascending.
    pub fn versions_with_deleted(
        &self,
        subject: &str,
        deleted: bool,
    ) -> Result<Vec<u32>, RegistryError> {
        let entry = self
            .subjects
            .get(subject)
            .filter(|s| !s.versions.is_empty() || (deleted && !s.deleted.is_empty()))
            .ok_or_else(|| RegistryError::SubjectNotFound {
                subject: subject.to_string(),
            })?;
        let mut versions: Vec<u32> = entry.versions.keys().copied().collect();
        if deleted {
            versions.extend(entry.deleted.keys().copied());
            versions.sort_unstable();
        }
        Ok(versions)
    }

    /// Decides `DELETE /subjects/{subject}` (`permanent`: `?permanent=true`): the versions it
    /// deletes and the changes to store.
    pub fn prepare_delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<(Vec<u32>, Vec<Change>), Refusal> {
        let entry = self
            .subjects
            .get(subject)
            .filter(|s| !s.versions.is_empty() || !s.deleted.is_empty())
            .ok_or_else(|| subject_not_found(subject))?;
        self.check_writable(Some(subject))?;
        if permanent {
            // As Confluent, version by version: referenced from another subject, then live.
            let mut all: Vec<u32> = entry
                .versions
                .keys()
                .chain(entry.deleted.keys())
                .copied()
                .collect();
            all.sort_unstable();
            for version in all {
                self.check_unreferenced_by_others(subject, version, true)?;
                if entry.versions.contains_key(&version) {
                    return Err(Refusal::SubjectNotSoftDeleted(subject.to_string()));
                }
            }
            let versions: Vec<u32> = entry.deleted.keys().copied().collect();
            let mut changes: Vec<Change> = versions
                .iter()
                .map(|&version| Change::RemoveVersion {
                    subject: subject.to_string(),
                    version,
                })
                .collect();
            changes.push(Change::ForgetDeleteSubject {
                subject: subject.to_string(),
            });
            return Ok((versions, changes));
        }
        let Some((&latest, _)) = entry.versions.last_key_value() else {
            return Err(Refusal::SubjectSoftDeleted(subject.to_string()));
        };
        let versions: Vec<u32> = entry.versions.keys().copied().collect();
        for &version in &versions {
            self.check_unreferenced_by_others(subject, version, false)?;
        }
        // As Confluent: the subject's own level and mode go with it.
        let mut changes = vec![Change::DeleteSubject {
            subject: subject.to_string(),
            version: latest,
        }];
        if entry.compatibility.is_some() {
            changes.push(Change::Config {
                subject: Some(subject.to_string()),
                compatibility: None,
            });
        }
        if entry.mode.is_some() {
            changes.push(Change::Mode {
                subject: Some(subject.to_string()),
                mode: None,
            });
        }
        Ok((versions, changes))
    }

    /// Decides `DELETE /subjects/{subject}/versions/{version}`: the version it deletes and the
    /// change to store. `latest` names the latest live version, or with `permanent` the latest
    /// of all.
    pub fn prepare_delete_version(
        &self,
        subject: &str,
        selector: VersionSelector,
        permanent: bool,
    ) -> Result<(u32, Change), Refusal> {
        let entry = self
            .subjects
            .get(subject)
            .filter(|s| !s.versions.is_empty() || !s.deleted.is_empty())
            .ok_or_else(|| subject_not_found(subject))?;
        self.check_writable(Some(subject))?;
        let version = match selector {
            VersionSelector::Number(n) => n,
            VersionSelector::Latest if permanent => entry
                .versions
                .keys()
                .chain(entry.deleted.keys())
                .copied()
                .max()
                .unwrap_or(0),
            VersionSelector::Latest => entry
                .versions
                .last_key_value()
                .map(|(&v, _)| v)
                .ok_or_else(|| version_not_found(subject, 0))?,
        };
        let live = entry.versions.get(&version).copied();
        let soft = entry.deleted.get(&version).copied();
        // Confluent refuses a referenced version before saying it is (not) soft-deleted; a
        // soft delete minds the referencing schemas that are live, a permanent one all.
        if (live.is_some() || (soft.is_some() && permanent))
            && !self.referenced_by(subject, version, permanent).is_empty()
        {
            return Err(Refusal::ReferenceExists {
                subject: subject.to_string(),
                version,
            });
        }
        match (live, soft, permanent) {
            (None, None, _) => Err(version_not_found(subject, version)),
            (Some(_), _, true) => Err(Refusal::VersionNotSoftDeleted {
                subject: subject.to_string(),
                version,
            }),
            (None, Some(_), false) => Err(Refusal::VersionSoftDeleted {
                subject: subject.to_string(),
                version,
            }),
            (None, Some(_), true) => Ok((
                version,
                Change::RemoveVersion {
                    subject: subject.to_string(),
                    version,
                },
            )),
            (Some(id), _, false) => Ok((
                version,
                Change::Schema(SchemaEntry {
                    subject: subject.to_string(),
                    version,
                    id,
                    schema: self.schema(id)?.to_string(),
                    references: self.schema_references(id)?.to_vec(),
                    deleted: true,
                }),
            )),
        }
    }

    /// Decides a registration in IMPORT mode: the id (and version, else the next one) are the
    /// request's; no compatibility check, as Confluent. The same schema at that id and version
    /// is no change.
    pub fn prepare_import(
        &self,
        subject: &str,
        schema: &str,
        references: &[SchemaReference],
        id: SchemaId,
        version: Option<u32>,
    ) -> Result<Option<SchemaEntry>, Refusal> {
        if self.subject_mode(subject) != Mode::Import {
            return Err(Refusal::NotPermitted(format!(
                "Subject {subject} is not in import mode: an id can only be given in IMPORT mode"
            )));
        }
        let (_, identity) = self
            .parse_referencing(schema, references, true)
            .map_err(|error| RegistryError::InvalidSchema {
                message: error.message(),
            })?;
        if id.0 == 0 {
            return Err(Refusal::NotPermitted("Schema ids start at 1".to_string()));
        }
        if let Some(stored) = self.schemas.get(&id) {
            if stored.identity != identity {
                return Err(Refusal::NotPermitted(format!(
                    "Overwrite new schema with id {id} is not permitted: the id names another schema"
                )));
            }
        }
        let entry = self.subjects.get(subject);
        let version = version.unwrap_or_else(|| entry.map_or(0, |e| e.highest) + 1);
        if version == 0 {
            return Err(Refusal::NotPermitted("Versions start at 1".to_string()));
        }
        let existing = entry.and_then(|e| e.versions.get(&version).or(e.deleted.get(&version)));
        match existing {
            Some(&existing) if existing == id => Ok(None),
            Some(_) => Err(Refusal::NotPermitted(format!(
                "Version {version} of subject {subject} already holds another schema"
            ))),
            None => Ok(Some(SchemaEntry {
                subject: subject.to_string(),
                version,
                id,
                schema: schema.to_string(),
                references: references.to_vec(),
                deleted: false,
            })),
        }
    }

    /// Refused (42206) if a schema held by another subject references version `version` of
    /// `subject`: a live one, or with `include_deleted` a soft-deleted one too.
    fn check_unreferenced_by_others(
        &self,
        subject: &str,
        version: u32,
        include_deleted: bool,
    ) -> Result<(), Refusal> {
        let elsewhere = self
            .referenced_by(subject, version, include_deleted)
            .into_iter()
            .any(|id| {
                self.subjects.iter().any(|(name, held)| {
                    name != subject
                        && (held.versions.values().any(|&v| v == id)
                            || (include_deleted && held.deleted.values().any(|&v| v == id)))
                })
            });
        if elsewhere {
            return Err(Refusal::ReferenceExists {
                subject: subject.to_string(),
                version,
            });
        }
        Ok(())
    }

    /// Decides setting the global mode: IMPORT only on an empty registry unless `force`d, as
    /// Confluent.
    pub fn prepare_mode(
        &self,
        subject: Option<&str>,
        mode: Mode,
        force: bool,
    ) -> Result<Change, Refusal> {
        if mode == Mode::Import && !force {
            let has_versions = match subject {
                Some(subject) => self
                    .subjects
                    .get(subject)
                    .is_some_and(|s| !s.versions.is_empty()),
                None => self.subjects.values().any(|s| !s.versions.is_empty()),
            };
            if has_versions {
                return Err(Refusal::NotPermitted(
                    "Cannot import since found existing subjects (set force=true to override)"
                        .to_string(),
                ));
            }
        }
        Ok(Change::Mode {
            subject: subject.map(str::to_string),
            mode: Some(mode),
        })
    }

    /// Applies a stored change as it is, as [`Self::apply`] does a version.
    pub fn apply_change(&mut self, change: Change) -> Result<(), crate::ApplyError> {
        match change {
            Change::Schema(entry) => return self.apply(entry),
            Change::RemoveVersion { subject, version } => {
                if let Some(entry) = self.subjects.get_mut(&subject) {
                    entry.versions.remove(&version);
                    entry.deleted.remove(&version);
                    entry.highest = entry
                        .versions
                        .keys()
                        .chain(entry.deleted.keys())
                        .copied()
                        .max()
                        .unwrap_or(0);
                }
                self.forget_unused_schemas();
            }
            Change::DeleteSubject { subject, version } => {
                if let Some(entry) = self.subjects.get_mut(&subject) {
                    let kept = entry.versions.split_off(&version.saturating_add(1));
                    let gone = std::mem::replace(&mut entry.versions, kept);
                    entry.deleted.extend(gone);
                }
            }
            Change::ForgetDeleteSubject { .. } => {}
            Change::Config {
                subject: None,
                compatibility,
            } => self.compatibility = compatibility.unwrap_or_default(),
            Change::Config {
                subject: Some(subject),
                compatibility,
            } => self.subjects.entry(subject).or_default().compatibility = compatibility,
            Change::Mode {
                subject: None,
                mode,
            } => self.mode = mode.unwrap_or_default(),
            Change::Mode {
                subject: Some(subject),
                mode,
            } => self.subjects.entry(subject).or_default().mode = mode,
        }
        Ok(())
    }

    /// Drops schemas no version (live or soft-deleted) holds any more: what a permanent delete
    /// leaves.
    fn forget_unused_schemas(&mut self) {
        let used: std::collections::HashSet<SchemaId> = self
            .subjects
            .values()
            .flat_map(|s| s.versions.values().chain(s.deleted.values()))
            .copied()
            .collect();
        let unused: Vec<SchemaId> = self
            .schemas
            .keys()
            .filter(|id| !used.contains(id))
            .copied()
            .collect();
        for id in unused {
            if let Some(stored) = self.schemas.remove(&id) {
                if self.ids_by_identity.get(&stored.identity) == Some(&id) {
                    self.ids_by_identity.remove(&stored.identity);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
    const V2: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}]}"#;
    const V3: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"c","type":"long"}]}"#;

    fn apply_all(catalog: &mut SchemaCatalog, changes: Vec<Change>) {
        for change in changes {
            catalog.apply_change(change).unwrap();
        }
    }

    #[test]
    fn soft_then_permanent_deletes_follow_confluents_rules() {
        let mut catalog = SchemaCatalog::new();
        let id1 = catalog.register("s", V1).unwrap();
        let id2 = catalog.register("s", V2).unwrap();
        // A permanent delete needs a soft one first.
        assert_eq!(
            catalog
                .prepare_delete_version("s", VersionSelector::Number(1), true)
                .unwrap_err()
                .code(),
            40407
        );
        let (version, change) = catalog
            .prepare_delete_version("s", VersionSelector::Number(1), false)
            .unwrap();
        assert_eq!(version, 1);
        catalog.apply_change(change).unwrap();
        assert_eq!(catalog.versions("s").unwrap(), vec![2]);
        // Still decodes old records by id.
        assert_eq!(catalog.schema(id1).unwrap(), V1);
        for (selector, permanent, code) in [
            (VersionSelector::Number(1), false, 40406),
            (VersionSelector::Number(9), false, 40402),
        ] {
            let refusal = catalog
                .prepare_delete_version("s", selector, permanent)
                .unwrap_err();
            assert_eq!(refusal.code(), code, "{refusal}");
        }
        assert_eq!(
            catalog
                .prepare_delete_subject("s", true)
                .unwrap_err()
                .code(),
            40405
        );
        let (deleted, changes) = catalog.prepare_delete_subject("s", false).unwrap();
        assert_eq!(deleted, vec![2]);
        apply_all(&mut catalog, changes);
        assert!(catalog.subjects().is_empty());
        assert_eq!(catalog.subjects_with_deleted(true), vec!["s"]);
        assert_eq!(
            catalog
                .prepare_delete_subject("s", false)
                .unwrap_err()
                .code(),
            40404
        );
        assert_eq!(
            catalog
                .prepare_delete_subject("t", false)
                .unwrap_err()
                .code(),
            40401
        );
        // Registering again takes the next version, with the same id for the same schema.
        let Registration::New(entry) = catalog.prepare("s", V2, &[]).unwrap() else {
            panic!("the subject's versions are deleted");
        };
        assert_eq!((entry.version, entry.id), (3, id2));
        let (deleted, changes) = catalog.prepare_delete_subject("s", true).unwrap();
        assert_eq!(deleted, vec![1, 2]);
        apply_all(&mut catalog, changes);
        assert!(catalog.schema(id1).is_err());
        assert_eq!(
            catalog
                .prepare_delete_subject("s", true)
                .unwrap_err()
                .code(),
            40401
        );
        // Ids are not handed out again.
        assert_eq!(catalog.register("s", V1).unwrap(), SchemaId(3));
    }

    use crate::Registration;

    const ADDRESS: &str = r#"{"type":"record","name":"Address","namespace":"org.example","fields":[{"name":"street","type":"string"}]}"#;
    const ADDRESS_V2: &str = r#"{"type":"record","name":"Address","namespace":"org.example","fields":[{"name":"street","type":"string"},{"name":"zip","type":"string","default":""}]}"#;
    const PERSON: &str = r#"{"type":"record","name":"Person","namespace":"org.example","fields":[{"name":"home","type":"Address"}]}"#;
    const COMPANY: &str = r#"{"type":"record","name":"Company","namespace":"org.example","fields":[{"name":"boss","type":"Person"},{"name":"office","type":"Address"}]}"#;

    fn reference(name: &str, subject: &str, version: u32) -> SchemaReference {
        SchemaReference {
            name: name.into(),
            subject: subject.into(),
            version,
        }
    }

    fn address_ref(version: u32) -> Vec<SchemaReference> {
        vec![reference("org.example.Address", "address", version)]
    }

    #[test]
    fn schemas_use_the_types_of_their_references_transitively() {
        let mut catalog = SchemaCatalog::new();
        let address = catalog.register("address", ADDRESS).unwrap();
        // Alone, a schema naming a type it does not define is not valid.
        assert!(matches!(
            catalog.register("person", PERSON),
            Err(RegistryError::InvalidSchema { .. })
        ));
        let person = catalog
            .register_with_references("person", PERSON, &address_ref(1))
            .unwrap();
        assert_ne!(person, address);
        // Company uses Person's types and, through Person's references, Address's.
        let company = catalog
            .register_with_references(
                "company",
                COMPANY,
                &[reference("org.example.Person", "person", 1)],
            )
            .unwrap();
        let version = catalog.version("person", 1).unwrap();
        assert_eq!(version.references, address_ref(1));
        assert_eq!(catalog.schema(person).unwrap(), PERSON);
        assert_eq!(catalog.schema_references(address).unwrap(), &[]);
        // Decoders get one self-contained text.
        let standalone = catalog.standalone_schema(company).unwrap();
        let parsed = apache_avro::Schema::parse_str(&standalone).unwrap();
        assert!(parsed.canonical_form().contains("street"), "{standalone}");
        assert_eq!(catalog.standalone_schema(address).unwrap(), ADDRESS);
        // Registering again, or looking up, needs the same references.
        assert_eq!(
            catalog
                .register_with_references("person", PERSON, &address_ref(1))
                .unwrap(),
            person
        );
        assert_eq!(
            catalog
                .lookup("person", PERSON, &address_ref(1))
                .unwrap()
                .id,
            person
        );
        assert!(catalog.lookup("person", PERSON, &[]).is_err());
        assert_eq!(catalog.referenced_by("address", 1, false), vec![person]);
        assert_eq!(catalog.referenced_by("person", 1, false), vec![company]);
        assert!(catalog.referenced_by("company", 1, false).is_empty());
    }

    #[test]
    fn the_same_text_with_other_references_is_another_schema() {
        let mut catalog = SchemaCatalog::with_compatibility(Compatibility::None);
        catalog.register("address", ADDRESS).unwrap();
        catalog.register("address", ADDRESS_V2).unwrap();
        let first = catalog
            .register_with_references("person", PERSON, &address_ref(1))
            .unwrap();
        let second = catalog
            .register_with_references("person", PERSON, &address_ref(2))
            .unwrap();
        assert_ne!(first, second);
        assert_eq!(catalog.versions("person").unwrap(), vec![1, 2]);
        assert_eq!(catalog.latest("person").unwrap().references, address_ref(2));
    }

    #[test]
    fn a_missing_reference_is_an_invalid_schema() {
        let mut catalog = SchemaCatalog::new();
        catalog.register("address", ADDRESS).unwrap();
        for missing in [
            address_ref(2),
            vec![reference("org.example.Address", "nope", 1)],
        ] {
            match catalog.register_with_references("person", PERSON, &missing) {
                Err(RegistryError::InvalidSchema { message }) => {
                    assert!(message.contains("No schema reference found"), "{message}")
                }
                other => panic!("expected InvalidSchema, got {other:?}"),
            }
        }
        // A reference to a soft-deleted version does not register anew.
        let (_, change) = catalog
            .prepare_delete_version("address", VersionSelector::Number(1), false)
            .unwrap();
        catalog.apply_change(change).unwrap();
        assert!(catalog
            .register_with_references("person", PERSON, &address_ref(1))
            .is_err());
    }

    #[test]
    fn compatibility_is_checked_with_the_referenced_types() {
        let mut catalog = SchemaCatalog::new();
        catalog.register("address", ADDRESS).unwrap();
        catalog.register("address", ADDRESS_V2).unwrap();
        catalog
            .register_with_references("person", PERSON, &address_ref(2))
            .unwrap();
        // A Person whose Address adds a field without a default cannot read the data of the
        // registered Person (BACKWARD): the check sees through the reference.
        const ADDRESS_STRICT: &str = r#"{"type":"record","name":"Address","namespace":"org.example","fields":[{"name":"street","type":"string"},{"name":"zip","type":"string"},{"name":"city","type":"string"}]}"#;
        catalog
            .apply_change(Change::Config {
                subject: Some("address".into()),
                compatibility: Some(Compatibility::None),
            })
            .unwrap();
        catalog.register("address", ADDRESS_STRICT).unwrap();
        let report = catalog
            .check_registration("person", PERSON, &address_ref(3))
            .unwrap();
        assert!(!report.is_compatible());
        assert!(report.messages[0].contains("city"), "{:?}", report.messages);
        assert!(catalog
            .check_registration("person", PERSON, &address_ref(1))
            .unwrap()
            .is_compatible());
    }

    #[test]
    fn referenced_versions_are_not_deleted_while_referenced() {
        let mut catalog = SchemaCatalog::new();
        catalog.register("address", ADDRESS).unwrap();
        let person = catalog
            .register_with_references("person", PERSON, &address_ref(1))
            .unwrap();
        let refusal = catalog
            .prepare_delete_version("address", VersionSelector::Number(1), false)
            .unwrap_err();
        assert_eq!(refusal.code(), 42206);
        assert_eq!(refusal.status(), 422);
        assert_eq!(
            refusal.to_string(),
            "One or more references exist to the schema {magic=1,keytype=SCHEMA,subject=address,version=1}."
        );
        assert_eq!(
            catalog
                .prepare_delete_subject("address", false)
                .unwrap_err()
                .code(),
            42206
        );
        // Once the referrer is soft-deleted, a soft delete of the referenced version goes
        // ahead; a permanent one still waits for the referrer to go for good.
        let (_, changes) = catalog.prepare_delete_subject("person", false).unwrap();
        apply_all(&mut catalog, changes);
        assert!(catalog.referenced_by("address", 1, false).is_empty());
        assert_eq!(catalog.referenced_by("address", 1, true), vec![person]);
        let (_, changes) = catalog.prepare_delete_subject("address", false).unwrap();
        apply_all(&mut catalog, changes);
        for refusal in [
            catalog
                .prepare_delete_version("address", VersionSelector::Number(1), true)
                .unwrap_err(),
            catalog.prepare_delete_subject("address", true).unwrap_err(),
        ] {
            assert_eq!(refusal.code(), 42206, "{refusal}");
        }
        // The soft-deleted referrer still decodes: its references resolve.
        assert!(catalog
            .standalone_schema(person)
            .unwrap()
            .contains("street"));
        let (_, changes) = catalog.prepare_delete_subject("person", true).unwrap();
        apply_all(&mut catalog, changes);
        let (_, changes) = catalog.prepare_delete_subject("address", true).unwrap();
        apply_all(&mut catalog, changes);
        assert!(catalog.subjects_with_deleted(true).is_empty());
    }

    #[test]
    fn a_subject_referencing_itself_deletes_as_a_whole() {
        let mut catalog = SchemaCatalog::with_compatibility(Compatibility::None);
        catalog.register("both", ADDRESS).unwrap();
        catalog
            .register_with_references(
                "both",
                PERSON,
                &[reference("org.example.Address", "both", 1)],
            )
            .unwrap();
        // Version 1 alone is referenced; the subject as a whole is not referenced from
        // elsewhere.
        assert_eq!(
            catalog
                .prepare_delete_version("both", VersionSelector::Number(1), false)
                .unwrap_err()
                .code(),
            42206
        );
        let (versions, _) = catalog.prepare_delete_subject("both", false).unwrap();
        assert_eq!(versions, vec![1, 2]);
    }

    #[test]
    fn imports_take_references() {
        let mut catalog = SchemaCatalog::new();
        catalog
            .apply_change(Change::Mode {
                subject: None,
                mode: Some(Mode::Import),
            })
            .unwrap();
        let entry = catalog
            .prepare_import("address", ADDRESS, &[], SchemaId(10), Some(1))
            .unwrap()
            .unwrap();
        catalog.apply(entry).unwrap();
        let entry = catalog
            .prepare_import("person", PERSON, &address_ref(1), SchemaId(20), Some(1))
            .unwrap()
            .unwrap();
        catalog.apply(entry).unwrap();
        assert_eq!(
            catalog.referenced_by("address", 1, false),
            vec![SchemaId(20)]
        );
        assert!(catalog
            .prepare_import("person2", PERSON, &address_ref(7), SchemaId(21), Some(1))
            .is_err());
    }

    #[test]
    fn per_subject_levels_override_the_global_one_until_removed() {
        let mut catalog = SchemaCatalog::new();
        catalog.register("s", V1).unwrap();
        catalog.register("s", V2).unwrap();
        assert!(!catalog
            .check_registration("s", V3, &[])
            .unwrap()
            .is_compatible());
        catalog
            .apply_change(Change::Config {
                subject: Some("s".into()),
                compatibility: Some(Compatibility::None),
            })
            .unwrap();
        assert_eq!(catalog.subject_compatibility("s"), Compatibility::None);
        assert_eq!(catalog.subject_compatibility("t"), Compatibility::Backward);
        assert!(catalog
            .check_registration("s", V3, &[])
            .unwrap()
            .is_compatible());
        catalog
            .apply_change(Change::Config {
                subject: Some("s".into()),
                compatibility: None,
            })
            .unwrap();
        assert!(!catalog
            .check_registration("s", V3, &[])
            .unwrap()
            .is_compatible());
    }

    #[test]
    fn modes_refuse_writes_and_import_takes_ids() {
        let mut catalog = SchemaCatalog::new();
        catalog.register("s", V1).unwrap();
        catalog
            .apply_change(Change::Mode {
                subject: Some("s".into()),
                mode: Some(Mode::ReadOnly),
            })
            .unwrap();
        assert_eq!(catalog.check_writable(Some("s")).unwrap_err().code(), 42205);
        assert!(catalog.check_writable(Some("t")).is_ok());
        assert_eq!(
            catalog
                .prepare_delete_subject("s", false)
                .unwrap_err()
                .code(),
            42205
        );
        assert_eq!(
            catalog
                .prepare_mode(None, Mode::Import, false)
                .unwrap_err()
                .code(),
            42205
        );
        let change = catalog
            .prepare_mode(Some("imported"), Mode::Import, false)
            .unwrap();
        catalog.apply_change(change).unwrap();
        let entry = catalog
            .prepare_import("imported", V3, &[], SchemaId(40), Some(7))
            .unwrap()
            .unwrap();
        catalog.apply(entry).unwrap();
        assert_eq!(catalog.version("imported", 7).unwrap().id, SchemaId(40));
        assert_eq!(
            catalog
                .prepare_import("imported", V3, &[], SchemaId(40), Some(7))
                .unwrap(),
            None
        );
        assert_eq!(
            catalog
                .prepare_import("imported", V2, &[], SchemaId(40), None)
                .unwrap_err()
                .code(),
            42205
        );
        assert_eq!(
            catalog
                .prepare_import("s", V2, &[], SchemaId(41), None)
                .unwrap_err()
                .code(),
            42205
        );
        // New ids continue after the imported ones.
        assert_eq!(catalog.register("u", V2).unwrap(), SchemaId(41));
    }
}
