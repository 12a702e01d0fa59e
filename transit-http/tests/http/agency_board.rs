//! The board of any agency's network over NYC's lines 1 and 2 (the feed `scripts/feeds.sh`
//! downloads): the timetabled simulation publishes a morning on the in-memory bus, the board
//! reads it back from the bus, and its pages, fragments and JSON show the routes, their
//! patterns and the trains where the records put them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use tokio_util::sync::CancellationToken;
use transit_core::bus::{Consumer, SubscribeOptions};
use transit_core::codec::SchemaRegistry;
use transit_core::event::VehicleArrivalEvent;
use transit_core::topics::Topics;
use transit_core::EventBus;
use transit_gtfs_reader::{Feed, ReadOptions};
use transit_http::agency_board::{self, AgencyBoard, AgencyNetwork, MapShape};
use transit_mem::{MemBus, MemRegistry};
use transit_sim::timetabled::publish::{self, Clock, PublishConfig};
use transit_sim::timetabled::{TimetabledConfig, TimetabledSimulation};
use transit_testkit::feeds;

/// 08:00, seconds from the service day's start: a weekday morning's rush.
const UNTIL_S: u32 = 8 * 3_600;

fn nyc() -> (Feed, AgencyNetwork) {
    // A Monday within the feed's calendar.
    network_of(feeds::NYC, NaiveDate::from_ymd_opt(2025, 1, 13))
}

/// The network of the downloaded feed `file`, on `date`.
fn network_of(file: &str, date: Option<NaiveDate>) -> (Feed, AgencyNetwork) {
    let path = feeds::feed(file);
    let feed = Feed::read(&path, &ReadOptions::default()).expect("the feed reads");
    let date = date.expect("a date");
    let day = feed.service_day(date).expect("a service day");
    let shapes = feed
        .shapes()
        .iter()
        .map(|shape| MapShape {
            id: shape.id.to_string(),
            points: shape.points.iter().map(|p| (p.lat, p.lon)).collect(),
        })
        .collect();
    let network = AgencyNetwork {
        name: feed.agencies()[0].name.to_string(),
        day: Arc::new(day),
        shapes,
    };
    (feed, network)
}

struct Served {
    base: String,
    board: AgencyBoard,
    /// Every record published, decoded, in the order read.
    records: Vec<VehicleArrivalEvent>,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<Result<(), transit_http::server::ServeError>>,
}

/// The day up to `until_s` published flat out, read by the board from the bus, the board
/// served.
async fn serve_until(network: AgencyNetwork, until_s: u32) -> Served {
    let bus = Arc::new(MemBus::new());
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topics = Topics::default();
    publish::create_topic(bus.as_ref(), &topics, 4)
        .await
        .unwrap();
    let codec = Arc::new(publish::register_codec(registry, &topics).await.unwrap());
    let board = AgencyBoard::new(network.clone());
    let shutdown = CancellationToken::new();
    let subscribe = || SubscribeOptions::topics([topics.vehicle_arrivals()]);
    let consumer = bus.subscribe(subscribe()).await.unwrap();
    let mut check: Box<dyn Consumer> = bus.subscribe(subscribe()).await.unwrap();
    let reader = tokio::spawn(agency_board::consume(
        board.clone(),
        consumer,
        Arc::clone(&codec),
        shutdown.clone(),
    ));

    let mut sim = TimetabledSimulation::new(
        Arc::clone(&network.day),
        TimetabledConfig::embedded(7).unwrap(),
    )
    .unwrap();
    let config = PublishConfig {
        clock: Clock::FlatOut,
        until_s: Some(until_s),
        progress_every: Duration::from_secs(60),
        ..PublishConfig::default()
    };
    let stats = publish::run(
        bus.as_ref(),
        &mut sim,
        &codec,
        &config,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(stats.published > 0, "some arrivals: {stats:?}");
    let deliveries = transit_core::testing::receive(check.as_mut(), stats.published as usize).await;
    let mut records = Vec::new();
    for delivery in &deliveries {
        records.push(codec.decode(delivery).await.unwrap().1);
    }
    // The board has read them all.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while board.applied() < stats.published {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the board read {} of {}",
            board.applied(),
            stats.published
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let listener = agency_board::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(agency_board::serve(
        listener,
        board.clone(),
        shutdown.clone(),
    ));
    // The reader stops with the server.
    drop(reader);
    Served {
        base,
        board,
        records,
        shutdown,
        server,
    }
}

async fn get(url: &str) -> (u16, String, String) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, response.text().await.unwrap())
}

/// The distinct stop sequences of a route's trips, a sequence and its reverse counted once.
fn patterns_of(network: &AgencyNetwork, route: &str) -> usize {
    let mut seen: HashSet<Vec<u32>> = HashSet::new();
    let mut count = 0;
    for trip in network
        .day
        .trips
        .iter()
        .filter(|t| t.route.as_str() == route)
    {
        let stops: Vec<u32> = trip.stops.iter().map(|s| s.stop.0).collect();
        let mut reverse = stops.clone();
        reverse.reverse();
        if !seen.contains(&stops) && !seen.contains(&reverse) {
            count += 1;
        }
        seen.insert(stops);
        seen.insert(reverse);
    }
    count
}

/// The text colour the board uses on `route`'s colour.
fn text_on(route: &transit_core::model::Route) -> transit_core::model::Rgb {
    if route.text_color.contrast(route.color) >= 4.5 {
        route.text_color
    } else {
        route.color.readable_text()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nyc_board_shows_its_routes_patterns_and_the_trains_the_bus_carried() {
    let (_feed, network) = nyc();
    let served = serve_until(network.clone(), UNTIL_S).await;
    assert!(served.records.len() > 1_000, "a morning's arrivals");
    let base = &served.base;

    // The page: both routes to pick from, in the feed's colours with readable text, the first
    // chosen.
    let (status, content_type, page) = get(&format!("{base}/")).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    for route in &network.day.routes {
        let text = text_on(route);
        assert!(route.color.contrast(text) >= 4.5, "{}", route.id.as_str());
        let link = format!(
            r#"href="/?route={}" style="background:#{};color:#{}""#,
            route.id.as_str(),
            route.color,
            text
        );
        assert!(page.contains(&link), "no link {link}");
    }
    // One link is the current page's (the style sheet names the attribute too, in brackets).
    assert_eq!(page.matches(r#"" aria-current="page""#).count(), 1);
    assert!(page.contains(r#"data-route="1""#));
    assert!(page.contains(&format!("<h1>{} live status</h1>", network.name)));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no outside resources"
    );

    // Each route's diagram: one list per pattern (up to eight), every pattern of the day.
    for route in ["1", "2"] {
        let (status, _, diagram) = get(&format!("{base}/fragment/diagram?route={route}")).await;
        assert_eq!(status, 200);
        let expected = patterns_of(&network, route);
        assert!(expected >= 2, "route {route} has {expected} patterns");
        assert_eq!(
            diagram.matches(r#"<ol class="pattern""#).count(),
            expected.min(8),
            "route {route}'s patterns"
        );
    }
    let (status, _, _) = get(&format!("{base}/?route=nope")).await;
    assert_eq!(status, 404);

    // The trains: each vehicle where its latest record put it, a finished trip's leaving.
    let mut latest: HashMap<&str, &VehicleArrivalEvent> = HashMap::new();
    for record in &served.records {
        latest.insert(&record.vehicle_id, record);
    }
    let now = served.records.iter().map(|r| r.arrival_time).max().unwrap();
    let last_stop: HashMap<&str, u32> = network
        .day
        .trips
        .iter()
        .map(|t| (t.trip_id.as_str(), t.stops.len() as u32 - 1))
        .collect();
    let expected: BTreeSet<(String, String, String)> = latest
        .values()
        .filter(|r| {
            r.stop_sequence < last_stop[r.trip_id.as_str()] || now - r.departure_time <= 120_000
        })
        .map(|r| (r.vehicle_id.clone(), r.trip_id.clone(), r.stop_id.clone()))
        .collect();
    assert!(
        expected.len() > 10,
        "a morning's trains: {}",
        expected.len()
    );
    let (status, content_type, json) = get(&format!("{base}/api/trains")).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/json"));
    let answer: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(answer["now_ms"].as_i64(), Some(now));
    let shown: BTreeSet<(String, String, String)> = answer["trains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let field = |name: &str| t[name].as_str().unwrap().to_string();
            (field("vehicle_id"), field("trip_id"), field("stop_id"))
        })
        .collect();
    assert_eq!(shown, expected);

    // The map: every shape the day's trips name, every train on it, and the diagrams list the
    // same trains.
    let shapes: HashSet<&str> = network
        .day
        .trips
        .iter()
        .filter_map(|t| t.shape_id.as_deref())
        .filter(|id| network.shapes.iter().any(|s| s.id == *id))
        .collect();
    assert!(!shapes.is_empty());
    assert_eq!(
        page.matches(r#"<polyline class="shape""#).count(),
        shapes.len()
    );
    let (_, _, trains) = get(&format!("{base}/fragment/trains")).await;
    assert_eq!(
        trains.matches(r#"<circle class="train""#).count(),
        expected.len()
    );
    for (vehicle, _, _) in &expected {
        assert!(
            trains.contains(&format!(r#"data-vehicle="{vehicle}""#)),
            "{vehicle} not on the map"
        );
    }
    let mut listed = 0;
    for route in ["1", "2"] {
        let (_, _, diagram) = get(&format!("{base}/fragment/diagram?route={route}")).await;
        listed += diagram
            .matches(r#"<span class="sr-only">Train </span>"#)
            .count();
    }
    assert_eq!(
        listed,
        expected.len(),
        "each train once on its route's diagram"
    );
    assert_eq!(served.board.network().day.routes.len(), 2);

    served.shutdown.cancel();
    served.server.await.unwrap().unwrap();
}

/// sample-gtfs-feed (npm): two agencies in two zones, frequency trips, a route whose own text
/// colour does not read on its colour, routes in GTFS's default white.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_feed_board_lists_every_route_readably_with_its_patterns() {
    // A Monday within the feed's calendar.
    let (_feed, network) = network_of(
        feeds::SAMPLE_GTFS_FEED,
        NaiveDate::from_ymd_opt(2019, 8, 19),
    );
    assert!(!network.day.trips.is_empty());
    let served = serve_until(network.clone(), 30 * 3_600).await;
    let base = &served.base;
    let (status, _, page) = get(&format!("{base}/")).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("<h1>{} live status</h1>", network.name)));
    for route in &network.day.routes {
        let text = text_on(route);
        assert!(route.color.contrast(text) >= 4.5, "{}", route.id.as_str());
        let link = format!(
            r#"href="/?route={}" style="background:#{};color:#{}""#,
            route.id.as_str(),
            route.color,
            text
        );
        assert!(page.contains(&link), "no link {link}");
        let (status, _, diagram) = get(&format!(
            "{base}/fragment/diagram?route={}",
            route.id.as_str()
        ))
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            diagram.matches(r#"<ol class="pattern""#).count(),
            patterns_of(&network, route.id.as_str()).min(8),
            "route {}'s patterns",
            route.id.as_str()
        );
    }
    // Every stop the day's trips call at is on the map.
    let stations: HashSet<u32> = network
        .day
        .trips
        .iter()
        .flat_map(|t| t.stops.iter())
        .map(|s| {
            let place = &network.day.stops[s.stop.0 as usize];
            place
                .parent
                .filter(|p| network.day.stops[p.0 as usize].location.is_some())
                .map_or(s.stop.0, |p| p.0)
        })
        .collect();
    assert_eq!(
        page.matches(r#"<circle class="station""#).count(),
        stations.len()
    );
    // The whole day ran: its trips ended, and left the board but those that ended in the last
    // two minutes of the board's clock (the last record's instant).
    let (_, _, json) = get(&format!("{base}/api/trains")).await;
    let answer: serde_json::Value = serde_json::from_str(&json).unwrap();
    let now = answer["now_ms"].as_i64().unwrap();
    assert_eq!(
        Some(now),
        served.records.iter().map(|r| r.arrival_time).max()
    );
    for train in answer["trains"].as_array().unwrap() {
        let trip = network
            .day
            .trips
            .iter()
            .find(|t| train["trip_id"] == t.trip_id.as_str())
            .unwrap();
        assert_eq!(
            train["stop_sequence"].as_u64(),
            Some(trip.stops.len() as u64 - 1),
            "{train}"
        );
        assert!(now - train["departure_time"].as_i64().unwrap() <= 120_000);
    }
    served.shutdown.cancel();
    served.server.await.unwrap().unwrap();
}
