//! Faults, end to end: the production processes (`transit registry`, `process`, `dashboard`,
//! `produce`) as separate OS processes on Apache Kafka, and what operations do to them:
//! 1. a processor killed with `kill -9` inside a batch, three times, and restarted each time;
//! 2. a processor frozen (`SIGSTOP`) inside a batch past its session timeout, then thawed:
//!    another member took its partitions, and what it was writing is fenced;
//! 3. three members, one frozen while the others take its partitions, thawed, and handed one
//!    of its old partitions back;
//! 4. the broker restarted under everything (`scripts/kafka.sh restart`);
//! 5. the schema registry (and REST Proxy) restarted, twice;
//! 6. the dashboard killed with `kill -9` and restarted.
//!
//! "Inside a batch" is checked, not hoped for: the member is frozen at random moments just
//! after the producer's entries reach it, each time only long enough to see whether a count of
//! one of its partitions is on the count table uncommitted (a `read_uncommitted` look that
//! transit's own readers never take) and stays so; if not, it is thawed and tried again. Each
//! such transaction must end aborted: its count is never read.
//!
//! Every scenario ends with the same accounting, against an undisturbed run of the same seed:
//! - every event the simulation made is on its topic exactly once (no loss, no duplicate from
//!   a retry), and the producer reports as many as the topics hold;
//! - the count table holds one record per station and line, equal to the entries counted
//!   straight from the entries topic and to what the simulation made, summing to the entries
//!   published;
//! - the station table has every station of the three lines exactly once, and the dead-letter
//!   topic the raw rows on no line (or several) and nothing else;
//! - no count on the table ever went backwards, as a `read_committed` reader saw it live;
//! - the dashboard process shows the board of an in-memory run of the same seed at the same
//!   end time: its stations, counts, weather and clock first (what the faults could break),
//!   then where the trains stand;
//! - every process still running stops cleanly on Ctrl+C (exit 0).
//!
//! Needs: Apache Kafka started by `scripts/kafka.sh` (`TRANSIT_TEST_KAFKA`, and
//! `TRANSIT_TEST_KAFKA_CONTROL` for the broker restart), and the `transit` binary built
//! (`cargo build --bin transit`). No database: the raw station rows are published by the test
//! the way a database source publishes them. Run:
//! `scripts/kafka.sh cargo test -p transit --test end_to_end faults -- --nocapture --test-threads 1`.
//! The scenarios take turns (one at a time even without `--test-threads 1`), but the broker's
//! restart disturbs any other test using the broker meanwhile. `TRANSIT_FAULTS_SEED` replays
//! the random moments a failed run chose (each scenario prints its seed).
//!
//! Members of the processors' groups run with `session.timeout.ms=6000` (the broker's minimum)
//! and `heartbeat.interval.ms=1000`, so a dead or frozen member is noticed in seconds. A
//! member killed inside a transaction leaves it open until the broker aborts it (the
//! processors' `transaction.timeout.ms`, 10 s, plus the broker's check interval, up to 10 s
//! more); readers of the count table, restores included, wait for it. That wait is most of
//! each fault's cost in wall time, and the producer is paced so that the faults come while it
//! produces.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message as _;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use transit_core::bus::{Delivery, EventBus, StartFrom, SubscribeOptions};
use transit_core::codec::{SchemaRegistry, TopicCodec};
use transit_core::event::{StationEvent, TurnstileCount, TurnstileEvent};
use transit_core::model::LineColor;
use transit_core::network::{embedded_station_rows, Network};
use transit_core::processor::source::publish_station_rows;
use transit_core::processor::{read_table, read_topic};
use transit_core::status::StatusSnapshot;
use transit_core::testing::{unique_name, wait_for_board};
use transit_core::topics::Topics;
use transit_http::RegistryClient;
use transit_sim::testing::FlatOutRun;
use transit_sim::{SimConfig, SimTime, TickEvents};

use transit_testkit::browser::built_binary;
use transit_testkit::http::{free_address, request};
use transit_testkit::kafka::{broker_settings, brokers};
use transit_testkit::processes::{control_broker, field, Dice, Launcher, LogDir, Proc};

// ---------------------------------------------------------------------------------------------
// What every scenario runs.

/// The simulation's seed in every scenario (one undisturbed run serves them all).
const SEED: u64 = 2026;
/// Simulated hours, from the simulation's start (05:00 on a Monday): about 77,000 records,
/// 74,000 of them turnstile entries, through the morning rush; a few seconds' work flat out.
const HOURS: u32 = 3;
/// Partitions of the arrivals and entries topics (`transit produce`'s default).
const PARTITIONS: u32 = 4;

/// librdkafka settings of every group member: a frozen or dead member is replaced within
/// seconds instead of librdkafka's default 45 s.
const MEMBER_SETTINGS: [&str; 2] = ["session.timeout.ms=6000", "heartbeat.interval.ms=1000"];

/// How long a server may take to answer after its process started.
const STARTUP: Duration = Duration::from_secs(60);
/// How long a member may take to be at work again after a fault: the group notices (6 s),
/// the transaction a dead member left open is aborted (up to 20 s), the state is restored.
const RECOVERY: Duration = Duration::from_secs(120);
/// How long the processors and the board may take to catch up once the producer finished.
const CATCH_UP: Duration = Duration::from_secs(180);
/// How long the trains on a board that shows every count may take to reach their platforms.
const TRAINS_SETTLE: Duration = Duration::from_secs(30);
/// How long a process may take to exit after Ctrl+C.
const STOP: Duration = Duration::from_secs(30);
/// The longest a whole scenario may take before it fails.
const SCENARIO_LIMIT: Duration = Duration::from_secs(600);
/// Lines of each process's log a failure shows.
const TAIL_LINES: usize = 12;

// ---------------------------------------------------------------------------------------------
// The undisturbed run: what the simulation makes, and the board an in-memory run shows.

/// What an undisturbed run of [`SEED`] over [`HOURS`] publishes and shows.
#[derive(Debug)]
struct Expected {
    /// The last tick's time, as the board shows it.
    last_tick: String,
    /// Turnstile entries made.
    entries: u64,
    /// Arrivals made, per line (Blue, Red, Green).
    arrivals: [u64; 3],
    /// Weather readings made.
    weather: u64,
    /// Entries per station and line.
    per_key: BTreeMap<(u32, LineColor), u64>,
    /// The stations of the three lines, by station and line: their names.
    stations: BTreeMap<(u32, LineColor), String>,
    /// Raw station rows on none or several of the three lines: the dead letters.
    dead_letters: u64,
    /// The board of an in-memory run, version zeroed.
    board: StatusSnapshot,
}

impl Expected {
    fn records(&self) -> u64 {
        self.entries + self.arrivals.iter().sum::<u64>() + self.weather
    }
}

/// The undisturbed run every scenario is compared with: [`SEED`] over [`HOURS`].
fn undisturbed() -> FlatOutRun {
    FlatOutRun::new(SEED, None, i64::from(HOURS))
}

/// Computed once per test binary: every scenario compares against it.
async fn expected() -> Arc<Expected> {
    static EXPECTED: OnceLock<Arc<Expected>> = OnceLock::new();
    if let Some(expected) = EXPECTED.get() {
        return Arc::clone(expected);
    }
    let computed = Arc::new(compute_expected().await);
    Arc::clone(EXPECTED.get_or_init(|| computed))
}

async fn compute_expected() -> Expected {
    // The simulation stepped alone: every event it makes.
    let run = undisturbed();
    let mut twin = run.simulation();
    let end = run.until();
    let mut tick = TickEvents::default();
    let (mut entries, mut arrivals, mut weather) = (0u64, [0u64; 3], 0u64);
    let mut per_key: BTreeMap<(u32, LineColor), u64> = BTreeMap::new();
    while twin.now() < end {
        twin.step(&mut tick);
        for arrival in &tick.arrivals {
            arrivals[arrival.line.index()] += 1;
        }
        for entry in &tick.turnstile_entries {
            entries += 1;
            *per_key.entry((entry.station_id.0, entry.line)).or_default() += 1;
        }
        weather += u64::from(tick.weather.is_some());
    }
    let last_tick = tick.time.to_string();
    let network = Network::embedded().expect("the embedded network");
    let stations: BTreeMap<(u32, LineColor), String> = network
        .lines()
        .flat_map(|line| {
            line.stations()
                .iter()
                .map(move |s| ((s.id.0, line.color()), s.name.clone()))
        })
        .collect();
    let rows = embedded_station_rows().expect("the embedded station rows");
    let dead_letters = rows.iter().filter(|row| row.lines().count() != 1).count() as u64;

    // The same seed through the whole pipeline on the in-memory bus, kept whole, with one
    // partition per topic: the read model then applies every line's arrivals in the order
    // they happened, so the board is the same run after run. (With several partitions it
    // applies them in the order it reads the partitions, and a train's arrivals are keyed by
    // station: which platform shows a train then depends on how far behind the reader was.)
    let mem = transit_mem::MemBus::with_config(transit_mem::MemBusConfig {
        retention_records: u64::MAX,
        retention_bytes: u64::MAX,
    });
    let mem_topics = Topics::default();
    let running = run
        .clone()
        .on(mem_topics.clone())
        .partitions(1)
        .start(
            Arc::new(mem.clone()),
            Arc::new(transit_mem::MemRegistry::new()),
        )
        .await;
    let mut snapshots = running.snapshots();
    let station_count = stations.len() as u64;
    let at = last_tick.clone();
    wait_for_board(
        &mut snapshots,
        Duration::from_secs(180),
        "the in-memory board at the last tick",
        |s| complete(s, &at, entries, station_count),
    )
    .await;
    // Every count and station is in (counts only grow, so the total is reached only with
    // every station's last count); the last arrivals may still be on their way to the read
    // model. Once it has taken every arrival and reading, stopping it finishes the batch in
    // hand and publishes its last board.
    let read: Vec<String> = LineColor::ALL
        .into_iter()
        .map(|line| mem_topics.arrivals(line))
        .chain([mem_topics.weather()])
        .collect();
    let mut ends: BTreeMap<String, u64> = BTreeMap::new();
    for topic in &read {
        let mut consumer = mem
            .subscribe(SubscribeOptions::topics([topic.clone()]))
            .await
            .expect("reading the in-memory topics");
        let positions = consumer.positions().await.expect("in-memory positions");
        ends.insert(topic.clone(), positions.iter().map(|p| p.end_offset).sum());
    }
    let metrics = running.metrics();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let consumed = metrics.snapshot().consumed;
        let taken = |topic: &String| {
            consumed
                .get(&(
                    transit_core::status::CONSUMER.to_string(),
                    Arc::from(topic.as_str()),
                ))
                .copied()
                .unwrap_or_default()
        };
        if ends.iter().all(|(topic, &end)| taken(topic) >= end) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the in-memory read model did not take every record within 180 s: {:?} of {ends:?}",
            read.iter().map(|t| (t, taken(t))).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let report = running.stop().await.expect("the in-memory pipeline stops");
    mem.close();
    assert_eq!(
        report.status.dead_lettered, 0,
        "the in-memory read model refused records: {:?}",
        report.status
    );
    let mut board = (*snapshots.borrow()).as_ref().clone();
    board.version = 0;
    Expected {
        last_tick,
        entries,
        arrivals,
        weather,
        per_key,
        stations,
        dead_letters,
        board,
    }
}

/// Whether a board shows the last tick, every entry and station, and the weather.
fn complete(board: &StatusSnapshot, last_tick: &str, entries: u64, stations: u64) -> bool {
    board.simulated_time.as_deref() == Some(last_tick)
        && board.totals.entries == entries
        && board.totals.stations == stations
        && board.weather.is_some()
}

/// `board` without its trains and what follows from them (where they are, the next train at
/// each platform, headways): what the counts, stations, weather and clock show.
fn without_trains(board: &StatusSnapshot) -> StatusSnapshot {
    let mut board = board.clone();
    board.totals.trains = 0;
    board.totals.in_service = 0;
    board.totals.bunched = 0;
    board.totals.gapped = 0;
    for line in &mut board.lines {
        line.trains.clear();
        line.headways = Default::default();
        for station in &mut line.stations {
            station.train_a = None;
            station.train_b = None;
            station.next_a = None;
            station.next_b = None;
            station.headway_a = None;
            station.headway_b = None;
        }
    }
    board
}

/// What differs between two boards, for a failure message.
fn board_diff(shown: &StatusSnapshot, expected: &StatusSnapshot) -> String {
    let mut out = String::new();
    if shown.simulated_time != expected.simulated_time {
        let _ = write!(
            out,
            "\n  time: {:?}, expected {:?}",
            shown.simulated_time, expected.simulated_time
        );
    }
    if shown.weather != expected.weather {
        let _ = write!(
            out,
            "\n  weather: {:?}, expected {:?}",
            shown.weather, expected.weather
        );
    }
    if shown.totals != expected.totals {
        let _ = write!(
            out,
            "\n  totals: {:?}, expected {:?}",
            shown.totals, expected.totals
        );
    }
    let mut differing = 0;
    for (line, want) in shown.lines.iter().zip(&expected.lines) {
        if line.stations.len() != want.stations.len() {
            let _ = write!(
                out,
                "\n  {:?} line: {} stations, expected {}",
                line.line,
                line.stations.len(),
                want.stations.len()
            );
        }
        for (station, want) in line.stations.iter().zip(&want.stations) {
            if station != want {
                differing += 1;
                if differing <= 8 {
                    let _ = write!(
                        out,
                        "\n  {:?} line: {station:?}\n      expected {want:?}",
                        line.line
                    );
                }
            }
        }
    }
    if differing > 8 {
        let _ = write!(out, "\n  ... {} stations differ in all", differing);
    }
    for (line, want) in shown.lines.iter().zip(&expected.lines) {
        if line.headways != want.headways {
            let _ = write!(
                out,
                "\n  {:?} line headways: {:?}\n      expected {:?}",
                line.line, line.headways, want.headways
            );
        }
        let trains: Vec<_> = line
            .trains
            .iter()
            .filter(|t| !want.trains.contains(t))
            .collect();
        let wanted: Vec<_> = want
            .trains
            .iter()
            .filter(|t| !line.trains.contains(t))
            .collect();
        if !trains.is_empty() || !wanted.is_empty() {
            let _ = write!(
                out,
                "\n  {:?} line trains: {trains:?}\n      expected {wanted:?}",
                line.line
            );
        }
    }
    if shown.lines.len() != expected.lines.len() {
        let _ = write!(
            out,
            "\n  {} lines, expected {}",
            shown.lines.len(),
            expected.lines.len()
        );
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Watching the count table live, as a `read_committed` reader sees it.

/// What the watcher saw on the count table.
#[derive(Debug, Default)]
struct Watched {
    /// Per station and line: the last count seen and the offset of its record.
    last: HashMap<(u32, LineColor), (u64, u64)>,
    /// Counts that went backwards (or did not decode).
    problems: Vec<String>,
    /// Count records seen per input partition they count (`source_partition`).
    by_partition: HashMap<u32, u64>,
    /// The sum of the last counts: the entries counted so far.
    sum: u64,
    /// The offsets of every count record read (committed ones only, as `read_committed`).
    offsets: BTreeSet<u64>,
}

/// A reader following the count table from its start, checking that no count goes backwards.
struct CountWatch {
    state: Arc<Mutex<Watched>>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl CountWatch {
    fn start(bus: Arc<dyn EventBus>, codec: Arc<TopicCodec<TurnstileCount>>) -> Self {
        let state = Arc::new(Mutex::new(Watched::default()));
        let stop = CancellationToken::new();
        let task = tokio::spawn(watch_counts(bus, codec, Arc::clone(&state), stop.clone()));
        Self { state, stop, task }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Watched> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sum(&self) -> u64 {
        self.lock().sum
    }

    fn by_partition(&self) -> HashMap<u32, u64> {
        self.lock().by_partition.clone()
    }

    /// Whether the record at `offset` of the count table was read (committed), once the
    /// watcher read past it: `None` while it has not.
    fn committed(&self, offset: u64) -> Option<bool> {
        let state = self.lock();
        let past = state.offsets.range(offset..).next().is_some();
        past.then(|| state.offsets.contains(&offset))
    }

    /// Stops watching; returns what went wrong, if anything.
    async fn finish(self) -> Vec<String> {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.problems.clone()
    }
}

async fn watch_counts(
    bus: Arc<dyn EventBus>,
    codec: Arc<TopicCodec<TurnstileCount>>,
    state: Arc<Mutex<Watched>>,
    stop: CancellationToken,
) {
    let topic = codec.topic().to_string();
    let mut consumer = match bus
        .subscribe(SubscribeOptions::topics([topic.clone()]))
        .await
    {
        Ok(consumer) => consumer,
        Err(error) => {
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            state.problems.push(format!(
                "the watcher could not subscribe to {topic}: {error:?}"
            ));
            return;
        }
    };
    let mut batch: Vec<Delivery> = Vec::new();
    loop {
        batch.clear();
        let received = tokio::select! {
            () = stop.cancelled() => return,
            received = consumer.recv_batch(&mut batch, 4096) => received,
        };
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        match received {
            Ok(0) => return,
            Ok(_) => {}
            Err(error) => {
                state
                    .problems
                    .push(format!("the watcher's reader of {topic} failed: {error:?}"));
                return;
            }
        }
        for delivery in &batch {
            let count = match codec.decode_value_cached(delivery) {
                Ok(count) => count,
                Err(error) => {
                    state.problems.push(format!(
                        "{topic}[{}]@{} does not decode as a count: {error}",
                        delivery.partition, delivery.offset
                    ));
                    continue;
                }
            };
            let key = (count.station_id.0, count.line);
            state.offsets.insert(delivery.offset);
            *state
                .by_partition
                .entry(count.source_partition)
                .or_default() += 1;
            let before = state.last.insert(key, (count.entries, delivery.offset));
            let previous = before.map_or(0, |(entries, _)| entries);
            state.sum = state.sum - previous + count.entries;
            if let Some((entries, offset)) = before {
                if count.entries < entries {
                    state.problems.push(format!(
                        "the count of station {} on the {:?} line went backwards: {entries} at \
                         offset {offset}, then {} at offset {} (source {}@{})",
                        key.0,
                        key.1,
                        count.entries,
                        delivery.offset,
                        count.source_partition,
                        count.source_offset
                    ));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A run of the production processes.

/// How a scenario runs the pipeline.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// `transit process` instances started at first (`process-a`, `process-b`, ...).
    members: usize,
    /// Simulated seconds per second: slow enough that the faults come while it produces.
    speed: u32,
}

impl Plan {
    /// How long the producer should take, about.
    fn producing(&self) -> Duration {
        Duration::from_secs(u64::from(HOURS) * 3600 / u64::from(self.speed))
    }
}

/// The names, addresses and settings of one scenario's processes.
struct Settings {
    name: &'static str,
    started: std::time::Instant,
    plan: Plan,
    prefix: String,
    topics: Topics,
    kafka: Vec<String>,
    registry_address: SocketAddr,
    proxy_address: SocketAddr,
    dashboard_address: SocketAddr,
}

/// The processes of one scenario, their settings, and the test's own view of the topics.
struct Run {
    settings: Settings,
    launcher: Launcher,
    registry: Proc,
    members: Vec<Proc>,
    /// Members stopped on purpose or killed, kept for their logs.
    retired: Vec<Proc>,
    dashboard: Proc,
    producer: Proc,
    bus: Arc<dyn EventBus>,
    registry_client: Arc<dyn SchemaRegistry>,
    counts: Arc<TopicCodec<TurnstileCount>>,
    watch: Option<CountWatch>,
    expected: Arc<Expected>,
    /// Things the product did wrong that a scenario reports after its accounting.
    findings: Vec<String>,
}

impl Settings {
    fn phase(&self, what: &str) {
        eprintln!(
            "[{} {:>6.1} s] {what}",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }

    fn counter_group(&self) -> String {
        format!("{}-turnstile-counter", self.prefix)
    }

    fn cluster_args(&self) -> Vec<String> {
        let mut args = self.kafka.clone();
        args.extend([
            "--registry-url".into(),
            format!("http://{}", self.registry_address),
            "--topic-prefix".into(),
            self.prefix.clone(),
        ]);
        args
    }

    fn registry_args(&self) -> Vec<String> {
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
        args
    }

    fn member_args(&self) -> Vec<String> {
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

    fn dashboard_args(&self) -> Vec<String> {
        let mut args = vec![
            "dashboard".to_string(),
            "--address".into(),
            self.dashboard_address.to_string(),
        ];
        args.extend(self.cluster_args());
        args
    }

    fn producer_args(&self) -> Vec<String> {
        let mut args = vec![
            "produce".to_string(),
            "--seed".into(),
            SEED.to_string(),
            "--days".into(),
            (f64::from(HOURS) / 24.0).to_string(),
            "--rest-proxy-url".into(),
            format!("http://{}", self.proxy_address),
            "--report-every".into(),
            "1".into(),
        ];
        args.extend(["--speed".into(), self.plan.speed.to_string()]);
        // The tick of the undisturbed run it is held against: turnstile entries are drawn per
        // tick, so another tick length draws other riders (the arrivals are the same).
        let tick = SimConfig::default().tick.as_secs();
        args.extend(["--tick-seconds".into(), tick.to_string()]);
        args.extend(self.cluster_args());
        args
    }

    async fn wait_registry(&self, registry: &mut Proc) {
        wait_http(registry, self.registry_address, "/subjects", true).await;
        wait_http(registry, self.proxy_address, "/", false).await;
    }

    async fn wait_dashboard(&self, dashboard: &mut Proc) {
        wait_http(dashboard, self.dashboard_address, "/healthz", true).await;
    }
}

impl Run {
    /// Starts the registry, the raw station rows, `plan.members` processors, the dashboard and
    /// the producer, in that order, each waited for.
    async fn start(name: &'static str, logs: LogDir, plan: Plan) -> Self {
        let kafka_brokers = brokers();
        let binary = built_binary("transit", "cargo build --bin transit");
        // The test's own simulation must be the binary's: one rebuilt after this test (from
        // other sources, by another build sharing the target directory) would publish other
        // events than the undisturbed run it is compared with.
        let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let this_test = std::env::current_exe().expect("the test's own path");
        if let (Some(bin), Some(test)) = (modified(&binary), modified(&this_test)) {
            assert!(
                bin <= test,
                "{} was built after this test, maybe from other sources: build both again \
                 (`cargo build --bin transit`, then the test)",
                binary.display()
            );
        }
        let prefix = unique_name(&format!("faults_{name}")).replace('-', "_");
        let mut kafka: Vec<String> = vec!["--kafka".into(), kafka_brokers];
        for (key, value) in broker_settings() {
            kafka.extend(["-X".into(), format!("{key}={value}")]);
        }
        let settings = Settings {
            name,
            started: std::time::Instant::now(),
            plan,
            topics: Topics::new(prefix.clone()),
            prefix,
            kafka,
            registry_address: free_address(),
            proxy_address: free_address(),
            dashboard_address: free_address(),
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
            RegistryClient::new(&format!("http://{}", settings.registry_address))
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

    fn phase(&self, what: &str) {
        self.settings.phase(what);
    }

    fn watch(&self) -> &CountWatch {
        self.watch
            .as_ref()
            .expect("the count table is watched until the end")
    }

    /// Notes something the product did wrong that does not stop the accounting.
    fn finding(&mut self, what: String) {
        self.phase(&format!("FINDING: {what}"));
        self.findings.push(what);
    }

    async fn wait_registry(&mut self) {
        self.settings.wait_registry(&mut self.registry).await;
    }

    async fn wait_dashboard(&mut self) {
        self.settings.wait_dashboard(&mut self.dashboard).await;
    }

    /// Fails unless every process that should run does.
    fn assert_running(&mut self) {
        self.registry.assert_running();
        self.dashboard.assert_running();
        for member in &mut self.members {
            member.assert_running();
        }
    }

    /// Fails unless the producer still runs: a fault meant to strike while it produces would
    /// strike too late.
    fn assert_producing(&mut self, what: &str) {
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
    fn assignment(&self, index: usize) -> (usize, BTreeSet<u32>) {
        counter_assignment(
            &self.members[index].log(),
            &self.settings.counter_group(),
            &self.settings.topics.turnstile_entries(),
        )
    }

    /// Waits until member `index` holds counter partitions and the count table shows a count
    /// committed from one of them since it got them: it is at work. Returns its partitions.
    async fn wait_counting(&mut self, index: usize, limit: Duration) -> BTreeSet<u32> {
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
            assert!(
                Instant::now() < deadline,
                "{} was not counting within {limit:?}: it holds {:?} of the counter's \
                 partitions; count records seen per partition: {:?}",
                self.members[index].label(),
                self.assignment(index).1,
                self.watch().by_partition()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until member `index` has logged more than `changes` assignment changes and holds
    /// partitions `wanted` accepts; returns (changes, partitions).
    async fn wait_assignment(
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

    /// Freezes member `index` (`SIGSTOP`) at a moment it is inside a transaction, and leaves
    /// it frozen. Each attempt waits for the producer's next entries on one of its partitions
    /// (the member takes them at once), lets a random few milliseconds pass, freezes it, and
    /// looks whether a count of one of its partitions is on the count table uncommitted and
    /// stays so (its transaction is open, and frozen with it); if not, it thaws it and tries
    /// again. Returns that count's position, to tell afterwards whether its transaction
    /// committed ([`Run::fate`]), and the attempts taken.
    async fn freeze_in_transaction(
        &mut self,
        index: usize,
        dice: &mut Dice,
        limit: Duration,
    ) -> (InFlight, u32) {
        let probe = Arc::new(TableProbe::new(
            &self.settings.topics.turnstile_counts(),
            Arc::clone(&self.counts),
        ));
        let mut entries = self
            .bus
            .subscribe(
                SubscribeOptions::topics([self.settings.topics.turnstile_entries()])
                    .starting_at(StartFrom::Latest),
            )
            .await
            .expect("reading the entries as they come");
        let mut batch = Vec::new();
        let deadline = Instant::now() + limit;
        let mut attempts = 0;
        loop {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "{} was never caught inside a transaction in {attempts} attempts within \
                 {limit:?}",
                self.members[index].label()
            );
            let held = self.assignment(index).1;
            // What came while the last attempt looked is old news.
            while let Ok(Ok(read)) = tokio::time::timeout(
                Duration::from_millis(1),
                entries.recv_batch(&mut batch, 4096),
            )
            .await
            {
                batch.clear();
                if read == 0 {
                    break;
                }
            }
            batch.clear();
            let fresh = tokio::time::timeout(
                Duration::from_millis(500),
                entries.recv_batch(&mut batch, 4096),
            )
            .await;
            let mine =
                matches!(fresh, Ok(Ok(_))) && batch.iter().any(|d| held.contains(&d.partition));
            if !mine {
                continue;
            }
            tokio::time::sleep(dice.between(Duration::ZERO, Duration::from_millis(40))).await;
            attempts += 1;
            self.members[index].pause();
            let looking = Arc::clone(&probe);
            let found = tokio::task::spawn_blocking(move || looking.uncommitted_of(&held))
                .await
                .expect("the probe of the count table");
            if let Some(in_flight) = found {
                // Its commit may be on its way (sent before the freeze): then the table's
                // stable offset passes the record within moments. Still stuck, it is open.
                let settled = Instant::now() + Duration::from_millis(1500);
                let mut open = true;
                while open && Instant::now() < settled {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let looking = Arc::clone(&probe);
                    let stable = tokio::task::spawn_blocking(move || looking.stable_offset())
                        .await
                        .expect("the probe of the count table");
                    open = stable <= in_flight.offset;
                }
                if open {
                    return (in_flight, attempts);
                }
            }
            self.members[index].resume();
        }
    }

    /// Whether the transaction that wrote `in_flight` committed, once the count table's
    /// reader has read past it: a transaction cut short by a fault is aborted, and its
    /// record is never read.
    async fn fate(&self, in_flight: &InFlight) -> &'static str {
        let deadline = Instant::now() + RECOVERY;
        loop {
            match self.watch().committed(in_flight.offset) {
                Some(true) => return "its transaction had committed already",
                Some(false) => {
                    return "mid-transaction: its count record at that offset was aborted, \
                            never read"
                }
                None => {}
            }
            assert!(
                Instant::now() < deadline,
                "the count table's reader never got past offset {} within {RECOVERY:?} (the \
                 last it read: {:?})",
                in_flight.offset,
                self.watch().lock().offsets.last()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `kill -9` member `index`, then starts it again.
    async fn kill_and_restart_member(&mut self, index: usize) {
        self.members[index].kill9().await;
        let restarted = self.launcher.restart(&self.members[index]);
        let dead = std::mem::replace(&mut self.members[index], restarted);
        self.retired.push(dead);
    }

    /// Stops member `index` with Ctrl+C (it must exit 0) and takes it out of the run.
    async fn stop_member(&mut self, index: usize) {
        self.members[index].interrupt(STOP).await;
        let stopped = self.members.remove(index);
        self.retired.push(stopped);
    }

    /// Where the end offsets of `topic` stand: (sum, per partition).
    async fn end_offsets(&self, topic: &str) -> (u64, Vec<u64>) {
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
    async fn board(&mut self) -> StatusSnapshot {
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
    async fn wait_board_moving(&mut self) {
        self.wait_board(
            |board| board.totals.entries > 0 && board.totals.in_service > 0,
            "anything moving",
        )
        .await;
    }

    /// Waits until the dashboard's clock reaches `hours` after the simulation's start.
    async fn wait_board_hours(&mut self, hours: i64) -> StatusSnapshot {
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
    async fn wait_board(
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

    /// The accounting every scenario ends with (see the module's documentation), then every
    /// process stopped with Ctrl+C.
    async fn finish(mut self) {
        let expected = Arc::clone(&self.expected);
        // 1. The producer finishes by itself at the end time.
        let limit = self.settings.plan.producing() * 3 + CATCH_UP;
        let status = self.producer.wait_exit(limit).await;
        assert!(
            status.success(),
            "transit produce failed ({status}); its last lines:\n{}",
            self.producer.last_lines(15)
        );
        let summary = self
            .producer
            .lines_with(&["producer stopped; everything published is flushed"])
            .pop()
            .unwrap_or_else(|| {
                panic!(
                    "the producer's log has no summary line; its last lines:\n{}",
                    self.producer.last_lines(10)
                )
            });
        let reported: u64 = field(&summary, "published")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no published=N in {summary:?}"));
        self.phase(&format!(
            "producer finished: it reports {reported} records published"
        ));

        // 2. The counter catches up: the live reader sees every entry counted.
        let deadline = Instant::now() + CATCH_UP;
        while self.watch().sum() != expected.entries {
            self.assert_running();
            assert!(
                self.watch().sum() < expected.entries,
                "the count table counts {} entries, more than the {} made",
                self.watch().sum(),
                expected.entries
            );
            assert!(
                Instant::now() < deadline,
                "the count table reached {} of {} entries within {CATCH_UP:?}",
                self.watch().sum(),
                expected.entries
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.phase("count table caught up");

        // 3. Every event on its topic exactly once, and as many as the producer reports.
        let entries_topic = self.settings.topics.turnstile_entries();
        let (entries, entry_ends) = self.end_offsets(&entries_topic).await;
        assert_eq!(
            entry_ends.len() as u32,
            PARTITIONS,
            "partitions of {entries_topic}"
        );
        assert_eq!(
            entries, expected.entries,
            "turnstile entries on {entries_topic} (end offsets {entry_ends:?}): the simulation \
             made {}; more is a duplicate, fewer a loss",
            expected.entries
        );
        let mut total = entries;
        for line in LineColor::ALL {
            let topic = self.settings.topics.arrivals(line);
            let (arrivals, _) = self.end_offsets(&topic).await;
            assert_eq!(
                arrivals,
                expected.arrivals[line.index()],
                "arrivals on {topic}"
            );
            total += arrivals;
        }
        let (weather, _) = self.end_offsets(&self.settings.topics.weather()).await;
        assert_eq!(weather, expected.weather, "weather readings");
        total += weather;
        assert_eq!(
            total, reported,
            "records on the simulation's topics against what the producer reports published"
        );

        // 4. The count table against the entries counted straight from their topic.
        let entries_codec: TopicCodec<TurnstileEvent> =
            TopicCodec::register(Arc::clone(&self.registry_client), entries_topic.clone())
                .await
                .expect("the entries' codec");
        let mut counted: BTreeMap<(u32, LineColor), u64> = BTreeMap::new();
        let mut undecodable = 0u64;
        let read = read_topic(
            self.bus.as_ref(),
            &entries_topic,
            |delivery| match entries_codec.decode_value_cached(&delivery) {
                Ok(entry) => *counted.entry((entry.station_id.0, entry.line)).or_default() += 1,
                Err(_) => undecodable += 1,
            },
        )
        .await
        .expect("reading the entries topic");
        assert_eq!((read, undecodable), (entries, 0), "entries read back");
        assert!(
            counted == expected.per_key,
            "the entries on the topic per station and line are not the simulation's: {}",
            map_diff(&counted, &expected.per_key)
        );
        let table = read_table(self.bus.as_ref(), &self.settings.topics.turnstile_counts())
            .await
            .expect("reading the count table");
        let mut counts: BTreeMap<(u32, LineColor), u64> = BTreeMap::new();
        for delivery in &table {
            let count = self
                .counts
                .decode_value_cached(delivery)
                .unwrap_or_else(|e| panic!("a count record does not decode: {e}"));
            let previous = counts.insert((count.station_id.0, count.line), count.entries);
            assert!(previous.is_none(), "two keys for {count:?}");
        }
        assert!(
            counts == counted,
            "the count table is not the entries counted from their topic: {}",
            map_diff(&counts, &counted)
        );
        assert_eq!(
            counts.values().sum::<u64>(),
            entries,
            "sum of the count table"
        );
        self.phase(&format!(
            "{entries} entries published, counted once each: {} stations and lines on the \
             count table",
            counts.len()
        ));

        // 5. The station table: every station once; the dead letters: the rows on no line.
        let stations_codec: TopicCodec<StationEvent> = TopicCodec::register(
            Arc::clone(&self.registry_client),
            self.settings.topics.stations(),
        )
        .await
        .expect("the station table's codec");
        let mut records: Vec<StationEvent> = Vec::new();
        read_topic(
            self.bus.as_ref(),
            &self.settings.topics.stations(),
            |delivery| {
                records.push(
                    stations_codec
                        .decode_value_cached(&delivery)
                        .expect("a station record decodes"),
                );
            },
        )
        .await
        .expect("reading the station table");
        let mut stations: BTreeMap<(u32, LineColor), Vec<String>> = BTreeMap::new();
        for station in &records {
            stations
                .entry((station.station_id.0, station.line))
                .or_default()
                .push(station.station_name.to_string());
        }
        let twice: Vec<_> = stations
            .iter()
            .filter(|(_, names)| names.len() > 1)
            .collect();
        assert!(
            twice.is_empty(),
            "stations on the table more than once: {twice:?}"
        );
        let names: BTreeMap<(u32, LineColor), String> = stations
            .into_iter()
            .map(|(key, mut names)| (key, names.remove(0)))
            .collect();
        assert!(
            names == expected.stations,
            "the station table is not the network's stations: {}",
            map_diff(&names, &expected.stations)
        );
        let mut dead_letters = 0u64;
        read_topic(
            self.bus.as_ref(),
            &self.settings.topics.dead_letter(),
            |_| {
                dead_letters += 1;
            },
        )
        .await
        .expect("reading the dead-letter topic");
        assert_eq!(
            dead_letters, expected.dead_letters,
            "dead letters: the raw rows on none or several of the lines, once each"
        );

        // 6. The dashboard shows the undisturbed board: first everything but where the trains
        // stand (what the faults could break), then the trains too.
        let stations = expected.stations.len() as u64;
        let deadline = Instant::now() + CATCH_UP;
        loop {
            let board = self.board().await;
            if without_trains(&board) == without_trains(&expected.board) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the dashboard's board is not the undisturbed run's within {CATCH_UP:?} \
                 (complete: {}):{}",
                complete(&board, &expected.last_tick, expected.entries, stations),
                board_diff(&board, &expected.board)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        self.phase("the dashboard shows the undisturbed run's stations, counts, weather and time");
        // The rest of the arrivals of the last tick may still be on their way.
        let deadline = Instant::now() + TRAINS_SETTLE;
        let mut board = self.board().await;
        while board != expected.board && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            board = self.board().await;
        }
        assert!(
            board == expected.board,
            "the dashboard shows every station, count, the weather and the time of the \
             undisturbed run, but not its trains: its read model applies a train's arrivals in \
             the order it reads the arrival topics' partitions (arrivals are keyed by station, \
             so one train's are spread over partitions), not in the order they happened, and a \
             reader that fell behind (a restart, a rebuild) puts trains on platforms they left:{}",
            board_diff(&board, &expected.board)
        );
        self.phase("... and its trains");

        // 7. No count ever went backwards.
        let problems = match self.watch.take() {
            Some(watch) => watch.finish().await,
            None => Vec::new(),
        };
        assert!(
            problems.is_empty(),
            "the count table as a read_committed reader saw it live:\n{}",
            problems.join("\n")
        );

        // 8. Everything stops cleanly.
        self.assert_running();
        let mut stopping: Vec<&mut Proc> = self.members.iter_mut().collect();
        stopping.push(&mut self.dashboard);
        for proc in &mut stopping {
            proc.signal("INT");
        }
        for proc in stopping {
            let status = proc.wait_exit(STOP).await;
            assert!(
                status.success(),
                "{} exited with {status} after Ctrl+C; its last lines:\n{}",
                proc.label(),
                proc.last_lines(12)
            );
        }
        self.registry.interrupt(STOP).await;
        self.phase("every process stopped cleanly");
        assert!(
            self.findings.is_empty(),
            "the accounting holds, but:\n- {}",
            self.findings.join("\n- ")
        );
    }
}

/// A count record seen on the table before its transaction ended.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    /// Its offset on the count table.
    offset: u64,
    /// The entries partition it counts.
    source_partition: u32,
}

/// Looks at a one-partition table as the broker holds it: its last stable offset (before
/// the first transaction still open) and its end, and the records between them, which only a
/// `read_uncommitted` reader sees (transit's own readers never do).
struct TableProbe {
    topic: String,
    codec: Arc<TopicCodec<TurnstileCount>>,
    committed: BaseConsumer,
    uncommitted: BaseConsumer,
}

impl TableProbe {
    fn new(topic: &str, codec: Arc<TopicCodec<TurnstileCount>>) -> Self {
        let client = |isolation: &str| -> BaseConsumer {
            ClientConfig::new()
                .set("bootstrap.servers", brokers())
                .set("group.id", unique_name("faults-probe"))
                .set("isolation.level", isolation)
                .set("enable.auto.commit", "false")
                .set("enable.partition.eof", "false")
                .set("fetch.wait.max.ms", "10")
                .create()
                .expect("a probe of the count table")
        };
        Self {
            topic: topic.to_string(),
            codec,
            committed: client("read_committed"),
            uncommitted: client("read_uncommitted"),
        }
    }

    /// The table's last stable offset: before it, every transaction has ended. Blocking.
    fn stable_offset(&self) -> u64 {
        // With read_committed, the broker answers the last stable offset as the end.
        let (_, stable) = self
            .committed
            .fetch_watermarks(&self.topic, 0, Duration::from_secs(10))
            .expect("the count table's last stable offset");
        stable.max(0) as u64
    }

    /// A count of one of `partitions` that is on the table but not committed, if any.
    /// Blocking.
    fn uncommitted_of(&self, partitions: &BTreeSet<u32>) -> Option<InFlight> {
        let timeout = Duration::from_secs(10);
        let stable = self.stable_offset() as i64;
        let (_, end) = self
            .uncommitted
            .fetch_watermarks(&self.topic, 0, timeout)
            .expect("the count table's end");
        if stable >= end {
            return None;
        }
        let mut from = TopicPartitionList::new();
        from.add_partition_offset(&self.topic, 0, Offset::Offset(stable))
            .expect("a position on the count table");
        self.uncommitted
            .assign(&from)
            .expect("reading the count table");
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            let Some(polled) = self.uncommitted.poll(Duration::from_millis(100)) else {
                continue;
            };
            let message = polled.expect("reading the count table uncommitted");
            let delivery = Delivery {
                topic: Arc::from(message.topic()),
                partition: message.partition() as u32,
                offset: message.offset() as u64,
                key: message.key().map(|k| k.to_vec().into()),
                value: message.payload().map(|v| v.to_vec().into()),
                headers: Vec::new(),
                timestamp_ms: 0,
            };
            let count = self
                .codec
                .decode_value_cached(&delivery)
                .unwrap_or_else(|e| panic!("a count on the table does not decode: {e}"));
            if partitions.contains(&count.source_partition) {
                return Some(InFlight {
                    offset: delivery.offset,
                    source_partition: count.source_partition,
                });
            }
            if delivery.offset + 1 >= end as u64 {
                return None;
            }
        }
        None
    }
}

fn member_name(index: usize) -> String {
    format!("process-{}", (b'a' + index as u8) as char)
}

/// Polls `path` on `address` until it answers (200 if `ok_only`), failing if `proc` exits or
/// after [`STARTUP`].
async fn wait_http(proc: &mut Proc, address: SocketAddr, path: &str, ok_only: bool) {
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
fn counter_assignment(log: &str, counter: &str, topic: &str) -> (usize, BTreeSet<u32>) {
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
fn partitions_in(line: &str, topic: &str) -> Vec<u32> {
    let needle = format!("{topic}[");
    line.match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &line[at + needle.len()..];
            rest[..rest.find(']')?].parse().ok()
        })
        .collect()
}

/// The keys whose values differ between two maps, for a failure message.
fn map_diff<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
    shown: &BTreeMap<K, V>,
    expected: &BTreeMap<K, V>,
) -> String {
    let mut out = Vec::new();
    for (key, value) in shown {
        match expected.get(key) {
            Some(want) if want == value => {}
            Some(want) => out.push(format!("{key:?}: {value:?}, expected {want:?}")),
            None => out.push(format!("{key:?}: {value:?}, not expected")),
        }
    }
    for (key, want) in expected {
        if !shown.contains_key(key) {
            out.push(format!("{key:?}: missing, expected {want:?}"));
        }
    }
    let more = out.len().saturating_sub(10);
    out.truncate(10);
    if more > 0 {
        out.push(format!("... and {more} more"));
    }
    out.join("; ")
}

/// Runs a scenario as a task with a time limit; a failure shows the last lines of every
/// process's log (the processes die with the task).
async fn scenario<F, Fut>(name: &'static str, body: F)
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
fn dice(run: &Run) -> Dice {
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
fn package_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------
// 1. kill -9 mid-batch.

/// Kills one of two processor members with `kill -9` three times while the producer
/// produces, each time inside a batch (its transaction open, at a random moment), and starts
/// it again each time; what each killed transaction wrote is never read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_kill_9_a_processor_mid_batch_three_times_and_restart_it() {
    scenario("kill-9", |logs| async move {
        let mut run = Run::start(
            "kill-9",
            logs,
            // Three hours at 60x: three minutes of production, so three strikes fit in it
            // however many tries catching a member inside a transaction takes (its batches
            // wait a moment to fill, so it spends less of its time inside one than it did).
            Plan {
                members: 2,
                speed: 60,
            },
        )
        .await;
        let mut dice = dice(&run);
        let mut strikes = Vec::new();
        for round in 1..=3 {
            let held = run.wait_counting(1, RECOVERY).await;
            let delay = dice.between(Duration::ZERO, Duration::from_millis(1500));
            tokio::time::sleep(delay).await;
            run.assert_producing(&format!("kill {round}"));
            // Strike inside a batch: its count records written, its transaction not ended.
            let (in_flight, attempts) = run.freeze_in_transaction(1, &mut dice, RECOVERY).await;
            let label = run.members[1].label().to_string();
            run.kill_and_restart_member(1).await;
            run.phase(&format!(
                "kill -9 {label} inside a batch ({delay:?} after it was seen counting {held:?}, \
                 caught in a transaction at attempt {attempts}: its count for partition {} at \
                 offset {} not yet committed; {} of {} entries counted so far); started {}",
                in_flight.source_partition,
                in_flight.offset,
                run.watch().sum(),
                run.expected.entries,
                run.members[1].label()
            ));
            strikes.push((label, in_flight));
        }
        run.wait_counting(1, RECOVERY).await;
        run.phase("the restarted member counts again");
        let mut cut = 0;
        for (label, in_flight) in &strikes {
            let fate = run.fate(in_flight).await;
            cut += usize::from(fate.starts_with("mid"));
            run.phase(&format!("{label} was killed {fate}"));
        }
        assert_eq!(
            cut,
            strikes.len(),
            "every kill struck an open transaction, whose output must never be read"
        );
        run.finish().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 2. SIGSTOP past the session timeout.

/// Freezes a member (`SIGSTOP`) inside a batch until the other has taken over its partitions,
/// then thaws it: what it was writing is never read (its transaction is aborted), it says so
/// and rejoins its group, and the counts stay exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_sigstop_a_member_past_its_session_timeout_and_its_writes_are_fenced() {
    scenario("sigstop", |logs| async move {
        let mut run = Run::start(
            "sigstop",
            logs,
            Plan {
                members: 2,
                speed: 270,
            },
        )
        .await;
        let mut dice = dice(&run);
        run.wait_counting(1, RECOVERY).await;
        let held = run.wait_counting(0, RECOVERY).await;
        tokio::time::sleep(dice.between(Duration::ZERO, Duration::from_millis(1000))).await;
        run.assert_producing("the pause");
        let (b_changes, _) = run.assignment(1);
        let (in_flight, attempts) = run.freeze_in_transaction(0, &mut dice, RECOVERY).await;
        let paused = Instant::now();
        run.phase(&format!(
            "SIGSTOP {} inside a batch (counting partitions {held:?}; caught in a transaction \
             at attempt {attempts}: its count at offset {} not yet committed)",
            run.members[0].label(),
            in_flight.offset
        ));
        let (_, all) = run
            .wait_assignment(
                1,
                b_changes,
                |p| p.len() == PARTITIONS as usize,
                "took over every partition",
                RECOVERY,
            )
            .await;
        run.phase(&format!(
            "{} took over: it holds {all:?}, {:.1} s after the pause",
            run.members[1].label(),
            paused.elapsed().as_secs_f64()
        ));
        // The new owner is at work on the frozen member's partitions before it thaws.
        run.wait_counting(1, RECOVERY).await;
        run.assert_producing("the resume");
        let fenced_line = "fenced: another member has these partitions now";
        let failed_line = "a transaction failed and was aborted";
        let restored_line = "partitions assigned; their state restored";
        let counter = run.settings.counter_group();
        let before = |run: &Run, needle: &str| run.members[0].lines_with(&[needle, &counter]).len();
        let (fenced_before, failed_before, restored_before) = (
            before(&run, fenced_line),
            before(&run, failed_line),
            before(&run, restored_line),
        );
        run.members[0].resume();
        run.phase(&format!(
            "SIGCONT {} after {:.1} s",
            run.members[0].label(),
            paused.elapsed().as_secs_f64()
        ));
        // It finds itself out of the group and rejoins: a new assignment, restored.
        run.members[0]
            .wait_for_lines(&[restored_line, &counter], restored_before + 1, RECOVERY)
            .await;
        run.phase(&format!("{} rejoined its group", run.members[0].label()));
        // What it had written before the freeze is never read: its transaction was aborted.
        let fate = run.fate(&in_flight).await;
        assert!(
            fate.starts_with("mid"),
            "{} was frozen inside a transaction, which then committed: a stale member's \
             writes were not fenced",
            run.members[0].label()
        );
        run.phase(&format!("{} was frozen {fate}", run.members[0].label()));
        let after = |needle: &str, from: usize| {
            run.members[0]
                .lines_with(&[needle, &counter])
                .split_off(from)
        };
        let fenced = after(fenced_line, fenced_before);
        let failed = after(failed_line, failed_before);
        match (fenced.first(), failed.first()) {
            (Some(line), _) => run.phase(&format!(
                "its stale batch was reported fenced: {}",
                transit_testkit::processes::shorten(line)
            )),
            (None, Some(line)) => run.phase(&format!(
                "NOTE: its stale batch was aborted but reported as a failed transaction, not \
                 as fenced (it counts towards the processor's limit of failures in a row): {}",
                transit_testkit::processes::shorten(line)
            )),
            (None, None) => run.phase("it had nothing to write after the resume: it rejoined"),
        }
        run.wait_counting(0, RECOVERY).await;
        run.phase("the thawed member counts again");
        run.finish().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 3. A partition handed back to a member that was frozen.

/// Three members; one is frozen while the others take its partitions and count on, then
/// thawed and handed one of its old partitions back (by stopping the third member, and the
/// second if need be): it restores what the others counted meanwhile, so no count goes
/// backwards and none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_a_partition_handed_back_to_a_thawed_member_never_counts_backwards() {
    scenario("hand-back", |logs| async move {
        let mut run = Run::start(
            "hand-back",
            logs,
            Plan {
                members: 3,
                speed: 200,
            },
        )
        .await;
        let mut dice = dice(&run);
        // Member a is the one frozen: wait until it counts partitions of its own.
        let before = run.wait_counting(0, RECOVERY).await;
        tokio::time::sleep(dice.between(Duration::ZERO, Duration::from_millis(1000))).await;
        run.assert_producing("the pause");
        let others: Vec<usize> = vec![1, 2];
        let changes: Vec<usize> = others.iter().map(|&i| run.assignment(i).0).collect();
        let (in_flight, attempts) = run.freeze_in_transaction(0, &mut dice, RECOVERY).await;
        let paused = Instant::now();
        run.phase(&format!(
            "SIGSTOP {} inside a batch (counting partitions {before:?}; caught in a \
             transaction at attempt {attempts}: its count at offset {} not yet committed)",
            run.members[0].label(),
            in_flight.offset
        ));
        // b and c take every partition between them, and count a's old ones.
        let deadline = Instant::now() + RECOVERY;
        loop {
            run.assert_running();
            let held: Vec<(usize, BTreeSet<u32>)> =
                others.iter().map(|&i| run.assignment(i)).collect();
            let rebalanced = held.iter().zip(&changes).all(|((now, _), at)| now > at);
            let union: BTreeSet<u32> = held.iter().flat_map(|(_, p)| p.clone()).collect();
            if rebalanced && union.len() == PARTITIONS as usize {
                run.phase(&format!(
                    "b and c took over ({:?} and {:?}), {:.1} s after the pause",
                    held[0].1,
                    held[1].1,
                    paused.elapsed().as_secs_f64()
                ));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "b and c never took over a's partitions within {RECOVERY:?}: {held:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seen = run.watch().by_partition();
        let deadline = Instant::now() + RECOVERY;
        while !before.iter().any(|p| {
            run.watch()
                .by_partition()
                .get(p)
                .copied()
                .unwrap_or_default()
                > seen.get(p).copied().unwrap_or_default()
        }) {
            run.assert_running();
            assert!(
                Instant::now() < deadline,
                "nobody counted a's old partitions {before:?} within {RECOVERY:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        run.phase("a's old partitions are counted by the others meanwhile");
        run.assert_producing("the resume");
        let counter = run.settings.counter_group();
        let restored_line = "partitions assigned; their state restored";
        let restored_before = run.members[0].lines_with(&[restored_line, &counter]).len();
        run.members[0].resume();
        run.phase(&format!(
            "SIGCONT {} after {:.1} s",
            run.members[0].label(),
            paused.elapsed().as_secs_f64()
        ));
        run.members[0]
            .wait_for_lines(&[restored_line, &counter], restored_before + 1, RECOVERY)
            .await;
        let (mut a_changes, mut held) = run.assignment(0);
        let fate = run.fate(&in_flight).await;
        assert!(
            fate.starts_with("mid"),
            "a was frozen inside a transaction, which then committed: a stale member's writes \
             were not fenced"
        );
        run.phase(&format!(
            "a rejoined, holding {held:?}; it was frozen {fate}"
        ));
        let handed_back = |held: &BTreeSet<u32>| held.intersection(&before).next().is_some();
        // Right after the resume its assignment may still be settling; what counts is what
        // it holds after a rebalance: stopping c hands c's partitions out again, and then b,
        // if a has none of its old ones yet.
        let mut back = false;
        for name in ["process-c", "process-b"] {
            if name == "process-b" && back {
                break;
            }
            run.assert_producing(&format!("stopping {name}"));
            let index = run
                .members
                .iter()
                .position(|m| m.name() == name)
                .expect("the member is running");
            let label = run.members[index].label().to_string();
            run.stop_member(index).await;
            (a_changes, held) = run
                .wait_assignment(
                    0,
                    a_changes,
                    |p| !p.is_empty(),
                    "got partitions after a member stopped",
                    RECOVERY,
                )
                .await;
            back = back || handed_back(&held);
            run.phase(&format!("{label} stopped: a holds {held:?}"));
        }
        assert!(
            back,
            "a was never handed back one of its old partitions {before:?}; it holds {held:?}"
        );
        let counting = run.wait_counting(0, RECOVERY).await;
        run.phase(&format!(
            "a counts {counting:?} again, {:?} of them its own before the pause",
            counting.intersection(&before).collect::<Vec<_>>()
        ));
        run.finish().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 4. The broker restarted under everything.

/// Restarts the broker (`scripts/kafka.sh restart`: same ports, same log directory) while the
/// producer, two processors and the dashboard run; none of them is restarted, all carry on,
/// and the idempotent producer's retries put no entry on its topic twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_the_broker_restarts_under_the_running_pipeline() {
    scenario("broker-restart", |logs| async move {
        let mut run = Run::start(
            "broker-restart",
            logs,
            Plan {
                members: 2,
                speed: 300,
            },
        )
        .await;
        run.wait_counting(0, RECOVERY).await;
        run.wait_counting(1, RECOVERY).await;
        run.wait_board_moving().await;
        run.assert_producing("the broker restart");
        let counted = run.watch().sum();
        run.phase(&format!(
            "restarting the broker ({counted} of {} entries counted)",
            run.expected.entries
        ));
        let restarted = Instant::now();
        let printed = control_broker(package_root(), "restart", Duration::from_secs(240)).await;
        run.phase(&format!(
            "broker restarted in {:.1} s: {}",
            restarted.elapsed().as_secs_f64(),
            printed.trim()
        ));
        run.assert_running();
        // Everyone carries on: new counts are committed after the restart.
        let deadline = Instant::now() + RECOVERY;
        let after = run.watch().sum();
        while run.watch().sum() == after {
            run.assert_running();
            assert!(
                Instant::now() < deadline,
                "nothing was counted within {RECOVERY:?} of the broker restart"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        run.phase(&format!(
            "counting again after the restart ({} entries counted)",
            run.watch().sum()
        ));
        run.finish().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 5. The schema registry restarted.

/// Restarts `transit registry` (the schema registry and the REST Proxy) twice while everything
/// runs. First between two weather readings: the producer and the processors, whose schema
/// ids are cached, carry on; a processor started while the registry is down must wait for it
/// rather than fail, and a dashboard restarted meanwhile must not refuse good records because
/// it could not look their schemas up. Then across the hour: the producer's weather reading
/// falls due while the REST Proxy is down, and it must be posted once the proxy is back, not
/// lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_the_schema_registry_restarts_mid_run() {
    scenario("registry-restart", |logs| async move {
        let mut run = Run::start(
            "registry-restart",
            logs,
            Plan {
                members: 1,
                speed: 360,
            },
        )
        .await;
        run.wait_counting(0, RECOVERY).await;
        run.wait_board_moving().await;
        // The weather readings say when an hour begins.
        let latest =
            |topic: String| SubscribeOptions::topics([topic]).starting_at(StartFrom::Latest);
        let mut weather = run
            .bus
            .subscribe(latest(run.settings.topics.weather()))
            .await
            .expect("subscribing to the weather");

        // 1. Down between two readings: right after one was posted.
        let reading = tokio::time::timeout(RECOVERY, weather.recv())
            .await
            .expect("a weather reading")
            .expect("the bus is open")
            .expect("a weather reading");
        let key = transit_core::codec::Decoder::<transit_core::event::WeatherKey>::new(Arc::clone(
            &run.registry_client,
        ))
        .expect("a decoder of weather keys")
        .decode(reading.key.as_deref().unwrap_or_default())
        .await
        .expect("a weather key");
        run.assert_producing("the first registry restart");
        run.registry.interrupt(STOP).await;
        let down = Instant::now();
        run.phase(&format!(
            "registry and REST Proxy stopped, after the reading of {}",
            SimTime(key.timestamp)
        ));
        // A new member starts meanwhile: it must register its schemas.
        let newcomer = run.launcher.start("process-b", &run.settings.member_args());
        run.members.push(newcomer);
        // And the dashboard restarts: it has no schema cached, and reads everything again.
        run.dashboard.kill9().await;
        run.dashboard = run.launcher.restart(&run.dashboard);
        run.wait_dashboard().await;
        // The registry stays down until the new dashboard has read records.
        let deadline = Instant::now() + STARTUP;
        let consumed = loop {
            run.dashboard.assert_running();
            let metrics = request(run.settings.dashboard_address, "GET", "/metrics", None)
                .await
                .map(|response| response.body)
                .unwrap_or_default();
            let consumed: u64 = metrics
                .lines()
                .filter(|line| line.starts_with("transit_records_consumed_total{"))
                .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
                .sum();
            if consumed > 0 {
                break consumed;
            }
            assert!(
                Instant::now() < deadline,
                "the restarted dashboard read nothing within {STARTUP:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        run.phase(&format!(
            "started process-b and {}, which read {consumed} records, while the registry is down",
            run.dashboard.label()
        ));
        // A refused registration fails at once; give it a moment to show.
        let moment = Instant::now() + Duration::from_secs(3);
        while Instant::now() < moment && run.members[1].exited().is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let newcomer_failed = run.members[1].exited();
        run.registry = run.launcher.restart(&run.registry);
        run.wait_registry().await;
        run.phase(&format!(
            "{} serving again after {:.1} s",
            run.registry.label(),
            down.elapsed().as_secs_f64()
        ));
        run.assert_producing("the end of the first registry restart");
        run.members[0].assert_running();
        run.dashboard.assert_running();
        let counted = run.watch().sum();
        // Dead letters other than the station processor's (the raw rows on no line).
        let mut refused: BTreeMap<(String, String), u64> = BTreeMap::new();
        let header = |delivery: &Delivery, name: &str| {
            delivery
                .header(name)
                .map(|value| String::from_utf8_lossy(value).into_owned())
                .unwrap_or_default()
        };
        read_topic(
            run.bus.as_ref(),
            &run.settings.topics.dead_letter(),
            |delivery| {
                let consumer = header(&delivery, transit_core::deadletter::HEADER_CONSUMER);
                if !consumer.ends_with("-station-processor") {
                    let topic = header(&delivery, transit_core::deadletter::HEADER_TOPIC);
                    let reason = header(&delivery, transit_core::deadletter::HEADER_REASON);
                    *refused
                        .entry((format!("{consumer} on {topic}"), reason))
                        .or_default() += 1;
                }
            },
        )
        .await
        .expect("reading the dead-letter topic");
        if !refused.is_empty() {
            run.finding(format!(
                "good records went to the dead-letter topic while the registry was down: a \
                 reader that could not fetch a schema refused them as undecodable, and they \
                 never reach its state: {refused:?}"
            ));
        }
        if let Some(status) = newcomer_failed {
            let line = run.members[1]
                .lines_with(&["error:"])
                .pop()
                .unwrap_or_else(|| run.members[1].last_lines(3));
            run.finding(format!(
                "a processor started while the registry was down exited ({status}) instead of \
                 waiting for it and retrying: {}",
                transit_testkit::processes::shorten(&line)
            ));
            let gone = run.members.remove(1);
            run.retired.push(gone);
        } else {
            run.wait_counting(1, RECOVERY).await;
            run.phase("the member started while the registry was down joined, and counts");
        }
        let deadline = Instant::now() + RECOVERY;
        while run.watch().sum() == counted {
            run.assert_running();
            assert!(
                Instant::now() < deadline,
                "nothing was counted within {RECOVERY:?} of the registry's restart"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        run.phase("the producer, the processor and the dashboard carried on with cached schemas");

        // 2. Down across the hour: a reading falls due while the REST Proxy is down. The Blue
        // arrivals from now on say how far the producer got.
        let mut arrivals = run
            .bus
            .subscribe(latest(run.settings.topics.arrivals(LineColor::Blue)))
            .await
            .expect("subscribing to the arrivals");
        let next = tokio::time::timeout(RECOVERY, arrivals.recv())
            .await
            .expect("an arrival")
            .expect("the bus is open")
            .expect("an arrival");
        let hour = 3_600_000i64;
        let due = (next.timestamp_ms / hour + 1) * hour;
        run.assert_producing("the second registry restart");
        run.registry.interrupt(STOP).await;
        let down = Instant::now();
        run.phase(&format!(
            "registry and REST Proxy stopped again, at {}; the next reading is due at {}",
            SimTime(next.timestamp_ms),
            SimTime(due)
        ));
        let deadline = Instant::now() + RECOVERY;
        loop {
            if run.producer.exited().is_some() {
                break;
            }
            let next = tokio::time::timeout(Duration::from_millis(500), arrivals.recv()).await;
            if let Ok(Some(Ok(arrival))) = next {
                if arrival.timestamp_ms >= due {
                    run.phase(&format!(
                        "the producer reached {} while the REST Proxy is down",
                        SimTime(arrival.timestamp_ms)
                    ));
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the producer never reached {} within {RECOVERY:?}",
                SimTime(due)
            );
        }
        // A refused post fails at once; give it a moment to show.
        let moment = Instant::now() + Duration::from_secs(3);
        while Instant::now() < moment && run.producer.exited().is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let producer_failed = run.producer.exited();
        run.registry = run.launcher.restart(&run.registry);
        run.wait_registry().await;
        run.phase(&format!(
            "{} serving again after {:.1} s",
            run.registry.label(),
            down.elapsed().as_secs_f64()
        ));
        if let Some(status) = producer_failed {
            let line = run
                .producer
                .lines_with(&["error:"])
                .pop()
                .unwrap_or_else(|| run.producer.last_lines(3));
            let mut findings = run.findings.clone();
            findings.push(format!(
                "transit produce exited ({status}) when a weather reading fell due while the \
                 REST Proxy was down, instead of retrying it; the rest of its run is lost: {}",
                transit_testkit::processes::shorten(&line)
            ));
            panic!("the registry's restart:\n- {}", findings.join("\n- "));
        }
        run.finish().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 6. The dashboard killed and restarted.

/// Kills the dashboard with `kill -9` two thirds into the run and starts it again on the same
/// address: it rebuilds the very same board from the topics while the producer goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_kill_9_the_dashboard_and_it_rebuilds_the_same_board() {
    scenario("dashboard", |logs| async move {
        let mut run = Run::start(
            "dashboard",
            logs,
            Plan {
                members: 2,
                speed: 720,
            },
        )
        .await;
        // Late in the run, so that the new dashboard has hours of history to read back.
        let before = run.wait_board_hours(2).await;
        run.assert_producing("the dashboard kill");
        run.dashboard.kill9().await;
        run.phase(&format!(
            "kill -9 {} while it showed {} entries at {:?}",
            run.dashboard.label(),
            before.totals.entries,
            before.simulated_time
        ));
        run.dashboard = run.launcher.restart(&run.dashboard);
        run.wait_dashboard().await;
        run.phase(&format!("{} serving again", run.dashboard.label()));
        run.finish().await;
    })
    .await;
}
