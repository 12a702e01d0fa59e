//! gtfs-kit's demo feed (`data/sample_gtfs.zip`, Google's classic example): buses only,
//! blocks, frequencies without `exact_times`, times written `6:00:00`.

use transit_gtfs_reader::{Feed, ReadOptions};

use crate::{check_day, date, feed_path};

#[test]
fn a_bus_feed_has_no_rail() {
    let rail = Feed::read(feed_path("sample_gtfs.zip"), &ReadOptions::default()).expect("reads");
    assert_eq!(rail.routes().len(), 5);
    assert!(rail.trips().is_empty());
    assert!(rail.stop_times().is_empty());
    assert!(rail.frequencies().is_empty());
    assert_eq!(rail.stops().len(), 9);
}

#[test]
fn every_route_on_request() {
    let feed = Feed::read(
        feed_path("sample_gtfs.zip"),
        &ReadOptions::all_route_types(),
    )
    .expect("reads");
    assert_eq!(feed.timezone(), chrono_tz::America::Los_Angeles);
    assert_eq!(feed.trips().len(), 11);
    assert_eq!(feed.stop_times().len(), 28);
    assert_eq!(feed.block_count(), 2);
    let ab1 = &feed.trips()[feed.trip_by_id("AB1").expect("AB1").index()];
    assert_eq!(ab1.block.and_then(|b| feed.block_id(b)), Some("1"));
    assert_eq!(feed.frequencies().len(), 11);
    assert!(feed.frequencies().iter().all(|f| !f.exact_times));
    assert_eq!(feed.frequencies()[0].start, 6 * 3600);
    assert_eq!(
        feed.calendar_range(),
        Some((date(2007, 1, 1), date(2010, 12, 31)))
    );
    // A Saturday runs the weekend trips too; 2007-06-04, a Monday, is taken out of FULLW.
    assert_eq!(feed.trips_on(date(2008, 6, 7)).len(), 11);
    assert_eq!(feed.trips_on(date(2008, 6, 9)).len(), 7);
    assert!(feed.trips_on(date(2007, 6, 4)).is_empty());
}

#[test]
fn blocks_run_across_routes_and_frequencies_expand() {
    let feed = Feed::read(
        feed_path("sample_gtfs.zip"),
        &ReadOptions::all_route_types(),
    )
    .expect("reads");
    // A Monday: the FULLW trips.
    let day = feed.service_day(date(2008, 6, 9)).expect("a day");
    check_day(&day);
    let count = |id: &str| day.trips.iter().filter(|t| t.trip_id == id).count();
    // STBA every 30 min from 06:00 to 22:00 (end excluded); CITY1 and CITY2 every 30 or
    // 10 min in five runs (4 + 12 + 12 + 18 + 6).
    assert_eq!(count("STBA"), 32);
    assert_eq!(count("CITY1"), 52);
    assert_eq!(count("CITY2"), 52);
    assert_eq!(day.trips.len(), 32 + 52 + 52 + 4);
    // Block 1: AB1 to Bullfrog, then BFC1 from there; block 2: BFC2, then AB2.
    let run = |id: &str| -> Vec<&str> {
        let v = day.vehicles.iter().find(|v| v.id == id).expect("vehicle");
        v.trips
            .iter()
            .map(|t| day.trips[t.0 as usize].trip_id.as_str())
            .collect()
    };
    assert_eq!(run("1"), ["AB1", "BFC1"]);
    assert_eq!(run("2"), ["BFC2", "AB2"]);
    assert_eq!(day.timezone, "America/Los_Angeles");
}
