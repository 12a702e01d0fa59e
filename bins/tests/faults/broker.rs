//! The brokers under everything: all of them restarted (a rolling restart on the cluster), the
//! node leading the count table killed with `kill -9` and restarted, and one node stopped for
//! good. The last two need the three-node cluster.

use super::*;

/// Restarts the brokers (`scripts/kafka.sh restart`) while the producer, two processors and
/// the dashboard run: on the three-node cluster a rolling restart, each node stopped and back
/// (its log says it started) before the next goes; on one broker, its restart on the same
/// ports and log directory. None of the processes is restarted, all carry on, and the
/// idempotent producer's retries put no entry on its topic twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the fault suite: run by scripts/test.sh on the secured cluster (see its doc)"]
async fn faults_the_brokers_restart_one_after_another_under_the_running_pipeline() {
    scenario("broker-restart", |logs| async move {
        // A rolling restart of three nodes over TLS takes 100 s or more here, and the
        // pipeline keeps up through it: at 120x (90 s of production) everything was counted
        // before the last node was back, and nothing was left to show the processes carry on
        // after it. At 60x the producer outlasts the restart.
        let mut run = at_work("broker-restart", logs, "the broker restart", 60).await;
        let counted = run.watch().sum();
        let what = if nodes() > 1 {
            format!("a rolling restart of the {} nodes", nodes())
        } else {
            "restarting the broker".to_string()
        };
        run.phase(&format!(
            "{what} ({counted} of {} entries counted)",
            run.expected.entries
        ));
        let restarted = Instant::now();
        let printed = control_broker(package_root(), "restart", BROKER_CONTROL).await;
        let producing = if run.producer.exited().is_none() {
            "still producing"
        } else {
            "production over"
        };
        run.phase(&format!(
            "restarted in {:.1} s, {producing}: {}",
            restarted.elapsed().as_secs_f64(),
            printed.trim().replace('\n', "; ")
        ));
        run.assert_running();
        run.wait_counting_again("the restart").await;
        run.finish().await;
    })
    .await;
}

/// `kill -9` of the node leading most of the count table's partitions while the producer, two
/// processors and the dashboard run: leadership moves to the other two and the pipeline
/// carries on without the node (counts are committed while it is down); the node is started
/// again and rejoins the in-sync replicas of the count table and the entries topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the fault suite: run by scripts/test.sh on the secured cluster (see its doc)"]
async fn faults_kill_9_the_count_tables_leader_mid_run_and_restart_it() {
    require_three_nodes("kill -9 of the count table's leader");
    scenario("leader-kill-9", |logs| async move {
        let mut run = at_work("leader-kill-9", logs, "the kill", AT_WORK_SPEED).await;
        let counts = run.settings.topics.turnstile_counts();
        let node = leader_of_most(&counts).await;
        let mut back = NodeBack::new();
        run.phase(&format!(
            "kill -9 node {node}, leading most of {counts}'s partitions ({} of {} entries \
             counted)",
            run.watch().sum(),
            run.expected.entries
        ));
        back.node = Some(node);
        control_broker(package_root(), &format!("kill {node}"), BROKER_CONTROL).await;
        run.wait_counting_again(&format!("node {node}'s kill, while it is down"))
            .await;
        let up = Instant::now();
        control_broker(package_root(), &format!("start {node}"), BROKER_CONTROL).await;
        back.node = None;
        run.phase(&format!(
            "node {node} started again in {:.1} s",
            up.elapsed().as_secs_f64()
        ));
        run.assert_running();
        for topic in [counts, run.settings.topics.turnstile_entries()] {
            await_full_isr(&topic).await;
        }
        run.phase(&format!(
            "node {node} is back in every in-sync replica set of the count table and the \
             entries topic"
        ));
        run.finish().await;
    })
    .await;
}

/// One node (the count table's leader) stopped for good while the producer, two processors
/// and the dashboard run: the run finishes on the other two (every topic has three replicas
/// and `min.insync.replicas=2`), with the same accounting. The node is started again when the
/// scenario ends (also when it fails), for the scenarios after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the fault suite: run by scripts/test.sh on the secured cluster (see its doc)"]
async fn faults_one_node_stopped_for_good_and_the_run_finishes_on_two() {
    require_three_nodes("one node stopped for good");
    scenario("node-stopped", |logs| async move {
        let mut run = at_work("node-stopped", logs, "the stop", AT_WORK_SPEED).await;
        let counts = run.settings.topics.turnstile_counts();
        let node = leader_of_most(&counts).await;
        let mut back = NodeBack::new();
        run.phase(&format!(
            "stopping node {node} (leading most of {counts}'s partitions) for the rest of the \
             run ({} of {} entries counted)",
            run.watch().sum(),
            run.expected.entries
        ));
        back.node = Some(node);
        control_broker(package_root(), &format!("stop {node}"), BROKER_CONTROL).await;
        run.assert_running();
        run.wait_counting_again(&format!("node {node}'s stop"))
            .await;
        let entries = run.settings.topics.turnstile_entries();
        run.finish().await;
        // The run finished on two: the node led nothing and was in no in-sync replica set.
        for topic in [&counts, &entries] {
            let state = partitions(topic).await;
            assert!(
                !state.is_empty()
                    && state
                        .iter()
                        .all(|(leader, _, isr)| *leader != node && !isr.contains(&node)),
                "node {node} was out of {topic}'s leaders and in-sync replicas: {state:?}"
            );
        }
        drop(back);
        await_full_isr(&counts).await;
    })
    .await;
}

/// How long `scripts/kafka.sh` may take to kill, stop, start or restart (all three, one by
/// one) the brokers.
const BROKER_CONTROL: Duration = Duration::from_secs(300);

/// Fails at once, saying how to run it, unless the test cluster has three nodes.
fn require_three_nodes(what: &str) {
    assert!(
        nodes() == 3,
        "{what} needs the three-node cluster (TRANSIT_TEST_KAFKA_NODES=3), not {} broker(s): run \
         `scripts/kafka.sh --brokers 3 --security secure cargo test -p transit --test faults -- \
         --ignored --nocapture --test-threads 1`, as scripts/test.sh does",
        nodes()
    );
}

/// Per partition of `topic`: its leader, replicas and in-sync replicas, from a fresh metadata
/// request.
async fn partitions(topic: &str) -> Vec<(i32, Vec<i32>, Vec<i32>)> {
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let client: BaseConsumer = rdkafka_config()
            .set("group.id", unique_name("faults-metadata"))
            .create()
            .expect("a metadata client");
        let metadata = client
            .fetch_metadata(Some(&topic), Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("the cluster's metadata of {topic}: {e}"));
        metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic)
            .flat_map(|t| t.partitions())
            .map(|p| (p.leader(), p.replicas().to_vec(), p.isr().to_vec()))
            .collect()
    })
    .await
    .expect("the metadata request")
}

/// The node leading most partitions of `topic` (the lowest id among equals).
async fn leader_of_most(topic: &str) -> i32 {
    let mut led: HashMap<i32, usize> = HashMap::new();
    for (leader, _, _) in partitions(topic).await {
        *led.entry(leader).or_default() += 1;
    }
    led.into_iter()
        .filter(|&(node, _)| node >= 0)
        .max_by_key(|&(node, count)| (count, -node))
        .map(|(node, _)| node)
        .unwrap_or_else(|| panic!("{topic} has no leader"))
}

/// Waits until every partition of `topic` has its three replicas in sync.
async fn await_full_isr(topic: &str) {
    let deadline = Instant::now() + RECOVERY;
    loop {
        let state = partitions(topic).await;
        if !state.is_empty() && state.iter().all(|(_, _, isr)| isr.len() == 3) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{topic}'s replicas are not all back in sync within {RECOVERY:?}: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Starts a node taken away again when the scenario ends, however it ends (a failure, the
/// scenario's time limit), so the scenarios after it have three.
struct NodeBack {
    node: Option<i32>,
}

impl NodeBack {
    fn new() -> Self {
        Self { node: None }
    }
}

impl Drop for NodeBack {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            let status = std::process::Command::new("bash")
                .arg(package_root().join("scripts/kafka.sh"))
                .args(["start", &node.to_string()])
                .current_dir(package_root())
                .stdin(std::process::Stdio::null())
                .status();
            eprintln!("node {node} started again after the scenario: {status:?}");
        }
    }
}

impl Run {
    /// Waits until counts are committed again after `what`: everyone carries on. Every entry
    /// counted already (the pipeline kept up through `what`) is as good: nothing is left to
    /// count, and [`Run::finish`] checks the accounting.
    async fn wait_counting_again(&mut self, what: &str) {
        let deadline = Instant::now() + RECOVERY;
        let before = self.watch().sum();
        if before >= self.expected.entries {
            self.phase(&format!(
                "every entry was counted by the end of {what} ({before} entries)"
            ));
            return;
        }
        while self.watch().sum() == before {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "nothing was counted within {RECOVERY:?} of {what} ({before} of {} entries \
                 counted)",
                self.expected.entries
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.phase(&format!(
            "counting after {what} ({} entries counted)",
            self.watch().sum()
        ));
    }
}

/// The speed of the scenarios on the brokers: 90 s of production, time enough for a fault
/// and the recovery from it.
const AT_WORK_SPEED: u32 = 120;

/// The pipeline of `name` at `speed` with two processors, once both count and the board
/// moves, and still producing: ready for `fault` to strike.
async fn at_work(name: &'static str, logs: LogDir, fault: &str, speed: u32) -> Run {
    let mut run = Run::start(name, logs, Plan { members: 2, speed }).await;
    run.wait_counting(0, RECOVERY).await;
    run.wait_counting(1, RECOVERY).await;
    run.wait_board_moving().await;
    run.assert_producing(fault);
    run
}
