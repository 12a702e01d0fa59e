//! The realtime feeds over a board the simulation really ran: the embedded network from
//! Monday 05:00 to 08:14, every arrival applied to the status read model, as the dashboard
//! does. Every trip, stop and route the feeds name is the static feed's; every train in
//! service runs a scheduled trip; predictions run forward in time along the trip.

use std::collections::HashSet;

use prost::Message;
use transit_core::model::{Direction, TrainStatus};
use transit_core::status::StatusSnapshot;
use transit_gtfs::live::LiveNetwork;
use transit_gtfs::realtime::proto::{vehicle_position::VehicleStopStatus, FeedMessage};
use transit_gtfs::tracker::{self, Endpoint};
use transit_gtfs::{build, realtime, FeedOptions, Sources};
use transit_sim::SimConfig;

/// The board of the default simulation (ticks of 30 s) at `until`.
fn board_at(until: &str) -> StatusSnapshot {
    let config = SimConfig {
        tick: std::time::Duration::from_secs(30),
        ..SimConfig::default()
    };
    transit_sim::testing::board_at(config, until.parse().unwrap())
}

#[test]
fn the_feeds_name_the_static_feeds_trips_stops_and_routes() {
    let sources = Sources::embedded().unwrap();
    let feed = build(&sources, &FeedOptions::default()).unwrap();
    let trips: HashSet<&str> = feed.trips.iter().map(|t| t.trip_id.as_str()).collect();
    let stops: HashSet<&str> = feed.stops.iter().map(|s| s.stop_id.as_str()).collect();
    let routes: HashSet<&str> = feed.routes.iter().map(|r| r.route_id.as_str()).collect();
    let network = LiveNetwork::new(sources.clone());
    let snapshot = board_at("2026-11-02 08:14:00");
    let board = network.board(&snapshot);
    let now = board.now.unwrap();

    let in_service = snapshot
        .lines
        .iter()
        .flat_map(|l| &l.trains)
        .filter(|t| t.status == TrainStatus::InService)
        .count();
    assert!(in_service > 30, "a weekday morning: {in_service} trains");
    assert_eq!(board.trains.len(), in_service);
    for train in &board.trains {
        let trip = train
            .trip
            .as_ref()
            .unwrap_or_else(|| panic!("{} runs no trip", train.id));
        assert!(trips.contains(trip.trip_id.as_str()), "{}", trip.trip_id);
        let letter = match train.direction {
            Direction::A => "-A-",
            Direction::B => "-B-",
        };
        assert!(
            trip.trip_id.contains(letter),
            "{} {:?}",
            trip.trip_id,
            train.direction
        );
        assert!(!train.calls.is_empty(), "{}", train.id);
        for pair in train.calls.windows(2) {
            assert!(pair[0].arrival <= pair[1].arrival, "{}", train.id);
            assert_eq!(pair[0].stop_sequence + 1, pair[1].stop_sequence);
        }
        for call in &train.calls {
            assert!(stops.contains(call.stop_id.to_string().as_str()));
            assert!(call.here || call.arrival >= now);
            // The schedule is the static feed's: a train is late, not hours off.
            let late = (call.arrival.0 - call.scheduled.unwrap().0) / 1000;
            assert!((-300..3_600).contains(&late), "{} {late}", train.id);
        }
        // Chicago lies between 41.6 and 42.1 N, 87.5 and 88 W.
        assert!(
            (41.6..42.1).contains(&train.position.0),
            "{:?}",
            train.position
        );
        assert!(
            (-88.0..-87.5).contains(&train.position.1),
            "{:?}",
            train.position
        );
    }

    for feed in [
        realtime::vehicle_positions(&board),
        realtime::trip_updates(&board),
    ] {
        let back = FeedMessage::decode(feed.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, feed);
        assert!(!back.entity.is_empty());
        for entity in &back.entity {
            let trip = entity
                .vehicle
                .as_ref()
                .and_then(|v| v.trip.as_ref())
                .or(entity.trip_update.as_ref().map(|u| &u.trip))
                .unwrap();
            assert!(routes.contains(trip.route_id()));
            assert!(trips.contains(trip.trip_id()));
        }
    }
    let positions = realtime::vehicle_positions(&board);
    let statuses: HashSet<i32> = positions
        .entity
        .iter()
        .filter_map(|e| e.vehicle.as_ref()?.current_status)
        .collect();
    assert!(statuses.contains(&(VehicleStopStatus::StoppedAt as i32)));
    assert!(statuses.contains(&(VehicleStopStatus::InTransitTo as i32)));

    // Train Tracker: every train is found by its run number and every arrival answers.
    for train in &board.trains {
        let rn = tracker::run_number(train.line, train.run);
        let answer = tracker::answer(
            &network,
            &board,
            Endpoint::Follow,
            &format!("runnumber={rn}&outputType=JSON"),
        );
        assert_eq!(answer.error, 0, "{}", answer.body);
    }
    let answer = tracker::answer(&network, &board, Endpoint::Arrivals, "mapid=40380");
    assert_eq!(answer.error, 0);
    assert!(answer.body.contains("<eta>"), "{}", answer.body);
}

#[test]
fn the_simulations_arrival_records_name_the_static_feeds_routes() {
    let sources = Sources::embedded().unwrap();
    let feed = build(&sources, &FeedOptions::default()).unwrap();
    let routes: HashSet<&str> = feed.routes.iter().map(|r| r.route_id.as_str()).collect();
    let mut sim = transit_sim::testing::simulation(SimConfig::default());
    let mut tick = transit_sim::TickEvents::default();
    let mut named = HashSet::new();
    for _ in 0..120 {
        sim.step(&mut tick);
        for arrival in &tick.arrivals {
            // What GTFS-realtime's trip descriptor says for a train of that line.
            let route = arrival.route_id.expect("every arrival names its route");
            assert_eq!(route.as_str(), transit_gtfs::route_id(arrival.line));
            assert!(routes.contains(route.as_str()), "{route} is in routes.txt");
            named.insert(route.as_str());
        }
    }
    assert_eq!(named, routes, "every route has arrivals");
}
