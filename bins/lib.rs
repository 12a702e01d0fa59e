//! The `transit` binary's wiring, shared with the examples: command-line settings, one module
//! per production process (each a subcommand), logging and shutdown. Behaviour lives in the
//! library crates: `transit-core` (model, simulation, processors), `transit-mem` and
//! `transit-kafka` (the buses), `transit-http` (dashboard, registry, REST Proxy) and
//! `transit-postgres` (the stations table and its source).

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod agency;
pub mod logging;
pub mod predictions;
pub mod probes;
pub mod processes;
pub mod reach;
pub mod retry;
pub mod settings;
pub mod shutdown;
