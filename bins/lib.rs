//! What the thin binaries and examples of transit share: the dashboard, command-line settings, logging
//! and shutdown signal. Everything with behaviour lives in `transit-core` and the bus crates.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod dashboard;
pub mod logging;
pub mod processes;
pub mod registry;
pub mod rest_proxy;
pub mod server;
pub mod settings;
pub mod shutdown;
pub mod stations;
pub mod weather;
