//! The stream processors on the in-memory bus: the station table, turnstile counts that
//! survive restarts without counting twice, and bad records on the dead-letter topic.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use transit_core::bus::{Delivery, Record, SubscribeOptions};
use transit_core::codec::{AvroRecord, Decoder, SchemaRegistry};
use transit_core::deadletter;
use transit_core::event::{
    ArrivalEvent, HeadwayEvent, HeadwayKey, HeadwayState, StationEvent, StationLineKey,
    TurnstileCount, TurnstileEvent,
};
use transit_core::metrics::PipelineMetrics;
use transit_core::model::{TrainId, TrainStatus};
use transit_core::network::cta;
use transit_core::network::{embedded_station_rows, Network};
use transit_core::processor::headways::{self, HeadwayProcessor, HeadwayRules};
use transit_core::processor::read_table;
use transit_core::processor::source::publish_station_rows;
use transit_core::processor::stations::StationProcessor;
use transit_core::processor::turnstile_counts::TurnstileCounter;
use transit_core::topics::Topics;
use transit_core::EventBus;
use transit_mem::{MemBus, MemRegistry};
use transit_sim::driver::{self, DriverConfig, Pace, SimulationCodecs};
use transit_sim::testing::simulation;
use transit_sim::{SimConfig, SimTime, Simulation};

struct Bed {
    bus: Arc<dyn EventBus>,
    mem: MemBus,
    registry: Arc<dyn SchemaRegistry>,
    topics: Topics,
    metrics: Arc<PipelineMetrics>,
}

fn bed() -> Bed {
    let mem = MemBus::new();
    Bed {
        bus: Arc::new(mem.clone()),
        mem,
        registry: Arc::new(MemRegistry::new()),
        topics: Topics::default(),
        metrics: PipelineMetrics::new(),
    }
}

/// Polls `check` until it holds, failing after a while.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn dead_letters(bed: &Bed) -> Vec<Delivery> {
    read_table_all(bed, &bed.topics.dead_letter()).await
}

/// Every record of a topic (not compacted per key).
async fn read_table_all(bed: &Bed, topic: &str) -> Vec<Delivery> {
    let Some((_, end)) = bed.mem.offsets(topic, 0) else {
        return Vec::new();
    };
    let mut consumer = bed
        .bus
        .subscribe(SubscribeOptions::topics([topic]))
        .await
        .unwrap();
    transit_core::testing::receive(consumer.as_mut(), end as usize).await
}

fn header(delivery: &Delivery, name: &str) -> String {
    delivery
        .header(name)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_station_table_has_one_station_per_line_and_reports_the_rest() {
    let bed = bed();
    let rows = embedded_station_rows().unwrap();
    let published = publish_station_rows(
        bed.bus.as_ref(),
        Arc::clone(&bed.registry),
        &bed.topics,
        &rows,
        0,
    )
    .await
    .unwrap();
    assert_eq!(published, rows.len() as u64);
    let processor = StationProcessor::new(
        Arc::clone(&bed.bus),
        Arc::clone(&bed.registry),
        &bed.topics,
        Arc::clone(&bed.metrics),
    )
    .await
    .unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(processor.run(stop.clone()));
    let network = Network::embedded().unwrap();
    let report = network.report();
    let refused = report.off_line_rows as u64 + report.multi_line_stops.len() as u64;
    eventually("every row processed", || async {
        let committed = bed
            .mem
            .committed(transit_core::processor::stations::CONSUMER);
        committed.values().sum::<u64>() == rows.len() as u64
    })
    .await;
    stop.cancel();
    let stats = task.await.unwrap().unwrap();
    assert_eq!(stats.rows, rows.len() as u64);
    assert_eq!(stats.off_line, report.off_line_rows as u64);
    assert_eq!(stats.multi_line, report.multi_line_stops.len() as u64);

    let decoder = Decoder::<StationEvent>::new(Arc::clone(&bed.registry)).unwrap();
    let mut table: HashMap<StationLineKey, StationEvent> = HashMap::new();
    for delivery in read_table(bed.bus.as_ref(), &bed.topics.stations())
        .await
        .unwrap()
    {
        let station = decoder
            .decode(delivery.value.as_deref().unwrap())
            .await
            .unwrap();
        let key = StationLineKey {
            station_id: station.station_id,
            line: station.line,
        };
        assert!(
            table.insert(key, station).is_none(),
            "one record per key after restore"
        );
    }
    let expected: usize = network.lines().map(|l| l.len()).sum();
    assert_eq!(table.len(), expected);
    for line in network.lines() {
        for station in line.stations() {
            let key = StationLineKey {
                station_id: station.id,
                line: line.id(),
            };
            let got = &table[&key];
            assert_eq!(&*got.station_name, station.name, "{key:?}");
            assert_eq!(got.order, station.order);
        }
    }
    assert!(
        table.values().any(|s| &*s.station_name == "95th/Dan Ryan"),
        "the misspelt row is reconciled"
    );

    let dead = dead_letters(&bed).await;
    assert_eq!(
        dead.len() as u64,
        refused,
        "every refused row is dead-lettered"
    );
    assert!(dead
        .iter()
        .all(|d| header(d, deadletter::HEADER_TOPIC) == bed.topics.station_rows()));
    assert!(dead
        .iter()
        .any(|d| header(d, deadletter::HEADER_REASON).contains("none of the Blue, Red and Green")));
    let metrics = bed.metrics.snapshot();
    assert_eq!(metrics.dead_lettered.values().sum::<u64>(), refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_is_not_a_station_row_goes_to_the_dead_letter_topic() {
    let bed = bed();
    let processor = StationProcessor::new(
        Arc::clone(&bed.bus),
        Arc::clone(&bed.registry),
        &bed.topics,
        Arc::clone(&bed.metrics),
    )
    .await
    .unwrap();
    let rows = embedded_station_rows().unwrap();
    let good: Vec<_> = rows
        .iter()
        .filter(|r| r.blue && !r.red && !r.green)
        .take(2)
        .cloned()
        .collect();
    bed.bus
        .publish_batch(
            &bed.topics.station_rows(),
            vec![Record::new(
                "k",
                Bytes::from_static(b"\x00\x00\x00\x00\x63junk"),
                0,
            )],
        )
        .await
        .unwrap();
    publish_station_rows(
        bed.bus.as_ref(),
        Arc::clone(&bed.registry),
        &bed.topics,
        &good,
        0,
    )
    .await
    .unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(processor.run(stop.clone()));
    eventually("all three records processed", || async {
        bed.mem
            .committed(transit_core::processor::stations::CONSUMER)
            .values()
            .sum::<u64>()
            == 3
    })
    .await;
    stop.cancel();
    let stats = task.await.unwrap().unwrap();
    assert_eq!(stats.undecodable, 1);
    assert_eq!(
        stats.published, 1,
        "two directions of one station are one table row"
    );
    let dead = dead_letters(&bed).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(header(&dead[0], deadletter::HEADER_OFFSET), "0");
    assert!(
        header(&dead[0], deadletter::HEADER_REASON).contains("not a station row"),
        "{dead:?}"
    );
    assert_eq!(
        dead[0].value.as_deref(),
        Some(&b"\x00\x00\x00\x00\x63junk"[..]),
        "the record itself is kept"
    );
}

/// Publishes `ticks` ticks of the simulation from `start`; returns the turnstile entries
/// published per station and line.
async fn simulate(bed: &Bed, sim: &mut Simulation, until: SimTime) -> u64 {
    driver::create_simulation_topics(bed.bus.as_ref(), &bed.topics, 4)
        .await
        .unwrap();
    let codecs = SimulationCodecs::register(Arc::clone(&bed.registry), &bed.topics)
        .await
        .unwrap();
    let config = DriverConfig {
        pace: Pace::FlatOut,
        until: Some(until),
        progress_every: Duration::from_secs(60),
        ..DriverConfig::default()
    };
    let stats = driver::run(
        bed.bus.as_ref(),
        sim,
        &codecs,
        &config,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    stats
        .published
        .get(&bed.topics.turnstile_entries())
        .copied()
        .unwrap_or(0)
}

/// The entries on the topic, counted directly.
async fn expected_counts(bed: &Bed) -> HashMap<StationLineKey, u64> {
    let decoder = Decoder::<TurnstileEvent>::new(Arc::clone(&bed.registry)).unwrap();
    let topic = bed.topics.turnstile_entries();
    let total: u64 = (0..4)
        .map(|p| bed.mem.offsets(&topic, p).map_or(0, |(_, end)| end))
        .sum();
    let mut consumer = bed
        .bus
        .subscribe(SubscribeOptions::topics([topic]))
        .await
        .unwrap();
    let mut counts = HashMap::new();
    for delivery in transit_core::testing::receive(consumer.as_mut(), total as usize).await {
        let Ok(entry) = decoder.decode(delivery.value.as_deref().unwrap()).await else {
            continue;
        };
        *counts
            .entry(StationLineKey {
                station_id: entry.station_id,
                line: entry.line,
            })
            .or_insert(0) += 1;
    }
    counts
}

/// The latest value of each key of the table `topic`, decoded.
async fn table_rows<E: AvroRecord>(bed: &Bed, topic: &str) -> Vec<E> {
    let decoder = Decoder::<E>::new(Arc::clone(&bed.registry)).unwrap();
    let mut rows = Vec::new();
    for delivery in read_table(bed.bus.as_ref(), topic).await.unwrap() {
        rows.push(
            decoder
                .decode(delivery.value.as_deref().unwrap())
                .await
                .unwrap(),
        );
    }
    rows
}

async fn table_counts(bed: &Bed) -> HashMap<StationLineKey, u64> {
    table_rows::<TurnstileCount>(bed, &bed.topics.turnstile_counts())
        .await
        .into_iter()
        .map(|count| {
            let key = StationLineKey {
                station_id: count.station_id,
                line: count.line,
            };
            (key, count.entries)
        })
        .collect()
}

async fn counter(bed: &Bed, group: &str) -> TurnstileCounter {
    TurnstileCounter::new(
        Arc::clone(&bed.bus),
        Arc::clone(&bed.registry),
        &bed.topics,
        Arc::clone(&bed.metrics),
    )
    .await
    .unwrap()
    .in_group(group)
}

async fn run_until_caught_up(
    bed: &Bed,
    counter: TurnstileCounter,
    group: &str,
) -> transit_core::processor::turnstile_counts::CountStats {
    let stop = CancellationToken::new();
    let task = tokio::spawn(counter.run(stop.clone()));
    let topic = bed.topics.turnstile_entries();
    eventually("the counter caught up", || async {
        let ends: u64 = (0..4)
            .map(|p| bed.mem.offsets(&topic, p).map_or(0, |(_, end)| end))
            .sum();
        bed.mem.committed(group).values().sum::<u64>() == ends
    })
    .await;
    stop.cancel();
    task.await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_equal_the_entries_published_across_a_restart() {
    let bed = bed();
    let mut sim = simulation(SimConfig::default());
    let start = sim.now();
    let first = simulate(&bed, &mut sim, SimTime(start.0 + 3_600_000)).await;
    assert!(first > 1_000, "an hour of entries: {first}");
    let stats = run_until_caught_up(&bed, counter(&bed, "counts").await, "counts").await;
    assert_eq!(stats.counted, first);
    let keys = table_counts(&bed).await;
    assert_eq!(keys, expected_counts(&bed).await);

    // Stopped cleanly, started again on the same bus: it resumes after what it committed.
    let second = simulate(&bed, &mut sim, SimTime(start.0 + 2 * 3_600_000)).await;
    let stats = run_until_caught_up(&bed, counter(&bed, "counts").await, "counts").await;
    assert_eq!(
        stats.restored,
        keys.len() as u64,
        "state restored from the table"
    );
    assert_eq!(stats.counted, second, "only the new entries are read");
    assert_eq!(stats.replayed, 0);
    let expected = expected_counts(&bed).await;
    assert_eq!(expected.values().sum::<u64>(), first + second);
    assert_eq!(table_counts(&bed).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_commit_replays_entries_without_counting_them_twice() {
    let bed = bed();
    let mut sim = simulation(SimConfig::default());
    let start = sim.now();
    let first = simulate(&bed, &mut sim, SimTime(start.0 + 3_600_000)).await;
    run_until_caught_up(&bed, counter(&bed, "before-crash").await, "before-crash").await;
    let second = simulate(&bed, &mut sim, SimTime(start.0 + 2 * 3_600_000)).await;

    // The worst crash: counts published, no offset ever committed. A member of a group with
    // nothing committed reads every entry again from the start.
    let stats = run_until_caught_up(&bed, counter(&bed, "after-crash").await, "after-crash").await;
    assert_eq!(
        stats.replayed, first,
        "every entry already counted is recognised"
    );
    assert_eq!(stats.counted, second);
    assert_eq!(table_counts(&bed).await, expected_counts(&bed).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_that_does_not_decode_is_dead_lettered_and_counting_goes_on() {
    let bed = bed();
    let mut sim = simulation(SimConfig::default());
    let start = sim.now();
    let published = simulate(&bed, &mut sim, SimTime(start.0 + 1_800_000)).await;
    bed.bus
        .publish_batch(
            &bed.topics.turnstile_entries(),
            vec![Record::new("bad", Bytes::from_static(b"not avro"), 0)],
        )
        .await
        .unwrap();
    let stats = run_until_caught_up(&bed, counter(&bed, "bad").await, "bad").await;
    assert_eq!(stats.undecodable, 1);
    assert_eq!(stats.counted, published);
    let dead = dead_letters(&bed).await;
    assert_eq!(dead.len(), 1);
    // The member is named by its group, so two deployments on one cluster are told apart.
    assert_eq!(header(&dead[0], deadletter::HEADER_CONSUMER), "bad");
    assert!(header(&dead[0], deadletter::HEADER_REASON).contains("not a turnstile entry"));
}

/// Publishes the simulation up to `until` on a scratch bus, then only the entries that land on
/// `partitions` onto the bed's bus, in the same partitions (keys keep their partition).
async fn simulate_into_partitions(
    bed: &Bed,
    sim: &mut Simulation,
    until: SimTime,
    partitions: &[u32],
) -> u64 {
    let scratch_mem = MemBus::new();
    let scratch = Bed {
        bus: Arc::new(scratch_mem.clone()),
        mem: scratch_mem,
        registry: Arc::clone(&bed.registry),
        topics: bed.topics.clone(),
        metrics: PipelineMetrics::new(),
    };
    simulate(&scratch, sim, until).await;
    let topic = bed.topics.turnstile_entries();
    let mut published = 0;
    for &partition in partitions {
        let Some((start, end)) = scratch.mem.offsets(&topic, partition) else {
            continue;
        };
        let mut consumer = scratch
            .bus
            .subscribe(SubscribeOptions::topics([topic.clone()]))
            .await
            .unwrap();
        let total: u64 = (0..4)
            .map(|p| scratch.mem.offsets(&topic, p).map_or(0, |(_, e)| e))
            .sum();
        let records: Vec<Record> =
            transit_core::testing::receive(consumer.as_mut(), total as usize)
                .await
                .into_iter()
                .filter(|d| d.partition == partition)
                .map(|d| Record {
                    key: d.key,
                    value: d.value,
                    headers: d.headers,
                    timestamp_ms: d.timestamp_ms,
                    partition: Some(partition),
                })
                .collect();
        assert_eq!(records.len() as u64, end - start);
        published += records.len() as u64;
        bed.bus.publish_batch(&topic, records).await.unwrap();
    }
    published
}

async fn wait_caught_up(bed: &Bed, group: &str) {
    let topic = bed.topics.turnstile_entries();
    eventually("the group caught up", || async {
        let ends: u64 = (0..4)
            .map(|p| bed.mem.offsets(&topic, p).map_or(0, |(_, end)| end))
            .sum();
        bed.mem.committed(group).values().sum::<u64>() == ends
    })
    .await;
}

/// Watches the count table as counts are published (it is compacted: what is overwritten
/// goes), and returns, when stopped, every key whose count went backwards.
fn watch_counts(bed: &Bed) -> (CancellationToken, tokio::task::JoinHandle<Vec<String>>) {
    let stop = CancellationToken::new();
    let (bus, registry, topic) = (
        Arc::clone(&bed.bus),
        Arc::clone(&bed.registry),
        bed.topics.turnstile_counts(),
    );
    let watching = stop.clone();
    let task = tokio::spawn(async move {
        let decoder = Decoder::<TurnstileCount>::new(registry).unwrap();
        let mut consumer = bus
            .subscribe(SubscribeOptions::topics([topic]))
            .await
            .unwrap();
        let mut last: HashMap<StationLineKey, u64> = HashMap::new();
        let mut backwards = Vec::new();
        let mut batch = Vec::new();
        loop {
            batch.clear();
            tokio::select! {
                () = watching.cancelled() => break,
                received = consumer.recv_batch(&mut batch, 1024) => { received.unwrap(); }
            }
            for delivery in &batch {
                let count = decoder
                    .decode(delivery.value.as_deref().unwrap())
                    .await
                    .unwrap();
                let key = StationLineKey {
                    station_id: count.station_id,
                    line: count.line,
                };
                if let Some(&before) = last.get(&key) {
                    if count.entries < before {
                        backwards.push(format!("{key:?}: {before} -> {}", count.entries));
                    }
                }
                last.insert(key, count.entries);
            }
        }
        backwards
    });
    (stop, task)
}

/// The bug an operator hit: a member loses a partition and gets it back between two of its
/// batches, while another member counted it. The member must drop what it held on the revoke
/// and restore from the table on the new assignment, or it publishes its stale counts over
/// the newer ones and the entries counted in between are lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_lost_and_handed_back_between_two_batches_is_restored_not_stale() {
    let bed = bed();
    let mut sim = simulation(SimConfig::default());
    let start = sim.now();
    let hour = |n: i64| SimTime(start.0 + n * 3_600_000);
    let group = "regained";

    // A counts the first hour alone, then waits for more.
    simulate(&bed, &mut sim, hour(1)).await;
    TurnstileCounter::new(
        Arc::clone(&bed.bus),
        Arc::clone(&bed.registry),
        &bed.topics,
        Arc::clone(&bed.metrics),
    )
    .await
    .unwrap();
    let (stop_watching, watcher) = watch_counts(&bed);
    let stop_a = CancellationToken::new();
    let a = tokio::spawn(counter(&bed, group).await.run(stop_a.clone()));
    wait_caught_up(&bed, group).await;

    // B joins and takes partitions 1 and 3 (members share partitions by join order); entries
    // arrive only there, so A gets no batch while B counts.
    let stop_b = CancellationToken::new();
    let b = tokio::spawn(counter(&bed, group).await.run(stop_b.clone()));
    let on_b = simulate_into_partitions(&bed, &mut sim, hour(2), &[1, 3]).await;
    assert!(on_b > 100, "B has entries to count: {on_b}");
    wait_caught_up(&bed, group).await;
    let by_b = b_stats(stop_b, b).await;
    assert_eq!(by_b, on_b, "B counted what it was given");

    // B has left: A gets partitions 1 and 3 back and counts a third hour everywhere.
    simulate(&bed, &mut sim, hour(3)).await;
    wait_caught_up(&bed, group).await;
    stop_a.cancel();
    a.await.unwrap().unwrap();

    tokio::time::sleep(Duration::from_millis(100)).await;
    stop_watching.cancel();
    assert_eq!(
        watcher.await.unwrap(),
        Vec::<String>::new(),
        "counts went backwards"
    );
    assert_eq!(table_counts(&bed).await, expected_counts(&bed).await);
}

async fn b_stats(
    stop: CancellationToken,
    task: tokio::task::JoinHandle<
        Result<
            transit_core::processor::turnstile_counts::CountStats,
            transit_core::processor::ProcessorError,
        >,
    >,
) -> u64 {
    stop.cancel();
    task.await.unwrap().unwrap().counted
}

/// The station processor's state across the same rebalance: rows renamed by the member that
/// held the partition meanwhile are restored, so the name never goes back to the old one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn station_rows_of_a_partition_lost_and_handed_back_are_restored_not_stale() {
    use transit_core::bus::TopicSpec;
    use transit_core::codec::TopicCodec;
    use transit_core::event::StationRow;

    let bed = bed();
    let group = "stations-regained";
    let topic = bed.topics.station_rows();
    bed.bus
        .create_topic(&TopicSpec::new(topic.clone(), 2))
        .await
        .unwrap();
    let rows = embedded_station_rows().unwrap();
    publish_station_rows(
        bed.bus.as_ref(),
        Arc::clone(&bed.registry),
        &bed.topics,
        &rows,
        0,
    )
    .await
    .unwrap();
    let codec = TopicCodec::<StationRow>::register(Arc::clone(&bed.registry), topic.clone())
        .await
        .unwrap();
    let processor = || async {
        StationProcessor::new(
            Arc::clone(&bed.bus),
            Arc::clone(&bed.registry),
            &bed.topics,
            Arc::clone(&bed.metrics),
        )
        .await
        .unwrap()
        .in_group(group)
    };
    let caught_up = || async {
        let end: u64 = (0..2)
            .map(|p| bed.mem.offsets(&topic, p).map_or(0, |(_, end)| end))
            .sum();
        eventually("the station processors caught up", || async {
            bed.mem.committed(group).values().sum::<u64>() == end
        })
        .await;
    };

    // A alone, then B joins and takes partition 1.
    let stop_a = CancellationToken::new();
    let a = tokio::spawn(processor().await.run(stop_a.clone()));
    caught_up().await;
    let stop_b = CancellationToken::new();
    let b = tokio::spawn(processor().await.run(stop_b.clone()));

    // A Blue Line station whose rows land on B's partition is renamed while B holds it.
    let mut station_rows: Vec<StationRow> = Vec::new();
    for candidate in rows.iter().filter(|r| r.blue && !r.red && !r.green) {
        let record = codec.record(candidate, 0).unwrap();
        let probe = bed.bus.publish_batch(&topic, vec![record]).await.unwrap();
        if probe[0].partition == 1 {
            station_rows = rows
                .iter()
                .filter(|r| r.station_id == candidate.station_id)
                .cloned()
                .collect();
            break;
        }
    }
    assert_eq!(
        station_rows.len(),
        2,
        "a station with two rows on partition 1"
    );
    let renamed: Vec<StationRow> = station_rows
        .iter()
        .map(|row| StationRow {
            station_name: "Renamed".into(),
            ..row.clone()
        })
        .collect();
    let records = renamed
        .iter()
        .map(|r| codec.record(r, 1).unwrap())
        .collect();
    bed.bus.publish_batch(&topic, records).await.unwrap();
    caught_up().await;
    stop_b.cancel();
    b.await.unwrap().unwrap();

    // B has left: A gets partition 1 back, then one of the renamed rows again.
    let again = codec.record(&renamed[1], 2).unwrap();
    bed.bus.publish_batch(&topic, vec![again]).await.unwrap();
    caught_up().await;
    stop_a.cancel();
    a.await.unwrap().unwrap();

    let decoder = Decoder::<StationEvent>::new(Arc::clone(&bed.registry)).unwrap();
    let mut name = None;
    for delivery in read_table(bed.bus.as_ref(), &bed.topics.stations())
        .await
        .unwrap()
    {
        let station = decoder
            .decode(delivery.value.as_deref().unwrap())
            .await
            .unwrap();
        if station.station_id == station_rows[0].station_id {
            name = Some(station.station_name.to_string());
        }
    }
    assert_eq!(name.as_deref(), Some("Renamed"));
}

/// Every arrival of the three lines, per partition in offset order.
async fn arrivals_by_partition(bed: &Bed) -> Vec<(String, u32, Vec<ArrivalEvent>)> {
    let decoder = Decoder::<ArrivalEvent>::new(Arc::clone(&bed.registry)).unwrap();
    let mut out = Vec::new();
    for line in cta::LINES {
        let topic = bed.topics.arrivals(line);
        let total: u64 = (0..4)
            .map(|p| bed.mem.offsets(&topic, p).map_or(0, |(_, end)| end))
            .sum();
        let mut consumer = bed
            .bus
            .subscribe(SubscribeOptions::topics([topic.clone()]))
            .await
            .unwrap();
        let deliveries = transit_core::testing::receive(consumer.as_mut(), total as usize).await;
        for partition in 0..4 {
            let mut arrivals = Vec::new();
            let mut of_partition: Vec<&Delivery> = deliveries
                .iter()
                .filter(|d| d.partition == partition)
                .collect();
            of_partition.sort_by_key(|d| d.offset);
            for delivery in of_partition {
                arrivals.push(
                    decoder
                        .decode(delivery.value.as_deref().unwrap())
                        .await
                        .unwrap(),
                );
            }
            out.push((topic.clone(), partition, arrivals));
        }
    }
    out
}

/// The headway table the arrivals imply, worked out plainly: per platform, its last two
/// trains in service.
async fn expected_headways(bed: &Bed) -> HashMap<HeadwayKey, (TrainId, Option<i32>)> {
    let mut last: HashMap<HeadwayKey, (TrainId, SimTime, Option<i32>)> = HashMap::new();
    for (_, _, arrivals) in arrivals_by_partition(bed).await {
        for arrival in arrivals {
            if arrival.train_status != TrainStatus::InService {
                continue;
            }
            let key = HeadwayKey {
                line: arrival.line,
                station_id: arrival.station_id,
                direction: arrival.direction,
            };
            let time = arrival.arrival_time.unwrap();
            let headway = last
                .get(&key)
                .filter(|(train, _, _)| *train != arrival.train_id)
                .map(|(_, before, _)| (time.0 - before.0) / 1000)
                .filter(|s| *s <= headways::SERVICE_BREAK_S)
                .map(|s| s as i32);
            last.insert(key, (arrival.train_id, time, headway));
        }
    }
    last.into_iter()
        .map(|(key, (train, _, headway))| (key, (train, headway)))
        .collect()
}

async fn headway_table(bed: &Bed) -> HashMap<HeadwayKey, HeadwayEvent> {
    table_rows::<HeadwayEvent>(bed, &bed.topics.headways())
        .await
        .into_iter()
        .map(|record| (record.key(), record))
        .collect()
}

async fn run_headways_until_caught_up(bed: &Bed, group: &str) -> headways::HeadwayStats {
    let processor = HeadwayProcessor::new(
        Arc::clone(&bed.bus),
        Arc::clone(&bed.registry),
        &bed.topics,
        Arc::clone(&bed.metrics),
    )
    .await
    .unwrap()
    .in_group(group);
    let stop = CancellationToken::new();
    let task = tokio::spawn(processor.run(stop.clone()));
    eventually("the headway processor caught up", || async {
        let ends: u64 = cta::LINES
            .into_iter()
            .flat_map(|line| {
                let topic = bed.topics.arrivals(line);
                (0..4).map(move |p| (topic.clone(), p))
            })
            .map(|(topic, p)| bed.mem.offsets(&topic, p).map_or(0, |(_, end)| end))
            .sum();
        bed.mem.committed(group).values().sum::<u64>() == ends
    })
    .await;
    stop.cancel();
    task.await.unwrap().unwrap()
}

fn assert_table_matches(
    table: &HashMap<HeadwayKey, HeadwayEvent>,
    expected: &HashMap<HeadwayKey, (TrainId, Option<i32>)>,
) {
    assert_eq!(table.len(), expected.len());
    for (key, (train, headway)) in expected {
        let record = &table[key];
        assert_eq!(
            (record.train_id, record.headway_s),
            (*train, *headway),
            "{key:?}"
        );
        assert_eq!(
            record.state,
            HeadwayRules::default().state(record.headway_s, record.scheduled_headway_s)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headways_are_exact_across_a_restart_and_a_crash_before_the_commit() {
    let bed = bed();
    let mut sim = simulation(SimConfig::default());
    let start = sim.now();
    // The morning peak of a weekday: 05:00 to 09:00.
    simulate(&bed, &mut sim, SimTime(start.0 + 3 * 3_600_000)).await;
    let first = run_headways_until_caught_up(&bed, "headways").await;
    assert!(first.applied > 1_000, "{first:?}");
    assert_eq!(first.replayed, 0);
    assert_table_matches(&headway_table(&bed).await, &expected_headways(&bed).await);

    // Stopped cleanly, started again: it restores every platform and reads only the new hour.
    simulate(&bed, &mut sim, SimTime(start.0 + 4 * 3_600_000)).await;
    let second = run_headways_until_caught_up(&bed, "headways").await;
    assert_eq!(second.replayed, 0, "{second:?}");
    assert!(second.restored > 100, "{second:?}");
    let table = headway_table(&bed).await;
    assert_table_matches(&table, &expected_headways(&bed).await);

    // The worst crash: output published, nothing committed. A group with no offsets reads
    // every arrival again: each is recognised, no zero-second headway appears.
    let replay = run_headways_until_caught_up(&bed, "headways-after-crash").await;
    assert_eq!(replay.applied, 0, "{replay:?}");
    assert_eq!(replay.replayed, first.applied + second.applied);
    assert_eq!(headway_table(&bed).await, table);

    // Ridership and chance spread the trains: by the peak some run bunched, some gapped.
    let states: Vec<HeadwayState> = table.values().map(|r| r.state).collect();
    let bunched = states
        .iter()
        .filter(|s| **s == HeadwayState::Bunched)
        .count();
    let gapped = states
        .iter()
        .filter(|s| **s == HeadwayState::Gapped)
        .count();
    let on_time = states
        .iter()
        .filter(|s| **s == HeadwayState::OnTime)
        .count();
    assert!(
        on_time > bunched + gapped,
        "mostly on time: {on_time} {bunched} {gapped}"
    );
    assert!(
        bunched > 0 && gapped > 0,
        "{bunched} bunched, {gapped} gapped"
    );
}

/// What [`Slow`] saw: the records it processed and its largest batch.
#[derive(Debug, Clone, Default)]
struct Seen {
    records: u64,
    largest_batch: usize,
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "records {}, largest batch {}",
            self.records, self.largest_batch
        )
    }
}

/// A processor whose records take their time, noting every offset it processed.
struct Slow {
    offsets: Arc<std::sync::Mutex<Vec<u64>>>,
}

#[async_trait::async_trait]
impl transit_core::processor::runner::Processor for Slow {
    type Stats = Seen;

    async fn process(
        &mut self,
        batch: &[Delivery],
        _output: &mut transit_core::processor::runner::Output,
        stats: &mut Seen,
    ) -> Result<(), transit_core::processor::ProcessorError> {
        stats.records += batch.len() as u64;
        stats.largest_batch = stats.largest_batch.max(batch.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.offsets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(batch.iter().map(|d| d.offset));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_that_stops_after_the_batch_in_hand_leaves_the_rest_to_its_group_exactly_once() {
    use transit_core::processor::runner::ProcessorLoop;
    let bed = bed();
    let topic = "slow.input.v1";
    const RECORDS: u64 = 200;
    bed.bus
        .create_topic(&transit_core::bus::TopicSpec::new(topic, 1))
        .await
        .expect("the topic");
    let records: Vec<Record> = (0..RECORDS as i64)
        .map(|i| Record::new(format!("k{i}"), format!("v{i}"), i))
        .collect();
    bed.bus
        .publish_batch(topic, records)
        .await
        .expect("publishing");
    let member = |max_batch: usize, drain: bool| {
        ProcessorLoop::group_member(
            Arc::clone(&bed.bus),
            topic,
            "slow-group",
            "slow.deadletter.v1",
            Arc::clone(&bed.metrics),
        )
        .max_batch(max_batch)
        .drain_on_stop(drain)
    };

    // Small batches, stopped after the first: it does not read on to the end.
    let offsets = Arc::new(std::sync::Mutex::new(Vec::new()));
    let shutdown = CancellationToken::new();
    let first = tokio::spawn(member(3, false).run(
        Slow {
            offsets: Arc::clone(&offsets),
        },
        shutdown.clone(),
    ));
    let seen = Arc::clone(&offsets);
    eventually("a batch processed", || {
        let seen = Arc::clone(&seen);
        async move { !seen.lock().unwrap_or_else(|e| e.into_inner()).is_empty() }
    })
    .await;
    shutdown.cancel();
    let first = first.await.expect("the task").expect("the first member");
    assert!(first.largest_batch <= 3, "{first}");
    assert!(
        first.records < RECORDS,
        "it stopped after the batch in hand, not at the topic's end: {first}"
    );

    // The group's next member reads the rest from the committed offsets, none twice.
    let shutdown = CancellationToken::new();
    let second = tokio::spawn(member(64, true).run(
        Slow {
            offsets: Arc::clone(&offsets),
        },
        shutdown.clone(),
    ));
    let seen = Arc::clone(&offsets);
    eventually("every record processed", || {
        let seen = Arc::clone(&seen);
        async move { seen.lock().unwrap_or_else(|e| e.into_inner()).len() as u64 >= RECORDS }
    })
    .await;
    shutdown.cancel();
    let second = second.await.expect("the task").expect("the second member");
    assert_eq!(first.records + second.records, RECORDS, "{first}; {second}");
    let mut all = offsets.lock().unwrap_or_else(|e| e.into_inner()).clone();
    all.sort_unstable();
    assert_eq!(all, (0..RECORDS).collect::<Vec<_>>(), "each record once");
}
