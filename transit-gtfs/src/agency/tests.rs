use std::sync::Arc;

use chrono::NaiveDate;
use transit_core::event::{TripCancellation, VehicleArrivalEvent};
use transit_core::model::{LineId, Rgb, Route};
use transit_core::network::service_day::{
    ScheduledStop, ScheduledTrip, ServiceDay, StopIndex, StopPlace, TripIndex, Vehicle,
    VehicleIndex,
};

use super::*;
use crate::realtime::proto::trip_update::stop_time_update;

const START: i64 = 1_800_000_000;

fn stop(id: &str, location: Option<(f64, f64)>) -> StopPlace {
    StopPlace {
        id: id.into(),
        name: id.into(),
        location,
        parent: None,
    }
}

/// One route, three stops 0.01° of latitude apart; trip `T1` (its own schedule, sequences 5,
/// 10, 20) at 08:00, 08:05, 08:10 with a minute's dwell in the middle, and trip `F` a frequency
/// instance at 09:00 (`exact_times` as asked).
fn day(exact_times: bool) -> Arc<ServiceDay> {
    let route = LineId::new("R").unwrap();
    let h = 3_600;
    let at = |stop, arrival_s, departure_s, stop_sequence| ScheduledStop {
        stop: StopIndex(stop),
        arrival_s,
        departure_s,
        stop_sequence,
    };
    let trip = |trip_id: &str, frequency_start_s, stops| ScheduledTrip {
        trip_id: trip_id.into(),
        route,
        direction_id: Some(0),
        frequency_start_s,
        exact_times,
        shape_id: None,
        vehicle: VehicleIndex(0),
        stops,
    };
    let date = NaiveDate::from_ymd_opt(2027, 1, 15).unwrap();
    Arc::new(ServiceDay {
        timezone: "America/New_York".into(),
        requested: date,
        date,
        start_unix_s: START,
        routes: vec![Route {
            id: route,
            short_name: "R".into(),
            long_name: String::new(),
            route_type: 3,
            color: Rgb::WHITE,
            text_color: Rgb::BLACK,
        }],
        stops: vec![
            stop("A", Some((40.0, -74.0))),
            stop("B", Some((40.01, -74.0))),
            stop("C", Some((40.02, -74.0))),
        ],
        trips: vec![
            trip(
                "T1",
                None,
                vec![
                    at(0, 8 * h, 8 * h, 5),
                    at(1, 8 * h + 300, 8 * h + 360, 10),
                    at(2, 8 * h + 660, 8 * h + 660, 20),
                ],
            ),
            trip(
                "F",
                Some(9 * h),
                vec![at(0, 9 * h, 9 * h, 1), at(2, 9 * h + 600, 9 * h + 600, 2)],
            ),
        ],
        vehicles: vec![Vehicle {
            id: "V1".into(),
            trips: vec![TripIndex(0), TripIndex(1)],
        }],
    })
}

fn ms(day: &ServiceDay, s: u32) -> i64 {
    day.unix_s(s) * 1_000
}

/// The vehicle's arrival at position `position` of `trip`, `late_s` late.
fn arrival(day: &ServiceDay, trip: usize, position: usize, late_s: i64) -> VehicleArrivalEvent {
    let t = &day.trips[trip];
    let s = &t.stops[position];
    VehicleArrivalEvent {
        route_id: "R".into(),
        trip_id: t.trip_id.clone(),
        start_date: "20270115".into(),
        start_time: t.frequency_start_s.map(gtfs_time),
        direction_id: Some(0),
        stop_id: day.stops[s.stop.0 as usize].id.clone(),
        stop_sequence: position as u32,
        vehicle_id: "V1".into(),
        arrival_time: ms(day, s.arrival_s) + late_s * 1_000,
        departure_time: ms(day, s.departure_s) + late_s * 1_000,
        scheduled_arrival_time: ms(day, s.arrival_s),
        scheduled_departure_time: ms(day, s.departure_s),
        boarded: 0,
        alighted: 0,
    }
}

#[test]
fn a_dwelling_vehicle_is_stopped_at_its_stop_by_the_feeds_sequence() {
    let day = day(false);
    let mut board = AgencyBoard::new(Arc::clone(&day));
    board.apply(&arrival(&day, 0, 1, 30)).unwrap();
    // 08:05:40, 30 s late: it stands at B until 08:06:30.
    let now = ms(&day, 8 * 3_600 + 340);
    let feed = board.vehicle_positions(now);
    assert_eq!(feed.header.timestamp, Some((now / 1_000) as u64));
    let vp = feed.entity[0].vehicle.as_ref().unwrap();
    assert_eq!(vp.current_status, Some(VehicleStopStatus::StoppedAt as i32));
    assert_eq!(vp.stop_id.as_deref(), Some("B"));
    assert_eq!(vp.current_stop_sequence, Some(10));
    let trip = vp.trip.as_ref().unwrap();
    assert_eq!(trip.trip_id.as_deref(), Some("T1"));
    assert_eq!(trip.route_id.as_deref(), Some("R"));
    assert_eq!(trip.start_date.as_deref(), Some("20270115"));
    assert_eq!(trip.start_time, None);
    let position = vp.position.as_ref().unwrap();
    assert!((f64::from(position.latitude) - 40.01).abs() < 1e-5);
}

#[test]
fn a_running_vehicle_is_placed_by_the_scheduled_run_time() {
    let day = day(false);
    let mut board = AgencyBoard::new(Arc::clone(&day));
    board.apply(&arrival(&day, 0, 1, 0)).unwrap();
    // Left B at 08:06; the run to C is 300 s; 75 s later it is a quarter of the way.
    let feed = board.vehicle_positions(ms(&day, 8 * 3_600 + 435));
    let vp = feed.entity[0].vehicle.as_ref().unwrap();
    assert_eq!(
        vp.current_status,
        Some(VehicleStopStatus::InTransitTo as i32)
    );
    assert_eq!(vp.stop_id.as_deref(), Some("C"));
    assert_eq!(vp.current_stop_sequence, Some(20));
    let position = vp.position.as_ref().unwrap();
    assert!((f64::from(position.latitude) - 40.0125).abs() < 1e-4);
    assert!(position.bearing.unwrap().abs() < 1e-3, "due north");
}

#[test]
fn predictions_are_the_schedule_plus_the_delay_never_in_the_past() {
    let day = day(false);
    let mut board = AgencyBoard::new(Arc::clone(&day));
    board.apply(&arrival(&day, 0, 0, 120)).unwrap();
    let now = ms(&day, 8 * 3_600 + 130);
    let feed = board.trip_updates(now);
    let update = feed.entity[0].trip_update.as_ref().unwrap();
    assert_eq!(update.delay, Some(120));
    let stops: Vec<_> = update
        .stop_time_update
        .iter()
        .map(|u| (u.stop_sequence, u.stop_id.as_deref()))
        .collect();
    assert_eq!(stops, [(Some(10), Some("B")), (Some(20), Some("C"))]);
    let b = &update.stop_time_update[0];
    assert_eq!(b.arrival.unwrap().time, Some(day.unix_s(8 * 3_600 + 420)));
    assert_eq!(b.arrival.unwrap().delay, Some(120));
    assert_eq!(b.departure.unwrap().time, Some(day.unix_s(8 * 3_600 + 480)));

    // Much later than the delay says, the next stop is due now, not in the past, and the
    // stops after it not before it.
    let late = ms(&day, 8 * 3_600 + 1_000);
    let feed = board.trip_updates(late);
    let update = feed.entity[0].trip_update.as_ref().unwrap();
    let mut previous = late / 1_000;
    for u in &update.stop_time_update {
        let (a, d) = (
            u.arrival.unwrap().time.unwrap(),
            u.departure.unwrap().time.unwrap(),
        );
        assert!(a >= previous && d >= a, "{a} {d} after {previous}");
        previous = d;
    }
}

#[test]
fn a_headway_only_frequency_trip_is_unscheduled_with_its_start_time() {
    let day = day(false);
    let mut board = AgencyBoard::new(Arc::clone(&day));
    board.apply(&arrival(&day, 1, 0, 0)).unwrap();
    let now = ms(&day, 9 * 3_600 + 10);
    let feed = board.trip_updates(now);
    let update = feed.entity[0].trip_update.as_ref().unwrap();
    assert_eq!(update.trip.start_time.as_deref(), Some("09:00:00"));
    assert_eq!(
        update.trip.schedule_relationship,
        Some(trip_descriptor::ScheduleRelationship::Unscheduled as i32)
    );
    assert_eq!(update.delay, None);
    for u in &update.stop_time_update {
        assert_eq!(
            u.schedule_relationship,
            Some(stop_time_update::ScheduleRelationship::Unscheduled as i32)
        );
        assert_eq!(u.arrival.unwrap().delay, None);
        assert!(u.arrival.unwrap().time.is_some());
    }

    let exact = self::day(true);
    let mut board = AgencyBoard::new(Arc::clone(&exact));
    board.apply(&arrival(&exact, 1, 0, 0)).unwrap();
    let feed = board.vehicle_positions(now);
    let trip = feed.entity[0]
        .vehicle
        .as_ref()
        .unwrap()
        .trip
        .as_ref()
        .unwrap();
    assert_eq!(
        trip.schedule_relationship,
        Some(trip_descriptor::ScheduleRelationship::Scheduled as i32)
    );
    assert_eq!(trip.start_time.as_deref(), Some("09:00:00"));
}

#[test]
fn a_vehicle_leaves_the_feeds_after_its_last_stop_and_the_next_trip_replaces_it() {
    let day = day(false);
    let mut board = AgencyBoard::new(Arc::clone(&day));
    board.apply(&arrival(&day, 0, 2, 0)).unwrap();
    let after = ms(&day, 8 * 3_600 + 700);
    assert!(board.vehicle_positions(after).entity.is_empty());
    assert!(board.trip_updates(after).entity.is_empty());
    // An older record replayed changes nothing.
    board.apply(&arrival(&day, 0, 1, 0)).unwrap();
    assert!(board.vehicle_positions(after).entity.is_empty());
    board.apply(&arrival(&day, 1, 0, 0)).unwrap();
    let feed = board.vehicle_positions(ms(&day, 9 * 3_600 + 60));
    assert_eq!(
        feed.entity[0]
            .vehicle
            .as_ref()
            .unwrap()
            .trip
            .as_ref()
            .unwrap()
            .trip_id
            .as_deref(),
        Some("F")
    );
}

#[test]
fn records_of_another_day_are_refused() {
    let day = day(false);
    let mut board = AgencyBoard::new(Arc::clone(&day));
    let mut event = arrival(&day, 0, 0, 0);
    event.trip_id = "nope".into();
    assert!(matches!(
        board.apply(&event),
        Err(AgencyError::UnknownTrip { .. })
    ));
    let mut event = arrival(&day, 1, 0, 0);
    event.start_time = Some("09:00:01".into());
    assert!(board.apply(&event).is_err());
    let mut event = arrival(&day, 0, 0, 0);
    event.start_date = "20270114".into();
    assert!(matches!(
        board.apply(&event),
        Err(AgencyError::OtherDay { .. })
    ));
    let mut event = arrival(&day, 0, 0, 0);
    event.stop_sequence = 3;
    assert!(matches!(
        board.apply(&event),
        Err(AgencyError::NoSuchStop { .. })
    ));
    assert_eq!(board.applied(), 0);
}

/// Trip `trip` of `day` cancelled at `announced_s`.
fn cancellation(day: &ServiceDay, trip: usize, announced_s: u32) -> TripCancellation {
    let t = &day.trips[trip];
    TripCancellation {
        route_id: "R".into(),
        trip_id: t.trip_id.clone(),
        start_date: "20270115".into(),
        start_time: t.frequency_start_s.map(gtfs_time),
        direction_id: Some(0),
        vehicle_id: "V1".into(),
        scheduled_start_time: ms(day, t.stops[0].departure_s),
        scheduled_end_time: ms(day, t.stops[t.stops.len() - 1].arrival_s),
        announced_time: ms(day, announced_s),
    }
}

#[test]
fn a_cancelled_trip_is_canceled_from_its_announcement_to_its_scheduled_end() {
    for predicted in [false, true] {
        let day = day(true);
        let mut board = AgencyBoard::new(Arc::clone(&day));
        if predicted {
            board = board.with_predictions();
        }
        let h = 3_600;
        for trip in [0, 1] {
            board
                .apply_cancellation(&cancellation(&day, trip, 7 * h + 50 * 60))
                .unwrap();
        }
        let cancelled_at = |s: u32| -> Vec<(String, Option<String>, Option<i32>, usize)> {
            board
                .trip_updates(ms(&day, s))
                .entity
                .into_iter()
                .filter_map(|e| {
                    let update = e.trip_update?;
                    Some((
                        e.id,
                        update.trip.start_time.clone(),
                        update.trip.schedule_relationship,
                        update.stop_time_update.len(),
                    ))
                })
                .collect()
        };
        let canceled = Some(trip_descriptor::ScheduleRelationship::Canceled as i32);
        // Not before it is announced.
        assert!(cancelled_at(7 * h + 49 * 60).is_empty());
        assert_eq!(
            cancelled_at(8 * h),
            vec![
                ("cancelled/T1".to_string(), None, canceled, 0),
                (
                    "cancelled/F/09:00:00".to_string(),
                    Some("09:00:00".to_string()),
                    canceled,
                    0
                ),
            ],
            "predicted: {predicted}"
        );
        // T1 was due to end at 08:11; F at 09:10.
        assert_eq!(cancelled_at(8 * h + 11 * 60).len(), 1);
        assert!(cancelled_at(9 * h + 10 * 60).is_empty());
    }
    // Another day's, or a trip the day does not have: refused.
    let day = day(true);
    let mut board = AgencyBoard::new(Arc::clone(&day));
    let mut other = cancellation(&day, 0, 0);
    other.start_date = "20270114".into();
    assert!(matches!(
        board.apply_cancellation(&other),
        Err(AgencyError::OtherDay { .. })
    ));
    let mut unknown = cancellation(&day, 0, 0);
    unknown.trip_id = "nope".into();
    assert!(matches!(
        board.apply_cancellation(&unknown),
        Err(AgencyError::UnknownTrip { .. })
    ));
}

#[test]
fn a_folder_feed_is_zipped_and_a_zip_served_as_given() {
    let dir = std::env::temp_dir().join(format!("agency-zip-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("stops.txt"), "stop_id\nA\n").unwrap();
    fs::write(dir.join("agency.txt"), "agency_id\nX\n").unwrap();
    fs::write(dir.join("notes.md"), "not a GTFS file").unwrap();
    let bytes = static_zip(&dir).unwrap();
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes.clone())).unwrap();
    let names: Vec<String> = (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    assert_eq!(names, ["agency.txt", "stops.txt"]);
    let file = dir.join("feed.zip");
    fs::write(&file, &bytes).unwrap();
    assert_eq!(static_zip(&file).unwrap(), bytes);
    assert!(matches!(
        static_zip(&dir.join("missing.zip")),
        Err(AgencyError::Read { .. })
    ));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_vehicle_follows_its_shape_between_stops() {
    // The shape runs east from A, then north, then west to B: an arch, not the straight line.
    let mut day = (*day(false)).clone();
    day.trips[0].shape_id = Some("arch".into());
    let day = Arc::new(day);
    let arch = vec![
        (40.0, -74.0),
        (40.0, -73.99),
        (40.01, -73.99),
        (40.01, -74.0),
        (40.02, -74.0),
    ];
    let mut board = AgencyBoard::new(Arc::clone(&day)).with_shapes([("arch".into(), arch)]);
    board.apply(&arrival(&day, 0, 0, 0)).unwrap();
    // Half the run from A to B: half the arch's length from A, on its northward side.
    let feed = board.vehicle_positions(ms(&day, 8 * 3_600 + 150));
    let position = feed.entity[0].vehicle.as_ref().unwrap().position.unwrap();
    assert!(
        (f64::from(position.longitude) + 73.99).abs() < 1e-4,
        "{position:?}"
    );
    assert!(
        (f64::from(position.latitude) - 40.005).abs() < 1e-3,
        "{position:?}"
    );
    assert!(position.bearing.unwrap().abs() < 1e-3, "heading north");
    // A shape that does not reach the stops in order leaves the straight line.
    let mut board = AgencyBoard::new(Arc::clone(&day))
        .with_shapes([("arch".into(), vec![(40.01, -74.0), (40.0, -74.0)])]);
    board.apply(&arrival(&day, 0, 0, 0)).unwrap();
    let feed = board.vehicle_positions(ms(&day, 8 * 3_600 + 150));
    let position = feed.entity[0].vehicle.as_ref().unwrap().position.unwrap();
    assert!(
        (f64::from(position.longitude) + 74.0).abs() < 1e-5,
        "{position:?}"
    );
}

/// The `learnt` prediction of vehicle V1 at position `position` of `trip`, `late_s` late
/// arriving and leaving after the scheduled dwell.
fn predicted(day: &ServiceDay, trip: usize, position: usize, late_s: i64) -> PredictionEvent {
    let t = &day.trips[trip];
    let s = &t.stops[position];
    PredictionEvent {
        vehicle_id: "V1".into(),
        stop_id: day.stops[s.stop.0 as usize].id.clone(),
        method: "learnt".into(),
        route_id: "R".into(),
        trip_id: t.trip_id.clone(),
        start_date: "20270115".into(),
        start_time: t.frequency_start_s.map(gtfs_time),
        direction_id: Some(0),
        stop_sequence: position as u32,
        predicted_arrival_time: ms(day, s.arrival_s) + late_s * 1_000,
        predicted_departure_time: ms(day, s.departure_s) + late_s * 1_000,
        scheduled_arrival_time: ms(day, s.arrival_s),
        uncertainty_s: Some(40 + position as i32),
        issued_at: ms(day, 8 * 3_600),
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
fn trip_updates_are_the_learnt_predictions_with_departures_and_uncertainty() {
    let day = day(false);
    let mut board = AgencyBoard::new(Arc::clone(&day)).with_predictions();
    board.apply(&arrival(&day, 0, 0, 60)).unwrap();
    let b = predicted(&day, 0, 1, 90);
    let c = predicted(&day, 0, 2, 150);
    // A baseline's prediction is not served.
    let mut baseline = predicted(&day, 0, 2, 0);
    baseline.method = "timetable".into();
    for p in [&b, &c, &baseline] {
        board.apply_prediction(&key_of(p), Some(p));
    }
    let now = ms(&day, 8 * 3_600 + 90);
    let feed = board.trip_updates(now);
    assert_eq!(feed.entity.len(), 1);
    assert_eq!(feed.entity[0].id, "V1");
    let update = feed.entity[0].trip_update.as_ref().unwrap();
    assert_eq!(update.trip.trip_id.as_deref(), Some("T1"));
    assert_eq!(update.vehicle.as_ref().unwrap().id.as_deref(), Some("V1"));
    assert_eq!(update.delay, Some(90));
    let stops: Vec<_> = update
        .stop_time_update
        .iter()
        .map(|u| (u.stop_sequence, u.stop_id.as_deref()))
        .collect();
    assert_eq!(stops, [(Some(10), Some("B")), (Some(20), Some("C"))]);
    let at_b = &update.stop_time_update[0];
    let (arrival, departure) = (at_b.arrival.unwrap(), at_b.departure.unwrap());
    assert_eq!(arrival.time, Some(day.unix_s(8 * 3_600 + 300) + 90));
    assert_eq!(arrival.delay, Some(90));
    assert_eq!(arrival.uncertainty, Some(41));
    // The departure is the predicted departure, not the arrival.
    assert_eq!(departure.time, Some(day.unix_s(8 * 3_600 + 360) + 90));
    assert_eq!(departure.delay, Some(90));
    assert_eq!(departure.uncertainty, Some(41));
    let at_c = &update.stop_time_update[1];
    assert_eq!(at_c.arrival.unwrap().delay, Some(150));
    assert_eq!(at_c.arrival.unwrap().uncertainty, Some(42));

    // Withdrawn at B (the vehicle got there): B leaves the feed; then C, and the trip with it.
    board.apply_prediction(&key_of(&b), None);
    let feed = board.trip_updates(now);
    let update = feed.entity[0].trip_update.as_ref().unwrap();
    assert_eq!(update.stop_time_update.len(), 1);
    assert_eq!(update.stop_time_update[0].stop_id.as_deref(), Some("C"));
    board.apply_prediction(&key_of(&c), None);
    assert!(board.trip_updates(now).entity.is_empty());
}

#[test]
fn predicted_times_are_never_in_the_past_nor_decreasing() {
    let day = day(false);
    let mut board = AgencyBoard::new(Arc::clone(&day)).with_predictions();
    board.apply(&arrival(&day, 0, 0, 0)).unwrap();
    let b = predicted(&day, 0, 1, 0);
    // C predicted (wrongly) before B's departure.
    let mut c = predicted(&day, 0, 2, 0);
    c.predicted_arrival_time = b.predicted_arrival_time + 10_000;
    c.predicted_departure_time = c.predicted_arrival_time;
    for p in [&b, &c] {
        board.apply_prediction(&key_of(p), Some(p));
    }
    // Later than B's predicted arrival: B is due now.
    let now = b.predicted_arrival_time + 30_000;
    let feed = board.trip_updates(now);
    let update = feed.entity[0].trip_update.as_ref().unwrap();
    let mut previous = now / 1_000;
    for u in &update.stop_time_update {
        let (a, d) = (
            u.arrival.unwrap().time.unwrap(),
            u.departure.unwrap().time.unwrap(),
        );
        assert!(a >= previous && d >= a, "{a} {d} after {previous}");
        previous = d;
    }
}

#[test]
fn a_vehicles_next_trip_is_served_under_its_own_entity_and_unscheduled_without_delays() {
    let day = day(false);
    let mut board = AgencyBoard::new(Arc::clone(&day)).with_predictions();
    board.apply(&arrival(&day, 0, 1, 0)).unwrap();
    let c = predicted(&day, 0, 2, 0);
    // Its next trip's first stop (a vehicle has one prediction per stop: its next visit).
    let next = predicted(&day, 1, 0, 30);
    for p in [&c, &next] {
        board.apply_prediction(&key_of(p), Some(p));
    }
    let feed = board.trip_updates(ms(&day, 8 * 3_600 + 400));
    let ids: Vec<&str> = feed.entity.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["V1/F/09:00:00", "V1"]);
    let frequency = feed.entity[0].trip_update.as_ref().unwrap();
    assert_eq!(frequency.trip.start_time.as_deref(), Some("09:00:00"));
    assert_eq!(
        frequency.trip.schedule_relationship,
        Some(trip_descriptor::ScheduleRelationship::Unscheduled as i32)
    );
    let u = &frequency.stop_time_update[0];
    assert_eq!(u.arrival.unwrap().delay, None);
    assert_eq!(u.arrival.unwrap().uncertainty, Some(40));
    assert_eq!(u.stop_sequence, Some(1));
}

#[test]
fn a_board_without_predictions_ignores_the_table() {
    let day = day(false);
    let mut board = AgencyBoard::new(Arc::clone(&day));
    let b = predicted(&day, 0, 1, 90);
    assert!(!board.apply_prediction(&key_of(&b), Some(&b)));
    assert!(board.predictions().is_none());
}

#[test]
fn a_vehicle_is_incoming_by_its_learnt_prediction() {
    let day = day(false);
    let mut board = AgencyBoard::new(Arc::clone(&day)).with_predictions();
    board.apply(&arrival(&day, 0, 1, 0)).unwrap();
    // Left B at 08:06 on time; the timetable has C at 08:11, the predictor at 08:14.
    let at_c = predicted(&day, 0, 2, 180);
    board.apply_prediction(&key_of(&at_c), Some(&at_c));
    let status = |board: &AgencyBoard, s: u32| {
        board.vehicle_positions(ms(&day, s)).entity[0]
            .vehicle
            .as_ref()
            .unwrap()
            .current_status
    };
    // 08:10:30: due by the timetable, three and a half minutes out by the prediction.
    let half_past_ten = 8 * 3_600 + 630;
    assert_eq!(
        status(&board, half_past_ten),
        Some(VehicleStopStatus::InTransitTo as i32)
    );
    board.apply_prediction(&key_of(&at_c), None);
    assert_eq!(
        status(&board, half_past_ten),
        Some(VehicleStopStatus::IncomingAt as i32)
    );
}
