//! The whole pipeline in one process, on the in-memory bus: no broker, database or file needed.
//!
//! What runs, each part a task talking to the others only through the bus (as the separate
//! processes of a Kafka deployment do):
//! - the schema registry (Confluent's API on http://127.0.0.1:8081), its state in the
//!   `_schemas` topic of the bus; every part registers and looks its schemas up there;
//! - the REST Proxy (Confluent's v2 produce API on http://127.0.0.1:8082);
//! - the station source: the embedded CTA station rows, published to the raw station topic;
//! - the station processor: one clean station per station and line, on the station table;
//! - the simulation: trains and turnstile entries of the Blue, Red and Green lines, Avro in
//!   the Confluent wire format; its weather station posts each hourly reading to the REST
//!   Proxy over HTTP, as the original hardware did;
//! - the turnstile counter: entries per station and line, on the count table;
//! - the status read model, and the dashboard that renders it on http://127.0.0.1:3000, with
//!   the what-if controls (`POST /api/what-if`) into this process's simulation;
//! - predictions (on CTA's embedded network, ridership and schedule; `--no-predictions`
//!   leaves them out): the trains' calls published as any agency's vehicle arrivals in the
//!   static feed's ids, the predictor (`transit-predict`) learning from them against the
//!   feed's service day of the start date, and its scorer; the summary gives the predictions
//!   issued and the learnt method's accuracy per horizon bucket.
//!
//! With `--kafka host:port` the same parts run on a Kafka cluster instead (see `docs/kafka.md` for
//! its settings).
//!
//! With `--gtfs PATH` (a zip or a folder) any agency's static GTFS feed is the input instead of
//! CTA's: the routes of `--route-types` (rail by default: 0, 1, 2, 5, 7, 12), from the simulated
//! start (`--start`, read in the agency's time zone), running the service of that date or of
//! `--service-date` (a date the feed's calendar does not cover runs the same weekday of its own
//! range, and the log says which). The timetabled simulation publishes the arrivals on the
//! any-feed arrivals topic, and the board for that network (its routes, each route's stop
//! patterns with its trains, a map of its shapes and stations with the trains on them) is
//! served at the dashboard's address. `--live` starts at the current wall-clock time in the
//! agency's time zone, on today's date there, and runs at 1x: every timestamp is real time.
//!
//! ```text
//! cargo run --release --example full_pipeline                  # 60x real time, until Ctrl+C
//! cargo run --release --example full_pipeline -- --speed 600 --address 0.0.0.0:8080
//! cargo run --release --example full_pipeline -- --flat-out --days 1
//! cargo run --release --example full_pipeline -- --kafka 127.0.0.1:9092
//! cargo run --release --example full_pipeline -- --what-if break-down:BL003:10@2026-11-02T05:30
//! cargo run --release --example full_pipeline -- --gtfs nyc_subway_gtfs.zip --live
//! cargo run --release --example full_pipeline -- --gtfs feed.zip --service-date 2025-06-02 --speed 30
//! cargo run --release --example full_pipeline -- --help
//! ```
//!
//! Ctrl+C stops it cleanly: the tick in hand is published and the bus flushed, each consumer
//! finishes and commits its batch, the servers close their connections; a second Ctrl+C
//! forces it. With `--days`, it stops by itself once that much time is simulated.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use tokio_util::sync::CancellationToken;
use transit::processes::board::start_accuracy;
use transit::processes::join;
use transit::processes::registry::{start_services, SchemaServices};
use transit::settings::{KafkaArgs, SimulationArgs};
use transit_core::bus::EventBus;
use transit_core::codec::SchemaRegistry;
use transit_sim::pipeline::{self, PipelineConfig, PipelineReport, RunningPipeline};

use transit_core::topics::Topics;
use transit_http::dashboard::{self, Dashboard};
use transit_http::rest_proxy::{self, RestProxyClient, RestProxyWeather};
use transit_http::what_if::{WhatIfControl, WhatIfToken};
use transit_kafka::KafkaBus;
use transit_mem::{MemBus, MemBusConfig};
use transit_sim::what_if::WhatIfs;
use transit_sim::Simulation;

/// mimalloc: the pipeline allocates and frees millions of small records a second, where
/// glibc's allocator spends more time than the encoding itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Records kept per partition by default. The board's consumers read records as they come and
/// the tables are compacted, so the one-process pipeline needs no deep history; this bounds
/// memory once a few minutes of events are kept (the library's default, for tests and
/// benchmarks that replay more, is larger).
const RETENTION_RECORDS: u64 = 20_000;

/// The whole transit pipeline in one process, on the in-memory bus, with its live dashboard,
/// schema registry and REST Proxy.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    simulation: SimulationArgs,

    /// Where the dashboard listens.
    #[arg(long, env = "TRANSIT_ADDRESS", default_value = dashboard::DEFAULT_ADDRESS)]
    address: SocketAddr,

    /// A file holding the bearer token that `POST /api/what-if` needs when the dashboard
    /// listens on an address other than loopback (or the token itself in the environment
    /// variable TRANSIT_WHAT_IF_TOKEN). Without one, what-ifs are refused off loopback: anyone
    /// reaching the board could use them.
    #[arg(long, env = "TRANSIT_WHAT_IF_TOKEN_FILE")]
    what_if_token_file: Option<std::path::PathBuf>,

    /// Where the schema registry listens (Confluent's API).
    #[arg(long, env = "TRANSIT_REGISTRY_ADDRESS", default_value = transit_http::registry::DEFAULT_ADDRESS)]
    registry_address: SocketAddr,

    /// Where the REST Proxy listens (Confluent's v2 produce API).
    #[arg(long, env = "TRANSIT_REST_PROXY_ADDRESS", default_value = rest_proxy::DEFAULT_ADDRESS)]
    rest_proxy_address: SocketAddr,

    /// Prefix of every topic name: `org.chicago.cta` for CTA's network, and for a --gtfs feed
    /// `gtfs.<agency_id, else the file's name>` [default: by network].
    #[arg(long, env = "TRANSIT_TOPIC_PREFIX")]
    topic_prefix: Option<String>,

    /// The topic the schema registry keeps its schemas in.
    #[arg(long, env = "TRANSIT_REGISTRY_TOPIC", default_value = transit_registry::DEFAULT_TOPIC)]
    registry_topic: String,

    /// Partitions of the arrivals and turnstile topics.
    #[arg(long, default_value_t = 4)]
    partitions: u32,

    /// Records the in-memory bus keeps per partition before the oldest go (bounds memory).
    #[arg(long, default_value_t = RETENTION_RECORDS)]
    retention_records: u64,

    /// Seconds between progress reports.
    #[arg(long, default_value_t = 5)]
    report_every: u64,

    /// Runs neither the predictor nor its scorer: the board and the feeds then carry each
    /// train's current delay over the timetable. (On CTA's network they run on its embedded
    /// network, ridership and schedule only, the ones the static feed describes.)
    #[arg(long)]
    no_predictions: bool,

    /// Any agency's static GTFS feed instead of CTA's network.
    #[command(flatten)]
    agency: transit::agency::AgencyArgs,

    #[command(flatten)]
    kafka: KafkaArgs,

    #[command(flatten)]
    log: transit::logging::LogArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    transit::logging::init(args.log.log_format);
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The bus everything runs on.
enum Bus {
    Memory(MemBus),
    Kafka(KafkaBus),
}

impl Bus {
    async fn open(args: &Args) -> anyhow::Result<Self> {
        match args.kafka.config()? {
            None => {
                let bus = MemBus::with_config(MemBusConfig {
                    retention_records: args.retention_records,
                    ..MemBusConfig::default()
                });
                // Flat out, the simulation outruns a reader the scheduler sets aside for a
                // moment; waiting for it keeps every record read (a finite run counts all it
                // published) where retention would otherwise make it skip some.
                Ok(Self::Memory(if args.simulation.flat_out {
                    bus.wait_for_readers()
                } else {
                    bus
                }))
            }
            Some(config) => Ok(Self::Kafka(KafkaBus::connect(config).await?)),
        }
    }

    fn shared(&self) -> Arc<dyn EventBus> {
        match self {
            Self::Memory(bus) => Arc::new(bus.clone()),
            Self::Kafka(bus) => Arc::new(bus.clone()),
        }
    }

    fn close(&self) {
        if let Self::Memory(bus) = self {
            bus.close();
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    if let Some(day) = args.agency.day(args.simulation.sim_config()?.start)? {
        return agency::run(args, day).await;
    }
    let shutdown = transit::shutdown::on_ctrl_c();
    let network = args.simulation.network()?;
    let ridership = args.simulation.ridership()?;
    let station_rows = args.simulation.station_rows()?;
    let sim_config = args.simulation.sim_config()?;
    let mut driver = args.simulation.driver_config(sim_config.start)?;
    driver.progress_every = Duration::from_secs(args.report_every.max(1));
    let what_ifs = WhatIfs::new(Arc::clone(&network));
    driver.what_ifs = Some(what_ifs.clone());
    let predictions = if args.no_predictions {
        None
    } else {
        transit::predictions::cta_predictions(&args.simulation, sim_config.start)?
    };
    let mut sim =
        Simulation::new(network, ridership, sim_config).context("setting up the simulation")?;
    args.simulation.schedule_what_ifs(&mut sim)?;

    // Bound first: a port in use should fail before anything starts.
    let board_listener = dashboard::bind(args.address).await?;
    let registry_listener = transit_http::registry::bind(args.registry_address).await?;
    let proxy_listener = rest_proxy::bind(args.rest_proxy_address).await?;
    let board_address = local_address(&board_listener, "dashboard")?;
    let registry_address = local_address(&registry_listener, "schema registry")?;
    let proxy_address = local_address(&proxy_listener, "REST Proxy")?;

    let Backbone {
        bus,
        shared_bus,
        stop_serving,
        services,
        registry,
    } = Backbone::start(&args, registry_listener, proxy_listener).await?;

    let topics = Topics::new(
        args.topic_prefix
            .as_deref()
            .unwrap_or(transit_core::topics::DEFAULT_PREFIX),
    );
    let proxy_client = RestProxyClient::new(format!("http://{proxy_address}"))
        .context("setting up the REST Proxy client")?;
    driver.weather_sink = Some(Arc::new(RestProxyWeather::new(
        proxy_client,
        topics.weather(),
    )));
    let predicting = predictions.is_some();
    let config = PipelineConfig {
        topics: topics.clone(),
        partitions: args.partitions,
        driver: driver.clone(),
        station_rows: Some(station_rows),
        predictions,
    };
    let running = pipeline::start(
        Arc::clone(&shared_bus),
        Arc::clone(&registry),
        sim,
        config,
        shutdown.clone(),
    )
    .await?;

    let (accuracy_model, accuracy_snapshots) = start_accuracy(
        &services.tasks,
        Arc::clone(&shared_bus),
        Arc::clone(&registry),
        &topics,
        running.metrics(),
        stop_serving.clone(),
    )?;
    // The board's next trains and its feeds serve the predictor's learnt predictions: read
    // from its table on Kafka, from the issued predictions on the in-memory bus (whose
    // compaction drops a withdrawal as it comes).
    let followed = predicting.then(|| {
        let (sender, table) = tokio::sync::watch::channel(Arc::default());
        let topic = match &bus {
            Bus::Kafka(_) => transit_predict::topics::predictions(&topics),
            Bus::Memory(_) => transit_predict::topics::issued(&topics),
        };
        let (bus, registry, stop) = (
            Arc::clone(&shared_bus),
            Arc::clone(&registry),
            stop_serving.clone(),
        );
        let task = services.tasks.spawn("prediction read model", async move {
            transit_http::realtime::follow_predictions(bus, registry, &topic, sender, stop).await
        });
        (table, task)
    });
    let board = match &followed {
        Some((table, _)) => Dashboard::predicted(
            running.snapshots(),
            table.clone(),
            running.metrics(),
            stop_serving.clone(),
        ),
        None => Dashboard::new(running.snapshots(), running.metrics(), stop_serving.clone()),
    }
    .with_what_ifs(WhatIfControl::new(
        what_ifs,
        board_address,
        what_if_token(&args)?,
    ))
    .with_accuracy(accuracy_snapshots);
    let board_server = services.tasks.spawn(
        "dashboard",
        dashboard::serve(board_listener, board, stop_serving.clone()),
    );
    tracing::info!(
        dashboard = %board_address,
        registry = %registry_address,
        rest_proxy = %proxy_address,
        bus = %shared_bus,
        "serving"
    );
    println!("transit dashboard: http://{board_address}/");
    println!("schema registry:   http://{registry_address}/subjects");
    println!("REST Proxy:        http://{proxy_address}/topics/{{topic}}");

    let started = Instant::now();
    if let Some(part) = report_until_finished(&running, driver.progress_every).await {
        tracing::error!(part, "a consumer stopped; stopping the pipeline");
        shutdown.cancel();
    }
    // The simulation stops first: its last weather reading still goes through the proxy.
    let report = running.stop().await;
    let elapsed = started.elapsed();
    // Read before the bus closes.
    let accuracy = match &report {
        Ok(report) if report.scorer.is_some() => {
            Some(accuracy_rows(&shared_bus, &registry, &topics).await?)
        }
        _ => None,
    };
    stop_serving.cancel();
    join(board_server).await?;
    join(accuracy_model).await?;
    if let Some((_, task)) = followed {
        let followed = join(task).await?;
        tracing::info!(
            applied = followed.applied,
            left_out = followed.skipped,
            "the board's prediction read model stopped"
        );
    }
    Backbone::finish(bus, services).await?;
    let report = report?;
    summarise(&report, elapsed);
    summarise_predictions(&report, accuracy.as_deref());
    Ok(())
}

/// The scorer's accuracy table as it stands.
async fn accuracy_rows(
    bus: &Arc<dyn EventBus>,
    registry: &Arc<dyn SchemaRegistry>,
    topics: &Topics,
) -> anyhow::Result<Vec<transit_core::event::AccuracyEvent>> {
    let codec = transit_core::codec::TopicCodec::<transit_core::event::AccuracyEvent>::register(
        Arc::clone(registry),
        transit_predict::topics::accuracy(topics),
    )
    .await?;
    let mut rows = Vec::new();
    for delivery in transit_core::processor::read_table(bus.as_ref(), codec.topic()).await? {
        rows.push(codec.decode(&delivery).await.context("an accuracy row")?.1);
    }
    Ok(rows)
}

/// The predictor's and the scorer's counts, and the learnt method's accuracy per bucket.
fn summarise_predictions(
    report: &PipelineReport,
    accuracy: Option<&[transit_core::event::AccuracyEvent]>,
) {
    let (Some(predictor), Some(scorer), Some(rows)) = (&report.predictor, &report.scorer, accuracy)
    else {
        return;
    };
    println!(
        "predictor: {} arrivals applied, {} predictions issued, {} withdrawn ({} unplaced, {} replays skipped)",
        predictor.applied, predictor.issued, predictor.withdrawn, predictor.unplaced, predictor.replayed
    );
    println!(
        "prediction scorer: {} predictions and {} arrivals read, {} accuracy rows published",
        scorer.predictions, scorer.arrivals, scorer.published
    );
    let summary = transit_predict::Summary::of(rows);
    let learnt = transit_predict::Method::Learnt.as_str();
    for (index, bucket) in transit_predict::BUCKETS.iter().enumerate() {
        let cell = summary
            .cells
            .get(&(index, learnt.to_string()))
            .cloned()
            .unwrap_or_default();
        let samples = cell.scored + cell.expired;
        match (summary.accuracy(index, learnt), summary.mae_s(index, learnt)) {
            (Some(right), Some(mae)) => println!(
                "accuracy ({learnt}) {:>9}: {:5.1} % right, mean absolute error {mae:4.0} s, {samples} samples ({} late, {} never came)",
                format!("{} min", bucket.name),
                right * 100.0,
                cell.late,
                cell.never
            ),
            _ => println!(
                "accuracy ({learnt}) {:>9}: no samples",
                format!("{} min", bucket.name)
            ),
        }
    }
}

/// The run's bus, with the schema registry and the REST Proxy served over it: what the CTA
/// pipeline and any agency's both stand on.
struct Backbone {
    bus: Bus,
    shared_bus: Arc<dyn EventBus>,
    /// Stops the servers (the registry, the REST Proxy, the board).
    stop_serving: CancellationToken,
    services: SchemaServices,
    registry: Arc<dyn SchemaRegistry>,
}

impl Backbone {
    /// Opens the bus and serves the registry and the REST Proxy on their listeners.
    async fn start(
        args: &Args,
        registry_listener: tokio::net::TcpListener,
        proxy_listener: tokio::net::TcpListener,
    ) -> anyhow::Result<Self> {
        let bus = Bus::open(args).await?;
        let shared_bus = bus.shared();
        let stop_serving = CancellationToken::new();
        let services = start_services(
            Arc::clone(&shared_bus),
            &args.registry_topic,
            registry_listener,
            proxy_listener,
            stop_serving.clone(),
        )
        .await?;
        let registry: Arc<dyn SchemaRegistry> = Arc::new(services.registry.clone());
        Ok(Self {
            bus,
            shared_bus,
            stop_serving,
            services,
            registry,
        })
    }

    /// Once `stop_serving` is cancelled: waits for the registry and REST Proxy to stop, then
    /// flushes and closes the bus.
    async fn finish(bus: Bus, services: SchemaServices) -> anyhow::Result<()> {
        for server in services.servers {
            join(server).await?;
        }
        services.tasks.wait().await;
        bus.shared().flush().await.context("flushing the bus")?;
        bus.close();
        Ok(())
    }
}

fn local_address(listener: &tokio::net::TcpListener, what: &str) -> anyhow::Result<SocketAddr> {
    listener
        .local_addr()
        .with_context(|| format!("reading the {what}'s address"))
}

/// Logs what the board shows until the simulation stops (Ctrl+C or `--days`), or until a
/// consumer fails, which it returns.
async fn report_until_finished(running: &RunningPipeline, every: Duration) -> Option<&'static str> {
    let snapshots = running.snapshots();
    let metrics = running.metrics();
    let mut reported = Instant::now();
    loop {
        // Woken at once when the simulation ends, so a short run's wall time is its own.
        tokio::select! {
            ended = running.simulation_ended() => return ended.err(),
            () = tokio::time::sleep(every.saturating_sub(reported.elapsed())) => {}
        }
        if reported.elapsed() >= every {
            reported = Instant::now();
            let board = Arc::clone(&snapshots.borrow());
            let lag: u64 = metrics.snapshot().lag.values().sum();
            tracing::info!(
                simulated_time = board.simulated_time.as_deref().unwrap_or("-"),
                stations = board.totals.stations,
                trains = board.totals.in_service,
                bunched = board.totals.bunched,
                gapped = board.totals.gapped,
                riders = board.totals.entries,
                consumer_lag = lag,
                "board"
            );
        }
    }
}

fn summarise(report: &PipelineReport, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(f64::EPSILON);
    println!(
        "simulated {} ticks up to {} in {secs:.2} s wall time",
        report.driver.ticks,
        report
            .driver
            .simulated_until
            .map(|t| t.to_string())
            .unwrap_or_else(|| "the start".into()),
    );
    println!("{:<45} {:>12} {:>12}", "topic", "published", "per second");
    for (topic, &count) in &report.driver.published {
        println!("{topic:<45} {count:>12} {:>12.0}", count as f64 / secs);
    }
    println!(
        "{:<45} {:>12} {:>12.0}",
        "total",
        report.driver.total(),
        report.driver.total() as f64 / secs
    );
    let stations = &report.stations;
    println!(
        "station processor: {} rows, {} stations published, {} rows on no line and {} on several dead-lettered",
        stations.rows, stations.published, stations.off_line, stations.multi_line
    );
    let counts = &report.counts;
    println!(
        "turnstile counter: {} entries counted ({} replays skipped, {} undecodable)",
        counts.counted, counts.replayed, counts.undecodable
    );
    let headways = &report.headways;
    println!(
        "headway processor: {} arrivals applied, {} platform headways published ({} replays skipped, {} not in service)",
        headways.applied, headways.published, headways.replayed, headways.not_in_service
    );
    println!(
        "status read model: {} records applied, {} dead-lettered",
        report.status.applied, report.status.dead_lettered
    );
}

/// The what-if token: the file's, else the environment's, else none.
fn what_if_token(args: &Args) -> anyhow::Result<Option<WhatIfToken>> {
    Ok(match &args.what_if_token_file {
        Some(path) => Some(WhatIfToken::from_file(path)?),
        None => WhatIfToken::from_env()?,
    })
}

/// The pipeline over any agency's static GTFS feed (`--gtfs`).
mod agency {
    use std::sync::Arc;
    use std::time::Duration;

    use anyhow::Context;
    use tokio::task::JoinHandle;
    use tokio_util::sync::CancellationToken;
    use transit::agency::AgencyDay;
    use transit::processes::join;
    use transit::processes::registry::SchemaServices;
    use transit_core::bus::{EventBus, StartFrom, SubscribeOptions};
    use transit_core::codec::SchemaRegistry;
    use transit_core::metrics::PipelineMetrics;
    use transit_core::status::predictions::FollowStats;
    use transit_core::topics::Topics;
    use transit_http::agency::AgencyFeeds;
    use transit_http::agency_board::{self, AgencyBoard};
    use transit_http::rest_proxy;
    use transit_predict::{predictor, scorer, PredictionProcessor, ScoreConfig, ScoreProcessor};
    use transit_predict::{PredictorStats, ScorerStats};
    use transit_sim::timetabled::publish::{self, PublishConfig};

    use super::{local_address, start_accuracy, Args, Backbone, Bus};

    /// Reads the feed, builds the day, serves its board and publishes the day's arrivals until
    /// Ctrl+C (or `--days`).
    pub(super) async fn run(args: Args, agency: AgencyDay) -> anyhow::Result<()> {
        let shutdown = transit::shutdown::on_ctrl_c();
        let clock = args
            .agency
            .clock(args.simulation.flat_out, args.simulation.speed)?;
        let day = Arc::clone(&agency.day);
        let board_listener = agency_board::bind(args.address).await?;
        let registry_listener = transit_http::registry::bind(args.registry_address).await?;
        let proxy_listener = rest_proxy::bind(args.rest_proxy_address).await?;
        let board_address = local_address(&board_listener, "board")?;

        let Backbone {
            bus,
            shared_bus,
            stop_serving,
            services,
            registry,
        } = Backbone::start(&args, registry_listener, proxy_listener).await?;
        let topics = agency.topics(args.topic_prefix.as_deref());
        publish::create_topic(shared_bus.as_ref(), &topics, args.partitions).await?;
        let codec = Arc::new(publish::register_codec(Arc::clone(&registry), &topics).await?);
        let cancellations =
            Arc::new(publish::register_cancellations(Arc::clone(&registry), &topics).await?);

        let metrics = PipelineMetrics::new();
        let feeds = agency.feeds(!args.no_predictions);
        let (accuracy, accuracy_snapshots) = start_accuracy(
            &services.tasks,
            Arc::clone(&shared_bus),
            Arc::clone(&registry),
            &topics,
            Arc::clone(&metrics),
            stop_serving.clone(),
        )?;
        let board = agency.board().with_accuracy(accuracy_snapshots);
        let consumer = shared_bus
            .subscribe(
                SubscribeOptions::topics([topics.vehicle_arrivals()])
                    .starting_at(StartFrom::Earliest),
            )
            .await
            .context("subscribing the board to the arrivals")?;
        let reader = services.tasks.spawn(
            "agency board read model",
            agency_board::consume(
                board.clone(),
                consumer,
                Arc::clone(&codec),
                stop_serving.clone(),
            ),
        );
        let follow = Follow {
            services: &services,
            feeds: &feeds,
            bus: &shared_bus,
            registry: &registry,
            stop: &stop_serving,
        };
        let follower = follow.spawn("GTFS-realtime read model", {
            let topics = topics.clone();
            move |feeds, bus, registry, stop| async move {
                feeds.follow(bus, registry, &topics, stop).await
            }
        });
        let cancellations_followed = follow.spawn("GTFS-realtime trip cancellations", {
            let topics = topics.clone();
            move |feeds, bus, registry, stop| async move {
                feeds
                    .follow_cancellations(bus, registry, &topics, stop)
                    .await
            }
        });
        // The predictor and its scorer, on the processor loop like CTA's processors; the board
        // and the feeds serve the predictor's table.
        let predicting = if args.no_predictions {
            None
        } else {
            Some(
                Predicting::start(
                    &args,
                    &agency,
                    &services,
                    (&bus, &shared_bus, &registry),
                    &topics,
                    (&feeds, &board),
                    (&metrics, &stop_serving),
                )
                .await?,
            )
        };
        let board_view = board.clone();
        let board_server = services.tasks.spawn(
            "agency board",
            agency_board::serve_with(board_listener, board, feeds.router(), stop_serving.clone()),
        );
        println!("transit board:     http://{board_address}/");
        println!("GTFS-realtime:     http://{board_address}/gtfs-rt/vehicle-positions, /gtfs-rt/trip-updates; static feed /gtfs/static.zip");

        if let Some(predicting) = &predicting {
            predicting.ready(&metrics).await?;
        }
        let mut sim = agency.simulation(args.simulation.seed)?;
        let until_s = AgencyDay::until(&sim, args.simulation.days);
        let config = PublishConfig {
            clock,
            until_s,
            progress_every: Duration::from_secs(args.report_every.max(1)),
            cancellations: Some(cancellations),
        };
        let stats = publish::run(
            shared_bus.as_ref(),
            &mut sim,
            &codec,
            &config,
            shutdown.clone(),
        )
        .await?;
        println!(
            "published {} arrivals and {} trip cancellations of {} ({} routes) up to {} of {}",
            stats.published,
            stats.cancellations,
            day.date,
            day.routes.len(),
            publish::gtfs_time(stats.simulated_until_s),
            day.requested
        );
        if until_s.is_some() && !shutdown.is_cancelled() {
            // A finite run ends once both read models hold everything published, as the CTA
            // pipeline's does once its processors caught up.
            let caught_up =
                || board_view.applied() >= stats.published && feeds.applied() >= stats.published;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while !caught_up() && tokio::time::Instant::now() < deadline && !shutdown.is_cancelled()
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if !caught_up() {
                tracing::warn!(
                    published = stats.published,
                    board = board_view.applied(),
                    feeds = feeds.applied(),
                    "the read models had not applied every arrival published when the run ended"
                );
            }
            // And once the predictor has predicted from every arrival.
            if predicting.is_some() {
                let arrivals_topic = topics.vehicle_arrivals();
                let predicted_from = || {
                    metrics
                        .snapshot()
                        .consumed
                        .iter()
                        .filter(|((consumer, topic), _)| {
                            consumer == predictor::PREDICTOR && **topic == *arrivals_topic
                        })
                        .map(|(_, count)| *count)
                        .sum::<u64>()
                };
                while predicted_from() < stats.published
                    && tokio::time::Instant::now() < deadline
                    && !shutdown.is_cancelled()
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        if until_s.is_none() && !shutdown.is_cancelled() {
            println!("the day's service is over; the board stays up until Ctrl+C");
            shutdown.cancelled().await;
        }
        let predicted = match predicting {
            Some(predicting) => Some(predicting.finish(&stop_serving).await?),
            None => None,
        };
        stop_serving.cancel();
        let applied = join(reader).await?;
        let followed = join(follower).await?;
        let cancelled = join(cancellations_followed).await?;
        join(board_server).await?;
        join(accuracy).await?;
        Backbone::finish(bus, services).await?;
        println!(
            "board read model: {applied} arrivals applied; GTFS-realtime read model: {} applied, {} left out; {} trip cancellations ({} left out)",
            followed.applied, followed.skipped, cancelled.applied, cancelled.skipped
        );
        if let Some(predicted) = predicted {
            predicted.report();
        }
        Ok(())
    }

    /// What a follower of the bus into the feeds' read model runs with.
    struct Follow<'a> {
        services: &'a SchemaServices,
        feeds: &'a AgencyFeeds,
        bus: &'a Arc<dyn EventBus>,
        registry: &'a Arc<dyn SchemaRegistry>,
        stop: &'a CancellationToken,
    }

    impl Follow<'_> {
        /// Runs `follow` as the task `what`, with handles of its own to the feeds, the bus, the
        /// registry and the servers' stop.
        fn spawn<T, E, F, Fut>(
            &self,
            what: &'static str,
            follow: F,
        ) -> JoinHandle<anyhow::Result<T>>
        where
            F: FnOnce(
                AgencyFeeds,
                Arc<dyn EventBus>,
                Arc<dyn SchemaRegistry>,
                CancellationToken,
            ) -> Fut,
            Fut: std::future::Future<Output = Result<T, E>> + Send + 'static,
            T: Send + 'static,
            E: std::error::Error + Send + Sync + 'static,
        {
            self.services.tasks.spawn(
                what,
                follow(
                    self.feeds.clone(),
                    Arc::clone(self.bus),
                    Arc::clone(self.registry),
                    self.stop.clone(),
                ),
            )
        }
    }

    /// The predictor and its scorer, and the read models of their predictions (the board's
    /// next trains and the GTFS-realtime trip updates): what `--no-predictions` leaves out.
    struct Predicting {
        stop_predicting: CancellationToken,
        stop_scoring: CancellationToken,
        predicting: JoinHandle<anyhow::Result<PredictorStats>>,
        scoring: JoinHandle<anyhow::Result<ScorerStats>>,
        feeds_followed: JoinHandle<anyhow::Result<FollowStats>>,
        board_followed: JoinHandle<anyhow::Result<FollowStats>>,
    }

    /// What the predicting parts did, for the summary.
    struct Predicted {
        predictor: PredictorStats,
        scorer: ScorerStats,
        feeds: FollowStats,
        board: FollowStats,
    }

    impl Predicting {
        async fn start(
            args: &Args,
            agency: &AgencyDay,
            services: &SchemaServices,
            (bus, shared_bus, registry): (&Bus, &Arc<dyn EventBus>, &Arc<dyn SchemaRegistry>),
            topics: &Topics,
            (feeds, board): (&AgencyFeeds, &AgencyBoard),
            (metrics, stop_serving): (&Arc<PipelineMetrics>, &CancellationToken),
        ) -> anyhow::Result<Self> {
            let predictor = PredictionProcessor::new(
                Arc::clone(shared_bus),
                Arc::clone(registry),
                topics,
                Arc::clone(&agency.day),
                args.partitions,
                Arc::clone(metrics),
            )
            .await
            .context("setting up the predictor")?
            .cancellations(Arc::clone(registry), topics.trip_cancellations())?;
            let scorer = ScoreProcessor::new(
                Arc::clone(shared_bus),
                Arc::clone(registry),
                topics,
                ScoreConfig {
                    day_start_unix_s: agency.day.start_unix_s,
                    ..ScoreConfig::default()
                },
                Arc::clone(metrics),
            )
            .await
            .context("setting up the prediction scorer")?;
            let (stop_predicting, stop_scoring) =
                (CancellationToken::new(), CancellationToken::new());
            let predicting = services
                .tasks
                .spawn("predictor", predictor.run(stop_predicting.clone()));
            let scoring = services
                .tasks
                .spawn("prediction scorer", scorer.run(stop_scoring.clone()));
            // Kafka hands a withdrawal (a record without a value) to every reader of the table;
            // the in-memory bus's compaction drops it as it comes, so there the read models
            // take the same records from the issued predictions, which keep every one.
            let predictions_topic = match bus {
                Bus::Kafka(_) => transit_predict::topics::predictions(topics),
                Bus::Memory(_) => transit_predict::topics::issued(topics),
            };
            let follow = Follow {
                services,
                feeds,
                bus: shared_bus,
                registry,
                stop: stop_serving,
            };
            let feeds_followed = follow.spawn("GTFS-realtime predictions", {
                let topic = predictions_topic.clone();
                move |feeds, bus, registry, stop| async move {
                    feeds.follow_predictions(bus, registry, &topic, stop).await
                }
            });
            let board_followed = services.tasks.spawn(
                "agency board predictions",
                agency_board::consume_predictions(
                    board.clone(),
                    Arc::clone(shared_bus),
                    Arc::clone(registry),
                    predictions_topic,
                    stop_serving.clone(),
                ),
            );
            Ok(Self {
                stop_predicting,
                stop_scoring,
                predicting,
                scoring,
                feeds_followed,
                board_followed,
            })
        }

        /// Waits until both hold their partitions, so the day is published to readers that
        /// are there: one that is not yet holds nothing back.
        async fn ready(&self, metrics: &PipelineMetrics) -> anyhow::Result<()> {
            let ready_by = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                let restored = metrics.has_restored(predictor::PREDICTOR)
                    && metrics.has_restored(scorer::SCORER);
                // One that ended (it failed) never restores: joining it at the end says why.
                if restored || self.predicting.is_finished() || self.scoring.is_finished() {
                    return Ok(());
                }
                if tokio::time::Instant::now() > ready_by {
                    anyhow::bail!(
                        "the predictor and the scorer did not hold their partitions within 30 s"
                    );
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }

        /// Stops the predictor, then the scorer, then (with `stop_serving`) the read models of
        /// their predictions.
        async fn finish(self, stop_serving: &CancellationToken) -> anyhow::Result<Predicted> {
            self.stop_predicting.cancel();
            let predictor = join(self.predicting).await?;
            self.stop_scoring.cancel();
            let scorer = join(self.scoring).await?;
            stop_serving.cancel();
            Ok(Predicted {
                predictor,
                scorer,
                feeds: join(self.feeds_followed).await?,
                board: join(self.board_followed).await?,
            })
        }
    }

    impl Predicted {
        fn report(&self) {
            println!("predictor ({}): {}", predictor::PREDICTOR, self.predictor);
            println!("scorer ({}): {}", scorer::SCORER, self.scorer);
            println!(
                "predictions read: GTFS-realtime {} ({} of the baselines passed over, {} left out), board {} ({} passed over, {} left out)",
                self.feeds.applied,
                self.feeds.other_methods,
                self.feeds.skipped,
                self.board.applied,
                self.board.other_methods,
                self.board.skipped
            );
        }
    }
}
