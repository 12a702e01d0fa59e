//! A group member's transactional producer: each batch's output and the consumer's input
//! offsets in one Kafka transaction, tied to the group's generation (KIP-447, what Kafka
//! Streams' `exactly_once_v2` uses), so a member that was replaced cannot commit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer as _, ThreadedProducer};
use rdkafka::topic_partition_list::TopicPartitionList;
use transit_core::bus::{Error, Record};

use crate::context::TracingContext;
use crate::error::bus_error;

/// How a transaction ended, when it did not commit.
#[derive(Debug)]
pub(crate) enum Aborted {
    /// The member was replaced (or its transaction could not go on): aborted, nothing visible.
    Fenced(String),
    /// Something else failed; the transaction was aborted where it could be.
    Failed(Error),
}

/// The producer of one member, created and initialised on first use, recreated after a fatal
/// error (a fenced producer cannot be used again).
pub(crate) struct TransactionalProducer {
    config: ClientConfig,
    /// Shared with the thread that sends a transaction's offsets (see [`send_offsets`]).
    producer: Option<Arc<ThreadedProducer<TracingContext>>>,
    timeout: Duration,
    /// How long the offsets may take: no longer than the transaction may stay open.
    offsets_timeout: Duration,
}

impl std::fmt::Debug for TransactionalProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionalProducer")
            .field("transactional.id", &self.config.get("transactional.id"))
            .field("ready", &self.producer.is_some())
            .finish()
    }
}

impl TransactionalProducer {
    /// A producer with `config` (the bus's producer settings) and a transactional id of its
    /// own, shared between the consumer and the blocking threads that run its transactions.
    pub(crate) fn shared(
        mut config: ClientConfig,
        transactional_id: &str,
        timeout: Duration,
    ) -> Arc<Mutex<Self>> {
        config.set("transactional.id", transactional_id);
        // A transaction left open by a member that died is aborted by the broker after this
        // long, and readers of the tables wait for it until then: Kafka Streams' own default
        // under exactly-once, rather than the producer's 60 s.
        if config.get("transaction.timeout.ms").is_none() {
            config.set("transaction.timeout.ms", "10000");
        }
        let offsets_timeout = offsets_timeout(&config, timeout);
        Arc::new(Mutex::new(Self {
            config,
            producer: None,
            timeout,
            offsets_timeout,
        }))
    }

    /// Runs one transaction: every record of `outputs`, then the consumer's `offsets` with its
    /// group `metadata`, then the commit. Blocking: call it off the async runtime.
    pub(crate) fn run(
        &mut self,
        outputs: Vec<(String, Vec<Record>)>,
        offsets: TopicPartitionList,
        metadata: ConsumerGroupMetadata,
    ) -> Result<(), Aborted> {
        let (timeout, offsets_timeout) = (self.timeout, self.offsets_timeout);
        let producer = Arc::clone(self.ready()?);
        let outcome = transact(
            &producer,
            &outputs,
            offsets,
            metadata,
            timeout,
            offsets_timeout,
        );
        let error = match outcome {
            Ok(()) => return Ok(()),
            Err(Failure::Kafka(error)) => error,
            Err(Failure::Stuck) => {
                // Left to its thread, which may never return: a new producer with the same
                // transactional id fences it, and the broker aborts what it had begun.
                self.producer = None;
                tracing::warn!(
                    limit = ?offsets_limit(offsets_timeout),
                    "sending the offsets to the transaction did not return in time; the \
                     producer is made anew and the batch runs again"
                );
                return Err(Aborted::Failed(Error::Timeout {
                    operation: "sending the consumer's offsets to a Kafka transaction",
                }));
            }
        };
        let producer = producer.as_ref();
        let (mut fatal, mut fenced) = classify(&error);
        if fatal {
            // A fatal producer (fenced by a newer one, or broken) is dropped and made anew.
            self.producer = None;
        } else if let Err(abort) = producer.abort_transaction(timeout) {
            // A member thawed after its transaction timed out learns it was fenced here.
            let (abort_fatal, abort_fenced) = classify(&abort);
            fatal |= abort_fatal;
            fenced |= abort_fenced;
            tracing::warn!(error = %abort, "aborting a transaction failed; the producer is made anew");
            self.producer = None;
        }
        if fenced || fatal {
            Err(Aborted::Fenced(error.to_string()))
        } else {
            Err(Aborted::Failed(bus_error(error, None)))
        }
    }

    fn ready(&mut self) -> Result<&Arc<ThreadedProducer<TracingContext>>, Aborted> {
        if self.producer.is_none() {
            let producer: ThreadedProducer<TracingContext> = self
                .config
                .create_with_context(TracingContext::default())
                .map_err(|error| Aborted::Failed(bus_error(error, None)))?;
            producer
                .init_transactions(self.timeout)
                .map_err(|error| Aborted::Failed(bus_error(error, None)))?;
            tracing::info!(
                transactional_id = self.config.get("transactional.id").unwrap_or_default(),
                "transactional producer ready"
            );
            self.producer = Some(Arc::new(producer));
        }
        self.producer
            .as_ref()
            .ok_or_else(|| Aborted::Failed(Error::Closed))
    }
}

/// Why a transaction did not commit.
enum Failure {
    /// librdkafka said why.
    Kafka(KafkaError),
    /// A call into librdkafka did not return in time, or its thread could not start (see
    /// [`send_offsets`]): the producer is not to be used again.
    Stuck,
}

impl From<KafkaError> for Failure {
    fn from(error: KafkaError) -> Self {
        Self::Kafka(error)
    }
}

fn transact(
    producer: &Arc<ThreadedProducer<TracingContext>>,
    outputs: &[(String, Vec<Record>)],
    offsets: TopicPartitionList,
    metadata: ConsumerGroupMetadata,
    timeout: Duration,
    offsets_timeout: Duration,
) -> Result<(), Failure> {
    producer.begin_transaction()?;
    for (topic, records) in outputs {
        for record in records {
            send(producer, topic, record)?;
        }
    }
    // Every record acknowledged (so below its partition's high watermark) before the group
    // coordinator takes the offsets. Taken while the group rebalances, the offsets stand, and
    // the partitions' next owner fixes where its restore of this member's tables ends only
    // after that: it then waits for this transaction to end, and reads what it wrote. Records
    // still in flight then would land past that end, read neither by its restore nor again
    // from the input (the fault suite caught a predictor's window short of an arrival so).
    // It also spares the commit's flush, which sleeps in a 100 ms poll whenever anything is
    // still in flight even though the producer's own thread serves the deliveries: the
    // acknowledgements are waited for here, in 1 ms steps.
    let deadline = std::time::Instant::now() + timeout;
    while producer.in_flight_count() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    if producer.in_flight_count() > 0 {
        // Not acknowledged in time: aborted, and the batch runs again.
        return Err(Failure::Kafka(KafkaError::MessageProduction(
            RDKafkaErrorCode::MessageTimedOut,
        )));
    }
    send_offsets(producer, offsets, metadata, offsets_timeout)?;
    // A record the broker refused fails the commit.
    Ok(producer.commit_transaction(timeout)?)
}

/// The timeout of `send_offsets_to_transaction`: the bus's `timeout`, but no longer than the
/// transaction may stay open (`transaction.timeout.ms`). Past that the broker aborts the
/// transaction anyway, so waiting longer for its offsets only holds the member up.
fn offsets_timeout(config: &ClientConfig, timeout: Duration) -> Duration {
    config
        .get("transaction.timeout.ms")
        .and_then(|ms| ms.parse::<u64>().ok())
        .map(Duration::from_millis)
        .filter(|open| !open.is_zero())
        .map_or(timeout, |open| open.min(timeout))
}

/// When a `send_offsets_to_transaction` of `timeout` that has not returned is given up on:
/// half as long again, time for it to return its own timeout error.
fn offsets_limit(timeout: Duration) -> Duration {
    timeout + timeout / 2
}

/// `send_offsets_to_transaction`, given up on after [`offsets_limit`]: librdkafka's can block
/// for good, past its timeout, when the group coordinator's broker went away and came back (a
/// rolling restart): confluentinc/librdkafka#5456 and #5511. It runs on a thread of its own,
/// which keeps the producer alive until it returns, if it ever does. Every member's
/// transactions stand still until then, so the limit is kept short.
fn send_offsets(
    producer: &Arc<ThreadedProducer<TracingContext>>,
    offsets: TopicPartitionList,
    metadata: ConsumerGroupMetadata,
    timeout: Duration,
) -> Result<(), Failure> {
    let (done, outcome) = std::sync::mpsc::channel();
    let sender = Arc::clone(producer);
    std::thread::Builder::new()
        .name("txn offsets".into())
        .spawn(move || {
            let _ = done.send(sender.send_offsets_to_transaction(&offsets, &metadata, timeout));
        })
        .map_err(|_| Failure::Stuck)?;
    match outcome.recv_timeout(offsets_limit(timeout)) {
        Ok(sent) => Ok(sent?),
        Err(_) => Err(Failure::Stuck),
    }
}

/// Queues one record, waiting while the queue is full.
fn send(
    producer: &ThreadedProducer<TracingContext>,
    topic: &str,
    record: &Record,
) -> Result<(), KafkaError> {
    let partition = record
        .partition
        .map(i32::try_from)
        .transpose()
        .map_err(|_| KafkaError::MessageProduction(RDKafkaErrorCode::UnknownPartition))?;
    let headers = crate::headers::to_kafka(record);
    loop {
        let mut base: BaseRecord<'_, [u8], [u8]> =
            BaseRecord::to(topic).timestamp(record.timestamp_ms);
        if let Some(key) = &record.key {
            base = base.key(key.as_ref());
        }
        if let Some(value) = &record.value {
            base = base.payload(value.as_ref());
        }
        if let Some(partition) = partition {
            base = base.partition(partition);
        }
        if let Some(headers) = headers.clone() {
            base = base.headers(headers);
        }
        match producer.send(base) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                // The producer's own thread serves delivery reports; the queue drains.
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((error, _)) => return Err(error),
        }
    }
}

/// (fatal, fenced): whether the producer must be made anew, and whether the error says this
/// member (or its producer) was replaced.
fn classify(error: &KafkaError) -> (bool, bool) {
    let fenced_codes = [
        RDKafkaErrorCode::ProducerFenced,
        RDKafkaErrorCode::InvalidProducerEpoch,
        RDKafkaErrorCode::IllegalGeneration,
        RDKafkaErrorCode::UnknownMemberId,
        RDKafkaErrorCode::FencedInstanceId,
        RDKafkaErrorCode::RebalanceInProgress,
    ];
    match error {
        KafkaError::Transaction(inner) => {
            let fenced = fenced_codes.contains(&inner.code()) || inner.txn_requires_abort();
            (inner.is_fatal(), fenced)
        }
        other => match other.rdkafka_error_code() {
            Some(code) => (false, fenced_codes.contains(&code)),
            None => (false, false),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(transaction_timeout_ms: Option<&str>) -> ClientConfig {
        let mut config = ClientConfig::new();
        if let Some(ms) = transaction_timeout_ms {
            config.set("transaction.timeout.ms", ms);
        }
        config
    }

    #[test]
    fn the_offsets_wait_no_longer_than_the_transaction_may_stay_open() {
        let bus = Duration::from_secs(30);
        assert_eq!(
            offsets_timeout(&config(Some("10000")), bus),
            Duration::from_secs(10)
        );
        assert_eq!(
            offsets_limit(Duration::from_secs(10)),
            Duration::from_secs(15)
        );
    }

    #[test]
    fn the_bus_timeout_bounds_the_offsets_when_the_transaction_may_stay_open_longer() {
        let bus = Duration::from_secs(30);
        assert_eq!(offsets_timeout(&config(Some("900000")), bus), bus);
        assert_eq!(offsets_timeout(&config(None), bus), bus);
        assert_eq!(offsets_timeout(&config(Some("soon")), bus), bus);
        assert_eq!(offsets_timeout(&config(Some("0")), bus), bus);
    }
}
