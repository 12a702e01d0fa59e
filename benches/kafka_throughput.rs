//! Arrival throughput through a real Kafka broker, end to end: produced, acknowledged and
//! consumed back.
//!
//! - `kafka/avro_bus`: each arrival encoded to Avro (Confluent framing), published with
//!   `KafkaBus::publish_batch`, consumed back through the bus and decoded.
//! - `kafka/bare_rdkafka`: the very same bytes, encoded once beforehand, sent by a bare rdkafka
//!   `FutureProducer` with the same producer settings and read back by a bare `BaseConsumer`:
//!   no codec, no bus layer.
//!
//! Their ratio is what the codec and the bus layer cost. The broker is named by
//! `TRANSIT_TEST_KAFKA` (`scripts/tansu.sh cargo bench --bench kafka_throughput` starts tansu
//! and sets it); without it the benchmark fails and says so.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::runtime::Runtime;
use transit_core::bus::{Consumer, EventBus, Record, SubscribeOptions, TopicSpec};
use transit_core::codec::{SchemaRegistry, TopicCodec};
use transit_core::event::ArrivalEvent;
use transit_core::network::{Network, Ridership};
use transit_core::sim::{SimConfig, Simulation, TickEvents};
use transit_core::testing::unique_name;
use transit_kafka::{KafkaBus, KafkaConfig};
use transit_mem::MemRegistry;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PARTITIONS: u32 = 4;
/// Arrivals per iteration.
const ARRIVALS: usize = 10_000;
const WAIT: Duration = Duration::from_secs(60);
/// How long a fetch waits for records. tansu answers a waiting fetch only when this expires,
/// not when records arrive (Kafka answers at once), so at librdkafka's 500 ms default both
/// paths would measure that wait rather than their work; both get the same setting.
const FETCH_WAIT: (&str, &str) = ("fetch.wait.max.ms", "10");

fn brokers() -> String {
    std::env::var("TRANSIT_TEST_KAFKA").unwrap_or_else(|_| {
        panic!(
            "TRANSIT_TEST_KAFKA is not set: this benchmark needs a Kafka broker. Run it with \
             scripts/tansu.sh cargo bench --bench kafka_throughput"
        )
    })
}

/// Arrivals as the simulation makes them, with their simulated times.
fn arrivals() -> Vec<(ArrivalEvent, i64)> {
    let mut sim = Simulation::new(
        Arc::new(Network::embedded().expect("embedded network")),
        Arc::new(Ridership::embedded().expect("embedded ridership")),
        SimConfig::default(),
    )
    .expect("a simulation");
    let mut tick = TickEvents::default();
    let mut out = Vec::with_capacity(ARRIVALS);
    while out.len() < ARRIVALS {
        sim.step(&mut tick);
        out.extend(tick.arrivals.iter().map(|a| (*a, tick.time.0)));
    }
    out.truncate(ARRIVALS);
    out
}

async fn topic(bus: &KafkaBus, prefix: &str) -> String {
    let name = unique_name(prefix);
    bus.create_topic(&TopicSpec::new(name.clone(), PARTITIONS))
        .await
        .expect("creating a topic");
    name
}

/// The Avro path: encode, publish through the bus, consume through the bus, decode.
struct AvroBed {
    bus: KafkaBus,
    codec: TopicCodec<ArrivalEvent>,
    consumer: Box<dyn Consumer>,
    topic: String,
}

async fn avro_bed(bus: KafkaBus) -> AvroBed {
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topic = topic(&bus, "bench-avro").await;
    let codec = TopicCodec::register(Arc::clone(&registry), topic.clone())
        .await
        .expect("registering the arrival schemas");
    let consumer = bus
        .subscribe(SubscribeOptions::topics([topic.clone()]))
        .await
        .expect("subscribing");
    AvroBed {
        bus,
        codec,
        consumer,
        topic,
    }
}

async fn avro_round(bed: &mut AvroBed, arrivals: &[(ArrivalEvent, i64)]) {
    let records: Vec<Record> = arrivals
        .iter()
        .map(|(arrival, time)| bed.codec.record(arrival, *time).expect("encoding"))
        .collect();
    bed.bus
        .publish_batch(&bed.topic, records)
        .await
        .expect("publishing");
    let mut received = 0;
    let mut batch = Vec::with_capacity(4096);
    while received < arrivals.len() {
        batch.clear();
        tokio::time::timeout(WAIT, bed.consumer.recv_batch(&mut batch, 4096))
            .await
            .expect("records arrive")
            .expect("receiving");
        for delivery in &batch {
            std::hint::black_box(bed.codec.decode_value_cached(delivery).expect("decoding"));
        }
        received += batch.len();
    }
}

/// The bare path: pre-encoded bytes through rdkafka's producer and consumer directly.
struct BareBed {
    producer: FutureProducer,
    consumer: BaseConsumer,
    topic: String,
    payloads: Vec<(Vec<u8>, Vec<u8>, i64)>,
}

async fn bare_bed(
    bus: &KafkaBus,
    codec: &TopicCodec<ArrivalEvent>,
    arrivals: &[(ArrivalEvent, i64)],
) -> BareBed {
    let topic = topic(bus, "bench-bare").await;
    let payloads = arrivals
        .iter()
        .map(|(arrival, time)| {
            let record = codec.record(arrival, *time).expect("encoding");
            (
                record.key.map(|k| k.to_vec()).unwrap_or_default(),
                record.value.map(|v| v.to_vec()).unwrap_or_default(),
                *time,
            )
        })
        .collect();
    let mut config = ClientConfig::new();
    for (key, value) in [
        ("bootstrap.servers", brokers().as_str()),
        ("acks", "all"),
        ("enable.idempotence", "true"),
        ("partitioner", "murmur2_random"),
        ("linger.ms", "5"),
    ] {
        config.set(key, value);
    }
    let producer: FutureProducer = config.create().expect("a bare producer");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("enable.auto.commit", "false")
        .set(FETCH_WAIT.0, FETCH_WAIT.1)
        // librdkafka wants a group id even for an assignment; this one never joins.
        .set("group.id", unique_name("bench-bare-reader"))
        .create()
        .expect("a bare consumer");
    let mut list = TopicPartitionList::new();
    for partition in 0..PARTITIONS as i32 {
        list.add_partition_offset(&topic, partition, Offset::Beginning)
            .expect("a partition");
    }
    consumer.assign(&list).expect("assigning");
    BareBed {
        producer,
        consumer,
        topic,
        payloads,
    }
}

async fn bare_round(bed: &BareBed) {
    // Enqueue everything at once (as the bus does), then wait for the acknowledgements.
    let mut deliveries = Vec::with_capacity(bed.payloads.len());
    for (key, value, time) in &bed.payloads {
        let mut record = FutureRecord::to(&bed.topic)
            .key(key.as_slice())
            .payload(value.as_slice())
            .timestamp(*time);
        loop {
            match bed.producer.send_result(record) {
                Ok(delivery) => break deliveries.push(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((error, _)) => panic!("enqueueing: {error}"),
            }
        }
    }
    for delivery in deliveries {
        delivery
            .await
            .expect("the producer is alive")
            .expect("the broker acknowledges");
    }
    let mut received = 0;
    let deadline = std::time::Instant::now() + WAIT;
    while received < bed.payloads.len() {
        assert!(std::time::Instant::now() < deadline, "records arrive");
        if let Some(message) = bed.consumer.poll(Duration::from_millis(100)) {
            std::hint::black_box(message.expect("consuming"));
            received += 1;
        }
    }
}

fn kafka(c: &mut Criterion) {
    let runtime: Runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let arrivals = arrivals();
    let bus = runtime
        .block_on(KafkaBus::connect(
            KafkaConfig::new(brokers()).set(FETCH_WAIT.0, FETCH_WAIT.1),
        ))
        .expect("connecting to the broker");
    let mut avro = runtime.block_on(avro_bed(bus.clone()));
    let bare = runtime.block_on(bare_bed(&bus, &avro.codec, &arrivals));

    let mut group = c.benchmark_group("kafka");
    group
        .throughput(Throughput::Elements(arrivals.len() as u64))
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("avro_bus", |b| {
        b.iter(|| runtime.block_on(avro_round(&mut avro, &arrivals)))
    });
    group.bench_function("bare_rdkafka", |b| {
        b.iter(|| runtime.block_on(bare_round(&bare)))
    });
    group.finish();
}

criterion_group!(benches, kafka);
criterion_main!(benches);
