//! Avro in the Confluent wire format, over a schema registry.
//!
//! A record's bytes are a magic byte `0`, the schema id as 4 big-endian bytes, then the Avro
//! binary body, so any Confluent client that can reach the registry reads them. Encoding and
//! decoding go through apache-avro's schema-aware serde path, which writes a struct straight to
//! bytes (and reads it straight back) instead of building a `Value` tree per record; a writer
//! schema other than the reader's own (an older or newer version) takes the slower resolving
//! path, so schema evolution still works.

mod decoder;
mod encoder;
mod error;
mod fast;
mod record;
mod registry;
mod topic;
mod wire;

pub(crate) use fast::prediction as fast_prediction;

pub use decoder::Decoder;
pub use encoder::Encoder;
pub use error::{DecodeError, EncodeError};
pub use record::{AvroRecord, Keyed};
pub use registry::{RegistryError, SchemaId, SchemaRegistry};
pub use topic::TopicCodec;
pub use wire::{split_header, write_header, MAGIC_BYTE};
