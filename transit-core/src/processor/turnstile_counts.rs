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
//! On start, the state is read back from the compacted count table (one record per key), so
//! restoring takes time proportional to the number of stations, not to the history. When the
//! group hands this member partitions it did not have, the table is read again for them, so a
//! member picks up where the previous owner of the partition left off.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{commit_positions, next_batch, publish, read_table, ProcessorError};
use crate::bus::{Delivery, EventBus, SubscribeOptions, TopicSpec};
use crate::codec::{SchemaRegistry, TopicCodec};
use crate::deadletter::DeadLetters;
use crate::event::{StationLineKey, TurnstileCount, TurnstileEvent};
use crate::metrics::PipelineMetrics;
use crate::topics::Topics;

/// The consumer group, and the name in metrics and dead letters.
pub const CONSUMER: &str = "transit-turnstile-counter";

/// What a run of the counter did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountStats {
    /// Keys restored from the table at start.
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

/// The turnstile-count processor of one deployment.
#[derive(Debug)]
pub struct TurnstileCounter {
    bus: Arc<dyn EventBus>,
    entries: TopicCodec<TurnstileEvent>,
    table: TopicCodec<TurnstileCount>,
    dead_letters: DeadLetters,
    metrics: Arc<PipelineMetrics>,
    group: String,
    counts: HashMap<StationLineKey, TurnstileCount>,
    /// The input partitions the state was restored for.
    restored_for: BTreeSet<u32>,
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
        let entries =
            TopicCodec::register(Arc::clone(&registry), topics.turnstile_entries()).await?;
        let table = TopicCodec::register(registry, topics.turnstile_counts()).await?;
        let dead_letters = DeadLetters::new(topics.dead_letter(), CONSUMER, Arc::clone(&metrics));
        for spec in [
            TopicSpec::new(topics.turnstile_counts(), 1).compacted(),
            dead_letters.topic_spec(),
        ] {
            bus.create_topic(&spec)
                .await
                .map_err(ProcessorError::bus("creating", spec.name.as_str()))?;
        }
        Ok(Self {
            bus,
            entries,
            table,
            dead_letters,
            metrics,
            group: CONSUMER.to_string(),
            counts: HashMap::new(),
            restored_for: BTreeSet::new(),
        })
    }

    /// The same processor in another consumer group (default [`CONSUMER`]): a group is one
    /// logical processor whose members share the input's partitions and its committed offsets.
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// The counts now, by station and line.
    pub fn counts(&self) -> &HashMap<StationLineKey, TurnstileCount> {
        &self.counts
    }

    /// Counts entries until `shutdown` is cancelled or the bus closes; the batch in hand is
    /// published and committed before it returns.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<CountStats, ProcessorError> {
        let input = self.entries.topic().to_string();
        let mut stats = CountStats {
            restored: self.restore(None).await?,
            ..CountStats::default()
        };
        let mut consumer = self
            .bus
            .subscribe(SubscribeOptions::topics([input.clone()]).in_group(self.group.clone()))
            .await
            .map_err(ProcessorError::bus("subscribing to", input.as_str()))?;
        self.restored_for = partitions_of(consumer.as_ref(), &input);
        tracing::info!(
            input,
            output = self.table.topic(),
            restored = stats.restored,
            "turnstile counter running"
        );
        let mut batch = Vec::new();
        let mut lag_measured = std::time::Instant::now();
        while next_batch(consumer.as_mut(), &mut batch, &shutdown, &input).await? {
            self.metrics.record_consumed(CONSUMER, &batch);
            let assigned = partitions_of(consumer.as_ref(), &input);
            let gained: BTreeSet<u32> = assigned.difference(&self.restored_for).copied().collect();
            if !gained.is_empty() {
                stats.restored += self.restore(Some(&gained)).await?;
            }
            self.restored_for = assigned;
            self.process(&batch, &mut stats).await?;
            consumer
                .commit(&commit_positions(&batch))
                .await
                .map_err(ProcessorError::bus("committing", input.as_str()))?;
            if lag_measured.elapsed() >= super::LAG_EVERY {
                lag_measured = std::time::Instant::now();
                if let Ok(positions) = consumer.positions().await {
                    self.metrics.record_positions(CONSUMER, &positions);
                }
            }
        }
        tracing::info!(
            entries = stats.entries,
            counted = stats.counted,
            replayed = stats.replayed,
            undecodable = stats.undecodable,
            "turnstile counter stopped; counts published and offsets committed"
        );
        Ok(stats)
    }

    /// Reads the count table back into the state: every key, or only those counted from the
    /// given input partitions. Returns how many keys were restored.
    async fn restore(&mut self, partitions: Option<&BTreeSet<u32>>) -> Result<u64, ProcessorError> {
        let rows = read_table(self.bus.as_ref(), self.table.topic()).await?;
        let mut restored = 0;
        for delivery in &rows {
            match self.table.decode(delivery).await {
                Ok((key, count)) => {
                    if partitions.is_some_and(|p| !p.contains(&count.source_partition)) {
                        continue;
                    }
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
        Ok(restored)
    }

    async fn process(
        &mut self,
        batch: &[Delivery],
        stats: &mut CountStats,
    ) -> Result<(), ProcessorError> {
        let mut rejected = Vec::new();
        let mut changed: Vec<StationLineKey> = Vec::new();
        for delivery in batch {
            stats.entries += 1;
            let entry = match self.entries.decode_value_cached(delivery) {
                Ok(entry) => entry,
                Err(_) => match self.entries.decode(delivery).await {
                    Ok((_, entry)) => entry,
                    Err(error) => {
                        stats.undecodable += 1;
                        rejected
                            .push((delivery.clone(), format!("not a turnstile entry: {error}")));
                        continue;
                    }
                },
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
                continue;
            }
            count.entries += 1;
            count.source_partition = delivery.partition;
            count.source_offset = delivery.offset;
            stats.counted += 1;
            if !changed.contains(&key) {
                changed.push(key);
            }
        }
        let timestamp = batch.last().map_or(0, |d| d.timestamp_ms);
        let records = changed
            .iter()
            .filter_map(|key| self.counts.get(key))
            .map(|count| self.table.record(count, timestamp))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| ProcessorError::Encode {
                topic: self.table.topic().to_string(),
                source,
            })?;
        let published = publish(self.bus.as_ref(), self.table.topic(), records).await?;
        stats.published += published;
        self.metrics.record_published(self.table.topic(), published);
        self.dead_letters
            .send(self.bus.as_ref(), &rejected)
            .await
            .map_err(ProcessorError::publish(self.dead_letters.topic()))?;
        Ok(())
    }
}

fn partitions_of(consumer: &dyn crate::bus::Consumer, topic: &str) -> BTreeSet<u32> {
    consumer
        .assignment()
        .into_iter()
        .filter(|tp| &*tp.topic == topic)
        .map(|tp| tp.partition)
        .collect()
}
