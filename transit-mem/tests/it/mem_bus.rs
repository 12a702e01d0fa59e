//! Behaviour of the in-memory bus beyond the conformance suite: retention, close, rebalancing
//! and refused requests.

use std::time::Duration;

use bytes::Bytes;
use transit_core::bus::{Error, Record, SubscribeOptions, TopicSpec};
use transit_core::testing::receive;
use transit_core::EventBus;
use transit_mem::{MemBus, MemBusConfig};

fn record(value: u64) -> Record {
    Record::new(Bytes::from_static(b"k"), Bytes::from(value.to_string()), 0)
}

#[tokio::test]
async fn retention_bounds_the_log_and_a_lagging_consumer_skips_to_the_oldest_kept() {
    let bus = MemBus::with_config(MemBusConfig {
        retention_records: 10,
        retention_bytes: u64::MAX,
    });
    bus.create_topic(&TopicSpec::new("t", 1)).await.unwrap();
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics(["t"]))
        .await
        .unwrap();
    for chunk in 0..10 {
        let records = (0..10).map(|i| record(chunk * 10 + i)).collect();
        bus.publish_batch("t", records).await.unwrap();
    }
    assert_eq!(bus.offsets("t", 0), Some((90, 100)));
    let deliveries = receive(consumer.as_mut(), 10).await;
    assert_eq!(deliveries.first().map(|d| d.offset), Some(90));
    assert_eq!(deliveries.last().map(|d| d.offset), Some(99));
}

#[tokio::test]
async fn retention_by_bytes_per_topic() {
    let bus = MemBus::new();
    bus.create_topic(&TopicSpec::new("t", 1).with_retention_bytes(100))
        .await
        .unwrap();
    for i in 0..1000 {
        bus.publish_batch("t", vec![record(i)]).await.unwrap();
    }
    let (start, end) = bus.offsets("t", 0).unwrap();
    assert_eq!(end, 1000);
    assert!(end - start <= 100 / 2, "kept {} records", end - start);
}

#[tokio::test]
async fn close_ends_consumers_and_refuses_publishing() {
    let bus = MemBus::new();
    bus.create_topic(&TopicSpec::new("t", 1)).await.unwrap();
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics(["t"]))
        .await
        .unwrap();
    let waiting = tokio::spawn(async move { consumer.recv().await.is_none() });
    tokio::time::sleep(Duration::from_millis(50)).await;
    bus.close();
    assert!(tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap());
    let error = bus.publish_batch("t", vec![record(1)]).await.unwrap_err();
    assert!(matches!(error.error, Error::Closed));
    assert_eq!(error.unsent, vec![record(1)]);
}

#[tokio::test]
async fn a_member_leaving_hands_its_partitions_over_from_the_commit() {
    let bus = MemBus::new();
    bus.create_topic(&TopicSpec::new("t", 2)).await.unwrap();
    let options = SubscribeOptions::topics(["t"]).in_group("g");
    let mut first = bus.subscribe(options.clone()).await.unwrap();
    let second = bus.subscribe(options).await.unwrap();
    assert_eq!(first.assignment().len(), 1);
    assert_eq!(second.assignment().len(), 1);
    let theirs = second.assignment()[0].partition;
    let records = (0..4).map(|i| record(i).with_partition(theirs)).collect();
    bus.publish_batch("t", records).await.unwrap();
    drop(second);
    assert_eq!(first.assignment().len(), 2);
    let deliveries = receive(first.as_mut(), 4).await;
    assert!(deliveries.iter().all(|d| d.partition == theirs));
    first
        .commit(&[deliveries[3].position().next()])
        .await
        .unwrap();
    assert_eq!(bus.committed("g").get(&("t".to_string(), theirs)), Some(&4));
}

#[tokio::test]
async fn refused_requests_are_typed_errors() {
    let bus = MemBus::new();
    let error = bus
        .publish_batch("missing", vec![record(1)])
        .await
        .unwrap_err();
    assert!(matches!(error.error, Error::UnknownTopic { .. }));
    assert_eq!(error.unsent.len(), 1);

    bus.create_topic(&TopicSpec::new("t", 2)).await.unwrap();
    let error = bus
        .publish_batch("t", vec![record(1), record(2).with_partition(5)])
        .await
        .unwrap_err();
    assert!(matches!(
        error.error,
        Error::UnknownPartition { partition: 5, .. }
    ));
    assert_eq!(
        error.unsent.len(),
        2,
        "nothing of a refused batch is stored"
    );
    assert_eq!(bus.offsets("t", 0), Some((0, 0)));

    assert!(matches!(
        bus.subscribe(SubscribeOptions::pattern("("))
            .await
            .unwrap_err(),
        Error::InvalidRequest { .. }
    ));
    assert!(matches!(
        bus.create_topic(&TopicSpec::new("bad name!", 1))
            .await
            .unwrap_err(),
        Error::InvalidRequest { .. }
    ));
    assert!(matches!(
        bus.create_topic(&TopicSpec::new("zero", 0))
            .await
            .unwrap_err(),
        Error::InvalidRequest { .. }
    ));
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics(["t"]))
        .await
        .unwrap();
    assert!(matches!(
        consumer.commit(&[]).await.unwrap_err(),
        Error::NotSupported { .. }
    ));
}

#[tokio::test]
async fn a_compacted_table_stays_as_large_as_its_keys() {
    let bus = MemBus::new();
    bus.create_topic(&TopicSpec::new("table", 1).compacted())
        .await
        .unwrap();
    for i in 0..10_000u64 {
        let key = Bytes::from(format!("station-{}", i % 50));
        bus.publish_batch(
            "table",
            vec![Record::new(key, Bytes::from(i.to_string()), 0)],
        )
        .await
        .unwrap();
    }
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics(["table"]))
        .await
        .unwrap();
    let deliveries = receive(consumer.as_mut(), 50).await;
    assert!(deliveries.iter().all(|d| d.offset >= 10_000 - 50));
    transit_core::testing::receive_nothing(consumer.as_mut(), Duration::from_millis(100)).await;
}

/// On a bus that waits for readers, retention trims nothing a reader has not read: a batch
/// bigger than retention goes in whole, and the next publish, a transaction here, waits, whole,
/// until the reader has read down to where retention trims; then every record is read.
#[tokio::test]
async fn a_transaction_waits_for_a_slow_reader_rather_than_trim_what_it_has_not_read() {
    let bus = MemBus::with_config(MemBusConfig {
        retention_records: 10,
        retention_bytes: u64::MAX,
    })
    .wait_for_readers();
    bus.create_topic(&TopicSpec::new("in", 1)).await.unwrap();
    bus.create_topic(&TopicSpec::new("out", 1)).await.unwrap();
    let mut reader = bus
        .subscribe(SubscribeOptions::topics(["out"]))
        .await
        .unwrap();
    let mut member = bus
        .subscribe(SubscribeOptions::topics(["in"]).in_group("g"))
        .await
        .unwrap();
    bus.publish_batch("in", vec![record(0)]).await.unwrap();
    let input = receive(member.as_mut(), 1).await;
    // Twelve, two more than retention keeps: all kept while the reader has read none.
    bus.publish_batch("out", (0..12).map(record).collect())
        .await
        .unwrap();
    assert_eq!(bus.offsets("out", 0), Some((0, 12)));
    let position = transit_core::bus::RecordPosition {
        topic: input[0].topic.clone(),
        partition: 0,
        offset: 1,
    };
    let transaction = tokio::spawn(async move {
        let outputs = vec![("out".to_string(), vec![record(12)])];
        let outcome = member.publish_and_commit(outputs, &[position]).await;
        (member, outcome)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!transaction.is_finished(), "the transaction did not wait");
    assert_eq!(
        bus.offsets("out", 0),
        Some((0, 12)),
        "nothing of it is in yet"
    );
    assert!(bus.committed("g").is_empty(), "nor is its commit");

    let read = receive(reader.as_mut(), 13).await;
    let (_member, outcome) = tokio::time::timeout(Duration::from_secs(5), transaction)
        .await
        .expect("the transaction went in once the reader read on")
        .unwrap();
    outcome.unwrap();
    let offsets: Vec<u64> = read.iter().map(|d| d.offset).collect();
    assert_eq!(
        offsets,
        (0..13).collect::<Vec<_>>(),
        "every record read, none trimmed"
    );
    assert_eq!(bus.committed("g").get(&("in".to_string(), 0)), Some(&1));
    assert_eq!(
        bus.offsets("out", 0),
        Some((3, 13)),
        "then trimmed to retention"
    );
}

/// Byte retention counts too: a publish waits while a partition holds more unread bytes than
/// its retention, as it does for more unread records.
#[tokio::test]
async fn a_publish_waits_for_a_slow_reader_under_byte_retention_too() {
    let bus = MemBus::with_config(MemBusConfig {
        retention_records: u64::MAX,
        retention_bytes: 30,
    })
    .wait_for_readers();
    bus.create_topic(&TopicSpec::new("t", 1)).await.unwrap();
    let mut reader = bus
        .subscribe(SubscribeOptions::topics(["t"]))
        .await
        .unwrap();
    // Three bytes each (the key and two digits): twelve are 36, over the 30 kept.
    bus.publish_batch("t", (10..22).map(record).collect())
        .await
        .unwrap();
    let publisher = {
        let bus = bus.clone();
        tokio::spawn(async move { bus.publish_batch("t", vec![record(22)]).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!publisher.is_finished(), "the publish did not wait");
    assert_eq!(bus.offsets("t", 0), Some((0, 12)));
    let read = receive(reader.as_mut(), 13).await;
    tokio::time::timeout(Duration::from_secs(5), publisher)
        .await
        .expect("the publish went in once the reader read on")
        .unwrap()
        .unwrap();
    let offsets: Vec<u64> = read.iter().map(|d| d.offset).collect();
    assert_eq!(
        offsets,
        (0..13).collect::<Vec<_>>(),
        "every record read, none trimmed"
    );
}
