//! The core of transit: the live status of Chicago's 'L' trains as a streaming pipeline.
//!
//! This crate does no I/O of its own. It talks to the world through traits: an [`EventBus`]
//! that moves records, a [`codec::SchemaRegistry`] that names Avro schemas, and the simulated
//! clock of [`sim`]. Backends live in their own crates: `transit-mem` (in memory, the embedded
//! default and the deterministic test bed) and `transit-kafka` (production).
//!
//! # Layout
//!
//! - [`model`]: lines, stations, directions, trains: plain values.
//! - [`network`]: the CTA data sets (embedded, or loaded from a path) parsed into the three
//!   lines, with every quirk of the real data handled on purpose and reported.
//! - [`sim`]: the simulation: trains moving along their lines, turnstile entries by day type and
//!   hour, hourly weather; a pure, seeded `step()`.
//! - [`event`]: the records on the bus as Rust values.
//! - [`codec`]: Avro in the Confluent wire format, over a [`codec::SchemaRegistry`].
//! - [`bus`]: the [`EventBus`] trait: topics, partitions, offsets, groups.
//! - [`topics`]: the topic names of a deployment.
//! - [`driver`]: runs the simulation against any bus, paced or flat out, until shut down.
//! - [`monitor`]: consumes topics and reports what flows (rates, rejections, event time).
//! - [`pipeline`]: every part over one bus, started and stopped together.
//! - [`processor`]: the stream processors: the station table and the turnstile counts.
//! - [`registry`]: a Confluent-style schema registry: the catalog (subjects, versions, ids,
//!   compatibility) and a registry whose state lives in a compacted topic of the bus.
//! - [`status`]: the status read model the dashboard renders, and the consumer that feeds it.
//! - [`deadletter`]: where refused records go, with the reason.
//! - [`metrics`]: counters of what flows through consumers (records, dead letters, lag).
//! - [`what_if`]: the way into a running simulation for what-ifs (delays, breakdowns).
//! - `testing` (feature `testing`): the conformance suite every bus backend runs.

#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    clippy::future_not_send
)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod bus;
pub mod codec;
pub mod deadletter;
pub mod driver;
pub mod event;
pub mod metrics;
pub mod model;
pub mod monitor;
pub mod network;
pub mod pipeline;
pub mod processor;
pub mod registry;
pub mod sim;
pub mod status;
pub mod topics;
pub mod what_if;

#[cfg(any(feature = "testing", test))]
pub mod testing;

pub use bus::{EventBus, EventBusExt};

/// An error and its sources on one line, `: `-separated, for logs and error bodies. Many
/// errors display only their own layer (`tokio_postgres::Error` says "db error", apache-avro
/// nests the field that failed); the reason a person needs is in the sources.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
