use super::{RegistryError, SchemaId};

/// Why a value could not be encoded: the value does not fit its schema (a bug in an event type
/// or schema, never bad input).
#[derive(Debug, thiserror::Error)]
#[error("encoding with schema {schema_id}")]
pub struct EncodeError {
    /// The schema the value was written with.
    pub schema_id: SchemaId,
    /// What apache-avro said.
    #[source]
    pub source: apache_avro::Error,
}

/// Why bytes could not be decoded. These are routine (a bad record on a topic), so each case
/// is its own variant and the caller routes the record aside.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// No bytes at all.
    #[error("empty record")]
    Empty,
    /// Fewer bytes than the 5-byte Confluent header.
    #[error("{len} bytes is shorter than the 5-byte Confluent header")]
    TooShort {
        /// How many bytes there were.
        len: usize,
    },
    /// The first byte is not the Confluent magic byte 0.
    #[error("magic byte {found} is not the Confluent wire format's 0")]
    BadMagic {
        /// The byte found.
        found: u8,
    },
    /// The registry does not know the schema id.
    #[error("unknown schema id {id}")]
    UnknownSchemaId {
        /// The id in the header.
        id: SchemaId,
    },
    /// The registry failed while looking up the writer's schema.
    #[error("looking up the writer's schema")]
    Registry(#[source] RegistryError),
    /// The Avro body does not match the writer's schema (truncated, corrupt, or of another type).
    #[error("Avro body does not match schema {schema_id}")]
    Body {
        /// The writer's schema id.
        schema_id: SchemaId,
        /// What apache-avro said.
        #[source]
        source: apache_avro::Error,
    },
    /// Bytes left over after the body: the record is not what its schema says.
    #[error("{count} bytes left after the Avro body of schema {schema_id}")]
    TrailingBytes {
        /// The writer's schema id.
        schema_id: SchemaId,
        /// How many bytes were left.
        count: usize,
    },
    /// A tombstone (no value) where a value was required.
    #[error("the record has no value")]
    MissingValue,
    /// No key where a key was required.
    #[error("the record has no key")]
    MissingKey,
}

impl DecodeError {
    /// Whether the schema registry could not answer (down, failing): the record may well be
    /// good, so it must not be refused for it; its batch waits instead.
    pub fn registry_unavailable(&self) -> bool {
        matches!(self, Self::Registry(RegistryError::Backend { .. }))
    }
}
