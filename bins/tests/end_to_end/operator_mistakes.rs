//! An operator's mistakes and outages, as the `transit` binary meets them: a wrong setting
//! ends the process at once with one line naming the setting to change; a service that is down
//! is waited for, said once per change of state rather than at every attempt; and Ctrl+C
//! stops a process in every state within 2 s, saying what it stopped before finishing.
//!
//! No broker, but for the last test: these test its absence. The schema registry, where one must answer, is served
//! in the test (on the in-memory bus, with basic auth when credentials are tested), and
//! PostgreSQL is the test cluster (`scripts/postgres.sh`'s TLS role for a wrong password).

use std::net::SocketAddr;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use transit_http::server::{Security, Users};
use transit_testkit::browser::built_binary;
use transit_testkit::http::free_address;
use transit_testkit::processes::{Launcher, LogDir, Proc};
use transit_testkit::registry::RegistryServer;

/// What a mistake may take to be reported: a name lookup, a connection refused.
const AT_ONCE: Duration = Duration::from_secs(10);

/// What Ctrl+C may take to stop a process, in any state.
const CTRL_C: Duration = Duration::from_secs(2);

/// The exit status of a process stopped by Ctrl+C before it finished.
const INTERRUPTED: i32 = 130;

fn launcher(name: &str) -> Launcher {
    let binary = built_binary("transit", "cargo build --bin transit");
    let mut launcher = Launcher::new(binary, LogDir::create(name));
    // The line counts below are of the default log level, whatever the test runs with.
    launcher.env("RUST_LOG", "info");
    launcher
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// An address nothing listens on, for the whole test run: a port bound without listening
/// (a connection to it is refused) and held, so that no listener of this or another test is
/// given it meanwhile, as a port found free and let go could be (a producer's REST Proxy
/// once answered 404 from another process's probes).
fn closed() -> String {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("binding a port");
    let address = socket.local_addr().expect("the port bound");
    // Held until the test binary ends.
    std::mem::forget(socket);
    address.to_string()
}

/// A schema registry served in the test on the in-memory bus; with `users`, behind basic auth.
async fn registry(users: Option<&str>) -> RegistryServer {
    let bus: Arc<dyn transit_core::bus::EventBus> = Arc::new(transit_mem::MemBus::new());
    let security = Security {
        users: users.map(|text| Users::parse("the test", text).expect("the test's users")),
        ..Security::open()
    };
    RegistryServer::start_secured(bus, "_schemas", security).await
}

/// Waits for the process to end by itself within `limit`; returns its status, the time it
/// took from `since`, and its last stderr line.
async fn ended(proc: &mut Proc, since: Instant, limit: Duration) -> (ExitStatus, Duration, String) {
    let status = proc.wait_exit(limit).await;
    let took = since.elapsed();
    let log = proc.log();
    let last = log.lines().last().unwrap_or_default().to_string();
    (status, took, last)
}

/// A mistake: the process ends within [`AT_ONCE`] with status 1 and one `error:` line naming
/// `setting`, each cause once, and little else logged.
async fn assert_mistake(proc: &mut Proc, setting: &[&str], what: &[&str]) -> String {
    let (status, took, last) = ended(proc, Instant::now(), AT_ONCE).await;
    let log = proc.log();
    assert_eq!(status.code(), Some(1), "{}: {status}:\n{log}", proc.label());
    assert!(took < AT_ONCE, "{} took {took:?}", proc.label());
    assert!(
        last.starts_with("error: "),
        "the last line is the error:\n{log}"
    );
    for needle in setting.iter().chain(what) {
        assert!(last.contains(needle), "{needle:?} is not in {last:?}");
    }
    assert_eq!(
        log.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "one error line:\n{log}"
    );
    assert!(
        log.lines().count() <= 6,
        "a mistake is told briefly:\n{log}"
    );
    let parts: Vec<&str> = last.split(": ").map(str::trim).collect();
    for (index, part) in parts.iter().enumerate() {
        assert!(
            !parts[..index].iter().any(|earlier| earlier.contains(part)),
            "{part:?} is said twice in {last:?}"
        );
    }
    last
}

/// Ctrl+C: the process stops within [`CTRL_C`], with status `status` and, after the Ctrl+C, a
/// line with every one of `stopped` (what it stopped, or what it finished); returns the line.
async fn assert_ctrl_c(proc: &mut Proc, status: i32, stopped: &[&str]) -> String {
    let before = proc.log().lines().count();
    let since = Instant::now();
    proc.signal("INT");
    let (exit, took, _) = ended(proc, since, CTRL_C * 5).await;
    let log = proc.log();
    assert!(
        took <= CTRL_C,
        "{} took {took:?} to stop:\n{log}",
        proc.label()
    );
    assert_eq!(
        exit.code(),
        Some(status),
        "{}: {exit}:\n{log}",
        proc.label()
    );
    log.lines()
        .skip(before)
        .find(|line| stopped.iter().all(|needle| line.contains(needle)))
        .unwrap_or_else(|| panic!("no line with {stopped:?} after Ctrl+C:\n{log}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_kafka_host_ends_the_process_at_once() {
    let mut launcher = launcher("unknown-kafka-host");
    let mut proc = launcher.start(
        "process",
        &args(&[
            "process",
            "--kafka",
            "no-such-broker.invalid:9092",
            "--registry-url",
            &format!("http://{}", closed()),
        ]),
    );
    assert_mistake(
        &mut proc,
        &["--kafka", "TRANSIT_KAFKA_BROKERS"],
        &["no-such-broker.invalid"],
    )
    .await;
    launcher.logs().remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_kafka_list_ends_the_process_at_once() {
    let mut launcher = launcher("malformed-kafka");
    let mut proc = launcher.start(
        "process",
        &args(&["process", "--kafka", "127.0.0.1:notaport"]),
    );
    assert_mistake(&mut proc, &["--kafka"], &["127.0.0.1:notaport"]).await;
    launcher.logs().remove();
}

/// The first finding: nothing listening where Kafka should be. Thirty seconds of it
/// are a few lines, not hundreds, and Ctrl+C stops the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_down_is_waited_for_quietly_and_ctrl_c_stops_the_wait() {
    let registry = registry(None).await;
    let mut launcher = launcher("kafka-down");
    let kafka = closed();
    let mut proc = launcher.start(
        "process",
        &args(&[
            "process",
            "--kafka",
            &kafka,
            "--registry-url",
            &registry.url(),
        ]),
    );
    proc.wait_for_line(
        &["Kafka unreachable at", &kafka, "retrying (attempt 1"],
        AT_ONCE,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    proc.assert_running();
    let lines = proc.log().lines().count();
    assert!(lines < 20, "{lines} lines in 30 s:\n{}", proc.log());
    assert_ctrl_c(
        &mut proc,
        INTERRUPTED,
        &["stopped by Ctrl+C while waiting for Kafka at", &kafka],
    )
    .await;
    registry.stop().await;
    launcher.logs().remove();
}

/// Something listens where Kafka should be, but it is no broker: librdkafka is asked, and its
/// repeated complaints are held back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_that_is_no_broker_is_waited_for_quietly() {
    let registry = registry(None).await;
    // Takes connections (the backlog completes them) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
    let kafka = silent.local_addr().expect("its address").to_string();
    let mut launcher = launcher("not-a-broker");
    let mut proc = launcher.start(
        "process",
        &args(&[
            "process",
            "--kafka",
            &kafka,
            "--registry-url",
            &registry.url(),
            // librdkafka's own wait for an answer, shorter than its default minute, so that
            // its connections fail and are retried within the test's 30 s.
            "-X",
            "socket.timeout.ms=3000",
            "-X",
            "transit.operation.timeout.ms=5000",
        ]),
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    proc.assert_running();
    let log = proc.log();
    let lines = log.lines().count();
    assert!(lines < 20, "{lines} lines in 30 s:\n{log}");
    assert!(
        log.contains("Kafka unreachable at"),
        "the wait is said:\n{log}"
    );
    assert_ctrl_c(&mut proc, INTERRUPTED, &["stopped by Ctrl+C while", &kafka]).await;
    drop(silent);
    registry.stop().await;
    launcher.logs().remove();
}

/// A registry that is down is said once, and the process goes on without it (a dashboard
/// serves, a processor consumes; what needs the registry waits for it): here to wait for Kafka.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_down_is_said_once_and_the_process_goes_on() {
    let mut launcher = launcher("registry-down");
    let registry_url = format!("http://{}", closed());
    let kafka = closed();
    let address = free_address().to_string();
    let mut proc = launcher.start(
        "dashboard",
        &args(&[
            "dashboard",
            "--kafka",
            &kafka,
            "--registry-url",
            &registry_url,
            "--address",
            &address,
        ]),
    );
    proc.wait_for_line(&["Kafka unreachable at", &kafka, "attempt 2"], AT_ONCE)
        .await;
    let said = proc.lines_with(&["the schema registry is unreachable at", &registry_url]);
    assert_eq!(said.len(), 1, "{}", proc.log());
    assert_ctrl_c(
        &mut proc,
        INTERRUPTED,
        &["stopped by Ctrl+C while waiting for Kafka at", &kafka],
    )
    .await;
    launcher.logs().remove();
}

/// The other long-running subcommands waiting for Kafka (`process` is above), each with its
/// probes: alive and not ready while it waits (a supervisor does not restart it for that), and
/// stopped by Ctrl+C within 2 s, naming the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_source_producer_and_dashboard_waiting_for_kafka_are_alive_and_stop_on_ctrl_c() {
    let mut launcher = launcher("kafka-down-others");
    let kafka = closed();
    let registry_url = format!("http://{}", closed());
    let cluster = [
        "--kafka",
        kafka.as_str(),
        "--registry-url",
        registry_url.as_str(),
    ];
    let database = database_url("postgres");
    let (registry_address, proxy_address, board_address) = (
        free_address().to_string(),
        free_address().to_string(),
        free_address().to_string(),
    );
    let commands: [(&str, Vec<&str>); 4] = [
        (
            "registry",
            vec![
                "registry",
                "--kafka",
                &kafka,
                "--registry-address",
                &registry_address,
                "--rest-proxy-address",
                &proxy_address,
            ],
        ),
        (
            "source",
            [
                &["stations", "source", "--database-url", &database][..],
                &cluster,
            ]
            .concat(),
        ),
        ("produce", [&["produce"][..], &cluster].concat()),
        (
            "dashboard",
            [&["dashboard", "--address", &board_address][..], &cluster].concat(),
        ),
    ];
    let mut procs: Vec<(Proc, SocketAddr)> = commands
        .iter()
        .map(|(name, list)| {
            let probes = free_address();
            let mut list = args(list);
            list.extend(["--metrics-address".to_string(), probes.to_string()]);
            (launcher.start(name, &list), probes)
        })
        .collect();
    for (proc, probes) in &mut procs {
        proc.wait_for_line(
            &["Kafka unreachable at", &kafka, "retrying (attempt 1"],
            AT_ONCE,
        )
        .await;
        let (live, body) = get(*probes, "/healthz").await;
        assert_eq!(live, 200, "{}: {body}", proc.label());
        let (ready, body) = get(*probes, "/readyz").await;
        assert_eq!(ready, 503, "{}: {body}", proc.label());
        assert!(
            body.contains("broker: connecting"),
            "{}: {body}",
            proc.label()
        );
        assert_ctrl_c(
            proc,
            INTERRUPTED,
            &["stopped by Ctrl+C while waiting for Kafka at", &kafka],
        )
        .await;
    }
    launcher.logs().remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_registry_host_ends_the_process_at_once() {
    let mut launcher = launcher("unknown-registry-host");
    let mut proc = launcher.start(
        "process",
        &args(&[
            "process",
            "--kafka",
            &closed(),
            "--registry-url",
            "http://no-such-registry.invalid:8081",
        ]),
    );
    assert_mistake(
        &mut proc,
        &["--registry-url", "TRANSIT_REGISTRY_URL"],
        &["no-such-registry.invalid"],
    )
    .await;
    launcher.logs().remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_registry_url_ends_the_process_at_once() {
    let mut launcher = launcher("malformed-registry-url");
    let mut proc = launcher.start(
        "produce",
        &args(&[
            "produce",
            "--kafka",
            &closed(),
            "--registry-url",
            "htp://127.0.0.1:8081",
        ]),
    );
    assert_mistake(&mut proc, &["--registry-url"], &["htp://127.0.0.1:8081"]).await;
    launcher.logs().remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_registry_credentials_end_the_process_at_once() {
    let registry = registry(Some("producer: right-password,write")).await;
    let mut launcher = launcher("registry-credentials");
    launcher.env("TRANSIT_REGISTRY_USER_INFO", "producer:wrong-password");
    let mut proc = launcher.start(
        "process",
        &args(&[
            "process",
            "--kafka",
            &closed(),
            "--registry-url",
            &registry.url(),
        ]),
    );
    let line = assert_mistake(
        &mut proc,
        &["TRANSIT_REGISTRY_USER_INFO", "--registry-url"],
        &[&registry.url(), "401"],
    )
    .await;
    assert!(!line.contains("wrong-password"), "{line}");
    registry.stop().await;
    launcher.logs().remove();
}

/// `transit registry` (schema registry and REST Proxy) on the test broker, its schemas in a
/// topic of `prefix`, once it listens; with its registry's and REST Proxy's addresses.
async fn registry_process(launcher: &mut Launcher, prefix: &str) -> (Proc, SocketAddr, SocketAddr) {
    let (registry_address, proxy_address) = (free_address(), free_address());
    let mut registry_args = args(&[
        "registry",
        "--registry-address",
        &registry_address.to_string(),
        "--rest-proxy-address",
        &proxy_address.to_string(),
        "--registry-topic",
        &format!("{prefix}_schemas"),
    ]);
    registry_args.extend(transit_testkit::kafka::process_args());
    let mut registry = launcher.start("registry", &registry_args);
    registry
        .wait_for_line(&["schema registry listening"], Duration::from_secs(60))
        .await;
    (registry, registry_address, proxy_address)
}

/// The test cluster, as a URL for database `database` (the superuser, local trust).
fn database_url(database: &str) -> String {
    let url = transit_testkit::postgres::url("postgres://postgres@127.0.0.1:5432/postgres");
    match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{database}"),
        None => url,
    }
}

/// The third finding: `stations source` against a database that does not exist
/// retried for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_database_ends_the_source_at_once() {
    let mut launcher = launcher("missing-database");
    let url = database_url("transit_no_such_database");
    let mut proc = launcher.start(
        "source",
        &args(&[
            "stations",
            "source",
            "--database-url",
            &url,
            "--kafka",
            &closed(),
            "--registry-url",
            &format!("http://{}", closed()),
        ]),
    );
    assert_mistake(
        &mut proc,
        &["--database-url", "TRANSIT_DATABASE_URL"],
        &["transit_no_such_database", "does not exist"],
    )
    .await;
    launcher.logs().remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_database_password_ends_the_loader_at_once() {
    let tls = transit_testkit::postgres::Tls::load();
    let url = format!(
        "postgres://{}:not-the-password@localhost:5432/postgres?sslmode=verify-full&sslrootcert={}",
        transit_testkit::postgres::TLS_ROLE,
        tls.ca()
    );
    let mut launcher = launcher("wrong-database-password");
    let mut proc = launcher.start("load", &args(&["stations", "load", "--database-url", &url]));
    let line = assert_mistake(
        &mut proc,
        &["--database-url", "--database-password-file"],
        &["password authentication failed"],
    )
    .await;
    assert!(!line.contains("not-the-password"), "{line}");
    launcher.logs().remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_database_host_ends_the_loader_at_once() {
    let mut launcher = launcher("unknown-database-host");
    let mut proc = launcher.start(
        "load",
        &args(&[
            "stations",
            "load",
            "--database-url",
            "postgres://postgres@no-such-database.invalid:5432/postgres",
        ]),
    );
    assert_mistake(
        &mut proc,
        &["--database-url"],
        &["no-such-database.invalid"],
    )
    .await;
    launcher.logs().remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_database_url_ends_the_loader_at_once() {
    let mut launcher = launcher("malformed-database-url");
    let mut proc = launcher.start(
        "load",
        &args(&[
            "stations",
            "load",
            "--database-url",
            "postgres://x:notaport/db",
        ]),
    );
    assert_mistake(&mut proc, &["--database-url"], &[]).await;
    launcher.logs().remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_down_is_waited_for_and_ctrl_c_stops_the_wait() {
    let mut launcher = launcher("database-down");
    let database: SocketAddr = free_address();
    let url = format!("postgres://postgres@{database}/postgres?sslmode=disable");
    let probes = free_address();
    let mut proc = launcher.start(
        "source",
        &args(&[
            "stations",
            "source",
            "--database-url",
            &url,
            "--kafka",
            &closed(),
            "--registry-url",
            &format!("http://{}", closed()),
            "--metrics-address",
            &probes.to_string(),
        ]),
    );
    proc.wait_for_line(&["PostgreSQL unreachable at", "attempt 2"], AT_ONCE)
        .await;
    // Alive and not ready while it waits: a supervisor does not restart it for an outage.
    assert_eq!(get(probes, "/healthz").await.0, 200);
    let (ready, body) = get(probes, "/readyz").await;
    assert_eq!(ready, 503, "{body}");
    assert!(body.contains("database: connecting"), "{body}");
    assert_ctrl_c(
        &mut proc,
        INTERRUPTED,
        &["stopped by Ctrl+C while waiting for PostgreSQL at"],
    )
    .await;
    launcher.logs().remove();
}

/// With the test broker (`TRANSIT_TEST_KAFKA`): Ctrl+C while the processors wait for their
/// input topics to be created, and while they process (a transaction open most of the time),
/// each a clean stop within 2 s, its output committed: status 0; and while one waits for the
/// registry to register its schemas, a stop within 2 s saying it had not started: status 130,
/// and at once on a second Ctrl+C.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_processors_waiting_for_topics_or_the_registry_and_mid_transaction() {
    let prefix = transit_core::testing::unique_name("ctrl_c");
    let mut launcher = launcher("ctrl-c-with-broker");
    let kafka_args = transit_testkit::kafka::process_args();
    let (mut registry, registry_address, proxy_address) =
        registry_process(&mut launcher, &prefix).await;
    let mut cluster = kafka_args;
    cluster.extend(args(&[
        "--registry-url",
        &format!("http://{registry_address}"),
        "--topic-prefix",
        &prefix,
    ]));
    let process_args = {
        let mut list = args(&["process", "--group-prefix", &prefix]);
        list.extend(cluster.clone());
        list
    };

    // Nothing produces yet: the processors wait for their input topics.
    let mut waiting = launcher.start("process-waiting", &process_args);
    waiting
        .wait_for_line(
            &["waiting for a subscribed topic to be created"],
            Duration::from_secs(60),
        )
        .await;
    assert_ctrl_c(&mut waiting, 0, &["processors stopped; output flushed"]).await;

    // The registry down: a processor starts, and its registration of schemas waits for it.
    let mut without_registry = launcher.start(
        "process-without-registry",
        &process_without_registry(&prefix, &cluster),
    );
    without_registry
        .wait_for_lines(
            &["the schema registry is not answering; asking again"],
            2,
            Duration::from_secs(60),
        )
        .await;
    assert_ctrl_c(
        &mut without_registry,
        INTERRUPTED,
        &[
            "stopped by Ctrl+C while waiting for the schema registry at",
            "registering",
        ],
    )
    .await;

    // Again, and a second Ctrl+C while the first waits for the registration: out at once.
    let mut forced = launcher.start(
        "process-forced",
        &process_without_registry(&prefix, &cluster),
    );
    forced
        .wait_for_line(
            &["the schema registry is not answering; asking again"],
            Duration::from_secs(60),
        )
        .await;
    forced.signal("INT");
    forced.wait_for_line(&["Ctrl+C: stopping"], CTRL_C).await;
    let second = Instant::now();
    forced.signal("INT");
    let (status, took, last) = ended(&mut forced, second, CTRL_C).await;
    assert_eq!(status.code(), Some(INTERRUPTED), "{}", forced.log());
    assert!(
        took < Duration::from_millis(500),
        "forced out after {took:?}"
    );
    assert!(
        last.starts_with("second Ctrl+C: stopped at once while waiting for the schema registry"),
        "{last:?}"
    );

    // The simulation flat out: the processors are inside a transaction most of the time.
    let mut produce_args = args(&[
        "produce",
        "--flat-out",
        "--rest-proxy-url",
        &format!("http://{proxy_address}"),
    ]);
    produce_args.extend(cluster.clone());
    let mut producer = launcher.start("produce", &produce_args);
    let mut working = launcher.start("process-working", &process_args);
    working
        .wait_for_line(
            &["processing", "turnstile-counter", "records="],
            Duration::from_secs(120),
        )
        .await;
    assert_ctrl_c(&mut working, 0, &["processors stopped; output flushed"]).await;
    assert_ctrl_c(&mut producer, 0, &["producer stopped"]).await;
    registry.interrupt(Duration::from_secs(30)).await;
    launcher.logs().remove();
}

/// How long an outage is left running before its log lines are counted.
const OUTAGE: Duration = Duration::from_secs(30);

/// Fewer log lines than this in [`OUTAGE`]: an outage is said once per change of state.
const OUTAGE_LINES: usize = 20;

/// `GET path` on `address`: status and body.
async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let response = transit_testkit::http::request(address, "GET", path, None)
        .await
        .unwrap_or_else(|e| panic!("{path} on {address}: {e}"));
    (response.status, response.body)
}

/// The `/metrics` page served on `address`.
async fn metrics_page(address: SocketAddr) -> String {
    let (status, page) = get(address, "/metrics").await;
    assert_eq!(status, 200, "{page}");
    page
}

/// The sample of `name` whose labels include `component="component"`: its line and value.
fn component_sample<'a>(page: &'a str, name: &str, component: &str) -> Option<(&'a str, f64)> {
    let start = format!("{name}{{");
    let label = format!("component=\"{component}\"");
    page.lines()
        .filter(|line| line.starts_with(&start) && line.contains(&label))
        .find_map(|line| Some((line, line.rsplit_once(' ')?.1.parse().ok()?)))
}

/// `component`'s retries and errors counted on `page`, and its last error naming every one of
/// `error` (and not `secret`).
fn assert_counted(page: &str, component: &str, retried: bool, error: &[&str], secret: &str) {
    let count = |name| component_sample(page, name, component).map_or(0.0, |(_, value)| value);
    if retried {
        assert!(
            count("transit_retries_total") >= 1.0,
            "no retry of {component}:\n{page}"
        );
    }
    assert!(
        count("transit_errors_total") >= 1.0,
        "no error of {component}:\n{page}"
    );
    let (last, at) = component_sample(page, "transit_last_error_timestamp_seconds", component)
        .unwrap_or_else(|| panic!("no last error of {component}:\n{page}"));
    assert!(at > 1.0e9, "{last}");
    for needle in error {
        assert!(last.contains(needle), "{needle:?} is not in {last}");
    }
    assert!(!page.contains(secret), "the page shows a secret:\n{page}");
}

/// Lines `proc` logged since it had logged `before`.
fn lines_since(proc: &Proc, before: usize) -> usize {
    proc.log().lines().count().saturating_sub(before)
}

/// With the test broker (`TRANSIT_TEST_KAFKA`): the REST Proxy down under `produce` (the weather
/// sender retrying), and the registry down under `dashboard` (records on its topics whose
/// schemas it must fetch). Thirty seconds of each are fewer than 20 log lines; `/metrics`
/// counts the weather sender's and the registry client's retries with their last error, with
/// no credential in it; Ctrl+C stops each within 2 s naming what it waited for, and a second
/// Ctrl+C forces `produce` out at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_proxy_or_registry_down_is_quiet_counted_in_metrics_and_ctrl_c_stops_the_wait() {
    let prefix = transit_core::testing::unique_name("outage");
    let mut launcher = launcher("services-down-with-broker");
    let (mut registry, registry_address, _proxy) = registry_process(&mut launcher, &prefix).await;
    let registry_url = format!("http://{registry_address}");
    let proxy_url = format!("http://{}", closed());
    let (produce_probes, board_probes) = (free_address(), free_address());
    let mut produce_args = args(&[
        "produce",
        "--speed",
        "3600",
        "--rest-proxy-url",
        &proxy_url,
        "--registry-url",
        &registry_url,
        "--topic-prefix",
        &prefix,
        "--metrics-address",
        &produce_probes.to_string(),
    ]);
    produce_args.extend(transit_testkit::kafka::process_args());
    let weather_waits = [
        "the REST Proxy did not take the weather reading",
        "attempt=1",
    ];

    // A first producer: two Ctrl+C while it sends a reading again, the second forcing it out.
    let mut forced = launcher.start("produce", &produce_args);
    forced
        .wait_for_line(&weather_waits, Duration::from_secs(60))
        .await;
    forced.signal("INT");
    forced.wait_for_line(&["Ctrl+C: stopping"], CTRL_C).await;
    let second = Instant::now();
    forced.signal("INT");
    let (status, took, last) = ended(&mut forced, second, CTRL_C).await;
    assert_eq!(status.code(), Some(INTERRUPTED), "{}", forced.log());
    assert!(
        took < Duration::from_millis(500),
        "forced out after {took:?}"
    );
    assert!(
        last.starts_with("second Ctrl+C: stopped at once while sending the weather reading of"),
        "{last:?}"
    );

    // The REST Proxy down for the producer, then the registry for the dashboard.
    let mut producer = launcher.restart(&forced);
    producer
        .wait_for_line(&weather_waits, Duration::from_secs(60))
        .await;
    let produced_before = producer.log().lines().count();
    let produce_outage = Instant::now();
    registry.interrupt(Duration::from_secs(30)).await;
    launcher.env("TRANSIT_REGISTRY_USER_INFO", "reader:registry-secret");
    let mut board = launcher.start("dashboard", &{
        let mut list = args(&[
            "dashboard",
            "--registry-url",
            &registry_url,
            "--topic-prefix",
            &prefix,
            "--address",
            &free_address().to_string(),
            "--metrics-address",
            &board_probes.to_string(),
        ]);
        list.extend(transit_testkit::kafka::process_args());
        list
    });
    board
        .wait_for_line(
            &[
                "the schema registry is not answering; asking again",
                "attempt=1",
            ],
            Duration::from_secs(60),
        )
        .await;
    let board_outage = Instant::now();
    let board_before = board.log().lines().count();

    // Meanwhile a producer starting without the registry waits to register its schemas.
    let mut unregistered = {
        let mut list = produce_args.clone();
        let at = list
            .iter()
            .position(|arg| arg == "--metrics-address")
            .expect("the producer's arguments name its probes' address");
        list[at + 1] = free_address().to_string();
        launcher.start("produce-unregistered", &list)
    };
    unregistered
        .wait_for_line(
            &["the schema registry is not answering; asking again"],
            Duration::from_secs(60),
        )
        .await;
    assert_ctrl_c(
        &mut unregistered,
        INTERRUPTED,
        &[
            "stopped by Ctrl+C while waiting for the schema registry at",
            "registering",
        ],
    )
    .await;

    tokio::time::sleep(OUTAGE.saturating_sub(board_outage.elapsed())).await;
    producer.assert_running();
    board.assert_running();
    // Each one's lines since its outage began (their starts are a dozen lines each).
    let (board_lines, produced) = (
        lines_since(&board, board_before),
        lines_since(&producer, produced_before),
    );
    assert!(
        board_lines < OUTAGE_LINES,
        "the dashboard wrote {board_lines} lines in {:?}:\n{}",
        board_outage.elapsed(),
        board.log()
    );
    assert!(
        produced < OUTAGE_LINES,
        "the producer wrote {produced} lines in {:?} without the REST Proxy:\n{}",
        produce_outage.elapsed(),
        producer.log()
    );
    // Said at attempts 1, 2, 4, 8, 16 at most in 30 s, not at every attempt.
    for (proc, said) in [
        (&producer, "the REST Proxy did not take the weather reading"),
        (&board, "the schema registry is not answering"),
    ] {
        let lines = proc.lines_with(&[said]);
        assert!(
            (1..=5).contains(&lines.len()),
            "{} said {said:?} {} times:\n{}",
            proc.label(),
            lines.len(),
            proc.log()
        );
    }

    let page = metrics_page(board_probes).await;
    assert_counted(
        &page,
        "registry client",
        true,
        &[&registry_url],
        "registry-secret",
    );
    let page = metrics_page(produce_probes).await;
    assert_counted(
        &page,
        "weather sender",
        true,
        &[&proxy_url],
        "registry-secret",
    );
    // Its registry calls were done before the registry stopped: only its checks failed since.
    assert_counted(
        &page,
        "registry client",
        false,
        &[&registry_url],
        "registry-secret",
    );

    assert_ctrl_c(
        &mut producer,
        INTERRUPTED,
        &[
            "stopped by Ctrl+C while sending the weather reading of",
            &proxy_url,
            "was not sent",
        ],
    )
    .await;
    assert_ctrl_c(
        &mut board,
        INTERRUPTED,
        &[
            "stopped by Ctrl+C while waiting for the schema registry at",
            &registry_url,
        ],
    )
    .await;
    launcher.logs().remove();
}

/// `transit process` on the cluster of `cluster`'s arguments, its `--registry-url` pointing at
/// a port nobody listens on.
fn process_without_registry(prefix: &str, cluster: &[String]) -> Vec<String> {
    let mut list = args(&["process", "--group-prefix", prefix]);
    list.extend(cluster.iter().cloned());
    let at = list
        .iter()
        .position(|arg| arg == "--registry-url")
        .expect("the cluster's arguments name the registry");
    list[at + 1] = format!("http://{}", closed());
    list
}
