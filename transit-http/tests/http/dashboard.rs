//! Every route of the dashboard over real HTTP, bad requests included, and the escaping of
//! text that comes from events.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use transit_core::event::HeadwayState;
use transit_core::event::WeatherStatus;
use transit_core::metrics::PipelineMetrics;
use transit_core::model::{Direction, LineColor, StationId, TrainStatus};
use transit_core::status::{
    HeadwayPanel, LineView, NextTrain, StationView, StatusSnapshot, Totals, TrainPosition,
    TrainView, WeatherView,
};
use transit_http::dashboard::{self, Dashboard};

use transit_testkit::http::request;

fn station(id: u32, name: &str, order: u32, train_a: Option<&str>, entries: u64) -> StationView {
    StationView {
        station_id: StationId(id),
        name: name.to_string(),
        order,
        train_a: train_a.map(|id| TrainView {
            id: id.to_string(),
            status: TrainStatus::InService,
            headway: HeadwayState::OnTime,
        }),
        train_b: None,
        entries,
        next_a: train_a.map(|id| NextTrain {
            id: id.to_string(),
            seconds: 0,
            minutes: 0,
        }),
        next_b: Some(NextTrain {
            id: "BL002".into(),
            seconds: 250,
            minutes: 4,
        }),
        headway_a: None,
        headway_b: None,
    }
}

fn between(id: &str, from: u32, to: u32, progress: f64, headway: HeadwayState) -> TrainPosition {
    TrainPosition {
        id: id.to_string(),
        run: id[2..].parse().ok(),
        direction: Direction::B,
        from: StationId(from),
        to: Some(StationId(to)),
        progress,
        status: TrainStatus::InService,
        headway,
        headway_s: Some(100),
        delay_s: Some(30),
        scheduled_time: None,
    }
}

fn snapshot(version: u64) -> StatusSnapshot {
    StatusSnapshot {
        version,
        simulated_time: Some("2026-11-02 08:14:00".into()),
        weather: Some(WeatherView {
            temperature: 38.5,
            status: WeatherStatus::PartlyCloudy,
        }),
        lines: vec![
            LineView {
                line: LineColor::Blue,
                stations: vec![
                    station(40890, "O'Hare", 0, Some("BL001"), 1_234),
                    station(40820, "Rosemont", 1, None, 5),
                ],
                trains: vec![between("BL002", 40820, 40890, 0.4, HeadwayState::Bunched)],
                headways: HeadwayPanel {
                    platforms: 2,
                    mean_headway_s: Some(330.0),
                    scheduled_headway_s: Some(300.0),
                    cv: Some(0.82),
                    expected_wait_s: Some(276.0),
                    bunched: 1,
                    gapped: 0,
                    on_time: 1,
                },
            },
            LineView {
                line: LineColor::Red,
                stations: vec![station(1, "<script>alert(\"x\")</script> & co", 0, None, 0)],
                trains: Vec::new(),
                headways: HeadwayPanel::default(),
            },
            LineView {
                line: LineColor::Green,
                stations: vec![station(40020, "Harlem/Lake", 0, Some("GL003"), 7)],
                trains: Vec::new(),
                headways: HeadwayPanel::default(),
            },
        ],
        totals: Totals {
            stations: 4,
            trains: 2,
            entries: 1_246,
            in_service: 3,
            bunched: 1,
            gapped: 0,
        },
    }
}

struct Server {
    address: SocketAddr,
    snapshots: watch::Sender<Arc<StatusSnapshot>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), transit_http::server::ServeError>>,
}

async fn server() -> Server {
    let (snapshots, receiver) = watch::channel(Arc::new(snapshot(1)));
    let metrics = PipelineMetrics::new();
    metrics.record_published("org.chicago.cta.stations.table.v1", 94);
    let stop = CancellationToken::new();
    let listener = dashboard::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let board = Dashboard::new(receiver, metrics, stop.clone());
    let task = tokio::spawn(dashboard::serve(listener, board, stop.clone()));
    Server {
        address,
        snapshots,
        stop,
        task,
    }
}

#[tokio::test]
async fn the_page_shows_every_line_station_train_and_the_weather() {
    let server = server().await;
    let page = request(server.address, "GET", "/", None).await.unwrap();
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    for needle in [
        "Blue Line",
        "Red Line",
        "Green Line",
        "O'Hare",
        "Rosemont",
        "Harlem/Lake",
        "BL001",
        "GL003",
        "38.5 °F",
        "partly cloudy",
        "2026-11-02 08:14:00",
        "1,234",
        "<svg",
        "new EventSource(\"/events\")",
        // BL002 is 40 % of the way from Rosemont (x 68) back to O'Hare (x 30), below the track,
        // outlined as bunched.
        "translate(52.8px, 88px)",
        "train in_service hw-bunched",
        // The next train at each platform, as Train Tracker counts minutes.
        "4 min · BL002",
        "Towards Rosemont",
        // The Blue Line's headway panel: mean 5:30, expected wait 4:36, cv 0.82.
        "Expected wait",
        "5:30",
        "4:36",
        "0.82",
    ] {
        assert!(
            page.body.contains(needle),
            "{needle:?} missing from the page"
        );
    }
    // Offline: nothing is loaded from anywhere (the SVG namespace URI is a name, not a fetch).
    for fetch in [
        "src=",
        "<link",
        "@import",
        "url(",
        "href=\"http",
        "fetch(\"http",
    ] {
        assert!(
            !page.body.contains(fetch),
            "{fetch:?}: the page loads something external"
        );
    }
}

#[tokio::test]
async fn text_from_events_is_escaped() {
    let server = server().await;
    let page = request(server.address, "GET", "/", None).await.unwrap();
    assert!(
        !page.body.contains("<script>alert"),
        "raw markup from an event"
    );
    assert!(page
        .body
        .contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"));
}

#[tokio::test]
async fn the_api_returns_the_snapshot_as_json() {
    let server = server().await;
    let response = request(server.address, "GET", "/api/status", None)
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let parsed: StatusSnapshot = serde_json::from_str(&response.body).unwrap();
    assert_eq!(parsed, snapshot(1));

    server.snapshots.send_replace(Arc::new(snapshot(2)));
    let response = request(server.address, "GET", "/api/status", None)
        .await
        .unwrap();
    let parsed: StatusSnapshot = serde_json::from_str(&response.body).unwrap();
    assert_eq!(
        parsed.version, 2,
        "a new snapshot is served, not the cached one"
    );
}

#[tokio::test]
async fn health_is_ok_while_the_read_model_runs() {
    let server = server().await;
    let response = request(server.address, "GET", "/healthz", None)
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["stations"], 4);

    drop(server.snapshots);
    let response = request(server.address, "GET", "/healthz", None)
        .await
        .unwrap();
    assert_eq!(response.status, 503);
    assert!(response.body.contains("read model stopped"));
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let server = server().await;
    let response = request(server.address, "GET", "/metrics", None)
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    for needle in [
        "# TYPE transit_records_consumed_total counter",
        "# TYPE transit_records_dead_lettered_total counter",
        "# TYPE transit_consumer_lag_records gauge",
        "transit_records_published_total{topic=\"org.chicago.cta.stations.table.v1\"} 94",
        "transit_board_trains 2",
    ] {
        assert!(
            response.body.contains(needle),
            "{needle:?} missing:\n{}",
            response.body
        );
    }
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let server = server().await;
    let missing = request(server.address, "GET", "/nope", None).await.unwrap();
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("not found"));
    for (method, path) in [
        ("POST", "/"),
        ("DELETE", "/api/status"),
        ("PUT", "/metrics"),
        ("POST", "/healthz"),
        ("POST", "/events"),
    ] {
        let response = request(server.address, method, path, Some("{}"))
            .await
            .unwrap();
        assert_eq!(response.status, 405, "{method} {path}");
        assert!(
            response
                .header("allow")
                .is_some_and(|allow| allow.contains("GET")),
            "{method} {path}"
        );
    }
    let bad = request(server.address, "GET", "/api/status/../../etc", None)
        .await
        .unwrap();
    assert_eq!(bad.status, 404);
}

/// Reads server-sent events from `/events` until `count` `status` events arrived.
async fn status_events(
    address: SocketAddr,
    count: usize,
    on_first: impl FnOnce(),
) -> Vec<StatusSnapshot> {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            format!("GET /events HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut lines = BufReader::new(stream).lines();
    let mut events = Vec::new();
    let mut event_name = String::new();
    let mut on_first = Some(on_first);
    while events.len() < count {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("the stream stays open");
        if let Some(name) = line
            .strip_prefix("event: ")
            .or_else(|| line.strip_prefix("event:"))
        {
            event_name = name.trim().to_string();
        } else if let Some(data) = line
            .strip_prefix("data: ")
            .or_else(|| line.strip_prefix("data:"))
        {
            if event_name == "status" {
                events.push(serde_json::from_str(data.trim()).unwrap());
                if let Some(callback) = on_first.take() {
                    callback();
                }
            }
        }
    }
    events
}

#[tokio::test]
async fn events_push_each_new_snapshot() {
    let server = server().await;
    let sender = server.snapshots.clone();
    let events = status_events(server.address, 2, move || {
        sender.send_replace(Arc::new(snapshot(7)));
    })
    .await;
    assert_eq!(events[0].version, 1, "the current board first");
    assert_eq!(events[1].version, 7, "then each change");
}

#[tokio::test]
async fn shutdown_ends_open_event_streams() {
    let server = server().await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .expect("the server stops although a browser is connected")
        .unwrap()
        .unwrap();
}
