//! Arrival throughput through a real Kafka broker: transit's Avro bus against bare rdkafka and
//! against a seed-style Python producer, on the same broker in the same run.
//!
//! ```text
//! scripts/bench-kafka.sh                                      # everything, with a table
//! scripts/kafka.sh cargo bench --bench kafka_throughput       # the Rust parts alone
//! scripts/kafka.sh cargo bench --bench kafka_throughput -- produce e2e
//! scripts/kafka.sh cargo test --bench kafka_throughput        # once, 10 000 arrivals
//! ```
//!
//! Parts (name them after `--` to run only some, as filters; all run by default):
//!
//! - `codec`: encoding and decoding the arrivals in memory, no broker: what the codec costs.
//! - `sweep`: `produce` (below) under each producer setting of `TRANSIT_BENCH_SWEEP`
//!   (`linger.ms/batch.size[/batch.num.messages]`, comma-separated; default
//!   `0/1000000,5/262144,5/1000000,20/262144,20/1000000,5/1000000/1000000`): what to
//!   recommend. (How linger shows in the whole pipeline, which awaits each tick's batch, is
//!   `scripts/bench-kafka.sh`'s flat-out part.)
//! - `produce`: produce only. `bus`: each arrival encoded to Avro (Confluent framing) and
//!   published with `KafkaBus::publish_batch` in chunks of `TRANSIT_BENCH_CHUNK` records
//!   (50 000), `TRANSIT_BENCH_WINDOW` chunks in flight (4: chunks are encoded and enqueued
//!   while earlier ones are acknowledged, and librdkafka's queue of 100 000 messages pushes
//!   back as it does on the bare side; order holds within a chunk); a run ends when the broker
//!   has acknowledged every record.
//!   `bare`: the very same bytes, encoded beforehand, sent by a bare rdkafka `FutureProducer`
//!   (everything enqueued, then every acknowledgement awaited). Same settings on both sides:
//!   `acks=all`, `enable.idempotence=true`, `partitioner=murmur2_random`, and the `linger.ms`
//!   and `batch.size` of `TRANSIT_BENCH_LINGER_MS` / `TRANSIT_BENCH_BATCH_SIZE` (5 / 1000000).
//! - `e2e`: produce, consume and decode: a consumer (the bus's, decoding every value; or a
//!   bare `BaseConsumer` on its own thread, counting) reads the topic while it is produced;
//!   a run ends when the last record is read (and decoded).
//! - `consume`: reading alone, the bus's consumer (decoding) against a bare `BaseConsumer`:
//!   one topic filled once, read from the start by a fresh consumer each run.
//! - `python`: `bus` against `benches/peers/python/produce_arrivals.py` (confluent-kafka's
//!   `Producer` and fastavro's `schemaless_writer`, one `produce` per arrival, as the seed's
//!   producers did), same arrivals, schema ids, settings and broker. Needs
//!   `TRANSIT_TEST_PYTHON` (`source scripts/python.sh && need_python_venv`); skipped without.
//!
//! `TRANSIT_BENCH_CONSUMER` (`key=value,...`) gives both consumers (the bus's and the bare
//! one) the same extra librdkafka settings, e.g. `fetch.queue.backoff.ms=10`.
//!
//! Each part runs its sides alternately (A B A B ...) for `TRANSIT_BENCH_ROUNDS` rounds (5;
//! the sweep `TRANSIT_BENCH_SWEEP_ROUNDS`, 3), after one uncounted warm-up run of each side,
//! each run on a fresh topic of 4 partitions (deleted afterwards), and prints every run, then
//! the median rate of each side and their ratio. Beside the rate, each run says where the CPU
//! went: this process's (per thread: tokio workers, librdkafka's broker threads...), the
//! Python process's, and the broker JVM's, read from `/proc/<KAFKA_PID>/stat` when
//! `scripts/kafka.sh` exported `KAFKA_PID`; and the load average, since the machine is shared.
//! Figures are measured, never asserted: a run fails only when records go missing.
//!
//! `cargo bench` runs `TRANSIT_BENCH_ARRIVALS` arrivals a run (1 000 000); `cargo test` (no
//! `--bench` argument) runs every part once with 10 000, a quick check that each path works
//! and that the Python peer's records are byte for byte transit's. The broker is named by
//! `TRANSIT_TEST_KAFKA`; without it the benchmark fails and says so.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;
use transit_core::bus::{Consumer, EventBus, Record, SubscribeOptions, TopicSpec};
use transit_core::codec::{SchemaRegistry, TopicCodec};
use transit_core::event::ArrivalEvent;
use transit_core::testing::unique_name;
use transit_kafka::{KafkaBus, KafkaConfig};
use transit_mem::MemRegistry;
use transit_sim::{SimConfig, TickEvents};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A record as the bare paths send it: key, value, timestamp.
type Payload = (Vec<u8>, Vec<u8>, i64);

const PARTITIONS: u32 = 4;
/// Arrivals a run under `cargo bench` (`TRANSIT_BENCH_ARRIVALS` overrides).
const BENCH_ARRIVALS: usize = 1_000_000;
/// Arrivals a run under `cargo test`.
const TEST_ARRIVALS: usize = 10_000;
/// How long a run may go without progress before it fails.
const STALL: Duration = Duration::from_secs(120);
/// The settings the sweep tries by default: `linger.ms/batch.size[/batch.num.messages]`.
const DEFAULT_SWEEP: &str = "0/1000000,5/262144,5/1000000,20/262144,20/1000000,5/1000000/1000000";
/// Linux's USER_HZ: the unit of the CPU times in `/proc/<pid>/stat`.
const CLOCK_TICKS: f64 = 100.0;
const PYTHON_PEER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/peers/python/produce_arrivals.py"
);

fn main() {
    let plan = Plan::from_env();
    let runtime: Runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut bench = runtime.block_on(Bench::new(plan));
    bench.header();
    let parts: Vec<&str> = bench.plan.parts.clone();
    for part in parts {
        if bench.plan.test {
            println!("Testing kafka/{part}");
        }
        match part {
            "codec" => bench.codec(),
            "sweep" => runtime.block_on(bench.sweep()),
            "produce" => runtime.block_on(bench.produce()),
            "e2e" => runtime.block_on(bench.e2e()),
            "consume" => runtime.block_on(bench.consume()),
            "python" => bench.python(&runtime),
            _ => unreachable!("parts are checked when parsed"),
        }
        if bench.plan.test {
            println!("Success");
        }
    }
    bench.summary();
}

// ---------------------------------------------------------------------------------------------
// What to run

const PARTS: [&str; 6] = ["codec", "sweep", "produce", "e2e", "consume", "python"];

struct Plan {
    /// `cargo test`: once, small.
    test: bool,
    arrivals: usize,
    rounds: usize,
    sweep_rounds: usize,
    settings: ProducerSettings,
    sweep: Vec<ProducerSettings>,
    chunk: usize,
    window: usize,
    parts: Vec<&'static str>,
    brokers: String,
    broker_pid: Option<u32>,
    /// Consumer settings both consumers get (`TRANSIT_BENCH_CONSUMER`, `key=value,...`).
    consumer: Vec<(String, String)>,
}

impl Plan {
    fn from_env() -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        // `cargo bench` passes `--bench`; `cargo test` does not.
        let test = !args.iter().any(|a| a == "--bench");
        // Other arguments are filters, as with criterion: a part runs when its name contains
        // one of them (all without any); a filter meant for other targets matches none.
        let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        let parts: Vec<&'static str> = PARTS
            .into_iter()
            .filter(|part| filters.is_empty() || filters.iter().any(|f| part.contains(f.as_str())))
            .collect();
        if parts.is_empty() {
            println!("kafka_throughput: no part matches {filters:?} (the parts are {PARTS:?})");
            std::process::exit(0);
        }
        let brokers = std::env::var("TRANSIT_TEST_KAFKA").unwrap_or_else(|_| {
            panic!(
                "TRANSIT_TEST_KAFKA is not set: this benchmark needs a Kafka broker. Run it with \
                 scripts/kafka.sh cargo bench --bench kafka_throughput (or scripts/bench-kafka.sh)"
            )
        });
        let settings = ProducerSettings {
            linger_ms: env_or("TRANSIT_BENCH_LINGER_MS", 5),
            batch_size: env_or("TRANSIT_BENCH_BATCH_SIZE", 1_000_000),
            batch_messages: std::env::var("TRANSIT_BENCH_BATCH_MESSAGES")
                .ok()
                .map(|v| v.parse().expect("TRANSIT_BENCH_BATCH_MESSAGES: a number")),
        };
        let sweep_text =
            std::env::var("TRANSIT_BENCH_SWEEP").unwrap_or_else(|_| DEFAULT_SWEEP.into());
        let mut sweep: Vec<ProducerSettings> = sweep_text
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(ProducerSettings::parse)
            .collect();
        if test {
            // Once each path, not the whole grid.
            sweep.truncate(1);
        }
        Self {
            test,
            arrivals: if test {
                TEST_ARRIVALS
            } else {
                env_or("TRANSIT_BENCH_ARRIVALS", BENCH_ARRIVALS)
            },
            rounds: if test {
                1
            } else {
                env_or("TRANSIT_BENCH_ROUNDS", 5)
            },
            sweep_rounds: if test {
                1
            } else {
                env_or("TRANSIT_BENCH_SWEEP_ROUNDS", 3)
            },
            settings,
            sweep,
            chunk: env_or("TRANSIT_BENCH_CHUNK", 50_000),
            window: env_or("TRANSIT_BENCH_WINDOW", 4usize).max(1),
            parts,
            brokers,
            broker_pid: std::env::var("KAFKA_PID")
                .ok()
                .and_then(|pid| pid.parse().ok()),
            consumer: std::env::var("TRANSIT_BENCH_CONSUMER")
                .unwrap_or_default()
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| match s.split_once('=') {
                    Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
                    None => panic!("TRANSIT_BENCH_CONSUMER: {s:?} is not key=value"),
                })
                .collect(),
        }
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?}: expected a number")),
        Err(_) => default,
    }
}

/// The producer settings under test; every side of a comparison gets the same.
#[derive(Clone, Debug, PartialEq)]
struct ProducerSettings {
    linger_ms: u32,
    batch_size: u32,
    batch_messages: Option<u32>,
}

impl ProducerSettings {
    fn parse(text: &str) -> Self {
        let numbers: Vec<u32> = text
            .trim()
            .split('/')
            .map(|n| {
                n.trim().parse().unwrap_or_else(|_| {
                    panic!("TRANSIT_BENCH_SWEEP: {text:?} is not linger.ms/batch.size[/batch.num.messages]")
                })
            })
            .collect();
        match numbers[..] {
            [linger_ms, batch_size] => Self {
                linger_ms,
                batch_size,
                batch_messages: None,
            },
            [linger_ms, batch_size, messages] => Self {
                linger_ms,
                batch_size,
                batch_messages: Some(messages),
            },
            _ => panic!(
                "TRANSIT_BENCH_SWEEP: {text:?} is not linger.ms/batch.size[/batch.num.messages]"
            ),
        }
    }

    /// The librdkafka properties, identical for the bus, bare rdkafka and the Python client.
    fn properties(&self) -> Vec<(&'static str, String)> {
        let mut properties = vec![
            ("acks", "all".to_string()),
            ("enable.idempotence", "true".to_string()),
            ("partitioner", "murmur2_random".to_string()),
            ("linger.ms", self.linger_ms.to_string()),
            ("batch.size", self.batch_size.to_string()),
        ];
        if let Some(messages) = self.batch_messages {
            properties.push(("batch.num.messages", messages.to_string()));
        }
        properties
    }

    fn label(&self) -> String {
        let mut label = format!(
            "linger.ms={} batch.size={}",
            self.linger_ms, self.batch_size
        );
        if let Some(messages) = self.batch_messages {
            let _ = write!(label, " batch.num.messages={messages}");
        }
        label
    }
}

// ---------------------------------------------------------------------------------------------
// The bench: shared state, and each part

/// The bus and the bare producer for one set of settings.
struct Producers {
    settings: ProducerSettings,
    bus: KafkaBus,
    bare: FutureProducer,
}

struct Bench {
    plan: Plan,
    arrivals: Arc<Vec<(ArrivalEvent, i64)>>,
    codec: Arc<TopicCodec<ArrivalEvent>>,
    /// The bytes the bare paths send (the codec's, for the same arrivals).
    payloads: Arc<Vec<Payload>>,
    admin: AdminClient<DefaultClientContext>,
    producers: Vec<Producers>,
    /// Rows of the closing table: part, figure, value, note.
    rows: Vec<[String; 4]>,
}

impl Bench {
    async fn new(plan: Plan) -> Self {
        let arrivals = Arc::new(arrivals(plan.arrivals));
        let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
        // One codec (so one pair of schema ids) for every topic of the run: a topic's name is
        // only its subject in the registry, and each run gets a fresh topic.
        let codec = Arc::new(
            TopicCodec::<ArrivalEvent>::register(registry, "bench.arrivals")
                .await
                .expect("registering the arrival schemas"),
        );
        let payloads = Arc::new(
            arrivals
                .iter()
                .map(|(arrival, time)| {
                    let record = codec.record(arrival, *time).expect("encoding");
                    (
                        record.key.map(|k| k.to_vec()).unwrap_or_default(),
                        record.value.map(|v| v.to_vec()).unwrap_or_default(),
                        *time,
                    )
                })
                .collect(),
        );
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &plan.brokers)
            .create()
            .expect("an admin client");
        Self {
            plan,
            arrivals,
            codec,
            payloads,
            admin,
            producers: Vec::new(),
            rows: Vec::new(),
        }
    }

    fn header(&self) {
        let plan = &self.plan;
        let bytes: usize = self
            .payloads
            .iter()
            .map(|(k, v, _)| k.len() + v.len())
            .sum();
        println!(
            "kafka_throughput ({}): {} arrivals a run ({:.1} bytes of key + value each), {} round(s) \
             ({} in the sweep), {PARTITIONS} partitions, bus chunks of {} x {} in flight",
            if plan.test { "test mode" } else { "bench" },
            plan.arrivals,
            bytes as f64 / plan.arrivals.max(1) as f64,
            plan.rounds,
            plan.sweep_rounds,
            plan.chunk,
            plan.window,
        );
        println!(
            "broker {} (JVM pid {}); producer settings {} (acks=all, idempotent, murmur2_random); \
             consumer settings {:?}; load average {}",
            plan.brokers,
            plan.broker_pid
                .map_or("unknown: KAFKA_PID not set".into(), |p| p.to_string()),
            plan.settings.label(),
            plan.consumer,
            load_average(),
        );
    }

    /// The producers for `settings`, made once and reused by every run.
    async fn producers(&mut self, settings: &ProducerSettings) -> usize {
        if let Some(index) = self.producers.iter().position(|p| &p.settings == settings) {
            return index;
        }
        let mut config = KafkaConfig::new(&self.plan.brokers);
        let mut bare = ClientConfig::new();
        bare.set("bootstrap.servers", &self.plan.brokers);
        for (key, value) in settings.properties() {
            config = config.set(key, value.clone());
            bare.set(key, value);
        }
        for (key, value) in &self.plan.consumer {
            config = config.set(key, value);
        }
        let bus = KafkaBus::connect(config)
            .await
            .expect("connecting to the broker");
        let bare: FutureProducer = bare.create().expect("a bare producer");
        self.producers.push(Producers {
            settings: settings.clone(),
            bus,
            bare,
        });
        let index = self.producers.len() - 1;
        if !self.plan.test {
            // One run of each side first, not counted: the broker's JIT, its page cache and
            // both producers' connections warm up before anything is measured.
            let topic = self.topic("bench-warmup").await;
            let bus = self.bus_produce(index, &topic).await;
            let bare = self.bare_produce(index, &topic).await;
            self.drop_topic(&topic).await;
            println!(
                "warm-up ({}, not counted): bus {}/s, bare {}/s",
                settings.label(),
                rate(bus.rate()),
                rate(bare.rate())
            );
        }
        index
    }

    async fn topic(&self, prefix: &str) -> String {
        let name = unique_name(prefix);
        self.producers[0]
            .bus
            .create_topic(&TopicSpec::new(name.clone(), PARTITIONS))
            .await
            .expect("creating a topic");
        name
    }

    async fn drop_topic(&self, name: &str) {
        // Keeps the broker's disk and page cache to one run's worth; a failure only leaves it.
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        if let Err(error) = self.admin.delete_topics(&[name], &options).await {
            eprintln!("(could not delete topic {name}: {error})");
        }
    }

    // --- codec ---------------------------------------------------------------------------

    fn codec(&mut self) {
        let n = self.arrivals.len();
        let mut encode = Vec::new();
        let mut decode = Vec::new();
        for _ in 0..self.plan.rounds {
            let started = Instant::now();
            let records: Vec<Record> = self
                .arrivals
                .iter()
                .map(|(arrival, time)| self.codec.record(arrival, *time).expect("encoding"))
                .collect();
            encode.push(started.elapsed().as_secs_f64());
            let deliveries: Vec<transit_core::bus::Delivery> = records
                .into_iter()
                .map(|record| transit_core::bus::Delivery {
                    topic: Arc::from("bench"),
                    partition: 0,
                    offset: 0,
                    key: record.key,
                    value: record.value,
                    headers: Vec::new(),
                    timestamp_ms: record.timestamp_ms,
                })
                .collect();
            let started = Instant::now();
            for delivery in &deliveries {
                std::hint::black_box(self.codec.decode_value_cached(delivery).expect("decoding"));
            }
            decode.push(started.elapsed().as_secs_f64());
        }
        let (encode, decode) = (median(&encode), median(&decode));
        println!(
            "codec: {n} arrivals encoded (key + value, Confluent framing) in {:.3} s: {:.0} ns each, \
             {}/s; values decoded in {:.3} s: {:.0} ns each, {}/s (medians of {})",
            encode,
            encode * 1e9 / n as f64,
            rate(n as f64 / encode),
            decode,
            decode * 1e9 / n as f64,
            rate(n as f64 / decode),
            self.plan.rounds,
        );
        self.row(
            "codec",
            "encode (key + value), one core",
            per_second(n, encode),
            format!("{:.0} ns/record", encode * 1e9 / n as f64),
        );
        self.row(
            "codec",
            "decode (value), one core",
            per_second(n, decode),
            format!("{:.0} ns/record", decode * 1e9 / n as f64),
        );
    }

    // --- sweep ---------------------------------------------------------------------------

    async fn sweep(&mut self) {
        println!(
            "\n== sweep: produce only under each setting; settings take turns within each round, \
             bus and bare alternate =="
        );
        let sweep = self.plan.sweep.clone();
        let mut indices = Vec::new();
        for settings in &sweep {
            indices.push(self.producers(settings).await);
        }
        let mut runs: Vec<(Vec<Run>, Vec<Run>)> =
            sweep.iter().map(|_| Default::default()).collect();
        for round in 1..=self.plan.sweep_rounds {
            for (n, (index, settings)) in indices.iter().zip(&sweep).enumerate() {
                let part = format!("sweep {}", settings.label());
                let (bus, bare) = self.produce_pair(*index, &part, round).await;
                runs[n].0.push(bus);
                runs[n].1.push(bare);
            }
        }
        for (settings, (bus, bare)) in sweep.iter().zip(&runs) {
            let (bus_rate, bare_rate) = (median_rate(bus), median_rate(bare));
            let (bus_run, bare_run) = (median_run(bus), median_run(bare));
            println!(
                "sweep {:<58} bus {:>9}/s  bare {:>9}/s  ratio {:.2}  cpu/record: bus {} + broker {}, bare {} + broker {}",
                settings.label(),
                rate(bus_rate),
                rate(bare_rate),
                bus_rate / bare_rate,
                micros(bus_run.client_cpu, bus_run.records),
                bus_run.broker_cpu.map_or("?".into(), |c| micros(c, bus_run.records)),
                micros(bare_run.client_cpu, bare_run.records),
                bare_run.broker_cpu.map_or("?".into(), |c| micros(c, bare_run.records)),
            );
            self.row(
                "sweep",
                &format!("produce, {}", settings.label()),
                format!("bus {}/s, bare {}/s", rate(bus_rate), rate(bare_rate)),
                format!(
                    "ratio {:.2}; CPU per record: bus {} + broker {}, bare {} + broker {}",
                    bus_rate / bare_rate,
                    micros(bus_run.client_cpu, bus_run.records),
                    bus_run
                        .broker_cpu
                        .map_or("?".into(), |c| micros(c, bus_run.records)),
                    micros(bare_run.client_cpu, bare_run.records),
                    bare_run
                        .broker_cpu
                        .map_or("?".into(), |c| micros(c, bare_run.records)),
                ),
            );
        }
    }

    // --- produce -------------------------------------------------------------------------

    async fn produce(&mut self) {
        println!("\n== produce only: {} ==", self.plan.settings.label());
        let settings = self.plan.settings.clone();
        let rounds = self.plan.rounds;
        let (bus, bare) = self.produce_rounds("produce", &settings, rounds).await;
        self.compare(
            "produce",
            "bus (encode + publish_batch)",
            &bus,
            "bare rdkafka",
            &bare,
        );
    }

    /// Alternate runs of the bus and bare producers, `rounds` each.
    async fn produce_rounds(
        &mut self,
        part: &str,
        settings: &ProducerSettings,
        rounds: usize,
    ) -> (Vec<Run>, Vec<Run>) {
        let index = self.producers(settings).await;
        let (mut bus, mut bare) = (Vec::new(), Vec::new());
        for round in 1..=rounds {
            let (a, b) = self.produce_pair(index, part, round).await;
            bus.push(a);
            bare.push(b);
        }
        (bus, bare)
    }

    /// One run of the bus, then one of the bare producer, each on a fresh topic.
    async fn produce_pair(&self, index: usize, part: &str, round: usize) -> (Run, Run) {
        let topic = self.topic("bench-bus").await;
        let bus = self.bus_produce(index, &topic).await;
        bus.print(part, round, "bus");
        self.drop_topic(&topic).await;

        let topic = self.topic("bench-bare").await;
        let bare = self.bare_produce(index, &topic).await;
        bare.print(part, round, "bare");
        self.drop_topic(&topic).await;
        (bus, bare)
    }

    async fn bus_produce(&self, index: usize, topic: &str) -> Run {
        let meter = Meter::start(self.plan.broker_pid);
        publish_in_chunks(
            &self.producers[index].bus,
            &self.codec,
            topic,
            &self.arrivals,
            self.plan.chunk,
            self.plan.window,
        )
        .await;
        meter.stop(self.arrivals.len())
    }

    async fn bare_produce(&self, index: usize, topic: &str) -> Run {
        let meter = Meter::start(self.plan.broker_pid);
        bare_send(&self.producers[index].bare, topic, &self.payloads).await;
        meter.stop(self.payloads.len())
    }

    // --- e2e -----------------------------------------------------------------------------

    async fn e2e(&mut self) {
        println!(
            "\n== end to end: produce, consume (and decode), {} ==",
            self.plan.settings.label()
        );
        let settings = self.plan.settings.clone();
        let index = self.producers(&settings).await;
        let (mut bus, mut bare) = (Vec::new(), Vec::new());
        for round in 1..=self.plan.rounds {
            let topic = self.topic("bench-e2e-bus").await;
            let run = self.bus_e2e(index, &topic).await;
            run.print("e2e", round, "bus");
            bus.push(run);
            self.drop_topic(&topic).await;

            let topic = self.topic("bench-e2e-bare").await;
            let run = self.bare_e2e(index, &topic).await;
            run.print("e2e", round, "bare");
            bare.push(run);
            self.drop_topic(&topic).await;
        }
        self.compare(
            "e2e",
            "bus (encode, publish, consume, decode)",
            &bus,
            "bare rdkafka (bytes out, bytes in)",
            &bare,
        );
    }

    async fn bus_e2e(&self, index: usize, topic: &str) -> Run {
        let bus = &self.producers[index].bus;
        let consumer = self.bus_consumer(index, topic).await;
        let expected = self.arrivals.len();
        let meter = Meter::start(self.plan.broker_pid);
        let reader = tokio::spawn(bus_read(consumer, Arc::clone(&self.codec), expected));
        publish_in_chunks(
            bus,
            &self.codec,
            topic,
            &self.arrivals,
            self.plan.chunk,
            self.plan.window,
        )
        .await;
        let produced = meter.started.elapsed();
        let consumer = reader.await.expect("the reader");
        let mut run = meter.stop(expected);
        run.note = format!("produced after {:.2} s", produced.as_secs_f64());
        drop(consumer);
        run
    }

    async fn bare_e2e(&self, index: usize, topic: &str) -> Run {
        let consumer = self.bare_consumer(topic);
        let expected = self.payloads.len();
        let meter = Meter::start(self.plan.broker_pid);
        let reader = bare_read(consumer, expected);
        bare_send(&self.producers[index].bare, topic, &self.payloads).await;
        let produced = meter.started.elapsed();
        let consumer = tokio::task::spawn_blocking(move || reader.join())
            .await
            .expect("the reader")
            .expect("the reader read everything");
        let mut run = meter.stop(expected);
        drop(consumer);
        run.note = format!("produced after {:.2} s", produced.as_secs_f64());
        run
    }

    async fn bus_consumer(&self, index: usize, topic: &str) -> Box<dyn Consumer> {
        self.producers[index]
            .bus
            .subscribe(SubscribeOptions::topics([topic.to_string()]))
            .await
            .expect("subscribing")
    }

    fn bare_consumer(&self, topic: &str) -> BaseConsumer {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.plan.brokers)
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            // librdkafka wants a group id even for an assignment; this one never joins.
            .set("group.id", unique_name("bench-bare-reader"));
        for (key, value) in &self.plan.consumer {
            config.set(key, value);
        }
        let consumer: BaseConsumer = config.create().expect("a bare consumer");
        let mut list = TopicPartitionList::new();
        for partition in 0..PARTITIONS as i32 {
            list.add_partition_offset(topic, partition, Offset::Beginning)
                .expect("a partition");
        }
        consumer.assign(&list).expect("assigning");
        consumer
    }

    // --- consume -------------------------------------------------------------------------

    /// Reading alone: one topic filled once, read from the start by a fresh consumer each run.
    async fn consume(&mut self) {
        println!(
            "\n== consume only: a topic of {} arrivals read from the start ==",
            self.payloads.len()
        );
        let settings = self.plan.settings.clone();
        let index = self.producers(&settings).await;
        let topic = self.topic("bench-consume").await;
        bare_send(&self.producers[index].bare, &topic, &self.payloads).await;
        let expected = self.payloads.len();
        let (mut bus, mut bare) = (Vec::new(), Vec::new());
        for round in 1..=self.plan.rounds {
            let consumer = self.bus_consumer(index, &topic).await;
            let meter = Meter::start(self.plan.broker_pid);
            let consumer = bus_read(consumer, Arc::clone(&self.codec), expected).await;
            let run = meter.stop(expected);
            drop(consumer);
            run.print("consume", round, "bus");
            bus.push(run);

            let consumer = self.bare_consumer(&topic);
            let meter = Meter::start(self.plan.broker_pid);
            let reader = bare_read(consumer, expected);
            let consumer = tokio::task::spawn_blocking(move || reader.join())
                .await
                .expect("the reader")
                .expect("the reader read everything");
            let run = meter.stop(expected);
            drop(consumer);
            run.print("consume", round, "bare");
            bare.push(run);
        }
        self.drop_topic(&topic).await;
        self.compare(
            "consume",
            "bus (recv_batch, decode)",
            &bus,
            "bare rdkafka BaseConsumer (poll)",
            &bare,
        );
    }

    // --- python --------------------------------------------------------------------------

    fn python(&mut self, runtime: &Runtime) {
        println!(
            "\n== transit against a seed-style Python producer (confluent-kafka + fastavro), {} ==",
            self.plan.settings.label()
        );
        let Some(python) = std::env::var_os("TRANSIT_TEST_PYTHON") else {
            println!(
                "python: skipped: TRANSIT_TEST_PYTHON is not set (source scripts/python.sh && \
                 need_python_venv, or run scripts/bench-kafka.sh)"
            );
            self.row(
                "python",
                "seed-style Python producer",
                "skipped".into(),
                "TRANSIT_TEST_PYTHON not set".into(),
            );
            return;
        };
        let input = write_arrivals(&self.arrivals);
        let settings = self.plan.settings.clone();
        let index = runtime.block_on(self.producers(&settings));
        // The schema ids, as they are in the records transit writes.
        let (key, value, _) = &self.payloads[0];
        let key_id = u32::from_be_bytes(key[1..5].try_into().expect("a framed key"));
        let value_id = u32::from_be_bytes(value[1..5].try_into().expect("a framed value"));
        let (mut bus, mut peer) = (Vec::new(), Vec::new());
        for round in 1..=self.plan.rounds {
            let topic = runtime.block_on(self.topic("bench-bus"));
            let run = runtime.block_on(self.bus_produce(index, &topic));
            run.print("python", round, "transit bus");
            bus.push(run);
            runtime.block_on(self.drop_topic(&topic));

            let topic = runtime.block_on(self.topic("bench-python"));
            let run = self.python_produce(&python, &input, &topic, key_id, value_id);
            run.print("python", round, "python");
            if self.plan.test {
                runtime.block_on(self.check_python_bytes(&topic));
            }
            peer.push(run);
            runtime.block_on(self.drop_topic(&topic));
        }
        let _ = std::fs::remove_file(&input);
        self.compare(
            "python",
            "transit bus",
            &bus,
            "Python (confluent-kafka + fastavro)",
            &peer,
        );
    }

    fn python_produce(
        &self,
        python: &std::ffi::OsStr,
        input: &Path,
        topic: &str,
        key_id: u32,
        value_id: u32,
    ) -> Run {
        let mut command = std::process::Command::new(python);
        command
            .arg(PYTHON_PEER)
            .args(["--brokers", &self.plan.brokers, "--topic", topic])
            .arg("--arrivals")
            .arg(input)
            .args(["--key-schema-id", &key_id.to_string()])
            .args(["--value-schema-id", &value_id.to_string()]);
        for (key, value) in self.plan.settings.properties() {
            command.args(["-X", &format!("{key}={value}")]);
        }
        if let Some(pid) = self.plan.broker_pid {
            command.args(["--broker-pid", &pid.to_string()]);
        }
        let output = command.output().expect("running the Python peer");
        assert!(
            output.status.success(),
            "the Python peer failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .rev()
            .find(|line| line.starts_with('{'))
            .unwrap_or_else(|| panic!("no JSON result from the Python peer:\n{stdout}"));
        let result: serde_json::Value = serde_json::from_str(line).expect("the peer's JSON");
        let number = |key: &str| result[key].as_f64().unwrap_or_default();
        let delivered = number("delivered") as usize;
        assert_eq!(
            delivered,
            self.arrivals.len(),
            "the Python peer's records were not all acknowledged: {line}"
        );
        let mut threads: Vec<(String, f64)> = result["threads"]
            .as_object()
            .map(|threads| {
                threads
                    .iter()
                    .map(|(name, cpu)| (name.clone(), cpu.as_f64().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        threads.sort_by(|a, b| b.1.total_cmp(&a.1));
        Run {
            records: delivered,
            seconds: number("seconds"),
            client_cpu: number("cpu_seconds"),
            broker_cpu: result["broker_cpu_seconds"].as_f64(),
            threads,
            load: result["load"].as_str().unwrap_or("?").to_string(),
            note: format!(
                "main thread {:.2} s cpu, {:.0} ns/record encoding + produce()",
                number("main_thread_cpu_seconds"),
                number("main_thread_cpu_seconds") * 1e9 / delivered.max(1) as f64
            ),
        }
    }

    /// In test mode: the Python peer's records are transit's, byte for byte (key and value),
    /// and decode with transit's codec.
    async fn check_python_bytes(&self, topic: &str) {
        let mut consumer = self.producers[0]
            .bus
            .subscribe(SubscribeOptions::topics([topic.to_string()]))
            .await
            .expect("subscribing");
        let mut got: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(self.payloads.len());
        let mut batch = Vec::new();
        while got.len() < self.payloads.len() {
            batch.clear();
            tokio::time::timeout(STALL, consumer.recv_batch(&mut batch, 4096))
                .await
                .expect("the Python peer's records arrive")
                .expect("receiving");
            for delivery in &batch {
                self.codec
                    .decode(delivery)
                    .await
                    .expect("transit decodes the Python peer's record");
                got.push((
                    delivery.key.as_deref().unwrap_or_default().to_vec(),
                    delivery.value.as_deref().unwrap_or_default().to_vec(),
                ));
            }
        }
        let mut expected: Vec<(Vec<u8>, Vec<u8>)> = self
            .payloads
            .iter()
            .map(|(k, v, _)| (k.clone(), v.clone()))
            .collect();
        got.sort();
        expected.sort();
        assert!(
            got == expected,
            "the Python peer's records differ from transit's bytes"
        );
        println!(
            "python: its {} records are transit's bytes (key and value) and decode",
            got.len()
        );
    }

    // --- reporting -----------------------------------------------------------------------

    fn compare(&mut self, part: &str, a_name: &str, a: &[Run], b_name: &str, b: &[Run]) {
        let (a_rate, b_rate) = (median_rate(a), median_rate(b));
        // Each round's two runs are neighbours in time, so their ratio is the one least moved
        // by whatever else the machine does.
        let ratios: Vec<f64> = a.iter().zip(b).map(|(a, b)| a.rate() / b.rate()).collect();
        let (low, high) = ratios
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), r| (l.min(*r), h.max(*r)));
        let paired = median(&ratios);
        println!(
            "{part} medians: {a_name} {}/s, {b_name} {}/s; ratio {:.2} (median of the rounds' \
             ratios {paired:.2}, rounds {low:.2}..{high:.2})",
            rate(a_rate),
            rate(b_rate),
            a_rate / b_rate,
        );
        for (name, runs) in [(a_name, a), (b_name, b)] {
            let run = median_run(runs);
            println!("  {name}: {}", run.limits());
        }
        self.row(
            part,
            a_name,
            format!("{}/s", rate(a_rate)),
            median_run(a).limits(),
        );
        self.row(
            part,
            b_name,
            format!("{}/s", rate(b_rate)),
            median_run(b).limits(),
        );
        self.row(
            part,
            "ratio of the medians",
            format!("{:.2}", a_rate / b_rate),
            format!(
                "median of the {} rounds' ratios {paired:.2}, rounds {low:.2}..{high:.2}",
                ratios.len()
            ),
        );
    }

    fn row(&mut self, part: &str, figure: &str, value: String, note: String) {
        let mut part = part.to_string();
        if !self.plan.consumer.is_empty() && matches!(part.as_str(), "e2e" | "consume") {
            let settings: Vec<String> = self
                .plan
                .consumer
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            part = format!("{part} ({})", settings.join(", "));
        }
        self.rows.push([part, figure.to_string(), value, note]);
    }

    fn summary(&self) {
        println!(
            "\n## kafka_throughput summary ({} arrivals a run, medians of {} round(s) (sweep {}), {}; load average now {})\n",
            self.plan.arrivals,
            self.plan.rounds,
            self.plan.sweep_rounds,
            self.plan.settings.label(),
            load_average()
        );
        println!("| part | figure | median | where the time goes |");
        println!("|---|---|---|---|");
        for [part, figure, value, note] in &self.rows {
            println!("| {part} | {figure} | {value} | {note} |");
        }
        let _ = std::io::stdout().flush();
    }
}

// ---------------------------------------------------------------------------------------------
// The measured paths

/// Arrivals as the simulation makes them. Their times keep the simulated spacing but end now:
/// Apache Kafka 4 refuses timestamps more than an hour ahead (`log.message.timestamp.after.max.ms`),
/// and a million arrivals are weeks of simulated service.
fn arrivals(n: usize) -> Vec<(ArrivalEvent, i64)> {
    let mut sim = transit_sim::testing::simulation(SimConfig::default());
    let mut tick = TickEvents::default();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        sim.step(&mut tick);
        out.extend(tick.arrivals.iter().map(|a| (*a, tick.time.0)));
    }
    out.truncate(n);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let shift = out.last().map_or(0, |(_, last)| now - last);
    for (_, time) in &mut out {
        *time += shift;
    }
    out
}

/// Encodes and publishes `arrivals` through the bus in chunks, `window` chunks in flight, and
/// returns when the broker has acknowledged every record.
async fn publish_in_chunks(
    bus: &KafkaBus,
    codec: &TopicCodec<ArrivalEvent>,
    topic: &str,
    arrivals: &[(ArrivalEvent, i64)],
    chunk: usize,
    window: usize,
) {
    let topic: Arc<str> = Arc::from(topic);
    let mut in_flight = JoinSet::new();
    let mut published = 0;
    for part in arrivals.chunks(chunk.max(1)) {
        let records: Vec<Record> = part
            .iter()
            .map(|(arrival, time)| codec.record(arrival, *time).expect("encoding"))
            .collect();
        while in_flight.len() >= window {
            published += joined(in_flight.join_next().await);
        }
        let (bus, topic) = (bus.clone(), Arc::clone(&topic));
        in_flight.spawn(async move {
            bus.publish_batch(&topic, records)
                .await
                .map(|positions| positions.len())
        });
    }
    while !in_flight.is_empty() {
        published += joined(in_flight.join_next().await);
    }
    assert_eq!(published, arrivals.len(), "every record acknowledged");
}

fn joined(
    result: Option<Result<Result<usize, transit_core::bus::PublishError>, tokio::task::JoinError>>,
) -> usize {
    result
        .expect("a chunk in flight")
        .expect("the publishing task")
        .unwrap_or_else(|error| panic!("publishing: {}", error.error))
}

/// Reads `expected` records through the bus, decoding each value; returns the consumer.
async fn bus_read(
    mut consumer: Box<dyn Consumer>,
    codec: Arc<TopicCodec<ArrivalEvent>>,
    expected: usize,
) -> Box<dyn Consumer> {
    let mut batch = Vec::with_capacity(4096);
    let mut received = 0;
    while received < expected {
        batch.clear();
        tokio::time::timeout(STALL, consumer.recv_batch(&mut batch, 4096))
            .await
            .unwrap_or_else(|_| panic!("no record for {STALL:?}: {received} of {expected} read"))
            .expect("receiving");
        for delivery in &batch {
            std::hint::black_box(codec.decode_value_cached(delivery).expect("decoding"));
        }
        received += batch.len();
    }
    consumer
}

/// Reads `expected` records with a bare consumer, on a thread of its own.
fn bare_read(consumer: BaseConsumer, expected: usize) -> std::thread::JoinHandle<BaseConsumer> {
    std::thread::Builder::new()
        .name("bare-reader".into())
        .spawn(move || {
            let mut received = 0;
            let mut last = Instant::now();
            while received < expected {
                match consumer.poll(Duration::from_millis(100)) {
                    Some(message) => {
                        let message = message.expect("consuming");
                        std::hint::black_box(message.payload().map(<[u8]>::len));
                        received += 1;
                        last = Instant::now();
                    }
                    None => assert!(
                        last.elapsed() < STALL,
                        "no record for {STALL:?}: {received} of {expected} read"
                    ),
                }
            }
            // Handed back, so its librdkafka threads are still counted when the run is.
            consumer
        })
        .expect("a reader thread")
}

/// Enqueues every payload with a bare producer (waiting while librdkafka's queue is full, as
/// the bus does), then awaits every acknowledgement.
async fn bare_send(producer: &FutureProducer, topic: &str, payloads: &[Payload]) {
    let mut deliveries = Vec::with_capacity(payloads.len());
    for (key, value, time) in payloads {
        let mut record = FutureRecord::to(topic)
            .key(key.as_slice())
            .payload(value.as_slice())
            .timestamp(*time);
        loop {
            match producer.send_result(record) {
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
            .unwrap_or_else(|(error, _)| panic!("the broker refused a record: {error}"));
    }
}

/// The arrivals as JSON lines for the Python peer: `{"timestamp_ms": .., "value": {..}}`, the
/// value in the field names and symbols of `arrival.avsc`.
fn write_arrivals(arrivals: &[(ArrivalEvent, i64)]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{}.jsonl", unique_name("bench-arrivals")));
    let file = std::fs::File::create(&path).expect("creating the arrivals file");
    let mut out = std::io::BufWriter::new(file);
    for (arrival, time) in arrivals {
        let line = serde_json::json!({ "timestamp_ms": time, "value": arrival });
        writeln!(out, "{line}").expect("writing the arrivals file");
    }
    out.flush().expect("writing the arrivals file");
    path
}

// ---------------------------------------------------------------------------------------------
// Measuring: wall time, CPU per thread of this process, CPU of the broker, load

/// One measured run.
struct Run {
    records: usize,
    seconds: f64,
    /// CPU seconds of the producing (and consuming) process during the run.
    client_cpu: f64,
    /// CPU seconds of the broker JVM during the run, when its pid is known.
    broker_cpu: Option<f64>,
    /// CPU seconds by thread name, most first.
    threads: Vec<(String, f64)>,
    load: String,
    note: String,
}

impl Run {
    fn rate(&self) -> f64 {
        self.records as f64 / self.seconds.max(f64::EPSILON)
    }

    fn print(&self, part: &str, round: usize, side: &str) {
        println!(
            "{part:<8} round {round}  {side:<12} {:>8} records in {:>7.3} s  {:>9}/s  {}  load {}{}",
            self.records,
            self.seconds,
            rate(self.rate()),
            self.limits(),
            self.load,
            if self.note.is_empty() {
                String::new()
            } else {
                format!("  ({})", self.note)
            }
        );
    }

    /// Where the CPU went, as shares of one core over the run's wall time.
    fn limits(&self) -> String {
        let share = |cpu: f64| format!("{:.0}%", 100.0 * cpu / self.seconds.max(f64::EPSILON));
        let per_record = |cpu: f64| micros(cpu, self.records);
        let mut text = format!(
            "client {} = {}",
            share(self.client_cpu),
            per_record(self.client_cpu)
        );
        let top: Vec<String> = self
            .threads
            .iter()
            .take(3)
            .filter(|(_, cpu)| *cpu > 0.0)
            .map(|(name, cpu)| format!("{name} {}", share(*cpu)))
            .collect();
        if !top.is_empty() {
            let _ = write!(text, " [{}]", top.join(", "));
        }
        match self.broker_cpu {
            Some(cpu) => {
                let _ = write!(text, "; broker {} = {}", share(cpu), per_record(cpu));
            }
            None => text.push_str("; broker ?"),
        }
        text
    }
}

struct Meter {
    started: Instant,
    threads: BTreeMap<u32, (String, u64)>,
    process: Option<u64>,
    broker: Option<(u32, u64)>,
}

impl Meter {
    fn start(broker_pid: Option<u32>) -> Self {
        let broker = broker_pid.and_then(|pid| process_ticks(pid).map(|ticks| (pid, ticks)));
        Self {
            threads: thread_ticks(),
            process: process_ticks(std::process::id()),
            broker,
            started: Instant::now(),
        }
    }

    fn stop(self, records: usize) -> Run {
        let seconds = self.started.elapsed().as_secs_f64();
        let after = thread_ticks();
        let broker_cpu = self.broker.and_then(|(pid, before)| {
            process_ticks(pid).map(|after| after.saturating_sub(before) as f64 / CLOCK_TICKS)
        });
        let mut by_name: BTreeMap<String, f64> = BTreeMap::new();
        for (tid, (name, ticks)) in &after {
            let before = self
                .threads
                .get(tid)
                .map_or(0, |(_, before_ticks)| *before_ticks);
            *by_name.entry(name.clone()).or_default() +=
                ticks.saturating_sub(before) as f64 / CLOCK_TICKS;
        }
        // The process's own count also holds threads that ended during the run.
        let client_cpu = match (self.process, process_ticks(std::process::id())) {
            (Some(before), Some(after)) => after.saturating_sub(before) as f64 / CLOCK_TICKS,
            _ => by_name.values().sum(),
        };
        let ended = client_cpu - by_name.values().sum::<f64>();
        if ended >= 0.01 {
            by_name.insert("(ended threads)".into(), ended);
        }
        let mut threads: Vec<(String, f64)> = by_name.into_iter().collect();
        threads.sort_by(|a, b| b.1.total_cmp(&a.1));
        Run {
            records,
            seconds,
            client_cpu,
            broker_cpu,
            threads,
            load: load_average(),
            note: String::new(),
        }
    }
}

/// CPU ticks (user + system) of each thread of this process, with its name.
fn thread_ticks() -> BTreeMap<u32, (String, u64)> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        if let Some((name, ticks)) = parse_stat(&stat) {
            out.insert(tid, (name, ticks));
        }
    }
    out
}

/// CPU ticks (user + system) of a whole process, its threads included.
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat).map(|(_, ticks)| ticks)
}

/// The name and utime + stime of a `/proc/.../stat` line.
fn parse_stat(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat[open + 1..close].to_string();
    // After the name: state (field 3) ... utime (14), stime (15).
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn median_rate(runs: &[Run]) -> f64 {
    median(&runs.iter().map(Run::rate).collect::<Vec<_>>())
}

/// The run whose rate is the median (the lower middle one for an even count).
fn median_run(runs: &[Run]) -> &Run {
    let mut order: Vec<&Run> = runs.iter().collect();
    order.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    order[(order.len() - 1) / 2]
}

/// CPU seconds per record, in microseconds.
fn micros(cpu_seconds: f64, records: usize) -> String {
    format!("{:.2} µs/rec", cpu_seconds * 1e6 / records.max(1) as f64)
}

fn per_second(n: usize, seconds: f64) -> String {
    format!("{}/s", rate(n as f64 / seconds.max(f64::EPSILON)))
}

/// A rate in records, readable: 812 k, 1.23 M.
fn rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2} M", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.0} k", per_second / 1e3)
    } else {
        format!("{per_second:.0}")
    }
}
