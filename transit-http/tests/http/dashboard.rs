//! Every route of the dashboard over real HTTP, bad requests included, and the escaping of
//! text that comes from events.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use transit_core::event::HeadwayState;
use transit_core::event::WeatherStatus;
use transit_core::metrics::PipelineMetrics;
use transit_core::model::{Direction, StationId, TrainStatus};
use transit_core::network::cta;
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
            due_at: Some("2026-11-02 08:14:00".into()),
        }),
        next_b: Some(NextTrain {
            id: "BL002".into(),
            seconds: 250,
            minutes: 4,
            due_at: Some("2026-11-02 08:18:10".into()),
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
                line: cta::BLUE,
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
                line: cta::RED,
                stations: vec![station(1, "<script>alert(\"x\")</script> & co", 0, None, 0)],
                trains: Vec::new(),
                headways: HeadwayPanel::default(),
            },
            LineView {
                line: cta::GREEN,
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
        "transit_board_trains_in_service 3",
        "transit_line_headway_cv{line=\"blue\"} 0.82",
        "transit_line_expected_wait_seconds{line=\"blue\"} 276",
        "transit_line_trains_bunched{line=\"blue\"} 1",
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

/// One server-sent event.
#[derive(Debug, Clone, Default)]
struct SseEvent {
    name: String,
    id: Option<String>,
    data: String,
}

/// A client of `/events` that reads the body as a browser's `EventSource` would.
struct EventStream {
    response: reqwest::Response,
    text: String,
}

impl EventStream {
    async fn open(address: SocketAddr, path: &str, last_event_id: Option<&str>) -> Self {
        let client = reqwest::Client::new();
        let mut request = client.get(format!("http://{address}{path}"));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "{path}"
        );
        Self {
            response,
            text: String::new(),
        }
    }

    /// The next event (comments and keep-alives skipped), within 10 s.
    async fn next(&mut self) -> SseEvent {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(end) = self.text.find("\n\n") {
                    let block: String = self.text.drain(..end + 2).collect();
                    let mut event = SseEvent {
                        name: "message".into(),
                        ..SseEvent::default()
                    };
                    let mut fields = false;
                    for line in block.lines().filter(|line| !line.starts_with(':')) {
                        let (field, value) = line.split_once(':').unwrap_or((line, ""));
                        let value = value.strip_prefix(' ').unwrap_or(value);
                        fields = true;
                        match field {
                            "event" => event.name = value.into(),
                            "id" => event.id = Some(value.into()),
                            "data" => event.data.push_str(value),
                            _ => {}
                        }
                    }
                    if fields {
                        return event;
                    }
                    continue;
                }
                let chunk = self
                    .response
                    .chunk()
                    .await
                    .unwrap()
                    .expect("the stream stays open");
                self.text.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        })
        .await
        .expect("an event in time")
    }
}

/// What a client holds: the board rebuilt from `status` and `delta` events, and its version.
#[derive(Debug, Default)]
struct Board {
    json: Option<Value>,
    version: Option<String>,
}

impl Board {
    fn receive(&mut self, event: &SseEvent) {
        let data: Value = serde_json::from_str(&event.data).unwrap();
        match event.name.as_str() {
            "status" => self.json = Some(data),
            "delta" => {
                assert_eq!(
                    Some(data["from"].to_string()),
                    self.version,
                    "a delta against the board held"
                );
                assert_eq!(Some(data["to"].to_string()), event.id);
                let board = self.json.as_mut().expect("a board before any delta");
                dashboard::delta::apply(board, &data["patch"]).unwrap();
            }
            other => panic!("unexpected event {other}"),
        }
        self.version = event.id.clone();
    }
}

/// The board as `/events` sends it: `/api/status`, less each next train's `seconds` and
/// `minutes` (they count down with the clock; the page counts down to `due_at` itself).
async fn api_status(address: SocketAddr) -> Value {
    let response = request(address, "GET", "/api/status", None).await.unwrap();
    let mut board: Value = serde_json::from_str(&response.body).unwrap();
    for line in board["lines"].as_array_mut().unwrap() {
        for station in line["stations"].as_array_mut().unwrap() {
            for key in ["next_a", "next_b"] {
                if let Some(next) = station[key].as_object_mut() {
                    assert!(next.contains_key("due_at"), "{next:?}");
                    next.remove("seconds")
                        .expect("/api/status has the seconds to go");
                    next.remove("minutes").expect("… and the minutes");
                }
            }
        }
    }
    board
}

/// `snapshot(version)` with a train moved, a count grown and a station added, each by `step`.
fn changed(version: u64, step: u32) -> StatusSnapshot {
    let mut board = snapshot(version);
    let blue = &mut board.lines[0].stations;
    blue[0].train_a = None;
    blue[1].train_a = Some(TrainView {
        id: "BL001".into(),
        status: TrainStatus::InService,
        headway: HeadwayState::OnTime,
    });
    blue[1].entries += u64::from(step);
    for n in 0..step {
        board.lines[1]
            .stations
            .push(station(2 + n, "Howard", 1 + n, None, 0));
    }
    board.weather = None;
    board
}

#[tokio::test]
async fn events_send_the_board_then_deltas_that_rebuild_api_status() {
    let server = server().await;
    let mut events = EventStream::open(server.address, "/events", None).await;
    let mut board = Board::default();

    let first = events.next().await;
    assert_eq!(first.name, "status", "the whole board on connect");
    assert_eq!(first.id.as_deref(), Some("1"), "its version as the id");
    board.receive(&first);
    assert_eq!(board.json.as_ref(), Some(&api_status(server.address).await));
    let next = &board.json.as_ref().unwrap()["lines"][0]["stations"][0]["next_b"];
    assert_eq!(
        next,
        &serde_json::json!({"id": "BL002", "due_at": "2026-11-02 08:18:10"}),
        "the next train's due time, not its countdown"
    );

    for (version, step) in [(7, 1), (9, 2), (12, 0)] {
        server
            .snapshots
            .send_replace(Arc::new(changed(version, step)));
        let event = events.next().await;
        assert_eq!(event.name, "delta", "then what changed");
        assert!(
            event.data.len() < serde_json::to_string(&snapshot(1)).unwrap().len(),
            "a delta is smaller than the board: {}",
            event.data
        );
        board.receive(&event);
        assert_eq!(board.version, Some(version.to_string()));
        assert_eq!(
            board.json.as_ref(),
            Some(&api_status(server.address).await),
            "the rebuilt board is /api/status at version {version}"
        );
    }
}

#[tokio::test]
async fn full_1_sends_the_whole_board_on_each_change() {
    let server = server().await;
    let mut events = EventStream::open(server.address, "/events?full=1", None).await;
    let first = events.next().await;
    server.snapshots.send_replace(Arc::new(changed(7, 1)));
    let second = events.next().await;
    for (event, version) in [(&first, 1), (&second, 7)] {
        assert_eq!(event.name, "status");
        let board: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(board["version"], version);
        assert_eq!(event.id, Some(version.to_string()));
    }
    let latest: Value = serde_json::from_str(&second.data).unwrap();
    assert_eq!(latest, api_status(server.address).await);
}

/// Waits until the feed has published `version` (it publishes on its own clock).
async fn until_published(address: SocketAddr, version: u64) {
    let mut probe = EventStream::open(address, "/events?full=1", None).await;
    while probe.next().await.id != Some(version.to_string()) {}
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_resumes_with_a_delta_when_it_can() {
    let server = server().await;
    let mut events = EventStream::open(server.address, "/events", None).await;
    let mut board = Board::default();
    board.receive(&events.next().await);
    drop(events);

    // Two updates go by while it is away.
    server.snapshots.send_replace(Arc::new(changed(7, 1)));
    until_published(server.address, 7).await;
    server.snapshots.send_replace(Arc::new(changed(9, 2)));
    until_published(server.address, 9).await;

    let mut resumed = EventStream::open(server.address, "/events", Some("1")).await;
    let event = resumed.next().await;
    assert_eq!(event.name, "delta", "it held version 1: what changed since");
    board.receive(&event);
    assert_eq!(board.json, Some(api_status(server.address).await));

    for unknown in ["3", "not a version"] {
        let mut other = EventStream::open(server.address, "/events", Some(unknown)).await;
        let event = other.next().await;
        assert_eq!(
            event.name, "status",
            "Last-Event-ID {unknown:?}: the whole board"
        );
        assert_eq!(event.id.as_deref(), Some("9"));
    }
}

/// A board of `stations` stations with long names, each name new in each version: ~`stations`
/// × 1.4 kB of JSON, and as much in a delta.
fn big(version: u64, stations: u32) -> StatusSnapshot {
    let mut board = snapshot(version);
    let name = format!("Station {version}, a long name that fills the socket. ").repeat(25);
    board.lines[1].stations = (0..stations)
        .map(|n| station(10 + n, &name, n, None, version))
        .collect();
    board
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_that_stops_reading_gets_the_latest_board_not_a_backlog_and_slows_no_one() {
    let server = server().await;
    let versions: Vec<u64> = (2..=17).collect();
    server.snapshots.send_replace(Arc::new(big(1, 800)));
    let board_bytes = serde_json::to_vec(&big(1, 800)).unwrap().len();

    // The slow viewer sends its request and then reads nothing.
    let mut slow = TcpStream::connect(server.address).await.unwrap();
    slow.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut fast = EventStream::open(server.address, "/events", None).await;
    let mut board = Board::default();
    board.receive(&fast.next().await);

    // Every snapshot renames every station: each delta is over a megabyte, more than the
    // sockets hold after a few of them.
    for &version in &versions {
        server.snapshots.send_replace(Arc::new(big(version, 800)));
        let event = fast.next().await;
        assert_eq!(event.name, "delta", "the fast viewer gets every update");
        board.receive(&event);
        assert_eq!(board.version, Some(version.to_string()));
    }
    assert_eq!(board.json, Some(api_status(server.address).await));

    // Now the slow viewer reads what was queued for it, and then is up to date.
    let mut received = Vec::new();
    let mut text = Vec::new();
    let mut buffer = vec![0; 1 << 16];
    let last = format!("id: {}\n", versions[versions.len() - 1]);
    while !String::from_utf8_lossy(&text).contains(&last) {
        let n = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut buffer))
            .await
            .expect("the slow viewer catches up")
            .unwrap();
        assert!(n > 0, "the stream stays open");
        received.extend_from_slice(&buffer[..n]);
        text.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&received);
    let updates = text.matches("\nid: ").count();
    let sent: usize = versions.len() + 1;
    assert!(
        updates < sent,
        "it skipped the updates it could not take ({updates} of {sent})"
    );
    // (After the gap it was sent the latest board: whole, or as a delta from the version it
    // held when that is one of the last few; the loop above read until the latest.)
    // Queued for it at most what the sockets hold, not every update.
    assert!(
        received.len() < sent * board_bytes,
        "{} bytes queued for a viewer that read nothing, {} sent to the others",
        received.len(),
        sent * board_bytes
    );
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
