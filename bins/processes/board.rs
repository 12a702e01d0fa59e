//! `transit dashboard`: the status read model and the dashboard that renders it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;
use transit_core::bus::EventBus;
use transit_core::codec::SchemaRegistry;
use transit_core::metrics::PipelineMetrics;
use transit_core::status::StatusService;

use super::{join, Tasks};
use crate::settings::{load_network, ClusterArgs};
use transit_http::dashboard::{self, Dashboard};

/// Settings of `transit dashboard`.
#[derive(Debug, Clone, Args)]
pub struct BoardArgs {
    /// The cluster, registry and topic names.
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// The stations CSV the simulation runs on, if not the embedded CTA data (the producer's
    /// `--stations`): its coordinates place the trains between stations.
    #[arg(long, env = "TRANSIT_STATIONS_CSV")]
    pub stations: Option<PathBuf>,

    /// Where the dashboard listens.
    #[arg(long, env = "TRANSIT_ADDRESS", default_value = dashboard::DEFAULT_ADDRESS)]
    pub address: SocketAddr,
}

/// Serves the dashboard until `shutdown`.
pub async fn run(args: BoardArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let network = load_network(args.stations.as_deref())?;
    let listener = dashboard::bind(args.address).await?;
    let address = listener.local_addr().context("the dashboard's address")?;
    let bus: Arc<dyn EventBus> = Arc::new(args.cluster.bus().await?);
    let registry: Arc<dyn SchemaRegistry> = Arc::new(args.cluster.registry()?);
    let metrics = PipelineMetrics::new();
    let (status, snapshots) = StatusService::new(
        Arc::clone(&bus),
        registry,
        &args.cluster.topics(),
        Arc::clone(network.locations()),
        Arc::clone(&metrics),
    )?;
    let board = Dashboard::new(snapshots, metrics, shutdown.clone());
    crate::shutdown::enter(
        "serving the dashboard",
        "the dead letters in flight were not flushed",
    );
    let tasks = Tasks::new();
    let status = tasks.spawn("status read model", status.run(shutdown.clone()));
    let server = tasks.spawn(
        "dashboard",
        dashboard::serve(listener, board, shutdown.clone()),
    );
    tracing::info!(%address, "dashboard serving");
    println!("transit dashboard: http://{address}/");
    let served = join(server).await;
    let status = join(status).await;
    tasks.wait().await;
    // The read model publishes dead letters: they are flushed like any producer's output.
    bus.flush().await.context("flushing the bus")?;
    served?;
    status?;
    Ok(())
}
