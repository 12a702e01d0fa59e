//! In-memory backends for transit: an [`EventBus`](transit_core::EventBus) and a schema
//! registry that live inside the process.
//!
//! This is a product feature, not a mock: it is the embedded default (`full_pipeline` runs the
//! whole pipeline on it, with no broker installed) and the deterministic bed for tests and
//! benchmarks. It keeps Kafka's semantics where they matter (partitioned logs with offsets,
//! per-key order, consumer groups sharing partitions, pattern subscriptions, compaction) and
//! bounds what it keeps, so a long run's memory stays flat.
//!
//! # Layout
//!
//! - [`MemBus`]: the bus: per-partition logs with retention, groups, committed offsets.
//! - [`MemRegistry`]: `transit_registry`'s in-process schema registry, re-exported so one `use`
//!   brings both in-memory halves.

mod bus;

pub use bus::{MemBus, MemBusConfig};
pub use transit_registry::{Compatibility, MemRegistry, SubjectVersion};
