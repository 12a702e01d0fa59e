//! The consumer's records in batches: what the poll thread hands over at once, and how a
//! librdkafka message becomes a [`Delivery`].
//!
//! One channel send per record cost more than librdkafka's whole fetch path (a send, a wake-up
//! of the async side and a lock of the shared assignment each): records now cross in batches
//! of whatever librdkafka has ready, up to [`BATCH`], and the bookkeeping both sides share is
//! done once per run of records of one partition rather than once per record.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use rdkafka::message::{BorrowedMessage, Message as _};
use transit_core::bus::{Delivery, TopicPartition};

use crate::context::ConsumerState;

/// Records the poll thread gathers into one hand-over, at most: enough to make the channel's
/// cost per record negligible, few enough that a slow application holds little.
pub(crate) const BATCH: usize = 2048;

/// Batches waiting in the channel, at most: with [`BATCH`], as many records polled ahead of the
/// application as the one-record channel held before (16 384).
pub(crate) const CHANNEL_BATCHES: usize = 8;

/// A record polled and the assignment epoch of its partition when it was polled.
pub(crate) type Epoched = (Delivery, u64);

/// Rebalances of any consumer in this process: a poll thread reuses a partition's epoch from
/// one record to the next while this (and its consumer's rewinds) stay as they were.
static REBALANCES: AtomicU64 = AtomicU64::new(0);

/// Notes a rebalance, before its epochs change.
pub(crate) fn note_rebalance() {
    REBALANCES.fetch_add(1, Ordering::SeqCst);
}

/// The assignment epoch of each record's partition, looked up in the shared state once per run
/// of records of one partition rather than once per record.
///
/// Why it stays right: an epoch changes only in a rebalance or a rewind, and both bump a
/// counter first ([`note_rebalance`], the consumer's rewind count). A rebalance runs inside the
/// poll thread's own poll; a rewind seeks while the poll thread is held between two polls (the
/// consumer's poll gate), so no rewind falls between a record's poll and its lookup: a record
/// polled before it was fetched before the seek and is rightly of the old epoch, and one polled
/// after sees the counter changed and looks the new epoch up.
#[derive(Debug)]
pub(crate) struct EpochCache {
    rewinds: Arc<AtomicU64>,
    last: Option<(Arc<str>, u32, u64)>,
    seen: (u64, u64),
}

impl EpochCache {
    /// A cache for the consumer whose rewinds `rewinds` counts.
    pub(crate) fn new(rewinds: Arc<AtomicU64>) -> Self {
        Self {
            rewinds,
            last: None,
            seen: (0, 0),
        }
    }

    /// The epoch of `delivery`'s partition now.
    pub(crate) fn epoch(&mut self, state: &ConsumerState, delivery: &Delivery) -> u64 {
        let now = (
            REBALANCES.load(Ordering::SeqCst),
            self.rewinds.load(Ordering::SeqCst),
        );
        if now == self.seen {
            if let Some((topic, partition, epoch)) = &self.last {
                if *partition == delivery.partition
                    && (Arc::ptr_eq(topic, &delivery.topic) || *topic == delivery.topic)
                {
                    return *epoch;
                }
            }
        }
        let epoch = state
            .lock()
            .epochs
            .get(&partition_of(delivery))
            .copied()
            .unwrap_or_default();
        self.seen = now;
        self.last = Some((Arc::clone(&delivery.topic), delivery.partition, epoch));
        epoch
    }
}

/// The topic names the poll thread has seen, shared by every record of a topic.
#[derive(Debug, Default)]
pub(crate) struct Topics {
    names: HashMap<String, Arc<str>>,
    /// The last one asked for: records come in runs of one partition, so this is nearly
    /// always the answer, found without hashing.
    last: Option<Arc<str>>,
}

impl Topics {
    /// The shared name of `topic`.
    pub(crate) fn get(&mut self, topic: &str) -> Arc<str> {
        if let Some(last) = &self.last {
            if **last == *topic {
                return Arc::clone(last);
            }
        }
        let name = match self.names.get(topic) {
            Some(name) => Arc::clone(name),
            None => {
                let name: Arc<str> = Arc::from(topic);
                self.names.insert(topic.to_string(), Arc::clone(&name));
                name
            }
        };
        self.last = Some(Arc::clone(&name));
        name
    }
}

/// `message` as a delivery, or `None` for an offset or partition out of the bus's range.
///
/// The key and the value are copied out of librdkafka's fetch buffer (one allocation each; one
/// shared by both would cost a second allocation for the sharing, the way `Bytes` slices a
/// buffer). A delivery cannot borrow the buffer instead: rdkafka ties a message's
/// lifetime to its consumer's (librdkafka must get every message back before the consumer is
/// destroyed), a processor keeps deliveries as long as it likes, and one message held pins its
/// whole fetch response (up to `fetch.max.bytes`) in memory.
pub(crate) fn delivery(message: &BorrowedMessage<'_>, topic: Arc<str>) -> Option<Delivery> {
    let partition = u32::try_from(message.partition()).ok()?;
    let offset = u64::try_from(message.offset()).ok()?;
    Some(Delivery {
        topic,
        partition,
        offset,
        key: message.key().map(Bytes::copy_from_slice),
        value: message.payload().map(Bytes::copy_from_slice),
        headers: crate::headers::from_kafka(message.headers()),
        timestamp_ms: message.timestamp().to_millis().unwrap_or_default(),
    })
}

/// Whether two deliveries are of the same partition (the topic compared by its shared name
/// first, then by text).
pub(crate) fn same_partition(a: &Delivery, b: &Delivery) -> bool {
    a.partition == b.partition && (Arc::ptr_eq(&a.topic, &b.topic) || a.topic == b.topic)
}

/// The partition of `delivery`.
pub(crate) fn partition_of(delivery: &Delivery) -> TopicPartition {
    TopicPartition {
        topic: Arc::clone(&delivery.topic),
        partition: delivery.partition,
    }
}

/// Notes a batch about to be handed over in what both sides share, under one lock: each
/// partition's records count as pending until the async side takes them, and the first
/// record of a partition with nothing handed out yet marks where its reader stands.
///
/// Runs after the batch was polled and before it is sent: the async side cannot see these
/// records yet, and a rebalance (which only happens inside a poll, on this thread) cannot
/// interleave. A record whose partition was revoked or assigned again while the batch was
/// gathered is counted as pending (the async side counts it off when it drops it) but marks
/// nothing.
pub(crate) fn note_polled(state: &ConsumerState, batch: &[Epoched]) {
    let mut state = state.lock();
    let mut start = 0;
    while start < batch.len() {
        let (first, epoch) = &batch[start];
        let run = batch[start..]
            .iter()
            .take_while(|(delivery, e)| e == epoch && same_partition(delivery, first))
            .count();
        let key = partition_of(first);
        *state.pending.entry(key.clone()).or_default() += run as u64;
        let current = state.epochs.get(&key).copied().unwrap_or_default();
        if current == *epoch && state.partitions.contains(&key) {
            state.first_polled.entry(key).or_insert(first.offset);
        }
        start += run;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery_at(topic: &Arc<str>, partition: u32, offset: u64) -> Delivery {
        Delivery {
            topic: Arc::clone(topic),
            partition,
            offset,
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp_ms: 0,
        }
    }

    #[test]
    fn a_batch_counts_pending_per_partition_and_marks_the_first_current_record() {
        let state = ConsumerState::default();
        let topic: Arc<str> = Arc::from("t");
        let (p0, p1) = (
            TopicPartition {
                topic: Arc::clone(&topic),
                partition: 0,
            },
            TopicPartition {
                topic: Arc::clone(&topic),
                partition: 1,
            },
        );
        {
            let mut shared = state.lock();
            shared.partitions.insert(p0.clone());
            shared.partitions.insert(p1.clone());
            shared.epochs.insert(p0.clone(), 2);
            shared.epochs.insert(p1.clone(), 1);
        }
        let batch = vec![
            // Polled before p0 was assigned again: pending, but not where its reader stands.
            (delivery_at(&topic, 0, 40), 1),
            (delivery_at(&topic, 0, 10), 2),
            (delivery_at(&topic, 0, 11), 2),
            (delivery_at(&topic, 1, 7), 1),
            (delivery_at(&topic, 0, 12), 2),
        ];
        note_polled(&state, &batch);
        let shared = state.lock();
        assert_eq!(shared.pending.get(&p0), Some(&4));
        assert_eq!(shared.pending.get(&p1), Some(&1));
        assert_eq!(shared.first_polled.get(&p0), Some(&10));
        assert_eq!(shared.first_polled.get(&p1), Some(&7));
    }

    #[test]
    fn a_topic_name_is_shared_by_every_record_of_the_topic() {
        let mut topics = Topics::default();
        let a = topics.get("a");
        let b = topics.get("b");
        assert!(Arc::ptr_eq(&a, &topics.get("a")));
        assert!(Arc::ptr_eq(&b, &topics.get("b")));
        assert!(Arc::ptr_eq(&b, &topics.get("b")));
        assert_eq!(&*a, "a");
    }

    #[test]
    fn runs_compare_topics_by_text_when_their_names_are_not_shared() {
        let a = delivery_at(&Arc::from("t"), 3, 0);
        let b = delivery_at(&Arc::from("t"), 3, 1);
        let c = delivery_at(&Arc::from("u"), 3, 2);
        assert!(same_partition(&a, &b));
        assert!(!same_partition(&a, &c));
    }
}
