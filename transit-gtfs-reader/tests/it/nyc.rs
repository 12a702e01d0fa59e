//! NYC subway lines 1 and 2 (gtfs-kit's `data/nyc_subway_gtfs.zip`).

use chrono::{Datelike, Weekday};
use transit_gtfs_reader::{Feed, LocationType, ReadOptions, Rgb};

use crate::{date, feed_path};

fn nyc() -> Feed {
    Feed::read(feed_path("nyc_subway_gtfs.zip"), &ReadOptions::default()).expect("NYC reads")
}

#[test]
fn counts_of_every_table() {
    let feed = nyc();
    assert_eq!(feed.agencies().len(), 1);
    assert_eq!(feed.timezone(), chrono_tz::America::New_York);
    assert_eq!(feed.stops().len(), 273);
    let stations = feed
        .stops()
        .iter()
        .filter(|s| s.location_type == LocationType::Station)
        .count();
    assert_eq!(stations, 91);
    // Every platform has its station.
    assert!(feed
        .stops()
        .iter()
        .filter(|s| s.location_type == LocationType::Platform)
        .all(|s| s.parent.is_some()));
    assert_eq!(feed.trips().len(), 1_990);
    assert_eq!(feed.stop_times().len(), 86_150);
    assert_eq!(feed.routes().len(), 2);
    let one = &feed.routes()[feed.route_by_id("1").expect("route 1").index()];
    assert_eq!(one.route_type, 1);
    assert_eq!(one.color, Some(Rgb([0xEE, 0x35, 0x2E])));
    assert_eq!(one.long_name.as_deref(), Some("Broadway - 7 Avenue Local"));
    assert_eq!(one.text_color, None);
}

#[test]
fn times_past_midnight_shapes_and_no_blocks() {
    let feed = nyc();
    // 3 445 stop times arrive at or after 24:00:00 (3 450 depart then): counted from the file.
    let past = |t: u32| t >= 24 * 3600;
    assert_eq!(
        feed.stop_times()
            .iter()
            .filter(|st| past(st.arrival))
            .count(),
        3_445
    );
    assert_eq!(
        feed.stop_times()
            .iter()
            .filter(|st| past(st.departure))
            .count(),
        3_450
    );
    let latest = feed.stop_times().iter().map(|st| st.arrival).max();
    assert!(latest.is_some_and(|t| t >= 27 * 3600), "{latest:?}");
    assert!(feed
        .stop_times()
        .iter()
        .all(|st| st.departure >= st.arrival));
    // Along every trip, the times do not go back.
    for (i, _) in feed.trips().iter().enumerate() {
        let times = feed.trip_stop_times(transit_gtfs_reader::TripIdx(i as u32));
        assert!(times.len() >= 2);
        assert!(times.windows(2).all(|w| w[0].sequence < w[1].sequence));
        assert!(times.windows(2).all(|w| w[0].departure <= w[1].arrival));
    }
    assert_eq!(feed.shapes().len(), 13);
    assert_eq!(
        feed.trips().iter().filter(|t| t.shape.is_none()).count(),
        16
    );
    assert!(feed.shapes().iter().all(|s| s.points.len() > 10));
    assert_eq!(feed.block_count(), 0);
    assert!(feed.trips().iter().all(|t| t.block.is_none()));
    assert!(feed.frequencies().is_empty());
}

#[test]
fn calendar_and_service_dates() {
    let feed = nyc();
    assert_eq!(
        feed.calendar_range(),
        Some((date(2024, 12, 15), date(2025, 1, 17)))
    );
    let weekday = feed.trips_on(date(2025, 1, 8)).len();
    let saturday = feed.trips_on(date(2025, 1, 11)).len();
    let sunday = feed.trips_on(date(2025, 1, 12)).len();
    assert!(weekday > saturday && saturday > 0 && sunday > 0);
    assert_eq!(
        weekday + saturday + sunday,
        1_990,
        "three services share the trips"
    );
    // Christmas Day (a Wednesday) runs the Sunday service.
    assert_eq!(feed.trips_on(date(2024, 12, 25)).len(), sunday);

    // A date the calendar does not cover: the same weekday, nearest, in its range.
    let day = feed.service_date(date(2026, 12, 7)).expect("a date");
    assert!(day.is_substitute());
    assert_eq!(day.taken, date(2025, 1, 13));
    assert_eq!(day.taken.weekday(), Weekday::Mon);
    assert_eq!(feed.trips_on(day.taken).len(), weekday);
    let before = feed.service_date(date(2020, 6, 6)).expect("a date");
    assert_eq!(before.taken, date(2024, 12, 21));
    assert!(day.to_string().contains("2025-01-13"), "{day}");
    let inside = feed.service_date(date(2024, 12, 25)).expect("a date");
    assert!(!inside.is_substitute());
}

#[test]
fn other_route_types_change_nothing_on_a_subway_feed() {
    let all = Feed::read(
        feed_path("nyc_subway_gtfs.zip"),
        &ReadOptions::all_route_types(),
    )
    .expect("reads");
    assert_eq!(all.stop_times().len(), 86_150);
    let buses = Feed::read(
        feed_path("nyc_subway_gtfs.zip"),
        &ReadOptions::route_types([3]),
    )
    .expect("reads");
    assert!(buses.trips().is_empty() && buses.stop_times().is_empty() && buses.shapes().is_empty());
}

/// The most trips running at one time.
fn peak_running(day: &transit_core::network::service_day::ServiceDay) -> usize {
    let mut events: Vec<(u32, i32)> = day
        .trips
        .iter()
        .flat_map(|t| [(t.first_departure_s(), 1), (t.last_arrival_s(), -1)])
        .collect();
    // Ends before starts at the same second: a vehicle may leave as it arrives.
    events.sort_unstable();
    let mut running = 0i32;
    let mut peak = 0i32;
    for (_, d) in events {
        running += d;
        peak = peak.max(running);
    }
    peak as usize
}

#[test]
fn a_weekday_service_day() {
    let feed = nyc();
    // A Wednesday of the feed's range.
    let day = feed.service_day(date(2025, 1, 8)).expect("a day");
    assert_eq!(day.date, date(2025, 1, 8));
    assert_eq!(day.timezone, "America/New_York");
    assert_eq!(day.trips.len(), feed.trips_on(date(2025, 1, 8)).len());
    assert_eq!(day.trips.len(), 786);
    assert_eq!(day.routes.len(), 2);
    assert_eq!(day.stops.len(), 273);
    // Times past 24:00 are kept as more seconds.
    let latest = day.trips.iter().map(|t| t.last_arrival_s()).max();
    assert!(latest.is_some_and(|t| t > 24 * 3600), "{latest:?}");
    crate::check_day(&day);
    // No block_id: runs are paired at the terminals. At least as many vehicles as trips
    // running at the peak, and each runs several trips.
    let peak = peak_running(&day);
    eprintln!(
        "NYC weekday: {} trips, {} vehicles, peak {peak} trips running",
        day.trips.len(),
        day.vehicles.len()
    );
    assert!(
        day.vehicles.len() >= peak,
        "{} < {peak}",
        day.vehicles.len()
    );
    assert!(
        day.vehicles.len() <= peak * 2,
        "{} > 2 x {peak}",
        day.vehicles.len()
    );
    assert!(day
        .vehicles
        .iter()
        .all(|v| v.id.starts_with("1-") || v.id.starts_with("2-")));
    // The 1 line's colour as given, its text the default black, which reads on it.
    let one = day
        .route(transit_core::model::LineId::new("1").expect("id"))
        .expect("route 1");
    assert_eq!(one.color, transit_core::model::Rgb([0xEE, 0x35, 0x2E]));
    assert_eq!(one.text_color, transit_core::model::Rgb::BLACK);
}

#[test]
fn a_date_out_of_range_runs_the_same_weekday_on_the_date_simulated() {
    let feed = nyc();
    let day = feed.service_day(date(2026, 12, 7)).expect("a day");
    assert_eq!(day.requested, date(2026, 12, 7));
    assert_eq!(day.date, date(2025, 1, 13));
    // Midnight of 2026-12-07 in New York (EST, UTC-5).
    assert_eq!(day.start_unix_s, 1_796_619_600);
    assert_eq!(day.trips.len(), feed.trips_on(date(2025, 1, 13)).len());
    crate::check_day(&day);
}
