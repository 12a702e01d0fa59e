//! Which changes the predictor issues: a prediction that moved by less than its resolution
//! (`PredictConfig::issue_resolution_ms`, growing by `issue_resolution_per_minute_ms` with
//! each minute it is ahead) stays as the table holds it; one that moved by more, or any move
//! with a resolution of 0, is issued again.

use std::sync::Arc;

use chrono::NaiveDate;
use transit_core::event::VehicleArrivalEvent;
use transit_core::model::{LineId, Rgb, Route};
use transit_core::network::service_day::*;
use transit_predict::model::{Issue, Issued, Method, PredictConfig, Predictor};
use transit_predict::timetable::Timetable;

const START_UNIX_S: i64 = 1_736_744_400;

/// One vehicle's trip over stops a, b, c, 5 minutes apart, from 06:00.
fn day() -> ServiceDay {
    let route = LineId::new("S").unwrap();
    let stop = |id: &str| StopPlace {
        id: id.into(),
        name: id.into(),
        location: None,
        parent: None,
    };
    let at = |stop: u32| ScheduledStop {
        stop: StopIndex(stop),
        arrival_s: 6 * 3_600 + stop * 300,
        departure_s: 6 * 3_600 + stop * 300,
        stop_sequence: stop,
    };
    let date = NaiveDate::from_ymd_opt(2025, 1, 13).unwrap();
    ServiceDay {
        timezone: "America/New_York".into(),
        requested: date,
        date,
        start_unix_s: START_UNIX_S,
        routes: vec![Route {
            id: route,
            short_name: "S".into(),
            long_name: String::new(),
            route_type: 3,
            color: Rgb::WHITE,
            text_color: Rgb::BLACK,
        }],
        stops: vec![stop("a"), stop("b"), stop("c")],
        trips: vec![ScheduledTrip {
            trip_id: "t0".into(),
            route,
            direction_id: Some(0),
            frequency_start_s: None,
            exact_times: false,
            shape_id: None,
            vehicle: VehicleIndex(0),
            stops: vec![at(0), at(1), at(2)],
        }],
        vehicles: vec![Vehicle {
            id: "v0".into(),
            trips: vec![TripIndex(0)],
        }],
    }
}

/// The vehicle at stop `stop`, `late_ms` behind the timetable.
fn arrival(stop: u32, late_ms: i64) -> VehicleArrivalEvent {
    let scheduled = (START_UNIX_S + i64::from(6 * 3_600 + stop * 300)) * 1_000;
    VehicleArrivalEvent {
        route_id: "S".into(),
        trip_id: "t0".into(),
        start_date: "20250113".into(),
        start_time: None,
        direction_id: Some(0),
        stop_id: ["a", "b", "c"][stop as usize].into(),
        stop_sequence: stop,
        vehicle_id: "v0".into(),
        arrival_time: scheduled + late_ms,
        departure_time: scheduled + late_ms,
        scheduled_arrival_time: scheduled,
        scheduled_departure_time: scheduled,
        boarded: 0,
        alighted: 0,
    }
}

/// The "timetable + delay" predictions of stop c issued by the arrival at b, after the one
/// at a was 120 s late and the one at b `late_at_b_ms` late: c is then 5 minutes ahead.
fn delay_at_c_issued(resolution_ms: u32, per_minute_ms: u32, late_at_b_ms: i64) -> Vec<i64> {
    let config = PredictConfig {
        issue_resolution_ms: resolution_ms,
        issue_resolution_per_minute_ms: per_minute_ms,
        ..PredictConfig::default()
    };
    let mut predictor = Predictor::new(Arc::new(Timetable::new(Arc::new(day()))), config);
    let mut issued = Issued::default();
    predictor
        .observe(0, 0, &arrival(0, 120_000), &mut issued)
        .unwrap();
    let mut issued = Issued::default();
    predictor
        .observe(0, 1, &arrival(1, late_at_b_ms), &mut issued)
        .unwrap();
    issued
        .changes
        .iter()
        .filter_map(|change| match change {
            Issue::Upsert(p) if p.method == Method::Delay.as_str() && p.stop_id == "c" => {
                Some(p.predicted_arrival_time)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_prediction_is_issued_again_only_when_it_moved_by_the_resolution() {
    let scheduled_c = (START_UNIX_S + 6 * 3_600 + 600) * 1_000;
    // 2 s later at b: below 5 s, the table keeps what it holds; with 0, issued.
    assert_eq!(delay_at_c_issued(5_000, 0, 122_000), Vec::<i64>::new());
    assert_eq!(
        delay_at_c_issued(0, 0, 122_000),
        vec![scheduled_c + 122_000]
    );
    // 10 s later: issued either way.
    assert_eq!(
        delay_at_c_issued(5_000, 0, 130_000),
        vec![scheduled_c + 130_000]
    );
    // A move of exactly the resolution is issued.
    assert_eq!(
        delay_at_c_issued(5_000, 0, 125_000),
        vec![scheduled_c + 125_000]
    );
}

#[test]
fn further_ahead_a_prediction_is_issued_again_only_when_it_moved_by_more() {
    let scheduled_c = (START_UNIX_S + 6 * 3_600 + 600) * 1_000;
    // c is 5 minutes ahead: at 3 s a minute, its resolution is 15 s, above the 5 s floor.
    assert_eq!(delay_at_c_issued(5_000, 3_000, 130_000), Vec::<i64>::new());
    assert_eq!(
        delay_at_c_issued(5_000, 3_000, 135_000),
        vec![scheduled_c + 135_000]
    );
    // The defaults: 1 s a minute is 5 s at 5 minutes, the floor.
    let defaults = PredictConfig::default();
    assert_eq!(
        delay_at_c_issued(
            defaults.issue_resolution_ms,
            defaults.issue_resolution_per_minute_ms,
            125_000
        ),
        vec![scheduled_c + 125_000]
    );
    assert_eq!(defaults.issue_resolution_at(20 * 60_000), 20_000);
    assert_eq!(defaults.issue_resolution_at(2 * 60_000), 5_000);
    assert_eq!(defaults.issue_resolution_at(-60_000), 5_000);
}
