//! librdkafka's callbacks: its logs into `tracing`, and the consumer's rebalances into the
//! assignment the bus reports.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::topic_partition_list::TopicPartitionList;
use transit_core::bus::{AssignmentChange, TopicPartition};

/// Sends librdkafka's own log lines and errors to `tracing` (target `librdkafka`), where the
/// programs' log filter applies to them like to everything else.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TracingContext;

impl ClientContext for TracingContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_line(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        log_error(&error, reason);
    }
}

/// The bus's watermark client is a consumer that never joins a group or fetches.
impl ConsumerContext for TracingContext {}

/// A transactional producer's deliveries: a refused record fails the transaction's commit,
/// which is where it is handled; here it is only logged.
impl ProducerContext for TracingContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _opaque: ()) {
        if let Err((error, _)) = result {
            tracing::debug!(target: "librdkafka", %error, "a transactional record was refused");
        }
    }
}

/// librdkafka's errors as warnings, but for a subscribed topic that does not exist yet: the
/// consumer waits for it (its producer creates it), which is news, not trouble.
fn log_error(error: &KafkaError, reason: &str) {
    let unknown_topic = error.rdkafka_error_code()
        == Some(rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition)
        || reason.contains("Unknown topic or partition");
    if unknown_topic {
        tracing::info!(target: "librdkafka", "waiting for a subscribed topic to be created: {reason}");
    } else {
        tracing::warn!(target: "librdkafka", %error, "{reason}");
    }
}

fn log_line(level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", facility, "{message}"),
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility, "{message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", facility, "{message}")
        }
        RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility, "{message}"),
    }
}

/// What a consumer's poll thread and its async side share.
#[derive(Debug, Default)]
pub(crate) struct Assignment {
    /// The partitions assigned now.
    pub(crate) partitions: BTreeSet<TopicPartition>,
    /// Per partition, the offset of the first record polled and not yet handed out: while the
    /// async side has not handed anything out of a partition, that is its position.
    pub(crate) first_polled: HashMap<TopicPartition, u64>,
    /// Per partition, how many times it has been assigned: a record polled under an earlier
    /// assignment (and still queued when the partition came back) is stale.
    pub(crate) epochs: HashMap<TopicPartition, u64>,
    /// The changes not yet taken by the async side.
    pub(crate) changes: Vec<AssignmentChange>,
    /// Per partition, records polled and not yet taken off the channel by the async side.
    pub(crate) pending: HashMap<TopicPartition, u64>,
    /// Per partition, librdkafka's position when the poll thread last found nothing to poll
    /// and nothing of the partition was pending: past transaction markers and compacted gaps,
    /// which no record's offset shows.
    pub(crate) idle_position: HashMap<TopicPartition, u64>,
}

/// A consumer's context: logs like [`TracingContext`], and keeps [`Assignment`] up to date
/// across rebalances (eager or cooperative).
#[derive(Debug, Clone, Default)]
pub(crate) struct ConsumerState {
    shared: Arc<Mutex<Assignment>>,
}

impl ConsumerState {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Assignment> {
        // Nothing panics while holding the lock; a poisoned one still holds consistent sets.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ClientContext for ConsumerState {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_line(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        log_error(&error, reason);
    }
}

impl ConsumerContext for ConsumerState {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        crate::consumer::batch::note_rebalance();
        let mut state = self.lock();
        match rebalance {
            Rebalance::Assign(list) => {
                let gained = partitions(list);
                tracing::info!(partitions = ?gained, "partitions assigned");
                for partition in &gained {
                    *state.epochs.entry(partition.clone()).or_default() += 1;
                }
                state.partitions.extend(gained.iter().cloned());
                state.changes.push(AssignmentChange::Assigned(gained));
            }
            Rebalance::Revoke(list) => {
                let lost = partitions(list);
                tracing::info!(partitions = ?lost, "partitions revoked");
                for partition in &lost {
                    state.partitions.remove(partition);
                    state.first_polled.remove(partition);
                    state.idle_position.remove(partition);
                }
                state.changes.push(AssignmentChange::Revoked(lost));
            }
            Rebalance::Error(error) => tracing::warn!(%error, "consumer group rebalance failed"),
        }
    }
}

/// The topic-partitions of a librdkafka list.
pub(crate) fn partitions(list: &TopicPartitionList) -> Vec<TopicPartition> {
    list.elements()
        .iter()
        .filter_map(|element| {
            Some(TopicPartition {
                topic: Arc::from(element.topic()),
                partition: u32::try_from(element.partition()).ok()?,
            })
        })
        .collect()
}
