//! The broker the Kafka tests run against.
//!
//! `scripts/test.sh` starts Apache Kafka (`scripts/kafka.sh`) on a free loopback port and names
//! it in `TRANSIT_TEST_KAFKA`. Without it the tests fail and say so.
//!
//! A secured cluster (`start_kafka_cluster 3 secure`) also names the librdkafka properties of
//! its listeners: `TRANSIT_TEST_KAFKA_CONFIG` (the one [`config`] loads: SASL_SSL with
//! SCRAM-SHA-512), `TRANSIT_TEST_KAFKA_SASL_SSL` and `TRANSIT_TEST_KAFKA_MTLS`, and its size in
//! `TRANSIT_TEST_KAFKA_NODES`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use transit_core::EventBus;
use transit_kafka::{KafkaBus, KafkaConfig};

/// The environment variable naming the test broker (`host:port`).
pub const BROKER_VAR: &str = "TRANSIT_TEST_KAFKA";

/// A librdkafka properties file for the test broker (its security settings), when it has one.
pub const CONFIG_VAR: &str = "TRANSIT_TEST_KAFKA_CONFIG";

/// The properties file of a secured cluster's SASL_SSL listener (SCRAM-SHA-512).
pub const SASL_SSL_VAR: &str = "TRANSIT_TEST_KAFKA_SASL_SSL";

/// The properties file of a secured cluster's mTLS listener (a client certificate).
pub const MTLS_VAR: &str = "TRANSIT_TEST_KAFKA_MTLS";

/// How many nodes the test cluster has (set by `start_kafka_cluster`; one broker without it).
pub const NODES_VAR: &str = "TRANSIT_TEST_KAFKA_NODES";

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

/// Sends logs to the test's output (`RUST_LOG`, default warnings), which the harness shows
/// for a failing test.
pub fn init_logging() {
    let _already = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// Settings for the test broker: its address, then its properties file ([`CONFIG_VAR`]) when
/// it has one; also sends logs to the test's output ([`init_logging`]).
pub fn config() -> KafkaConfig {
    init_logging();
    let config = broker_settings()
        .into_iter()
        .fold(KafkaConfig::new(brokers()), |config, (key, value)| {
            config.set(key, value)
        });
    match std::env::var_os(CONFIG_VAR) {
        Some(path) => config
            .with_file(Path::new(&path))
            .unwrap_or_else(|error| panic!("{CONFIG_VAR}: {error}")),
        None => config,
    }
}

/// The properties file named by `var` ([`SASL_SSL_VAR`], [`MTLS_VAR`]), which a secured
/// cluster writes; fails the test, saying how to start one, when it is not set.
pub fn properties_file(var: &str) -> PathBuf {
    let path = std::env::var_os(var).unwrap_or_else(|| {
        panic!(
            "{var} is not set: this test needs the secured three-node cluster. Run              scripts/test.sh, or `scripts/kafka.sh --brokers 3 --security secure cargo test ...`"
        )
    });
    PathBuf::from(path)
}

/// The `transit` binary's arguments for the test broker: `--kafka` with its address,
/// `--kafka-config` with its properties file when it has one ([`CONFIG_VAR`]), and a `-X` flag
/// for each of [`broker_settings`].
pub fn process_args() -> Vec<String> {
    let mut args = vec!["--kafka".to_string(), brokers()];
    if let Some(path) = std::env::var_os(CONFIG_VAR) {
        args.push("--kafka-config".into());
        args.push(PathBuf::from(path).display().to_string());
    }
    for (key, value) in broker_settings() {
        args.push("-X".into());
        args.push(format!("{key}={value}"));
    }
    args
}

/// The secrets in the test broker's properties file ([`CONFIG_VAR`]): each setting's name
/// and value whose name says it holds a password or a secret (none on a plaintext broker),
/// for a test that searches logs and pages for them.
pub fn secrets() -> Vec<(String, String)> {
    let Some(path) = std::env::var_os(CONFIG_VAR) else {
        return Vec::new();
    };
    let config = KafkaConfig::new("")
        .with_file(Path::new(&path))
        .unwrap_or_else(|error| panic!("{CONFIG_VAR}: {error}"));
    config
        .redacted()
        .into_keys()
        .filter(|key| key.contains("password") || key.contains("secret"))
        .filter_map(|key| {
            let value = config.get(key)?.trim();
            (!value.is_empty()).then(|| (format!("the Kafka setting {key}"), value.to_string()))
        })
        .collect()
}

/// librdkafka settings for the test's own rdkafka clients (probes, metadata): the test
/// broker's ([`config`]: its address, security included), without transit's own settings and
/// defaults (some are a producer's, which a consumer would warn about).
pub fn rdkafka_settings() -> Vec<(String, String)> {
    let config = config();
    let defaults = KafkaConfig::new("");
    config
        .redacted()
        .into_keys()
        .filter(|key| !key.starts_with("transit."))
        .filter_map(|key| {
            let value = config.get(key)?;
            (defaults.get(key) != Some(value)).then(|| (key.to_string(), value.to_string()))
        })
        .collect()
}

/// Settings from the properties file named by `var` alone (it holds the bootstrap servers).
pub fn config_from(var: &str) -> KafkaConfig {
    init_logging();
    let path = properties_file(var);
    KafkaConfig::new("")
        .with_file(&path)
        .unwrap_or_else(|error| panic!("{var}: {error}"))
}

/// How many nodes the test cluster has ([`NODES_VAR`]; 1 without it).
pub fn nodes() -> usize {
    std::env::var(NODES_VAR)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// A bus on the test broker.
pub async fn kafka_bus() -> Arc<dyn EventBus> {
    Arc::new(connect().await)
}

/// A bus on the test broker, as its own type.
pub async fn connect() -> KafkaBus {
    connect_with(config()).await
}

/// A bus with `config`, failing the test when it cannot connect.
pub async fn connect_with(config: KafkaConfig) -> KafkaBus {
    let servers = config.bootstrap_servers().to_string();
    KafkaBus::connect(config)
        .await
        .unwrap_or_else(|error| panic!("connecting to the test broker at {servers}: {error:?}"))
}
