//! `transit process`: the stream processors, the station table, the turnstile counts, the
//! headways, the arrival predictions and their scorer. Run it more than once to scale out:
//! instances share the partitions of their consumer groups, and one takes over what another
//! leaves. With `--gtfs`, the predictor and scorer of that agency's feed alone (the others'
//! inputs are CTA's).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;
use transit_core::bus::{EventBus, SubscribeOptions, TopicSpec};
use transit_core::codec::SchemaRegistry;
use transit_core::network::service_day::ServiceDay;
use transit_core::processor::headways::{HeadwayProcessor, HeadwayRules};
use transit_core::processor::runner::Transactions;
use transit_core::processor::stations::StationProcessor;
use transit_core::processor::turnstile_counts::TurnstileCounter;
use transit_core::topics::Topics;
use transit_gtfs::{vehicles, Sources};
use transit_predict::{PredictionProcessor, ScoreConfig, ScoreProcessor};
use transit_sim::{SimConfig, SimTime};

use super::{join, Tasks};
use crate::agency::AgencyArgs;
use crate::probes::{ProbeArgs, ProcessHealth};
use crate::settings::ClusterArgs;

/// One of the processors `transit process` runs; its name is its consumer group's after the
/// group prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum ProcessorKind {
    /// The station table (CTA's).
    #[value(name = "station-processor")]
    Stations,
    /// The turnstile counts (CTA's).
    #[value(name = "turnstile-counter")]
    Counter,
    /// The headways (CTA's).
    #[value(name = "headways")]
    Headways,
    /// The arrival predictions.
    #[value(name = "predictor")]
    Predictor,
    /// The predictions' scorer.
    #[value(name = "prediction-scorer")]
    Scorer,
}

impl ProcessorKind {
    /// Every processor, in the order they start.
    const ALL: [Self; 5] = [
        Self::Stations,
        Self::Counter,
        Self::Headways,
        Self::Predictor,
        Self::Scorer,
    ];

    /// Its consumer group's name after the group prefix.
    fn group(self) -> &'static str {
        match self {
            Self::Stations => "station-processor",
            Self::Counter => "turnstile-counter",
            Self::Headways => "headways",
            Self::Predictor => "predictor",
            Self::Scorer => "prediction-scorer",
        }
    }

    /// Whether it reads CTA's topics only.
    fn cta_only(self) -> bool {
        matches!(self, Self::Stations | Self::Counter | Self::Headways)
    }
}

/// The processors to run: those named, or every one that reads the network's topics; CTA's
/// named with `--gtfs` are a mistake told in one line.
fn selected(named: &[ProcessorKind], cta: bool) -> anyhow::Result<Vec<ProcessorKind>> {
    if named.is_empty() {
        return Ok(ProcessorKind::ALL
            .into_iter()
            .filter(|kind| cta || !kind.cta_only())
            .collect());
    }
    if let Some(kind) = named.iter().find(|kind| !cta && kind.cta_only()) {
        anyhow::bail!(
            "--processors {} reads CTA's topics, and --gtfs runs an agency's: with --gtfs only \
             predictor and prediction-scorer run",
            kind.group()
        );
    }
    let mut kinds = named.to_vec();
    kinds.sort_unstable();
    kinds.dedup();
    Ok(kinds)
}

/// How long the arrivals topic's partitions may take to be known at the start.
const PARTITIONS_LIMIT: Duration = Duration::from_secs(60);

/// Settings of `transit process`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "With --gtfs PATH, the predictor and scorer of that feed's service day run \
alone, on the feed's topics (its arrivals, under the feed's prefix unless --topic-prefix names \
one): CTA's station processor, turnstile counter and headways read CTA's topics only. Give it \
the producer's --gtfs, --service-date, --route-types, --live and --start."
)]
pub struct ProcessorArgs {
    /// The cluster, registry and topic names.
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Where the probes and metrics are served.
    #[command(flatten)]
    pub probes: ProbeArgs,

    /// Any agency's static GTFS feed: predict its arrivals instead of CTA's (the producer's
    /// --gtfs, --service-date, --route-types and --live).
    #[command(flatten)]
    pub agency: AgencyArgs,

    /// The producer's simulated start (its --start, Chicago local for CTA, the agency's own
    /// time for --gtfs), whose date is the service day the predictor reads the timetable of.
    #[arg(long, env = "TRANSIT_START")]
    pub start: Option<String>,

    /// Partitions of the vehicle arrivals topic when this creates it (the producer's
    /// --partitions); the prediction table and its stream of changes get as many as the
    /// arrivals topic has, so that a vehicle's predictions share its arrivals' partition.
    #[arg(long, env = "TRANSIT_PARTITIONS", default_value_t = 4)]
    pub partitions: u32,

    /// Prefix of the consumer groups (`<prefix>-` and the processor's name: see --processors):
    /// instances with the same prefix share the work; another
    /// prefix is another, independent deployment on the same cluster.
    #[arg(long, env = "TRANSIT_GROUP_PREFIX", default_value = "transit")]
    pub group_prefix: String,

    /// Which processors this instance runs, comma-separated (`station-processor`,
    /// `turnstile-counter`, `headways`, `predictor`, `prediction-scorer`): each can be deployed,
    /// scaled and restarted on its own. All of them by default (with --gtfs, the predictor and
    /// the scorer).
    #[arg(long, env = "TRANSIT_PROCESSORS", value_enum, value_delimiter = ',')]
    pub processors: Vec<ProcessorKind>,

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
    let start = match &args.start {
        Some(start) => start.parse::<SimTime>().with_context(|| {
            format!("--start {start:?} is not a date and time like 2026-11-02T05:00")
        })?,
        None => SimConfig::default().start,
    };
    let agency = args.agency.day(start)?;
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
    let topics = match &agency {
        Some(agency) => agency.topics(args.cluster.topic_prefix.as_deref()),
        None => args.cluster.topics(),
    };
    let cta = agency.is_none();
    let kinds = selected(&args.processors, cta)?;
    let runs = |kind: ProcessorKind| kinds.contains(&kind);
    let group = |kind: ProcessorKind| format!("{}-{}", args.group_prefix, kind.group());
    let mut health = ProcessHealth::starting(&args.probes, "process", &shutdown).await?;
    for kind in &kinds {
        let (metrics, group) = (Arc::clone(&health.metrics), group(*kind));
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
    let metrics = Arc::clone(&health.metrics);
    let transactions = match args.transactions {
        Switch::On => Transactions::WhenSupported,
        Switch::Off => Transactions::Off,
    };
    let stations = if runs(ProcessorKind::Stations) {
        Some(
            StationProcessor::new(
                Arc::clone(&bus),
                Arc::clone(&registry),
                &topics,
                Arc::clone(&metrics),
            )
            .await?
            .in_group(group(ProcessorKind::Stations))
            .transactions(transactions),
        )
    } else {
        None
    };
    let counter = if runs(ProcessorKind::Counter) {
        Some(
            TurnstileCounter::new(
                Arc::clone(&bus),
                Arc::clone(&registry),
                &topics,
                Arc::clone(&metrics),
            )
            .await?
            .in_group(group(ProcessorKind::Counter))
            .transactions(transactions),
        )
    } else {
        None
    };
    let headways = if runs(ProcessorKind::Headways) {
        Some(
            HeadwayProcessor::new(
                Arc::clone(&bus),
                Arc::clone(&registry),
                &topics,
                Arc::clone(&metrics),
            )
            .await?
            .in_group(group(ProcessorKind::Headways))
            .transactions(transactions)
            .rules(rules),
        )
    } else {
        None
    };
    // The timetable the predictions are of (CTA's is built from its feed: not for nothing).
    let day = if runs(ProcessorKind::Predictor) || runs(ProcessorKind::Scorer) {
        Some(match &agency {
            Some(agency) => Arc::clone(&agency.day),
            None => cta_service_day(start)?,
        })
    } else {
        None
    };
    let predictor = if let (true, Some(day)) = (runs(ProcessorKind::Predictor), &day) {
        let partitions = arrival_partitions(bus.as_ref(), &topics, args.partitions).await?;
        let predictor = PredictionProcessor::new(
            Arc::clone(&bus),
            Arc::clone(&registry),
            &topics,
            Arc::clone(day),
            partitions,
            Arc::clone(&metrics),
        )
        .await?
        .in_group(group(ProcessorKind::Predictor))
        .transactions(transactions)
        // It may lag far behind a producer flat out: a stop leaves the rest to the group.
        .stop_promptly();
        // CTA's network has weather (any agency's feed has none): runs are predicted by it.
        // An agency's simulation drops trips (CTA's never does), and says so.
        Some(if cta {
            predictor.weather(Arc::clone(&registry), topics.weather())?
        } else {
            let cancellations = topics.trip_cancellations();
            bus.create_topic(&TopicSpec::new(cancellations.clone(), partitions))
                .await
                .with_context(|| {
                    format!("creating the trip cancellations topic {cancellations}")
                })?;
            predictor.cancellations(Arc::clone(&registry), cancellations)?
        })
    } else {
        None
    };
    let scorer = if let (true, Some(day)) = (runs(ProcessorKind::Scorer), &day) {
        Some(
            ScoreProcessor::new(
                Arc::clone(&bus),
                registry,
                &topics,
                ScoreConfig {
                    day_start_unix_s: day.start_unix_s,
                    ..ScoreConfig::default()
                },
                metrics,
            )
            .await?
            .in_group(group(ProcessorKind::Scorer))
            .transactions(transactions)
            .stop_promptly(),
        )
    } else {
        None
    };
    crate::shutdown::enter(
        "processing",
        "the open transactions were not committed; the broker aborts them and their input is \
         processed again",
    );
    let tasks = Tasks::new();
    let stations = stations.map(|p| tasks.spawn("station processor", p.run(shutdown.clone())));
    let counter = counter.map(|p| tasks.spawn("turnstile counter", p.run(shutdown.clone())));
    let headways = headways.map(|p| tasks.spawn("headway processor", p.run(shutdown.clone())));
    // The predictor and the scorer get a runtime of their own: a batch of theirs is long CPU
    // work (one arrival re-predicts a vehicle's next half hour by four methods), and on the
    // process's runtime two such batches took both its workers from CTA's processors, which
    // then stopped reading for as long as the predictions lagged.
    let predictions = if predictor.is_some() || scorer.is_some() {
        Some(OwnRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("predictions")
                .enable_all()
                .build()
                .context("starting the predictions' runtime")?,
        )))
    } else {
        None
    };
    let on_own_runtime = predictions
        .as_ref()
        .and_then(|own| own.0.as_ref())
        .map(|runtime| runtime.handle().clone());
    let (predictor, scorer) = match &on_own_runtime {
        Some(own) => (
            predictor.map(|p| tasks.spawn_on(own, "predictor", p.run(shutdown.clone()))),
            scorer.map(|p| tasks.spawn_on(own, "prediction scorer", p.run(shutdown.clone()))),
        ),
        None => (None, None),
    };
    // Each one's totals (or its error) once every one has stopped; errors are told after
    // the rest has stopped and flushed.
    async fn totals<T: std::fmt::Display>(
        task: Option<tokio::task::JoinHandle<anyhow::Result<T>>>,
    ) -> anyhow::Result<Option<String>> {
        match task {
            Some(task) => Ok(Some(join(task).await?.to_string())),
            None => Ok(None),
        }
    }
    let stations = totals(stations).await;
    let counts = totals(counter).await;
    let headways = totals(headways).await;
    let predictor = totals(predictor).await;
    let scorer = totals(scorer).await;
    tasks.wait().await;
    drop(predictions);
    bus.flush().await?;
    health.stop().await?;
    let (stations, counts, headways) = (stations?, counts?, headways?);
    let (predictor, scorer) = (predictor?, scorer?);
    // A processor not run has no field.
    tracing::info!(
        stations = stations.map(tracing::field::display),
        counts = counts.map(tracing::field::display),
        headways = headways.map(tracing::field::display),
        predictor = predictor.map(tracing::field::display),
        scorer = scorer.map(tracing::field::display),
        "processors stopped; output flushed"
    );
    Ok(())
}

/// A runtime started within another: dropping a runtime blocks until its tasks end, which is
/// refused inside another runtime (a panic), so this one is let go in the background, also
/// when Ctrl+C's grace ran out and the process's future is dropped with it still running.
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The partitions of the vehicle arrivals topic, creating it with `wanted` if nobody has yet
/// (the producer creates it too, with its own --partitions: whoever comes first decides).
async fn arrival_partitions(
    bus: &dyn EventBus,
    topics: &Topics,
    wanted: u32,
) -> anyhow::Result<u32> {
    let topic = topics.vehicle_arrivals();
    bus.create_topic(&TopicSpec::new(topic.clone(), wanted.max(1)))
        .await
        .with_context(|| format!("creating the arrivals topic {topic}"))?;
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([topic.clone()]))
        .await
        .with_context(|| format!("reading the partitions of {topic}"))?;
    let positions = tokio::time::timeout(PARTITIONS_LIMIT, consumer.positions())
        .await
        .with_context(|| {
            format!("the partitions of {topic} were not known within {PARTITIONS_LIMIT:?}")
        })?
        .with_context(|| format!("reading the partitions of {topic}"))?;
    let partitions = u32::try_from(positions.len())
        .ok()
        .filter(|n| *n > 0)
        .with_context(|| format!("{topic} has no partitions"))?;
    if partitions != wanted {
        tracing::info!(
            %topic,
            partitions,
            "the arrivals topic exists with other partitions than --partitions; the prediction \
             table follows the topic"
        );
    }
    Ok(partitions)
}

/// CTA's service day of `start`'s date (Chicago local): its static feed's timetable, in the
/// ids `transit produce` names the trains' calls by.
///
/// The feed is built from the data shipped with the crates and read back as any agency's is;
/// what the reader notes of it (a route colour it would change for the board) is about that
/// data, not the operator's settings, so it is not logged: a mistake is told in a few lines.
fn cta_service_day(start: SimTime) -> anyhow::Result<Arc<ServiceDay>> {
    let date = start
        .date()
        .context("the simulated start is out of range")?;
    let day =
        tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
            let sources = Sources::embedded().context("CTA's static feed's sources")?;
            vehicles::service_day(&sources, date)
                .with_context(|| format!("CTA's service day of {date}"))
        })?;
    tracing::debug!(
        service_date = %day.date,
        trips = day.trips.len(),
        vehicles = day.vehicles.len(),
        "CTA's service day"
    );
    Ok(Arc::new(day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_processor_runs_unless_named_and_an_agency_runs_its_predictions_only() {
        assert_eq!(selected(&[], true).unwrap(), ProcessorKind::ALL.to_vec());
        assert_eq!(
            selected(&[], false).unwrap(),
            vec![ProcessorKind::Predictor, ProcessorKind::Scorer]
        );
        assert_eq!(
            selected(
                &[
                    ProcessorKind::Scorer,
                    ProcessorKind::Counter,
                    ProcessorKind::Scorer
                ],
                true
            )
            .unwrap(),
            vec![ProcessorKind::Counter, ProcessorKind::Scorer]
        );
        let mistake = selected(&[ProcessorKind::Counter], false).unwrap_err();
        assert!(
            mistake
                .to_string()
                .contains("turnstile-counter reads CTA's topics"),
            "{mistake}"
        );
    }

    #[test]
    fn a_processors_name_is_its_groups() {
        use clap::ValueEnum;
        for kind in ProcessorKind::ALL {
            let name = kind.to_possible_value().map(|v| v.get_name().to_string());
            assert_eq!(name.as_deref(), Some(kind.group()));
        }
    }
}
