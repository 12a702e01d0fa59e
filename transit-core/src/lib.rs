//! The core of transit: the live status of Chicago's 'L' trains as a streaming pipeline.
//!
//! This crate does no I/O of its own. It talks to the world through traits: an [`EventBus`]
//! that moves records and a [`codec::SchemaRegistry`] that names Avro schemas. Backends live in
//! their own crates: `transit-mem` (in memory, the embedded default and the deterministic test
//! bed) and `transit-kafka` (production). What writes to the bus (the simulator, in
//! `transit-sim`) and the registry's stores (`transit-registry`) are crates of their own too:
//! everything here reads and writes records, and knows nothing of how they were made.
//!
//! # Layout
//!
//! - [`model`]: lines, stations, directions, trains: plain values.
//! - [`network`]: the CTA data sets (embedded, or loaded from a path) parsed into the three
//!   lines, with every quirk of the real data handled on purpose and reported.
//! - [`time`]: the simulated clock's time, as records carry it.
//! - [`speed`]: the speed and dwell model: how long a train runs between stations and stands
//!   at a platform, shared by the simulator and the read model.
//! - [`event`]: the records on the bus as Rust values.
//! - [`codec`]: Avro in the Confluent wire format, over a [`codec::SchemaRegistry`].
//! - [`bus`]: the [`EventBus`] trait: topics, partitions, offsets, groups.
//! - [`topics`]: the topic names of a deployment.
//! - [`monitor`]: consumes topics and reports what flows (rates, rejections, event time).
//! - [`processor`]: the stream processors: the station table, the turnstile counts, the
//!   headways.
//! - [`accuracy`]: the accuracy read model: the prediction scorer's table summed for the
//!   boards, and the consumer that feeds it.
//! - [`status`]: the status read model the dashboard renders, and the consumer that feeds it.
//! - [`deadletter`]: where refused records go, with the reason.
//! - [`metrics`]: counters of what flows through consumers (records, dead letters, lag).
//! - `testing` (feature `testing`): the conformance suite every bus backend runs.

pub mod accuracy;
pub mod bus;
pub mod codec;
pub mod deadletter;
pub mod event;
pub mod metrics;
pub mod model;
pub mod monitor;
pub mod network;
pub mod processor;
pub mod speed;
pub mod status;
pub mod time;
pub mod topics;

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
