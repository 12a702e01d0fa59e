//! The production transport of transit: an [`EventBus`](transit_core::EventBus) over Kafka.
//!
//! This crate holds the Kafka backend (rdkafka), the HTTP schema-registry client and topic
//! administration. It is deliberately empty for now: the workspace, the bus contract and its
//! conformance suite (`transit_core::testing`) come first, and the Kafka backend is built
//! against them, tested on a real broker, in its own change. Until then, embed
//! `transit-mem`'s bus.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
