//! End to end, as production runs it: the `transit` binary's processes, each its own OS
//! process, around a real Kafka-protocol broker and a real PostgreSQL, and the dashboard checked
//! in Debian's headless Chromium driven over WebDriver (chromedriver).
//!
//! The test loads the station table (`transit stations load`), starts `transit registry`,
//! `transit process`, `transit stations source`, `transit dashboard` and `transit produce`,
//! and checks in the page the three lines, the stations read from the database, trains,
//! turnstile counts and the weather, changing as the simulation runs. It then inserts a station
//! into the table and waits for it on the dashboard, and stops every process with Ctrl+C
//! (SIGINT): each must exit 0. No log of theirs, nor the dashboard's `/api/status` and
//! `/metrics`, may show a password.
//!
//! Needs: the broker named by `TRANSIT_TEST_KAFKA` (`scripts/kafka.sh` starts one), with its
//! properties file in `TRANSIT_TEST_KAFKA_CONFIG` when it is secured, PostgreSQL (the local
//! cluster, or `TRANSIT_TEST_POSTGRES_URL`), `chromium` and `chromedriver`, axe-core's script
//! (`TRANSIT_TEST_AXE`, from `scripts/axe.sh`) that audits the page against WCAG 2.1 AA, and the
//! `transit` binary built beside the test (`cargo test --all-targets` builds it). A missing piece fails
//! the test with what to do; it never passes silently. Ignored in the workspace's test run (one
//! plaintext broker): `scripts/test.sh` runs it on the secured three-node cluster, as
//! `scripts/kafka.sh --brokers 3 --security secure cargo test -p transit --test end_to_end
//! production -- --ignored` (on one plaintext broker: `scripts/kafka.sh cargo test ...`).
//!
//! Every connection is secured as production should secure it:
//! - Kafka with the test broker's settings (on the cluster, SASL_SSL: SCRAM-SHA-512 over TLS,
//!   the password in the properties file);
//! - the schema registry and the REST Proxy on HTTPS (a test CA's certificate) with basic auth
//!   (users in a file); every process logs in as the read-write user, `user:password` in a
//!   file, and trusts the CA;
//! - PostgreSQL over TLS with the server's certificate checked (`sslmode=verify-full` against
//!   `scripts/postgres.sh`'s CA) as a role that may only log in that way, with its SCRAM
//!   password given in a file (`--database-password-file`).
//!
//! Isolation: a schema of its own (the processes reach it through the URL's
//! `options=-c search_path=...`), a topic prefix and a registry topic of its own, and free
//! loopback ports, so it shares the broker and the database with other tests and runs. Every
//! process's stderr goes to a file; a failure shows the last lines of each.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tokio_postgres::Client;
use transit_core::testing::unique_name;

use transit_testkit::browser::{
    assert_board_page, built_binary, page_number, require_axe, require_chromium,
    start_chromedriver, strings, wait_for_page_change, Browser, READ_BOARD,
};
use transit_testkit::http::{free_address, request};
use transit_testkit::kafka::process_args;
use transit_testkit::postgres;
use transit_testkit::processes::LogDir;
use transit_testkit::secured::SecuredServices;

/// The test database unless `TRANSIT_TEST_POSTGRES_URL` names another.
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Simulated seconds per second. tansu with one record per batch takes ~300 records a second
/// on two busy cores, so the producer runs slower than this (about 80x); the page changes
/// every second or so either way.
const SPEED: &str = "600";

/// Rows in the CTA's `cta_stations.csv`.
const CSV_ROWS: u64 = 230;
/// Stations on the board: the CSV's rows grouped by station and line, on the three lines.
const BOARD_STATIONS: u64 = 94;
/// Trains on the board (ten per line, the default).
const TRAINS: usize = 30;

/// How long a server may take to answer on its port.
const STARTUP: Duration = Duration::from_secs(60);
/// How long the board may take to fill once everything runs: on the three-node cluster the
/// topics are made with three replicas and every connection is TLS, on two busy cores.
const FILL: Duration = Duration::from_secs(90);
/// How long a row inserted into the table may take to show on the dashboard.
const NEW_ROW: Duration = Duration::from_secs(15);
/// How long a process may take to exit after Ctrl+C.
const STOP: Duration = Duration::from_secs(20);
/// Lines of each process's stderr a failure shows.
const TAIL_LINES: usize = 12;
/// Characters of a log line a failure shows.
const LINE_CHARS: usize = 400;

// ---------------------------------------------------------------------------------------------
// The database: a schema of this test's own.

struct Db {
    schema: String,
    /// The URL the processes use: the TLS role's, with the schema as `search_path`.
    url: String,
    /// The file holding the role's password.
    password_file: PathBuf,
    admin: Arc<Client>,
}

impl Db {
    async fn create() -> Self {
        let (_, admin) = postgres::connect(&postgres::url(DEFAULT_POSTGRES)).await;
        let schema = unique_name("transit_prod").replace('-', "_");
        admin
            .batch_execute(&format!(
                "CREATE SCHEMA {schema} AUTHORIZATION {}",
                postgres::TLS_ROLE
            ))
            .await
            .unwrap_or_else(|e| panic!("creating schema {schema}: {e}"));
        // The password is not in the URL: the processes read it from the set-up's file.
        let tls = postgres::Tls::load();
        let url = format!(
            "postgres://{}@localhost:5432/postgres?sslmode=verify-full&sslrootcert={}\
             &options=-c%20search_path%3D{schema}&application_name={schema}",
            postgres::TLS_ROLE,
            tls.ca()
        );
        Self {
            schema,
            url,
            password_file: tls.dir.join("password"),
            admin: Arc::new(admin),
        }
    }

    async fn drop_schema(&self) {
        self.admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            .await
            .unwrap_or_else(|e| panic!("dropping schema {}: {e}", self.schema));
    }
}

// ---------------------------------------------------------------------------------------------
// The processes, their logs, and stopping them.

/// A directory for the processes' output; `<name>.stderr` and `<name>.stdout` per process.
#[derive(Clone)]
struct Logs {
    dir: LogDir,
}

impl Logs {
    fn create() -> Self {
        Self {
            dir: LogDir::create("transit-production"),
        }
    }

    fn file(&self, name: &str, stream: &str) -> PathBuf {
        self.dir
            .path()
            .join(format!("{}.{stream}", name.replace(' ', "-")))
    }

    /// The last lines of every process's stderr, for a failure message.
    fn tails(&self) -> String {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .map(|entries| {
                entries
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|path| path.extension().is_some_and(|e| e == "stderr"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let mut out = format!("the processes' logs are in {}", self.dir.path().display());
        for path in files {
            let text = std::fs::read(&path)
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(TAIL_LINES);
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let _ = write!(out, "\n---- last lines of {name} ----");
            for line in &lines[from..] {
                // Partition lists make some lines kilobytes long; the start says enough.
                let cut = line
                    .char_indices()
                    .nth(LINE_CHARS)
                    .map_or(line.len(), |(at, _)| at);
                let more = if cut < line.len() { " …" } else { "" };
                let _ = write!(out, "\n{}{more}", &line[..cut]);
            }
        }
        out
    }
}

/// A `transit` process of the pipeline.
struct Process {
    name: &'static str,
    child: Child,
}

/// The running processes, in the order they started.
struct Pipeline {
    binary: PathBuf,
    logs: Logs,
    processes: Vec<Process>,
}

impl Pipeline {
    fn transit(&self, name: &str, args: &[String]) -> Command {
        let stdout = std::fs::File::create(self.logs.file(name, "stdout")).expect("a stdout file");
        let stderr = std::fs::File::create(self.logs.file(name, "stderr")).expect("a stderr file");
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true);
        command
    }

    /// Runs a command of `transit` to its end; returns its stdout.
    async fn run(&self, name: &'static str, args: &[String]) -> String {
        let mut child = self
            .transit(name, args)
            .spawn()
            .unwrap_or_else(|e| panic!("starting transit {name}: {e}"));
        let status = tokio::time::timeout(STARTUP, child.wait())
            .await
            .unwrap_or_else(|_| panic!("transit {name} did not finish within {STARTUP:?}"))
            .unwrap_or_else(|e| panic!("waiting for transit {name}: {e}"));
        let stdout = std::fs::read_to_string(self.logs.file(name, "stdout")).unwrap_or_default();
        assert!(
            status.success(),
            "transit {name} failed ({status}); stdout: {stdout}"
        );
        stdout
    }

    /// Starts a long-running command of `transit`.
    fn start(&mut self, name: &'static str, args: &[String]) {
        let child = self
            .transit(name, args)
            .spawn()
            .unwrap_or_else(|e| panic!("starting transit {name}: {e}"));
        self.processes.push(Process { name, child });
    }

    /// Fails if a process has exited.
    fn check_alive(&mut self) {
        for process in &mut self.processes {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!(
                    "transit {} exited while it should run ({status})",
                    process.name
                );
            }
        }
    }

    /// Polls `path` on `address` until it answers (200 if `ok_only`), failing if a process
    /// exits or after [`STARTUP`]. Returns the body.
    async fn wait_http(&mut self, address: SocketAddr, path: &str, ok_only: bool) -> String {
        let deadline = Instant::now() + STARTUP;
        loop {
            self.check_alive();
            if let Ok(response) = request(address, "GET", path, None).await {
                if !ok_only || response.status == 200 {
                    return response.body;
                }
            }
            assert!(
                Instant::now() < deadline,
                "nothing answered on http://{address}{path} within {STARTUP:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls `path` of the registry or the REST Proxy at `address`, over HTTPS as the writer,
    /// until it answers (200 if `ok_only`), failing if a process exits or after [`STARTUP`].
    async fn wait_https(
        &mut self,
        services: &SecuredServices,
        address: SocketAddr,
        path: &str,
        ok_only: bool,
    ) {
        let deadline = Instant::now() + STARTUP;
        loop {
            self.check_alive();
            match services.status(address, path).await {
                Some(200) => return,
                Some(_) if !ok_only => return,
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "nothing answered on {}{path} within {STARTUP:?}",
                SecuredServices::url(address)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The dashboard's `/api/status`.
    async fn status(&mut self, dashboard: SocketAddr) -> Value {
        self.check_alive();
        let response = request(dashboard, "GET", "/api/status", None)
            .await
            .unwrap_or_else(|e| panic!("GET /api/status: {e}"));
        assert_eq!(response.status, 200, "GET /api/status: {}", response.body);
        serde_json::from_str(&response.body)
            .unwrap_or_else(|e| panic!("/api/status is not JSON: {e}: {}", response.body))
    }

    /// Sends Ctrl+C (SIGINT) to the processes named, together, and waits for each to exit 0
    /// within [`STOP`].
    async fn stop(&mut self, names: &[&str]) {
        self.check_alive();
        let (mut stopping, running): (Vec<Process>, Vec<Process>) =
            std::mem::take(&mut self.processes)
                .into_iter()
                .partition(|p| names.contains(&p.name));
        self.processes = running;
        let signalled = Instant::now();
        for process in &stopping {
            let pid = process.child.id().expect("a running process has an id");
            let status = std::process::Command::new("kill")
                .arg("-INT")
                .arg(pid.to_string())
                .status()
                .expect("running kill");
            assert!(status.success(), "kill -INT {pid} ({})", process.name);
        }
        for process in &mut stopping {
            let left = STOP.saturating_sub(signalled.elapsed());
            let status = tokio::time::timeout(left, process.child.wait())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "transit {} did not exit within {STOP:?} of Ctrl+C",
                        process.name
                    )
                })
                .unwrap_or_else(|e| panic!("waiting for transit {}: {e}", process.name));
            assert!(
                status.success(),
                "transit {} exited with {status} after Ctrl+C, not 0",
                process.name
            );
            eprintln!(
                "transit {} stopped cleanly in {:?}",
                process.name,
                signalled.elapsed()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The test.

/// What the scenario needs from the test.
struct Setup {
    binary: PathBuf,
    /// The `--kafka` flags of the test broker, its properties file included.
    kafka: Vec<String>,
    logs: Logs,
    schema: String,
    database_url: String,
    database_password_file: PathBuf,
    admin: Arc<Client>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by scripts/test.sh on the secured three-node cluster (see the module's doc)"]
async fn the_production_pipeline_runs_as_processes_and_shows_in_a_real_browser() {
    let kafka = process_args();
    require_chromium();
    require_axe();
    let binary = built_binary("transit", "cargo build --bin transit");
    let db = Db::create().await;
    let logs = Logs::create();
    let setup = Setup {
        binary,
        kafka,
        logs: logs.clone(),
        schema: db.schema.clone(),
        database_url: db.url.clone(),
        database_password_file: db.password_file.clone(),
        admin: Arc::clone(&db.admin),
    };
    // The scenario runs as a task so that its failure still drops the schema and shows the
    // processes' logs (its processes die with it: they are killed on drop).
    let outcome = tokio::spawn(scenario(setup)).await;
    db.drop_schema().await;
    match outcome {
        Ok(()) => logs.dir.remove(),
        Err(error) => {
            let message = match error.try_into_panic() {
                Ok(payload) => payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic without a message".to_string()),
                Err(error) => error.to_string(),
            };
            panic!("{message}\n\n{}", logs.tails());
        }
    }
}

async fn scenario(setup: Setup) {
    let started = std::time::Instant::now();
    let phase = |what: &str| eprintln!("[{:>5.1} s] {what}", started.elapsed().as_secs_f64());
    let mut pipeline = Pipeline {
        binary: setup.binary.clone(),
        logs: setup.logs.clone(),
        processes: Vec::new(),
    };
    let db = [
        "--database-url".to_string(),
        setup.database_url.clone(),
        "--database-password-file".to_string(),
        setup.database_password_file.display().to_string(),
    ];

    // 1. The table, loaded by `transit stations load`.
    let loaded = pipeline
        .run(
            "stations load",
            &[&["stations".to_string(), "load".to_string()][..], &db].concat(),
        )
        .await;
    assert!(
        loaded.contains(&format!("{CSV_ROWS} rows, {CSV_ROWS} inserted")),
        "transit stations load loads the embedded CSV's {CSV_ROWS} rows: {loaded:?}"
    );
    let rows: i64 = setup
        .admin
        .query_one(
            &format!("SELECT count(*) FROM {}.stations", setup.schema),
            &[],
        )
        .await
        .expect("counting the loaded rows")
        .get(0);
    assert_eq!(rows as u64, CSV_ROWS, "rows in {}.stations", setup.schema);
    phase("stations loaded");

    // 2. The processes, against the broker and the test's schema. chromedriver starts now too,
    // and is waited for later.
    let (driver_address, _driver) = start_chromedriver();
    let prefix = unique_name("prod").replace('-', "_");
    let registry = free_address();
    let rest_proxy = free_address();
    let dashboard = free_address();
    // The registry's certificate and users, and the files the processes log in with.
    let services = SecuredServices::generate();
    let kafka = &setup.kafka;
    let cluster: Vec<String> = [
        &kafka[..],
        &services.registry_client_args(registry),
        &["--topic-prefix".into(), prefix.clone()],
    ]
    .concat();
    let args = |head: &[&str], tail: &[String]| -> Vec<String> {
        head.iter()
            .map(|s| s.to_string())
            .chain(tail.iter().cloned())
            .collect()
    };

    pipeline.start(
        "registry",
        &args(
            &["registry"],
            &[
                &kafka[..],
                &[
                    "--registry-address".into(),
                    registry.to_string(),
                    "--rest-proxy-address".into(),
                    rest_proxy.to_string(),
                    "--registry-topic".into(),
                    format!("{prefix}._schemas"),
                ],
                &services.server_args(),
            ]
            .concat(),
        ),
    );
    pipeline
        .wait_https(&services, registry, "/subjects", true)
        .await;
    pipeline.wait_https(&services, rest_proxy, "/", false).await;
    phase("registry and REST Proxy serving");
    // Its own consumer groups, so runs sharing the broker do not rebalance each other.
    pipeline.start(
        "process",
        &args(&["process", "--group-prefix", &prefix], &cluster),
    );
    pipeline.start(
        "stations source",
        &args(
            &["stations", "source", "--poll-ms", "200"],
            &[&db[..], &cluster].concat(),
        ),
    );
    pipeline.start(
        "dashboard",
        &args(
            &["dashboard", "--address", &dashboard.to_string()],
            &cluster,
        ),
    );
    pipeline.wait_http(dashboard, "/healthz", true).await;
    phase("dashboard serving");
    pipeline.start(
        "produce",
        &args(
            &[
                "produce",
                // A fixed fleet (rather than the schedule), so the board has TRAINS trains.
                "--trains-per-line",
                "10",
                "--speed",
                SPEED,
            ],
            &[&cluster[..], &services.rest_proxy_client_args(rest_proxy)].concat(),
        ),
    );

    // 3. The board fills: every station from the table, every train, counts and weather.
    let deadline = Instant::now() + FILL;
    let status = loop {
        let status = pipeline.status(dashboard).await;
        let totals = &status["totals"];
        if totals["stations"] == BOARD_STATIONS
            && totals["in_service"] == TRAINS
            && totals["entries"].as_u64().unwrap_or(0) > 0
            && status["weather"].is_object()
        {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the board never filled within {FILL:?}: {}",
            status["totals"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The station source's connection, as the server sees it: encrypted, the TLS role's.
    let connections: Vec<(bool, String)> = setup
        .admin
        .query(
            "SELECT s.ssl, a.usename::text FROM pg_stat_activity a \
             JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.application_name = $1",
            &[&setup.schema],
        )
        .await
        .unwrap_or_else(|e| panic!("reading the source's connection: {e}"))
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert!(
        !connections.is_empty()
            && connections
                .iter()
                .all(|(ssl, user)| *ssl && user == postgres::TLS_ROLE),
        "the station source reaches PostgreSQL over TLS as {}: {connections:?}",
        postgres::TLS_ROLE
    );
    // Exactly the table's stations: each station of a row on one of the three lines.
    let mut expected: Vec<(String, i64)> = setup
        .admin
        .query(
            &format!(
                "SELECT DISTINCT CASE WHEN blue THEN 'blue' WHEN red THEN 'red' ELSE 'green' END, \
                 station_id::bigint FROM {}.stations WHERE blue::int + red::int + green::int = 1",
                setup.schema
            ),
            &[],
        )
        .await
        .expect("the table's stations")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let mut shown: Vec<(String, i64)> = status["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|line| {
            let color = line["line"].as_str().unwrap_or_default().to_string();
            line["stations"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |s| (color.clone(), s["station_id"].as_i64().unwrap_or(-1)))
        })
        .collect();
    expected.sort();
    shown.sort();
    assert_eq!(shown, expected, "the board's stations are the table's");
    phase("board filled");
    let blue_before = status["lines"][0]["stations"]
        .as_array()
        .map_or(0, Vec::len);

    // ... and the page shows it.
    let browser = Browser::start(driver_address).await;
    let before = browser.open_board(dashboard).await;
    phase("page read");

    assert_board_page(&before, BOARD_STATIONS as usize, TRAINS..=TRAINS);
    // WCAG 2.1 AA by axe-core (`TRANSIT_TEST_AXE`: `source scripts/axe.sh && need_axe`).
    browser.assert_accessible("the dashboard").await;
    // Trains standing at a platform are in the tables too; the others run between stations.
    let chips = strings(&before["chips"]);
    assert!(
        !chips.is_empty() && chips.len() <= TRAINS,
        "and in the tables: {chips:?}"
    );
    assert!(
        chips
            .iter()
            .all(|c| c.len() > 2 && c[2..].parse::<u32>().is_ok()),
        "trains have ids like BL007: {chips:?}"
    );
    let total = before["totalEntries"].as_str().unwrap_or("");
    assert!(
        page_number(total).is_some_and(|n| n > 0),
        "riders counted: {total:?}"
    );
    let counted: Vec<u64> = strings(&before["entries"])
        .iter()
        .filter_map(|e| page_number(e))
        .collect();
    assert_eq!(counted.len() as u64, BOARD_STATIONS, "{before}");
    assert!(
        counted.iter().any(|&n| n > 0),
        "turnstile counts per station: {counted:?}"
    );

    // The page follows the simulation, in place.
    wait_for_page_change(&browser, &before, TRAINS..=TRAINS, || {
        pipeline.check_alive()
    })
    .await;
    phase("page changed");
    // `transit dashboard` on Kafka serves the live feeds of the same board.
    crate::feeds::assert_live_feeds(dashboard, false).await;
    phase("live feeds");

    // 4. A station inserted into the table while everything runs reaches the dashboard: a new
    // stop past Forest Park, on the Blue line only.
    let table = format!("{}.stations", setup.schema);
    let fresh = setup
        .admin
        .query_one(
            &format!(
                r#"SELECT max(stop_id) + 1, max(station_id) + 1,
                          (SELECT max("order") + 1 FROM {table} WHERE blue) FROM {table}"#
            ),
            &[],
        )
        .await
        .expect("fresh ids");
    let (stop_id, station_id, order): (i32, i32, i32) = (fresh.get(0), fresh.get(1), fresh.get(2));
    let name = "Transit Test Terminal";
    setup
        .admin
        .execute(
            &format!(
                r#"INSERT INTO {table} (stop_id, direction_id, stop_name, station_name,
                       station_descriptive_name, station_id, "order", red, blue, green)
                   VALUES ($1, 'E', $2, $3, $4, $5, $6, false, true, false)"#
            ),
            &[
                &stop_id,
                &format!("{name} (O'Hare-bound)"),
                &name,
                &format!("{name} (Blue Line)"),
                &station_id,
                &order,
            ],
        )
        .await
        .expect("inserting a station");
    let inserted = Instant::now();
    phase("station inserted");
    loop {
        let status = pipeline.status(dashboard).await;
        let blue = status["lines"][0]["stations"].as_array().cloned();
        let shown = blue.as_deref().and_then(|stations| {
            stations
                .iter()
                .find(|s| s["station_id"] == station_id)
                .cloned()
        });
        if let Some(shown) = shown {
            assert_eq!(status["lines"][0]["line"], "blue", "{status}");
            assert_eq!(shown["name"], name, "{shown}");
            assert_eq!(shown["order"], order, "{shown}");
            assert_eq!(
                blue.as_deref().and_then(<[Value]>::last),
                Some(&shown),
                "ordered after the last Blue station"
            );
            assert_eq!(blue.map_or(0, |b| b.len()), blue_before + 1);
            assert_eq!(status["totals"]["stations"], BOARD_STATIONS + 1);
            break;
        }
        assert!(
            inserted.elapsed() < NEW_ROW,
            "station {station_id} (stop {stop_id}) inserted into {table} is not on the \
             dashboard after {NEW_ROW:?}: {}",
            status["lines"][0]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    phase("inserted station on /api/status");
    let shown = loop {
        pipeline.check_alive();
        let now = browser.eval(READ_BOARD).await;
        if strings(&now["stations"]).iter().any(|s| s == name) {
            break now;
        }
        assert!(
            inserted.elapsed() < NEW_ROW,
            "{name} never showed in the page within {NEW_ROW:?}: {}",
            now["stations"]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        strings(&shown["stations"]).len() as u64,
        BOARD_STATIONS + 1,
        "{shown}"
    );
    assert_eq!(shown["marker"], "same page", "the board swapped in place");
    phase("inserted station in the page");
    browser.close().await;

    // 5. No password on the dashboard's pages (Kafka's, the registry users', the database
    // role's).
    let mut secrets = transit_testkit::kafka::secrets();
    let database_password = std::fs::read_to_string(&setup.database_password_file)
        .unwrap_or_else(|e| panic!("reading {}: {e}", setup.database_password_file.display()));
    secrets.push((
        "the database role's password".to_string(),
        database_password.trim().to_string(),
    ));
    secrets.extend(
        services
            .passwords()
            .map(|p| ("a registry user's password".to_string(), p.to_string())),
    );
    for path in ["/api/status", "/metrics"] {
        let page = request(dashboard, "GET", path, None)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        for (what, secret) in &secrets {
            assert!(
                !page.body.contains(secret.as_str()),
                "the dashboard's {path} shows {what}"
            );
        }
    }

    // 6. Ctrl+C: the simulation first, then its readers, the registry last; each exits 0. No
    // log of theirs shows a password.
    pipeline.stop(&["produce"]).await;
    pipeline
        .stop(&["stations source", "dashboard", "process"])
        .await;
    pipeline.stop(&["registry"]).await;
    phase("all stopped");
    setup.logs.dir.assert_no_secret(&secrets);
    phase(&format!(
        "no log shows a password ({} looked for)",
        secrets.len()
    ));
}
