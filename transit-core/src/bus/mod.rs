//! The `EventBus`: how every part of transit moves records.
//!
//! The bus moves bytes the way Kafka does: a [`Record`] is a key, a value, headers and a
//! timestamp, appended to one partition of a topic, where it gets an offset. Typed events and
//! their Avro codecs sit above the bus (see [`crate::codec`]), so every backend carries the very
//! same bytes and a Confluent client can read what any of them wrote.
//!
//! # Why at-least-once and per-key order
//!
//! Those are the guarantees Kafka gives cheaply and every backend can keep: a consumer sees each
//! record at least once (again after a crash, from its last commit), and records with the same
//! key keep their publish order because they land in the same partition. Anything stronger, such
//! as exact counts, is built above the bus by storing input offsets with the state they produced
//! (see the processors), which works on any backend, including brokers without transactions.

mod error;
mod ext;
mod record;
mod topic;

use std::fmt::{Debug, Display};
use std::sync::Arc;

use async_trait::async_trait;

pub use error::{Error, PublishError, Result};
pub use ext::EventBusExt;
pub use record::{
    AssignmentChange, Delivery, Header, PartitionList, PartitionPosition, Record, RecordPosition,
    TopicPartition,
};
pub use topic::{StartFrom, SubscribeOptions, TopicSelector, TopicSpec};

/// A Kafka-like log of records: topics, partitions, offsets, consumer groups.
///
/// # Contract
///
/// - **Publish.** A record published with [`EventBus::publish_batch`] is appended to exactly
///   one partition: the one named by [`Record::partition`], or else the one its key hashes to
///   (murmur2, as Kafka's Java client does), or else a partition chosen by the backend for
///   records without a key. When the call returns `Ok`, every record of the batch is stored and
///   its [`RecordPosition`] is final. When it returns `Err`, the [`PublishError`] gives back the
///   records that were not stored.
/// - **Order.** Records with the same key keep their publish order. Nothing is promised about
///   the relative order of records in different partitions.
/// - **Delivery.** A [`Consumer`] sees every record of its assigned partitions at least once, in
///   offset order per partition. After a restart, a consumer in the same group resumes from the
///   last offsets the group committed (a commit names the *next* offset to read, as in Kafka);
///   records after that point may be seen again.
/// - **Groups.** Consumers sharing a group id share the partitions of their topics: each
///   partition is read by one member at a time. Consumers without a group read every partition.
/// - **Rebalances.** When a partition is assigned to a member, that member reads it from the
///   group's committed offset, not from where it may have been before: a partition lost and
///   regained resumes where the group left it. Every change is reported, in order, by
///   [`Consumer::assignment_changes`].
/// - **Patterns.** A subscription by pattern also picks up matching topics created later.
/// - **Compaction.** A topic created with [`TopicSpec::compacted`] keeps at least the last
///   record of every key; older records of a key may disappear.
/// - **Transactions** (when [`EventBus::supports_transactions`]). A group member's
///   [`Consumer::publish_and_commit`] publishes its output records and commits its input
///   positions as one atomic step tied to the member's place in its group: either every record
///   becomes readable and the positions are committed, or nothing of it is seen by any reader
///   of the bus and the positions stay where they were. A member that has been replaced (it
///   stalled past its group's timeout, or the group rebalanced without it) cannot complete the
///   step: it fails with [`Error::Fenced`], so a stale member never writes over the work of the
///   member that took its partitions over. Whatever the step failed on, a member that still
///   holds partitions reads them again from the committed positions, and its assignment
///   changes report them revoked and assigned again, so the state it built from the aborted
///   step is restored from what was committed. Backends without transactions keep at-least-once
///   delivery, and processors make replays harmless by storing input offsets with their state.
///
/// # Clone
///
/// Backends are cheap handles: a clone (or an `Arc`) is another handle to the same bus, sharing
/// topics, groups and offsets.
///
/// # Example
///
/// A record published on the in-memory bus (`transit_mem::MemBus`), read back by a consumer
/// of a group that then commits it:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use transit_core::bus::{Consumer, EventBus, EventBusExt, Record, SubscribeOptions, TopicSpec};
/// use transit_mem::MemBus;
///
/// let bus = MemBus::new();
/// bus.create_topic(&TopicSpec::new("greetings", 2)).await?;
/// let stored = bus
///     .publish("greetings", Record::new("clark-lake", "hello", 1_700_000_000_000))
///     .await?;
///
/// let mut consumer = bus
///     .subscribe(SubscribeOptions::topics(["greetings"]).in_group("readers"))
///     .await?;
/// let delivery = consumer.recv().await.expect("the bus is open")?;
/// assert_eq!(delivery.position(), stored);
/// assert_eq!(delivery.key.as_deref(), Some(&b"clark-lake"[..]));
/// assert_eq!(delivery.value.as_deref(), Some(&b"hello"[..]));
///
/// // A commit names the next offset to read: the group resumes after this record.
/// consumer.commit(&[delivery.position().next()]).await?;
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait EventBus: Debug + Display + Send + Sync + 'static {
    /// Creates a topic; a topic that already exists is left as it is and is not an error.
    async fn create_topic(&self, spec: &TopicSpec) -> Result<()>;

    /// Appends `records` to `topic` and returns where each one landed, in the same order.
    async fn publish_batch(
        &self,
        topic: &str,
        records: Vec<Record>,
    ) -> std::result::Result<Vec<RecordPosition>, PublishError>;

    /// Starts a consumer for the topics `options` selects.
    async fn subscribe(&self, options: SubscribeOptions) -> Result<Box<dyn Consumer>>;

    /// Waits until everything published so far is durably stored by the backend.
    async fn flush(&self) -> Result<()>;

    /// Whether group members of this bus can [`Consumer::publish_and_commit`] atomically and
    /// are fenced when replaced (see the contract). `false` unless the backend says so.
    fn supports_transactions(&self) -> bool {
        false
    }
}

/// One member of a subscription: a cursor over the records of its assigned partitions.
///
/// Dropping a consumer leaves its group without committing; call [`Consumer::commit`] first for
/// what was processed.
#[async_trait]
pub trait Consumer: Debug + Send {
    /// Waits for the next record; `None` once the bus is closed.
    async fn recv(&mut self) -> Option<Result<Delivery>>;

    /// Waits for at least one record, then moves up to `max` available records into `out`.
    /// Returns how many were added; `0` means the bus is closed.
    async fn recv_batch(&mut self, out: &mut Vec<Delivery>, max: usize) -> Result<usize>;

    /// Stores, for this consumer's group, the next offset to read of each partition listed.
    ///
    /// A consumer without a group has nothing to commit to and returns
    /// [`Error::NotSupported`].
    async fn commit(&mut self, positions: &[RecordPosition]) -> Result<()>;

    /// The partitions this consumer reads now (they change when group members come and go).
    fn assignment(&self) -> Vec<TopicPartition>;

    /// The changes to this consumer's assignment since the last call, oldest first; the first
    /// call after subscribing includes the first assignment.
    ///
    /// Whoever keeps state per partition uses them: drop what it held for a revoked partition,
    /// restore what it needs for an assigned one. A partition revoked and assigned again is
    /// reported as both (see [`AssignmentChange`]), never as "no change".
    fn assignment_changes(&mut self) -> Vec<AssignmentChange>;

    /// Where this consumer stands on each partition assigned now: the next offset it will hand
    /// out and the partition's end. Their difference is the consumer's lag; a table is
    /// restored when every partition's lag is zero.
    async fn positions(&mut self) -> Result<Vec<PartitionPosition>>;

    /// Publishes `outputs` (records per topic) and commits `positions` for this consumer's
    /// group, as one atomic step that a replaced member cannot complete: see **Transactions**
    /// in [`EventBus`]'s contract. On [`Error::Fenced`] (or any error) nothing of the step is
    /// visible, and the consumer is rewound to its group's committed positions: its assignment
    /// changes report every partition revoked and assigned again, so the caller restores its
    /// state and processes those records again.
    ///
    /// Backends without transactions return [`Error::NotSupported`].
    async fn publish_and_commit(
        &mut self,
        _outputs: Vec<(String, Vec<Record>)>,
        _positions: &[RecordPosition],
    ) -> Result<()> {
        Err(Error::NotSupported {
            operation: "publish and commit in one transaction",
            backend: "this bus",
        })
    }
}

macro_rules! forward_event_bus {
    ($($wrapper:ty),+) => {$(
        #[deny(clippy::missing_trait_methods)]
        #[async_trait]
        impl<B: EventBus + ?Sized> EventBus for $wrapper {
            async fn create_topic(&self, spec: &TopicSpec) -> Result<()> {
                (**self).create_topic(spec).await
            }

            async fn publish_batch(
                &self,
                topic: &str,
                records: Vec<Record>,
            ) -> std::result::Result<Vec<RecordPosition>, PublishError> {
                (**self).publish_batch(topic, records).await
            }

            async fn subscribe(&self, options: SubscribeOptions) -> Result<Box<dyn Consumer>> {
                (**self).subscribe(options).await
            }

            async fn flush(&self) -> Result<()> {
                (**self).flush().await
            }

            fn supports_transactions(&self) -> bool {
                (**self).supports_transactions()
            }
        }
    )+};
}

forward_event_bus!(Arc<B>, Box<B>);

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl<C: Consumer + ?Sized> Consumer for Box<C> {
    async fn recv(&mut self) -> Option<Result<Delivery>> {
        (**self).recv().await
    }

    async fn recv_batch(&mut self, out: &mut Vec<Delivery>, max: usize) -> Result<usize> {
        (**self).recv_batch(out, max).await
    }

    async fn commit(&mut self, positions: &[RecordPosition]) -> Result<()> {
        (**self).commit(positions).await
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        (**self).assignment()
    }

    fn assignment_changes(&mut self) -> Vec<AssignmentChange> {
        (**self).assignment_changes()
    }

    async fn positions(&mut self) -> Result<Vec<PartitionPosition>> {
        (**self).positions().await
    }

    async fn publish_and_commit(
        &mut self,
        outputs: Vec<(String, Vec<Record>)>,
        positions: &[RecordPosition],
    ) -> Result<()> {
        (**self).publish_and_commit(outputs, positions).await
    }
}
