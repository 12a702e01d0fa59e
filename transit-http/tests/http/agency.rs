//! Any agency's feeds as their clients see them: NYC's subway (the feed `scripts/feeds.sh`
//! downloads) simulated by the timetabled simulation on the in-memory bus, read back from the
//! arrivals topic by [`AgencyFeeds`], served, and decoded by MobilityData's official Python
//! bindings with every id checked against the input feed, served back by the same server.
//!
//! Needs `TRANSIT_TEST_FEEDS` (`source scripts/feeds.sh; need_feeds`) and `TRANSIT_TEST_PYTHON`
//! (`source scripts/python.sh; need_python_venv`); without them the tests fail and say so.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use transit_core::codec::SchemaRegistry;
use transit_core::network::service_day::ServiceDay;
use transit_core::topics::Topics;
use transit_core::EventBus;
use transit_gtfs::agency::AgencyBoard;
use transit_gtfs::realtime::proto::{trip_descriptor, FeedEntity, FeedMessage};
use transit_gtfs_reader::ReadOptions;
use transit_http::agency::{AgencyFeeds, FeedClock};
use transit_mem::{MemBus, MemRegistry};
use transit_sim::timetabled::publish::{self, Clock, PublishConfig};
use transit_sim::timetabled::{TimetabledConfig, TimetabledSimulation};
use transit_testkit::feeds;

/// NYC's lines 1 and 2 on the date it is in New York now, and the feed it is read from.
fn nyc_today() -> (transit_gtfs_reader::Feed, Arc<ServiceDay>) {
    let feed =
        transit_gtfs_reader::Feed::read(feeds::nyc(), &Default::default()).expect("NYC reads");
    // New York is 4 or 5 hours behind UTC: 5 hours back is its date, give or take the hour.
    let date = (chrono::Utc::now() - chrono::Duration::hours(5)).date_naive();
    let day = Arc::new(feed.service_day(date).expect("a service day"));
    (feed, day)
}

fn python() -> PathBuf {
    const VAR: &str = "TRANSIT_TEST_PYTHON";
    let python = std::env::var_os(VAR).unwrap_or_else(|| {
        panic!(
            "{VAR} is not set: this test runs Python clients from PyPI. Run scripts/test.sh, or \
             `source scripts/python.sh; need_python_venv` first"
        )
    });
    PathBuf::from(python)
}

/// The simulation of `day` publishing on a fresh in-memory bus at `clock` until `until_s` (or
/// shut down), and the feeds following it.
struct Run {
    feeds: AgencyFeeds,
    shutdown: CancellationToken,
    publisher: tokio::task::JoinHandle<publish::TimetabledPublishStats>,
    follower: tokio::task::JoinHandle<transit_http::agency::FollowStats>,
}

impl Run {
    async fn start(
        day: &Arc<ServiceDay>,
        clock: Clock,
        feed_clock: FeedClock,
        until_s: Option<u32>,
    ) -> Self {
        Self::start_feed(
            &feeds::nyc(),
            &ReadOptions::default(),
            day,
            clock,
            feed_clock,
            until_s,
        )
        .await
    }

    /// The same over the feed at `path`, read with `options`.
    async fn start_feed(
        path: &Path,
        options: &ReadOptions,
        day: &Arc<ServiceDay>,
        clock: Clock,
        feed_clock: FeedClock,
        until_s: Option<u32>,
    ) -> Self {
        let bus = Arc::new(MemBus::new());
        let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
        let topics = Topics::default();
        publish::create_topic(bus.as_ref(), &topics, 4)
            .await
            .unwrap();
        let codec = publish::register_codec(Arc::clone(&registry), &topics)
            .await
            .unwrap();
        // Vehicles placed along the feed's shapes.
        let feed = transit_gtfs_reader::Feed::read(path, options).unwrap();
        let shapes = feed.shapes().iter().map(|shape| {
            let points = shape.points.iter().map(|p| (p.lat, p.lon)).collect();
            (shape.id.to_string(), points)
        });
        let board = AgencyBoard::new(Arc::clone(day)).with_shapes(shapes);
        let feeds = AgencyFeeds::with_board(path, board, feed_clock);
        let shutdown = CancellationToken::new();
        let follower = tokio::spawn({
            let feeds = feeds.clone();
            let shutdown = shutdown.clone();
            let bus: Arc<dyn EventBus> = bus.clone();
            async move {
                feeds
                    .follow(bus, registry, &Topics::default(), shutdown)
                    .await
                    .unwrap()
            }
        });
        let mut sim =
            TimetabledSimulation::new(Arc::clone(day), TimetabledConfig::embedded(21).unwrap())
                .unwrap();
        let config = PublishConfig {
            clock,
            until_s,
            ..PublishConfig::default()
        };
        let publisher = tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                publish::run(bus.as_ref(), &mut sim, &codec, &config, shutdown)
                    .await
                    .unwrap()
            }
        });
        Self {
            feeds,
            shutdown,
            publisher,
            follower,
        }
    }

    async fn stop(
        self,
    ) -> (
        publish::TimetabledPublishStats,
        transit_http::agency::FollowStats,
    ) {
        self.shutdown.cancel();
        (self.publisher.await.unwrap(), self.follower.await.unwrap())
    }
}

/// Serves `feeds` on a free port; the base URL and the server's stop.
async fn serve(feeds: &AgencyFeeds) -> (String, CancellationToken, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let (app, stop) = (feeds.router(), stop.clone());
        async move {
            transit_http::server::serve("agency feeds", listener, app, stop)
                .await
                .unwrap();
        }
    });
    (base, stop, task)
}

async fn check_with_python(base: &str, extra: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/agency_gtfs_rt_check.py");
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(python())
            .arg(&script)
            .arg(base)
            .args(extra)
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
    serde_json::from_str(stdout.trim()).unwrap()
}

/// Every trip, route and stop id of `message` is in the input `feed`.
fn ids_are_the_feeds(feed: &transit_gtfs_reader::Feed, message: &FeedMessage) {
    let trips: HashSet<&str> = feed.trips().iter().map(|t| &*t.id).collect();
    let routes: HashSet<&str> = feed.routes().iter().map(|r| &*r.id).collect();
    let stops: HashSet<&str> = feed.stops().iter().map(|s| &*s.id).collect();
    for entity in &message.entity {
        let (trip, stop_ids): (_, Vec<&str>) = match (&entity.vehicle, &entity.trip_update) {
            (Some(v), _) => (
                v.trip.as_ref().unwrap(),
                v.stop_id.as_deref().into_iter().collect(),
            ),
            (_, Some(u)) => (
                &u.trip,
                u.stop_time_update
                    .iter()
                    .filter_map(|s| s.stop_id.as_deref())
                    .collect(),
            ),
            _ => panic!("entity {} is neither", entity.id),
        };
        assert!(trips.contains(trip.trip_id.as_deref().unwrap()), "{trip:?}");
        assert!(
            routes.contains(trip.route_id.as_deref().unwrap()),
            "{trip:?}"
        );
        // A cancelled trip is named without stops.
        let cancelled = trip.schedule_relationship
            == Some(trip_descriptor::ScheduleRelationship::Canceled as i32);
        assert_eq!(stop_ids.is_empty(), cancelled, "{}", entity.id);
        for stop in stop_ids {
            assert!(stops.contains(stop), "{stop}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nyc_live_feeds_name_the_input_feeds_ids_at_the_wall_clock() {
    let (feed, day) = nyc_today();
    let run = Run::start(&day, Clock::Live, FeedClock::Wall, None).await;
    // The current state (each train in service's latest arrival) comes first, then 1x.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while run.feeds.applied() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no arrival read in a minute"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let positions = run.feeds.vehicle_positions();
    let updates = run.feeds.trip_updates();
    assert!(!positions.entity.is_empty(), "trains in service");
    assert!(!updates.entity.is_empty());
    ids_are_the_feeds(&feed, &positions);
    ids_are_the_feeds(&feed, &updates);

    let (base, stop, server) = serve(&run.feeds).await;
    let report = check_with_python(&base, &["--now-within", "5"]).await;
    eprintln!("NYC live GTFS-realtime: {report}");
    assert!(report["vehicles"].as_u64().unwrap() > 0);
    assert!(report["stop_time_updates"].as_u64().unwrap() > 0);

    // The static feed is the input, re-dated if today is not in its calendar (the Python
    // client found every trip running on its start_date in it); Train Tracker says it is CTA's.
    let zip = reqwest::get(format!("{base}/gtfs/static.zip"))
        .await
        .unwrap();
    assert_eq!(zip.status(), 200);
    served_is_the_input(&zip.bytes().await.unwrap(), &feeds::nyc(), &day);
    let tracker = reqwest::get(format!("{base}/api/1.0/ttarrivals.aspx?mapid=40380"))
        .await
        .unwrap();
    assert_eq!(tracker.status(), 404);
    assert!(tracker.text().await.unwrap().contains("CTA"));
    let bad = reqwest::get(format!("{base}/gtfs-rt/trip-updates?format=xml"))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    stop.cancel();
    server.await.unwrap();
    let (published, followed) = run.stop().await;
    assert_eq!(followed.skipped, 0);
    assert!(followed.applied <= published.published);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nyc_flat_out_feeds_follow_the_records_clock() {
    let (feed, day) = nyc_today();
    // The morning peak: 05:00 to 08:00 of the service day.
    let run = Run::start(&day, Clock::FlatOut, FeedClock::Records, Some(8 * 3_600)).await;
    let published = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            if run.publisher.is_finished() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        published.is_ok(),
        "the morning published within two minutes"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let Run {
        feeds,
        shutdown,
        publisher,
        follower,
    } = run;
    let stats = publisher.await.unwrap();
    while feeds.applied() < stats.published {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the feeds read every arrival"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let now_ms = feeds.now_ms();
    // The records' clock: the last arrival's time, near 08:00 of the day.
    let eight = day.unix_s(8 * 3_600) * 1_000;
    assert!(
        (eight - 120_000..=eight).contains(&now_ms),
        "{now_ms} vs {eight}"
    );
    let positions = feeds.vehicle_positions();
    let updates = feeds.trip_updates();
    assert!(
        positions.entity.len() > 10,
        "{} trains at 08:00",
        positions.entity.len()
    );
    assert_eq!(positions.header.timestamp, Some((now_ms / 1_000) as u64));
    ids_are_the_feeds(&feed, &positions);
    ids_are_the_feeds(&feed, &updates);
    let (base, stop, server) = serve(&feeds).await;
    let report = check_with_python(&base, &[]).await;
    eprintln!("NYC at 08:00 GTFS-realtime: {report}");
    stop.cancel();
    server.await.unwrap();
    shutdown.cancel();
    let followed = follower.await.unwrap();
    assert_eq!(followed.applied, stats.published);
}

/// A day of one trip, A to B, leaving at 08:00 and due at 08:10, its `stop_sequence`s 10 and 20.
fn one_trip_day() -> Arc<ServiceDay> {
    use transit_core::model::{LineId, Rgb, Route};
    use transit_core::network::service_day::{
        ScheduledStop, ScheduledTrip, StopIndex, StopPlace, TripIndex, Vehicle, VehicleIndex,
    };
    let route = LineId::new("R1").unwrap();
    let date = chrono::NaiveDate::from_ymd_opt(2027, 1, 15).unwrap();
    let place = |id: &str, lat| StopPlace {
        id: id.into(),
        name: id.into(),
        location: Some((lat, -74.0)),
        parent: None,
    };
    let at = |stop, s, stop_sequence| ScheduledStop {
        stop: StopIndex(stop),
        arrival_s: s,
        departure_s: s,
        stop_sequence,
    };
    Arc::new(ServiceDay {
        timezone: "America/New_York".into(),
        requested: date,
        date,
        start_unix_s: 1_800_000_000,
        routes: vec![Route {
            id: route,
            short_name: "R1".into(),
            long_name: String::new(),
            route_type: 3,
            color: Rgb::WHITE,
            text_color: Rgb::BLACK,
        }],
        stops: vec![place("A", 40.0), place("B", 40.1)],
        trips: vec![ScheduledTrip {
            trip_id: "T".into(),
            route,
            direction_id: None,
            frequency_start_s: None,
            exact_times: false,
            shape_id: None,
            vehicle: VehicleIndex(0),
            stops: vec![at(0, 8 * 3_600, 10), at(1, 8 * 3_600 + 600, 20)],
        }],
        vehicles: vec![Vehicle {
            id: "bus-1".into(),
            trips: vec![TripIndex(0)],
        }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_feed_and_an_arrival_on_the_bus_are_served() {
    let day = one_trip_day();
    let folder = std::env::temp_dir().join(format!("agency-feeds-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("stops.txt"), "stop_id,stop_name\nA,A\nB,B\n").unwrap();

    let bus = Arc::new(MemBus::new());
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topics = Topics::default();
    publish::create_topic(bus.as_ref(), &topics, 1)
        .await
        .unwrap();
    let codec = publish::register_codec(Arc::clone(&registry), &topics)
        .await
        .unwrap();
    let feeds = AgencyFeeds::new(&folder, Arc::clone(&day), FeedClock::Records);
    // Before any record the feeds are empty, stamped at the day's start.
    assert!(feeds.vehicle_positions().entity.is_empty());
    assert_eq!(feeds.now_ms(), day.start_unix_s * 1_000);

    // Left A at 08:00 a minute late; the record is stamped 08:06.
    let at = |s: u32| day.unix_s(s) * 1_000;
    let event = transit_core::event::VehicleArrivalEvent {
        route_id: "R1".into(),
        trip_id: "T".into(),
        start_date: "20270115".into(),
        start_time: None,
        direction_id: None,
        stop_id: "A".into(),
        stop_sequence: 0,
        vehicle_id: "bus-1".into(),
        arrival_time: at(8 * 3_600 + 60),
        departure_time: at(8 * 3_600 + 60),
        scheduled_arrival_time: at(8 * 3_600),
        scheduled_departure_time: at(8 * 3_600),
        boarded: 3,
        alighted: 0,
    };
    let stamped = at(8 * 3_600 + 360);
    bus.publish_batch(
        &topics.vehicle_arrivals(),
        vec![codec.record(&event, stamped).unwrap()],
    )
    .await
    .unwrap();
    let shutdown = CancellationToken::new();
    let follower = tokio::spawn({
        let (feeds, shutdown) = (feeds.clone(), shutdown.clone());
        let bus: Arc<dyn EventBus> = bus.clone();
        async move {
            feeds
                .follow(bus, registry, &Topics::default(), shutdown)
                .await
        }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while feeds.applied() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the arrival is read"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(feeds.now_ms(), stamped);

    let (base, stop, server) = serve(&feeds).await;
    let json: serde_json::Value =
        reqwest::get(format!("{base}/gtfs-rt/vehicle-positions?format=json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let vehicle = &json["entity"][0]["vehicle"];
    assert_eq!(vehicle["trip"]["tripId"], "T");
    assert_eq!(vehicle["trip"]["startDate"], "20270115");
    assert_eq!(vehicle["stopId"], "B");
    assert_eq!(vehicle["currentStopSequence"], 20);
    assert_eq!(vehicle["currentStatus"], "IN_TRANSIT_TO");
    // Five of the ten scheduled minutes since it left: half way.
    let latitude = vehicle["position"]["latitude"].as_f64().unwrap();
    assert!((latitude - 40.05).abs() < 1e-4, "{latitude}");
    let updates: serde_json::Value =
        reqwest::get(format!("{base}/gtfs-rt/trip-updates?format=json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let update = &updates["entity"][0]["tripUpdate"];
    assert_eq!(update["stopTimeUpdate"][0]["stopSequence"], 20);
    assert_eq!(update["stopTimeUpdate"][0]["arrival"]["delay"], 60);
    assert_eq!(
        update["stopTimeUpdate"][0]["arrival"]["time"],
        (day.unix_s(8 * 3_600 + 660)).to_string()
    );

    // The folder is served zipped.
    let zip = reqwest::get(format!("{base}/gtfs/static.zip"))
        .await
        .unwrap();
    assert_eq!(zip.headers()["content-type"], "application/zip");
    let bytes = zip.bytes().await.unwrap();
    assert_eq!(&bytes[..2], b"PK");

    stop.cancel();
    server.await.unwrap();
    shutdown.cancel();
    let followed = follower.await.unwrap().unwrap();
    assert_eq!(followed.applied, 1);
    std::fs::remove_dir_all(&folder).unwrap();
}

/// The zip entries of `bytes`, by name, uncompressed.
fn entries(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            (entry.name().unwrap().into_owned(), content)
        })
        .collect()
}

/// `served` is the feed at `input`: the same bytes when `day` runs its own date's service;
/// otherwise the same files, only the calendar files and feed_info.txt changed, in which the
/// date simulated runs exactly the trips the day took from the feed's own date.
fn served_is_the_input(served: &[u8], input: &Path, day: &ServiceDay) {
    let original = std::fs::read(input).unwrap();
    if day.date == day.requested {
        assert_eq!(served, original.as_slice());
        return;
    }
    let (a, b) = (entries(&original), entries(served));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (name, content) in &a {
        if !["calendar.txt", "calendar_dates.txt", "feed_info.txt"].contains(&name.as_str()) {
            assert!(b[name] == *content, "{name} is served as it came");
        }
    }
    let options = ReadOptions::all_route_types();
    let before = transit_gtfs_reader::Feed::read(input, &options).unwrap();
    let after = transit_gtfs_reader::Feed::from_zip_bytes(served.to_vec(), &options).unwrap();
    let taken = after.service_date(day.requested).unwrap();
    assert!(
        !taken.is_substitute(),
        "{taken}: the served feed covers the date simulated"
    );
    let ids = |feed: &transit_gtfs_reader::Feed, date| -> Vec<String> {
        let mut ids: Vec<String> = feed
            .trips_on(date)
            .into_iter()
            .map(|t| feed.trips()[t.index()].id.to_string())
            .collect();
        ids.sort();
        ids
    };
    let served_trips = ids(&after, day.requested);
    assert_eq!(served_trips, ids(&before, day.date));
    // Every trip the day runs, those past midnight too, is active on its start_date.
    for trip in &day.trips {
        assert!(
            served_trips.binary_search(&trip.trip_id).is_ok(),
            "{} runs on {} in the served feed",
            trip.trip_id,
            day.requested
        );
    }
}

/// The notices MobilityData's rules (`gtfs-validator` from PyPI, as the static feed's own
/// test runs it) give the feed at `zip` as of `date`: severity, code and count of each kind.
fn validator_notices(
    zip: &Path,
    date: chrono::NaiveDate,
    out: &Path,
) -> Vec<(String, String, u64)> {
    let output = std::process::Command::new(python())
        .args(["-m", "gtfs_validator.cli", "-i"])
        .arg(zip)
        .arg("-o")
        .arg(out)
        .args(["-c", "US", "-d", &date.to_string()])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the validator starts");
    assert!(
        output.status.success(),
        "the validator failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join(name)).unwrap()).unwrap()
    };
    let system = read("system_errors.json");
    assert_eq!(
        system["notices"].as_array().map(Vec::len),
        Some(0),
        "{system}"
    );
    let report = read("report.json");
    let mut notices: Vec<(String, String, u64)> = report["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let text = |key: &str| n[key].as_str().unwrap_or_default().to_string();
            (
                text("severity"),
                text("code"),
                n["totalNotices"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    notices.sort();
    notices
}

/// The feed `name` simulated flat out on `simulated`, a date its calendar does not cover,
/// until `until_s`: the static feed served beside GTFS-realtime is the input re-dated, every
/// `(trip_id, start_date)` of the trip updates and vehicle positions a trip active on that
/// date in it (checked by MobilityData's Python bindings and a trip planner's calendar rules),
/// and it passes the GTFS validator with no error the input does not have.
async fn realtime_trips_run_in_the_served_feed_on_a_date_outside_its_calendar(
    name: &str,
    options: ReadOptions,
    simulated: chrono::NaiveDate,
    until_s: u32,
) {
    let path = feeds::feed(name);
    let feed = transit_gtfs_reader::Feed::read(&path, &options).unwrap();
    let day = Arc::new(feed.service_day(simulated).unwrap());
    assert_ne!(
        day.date, day.requested,
        "{simulated} is outside {name}'s calendar"
    );
    let run = Run::start_feed(
        &path,
        &options,
        &day,
        Clock::FlatOut,
        FeedClock::Records,
        Some(until_s),
    )
    .await;
    let Run {
        feeds,
        shutdown,
        publisher,
        follower,
    } = run;
    let stats = tokio::time::timeout(Duration::from_secs(120), publisher)
        .await
        .expect("published within two minutes")
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while feeds.applied() < stats.published {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the feeds read every arrival"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (base, stop, server) = serve(&feeds).await;
    let report = check_with_python(&base, &[]).await;
    eprintln!("{name} on {simulated} (service of {}): {report}", day.date);
    assert!(report["vehicles"].as_u64().unwrap() > 0, "{report}");
    assert!(report["trip_updates"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(
        report["start_dates"],
        serde_json::json!([simulated.format("%Y%m%d").to_string()])
    );

    let served = reqwest::get(format!("{base}/gtfs/static.zip"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    served_is_the_input(&served, &path, &day);
    let scratch = std::env::temp_dir().join(format!(
        "agency-redated-{}-{}",
        std::process::id(),
        name.trim_end_matches(".zip")
    ));
    std::fs::create_dir_all(&scratch).unwrap();
    let served_path = scratch.join("served.zip");
    std::fs::write(&served_path, &served).unwrap();
    let input = validator_notices(&path, day.date, &scratch.join("input"));
    let served_notices = validator_notices(&served_path, simulated, &scratch.join("served"));
    let errors = |notices: &[(String, String, u64)]| -> Vec<String> {
        notices
            .iter()
            .filter(|(severity, _, _)| severity == "ERROR")
            .map(|(_, code, _)| code.clone())
            .collect()
    };
    eprintln!(
        "{name}: validator errors, input as of {}: {:?}; served as of {simulated}: {:?}",
        day.date,
        errors(&input),
        errors(&served_notices)
    );
    for code in errors(&served_notices) {
        assert!(
            errors(&input).contains(&code),
            "the served feed has an error the input has not: {code}"
        );
    }
    // Moved by whole weeks and validated as of the date moved as much, the feed draws the
    // very notices the input does, warnings and their counts too.
    assert_eq!(served_notices, input);
    std::fs::remove_dir_all(&scratch).unwrap();

    stop.cancel();
    server.await.unwrap();
    shutdown.cancel();
    let followed = follower.await.unwrap();
    assert_eq!(followed.applied, stats.published);
    assert_eq!(followed.skipped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nyc_realtime_trips_run_in_the_served_feed_on_a_date_outside_its_calendar() {
    // A Wednesday two years after the feed: the service of its last Wednesday, 2025-01-15.
    let simulated = chrono::NaiveDate::from_ymd_opt(2026, 12, 9).unwrap();
    realtime_trips_run_in_the_served_feed_on_a_date_outside_its_calendar(
        "nyc_subway_gtfs.zip",
        ReadOptions::default(),
        simulated,
        8 * 3_600,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_gtfs_feed_realtime_trips_run_in_the_served_feed_on_a_date_outside_its_calendar() {
    // Two agencies in two zones, a bus and trams: a Saturday of 2026 runs the feed's last
    // Saturday with trips (2019-08-17), feed_info's dates moved too; at 15:30 a bus and a tram
    // are on their way downtown.
    let simulated = chrono::NaiveDate::from_ymd_opt(2026, 12, 12).unwrap();
    realtime_trips_run_in_the_served_feed_on_a_date_outside_its_calendar(
        "sample-gtfs-feed.zip",
        ReadOptions::all_route_types(),
        simulated,
        15 * 3_600 + 30 * 60,
    )
    .await;
}

/// Trips of `day` scheduled to be between their first and last stop at `now_s` (seconds of the
/// service day), a margin of `margin_s` inside each end.
fn trips_running(day: &ServiceDay, now_s: u32, margin_s: u32) -> usize {
    day.trips
        .iter()
        .filter(|trip| {
            let (Some(first), Some(last)) = (trip.stops.first(), trip.stops.last()) else {
                return false;
            };
            first.departure_s + margin_s <= now_s && now_s + margin_s <= last.arrival_s
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_gtfs_feed_live_feeds_name_the_input_feeds_ids_at_the_wall_clock() {
    // Two agencies, Warsaw's zone first (an hour ahead of UTC in winter, two in summer: the
    // date there is UTC's shifted by one and a half, give or take the hour near midnight).
    let options = ReadOptions::all_route_types();
    let path = feeds::feed("sample-gtfs-feed.zip");
    let feed = transit_gtfs_reader::Feed::read(&path, &options).unwrap();
    let date = (chrono::Utc::now() + chrono::Duration::minutes(90)).date_naive();
    let day = Arc::new(feed.service_day(date).expect("a service day"));
    let run = Run::start_feed(&path, &options, &day, Clock::Live, FeedClock::Wall, None).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let now = chrono::Utc::now().timestamp();
    let now_s = u32::try_from(now - day.unix_s(0)).unwrap_or(0);
    let running = trips_running(&day, now_s, 600);

    // Whatever the hour, the feeds are stamped with the wall clock and name only the input's
    // ids, and every trip they name runs on its start_date in the static feed served.
    let positions = run.feeds.vehicle_positions();
    let updates = run.feeds.trip_updates();
    for message in [&positions, &updates] {
        let stamped = message.header.timestamp.unwrap_or(0) as i64;
        assert!(
            (stamped - now).abs() <= 5,
            "the header says {stamped}, the clock {now}"
        );
    }
    ids_are_the_feeds(&feed, &positions);
    ids_are_the_feeds(&feed, &updates);
    let (base, stop, server) = serve(&run.feeds).await;
    let report = check_with_python(&base, &["--now-within", "5"]).await;
    eprintln!(
        "sample-gtfs-feed live on {date} (service of {}), {running} trip(s) scheduled to run \
         now: {report}",
        day.date
    );
    // Its trips run in the Warsaw afternoon and evening: when some are on their way now (10
    // minutes in, 10 to go), trains are in the feeds.
    if running >= 2 {
        assert!(report["vehicles"].as_u64().unwrap() > 0, "{report}");
        assert!(report["trip_updates"].as_u64().unwrap() > 0, "{report}");
    }
    let served = reqwest::get(format!("{base}/gtfs/static.zip"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    served_is_the_input(&served, &path, &day);

    stop.cancel();
    server.await.unwrap();
    let (published, followed) = run.stop().await;
    assert_eq!(followed.skipped, 0);
    assert!(followed.applied <= published.published);
}

/// The feeds over `day` of the feed at `path` (read with `options`) as the predictor makes
/// them: the simulation published flat out until `until_s` on the in-memory bus, the predictor
/// (four partitions) predicting from it, the feeds following the arrivals and the issued
/// predictions (every change of the table, withdrawals kept: the in-memory bus's compaction
/// drops them as they come) and the trip cancellations until the bus closes, every record read.
/// Also the cancellations the simulation published.
async fn predicted_feeds(
    path: &Path,
    options: &ReadOptions,
    day: &Arc<ServiceDay>,
    until_s: u32,
) -> (
    AgencyFeeds,
    transit_predict::PredictorStats,
    Vec<transit_core::event::TripCancellation>,
) {
    use transit_core::bus::TopicSpec;
    use transit_core::metrics::PipelineMetrics;
    use transit_core::processor::runner::Transactions;
    use transit_predict::{predictor::PREDICTOR, PredictionProcessor};

    let bus = Arc::new(MemBus::new());
    let shared: Arc<dyn EventBus> = bus.clone();
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topics = Topics::default();
    let partitions = 4;
    publish::create_topic(bus.as_ref(), &topics, partitions)
        .await
        .unwrap();
    let codec = publish::register_codec(Arc::clone(&registry), &topics)
        .await
        .unwrap();
    let cancellations = publish::register_cancellations(Arc::clone(&registry), &topics)
        .await
        .unwrap();
    let issued = transit_predict::topics::issued(&topics);
    shared
        .create_topic(
            &TopicSpec::new(issued.clone(), partitions)
                .with_retention_records(u64::MAX)
                .with_retention_bytes(u64::MAX),
        )
        .await
        .unwrap();
    let metrics = PipelineMetrics::new();
    let predictor = PredictionProcessor::new(
        Arc::clone(&shared),
        Arc::clone(&registry),
        &topics,
        Arc::clone(day),
        partitions,
        Arc::clone(&metrics),
    )
    .await
    .unwrap()
    .cancellations(Arc::clone(&registry), topics.trip_cancellations())
    .unwrap()
    .transactions(Transactions::Off);
    let stop_predicting = CancellationToken::new();
    let predicting = tokio::spawn(predictor.run(stop_predicting.clone()));
    while !metrics.has_restored(PREDICTOR) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let feed = transit_gtfs_reader::Feed::read(path, options).unwrap();
    let shapes = feed.shapes().iter().map(|shape| {
        let points = shape.points.iter().map(|p| (p.lat, p.lon)).collect();
        (shape.id.to_string(), points)
    });
    let board = AgencyBoard::new(Arc::clone(day))
        .with_shapes(shapes)
        .with_predictions();
    let feeds = AgencyFeeds::with_board(path, board, FeedClock::Records);
    let never = CancellationToken::new();
    let arrivals = tokio::spawn({
        let (feeds, bus, registry, never) = (
            feeds.clone(),
            Arc::clone(&shared),
            Arc::clone(&registry),
            never.clone(),
        );
        async move { feeds.follow(bus, registry, &Topics::default(), never).await }
    });
    let predictions = tokio::spawn({
        let (feeds, bus, registry, never) = (
            feeds.clone(),
            Arc::clone(&shared),
            Arc::clone(&registry),
            never.clone(),
        );
        async move {
            feeds
                .follow_predictions(bus, registry, &issued, never)
                .await
        }
    });
    let cancelled = tokio::spawn({
        let (feeds, bus, registry, never) = (
            feeds.clone(),
            Arc::clone(&shared),
            Arc::clone(&registry),
            never.clone(),
        );
        async move {
            feeds
                .follow_cancellations(bus, registry, &Topics::default(), never)
                .await
        }
    });

    let mut sim =
        TimetabledSimulation::new(Arc::clone(day), TimetabledConfig::embedded(21).unwrap())
            .unwrap();
    let config = PublishConfig {
        clock: Clock::FlatOut,
        until_s: Some(until_s),
        cancellations: Some(Arc::new(cancellations)),
        ..PublishConfig::default()
    };
    let published = publish::run(bus.as_ref(), &mut sim, &codec, &config, never.clone())
        .await
        .unwrap();
    assert!(published.published > 0, "nothing published");
    let dropped: Vec<_> = sim
        .skipped_trips()
        .iter()
        .zip(sim.skipped_at_s())
        .map(|(trip, at_s)| publish::cancellation_event(day, *trip, *at_s).unwrap())
        .collect();
    assert_eq!(published.cancellations, dropped.len() as u64);
    let arrivals_topic = topics.vehicle_arrivals();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    loop {
        let consumed: u64 = metrics
            .snapshot()
            .consumed
            .iter()
            .filter(|((consumer, topic), _)| consumer == PREDICTOR && **topic == *arrivals_topic)
            .map(|(_, n)| *n)
            .sum();
        if consumed >= published.published {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the predictor read {consumed} of {} arrivals",
            published.published
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop_predicting.cancel();
    let stats = predicting.await.unwrap().unwrap();
    // Everything is on the bus; closing it ends the followers' streams at once, so first they
    // read until the learnt predictions applied stop growing (the count below says whether
    // every record was read).
    let mut seen = feeds.predictions_applied();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = feeds.predictions_applied();
        if now == seen && feeds.applied() >= published.published {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the feeds kept reading"
        );
        seen = now;
    }
    bus.close();
    let followed = arrivals.await.unwrap().unwrap();
    assert_eq!(followed.applied, published.published);
    let read = predictions.await.unwrap().unwrap();
    assert_eq!(read.skipped, 0);
    assert_eq!(
        read.applied + read.other_methods,
        stats.issued + stats.withdrawn,
        "every issued prediction and withdrawal read: {stats}"
    );
    assert_eq!(
        read.applied,
        feeds.predictions_applied(),
        "the learnt method's records applied, the baselines' passed over"
    );
    assert!(read.other_methods > 0, "the baselines are on the topic too");
    let cancelled = cancelled.await.unwrap().unwrap();
    assert_eq!(
        (cancelled.applied, cancelled.skipped),
        (published.cancellations, 0)
    );
    (feeds, stats, dropped)
}

/// The trip updates are the learnt predictions, each one a stop time update with an arrival
/// and a departure stating their uncertainty, and they pass the Python check of the input's
/// ids, times and delays (`--predicted`).
async fn trip_updates_are_the_predictors(
    name: &str,
    options: ReadOptions,
    simulated: chrono::NaiveDate,
    until_s: u32,
) {
    let path = feeds::feed(name);
    let feed = transit_gtfs_reader::Feed::read(&path, &options).unwrap();
    let day = Arc::new(feed.service_day(simulated).unwrap());
    let (feeds, stats, dropped) = predicted_feeds(&path, &options, &day, until_s).await;
    let updates = feeds.trip_updates();
    ids_are_the_feeds(&feed, &updates);
    // The trips dropped that riders are told of now: announced, and not yet due to end; none
    // of them predicted any more.
    let now_ms = feeds.now_ms();
    let told: BTreeSet<&str> = dropped
        .iter()
        .filter(|c| c.announced_time <= now_ms && now_ms < c.scheduled_end_time)
        .map(|c| c.trip_id.as_str())
        .collect();
    let is_cancelled = |e: &&FeedEntity| {
        e.trip_update.as_ref().is_some_and(|u| {
            u.trip.schedule_relationship
                == Some(trip_descriptor::ScheduleRelationship::Canceled as i32)
        })
    };
    let served: BTreeSet<&str> = updates
        .entity
        .iter()
        .filter(is_cancelled)
        .filter_map(|e| e.trip_update.as_ref()?.trip.trip_id.as_deref())
        .collect();
    assert_eq!(served, told, "{} trips dropped in all", dropped.len());
    let predicted: BTreeSet<&str> = updates
        .entity
        .iter()
        .filter(|e| !is_cancelled(e))
        .filter_map(|e| e.trip_update.as_ref()?.trip.trip_id.as_deref())
        .collect();
    assert!(served.is_disjoint(&predicted), "{served:?} still predicted");
    let stop_time_updates: Vec<_> = updates
        .entity
        .iter()
        .flat_map(|e| &e.trip_update.as_ref().unwrap().stop_time_update)
        .collect();
    assert!(
        !stop_time_updates.is_empty(),
        "no predictions served: {stats}"
    );
    for update in &stop_time_updates {
        let (arrival, departure) = (update.arrival.unwrap(), update.departure.unwrap());
        assert!(arrival.uncertainty.is_some_and(|u| u >= 0), "{update:?}");
        assert_eq!(arrival.uncertainty, departure.uncertainty, "{update:?}");
        assert!(departure.time >= arrival.time, "{update:?}");
    }
    // One stop time update per learnt prediction in the table, nothing else.
    let learnt = feeds.predictions_applied();
    assert!(learnt > 0);
    let (base, stop, server) = serve(&feeds).await;
    let report = check_with_python(&base, &["--predicted"]).await;
    eprintln!(
        "{name} on {simulated} (service of {}) until {}: predictor {stats}; served {report}",
        day.date,
        gtfs_time(until_s)
    );
    assert_eq!(
        report["stop_time_updates"].as_u64().unwrap(),
        stop_time_updates.len() as u64
    );
    assert_eq!(report["cancelled"].as_u64().unwrap(), told.len() as u64);
    assert_eq!(
        report["uncertainties"].as_u64().unwrap(),
        2 * stop_time_updates.len() as u64,
        "{report}"
    );
    stop.cancel();
    server.await.unwrap();
}

fn gtfs_time(seconds: u32) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nyc_trip_updates_are_the_predictors_with_departures_and_uncertainty() {
    // A Wednesday two years after the feed (the service of 2025-01-15), the morning to 07:00.
    let simulated = chrono::NaiveDate::from_ymd_opt(2026, 12, 9).unwrap();
    trip_updates_are_the_predictors(
        "nyc_subway_gtfs.zip",
        ReadOptions::default(),
        simulated,
        7 * 3_600,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_gtfs_feed_trip_updates_are_the_predictors_with_departures_and_uncertainty() {
    // Two agencies in two zones: at 15:30 of a Saturday a bus and a tram are on their way.
    let simulated = chrono::NaiveDate::from_ymd_opt(2026, 12, 12).unwrap();
    trip_updates_are_the_predictors(
        "sample-gtfs-feed.zip",
        ReadOptions::all_route_types(),
        simulated,
        15 * 3_600 + 30 * 60,
    )
    .await;
}
