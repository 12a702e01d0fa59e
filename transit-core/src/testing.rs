//! The bus conformance suite: one function per promise of the [`EventBus`] contract.
//!
//! Every backend runs all of it: `transit_core::conformance_tests!(make_bus)` expands to one
//! `#[tokio::test]` per function, where `make_bus` is an `async fn() -> Arc<dyn EventBus>`.
//! Each function makes its own uniquely named topics and groups, so the suite can run against
//! a shared real broker. Not API-stable: it is for backends' tests.
//!
//! The functions panic on a broken promise (they are test bodies) and give up after
//! [`WAIT`] rather than hang on a backend that never delivers.

#![allow(clippy::missing_panics_doc)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::bus::{
    AssignmentChange, Consumer, Delivery, Error, EventBus, Record, StartFrom, SubscribeOptions,
    TopicSpec,
};
use crate::status::StatusSnapshot;

/// How long a suite function waits for records before it fails.
pub const WAIT: Duration = Duration::from_secs(30);

/// A name no other test run uses: `prefix`, the process id, the time and a counter.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn record(key: &str, value: &str) -> Record {
    Record::new(
        Bytes::copy_from_slice(key.as_bytes()),
        Bytes::copy_from_slice(value.as_bytes()),
        1_700_000_000_000,
    )
}

fn text(bytes: &Option<Bytes>) -> String {
    bytes
        .as_ref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

async fn topic(bus: &dyn EventBus, prefix: &str, partitions: u32) -> String {
    let name = unique_name(prefix);
    bus.create_topic(&TopicSpec::new(name.clone(), partitions))
        .await
        .expect("creating a topic");
    name
}

/// Receives until `count` records arrived, failing after [`WAIT`].
pub async fn receive(consumer: &mut dyn Consumer, count: usize) -> Vec<Delivery> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while out.len() < count {
        let missing = count - out.len();
        let got = tokio::time::timeout_at(deadline, consumer.recv_batch(&mut out, missing))
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} records arrived in time", out.len()))
            .expect("receiving");
        assert!(
            got > 0,
            "the bus closed after {} of {count} records",
            out.len()
        );
    }
    out
}

/// Asserts nothing more arrives within `quiet`.
pub async fn receive_nothing(consumer: &mut dyn Consumer, quiet: Duration) {
    let mut out = Vec::new();
    if let Ok(result) = tokio::time::timeout(quiet, consumer.recv_batch(&mut out, 10)).await {
        let got = result.expect("receiving");
        assert_eq!(got, 0, "unexpected records: {out:?}");
    }
}

/// Waits until the board shows what `done` looks for, and returns that snapshot; fails after
/// `within`, naming `what` and what the board last showed. A closed channel ends the wait with
/// the last snapshot (for the caller's assertions to judge).
pub async fn wait_for_board<F: Fn(&StatusSnapshot) -> bool + Send + Sync>(
    snapshots: &mut tokio::sync::watch::Receiver<Arc<StatusSnapshot>>,
    within: Duration,
    what: &str,
    done: F,
) -> Arc<StatusSnapshot> {
    let result = tokio::time::timeout(within, async {
        loop {
            let snapshot = Arc::clone(&snapshots.borrow_and_update());
            if done(&snapshot) {
                return snapshot;
            }
            if snapshots.changed().await.is_err() {
                return Arc::clone(&snapshots.borrow());
            }
        }
    })
    .await;
    result.unwrap_or_else(|_| {
        let last = snapshots.borrow();
        panic!(
            "the board never showed {what} within {within:?}; last: time {:?}, totals {:?}, \
             stations per line {:?}, weather {:?}",
            last.simulated_time,
            last.totals,
            last.lines
                .iter()
                .map(|l| (l.line, l.stations.len()))
                .collect::<Vec<_>>(),
            last.weather
        )
    })
}

/// Published records come back with their key, value, headers, timestamp, at the positions
/// the publish returned.
pub async fn publish_subscribe(bus: Arc<dyn EventBus>) {
    let topic = topic(bus.as_ref(), "publish-subscribe", 3).await;
    let records: Vec<Record> = (0..20)
        .map(|i| {
            record(&format!("k{i}"), &format!("v{i}")).with_header("h", Bytes::from_static(b"x"))
        })
        .collect();
    let positions = bus
        .publish_batch(&topic, records.clone())
        .await
        .expect("publishing");
    assert_eq!(positions.len(), records.len());
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([topic.clone()]))
        .await
        .expect("subscribing");
    let deliveries = receive(consumer.as_mut(), records.len()).await;
    let by_value: HashMap<String, &Delivery> =
        deliveries.iter().map(|d| (text(&d.value), d)).collect();
    for (record, position) in records.iter().zip(&positions) {
        let delivery = by_value
            .get(&text(&record.value))
            .unwrap_or_else(|| panic!("{record:?} was not delivered"));
        assert_eq!(delivery.position(), *position);
        assert_eq!(delivery.key, record.key);
        assert_eq!(delivery.timestamp_ms, record.timestamp_ms);
        assert_eq!(delivery.header("h").map(|b| &b[..]), Some(&b"x"[..]));
    }
}

/// Records with the same key land in one partition, in publish order, whatever the batches.
pub async fn per_key_order(bus: Arc<dyn EventBus>) {
    let topic = topic(bus.as_ref(), "per-key-order", 4).await;
    let keys = ["a", "b", "c", "d", "e", "f"];
    let mut published: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut sequence = 0;
    for batch in [1usize, 7, 30, 2, 60] {
        let records: Vec<Record> = (0..batch)
            .map(|i| {
                let key = keys[(sequence + i * 5) % keys.len()];
                let value = format!("{key}-{}", sequence + i);
                published.entry(key).or_default().push(value.clone());
                record(key, &value)
            })
            .collect();
        sequence += batch;
        bus.publish_batch(&topic, records)
            .await
            .expect("publishing");
    }
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([topic.clone()]))
        .await
        .expect("subscribing");
    let deliveries = receive(consumer.as_mut(), sequence).await;
    let mut received: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut partition_of: HashMap<String, u32> = HashMap::new();
    for delivery in &deliveries {
        let key = text(&delivery.key);
        let partition = *partition_of
            .entry(key.clone())
            .or_insert(delivery.partition);
        assert_eq!(
            partition, delivery.partition,
            "key {key} is on two partitions"
        );
        received.entry(key).or_default().push(text(&delivery.value));
    }
    for (key, values) in published {
        assert_eq!(received.get(key), Some(&values), "order of key {key}");
    }
}

/// A record with an explicit partition lands there.
pub async fn explicit_partition(bus: Arc<dyn EventBus>) {
    let topic = topic(bus.as_ref(), "explicit-partition", 3).await;
    let positions = bus
        .publish_batch(&topic, vec![record("k", "v").with_partition(2)])
        .await
        .expect("publishing");
    assert_eq!(positions[0].partition, 2);
}

/// Members of a group share the partitions: together they see every record, and no partition
/// is assigned to both.
pub async fn groups_share_partitions(bus: Arc<dyn EventBus>) {
    let topic = topic(bus.as_ref(), "groups-share", 4).await;
    let group = unique_name("group");
    let options = SubscribeOptions::topics([topic.clone()]).in_group(group);
    let mut first = bus.subscribe(options.clone()).await.expect("subscribing");
    let mut second = bus.subscribe(options).await.expect("subscribing");
    let records: Vec<Record> = (0..100)
        .map(|i| record(&format!("k{i}"), &i.to_string()))
        .collect();
    bus.publish_batch(&topic, records)
        .await
        .expect("publishing");
    let mut seen = BTreeSet::new();
    let mut batch = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while seen.len() < 100 {
        for consumer in [first.as_mut(), second.as_mut()] {
            batch.clear();
            if let Ok(result) = tokio::time::timeout(
                Duration::from_millis(200),
                consumer.recv_batch(&mut batch, 100),
            )
            .await
            {
                result.expect("receiving");
                seen.extend(batch.iter().map(|d| text(&d.value)));
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of 100 arrived",
            seen.len()
        );
    }
    let mine: BTreeSet<_> = first.assignment().into_iter().collect();
    let theirs: BTreeSet<_> = second.assignment().into_iter().collect();
    assert!(mine.is_disjoint(&theirs), "{mine:?} and {theirs:?} overlap");
    assert_eq!(mine.len() + theirs.len(), 4, "{mine:?} + {theirs:?}");
}

/// A new member of a group resumes after the group's commit.
pub async fn commit_resume(bus: Arc<dyn EventBus>) {
    let topic = topic(bus.as_ref(), "commit-resume", 1).await;
    let group = unique_name("group");
    let records: Vec<Record> = (0..20).map(|i| record("k", &i.to_string())).collect();
    bus.publish_batch(&topic, records)
        .await
        .expect("publishing");
    let options = SubscribeOptions::topics([topic.clone()]).in_group(group);
    {
        let mut consumer = bus.subscribe(options.clone()).await.expect("subscribing");
        let deliveries = receive(consumer.as_mut(), 10).await;
        let tenth = deliveries
            .iter()
            .find(|d| text(&d.value) == "9")
            .expect("record 9 among the first ten");
        consumer
            .commit(&[tenth.position().next()])
            .await
            .expect("committing");
    }
    let mut consumer = bus.subscribe(options).await.expect("subscribing");
    let deliveries = receive(consumer.as_mut(), 10).await;
    let values: Vec<String> = deliveries.iter().map(|d| text(&d.value)).collect();
    let expected: Vec<String> = (10..20).map(|i| i.to_string()).collect();
    assert_eq!(values, expected);
}

/// `Latest` skips what was published before subscribing; `Earliest` reads it.
pub async fn start_latest_and_earliest(bus: Arc<dyn EventBus>) {
    let topic = topic(bus.as_ref(), "start-from", 1).await;
    bus.publish_batch(&topic, vec![record("k", "old")])
        .await
        .expect("publishing");
    let mut latest = bus
        .subscribe(SubscribeOptions::topics([topic.clone()]).starting_at(StartFrom::Latest))
        .await
        .expect("subscribing");
    let mut earliest = bus
        .subscribe(SubscribeOptions::topics([topic.clone()]).starting_at(StartFrom::Earliest))
        .await
        .expect("subscribing");
    bus.publish_batch(&topic, vec![record("k", "new")])
        .await
        .expect("publishing");
    let from_latest = receive(latest.as_mut(), 1).await;
    assert_eq!(text(&from_latest[0].value), "new");
    let from_earliest = receive(earliest.as_mut(), 2).await;
    assert_eq!(text(&from_earliest[0].value), "old");
}

/// A pattern subscription picks up a matching topic created after it started, and only those.
pub async fn pattern_picks_up_new_topics(bus: Arc<dyn EventBus>) {
    let prefix = unique_name("pattern").replace('-', "_");
    let mut consumer = bus
        .subscribe(SubscribeOptions::pattern(format!(r"{prefix}\.match\..*")))
        .await
        .expect("subscribing");
    let matching = format!("{prefix}.match.one");
    let other = format!("{prefix}.other");
    for name in [&matching, &other] {
        bus.create_topic(&TopicSpec::new(name.clone(), 1))
            .await
            .expect("creating a topic");
    }
    bus.publish_batch(&other, vec![record("k", "other")])
        .await
        .expect("publishing");
    bus.publish_batch(&matching, vec![record("k", "match")])
        .await
        .expect("publishing");
    let deliveries = receive(consumer.as_mut(), 1).await;
    assert_eq!(&*deliveries[0].topic, matching.as_str());
    assert_eq!(text(&deliveries[0].value), "match");
    receive_nothing(consumer.as_mut(), Duration::from_millis(300)).await;
}

/// A compacted topic keeps the last value of every key.
pub async fn compaction_keeps_last_value(bus: Arc<dyn EventBus>) {
    let name = unique_name("compacted");
    bus.create_topic(&TopicSpec::new(name.clone(), 1).compacted())
        .await
        .expect("creating a compacted topic");
    let records = vec![
        record("a", "1"),
        record("b", "1"),
        record("a", "2"),
        record("b", "2"),
        record("a", "3"),
    ];
    bus.publish_batch(&name, records).await.expect("publishing");
    // Mark the end, so the reader knows when it has read everything.
    bus.publish_batch(&name, vec![record("end", "end")])
        .await
        .expect("publishing");
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([name.clone()]))
        .await
        .expect("subscribing");
    let mut table: BTreeMap<String, String> = BTreeMap::new();
    while !table.contains_key("end") {
        for delivery in receive(consumer.as_mut(), 1).await {
            table.insert(text(&delivery.key), text(&delivery.value));
        }
    }
    assert_eq!(table.get("a").map(String::as_str), Some("3"));
    assert_eq!(table.get("b").map(String::as_str), Some("2"));
}

/// Creating a topic that exists is not an error.
pub async fn create_topic_is_idempotent(bus: Arc<dyn EventBus>) {
    let name = topic(bus.as_ref(), "idempotent", 2).await;
    bus.create_topic(&TopicSpec::new(name, 2))
        .await
        .expect("creating an existing topic");
}

/// A consumer's positions show its lag: the end offset of each partition against the next
/// offset it will hand out, falling to zero as it reads.
pub async fn positions_track_lag(bus: Arc<dyn EventBus>) {
    let name = topic(bus.as_ref(), "positions", 2).await;
    let records = (0..6).map(|i| record(&format!("k{i}"), "v")).collect();
    bus.publish_batch(&name, records).await.expect("publishing");
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([name.clone()]))
        .await
        .expect("subscribing");
    let lag = |positions: &[crate::bus::PartitionPosition]| -> u64 {
        positions.iter().map(|p| p.lag()).sum()
    };
    let before = wait_for_positions(consumer.as_mut(), 2, 6).await;
    assert_eq!(before.len(), 2, "both partitions are reported: {before:?}");
    assert_eq!(lag(&before), 6, "nothing read yet: {before:?}");
    assert!(before.iter().all(|p| p.next_offset == 0));
    let first = receive(consumer.as_mut(), 1).await;
    let after_one = consumer.positions().await.expect("positions");
    assert_eq!(lag(&after_one), 5, "one handed out: {after_one:?}");
    let moved = after_one
        .iter()
        .find(|p| p.partition == first[0].partition)
        .expect("the partition read from");
    assert_eq!(moved.next_offset, first[0].offset + 1);
    receive(consumer.as_mut(), 5).await;
    let after_all = consumer.positions().await.expect("positions");
    assert_eq!(lag(&after_all), 0, "all read: {after_all:?}");
    bus.publish_batch(&name, vec![record("k0", "again")])
        .await
        .expect("publishing");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = consumer.positions().await.expect("positions");
        if lag(&now) == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a new record never showed as lag: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Positions once `partitions` partitions are assigned and `records` records show at their
/// ends (a broker assigns partitions asynchronously).
async fn wait_for_positions(
    consumer: &mut dyn Consumer,
    partitions: usize,
    records: u64,
) -> Vec<crate::bus::PartitionPosition> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let positions = consumer.positions().await.expect("positions");
        let ends: u64 = positions.iter().map(|p| p.end_offset).sum();
        if positions.len() >= partitions && ends >= records {
            return positions;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "partitions never assigned: {positions:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads a topic without a group up to its end: every record, and the positions reach the end
/// (past any transaction markers), as a table restore needs.
async fn read_to_end(bus: &dyn EventBus, topic: &str) -> Vec<String> {
    let mut reader = bus
        .subscribe(SubscribeOptions::topics([topic]))
        .await
        .expect("subscribing");
    let mut values = Vec::new();
    let mut batch = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let positions = reader.positions().await.expect("positions");
        if !positions.is_empty() && positions.iter().all(|p| p.next_offset >= p.end_offset) {
            return values;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reader never reached the end of {topic}: {positions:?}, read {values:?}"
        );
        batch.clear();
        if let Ok(received) = tokio::time::timeout(
            Duration::from_millis(200),
            reader.recv_batch(&mut batch, 100),
        )
        .await
        {
            received.expect("receiving");
            values.extend(batch.iter().map(|d| text(&d.value)));
        }
    }
}

/// A group member's output and input commit in one step: the output is readable, the commit
/// holds, and a reader reaches the end past the transaction's marker. A bus without
/// transactions says so and refuses the step.
pub async fn transactions_publish_and_commit_together(bus: Arc<dyn EventBus>) {
    let input = topic(bus.as_ref(), "txn-input", 1).await;
    let output = topic(bus.as_ref(), "txn-output", 1).await;
    let group = unique_name("txn-group");
    let records: Vec<Record> = (0..10).map(|i| record("k", &i.to_string())).collect();
    bus.publish_batch(&input, records)
        .await
        .expect("publishing");
    let options = SubscribeOptions::topics([input.clone()]).in_group(group);
    let mut member = bus.subscribe(options.clone()).await.expect("subscribing");
    let batch = receive(member.as_mut(), 10).await;
    let next = batch.last().expect("ten records").position().next();
    let produced: Vec<Record> = batch
        .iter()
        .map(|d| record("k", &format!("out-{}", text(&d.value))))
        .collect();
    let outcome = member
        .publish_and_commit(vec![(output.clone(), produced)], &[next])
        .await;
    if !bus.supports_transactions() {
        assert!(
            matches!(outcome, Err(Error::NotSupported { .. })),
            "a bus without transactions refuses the step: {outcome:?}"
        );
        return;
    }
    outcome.expect("the transaction commits");
    let expected: Vec<String> = (0..10).map(|i| format!("out-{i}")).collect();
    assert_eq!(read_to_end(bus.as_ref(), &output).await, expected);
    drop(member);
    let mut again = bus.subscribe(options).await.expect("subscribing again");
    receive_nothing(again.as_mut(), Duration::from_millis(500)).await;
}

/// A member that the group replaced while it held a batch cannot commit it: fenced, nothing
/// of its output is readable, and its assignment changes report the rewind.
pub async fn a_replaced_member_is_fenced(bus: Arc<dyn EventBus>) {
    if !bus.supports_transactions() {
        return;
    }
    let input = topic(bus.as_ref(), "fence-input", 2).await;
    let output = topic(bus.as_ref(), "fence-output", 1).await;
    let group = unique_name("fence-group");
    let records: Vec<Record> = (0..20)
        .map(|i| record(&format!("k{i}"), &i.to_string()))
        .collect();
    bus.publish_batch(&input, records)
        .await
        .expect("publishing");
    let options = SubscribeOptions::topics([input.clone()]).in_group(group);
    let mut stale = bus.subscribe(options.clone()).await.expect("subscribing");
    let batch = receive(stale.as_mut(), 1).await;
    let positions = vec![batch[0].position().next()];
    stale.assignment_changes();

    // Another member joins: the group rebalances while `stale` holds its batch.
    let mut newcomer = bus.subscribe(options).await.expect("subscribing");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let revoked = stale
            .assignment_changes()
            .iter()
            .any(|c| matches!(c, AssignmentChange::Revoked(_)));
        if revoked {
            break;
        }
        // Kafka's newcomer joins while it polls.
        let mut ignored = Vec::new();
        let _ = tokio::time::timeout(
            Duration::from_millis(100),
            newcomer.recv_batch(&mut ignored, 1),
        )
        .await;
        assert!(
            tokio::time::Instant::now() < deadline,
            "the group never rebalanced"
        );
    }
    let outcome = stale
        .publish_and_commit(
            vec![(output.clone(), vec![record("k", "stale")])],
            &positions,
        )
        .await;
    assert!(
        matches!(outcome, Err(Error::Fenced { .. })),
        "a member replaced mid-batch is fenced: {outcome:?}"
    );
    assert_eq!(
        read_to_end(bus.as_ref(), &output).await,
        Vec::<String>::new(),
        "nothing of a fenced transaction is read"
    );
}

/// Generates one `#[tokio::test]` per conformance function for a backend.
///
/// `$make` is the path of an `async fn() -> Arc<dyn EventBus>` giving the bus to test.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@each $make;
            publish_subscribe,
            per_key_order,
            explicit_partition,
            groups_share_partitions,
            commit_resume,
            start_latest_and_earliest,
            pattern_picks_up_new_topics,
            compaction_keeps_last_value,
            create_topic_is_idempotent,
            positions_track_lag,
            transactions_publish_and_commit_together,
            a_replaced_member_is_fenced
        );
    };
    (@each $make:path; $($name:ident),+) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $crate::testing::$name($make().await).await;
        }
    )+};
}
