//! Turnstile counts: a running count of entries per station and line, as a table topic.
//!
//! # Exact counts without transactions
//!
//! Each count record carries the input position it includes up to (`source_partition`,
//! `source_offset`). Entries of one station all come from one partition of the entries topic
//! (they are keyed by station), so "this entry is already counted" is simply "its offset is at
//! or before the stored `source_offset`". The processor publishes the counts of a batch, then
//! commits the batch's offsets. After a crash anywhere in between, the entries replayed from the
//! last commit are recognised and skipped; none is counted twice and none is lost.
//!
//! # Restore
//!
//! The counts of an input partition are restored from the compacted count table (one record
//! per key) whenever the group assigns the partition to this member: at start, after a
//! rebalance, and when a partition lost and handed back in between comes back (another member
//! may have counted it meanwhile). Restoring takes time proportional to the number of
//! stations, not to the history. When a partition is revoked its counts are dropped, so
//! nothing stale is ever published over a newer count.

use rustc_hash::FxHashMap;
use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::base::{InputPartitions, TableBase, TableSetup};
use super::runner::{Output, Processor, Transactions};
use super::{decode_or_reject, read_table, ChangedKeys, ProcessorError};
use crate::bus::{Delivery, EventBus, TopicPartition, TopicSpec};
use crate::codec::SchemaRegistry;
use crate::event::{StationLineKey, TurnstileCount, TurnstileEvent};
use crate::metrics::PipelineMetrics;
use crate::topics::Topics;

/// The consumer group, and the name in metrics and dead letters.
pub const CONSUMER: &str = "transit-turnstile-counter";

/// What a run of the counter did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountStats {
    /// Keys restored from the table (at start and at every later assignment).
    pub restored: u64,
    /// Entries read.
    pub entries: u64,
    /// Entries counted.
    pub counted: u64,
    /// Entries skipped because the restored state already counted them (replays).
    pub replayed: u64,
    /// Records that did not decode as turnstile entries.
    pub undecodable: u64,
    /// Count records published.
    pub published: u64,
}

impl std::fmt::Display for CountStats {
    /// The counters in plain words, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::processor::runner::write_counts(
            f,
            &[
                ("restored", self.restored),
                ("entries", self.entries),
                ("counted", self.counted),
                ("replayed", self.replayed),
                ("undecodable", self.undecodable),
                ("published", self.published),
            ],
        )
    }
}

/// The turnstile-count processor of one deployment.
#[derive(Debug)]
pub struct TurnstileCounter {
    /// Entries in, the count table out.
    base: TableBase<TurnstileEvent, TurnstileCount>,
    counts: FxHashMap<StationLineKey, TurnstileCount>,
}

impl TurnstileCounter {
    /// Registers the schemas and creates the table and dead-letter topics. The entries topic
    /// is the simulation's; it must exist (or be created by its producer) before `run`.
    pub async fn new(
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        topics: &Topics,
        metrics: Arc<PipelineMetrics>,
    ) -> Result<Self, ProcessorError> {
        let setup = TableSetup {
            inputs: vec![topics.turnstile_entries()],
            table: topics.turnstile_counts(),
            create: vec![TopicSpec::new(topics.turnstile_counts(), 1).compacted()],
            dead_letter_topic: topics.dead_letter(),
            group: CONSUMER,
        };
        Ok(Self {
            base: TableBase::new(bus, registry, setup, metrics).await?,
            counts: FxHashMap::default(),
        })
    }

    /// The same processor in another consumer group (default [`CONSUMER`]): a group is one
    /// logical processor whose members share the input's partitions and its committed offsets.
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.base.set_group(group.into());
        self
    }

    /// Whether its output and input commits go in one transaction (by default, when the bus
    /// supports them; see [`Transactions`]).
    pub fn transactions(mut self, transactions: Transactions) -> Self {
        self.base.set_transactions(transactions);
        self
    }

    /// The counts now, by station and line.
    pub fn counts(&self) -> &FxHashMap<StationLineKey, TurnstileCount> {
        &self.counts
    }

    /// Counts entries until `shutdown` is cancelled or the bus closes; the batch in hand is
    /// published and committed before it returns.
    pub async fn run(self, shutdown: CancellationToken) -> Result<CountStats, ProcessorError> {
        self.base.processor_loop().run(self, shutdown).await
    }

    /// Reads the count table back for the keys counted from `partitions`. Returns how many.
    async fn restore(
        &mut self,
        bus: &dyn EventBus,
        partitions: &InputPartitions,
    ) -> Result<u64, ProcessorError> {
        self.counts
            .retain(|_, count| !partitions.contains(0, count.source_partition));
        let rows = read_table(bus, self.base.table().topic()).await?;
        let mut restored = 0;
        let mut counted_up_to: std::collections::BTreeMap<u32, u64> = Default::default();
        for delivery in &rows {
            match self.base.table().decode(delivery).await {
                Ok((key, count)) => {
                    if !partitions.contains(0, count.source_partition) {
                        continue;
                    }
                    let last = counted_up_to.entry(count.source_partition).or_insert(0);
                    *last = (*last).max(count.source_offset);
                    self.counts.insert(key, count);
                    restored += 1;
                }
                Err(error) => tracing::warn!(
                    topic = %delivery.topic,
                    partition = delivery.partition,
                    offset = delivery.offset,
                    %error,
                    "a count record does not decode; that station starts from zero"
                ),
            }
        }
        tracing::info!(
            input = %self.base.input().topic(),
            counted_up_to = ?counted_up_to,
            "counts restored: the last entry each input partition's counts include"
        );
        Ok(restored)
    }
}

#[async_trait]
impl Processor for TurnstileCounter {
    type Stats = CountStats;

    async fn assigned(
        &mut self,
        bus: &dyn EventBus,
        partitions: &[TopicPartition],
        stats: &mut CountStats,
    ) -> Result<(), ProcessorError> {
        let gained = self.base.inputs_among(partitions);
        if !gained.is_empty() {
            stats.restored += self.restore(bus, &gained).await?;
        }
        Ok(())
    }

    fn revoked(&mut self, partitions: &[TopicPartition]) {
        let lost = self.base.inputs_among(partitions);
        self.counts
            .retain(|_, count| !lost.contains(0, count.source_partition));
    }

    async fn process(
        &mut self,
        batch: &[Delivery],
        output: &mut Output,
        stats: &mut CountStats,
    ) -> Result<(), ProcessorError> {
        let mut changed = ChangedKeys::new();
        // The replays of this batch, per input partition: (first, last, how many).
        let mut replays: FxHashMap<u32, (u64, u64, u64)> = FxHashMap::default();
        for delivery in batch {
            stats.entries += 1;
            let Some(entry) =
                decode_or_reject(self.base.input(), delivery, output, "a turnstile entry").await?
            else {
                stats.undecodable += 1;
                continue;
            };
            let key = StationLineKey {
                station_id: entry.station_id,
                line: entry.line,
            };
            let count = self.counts.entry(key).or_insert(TurnstileCount {
                station_id: key.station_id,
                line: key.line,
                entries: 0,
                source_partition: delivery.partition,
                source_offset: 0,
            });
            let seen = count.entries > 0
                && count.source_partition == delivery.partition
                && delivery.offset <= count.source_offset;
            if seen {
                stats.replayed += 1;
                let run = replays.entry(delivery.partition).or_insert((
                    delivery.offset,
                    delivery.offset,
                    0,
                ));
                run.0 = run.0.min(delivery.offset);
                run.1 = run.1.max(delivery.offset);
                run.2 += 1;
                continue;
            }
            count.entries += 1;
            count.source_partition = delivery.partition;
            count.source_offset = delivery.offset;
            stats.counted += 1;
            changed.insert(key);
        }
        for (partition, (first, last, skipped)) in replays {
            // Expected after a crash between publishing and committing; under transactions the
            // restored counts and the committed offsets move together, so it says they did not.
            tracing::info!(
                input = %self.base.input().topic(),
                partition,
                first,
                last,
                skipped,
                "entries already counted by the restored counts were skipped (replays)"
            );
        }
        let timestamp = batch.last().map_or(0, |d| d.timestamp_ms);
        let rows = changed.iter().filter_map(|key| self.counts.get(key));
        stats.published += self.base.publish(rows, timestamp, output)?;
        Ok(())
    }
}
