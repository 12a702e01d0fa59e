//! The whole pipeline over one bus: station rows, the processors, the simulation and the status
//! read model, started together and stopped together.
//!
//! This is what `full_pipeline` runs on the in-memory bus, and what a program embedding
//! transit runs over a bus of its own. Each part is an independent task talking only through
//! the bus, exactly as the separate processes of a Kafka deployment do; this module only
//! starts them in a sensible order and collects how they ended.
//!
//! To run it over the CTA data shipped with the crates, give [`start`]
//! [`Simulation::embedded`] and [`PipelineConfig::embedded`] (the stations' rows, so the board
//! fills without a database); [`start`] shows a whole run.
//!
//! With [`PipelineConfig::predictions`] the trains' calls are published as any agency's
//! vehicle arrivals too, in the static feed's ids, and the predictor and its scorer
//! (`transit-predict`) run on them against the feed's [`ServiceDay`].

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::driver::{self, DriverConfig, DriverError, DriverStats, SimulationCodecs};
use crate::Simulation;
use transit_core::bus::EventBus;
use transit_core::codec::SchemaRegistry;
use transit_core::event::StationRow;
use transit_core::metrics::PipelineMetrics;
use transit_core::network::calls::NameCalls;
use transit_core::network::service_day::ServiceDay;
use transit_core::network::{embedded_station_rows, DataError};
use transit_core::processor::headways::{HeadwayProcessor, HeadwayStats};
use transit_core::processor::runner::Transactions;
use transit_core::processor::source::publish_station_rows;
use transit_core::processor::stations::{StationProcessor, StationStats};
use transit_core::processor::turnstile_counts::{CountStats, TurnstileCounter};
use transit_core::processor::ProcessorError;
use transit_core::status::{StatusService, StatusSnapshot, StatusStats};
use transit_core::topics::Topics;
use transit_predict::{
    PredictionProcessor, PredictorStats, ScoreConfig, ScoreProcessor, ScorerStats,
};

/// How to run the pipeline.
///
/// Two ways to make one, by where the station rows come from (there is deliberately no
/// `Default`: a pipeline without station rows shows an empty board unless something else
/// publishes them, and that should be a choice, not a default):
///
/// - [`PipelineConfig::embedded`]: everything in one process, the CTA's station rows
///   published at start (pair it with [`Simulation::embedded`]);
/// - [`PipelineConfig::without_station_rows`]: a station source elsewhere (the PostgreSQL
///   connector of a deployment) publishes them.
///
/// Either way the fields are public, so a struct update changes the rest:
/// `PipelineConfig { partitions: 1, ..PipelineConfig::embedded()? }`.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// The topic names.
    pub topics: Topics,
    /// Partitions of the arrivals and turnstile-entries topics.
    pub partitions: u32,
    /// How the simulation runs.
    pub driver: DriverConfig,
    /// Raw station rows to publish at start (the embedded CSV in one process); `None` when a
    /// database source publishes them.
    pub station_rows: Option<Vec<StationRow>>,
    /// Predictions: the trains' calls published as vehicle arrivals, and the predictor and
    /// its scorer run on them; `None` runs neither.
    pub predictions: Option<Predictions>,
}

/// What the pipeline needs to predict CTA's trains: how the static feed names their calls,
/// and the feed's service day (`transit_gtfs::vehicles` gives both).
#[derive(Debug, Clone)]
pub struct Predictions {
    /// Names each call of a train by the static feed's trip, stop and times.
    pub names: Arc<dyn NameCalls>,
    /// The static feed's service of the date the predictor reads the timetable of.
    pub day: Arc<ServiceDay>,
}

impl PipelineConfig {
    /// Everything in one process over the embedded CTA data: the default topic names, 4
    /// partitions, the simulation at 60x real time, and the embedded stations' rows published
    /// at start, so the board fills without a database.
    ///
    /// ```
    /// use transit_sim::pipeline::PipelineConfig;
    ///
    /// let config = PipelineConfig::embedded()?;
    /// assert!(config.station_rows.is_some_and(|rows| !rows.is_empty()));
    /// # Ok::<(), transit_core::network::DataError>(())
    /// ```
    pub fn embedded() -> Result<Self, DataError> {
        Ok(Self {
            station_rows: Some(embedded_station_rows()?),
            ..Self::without_station_rows()
        })
    }

    /// The same settings as [`PipelineConfig::embedded`] but no station rows: for a
    /// pipeline whose station rows some other source publishes (the board stays empty until
    /// one does).
    pub fn without_station_rows() -> Self {
        Self {
            topics: Topics::default(),
            partitions: 4,
            driver: DriverConfig::default(),
            station_rows: None,
            predictions: None,
        }
    }
}

/// Why the pipeline could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// A processor or the read model failed.
    #[error("the {part} failed")]
    Processor {
        /// Which part.
        part: &'static str,
        /// What it said.
        #[source]
        source: ProcessorError,
    },
    /// The simulation driver failed.
    #[error("the simulation failed")]
    Driver(#[from] DriverError),
    /// A task panicked or was aborted (a bug).
    #[error("the {part} task ended abnormally")]
    Task {
        /// Which part.
        part: &'static str,
        /// What tokio said.
        #[source]
        source: tokio::task::JoinError,
    },
}

fn processor(part: &'static str) -> impl FnOnce(ProcessorError) -> PipelineError {
    move |source| PipelineError::Processor { part, source }
}

/// How each part ended.
#[derive(Debug, Clone, Default)]
pub struct PipelineReport {
    /// What the simulation published.
    pub driver: DriverStats,
    /// What the station processor did.
    pub stations: StationStats,
    /// What the turnstile counter did.
    pub counts: CountStats,
    /// What the headway processor did.
    pub headways: HeadwayStats,
    /// What the read model did.
    pub status: StatusStats,
    /// What the predictor did, when it ran.
    pub predictor: Option<PredictorStats>,
    /// What the prediction scorer did, when it ran.
    pub scorer: Option<ScorerStats>,
}

/// A running pipeline.
#[derive(Debug)]
pub struct RunningPipeline {
    snapshots: watch::Receiver<Arc<StatusSnapshot>>,
    metrics: Arc<PipelineMetrics>,
    stop: CancellationToken,
    /// Stops the read model, after the processors that feed it have stopped.
    stop_board: CancellationToken,
    tasks: TaskTracker,
    /// Cancelled when the simulation stops, so a caller can wait for it rather than poll.
    simulation_stopped: CancellationToken,
    /// The first consumer whose task ended, set as it ends, so a caller waiting for the
    /// simulation hears of a failed consumer at once rather than by polling.
    consumer_ended: watch::Receiver<Option<&'static str>>,
    driver: JoinHandle<Result<DriverStats, DriverError>>,
    stations: JoinHandle<Result<StationStats, ProcessorError>>,
    counts: JoinHandle<Result<CountStats, ProcessorError>>,
    headways: JoinHandle<Result<HeadwayStats, ProcessorError>>,
    status: JoinHandle<Result<StatusStats, ProcessorError>>,
    /// The predictor and the scorer, when they run, each with its own stop: the scorer reads
    /// what the predictor issued, so it stops after it.
    predicting: Option<Predicting>,
}

/// The running predictor and scorer.
#[derive(Debug)]
struct Predicting {
    stop_predictor: CancellationToken,
    stop_scorer: CancellationToken,
    predictor: JoinHandle<Result<PredictorStats, ProcessorError>>,
    scorer: JoinHandle<Result<ScorerStats, ProcessorError>>,
}

/// Starts every part over `bus`; the simulation runs until `shutdown` or its end time.
///
/// The consumers start before the simulation publishes, and each part has its own child of
/// `shutdown`, so one failing part does not stop the others mid-batch.
///
/// # Example
///
/// One simulated hour of the embedded CTA network, flat out, on the in-memory bus and
/// registry (`transit_mem`):
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use tokio_util::sync::CancellationToken;
/// use transit_mem::{MemBus, MemRegistry};
/// use transit_sim::driver::{DriverConfig, Pace};
/// use transit_sim::pipeline::{self, PipelineConfig};
/// use transit_sim::{SimConfig, SimTime, Simulation};
///
/// let sim = Simulation::embedded(SimConfig::default())?;
/// let until = SimTime(sim.now().0 + 60 * 60 * 1000);
/// let config = PipelineConfig {
///     driver: DriverConfig {
///         pace: Pace::FlatOut,
///         until: Some(until),
///         ..DriverConfig::default()
///     },
///     ..PipelineConfig::embedded()?
/// };
/// let running = pipeline::start(
///     Arc::new(MemBus::new()),
///     Arc::new(MemRegistry::new()),
///     sim,
///     config,
///     CancellationToken::new(),
/// )
/// .await?;
///
/// // The board counts entries once the counter's counts reach the read model.
/// let mut board = running.snapshots();
/// let counted = board.wait_for(|snapshot| snapshot.totals.entries > 0);
/// tokio::time::timeout(Duration::from_secs(60), counted).await??;
///
/// // The simulation stops by itself at `until`; `stop` waits for it, then stops the rest.
/// let report = running.stop().await?;
/// assert_eq!(report.driver.simulated_until, Some(until));
/// assert!(report.counts.entries > 0 && report.counts.counted > 0);
/// # Ok(())
/// # }
/// ```
pub async fn start(
    bus: Arc<dyn EventBus>,
    registry: Arc<dyn SchemaRegistry>,
    mut sim: Simulation,
    config: PipelineConfig,
    shutdown: CancellationToken,
) -> Result<RunningPipeline, PipelineError> {
    let metrics = PipelineMetrics::new();
    let topics = &config.topics;
    driver::create_simulation_topics(bus.as_ref(), topics, config.partitions).await?;
    let mut codecs = SimulationCodecs::register(Arc::clone(&registry), topics)
        .await
        .map_err(DriverError::from)?;
    let predictors = match &config.predictions {
        Some(predictions) => {
            driver::create_vehicle_arrivals_topic(bus.as_ref(), topics, config.partitions).await?;
            codecs = codecs
                .with_vehicle_arrivals(
                    Arc::clone(&registry),
                    topics,
                    Arc::clone(&predictions.names),
                )
                .await
                .map_err(DriverError::from)?;
            // Publish, then commit (a replay is made harmless by the offsets in their
            // changelogs): the in-memory bus holds a plain publish back for its slowest
            // reader, not a transaction's, and the scorer reads every prediction issued.
            let predictor = PredictionProcessor::new(
                Arc::clone(&bus),
                Arc::clone(&registry),
                topics,
                Arc::clone(&predictions.day),
                config.partitions,
                Arc::clone(&metrics),
            )
            .await
            .map_err(processor("predictor"))?
            // CTA's network has weather: runs are learnt and predicted by it.
            .weather(Arc::clone(&registry), topics.weather())
            .map_err(processor("predictor"))?
            .transactions(Transactions::Off);
            let scorer = ScoreProcessor::new(
                Arc::clone(&bus),
                Arc::clone(&registry),
                topics,
                ScoreConfig {
                    day_start_unix_s: predictions.day.start_unix_s,
                    ..ScoreConfig::default()
                },
                Arc::clone(&metrics),
            )
            .await
            .map_err(processor("prediction scorer"))?
            .transactions(Transactions::Off);
            Some((predictor, scorer))
        }
        None => None,
    };
    if let Some(rows) = &config.station_rows {
        publish_station_rows(
            bus.as_ref(),
            Arc::clone(&registry),
            topics,
            rows,
            sim.now().0,
        )
        .await
        .map_err(processor("station source"))?;
    }
    let stations = StationProcessor::new(
        Arc::clone(&bus),
        Arc::clone(&registry),
        topics,
        Arc::clone(&metrics),
    )
    .await
    .map_err(processor("station processor"))?;
    let counter = TurnstileCounter::new(
        Arc::clone(&bus),
        Arc::clone(&registry),
        topics,
        Arc::clone(&metrics),
    )
    .await
    .map_err(processor("turnstile counter"))?;
    let headways = HeadwayProcessor::new(
        Arc::clone(&bus),
        Arc::clone(&registry),
        topics,
        Arc::clone(&metrics),
    )
    .await
    .map_err(processor("headway processor"))?;
    let (status, snapshots) = StatusService::new(
        Arc::clone(&bus),
        Arc::clone(&registry),
        topics,
        Arc::clone(sim.network().locations()),
        Arc::clone(&metrics),
    )
    .map_err(processor("status read model"))?;

    let stop = CancellationToken::new();
    let stop_board = CancellationToken::new();
    let tasks = TaskTracker::new();
    let (ended, consumer_ended) = watch::channel(None);
    let consumer = |part: &'static str| ConsumerEnded {
        part,
        ended: ended.clone(),
    };
    let stations =
        tasks.spawn(consumer("station processor").watch(stations.run(stop.child_token())));
    let counts = tasks.spawn(consumer("turnstile counter").watch(counter.run(stop.child_token())));
    let headways =
        tasks.spawn(consumer("headway processor").watch(headways.run(stop.child_token())));
    let status =
        tasks.spawn(consumer("status read model").watch(status.run(stop_board.child_token())));
    let predicting = match predictors {
        Some((predictor, scorer)) => {
            // Not children of `stop`: the scorer is told to stop only once the predictor has
            // stopped (see `RunningPipeline::stop`).
            let (stop_predictor, stop_scorer) =
                (CancellationToken::new(), CancellationToken::new());
            let predicting = Predicting {
                predictor: tasks
                    .spawn(consumer("predictor").watch(predictor.run(stop_predictor.clone()))),
                scorer: tasks
                    .spawn(consumer("prediction scorer").watch(scorer.run(stop_scorer.clone()))),
                stop_predictor,
                stop_scorer,
            };
            // Both hold their partitions before the simulation publishes: a reader not there
            // yet holds nothing back, and retention could trim what it has not read.
            let ready = async {
                loop {
                    let restored = metrics.has_restored(transit_predict::predictor::PREDICTOR)
                        && metrics.has_restored(transit_predict::scorer::SCORER);
                    // One that ended (it failed) never restores: `stop` says why.
                    let ended =
                        predicting.predictor.is_finished() || predicting.scorer.is_finished();
                    if restored || ended {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            };
            if tokio::time::timeout(PREDICTORS_READY, ready).await.is_err() {
                tracing::warn!(
                    within = ?PREDICTORS_READY,
                    "the predictor and its scorer do not hold their partitions yet; starting the simulation anyway"
                );
            }
            Some(predicting)
        }
        None => None,
    };
    let driver_config = config.driver.clone();
    let driver_bus = Arc::clone(&bus);
    let simulation_stopped = CancellationToken::new();
    let stopped = simulation_stopped.clone();
    let driver = tasks.spawn(async move {
        // Dropped however the task ends (a panic too), so waiters never hang.
        let _stopped = stopped.drop_guard();
        driver::run(
            driver_bus.as_ref(),
            &mut sim,
            &codecs,
            &driver_config,
            shutdown,
        )
        .await
    });
    tasks.close();
    Ok(RunningPipeline {
        snapshots,
        metrics,
        stop,
        stop_board,
        tasks,
        simulation_stopped,
        consumer_ended,
        driver,
        stations,
        counts,
        headways,
        status,
        predicting,
    })
}

/// How long [`start`] waits for the predictor and its scorer to hold their partitions before
/// the simulation starts.
const PREDICTORS_READY: std::time::Duration = std::time::Duration::from_secs(30);

impl RunningPipeline {
    /// The read model's snapshots, newest first.
    pub fn snapshots(&self) -> watch::Receiver<Arc<StatusSnapshot>> {
        self.snapshots.clone()
    }

    /// The counters of every consumer.
    pub fn metrics(&self) -> Arc<PipelineMetrics> {
        Arc::clone(&self.metrics)
    }

    /// Whether the simulation has stopped (shut down, or reached its end time). To wait for
    /// it, rather than poll this, use [`RunningPipeline::simulation_ended`].
    pub fn simulation_finished(&self) -> bool {
        self.driver.is_finished()
    }

    /// Waits until the simulation has stopped (shut down, or reached its end time).
    pub async fn simulation_stopped(&self) {
        self.simulation_stopped.cancelled().await;
    }

    /// Waits until the simulation has ended (its end time, or shut down), or until a consumer
    /// stopped on its own before it (a consumer only stops by itself when it fails): then the
    /// error names that consumer, and [`RunningPipeline::stop`] says why it failed.
    ///
    /// Woken by the parts themselves as they end: no polling, so a short run's wall time is
    /// its own. Bound it with `tokio::time::timeout` to give up on a run that never ends.
    pub async fn simulation_ended(&self) -> Result<(), &'static str> {
        let mut ended = self.consumer_ended.clone();
        tokio::select! {
            // A simulation that ended and a consumer that failed at the same moment: the end
            // of the simulation is what the caller waited for.
            biased;
            () = self.simulation_stopped.cancelled() => Ok(()),
            part = async move {
                match ended.wait_for(Option::is_some).await {
                    Ok(part) => *part,
                    // The pipeline holds the sender until `stop`: not reached while borrowed.
                    Err(_) => None,
                }
            } => Err(part.unwrap_or("consumer")),
        }
    }

    /// The first consumer that has stopped on its own (it failed: consumers only stop when
    /// told to), so a caller can stop the rest and report why with [`RunningPipeline::stop`].
    pub fn failed_consumer(&self) -> Option<&'static str> {
        [
            ("station processor", self.stations.is_finished()),
            ("turnstile counter", self.counts.is_finished()),
            ("headway processor", self.headways.is_finished()),
            ("status read model", self.status.is_finished()),
            (
                "predictor",
                self.predicting
                    .as_ref()
                    .is_some_and(|p| p.predictor.is_finished()),
            ),
            (
                "prediction scorer",
                self.predicting
                    .as_ref()
                    .is_some_and(|p| p.scorer.is_finished()),
            ),
        ]
        .into_iter()
        .find(|(_, finished)| *finished && !self.stop.is_cancelled())
        .map(|(part, _)| part)
    }

    /// Waits for the simulation to stop, then stops the consumers and reports how every part
    /// ended.
    ///
    /// Each consumer processes what was published before it was told to stop, and the read
    /// model is told last, once the processors feeding it have published their last output: so
    /// a run that ends by itself (an end time) ends with every event it published counted and
    /// on the board.
    pub async fn stop(self) -> Result<PipelineReport, PipelineError> {
        let driver = join("simulation", self.driver)
            .await
            .and_then(|r| r.map_err(PipelineError::from));
        self.stop.cancel();
        let stations = join("station processor", self.stations)
            .await
            .and_then(|r| r.map_err(processor("station processor")));
        let counts = join("turnstile counter", self.counts)
            .await
            .and_then(|r| r.map_err(processor("turnstile counter")));
        let headways = join("headway processor", self.headways)
            .await
            .and_then(|r| r.map_err(processor("headway processor")));
        let (predictor, scorer) = match self.predicting {
            Some(predicting) => {
                // Told to stop once the simulation has, the predictor reads every arrival it
                // published; the scorer is told once the predictor has issued its last.
                predicting.stop_predictor.cancel();
                let predictor = join("predictor", predicting.predictor)
                    .await
                    .and_then(|r| r.map_err(processor("predictor")));
                predicting.stop_scorer.cancel();
                let scorer = join("prediction scorer", predicting.scorer)
                    .await
                    .and_then(|r| r.map_err(processor("prediction scorer")));
                (Some(predictor), Some(scorer))
            }
            None => (None, None),
        };
        self.stop_board.cancel();
        let status = join("status read model", self.status)
            .await
            .and_then(|r| r.map_err(processor("status read model")));
        self.tasks.wait().await;
        Ok(PipelineReport {
            driver: driver?,
            stations: stations?,
            counts: counts?,
            headways: headways?,
            status: status?,
            predictor: predictor.transpose()?,
            scorer: scorer.transpose()?,
        })
    }
}

/// Records, whenever a consumer's task ends (a panic too), that it ended, for
/// [`RunningPipeline::simulation_ended`]; the first to end is the one named.
struct ConsumerEnded {
    part: &'static str,
    ended: watch::Sender<Option<&'static str>>,
}

impl ConsumerEnded {
    async fn watch<T>(self, consumer: impl std::future::Future<Output = T>) -> T {
        let _ended = self;
        consumer.await
    }
}

impl Drop for ConsumerEnded {
    fn drop(&mut self) {
        let part = self.part;
        self.ended.send_if_modified(|first| {
            let unset = first.is_none();
            if unset {
                *first = Some(part);
            }
            unset
        });
    }
}

async fn join<T>(part: &'static str, handle: JoinHandle<T>) -> Result<T, PipelineError> {
    handle
        .await
        .map_err(|source| PipelineError::Task { part, source })
}
