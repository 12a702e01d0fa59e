//! The original's PostgreSQL `stations` table and its Kafka Connect JDBC source, rebuilt.
//!
//! - [`loader`]: creates the table and loads `cta_stations.csv` into it, idempotently, skipping
//!   (and reporting by line) the rows that are bad.
//! - [`source`]: the JDBC source in incrementing mode on `stop_id`: it polls the table for rows
//!   above its position, publishes them to the raw station topic and stores its position on the
//!   bus, surviving restarts, crashes and database outages without duplicates or gaps.
//! - [`connect`]: a `tokio-postgres` connection whose driver runs on its own task.
//!
//! `tokio-postgres` rather than the synchronous `postgres` crate: the latter starts a runtime of
//! its own and panics when called from inside tokio, where all of transit runs.

pub mod loader;
pub mod source;

mod table;

pub use table::connect;
