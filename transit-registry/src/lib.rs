//! A schema registry with Confluent's model, as a pure state machine and as a registry whose
//! state lives on the bus.
//!
//! - [`SchemaCatalog`]: schemas by global id, subjects with versions, the compatibility level
//!   and its check (apache-avro's resolution rules, with the field that broke which rule). No
//!   I/O: [`MemRegistry`] and [`BusRegistry`] both keep one.
//! - [`BusRegistry`]: the catalog stored in a compacted topic (`_schemas`, Confluent's own
//!   record format), so it restarts without losing a schema; what the registry's HTTP server
//!   serves.
//! - [`MemRegistry`]: the catalog behind a lock, for one process (no topic, no restart).
//! - [`Compatibility`]: Confluent's levels (BACKWARD by default), global or per subject.
//! - [`Mode`], [`Change`], [`Refusal`]: what operators change besides registering (levels,
//!   soft and permanent deletes, modes, imports), with Confluent's rules and error codes.
//! - [`SchemaReference`]: a schema may use the named types of other registered schemas, as
//!   in Confluent; a referenced version cannot be deleted while referenced (42206), and
//!   [`standalone_schema`] writes such a schema out as one text for decoders.
//!
//! # Why the catalog is separate from its storage
//!
//! Registering is decided first ([`SchemaCatalog::prepare`]: new version, id, compatibility
//! check), stored second, and applied last ([`SchemaCatalog::apply`]), so the state in memory
//! never runs ahead of what is stored; restoring is applying the stored entries again.

mod admin;
mod bus;
mod catalog;
mod compatibility;
mod memory;
mod record;
mod reference;

pub use admin::{Change, InvalidMode, Mode, Refusal};
pub use bus::{BusRegistry, OpenError, RestoreSummary, StoreError, DEFAULT_TOPIC};
pub use catalog::{
    ApplyError, CompatibilityReport, InvalidVersion, Registration, SchemaCatalog, SchemaEntry,
    SubjectVersion, VersionSelector,
};
pub use compatibility::{Compatibility, InvalidCompatibility};
pub use memory::MemRegistry;
pub use reference::{standalone_schema, SchemaReference};
