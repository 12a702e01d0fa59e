//! Probes as a supervisor and Prometheus use them: each long-running subcommand (`registry`,
//! `process`, `stations source`, `produce`, `dashboard`) serves `/healthz`, `/readyz` and
//! `/metrics` on its `--metrics-address`, and the dashboard `/readyz` on its own address too.
//!
//! The story: the station table exists but is empty, so the station source and the dashboard
//! are alive and not ready, each saying why; the table loaded, every process becomes ready and
//! its `/metrics` is valid Prometheus text (read with `prometheus_client`'s parser, the test
//! venv's, `TRANSIT_TEST_PYTHON`), the processor's with lag per partition and commits. The
//! registry stopped, the others stay alive but are not ready, naming the registry; started
//! again, all are ready again. Every process then stops on Ctrl+C with status 0, saying so in
//! its log.
//!
//! Needs the broker named by `TRANSIT_TEST_KAFKA` (`source scripts/kafka.sh; start_kafka`),
//! PostgreSQL (the local cluster, or `TRANSIT_TEST_POSTGRES_URL`), the test venv and the
//! `transit` binary built beside the test.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use transit_core::testing::unique_name;
use transit_testkit::browser::built_binary;
use transit_testkit::http::{free_address, request};
use transit_testkit::kafka::process_args;
use transit_testkit::postgres;
use transit_testkit::processes::{Launcher, LogDir, Proc};
use transit_testkit::prometheus;

/// The test database unless `TRANSIT_TEST_POSTGRES_URL` names another.
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long a process may take to become ready, or unready, or to exit.
const LIMIT: Duration = Duration::from_secs(60);

/// `GET path` on `address`: status and body, or `None` while nothing answers there.
async fn get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
    request(address, "GET", path, None)
        .await
        .ok()
        .map(|response| (response.status, response.body))
}

/// Waits until `/readyz` on `address` answers `status` with a body `accept`s; returns the
/// body as JSON.
async fn wait_readyz(
    proc: &mut Proc,
    address: SocketAddr,
    status: u16,
    accept: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + LIMIT;
    let mut last = None;
    loop {
        if let Some((code, body)) = get(address, "/readyz").await {
            let json: Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("/readyz of {} is not JSON ({e}): {body}", proc.name()));
            if code == status && accept(&json) {
                return json;
            }
            last = Some((code, body));
        }
        proc.assert_running();
        assert!(
            Instant::now() < deadline,
            "/readyz of {} did not answer {status} as expected within {LIMIT:?}; last: {last:?}\n{}",
            proc.name(),
            proc.last_lines(15)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn reasons(json: &Value) -> String {
    json["reasons"].to_string()
}

/// `/healthz` answers 200 and `/metrics` is valid Prometheus text; returns its samples.
async fn live_with_metrics(proc: &Proc, address: SocketAddr) -> Vec<prometheus::Sample> {
    let (code, body) = get(address, "/healthz").await.expect("/healthz answers");
    assert_eq!(code, 200, "/healthz of {}: {body}", proc.name());
    let (code, page) = get(address, "/metrics").await.expect("/metrics answers");
    assert_eq!(code, 200, "/metrics of {}: {page}", proc.name());
    prometheus::parse(&page).await
}

fn value(samples: &[prometheus::Sample], name: &str) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name)
        .and_then(|s| s.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_long_running_subcommand_answers_readyz_and_metrics_on_its_metrics_address() {
    let binary = built_binary("transit", "cargo build --bin transit");
    let logs = LogDir::create("transit-probes");
    let mut launcher = Launcher::new(binary, logs.clone());
    // A schema, a topic prefix and groups of this test's own.
    let (_, admin) = postgres::connect(&postgres::url(DEFAULT_POSTGRES)).await;
    let schema = unique_name("transit_probes").replace('-', "_");
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap_or_else(|e| panic!("creating schema {schema}: {e}"));
    let database = format!(
        "{}{}options=-c%20search_path%3D{schema}",
        postgres::url(DEFAULT_POSTGRES),
        if postgres::url(DEFAULT_POSTGRES).contains('?') {
            "&"
        } else {
            "?"
        }
    );
    let prefix = unique_name("probes").replace('-', "_");
    let (registry_at, proxy_at, board_at) = (free_address(), free_address(), free_address());
    let probes: Vec<SocketAddr> = (0..5).map(|_| free_address()).collect();
    let args = |extra: &[&str], probe: SocketAddr| -> Vec<String> {
        let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        args.extend(process_args());
        args.extend([
            "--topic-prefix".to_string(),
            prefix.clone(),
            "--registry-url".to_string(),
            format!("http://{registry_at}"),
            "--metrics-address".to_string(),
            probe.to_string(),
        ]);
        args
    };

    // The table, empty: a stations CSV with its header only.
    let empty_csv = logs.path().join("empty.csv");
    let header = transit_core::network::EMBEDDED_STATIONS
        .lines()
        .next()
        .expect("the CSV's header");
    std::fs::write(&empty_csv, format!("{header}\n")).unwrap();
    let mut load = launcher.start(
        "load-empty",
        &[
            "stations".to_string(),
            "load".to_string(),
            "--database-url".to_string(),
            database.clone(),
            "--csv".to_string(),
            empty_csv.display().to_string(),
        ],
    );
    assert!(
        load.wait_exit(LIMIT).await.success(),
        "{}",
        load.last_lines(10)
    );

    let mut registry_args = vec!["registry".to_string()];
    registry_args.extend(process_args());
    registry_args.extend([
        "--registry-address".to_string(),
        registry_at.to_string(),
        "--rest-proxy-address".to_string(),
        proxy_at.to_string(),
        "--registry-topic".to_string(),
        format!("{prefix}._schemas"),
        "--metrics-address".to_string(),
        probes[0].to_string(),
    ]);
    let mut registry = launcher.start("registry", &registry_args);
    wait_readyz(&mut registry, probes[0], 200, |_| true).await;
    registry
        .wait_for_line(&["REST Proxy listening", &proxy_at.to_string()], LIMIT)
        .await;

    let mut process = launcher.start(
        "process",
        &args(&["process", "--group-prefix", &prefix], probes[1]),
    );
    let mut source = launcher.start(
        "source",
        &args(
            &["stations", "source", "--database-url", &database],
            probes[2],
        ),
    );
    let mut board = launcher.start(
        "dashboard",
        &args(
            &["dashboard", "--address", &board_at.to_string()],
            probes[4],
        ),
    );
    let mut produce = launcher.start(
        "produce",
        &args(
            &[
                "produce",
                "--speed",
                "600",
                "--rest-proxy-url",
                &format!("http://{proxy_at}"),
            ],
            probes[3],
        ),
    );

    // An empty table: the source and the board are alive, not ready, and say why.
    let why = wait_readyz(&mut source, probes[2], 503, |json| {
        reasons(json).contains("database: the station table is empty")
    })
    .await;
    assert_eq!(why["status"], "not ready", "{why}");
    assert_eq!(get(probes[2], "/healthz").await.map(|r| r.0), Some(200));
    let why = wait_readyz(&mut board, board_at, 503, |json| {
        reasons(json).contains("stations: the board has no stations yet")
    })
    .await;
    assert_eq!(why["checks"]["broker"]["ok"], true, "{why}");

    // Loaded: every process becomes ready, and serves valid metrics.
    let mut load = launcher.start(
        "load",
        &[
            "stations".to_string(),
            "load".to_string(),
            "--database-url".to_string(),
            database.clone(),
        ],
    );
    assert!(
        load.wait_exit(LIMIT).await.success(),
        "{}",
        load.last_lines(10)
    );
    for (proc, address) in [
        (&mut registry, probes[0]),
        (&mut process, probes[1]),
        (&mut source, probes[2]),
        (&mut produce, probes[3]),
        (&mut board, probes[4]),
    ] {
        let ready = wait_readyz(proc, address, 200, |_| true).await;
        assert_eq!(ready["status"], "ready", "{ready}");
        let samples = live_with_metrics(proc, address).await;
        assert_eq!(
            value(&samples, "transit_ready"),
            Some(1.0),
            "{}",
            proc.name()
        );
    }
    // The dashboard's own address answers the same, with the board's families besides.
    wait_readyz(&mut board, board_at, 200, |_| true).await;
    let samples = live_with_metrics(&board, board_at).await;
    assert_eq!(value(&samples, "transit_board_stations"), Some(94.0));
    // The source's page: the rows it published.
    let raw = format!("{prefix}.stations.raw.v1");
    let samples = live_with_metrics(&source, probes[2]).await;
    assert!(
        samples
            .iter()
            .any(|s| s.name == "transit_records_published_total"
                && s.label("topic") == Some(raw.as_str())
                && s.value == Some(230.0)),
        "no 230 rows published to {raw} on the source's /metrics: {samples:?}"
    );
    // The producer's page: what it published, per topic.
    let entries = format!("{prefix}.turnstile.entries.v1");
    let samples = live_with_metrics(&produce, probes[3]).await;
    assert!(
        samples
            .iter()
            .any(|s| s.name == "transit_records_published_total"
                && s.label("topic") == Some(entries.as_str())
                && s.value.is_some_and(|n| n > 0.0)),
        "nothing published to {entries} on the producer's /metrics: {samples:?}"
    );
    // The processor's page: lag per partition and commits, once records went through.
    let deadline = Instant::now() + LIMIT;
    loop {
        let samples = live_with_metrics(&process, probes[1]).await;
        let lag_partitions = samples
            .iter()
            .filter(|s| s.name == "transit_consumer_lag_records" && s.label("partition").is_some())
            .count();
        let commits = samples
            .iter()
            .any(|s| s.name == "transit_commits_total" && s.value.is_some_and(|v| v > 0.0));
        if lag_partitions >= 4 && commits {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no lag per partition or no commits on the processor's /metrics"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The registry gone: the others are alive, and not ready, naming it.
    registry.interrupt(LIMIT).await;
    registry
        .wait_for_line(&["schema registry and REST Proxy stopped"], LIMIT)
        .await;
    for (proc, address) in [
        (&mut process, probes[1]),
        (&mut source, probes[2]),
        (&mut produce, probes[3]),
        (&mut board, board_at),
    ] {
        wait_readyz(proc, address, 503, |json| {
            reasons(json).contains("registry: ") && reasons(json).contains("does not answer")
        })
        .await;
        assert_eq!(get(address, "/healthz").await.map(|r| r.0), Some(200));
    }

    // Back (on the same ports, from its topic): ready again, everywhere.
    let mut registry = launcher.start("registry", &registry_args);
    for (proc, address) in [
        (&mut registry, probes[0]),
        (&mut process, probes[1]),
        (&mut source, probes[2]),
        (&mut produce, probes[3]),
        (&mut board, board_at),
    ] {
        wait_readyz(proc, address, 200, |_| true).await;
    }

    for (proc, stopped) in [
        (&mut produce, "producer stopped"),
        (&mut source, "station source stopped"),
        (&mut process, "processors stopped"),
        (&mut board, "dashboard stopped"),
        (&mut registry, "schema registry and REST Proxy stopped"),
    ] {
        proc.interrupt(LIMIT).await;
        assert!(
            !proc.lines_with(&[stopped]).is_empty(),
            "{} did not log {stopped:?}:\n{}",
            proc.name(),
            proc.last_lines(10)
        );
    }
    admin
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
    logs.remove();
}
