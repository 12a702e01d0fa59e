//! The turnstile counter scaled out on a real broker: two instances in one consumer group
//! share the entries' partitions; one stops mid-stream and the other takes its partitions
//! over, and the count table still holds exactly the entries published.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use transit_core::bus::{EventBus, SubscribeOptions};
use transit_core::codec::{Decoder, SchemaRegistry};
use transit_core::event::{StationLineKey, TurnstileCount, TurnstileEvent};
use transit_core::metrics::PipelineMetrics;
use transit_core::processor::read_table;
use transit_core::processor::turnstile_counts::TurnstileCounter;
use transit_core::testing::unique_name;
use transit_core::topics::Topics;
use transit_mem::MemRegistry;
use transit_sim::driver::{self, DriverConfig, Pace, SimulationCodecs};
use transit_sim::{SimConfig, SimTime, Simulation};

const PARTITIONS: u32 = 4;

async fn publish_minutes(
    bus: &dyn EventBus,
    registry: &Arc<dyn SchemaRegistry>,
    topics: &Topics,
    sim: &mut Simulation,
    minutes: i64,
) -> u64 {
    let codecs = SimulationCodecs::register(Arc::clone(registry), topics)
        .await
        .expect("registering the simulation's schemas");
    let config = DriverConfig {
        pace: Pace::FlatOut,
        until: Some(SimTime(sim.now().0 + minutes * 60_000)),
        progress_every: Duration::from_secs(60),
        ..DriverConfig::default()
    };
    let stats = driver::run(bus, sim, &codecs, &config, CancellationToken::new())
        .await
        .expect("publishing the simulation");
    stats
        .published
        .get(&topics.turnstile_entries())
        .copied()
        .unwrap_or_default()
}

/// The entries on the topic, counted directly from it.
async fn entries_on_topic(
    bus: &dyn EventBus,
    registry: &Arc<dyn SchemaRegistry>,
    topics: &Topics,
    total: u64,
) -> HashMap<StationLineKey, u64> {
    let decoder = Decoder::<TurnstileEvent>::new(Arc::clone(registry)).expect("a decoder");
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([topics.turnstile_entries()]))
        .await
        .expect("subscribing");
    let mut counts = HashMap::new();
    for delivery in transit_core::testing::receive(consumer.as_mut(), total as usize).await {
        let value = delivery.value.expect("entries have values");
        let entry = decoder.decode(&value).await.expect("an entry decodes");
        *counts
            .entry(StationLineKey {
                station_id: entry.station_id,
                line: entry.line,
            })
            .or_insert(0) += 1;
    }
    counts
}

/// The count table's rows once their entries add up to `total`.
async fn table_when_complete(
    bus: &dyn EventBus,
    registry: &Arc<dyn SchemaRegistry>,
    topics: &Topics,
    total: u64,
) -> HashMap<StationLineKey, u64> {
    let decoder = Decoder::<TurnstileCount>::new(Arc::clone(registry)).expect("a decoder");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let rows = read_table(bus, &topics.turnstile_counts())
            .await
            .expect("reading the count table");
        let mut table = HashMap::new();
        for row in rows {
            let value = row.value.expect("count rows have values");
            let count = decoder.decode(&value).await.expect("a count decodes");
            table.insert(
                StationLineKey {
                    station_id: count.station_id,
                    line: count.line,
                },
                count.entries,
            );
        }
        let counted: u64 = table.values().sum();
        if counted >= total {
            return table;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the table counts {counted} of {total} entries"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_counters_share_the_partitions_and_one_takes_over_exactly() {
    let bus: Arc<dyn EventBus> = transit_testkit::kafka::kafka_bus().await;
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topics = Topics::new(unique_name("scaleout").replace('-', "_"));
    let group = unique_name("counters");
    driver::create_simulation_topics(bus.as_ref(), &topics, PARTITIONS)
        .await
        .expect("creating the topics");
    let mut sim = transit_sim::testing::simulation(SimConfig::default());

    let counter = || async {
        TurnstileCounter::new(
            Arc::clone(&bus),
            Arc::clone(&registry),
            &topics,
            PipelineMetrics::new(),
        )
        .await
        .expect("a counter")
        .in_group(group.clone())
    };
    let (stop_first, stop_second) = (CancellationToken::new(), CancellationToken::new());
    let first = tokio::spawn(counter().await.run(stop_first.clone()));
    let second = tokio::spawn(counter().await.run(stop_second.clone()));
    // Both members join before anything is published, so both get partitions.
    tokio::time::sleep(Duration::from_secs(8)).await;

    // Half an hour at a time: tansu takes a few hundred records a second one per batch.
    let mut published = publish_minutes(bus.as_ref(), &registry, &topics, &mut sim, 30).await;
    assert!(published > 1_000, "an early morning: {published} entries");
    // Let both count part of it, then stop one mid-stream; the other takes its partitions.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_first.cancel();
    let first = first
        .await
        .expect("the first counter's task")
        .expect("the first counter");
    published += publish_minutes(bus.as_ref(), &registry, &topics, &mut sim, 30).await;

    let table = table_when_complete(bus.as_ref(), &registry, &topics, published).await;
    stop_second.cancel();
    let second = second
        .await
        .expect("the second counter's task")
        .expect("the second counter");
    assert!(
        first.counted > 0 && second.counted > 0,
        "both instances counted: {first:?} / {second:?}"
    );
    let expected = entries_on_topic(bus.as_ref(), &registry, &topics, published).await;
    assert_eq!(expected.values().sum::<u64>(), published);
    assert_eq!(table, expected, "every station's count is exact");
}
