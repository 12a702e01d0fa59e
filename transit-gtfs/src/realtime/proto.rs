//! The GTFS-realtime messages (package `transit_realtime`), generated at build time from the
//! official `proto/gtfs-realtime.proto`, with serde in protobuf's canonical JSON mapping.

#![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]

include!(concat!(env!("OUT_DIR"), "/transit_realtime.rs"));
include!(concat!(env!("OUT_DIR"), "/transit_realtime.serde.rs"));
