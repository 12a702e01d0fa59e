//! The turnstile counter scaled out on a real broker: two instances in one consumer group
//! share the entries' partitions; one stops mid-stream and the other takes its partitions
//! over, and the count table still holds exactly the entries published.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use transit_core::bus::EventBus;
use transit_core::codec::SchemaRegistry;
use transit_core::metrics::PipelineMetrics;
use transit_core::processor::turnstile_counts::TurnstileCounter;
use transit_core::testing::unique_name;
use transit_core::topics::Topics;
use transit_mem::MemRegistry;
use transit_sim::driver::{self, SimulationCodecs};
use transit_sim::{testing, SimConfig};

const PARTITIONS: u32 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_counters_share_the_partitions_and_one_takes_over_exactly() {
    let bus: Arc<dyn EventBus> = transit_testkit::kafka::kafka_bus().await;
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topics = Topics::new(unique_name("scaleout").replace('-', "_"));
    let group = unique_name("counters");
    driver::create_simulation_topics(bus.as_ref(), &topics, PARTITIONS)
        .await
        .expect("creating the topics");
    let mut sim = testing::simulation(SimConfig::default());
    let codecs = SimulationCodecs::register(Arc::clone(&registry), &topics)
        .await
        .expect("registering the simulation's schemas");

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
    let mut published =
        testing::publish_minutes(bus.as_ref(), &mut sim, &codecs, &topics, 30).await;
    assert!(published > 1_000, "an early morning: {published} entries");
    // Let both count part of it, then stop one mid-stream; the other takes its partitions.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_first.cancel();
    let first = first
        .await
        .expect("the first counter's task")
        .expect("the first counter");
    published += testing::publish_minutes(bus.as_ref(), &mut sim, &codecs, &topics, 30).await;

    let table = testing::count_table_when_complete(
        bus.as_ref(),
        &registry,
        &topics,
        published,
        Duration::from_secs(90),
    )
    .await;
    stop_second.cancel();
    let second = second
        .await
        .expect("the second counter's task")
        .expect("the second counter");
    assert!(
        first.counted > 0 && second.counted > 0,
        "both instances counted: {first:?} / {second:?}"
    );
    let expected =
        testing::entries_on_topic(bus.as_ref(), &registry, &topics, published, Duration::ZERO)
            .await;
    assert_eq!(expected.values().sum::<u64>(), published);
    assert_eq!(table, expected, "every station's count is exact");
}
