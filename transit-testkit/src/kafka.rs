//! The broker the Kafka tests run against.
//!
//! `scripts/test.sh` starts Apache Kafka (`scripts/kafka.sh`) on a free loopback port and names
//! it in `TRANSIT_TEST_KAFKA`. Without it the tests fail and say so.

use std::sync::Arc;

use transit_core::EventBus;
use transit_kafka::{KafkaBus, KafkaConfig};

/// The environment variable naming the test broker (`host:port`).
pub const BROKER_VAR: &str = "TRANSIT_TEST_KAFKA";

/// Set (to anything) when the test broker is tansu rather than Apache Kafka.
pub const TANSU_VAR: &str = "TRANSIT_TEST_TANSU";

/// The one setting tansu needs and Kafka does not: one record per produce batch. tansu 0.6's
/// storage reports a partition's high watermark as the last batch's base offset + 1, and a
/// fetch from an offset inside a batch finds nothing; with one record per batch both are right.
pub const TANSU_BATCHES: (&str, &str) = ("batch.num.messages", "1");

/// The test broker's address.
pub fn brokers() -> String {
    std::env::var(BROKER_VAR).unwrap_or_else(|_| {
        panic!(
            "{BROKER_VAR} is not set: these tests need a Kafka broker. Run scripts/test.sh, \
             which starts Apache Kafka, or `scripts/kafka.sh cargo test ...`, or start one \
             yourself and set {BROKER_VAR}=host:port"
        )
    })
}

/// Whether the test broker is tansu ([`TANSU_VAR`] set).
pub fn on_tansu() -> bool {
    std::env::var_os(TANSU_VAR).is_some()
}

/// The librdkafka settings the test broker needs beyond the defaults: none on Apache Kafka,
/// [`TANSU_BATCHES`] on tansu. For processes started by a test, as `-X key=value` flags.
pub fn broker_settings() -> Vec<(&'static str, &'static str)> {
    if on_tansu() {
        vec![TANSU_BATCHES]
    } else {
        Vec::new()
    }
}

/// Settings for the test broker; also sends logs to the test's output (`RUST_LOG`, default
/// warnings), which the harness shows for a failing test.
pub fn config() -> KafkaConfig {
    let _already = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
    broker_settings()
        .into_iter()
        .fold(KafkaConfig::new(brokers()), |config, (key, value)| {
            config.set(key, value)
        })
}

/// A bus on the test broker.
pub async fn kafka_bus() -> Arc<dyn EventBus> {
    Arc::new(connect().await)
}

/// A bus on the test broker, as its own type.
pub async fn connect() -> KafkaBus {
    KafkaBus::connect(config())
        .await
        .unwrap_or_else(|error| panic!("connecting to the test broker at {}: {error:?}", brokers()))
}
