//! The predictor on the processor loop: arrivals in, the prediction table out, its state in a
//! changelog, exactly once.
//!
//! # Partitions and state
//!
//! Arrivals are keyed by vehicle, so each vehicle's arrivals come in order from one partition;
//! everything the predictor keeps belongs to one partition: a vehicle's state to its own, a
//! learnt observation to the partition of the arrival it came from. A member restores the
//! entries of the partitions it gains from the changelog ([`crate::topics::predictor_state`])
//! and drops those it loses. Predictions of a vehicle are written to the same partition of the
//! prediction table as its arrivals (the table has as many), and so is every change to the
//! table on the stream of changes ([`crate::topics::issued`]), which the scorer reads: a
//! compacted topic keeps only each key's latest record, and a scorer needs every version a
//! rider could have seen.
//!
//! A member learns from its own partitions' vehicles and sees the train ahead when it is one
//! of them: with one member (or one partition) that is the whole network.
//!
//! A batch's arrivals are applied in event-time order across its partitions (each partition's
//! in offset order): a bus may hand a reader a run of one partition before the next one's,
//! and applied as delivered one partition's trains would be predicted minutes or hours of event
//! time before the others', against a train ahead that has not been read to the same instant.
//! What is learnt from a partition is the same either way (it is a function of that
//! partition's arrivals in offset order); only the cross-partition readings (the train ahead,
//! the merged estimates) see the railway as it was at each arrival's instant.
//!
//! # Exactly once
//!
//! Each batch's changelog entries carry, per partition, the next offset to apply. On a bus
//! with transactions the table's records, the changelog's and the input offsets are committed
//! together; without, a batch replayed after a crash between publishing and committing is
//! recognised by those offsets and skipped, so no observation is learnt twice.
//!
//! What is learnt, and each vehicle's state, is a function of its partition's arrivals alone.
//! The predictions themselves also read across partitions (the estimates merge what every
//! partition held taught; the train ahead may be another partition's): with one partition
//! they are a function of the input too, across restarts (the behaviour test checks it);
//! with several, they depend on how far the member had read the others when it predicted.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use rustc_hash::{FxHashMap, FxHashSet};
use tokio_util::sync::CancellationToken;
use transit_core::bus::{Delivery, EventBus, SubscribeOptions, TopicPartition, TopicSpec};
use transit_core::codec::{Encoder, SchemaRegistry, TopicCodec};
use transit_core::event::{
    PredictionEvent, PredictionKey, TripCancellation, VehicleArrivalEvent, WeatherEvent,
};
use transit_core::metrics::PipelineMetrics;
use transit_core::network::service_day::ServiceDay;
use transit_core::processor::runner::{
    write_counts, Output, Processor, ProcessorLoop, Transactions,
};
use transit_core::processor::{ProcessorError, BATCH};
use transit_core::topics::Topics;

use crate::changelog::{decode_or_reject, tombstone, Changelog};
use crate::estimate::{Observation, Window};
use crate::model::VehicleState;
use crate::model::{
    Issue, Issued, LearnKey, Observed, PredictConfig, Predictor, SegmentKey, Slowdown, WeatherClass,
};
use crate::side_input::{self, Cancellations, Inbox, SideInput};
use crate::timetable::Timetable;

/// The consumer group, and the name in metrics and dead letters.
pub const PREDICTOR: &str = "transit-predictor";

/// The most arrivals a batch takes when it stops promptly
/// ([`PredictionProcessor::stop_promptly`]): each re-predicts its vehicle and the trains behind
/// it by every method, so few enough for the batch in hand to end well within a stop's grace.
pub const PROMPT_BATCH: usize = 256;

/// The changelog's kinds of entry.
const VEHICLE: &str = "vehicle";
const LEARNT: &str = "learnt";
const LATEST: &str = "latest";
const OFFSETS: &str = "offsets";
const WEATHER: &str = "weather";

/// What a run of the predictor did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PredictorStats {
    /// State entries restored from the changelog (at every assignment).
    pub restored: u64,
    /// Arrivals read.
    pub arrivals: u64,
    /// Arrivals applied.
    pub applied: u64,
    /// Arrivals skipped: already applied before a restart (replays).
    pub replayed: u64,
    /// Arrivals older than what was known of their vehicle's trip, left out.
    pub stale: u64,
    /// Records that did not decode as arrivals (dead letters).
    pub undecodable: u64,
    /// Arrivals whose trip or stop the timetable does not have (dead letters).
    pub unplaced: u64,
    /// Vehicles that left service (their last trip ended, or they were not heard of when due).
    pub left_service: u64,
    /// Predictions published (new or changed).
    pub issued: u64,
    /// Predictions withdrawn.
    pub withdrawn: u64,
    /// Trip cancellations taken (each trip once).
    pub cancelled: u64,
}

impl std::fmt::Display for PredictorStats {
    /// The counters in plain words, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_counts(
            f,
            &[
                ("restored", self.restored),
                ("arrivals", self.arrivals),
                ("applied", self.applied),
                ("replayed", self.replayed),
                ("stale", self.stale),
                ("undecodable", self.undecodable),
                ("unplaced", self.unplaced),
                ("left service", self.left_service),
                ("issued", self.issued),
                ("withdrawn", self.withdrawn),
                ("cancelled", self.cancelled),
            ],
        )
    }
}

/// The prediction processor of one deployment and one service day.
#[derive(Debug)]
pub struct PredictionProcessor {
    bus: Arc<dyn EventBus>,
    arrivals: TopicCodec<VehicleArrivalEvent>,
    table: TopicCodec<PredictionEvent>,
    table_keys: Encoder<PredictionKey>,
    /// The stream of the table's changes (not compacted), which the scorer reads.
    issued_topic: String,
    changelog: Changelog,
    dead_letter_topic: String,
    metrics: Arc<PipelineMetrics>,
    group: String,
    transactions: Transactions,
    /// Whether it stops promptly ([`PredictionProcessor::stop_promptly`]).
    prompt: bool,
    /// The prediction table's partitions (the arrivals topic's).
    partitions: u32,
    model: Predictor,
    /// Per partition held, the next arrival offset to apply.
    next_offsets: FxHashMap<u32, u64>,
    /// The weather topic followed, if the deployment has one ([`PredictionProcessor::weather`]).
    weather: Option<(String, side_input::Weather)>,
    /// Readings the weather follower read and the next batch takes: (taken at, ms; reading).
    readings: Inbox<WeatherEvent>,
    /// The trip cancellations topic followed, if any
    /// ([`PredictionProcessor::cancellations`]).
    cancellations: Option<(String, Cancellations)>,
    /// Cancellations the follower read and the next batch takes.
    announced: Inbox<TripCancellation>,
    /// Cancellations read and not yet due, by the instant announced (and the order read).
    pending: BTreeMap<(i64, u64), TripCancellation>,
    /// Cancellations read so far, which orders those announced at one instant.
    pending_read: u64,
    /// Per partition held, the latest arrival time applied (for the log of how far apart in
    /// event time the partitions were read).
    read_to_ms: FxHashMap<u32, i64>,
}

/// An item and its event time, ms.
type Timed<T> = (i64, T);

/// Every partition's items (each partition's in the order given) merged in event-time order:
/// the next item is always the earliest at the head of a partition's queue, the lowest
/// partition first on a tie. Each partition's own order is kept even where its times go back.
fn in_event_time_order<T>(mut queues: Vec<(u32, VecDeque<Timed<T>>)>) -> Vec<(u32, T)> {
    queues.sort_unstable_by_key(|(partition, _)| *partition);
    let mut merged = Vec::with_capacity(queues.iter().map(|(_, q)| q.len()).sum());
    loop {
        let next = queues
            .iter()
            .enumerate()
            .filter_map(|(index, (_, queue))| queue.front().map(|(at, _)| (*at, index)))
            .min();
        let Some((_, index)) = next else {
            return merged;
        };
        let Some((partition, queue)) = queues.get_mut(index) else {
            return merged;
        };
        if let Some((_, item)) = queue.pop_front() {
            merged.push((*partition, item));
        }
    }
}

/// The weather topic and its decoders.
/// How far behind the partition read furthest each arrival of a batch was applied, in event
/// time: how out of step the partitions were read (0 with one partition).
#[derive(Debug, Default)]
struct BatchLag {
    applied: u64,
    sum_ms: i64,
    max_ms: i64,
}

impl BatchLag {
    fn note(&mut self, read_to: &mut FxHashMap<u32, i64>, partition: u32, at_ms: i64) {
        let furthest = read_to.values().copied().max().unwrap_or(at_ms);
        let behind = furthest.saturating_sub(at_ms).max(0);
        self.applied += 1;
        self.sum_ms = self.sum_ms.saturating_add(behind);
        self.max_ms = self.max_ms.max(behind);
        let latest = read_to.entry(partition).or_insert(at_ms);
        *latest = (*latest).max(at_ms);
    }

    fn log(&self, records: usize) {
        if self.applied > 0 {
            tracing::debug!(
                records,
                applied = self.applied,
                mean_behind_s = self.sum_ms / self.applied.max(1) as i64 / 1_000,
                max_behind_s = self.max_ms / 1_000,
                "a batch of arrivals applied, behind the partition read furthest by"
            );
        }
    }
}

impl PredictionProcessor {
    /// Registers the schemas and creates the prediction table (`partitions` partitions, as the
    /// arrivals topic has: a vehicle's predictions go to its arrivals' partition) and the
    /// changelog; predicts against `day`'s timetable.
    ///
    /// Weather and service events are not read yet: see [`crate::model`] for where they join.
    pub async fn new(
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        topics: &Topics,
        day: Arc<ServiceDay>,
        partitions: u32,
        metrics: Arc<PipelineMetrics>,
    ) -> Result<Self, ProcessorError> {
        let arrivals =
            TopicCodec::register(Arc::clone(&registry), topics.vehicle_arrivals()).await?;
        let table_topic = crate::topics::predictions(topics);
        let table_keys =
            Encoder::register(registry.as_ref(), &format!("{table_topic}-key")).await?;
        let table = TopicCodec::register(Arc::clone(&registry), table_topic.clone()).await?;
        let partitions = partitions.max(1);
        bus.create_topic(&TopicSpec::new(table_topic.clone(), partitions).compacted())
            .await
            .map_err(ProcessorError::bus("creating", table_topic))?;
        let issued_topic = crate::topics::issued(topics);
        // The same records as the table's, under the same schemas.
        Encoder::<PredictionKey>::register(registry.as_ref(), &format!("{issued_topic}-key"))
            .await?;
        Encoder::<PredictionEvent>::register(registry.as_ref(), &format!("{issued_topic}-value"))
            .await?;
        bus.create_topic(&TopicSpec::new(issued_topic.clone(), partitions))
            .await
            .map_err(ProcessorError::bus("creating", issued_topic.as_str()))?;
        let changelog = Changelog::new(
            bus.as_ref(),
            registry,
            crate::topics::predictor_state(topics),
        )
        .await?;
        Ok(Self {
            bus,
            arrivals,
            table,
            table_keys,
            issued_topic,
            changelog,
            dead_letter_topic: topics.dead_letter(),
            metrics,
            group: PREDICTOR.to_string(),
            transactions: Transactions::default(),
            prompt: false,
            partitions,
            model: Predictor::new(Arc::new(Timetable::new(day)), PredictConfig::default()),
            next_offsets: FxHashMap::default(),
            weather: None,
            readings: Arc::default(),
            cancellations: None,
            announced: Arc::default(),
            pending: BTreeMap::new(),
            pending_read: 0,
            read_to_ms: FxHashMap::default(),
        })
    }

    /// Reads the weather from `topic` (CTA's `<prefix>.weather.readings.v1`, hourly readings
    /// keyed by the instant they were taken), from its start, besides its group's arrivals:
    /// runs are then learnt and predicted by weather class ([`crate::model`]'s Weather).
    /// Without it (a deployment with no weather topic), runs are predicted as in fair weather.
    pub fn weather(
        mut self,
        registry: Arc<dyn SchemaRegistry>,
        topic: impl Into<String>,
    ) -> Result<Self, ProcessorError> {
        self.weather = Some((topic.into(), side_input::Weather::new(registry)?));
        Ok(self)
    }

    /// Reads trip cancellations (service events) from `topic`
    /// ([`Topics::trip_cancellations`]), every record from its start, outside the group: each
    /// is taken once the arrivals applied reach the instant it was announced, and the vehicle
    /// that was to run the trip is predicted on the trip after it.
    pub fn cancellations(
        mut self,
        registry: Arc<dyn SchemaRegistry>,
        topic: impl Into<String>,
    ) -> Result<Self, ProcessorError> {
        self.cancellations = Some((topic.into(), Cancellations::new(registry)?));
        Ok(self)
    }

    /// The same processor in another consumer group (default [`PREDICTOR`]).
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Whether output and input commits go in one transaction (see [`Transactions`]).
    pub fn transactions(mut self, transactions: Transactions) -> Self {
        self.transactions = transactions;
        self
    }

    /// Stops after the batch in hand rather than reading on to where its input ended when the
    /// stop came, and takes at most [`PROMPT_BATCH`] records a batch: as a member of a consumer group
    /// on a broker (`transit process`), which stops within its grace however far behind it
    /// is; the group's next member reads the rest, exactly once by the offsets in its
    /// changelog. (By default a stop reads on, so a finite run processes everything
    /// published.)
    pub fn stop_promptly(mut self) -> Self {
        self.prompt = true;
        self
    }

    /// Predicts with `config` (default [`PredictConfig::default`]).
    pub fn config(mut self, config: PredictConfig) -> Self {
        self.model = Predictor::new(Arc::clone(self.model.shared_timetable()), config);
        self
    }

    /// The model, with what it learnt and the vehicles it predicts.
    pub fn model(&self) -> &Predictor {
        &self.model
    }

    /// Predicts until `shutdown` is cancelled or the bus closes; the batch in hand is
    /// published and committed before it returns.
    pub async fn run(
        mut self,
        shutdown: CancellationToken,
    ) -> Result<PredictorStats, ProcessorError> {
        let subscription = SubscribeOptions::topics([self.arrivals.topic().to_string()])
            .in_group(self.group.clone());
        let stop_inputs = CancellationToken::new();
        let mut followers = Vec::new();
        if let Some((topic, input)) = self.weather.take() {
            followers.push(self.follow(topic, input, Arc::clone(&self.readings), &stop_inputs));
        }
        if let Some((topic, input)) = self.cancellations.take() {
            followers.push(self.follow(topic, input, Arc::clone(&self.announced), &stop_inputs));
        }
        let _stop_inputs = stop_inputs.clone().drop_guard();
        let ran = ProcessorLoop::new(
            Arc::clone(&self.bus),
            subscription,
            self.group.clone(),
            self.dead_letter_topic.clone(),
            Arc::clone(&self.metrics),
        )
        .transactions(self.transactions)
        .max_batch(if self.prompt { PROMPT_BATCH } else { BATCH })
        .drain_on_stop(!self.prompt)
        .run(self, shutdown)
        .await;
        stop_inputs.cancel();
        for follower in followers {
            if let Err(error) = follower.await {
                tracing::warn!(%error, "a side input's follower ended abnormally");
            }
        }
        ran
    }

    fn follow<S: SideInput>(
        &self,
        topic: String,
        input: S,
        inbox: Inbox<S::Item>,
        stop: &CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(side_input::follow(
            Arc::clone(&self.bus),
            topic,
            input,
            inbox,
            stop.clone(),
        ))
    }

    /// Takes the cancellations announced by `at_ms`.
    fn take_cancellations(
        &mut self,
        at_ms: i64,
        output: &mut Output,
        stats: &mut PredictorStats,
    ) -> Result<(), ProcessorError> {
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > at_ms {
                break;
            }
            let cancellation = entry.remove();
            let mut issued = Issued::default();
            match self.model.cancel(&cancellation, &mut issued) {
                Ok(true) => stats.cancelled += 1,
                Ok(false) => {}
                Err(unplaced) => tracing::warn!(
                    trip_id = %cancellation.trip_id,
                    %unplaced,
                    "a trip cancellation names no trip of the timetable; left out"
                ),
            }
            self.publish(issued, output, stats)?;
        }
        Ok(())
    }

    fn partitions_of(&self, partitions: &[TopicPartition]) -> FxHashSet<u32> {
        partitions
            .iter()
            .filter(|tp| &*tp.topic == self.arrivals.topic())
            .map(|tp| tp.partition)
            .collect()
    }

    /// Applies one arrival of `partition`: brings the partition's clock to it, learns from
    /// it, predicts again, publishes what changed.
    fn apply(
        &mut self,
        partition: u32,
        delivery: &Delivery,
        arrival: &VehicleArrivalEvent,
        output: &mut Output,
        stats: &mut PredictorStats,
    ) -> Result<(), ProcessorError> {
        let mut issued = Issued::default();
        stats.left_service += self
            .model
            .advance(partition, arrival.arrival_time, &mut issued);
        match self
            .model
            .observe(partition, delivery.offset, arrival, &mut issued)
        {
            Ok(Observed::Applied) => stats.applied += 1,
            Ok(Observed::Stale) => stats.stale += 1,
            Ok(Observed::LeftService) => {
                stats.applied += 1;
                stats.left_service += 1;
            }
            Err(unplaced) => {
                stats.unplaced += 1;
                output.reject(
                    delivery,
                    format!("not an arrival of the timetable: {unplaced}"),
                );
            }
        }
        self.publish(issued, output, stats)
    }

    /// Puts `issued`'s changes into `output`, in order.
    fn publish(
        &self,
        issued: Issued,
        output: &mut Output,
        stats: &mut PredictorStats,
    ) -> Result<(), ProcessorError> {
        let topic = self.table.topic();
        let encode = |source| ProcessorError::Encode {
            topic: topic.to_string(),
            source,
        };
        for change in issued.changes {
            match change {
                Issue::Upsert(event) => {
                    let mut record = self.table.record(&event, event.issued_at).map_err(encode)?;
                    record.partition = Some(event.source_partition % self.partitions);
                    output.publish(&self.issued_topic, record.clone());
                    output.publish(topic, record);
                    stats.issued += 1;
                }
                Issue::Withdraw {
                    partition,
                    key,
                    at_ms,
                } => {
                    let key = self.table_keys.encode(&key).map_err(encode)?;
                    let record = tombstone(key, at_ms, Some(partition % self.partitions));
                    output.publish(&self.issued_topic, record.clone());
                    output.publish(topic, record);
                    stats.withdrawn += 1;
                }
            }
        }
        Ok(())
    }

    /// Puts the batch's state changes into the changelog.
    fn write_changelog(
        &mut self,
        touched: &FxHashSet<u32>,
        timestamp_ms: i64,
        output: &mut Output,
    ) -> Result<(), ProcessorError> {
        let changes = self.model.take_changes();
        for (partition, id) in &changes.removed {
            if !changes.vehicles.contains(id) {
                self.changelog
                    .delete(*partition, VEHICLE, id, timestamp_ms, output)?;
            }
        }
        let mut vehicles: Vec<&String> = changes.vehicles.iter().collect();
        vehicles.sort();
        for id in vehicles {
            if let Some(state) = self.model.vehicle(id) {
                self.changelog
                    .put(state.partition, VEHICLE, id, state, timestamp_ms, output)?;
            }
        }
        let mut learnt: Vec<&(u32, LearnKey)> = changes.learnt.iter().collect();
        learnt.sort();
        for (partition, key) in learnt {
            if let Some(window) = self.model.window(*partition, key) {
                self.changelog.put(
                    *partition,
                    LEARNT,
                    &learn_id(key),
                    &(key, window),
                    timestamp_ms,
                    output,
                )?;
            }
        }
        let mut latest: Vec<&(u32, SegmentKey)> = changes.latest.iter().collect();
        latest.sort();
        for (partition, segment) in latest {
            if let Some(run) = self.model.latest_run(*partition, segment) {
                let id = format!("{}/{}/{}", segment.route, segment.from, segment.to);
                self.changelog.put(
                    *partition,
                    LATEST,
                    &id,
                    &(segment, run),
                    timestamp_ms,
                    output,
                )?;
            }
        }
        let mut slowdowns: Vec<&(u32, WeatherClass)> = changes.slowdowns.iter().collect();
        slowdowns.sort();
        for (partition, class) in slowdowns {
            if let Some(slowdown) = self.model.slowdown(*partition, *class) {
                self.changelog.put(
                    *partition,
                    WEATHER,
                    &class.id(),
                    &(class, slowdown),
                    timestamp_ms,
                    output,
                )?;
            }
        }
        let mut touched: Vec<u32> = touched.iter().copied().collect();
        touched.sort_unstable();
        for partition in touched {
            if let Some(next) = self.next_offsets.get(&partition) {
                self.changelog
                    .put(partition, OFFSETS, "", next, timestamp_ms, output)?;
            }
        }
        Ok(())
    }
}

/// `Ok` for an entry put back, the reason otherwise.
fn sane(restored: bool) -> Result<(), String> {
    if restored {
        Ok(())
    } else {
        Err("it holds durations out of range".to_string())
    }
}

/// A learnt key's id in the changelog.
fn learn_id(key: &LearnKey) -> String {
    format!(
        "{:?}/{}/{}/{}/{:?}/{}",
        key.quantity, key.route, key.from, key.to, key.day_type, key.hour
    )
}

#[async_trait]
impl Processor for PredictionProcessor {
    type Stats = PredictorStats;

    async fn assigned(
        &mut self,
        bus: &dyn EventBus,
        partitions: &[TopicPartition],
        stats: &mut PredictorStats,
    ) -> Result<(), ProcessorError> {
        let gained = self.partitions_of(partitions);
        if gained.is_empty() {
            return Ok(());
        }
        // Whatever was held for them is stale: another member may have moved them on.
        self.model.drop_partitions(&gained);
        for partition in &gained {
            self.next_offsets.remove(partition);
            self.read_to_ms.remove(partition);
        }
        for entry in self.changelog.restore(bus, &gained).await? {
            let restored: Result<(), String> = match entry.kind.as_str() {
                VEHICLE => serde_json::from_str::<VehicleState>(&entry.state)
                    .map_err(|e| e.to_string())
                    .and_then(|state| {
                        self.model
                            .restore_vehicle(entry.id.clone(), state)
                            .map_err(|e| e.to_string())
                    }),
                LEARNT => serde_json::from_str::<(LearnKey, Window)>(&entry.state)
                    .map_err(|e| e.to_string())
                    .and_then(|(key, window)| {
                        sane(self.model.restore_window(entry.partition, key, window))
                    }),
                LATEST => serde_json::from_str::<(SegmentKey, Observation)>(&entry.state)
                    .map_err(|e| e.to_string())
                    .and_then(|(segment, run)| {
                        sane(self.model.restore_latest(entry.partition, segment, run))
                    }),
                WEATHER => serde_json::from_str::<(WeatherClass, Slowdown)>(&entry.state)
                    .map_err(|e| e.to_string())
                    .and_then(|(class, slowdown)| {
                        sane(
                            self.model
                                .restore_slowdown(entry.partition, class, slowdown),
                        )
                    }),
                OFFSETS => serde_json::from_str::<u64>(&entry.state)
                    .map(|next| {
                        self.next_offsets.insert(entry.partition, next);
                    })
                    .map_err(|e| e.to_string()),
                _ => Ok(()),
            };
            match restored {
                Ok(()) => stats.restored += 1,
                Err(error) => tracing::warn!(
                    kind = %entry.kind,
                    id = %entry.id,
                    %error,
                    "a predictor state entry does not read; it starts afresh"
                ),
            }
        }
        Ok(())
    }

    fn revoked(&mut self, partitions: &[TopicPartition]) {
        let lost = self.partitions_of(partitions);
        self.model.drop_partitions(&lost);
        self.next_offsets.retain(|p, _| !lost.contains(p));
        self.read_to_ms.retain(|p, _| !lost.contains(p));
    }

    async fn process(
        &mut self,
        batch: &[Delivery],
        output: &mut Output,
        stats: &mut PredictorStats,
    ) -> Result<(), ProcessorError> {
        for (at_ms, reading) in side_input::take(&self.readings) {
            self.model.read_weather(at_ms, &reading);
        }
        for (at_ms, cancellation) in side_input::take(&self.announced) {
            self.pending
                .insert((at_ms, self.pending_read), cancellation);
            self.pending_read += 1;
        }
        let mut touched = FxHashSet::default();
        // Per partition, the batch's arrivals to apply, in offset order.
        let mut queues: Vec<(u32, VecDeque<Timed<(&Delivery, VehicleArrivalEvent)>>)> = Vec::new();
        for delivery in batch {
            if &*delivery.topic != self.arrivals.topic() {
                continue;
            }
            stats.arrivals += 1;
            let partition = delivery.partition;
            if self
                .next_offsets
                .get(&partition)
                .is_some_and(|next| delivery.offset < *next)
            {
                stats.replayed += 1;
                continue;
            }
            self.next_offsets.insert(partition, delivery.offset + 1);
            touched.insert(partition);
            let Some(arrival) =
                decode_or_reject(&self.arrivals, delivery, output, "an arrival").await?
            else {
                stats.undecodable += 1;
                continue;
            };
            let timed = (arrival.arrival_time, (delivery, arrival));
            match queues.iter_mut().find(|(p, _)| *p == partition) {
                Some((_, queue)) => queue.push_back(timed),
                None => queues.push((partition, VecDeque::from([timed]))),
            }
        }
        // A bus hands a reader that is behind a run of one partition, then of the next: applied
        // as delivered, one partition's trains would be predicted (and the train ahead, the
        // overdue, the recent runs read) hours of event time before another's. Applied in
        // event-time order across partitions (each partition's own in offset order, so what
        // each partition teaches is unchanged), the batch is the railway as it happened.
        // Measured for the debug log alone: not on every arrival otherwise.
        let measured = tracing::enabled!(tracing::Level::DEBUG);
        let mut lag = BatchLag::default();
        for (partition, (delivery, arrival)) in in_event_time_order(queues) {
            if measured {
                lag.note(&mut self.read_to_ms, partition, arrival.arrival_time);
            }
            self.take_cancellations(arrival.arrival_time, output, stats)?;
            self.apply(partition, delivery, &arrival, output, stats)?;
        }
        lag.log(batch.len());
        let timestamp = batch.last().map_or(0, |d| d.timestamp_ms);
        self.write_changelog(&touched, timestamp, output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_applied_in_event_time_order_each_partition_in_offset_order() {
        let queues = vec![
            (
                2,
                VecDeque::from([(30, "c30"), (10, "c10-late"), (50, "c50")]),
            ),
            (0, VecDeque::from([(20, "a20"), (40, "a40")])),
            (1, VecDeque::from([(20, "b20"), (60, "b60")])),
        ];
        let order: Vec<(u32, &str)> = in_event_time_order(queues);
        assert_eq!(
            order,
            vec![
                (0, "a20"),
                (1, "b20"),
                (2, "c30"),
                // Partition 2 goes back in time: still after its own earlier offset.
                (2, "c10-late"),
                (0, "a40"),
                (2, "c50"),
                (1, "b60"),
            ]
        );
    }
}
