//! gtfs-kit's demo feed (`data/sample_gtfs.zip`, Google's classic example): buses only,
//! blocks, frequencies without `exact_times`, times written `6:00:00`.

use transit_gtfs_reader::{Feed, ReadOptions};

use crate::{date, feed_path};

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
