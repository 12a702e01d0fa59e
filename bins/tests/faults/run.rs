//! A run of the production processes: how a scenario runs the pipeline, the processes'
//! settings, starting and watching them, and running a scenario with a time limit.

use super::*;

/// How much newer than the test the `transit` binary may be and still be taken for one built
/// by the same `cargo test` (which links the two in either order).
const SAME_BUILD: Duration = Duration::from_secs(120);

/// How a scenario runs the pipeline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// `transit process` instances started at first (`process-a`, `process-b`, ...).
    pub(crate) members: usize,
    /// Simulated seconds per second: slow enough that the faults come while it produces.
    pub(crate) speed: u32,
}

impl Plan {
    /// How long the producer should take, about.
    pub(crate) fn producing(&self) -> Duration {
        Duration::from_secs(u64::from(HOURS) * 3600 / u64::from(self.speed))
    }
}

/// The names, addresses and settings of one scenario's processes.
pub(crate) struct Settings {
    pub(crate) name: &'static str,
    pub(crate) started: std::time::Instant,
    pub(crate) plan: Plan,
    pub(crate) prefix: String,
    pub(crate) topics: Topics,
    pub(crate) kafka: Vec<String>,
    pub(crate) registry_address: SocketAddr,
    pub(crate) proxy_address: SocketAddr,
    pub(crate) dashboard_address: SocketAddr,
    /// The registry's and REST Proxy's certificate and users, and their clients' files.
    pub(crate) services: SecuredServices,
}

/// The processes of one scenario, their settings, and the test's own view of the topics.
pub(crate) struct Run {
    pub(crate) settings: Settings,
    pub(crate) launcher: Launcher,
    pub(crate) registry: Proc,
    pub(crate) members: Vec<Proc>,
    /// Members stopped on purpose or killed, kept for their logs.
    pub(crate) retired: Vec<Proc>,
    pub(crate) dashboard: Proc,
    pub(crate) producer: Proc,
    pub(crate) bus: Arc<dyn EventBus>,
    pub(crate) registry_client: Arc<dyn SchemaRegistry>,
    pub(crate) counts: Arc<TopicCodec<TurnstileCount>>,
    pub(crate) watch: Option<CountWatch>,
    pub(crate) expected: Arc<Expected>,
    /// Things the product did wrong that a scenario reports after its accounting.
    pub(crate) findings: Vec<String>,
}

impl Settings {
    pub(crate) fn phase(&self, what: &str) {
        eprintln!(
            "[{} {:>6.1} s] {what}",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }

    pub(crate) fn counter_group(&self) -> String {
        format!("{}-turnstile-counter", self.prefix)
    }

    pub(crate) fn cluster_args(&self) -> Vec<String> {
        let mut args = self.kafka.clone();
        args.extend(self.services.registry_client_args(self.registry_address));
        args.extend(["--topic-prefix".into(), self.prefix.clone()]);
        args
    }

    pub(crate) fn registry_args(&self) -> Vec<String> {
        let mut args = vec!["registry".to_string()];
        args.extend(self.kafka.iter().cloned());
        args.extend([
            "--registry-address".into(),
            self.registry_address.to_string(),
            "--rest-proxy-address".into(),
            self.proxy_address.to_string(),
            "--registry-topic".into(),
            format!("{}._schemas", self.prefix),
        ]);
        args.extend(self.services.server_args());
        args
    }

    pub(crate) fn member_args(&self) -> Vec<String> {
        let mut args = vec![
            "process".to_string(),
            "--group-prefix".into(),
            self.prefix.clone(),
        ];
        args.extend(self.cluster_args());
        for setting in MEMBER_SETTINGS {
            args.extend(["-X".into(), setting.into()]);
        }
        args
    }

    pub(crate) fn dashboard_args(&self) -> Vec<String> {
        let mut args = vec![
            "dashboard".to_string(),
            "--address".into(),
            self.dashboard_address.to_string(),
        ];
        args.extend(self.cluster_args());
        args
    }

    pub(crate) fn producer_args(&self) -> Vec<String> {
        let mut args = vec![
            "produce".to_string(),
            "--seed".into(),
            SEED.to_string(),
            "--days".into(),
            (f64::from(HOURS) / 24.0).to_string(),
            "--report-every".into(),
            "1".into(),
        ];
        args.extend(self.services.rest_proxy_client_args(self.proxy_address));
        args.extend(["--speed".into(), self.plan.speed.to_string()]);
        // The tick of the undisturbed run it is held against: turnstile entries are drawn per
        // tick, so another tick length draws other riders (the arrivals are the same).
        let tick = SimConfig::default().tick.as_secs();
        args.extend(["--tick-seconds".into(), tick.to_string()]);
        args.extend(self.cluster_args());
        args
    }

    /// Waits until the registry serves its schemas (to the writer, over HTTPS) and the REST
    /// Proxy answers.
    pub(crate) async fn wait_registry(&self, registry: &mut Proc) {
        let deadline = Instant::now() + STARTUP;
        for (address, path, ok_only) in [
            (self.registry_address, "/subjects", true),
            (self.proxy_address, "/", false),
        ] {
            loop {
                registry.assert_running();
                match self.services.status(address, path).await {
                    Some(200) => break,
                    Some(_) if !ok_only => break,
                    _ => {}
                }
                assert!(
                    Instant::now() < deadline,
                    "{} never answered on {}{path} within {STARTUP:?}",
                    registry.label(),
                    SecuredServices::url(address)
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    pub(crate) async fn wait_dashboard(&self, dashboard: &mut Proc) {
        wait_http(dashboard, self.dashboard_address, "/healthz", true).await;
    }
}

impl Run {
    /// Starts the registry, the raw station rows, `plan.members` processors, the dashboard and
    /// the producer, in that order, each waited for.
    pub(crate) async fn start(name: &'static str, logs: LogDir, plan: Plan) -> Self {
        let binary = built_binary("transit", "cargo build --bin transit");
        // The test's own simulation must be the binary's: one rebuilt well after this test
        // (from other sources, by another build sharing the target directory) would publish
        // other events than the undisturbed run it is compared with. One build links the two
        // in either order (the binary, heavier, often last), so a binary a little newer than
        // the test is this build's.
        let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let this_test = std::env::current_exe().expect("the test's own path");
        if let (Some(bin), Some(test)) = (modified(&binary), modified(&this_test)) {
            let newer_by = bin.duration_since(test).unwrap_or_default();
            assert!(
                newer_by <= SAME_BUILD,
                "{} was built {newer_by:?} after this test, maybe from other sources: build both \
                 again (`cargo build --bin transit`, then the test)",
                binary.display()
            );
        }
        let prefix = unique_name(&format!("faults_{name}")).replace('-', "_");
        let settings = Settings {
            name,
            started: std::time::Instant::now(),
            plan,
            topics: Topics::new(prefix.clone()),
            prefix,
            // The test broker's address and security (its properties file, when it has one).
            kafka: process_args(),
            registry_address: free_address(),
            proxy_address: free_address(),
            dashboard_address: free_address(),
            services: SecuredServices::generate(),
        };
        let expected = expected().await;
        settings.phase(&format!(
            "undisturbed run of seed {SEED} over {HOURS} h: {} records, {} entries, board at {}",
            expected.records(),
            expected.entries,
            expected.last_tick
        ));
        let mut launcher = Launcher::new(binary, logs);
        let bus: Arc<dyn EventBus> = Arc::new(transit_testkit::kafka::connect().await);
        let registry_client: Arc<dyn SchemaRegistry> = Arc::new(
            RegistryClient::with_security(
                &SecuredServices::url(settings.registry_address),
                settings.services.client_security(),
                transit_http::registry_client::CONNECT_TIMEOUT,
                transit_http::registry_client::REQUEST_TIMEOUT,
            )
            .expect("a registry client"),
        );

        let mut registry = launcher.start("registry", &settings.registry_args());
        settings.wait_registry(&mut registry).await;
        settings.phase("registry and REST Proxy serving");

        // The raw rows, as a database source publishes them.
        let rows = embedded_station_rows().expect("the embedded station rows");
        let published = publish_station_rows(
            bus.as_ref(),
            Arc::clone(&registry_client),
            &settings.topics,
            &rows,
            undisturbed().simulation().now().0,
        )
        .await
        .expect("publishing the raw station rows");
        assert_eq!(published, rows.len() as u64);
        let counts: Arc<TopicCodec<TurnstileCount>> = Arc::new(
            TopicCodec::register(
                Arc::clone(&registry_client),
                settings.topics.turnstile_counts(),
            )
            .await
            .expect("the count table's codec"),
        );

        let mut members: Vec<Proc> = (0..plan.members)
            .map(|index| launcher.start(&member_name(index), &settings.member_args()))
            .collect();
        let counter = settings.counter_group();
        for member in &mut members {
            let line = member
                .wait_for_line(&["processor running", &counter], STARTUP)
                .await;
            assert_eq!(
                field(&line, "transactional"),
                Some("true"),
                "the counter runs with transactions on Apache Kafka: {line}"
            );
        }
        settings.phase(&format!("{} processor(s) running", plan.members));
        let watch = CountWatch::start(Arc::clone(&bus), Arc::clone(&counts));

        let mut dashboard = launcher.start("dashboard", &settings.dashboard_args());
        settings.wait_dashboard(&mut dashboard).await;
        settings.phase("dashboard serving");
        let producer = launcher.start("produce", &settings.producer_args());
        settings.phase(&format!(
            "producer started ({}x: about {:?})",
            plan.speed,
            plan.producing()
        ));
        Self {
            settings,
            launcher,
            registry,
            members,
            retired: Vec::new(),
            dashboard,
            producer,
            bus,
            registry_client,
            counts,
            watch: Some(watch),
            expected,
            findings: Vec::new(),
        }
    }

    pub(crate) fn phase(&self, what: &str) {
        self.settings.phase(what);
    }

    pub(crate) fn watch(&self) -> &CountWatch {
        self.watch
            .as_ref()
            .expect("the count table is watched until the end")
    }

    /// Notes something the product did wrong that does not stop the accounting.
    pub(crate) fn finding(&mut self, what: String) {
        self.phase(&format!("FINDING: {what}"));
        self.findings.push(what);
    }

    pub(crate) async fn wait_registry(&mut self) {
        self.settings.wait_registry(&mut self.registry).await;
    }

    pub(crate) async fn wait_dashboard(&mut self) {
        self.settings.wait_dashboard(&mut self.dashboard).await;
    }

    /// Fails unless every process that should run does.
    pub(crate) fn assert_running(&mut self) {
        self.registry.assert_running();
        self.dashboard.assert_running();
        for member in &mut self.members {
            member.assert_running();
        }
    }

    /// Fails unless the producer still runs: a fault meant to strike while it produces would
    /// strike too late.
    pub(crate) fn assert_producing(&mut self, what: &str) {
        if let Some(status) = self.producer.exited() {
            panic!(
                "the producer ended ({status}) before {what}: the scenario's faults must come \
                 while it produces (slow it down with a lower speed); its last lines:\n{}",
                self.producer.last_lines(10)
            );
        }
    }

    /// The counter partitions member `index` holds, from its log: (how many assignment changes
    /// it logged, the partitions held after the last).
    pub(crate) fn assignment(&self, index: usize) -> (usize, BTreeSet<u32>) {
        counter_assignment(
            &self.members[index].log(),
            &self.settings.counter_group(),
            &self.settings.topics.turnstile_entries(),
        )
    }

    /// The last `count` lines member `index` logged about its counter (its progress, its
    /// assignment changes) or as warnings: what a failure to count shows first.
    fn counter_lines(&self, index: usize, count: usize) -> String {
        let processor = format!("processor={} ", self.settings.counter_group());
        let log = self.members[index].log();
        let lines: Vec<&str> = log
            .lines()
            .filter(|line| line.contains(&processor) || line.contains(" WARN "))
            .filter(|line| !line.contains("CONFWARN"))
            .collect();
        lines[lines.len().saturating_sub(count)..]
            .iter()
            .map(|line| transit_testkit::processes::shorten(line))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until member `index` holds counter partitions and the count table shows a count
    /// committed from one of them since it got them: it is at work. Returns its partitions.
    pub(crate) async fn wait_counting(&mut self, index: usize, limit: Duration) -> BTreeSet<u32> {
        let deadline = Instant::now() + limit;
        let mut baseline: Option<(usize, BTreeSet<u32>, HashMap<u32, u64>)> = None;
        loop {
            self.assert_running();
            let (changes, held) = self.assignment(index);
            let seen = self.watch().by_partition();
            match &baseline {
                Some((at, partitions, before)) if *at == changes => {
                    let advanced = partitions.iter().any(|p| {
                        seen.get(p).copied().unwrap_or_default()
                            > before.get(p).copied().unwrap_or_default()
                    });
                    if advanced {
                        return partitions.clone();
                    }
                }
                _ => {
                    baseline = (!held.is_empty()).then_some((changes, held, seen));
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "{} was not counting within {limit:?}: it holds {:?} of the counter's \
                     partitions; count records seen per partition: {:?}; what its counter \
                     last said:\n{}",
                    self.members[index].label(),
                    self.assignment(index).1,
                    self.watch().by_partition(),
                    self.counter_lines(index, 8)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until member `index` has logged more than `changes` assignment changes and holds
    /// partitions `wanted` accepts; returns (changes, partitions).
    pub(crate) async fn wait_assignment(
        &mut self,
        index: usize,
        changes: usize,
        wanted: impl Fn(&BTreeSet<u32>) -> bool,
        what: &str,
        limit: Duration,
    ) -> (usize, BTreeSet<u32>) {
        let deadline = Instant::now() + limit;
        loop {
            self.members[index].assert_running();
            let (now, held) = self.assignment(index);
            if now > changes && wanted(&held) {
                return (now, held);
            }
            assert!(
                Instant::now() < deadline,
                "{} never {what} within {limit:?}: it holds {held:?} after {now} changes; its \
                 last lines:\n{}",
                self.members[index].label(),
                self.members[index].last_lines(12)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `kill -9` member `index`, then starts it again.
    pub(crate) async fn kill_and_restart_member(&mut self, index: usize) {
        self.members[index].kill9().await;
        let restarted = self.launcher.restart(&self.members[index]);
        let dead = std::mem::replace(&mut self.members[index], restarted);
        self.retired.push(dead);
    }

    /// Stops member `index` with Ctrl+C and takes it out of the run. It exits 0 having
    /// committed what it held, or, when that took longer than its grace (a rebalance's restore
    /// on a loaded machine), 130 having abandoned it to the broker's abort: the run's exact
    /// accounting holds either way, and the phase says which.
    pub(crate) async fn stop_member(&mut self, index: usize) {
        let label = self.members[index].label().to_string();
        if !self.members[index].interrupt_or_abandon(STOP).await {
            self.phase(&format!(
                "{label} abandoned its open transaction on Ctrl+C (past its grace)"
            ));
        }
        let stopped = self.members.remove(index);
        self.retired.push(stopped);
    }

    /// Where the end offsets of `topic` stand: (sum, per partition).
    pub(crate) async fn end_offsets(&self, topic: &str) -> (u64, Vec<u64>) {
        let mut consumer = self
            .bus
            .subscribe(SubscribeOptions::topics([topic]))
            .await
            .unwrap_or_else(|e| panic!("subscribing to {topic}: {e:?}"));
        let mut positions = tokio::time::timeout(STARTUP, consumer.positions())
            .await
            .unwrap_or_else(|_| panic!("the positions of {topic} within {STARTUP:?}"))
            .unwrap_or_else(|e| panic!("the positions of {topic}: {e:?}"));
        positions.sort_by_key(|p| p.partition);
        let ends: Vec<u64> = positions.iter().map(|p| p.end_offset).collect();
        (ends.iter().sum(), ends)
    }

    /// The dashboard's board.
    pub(crate) async fn board(&mut self) -> StatusSnapshot {
        self.dashboard.assert_running();
        let response = request(self.settings.dashboard_address, "GET", "/api/status", None)
            .await
            .unwrap_or_else(|e| panic!("GET /api/status: {e}"));
        assert_eq!(response.status, 200, "GET /api/status: {}", response.body);
        let mut board: StatusSnapshot = serde_json::from_str(&response.body)
            .unwrap_or_else(|e| panic!("/api/status is not a board: {e}: {}", response.body));
        board.version = 0;
        board
    }

    /// Waits until the dashboard shows some entries counted and trains moving.
    pub(crate) async fn wait_board_moving(&mut self) {
        self.wait_board(
            |board| board.totals.entries > 0 && board.totals.in_service > 0,
            "anything moving",
        )
        .await;
    }

    /// Waits until the dashboard's clock reaches `hours` after the simulation's start.
    pub(crate) async fn wait_board_hours(&mut self, hours: i64) -> StatusSnapshot {
        let at = SimTime(undisturbed().simulation().now().0 + hours * 3_600_000).to_string();
        self.wait_board(
            |board| {
                board
                    .simulated_time
                    .as_deref()
                    .is_some_and(|t| t >= at.as_str())
            },
            &format!("the time {at}"),
        )
        .await
    }

    /// Waits until the dashboard shows a board `done` accepts; returns it.
    pub(crate) async fn wait_board(
        &mut self,
        done: impl Fn(&StatusSnapshot) -> bool,
        what: &str,
    ) -> StatusSnapshot {
        let deadline = Instant::now() + RECOVERY;
        loop {
            let board = self.board().await;
            if done(&board) {
                return board;
            }
            assert!(
                Instant::now() < deadline,
                "the board never showed {what} within {RECOVERY:?}: time {:?}, {:?}",
                board.simulated_time,
                board.totals
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

pub(crate) fn member_name(index: usize) -> String {
    format!("process-{}", (b'a' + index as u8) as char)
}

/// Polls `path` on `address` until it answers (200 if `ok_only`), failing if `proc` exits or
/// after [`STARTUP`].
pub(crate) async fn wait_http(proc: &mut Proc, address: SocketAddr, path: &str, ok_only: bool) {
    let deadline = Instant::now() + STARTUP;
    loop {
        proc.assert_running();
        if let Ok(response) = request(address, "GET", path, None).await {
            if !ok_only || response.status == 200 {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never answered on http://{address}{path} within {STARTUP:?}",
            proc.label()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The counter's assignment changes in a member's log: how many it logged, and the partitions
/// of `topic` it holds after the last.
pub(crate) fn counter_assignment(log: &str, counter: &str, topic: &str) -> (usize, BTreeSet<u32>) {
    let processor = format!("processor={counter} ");
    let mut changes = 0;
    let mut held = BTreeSet::new();
    for line in log.lines().filter(|line| line.contains(&processor)) {
        let assigned = line.contains("partitions assigned; their state restored");
        let revoked = line.contains("partitions revoked; their state dropped");
        if !assigned && !revoked {
            continue;
        }
        changes += 1;
        let partitions = partitions_in(line, topic);
        if assigned {
            held.extend(partitions);
        } else {
            for partition in partitions {
                held.remove(&partition);
            }
        }
    }
    (changes, held)
}

/// The partition numbers of `topic` a log line names as `topic[N]`.
pub(crate) fn partitions_in(line: &str, topic: &str) -> Vec<u32> {
    let needle = format!("{topic}[");
    line.match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &line[at + needle.len()..];
            rest[..rest.find(']')?].parse().ok()
        })
        .collect()
}

/// Runs a scenario as a task with a time limit; a failure shows the last lines of every
/// process's log (the processes die with the task).
pub(crate) async fn scenario<F, Fut>(name: &'static str, body: F)
where
    F: FnOnce(LogDir) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    // One scenario at a time, even when the harness runs tests in parallel: each loads the
    // two cores on its own, and the broker's restart would disturb any other.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    eprintln!();
    let logs = LogDir::create(&format!("transit-faults-{name}"));
    let began = std::time::Instant::now();
    let outcome = tokio::spawn(tokio::time::timeout(SCENARIO_LIMIT, body(logs.clone()))).await;
    let message = match outcome {
        Ok(Ok(())) => {
            eprintln!("[{name}] passed in {:.1} s", began.elapsed().as_secs_f64());
            logs.remove();
            return;
        }
        Ok(Err(_elapsed)) => format!("the scenario did not finish within {SCENARIO_LIMIT:?}"),
        Err(error) => match error.try_into_panic() {
            Ok(payload) => payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic without a message".to_string()),
            Err(error) => error.to_string(),
        },
    };
    panic!(
        "[{name}] failed after {:.1} s: {message}\n\n{}",
        began.elapsed().as_secs_f64(),
        logs.tails(TAIL_LINES)
    );
}

/// The dice of a scenario: from `TRANSIT_FAULTS_SEED` to replay a run, else from the clock.
pub(crate) fn dice(run: &Run) -> Dice {
    let seed = std::env::var("TRANSIT_FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok());
    let dice = Dice::new(seed);
    run.phase(&format!(
        "random moments from seed {} (TRANSIT_FAULTS_SEED replays them)",
        dice.seed()
    ));
    dice
}

/// The package root, where `scripts/` is.
pub(crate) fn package_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
