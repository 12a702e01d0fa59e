//! The records of the `_schemas` topic, in Confluent Schema Registry's own format, so a
//! Confluent registry and this one can read each other's topic.
//!
//! - schema: key `{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}`, value
//!   `{"subject":"s","version":1,"id":7,"schema":"...","deleted":false}`, with
//!   `"references":[{"name":"…","subject":"…","version":1}]` before `schema` when it has any;
//! - compatibility, global or of a subject: key `{"keytype":"CONFIG","subject":null,"magic":0}`
//!   (or `"subject":"s"`), value `{"compatibilityLevel":"BACKWARD"}`, a tombstone once removed;
//! - mode, the same way: key `{"keytype":"MODE","subject":null,"magic":0}`, value
//!   `{"mode":"READONLY"}`;
//! - a subject soft-deleted: key `{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}`, value
//!   `{"subject":"s","version":3}` (every version up to 3 is deleted);
//! - a version deleted for good: a tombstone of its `SCHEMA` key.
//!
//! Keys are written field by field in that order, always the same bytes for the same key,
//! because compaction keeps the last record per key *bytes*.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::{Change, Compatibility, Mode, SchemaEntry, SchemaReference};
use transit_core::codec::SchemaId;

/// What one record of the topic says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoredRecord {
    /// A version of a subject.
    Schema(SchemaEntry),
    /// The compatibility level of a subject, or the global one (`subject: None`); `None` as
    /// level means the setting was removed.
    Config {
        subject: Option<String>,
        compatibility: Option<Compatibility>,
    },
    /// A mode of a subject, or the global one.
    Mode {
        subject: Option<String>,
        mode: Option<Mode>,
    },
    /// Every version of a subject up to `version` soft-deleted.
    DeleteSubject { subject: String, version: u32 },
    /// A record kind this registry has no use for (Confluent's `NOOP`, ...), or a tombstone.
    Ignored { keytype: String },
}

/// Why a record could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordError {
    #[error("record without a key")]
    NoKey,
    #[error("key is not a registry key: {0}")]
    Key(#[source] serde_json::Error),
    #[error("{keytype} key without {field}")]
    KeyField {
        keytype: String,
        field: &'static str,
    },
    #[error("value of a {keytype} record is not valid: {source}")]
    Value {
        keytype: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("value names {value_subject:?} version {value_version}, but its key {key_subject:?} version {key_version}")]
    Mismatch {
        key_subject: String,
        key_version: u32,
        value_subject: String,
        value_version: u32,
    },
    #[error("schema type {0:?} is not supported (only AVRO)")]
    SchemaType(String),
    #[error(transparent)]
    Level(#[from] crate::InvalidCompatibility),
    #[error(transparent)]
    Mode(#[from] crate::InvalidMode),
}

#[derive(Serialize)]
struct SchemaKeyOut<'a> {
    keytype: &'static str,
    subject: &'a str,
    version: u32,
    magic: u32,
}

#[derive(Serialize)]
struct SchemaValueOut<'a> {
    subject: &'a str,
    version: u32,
    id: u32,
    #[serde(skip_serializing_if = "<[SchemaReference]>::is_empty")]
    references: &'a [SchemaReference],
    schema: &'a str,
    deleted: bool,
}

#[derive(Serialize)]
struct ConfigKeyOut {
    keytype: &'static str,
    subject: Option<String>,
    magic: u32,
}

#[derive(Serialize)]
struct ConfigValueOut {
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: &'static str,
}

#[derive(Serialize)]
struct ModeValueOut {
    mode: &'static str,
}

#[derive(Serialize)]
struct DeleteSubjectValueOut<'a> {
    subject: &'a str,
    version: u32,
}

#[derive(Deserialize)]
struct ModeValueIn {
    #[serde(default)]
    mode: Option<String>,
}

#[derive(Deserialize)]
struct DeleteSubjectValueIn {
    subject: String,
    version: u32,
}

#[derive(Deserialize)]
struct KeyIn {
    keytype: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    version: Option<u32>,
}

#[derive(Deserialize)]
struct SchemaValueIn {
    subject: String,
    version: u32,
    id: u32,
    schema: String,
    #[serde(default)]
    references: Option<Vec<SchemaReference>>,
    #[serde(default)]
    deleted: bool,
    #[serde(default, rename = "schemaType")]
    schema_type: Option<String>,
}

#[derive(Deserialize)]
struct ConfigValueIn {
    #[serde(default, rename = "compatibilityLevel")]
    compatibility_level: Option<String>,
}

fn to_bytes(value: &impl Serialize) -> Bytes {
    // These structs hold strings and integers only: serialising them cannot fail, and an
    // empty object (which restore would skip, logged) beats a panic should it ever.
    Bytes::from(serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec()))
}

/// Key and value of the record storing `entry`.
pub(crate) fn schema_record(entry: &SchemaEntry) -> (Bytes, Bytes) {
    let key = SchemaKeyOut {
        keytype: "SCHEMA",
        subject: &entry.subject,
        version: entry.version,
        magic: 1,
    };
    let value = SchemaValueOut {
        subject: &entry.subject,
        version: entry.version,
        id: entry.id.0,
        references: &entry.references,
        schema: &entry.schema,
        deleted: entry.deleted,
    };
    (to_bytes(&key), to_bytes(&value))
}

/// Key and value of the record storing the global compatibility level.
pub(crate) fn config_record(compatibility: Compatibility) -> (Bytes, Bytes) {
    let key = ConfigKeyOut {
        keytype: "CONFIG",
        subject: None,
        magic: 0,
    };
    let value = ConfigValueOut {
        compatibility_level: compatibility.name(),
    };
    (to_bytes(&key), to_bytes(&value))
}

/// Key and value (`None`: a tombstone) of the record storing `change`.
pub(crate) fn change_record(change: &Change) -> (Bytes, Option<Bytes>) {
    let keyed = |keytype: &'static str, subject: Option<&str>| {
        to_bytes(&ConfigKeyOut {
            keytype,
            subject: subject.map(str::to_string),
            magic: 0,
        })
    };
    match change {
        Change::Schema(entry) => {
            let (key, value) = schema_record(entry);
            (key, Some(value))
        }
        Change::RemoveVersion { subject, version } => {
            let key = SchemaKeyOut {
                keytype: "SCHEMA",
                subject,
                version: *version,
                magic: 1,
            };
            (to_bytes(&key), None)
        }
        Change::DeleteSubject { subject, version } => (
            keyed("DELETE_SUBJECT", Some(subject)),
            Some(to_bytes(&DeleteSubjectValueOut {
                subject,
                version: *version,
            })),
        ),
        Change::ForgetDeleteSubject { subject } => (keyed("DELETE_SUBJECT", Some(subject)), None),
        Change::Config {
            subject,
            compatibility,
        } => (
            keyed("CONFIG", subject.as_deref()),
            compatibility.map(|level| {
                to_bytes(&ConfigValueOut {
                    compatibility_level: level.name(),
                })
            }),
        ),
        Change::Mode { subject, mode } => (
            keyed("MODE", subject.as_deref()),
            mode.map(|mode| to_bytes(&ModeValueOut { mode: mode.name() })),
        ),
    }
}

/// Reads one record of the topic.
pub(crate) fn decode(
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<StoredRecord, RecordError> {
    let key: KeyIn =
        serde_json::from_slice(key.ok_or(RecordError::NoKey)?).map_err(RecordError::Key)?;
    match key.keytype.as_str() {
        "SCHEMA" => {
            let Some(value) = value else {
                return Ok(StoredRecord::Ignored {
                    keytype: key.keytype,
                });
            };
            let (Some(key_subject), Some(key_version)) = (key.subject, key.version) else {
                return Err(RecordError::KeyField {
                    keytype: key.keytype,
                    field: "subject and version",
                });
            };
            let value: SchemaValueIn =
                serde_json::from_slice(value).map_err(|source| RecordError::Value {
                    keytype: key.keytype.clone(),
                    source,
                })?;
            if value.subject != key_subject || value.version != key_version {
                return Err(RecordError::Mismatch {
                    key_subject,
                    key_version,
                    value_subject: value.subject,
                    value_version: value.version,
                });
            }
            if let Some(kind) = value
                .schema_type
                .filter(|t| !t.eq_ignore_ascii_case("AVRO"))
            {
                return Err(RecordError::SchemaType(kind));
            }
            Ok(StoredRecord::Schema(SchemaEntry {
                subject: value.subject,
                version: value.version,
                id: SchemaId(value.id),
                schema: value.schema,
                references: value.references.unwrap_or_default(),
                deleted: value.deleted,
            }))
        }
        "CONFIG" => {
            let compatibility = match value {
                None => None,
                Some(value) => {
                    let value: ConfigValueIn =
                        serde_json::from_slice(value).map_err(|source| RecordError::Value {
                            keytype: key.keytype.clone(),
                            source,
                        })?;
                    value
                        .compatibility_level
                        .map(|level| level.parse())
                        .transpose()?
                }
            };
            Ok(StoredRecord::Config {
                subject: key.subject,
                compatibility,
            })
        }
        "MODE" => {
            let mode = match value {
                None => None,
                Some(value) => {
                    let value: ModeValueIn =
                        serde_json::from_slice(value).map_err(|source| RecordError::Value {
                            keytype: key.keytype.clone(),
                            source,
                        })?;
                    value.mode.map(|mode| mode.parse()).transpose()?
                }
            };
            Ok(StoredRecord::Mode {
                subject: key.subject,
                mode,
            })
        }
        "DELETE_SUBJECT" => {
            let Some(value) = value else {
                return Ok(StoredRecord::Ignored {
                    keytype: key.keytype,
                });
            };
            let value: DeleteSubjectValueIn =
                serde_json::from_slice(value).map_err(|source| RecordError::Value {
                    keytype: key.keytype.clone(),
                    source,
                })?;
            Ok(StoredRecord::DeleteSubject {
                subject: value.subject,
                version: value.version,
            })
        }
        _ => Ok(StoredRecord::Ignored {
            keytype: key.keytype,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> SchemaEntry {
        SchemaEntry {
            subject: "org.chicago.cta.weather.v1-value".into(),
            version: 3,
            id: SchemaId(7),
            schema: r#"{"type":"string"}"#.into(),
            references: Vec::new(),
            deleted: false,
        }
    }

    #[test]
    fn schema_records_use_confluents_format_and_round_trip() {
        let (key, value) = schema_record(&entry());
        assert_eq!(
            &key[..],
            br#"{"keytype":"SCHEMA","subject":"org.chicago.cta.weather.v1-value","version":3,"magic":1}"#
        );
        assert_eq!(
            &value[..],
            br#"{"subject":"org.chicago.cta.weather.v1-value","version":3,"id":7,"schema":"{\"type\":\"string\"}","deleted":false}"#
        );
        assert_eq!(
            decode(Some(&key), Some(&value)).unwrap(),
            StoredRecord::Schema(entry())
        );
    }

    #[test]
    fn references_are_kept_as_confluent_writes_them() {
        let mut referencing = entry();
        referencing.references = vec![SchemaReference {
            name: "org.example.Address".into(),
            subject: "address".into(),
            version: 2,
        }];
        let (_, value) = schema_record(&referencing);
        assert_eq!(
            std::str::from_utf8(&value).unwrap(),
            r#"{"subject":"org.chicago.cta.weather.v1-value","version":3,"id":7,"references":[{"name":"org.example.Address","subject":"address","version":2}],"schema":"{\"type\":\"string\"}","deleted":false}"#
        );
        let (key, _) = schema_record(&referencing);
        assert_eq!(
            decode(Some(&key), Some(&value)).unwrap(),
            StoredRecord::Schema(referencing)
        );
        // Confluent writes an empty list, or null, for a schema without references.
        let key = br#"{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}"#;
        for references in ["[]", "null"] {
            let value = format!(
                r#"{{"subject":"s","version":1,"id":1,"schema":"\"int\"","references":{references}}}"#
            );
            let StoredRecord::Schema(entry) = decode(Some(key), Some(value.as_bytes())).unwrap()
            else {
                panic!("a schema record");
            };
            assert!(entry.references.is_empty());
        }
    }

    #[test]
    fn config_records_round_trip() {
        let (key, value) = config_record(Compatibility::FullTransitive);
        assert_eq!(
            &key[..],
            br#"{"keytype":"CONFIG","subject":null,"magic":0}"#
        );
        assert_eq!(&value[..], br#"{"compatibilityLevel":"FULL_TRANSITIVE"}"#);
        assert_eq!(
            decode(Some(&key), Some(&value)).unwrap(),
            StoredRecord::Config {
                subject: None,
                compatibility: Some(Compatibility::FullTransitive)
            }
        );
    }

    #[test]
    fn subject_configs_modes_and_deletes_use_confluents_keys() {
        let cases = [
            (
                Change::Config {
                    subject: Some("s".into()),
                    compatibility: Some(Compatibility::None),
                },
                r#"{"keytype":"CONFIG","subject":"s","magic":0}"#,
                Some(r#"{"compatibilityLevel":"NONE"}"#),
            ),
            (
                Change::Mode {
                    subject: None,
                    mode: Some(Mode::ReadOnly),
                },
                r#"{"keytype":"MODE","subject":null,"magic":0}"#,
                Some(r#"{"mode":"READONLY"}"#),
            ),
            (
                Change::DeleteSubject {
                    subject: "s".into(),
                    version: 3,
                },
                r#"{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}"#,
                Some(r#"{"subject":"s","version":3}"#),
            ),
            (
                Change::RemoveVersion {
                    subject: "s".into(),
                    version: 2,
                },
                r#"{"keytype":"SCHEMA","subject":"s","version":2,"magic":1}"#,
                None,
            ),
            (
                Change::Config {
                    subject: Some("s".into()),
                    compatibility: None,
                },
                r#"{"keytype":"CONFIG","subject":"s","magic":0}"#,
                None,
            ),
        ];
        for (change, key, value) in cases {
            let (got_key, got_value) = change_record(&change);
            assert_eq!(std::str::from_utf8(&got_key).unwrap(), key);
            assert_eq!(
                got_value
                    .as_deref()
                    .map(|v| std::str::from_utf8(v).unwrap()),
                value
            );
        }
        assert_eq!(
            decode(
                Some(br#"{"keytype":"MODE","subject":"s","magic":0}"#),
                Some(br#"{"mode":"IMPORT"}"#)
            )
            .unwrap(),
            StoredRecord::Mode {
                subject: Some("s".into()),
                mode: Some(Mode::Import)
            }
        );
        assert_eq!(
            decode(
                Some(br#"{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}"#),
                Some(br#"{"subject":"s","version":3}"#)
            )
            .unwrap(),
            StoredRecord::DeleteSubject {
                subject: "s".into(),
                version: 3
            }
        );
    }

    #[test]
    fn records_written_by_a_confluent_registry_are_read() {
        // Confluent writes NOOP records, and extra fields in newer versions.
        let noop = decode(Some(br#"{"keytype":"NOOP","magic":0}"#), None).unwrap();
        assert!(matches!(noop, StoredRecord::Ignored { .. }));
        let value = br#"{"subject":"s","version":1,"id":1,"schemaType":"AVRO","schema":"\"int\"","deleted":true,"metadata":null}"#;
        let key = br#"{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}"#;
        let StoredRecord::Schema(entry) = decode(Some(key), Some(value)).unwrap() else {
            panic!("a schema record");
        };
        assert!(entry.deleted);
    }

    #[test]
    fn bad_records_are_errors_not_panics() {
        let key = br#"{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}"#;
        type Case<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);
        let cases: [Case<'_>; 7] = [
            (None, Some(b"{}")),
            (Some(b"not json"), Some(b"{}")),
            (Some(br#"{"keytype":"SCHEMA","magic":1}"#), Some(b"{}")),
            (Some(key), Some(b"{\"subject\":")),
            (
                Some(key),
                Some(br#"{"subject":"t","version":1,"id":1,"schema":"\"int\""}"#),
            ),
            (
                Some(key),
                Some(
                    br#"{"subject":"s","version":1,"id":1,"schema":"{}","schemaType":"PROTOBUF"}"#,
                ),
            ),
            (
                Some(br#"{"keytype":"CONFIG","subject":null,"magic":0}"#),
                Some(br#"{"compatibilityLevel":"SIDEWAYS"}"#),
            ),
        ];
        for (key, value) in cases {
            assert!(decode(key, value).is_err(), "{key:?} {value:?}");
        }
    }
}
