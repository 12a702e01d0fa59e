//! How long a turnstile counter takes to process again after it (re)starts, by the size of
//! the count table it restores from, on Apache Kafka.
//!
//! A counter killed with `kill -9` and started again is a new group member: on its first
//! assignment it reads the compacted count table back (one record per station and line) and
//! only then processes entries. For each table size this publishes that many counts, then
//! starts a counter in a fresh group with entries waiting, and reports:
//! - `restore`: reading the table back into the counter's state (from its own log line's
//!   figures: the time between the assignment and the restored state);
//! - `first commit`: from `run` to the first batch processed and committed in a transaction,
//!   the figure an operator sees (it includes joining the group).
//!
//! `scripts/kafka.sh cargo bench --bench restore` (sizes 1 000, 10 000, 100 000); under
//! `cargo test` it runs one small size as a check that it works. Medians of 3 runs each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use transit_core::bus::{EventBus, Record, TopicSpec};
use transit_core::codec::{SchemaRegistry, TopicCodec};
use transit_core::event::{TurnstileCount, TurnstileEvent};
use transit_core::metrics::PipelineMetrics;
use transit_core::model::StationId;
use transit_core::network::cta;
use transit_core::processor::read_table;
use transit_core::processor::turnstile_counts::TurnstileCounter;
use transit_core::testing::unique_name;
use transit_core::topics::Topics;
use transit_kafka::{KafkaBus, KafkaConfig};
use transit_mem::MemRegistry;

const PARTITIONS: u32 = 4;
const ENTRIES_WAITING: usize = 1_000;
const RUNS: usize = 3;

fn brokers() -> Result<String, String> {
    std::env::var("TRANSIT_TEST_KAFKA").map_err(|_| {
        "TRANSIT_TEST_KAFKA is not set: this benchmark needs a Kafka broker. Run it with \
         scripts/kafka.sh cargo bench --bench restore"
            .to_string()
    })
}

/// A count table of `keys` stations, and entries waiting for a counter.
async fn prepare(
    bus: &KafkaBus,
    registry: &Arc<dyn SchemaRegistry>,
    keys: u32,
) -> Result<Topics, Box<dyn std::error::Error>> {
    let topics = Topics::new(unique_name("restore").replace('-', "_"));
    bus.create_topic(&TopicSpec::new(topics.turnstile_entries(), PARTITIONS))
        .await?;
    bus.create_topic(&TopicSpec::new(topics.turnstile_counts(), 1).compacted())
        .await?;
    let table =
        TopicCodec::<TurnstileCount>::register(Arc::clone(registry), topics.turnstile_counts())
            .await?;
    let entries =
        TopicCodec::<TurnstileEvent>::register(Arc::clone(registry), topics.turnstile_entries())
            .await?;
    let counts: Vec<Record> = (0..keys)
        .map(|i| {
            table.record(
                &TurnstileCount {
                    station_id: StationId(100_000 + i),
                    line: cta::BLUE,
                    entries: 1,
                    source_partition: i % PARTITIONS,
                    source_offset: 0,
                },
                0,
            )
        })
        .collect::<Result<_, _>>()?;
    for chunk in counts.chunks(10_000) {
        bus.publish_batch(&topics.turnstile_counts(), chunk.to_vec())
            .await?;
    }
    let name: Arc<str> = Arc::from("Benchmark");
    let waiting: Vec<Record> = (0..ENTRIES_WAITING as u32)
        .map(|i| {
            entries.record(
                &TurnstileEvent {
                    station_id: StationId(100_000 + i % keys.max(1)),
                    station_name: Arc::clone(&name),
                    line: cta::BLUE,
                },
                0,
            )
        })
        .collect::<Result<_, _>>()?;
    bus.publish_batch(&topics.turnstile_entries(), waiting)
        .await?;
    Ok(topics)
}

/// (restore, first commit) of one counter started on `topics`.
async fn measure(
    bus: &KafkaBus,
    registry: &Arc<dyn SchemaRegistry>,
    topics: &Topics,
) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    // The restore alone: the same table read as the counter reads it.
    let started = Instant::now();
    let rows = read_table(bus, &topics.turnstile_counts()).await?;
    let restore = started.elapsed();
    if rows.is_empty() {
        return Err("the count table reads back empty".into());
    }

    let metrics = PipelineMetrics::new();
    let shared: Arc<dyn EventBus> = Arc::new(bus.clone());
    let counter = TurnstileCounter::new(shared, Arc::clone(registry), topics, Arc::clone(&metrics))
        .await?
        .in_group(unique_name("restore-group"));
    let stop = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(counter.run(stop.clone()));
    let deadline = started + Duration::from_secs(120);
    let first_commit = loop {
        let published = metrics
            .snapshot()
            .published
            .get(&topics.turnstile_counts())
            .copied()
            .unwrap_or_default();
        if published > 0 {
            break started.elapsed();
        }
        if Instant::now() > deadline || task.is_finished() {
            stop.cancel();
            return Err("the counter never committed a batch".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    stop.cancel();
    task.await??;
    Ok((restore, first_commit))
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

async fn run(sizes: &[u32], runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let bus = KafkaBus::connect(KafkaConfig::new(brokers()?)).await?;
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    println!(
        "{:>10} {:>14} {:>14} {:>18}",
        "keys", "restore (ms)", "keys/s", "first commit (ms)"
    );
    for &keys in sizes {
        let mut restores = Vec::new();
        let mut commits = Vec::new();
        for _ in 0..runs {
            let topics = prepare(&bus, &registry, keys).await?;
            let (restore, commit) = measure(&bus, &registry, &topics).await?;
            restores.push(restore);
            commits.push(commit);
        }
        let restore = median(restores);
        println!(
            "{keys:>10} {:>14.1} {:>14.0} {:>18.1}",
            restore.as_secs_f64() * 1e3,
            f64::from(keys) / restore.as_secs_f64().max(f64::EPSILON),
            median(commits).as_secs_f64() * 1e3
        );
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    // `cargo bench` passes `--bench`; `cargo test` runs benches without it, as a quick check.
    let measuring = std::env::args().any(|arg| arg == "--bench");
    let (sizes, runs): (&[u32], usize) = if measuring {
        (&[1_000, 10_000, 100_000], RUNS)
    } else {
        (&[1_000], 1)
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(sizes, runs)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
