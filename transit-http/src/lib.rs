//! The HTTP faces of transit: the dashboard, Confluent's schema registry API and REST Proxy
//! (v2 produce), and the clients of the last two.
//!
//! Each part is a feature, so an embedder takes only what it serves; none of them needs
//! rdkafka or PostgreSQL (they serve over any [`EventBus`](transit_core::EventBus)):
//!
//! | feature | module | what |
//! |---|---|---|
//! | `dashboard` | [`dashboard`] | the board: HTML, server-sent events, `/api/status`, `/healthz`, `/readyz`, `/metrics` |
//! | `what-if` | `what_if` | `POST`/`GET /api/what-if`: what-ifs into a simulation in the same process |
//! | `gtfs` | [`gtfs`], [`realtime`], [`agency`] | `GET /gtfs/static.zip`, the static GTFS feed; GTFS-realtime and CTA's Train Tracker API over the board (the dashboard's router serves them when both are on; without it, merge their routers into yours); for any agency's feed as the input, its own static feed and GTFS-realtime in its ids |
//! | `registry` | [`registry`] | the schema registry's server over a [`BusRegistry`](transit_registry::BusRegistry) |
//! | `registry-client` | [`registry_client`] | a caching client of any Confluent-compatible registry |
//! | `rest-proxy` | [`rest_proxy`] | the REST Proxy's `POST /topics/{topic}` over a bus and a registry |
//! | `rest-proxy-client` | [`rest_proxy`] | its client, and the weather station that posts through it |
//! | `tls` | [`server`] | HTTPS (rustls) and HTTP basic auth with read and write users for the registry and the REST Proxy (on with either) |
//! | `client-tls` | [`client_security`] | `https://` and Confluent's `basic.auth.user.info` / `ssl.ca.location` in both clients (on with either) |
//!
//! With any server on, [`probes`] serves `/healthz` (liveness), `/readyz` (readiness, with
//! its reasons) and `/metrics` (Prometheus) for any process, on an address of its own.
//!
//! All are on by default. The servers share [`server`]: binding (an address in use names the
//! server) and serving until a [`CancellationToken`](tokio_util::sync::CancellationToken) is
//! cancelled, requests in flight finishing first.
//!
//! `dashboard` alone serves the board without the feeds: it takes neither prost, zip nor the
//! GTFS crate (`scripts/test.sh` checks the dependency tree).
//!
//! # Embedding the dashboard
//!
//! The whole pipeline over the embedded CTA data on the in-memory bus, and its board on a
//! port of your choosing (port 0 here: any free one), asked for its page:
//!
//! ```
//! # #[cfg(feature = "dashboard")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use tokio_util::sync::CancellationToken;
//! use transit_http::dashboard::{self, Dashboard};
//! use transit_mem::{MemBus, MemRegistry};
//! use transit_sim::pipeline::{self, PipelineConfig};
//! use transit_sim::{SimConfig, Simulation};
//!
//! let shutdown = CancellationToken::new();
//! let running = pipeline::start(
//!     Arc::new(MemBus::new()),
//!     Arc::new(MemRegistry::new()),
//!     Simulation::embedded(SimConfig::default())?,
//!     PipelineConfig::embedded()?,
//!     shutdown.clone(),
//! )
//! .await?;
//! let board = Dashboard::new(running.snapshots(), running.metrics(), shutdown.clone());
//! let listener = dashboard::bind("127.0.0.1:0".parse()?).await?;
//! let page = format!("http://{}/", listener.local_addr()?);
//! let server = tokio::spawn(dashboard::serve(listener, board, shutdown.clone()));
//!
//! // The stations' rows reach the board within moments of the start, the trains with the
//! // first tick: all 94 stations of the three lines, and the page shows them.
//! let mut snapshots = running.snapshots();
//! snapshots
//!     .wait_for(|board| board.totals.stations == 94 && board.totals.in_service > 0)
//!     .await?;
//! let html = reqwest::get(&page).await?.text().await?;
//! assert!(html.contains("Clark/Lake"));
//!
//! shutdown.cancel(); // stops the simulation, then `stop` the rest, and the server
//! running.stop().await?;
//! server.await??;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "dashboard"))]
//! # fn main() {}
//! ```

#[cfg(feature = "dashboard")]
mod accuracy_panel;
#[cfg(feature = "gtfs")]
pub mod agency;
#[cfg(feature = "dashboard")]
pub mod agency_board;
#[cfg(feature = "client-tls")]
pub mod client_security;
#[cfg(feature = "dashboard")]
pub mod dashboard;
#[cfg(feature = "gtfs")]
pub mod gtfs;
#[cfg(any(
    feature = "dashboard",
    feature = "gtfs",
    feature = "registry",
    feature = "rest-proxy"
))]
pub mod probes;
#[cfg(any(
    feature = "dashboard",
    feature = "gtfs",
    feature = "registry",
    feature = "rest-proxy"
))]
mod prometheus;
#[cfg(feature = "gtfs")]
pub mod realtime;
#[cfg(feature = "registry")]
pub mod registry;
#[cfg(feature = "registry-client")]
pub mod registry_client;
#[cfg(any(feature = "rest-proxy", feature = "rest-proxy-client"))]
pub mod rest_proxy;
#[cfg(any(
    feature = "dashboard",
    feature = "gtfs",
    feature = "registry",
    feature = "rest-proxy"
))]
pub mod server;
#[cfg(feature = "what-if")]
pub mod what_if;

#[cfg(feature = "client-tls")]
pub use client_security::{ClientSecurity, ClientSecurityError, UserInfo};
#[cfg(feature = "registry-client")]
pub use registry_client::{RegistryClient, RegistryClientError};
