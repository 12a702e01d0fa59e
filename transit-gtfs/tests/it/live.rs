//! The realtime feeds over a board the simulation really ran: the embedded network from
//! Monday 05:00 to 08:14, every arrival applied to the status read model, as the dashboard
//! does. Every trip, stop and route the feeds name is the static feed's; every train in
//! service runs a scheduled trip; predictions run forward in time along the trip.

use std::collections::HashSet;

use prost::Message;
use transit_core::event::{PredictionEvent, PredictionKey};
use transit_core::model::{Direction, TrainStatus};
use transit_core::status::{PredictionTable, StatusSnapshot, LEARNT};
use transit_core::time::SimTime;
use transit_gtfs::live::{posix_seconds, CallSource, LiveNetwork};
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

/// A learnt prediction of `train` at `call`, `late_s` later than the board's estimate, made a
/// minute ago, as the predictor's table holds it.
fn learnt(
    train: &transit_gtfs::live::LiveTrain,
    call: &transit_gtfs::live::Call,
    late_s: i64,
    now: SimTime,
) -> (PredictionKey, PredictionEvent) {
    let ms = |t: SimTime| posix_seconds(t).unwrap() as i64 * 1000;
    let trip = train.trip.as_ref().unwrap();
    let arrival = call.arrival.0 + late_s * 1000;
    let event = PredictionEvent {
        vehicle_id: train.id.clone(),
        stop_id: call.stop_id.to_string(),
        method: LEARNT.into(),
        route_id: transit_gtfs::route_id(train.line).into(),
        trip_id: trip.trip_id.clone(),
        start_date: trip.start_date.format("%Y%m%d").to_string(),
        start_time: None,
        direction_id: Some(train.direction as i32),
        stop_sequence: call.stop_sequence - 1,
        predicted_arrival_time: ms(SimTime(arrival)),
        predicted_departure_time: ms(SimTime(arrival + 40_000)),
        scheduled_arrival_time: ms(call.scheduled.unwrap()),
        uncertainty_s: Some(75),
        issued_at: ms(SimTime(now.0 - 60_000)),
        source_partition: 0,
        source_offset: 0,
    };
    let key = PredictionKey {
        vehicle_id: event.vehicle_id.clone(),
        stop_id: event.stop_id.clone(),
        method: event.method.clone(),
    };
    (key, event)
}

/// Times along every train's calls run forward: each arrival at or after the departure from
/// the stop before, each departure at or after its arrival.
fn assert_calls_run_forward(board: &transit_gtfs::live::LiveBoard) {
    for train in &board.trains {
        for call in &train.calls {
            assert!(call.departure >= call.arrival, "{} {call:?}", train.id);
        }
        for pair in train.calls.windows(2) {
            assert!(
                pair[1].arrival >= pair[0].departure,
                "{}: {:?} then {:?}",
                train.id,
                pair[0],
                pair[1]
            );
        }
    }
}

#[test]
fn learnt_predictions_time_the_feeds_and_the_board_where_there_is_one() {
    let network = LiveNetwork::new(Sources::embedded().unwrap());
    let snapshot = board_at("2026-11-02 08:14:00");
    let plain = network.board(&snapshot);
    let now = plain.now.unwrap();
    assert_calls_run_forward(&plain);
    // Without predictions every call is the board's (or the timetable's, before a train's
    // first departure), and nothing says when a prediction was made.
    for call in plain.trains.iter().flat_map(|t| &t.calls) {
        assert_ne!(call.source, CallSource::Predicted);
        assert!(call.issued_at.is_none() && call.uncertainty_s.is_none());
    }
    assert_eq!(
        network.with_predicted_next_trains(&snapshot, &plain),
        snapshot,
        "no prediction, the board as it was"
    );

    // A train running between stations with three calls or more ahead: its second is
    // predicted six minutes later than the board says.
    let train = plain
        .trains
        .iter()
        .find(|t| t.to.is_some() && t.calls.len() >= 3 && !t.broken_down)
        .unwrap();
    let target = &train.calls[1];
    let (key, event) = learnt(train, target, 360, now);
    let mut table = PredictionTable::new();
    table.apply(&key, Some(&event));
    let board = network.board_with(&snapshot, Some(&table));
    assert_calls_run_forward(&board);
    let live = board.trains.iter().find(|t| t.id == train.id).unwrap();
    // The call before is the board's; the predicted one is the prediction's, to the second.
    assert_eq!(live.calls[0], train.calls[0]);
    let call = &live.calls[1];
    assert_eq!(call.source, CallSource::Predicted);
    assert_eq!(call.arrival.0, target.arrival.0 + 360_000);
    assert_eq!(call.departure.0, call.arrival.0 + 40_000);
    assert_eq!(call.uncertainty_s, Some(75));
    assert_eq!(call.issued_at, Some(SimTime(now.0 - 60_000)));
    // The calls after it count on from it: the train cannot make up six minutes by itself.
    assert_eq!(live.calls[2].source, CallSource::Board);
    assert!(live.calls[2].arrival.0 >= call.departure.0);
    // Every other train is as it was.
    for other in board.trains.iter().filter(|t| t.id != train.id) {
        let before = plain.trains.iter().find(|t| t.id == other.id).unwrap();
        assert_eq!(other, before);
    }
    // A prediction of another trip at the platform (the vehicle's next) is not this call's.
    let mut other_trip = event.clone();
    other_trip.trip_id = "another-trip".into();
    let mut table_other = PredictionTable::new();
    table_other.apply(&key, Some(&other_trip));
    assert_eq!(network.board_with(&snapshot, Some(&table_other)), plain);

    // GTFS-realtime: arrival and departure, their delays against the schedule and the
    // prediction's uncertainty.
    let updates = realtime::trip_updates(&board);
    let update = updates
        .entity
        .iter()
        .filter_map(|e| e.trip_update.as_ref())
        .find(|u| u.vehicle.as_ref().and_then(|v| v.id.as_deref()) == Some(train.id.as_str()))
        .unwrap();
    let stu = update
        .stop_time_update
        .iter()
        .find(|u| u.stop_id() == target.stop_id.to_string())
        .unwrap();
    let arrival = stu.arrival.as_ref().unwrap();
    let departure = stu.departure.as_ref().unwrap();
    assert_eq!(arrival.uncertainty, Some(75));
    assert_eq!(departure.uncertainty, Some(75));
    assert_eq!(
        arrival.time,
        Some(posix_seconds(call.arrival).unwrap() as i64)
    );
    assert_eq!(departure.time.unwrap() - arrival.time.unwrap(), 40);
    assert_eq!(
        arrival.delay,
        Some(((call.arrival.0 - call.scheduled.unwrap().0) / 1000) as i32)
    );
    for stu in update
        .stop_time_update
        .iter()
        .filter(|u| u.stop_id() != target.stop_id.to_string())
    {
        assert!(stu.departure.is_some(), "a departure at every stop");
        assert_eq!(stu.arrival.as_ref().unwrap().uncertainty, None);
    }

    // Train Tracker: the prediction's arrival, when it was made, late by six minutes or more.
    let rn = tracker::run_number(train.line, train.run);
    let answer = tracker::answer(
        &network,
        &board,
        Endpoint::Follow,
        &format!("runnumber={rn}&outputType=JSON"),
    );
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    let etas = body["ctatt"]["eta"].as_array().unwrap();
    let target_stop = target.stop_id.to_string();
    let first_stop = train.calls[0].stop_id.to_string();
    let eta = etas
        .iter()
        .find(|e| e["stpId"].as_str() == Some(target_stop.as_str()))
        .unwrap();
    let local = |t: SimTime| {
        t.to_naive()
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string()
    };
    assert_eq!(eta["arrT"], local(call.arrival));
    assert_eq!(eta["prdt"], local(SimTime(now.0 - 60_000)));
    assert_eq!(eta["isSch"], "0");
    let late = (call.arrival.0 - call.scheduled.unwrap().0) / 1000;
    assert_eq!(
        eta["isDly"],
        if late >= tracker::DELAYED_S { "1" } else { "0" },
        "{late} s late"
    );
    // The call before is the board's, made now.
    let first = etas
        .iter()
        .find(|e| e["stpId"].as_str() == Some(first_stop.as_str()))
        .unwrap();
    assert_eq!(first["prdt"], local(now));
    let arrivals = tracker::answer(
        &network,
        &board,
        Endpoint::Arrivals,
        &format!("stpid={}&outputType=JSON", target.stop_id),
    );
    assert!(
        arrivals.body.contains(&local(call.arrival)),
        "{}",
        arrivals.body
    );

    // The board's "N min" at that platform: the earliest of the predicted train and the
    // board's own next train there.
    let predicted = network.with_predicted_next_trains(&snapshot, &board);
    let view = predicted
        .lines
        .iter()
        .find(|l| l.line == train.line)
        .unwrap();
    let station = view
        .stations
        .iter()
        .find(|s| s.station_id == target.station_id)
        .unwrap();
    let before = snapshot
        .lines
        .iter()
        .find(|l| l.line == train.line)
        .and_then(|l| {
            l.stations
                .iter()
                .find(|s| s.station_id == target.station_id)
        })
        .unwrap();
    let (next, was) = match train.direction {
        Direction::A => (station.next_a.as_ref(), before.next_a.as_ref()),
        Direction::B => (station.next_b.as_ref(), before.next_b.as_ref()),
    };
    let next = next.unwrap();
    let predicted_s = ((call.arrival.0 - now.0) / 1000) as u32;
    match was {
        Some(was) if was.id != train.id && was.seconds < predicted_s => assert_eq!(next, was),
        _ => {
            assert_eq!(next.id, train.id);
            assert_eq!(next.seconds, predicted_s);
            assert_eq!(next.minutes, predicted_s / 60);
        }
    }
    // The other platforms are the board's.
    let changed = predicted
        .lines
        .iter()
        .zip(&snapshot.lines)
        .flat_map(|(a, b)| a.stations.iter().zip(&b.stations))
        .filter(|(a, b)| a != b)
        .count();
    assert!(changed <= 1, "{changed} stations changed");
}
