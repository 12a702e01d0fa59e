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
use transit_core::bus::{AssignmentChange, PartitionList, TopicPartition};

use crate::log_limit;

/// Sends librdkafka's own log lines and errors to `tracing` (target `librdkafka`), where the
/// programs' log filter applies to them like to everything else, and keeps the last refusal of
/// the cluster (credentials, TLS), which librdkafka reports only here: a clone shares it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TracingContext {
    refusal: Arc<Mutex<Option<String>>>,
}

impl TracingContext {
    /// What the cluster last refused, if it did: librdkafka's reason (never a secret: it names
    /// the mechanism and the broker, not the credentials).
    pub(crate) fn refusal(&self) -> Option<String> {
        self.refusal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl ClientContext for TracingContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log_line(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if is_refusal(&error) || is_certificate_refusal(reason) {
            *self.refusal.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason.to_string());
        }
        log_error(&error, reason);
    }
}

/// Whether librdkafka's reason for a failed connection is a TLS handshake that failed over a
/// certificate (theirs unknown to us, ours missing or refused): librdkafka reports some of
/// those as a transport failure, so only OpenSSL's words in the reason tell them apart.
fn is_certificate_refusal(reason: &str) -> bool {
    reason.contains("SSL")
        && ["certificate", "unknown ca", "handshake failure"]
            .iter()
            .any(|words| reason.contains(words))
}

/// Whether librdkafka's error is the cluster refusing this client's settings: credentials,
/// the SASL mechanism, or the TLS handshake (an unknown CA, a missing client certificate).
pub(crate) fn is_refusal(error: &KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as Code;
    matches!(
        error.rdkafka_error_code(),
        Some(
            Code::Authentication
                | Code::SaslAuthenticationFailed
                | Code::UnsupportedSASLMechanism
                | Code::SSL
        )
    )
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
        // librdkafka reports it again at each metadata refresh until the topic exists: once
        // per topic (and process) says it.
        if first_time(reason) {
            tracing::info!(target: "librdkafka", "waiting for a subscribed topic to be created: {reason}");
        }
        return;
    }
    let Some(held_back) = log_limit::admit(reason) else {
        return;
    };
    tracing::warn!(target: "librdkafka", %error, held_back, "{reason}");
}

/// Whether `message` is logged for the first time in this process.
fn first_time(message: &str) -> bool {
    static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    seen.insert(message.to_string())
}

/// librdkafka's log line at its level; repeats are held back ([`log_limit`]), and a line let
/// through after some says how many (`held_back`).
fn log_line(level: RDKafkaLogLevel, facility: &str, message: &str) {
    if !matches!(level, RDKafkaLogLevel::Debug) {
        let Some(held_back) = log_limit::admit(message) else {
            return;
        };
        if held_back > 0 {
            return log_repeated(level, facility, message, held_back);
        }
    }
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", facility, "{message}"),
        RDKafkaLogLevel::Warning if message.contains("Coordinator load in progress") => {
            // A broker loads its transaction and group coordinators after it starts (and a
            // new one creates their topics on first use); librdkafka retries until they are
            // ready. Nothing is wrong, and nothing is lost.
            tracing::info!(
                target: "librdkafka",
                facility,
                "the broker is still loading its coordinator (usual in a new or restarted \
                 broker's first seconds); retrying: {message}"
            )
        }
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility, "{message}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", facility, "{message}")
        }
        RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility, "{message}"),
    }
}

/// A line let through after `held_back` repeats of it were held back.
fn log_repeated(level: RDKafkaLogLevel, facility: &str, message: &str, held_back: u64) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(target: "librdkafka", facility, held_back, "{message}")
        }
        RDKafkaLogLevel::Warning => {
            tracing::warn!(target: "librdkafka", facility, held_back, "{message}")
        }
        _ => tracing::info!(target: "librdkafka", facility, held_back, "{message}"),
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
                tracing::info!(partitions = %PartitionList(&gained), "partitions assigned");
                for partition in &gained {
                    *state.epochs.entry(partition.clone()).or_default() += 1;
                }
                state.partitions.extend(gained.iter().cloned());
                state.changes.push(AssignmentChange::Assigned(gained));
            }
            Rebalance::Revoke(list) => {
                let lost = partitions(list);
                tracing::info!(partitions = %PartitionList(&lost), "partitions revoked");
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
