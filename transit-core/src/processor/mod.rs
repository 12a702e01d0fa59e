//! Stream processors: the original's Faust app and KSQL table, as consumer-group members.
//!
//! - [`stations`]: raw station rows in, one clean station per station and line out, on a
//!   compacted table topic (the Faust app).
//! - [`turnstile_counts`]: a running count of entries per station and line, on a compacted
//!   table topic, restorable without counting an entry twice (the KSQL table).
//! - [`headways`]: per platform, the headway since the train before and whether the train is
//!   on time, bunched or gapped, on a compacted table topic, exact across restarts.
//! - [`source`]: publishes station rows onto the raw topic, the path a database source feeds.
//!
//! The three table processors hold one `base` each (their codecs, group, transactions, set-up
//! and partition filters), so each file keeps only its own logic. Every processor runs on the
//! one loop of [`runner`]: take a batch, process it, publish what
//! it produced (and the dead letters), then commit the batch's offsets; drop the state of a
//! partition lost, restore it for a partition gained. A crash between publishing and
//! committing replays the batch; each processor makes that replay harmless in its own way.
//! On shutdown the batch in hand is finished and committed before `run` returns.

pub mod headways;
pub mod runner;
pub mod source;
pub mod stations;
pub mod turnstile_counts;

mod base;
mod table;

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashSet;

pub use table::{read_table, read_topic};

use crate::bus::{self, Delivery, EventBus, PublishError, Record, RecordPosition};
use crate::codec::{EncodeError, Keyed, RegistryError, TopicCodec};

/// How many records a processor takes at a time.
pub const BATCH: usize = 16_384;

/// How often processors measure and report their lag.
pub const LAG_EVERY: Duration = Duration::from_secs(1);

/// Why a processor stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessorError {
    /// Registering a schema failed.
    #[error("registering schemas")]
    Registry(#[from] RegistryError),
    /// A bus operation failed.
    #[error("{operation} {topic}")]
    Bus {
        /// What was being done, e.g. `subscribing to`.
        operation: &'static str,
        /// The topic(s) concerned.
        topic: String,
        /// What the bus said.
        #[source]
        source: bus::Error,
    },
    /// Publishing failed; the records not stored are in the error.
    #[error("publishing to {topic}")]
    Publish {
        /// The topic.
        topic: String,
        /// What the bus said.
        #[source]
        source: PublishError,
    },
    /// The schema registry could not be asked about a record's schema: the batch is neither
    /// processed nor committed, so no good record is refused for it.
    #[error("the schema registry could not be asked about a record of {topic}")]
    RegistryUnavailable {
        /// The topic.
        topic: String,
        /// What decoding said.
        #[source]
        source: crate::codec::DecodeError,
    },
    /// A record could not be encoded (a bug in a schema or an event type).
    #[error("encoding a record for {topic}")]
    Encode {
        /// The topic.
        topic: String,
        /// What the encoder said.
        #[source]
        source: EncodeError,
    },
}

impl ProcessorError {
    /// A [`ProcessorError::Bus`] of `operation` on `topic`, for `map_err`.
    pub fn bus(
        operation: &'static str,
        topic: impl Into<String>,
    ) -> impl FnOnce(bus::Error) -> Self {
        let topic = topic.into();
        move |source| Self::Bus {
            operation,
            topic,
            source,
        }
    }

    /// A [`ProcessorError::Publish`] to `topic`, for `map_err`.
    pub fn publish(topic: impl Into<String>) -> impl FnOnce(PublishError) -> Self {
        let topic = topic.into();
        move |source| Self::Publish { topic, source }
    }
}

/// The keys a batch changed, each once, in the order first changed: the table rows a batch
/// publishes. A set beside the list, as a batch of thousands of records touches a hundred keys.
#[derive(Debug)]
pub(crate) struct ChangedKeys<K> {
    order: Vec<K>,
    seen: FxHashSet<K>,
}

impl<K: Copy + Eq + Hash> ChangedKeys<K> {
    pub(crate) fn new() -> Self {
        Self {
            order: Vec::new(),
            seen: FxHashSet::default(),
        }
    }

    /// Notes that `key` changed.
    pub(crate) fn insert(&mut self, key: K) {
        if self.seen.insert(key) {
            self.order.push(key);
        }
    }

    /// The keys changed, in the order first changed.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &K> {
        self.order.iter()
    }
}

/// The positions to commit after processing `batch`: the next offset of each partition.
pub(crate) fn commit_positions(batch: &[Delivery]) -> Vec<RecordPosition> {
    // A batch holds a handful of partitions and thousands of records: the last offset of each
    // partition is found by comparing the topic's shared name by address (the same `Arc` for
    // every record a partition delivered) before by text, and positions are made once.
    let mut last: Vec<(&Arc<str>, u32, u64)> = Vec::new();
    for delivery in batch {
        let found = last.iter_mut().find(|(topic, partition, _)| {
            *partition == delivery.partition
                && (Arc::ptr_eq(topic, &delivery.topic) || ***topic == *delivery.topic)
        });
        match found {
            Some((_, _, offset)) => *offset = (*offset).max(delivery.offset),
            None => last.push((&delivery.topic, delivery.partition, delivery.offset)),
        }
    }
    last.sort_by(|a, b| (&**a.0, a.1).cmp(&(&**b.0, b.1)));
    last.into_iter()
        .map(|(topic, partition, offset)| RecordPosition {
            topic: Arc::clone(topic),
            partition,
            offset: offset + 1,
        })
        .collect()
}

/// The value of `delivery` decoded by `codec` (the cached fast path first), or `None` when it
/// does not decode: then it is handed to `output` as a dead letter, the reason starting
/// `not {what}: `. Only a registry that cannot be asked stops the processor: the batch is
/// then neither processed nor committed, so no good record is refused for it.
pub(crate) async fn decode_or_reject<E: Keyed>(
    codec: &TopicCodec<E>,
    delivery: &Delivery,
    output: &mut runner::Output,
    what: &str,
) -> Result<Option<E>, ProcessorError> {
    if let Ok(value) = codec.decode_value_cached(delivery) {
        return Ok(Some(value));
    }
    match codec.decode(delivery).await {
        Ok((_, value)) => Ok(Some(value)),
        Err(error) if error.registry_unavailable() => Err(ProcessorError::RegistryUnavailable {
            topic: delivery.topic.to_string(),
            source: error,
        }),
        Err(error) => {
            output.reject(delivery, format!("not {what}: {error}"));
            Ok(None)
        }
    }
}

/// What a read model made of one record it tried to apply: `true` applied, `false` handed to
/// `output` as a dead letter with the reason. Only a registry that cannot be asked stops the
/// read model: the batch is then neither applied further nor committed.
pub(crate) fn applied_or_rejected(
    outcome: Result<(), crate::codec::DecodeError>,
    delivery: &Delivery,
    output: &mut runner::Output,
) -> Result<bool, ProcessorError> {
    match outcome {
        Ok(()) => Ok(true),
        Err(error) if error.registry_unavailable() => Err(ProcessorError::RegistryUnavailable {
            topic: delivery.topic.to_string(),
            source: error,
        }),
        Err(error) => {
            output.reject(delivery, error.to_string());
            Ok(false)
        }
    }
}

/// Hands `rows` to `output` as records of `table`, stamped `timestamp_ms`. Returns how many.
pub(crate) fn publish_rows<'a, E: Keyed + 'a>(
    table: &TopicCodec<E>,
    rows: impl IntoIterator<Item = &'a E>,
    timestamp_ms: i64,
    output: &mut runner::Output,
) -> Result<u64, ProcessorError> {
    let mut published = 0;
    for row in rows {
        let record = table
            .record(row, timestamp_ms)
            .map_err(|source| ProcessorError::Encode {
                topic: table.topic().to_string(),
                source,
            })?;
        output.publish(table.topic(), record);
        published += 1;
    }
    Ok(published)
}

/// Publishes `records` to `topic` unless there are none.
pub(crate) async fn publish(
    bus: &dyn EventBus,
    topic: &str,
    records: Vec<Record>,
) -> Result<u64, ProcessorError> {
    if records.is_empty() {
        return Ok(0);
    }
    let count = records.len() as u64;
    bus.publish_batch(topic, records)
        .await
        .map_err(ProcessorError::publish(topic))?;
    Ok(count)
}
