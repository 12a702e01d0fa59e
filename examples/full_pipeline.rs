//! The whole pipeline in one process, on the in-memory bus: no broker, database or file needed.
//!
//! What runs: the simulation of the Blue, Red and Green lines (trains, turnstiles, weather),
//! published as Avro records in the Confluent wire format through an in-memory schema registry
//! onto the in-memory bus (`transit-mem`); and a consumer that reads every topic back, decodes
//! each record, and reports what flows: events per second per topic and the simulated time.
//!
//! ```text
//! cargo run --release --example full_pipeline                  # 60x real time, until Ctrl+C
//! cargo run --release --example full_pipeline -- --flat-out --days 1
//! cargo run --release --example full_pipeline -- --help
//! ```
//!
//! What it shows: every record published is consumed and decoded (the closing summary compares
//! the two counts per topic), and Ctrl+C stops it cleanly: the tick in hand is published, the
//! bus flushed, and the consumer drains before the process exits. A second Ctrl+C forces it.
//! The same wiring over Kafka is the production pipeline of `bins/` (see the README).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use transit::settings::SimulationArgs;
use transit_core::bus::{EventBus, SubscribeOptions};
use transit_core::codec::SchemaRegistry;
use transit_core::driver::{self, SimulationCodecs};
use transit_core::monitor;
use transit_core::sim::Simulation;
use transit_core::topics::Topics;
use transit_mem::{MemBus, MemBusConfig, MemRegistry};

/// mimalloc: the pipeline allocates and frees millions of small records a second, where
/// glibc's allocator spends more time than the encoding itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The whole transit pipeline in one process, on the in-memory bus.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    simulation: SimulationArgs,

    /// Prefix of every topic name.
    #[arg(long, env = "TRANSIT_TOPIC_PREFIX", default_value = transit_core::topics::DEFAULT_PREFIX)]
    topic_prefix: String,

    /// Partitions of the arrivals and turnstile topics.
    #[arg(long, default_value_t = 4)]
    partitions: u32,

    /// Records the in-memory bus keeps per partition before the oldest go (bounds memory).
    #[arg(long, default_value_t = MemBusConfig::default().retention_records)]
    retention_records: u64,

    /// Seconds between progress reports.
    #[arg(long, default_value_t = 5)]
    report_every: u64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    transit::logging::init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let shutdown = transit::shutdown::on_ctrl_c();
    let network = args.simulation.network()?;
    let ridership = args.simulation.ridership()?;
    let sim_config = args.simulation.sim_config()?;
    let mut driver_config = args.simulation.driver_config(sim_config.start)?;
    driver_config.progress_every = Duration::from_secs(args.report_every.max(1));
    let mut sim =
        Simulation::new(network, ridership, sim_config).context("setting up the simulation")?;

    let bus = MemBus::with_config(MemBusConfig {
        retention_records: args.retention_records,
        ..MemBusConfig::default()
    });
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topics = Topics::new(args.topic_prefix);
    driver::create_simulation_topics(&bus, &topics, args.partitions).await?;
    let codecs = Arc::new(SimulationCodecs::register(registry, &topics).await?);
    tracing::info!(bus = %bus, topics = ?codecs.topic_names(), "pipeline ready");

    let consumer = bus
        .subscribe(SubscribeOptions::topics(codecs.topic_names()))
        .await
        .context("subscribing to the simulation topics")?;
    let stop_monitor = shutdown.child_token();
    let monitor = tokio::spawn({
        let codecs = Arc::clone(&codecs);
        let stop = stop_monitor.clone();
        monitor::run(
            consumer,
            move |delivery| codecs.check(delivery).map_err(|error| error.to_string()),
            driver_config.progress_every,
            stop,
        )
    });

    let started = Instant::now();
    let published = driver::run(&bus, &mut sim, &codecs, &driver_config, shutdown).await?;
    stop_monitor.cancel();
    let consumed = monitor.await.context("the monitor task failed")??;
    bus.close();

    let secs = started.elapsed().as_secs_f64();
    println!(
        "simulated {} ticks up to {} in {secs:.2} s wall time",
        published.ticks,
        published
            .simulated_until
            .map(|t| t.to_string())
            .unwrap_or_else(|| "the start".into()),
    );
    println!(
        "{:<45} {:>12} {:>12} {:>9} {:>12}",
        "topic", "published", "consumed", "rejected", "per second"
    );
    for (topic, &count) in &published.published {
        let flow = consumed
            .topics
            .get(topic.as_str())
            .cloned()
            .unwrap_or_default();
        println!(
            "{topic:<45} {count:>12} {:>12} {:>9} {:>12.0}",
            flow.records,
            flow.rejected,
            count as f64 / secs
        );
    }
    println!(
        "{:<45} {:>12} {:>12} {:>9} {:>12.0}",
        "total",
        published.total(),
        consumed.records(),
        consumed.rejected(),
        published.total() as f64 / secs
    );
    if consumed.records() < published.total() {
        // Only when the consumer fell further behind than the bus's retention.
        tracing::warn!(
            missed = published.total() - consumed.records(),
            "the consumer fell behind the bus's retention and missed records"
        );
    }
    anyhow::ensure!(
        consumed.rejected() == 0,
        "{} of {} records consumed did not decode",
        consumed.rejected(),
        consumed.records()
    );
    Ok(())
}
