//! A real third-party client against transit on Apache Kafka: Python's `confluent-kafka` from
//! PyPI, with its `SchemaRegistryClient`, `AvroDeserializer` and `AvroSerializer`.
//!
//! - It reads every transit topic with only Confluent's registry settings and decodes every
//!   record (`bins/tests/clients/read_topics.py`), as the design's contract promises Confluent
//!   clients: the registry is served over HTTPS (a test CA) with basic auth, and the reader
//!   takes `url`, `ssl.ca.location` and a read-only user's `basic.auth.user.info`.
//! - Entries it writes with its `AvroSerializer`, registering transit's own schema files
//!   through transit's registry, are counted by transit's turnstile counter, exactly
//!   (`bins/tests/clients/produce_entries.py`).
//!
//! Needs the broker named by `TRANSIT_TEST_KAFKA` (`scripts/kafka.sh` starts Apache Kafka and
//! sets it) and the Python named by `TRANSIT_TEST_PYTHON` (`source scripts/python.sh;
//! need_python_venv` makes a venv with the pinned clients and sets it); `scripts/test.sh`
//! provides both. Without either the tests fail and say so: they never pass silently.
//!
//! Each test has a topic prefix, a registry topic and a consumer group of its own, and serves
//! its registry on a free loopback port, so the tests share the broker with each other and
//! with other runs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::process::Command;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use transit_core::bus::{EventBus, Record, SubscribeOptions, TopicSpec};
use transit_core::codec::{Decoder, SchemaRegistry, TopicCodec};
use transit_core::event::{TurnstileCount, TurnstileEvent};
use transit_core::metrics::PipelineMetrics;
use transit_core::model::{LineId, StationId};
use transit_core::network::cta;
use transit_core::processor::read_table;
use transit_core::processor::turnstile_counts::TurnstileCounter;
use transit_core::testing::{unique_name, wait_for_board};
use transit_core::topics::Topics;
use transit_http::server::{Security, Users};
use transit_registry::BusRegistry;
use transit_sim::testing::{until_ended, FlatOutRun};
use transit_testkit::kafka::{broker_settings, brokers, kafka_bus};
use transit_testkit::tls::TestCertificates;

/// The read-only user's password of the HTTPS registry (a test value, searched for in output).
const READER_PASSWORD: &str = "r3ader-Pa55-e2e";

/// The environment variable naming the Python with the clients installed.
const PYTHON_VAR: &str = "TRANSIT_TEST_PYTHON";

/// The scripts, relative to the package root (the tests' working directory).
const READ_TOPICS: &str = "bins/tests/clients/read_topics.py";
const PRODUCE_ENTRIES: &str = "bins/tests/clients/produce_entries.py";

/// Transit's own schema files of turnstile entries: the value, and the key (`StationKey`,
/// see `transit-core/src/codec/record.rs`).
const ENTRY_SCHEMA: &str = "transit-core/schemas/turnstile.avsc";
const STATION_KEY_SCHEMA: &str = "transit-core/schemas/station_key.avsc";

/// How long one run of a script may take.
const SCRIPT: Duration = Duration::from_secs(240);

/// How long any one wait on the broker may take.
const WAIT: Duration = Duration::from_secs(30);

/// Partitions of the arrivals and entries topics.
const PARTITIONS: u32 = 4;

/// Simulated hours of the whole pipeline: about 13,300 records an hour from 05:00.
const HOURS: i64 = 1;
const SEED: u64 = 23;
const TRAINS_PER_LINE: u16 = 10;

/// Entries the Python producer writes, and for which station.
const ENTRIES: u64 = 500;
const STATION: u32 = 40380;
const LINE: LineId = cta::BLUE;

// ---------------------------------------------------------------------------------------------
// The Python clients.

/// The package root: scripts and schema files are named relative to it.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Python with `confluent-kafka` installed, or a failure saying how to get it.
fn python() -> PathBuf {
    let python = std::env::var_os(PYTHON_VAR).unwrap_or_else(|| {
        panic!(
            "{PYTHON_VAR} is not set: these tests drive Python's confluent-kafka. Run \
             scripts/test.sh, or `source scripts/python.sh; need_python_venv` first (it makes \
             a venv with the pinned clients and sets {PYTHON_VAR})"
        )
    });
    let python = PathBuf::from(python);
    assert!(
        python.is_file(),
        "{PYTHON_VAR}={} is not a file: run `source scripts/python.sh; need_python_venv`",
        python.display()
    );
    python
}

/// What a script printed: one JSON object per stdout line.
struct ScriptRun {
    success: bool,
    lines: Vec<Value>,
    stdout: String,
    stderr: String,
}

impl ScriptRun {
    fn describe(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

/// Runs `script` with the clients' Python from the package root, with the broker settings the
/// test broker needs as `--config` flags, and reads what it printed.
async fn run_script(script: &str, args: &[String]) -> ScriptRun {
    run_script_with(script, args, &[]).await
}

/// [`run_script`] with variables set (secrets stay off the command line).
async fn run_script_with(script: &str, args: &[String], env: &[(&str, &str)]) -> ScriptRun {
    let mut command = Command::new(python());
    command
        .envs(env.iter().copied())
        .arg(script)
        .args(args)
        .current_dir(root())
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (key, value) in broker_settings() {
        command.arg("--config").arg(format!("{key}={value}"));
    }
    let started = Instant::now();
    let output = tokio::time::timeout(SCRIPT, command.output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {SCRIPT:?}"))
        .unwrap_or_else(|error| panic!("starting {} {script}: {error}", python().display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines = stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|error| {
                panic!("{script} printed a line that is not JSON ({error}): {line}\n{stderr}")
            })
        })
        .collect();
    eprintln!(
        "{script}: exit {:?} after {:?}",
        output.status.code(),
        started.elapsed()
    );
    ScriptRun {
        success: output.status.success(),
        lines,
        stdout,
        stderr,
    }
}

// ---------------------------------------------------------------------------------------------
// Transit's side: a registry on Kafka, served over HTTP.

/// A name usable as a topic, a topic prefix or a group, unique to this run.
fn unique_topic(prefix: &str) -> String {
    unique_name(prefix).replace('-', "_")
}

/// A registry kept in a topic of its own on Kafka, used in process by transit and served over
/// HTTP (the same registry: a clone is another handle) to the Python clients.
struct ServedRegistry {
    registry: BusRegistry,
    address: SocketAddr,
    scheme: &'static str,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), transit_http::server::ServeError>>,
}

impl ServedRegistry {
    async fn start(bus: Arc<dyn EventBus>) -> Self {
        Self::start_secured(bus, Security::open()).await
    }

    /// Served as `security` says: HTTPS and users, as Confluent runs its registry.
    async fn start_secured(bus: Arc<dyn EventBus>, security: Security) -> Self {
        let topic = unique_topic("schemas");
        // A few tries: on a broker that has just started, the watermark query right after
        // creating the topic may meet a partition whose leader is not known yet
        // (NotLeaderForPartition), which the bus reports rather than retries.
        let mut tries = 0;
        let registry = loop {
            tries += 1;
            match BusRegistry::open(Arc::clone(&bus), &topic).await {
                Ok(registry) => break registry,
                Err(error) if tries < 3 => {
                    eprintln!("opening the registry on {topic} (try {tries}): {error:?}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(error) => {
                    panic!("opening the registry on Kafka topic {topic}: {error:?}")
                }
            }
        };
        let listener = transit_http::registry::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("binding the registry to a free port");
        let address = listener.local_addr().expect("the registry's address");
        let shutdown = CancellationToken::new();
        let scheme = if security.is_tls() { "https" } else { "http" };
        let (served, stop) = (registry.clone(), shutdown.clone());
        let task = tokio::spawn(async move {
            transit_http::registry::serve_secured(listener, served, &security, stop).await
        });
        Self {
            registry,
            address,
            scheme,
            shutdown,
            task,
        }
    }

    fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.address)
    }

    fn shared(&self) -> Arc<dyn SchemaRegistry> {
        Arc::new(self.registry.clone())
    }

    /// The id registered last under `subject`.
    fn latest_id(&self, subject: &str) -> u64 {
        let latest = self
            .registry
            .latest(subject)
            .unwrap_or_else(|error| panic!("the latest schema of {subject}: {error:?}"));
        u64::from(latest.id.0)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the registry stops within 10 s")
            .expect("the registry task did not panic")
            .expect("the registry served without error");
    }
}

/// Where every partition of `topic` starts and ends, from a consumer without a group (which
/// starts at the earliest offset): what the Kafka bus holds.
async fn extent(bus: &dyn EventBus, topic: &str) -> Vec<(u32, u64, u64)> {
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([topic]))
        .await
        .unwrap_or_else(|error| panic!("subscribing to {topic}: {error:?}"));
    let mut positions = tokio::time::timeout(WAIT, consumer.positions())
        .await
        .unwrap_or_else(|_| panic!("the positions of {topic} in time"))
        .unwrap_or_else(|error| panic!("the positions of {topic}: {error:?}"));
    positions.sort_by_key(|p| p.partition);
    positions
        .into_iter()
        .map(|p| (p.partition, p.next_offset, p.end_offset))
        .collect()
}

/// Records on `topic`: the sum over its partitions of end minus start offsets.
async fn held(bus: &dyn EventBus, topic: &str) -> u64 {
    extent(bus, topic)
        .await
        .iter()
        .map(|(_, start, end)| end - start)
        .sum()
}

fn number(line: &Value, field: &str) -> u64 {
    line[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} is not a number in {line}"))
}

fn ids(line: &Value, field: &str) -> Vec<u64> {
    line[field]
        .as_array()
        .unwrap_or_else(|| panic!("{field} is not a list in {line}"))
        .iter()
        .map(|id| {
            id.as_u64()
                .unwrap_or_else(|| panic!("{field}: {id} in {line}"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. Every transit topic, read by confluent-kafka with only the registry's URL.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_kafka_reads_and_decodes_every_transit_topic_with_only_the_registry_url() {
    let python = python();
    let began = Instant::now();
    let bus = kafka_bus().await;
    // The registry as Confluent runs it: HTTPS from a test CA, a read-only user for the
    // reader; the reader gets only Confluent's documented settings.
    let certs = TestCertificates::generate();
    let users = Users::parse("test users", &format!("reader: {READER_PASSWORD},read"))
        .expect("the test users");
    let security = Security {
        tls: Some(certs.identity()),
        users: Some(users),
    };
    let served = ServedRegistry::start_secured(Arc::clone(&bus), security).await;
    let run = FlatOutRun::new(SEED, Some(TRAINS_PER_LINE), HOURS)
        .on(Topics::new(unique_topic("confluent_read")))
        .partitions(PARTITIONS);
    let topics = run.topics.clone();
    let running = run.start(Arc::clone(&bus), served.shared()).await;
    let mut snapshots = running.snapshots();
    until_ended(&running, Duration::from_secs(120)).await;
    let entries_topic = topics.turnstile_entries();
    let published = held(bus.as_ref(), &entries_topic).await;
    assert!(published > 0, "the simulation published turnstile entries");
    // Every entry counted, so the count table is complete before it is read.
    wait_for_board(
        &mut snapshots,
        Duration::from_secs(90),
        "every turnstile entry counted",
        |s| s.totals.entries == published,
    )
    .await;
    let report = running.stop().await.expect("the pipeline stops cleanly");
    let simulated = began.elapsed();
    assert_eq!(report.counts.counted, published, "{:?}", report.counts);

    // Every topic transit writes, with whether it is plain (written by a plain producer and
    // never compacted: the simulation's topics and the raw station rows) rather than a
    // processor's output (the tables and the dead letters).
    let mut to_read: Vec<(String, bool)> = cta::LINES
        .into_iter()
        .map(|line| (topics.arrivals(line), true))
        .collect();
    to_read.extend([
        (entries_topic.clone(), true),
        (topics.weather(), true),
        (topics.station_rows(), true),
        (topics.stations(), false),
        (topics.turnstile_counts(), false),
        (topics.headways(), false),
    ]);
    // The station rows of other lines are refused by design; nothing else is.
    let dead_letters = held(bus.as_ref(), &topics.dead_letter()).await;
    if dead_letters > 0 {
        to_read.push((topics.dead_letter(), false));
    }
    // What the Kafka bus holds: the sum over partitions of end minus start offsets.
    let mut expected = BTreeMap::new();
    for (topic, _) in &to_read {
        expected.insert(topic.clone(), held(bus.as_ref(), topic).await);
    }

    let mut args = vec![
        "--bootstrap".to_string(),
        brokers(),
        "--registry-url".to_string(),
        served.url(),
        "--registry-ca".to_string(),
        certs.ca.display().to_string(),
        "--sum".to_string(),
        format!("{}=entries", topics.turnstile_counts()),
    ];
    for (topic, _) in &to_read {
        args.extend(["--topic".to_string(), topic.clone()]);
    }
    let user_info = format!("reader:{READER_PASSWORD}");
    let run = run_script_with(
        READ_TOPICS,
        &args,
        &[("REGISTRY_USER_INFO", user_info.as_str())],
    )
    .await;
    assert!(
        !run.stdout.contains(READER_PASSWORD) && !run.stderr.contains(READER_PASSWORD),
        "the reader printed the password\n{}",
        run.describe()
    );
    eprintln!("{}", run.stdout.trim_end());
    assert!(
        run.success,
        "{} {READ_TOPICS} failed\n{}",
        python.display(),
        run.describe()
    );
    assert_eq!(
        run.lines.len(),
        to_read.len(),
        "one line per topic\n{}",
        run.describe()
    );

    for ((topic, plain), line) in to_read.iter().zip(&run.lines) {
        assert_eq!(line["topic"].as_str(), Some(topic.as_str()), "{line}");
        let records = number(line, "records");
        let decoded = number(line, "decoded");
        let on_kafka = expected[topic];
        assert!(records > 0, "{topic} holds records: {line}");
        assert_eq!(
            decoded, records,
            "confluent-kafka decodes every record of {topic}: {line}"
        );
        assert_eq!(
            line["errors"].as_array().map(Vec::len),
            Some(0),
            "no error on {topic}: {line}"
        );
        if *plain {
            assert_eq!(
                records, on_kafka,
                "{topic}: confluent-kafka read every offset Kafka holds: {line}"
            );
        } else {
            // A table's log cleaner may have removed superseded records, and a processor's
            // transactions leave markers that take offsets: never more than the offsets.
            assert!(
                records <= on_kafka,
                "{topic}: confluent-kafka read {records} records, Kafka holds {on_kafka}: {line}"
            );
        }
        assert!(
            line["sample"].is_object(),
            "{topic}: a decoded record is an object: {line}"
        );
        assert!(
            line["sample_key"].is_object(),
            "{topic}: a decoded key is an object: {line}"
        );
        assert_eq!(
            number(line, "null_keys"),
            0,
            "{topic}: every record keyed: {line}"
        );
        assert_eq!(
            number(line, "tombstones"),
            0,
            "{topic}: no tombstone: {line}"
        );
        // The writer schemas are those registered under the topic's subjects (a dead letter
        // keeps the bytes, hence the schemas, of the station row it copies).
        let subject_topic = if *topic == topics.dead_letter() {
            topics.station_rows()
        } else {
            topic.clone()
        };
        assert_eq!(
            ids(line, "key_schema_ids"),
            [served.latest_id(&format!("{subject_topic}-key"))],
            "{topic}: {line}"
        );
        assert_eq!(
            ids(line, "value_schema_ids"),
            [served.latest_id(&format!("{subject_topic}-value"))],
            "{topic}: {line}"
        );
    }

    // What it decoded is what transit wrote.
    let line_of = |topic: &str| {
        run.lines
            .iter()
            .find(|line| line["topic"].as_str() == Some(topic))
            .unwrap_or_else(|| panic!("no line for {topic}"))
    };
    let counts = line_of(&topics.turnstile_counts());
    assert_eq!(
        number(counts, "latest_sum"),
        published,
        "the count table, as confluent-kafka decodes it, adds up to the entries published: {counts}"
    );
    if dead_letters > 0 {
        let refused = line_of(&topics.dead_letter());
        assert_eq!(
            number(refused, "records"),
            report.stations.off_line + report.stations.multi_line,
            "the dead letters are the station rows of other lines: {refused} {:?}",
            report.stations
        );
    }
    // Each line's arrivals name the line's route as data, the static feed's route_id, next
    // to the line enum their consumers have always read.
    for line in cta::LINES {
        let arrival = &line_of(&topics.arrivals(line))["sample"];
        assert_eq!(arrival["line"].as_str(), Some(line.as_str()), "{arrival}");
        assert_eq!(
            arrival["route_id"].as_str(),
            Some(cta::route_id(line).as_str()),
            "the route_id union decodes to its string: {arrival}"
        );
    }
    let entry = &line_of(&entries_topic)["sample"];
    assert!(
        entry["station_id"].is_u64() && entry["station_name"].is_string(),
        "{entry}"
    );
    assert!(
        ["blue", "red", "green"].contains(&entry["line"].as_str().unwrap_or("")),
        "the line enum decodes to its symbol: {entry}"
    );
    assert_eq!(
        line_of(&entries_topic)["sample_key"]["station_id"],
        entry["station_id"],
        "an entry is keyed by its station"
    );
    let station = &line_of(&topics.stations())["sample"];
    assert!(
        station["station_id"].is_u64()
            && station["station_name"].is_string()
            && station["order"].is_u64(),
        "{station}"
    );

    served.stop().await;
    eprintln!(
        "confluent-kafka read {} topics ({} records, {published} entries) of {HOURS} h of \
         simulation on Kafka; {:?} in all ({simulated:?} for the pipeline)",
        to_read.len(),
        expected.values().sum::<u64>(),
        began.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Entries written by confluent-kafka's AvroSerializer, counted by transit.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_written_by_confluent_kafka_are_counted_exactly_by_the_turnstile_counter() {
    let python = python();
    let bus = kafka_bus().await;
    let served = ServedRegistry::start(Arc::clone(&bus)).await;
    let registry = served.shared();
    let topics = Topics::new(unique_topic("confluent_write"));
    let entries_topic = topics.turnstile_entries();
    bus.create_topic(&TopicSpec::new(entries_topic.clone(), PARTITIONS))
        .await
        .expect("creating the entries topic");
    let metrics = PipelineMetrics::new();
    let counter = TurnstileCounter::new(
        Arc::clone(&bus),
        Arc::clone(&registry),
        &topics,
        Arc::clone(&metrics),
    )
    .await
    .expect("a turnstile counter")
    .in_group(unique_topic("confluent_counter"));
    let stop = CancellationToken::new();
    let counting = tokio::spawn(counter.run(stop.child_token()));

    let args = [
        "--bootstrap".to_string(),
        brokers(),
        "--registry-url".to_string(),
        served.url(),
        "--topic".to_string(),
        entries_topic.clone(),
        "--count".to_string(),
        ENTRIES.to_string(),
        "--station-id".to_string(),
        STATION.to_string(),
        "--line".to_string(),
        LINE.as_str().to_string(),
        "--station-name".to_string(),
        "Chicago".to_string(),
        "--schema".to_string(),
        ENTRY_SCHEMA.to_string(),
        "--key-schema".to_string(),
        STATION_KEY_SCHEMA.to_string(),
    ];
    let run = run_script(PRODUCE_ENTRIES, &args).await;
    eprintln!("{}", run.stdout.trim_end());
    assert!(
        run.success,
        "{} {PRODUCE_ENTRIES} failed\n{}",
        python.display(),
        run.describe()
    );
    let produced = run.lines.first().expect("the producer's report");
    assert_eq!(number(produced, "delivered"), ENTRIES, "{produced}");
    assert_eq!(number(produced, "failed"), 0, "{produced}");
    let partitions = ids(produced, "partitions");
    assert_eq!(
        partitions.len(),
        1,
        "one station's entries land in one partition: {produced}"
    );
    // It registered transit's schema files through transit's registry: the ids are those of
    // the subjects transit registered.
    assert_eq!(
        number(produced, "key_schema_id"),
        served.latest_id(&format!("{entries_topic}-key")),
        "{produced}"
    );
    assert_eq!(
        number(produced, "value_schema_id"),
        served.latest_id(&format!("{entries_topic}-value")),
        "{produced}"
    );
    assert_eq!(
        held(bus.as_ref(), &entries_topic).await,
        ENTRIES,
        "Kafka holds every entry written"
    );

    // Keyed as transit keys them: the same key bytes, the same partition.
    let codec =
        TopicCodec::<TurnstileEvent>::register(Arc::clone(&registry), entries_topic.clone())
            .await
            .expect("transit's codec of the entries topic");
    let event = TurnstileEvent {
        station_id: StationId(STATION),
        station_name: Arc::from("Chicago"),
        line: LINE,
    };
    let transit_record = codec.record(&event, 0).expect("encoding an entry");
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([entries_topic.clone()]))
        .await
        .expect("subscribing to the entries");
    let written = transit_core::testing::receive(consumer.as_mut(), ENTRIES as usize).await;
    drop(consumer);
    for delivery in &written {
        assert_eq!(
            delivery.key, transit_record.key,
            "confluent-kafka's key is transit's key, byte for byte: {delivery:?}"
        );
        assert_eq!(
            delivery.value, transit_record.value,
            "confluent-kafka's value is transit's value, byte for byte: {delivery:?}"
        );
        assert_eq!(u64::from(delivery.partition), partitions[0]);
    }
    let probe = format!("{}.partition_probe.v1", topics.prefix());
    bus.create_topic(&TopicSpec::new(probe.clone(), PARTITIONS))
        .await
        .expect("creating the probe topic");
    let landed = bus
        .publish_batch(
            &probe,
            vec![Record::new(
                transit_record.key.clone().expect("entries are keyed"),
                transit_record.value.clone().expect("entries have values"),
                0,
            )],
        )
        .await
        .expect("publishing the probe");
    assert_eq!(
        u64::from(landed[0].partition),
        partitions[0],
        "transit's bus puts the station's key in the partition confluent-kafka chose"
    );

    // The counter counts exactly the entries written.
    let decoder = Decoder::<TurnstileCount>::new(Arc::clone(&registry)).expect("a decoder");
    let deadline = Instant::now() + Duration::from_secs(60);
    let count = loop {
        assert!(
            !counting.is_finished(),
            "the turnstile counter stopped on its own"
        );
        let rows = read_table(bus.as_ref(), &topics.turnstile_counts())
            .await
            .expect("reading the count table");
        let mut found = None;
        for row in &rows {
            let value = row.value.as_ref().expect("count rows have values");
            let count = decoder.decode(value).await.expect("a count decodes");
            if count.station_id == StationId(STATION) && count.line == LINE {
                found = Some(count);
            } else {
                panic!("a count for a station no entry was written for: {count:?}");
            }
        }
        if let Some(count) = found.filter(|c| c.entries >= ENTRIES) {
            break count;
        }
        assert!(
            Instant::now() < deadline,
            "the count table shows {found:?}, not {ENTRIES} entries, after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(count.entries, ENTRIES, "{count:?}");
    assert_eq!(
        u64::from(count.source_partition),
        partitions[0],
        "{count:?}"
    );
    assert_eq!(count.source_offset, ENTRIES - 1, "{count:?}");

    stop.cancel();
    let stats = tokio::time::timeout(Duration::from_secs(30), counting)
        .await
        .expect("the counter stops within 30 s")
        .expect("the counter task did not panic")
        .expect("the counter ran without error");
    assert_eq!(stats.entries, ENTRIES, "{stats:?}");
    assert_eq!(stats.counted, ENTRIES, "{stats:?}");
    assert_eq!(stats.undecodable, 0, "{stats:?}");
    assert_eq!(stats.replayed, 0, "{stats:?}");
    assert!(
        metrics.snapshot().dead_lettered.is_empty(),
        "nothing dead-lettered: {:?}",
        metrics.snapshot().dead_lettered
    );
    assert_eq!(
        held(bus.as_ref(), &topics.dead_letter()).await,
        0,
        "the dead-letter topic is empty"
    );
    served.stop().await;
}
