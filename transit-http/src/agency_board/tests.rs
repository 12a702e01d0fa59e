//! The read model's placing of trains and the patterns of a route, over a small day: one
//! route of four stops with a local pattern run both ways and an express skipping a stop.

use std::sync::Arc;

use chrono::NaiveDate;
use transit_core::event::{PredictionEvent, PredictionKey, VehicleArrivalEvent};
use transit_core::model::{LineId, Rgb, Route};
use transit_core::network::service_day::{
    ScheduledStop, ScheduledTrip, ServiceDay, StopIndex, StopPlace, TripIndex, Vehicle,
    VehicleIndex,
};

use super::{AgencyBoard, AgencyNetwork, MapShape};

const START_UNIX_S: i64 = 1_800_000_000;

fn trip(id: &str, vehicle: u32, stops: &[u32], from_s: u32) -> ScheduledTrip {
    ScheduledTrip {
        trip_id: id.into(),
        route: LineId::from_static("L"),
        direction_id: None,
        frequency_start_s: None,
        exact_times: false,
        shape_id: Some("shape".into()),
        vehicle: VehicleIndex(vehicle),
        stops: stops
            .iter()
            .enumerate()
            .map(|(k, &stop)| ScheduledStop {
                stop: StopIndex(stop),
                arrival_s: from_s + 120 * k as u32,
                departure_s: from_s + 120 * k as u32 + 30,
                stop_sequence: k as u32 + 1,
            })
            .collect(),
    }
}

fn board() -> AgencyBoard {
    let date = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default();
    let stops = (0..4)
        .map(|s| StopPlace {
            id: format!("s{s}"),
            name: format!("Stop {s}"),
            location: Some((40.0 + f64::from(s) * 0.01, -74.0)),
            parent: None,
        })
        .collect();
    let trips = vec![
        trip("local-1", 0, &[0, 1, 2, 3], 0),
        trip("local-2", 1, &[3, 2, 1, 0], 60),
        trip("express", 2, &[0, 2, 3], 120),
    ];
    let vehicles = (0..3)
        .map(|v| Vehicle {
            id: format!("v{v}"),
            trips: vec![TripIndex(v)],
        })
        .collect();
    let day = ServiceDay {
        timezone: "America/New_York".into(),
        requested: date,
        date,
        start_unix_s: START_UNIX_S,
        routes: vec![Route {
            id: LineId::from_static("L"),
            short_name: "L".into(),
            long_name: "The line".into(),
            route_type: 1,
            color: Rgb([0xFF, 0xD7, 0x00]),
            text_color: Rgb::WHITE,
        }],
        stops,
        trips,
        vehicles,
    };
    AgencyBoard::new(AgencyNetwork {
        name: "Test".into(),
        day: Arc::new(day),
        shapes: vec![MapShape {
            id: "shape".into(),
            points: (0..=30)
                .map(|k| (40.0 + f64::from(k) * 0.001, -74.0))
                .collect(),
        }],
    })
}

fn arrival(vehicle: &str, trip: &str, stop: &str, sequence: u32, at_s: i64) -> VehicleArrivalEvent {
    let ms = (START_UNIX_S + at_s) * 1_000;
    VehicleArrivalEvent {
        route_id: "L".into(),
        trip_id: trip.into(),
        start_date: "20261207".into(),
        start_time: None,
        direction_id: None,
        stop_id: stop.into(),
        stop_sequence: sequence,
        vehicle_id: vehicle.into(),
        arrival_time: ms,
        departure_time: ms + 30_000,
        scheduled_arrival_time: ms,
        scheduled_departure_time: ms + 30_000,
        boarded: 0,
        alighted: 0,
    }
}

#[test]
fn patterns_merge_a_sequence_and_its_reverse_the_most_run_first() {
    let board = board();
    let patterns = &board.fixed.patterns[0];
    assert_eq!(patterns.len(), 2);
    assert_eq!(patterns[0].trips, 2);
    assert_eq!(
        patterns[0].stops,
        [0, 1, 2, 3].map(StopIndex).to_vec(),
        "the local, as its first trip runs it"
    );
    assert_eq!(patterns[1].stops, [0, 2, 3].map(StopIndex).to_vec());
}

#[test]
fn a_train_is_at_its_stop_until_it_leaves_then_between_it_and_the_next() {
    let board = board();
    assert!(board.apply(&arrival("v0", "local-1", "s1", 1, 120)));
    let (_, placed) = board.placed();
    assert_eq!(placed.len(), 1);
    assert!(placed[0].at_stop);
    assert_eq!(placed[0].position, 1.0);
    assert_eq!(placed[0].stop_name, "Stop 1");

    // Another train's record moves the board's clock past v0's departure.
    assert!(board.apply(&arrival("v1", "local-2", "s3", 0, 200)));
    let (now, placed) = board.placed();
    assert_eq!(now, (START_UNIX_S + 200) * 1_000);
    let v0 = placed.iter().find(|p| p.state.vehicle_id == "v0").unwrap();
    assert!(!v0.at_stop);
    assert_eq!(v0.position, 1.5);
    // Run backwards: its first stop is the pattern's last.
    let v1 = placed.iter().find(|p| p.state.vehicle_id == "v1").unwrap();
    assert!(v1.reversed && v1.at_stop);
    assert_eq!(v1.position, 3.0);
    assert!(v0.point.is_some() && v1.point.is_some(), "both on the map");

    // An older record of a vehicle does not move it back; a trip the day lacks is not shown.
    assert!(board.apply(&arrival("v0", "local-1", "s0", 0, 0)));
    assert!(!board.apply(&arrival("v9", "nope", "s0", 0, 0)));
    let (_, placed) = board.placed();
    assert_eq!(placed.len(), 2);
    let v0 = placed.iter().find(|p| p.state.vehicle_id == "v0").unwrap();
    assert_eq!(v0.state.stop_sequence, 1);
}

#[test]
fn a_finished_trip_leaves_the_board_two_minutes_after_its_last_departure() {
    let board = board();
    board.apply(&arrival("v2", "express", "s3", 2, 360));
    assert_eq!(board.placed().1.len(), 1);
    board.apply(&arrival("v0", "local-1", "s0", 0, 360 + 30 + 120));
    assert_eq!(board.placed().1.len(), 2, "two minutes after: still shown");
    board.apply(&arrival("v0", "local-1", "s1", 1, 360 + 30 + 121));
    let (_, placed) = board.placed();
    assert_eq!(
        placed
            .iter()
            .map(|p| p.state.vehicle_id.as_str())
            .collect::<Vec<_>>(),
        ["v0"]
    );
}

fn predicted(vehicle: &str, trip: &str, stop: &str, sequence: u32, at_s: i64) -> PredictionEvent {
    let ms = (START_UNIX_S + at_s) * 1_000;
    PredictionEvent {
        vehicle_id: vehicle.into(),
        stop_id: stop.into(),
        method: "learnt".into(),
        route_id: "L".into(),
        trip_id: trip.into(),
        start_date: "20261207".into(),
        start_time: None,
        direction_id: None,
        stop_sequence: sequence,
        predicted_arrival_time: ms,
        predicted_departure_time: ms + 30_000,
        scheduled_arrival_time: ms,
        uncertainty_s: Some(45),
        issued_at: START_UNIX_S * 1_000,
        source_partition: 0,
        source_offset: 0,
    }
}

fn key_of(p: &PredictionEvent) -> PredictionKey {
    PredictionKey {
        vehicle_id: p.vehicle_id.clone(),
        stop_id: p.stop_id.clone(),
        method: p.method.clone(),
    }
}

#[test]
fn the_stops_say_in_how_many_minutes_the_predicted_trains_are_due() {
    let board = board();
    board.apply(&arrival("v0", "local-1", "s0", 0, 0));
    let at_s1 = predicted("v0", "local-1", "s1", 1, 150);
    let at_s2 = predicted("v0", "local-1", "s2", 2, 20);
    let mut baseline = predicted("v0", "local-1", "s3", 3, 600);
    baseline.method = "timetable".into();
    for p in [&at_s1, &at_s2, &baseline] {
        board.apply_prediction(&key_of(p), Some(p));
    }
    let due = board.due(Some(0));
    let labels = |stop: u32| -> Vec<String> {
        due.get(&(0, StopIndex(stop)))
            .map(|trains| trains.iter().map(super::Due::label).collect())
            .unwrap_or_default()
    };
    assert_eq!(labels(1), ["2 min"]);
    assert_eq!(labels(2), ["Due"]);
    assert!(
        labels(3).is_empty(),
        "a baseline's prediction is not served"
    );
    let diagram =
        super::view::diagram(&board.fixed, Some(0), &board.placed().1, &due).into_string();
    assert!(diagram.contains("2 min"), "{diagram}");

    let (now, arrivals) = board.arrivals_at("s1");
    assert_eq!(now, START_UNIX_S * 1_000);
    assert_eq!(arrivals.len(), 1);
    assert_eq!(arrivals[0].uncertainty_s, Some(45));

    // Withdrawn: the stop no longer says it.
    board.apply_prediction(&key_of(&at_s1), None);
    assert!(board.due(Some(0)).get(&(0, StopIndex(1))).is_none());
    assert!(board.arrivals_at("s1").1.is_empty());
    assert_eq!(board.predictions_applied(), 3);
}
