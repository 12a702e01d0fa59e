//! Headways: per platform (line, station, direction), the time since the train before, and
//! whether the train runs on time, bunched or gapped against the scheduled headway.
//!
//! # The rules
//!
//! A train's headway at a platform is the time from the previous train's arrival there to its
//! own. Compared with the scheduled headway of its trip, it is *bunched* at or below
//! [`HeadwayRules::bunched_share`] of it (50 % by default: Swiftly's default is 75 %, which
//! flags much of a busy line's normal variation), *gapped* at or above
//! [`HeadwayRules::gapped_share`] (150 %), and *on time* between. A train after more than
//! [`SERVICE_BREAK_S`] since the previous one starts service there (the morning's first train,
//! a line after its night break): it has no headway. Only trains in service count: a train on
//! its way to the yard carries no riders.
//!
//! Line figures (the coefficient of variation of headways, the expected wait) need every
//! platform of a line, which one member of the group may not hold (arrivals are partitioned by
//! station), so the status read model computes them from this table, which it reads whole.
//!
//! # Exact across restarts
//!
//! As with the turnstile counts: each record carries the arrival position it was computed
//! from; a platform's arrivals all come from one partition (they are keyed by station), so an
//! arrival at or before the stored offset is a replay and skipped. The table is restored for
//! the partitions gained at every assignment and dropped for those revoked.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::base::{InputPartitions, TableBase, TableSetup};
use super::runner::{Output, Processor, Transactions};
use super::{decode_or_reject, read_table, ChangedKeys, ProcessorError};
use crate::bus::{Delivery, EventBus, TopicPartition, TopicSpec};
use crate::codec::SchemaRegistry;
use crate::event::{ArrivalEvent, HeadwayEvent, HeadwayKey, HeadwayState};
use crate::metrics::PipelineMetrics;
use crate::model::TrainStatus;
use crate::network::cta;
use crate::time::SimTime;
use crate::topics::Topics;

/// The consumer group, and the name in metrics and dead letters.
pub const CONSUMER: &str = "transit-headways";

/// Longer than this since the previous train (seconds) is a break in service, not a gap.
pub const SERVICE_BREAK_S: i64 = 3_600;

/// When a headway counts as bunched or gapped, as shares of the scheduled headway.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadwayRules {
    /// At or below this share of the scheduled headway a train is bunched (default 0.5).
    pub bunched_share: f64,
    /// At or above this share it is gapped (default 1.5).
    pub gapped_share: f64,
}

impl Default for HeadwayRules {
    fn default() -> Self {
        Self {
            bunched_share: 0.5,
            gapped_share: 1.5,
        }
    }
}

impl HeadwayRules {
    /// The state of a headway against a scheduled one (both in seconds).
    ///
    /// ```
    /// use transit_core::event::HeadwayState;
    /// use transit_core::processor::headways::HeadwayRules;
    ///
    /// let rules = HeadwayRules::default();
    /// assert_eq!(rules.state(Some(240), Some(600)), HeadwayState::Bunched);
    /// assert_eq!(rules.state(Some(600), Some(600)), HeadwayState::OnTime);
    /// assert_eq!(rules.state(Some(900), Some(600)), HeadwayState::Gapped);
    /// assert_eq!(rules.state(None, Some(600)), HeadwayState::Unknown);
    /// ```
    pub fn state(&self, headway_s: Option<i32>, scheduled_s: Option<i32>) -> HeadwayState {
        match (headway_s, scheduled_s) {
            (Some(headway), Some(scheduled)) if scheduled > 0 => {
                let share = f64::from(headway) / f64::from(scheduled);
                if share <= self.bunched_share {
                    HeadwayState::Bunched
                } else if share >= self.gapped_share {
                    HeadwayState::Gapped
                } else {
                    HeadwayState::OnTime
                }
            }
            _ => HeadwayState::Unknown,
        }
    }
}

/// What a run of the headway processor did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadwayStats {
    /// Platforms restored from the table (at start and at every later assignment).
    pub restored: u64,
    /// Arrivals read.
    pub arrivals: u64,
    /// Arrivals applied (in service, not seen before).
    pub applied: u64,
    /// Arrivals skipped because the restored state already includes them (replays).
    pub replayed: u64,
    /// Arrivals of trains not in service, left out.
    pub not_in_service: u64,
    /// Records that did not decode as arrivals.
    pub undecodable: u64,
    /// Headway records published.
    pub published: u64,
}

impl std::fmt::Display for HeadwayStats {
    /// The counters in plain words, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::processor::runner::write_counts(
            f,
            &[
                ("restored", self.restored),
                ("arrivals", self.arrivals),
                ("applied", self.applied),
                ("replayed", self.replayed),
                ("not in service", self.not_in_service),
                ("undecodable", self.undecodable),
                ("published", self.published),
            ],
        )
    }
}

/// The headway processor of one deployment.
#[derive(Debug)]
pub struct HeadwayProcessor {
    /// Each line's arrivals in (its inputs in [`cta::LINES`] order, so a line's input is
    /// its index), the headway table out.
    base: TableBase<ArrivalEvent, HeadwayEvent>,
    rules: HeadwayRules,
    platforms: HashMap<HeadwayKey, HeadwayEvent>,
}

impl HeadwayProcessor {
    /// Registers the schemas and creates the table and dead-letter topics. The arrival topics
    /// are the simulation's.
    pub async fn new(
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        topics: &Topics,
        metrics: Arc<PipelineMetrics>,
    ) -> Result<Self, ProcessorError> {
        let setup = TableSetup {
            inputs: cta::LINES.map(|line| topics.arrivals(line)).to_vec(),
            table: topics.headways(),
            create: vec![TopicSpec::new(topics.headways(), 1).compacted()],
            dead_letter_topic: topics.dead_letter(),
            group: CONSUMER,
        };
        Ok(Self {
            base: TableBase::new(bus, registry, setup, metrics).await?,
            rules: HeadwayRules::default(),
            platforms: HashMap::new(),
        })
    }

    /// The same processor in another consumer group (default [`CONSUMER`]).
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.base.set_group(group.into());
        self
    }

    /// Whether output and input commits go in one transaction (see [`Transactions`]).
    pub fn transactions(mut self, transactions: Transactions) -> Self {
        self.base.set_transactions(transactions);
        self
    }

    /// When a train counts as bunched or gapped (default [`HeadwayRules::default`]).
    pub fn rules(mut self, rules: HeadwayRules) -> Self {
        self.rules = rules;
        self
    }

    /// The latest headway at each platform held.
    pub fn platforms(&self) -> &HashMap<HeadwayKey, HeadwayEvent> {
        &self.platforms
    }

    /// Computes headways until `shutdown` is cancelled or the bus closes; the batch in hand is
    /// published and committed before it returns.
    pub async fn run(self, shutdown: CancellationToken) -> Result<HeadwayStats, ProcessorError> {
        self.base.processor_loop().run(self, shutdown).await
    }

    /// Reads the table back for the platforms fed by `partitions`. Returns how many.
    async fn restore(
        &mut self,
        bus: &dyn EventBus,
        partitions: &InputPartitions,
    ) -> Result<u64, ProcessorError> {
        self.platforms
            .retain(|_, record| !computed_from(record, partitions));
        let rows = read_table(bus, self.base.table().topic()).await?;
        let mut restored = 0;
        for delivery in &rows {
            match self.base.table().decode(delivery).await {
                Ok((key, record)) => {
                    if computed_from(&record, partitions) {
                        self.platforms.insert(key, record);
                        restored += 1;
                    }
                }
                Err(error) => tracing::warn!(
                    topic = %delivery.topic,
                    offset = delivery.offset,
                    %error,
                    "a headway record does not decode; that platform starts afresh"
                ),
            }
        }
        Ok(restored)
    }

    /// Applies one arrival: the platform's new record, or `None` for a replay.
    fn apply(&mut self, arrival: &ArrivalEvent, delivery: &Delivery) -> Option<HeadwayKey> {
        let key = HeadwayKey {
            line: arrival.line,
            station_id: arrival.station_id,
            direction: arrival.direction,
        };
        let time = arrival
            .arrival_time
            .unwrap_or(SimTime(delivery.timestamp_ms));
        let previous = self.platforms.get(&key);
        if previous.is_some_and(|p| {
            p.source_partition == delivery.partition && delivery.offset <= p.source_offset
        }) {
            return None;
        }
        let headway_s = previous
            .filter(|p| p.train_id != arrival.train_id)
            .map(|p| (time.0 - p.arrival_time.0).div_euclid(1000))
            .filter(|s| (0..=SERVICE_BREAK_S).contains(s))
            .and_then(|s| i32::try_from(s).ok());
        let record = HeadwayEvent {
            line: key.line,
            station_id: key.station_id,
            direction: key.direction,
            train_id: arrival.train_id,
            run_number: arrival.run_number,
            arrival_time: time,
            headway_s,
            scheduled_headway_s: arrival.scheduled_headway_s,
            state: self.rules.state(headway_s, arrival.scheduled_headway_s),
            delay_s: arrival.delay_s,
            source_partition: delivery.partition,
            source_offset: delivery.offset,
        };
        self.platforms.insert(key, record);
        Some(key)
    }
}

#[async_trait]
impl Processor for HeadwayProcessor {
    type Stats = HeadwayStats;

    async fn assigned(
        &mut self,
        bus: &dyn EventBus,
        partitions: &[TopicPartition],
        stats: &mut HeadwayStats,
    ) -> Result<(), ProcessorError> {
        let gained = self.base.inputs_among(partitions);
        if !gained.is_empty() {
            stats.restored += self.restore(bus, &gained).await?;
        }
        Ok(())
    }

    fn revoked(&mut self, partitions: &[TopicPartition]) {
        let lost = self.base.inputs_among(partitions);
        self.platforms
            .retain(|_, record| !computed_from(record, &lost));
    }

    async fn process(
        &mut self,
        batch: &[Delivery],
        output: &mut Output,
        stats: &mut HeadwayStats,
    ) -> Result<(), ProcessorError> {
        let mut changed = ChangedKeys::new();
        for delivery in batch {
            stats.arrivals += 1;
            let Some(codec) = self.base.input_named(&delivery.topic) else {
                continue;
            };
            let Some(arrival) = decode_or_reject(codec, delivery, output, "an arrival").await?
            else {
                stats.undecodable += 1;
                continue;
            };
            if arrival.train_status != TrainStatus::InService {
                stats.not_in_service += 1;
                continue;
            }
            match self.apply(&arrival, delivery) {
                Some(key) => {
                    stats.applied += 1;
                    changed.insert(key);
                }
                None => stats.replayed += 1,
            }
        }
        let timestamp = batch.last().map_or(0, |d| d.timestamp_ms);
        let rows = changed.iter().filter_map(|key| self.platforms.get(key));
        stats.published += self.base.publish(rows, timestamp, output)?;
        Ok(())
    }
}

/// Whether a platform's record was computed from one of `partitions`: from its line's
/// arrivals (the line's input), at its source partition.
fn computed_from(record: &HeadwayEvent, partitions: &InputPartitions) -> bool {
    cta::position(record.line)
        .is_some_and(|input| partitions.contains(input, record.source_partition))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_inclusive_at_both_thresholds() {
        let rules = HeadwayRules::default();
        assert_eq!(rules.state(Some(300), Some(600)), HeadwayState::Bunched);
        assert_eq!(rules.state(Some(301), Some(600)), HeadwayState::OnTime);
        assert_eq!(rules.state(Some(899), Some(600)), HeadwayState::OnTime);
        assert_eq!(rules.state(Some(900), Some(600)), HeadwayState::Gapped);
        assert_eq!(rules.state(Some(600), None), HeadwayState::Unknown);
        assert_eq!(rules.state(Some(600), Some(0)), HeadwayState::Unknown);
        let swiftly = HeadwayRules {
            bunched_share: 0.75,
            ..rules
        };
        assert_eq!(swiftly.state(Some(450), Some(600)), HeadwayState::Bunched);
    }
}
