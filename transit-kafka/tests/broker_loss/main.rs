//! Brokers lost under a running pipeline, on the secured three-node cluster
//! (`scripts/kafka.sh --brokers 3 --security secure`), over SASL_SSL: the simulation publishes
//! turnstile entries while the turnstile counter (a group member with Kafka transactions) counts
//! them, and a broker goes away mid-run.
//!
//! - the topics transit creates have three replicas and `min.insync.replicas=2`;
//! - `kill -9` of the node leading most of the count table's partitions, then its restart: it
//!   rejoins every partition's in-sync replicas;
//! - one node stopped for good: the run finishes on two;
//! - a rolling restart of the three, one after another.
//!
//! Each ends in the exact accounting: the entries on the topic are exactly those the publisher
//! had acknowledged (none lost, none twice), and the count table holds exactly them, per
//! station. The tests take turns (a lock), as each takes a broker away; the node is back when
//! a test ends, also when it fails. Ignored in the workspace's test run (one plaintext broker);
//! the secured-cluster step of `scripts/test.sh` runs them with `--ignored`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;
use transit_core::bus::EventBus;
use transit_core::codec::SchemaRegistry;
use transit_core::metrics::PipelineMetrics;
use transit_core::processor::turnstile_counts::TurnstileCounter;
use transit_core::testing::unique_name;
use transit_core::topics::Topics;
use transit_kafka::{KafkaBus, KafkaConfig};
use transit_mem::MemRegistry;
use transit_sim::driver::{self, SimulationCodecs};
use transit_sim::{testing, SimConfig};
use transit_testkit::kafka::{config_from, connect_with, nodes, SASL_SSL_VAR};
use transit_testkit::processes::control_broker;

const PARTITIONS: u32 = 4;
/// Simulated minutes a chunk of the run publishes, and how many chunks a run has.
const CHUNK_MINUTES: i64 = 20;
const CHUNKS: usize = 6;

/// One broker away at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the package is in the workspace")
}

/// librdkafka settings of `config`, for rdkafka's own clients (metadata, topic configs).
fn rdkafka_config(config: &KafkaConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    for (key, _) in config.redacted() {
        if let (false, Some(value)) = (key.starts_with("transit."), config.get(key)) {
            client.set(key, value);
        }
    }
    client
}

/// Per partition of `topic`: its leader and in-sync replicas, from a fresh metadata request.
fn partitions(config: &KafkaConfig, topic: &str) -> Vec<(i32, Vec<i32>, Vec<i32>)> {
    let client: BaseConsumer = rdkafka_config(config)
        .set("group.id", unique_name("metadata"))
        .create()
        .expect("a metadata client");
    let metadata = client
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .expect("the cluster's metadata");
    metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions())
        .map(|p| (p.leader(), p.replicas().to_vec(), p.isr().to_vec()))
        .collect()
}

/// Brings a node back when the test ends, however it ends.
struct NodeBack {
    node: Option<i32>,
}

impl Drop for NodeBack {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            let status = std::process::Command::new("bash")
                .arg(root().join("scripts/kafka.sh"))
                .args(["start", &node.to_string()])
                .current_dir(root())
                .status();
            eprintln!("node {node} started again after the test: {status:?}");
        }
    }
}

/// A run of the simulation and the counter on fresh topics, over SASL_SSL.
struct Run {
    bus: Arc<dyn EventBus>,
    config: KafkaConfig,
    registry: Arc<dyn SchemaRegistry>,
    topics: Topics,
}

impl Run {
    async fn new() -> Self {
        assert_eq!(nodes(), 3, "these tests need the three-node cluster");
        let config = config_from(SASL_SSL_VAR);
        let bus: Arc<dyn EventBus> = Arc::new(connect_with(config.clone()).await);
        let topics = Topics::new(unique_name("loss").replace('-', "_"));
        driver::create_simulation_topics(bus.as_ref(), &topics, PARTITIONS)
            .await
            .expect("creating the topics");
        let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
        // A counter creates its table topic: there from the start, to be looked at.
        TurnstileCounter::new(
            Arc::clone(&bus),
            Arc::clone(&registry),
            &topics,
            PipelineMetrics::new(),
        )
        .await
        .expect("a counter");
        Self {
            bus,
            config,
            registry,
            topics,
        }
    }

    /// Publishes `CHUNKS` chunks of the simulation while the counter counts; `strike` runs
    /// after the second chunk, while the third is being published. Returns the entries the
    /// publisher had acknowledged.
    async fn run<F, Fut>(&self, strike: F) -> u64
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let counter = TurnstileCounter::new(
            Arc::clone(&self.bus),
            Arc::clone(&self.registry),
            &self.topics,
            PipelineMetrics::new(),
        )
        .await
        .expect("a counter")
        .in_group(unique_name("loss-counters"));
        assert!(self.bus.supports_transactions(), "transactions are on");
        let stop = CancellationToken::new();
        let counting = tokio::spawn(counter.run(stop.clone()));

        let (progress, mut chunks_done) = tokio::sync::watch::channel(0usize);
        let publishing = {
            let bus = Arc::clone(&self.bus);
            let registry = Arc::clone(&self.registry);
            let topics = self.topics.clone();
            tokio::spawn(async move {
                let mut sim = testing::simulation(SimConfig::default());
                let codecs = SimulationCodecs::register(registry, &topics)
                    .await
                    .expect("registering the simulation's schemas");
                let mut published = 0;
                for chunk in 1..=CHUNKS {
                    published += testing::publish_minutes(
                        bus.as_ref(),
                        &mut sim,
                        &codecs,
                        &topics,
                        CHUNK_MINUTES,
                    )
                    .await;
                    let _ = progress.send(chunk);
                }
                published
            })
        };
        chunks_done
            .wait_for(|&done| done >= 2)
            .await
            .expect("the publisher reports its chunks");
        strike().await;
        let published = publishing.await.expect("the publisher");
        assert!(published > 1_000, "entries published: {published}");

        let table = testing::count_table_when_complete(
            self.bus.as_ref(),
            &self.registry,
            &self.topics,
            published,
            Duration::from_secs(180),
        )
        .await;
        stop.cancel();
        let stats = counting
            .await
            .expect("the counter's task")
            .expect("the counter ran to its end");
        // Nothing beyond `published` within 2 s: a duplicate would show.
        let expected = testing::entries_on_topic(
            self.bus.as_ref(),
            &self.registry,
            &self.topics,
            published,
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(
            expected.values().sum::<u64>(),
            published,
            "the topic holds exactly the acknowledged entries: none lost, none twice"
        );
        assert_eq!(table, expected, "every station's count is exact");
        eprintln!("{published} entries published and counted exactly ({stats:?})");
        published
    }

    /// The node leading most partitions of the count table.
    fn count_table_leader(&self) -> i32 {
        let mut led: HashMap<i32, usize> = HashMap::new();
        for (leader, _, _) in partitions(&self.config, &self.topics.turnstile_counts()) {
            *led.entry(leader).or_default() += 1;
        }
        led.into_iter()
            .max_by_key(|&(node, count)| (count, -node))
            .map(|(node, _)| node)
            .expect("the count table has leaders")
    }

    /// Waits until every partition of `topic` has all three replicas in sync.
    async fn await_full_isr(&self, topic: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        loop {
            let state = partitions(&self.config, topic);
            if !state.is_empty() && state.iter().all(|(_, _, isr)| isr.len() == 3) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{topic}'s replicas are not all back in sync: {state:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the secured cluster: scripts/kafka.sh --brokers 3 --security secure"]
async fn topics_have_three_replicas_and_two_in_sync() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let run = Run::new().await;
    let admin: AdminClient<DefaultClientContext> = rdkafka_config(&run.config)
        .create()
        .expect("an admin client");
    for topic in [
        run.topics.turnstile_entries(),
        run.topics.turnstile_counts(),
    ] {
        let state = partitions(&run.config, &topic);
        assert!(!state.is_empty(), "{topic} exists");
        for (leader, replicas, isr) in &state {
            assert_eq!(replicas.len(), 3, "{topic}: three replicas, {state:?}");
            assert_eq!(isr.len(), 3, "{topic}: all in sync, {state:?}");
            assert!(replicas.contains(leader));
        }
        let configs = admin
            .describe_configs(
                [&ResourceSpecifier::Topic(&topic)],
                &AdminOptions::new().request_timeout(Some(Duration::from_secs(30))),
            )
            .await
            .expect("describing the topic's configuration");
        let resource = configs
            .into_iter()
            .next()
            .expect("one resource")
            .expect("the topic's configuration");
        let min_isr = resource
            .get("min.insync.replicas")
            .and_then(|entry| entry.value.clone());
        assert_eq!(
            min_isr.as_deref(),
            Some("2"),
            "{topic}: min.insync.replicas"
        );
    }
    let bus: &KafkaBus = &connect_with(run.config.clone()).await;
    assert_eq!(bus.replication_factor(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the secured cluster: scripts/kafka.sh --brokers 3 --security secure"]
async fn kill_9_of_the_count_tables_leader_mid_run_loses_and_doubles_nothing() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let run = Run::new().await;
    let mut back = NodeBack { node: None };
    run.run(|| async {
        let node = run.count_table_leader();
        eprintln!("kill -9 of node {node}, which leads most of the count table's partitions");
        back.node = Some(node);
        control_broker(root(), &format!("kill {node}"), Duration::from_secs(60)).await;
        // Leaders move to the two others; the run goes on without it for a while.
        tokio::time::sleep(Duration::from_secs(8)).await;
        control_broker(root(), &format!("start {node}"), Duration::from_secs(120)).await;
        back.node = None;
    })
    .await;
    run.await_full_isr(&run.topics.turnstile_counts()).await;
    run.await_full_isr(&run.topics.turnstile_entries()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the secured cluster: scripts/kafka.sh --brokers 3 --security secure"]
async fn one_node_stopped_for_good_and_the_run_finishes_on_two() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let run = Run::new().await;
    let mut back = NodeBack { node: None };
    let node = run.count_table_leader();
    run.run(|| async {
        eprintln!("stopping node {node} for the rest of the run");
        back.node = Some(node);
        control_broker(root(), &format!("stop {node}"), Duration::from_secs(60)).await;
    })
    .await;
    // The run finished with the node down; it comes back for whatever runs next (NodeBack).
    let down = partitions(&run.config, &run.topics.turnstile_counts());
    assert!(
        down.iter()
            .all(|(leader, _, isr)| *leader != node && isr.len() == 2),
        "node {node} was out of every partition's leaders and in-sync replicas: {down:?}"
    );
    drop(back);
    run.await_full_isr(&run.topics.turnstile_counts()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the secured cluster: scripts/kafka.sh --brokers 3 --security secure"]
async fn a_rolling_restart_of_all_three_mid_run_loses_and_doubles_nothing() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let run = Run::new().await;
    run.run(|| async {
        eprintln!("restarting the three nodes one after another");
        // Each node stopped cleanly and back (its log says it started) before the next goes.
        control_broker(root(), "restart", Duration::from_secs(300)).await;
    })
    .await;
    run.await_full_isr(&run.topics.turnstile_counts()).await;
}
