//! Any agency's feeds as their clients see them: NYC's subway (the feed `scripts/feeds.sh`
//! downloads) simulated by the timetabled simulation on the in-memory bus, read back from the
//! arrivals topic by [`AgencyFeeds`], served, and decoded by MobilityData's official Python
//! bindings with every id checked against the input feed, served back by the same server.
//!
//! Needs `TRANSIT_TEST_FEEDS` (`source scripts/feeds.sh; need_feeds`) and `TRANSIT_TEST_PYTHON`
//! (`source scripts/python.sh; need_python_venv`); without them the tests fail and say so.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use transit_core::codec::SchemaRegistry;
use transit_core::network::service_day::ServiceDay;
use transit_core::topics::Topics;
use transit_core::EventBus;
use transit_gtfs::realtime::proto::FeedMessage;
use transit_http::agency::{AgencyFeeds, FeedClock};
use transit_mem::{MemBus, MemRegistry};
use transit_sim::timetabled::publish::{self, Clock, PublishConfig};
use transit_sim::timetabled::{TimetabledConfig, TimetabledSimulation};

fn nyc_path() -> PathBuf {
    let Some(dir) = std::env::var_os("TRANSIT_TEST_FEEDS") else {
        panic!(
            "TRANSIT_TEST_FEEDS is not set: this test reads a real GTFS feed that is downloaded, \
             not committed. Run `source scripts/feeds.sh && need_feeds`, or scripts/test.sh"
        );
    };
    PathBuf::from(dir).join("nyc_subway_gtfs.zip")
}

/// NYC's lines 1 and 2 on the date it is in New York now, and the feed it is read from.
fn nyc_today() -> (transit_gtfs_reader::Feed, Arc<ServiceDay>) {
    let feed = transit_gtfs_reader::Feed::read(nyc_path(), &Default::default()).expect("NYC reads");
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
        let bus = Arc::new(MemBus::new());
        let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
        let topics = Topics::default();
        publish::create_topic(bus.as_ref(), &topics, 4)
            .await
            .unwrap();
        let codec = publish::register_codec(Arc::clone(&registry), &topics)
            .await
            .unwrap();
        let feeds = AgencyFeeds::new(nyc_path(), Arc::clone(day), feed_clock);
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
        assert!(!stop_ids.is_empty(), "{}", entity.id);
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

    // The static feed is the input, byte for byte; Train Tracker says it is CTA's.
    let zip = reqwest::get(format!("{base}/gtfs/static.zip"))
        .await
        .unwrap();
    assert_eq!(zip.status(), 200);
    assert_eq!(
        zip.bytes().await.unwrap(),
        std::fs::read(nyc_path()).unwrap()
    );
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
