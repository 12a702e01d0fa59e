//! The original's PostgreSQL `stations` table and its Kafka Connect JDBC source, rebuilt.
//!
//! - [`loader`]: creates the table and loads `cta_stations.csv` into it, idempotently, skipping
//!   (and reporting by line) the rows that are bad.
//! - [`source`]: the JDBC source in incrementing mode on `stop_id`: it polls the table for rows
//!   above its position, publishes them to the raw station topic and stores its position on the
//!   bus, surviving restarts, crashes and database outages without duplicates or gaps.
//! - [`connection`]: libpq's connection strings, TLS included (`sslmode` up to `verify-full`,
//!   `sslrootcert`, rustls), and [`connect`], a `tokio-postgres` connection whose driver runs
//!   on its own task.
//!
//! `tokio-postgres` rather than the synchronous `postgres` crate: the latter starts a runtime of
//! its own and panics when called from inside tokio, where all of transit runs.
//!
//! # Example
//!
//! The embedded `cta_stations.csv` loaded into a database, then its rows published onto the
//! in-memory bus by the source until shut down (not run here, as it needs PostgreSQL):
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use tokio_util::sync::CancellationToken;
//! use transit_core::network::EMBEDDED_STATIONS;
//! use transit_core::topics::Topics;
//! use transit_mem::{MemBus, MemRegistry};
//! use transit_postgres::source::{SourceConfig, StationSource};
//! use transit_postgres::{connect, loader};
//!
//! let mut pg = tokio_postgres::Config::new();
//! pg.host("127.0.0.1").port(5432).user("postgres").dbname("transit");
//! let mut client = connect(&pg).await?;
//! loader::create_table(&client).await?;
//! let report = loader::load_csv(&mut client, "cta_stations.csv", EMBEDDED_STATIONS.as_bytes())
//!     .await?;
//! println!("{} rows inserted, {} rejected", report.inserted, report.rejected.len());
//!
//! let source = StationSource::new(
//!     pg,
//!     Arc::new(MemBus::new()),
//!     Arc::new(MemRegistry::new()),
//!     &Topics::default(),
//!     SourceConfig::default(),
//! );
//! let shutdown = CancellationToken::new();
//! let running = tokio::spawn({
//!     let shutdown = shutdown.clone();
//!     async move { source.run(shutdown).await }
//! });
//! // ... until the program stops:
//! shutdown.cancel();
//! let stats = running.await??;
//! println!("published {} station rows", stats.published);
//! # Ok(())
//! # }
//! ```

pub mod connection;
pub mod loader;
pub mod source;

mod table;

pub use connection::{connect, ConnectError, ConnectOptions, SslMode};
