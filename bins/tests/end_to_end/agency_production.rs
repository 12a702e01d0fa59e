//! Another agency's feed through the production processes: `transit registry`, `transit
//! produce --gtfs` and `transit dashboard --gtfs` on Apache Kafka, over NYC's lines 1 and 2
//! (the feed `scripts/feeds.sh` downloads). The board's trains and its GTFS-realtime vehicle
//! positions fill with the feed's own routes and vehicles; a `--gtfs` that is no feed ends each
//! process at once with one line naming `--gtfs`.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use transit_core::testing::unique_name;
use transit_testkit::browser::built_binary;
use transit_testkit::feeds;
use transit_testkit::http::{free_address, request};
use transit_testkit::kafka::process_args;
use transit_testkit::processes::{Launcher, LogDir, Proc};

/// How long a process may take to become ready, to fill its board, or to exit.
const LIMIT: Duration = Duration::from_secs(60);

/// NYC's routes in the test feed.
const NYC_ROUTES: [&str; 2] = ["1", "2"];

fn launcher(name: &str) -> Launcher {
    let binary = built_binary("transit", "cargo build --bin transit");
    let mut launcher = Launcher::new(binary, LogDir::create(name));
    launcher.env("RUST_LOG", "info");
    launcher
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `GET path` as JSON, or `None` while nothing answers there or it is not 200.
async fn json(address: SocketAddr, path: &str) -> Option<Value> {
    let response = request(address, "GET", path, None).await.ok()?;
    if response.status != 200 {
        return None;
    }
    serde_json::from_str(&response.body).ok()
}

/// Polls `path` until `filled` says its JSON holds what it must; panics with the processes'
/// logs after [`LIMIT`].
async fn wait_filled(
    address: SocketAddr,
    path: &str,
    procs: &mut [&mut Proc],
    filled: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + LIMIT;
    let mut last = None;
    loop {
        if let Some(json) = json(address, path).await {
            if filled(&json) {
                return json;
            }
            last = Some(json);
        }
        for proc in procs.iter_mut() {
            proc.assert_running();
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = procs.iter().map(|p| p.last_lines(15)).collect();
            panic!(
                "{path} did not fill within {LIMIT:?}; last: {last:?}\n{}",
                logs.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_dashboard_with_gtfs_show_another_agencys_trains_over_kafka() {
    let feed = feeds::nyc();
    let feed = feed.display().to_string();
    let mut launcher = launcher("agency-production");
    let prefix = unique_name("agency").replace('-', "_");
    let (registry_at, proxy_at, board_at) = (free_address(), free_address(), free_address());
    let cluster = |extra: &[&str]| -> Vec<String> {
        let mut args = strings(extra);
        args.extend(process_args());
        args.extend(strings(&[
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

    let mut board = launcher.start(
        "dashboard",
        &cluster(&[
            "dashboard",
            "--gtfs",
            &feed,
            "--address",
            &board_at.to_string(),
        ]),
    );
    board.wait_for_line(&["board serving"], LIMIT).await;
    let mut produce = launcher.start(
        "produce",
        &cluster(&["produce", "--gtfs", &feed, "--speed", "600"]),
    );

    let trains = wait_filled(
        board_at,
        "/api/trains",
        &mut [&mut registry, &mut board, &mut produce],
        |json| json["trains"].as_array().is_some_and(|t| !t.is_empty()),
    )
    .await;
    for train in trains["trains"].as_array().into_iter().flatten() {
        let route = train["route_id"].as_str().unwrap_or("");
        assert!(NYC_ROUTES.contains(&route), "not NYC's 1 or 2: {train}");
        assert!(
            train["trip_id"].as_str().is_some_and(|t| !t.is_empty()),
            "{train}"
        );
    }
    let positions = wait_filled(
        board_at,
        "/gtfs-rt/vehicle-positions?format=json",
        &mut [&mut registry, &mut board, &mut produce],
        |json| json["entity"].as_array().is_some_and(|e| !e.is_empty()),
    )
    .await;
    assert_eq!(
        positions["header"]["gtfsRealtimeVersion"], "2.0",
        "{positions}"
    );
    for entity in positions["entity"].as_array().into_iter().flatten() {
        let vehicle = &entity["vehicle"];
        let route = vehicle["trip"]["routeId"].as_str().unwrap_or("");
        assert!(NYC_ROUTES.contains(&route), "not NYC's 1 or 2: {entity}");
        assert!(vehicle["trip"]["tripId"].is_string(), "{entity}");
    }
    // The input itself, as the static feed.
    let zip = request(board_at, "GET", "/gtfs/static.zip", None)
        .await
        .expect("GET /gtfs/static.zip");
    assert_eq!(zip.status, 200);
    assert_eq!(zip.header("content-type"), Some("application/zip"));
    // CTA's own outputs are not there: no weather, no Train Tracker for NYC.
    let tracker = request(
        board_at,
        "GET",
        "/api/1.0/ttpositions.aspx?key=any&rt=1",
        None,
    )
    .await
    .expect("GET Train Tracker");
    assert_eq!(tracker.status, 404, "{}", tracker.body);

    for proc in [&mut produce, &mut board, &mut registry] {
        proc.interrupt(LIMIT).await;
    }
    assert!(
        produce
            .lines_with(&["producer stopped; everything published is flushed"])
            .len()
            == 1,
        "{}",
        produce.last_lines(10)
    );
    launcher.logs().remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gtfs_path_that_is_no_feed_ends_each_process_with_one_line_naming_gtfs() {
    let mut launcher = launcher("agency-bad-feed");
    let missing = launcher.logs().path().join("no-such-feed.zip");
    let not_a_zip = launcher.logs().path().join("not-a-feed.zip");
    std::fs::write(&not_a_zip, "this is no zip archive\n").expect("writing the test's file");
    for path in [&missing, &not_a_zip] {
        let path = path.display().to_string();
        for command in [
            strings(&["produce", "--gtfs", &path, "--kafka", "127.0.0.1:9"]),
            strings(&["dashboard", "--gtfs", &path, "--kafka", "127.0.0.1:9"]),
            strings(&["gtfs", "--gtfs", &path]),
        ] {
            let mut proc = launcher.start(&command[0], &command);
            let status = proc.wait_exit(Duration::from_secs(10)).await;
            let log = proc.log();
            assert_eq!(status.code(), Some(1), "{command:?}: {status}:\n{log}");
            let errors: Vec<&str> = log.lines().filter(|l| l.starts_with("error:")).collect();
            assert_eq!(errors.len(), 1, "one error line:\n{log}");
            assert!(errors[0].contains("--gtfs"), "{}", errors[0]);
            assert!(errors[0].contains(&path), "{}", errors[0]);
            assert_eq!(
                log.lines().last(),
                Some(errors[0]),
                "the error is the last line:\n{log}"
            );
        }
    }
    launcher.logs().remove();
}
