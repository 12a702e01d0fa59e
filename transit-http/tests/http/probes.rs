//! Liveness, readiness and metrics over real HTTP: the probes any process serves on its
//! `--metrics-address`, and the dashboard's own `/readyz` and `/metrics`. Every `/metrics` page
//! is read with `prometheus_client`'s parser (the test venv's Python, `TRANSIT_TEST_PYTHON`).

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use transit_core::bus::PartitionPosition;
use transit_core::metrics::PipelineMetrics;
use transit_core::status::StatusSnapshot;
use transit_http::dashboard::{self, Dashboard};
use transit_http::probes::{self, Probes, Readiness};
use transit_testkit::http::{request, Response};
use transit_testkit::prometheus;

async fn get(address: SocketAddr, path: &str) -> Response {
    request(address, "GET", path, None).await.unwrap()
}

fn json(response: &Response) -> Value {
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{}",
        response.body
    );
    serde_json::from_str(&response.body).unwrap()
}

/// Counters as a running processor leaves them: lag on two partitions, commits, an aborted
/// transaction, retries whose last error has quotes and a newline.
fn busy_metrics() -> Arc<PipelineMetrics> {
    let metrics = PipelineMetrics::new();
    let topic: Arc<str> = Arc::from("arrivals");
    metrics.record_positions(
        "transit-headways",
        &[
            PartitionPosition {
                topic: Arc::clone(&topic),
                partition: 0,
                next_offset: 10,
                end_offset: 10,
            },
            PartitionPosition {
                topic,
                partition: 1,
                next_offset: 3,
                end_offset: 20,
            },
        ],
    );
    metrics.record_commit("transit-headways");
    metrics.record_commit("transit-headways");
    metrics.record_aborted_transaction("transit-headways");
    metrics.record_retry("transit-headways", "first");
    metrics.record_retry(
        "transit-headways",
        "broker \"b1\" said:\nnot the leader \\ retry",
    );
    metrics
}

#[tokio::test]
async fn a_process_is_live_at_once_and_ready_when_every_check_passes() {
    let readiness = Readiness::new();
    readiness.expect("broker", "not connected yet");
    readiness.expect("state", "no partitions restored yet");
    let shutdown = CancellationToken::new();
    let listener = probes::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let address = listener.local_addr().unwrap();
    let probes = Probes::new("process", Arc::clone(&readiness), busy_metrics());
    let server = tokio::spawn(probes::serve(listener, probes, shutdown.clone()));

    // Live, while not ready: a supervisor must not restart it for a broker that is away.
    let live = get(address, "/healthz").await;
    assert_eq!(live.status, 200);
    let body = json(&live);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["process"], "process");

    let not_ready = get(address, "/readyz").await;
    assert_eq!(not_ready.status, 503);
    let body = json(&not_ready);
    assert_eq!(body["status"], "not ready");
    assert_eq!(
        body["reasons"],
        serde_json::json!([
            "broker: not connected yet",
            "state: no partitions restored yet"
        ])
    );
    assert_eq!(body["checks"]["broker"]["ok"], false);

    readiness.pass("broker");
    let body = json(&get(address, "/readyz").await);
    assert_eq!(
        body["reasons"],
        serde_json::json!(["state: no partitions restored yet"])
    );
    assert_eq!(body["checks"]["broker"], serde_json::json!({"ok": true}));

    readiness.pass("state");
    let ready = get(address, "/readyz").await;
    assert_eq!(ready.status, 200);
    let body = json(&ready);
    assert_eq!(body["status"], "ready");
    assert!(body.get("reasons").is_none(), "{body}");

    // Unreachable again: not ready again, with the reason.
    readiness.fail("broker", "127.0.0.1:9092 did not answer within 5 s");
    let again = get(address, "/readyz").await;
    assert_eq!(again.status, 503);
    assert_eq!(
        json(&again)["reasons"],
        serde_json::json!(["broker: 127.0.0.1:9092 did not answer within 5 s"])
    );

    assert_eq!(get(address, "/nope").await.status, 404);
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_process_metrics_page_is_valid_prometheus_text_with_lag_commits_aborts_retries_and_the_last_error(
) {
    let readiness = Readiness::new();
    readiness.expect("broker", "not connected yet");
    readiness.pass("registry");
    let shutdown = CancellationToken::new();
    let listener = probes::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let address = listener.local_addr().unwrap();
    let probes = Probes::new("process", readiness, busy_metrics());
    let server = tokio::spawn(probes::serve(listener, probes, shutdown.clone()));

    let page = get(address, "/metrics").await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
    let samples = prometheus::parse(&page.body).await;
    let value = |name: &str, labels: &[(&str, &str)]| {
        samples
            .iter()
            .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
            .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{}", page.body))
            .value
    };
    assert_eq!(
        value(
            "transit_consumer_lag_records",
            &[
                ("consumer", "transit-headways"),
                ("topic", "arrivals"),
                ("partition", "1")
            ]
        ),
        Some(17.0)
    );
    assert_eq!(
        value("transit_consumer_lag_records", &[("partition", "0")]),
        Some(0.0)
    );
    assert_eq!(
        value("transit_commits_total", &[("consumer", "transit-headways")]),
        Some(2.0)
    );
    assert_eq!(
        value(
            "transit_transactions_aborted_total",
            &[("consumer", "transit-headways")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            "transit_retries_total",
            &[("component", "transit-headways")]
        ),
        Some(2.0)
    );
    // The label carries the last error whole, quotes, newline and backslash escaped.
    let last = samples
        .iter()
        .find(|s| s.name == "transit_last_error_timestamp_seconds")
        .expect("the last error");
    assert_eq!(
        last.label("error"),
        Some("broker \"b1\" said:\nnot the leader \\ retry")
    );
    assert!(last.value.is_some_and(|at| at > 1.7e9), "{last:?}");
    assert_eq!(value("transit_ready", &[]), Some(0.0));
    assert_eq!(
        value("transit_readiness_check", &[("check", "broker")]),
        Some(0.0)
    );
    assert_eq!(
        value("transit_readiness_check", &[("check", "registry")]),
        Some(1.0)
    );
    assert!(value("transit_uptime_seconds", &[]).is_some());

    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_dashboard_is_not_ready_with_an_empty_board_or_an_unreachable_dependency() {
    let (sender, snapshots) = watch::channel(Arc::new(StatusSnapshot::default()));
    let metrics = PipelineMetrics::new();
    let shutdown = CancellationToken::new();
    let board = Dashboard::new(snapshots, Arc::clone(&metrics), shutdown.clone());
    let readiness = board.readiness();
    readiness.fail("registry", "http://127.0.0.1:8081: connection refused");
    let listener = dashboard::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(dashboard::serve(listener, board, shutdown.clone()));

    // The board serves, and says it is alive, but it is not ready: no stations, nothing
    // restored, and the registry away.
    assert_eq!(get(address, "/healthz").await.status, 200);
    let not_ready = get(address, "/readyz").await;
    assert_eq!(not_ready.status, 503);
    let body = json(&not_ready);
    let reasons = body["reasons"].to_string();
    assert!(
        reasons.contains("registry: http://127.0.0.1:8081: connection refused"),
        "{body}"
    );
    assert!(
        reasons.contains("stations: the board has no stations yet"),
        "{body}"
    );
    assert!(
        reasons.contains("read model: its partitions are not assigned"),
        "{body}"
    );

    // Restored, with stations, the registry back: ready.
    metrics.record_restored(transit_core::status::CONSUMER);
    let mut snapshot = StatusSnapshot::default();
    snapshot.totals.stations = 94;
    sender.send(Arc::new(snapshot)).unwrap();
    readiness.pass("registry");
    let ready = get(address, "/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(json(&ready)["status"], "ready");

    // The dashboard's /metrics: the board's families, the pipeline's and readiness, valid.
    let page = get(address, "/metrics").await;
    let samples = prometheus::parse(&page.body).await;
    assert!(samples
        .iter()
        .any(|s| s.name == "transit_board_stations" && s.value == Some(94.0)));
    assert!(samples
        .iter()
        .any(|s| s.name == "transit_ready" && s.value == Some(1.0)));

    // The read model gone: neither live nor ready.
    drop(sender);
    assert_eq!(get(address, "/healthz").await.status, 503);
    let stopped = get(address, "/readyz").await;
    assert_eq!(stopped.status, 503);
    assert!(
        stopped.body.contains("the read model stopped"),
        "{}",
        stopped.body
    );

    shutdown.cancel();
    server.await.unwrap().unwrap();
}
