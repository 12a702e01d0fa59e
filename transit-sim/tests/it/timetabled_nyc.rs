//! The timetabled simulation on a real feed's day: NYC's subway lines 1 and 2 (gtfs-kit's
//! `data/nyc_subway_gtfs.zip`, downloaded by `scripts/feeds.sh`) on a weekday of the feed.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use transit_core::network::service_day::ServiceDay;
use transit_gtfs_reader::{Feed, ReadOptions};
use transit_sim::timetabled::{StopArrival, TimetabledConfig, TimetabledSimulation};

use crate::timetabled_properties::{check_day_skipping, platform_of};

fn nyc_day() -> Arc<ServiceDay> {
    let Some(dir) = std::env::var_os("TRANSIT_TEST_FEEDS") else {
        panic!(
            "TRANSIT_TEST_FEEDS is not set: this test reads a real GTFS feed that is downloaded, \
             not committed. Run `source scripts/feeds.sh && need_feeds` (it downloads it once \
             into ~/.cache/transit/feeds and sets TRANSIT_TEST_FEEDS), or scripts/test.sh"
        );
    };
    let path = PathBuf::from(dir).join("nyc_subway_gtfs.zip");
    let feed = Feed::read(&path, &ReadOptions::default()).expect("NYC reads");
    // A Wednesday of the feed's range.
    let date = NaiveDate::from_ymd_opt(2025, 1, 8).expect("a date");
    Arc::new(feed.service_day(date).expect("a service day"))
}

/// The whole day flat out, checked, with its time and lateness printed.
fn run(day: &Arc<ServiceDay>, undisturbed: bool, rail_blocks: bool) -> Vec<StopArrival> {
    let config = TimetabledConfig {
        undisturbed,
        rail_blocks,
        ..TimetabledConfig::embedded(2026).expect("the embedded hourly curve")
    };
    let rules = rail_blocks.then_some(config.rail_clearance_s);
    let mut sim = TimetabledSimulation::new(day.clone(), config).expect("NYC's day runs");
    let mut arrivals = Vec::new();
    let started = Instant::now();
    sim.advance_to(48 * 3_600, &mut arrivals);
    let took = started.elapsed();
    let mut delays: Vec<i64> = arrivals.iter().map(StopArrival::delay_s).collect();
    delays.sort_unstable();
    let quantile = |q: f64| {
        delays
            .get((q * (delays.len() - 1) as f64) as usize)
            .copied()
    };
    println!(
        "delays: median {:?}, 90 % {:?}, 99 % {:?} s",
        quantile(0.5),
        quantile(0.9),
        quantile(0.99)
    );
    let late: Vec<i64> = delays.iter().copied().filter(|d| *d > 0).collect();
    println!(
        "NYC 1 and 2, {} trips, {} arrivals (undisturbed {undisturbed}, rail blocks \
         {rail_blocks}): {took:?}; {} late, at most {} s",
        day.trips.len(),
        arrivals.len(),
        late.len(),
        late.iter().max().unwrap_or(&0),
    );
    assert!(sim.is_finished());
    println!("disturbances: {:?}", sim.disturbances());
    check_day_skipping(day, &arrivals, rules, sim.skipped_trips());
    arrivals
}

/// The trips the timetable itself puts at a platform while another train is there.
fn trips_in_conflict(day: &ServiceDay) -> HashSet<u32> {
    // A stop time's arrival, departure and trip, at each platform.
    type Visits = Vec<(u32, u32, u32)>;
    let mut platforms: HashMap<(u32, i64), Visits> = HashMap::new();
    for (index, trip) in day.trips.iter().enumerate() {
        for (seq, stop) in trip.stops.iter().enumerate() {
            let platform = platform_of(trip, seq);
            platforms.entry(platform).or_default().push((
                stop.arrival_s,
                stop.departure_s,
                index as u32,
            ));
        }
    }
    let mut trips = HashSet::new();
    for visits in platforms.values_mut() {
        visits.sort_unstable();
        for pair in visits.windows(2) {
            if pair[1].0 <= pair[0].1 {
                trips.extend([pair[0].2, pair[1].2]);
            }
        }
    }
    trips
}

#[test]
fn nyc_weekday_runs_every_trip_and_undisturbed_keeps_the_timetable() {
    let day = nyc_day();
    let off = |arrivals: &[StopArrival]| -> Vec<StopArrival> {
        arrivals
            .iter()
            .filter(|a| {
                (a.arrival_s, a.departure_s) != (a.scheduled_arrival_s, a.scheduled_departure_s)
            })
            .copied()
            .collect()
    };
    // As written, the timetable is kept to the second.
    let written = run(&day, true, false);
    assert_eq!(off(&written), [], "off the timetable with rail's rules off");
    // With one train per block, only where the timetable itself breaks the rule, and a little.
    let blocked = off(&run(&day, true, true));
    let trips_off: HashSet<u32> = blocked.iter().map(|a| a.trip.0).collect();
    let in_conflict = trips_in_conflict(&day);
    println!(
        "{} trips in the timetable's own conflicts; {} trips off it",
        in_conflict.len(),
        trips_off.len()
    );
    assert!(trips_off.len() <= in_conflict.len());
    assert!(blocked.iter().all(|a| a.delay_s() <= 60), "{blocked:?}");
    // Riders make trains late.
    let riders = run(&day, false, true);
    assert!(riders.iter().any(|a| a.delay_s() > 0));
    assert!(riders.iter().map(|a| u64::from(a.boarded)).sum::<u64>() > 100_000);
}
