//! The scorer on the processor loop: the predictions issued ([`crate::topics::issued`]) and
//! the arrivals in, the accuracy table out, its
//! state in a changelog, exactly once. The scoring itself is [`crate::score`]'s.
//!
//! # Partitions
//!
//! The predictor writes each vehicle's predictions to the partition of the predictions issued
//! that matches its arrivals' partition, so a vehicle's predictions and arrivals share a
//! partition number, and the scorer keeps its state by that number. The join needs a member
//! to hold the same partition numbers of both topics: true with one member, with Kafka's range
//! assignor, and on the in-memory bus when the member count divides the partition count. The
//! accuracy table's key carries the partition, so members never overwrite each other's rows;
//! a reader sums them ([`crate::score::Summary`]).
//!
//! # Exactly once
//!
//! As the predictor's: the changelog carries, per partition, the next offset of each input to
//! apply, so a replayed batch is skipped; with transactions, everything commits together. The
//! counts are restored from the accuracy table itself, the samples and the rest from the
//! changelog.

use std::sync::Arc;

use async_trait::async_trait;
use rustc_hash::{FxHashMap, FxHashSet};
use tokio_util::sync::CancellationToken;
use transit_core::bus::{Delivery, EventBus, SubscribeOptions, TopicPartition, TopicSpec};
use transit_core::codec::{Decoder, Keyed, SchemaRegistry, TopicCodec};
use transit_core::event::{AccuracyEvent, PredictionEvent, PredictionKey, VehicleArrivalEvent};
use transit_core::metrics::PipelineMetrics;
use transit_core::processor::runner::{
    write_counts, Output, Processor, ProcessorLoop, Transactions,
};
use transit_core::processor::{read_table, ProcessorError, BATCH};
use transit_core::topics::Topics;

use crate::changelog::{decode_or_reject, reject_or_stop, Changelog};
use crate::score::{
    Clocks, Counts, Current, Expired, PartitionScore, RowKey, Sample, ScoreConfig, BUCKETS,
};

/// The consumer group, and the name in metrics and dead letters.
pub const SCORER: &str = "transit-prediction-scorer";

/// The most records a batch takes when it stops promptly ([`ScoreProcessor::stop_promptly`]):
/// few enough for the batch in hand to end well within a stop's grace.
pub const PROMPT_BATCH: usize = 4_096;

const CURRENT: &str = "current";
const PENDING: &str = "pending";
const TRUTH: &str = "truth";
const EXPIRED: &str = "expired";
const CLOCKS: &str = "clocks";

/// What a run of the scorer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScorerStats {
    /// State entries restored (changelog entries and accuracy rows).
    pub restored: u64,
    /// Prediction records read (tombstones among them).
    pub predictions: u64,
    /// Arrivals read.
    pub arrivals: u64,
    /// Records skipped: already applied before a restart.
    pub replayed: u64,
    /// Records refused: not decodable, or naming times out of range (dead letters).
    pub undecodable: u64,
    /// Accuracy rows published.
    pub published: u64,
}

impl std::fmt::Display for ScorerStats {
    /// The counters in plain words, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_counts(
            f,
            &[
                ("restored", self.restored),
                ("predictions", self.predictions),
                ("arrivals", self.arrivals),
                ("replayed", self.replayed),
                ("undecodable", self.undecodable),
                ("published", self.published),
            ],
        )
    }
}

/// The scorer of one deployment.
#[derive(Debug)]
pub struct ScoreProcessor {
    bus: Arc<dyn EventBus>,
    arrivals: TopicCodec<VehicleArrivalEvent>,
    predictions: TopicCodec<PredictionEvent>,
    prediction_keys: Decoder<PredictionKey>,
    accuracy: TopicCodec<AccuracyEvent>,
    changelog: Changelog,
    dead_letter_topic: String,
    metrics: Arc<PipelineMetrics>,
    group: String,
    transactions: Transactions,
    /// Whether it stops promptly ([`ScoreProcessor::stop_promptly`]).
    prompt: bool,
    config: ScoreConfig,
    partitions: FxHashMap<u32, PartitionScore>,
}

impl ScoreProcessor {
    /// Registers the schemas and creates the accuracy table and the changelog. The arrivals
    /// and the predictions issued are the simulation's and the predictor's. Hours are counted
    /// from `config.day_start_unix_s` (the service day's start).
    pub async fn new(
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        topics: &Topics,
        config: ScoreConfig,
        metrics: Arc<PipelineMetrics>,
    ) -> Result<Self, ProcessorError> {
        let arrivals =
            TopicCodec::register(Arc::clone(&registry), topics.vehicle_arrivals()).await?;
        let predictions =
            TopicCodec::register(Arc::clone(&registry), crate::topics::issued(topics)).await?;
        let prediction_keys = Decoder::new(Arc::clone(&registry))?;
        let accuracy_topic = crate::topics::accuracy(topics);
        let accuracy = TopicCodec::register(Arc::clone(&registry), accuracy_topic.clone()).await?;
        bus.create_topic(&TopicSpec::new(accuracy_topic.clone(), 1).compacted())
            .await
            .map_err(ProcessorError::bus("creating", accuracy_topic))?;
        let changelog =
            Changelog::new(bus.as_ref(), registry, crate::topics::scorer_state(topics)).await?;
        Ok(Self {
            bus,
            arrivals,
            predictions,
            prediction_keys,
            accuracy,
            changelog,
            dead_letter_topic: topics.dead_letter(),
            metrics,
            group: SCORER.to_string(),
            transactions: Transactions::default(),
            prompt: false,
            config,
            partitions: FxHashMap::default(),
        })
    }

    /// The same processor in another consumer group (default [`SCORER`]).
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

    /// The scoring state of each partition held.
    pub fn partitions(&self) -> &FxHashMap<u32, PartitionScore> {
        &self.partitions
    }

    /// Scores until `shutdown` is cancelled or the bus closes; the batch in hand is published
    /// and committed before it returns.
    pub async fn run(self, shutdown: CancellationToken) -> Result<ScorerStats, ProcessorError> {
        let subscription = SubscribeOptions::topics([
            self.arrivals.topic().to_string(),
            self.predictions.topic().to_string(),
        ])
        .in_group(self.group.clone());
        ProcessorLoop::new(
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
        .await
    }

    fn partitions_of(&self, partitions: &[TopicPartition]) -> FxHashSet<u32> {
        partitions
            .iter()
            .filter(|tp| {
                &*tp.topic == self.arrivals.topic() || &*tp.topic == self.predictions.topic()
            })
            .map(|tp| tp.partition)
            .collect()
    }

    /// Whether `delivery` was applied before (a replay), else notes it applied.
    fn replayed(&mut self, delivery: &Delivery) -> bool {
        let clocks = &mut self
            .partitions
            .entry(delivery.partition)
            .or_default()
            .clocks;
        let next = clocks
            .next_offsets
            .iter_mut()
            .find(|(topic, _)| *topic == *delivery.topic);
        match next {
            Some((_, next)) if delivery.offset < *next => true,
            Some((_, next)) => {
                *next = delivery.offset + 1;
                false
            }
            None => {
                clocks
                    .next_offsets
                    .push((delivery.topic.to_string(), delivery.offset + 1));
                false
            }
        }
    }

    fn write_out(
        &mut self,
        partition: u32,
        timestamp_ms: i64,
        output: &mut Output,
        stats: &mut ScorerStats,
    ) -> Result<(), ProcessorError> {
        let Some(score) = self.partitions.get_mut(&partition) else {
            return Ok(());
        };
        let dirty = std::mem::take(&mut score.dirty);
        let log = &self.changelog;
        let mut rows: Vec<&RowKey> = dirty.rows.iter().collect();
        rows.sort();
        for row in rows {
            if let Some(record) = score.record(row, partition) {
                let encoded =
                    self.accuracy
                        .record(&record, record.updated_at)
                        .map_err(|source| ProcessorError::Encode {
                            topic: self.accuracy.topic().to_string(),
                            source,
                        })?;
                output.publish(self.accuracy.topic(), encoded);
                stats.published += 1;
            }
        }
        let mut current: Vec<&PredictionKey> = dirty.current.iter().collect();
        current.sort();
        for key in current {
            let id = format!("{}|{}|{}", key.vehicle_id, key.stop_id, key.method);
            match score.current.get(key).map(|c| &c.prediction) {
                Some(prediction) => {
                    log.put(partition, CURRENT, &id, prediction, timestamp_ms, output)?
                }
                None => log.delete(partition, CURRENT, &id, timestamp_ms, output)?,
            }
        }
        for (kind, keys) in [
            (PENDING, &dirty.pending),
            (TRUTH, &dirty.truth),
            (EXPIRED, &dirty.expired),
        ] {
            let mut keys: Vec<&String> = keys.iter().collect();
            keys.sort();
            for key in keys {
                let written = match kind {
                    PENDING => score
                        .pending
                        .get(key)
                        .map(|v| log.put(partition, kind, key, v, timestamp_ms, output)),
                    TRUTH => score
                        .truth
                        .get(key)
                        .map(|v| log.put(partition, kind, key, v, timestamp_ms, output)),
                    _ => score
                        .expired
                        .get(key)
                        .map(|v| log.put(partition, kind, key, v, timestamp_ms, output)),
                };
                match written {
                    Some(result) => result?,
                    None => log.delete(partition, kind, key, timestamp_ms, output)?,
                }
            }
        }
        if dirty.clocks {
            log.put(partition, CLOCKS, "", &score.clocks, timestamp_ms, output)?;
        }
        Ok(())
    }

    async fn restore(
        &mut self,
        bus: &dyn EventBus,
        gained: &FxHashSet<u32>,
        stats: &mut ScorerStats,
    ) -> Result<(), ProcessorError> {
        for partition in gained {
            self.partitions
                .insert(*partition, PartitionScore::default());
        }
        for entry in self.changelog.restore(bus, gained).await? {
            let Some(score) = self.partitions.get_mut(&entry.partition) else {
                continue;
            };
            let id = entry.id.clone();
            let restored = match entry.kind.as_str() {
                CURRENT => serde_json::from_str::<PredictionEvent>(&entry.state).map(|p| {
                    score.current.insert(p.key(), Current::new(p));
                }),
                PENDING => serde_json::from_str::<Vec<Sample>>(&entry.state).map(|v| {
                    score.pending.insert(id, v);
                }),
                TRUTH => serde_json::from_str::<i64>(&entry.state).map(|v| {
                    score.truth.insert(id, v);
                }),
                EXPIRED => serde_json::from_str::<Expired>(&entry.state).map(|v| {
                    score.expired.insert(id, v);
                }),
                CLOCKS => serde_json::from_str::<Clocks>(&entry.state).map(|v| score.clocks = v),
                _ => Ok(()),
            };
            match restored {
                Ok(()) => stats.restored += 1,
                Err(error) => tracing::warn!(
                    kind = %entry.kind,
                    id = %entry.id,
                    %error,
                    "a scorer state entry does not read; it starts afresh"
                ),
            }
        }
        for delivery in read_table(bus, self.accuracy.topic()).await? {
            let row = match self.accuracy.decode(&delivery).await {
                Ok((_, row)) => row,
                Err(error) => {
                    tracing::warn!(offset = delivery.offset, %error, "an accuracy row does not decode; its counts start afresh");
                    continue;
                }
            };
            let Some(score) = self
                .partitions
                .get_mut(&row.partition)
                .filter(|_| gained.contains(&row.partition))
            else {
                continue;
            };
            let (Some(bucket), Ok(hour)) = (
                BUCKETS.iter().position(|b| b.name == row.bucket),
                u8::try_from(row.hour),
            ) else {
                continue;
            };
            let key = RowKey {
                route_id: Arc::from(row.route_id.as_str()),
                hour,
                bucket: bucket as u8,
                method: Arc::from(row.method.as_str()),
            };
            score.rows.insert(
                key,
                Counts {
                    scored: row.scored,
                    accurate: row.accurate,
                    abs_error_sum_s: row.abs_error_sum_s,
                    expired: row.expired,
                    late: row.late,
                    never: row.never,
                    updated_ms: row.updated_at,
                },
            );
            stats.restored += 1;
        }
        Ok(())
    }
}

#[async_trait]
impl Processor for ScoreProcessor {
    type Stats = ScorerStats;

    async fn assigned(
        &mut self,
        bus: &dyn EventBus,
        partitions: &[TopicPartition],
        stats: &mut ScorerStats,
    ) -> Result<(), ProcessorError> {
        let gained: FxHashSet<u32> = self.partitions_of(partitions);
        if gained.is_empty() {
            return Ok(());
        }
        self.restore(bus, &gained, stats).await
    }

    fn revoked(&mut self, partitions: &[TopicPartition]) {
        for partition in self.partitions_of(partitions) {
            self.partitions.remove(&partition);
        }
    }

    async fn process(
        &mut self,
        batch: &[Delivery],
        output: &mut Output,
        stats: &mut ScorerStats,
    ) -> Result<(), ProcessorError> {
        let mut touched = FxHashSet::default();
        for delivery in batch {
            let is_arrival = &*delivery.topic == self.arrivals.topic();
            if !is_arrival && &*delivery.topic != self.predictions.topic() {
                continue;
            }
            if is_arrival {
                stats.arrivals += 1;
            } else {
                stats.predictions += 1;
            }
            if self.replayed(delivery) {
                stats.replayed += 1;
                continue;
            }
            touched.insert(delivery.partition);
            if is_arrival {
                let Some(arrival) =
                    decode_or_reject(&self.arrivals, delivery, output, "an arrival").await?
                else {
                    stats.undecodable += 1;
                    continue;
                };
                if !crate::sane_ms(arrival.arrival_time) {
                    let reason = format!(
                        "not an arrival to score: its time {} is out of range",
                        arrival.arrival_time
                    );
                    output.reject(delivery, reason);
                    stats.undecodable += 1;
                    continue;
                }
                if let Some(score) = self.partitions.get_mut(&delivery.partition) {
                    score.arrival(&arrival, &self.config);
                }
            } else if delivery.value.is_none() {
                let key = match delivery.key.as_deref() {
                    Some(bytes) => match self.prediction_keys.decode(bytes).await {
                        Ok(key) => key,
                        Err(error) => {
                            reject_or_stop(error, delivery, output, "a prediction's key")?;
                            stats.undecodable += 1;
                            continue;
                        }
                    },
                    None => {
                        output.reject(delivery, "not a prediction: neither key nor value");
                        stats.undecodable += 1;
                        continue;
                    }
                };
                if !crate::sane_ms(delivery.timestamp_ms) {
                    output.reject(
                        delivery,
                        format!(
                            "not a withdrawal to score: its time {} is out of range",
                            delivery.timestamp_ms
                        ),
                    );
                    stats.undecodable += 1;
                    continue;
                }
                if let Some(score) = self.partitions.get_mut(&delivery.partition) {
                    score.prediction(key, None, delivery.timestamp_ms, &self.config);
                }
            } else {
                let Some(prediction) =
                    decode_or_reject(&self.predictions, delivery, output, "a prediction").await?
                else {
                    stats.undecodable += 1;
                    continue;
                };
                if !crate::sane_ms(prediction.issued_at)
                    || !crate::sane_ms(prediction.predicted_arrival_time)
                {
                    output.reject(
                        delivery,
                        "not a prediction to score: its times are out of range",
                    );
                    stats.undecodable += 1;
                    continue;
                }
                if let Some(score) = self.partitions.get_mut(&delivery.partition) {
                    let at = prediction.issued_at;
                    score.prediction(prediction.key(), Some(prediction), at, &self.config);
                }
            }
        }
        let timestamp = batch.last().map_or(0, |d| d.timestamp_ms);
        let mut touched: Vec<u32> = touched.into_iter().collect();
        touched.sort_unstable();
        for partition in touched {
            if let Some(score) = self.partitions.get_mut(&partition) {
                score.expire(&self.config);
            }
            self.write_out(partition, timestamp, output, stats)?;
        }
        Ok(())
    }
}
