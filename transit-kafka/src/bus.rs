//! [`KafkaBus`]: the [`EventBus`] over a Kafka cluster.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::Mutex as AsyncMutex;
use transit_core::bus::{
    Consumer, Error, EventBus, PublishError, Record, RecordPosition, Result, StartFrom,
    SubscribeOptions, TopicPartition, TopicSelector, TopicSpec,
};

use crate::config::{ConfigError, KafkaConfig};
use crate::consumer::KafkaConsumer;
use crate::context::{ConsumerState, TracingContext};
use crate::error::{backend, bus_error};
use crate::transaction::TransactionalProducer;

/// How long `flush` (and so shutdown) waits for records in flight.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// Producer settings the bus's contract depends on; a configuration cannot weaken them.
const PRODUCER_GUARANTEES: &[(&str, &str)] = &[
    // Stored means acknowledged by every in-sync replica, and retries never duplicate or
    // reorder a record.
    ("acks", "all"),
    ("enable.idempotence", "true"),
];

/// Why a [`KafkaBus`] could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KafkaBusError {
    /// A setting is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// librdkafka refused the configuration or could not create a client.
    #[error("creating the Kafka {client} for {servers}")]
    Client {
        /// Which client: producer, admin client or consumer.
        client: &'static str,
        /// The bootstrap servers.
        servers: String,
        /// What librdkafka said.
        #[source]
        source: KafkaError,
    },
    /// The cluster refused this client: its credentials, SASL mechanism or TLS handshake.
    #[error("the Kafka cluster at {servers} refused the connection: {reason}")]
    Refused {
        /// The bootstrap servers.
        servers: String,
        /// librdkafka's reason (it names the mechanism or the certificate, not the secret).
        reason: String,
    },
    /// The cluster did not answer a metadata request in time.
    #[error("no answer from the Kafka cluster at {servers}")]
    Unreachable {
        /// The bootstrap servers.
        servers: String,
        /// What librdkafka said.
        #[source]
        source: KafkaError,
    },
}

impl KafkaBusError {
    /// Whether trying again cannot help until a setting changes: an unusable setting, a
    /// configuration librdkafka refuses, or a cluster that refused the credentials or the TLS
    /// handshake. A cluster that does not answer is an outage, not a mistake.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Config(_) | Self::Client { .. } | Self::Refused { .. } => true,
            Self::Unreachable { source, .. } => {
                crate::context::is_refusal(source)
                    || matches!(
                        source.rdkafka_error_code(),
                        Some(
                            RDKafkaErrorCode::TopicAuthorizationFailed
                                | RDKafkaErrorCode::ClusterAuthorizationFailed
                        )
                    )
            }
        }
    }
}

/// How often a metadata request that gets no answer gives way to a look at what librdkafka
/// reported meanwhile: a refusal of the credentials ends the wait at once.
const REFUSAL_CHECK: Duration = Duration::from_secs(1);

/// The number of brokers in the cluster, from a metadata request answered within `timeout`;
/// a refusal `context` hears of (credentials, TLS) ends the wait early.
fn cluster_size(
    producer: &FutureProducer<TracingContext>,
    context: &TracingContext,
    servers: &str,
    timeout: Duration,
) -> Result<usize, KafkaBusError> {
    let deadline = Instant::now() + timeout;
    loop {
        let asked = Instant::now();
        let left = deadline.saturating_duration_since(asked);
        match producer
            .client()
            .fetch_metadata(None, left.min(REFUSAL_CHECK))
        {
            Ok(metadata) => return Ok(metadata.brokers().len()),
            Err(source) => {
                if let Some(reason) = context.refusal() {
                    return Err(KafkaBusError::Refused {
                        servers: servers.to_string(),
                        reason,
                    });
                }
                if Instant::now() >= deadline {
                    return Err(KafkaBusError::Unreachable {
                        servers: servers.to_string(),
                        source,
                    });
                }
                // An error at once (no broker up yet) is not to be asked again in a spin.
                let pause = Duration::from_millis(100).saturating_sub(asked.elapsed());
                std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
            }
        }
    }
}

/// An [`EventBus`] over a Kafka cluster (Apache Kafka, Redpanda, tansu or a managed service),
/// through librdkafka.
///
/// - Topics are created with the admin API (`cleanup.policy=compact` for tables); a topic that
///   exists is left alone. They get min(3, brokers) replicas and, with three,
///   `min.insync.replicas=2`, unless `transit.replication.factor` or
///   `transit.min.insync.replicas` say otherwise.
/// - One idempotent producer (`acks=all`) per bus; a publish returns when the broker has
///   acknowledged every record, and a record it refused comes back in the error.
/// - A subscription in a group is a Kafka consumer-group member; one without a group reads
///   every partition by assignment (or, for a pattern, through a private group).
/// - `retention_records` has no Kafka equivalent and is ignored; `retention_bytes` becomes the
///   topic's `retention.bytes` (-1, no bound, for a size past what Kafka's setting holds).
///
/// A clone is another handle to the same producer and clients.
#[derive(Clone)]
pub struct KafkaBus {
    inner: Arc<Inner>,
}

struct Inner {
    config: KafkaConfig,
    producer: FutureProducer<TracingContext>,
    /// Answers watermark queries with the partitions' log end (read_uncommitted): a reader
    /// that reaches it has seen every transaction open when it asked settle, committed or
    /// aborted. The last stable offset would lag behind a transaction whose markers are not
    /// written yet, and a restore would stop short of it.
    watermarks: Arc<BaseConsumer<TracingContext>>,
    admin: AdminClient<TracingContext>,
    timeout: Duration,
    replication: i32,
    /// `min.insync.replicas` of the topics it creates, when set (2 with three replicas).
    min_insync: Option<String>,
    /// Whether group members use transactions (`transit.transactions`, on unless false).
    transactions: bool,
    /// `retention.ms` of the topics it creates (`transit.topic.retention.ms`, -1 unless set).
    retention_ms: String,
    /// Topics seen in the cluster's metadata: publishing to one skips the check.
    known_topics: Mutex<HashSet<String>>,
    /// Serialises topic creation, so concurrent creators of one topic see one outcome.
    creating: AsyncMutex<()>,
}

impl fmt::Debug for KafkaBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaBus")
            .field("config", &self.inner.config.redacted())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for KafkaBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kafka at {}", self.inner.config.bootstrap_servers())
    }
}

impl KafkaBus {
    /// Connects to the cluster `config` names, and checks that it answers.
    ///
    /// # Example
    ///
    /// A bus on a local broker (`scripts/kafka.sh` starts one), with any librdkafka property
    /// from `TRANSIT_RDKAFKA_*` environment variables (SASL, TLS...); not run here, as it needs
    /// the broker:
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use transit_core::bus::{EventBus, EventBusExt, Record, TopicSpec};
    /// use transit_kafka::{KafkaBus, KafkaConfig};
    ///
    /// let config = KafkaConfig::new("127.0.0.1:9092")
    ///     .with_env(std::env::vars(), &[])
    ///     .set("client.id", "transit-example");
    /// let bus = KafkaBus::connect(config).await?;
    ///
    /// bus.create_topic(&TopicSpec::new("greetings", 3)).await?;
    /// let stored = bus
    ///     .publish("greetings", Record::new("clark-lake", "hello", 1_700_000_000_000))
    ///     .await?;
    /// println!("stored in partition {} at offset {}", stored.partition, stored.offset);
    /// bus.flush().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(config: KafkaConfig) -> Result<Self, KafkaBusError> {
        let timeout = config.operation_timeout()?;
        let chosen_replication = config.replication_factor()?;
        let chosen_min_insync = config.min_insync_replicas()?;
        let transactions = config.transactions()?;
        let retention_ms = config.topic_retention_ms()?.to_string();
        let servers = config.bootstrap_servers().to_string();
        let producer_config = guaranteed_producer_config(&config);
        let context = TracingContext::default();
        let producer: FutureProducer<TracingContext> = producer_config
            .create_with_context(context.clone())
            .map_err(|source| KafkaBusError::Client {
                client: "producer",
                servers: servers.clone(),
                source,
            })?;
        // The cluster answers, and says how many brokers it has: the topics' replicas unless set.
        let asked = servers.clone();
        let (producer, brokers) = tokio::task::spawn_blocking(move || {
            let brokers = cluster_size(&producer, &context, &asked, timeout);
            (producer, brokers)
        })
        .await
        .map_err(|_| KafkaBusError::Unreachable {
            servers: servers.clone(),
            source: KafkaError::Canceled,
        })?;
        let brokers = brokers?;
        let replication =
            chosen_replication.unwrap_or_else(|| i32::try_from(brokers.clamp(1, 3)).unwrap_or(1));
        let min_insync = chosen_min_insync.or((replication >= 3).then_some(2));
        let watermarks: BaseConsumer<TracingContext> = non_producer_config(&config)
            .set("group.id", private_group())
            .set("isolation.level", "read_uncommitted")
            .create_with_context(TracingContext::default())
            .map_err(|source| KafkaBusError::Client {
                client: "watermark client",
                servers: servers.clone(),
                source,
            })?;
        let admin: AdminClient<TracingContext> = non_producer_config(&config)
            .create_with_context(TracingContext::default())
            .map_err(|source| KafkaBusError::Client {
                client: "admin client",
                servers: servers.clone(),
                source,
            })?;
        let bus = Self {
            inner: Arc::new(Inner {
                config,
                producer,
                watermarks: Arc::new(watermarks),
                admin,
                timeout,
                replication,
                min_insync: min_insync.map(|n| n.to_string()),
                transactions,
                retention_ms,
                known_topics: Mutex::new(HashSet::new()),
                creating: AsyncMutex::new(()),
            }),
        };
        bus.topics_in_cluster()
            .await
            .map_err(|source| KafkaBusError::Unreachable { servers, source })?;
        tracing::info!(
            bus = %bus,
            brokers,
            replication,
            min_insync_replicas = %min_insync.map_or_else(|| "the broker's".to_string(), |n| n.to_string()),
            "connected"
        );
        Ok(bus)
    }

    /// Replicas per partition of the topics this bus creates: `transit.replication.factor`,
    /// or min(3, the brokers the cluster had when the bus connected).
    pub fn replication_factor(&self) -> i32 {
        self.inner.replication
    }

    /// `min.insync.replicas` of the topics this bus creates, when it sets one:
    /// `transit.min.insync.replicas`, or 2 on topics with three replicas or more.
    pub fn min_insync_replicas(&self) -> Option<i32> {
        self.inner
            .min_insync
            .as_deref()
            .and_then(|n| n.parse().ok())
    }

    /// The settings this bus was made with.
    pub fn config(&self) -> &KafkaConfig {
        &self.inner.config
    }

    /// Whether the cluster answers now: a fresh metadata request, waiting at most `timeout`;
    /// the number of brokers it lists. For readiness probes.
    pub async fn ping(&self, timeout: std::time::Duration) -> Result<usize, KafkaBusError> {
        let inner = Arc::clone(&self.inner);
        let servers = inner.config.bootstrap_servers().to_string();
        let brokers = tokio::task::spawn_blocking(move || {
            inner
                .producer
                .client()
                .fetch_metadata(None, timeout)
                .map(|metadata| metadata.brokers().len())
        })
        .await
        .map_err(|_| KafkaError::Canceled)
        .and_then(|brokers| brokers);
        brokers.map_err(|source| KafkaBusError::Unreachable { servers, source })
    }

    /// Every topic in the cluster with its partition count, from a fresh metadata request.
    async fn topics_in_cluster(&self) -> Result<HashMap<String, u32>, KafkaError> {
        let inner = Arc::clone(&self.inner);
        let topics = tokio::task::spawn_blocking(move || {
            let metadata = inner
                .producer
                .client()
                .fetch_metadata(None, inner.timeout)?;
            let topics: HashMap<String, u32> = metadata
                .topics()
                .iter()
                .filter(|topic| topic.error().is_none())
                .map(|topic| (topic.name().to_string(), topic.partitions().len() as u32))
                .collect();
            Ok::<_, KafkaError>(topics)
        })
        .await
        .map_err(|_| KafkaError::Canceled)??;
        self.lock_known().extend(
            topics
                .iter()
                .filter(|(_, &n)| n > 0)
                .map(|(t, _)| t.clone()),
        );
        Ok(topics)
    }

    fn lock_known(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.inner
            .known_topics
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Fails with [`Error::UnknownTopic`] unless `topic` exists: librdkafka would otherwise
    /// hold the records until its delivery timeout, minutes later.
    async fn check_topic(&self, topic: &str) -> Result<()> {
        if self.lock_known().contains(topic) {
            return Ok(());
        }
        let topics = self
            .topics_in_cluster()
            .await
            .map_err(|error| bus_error(error, Some(topic)))?;
        match topics.get(topic) {
            Some(&partitions) if partitions > 0 => Ok(()),
            _ => Err(Error::UnknownTopic {
                topic: topic.to_string(),
            }),
        }
    }

    /// Waits until the cluster's metadata shows `topic` with its partitions: a topic is usable
    /// once every broker knows it, a moment after the controller created it.
    async fn await_topic(&self, topic: &str) -> Result<()> {
        let deadline = Instant::now() + self.inner.timeout;
        loop {
            let topics = self
                .topics_in_cluster()
                .await
                .map_err(|error| bus_error(error, Some(topic)))?;
            if topics.get(topic).is_some_and(|&n| n > 0) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout {
                    operation: "waiting for a new topic to show in the cluster's metadata",
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The settings of a producer of this bus (the configuration, and the guarantees).
    fn producer_config(&self) -> ClientConfig {
        guaranteed_producer_config(&self.inner.config)
    }

    fn consumer_config(&self, group: Option<&str>, start: StartFrom) -> ClientConfig {
        let mut config = non_producer_config(&self.inner.config);
        config
            .set("enable.auto.commit", "false")
            // Only what transactions committed: an aborted (fenced) member's output is never
            // read, by processors, restores or the board.
            .set("isolation.level", "read_committed")
            .set("enable.partition.eof", "false")
            .set(
                "auto.offset.reset",
                match start {
                    StartFrom::Earliest => "earliest",
                    StartFrom::Latest => "latest",
                },
            );
        if let Some(group) = group {
            config.set("group.id", group);
        }
        crate::consumer::settings::apply_defaults(&mut config);
        config
    }

    fn create_consumer(&self, config: &ClientConfig) -> Result<BaseConsumer<ConsumerState>> {
        config
            .create_with_context(ConsumerState::default())
            .map_err(|error| bus_error(error, None))
    }

    /// A group member: librdkafka's group protocol assigns its partitions. Without a group of
    /// the caller's, a private one (which commits nothing) serves subscriptions that need the
    /// protocol: a pattern, or names not all created yet.
    fn subscribe_in_group(
        &self,
        group: Option<&str>,
        topics: &TopicSelector,
        start: StartFrom,
    ) -> Result<KafkaConsumer> {
        let private;
        let group_id = match group {
            Some(group) => group,
            None => {
                private = private_group();
                &private
            }
        };
        let consumer = self.create_consumer(&self.consumer_config(Some(group_id), start))?;
        let subscription: Vec<String> = match topics {
            TopicSelector::Names(names) => names.clone(),
            // librdkafka treats a name starting with `^` as a regular expression; anchoring the
            // end makes it match whole names, as the bus contract says.
            TopicSelector::Pattern(pattern) => vec![format!("^({pattern})$")],
        };
        let names: Vec<&str> = subscription.iter().map(String::as_str).collect();
        consumer
            .subscribe(&names)
            .map_err(|error| bus_error(error, None))?;
        let state = consumer.context().as_ref().clone();
        let transactions = match group {
            Some(group) if self.supports_transactions() => Some(TransactionalProducer::shared(
                self.producer_config(),
                &transactional_id(group),
                self.inner.timeout,
            )),
            _ => None,
        };
        KafkaConsumer::start(
            consumer,
            state,
            group.is_some(),
            start,
            self.inner.timeout,
            Arc::clone(&self.inner.watermarks),
            transactions,
        )
    }

    /// A reader of every partition of `names`, by explicit assignment: no group to join, so
    /// it reads at once. `Latest` is resolved to offsets here, so it means "after subscribing"
    /// and not "after the first fetch".
    async fn assign_all(
        &self,
        names: &[String],
        partitions: &HashMap<String, u32>,
        start: StartFrom,
    ) -> Result<KafkaConsumer> {
        // librdkafka wants a group id even for an assignment; this one never joins or commits.
        let group = private_group();
        let consumer = self.create_consumer(&self.consumer_config(Some(&group), start))?;
        let mut list = TopicPartitionList::new();
        let mut assigned = Vec::new();
        for name in names {
            for partition in 0..partitions.get(name).copied().unwrap_or_default() {
                let number = i32::try_from(partition).map_err(backend)?;
                let offset = match start {
                    StartFrom::Earliest => Offset::Beginning,
                    StartFrom::Latest => {
                        let (_, high) = crate::consumer::fetch_watermarks(
                            &consumer,
                            name,
                            number,
                            self.inner.timeout,
                        )
                        .map_err(|error| bus_error(error, Some(name)))?;
                        Offset::Offset(high)
                    }
                };
                list.add_partition_offset(name, number, offset)
                    .map_err(|error| bus_error(error, Some(name)))?;
                assigned.push(TopicPartition {
                    topic: Arc::from(name.as_str()),
                    partition,
                });
            }
        }
        consumer
            .assign(&list)
            .map_err(|error| bus_error(error, None))?;
        let state = consumer.context().as_ref().clone();
        {
            let mut shared = state.lock();
            for partition in &assigned {
                shared.epochs.insert(partition.clone(), 1);
            }
            shared.partitions.extend(assigned.iter().cloned());
            shared
                .changes
                .push(transit_core::bus::AssignmentChange::Assigned(assigned));
        }
        KafkaConsumer::start(
            consumer,
            state,
            false,
            start,
            self.inner.timeout,
            Arc::clone(&self.inner.watermarks),
            None,
        )
    }
}

impl KafkaBus {
    /// Hands one record to librdkafka's queue, waiting while the queue is full; the returned
    /// future resolves when the broker acknowledged (or refused) it.
    async fn enqueue(&self, topic: &str, record: &Record) -> Result<DeliveryFuture> {
        let mut future_record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(topic).timestamp(record.timestamp_ms);
        if let Some(key) = &record.key {
            future_record = future_record.key(key.as_ref());
        }
        if let Some(value) = &record.value {
            future_record = future_record.payload(value.as_ref());
        }
        if let Some(partition) = record.partition {
            let number = i32::try_from(partition).map_err(|_| Error::UnknownPartition {
                topic: topic.to_string(),
                partition,
            })?;
            future_record = future_record.partition(number);
        }
        if let Some(headers) = crate::headers::to_kafka(record) {
            future_record = future_record.headers(headers);
        }
        loop {
            match self.inner.producer.send_result(future_record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The records in flight free room as the broker acknowledges them.
                    future_record = back;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((error, _)) => return Err(bus_error(error, Some(topic))),
            }
        }
    }
}

/// Producer-only librdkafka properties: a consumer or admin client given one logs a warning
/// for each, so they go to the producer only.
const PRODUCER_ONLY: &[&str] = &[
    "acks",
    "request.required.acks",
    "enable.idempotence",
    "partitioner",
    "linger.ms",
    "queue.buffering.max.ms",
    "queue.buffering.max.messages",
    "queue.buffering.max.kbytes",
    "batch.num.messages",
    "batch.size",
    "compression.type",
    "compression.codec",
    "compression.level",
    "message.timeout.ms",
    "delivery.timeout.ms",
    "retries",
    "message.send.max.retries",
    "sticky.partitioning.linger.ms",
];

/// The configuration's producer settings with the guarantees the bus's contract needs.
fn guaranteed_producer_config(config: &KafkaConfig) -> ClientConfig {
    let mut producer = client_config(config);
    for (key, value) in PRODUCER_GUARANTEES {
        producer.set(*key, *value);
    }
    producer
}

/// A transactional id of one member of `group`: unique, since fencing a replaced member is
/// the group generation's job (KIP-447), not the id's.
fn transactional_id(group: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{group}-{}-{nanos}", std::process::id())
}

/// Initialises OpenSSL, once, before librdkafka's first client does, without the clean-up
/// OpenSSL otherwise registers to run at exit: that clean-up frees OpenSSL's global state while
/// librdkafka's threads may still use it (a consumer closing on its own thread, leaving its
/// group through a coordinator that is down, when the process ends), which crashes the process
/// at exit (SIGSEGV) after it did all its work. `openssl_sys::init` is the `openssl` crate's own
/// way to do this.
fn init_openssl() {
    openssl_sys::init();
}

fn client_config(config: &KafkaConfig) -> ClientConfig {
    init_openssl();
    let mut client = ClientConfig::new();
    for (key, value) in config.client_properties() {
        client.set(key, value);
    }
    client
}

/// The settings of a consumer or admin client: everything but the producer's own.
fn non_producer_config(config: &KafkaConfig) -> ClientConfig {
    init_openssl();
    let mut client = ClientConfig::new();
    for (key, value) in config.client_properties() {
        if !PRODUCER_ONLY.contains(&key) {
            client.set(key, value);
        }
    }
    client
}

/// A private group for a subscription without one that needs the group protocol (a pattern,
/// or names not all created yet): it commits nothing, so only its name is left behind.
fn private_group() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("transit-reader-{}-{nanos}", std::process::id())
}

#[async_trait]
impl EventBus for KafkaBus {
    async fn create_topic(&self, spec: &TopicSpec) -> Result<()> {
        let partitions = i32::try_from(spec.partitions)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| Error::InvalidRequest {
                message: format!("{} partitions for topic {:?}", spec.partitions, spec.name),
            })?;
        let _one_at_a_time = self.inner.creating.lock().await;
        let retention_bytes = spec.retention_bytes.map(retention_bytes_setting);
        let mut topic = NewTopic::new(
            &spec.name,
            partitions,
            TopicReplication::Fixed(self.inner.replication),
        );
        if spec.compacted {
            topic = topic.set("cleanup.policy", "compact");
        }
        // Records carry the simulated time, which may lie weeks before the broker's clock:
        // time-based retention would delete them at its next check. Size bounds the topics
        // instead (`retention.bytes` below, or the broker's default).
        topic = topic.set("retention.ms", self.inner.retention_ms.as_str());
        if let Some(bytes) = &retention_bytes {
            topic = topic.set("retention.bytes", bytes);
        }
        if let Some(min_insync) = &self.inner.min_insync {
            topic = topic.set("min.insync.replicas", min_insync);
        }
        let options = AdminOptions::new().operation_timeout(Some(self.inner.timeout));
        let results = self
            .inner
            .admin
            .create_topics([&topic], &options)
            .await
            .map_err(|error| bus_error(error, Some(&spec.name)))?;
        for result in results {
            match result {
                Ok(_) => {
                    tracing::info!(topic = %spec.name, partitions, compacted = spec.compacted, "topic created")
                }
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {
                    tracing::debug!(topic = %spec.name, "topic exists already")
                }
                Err((_, code)) => {
                    return Err(bus_error(KafkaError::AdminOp(code), Some(&spec.name)));
                }
            }
        }
        self.await_topic(&spec.name).await
    }

    async fn publish_batch(
        &self,
        topic: &str,
        records: Vec<Record>,
    ) -> std::result::Result<Vec<RecordPosition>, PublishError> {
        if let Err(error) = self.check_topic(topic).await {
            return Err(PublishError {
                error,
                unsent: records,
            });
        }
        // Enqueue everything first, so librdkafka batches it, then wait for the acks.
        let mut deliveries = Vec::with_capacity(records.len());
        let mut first_error: Option<Error> = None;
        for record in &records {
            match self.enqueue(topic, record).await {
                Ok(delivery) => deliveries.push(delivery),
                Err(error) => {
                    first_error = Some(error);
                    break;
                }
            }
        }
        let queued = deliveries.len();
        let topic_name: Arc<str> = Arc::from(topic);
        let mut positions = Vec::with_capacity(queued);
        let mut failed: Vec<usize> = Vec::new();
        for (index, delivery) in deliveries.into_iter().enumerate() {
            let error = match delivery.await {
                Ok(Ok(done)) => {
                    positions.push(RecordPosition {
                        topic: Arc::clone(&topic_name),
                        partition: done.partition.max(0) as u32,
                        offset: done.offset.max(0) as u64,
                    });
                    continue;
                }
                Ok(Err((error, _))) => bus_error(error, Some(topic)),
                Err(_canceled) => Error::Closed,
            };
            failed.push(index);
            first_error.get_or_insert(error);
        }
        let Some(error) = first_error else {
            return Ok(positions);
        };
        // What the broker refused, and what was never queued after a refusal to queue.
        let unsent: Vec<Record> = records
            .into_iter()
            .enumerate()
            .filter(|(index, _)| *index >= queued || failed.binary_search(index).is_ok())
            .map(|(_, record)| record)
            .collect();
        tracing::warn!(%topic, unsent = unsent.len(), %error, "the broker did not store records");
        Err(PublishError { error, unsent })
    }

    async fn subscribe(&self, options: SubscribeOptions) -> Result<Box<dyn Consumer>> {
        let group = options.group.as_deref();
        let consumer = match (group, &options.topics) {
            (Some(_), topics) => self.subscribe_in_group(group, topics, options.start)?,
            (None, TopicSelector::Names(names)) => {
                let partitions = self
                    .topics_in_cluster()
                    .await
                    .map_err(|error| bus_error(error, None))?;
                if names.iter().all(|name| partitions.contains_key(name)) {
                    self.assign_all(names, &partitions, options.start).await?
                } else {
                    // A topic that does not exist yet is picked up once created, as on the
                    // in-memory bus: that takes the group protocol.
                    self.subscribe_in_group(None, &options.topics, options.start)?
                }
            }
            (None, pattern) => self.subscribe_in_group(None, pattern, options.start)?,
        };
        Ok(Box::new(consumer))
    }

    fn supports_transactions(&self) -> bool {
        self.inner.transactions
    }

    async fn flush(&self) -> Result<()> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || inner.producer.flush(FLUSH_TIMEOUT))
            .await
            .map_err(backend)?
            .map_err(|error| bus_error(error, None))
    }
}

/// `retention.bytes` for a bound of `bytes`: Kafka's setting is a signed 64-bit number where -1
/// means no bound, so a bound it cannot hold (such as `u64::MAX`, "keep everything") is -1.
fn retention_bytes_setting(bytes: u64) -> String {
    match i64::try_from(bytes) {
        Ok(bytes) => bytes.to_string(),
        Err(_) => "-1".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::retention_bytes_setting;

    #[test]
    fn a_bound_kafka_cannot_hold_is_no_bound() {
        assert_eq!(retention_bytes_setting(1_073_741_824), "1073741824");
        assert_eq!(
            retention_bytes_setting(i64::MAX as u64),
            i64::MAX.to_string()
        );
        assert_eq!(retention_bytes_setting(u64::MAX), "-1");
    }
}
