//! Arrival throughput on the in-memory bus, on one core (a current-thread runtime).
//!
//! - `codec/*`: one arrival encoded to the Confluent wire format, and decoded back.
//! - `arrivals/encode_publish`: arrivals encoded and published in per-line batches.
//! - `arrivals/end_to_end`: simulate, encode, publish, consume, decode and apply each arrival to
//!   the status read model (the train's previous slot cleared, its new slot set).
//! - `network/full_weekday`: a whole simulated weekday of the network, every arrival and every
//!   turnstile entry, published and consumed back.
//!
//! `cargo bench` runs them; `cargo test` runs each once as a smoke test. Throughput is reported
//! in elements (events) per second.

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tokio::runtime::Runtime;
use transit_core::bus::{Consumer, Delivery, EventBus, Record, SubscribeOptions, TopicSpec};
use transit_core::codec::{SchemaRegistry, TopicCodec};
use transit_core::event::ArrivalEvent;
use transit_core::model::{Direction, StationId, TrainId};
use transit_core::network::{cta, Network, Ridership};
use transit_core::status::StatusModel;
use transit_core::topics::Topics;
use transit_mem::{MemBus, MemRegistry};
use transit_sim::driver::SimulationCodecs;
use transit_sim::{SimConfig, Simulation, TickEvents};

/// mimalloc: the pipeline allocates and frees millions of small records a second, where
/// glibc's allocator spends more time than the encoding itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Records each partition keeps in these benchmarks: enough for any batch, bounded memory.
const RETENTION: u64 = 10_000;
const PARTITIONS: u32 = 4;
const BATCH: usize = 8192;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

/// A bus with the simulation's topics (bounded retention), its codecs, and a consumer of all.
struct Bed {
    bus: MemBus,
    codecs: SimulationCodecs,
    consumer: Box<dyn Consumer>,
}

async fn bed() -> Bed {
    let bus = MemBus::new();
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topics = Topics::default();
    let codecs = SimulationCodecs::register(registry, &topics)
        .await
        .expect("registering schemas");
    for name in codecs.topic_names() {
        bus.create_topic(&TopicSpec::new(name, PARTITIONS).with_retention_records(RETENTION))
            .await
            .expect("creating a topic");
    }
    let consumer = bus
        .subscribe(SubscribeOptions::topics(codecs.topic_names()))
        .await
        .expect("subscribing");
    Bed {
        bus,
        codecs,
        consumer,
    }
}

/// Arrivals only: every line full of trains (as many as fit on the shortest line), nobody
/// riding (a ridership seed without rows), so each tick is all arrivals.
fn arrivals_only_simulation() -> Simulation {
    let network = Arc::new(Network::embedded().expect("embedded network"));
    let trains = network
        .lines()
        .map(|line| line.len() * 2 - 1)
        .min()
        .unwrap_or(2);
    let ridership = Ridership::from_readers(
        "empty seed",
        "station_id,stationame,month_beginning,avg_weekday_rides,avg_saturday_rides,avg_sunday-holiday_rides,monthtotal\n"
            .as_bytes(),
        "embedded curve",
        transit_core::network::EMBEDDED_RIDERSHIP_CURVE.as_bytes(),
    )
    .expect("ridership without riders");
    let config = SimConfig {
        trains_per_line: Some(u16::try_from(trains).unwrap_or(u16::MAX)),
        ..SimConfig::default()
    };
    Simulation::new(network, Arc::new(ridership), config).expect("simulation")
}

fn encode_arrival(codec: &TopicCodec<ArrivalEvent>, event: &ArrivalEvent, time: i64) -> Record {
    codec.record(event, time).expect("encoding an arrival")
}

fn codec_benches(c: &mut Criterion) {
    let rt = runtime();
    let bed = rt.block_on(bed());
    let codec = bed.codecs.arrivals(cta::BLUE).expect("a Blue codec");
    let event = ArrivalEvent {
        station_id: StationId(40_380),
        train_id: TrainId {
            line: cta::BLUE,
            number: 7,
        },
        direction: Direction::A,
        line: cta::BLUE,
        train_status: Default::default(),
        prev_station_id: Some(StationId(40_370)),
        prev_direction: Some(Direction::A),
        arrival_time: Some(transit_core::time::SimTime(1_793_595_600_000)),
        scheduled_time: Some(transit_core::time::SimTime(1_793_595_540_000)),
        scheduled_headway_s: Some(360),
        delay_s: Some(60),
        run_number: Some(7),
        prev_arrival_time: Some(transit_core::time::SimTime(1_793_595_500_000)),
        route_id: Some(cta::route_id(cta::BLUE)),
    };
    let record = encode_arrival(codec, &event, 0);
    let delivery = Delivery {
        topic: Arc::from(codec.topic()),
        partition: 0,
        offset: 0,
        key: record.key.clone(),
        value: record.value.clone(),
        headers: Vec::new(),
        timestamp_ms: 0,
    };
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode_arrival", |b| {
        b.iter(|| encode_arrival(codec, std::hint::black_box(&event), 0))
    });
    group.bench_function("decode_arrival", |b| {
        b.iter(|| {
            codec
                .decode_value_cached(std::hint::black_box(&delivery))
                .expect("decoding an arrival")
        })
    });
    group.finish();
}

/// Simulated arrivals, grouped per tick, for the publish benchmark.
fn simulated_ticks(ticks: usize) -> Vec<TickEvents> {
    let mut sim = arrivals_only_simulation();
    (0..ticks)
        .map(|_| {
            let mut tick = TickEvents::default();
            sim.step(&mut tick);
            tick
        })
        .collect()
}

fn encode_publish(c: &mut Criterion) {
    let rt = runtime();
    let bed = rt.block_on(bed());
    let ticks = simulated_ticks(60);
    let arrivals: u64 = ticks.iter().map(|t| t.arrivals.len() as u64).sum();
    let mut group = c.benchmark_group("arrivals");
    group.throughput(Throughput::Elements(arrivals));
    group.bench_function("encode_publish", |b| {
        b.iter(|| {
            rt.block_on(async {
                for tick in &ticks {
                    publish_arrivals(&bed, tick).await;
                }
            })
        })
    });
    group.finish();
}

async fn publish_arrivals(bed: &Bed, tick: &TickEvents) -> usize {
    let mut per_line: [Vec<Record>; 3] = Default::default();
    for event in &tick.arrivals {
        let codec = bed.codecs.arrivals(event.line).expect("a CTA line");
        let index = cta::position(event.line).expect("a CTA line");
        per_line[index].push(encode_arrival(codec, event, tick.time.0));
    }
    let mut published = 0;
    for (index, line) in cta::LINES.into_iter().enumerate() {
        let records = std::mem::take(&mut per_line[index]);
        published += records.len();
        let codec = bed.codecs.arrivals(line).expect("a CTA line");
        bed.bus
            .publish_batch(codec.topic(), records)
            .await
            .expect("publishing arrivals");
    }
    published
}

/// Receives exactly `expected` records and hands each to `handle`.
async fn consume(
    consumer: &mut dyn Consumer,
    buffer: &mut Vec<Delivery>,
    expected: usize,
    mut handle: impl FnMut(&Delivery),
) {
    let mut received = 0;
    while received < expected {
        buffer.clear();
        let got = consumer.recv_batch(buffer, BATCH).await.expect("receiving");
        assert!(got > 0, "the bus closed early");
        buffer.iter().for_each(&mut handle);
        received += got;
    }
}

fn end_to_end(c: &mut Criterion) {
    let rt = runtime();
    let mut bed = rt.block_on(bed());
    let mut sim = arrivals_only_simulation();
    let mut status = StatusModel::new(Arc::clone(sim.network().locations()));
    let mut tick = TickEvents::default();
    let mut buffer = Vec::with_capacity(BATCH);
    const TICKS: usize = 60;
    // Trains run in continuous time: count what 60 ticks hold rather than assume one arrival
    // per train per tick.
    let arrivals: usize = {
        let mut twin = sim.clone();
        (0..TICKS)
            .map(|_| {
                twin.step(&mut tick);
                tick.arrivals.len()
            })
            .sum()
    };
    let mut group = c.benchmark_group("arrivals");
    group.throughput(Throughput::Elements(arrivals as u64));
    group.bench_function("end_to_end", |b| {
        b.iter(|| {
            rt.block_on(async {
                for _ in 0..TICKS {
                    sim.step(&mut tick);
                    let published =
                        publish_arrivals(&bed, &tick).await + publish_weather(&bed, &tick).await;
                    let codecs = &bed.codecs;
                    consume(bed.consumer.as_mut(), &mut buffer, published, |delivery| {
                        if let Some(codec) = cta::LINES
                            .into_iter()
                            .filter_map(|line| codecs.arrivals(line))
                            .find(|codec| *delivery.topic == *codec.topic())
                        {
                            let arrival = codec
                                .decode_value_cached(delivery)
                                .expect("decoding an arrival");
                            status.apply_arrival(&arrival);
                        }
                    })
                    .await;
                }
            })
        })
    });
    group.finish();
}

fn full_weekday(c: &mut Criterion) {
    let rt = runtime();
    let network = Arc::new(Network::embedded().expect("embedded network"));
    let ridership = Arc::new(Ridership::embedded().expect("embedded ridership"));
    let config = SimConfig::default();
    let ticks_per_day = (Duration::from_secs(86_400).as_secs() / config.tick.as_secs()) as usize;
    // Count the day's events once, for the throughput figure.
    let events: u64 = {
        let mut sim = Simulation::new(Arc::clone(&network), Arc::clone(&ridership), config.clone())
            .expect("simulation");
        let mut tick = TickEvents::default();
        (0..ticks_per_day)
            .map(|_| {
                sim.step(&mut tick);
                (tick.arrivals.len()
                    + tick.turnstile_entries.len()
                    + usize::from(tick.weather.is_some())) as u64
            })
            .sum()
    };
    let mut group = c.benchmark_group("network");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events));
    group.bench_function("full_weekday", |b| {
        b.iter_batched(
            || {
                let bed = rt.block_on(bed());
                let sim =
                    Simulation::new(Arc::clone(&network), Arc::clone(&ridership), config.clone())
                        .expect("simulation");
                (bed, sim)
            },
            |(mut bed, mut sim)| {
                rt.block_on(async {
                    let mut tick = TickEvents::default();
                    let mut buffer = Vec::with_capacity(BATCH);
                    let mut decoded = 0u64;
                    for _ in 0..ticks_per_day {
                        sim.step(&mut tick);
                        let published = publish_tick(&bed, &tick).await;
                        let codecs = &bed.codecs;
                        consume(bed.consumer.as_mut(), &mut buffer, published, |delivery| {
                            if codecs.check(delivery).is_ok() {
                                decoded += 1;
                            }
                        })
                        .await;
                    }
                    assert_eq!(decoded, events, "every event decoded");
                })
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// Publishes a whole tick (arrivals, turnstile entries, weather); returns the records published.
async fn publish_tick(bed: &Bed, tick: &TickEvents) -> usize {
    let mut published = publish_arrivals(bed, tick).await;
    let codec = bed.codecs.turnstile();
    let entries: Vec<Record> = tick
        .turnstile_entries
        .iter()
        .map(|entry| codec.record(entry, tick.time.0).expect("encoding an entry"))
        .collect();
    published += entries.len();
    if !entries.is_empty() {
        bed.bus
            .publish_batch(codec.topic(), entries)
            .await
            .expect("publishing entries");
    }
    published + publish_weather(bed, tick).await
}

/// Publishes the tick's weather reading, if it has one; returns the records published.
async fn publish_weather(bed: &Bed, tick: &TickEvents) -> usize {
    let Some(reading) = &tick.weather else {
        return 0;
    };
    let record = bed
        .codecs
        .weather_record(reading, tick.time)
        .expect("encoding weather");
    bed.bus
        .publish_batch(bed.codecs.weather_topic(), vec![record])
        .await
        .expect("publishing weather");
    1
}

criterion_group!(
    benches,
    codec_benches,
    encode_publish,
    end_to_end,
    full_weekday
);
criterion_main!(benches);
