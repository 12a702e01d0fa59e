//! The live feeds on the dashboard's server, as their clients see them: CTA's Train Tracker
//! API against golden documents and through an open-source Train Tracker client, every bad
//! request answered in the format's own way (never a 500), and GTFS-realtime decoded by
//! MobilityData's official Python bindings with every id checked against the static feed.
//!
//! The Python tests need `TRANSIT_TEST_PYTHON` (a venv with the packages pinned in
//! `scripts/python/requirements.txt`; `scripts/test.sh` makes it): without it they fail and
//! say so.
//!
//! The golden documents are in `tests/golden/train_tracker/`; after a deliberate change of the
//! answers, `TRANSIT_UPDATE_GOLDEN=1` rewrites them (review the diff).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use transit_core::event::HeadwayState;
use transit_core::metrics::PipelineMetrics;
use transit_core::model::{Direction, LineId, StationId, TrainStatus};
use transit_core::network::cta;
use transit_core::network::Network;
use transit_core::status::{
    LineView, NextTrain, PredictionTable, StationView, StatusSnapshot, TrainPosition,
};
use transit_http::dashboard::{self, Dashboard};
use transit_sim::SimConfig;

struct Server {
    base: String,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), transit_http::server::ServeError>>,
    _snapshots: watch::Sender<Arc<StatusSnapshot>>,
    _predictions: Option<watch::Sender<Arc<PredictionTable>>>,
}

impl Server {
    async fn start(snapshot: StatusSnapshot) -> Self {
        Self::start_with(snapshot, None).await
    }

    /// The dashboard over `snapshot`, its feeds and next trains from `predictions` if given.
    async fn start_with(snapshot: StatusSnapshot, predictions: Option<PredictionTable>) -> Self {
        let (sender, receiver) = watch::channel(Arc::new(snapshot));
        let stop = CancellationToken::new();
        let listener = dashboard::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (board, predictions) = match predictions {
            Some(table) => {
                let (predictions, table) = watch::channel(Arc::new(table));
                let board =
                    Dashboard::predicted(receiver, table, PipelineMetrics::new(), stop.clone());
                (board, Some(predictions))
            }
            None => (
                Dashboard::new(receiver, PipelineMetrics::new(), stop.clone()),
                None,
            ),
        };
        let task = tokio::spawn(dashboard::serve(listener, board, stop.clone()));
        Self {
            base,
            stop,
            task,
            _snapshots: sender,
            _predictions: predictions,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(format!("{}{path}", self.base)).await.unwrap()
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// A station of `line` as the board shows it, nobody at it.
fn station(index: usize, station: &transit_core::model::Station) -> StationView {
    StationView {
        station_id: station.id,
        name: station.name.clone(),
        order: index as u32,
        train_a: None,
        train_b: None,
        entries: 0,
        next_a: None,
        next_b: None,
        headway_a: None,
        headway_b: None,
    }
}

fn train(
    id: &str,
    direction: Direction,
    from: u32,
    to: Option<u32>,
    progress: f64,
) -> TrainPosition {
    TrainPosition {
        id: id.into(),
        run: id[2..].parse().ok(),
        direction,
        from: StationId(from),
        to: to.map(StationId),
        progress,
        status: TrainStatus::InService,
        headway: HeadwayState::OnTime,
        headway_s: Some(420),
        delay_s: Some(40),
        scheduled_time: None,
    }
}

/// A fixed board at Monday 2026-11-02 08:14:00: on the Blue Line, BL005 stands at Clark/Lake
/// bound for Forest Park and BL012 runs from Washington to Clark/Lake bound for O'Hare, half
/// way, due in 45 s; BL020 is 6 min late; on the Green Line, GR003 runs from Clinton to
/// Morgan towards Harlem/Lake.
fn fixed_snapshot() -> StatusSnapshot {
    let network = Network::embedded().unwrap();
    let view = |line: LineId, trains: Vec<TrainPosition>| LineView {
        line,
        stations: network
            .line(line)
            .unwrap()
            .stations()
            .iter()
            .enumerate()
            .map(|(i, s)| station(i, s))
            .collect(),
        trains,
        headways: Default::default(),
    };
    let mut blue = view(
        cta::BLUE,
        vec![
            train("BL005", Direction::A, 40380, None, 0.0),
            train("BL012", Direction::B, 40370, Some(40380), 0.5),
            TrainPosition {
                delay_s: Some(360),
                ..train("BL020", Direction::A, 40490, Some(40380), 0.25)
            },
        ],
    );
    let next = |id: &str, seconds: u32| NextTrain {
        id: id.into(),
        seconds,
        minutes: seconds / 60,
        due_at: None,
    };
    for s in &mut blue.stations {
        if s.station_id == StationId(40380) {
            s.next_a = Some(next("BL005", 0));
            s.next_b = Some(next("BL012", 45));
        }
    }
    let green = view(
        cta::GREEN,
        vec![train("GR003", Direction::B, 41160, Some(41510), 0.4)],
    );
    StatusSnapshot {
        version: 7,
        simulated_time: Some("2026-11-02 08:14:00".into()),
        lines: vec![blue, green],
        ..StatusSnapshot::default()
    }
}

/// The board of the default simulation (the schedule, seed 2026) at 08:14 on Monday: every
/// arrival since 05:00 applied to the read model, as the dashboard's model does.
fn simulated_snapshot() -> StatusSnapshot {
    let config = SimConfig {
        tick: Duration::from_secs(30),
        ..SimConfig::default()
    };
    transit_sim::testing::board_at(config, "2026-11-02 08:14:00".parse().unwrap())
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/train_tracker")
}

/// The golden documents: (file, request).
const GOLDEN: &[(&str, &str)] = &[
    ("arrivals_mapid.xml", "ttarrivals.aspx?key=any&mapid=40380"),
    (
        "arrivals_stpid_max.json",
        "ttarrivals.aspx?key=any&stpid=30375&max=1&outputType=JSON",
    ),
    (
        "arrivals_route.json",
        "ttarrivals.aspx?key=any&mapid=40380&rt=blue&outputType=JSON",
    ),
    ("positions.xml", "ttpositions.aspx?key=any&rt=Blue,G"),
    (
        "positions.json",
        "ttpositions.aspx?key=any&rt=blue&rt=g&outputType=JSON",
    ),
    (
        "follow.json",
        "ttfollow.aspx?key=any&runnumber=112&outputType=JSON",
    ),
    ("follow.xml", "ttfollow.aspx?key=any&runnumber=105"),
    ("error_100_arrivals.xml", "ttarrivals.aspx?key=any"),
    (
        "error_100_arrivals.json",
        "ttarrivals.aspx?key=any&outputType=JSON",
    ),
    (
        "error_103.json",
        "ttarrivals.aspx?mapid=49999&outputType=JSON",
    ),
    ("error_104.xml", "ttarrivals.aspx?mapid=clark"),
    (
        "error_105.json",
        "ttarrivals.aspx?mapid=40380,40370,40490,40790,40070&outputType=JSON",
    ),
    (
        "error_106.json",
        "ttarrivals.aspx?mapid=40380&rt=Brn&outputType=JSON",
    ),
    (
        "error_107.json",
        "ttarrivals.aspx?mapid=40380&rt=blue,g&outputType=JSON",
    ),
    (
        "error_108.json",
        "ttarrivals.aspx?stpid=39999&outputType=JSON",
    ),
    (
        "error_109.json",
        "ttarrivals.aspx?stpid=1,2,3,4,5&outputType=JSON",
    ),
    (
        "error_110.json",
        "ttarrivals.aspx?mapid=40380&max=ten&outputType=JSON",
    ),
    (
        "error_111.json",
        "ttarrivals.aspx?mapid=40380&max=0&outputType=JSON",
    ),
    (
        "error_112.json",
        "ttarrivals.aspx?stpid=30x&outputType=JSON",
    ),
    (
        "error_500.json",
        "ttarrivals.aspx?mapid=40380&colour=blue&outputType=JSON",
    ),
    (
        "error_500_output.xml",
        "ttpositions.aspx?rt=red&outputType=yaml",
    ),
    ("error_100_positions.xml", "ttpositions.aspx?key=any"),
    (
        "error_106_positions.json",
        "ttpositions.aspx?rt=purple&outputType=JSON",
    ),
    ("error_100_follow.json", "ttfollow.aspx?outputType=JSON"),
    (
        "error_501.json",
        "ttfollow.aspx?runnumber=999&outputType=JSON",
    ),
    ("error_501_text.xml", "ttfollow.aspx?runnumber=abc"),
];

#[tokio::test]
async fn train_tracker_answers_are_the_golden_documents() {
    let server = Server::start(fixed_snapshot()).await;
    let update = std::env::var_os("TRANSIT_UPDATE_GOLDEN").is_some();
    let mut mismatched = Vec::new();
    for (file, request) in GOLDEN {
        let response = server.get(&format!("/api/1.0/{request}")).await;
        assert_eq!(response.status(), 200, "{request}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        let body = response.text().await.unwrap();
        if file.ends_with(".json") {
            assert_eq!(content_type, "application/json; charset=utf-8", "{request}");
            let value: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_every_value_is_a_string_or_null(&value, request);
        } else {
            assert_eq!(content_type, "text/xml; charset=utf-8", "{request}");
        }
        // Byte for byte as served, fields in CTA's order.
        let shown = if body.ends_with('\n') {
            body
        } else {
            body + "\n"
        };
        let path = golden_dir().join(file);
        if update {
            std::fs::create_dir_all(golden_dir()).unwrap();
            std::fs::write(&path, &shown).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (TRANSIT_UPDATE_GOLDEN=1 writes it)",
                path.display()
            )
        });
        if expected != shown {
            mismatched.push(format!("{file} ({request}):\n{shown}"));
        }
    }
    server.stop().await;
    assert!(
        mismatched.is_empty(),
        "not the golden documents:\n{}",
        mismatched.join("\n")
    );
}

/// Every leaf of a Train Tracker JSON answer is a string, or null (`errNm`, `flags`).
fn assert_every_value_is_a_string_or_null(value: &serde_json::Value, request: &str) {
    match value {
        serde_json::Value::String(_) | serde_json::Value::Null => {}
        serde_json::Value::Array(items) => items
            .iter()
            .for_each(|v| assert_every_value_is_a_string_or_null(v, request)),
        serde_json::Value::Object(fields) => fields
            .values()
            .for_each(|v| assert_every_value_is_a_string_or_null(v, request)),
        other => panic!("{request}: {other} is not a string"),
    }
}

#[tokio::test]
async fn the_fixed_board_reads_as_train_tracker_says() {
    let server = Server::start(fixed_snapshot()).await;
    let json = |body: String| serde_json::from_str::<serde_json::Value>(&body).unwrap();
    let arrivals = json(
        server
            .get("/api/1.0/ttarrivals.aspx?mapid=40380&outputType=json")
            .await
            .text()
            .await
            .unwrap(),
    );
    let eta = arrivals["ctatt"]["eta"].as_array().unwrap();
    // BL005 stands there (due now), BL012 is due in 45 s as the board says, BL020 after it.
    let first = &eta[0];
    assert_eq!(first["rn"], "105");
    assert_eq!(first["trDr"], "5");
    assert_eq!(first["destNm"], "Forest Park");
    assert_eq!(first["arrT"], "2026-11-02T08:14:00");
    assert_eq!(
        (first["isApp"].as_str(), first["isDly"].as_str()),
        (Some("1"), Some("0"))
    );
    let second = &eta[1];
    assert_eq!(second["rn"], "112");
    assert_eq!(second["trDr"], "1");
    assert_eq!(second["destNm"], "O'Hare");
    assert_eq!(second["arrT"], "2026-11-02T08:14:45");
    assert_eq!(second["isApp"], "1");
    let late = eta.iter().find(|e| e["rn"] == "120").unwrap();
    assert_eq!(late["isDly"], "1");
    server.stop().await;
}

#[tokio::test]
async fn every_bad_request_is_answered_in_the_formats_own_way_never_a_500() {
    let server = Server::start(fixed_snapshot()).await;
    for request in [
        "ttarrivals.aspx?mapid=%ZZ&outputType=JSON",
        "ttarrivals.aspx?mapid=99999999999999999999999",
        "ttarrivals.aspx?mapid=&stpid=",
        "ttarrivals.aspx?mapid=40380&max=-1",
        "ttarrivals.aspx?mapid=40380&max=99999999999999999999999",
        "ttarrivals.aspx?mapid=40380&rt=%00",
        "ttarrivals.aspx?&&&=&=x",
        "ttpositions.aspx?rt=,,,",
        "ttpositions.aspx?rt=red,red,red,red,red,red,red,red,red",
        "ttfollow.aspx?runnumber=-5",
        "ttfollow.aspx?runnumber=%F0%9F%9A%86",
        "ttfollow.aspx?runnumber=112&runnumber=",
    ] {
        let response = server.get(&format!("/api/1.0/{request}")).await;
        assert_eq!(response.status(), 200, "{request}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("<errCd>") || body.contains("\"errCd\""),
            "{request}: {body}"
        );
    }
    // A max past any integer is not a number CTA reads.
    let body = server
        .get("/api/1.0/ttarrivals.aspx?mapid=40380&max=99999999999999999999999")
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("<errCd>110</errCd>"), "{body}");

    for path in [
        "/gtfs-rt/vehicle-positions?format=xml",
        "/gtfs-rt/trip-updates?format=%ZZ",
    ] {
        let response = server.get(path).await;
        assert_eq!(response.status(), 400, "{path}");
        assert!(response.text().await.unwrap().contains("json"), "{path}");
    }
    for path in [
        "/gtfs-rt/vehicle-positions?x=%ZZ&&",
        "/gtfs-rt/trip-updates?format=JSON",
        "/gtfs-rt/trip-updates?format=pb",
    ] {
        assert_eq!(server.get(path).await.status(), 200, "{path}");
    }
    server.stop().await;
}

/// The Python of the test venv.
fn python() -> PathBuf {
    const VAR: &str = "TRANSIT_TEST_PYTHON";
    let python = std::env::var_os(VAR).unwrap_or_else(|| {
        panic!(
            "{VAR} is not set: this test runs Python clients from PyPI. Run scripts/test.sh, or \
             `source scripts/python.sh; need_python_venv` first"
        )
    });
    let python = PathBuf::from(python);
    assert!(python.is_file(), "{VAR}={} is not a file", python.display());
    python
}

/// Runs `script` (in `tests/python/`) with the base URL; its stdout, once it succeeded.
async fn run_python(script: &str, base: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(python())
            .arg(&script)
            .arg(base)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Python client took over two minutes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{} failed:\n{stdout}\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gtfs_realtime_decodes_with_the_official_bindings_and_names_the_static_feeds_ids() {
    let server = Server::start(simulated_snapshot()).await;
    let report = run_python("gtfs_rt_check.py", &server.base).await;
    let report: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
    // A weekday morning: dozens of trains on the three lines, each with its trip's stops.
    assert!(report["vehicles"].as_u64().unwrap() > 30, "{report}");
    assert_eq!(report["vehicles"], report["vehicles_with_trip"], "{report}");
    assert!(report["trip_updates"].as_u64().unwrap() > 30, "{report}");
    assert!(
        report["stop_time_updates"].as_u64().unwrap() > 300,
        "{report}"
    );
    assert_eq!(report["routes"], serde_json::json!(["Blue", "G", "Red"]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_source_train_tracker_client_reads_arrivals_positions_and_a_followed_train() {
    let server = Server::start(simulated_snapshot()).await;
    let report = run_python("train_tracker_client.py", &server.base).await;
    let report: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
    assert!(report["arrivals"].as_u64().unwrap() > 0, "{report}");
    assert!(report["positions"].as_u64().unwrap() > 30, "{report}");
    assert!(report["followed_stops"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["bad_station"], "103", "{report}");
    server.stop().await;
}

/// Learnt predictions for the simulated board's trains running between stations: each one's
/// second and third stops ahead, `late_s` later than the board estimates, made half a minute
/// before the board's time, with an uncertainty of 45 s.
fn learnt_predictions(snapshot: &StatusSnapshot, late_s: i64) -> PredictionTable {
    use transit_core::event::{PredictionEvent, PredictionKey};
    use transit_core::time::SimTime;
    use transit_gtfs::live::{posix_seconds, LiveNetwork};

    let network = LiveNetwork::new(transit_gtfs::Sources::embedded().unwrap());
    let board = network.board(snapshot);
    let now = board.now.unwrap();
    let ms = |t: SimTime| posix_seconds(t).unwrap() as i64 * 1000;
    let mut table = PredictionTable::new();
    for train in board.trains.iter().filter(|t| t.to.is_some()) {
        let trip = train.trip.as_ref().unwrap();
        for call in train.calls.iter().skip(1).take(2) {
            let arrival = SimTime(call.arrival.0 + late_s * 1000);
            let prediction = PredictionEvent {
                vehicle_id: train.id.clone(),
                stop_id: call.stop_id.to_string(),
                method: transit_core::status::LEARNT.into(),
                route_id: transit_gtfs::route_id(train.line).into(),
                trip_id: trip.trip_id.clone(),
                start_date: trip.start_date.format("%Y%m%d").to_string(),
                start_time: None,
                direction_id: Some(train.direction as i32),
                stop_sequence: call.stop_sequence - 1,
                predicted_arrival_time: ms(arrival),
                predicted_departure_time: ms(arrival) + 30_000,
                scheduled_arrival_time: ms(call.scheduled.unwrap()),
                uncertainty_s: Some(45),
                issued_at: ms(SimTime(now.0 - 30_000)),
                source_partition: 0,
                source_offset: 0,
            };
            let key = PredictionKey {
                vehicle_id: prediction.vehicle_id.clone(),
                stop_id: prediction.stop_id.clone(),
                method: prediction.method.clone(),
            };
            table.apply(&key, Some(&prediction));
        }
    }
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learnt_predictions_are_served_by_the_feeds_and_the_boards_next_trains() {
    let snapshot = simulated_snapshot();
    let table = learnt_predictions(&snapshot, 420);
    assert!(table.len() > 30, "{} predictions", table.len());
    let server = Server::start_with(snapshot.clone(), Some(table)).await;

    // GTFS-realtime through the official bindings: every stop an arrival and a departure,
    // in order; the predicted ones with their uncertainty.
    let report = run_python("gtfs_rt_check.py", &server.base).await;
    let report: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
    assert!(report["trip_updates"].as_u64().unwrap() > 30, "{report}");
    // Two stops of each train between stations, an arrival and a departure each.
    assert!(
        report["times_with_uncertainty"].as_u64().unwrap() > 4 * 15,
        "{report}"
    );

    // The board's next trains: the board takes the predictions once the network is built.
    let mut changed = 0;
    for _ in 0..100 {
        let status: StatusSnapshot = server.get("/api/status").await.json().await.unwrap();
        changed = status
            .lines
            .iter()
            .zip(&snapshot.lines)
            .flat_map(|(a, b)| a.stations.iter().zip(&b.stations))
            .filter(|(a, b)| a.next_a != b.next_a || a.next_b != b.next_b)
            .count();
        if changed > 0 {
            assert!(status.version > snapshot.version);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(changed > 0, "no next train is the predictor's");

    // Train Tracker: the predicted arrivals were made half a minute before the board's time.
    let response = server
        .get("/api/1.0/ttpositions.aspx?rt=Blue,Red,G&outputType=JSON")
        .await;
    let body: serde_json::Value = response.json().await.unwrap();
    let trains: Vec<&serde_json::Value> = body["ctatt"]["route"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["train"].as_array().into_iter().flatten())
        .collect();
    let now: transit_core::time::SimTime =
        snapshot.simulated_time.as_deref().unwrap().parse().unwrap();
    let made = transit_core::time::SimTime(now.0 - 30_000)
        .to_naive()
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let mut predicted = 0;
    for train in &trains {
        let rn = train["rn"].as_str().unwrap();
        let followed: serde_json::Value = server
            .get(&format!(
                "/api/1.0/ttfollow.aspx?runnumber={rn}&outputType=JSON"
            ))
            .await
            .json()
            .await
            .unwrap();
        let etas = followed["ctatt"]["eta"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        predicted += etas
            .iter()
            .filter(|e| e["prdt"].as_str() == Some(made.as_str()))
            .count();
    }
    assert!(predicted > 30, "{predicted} predicted arrivals followed");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feeds_prediction_table_follows_the_topic_values_and_withdrawals() {
    use transit_core::bus::{EventBus, EventBusExt, Record, TopicSpec};
    use transit_core::codec::{SchemaRegistry, TopicCodec};
    use transit_core::event::PredictionEvent;
    use transit_mem::{MemBus, MemRegistry};

    let snapshot = simulated_snapshot();
    let table = learnt_predictions(&snapshot, 60);
    let mut predictions: Vec<PredictionEvent> = table.iter().cloned().collect();
    predictions.truncate(10);
    let bus = Arc::new(MemBus::new());
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topic = "org.chicago.cta.predictions.issued.v1";
    bus.create_topic(&TopicSpec::new(topic, 2)).await.unwrap();
    let codec = TopicCodec::<PredictionEvent>::register(Arc::clone(&registry), topic)
        .await
        .unwrap();
    for prediction in &predictions {
        bus.publish(topic, codec.record(prediction, 0).unwrap())
            .await
            .unwrap();
    }
    // The first one withdrawn: its key, no value.
    let withdrawn = codec.record(&predictions[0], 1).unwrap();
    bus.publish(
        topic,
        Record {
            value: None,
            ..withdrawn
        },
    )
    .await
    .unwrap();

    let (sender, mut followed) = watch::channel(Arc::new(PredictionTable::new()));
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let bus: Arc<dyn EventBus> = bus.clone();
        let stop = stop.clone();
        async move {
            transit_http::realtime::follow_predictions(bus, registry, topic, sender, stop).await
        }
    });
    let table = tokio::time::timeout(
        Duration::from_secs(30),
        followed.wait_for(|table| table.applied() == 11),
    )
    .await
    .expect("every record applied")
    .unwrap()
    .clone();
    assert_eq!(table.len(), 9);
    assert!(table
        .get(&predictions[0].vehicle_id, &predictions[0].stop_id)
        .is_none());
    for prediction in &predictions[1..] {
        assert_eq!(
            table.get(&prediction.vehicle_id, &prediction.stop_id),
            Some(prediction)
        );
    }
    stop.cancel();
    let stats = task.await.unwrap().unwrap();
    assert_eq!((stats.applied, stats.skipped), (11, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predicted_snapshots_pass_the_boards_changes_on_and_end_with_it() {
    let (board, snapshots) = watch::channel(Arc::new(StatusSnapshot::default()));
    let (_predictions, table) = watch::channel(Arc::new(PredictionTable::new()));
    let mut predicted = transit_http::realtime::predicted_snapshots(snapshots, table);
    let fixed = fixed_snapshot();
    board.send(Arc::new(fixed.clone())).unwrap();
    // No prediction: the board's snapshot as it is, with a version of the stream's own.
    let seen = tokio::time::timeout(
        Duration::from_secs(30),
        predicted.wait_for(|s| s.lines == fixed.lines),
    )
    .await
    .expect("the board's change passed on")
    .unwrap()
    .clone();
    assert_eq!(seen.simulated_time, fixed.simulated_time);
    assert!(seen.version > 0);
    drop(board);
    tokio::time::timeout(Duration::from_secs(30), async {
        while predicted.changed().await.is_ok() {}
    })
    .await
    .expect("the stream ends with the board's");
}
