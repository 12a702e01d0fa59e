//! `transit process`: the stream processors, the station table, the turnstile counts and the
//! headways. Run
//! it more than once to scale out: instances share the partitions of their consumer groups,
//! and one takes over what another leaves.

use std::sync::Arc;

use clap::Args;
use tokio_util::sync::CancellationToken;
use transit_core::bus::EventBus;
use transit_core::codec::SchemaRegistry;
use transit_core::processor::headways::{HeadwayProcessor, HeadwayRules};
use transit_core::processor::runner::Transactions;
use transit_core::processor::stations::StationProcessor;
use transit_core::processor::turnstile_counts::TurnstileCounter;

use super::{join, Tasks};
use crate::probes::{ProbeArgs, ProcessHealth};
use crate::settings::ClusterArgs;

/// Settings of `transit process`.
#[derive(Debug, Clone, Args)]
pub struct ProcessorArgs {
    /// The cluster, registry and topic names.
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Where the probes and metrics are served.
    #[command(flatten)]
    pub probes: ProbeArgs,

    /// Prefix of the consumer groups (`<prefix>-station-processor`,
    /// `<prefix>-turnstile-counter`, `<prefix>-headways`): instances with the same prefix share the work; another
    /// prefix is another, independent deployment on the same cluster.
    #[arg(long, env = "TRANSIT_GROUP_PREFIX", default_value = "transit")]
    pub group_prefix: String,

    /// `on`: each batch's output and input offsets go in one Kafka transaction, so a member
    /// that stalled and lost its partitions is fenced (needs a broker with transactions, such
    /// as Apache Kafka). `off`: publish, then commit (at-least-once, exact by the input offsets
    /// kept with the counts); for brokers without transactions (tansu).
    #[arg(long, env = "TRANSIT_TRANSACTIONS", value_enum, default_value_t = Switch::On)]
    pub transactions: Switch,

    /// A train at most this share of the scheduled headway behind the one before it is
    /// bunched (Swiftly's default is 0.75).
    #[arg(long, env = "TRANSIT_BUNCHED_SHARE", default_value_t = 0.5)]
    pub bunched_share: f64,

    /// A train at least this share of the scheduled headway behind the one before it is
    /// gapped.
    #[arg(long, env = "TRANSIT_GAPPED_SHARE", default_value_t = 1.5)]
    pub gapped_share: f64,
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

/// Runs the processors until `shutdown`; each commits what it processed before returning.
pub async fn run(args: ProcessorArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let mut health = ProcessHealth::starting(&args.probes, "process", &shutdown).await?;
    let groups = ["station-processor", "turnstile-counter", "headways"]
        .map(|name| format!("{}-{name}", args.group_prefix));
    for group in &groups {
        let (metrics, group) = (Arc::clone(&health.metrics), group.clone());
        health.readiness.watch(&group.clone(), move || {
            if metrics.has_restored(&group) {
                Ok(())
            } else {
                Err(
                    "no partitions assigned and restored yet (its group has not assigned \
                     them: are its input topics created yet?)"
                        .into(),
                )
            }
        });
    }
    let (kafka, client) = health.connect(&args.cluster).await?;
    let bus: Arc<dyn EventBus> = Arc::new(kafka);
    let registry: Arc<dyn SchemaRegistry> = crate::reach::WaitedRegistry::shared(
        client,
        "the records waiting for their schemas were not processed; they are read again at \
         the next start",
    );
    let topics = args.cluster.topics();
    let metrics = Arc::clone(&health.metrics);
    let transactions = match args.transactions {
        Switch::On => Transactions::WhenSupported,
        Switch::Off => Transactions::Off,
    };
    let stations = StationProcessor::new(
        Arc::clone(&bus),
        Arc::clone(&registry),
        &topics,
        Arc::clone(&metrics),
    )
    .await?
    .in_group(groups[0].clone())
    .transactions(transactions);
    let counter = TurnstileCounter::new(
        Arc::clone(&bus),
        Arc::clone(&registry),
        &topics,
        Arc::clone(&metrics),
    )
    .await?
    .in_group(groups[1].clone())
    .transactions(transactions);
    let rules = HeadwayRules {
        bunched_share: args.bunched_share,
        gapped_share: args.gapped_share,
    };
    if !(rules.bunched_share > 0.0 && rules.bunched_share < 1.0 && rules.gapped_share > 1.0) {
        anyhow::bail!(
            "--bunched-share must be between 0 and 1 and --gapped-share above 1 (got {} and {})",
            rules.bunched_share,
            rules.gapped_share
        );
    }
    let headways = HeadwayProcessor::new(Arc::clone(&bus), registry, &topics, metrics)
        .await?
        .in_group(groups[2].clone())
        .transactions(transactions)
        .rules(rules);
    crate::shutdown::enter(
        "processing",
        "the open transactions were not committed; the broker aborts them and their input is \
         processed again",
    );
    let tasks = Tasks::new();
    let stations = tasks.spawn("station processor", stations.run(shutdown.clone()));
    let counter = tasks.spawn("turnstile counter", counter.run(shutdown.clone()));
    let headways = tasks.spawn("headway processor", headways.run(shutdown.clone()));
    let stations = join(stations).await;
    let counts = join(counter).await;
    let headways = join(headways).await;
    tasks.wait().await;
    bus.flush().await?;
    health.stop().await?;
    tracing::info!(
        stations = %stations?,
        counts = %counts?,
        headways = %headways?,
        "processors stopped; output flushed"
    );
    Ok(())
}
