//! The accuracy read model's service on the in-memory bus: rows summed, tombstones applied,
//! a record that is no row refused.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use transit_core::accuracy::{AccuracyService, AccuracySnapshot};
use transit_core::bus::{EventBus, EventBusExt, Record, TopicSpec};
use transit_core::codec::{SchemaRegistry, TopicCodec};
use transit_core::event::AccuracyEvent;
use transit_core::metrics::PipelineMetrics;
use transit_mem::{MemBus, MemRegistry};

#[allow(clippy::too_many_arguments)]
fn row(
    route: &str,
    hour: i32,
    bucket: &str,
    method: &str,
    partition: u32,
    scored: u64,
    accurate: u64,
    abs_error_sum_s: u64,
    expired: u64,
    late: u64,
) -> AccuracyEvent {
    AccuracyEvent {
        route_id: route.into(),
        hour,
        bucket: bucket.into(),
        method: method.into(),
        partition,
        scored,
        accurate,
        abs_error_sum_s,
        expired,
        late,
        never: expired - late,
        updated_at: 1_000 * i64::from(hour),
    }
}

#[tokio::test]
async fn the_service_reads_the_table_and_its_tombstones(
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let bus: Arc<dyn EventBus> = Arc::new(MemBus::new());
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topic = "test.predictions.accuracy.v1";
    // Not compacted: the in-memory bus drops a compacted topic's tombstones at once, and this
    // test wants the reader to see one (a Kafka reader does, until the cleaner runs). The
    // service leaves an existing topic as it is.
    bus.create_topic(&TopicSpec::new(topic, 1)).await?;
    let (service, mut snapshots) = AccuracyService::new(
        Arc::clone(&bus),
        Arc::clone(&registry),
        topic,
        "test.deadletter.v1",
        PipelineMetrics::new(),
    )?;
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(service.run(shutdown.clone()));

    let codec = TopicCodec::<AccuracyEvent>::register(Arc::clone(&registry), topic).await?;
    let kept = row("1", 7, "0-3", "learnt", 0, 4, 3, 120, 0, 0);
    let gone = row("1", 7, "0-3", "learnt", 1, 4, 1, 120, 0, 0);
    for event in [&kept, &gone] {
        bus.publish(topic, codec.record(event, 0)?).await?;
    }
    let both = until(&mut snapshots, |s| s.version >= 2).await?;
    let cell = both.routes[0].cell("0-3", "learnt").expect("a cell");
    assert_eq!((cell.tally.scored, cell.tally.accurate), (8, 4));

    // The row of partition 1 withdrawn, and a record that is no row refused.
    let tombstone = codec.record(&gone, 0)?;
    bus.publish(
        topic,
        Record {
            value: None,
            ..tombstone
        },
    )
    .await?;
    bus.publish(topic, Record::new("not a key", "not a row", 0))
        .await?;
    let one = until(&mut snapshots, |s| s.version >= 3).await?;
    let cell = one.routes[0].cell("0-3", "learnt").expect("a cell");
    assert_eq!((cell.tally.scored, cell.tally.accurate), (4, 3));

    shutdown.cancel();
    let stats = running.await??;
    assert_eq!(stats.applied, 3);
    assert_eq!(stats.dead_lettered, 1);
    Ok(())
}

/// The first snapshot that `done` accepts, within ten seconds.
async fn until(
    snapshots: &mut tokio::sync::watch::Receiver<Arc<AccuracySnapshot>>,
    done: impl Fn(&AccuracySnapshot) -> bool + Sync,
) -> Result<Arc<AccuracySnapshot>, Box<dyn std::error::Error + Send + Sync>> {
    let wait = async {
        loop {
            let snapshot = Arc::clone(&snapshots.borrow_and_update());
            if done(&snapshot) {
                return Ok::<_, Box<dyn std::error::Error + Send + Sync>>(snapshot);
            }
            snapshots.changed().await?;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), wait).await?
}
