//! CTA's trains as any agency's vehicles: every call the simulation makes on a scheduled trip,
//! named by the static feed, is an arrival of a trip and stop of the date's service day, at
//! the scheduled times it gives.

use std::collections::{BTreeSet, HashMap};

use transit_core::model::StationId;
use transit_core::model::TrainStatus;
use transit_core::network::calls::{NameCalls, TrainCall};
use transit_gtfs::vehicles::{self, CallNames};
use transit_gtfs::Sources;
use transit_sim::{SimConfig, SimTime, TickEvents};

#[test]
fn every_call_of_a_simulated_hour_is_a_trip_and_stop_of_the_service_day() {
    let sources = Sources::embedded().unwrap();
    let config = SimConfig {
        tick: std::time::Duration::from_secs(30),
        ..SimConfig::default()
    };
    let date = config.start.date().unwrap();
    let day = vehicles::service_day(&sources, date).unwrap();
    assert_eq!(day.date, date);
    let names = CallNames::new(sources);
    let trips: HashMap<&str, usize> = day
        .trips
        .iter()
        .enumerate()
        .map(|(i, trip)| (trip.trip_id.as_str(), i))
        .collect();

    // From 05:00 (trains come out) to 08:00; the hour checked is 07:00 to 08:00.
    let mut sim = transit_sim::testing::simulation(config);
    let from: SimTime = "2026-11-02 07:00:00".parse().unwrap();
    let until: SimTime = "2026-11-02 08:00:00".parse().unwrap();
    let mut tick = TickEvents::default();
    let (mut events, mut scheduled_arrivals) = (Vec::new(), 0);
    while sim.now() < until {
        sim.step(&mut tick);
        if sim.now() <= from {
            continue;
        }
        scheduled_arrivals += tick
            .arrivals
            .iter()
            .filter(|a| a.train_status == TrainStatus::InService && a.scheduled_time.is_some())
            .count();
        for call in &tick.calls {
            let event = names.vehicle_arrival(call);
            assert!(event.is_some(), "{call:?} is not named");
            events.extend(event);
        }
    }
    // One call per arrival in revenue service on a trip, every one named.
    assert_eq!(events.len(), scheduled_arrivals);
    assert!(events.len() > 1_000, "{} arrivals", events.len());

    for event in &events {
        let trip = &day.trips[*trips
            .get(event.trip_id.as_str())
            .unwrap_or_else(|| panic!("{} is not in the service day", event.trip_id))];
        assert_eq!(trip.route.as_str(), event.route_id);
        assert_eq!(trip.direction_id.map(i32::from), event.direction_id);
        let stop = trip.stops[event.stop_sequence as usize];
        assert_eq!(
            day.stops[stop.stop.0 as usize].id, event.stop_id,
            "{event:?}"
        );
        assert_eq!(
            day.unix_s(stop.arrival_s) * 1_000,
            event.scheduled_arrival_time
        );
        assert_eq!(
            day.unix_s(stop.departure_s) * 1_000,
            event.scheduled_departure_time
        );
        assert_eq!(event.start_date, "20261102");
        assert!(event.departure_time >= event.arrival_time);
        // A train is at most minutes off its schedule, in real instants (UTC).
        assert!(event.delay_s().abs() < 30 * 60, "{event:?}");
    }
    // A call the feed's schedule does not describe (another ridership, another network) is
    // not named.
    let call = *tick.calls.first().expect("calls in the last tick");
    assert!(names.vehicle_arrival(&call).is_some());
    let off_schedule = TrainCall {
        scheduled_arrival: SimTime(call.scheduled_arrival.0 + 60_000),
        ..call
    };
    assert!(names.vehicle_arrival(&off_schedule).is_none());
    let elsewhere = TrainCall {
        station_id: StationId(call.station_id.0 + 1),
        ..call
    };
    assert!(names.vehicle_arrival(&elsewhere).is_none());

    // Every line, and its trains by their ids.
    let routes: BTreeSet<&str> = events.iter().map(|e| e.route_id.as_str()).collect();
    assert_eq!(routes, BTreeSet::from(["Blue", "G", "Red"]));
    assert!(events.iter().any(|e| e.vehicle_id.starts_with("BL")));
}
