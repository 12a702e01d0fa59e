//! Predictions through the production processes: `transit registry`, `transit produce --gtfs`
//! and `transit process --gtfs` on Apache Kafka, over NYC's lines 1 and 2 (the feed
//! `scripts/feeds.sh` downloads). The predictor applies every arrival exactly once (its
//! changelog's next offsets are the arrivals topic's end offsets, its applied count the
//! arrivals), the prediction table holds the feed's vehicles, stops and trips by every method,
//! and the scorer reads every prediction issued and publishes accuracy rows.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use transit_core::bus::{EventBus, SubscribeOptions};
use transit_core::codec::{SchemaRegistry, TopicCodec};
use transit_core::event::{AccuracyEvent, PredictionEvent, ProcessorState};
use transit_core::processor::{read_table, read_topic};
use transit_core::testing::unique_name;
use transit_core::topics::Topics;
use transit_http::RegistryClient;
use transit_predict::score::Clocks;
use transit_testkit::browser::built_binary;
use transit_testkit::feeds;
use transit_testkit::http::free_address;
use transit_testkit::kafka::{kafka_bus, process_args};
use transit_testkit::processes::{field, Launcher, LogDir, Proc};

/// How long a process may take to become ready or to exit.
const LIMIT: Duration = Duration::from_secs(60);
/// How long the predictor and scorer may take to catch up once the producer finished.
const CATCH_UP: Duration = Duration::from_secs(240);

/// NYC's routes in the test feed.
const NYC_ROUTES: [&str; 2] = ["1", "2"];
/// The predictor's methods: the learnt one riders are served, and the baselines.
const METHODS: [&str; 4] = ["learnt", "timetable", "delay", "latest_segment"];
/// Simulated hours the producer runs, from 05:00 on a Monday: the morning's first trains
/// and the start of the rush.
const HOURS: f64 = 1.5;

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The end offsets of `topic`, per partition.
async fn end_offsets(bus: &dyn EventBus, topic: &str) -> BTreeMap<u32, u64> {
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([topic]))
        .await
        .unwrap_or_else(|e| panic!("subscribing to {topic}: {e:?}"));
    let positions = tokio::time::timeout(LIMIT, consumer.positions())
        .await
        .unwrap_or_else(|_| panic!("the positions of {topic} within {LIMIT:?}"))
        .unwrap_or_else(|e| panic!("the positions of {topic}: {e:?}"));
    positions
        .into_iter()
        .map(|p| (p.partition, p.end_offset))
        .collect()
}

/// A processor's changelog: its entries as a member restores them.
async fn changelog(
    bus: &dyn EventBus,
    registry: &Arc<dyn SchemaRegistry>,
    topic: &str,
) -> Vec<ProcessorState> {
    let codec: TopicCodec<ProcessorState> = TopicCodec::register(Arc::clone(registry), topic)
        .await
        .unwrap_or_else(|e| panic!("the codec of {topic}: {e:?}"));
    let mut entries = Vec::new();
    for delivery in read_table(bus, topic)
        .await
        .unwrap_or_else(|e| panic!("reading {topic}: {e:?}"))
    {
        let (_, entry) = codec
            .decode(&delivery)
            .await
            .unwrap_or_else(|e| panic!("an entry of {topic}: {e:?}"));
        entries.push(entry);
    }
    entries
}

/// The predictor's next arrival offset per partition, from its changelog.
fn predictor_offsets(entries: &[ProcessorState]) -> BTreeMap<u32, u64> {
    entries
        .iter()
        .filter(|entry| entry.kind == "offsets")
        .map(|entry| {
            let next: u64 = serde_json::from_str(&entry.state)
                .unwrap_or_else(|e| panic!("an offsets entry: {e}: {entry:?}"));
            (entry.partition, next)
        })
        .collect()
}

/// The scorer's next offset per partition of `topic`, from its changelog's clocks.
fn scorer_offsets(entries: &[ProcessorState], topic: &str) -> BTreeMap<u32, u64> {
    entries
        .iter()
        .filter(|entry| entry.kind == "clocks")
        .filter_map(|entry| {
            let clocks: Clocks = serde_json::from_str(&entry.state)
                .unwrap_or_else(|e| panic!("a clocks entry: {e}: {entry:?}"));
            let (_, next) = clocks.next_offsets.into_iter().find(|(t, _)| t == topic)?;
            Some((entry.partition, next))
        })
        .collect()
}

/// The offset after the last record of each partition of `topic` a `read_committed` reader
/// reads: the next one a reader that applied them all is to apply (a transaction's commit
/// marker, and aborted records, take offsets too, so the end offset may lie beyond).
async fn after_last_record(bus: &dyn EventBus, topic: &str) -> (u64, BTreeMap<u32, u64>) {
    let mut after = BTreeMap::new();
    let read = read_topic(bus, topic, |delivery| {
        let next = after.entry(delivery.partition).or_insert(0);
        *next = (*next).max(delivery.offset + 1);
    })
    .await
    .unwrap_or_else(|e| panic!("reading {topic}: {e:?}"));
    (read, after)
}

/// The counts of a processor's statistics in a log line's field `key` (`name N, name N`).
fn counts(line: &str, key: &str) -> BTreeMap<String, u64> {
    let pattern = format!(" {key}=");
    let start = line
        .find(&pattern)
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
        + pattern.len();
    let rest = &line[start..];
    // The field ends where the next ` name=` starts.
    let end = rest
        .find('=')
        .and_then(|at| rest[..at].rfind(' '))
        .unwrap_or(rest.len());
    rest[..end]
        .trim_matches('"')
        .split(", ")
        .filter_map(|pair| {
            let (name, value) = pair.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// Fails with the processes' last lines unless each still runs.
fn assert_running(procs: &mut [&mut Proc]) {
    for proc in procs.iter_mut() {
        proc.assert_running();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_with_gtfs_predicts_every_arrival_once_and_scores_the_predictions_over_kafka() {
    let feed = feeds::nyc().display().to_string();
    let binary = built_binary("transit", "cargo build --bin transit");
    let mut launcher = Launcher::new(binary, LogDir::create("agency-predictions"));
    launcher.env("RUST_LOG", "info");
    let prefix = unique_name("predict").replace('-', "_");
    let (registry_at, proxy_at) = (free_address(), free_address());
    let cluster = |extra: &[&str]| -> Vec<String> {
        let mut args = strings(extra);
        args.extend(process_args());
        args.extend(strings(&[
            "--gtfs",
            &feed,
            "--topic-prefix",
            &prefix,
            "--registry-url",
            &format!("http://{registry_at}"),
            "--metrics-address",
            &free_address().to_string(),
        ]));
        args
    };

    let mut registry_args = strings(&["registry"]);
    registry_args.extend(process_args());
    registry_args.extend(strings(&[
        "--registry-address",
        &registry_at.to_string(),
        "--rest-proxy-address",
        &proxy_at.to_string(),
        "--registry-topic",
        &format!("{prefix}._schemas"),
    ]));
    let mut registry = launcher.start("registry", &registry_args);
    registry
        .wait_for_line(&["REST Proxy listening", &proxy_at.to_string()], LIMIT)
        .await;

    let group_prefix = format!("{prefix}-group");
    let mut process = launcher.start(
        "process",
        &cluster(&["process", "--group-prefix", &group_prefix]),
    );
    for group in ["predictor", "prediction-scorer"] {
        let line = process
            .wait_for_line(
                &["processor running", &format!("{group_prefix}-{group} ")],
                LIMIT,
            )
            .await;
        assert_eq!(field(&line, "transactional"), Some("true"), "{line}");
    }
    // CTA's processors read CTA's topics: they do not run for another agency.
    assert!(
        process.lines_with(&["turnstile-counter"]).is_empty(),
        "{}",
        process.last_lines(20)
    );
    let days = (HOURS / 24.0).to_string();
    let mut produce = launcher.start(
        "produce",
        &cluster(&["produce", "--flat-out", "--days", &days]),
    );
    let status = produce.wait_exit(CATCH_UP).await;
    assert!(status.success(), "{status}: {}", produce.last_lines(15));

    let bus = kafka_bus().await;
    let registry_client: Arc<dyn SchemaRegistry> = Arc::new(
        RegistryClient::new(&format!("http://{registry_at}")).expect("the registry's client"),
    );
    let topics = Topics::new(&prefix);
    let arrivals_topic = topics.vehicle_arrivals();
    let arrival_ends = end_offsets(bus.as_ref(), &arrivals_topic).await;
    let arrivals: u64 = arrival_ends.values().sum();
    assert!(arrivals > 1_000, "{arrival_ends:?}");
    assert_eq!(arrival_ends.len(), 4, "the producer's partitions");
    // The trips the simulation dropped, each told once on their topic.
    let cancellations: u64 = end_offsets(bus.as_ref(), &topics.trip_cancellations())
        .await
        .values()
        .sum();
    let produced = produce
        .lines_with(&["producer stopped"])
        .pop()
        .unwrap_or_else(|| panic!("no summary: {}", produce.last_lines(10)));
    assert_eq!(
        field(&produced, "cancellations").and_then(|n| n.parse::<u64>().ok()),
        Some(cancellations),
        "{produced}"
    );

    // The predictor: every partition's arrivals applied, by the changelog committed with them.
    let predictor_state = transit_predict::topics::predictor_state(&topics);
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let entries = changelog(bus.as_ref(), &registry_client, &predictor_state).await;
        let next = predictor_offsets(&entries);
        if next == arrival_ends {
            assert!(entries.iter().any(|e| e.kind == "vehicle"), "no vehicles");
            assert!(entries.iter().any(|e| e.kind == "learnt"), "nothing learnt");
            break;
        }
        assert_running(&mut [&mut registry, &mut process]);
        assert!(
            Instant::now() < deadline,
            "the predictor's changelog stands at {next:?}, the arrivals end at {arrival_ends:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The scorer: every arrival and every prediction issued read (the issued stream is
    // complete: the predictor committed its last batch before its changelog said so).
    let issued_topic = transit_predict::topics::issued(&topics);
    let (issued, issued_after) = after_last_record(bus.as_ref(), &issued_topic).await;
    assert!(
        issued > arrivals,
        "{issued} predictions issued for {arrivals} arrivals"
    );
    let scorer_state = transit_predict::topics::scorer_state(&topics);
    loop {
        let entries = changelog(bus.as_ref(), &registry_client, &scorer_state).await;
        let (read_arrivals, read_issued) = (
            scorer_offsets(&entries, &arrivals_topic),
            scorer_offsets(&entries, &issued_topic),
        );
        if read_arrivals == arrival_ends && read_issued == issued_after {
            break;
        }
        assert_running(&mut [&mut registry, &mut process]);
        assert!(
            Instant::now() < deadline,
            "the scorer stands at arrivals {read_arrivals:?} (end {arrival_ends:?}) and \
             predictions {read_issued:?} (after the last {issued_after:?})"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The prediction table: the feed's routes, every method, predictions ahead of their issue.
    let table: TopicCodec<PredictionEvent> = TopicCodec::register(
        Arc::clone(&registry_client),
        transit_predict::topics::predictions(&topics),
    )
    .await
    .expect("the prediction table's codec");
    let rows = read_table(bus.as_ref(), table.topic())
        .await
        .expect("reading the prediction table");
    assert!(!rows.is_empty(), "the prediction table is empty");
    let mut methods = BTreeSet::new();
    for delivery in &rows {
        let (_, prediction) = table.decode(delivery).await.expect("a prediction");
        assert!(
            NYC_ROUTES.contains(&prediction.route_id.as_str()),
            "{prediction:?}"
        );
        assert!(!prediction.trip_id.is_empty() && !prediction.stop_id.is_empty());
        assert_eq!(
            delivery.partition, prediction.source_partition,
            "a vehicle's predictions share its arrivals' partition: {prediction:?}"
        );
        assert!(
            prediction.predicted_arrival_time >= prediction.issued_at - 60_000,
            "{prediction:?}"
        );
        methods.insert(prediction.method.clone());
    }
    assert_eq!(methods, METHODS.iter().map(|m| m.to_string()).collect());

    // The accuracy table: samples scored by every method, in MBTA's buckets.
    let accuracy: TopicCodec<AccuracyEvent> = TopicCodec::register(
        Arc::clone(&registry_client),
        transit_predict::topics::accuracy(&topics),
    )
    .await
    .expect("the accuracy table's codec");
    let mut scored: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for delivery in read_table(bus.as_ref(), accuracy.topic())
        .await
        .expect("reading the accuracy table")
    {
        let (_, row) = accuracy.decode(&delivery).await.expect("an accuracy row");
        assert!(NYC_ROUTES.contains(&row.route_id.as_str()), "{row:?}");
        assert!(row.accurate <= row.scored, "{row:?}");
        let total = scored.entry(row.method.clone()).or_default();
        total.0 += row.scored;
        total.1 += row.accurate;
    }
    for method in METHODS {
        let (samples, accurate) = scored.get(method).copied().unwrap_or_default();
        assert!(samples > 100, "{method}: {samples} samples scored");
        assert!(accurate > 0, "{method}: none accurate of {samples}");
    }

    process.interrupt(LIMIT).await;
    let stopped = process
        .lines_with(&["processors stopped; output flushed"])
        .pop()
        .unwrap_or_else(|| panic!("no summary: {}", process.last_lines(10)));
    // One member from the start: it read every arrival once and applied each, and the
    // scorer read every arrival and every prediction issued once.
    let predictor = counts(&stopped, "predictor");
    let count = |counts: &BTreeMap<String, u64>, name: &str| {
        counts
            .get(name)
            .copied()
            .unwrap_or_else(|| panic!("no {name} in {stopped}"))
    };
    assert_eq!(count(&predictor, "arrivals"), arrivals, "{stopped}");
    assert_eq!(count(&predictor, "applied"), arrivals, "{stopped}");
    assert_eq!(count(&predictor, "replayed"), 0, "{stopped}");
    // Each cancellation taken at most once: one announced after the last arrival applied is
    // still waiting for the arrivals to reach it.
    assert!(
        count(&predictor, "cancelled") <= cancellations,
        "{cancellations} cancellations published: {stopped}"
    );
    let scorer = counts(&stopped, "scorer");
    assert_eq!(count(&scorer, "arrivals"), arrivals, "{stopped}");
    assert_eq!(count(&scorer, "predictions"), issued, "{stopped}");
    assert_eq!(count(&scorer, "replayed"), 0, "{stopped}");
    registry.interrupt(LIMIT).await;
    eprintln!(
        "{arrivals} arrivals, {cancellations} trips cancelled, {issued} predictions issued, \
         scored: {scored:?}; {stopped}"
    );
    launcher.logs().remove();
}
