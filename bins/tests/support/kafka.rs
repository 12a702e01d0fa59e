//! The broker the Kafka tests run against (the same settings as transit-kafka's test support).
//!
//! `scripts/test.sh` starts `tansu` on a free loopback port and names it in
//! `TRANSIT_TEST_KAFKA`. Without it the tests fail and say so: a Kafka test that quietly
//! passes without a broker would prove nothing.

use std::sync::Arc;

use transit_core::EventBus;
use transit_kafka::{KafkaBus, KafkaConfig};

/// The environment variable naming the test broker (`host:port`).
pub const BROKER_VAR: &str = "TRANSIT_TEST_KAFKA";

/// One record per produce batch. tansu 0.6's storage reports a partition's high watermark as
/// the last batch's base offset + 1, and a fetch from an offset inside a batch finds nothing;
/// with one record per batch both are right. Harmless on a real Kafka.
pub const TANSU_BATCHES: (&str, &str) = ("batch.num.messages", "1");

/// The test broker's address.
pub fn brokers() -> String {
    std::env::var(BROKER_VAR).unwrap_or_else(|_| {
        panic!(
            "{BROKER_VAR} is not set: these tests need a Kafka broker. Run scripts/test.sh, \
             which starts tansu, or start one yourself and set {BROKER_VAR}=host:port"
        )
    })
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
    KafkaConfig::new(brokers()).set(TANSU_BATCHES.0, TANSU_BATCHES.1)
}

/// A new connection to the test broker.
pub async fn kafka_bus() -> Arc<dyn EventBus> {
    let bus = KafkaBus::connect(config()).await.unwrap_or_else(|error| {
        panic!("connecting to the test broker at {}: {error:?}", brokers())
    });
    Arc::new(bus)
}
