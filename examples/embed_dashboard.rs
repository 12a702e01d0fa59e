//! The smallest program that embeds transit: the whole pipeline on the in-memory bus and its
//! dashboard, from the library crates alone (`transit-sim`, `transit-mem`, and `transit-http`
//! with only its `dashboard` feature: no Kafka client, no PostgreSQL, no feeds).
//!
//! ```sh
//! cargo run --example embed_dashboard            # http://127.0.0.1:3000/, Ctrl+C stops it
//! cargo run --example embed_dashboard -- 127.0.0.1:8000
//! ```

use std::error::Error;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use transit_http::dashboard::{self, Dashboard};
use transit_mem::{MemBus, MemRegistry};
use transit_sim::pipeline::{self, PipelineConfig};
use transit_sim::{SimConfig, Simulation};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| dashboard::DEFAULT_ADDRESS.to_string())
        .parse()?;
    let shutdown = CancellationToken::new();
    let bus = MemBus::new();
    let running = pipeline::start(
        Arc::new(bus.clone()),
        Arc::new(MemRegistry::new()),
        Simulation::embedded(SimConfig::default())?,
        PipelineConfig::embedded()?,
        shutdown.clone(),
    )
    .await?;

    let listener = dashboard::bind(address).await?;
    println!("transit dashboard: http://{}/", listener.local_addr()?);
    let board = Dashboard::new(running.snapshots(), running.metrics(), shutdown.clone());
    let server = tokio::spawn(dashboard::serve(listener, board, shutdown.clone()));

    tokio::signal::ctrl_c().await?;
    shutdown.cancel();
    running.stop().await?;
    server.await??;
    bus.close();
    Ok(())
}
