//! The services on a real Kafka-protocol broker: the whole pipeline end to end, the schema
//! registry kept in a topic across a restart on a new connection, and the REST Proxy with the
//! original weather hardware's request byte for byte.
//!
//! The broker is named by `TRANSIT_TEST_KAFKA` (`host:port`; `scripts/test.sh` starts tansu and
//! sets it). Without it every test fails and says so: a Kafka test that quietly passes without
//! a broker would prove nothing. Every test uses topics of its own (the pipeline's prefix, the
//! registry's topic, the proxy's topic), so they can share the broker with each other and with
//! other runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::json;
use transit_core::bus::{
    self, Delivery, EventBus, PartitionPosition, PublishError, Record, SubscribeOptions, TopicSpec,
};
use transit_core::codec::{RegistryError, SchemaId, SchemaRegistry};
use transit_core::event::{WeatherEvent, WeatherKey, WeatherStatus};
use transit_core::network::{embedded_station_rows, Network};
use transit_core::testing::{unique_name, wait_for_board};
use transit_core::topics::Topics;
use transit_http::rest_proxy::RestProxyConfig;
use transit_http::RegistryClient;
use transit_registry::BusRegistry;
use transit_sim::testing::{until_ended, FlatOutRun};

use transit_testkit::kafka::kafka_bus;
use transit_testkit::registry::{get, register, RegistryServer, NEXT, OTHER, V1, V2, V3_BREAKS};
use transit_testkit::rest_proxy::ProxyServer;
use transit_testkit::weather_request::{
    assert_hardware_reading, post_as_the_hardware, weather_body, weather_record, Answer, AVRO,
};

// ---------------------------------------------------------------------------------------------
// The broker (support/kafka.rs).

/// How long any one wait on the broker may take before the test fails.
const WAIT: Duration = Duration::from_secs(30);

/// A name usable as a topic or a topic prefix, unique to this run.
fn unique_topic(prefix: &str) -> String {
    unique_name(prefix).replace('-', "_")
}

/// Where a fresh consumer stands on every partition of `topic`: the end offsets are what was
/// ever published there.
async fn positions(bus: &dyn EventBus, topic: &str) -> Vec<PartitionPosition> {
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
}

/// The end offset of each partition of `topic` (how many records were ever published to it),
/// checking it has `partitions` partitions.
async fn end_offsets(bus: &dyn EventBus, topic: &str, partitions: u32) -> Vec<u64> {
    let positions = positions(bus, topic).await;
    assert_eq!(
        positions.iter().map(|p| p.partition).collect::<Vec<_>>(),
        (0..partitions).collect::<Vec<_>>(),
        "a consumer without a group reads every partition of {topic}: {positions:?}"
    );
    positions.iter().map(|p| p.end_offset).collect()
}

/// The first `count` records of `topic`, from the earliest.
async fn consume(bus: &dyn EventBus, topic: &str, count: usize) -> Vec<Delivery> {
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([topic]))
        .await
        .unwrap_or_else(|error| panic!("subscribing to {topic}: {error:?}"));
    let mut out = Vec::new();
    while out.len() < count {
        let delivery = tokio::time::timeout(WAIT, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("record {} of {topic} within {WAIT:?}", out.len()))
            .expect("the bus is open")
            .unwrap_or_else(|error| panic!("receiving from {topic}: {error:?}"));
        out.push(delivery);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 1. The whole pipeline.

/// Simulated hours the pipeline runs: a full weekday from Monday 05:00, about 520,000 records
/// (498,000 of them turnstile entries), which Apache Kafka with librdkafka's default batching
/// takes in about 40 s on two cores (debug build).
const HOURS: i64 = 24;
const SEED: u64 = 11;
const TRAINS_PER_LINE: u16 = 10;
const PARTITIONS: u32 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_pipeline_runs_on_kafka_and_the_board_shows_everything_published() {
    let began = Instant::now();
    let bus = kafka_bus().await;
    let registry = BusRegistry::open(Arc::clone(&bus), &unique_topic("schemas"))
        .await
        .expect("opening the registry on Kafka");
    let registry: Arc<dyn SchemaRegistry> = Arc::new(registry);
    let run = FlatOutRun::new(SEED, Some(TRAINS_PER_LINE), HOURS)
        .on(Topics::new(unique_topic("pipeline")))
        .partitions(PARTITIONS);
    let topics = run.topics.clone();
    let station_rows = embedded_station_rows()
        .expect("the embedded station rows")
        .len();
    let running = run.start(Arc::clone(&bus), registry).await;
    let mut snapshots = running.snapshots();
    until_ended(&running, Duration::from_secs(900)).await;
    let simulated = began.elapsed();
    let entries_topic = topics.turnstile_entries();
    let published: u64 = end_offsets(bus.as_ref(), &entries_topic, PARTITIONS)
        .await
        .iter()
        .sum();
    assert!(published > 0, "the simulation published turnstile entries");

    // The same simulation stepped alone says when its last tick was.
    let last_tick = run.last_tick().time.to_string();

    let network = Network::embedded().expect("the embedded network");
    let expected_stations: usize = network.lines().map(|l| l.stations().len()).sum();
    let at_last_tick = last_tick.clone();
    let complete = |s: &transit_core::status::StatusSnapshot| {
        s.totals.entries == published
            && s.totals.stations == expected_stations as u64
            && s.totals.in_service == 3 * u64::from(TRAINS_PER_LINE)
            && s.weather.is_some()
            && s.simulated_time.as_deref() == Some(at_last_tick.as_str())
    };
    let snapshot = wait_for_board(
        &mut snapshots,
        Duration::from_secs(120),
        "every station, train, weather and entry, at the last tick",
        complete,
    )
    .await;
    // The headway table lags the arrivals by a batch: the board is done once it stops changing.
    let snapshot = settled(&mut snapshots, snapshot).await;
    let caught_up = began.elapsed();
    let report = running.stop().await.expect("the pipeline stops cleanly");
    let stopped = began.elapsed();

    assert_eq!(snapshot.lines.len(), 3, "three lines on the board");
    for (view, line) in snapshot.lines.iter().zip(network.lines()) {
        assert_eq!(view.line, line.id());
        let names: Vec<&str> = view.stations.iter().map(|s| s.name.as_str()).collect();
        let expected: Vec<&str> = line.stations().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            expected,
            "{} line: every station, in order",
            line.id()
        );
    }
    assert_eq!(
        report.driver.published.get(&entries_topic),
        Some(&published),
        "the driver's count of entries is what Kafka holds"
    );
    assert_eq!(report.counts.counted, published, "{:?}", report.counts);
    assert_eq!(report.counts.undecodable, 0, "{:?}", report.counts);
    assert_eq!(report.stations.undecodable, 0, "{:?}", report.stations);
    assert_eq!(report.status.dead_lettered, 0, "{:?}", report.status);
    assert_eq!(
        report.stations.rows, station_rows as u64,
        "every station row read: {:?}",
        report.stations
    );
    // The only records refused: station rows of other lines, by design.
    // Counted by reading them: the processors write in transactions, whose markers take
    // offsets too.
    let dead_lettered =
        transit_core::processor::read_topic(bus.as_ref(), &topics.dead_letter(), |_| {})
            .await
            .expect("reading the dead-letter topic");
    assert_eq!(
        dead_lettered,
        report.stations.off_line + report.stations.multi_line,
        "the dead-letter topic holds the off-line station rows and nothing else: {:?}",
        report.stations
    );
    assert_eq!(
        report.driver.simulated_until.map(|t| t.to_string()),
        Some(last_tick)
    );
    // The same seed on the in-memory bus draws the very same board.
    // Kept whole: the read model must see every record, however far it lags.
    let mem = transit_mem::MemBus::with_config(transit_mem::MemBusConfig {
        retention_records: u64::MAX,
        retention_bytes: u64::MAX,
    });
    let mem_running = run
        .clone()
        .on(Topics::default())
        .start(
            Arc::new(mem.clone()),
            Arc::new(transit_mem::MemRegistry::new()),
        )
        .await;
    let mut mem_snapshots = mem_running.snapshots();
    let mem_board = wait_for_board(
        &mut mem_snapshots,
        Duration::from_secs(120),
        "the in-memory board at the last tick",
        complete,
    )
    .await;
    let mem_board = settled(&mut mem_snapshots, mem_board).await;
    mem_running
        .stop()
        .await
        .expect("the in-memory pipeline stops");
    mem.close();
    let unversioned = |s: &transit_core::status::StatusSnapshot| {
        let mut s = s.clone();
        s.version = 0;
        s
    };
    assert_eq!(
        unversioned(&snapshot),
        unversioned(&mem_board),
        "the board on Kafka equals the board in memory for the same seed"
    );

    eprintln!(
        "pipeline on Kafka: {HOURS} h simulated, {} records published ({published} entries) \
         in {simulated:?}; board caught up at {caught_up:?}, stopped at {stopped:?}",
        report.driver.total()
    );
}

/// The board once no change has come for three seconds (starting from `latest`).
async fn settled(
    snapshots: &mut tokio::sync::watch::Receiver<Arc<transit_core::status::StatusSnapshot>>,
    mut latest: Arc<transit_core::status::StatusSnapshot>,
) -> Arc<transit_core::status::StatusSnapshot> {
    while let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(3), snapshots.changed()).await {
        latest = Arc::clone(&snapshots.borrow_and_update());
    }
    latest
}

// ---------------------------------------------------------------------------------------------
// 2. The schema registry.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_on_kafka_keeps_schema_references_across_a_restart() {
    let topic = unique_topic("schemas");
    crate::registry_references::references_survive_a_restart(kafka_bus().await, &topic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_on_kafka_keeps_every_schema_across_a_restart_on_a_new_connection() {
    let topic = unique_topic("schemas");
    let server = RegistryServer::start(kafka_bus().await, &topic).await;
    let client = RegistryClient::new(&server.url()).expect("a registry client");

    let v1 = client
        .register("arrivals-value", V1)
        .await
        .expect("registering V1");
    let v2 = client
        .register("arrivals-value", V2)
        .await
        .expect("registering V2, compatible with V1");
    let other = client
        .register("directions-value", OTHER)
        .await
        .expect("registering another subject");
    assert_eq!(
        (v1, v2, other),
        (SchemaId(1), SchemaId(2), SchemaId(3)),
        "ids from 1 on a new topic"
    );
    assert_eq!(
        client
            .register("arrivals-value", V1)
            .await
            .expect("registering V1 again"),
        v1,
        "registering again is idempotent"
    );

    // Incompatible: the client's variant, and Confluent's 409 over the wire.
    match client.register("arrivals-value", V3_BREAKS).await {
        Err(RegistryError::Incompatible { subject, message }) => {
            assert_eq!(subject, "arrivals-value");
            assert!(message.contains("'line'"), "{message}");
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
    let conflict = register(&server, "arrivals-value", V3_BREAKS).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT, "{conflict:?}");
    assert_eq!(conflict.json()["error_code"], json!(409), "{conflict:?}");

    let paths = [
        "/subjects",
        "/subjects/arrivals-value/versions",
        "/subjects/arrivals-value/versions/1",
        "/subjects/arrivals-value/versions/2",
        "/subjects/arrivals-value/versions/latest",
        "/subjects/directions-value/versions",
        "/subjects/directions-value/versions/latest",
        "/schemas/ids/1",
        "/schemas/ids/2",
        "/schemas/ids/3",
        "/schemas/ids/1/versions",
        "/schemas/ids/3/versions",
        "/config",
    ];
    let mut before = Vec::new();
    for path in paths {
        let answer = get(&server, path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {answer:?}");
        before.push(answer.json());
    }
    assert_eq!(before[0], json!(["arrivals-value", "directions-value"]));
    assert_eq!(
        before[1],
        json!([1, 2]),
        "the incompatible schema made no version"
    );
    assert_eq!(
        before[4],
        json!({ "subject": "arrivals-value", "version": 2, "id": 2, "schema": V2 })
    );
    server.stop().await;

    // A new connection, a new registry on the same topic: the state comes from Kafka alone.
    let server = RegistryServer::start(kafka_bus().await, &topic).await;
    for (path, expected) in paths.iter().zip(&before) {
        let answer = get(&server, path).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{path} after the restart: {answer:?}"
        );
        assert_eq!(&answer.json(), expected, "{path} after the restart");
    }
    // A new client, so nothing comes from a cache.
    let client = RegistryClient::new(&server.url()).expect("a registry client");
    assert_eq!(
        client
            .register("arrivals-value", V2)
            .await
            .expect("registering V2 again"),
        v2,
        "registering again after the restart keeps the id"
    );
    assert!(
        matches!(
            client.register("arrivals-value", V3_BREAKS).await,
            Err(RegistryError::Incompatible { .. })
        ),
        "the restarted registry still checks against the latest version"
    );
    assert_eq!(
        client
            .register("weather-value", NEXT)
            .await
            .expect("registering a new schema"),
        SchemaId(4),
        "the next new schema gets the next id"
    );
    assert_eq!(
        client
            .versions("weather-value")
            .await
            .expect("the new subject's versions"),
        vec![1]
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 3. The REST Proxy.

/// A REST Proxy over Kafka, with a registry kept on the same broker.
struct Proxy {
    address: SocketAddr,
    bus: Arc<dyn EventBus>,
    registry: BusRegistry,
    server: ProxyServer,
}

impl Proxy {
    async fn start() -> Self {
        let bus = kafka_bus().await;
        let registry = BusRegistry::open(Arc::clone(&bus), &unique_topic("schemas"))
            .await
            .expect("opening the registry on Kafka");
        let server = ProxyServer::start(
            Arc::clone(&bus),
            Arc::new(registry.clone()) as Arc<dyn SchemaRegistry>,
            RestProxyConfig::default(),
        )
        .await;
        Self {
            address: server.address,
            bus,
            registry,
            server,
        }
    }

    async fn post(&self, path: &str, body: String) -> Answer {
        let response = reqwest::Client::new()
            .post(format!("http://{}{path}", self.address))
            .header("content-type", AVRO)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|error| panic!("POST {path}: {error}"));
        Answer::read(response).await
    }

    async fn stop(mut self) {
        let result = self.server.stop(Duration::from_secs(10)).await;
        assert!(result.is_ok(), "{result:?}");
    }
}

async fn decode_weather(registry: &BusRegistry, delivery: &Delivery) -> (WeatherKey, WeatherEvent) {
    let registry = Arc::new(registry.clone()) as Arc<dyn SchemaRegistry>;
    transit_testkit::weather_request::decode_weather(registry, delivery).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_proxy_publishes_the_weather_hardware_request_to_kafka() {
    let proxy = Proxy::start().await;
    let topic = unique_topic("weather");
    proxy
        .bus
        .create_topic(&TopicSpec::new(topic.clone(), 1))
        .await
        .expect("creating the weather topic");

    let answer = post_as_the_hardware(proxy.address, &topic, WAIT).await;

    // Kafka holds it, in the Confluent wire format, decoding to what was sent.
    let delivered = consume(proxy.bus.as_ref(), &topic, 1).await;
    assert_eq!((delivered[0].partition, delivered[0].offset), (0, 0));
    assert_hardware_reading(
        &answer,
        &delivered[0],
        Arc::new(proxy.registry.clone()) as Arc<dyn SchemaRegistry>,
        &topic,
        |subject| proxy.registry.latest(subject),
    )
    .await;
    assert_eq!(end_offsets(proxy.bus.as_ref(), &topic, 1).await, [1]);

    // A bad second record rejects the whole request: nothing reaches Kafka.
    let answer = proxy
        .post(
            &format!("/topics/{topic}"),
            weather_body(&[
                weather_record(1, 41, "cloudy"),
                weather_record(2, 41, "foggy"),
            ]),
        )
        .await;
    let message = answer.error(422, 42203);
    assert!(
        message.contains(r#"records[1].value.status: "foggy" is not a symbol of WeatherStatus"#),
        "{message}"
    );
    assert_eq!(
        end_offsets(proxy.bus.as_ref(), &topic, 1).await,
        [1],
        "nothing of the rejected request was published"
    );

    // An unknown topic: Confluent's 40401, and no topic made on the way.
    let missing = unique_topic("no_such_topic");
    let answer = proxy
        .post(
            &format!("/topics/{missing}"),
            weather_body(&[weather_record(3, 40, "sunny")]),
        )
        .await;
    let message = answer.error(404, 40401);
    assert!(!message.is_empty(), "{answer:?}");
    let probe = proxy
        .bus
        .publish_batch(
            &missing,
            vec![Record::new("k", Bytes::from_static(b"probe"), 0)],
        )
        .await;
    assert!(
        matches!(&probe, Err(PublishError { error: bus::Error::UnknownTopic { topic }, .. }) if *topic == missing),
        "the request did not create {missing}: {probe:?}"
    );

    // The next good request continues right after the first one.
    let answer = proxy
        .post(
            &format!("/topics/{topic}"),
            weather_body(&[weather_record(4, 39, "windy")]),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["offsets"][0]["offset"], json!(1), "{answer:?}");
    let delivered = consume(proxy.bus.as_ref(), &topic, 2).await;
    let (key, value) = decode_weather(&proxy.registry, &delivered[1]).await;
    assert_eq!((key.timestamp, value.status), (4, WeatherStatus::Windy));
    proxy.stop().await;
}
