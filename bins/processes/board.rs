//! `transit dashboard`: the status read model and the dashboard that renders it. With
//! `--gtfs`, any agency's board instead, with its GTFS-realtime and static feed routes, over
//! the arrivals topic `transit produce --gtfs` publishes, its GTFS-realtime trip updates and
//! "N min" from the prediction table the predictor of `transit process` keeps. Either board
//! shows the predictions' accuracy from the scorer's table (`<prefix>.predictions.accuracy.v1`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use transit_core::accuracy::{AccuracyService, AccuracySnapshot, AccuracyStats};
use transit_core::bus::{EventBus, StartFrom, SubscribeOptions};
use transit_core::codec::SchemaRegistry;
use transit_core::metrics::PipelineMetrics;
use transit_core::status::{PredictionTable, StatusService};
use transit_core::topics::Topics;

use super::{join, Tasks};
use crate::agency::{AgencyArgs, AgencyDay};
use crate::probes::{ProbeArgs, ProcessHealth};
use crate::settings::{load_network, ClusterArgs};
use transit_http::agency_board;
use transit_http::dashboard::{self, Dashboard};
use transit_sim::{SimConfig, SimTime};

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

    /// Where the dashboard listens (its own `/healthz`, `/readyz` and `/metrics` too).
    #[arg(long, env = "TRANSIT_ADDRESS", default_value = dashboard::DEFAULT_ADDRESS)]
    pub address: SocketAddr,

    /// Where the probes and metrics are served besides the dashboard's address.
    #[command(flatten)]
    pub probes: ProbeArgs,

    /// Any agency's static GTFS feed: its board, GTFS-realtime and static feed instead of
    /// CTA's dashboard (the producer's --gtfs, --service-date, --route-types and --live).
    #[command(flatten)]
    pub agency: AgencyArgs,

    /// With --gtfs: the producer's simulated start (its --start), whose date is the service day
    /// shown; ignored otherwise.
    #[arg(long, env = "TRANSIT_START")]
    pub start: Option<String>,
}

/// The running accuracy read model: its task, and its snapshots.
pub type RunningAccuracy = (
    JoinHandle<anyhow::Result<AccuracyStats>>,
    watch::Receiver<Arc<AccuracySnapshot>>,
);

/// Starts the accuracy read model of `topics`' prediction accuracy table on `tasks` until
/// `shutdown`: what a board's accuracy panel shows (`with_accuracy`).
pub fn start_accuracy(
    tasks: &Tasks,
    bus: Arc<dyn EventBus>,
    registry: Arc<dyn SchemaRegistry>,
    topics: &Topics,
    metrics: Arc<PipelineMetrics>,
    shutdown: CancellationToken,
) -> anyhow::Result<RunningAccuracy> {
    let (service, snapshots) = AccuracyService::new(
        bus,
        registry,
        transit_predict::topics::accuracy(topics),
        topics.dead_letter(),
        metrics,
    )
    .context("setting up the accuracy read model")?;
    let task = tasks.spawn("accuracy read model", service.run(shutdown));
    Ok((task, snapshots))
}

/// Serves the dashboard until `shutdown`.
pub async fn run(args: BoardArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    if args.agency.gtfs.is_some() {
        let start = match &args.start {
            Some(start) => start.parse::<SimTime>().with_context(|| {
                format!("--start {start:?} is not a date and time like 2026-11-02T05:00")
            })?,
            None => SimConfig::default().start,
        };
        if let Some(agency) = args.agency.day(start)? {
            return run_agency(args, agency, shutdown).await;
        }
    }
    let network = load_network(args.stations.as_deref())?;
    let listener = dashboard::bind(args.address).await?;
    let address = listener.local_addr().context("the dashboard's address")?;
    // Probes while Kafka and the registry are waited for (alive, not ready: `broker`
    // connecting), on the address the board's own take over once it is built.
    let connecting = ProcessHealth::starting(&args.probes, "dashboard", &shutdown).await?;
    let kafka = args.cluster.bus().await?;
    connecting.stop().await?;
    let metrics = PipelineMetrics::new();
    let client = args.cluster.registry()?.with_metrics(Arc::clone(&metrics));
    let bus: Arc<dyn EventBus> = Arc::new(kafka.clone());
    let registry = crate::reach::WaitedRegistry::shared(
        client.clone(),
        "the records waiting for their schemas were not shown; the board reads them again at \
         its next start",
    );
    let (status, snapshots) = StatusService::new(
        Arc::clone(&bus),
        Arc::clone(&registry),
        &args.cluster.topics(),
        Arc::clone(network.locations()),
        Arc::clone(&metrics),
    )?;
    let tasks = Tasks::new();
    let (accuracy, accuracy_snapshots) = start_accuracy(
        &tasks,
        Arc::clone(&bus),
        Arc::clone(&registry),
        &args.cluster.topics(),
        Arc::clone(&metrics),
        shutdown.clone(),
    )?;
    // The board's next trains and its feeds from the predictor's learnt predictions, once
    // `transit process` publishes them (the topic is waited for until then).
    let (predictions, table) = tokio::sync::watch::channel(Arc::new(PredictionTable::new()));
    let board = Dashboard::predicted(snapshots, table, Arc::clone(&metrics), shutdown.clone())
        .with_accuracy(accuracy_snapshots);
    // The board's own checks (read model restored, stations on it), the broker's and the
    // registry's: on the dashboard's /readyz and on --metrics-address alike.
    let mut health = ProcessHealth::start(
        &args.probes,
        "dashboard",
        board.readiness(),
        metrics,
        &shutdown,
    )
    .await?;
    health.watch_broker(&kafka);
    health.watch_registry(&client);
    crate::shutdown::enter(
        "serving the dashboard",
        "the dead letters in flight were not flushed",
    );
    let status = tasks.spawn("status read model", status.run(shutdown.clone()));
    let predicted = {
        let (bus, registry, stop) = (Arc::clone(&bus), Arc::clone(&registry), shutdown.clone());
        let topic = transit_predict::topics::predictions(&args.cluster.topics());
        tasks.spawn("prediction read model", async move {
            transit_http::realtime::follow_predictions(bus, registry, &topic, predictions, stop)
                .await
        })
    };
    let server = tasks.spawn(
        "dashboard",
        dashboard::serve(listener, board, shutdown.clone()),
    );
    tracing::info!(%address, "dashboard serving");
    println!("transit dashboard: http://{address}/");
    let served = join(server).await;
    let status = join(status).await;
    let predicted = join(predicted).await;
    let accuracy = join(accuracy).await;
    tasks.wait().await;
    // The read model publishes dead letters: they are flushed like any producer's output.
    bus.flush().await.context("flushing the bus")?;
    health.stop().await?;
    served?;
    status?;
    accuracy?;
    let predicted = predicted?;
    tracing::info!(
        %address,
        predictions = predicted.applied,
        left_out = predicted.skipped,
        "dashboard stopped"
    );
    Ok(())
}

/// Serves an agency's board and its feeds' routes (`--gtfs`) until `shutdown`, both read
/// models following the arrivals topic from its start.
async fn run_agency(
    args: BoardArgs,
    agency: AgencyDay,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = agency_board::bind(args.address).await?;
    let address = listener.local_addr().context("the board's address")?;
    let metrics = PipelineMetrics::new();
    let mut health = ProcessHealth::start(
        &args.probes,
        "dashboard",
        transit_http::probes::Readiness::new(),
        Arc::clone(&metrics),
        &shutdown,
    )
    .await?;
    health.readiness.expect(crate::probes::BROKER, "connecting");
    let (kafka, client) = health.connect(&args.cluster).await?;
    let bus: Arc<dyn EventBus> = Arc::new(kafka.clone());
    let registry = crate::reach::WaitedRegistry::shared(
        client,
        "the records waiting for their schemas were not shown; the board reads them again at \
         its next start",
    );
    let topics = agency.topics(args.cluster.topic_prefix.as_deref());
    let codec = Arc::new(
        transit_sim::timetabled::publish::register_codec(Arc::clone(&registry), &topics)
            .await
            .with_context(|| format!("registering schemas at {}", args.cluster.registry_url))?,
    );
    let feeds = agency.feeds(true);
    let tasks = Tasks::new();
    let (accuracy, accuracy_snapshots) = start_accuracy(
        &tasks,
        Arc::clone(&bus),
        Arc::clone(&registry),
        &topics,
        metrics,
        shutdown.clone(),
    )?;
    let board = agency.board().with_accuracy(accuracy_snapshots);
    crate::shutdown::enter("serving the board", "nothing was left unsaved");
    // Served at once: the board says it waits for arrivals until the topic exists.
    let server = tasks.spawn(
        "agency board",
        agency_board::serve_with(listener, board.clone(), feeds.router(), shutdown.clone()),
    );
    tracing::info!(%address, feed = %agency.path.display(), service_date = %agency.day.date, "board serving");
    println!("transit board: http://{address}/");
    println!("GTFS-realtime: http://{address}/gtfs-rt/vehicle-positions, /gtfs-rt/trip-updates; static feed /gtfs/static.zip");
    let subscribed = tokio::select! {
        () = shutdown.cancelled() => None,
        consumer = bus.subscribe(
            SubscribeOptions::topics([topics.vehicle_arrivals()]).starting_at(StartFrom::Earliest),
        ) => Some(consumer.context("subscribing the board to the arrivals")?),
    };
    let Some(consumer) = subscribed else {
        join(server).await?;
        join(accuracy).await?;
        tasks.wait().await;
        health.stop().await?;
        return Ok(());
    };
    // The predictor's table (`transit process` runs the predictor): the trip updates and the
    // board's "N min" are its learnt predictions; Kafka hands the table's withdrawals to its
    // readers, and a table not created yet is waited for.
    let table = transit_predict::topics::predictions(&topics);
    let board_predicted = tasks.spawn(
        "agency board predictions",
        agency_board::consume_predictions(
            board.clone(),
            Arc::clone(&bus),
            Arc::clone(&registry),
            table.clone(),
            shutdown.clone(),
        ),
    );
    let feeds_predicted = {
        let (feeds, bus, registry, stop) = (
            feeds.clone(),
            Arc::clone(&bus),
            Arc::clone(&registry),
            shutdown.clone(),
        );
        tasks.spawn("GTFS-realtime predictions", async move {
            feeds.follow_predictions(bus, registry, &table, stop).await
        })
    };
    let reader = tasks.spawn(
        "agency board read model",
        agency_board::consume(board, consumer, codec, shutdown.clone()),
    );
    let follower = {
        let (feeds, bus, registry, stop) = (
            feeds.clone(),
            Arc::clone(&bus),
            Arc::clone(&registry),
            shutdown.clone(),
        );
        let topics = topics.clone();
        tasks.spawn("GTFS-realtime read model", async move {
            feeds.follow(bus, registry, &topics, stop).await
        })
    };
    // The trips the producer's simulation drops, CANCELED in the trip updates.
    let cancellations = {
        let (feeds, bus, registry, stop) = (
            feeds.clone(),
            Arc::clone(&bus),
            Arc::clone(&registry),
            shutdown.clone(),
        );
        tasks.spawn("GTFS-realtime trip cancellations", async move {
            feeds
                .follow_cancellations(bus, registry, &topics, stop)
                .await
        })
    };
    let served = join(server).await;
    let applied = join(reader).await;
    let followed = join(follower).await;
    let cancelled = join(cancellations).await;
    let board_predictions = join(board_predicted).await;
    let feeds_predictions = join(feeds_predicted).await;
    let accuracy = join(accuracy).await;
    tasks.wait().await;
    bus.flush().await.context("flushing the bus")?;
    health.stop().await?;
    served?;
    accuracy?;
    let applied = applied?;
    let followed = followed?;
    let cancelled = cancelled?;
    let board_predictions = board_predictions?;
    let feeds_predictions = feeds_predictions?;
    tracing::info!(
        %address,
        board = applied,
        feeds = followed.applied,
        left_out = followed.skipped,
        cancellations = cancelled.applied,
        cancellations_left_out = cancelled.skipped,
        board_predictions = board_predictions.applied,
        feeds_predictions = feeds_predictions.applied,
        predictions_left_out = board_predictions.skipped + feeds_predictions.skipped,
        "board stopped"
    );
    Ok(())
}
