//! Confluent's Python client (`confluent-kafka`, from the venv `scripts/python.sh` makes) on the
//! SASL_SSL listener with the very properties file transit uses: it reads what transit wrote,
//! and transit reads what it wrote.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::process::Command;
use transit_core::bus::{EventBus, Record, SubscribeOptions, TopicSpec};
use transit_core::testing::{receive, unique_name};
use transit_testkit::kafka::{config_from, connect_with, properties_file, SASL_SSL_VAR};

/// The environment variable naming the Python with Confluent's client installed.
const PYTHON_VAR: &str = "TRANSIT_TEST_PYTHON";

const RECORDS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the secured cluster: scripts/kafka.sh --brokers 3 --security secure"]
async fn confluent_kafka_reads_and_writes_over_sasl_ssl_with_the_same_properties() {
    let python = std::env::var_os(PYTHON_VAR).unwrap_or_else(|| {
        panic!("{PYTHON_VAR} is not set: `source scripts/python.sh; need_python_venv` sets it")
    });
    let properties = properties_file(SASL_SSL_VAR);
    let bus = connect_with(config_from(SASL_SSL_VAR)).await;
    let (source, sink) = (
        unique_name("secure-to-python"),
        unique_name("secure-from-python"),
    );
    for topic in [&source, &sink] {
        bus.create_topic(&TopicSpec::new(topic.clone(), 3))
            .await
            .expect("creating a topic");
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let records: Vec<Record> = (0..RECORDS)
        .map(|i| {
            Record::new(
                Bytes::from(format!("k{i}")),
                Bytes::from(format!("r{i:03}")),
                now,
            )
        })
        .collect();
    bus.publish_batch(&source, records)
        .await
        .map_err(|e| e.error)
        .expect("publishing");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/secure/clients.py");
    let run = Command::new(&python)
        .arg(&script)
        .arg(&properties)
        .args([&source, &sink, &RECORDS.to_string()])
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the Python client finishes within three minutes")
        .expect("starting the Python client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "clients.py failed: {stdout}\n{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("clients.py printed {stdout:?}: {e}"));
    let expected: Vec<String> = (0..RECORDS).map(|i| format!("r{i:03}")).collect();
    assert_eq!(summary["read"], RECORDS, "{summary}");
    assert_eq!(summary["values"], serde_json::json!(expected), "{summary}");
    assert_eq!(summary["written"], RECORDS, "{summary}");

    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([sink.clone()]))
        .await
        .expect("subscribing");
    let mut values: Vec<String> = receive(consumer.as_mut(), RECORDS)
        .await
        .into_iter()
        .map(|d| String::from_utf8_lossy(d.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    values.sort();
    let wanted: Vec<String> = expected.iter().map(|v| format!("python saw {v}")).collect();
    assert_eq!(values, wanted);
    let password = config_from(SASL_SSL_VAR)
        .get("sasl.password")
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        !password.is_empty() && !stdout.contains(&password) && !stderr.contains(&password),
        "the Python client's output holds no secret"
    );
}
