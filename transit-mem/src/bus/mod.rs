//! The in-memory bus: per-partition logs, consumer groups and committed offsets behind one lock.
//!
//! One `std::sync::Mutex` guards the whole state: nothing awaits while holding it, and every
//! operation does its work in one acquisition (a whole batch appended, a whole batch read), so
//! the lock is taken once per batch, not once per record. Waiting consumers park on a tokio
//! `Notify` that every publish (and every topology change) wakes.

mod consumer;
mod log;
mod murmur2;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::sync::Notify;
use transit_core::bus::{
    Consumer, Error, EventBus, PublishError, Record, RecordPosition, Result, SubscribeOptions,
    TopicSpec,
};

use consumer::{MemConsumer, Selector};
use log::{PartitionLog, Retention};

const BACKEND: &str = "in-memory bus";

/// How much the bus keeps when a topic does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemBusConfig {
    /// Records kept per partition before the oldest go.
    pub retention_records: u64,
    /// Bytes (keys, values, headers) kept per partition before the oldest go.
    pub retention_bytes: u64,
}

impl Default for MemBusConfig {
    /// 100 000 records or 64 MiB per partition: hours of the simulation's busiest topic, and a
    /// flat memory profile however long it runs.
    fn default() -> Self {
        Self {
            retention_records: 100_000,
            retention_bytes: 64 << 20,
        }
    }
}

/// An in-memory [`EventBus`] with Kafka's semantics where they matter.
///
/// A clone is another handle to the same bus.
///
/// # Example
///
/// Records with one key land in one partition, in order; a group's commits are kept on the
/// bus; closing the bus ends every consumer's stream:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use transit_core::bus::{Consumer, EventBus, EventBusExt, Record, SubscribeOptions, TopicSpec};
/// use transit_mem::MemBus;
///
/// let bus = MemBus::new();
/// bus.create_topic(&TopicSpec::new("arrivals", 3)).await?;
/// let first = bus.publish("arrivals", Record::new("40380", "a", 0)).await?;
/// let second = bus.publish("arrivals", Record::new("40380", "b", 1)).await?;
/// assert_eq!(second.partition, first.partition, "one key, one partition");
/// assert_eq!(bus.offsets("arrivals", first.partition), Some((0, 2)));
///
/// let mut consumer = bus
///     .subscribe(SubscribeOptions::topics(["arrivals"]).in_group("board"))
///     .await?;
/// let mut batch = Vec::new();
/// assert_eq!(consumer.recv_batch(&mut batch, 10).await?, 2);
/// assert_eq!(batch[0].value.as_deref(), Some(&b"a"[..]));
/// consumer.commit(&[batch[1].position().next()]).await?;
/// let committed = bus.committed("board");
/// assert_eq!(committed[&("arrivals".to_string(), first.partition)], 2);
///
/// bus.close();
/// assert!(consumer.recv().await.is_none(), "the stream ends once the bus is closed");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MemBus {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Woken on topic creation, group change and close; a publish wakes its topic's readers
    /// (`Topic::appended`).
    changed: Notify,
    /// Woken when a reader moves on or goes, and on close: what a publish waiting for readers
    /// ([`MemBus::wait_for_readers`]) waits on. Apart from `changed`, so that readers telling
    /// publishers they moved do not wake each other.
    readers_moved: Notify,
    config: MemBusConfig,
}

#[derive(Debug, Default)]
struct State {
    topics: BTreeMap<Arc<str>, Topic>,
    /// Bumped when a topic is created, so pattern subscriptions look again.
    topics_version: u64,
    groups: HashMap<String, Group>,
    next_member: u64,
    closed: bool,
    /// Whether a publish waits for readers rather than trimming what they have not read yet
    /// ([`MemBus::wait_for_readers`]).
    wait_for_readers: bool,
    /// Where each live consumer (by its id) is in the partitions it reads: (topic, partition,
    /// next offset). Kept only while `wait_for_readers` is on.
    readers: HashMap<u64, Vec<(Arc<str>, u32, u64)>>,
    next_reader: u64,
}

#[derive(Debug)]
struct Topic {
    name: Arc<str>,
    partitions: Vec<PartitionLog>,
    /// Where the next record without key or partition goes.
    round_robin: u32,
    /// Woken when records are appended to the topic: readers of other topics sleep on.
    appended: Arc<Notify>,
}

/// A consumer group: its members in join order and what it committed.
#[derive(Debug, Default)]
struct Group {
    members: Vec<u64>,
    /// Bumped on every join and leave, so members recompute their assignment.
    generation: u64,
    committed: HashMap<(Arc<str>, u32), u64>,
}

impl Default for MemBus {
    fn default() -> Self {
        Self::new()
    }
}

impl MemBus {
    /// An empty bus with the default retention.
    pub fn new() -> Self {
        Self::with_config(MemBusConfig::default())
    }

    /// An empty bus with the given default retention.
    pub fn with_config(config: MemBusConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                changed: Notify::new(),
                readers_moved: Notify::new(),
                config,
            }),
        }
    }

    /// Makes a publish wait, rather than let retention trim records a live consumer has not
    /// read yet: the producer goes at the pace of the slowest reader instead of readers
    /// skipping what they fell behind on. For a run flat out in one process, where every
    /// record must be read (a finite run counting everything it published); not for a bus
    /// with a consumer that may stop reading while it stays subscribed, which would stall
    /// its producers. Applies to the whole bus (every clone). Compacted topics never wait:
    /// they keep the last record of every key whatever their readers do. Retention then trims
    /// nothing a reader has not read: a publish goes in whole, and the next one to a partition
    /// waits while that partition holds more unread than its retention (so it outgrows its
    /// retention by at most one publish's records).
    pub fn wait_for_readers(self) -> Self {
        self.shared.lock().wait_for_readers = true;
        self
    }

    /// Shuts the bus down: consumers see the end of their stream, publishing fails with
    /// [`Error::Closed`].
    pub fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.changed.notify_waiters();
        self.shared.readers_moved.notify_waiters();
    }

    /// The offsets `group` committed, per topic and partition.
    pub fn committed(&self, group: &str) -> BTreeMap<(String, u32), u64> {
        let state = self.shared.lock();
        state
            .groups
            .get(group)
            .map(|g| {
                g.committed
                    .iter()
                    .map(|((topic, partition), &offset)| ((topic.to_string(), *partition), offset))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The oldest kept and the next offset of a partition, if it exists.
    pub fn offsets(&self, topic: &str, partition: u32) -> Option<(u64, u64)> {
        let state = self.shared.lock();
        let log = state
            .topics
            .get(topic)?
            .partitions
            .get(partition as usize)?;
        Some((log.start_offset(), log.end_offset()))
    }
}

impl Shared {
    /// Tries `attempt` until it gives a result (or an error), waiting between tries for a
    /// reader to move on: a publish, or a transaction, waiting for readers
    /// ([`MemBus::wait_for_readers`]). The first try registers nothing.
    async fn when_readers_allow<T, E>(
        &self,
        mut attempt: impl FnMut() -> std::result::Result<Option<T>, E>,
    ) -> std::result::Result<T, E> {
        if let Some(done) = attempt()? {
            return Ok(done);
        }
        loop {
            // Registered before looking, so a reader moving on between the look and the wait
            // still wakes us.
            let moved = self.readers_moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            if let Some(done) = attempt()? {
                return Ok(done);
            }
            moved.await;
        }
    }
}

impl MemBus {
    /// Appends `records` if there is room for them ([`State::room_for`]), or gives them back.
    fn try_publish(
        &self,
        topic: &str,
        records: Vec<Record>,
    ) -> std::result::Result<std::result::Result<Vec<RecordPosition>, Vec<Record>>, PublishError>
    {
        let mut state = self.shared.lock();
        if let Err(error) = state.check_publish(topic, &records) {
            return Err(PublishError {
                error,
                unsent: records,
            });
        }
        if !state.room_for(topic, &records) {
            return Ok(Err(records));
        }
        let positions = state.append(topic, records);
        let appended = state.appended(topic);
        drop(state);
        if let Some(appended) = appended {
            appended.notify_waiters();
        }
        Ok(Ok(positions))
    }
}

impl State {
    /// Whether `records` can all be appended to `topic`: the bus is open, the topic exists and
    /// every partition named is one of its own.
    fn check_publish(&self, topic: &str, records: &[Record]) -> Result<()> {
        if self.closed {
            return Err(Error::Closed);
        }
        let Some(target) = self.topics.get(topic) else {
            return Err(Error::UnknownTopic {
                topic: topic.to_string(),
            });
        };
        let count = target.partitions.len() as u32;
        match records
            .iter()
            .filter_map(|r| r.partition)
            .find(|&p| p >= count)
        {
            Some(partition) => Err(Error::UnknownPartition {
                topic: topic.to_string(),
                partition,
            }),
            None => Ok(()),
        }
    }

    /// Whether every position names a partition that exists, as a commit needs.
    fn check_positions(&self, positions: &[RecordPosition]) -> Result<()> {
        for position in positions {
            let partitions = self
                .topics
                .get(&position.topic)
                .map(|t| t.partitions.len() as u32)
                .ok_or_else(|| Error::UnknownTopic {
                    topic: position.topic.to_string(),
                })?;
            if position.partition >= partitions {
                return Err(Error::UnknownPartition {
                    topic: position.topic.to_string(),
                    partition: position.partition,
                });
            }
        }
        Ok(())
    }

    /// Whether `records` can be appended to `topic` now (always, unless the bus waits for
    /// readers): not while retention would already trim, from a partition they go to, records
    /// a reader has not read. Retention then trims nothing a reader has not read (see
    /// [`State::append`]), so a batch goes in whole, and what waits is the publish after it.
    fn room_for(&self, topic: &str, records: &[Record]) -> bool {
        if !self.wait_for_readers || self.readers.is_empty() || records.is_empty() {
            return true;
        }
        let Some(target) = self.topics.get(topic) else {
            return true;
        };
        let count = target.partitions.len() as u32;
        let mut incoming = vec![false; count as usize];
        for record in records {
            match (record.partition, &record.key) {
                (Some(partition), _) => incoming[partition as usize] = true,
                (None, Some(key)) => incoming[murmur2::partition_for(key, count) as usize] = true,
                // Round robin: any partition may get one.
                (None, None) => incoming.fill(true),
            }
        }
        target
            .partitions
            .iter()
            .zip(incoming)
            .zip(self.slowest_readers(target))
            .filter(|((_, incoming), _)| *incoming)
            .all(|((log, _), slowest)| {
                let Some(trimmed_to) = log.retention_start() else {
                    return true;
                };
                slowest.is_none_or(|next| next >= trimmed_to)
            })
    }

    /// Per partition of `topic`, the next offset of the reader furthest behind on it, if any
    /// reads it.
    fn slowest_readers(&self, topic: &Topic) -> Vec<Option<u64>> {
        let mut slowest: Vec<Option<u64>> = vec![None; topic.partitions.len()];
        for (name, partition, next) in self.readers.values().flatten() {
            if !(Arc::ptr_eq(name, &topic.name) || **name == *topic.name) {
                continue;
            }
            if let Some(held) = slowest.get_mut(*partition as usize) {
                *held = Some(held.map_or(*next, |held| held.min(*next)));
            }
        }
        slowest
    }

    /// What wakes the readers of `topic` when records are appended to it.
    pub(crate) fn appended(&self, topic: &str) -> Option<Arc<Notify>> {
        self.topics.get(topic).map(|t| Arc::clone(&t.appended))
    }

    /// Appends records [`State::check_publish`] accepted, each to its partition (named, by
    /// key, or round robin), and returns where they landed.
    fn append(&mut self, topic: &str, records: Vec<Record>) -> Vec<RecordPosition> {
        // Retention trims nothing a reader has not read, on a bus that waits for readers.
        let held = match self.topics.get(topic) {
            Some(target) if self.wait_for_readers => Some(self.slowest_readers(target)),
            _ => None,
        };
        let Some(target) = self.topics.get_mut(topic) else {
            return Vec::new();
        };
        if let Some(held) = held {
            for (log, held) in target.partitions.iter_mut().zip(held) {
                log.hold_from(held);
            }
        }
        let count = target.partitions.len() as u32;
        let mut positions = Vec::with_capacity(records.len());
        for record in records {
            let partition = match (record.partition, &record.key) {
                (Some(partition), _) => partition,
                (None, Some(key)) => murmur2::partition_for(key, count),
                (None, None) => {
                    target.round_robin = (target.round_robin + 1) % count;
                    target.round_robin
                }
            };
            let offset = target.partitions[partition as usize].append(record);
            positions.push(RecordPosition {
                topic: Arc::clone(&target.name),
                partition,
                offset,
            });
        }
        for log in &mut target.partitions {
            log.seal();
        }
        positions
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock, so a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Display for MemBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(BACKEND)
    }
}

fn validate_topic_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidRequest {
            message: format!(
                "topic name {name:?}: use 1 to 249 of ASCII letters, digits, '.', '_' and '-'"
            ),
        })
    }
}

#[async_trait]
impl EventBus for MemBus {
    async fn create_topic(&self, spec: &TopicSpec) -> Result<()> {
        validate_topic_name(&spec.name)?;
        if spec.partitions == 0 {
            return Err(Error::InvalidRequest {
                message: format!("topic {:?} needs at least one partition", spec.name),
            });
        }
        let retention = Retention {
            records: spec
                .retention_records
                .unwrap_or(self.shared.config.retention_records)
                .max(1),
            bytes: spec
                .retention_bytes
                .unwrap_or(self.shared.config.retention_bytes),
        };
        {
            let mut state = self.shared.lock();
            if state.closed {
                return Err(Error::Closed);
            }
            if state.topics.contains_key(spec.name.as_str()) {
                return Ok(());
            }
            let name: Arc<str> = Arc::from(spec.name.as_str());
            let partitions = (0..spec.partitions)
                .map(|_| PartitionLog::new(spec.compacted, retention))
                .collect();
            state.topics.insert(
                Arc::clone(&name),
                Topic {
                    name,
                    partitions,
                    round_robin: 0,
                    appended: Arc::new(Notify::new()),
                },
            );
            state.topics_version += 1;
        }
        self.shared.changed.notify_waiters();
        Ok(())
    }

    async fn publish_batch(
        &self,
        topic: &str,
        records: Vec<Record>,
    ) -> std::result::Result<Vec<RecordPosition>, PublishError> {
        let mut waiting = Some(records);
        self.shared
            .when_readers_allow(|| {
                let records = waiting.take().unwrap_or_default();
                match self.try_publish(topic, records)? {
                    Ok(positions) => Ok(Some(positions)),
                    Err(back) => {
                        waiting = Some(back);
                        Ok(None)
                    }
                }
            })
            .await
    }

    fn supports_transactions(&self) -> bool {
        true
    }

    async fn subscribe(&self, options: SubscribeOptions) -> Result<Box<dyn Consumer>> {
        let selector = Selector::new(&options.topics)?;
        let (member, reader) = {
            let mut state = self.shared.lock();
            if state.closed {
                return Err(Error::Closed);
            }
            state.next_reader += 1;
            let reader = state.next_reader;
            match &options.group {
                Some(group) => {
                    state.next_member += 1;
                    let member = state.next_member;
                    let group = state.groups.entry(group.clone()).or_default();
                    group.members.push(member);
                    group.generation += 1;
                    (Some(member), reader)
                }
                None => (None, reader),
            }
        };
        if member.is_some() {
            self.shared.changed.notify_waiters();
        }
        let mut consumer = MemConsumer::new(
            Arc::clone(&self.shared),
            selector,
            options.group,
            member,
            reader,
            options.start,
        );
        // Take the partitions now, so `Latest` means "after subscribing", not "after the
        // first receive".
        let mut state = self.shared.lock();
        consumer.refresh(&state);
        consumer.report_position(&mut state);
        drop(state);
        Ok(Box::new(consumer))
    }

    async fn flush(&self) -> Result<()> {
        // A record is stored when publish returns: there is nothing in flight.
        Ok(())
    }
}
