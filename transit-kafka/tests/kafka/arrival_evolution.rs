//! CTA's arrival subjects evolve under BACKWARD on a real broker: a registry kept on Kafka
//! holds the previous arrival schema (v4, before `route_id`) and a record a previous release
//! wrote with it; this release, started on a new registry over the same topic, registers the
//! current schema (the check passes), publishes on the same per-line topics, and a consumer
//! reads both records: the old one's route from its line, the new ones' from `route_id`. A
//! consumer that only knows v4 still reads the new records.

use std::sync::Arc;
use std::time::Duration;

use apache_avro::types::Value;
use apache_avro::Schema;
use tokio_util::sync::CancellationToken;
use transit_core::bus::{EventBus, Record, SubscribeOptions};
use transit_core::codec::{split_header, AvroRecord, Decoder, Encoder, Keyed, SchemaRegistry};
use transit_core::event::{ArrivalEvent, StationKey};
use transit_core::model::{Direction, StationId, TrainId, TrainStatus};
use transit_core::network::cta;
use transit_core::testing::unique_name;
use transit_core::time::SimTime;
use transit_core::topics::Topics;
use transit_registry::BusRegistry;
use transit_sim::driver::{self, DriverConfig, Pace, SimulationCodecs};
use transit_sim::{testing, SimConfig};

/// The arrival schema before `route_id` (the last one published without it).
const ARRIVAL_V4: &str = include_str!("../../../transit-core/tests/it/data/arrival.v4.avsc");

/// How long reading the topic back may take.
const WAIT: Duration = Duration::from_secs(60);

/// The Avro body `schema` writes for `event`: the fields it has, as a writer that predates the
/// others wrote them.
fn written_with(schema: &Schema, event: &ArrivalEvent) -> Vec<u8> {
    let Schema::Record(record) = schema else {
        panic!("a record schema")
    };
    let Value::Record(fields) = apache_avro::to_value(event).expect("an arrival as a value") else {
        panic!("a record value")
    };
    let kept: Vec<_> = fields
        .into_iter()
        .filter(|(name, _)| record.fields.iter().any(|field| &field.name == name))
        .collect();
    let value = Value::Record(kept)
        .resolve(schema)
        .expect("the value fits the schema");
    apache_avro::writer::datum::GenericDatumWriter::builder(schema)
        .build()
        .expect("a writer")
        .write_value_to_vec(value)
        .expect("written")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arrival_subjects_evolve_backward_on_a_registry_kept_on_the_broker() {
    let bus: Arc<dyn EventBus> = transit_testkit::kafka::kafka_bus().await;
    let prefix = unique_name("evolve").replace('-', "_");
    let schemas_topic = format!("{prefix}_schemas");
    let topics = Topics::new(prefix);
    let blue = topics.arrivals(cta::BLUE);
    let value_subject = format!("{blue}-value");
    driver::create_simulation_topics(bus.as_ref(), &topics, 2)
        .await
        .expect("creating the topics");

    // A previous release: its schema registered, one of its records on the Blue topic.
    let previous = BusRegistry::open(Arc::clone(&bus), &schemas_topic)
        .await
        .expect("the registry on the broker");
    let key_encoder = Encoder::<StationKey>::register(&previous, &format!("{blue}-key"))
        .await
        .expect("the key schema");
    let v4 = previous
        .register_schema(&value_subject, ARRIVAL_V4)
        .await
        .expect("registering v4");
    let old = ArrivalEvent {
        station_id: StationId(40380),
        train_id: TrainId {
            line: cta::BLUE,
            number: 7,
        },
        direction: Direction::B,
        line: cta::BLUE,
        train_status: TrainStatus::InService,
        prev_station_id: Some(StationId(40370)),
        prev_direction: Some(Direction::B),
        arrival_time: Some(SimTime(1_793_595_720_000)),
        scheduled_time: Some(SimTime(1_793_595_660_000)),
        scheduled_headway_s: Some(360),
        delay_s: Some(60),
        run_number: Some(7),
        prev_arrival_time: Some(SimTime(1_793_595_600_000)),
        route_id: None,
    };
    let v4_schema = Schema::parse_str(ARRIVAL_V4).expect("v4 parses");
    let mut value = vec![0];
    value.extend(v4.0.to_be_bytes());
    value.extend(written_with(&v4_schema, &old));
    let key = key_encoder
        .encode(&old.key())
        .expect("the key of the old record");
    bus.publish_batch(&blue, vec![Record::new(key, value, 0)])
        .await
        .expect("publishing the old record");
    drop(previous);

    // This release starts on the same registry topic: its schemas pass the BACKWARD check.
    let registry = BusRegistry::open(Arc::clone(&bus), &schemas_topic)
        .await
        .expect("the registry reopened");
    let shared: Arc<dyn SchemaRegistry> = Arc::new(registry.clone());
    let codecs = SimulationCodecs::register(Arc::clone(&shared), &topics)
        .await
        .expect("the current schemas register over v4");
    assert_eq!(
        registry.versions(&value_subject).expect("the subject"),
        vec![1, 2],
        "one new version over the previous"
    );
    for line in cta::LINES {
        let subject = format!("{}-value", topics.arrivals(line));
        assert_eq!(
            registry.latest(&subject).expect("the subject").schema,
            ArrivalEvent::schema_json(),
            "{subject}"
        );
    }
    let mut sim = testing::simulation(SimConfig::default());
    let config = DriverConfig {
        pace: Pace::FlatOut,
        until: Some(SimTime(sim.now().0 + 30 * 60_000)),
        ..DriverConfig::default()
    };
    let stats = driver::run(
        bus.as_ref(),
        &mut sim,
        &codecs,
        &config,
        CancellationToken::new(),
    )
    .await
    .expect("publishing half an hour");
    let published = stats.published.get(&blue).copied().unwrap_or_default();
    assert!(published > 20, "Blue Line arrivals: {published}");

    // A consumer reads the topic: the old record and every new one.
    let decoder = Decoder::<ArrivalEvent>::new(Arc::clone(&shared)).expect("a decoder");
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([blue.clone()]))
        .await
        .expect("subscribing");
    let mut read = Vec::new();
    let mut raw_new = None;
    while read.len() < published as usize + 1 {
        let delivery = tokio::time::timeout(WAIT, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("{} of {} records in time", read.len(), published + 1))
            .expect("the bus is open")
            .expect("a record");
        let value = delivery.value.expect("a value");
        let arrival = decoder.decode(&value).await.expect("every record decodes");
        if arrival.route_id.is_some() && raw_new.is_none() {
            raw_new = Some(value.clone());
        }
        read.push(arrival);
    }
    let (older, newer): (Vec<_>, Vec<_>) = read.into_iter().partition(|a| a.route_id.is_none());
    assert_eq!(
        older,
        [old],
        "the previous release's record, route_id at its default"
    );
    assert_eq!(older[0].route().as_str(), "Blue", "its route from its line");
    assert_eq!(newer.len() as u64, published);
    for arrival in &newer {
        assert_eq!(arrival.line, cta::BLUE);
        assert_eq!(arrival.route_id.map(|r| r.as_str()), Some("Blue"));
    }

    // A consumer built against v4 reads the new records too, without the field it lacks.
    let raw_new = raw_new.expect("a new record");
    let (id, mut body) = split_header(&raw_new).expect("the wire format");
    let writer = Schema::parse_str(&shared.schema_by_id(id).await.expect("the writer schema"))
        .expect("it parses");
    let as_v4 = apache_avro::reader::datum::GenericDatumReader::builder(&writer)
        .reader_schema(&v4_schema)
        .build()
        .expect("v4 reads the current schema")
        .read_value(&mut body)
        .expect("a v4 reader reads a new record");
    let Value::Record(fields) = as_v4 else {
        panic!("a record")
    };
    assert_eq!(
        fields.last().map(|(name, _)| name.as_str()),
        Some("prev_arrival_time")
    );
    assert!(fields.iter().any(|(name, value)| name == "line"
        && matches!(value, Value::Enum(0, symbol) if symbol == "blue")));
}
