//! The settings a user of a managed cluster writes, against the secured cluster: the documented
//! example file, each SASL mechanism, and what is refused; no secret shows in an error or a log.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use transit_core::bus::{EventBus, Record, SubscribeOptions, TopicSpec};
use transit_core::testing::{receive, unique_name};
use transit_kafka::{KafkaBus, KafkaBusError, KafkaConfig};
use transit_testkit::kafka::{config_from, connect_with, nodes, MTLS_VAR, SASL_SSL_VAR};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Three records out and back through a new topic: the bus works on this connection.
pub(crate) async fn round_trip(bus: &KafkaBus, label: &str) {
    let topic = unique_name(&format!("secure-{label}"));
    bus.create_topic(&TopicSpec::new(topic.clone(), 2))
        .await
        .unwrap_or_else(|e| panic!("{label}: creating {topic}: {e}"));
    let records: Vec<Record> = (0..3)
        .map(|i| {
            Record::new(
                Bytes::from(format!("k{i}")),
                Bytes::from(format!("{label} {i}")),
                now_ms(),
            )
        })
        .collect();
    bus.publish_batch(&topic, records)
        .await
        .unwrap_or_else(|e| panic!("{label}: publishing: {}", e.error));
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([topic.clone()]))
        .await
        .unwrap_or_else(|e| panic!("{label}: subscribing: {e}"));
    let mut values: Vec<String> = receive(consumer.as_mut(), 3)
        .await
        .into_iter()
        .map(|d| String::from_utf8_lossy(d.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    values.sort();
    assert_eq!(values, [0, 1, 2].map(|i| format!("{label} {i}")), "{label}");
}

/// The repository's root (the package's parent).
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the package is in the workspace")
}

/// The secured cluster's SASL_SSL settings, as its properties file has them.
struct Cluster {
    servers: String,
    username: String,
    password: String,
    ca: String,
}

fn cluster() -> Cluster {
    let config = config_from(SASL_SSL_VAR);
    let get = |key: &str| {
        config
            .get(key)
            .unwrap_or_else(|| panic!("the cluster's SASL_SSL properties have no {key}"))
            .to_string()
    };
    Cluster {
        servers: get("bootstrap.servers"),
        username: get("sasl.username"),
        password: get("sasl.password"),
        ca: get("ssl.ca.location"),
    }
}

/// `config/kafka.properties.example` as a user fills it in: the cluster's address, the
/// credentials and the CA; every other line as documented.
fn filled_in_example(cluster: &Cluster) -> (PathBuf, String) {
    let example = root().join("config/kafka.properties.example");
    let text = std::fs::read_to_string(&example)
        .unwrap_or_else(|e| panic!("reading {}: {e}", example.display()));
    let mut replaced = Vec::new();
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let (key, value) = match line.trim_start_matches("# ").split_once('=') {
                Some((key, value)) if !key.contains(' ') => (key.trim(), value),
                _ => return line.to_string(),
            };
            let filled = match key {
                "bootstrap.servers" => cluster.servers.clone(),
                "sasl.username" => cluster.username.clone(),
                "sasl.password" => cluster.password.clone(),
                "ssl.ca.location" => cluster.ca.clone(),
                _ => return line.to_string(),
            };
            replaced.push(format!("{key} (was {value:?})"));
            format!("{key}={filled}")
        })
        .collect();
    assert_eq!(
        replaced.len(),
        4,
        "the example names the servers, user, password and CA: {replaced:?}"
    );
    let dir = std::env::temp_dir().join(unique_name("transit-example"));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let file = dir.join("kafka.properties");
    std::fs::write(&file, lines.join("\n")).expect("writing the filled-in example");
    (file, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the secured cluster: scripts/kafka.sh --brokers 3 --security secure"]
async fn the_documented_example_file_connects_over_sasl_ssl() {
    let cluster = cluster();
    let (file, original) = filled_in_example(&cluster);
    // As the binaries read it: the file, then the environment (nothing of ours set here).
    let config = KafkaConfig::new("unused:9092")
        .with_file(&file)
        .expect("the filled-in example parses");
    std::fs::remove_dir_all(file.parent().expect("a directory")).ok();
    for (key, documented) in [
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanisms", "PLAIN"),
        ("compression.type", "lz4"),
        ("transit.replication.factor", "3"),
    ] {
        assert!(
            original.contains(&format!("\n{key}={documented}")),
            "the example documents {key}={documented}"
        );
        assert_eq!(config.get(key), Some(documented), "{key} as documented");
    }
    let bus = connect_with(config).await;
    assert_eq!(bus.replication_factor(), 3);
    assert_eq!(bus.min_insync_replicas(), Some(2));
    round_trip(&bus, "example").await;
    let shown = format!("{bus:?}");
    assert!(
        !shown.contains(&cluster.password),
        "Debug masks the password"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the secured cluster: scripts/kafka.sh --brokers 3 --security secure"]
async fn every_sasl_mechanism_of_the_build_works() {
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] {
        let config = config_from(SASL_SSL_VAR).set("sasl.mechanisms", mechanism);
        let bus = connect_with(config).await;
        round_trip(&bus, &mechanism.to_ascii_lowercase()).await;
    }
    // OAUTHBEARER with librdkafka's built-in unsecured JWT, which the broker's default
    // validator accepts (an identity provider's signed tokens need librdkafka's OIDC support,
    // which needs libcurl: not in this build).
    let config = config_from(SASL_SSL_VAR)
        .set("sasl.mechanisms", "OAUTHBEARER")
        .set("enable.sasl.oauthbearer.unsecure.jwt", "true")
        .set("sasl.oauthbearer.config", "principal=transit");
    let config = without(config, &["sasl.username", "sasl.password"]);
    let bus = connect_with(config).await;
    round_trip(&bus, "oauthbearer").await;
}

/// `config` without `keys`: every other property (transit's defaults included) kept.
fn without(config: KafkaConfig, keys: &[&str]) -> KafkaConfig {
    let mut rebuilt = KafkaConfig::new(config.bootstrap_servers());
    for (key, _) in config.redacted() {
        if !keys.contains(&key) {
            if let Some(value) = config.get(key) {
                rebuilt = rebuilt.set(key, value);
            }
        }
    }
    rebuilt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the secured cluster: scripts/kafka.sh --brokers 3 --security secure"]
async fn wrong_credentials_are_refused_without_showing_them() {
    let wrong = format!("not-{}", unique_name("the-password"));
    let config = config_from(SASL_SSL_VAR)
        .set("sasl.password", wrong.as_str())
        .set("transit.operation.timeout.ms", "8000");
    let asked = std::time::Instant::now();
    let error = KafkaBus::connect(config)
        .await
        .expect_err("a wrong password is refused");
    // A refusal is told as one, at once, not as a cluster that did not answer in 8 s.
    assert!(error.is_permanent(), "{error}");
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(6),
        "refused after {:?}: {error}",
        asked.elapsed()
    );
    let mut shown = format!("{error} {error:?}");
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&error);
    while let Some(cause) = source {
        shown.push_str(&format!(" {cause}"));
        source = cause.source();
    }
    assert!(
        !shown.contains(&wrong),
        "the error shows the password: {shown}"
    );

    // The mTLS listener refuses a client without a certificate.
    let config = without(
        config_from(MTLS_VAR),
        &[
            "ssl.certificate.location",
            "ssl.key.location",
            "ssl.key.password",
        ],
    )
    .set("transit.operation.timeout.ms", "8000");
    let refused = KafkaBus::connect(config).await;
    assert!(
        refused.as_ref().is_err_and(KafkaBusError::is_permanent),
        "a client without a certificate is refused: {:?}",
        refused.err()
    );

    // A client that does not trust the cluster's CA is refused too (the system's CAs only).
    let config = without(config_from(SASL_SSL_VAR), &["ssl.ca.location"])
        .set("transit.operation.timeout.ms", "8000");
    let refused = KafkaBus::connect(config).await;
    assert!(
        refused.as_ref().is_err_and(KafkaBusError::is_permanent),
        "a certificate from an unknown CA is refused: {:?}",
        refused.err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the secured cluster: scripts/kafka.sh --brokers 3 --security secure"]
async fn the_replicas_are_chosen_from_the_cluster() {
    let bus = connect_with(config_from(SASL_SSL_VAR)).await;
    let expected = nodes().min(3) as i32;
    assert_eq!(
        bus.replication_factor(),
        expected,
        "min(3, {} nodes)",
        nodes()
    );
    assert_eq!(bus.min_insync_replicas(), (expected >= 3).then_some(2));
    // A setting wins.
    let bus = connect_with(config_from(SASL_SSL_VAR).set("transit.replication.factor", "1")).await;
    assert_eq!(bus.replication_factor(), 1);
    assert_eq!(bus.min_insync_replicas(), None);
}
