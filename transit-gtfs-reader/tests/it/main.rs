//! The reader on real feeds, downloaded by `scripts/feeds.sh` (not committed): NYC subway
//! lines 1 and 2 and gtfs-kit's demo feed (both from gtfs-kit 13.0.1's sdist), and npm
//! `sample-gtfs-feed` 0.13.0. Without them these tests fail, saying how to get them.

mod gtfs_kit_sample;
mod nyc;
mod redate;
mod sample_gtfs_feed;
mod synthetic;

use std::path::PathBuf;

use chrono::NaiveDate;

/// A feed of the folder `TRANSIT_TEST_FEEDS` names.
pub(crate) fn feed_path(name: &str) -> PathBuf {
    let Some(dir) = std::env::var_os("TRANSIT_TEST_FEEDS") else {
        panic!(
            "TRANSIT_TEST_FEEDS is not set: these tests read real GTFS feeds that are downloaded, \
             not committed. Run `source scripts/feeds.sh && need_feeds` (it downloads them once \
             into ~/.cache/transit/feeds and sets TRANSIT_TEST_FEEDS), or scripts/test.sh"
        );
    };
    let path = PathBuf::from(dir).join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `source scripts/feeds.sh && need_feeds` again",
        path.display()
    );
    path
}

pub(crate) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// Checks what every service day must hold: trips by first departure, times never going
/// back, each trip run by exactly one vehicle, and no vehicle running two trips at once.
pub(crate) fn check_day(day: &transit_core::network::service_day::ServiceDay) {
    assert!(day
        .trips
        .windows(2)
        .all(|w| w[0].first_departure_s() <= w[1].first_departure_s()));
    for trip in &day.trips {
        assert!(trip.stops.len() >= 2, "{}", trip.trip_id);
        assert!(trip.stops.iter().all(|s| s.arrival_s <= s.departure_s));
        assert!(trip
            .stops
            .windows(2)
            .all(|w| w[0].departure_s <= w[1].arrival_s));
        assert!(trip.stops.iter().all(|s| day.stop(s.stop).is_some()));
    }
    let mut runs = vec![0u32; day.trips.len()];
    for (v, vehicle) in day.vehicles.iter().enumerate() {
        assert!(!vehicle.trips.is_empty());
        for t in &vehicle.trips {
            runs[t.0 as usize] += 1;
            assert_eq!(day.trips[t.0 as usize].vehicle.0, v as u32);
        }
        for w in vehicle.trips.windows(2) {
            let (a, b) = (&day.trips[w[0].0 as usize], &day.trips[w[1].0 as usize]);
            assert!(
                a.last_arrival_s() <= b.first_departure_s(),
                "vehicle {} runs {} and {} at once",
                vehicle.id,
                a.trip_id,
                b.trip_id
            );
        }
    }
    assert!(runs.iter().all(|&n| n == 1), "every trip has one vehicle");
    let mut ids: Vec<&str> = day.vehicles.iter().map(|v| v.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), day.vehicles.len(), "vehicle ids are unique");
}
