//! The timetabled simulation's properties on every real feed `scripts/feeds.sh` downloads
//! (issue 21, item 10), each on days of its own calendar:
//!
//! - NYC's subway lines 1 and 2 (gtfs-kit's `data/nyc_subway_gtfs.zip`): rail, no `block_id`,
//!   thousands of times past 24:00;
//! - npm `sample-gtfs-feed` (every route type): two agencies in two time zones, frequencies
//!   with `exact_times` 0 and 1, and a Saturday whose night crosses the clock change;
//! - gtfs-kit's demo feed (every route type): buses, blocks across routes, frequencies.
//!
//! On each: every trip active on the service date runs, stops in order, and never leaves a
//! stop before its scheduled departure; rail trains never pass nor share a platform;
//! undisturbed and with no held dwells the arrivals are the timetable to the second; and the
//! arrivals are the same at any tick length. A failure names the feed, its date and the trip.
//!
//! The one exception is the feed's, not the simulation's: NYC's timetable (no `block_id`)
//! itself puts a train now and then at a platform another train holds, or has it overtake
//! another between two stops. Undisturbed with rail's rules on, exactly those trips (57 of 786
//! on the Wednesday, 8 of 650 on the Saturday) may be held off the timetable, and no other; with
//! rail's rules off every feed runs as written.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use chrono::NaiveDate;
use transit_core::network::service_day::{ServiceDay, TripIndex};
use transit_gtfs_reader::{Feed, ReadOptions};
use transit_sim::timetabled::{StopArrival, TimetabledConfig, TimetabledSimulation};

use crate::feed_path;
use crate::timetabled_properties::{check_day, check_day_skipping, fastest, platform_of};

/// Past the end of any service day (GTFS times run to 47:59).
const DAY_END_S: u32 = 48 * 3_600;

/// The tick lengths the arrivals must not depend on (besides one step for the whole day).
const TICKS_S: [u32; 4] = [1, 10, 60, 3_600];

/// One downloaded feed's service day, and what it is, for the failure messages.
struct FeedDay {
    /// The feed's file and the date, e.g. `nyc_subway_gtfs.zip 2025-01-08`.
    what: String,
    day: Arc<ServiceDay>,
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

/// Every feed's days, read once for all the tests of this file. Each day holds every trip the
/// feed's calendar makes active on its date (checked here), of the route types read.
fn feed_days() -> &'static [FeedDay] {
    static DAYS: OnceLock<Vec<FeedDay>> = OnceLock::new();
    DAYS.get_or_init(|| {
        let feeds: [(&str, ReadOptions, Vec<NaiveDate>); 3] = [
            // A Wednesday and a Saturday.
            (
                "nyc_subway_gtfs.zip",
                ReadOptions::default(),
                vec![date(2025, 1, 8), date(2025, 1, 11)],
            ),
            // A Thursday with both kinds of frequencies; the Saturday before the clocks went
            // forward in Warsaw, a trip of it running across the change.
            (
                "sample-gtfs-feed.zip",
                ReadOptions::all_route_types(),
                vec![date(2019, 5, 2), date(2019, 3, 30)],
            ),
            // A Monday and a Saturday.
            (
                "sample_gtfs.zip",
                ReadOptions::all_route_types(),
                vec![date(2008, 6, 9), date(2008, 6, 7)],
            ),
        ];
        let mut days = Vec::new();
        for (file, options, dates) in feeds {
            let feed = Feed::read(feed_path(file), &options)
                .unwrap_or_else(|e| panic!("{file} reads: {e}"));
            for date in dates {
                let what = format!("{file} {date}");
                let day = feed
                    .service_day(date)
                    .unwrap_or_else(|e| panic!("{what}: a service day: {e}"));
                assert_eq!(day.date, date, "{what}: in the feed's calendar");
                let active: BTreeSet<&str> = feed
                    .trips_on(date)
                    .into_iter()
                    .map(|t| &*feed.trips()[t.index()].id)
                    .collect();
                let in_day: BTreeSet<&str> = day.trips.iter().map(|t| t.trip_id.as_str()).collect();
                assert_eq!(
                    in_day, active,
                    "{what}: the day holds every trip active on its date"
                );
                assert!(!day.trips.is_empty(), "{what}: runs trips");
                days.push(FeedDay {
                    what,
                    day: Arc::new(day),
                });
            }
        }
        days
    })
}

/// The regular railway (riders, no run-time uncertainty: every trip runs).
fn config(undisturbed: bool, rail_blocks: bool, tick_s: u32) -> TimetabledConfig {
    TimetabledConfig {
        undisturbed,
        rail_blocks,
        tick_s,
        ..TimetabledConfig::regular(2026).expect("the embedded hourly curve")
    }
}

/// The calibrated, uncertain railway (the default): run times vary, incidents, slow zones,
/// trips dropped.
fn calibrated(seed: u64, tick_s: u32) -> TimetabledConfig {
    TimetabledConfig {
        tick_s,
        ..TimetabledConfig::embedded(seed).expect("the embedded hourly curve")
    }
}

/// A setting's configuration at a tick length.
type ConfigAt = fn(u32) -> TimetabledConfig;

/// The whole day in one step.
fn run(feed: &FeedDay, config: TimetabledConfig) -> Vec<StopArrival> {
    run_skipping(feed, config).0
}

/// The whole day in one step, and the trips it dropped.
fn run_skipping(feed: &FeedDay, config: TimetabledConfig) -> (Vec<StopArrival>, Vec<TripIndex>) {
    let mut sim = TimetabledSimulation::new(feed.day.clone(), config)
        .unwrap_or_else(|e| panic!("{}: the day runs: {e}", feed.what));
    let mut arrivals = Vec::new();
    sim.advance_to(DAY_END_S, &mut arrivals);
    assert!(sim.is_finished(), "{}: every vehicle done", feed.what);
    (arrivals, sim.skipped_trips().to_vec())
}

/// The whole day a tick at a time.
fn run_in_ticks(feed: &FeedDay, config: TimetabledConfig) -> Vec<StopArrival> {
    let mut sim = TimetabledSimulation::new(feed.day.clone(), config)
        .unwrap_or_else(|e| panic!("{}: the day runs: {e}", feed.what));
    let mut arrivals = Vec::new();
    while sim.now() < DAY_END_S {
        sim.tick(&mut arrivals);
    }
    assert!(sim.is_finished(), "{}: every vehicle done", feed.what);
    arrivals
}

/// The arrivals off the timetable, each as `trip_id seq: arrived/left, timetable`.
fn off_timetable(feed: &FeedDay, arrivals: &[StopArrival]) -> Vec<String> {
    arrivals
        .iter()
        .filter(|a| {
            (a.arrival_s, a.departure_s) != (a.scheduled_arrival_s, a.scheduled_departure_s)
        })
        .map(|a| {
            format!(
                "trip {} stop {} ({}): {}/{} s, timetable {}/{} s",
                feed.day.trips[a.trip.0 as usize].trip_id,
                a.stop_sequence,
                feed.day.stops[a.stop.0 as usize].id,
                a.arrival_s,
                a.departure_s,
                a.scheduled_arrival_s,
                a.scheduled_departure_s
            )
        })
        .collect()
}

/// The rail trips the timetable itself puts into a block another train holds: at a platform
/// while another train is there (within the clearance), or overtaking another train between
/// two stops (leaving after it, arriving before it), by index.
fn trips_in_conflict(day: &ServiceDay, clearance_s: u32) -> HashSet<u32> {
    // A stop time's arrival, departure and trip, at each platform; a run's departure, arrival
    // and trip, on each stretch between two stops.
    type Visits = Vec<(u32, u32, u32)>;
    let mut platforms: HashMap<(u32, i64), Visits> = HashMap::new();
    let mut stretches: HashMap<(u32, u32), Visits> = HashMap::new();
    for (index, trip) in day.trips.iter().enumerate() {
        if !day.route(trip.route).is_some_and(|r| r.is_rail()) {
            continue;
        }
        for (seq, stop) in trip.stops.iter().enumerate() {
            platforms.entry(platform_of(trip, seq)).or_default().push((
                stop.arrival_s,
                stop.departure_s,
                index as u32,
            ));
            if let Some(next) = trip.stops.get(seq + 1) {
                stretches
                    .entry((stop.stop.0, next.stop.0))
                    .or_default()
                    .push((stop.departure_s, next.arrival_s, index as u32));
            }
        }
    }
    let mut trips = HashSet::new();
    for visits in platforms.values_mut() {
        visits.sort_unstable();
        for pair in visits.windows(2) {
            if pair[1].0 < pair[0].1 + clearance_s {
                trips.extend([pair[0].2, pair[1].2]);
            }
        }
    }
    for runs in stretches.values_mut() {
        runs.sort_unstable();
        for (i, earlier) in runs.iter().enumerate() {
            for later in &runs[i + 1..] {
                if later.1 < earlier.1 {
                    trips.extend([earlier.2, later.2]);
                }
            }
        }
    }
    trips
}

#[test]
fn every_trip_runs_in_order_never_early_and_rail_never_passes_on_every_feed() {
    for feed in feed_days() {
        // Riders' draws differ by seed; undisturbed, the seed changes nothing that moves.
        for (undisturbed, seed) in [(false, 2026), (false, 1), (false, 77), (true, 2026)] {
            let config = TimetabledConfig {
                seed,
                ..config(undisturbed, true, 10)
            };
            let clearance = config.rail_clearance_s;
            let started = Instant::now();
            let arrivals = run(feed, config);
            let late = arrivals.iter().filter(|a| a.delay_s() > 0).count();
            println!(
                "{} (undisturbed {undisturbed}, seed {seed}): {} trips, {} arrivals, {late} late, \
                 in {:?}",
                feed.what,
                feed.day.trips.len(),
                arrivals.len(),
                started.elapsed()
            );
            check_day(
                &format!("{} (undisturbed {undisturbed}, seed {seed})", feed.what),
                &feed.day,
                &arrivals,
                Some(clearance),
            );
        }
        // The uncertain railway: the same rules, but for the trips it dropped (and only
        // those) and late trains making up time down to the fastest a stretch is run.
        for seed in [2026, 1] {
            let config = calibrated(seed, 10);
            let clearance = config.rail_clearance_s;
            let (arrivals, skipped) = run_skipping(feed, config);
            check_day_skipping(
                &format!("{} (calibrated, seed {seed})", feed.what),
                &feed.day,
                &arrivals,
                Some(clearance),
                &skipped,
                fastest(),
            );
        }
    }
}

#[test]
fn undisturbed_with_no_held_dwells_the_arrivals_are_the_timetable_on_every_feed() {
    for feed in feed_days() {
        // Rail's rules off: nothing holds a train, every feed runs as written.
        let free = run(feed, config(true, false, 10));
        check_day(
            &format!("{} (rules off)", feed.what),
            &feed.day,
            &free,
            None,
        );
        let off = off_timetable(feed, &free);
        assert!(
            off.is_empty(),
            "{}: undisturbed with rail's rules off, off the timetable: {off:#?}",
            feed.what
        );
        // Rail's rules on: a train is held only where the timetable itself puts it at a
        // platform another train holds, so only such trips leave the timetable, and a
        // timetable that never does runs as written too.
        let config = config(true, true, 10);
        let conflicts = trips_in_conflict(&feed.day, config.rail_clearance_s);
        let held = run(feed, config);
        let trips_off: BTreeSet<u32> = held
            .iter()
            .filter(|a| {
                (a.arrival_s, a.departure_s) != (a.scheduled_arrival_s, a.scheduled_departure_s)
            })
            .map(|a| a.trip.0)
            .collect();
        println!(
            "{}: {} rail trips in the timetable's own conflicts, {} trips held off it",
            feed.what,
            conflicts.len(),
            trips_off.len()
        );
        let unexplained: Vec<&str> = trips_off
            .iter()
            .filter(|t| !conflicts.contains(t))
            .map(|&t| feed.day.trips[t as usize].trip_id.as_str())
            .collect();
        assert!(
            unexplained.is_empty(),
            "{}: undisturbed, trips held off the timetable though it gives them a free \
             platform: {unexplained:?}; {:#?}",
            feed.what,
            off_timetable(feed, &held)
        );
    }
}

#[test]
fn the_same_arrivals_at_any_tick_length_on_every_feed() {
    for feed in feed_days() {
        let settings: [(&str, ConfigAt); 4] = [
            ("riders", |tick_s| config(false, true, tick_s)),
            ("undisturbed", |tick_s| config(true, true, tick_s)),
            ("riders, rail's rules off", |tick_s| {
                config(false, false, tick_s)
            }),
            ("calibrated", |tick_s| calibrated(2026, tick_s)),
        ];
        for (setting, config) in settings {
            let whole = run(feed, config(10));
            for tick_s in TICKS_S {
                let ticked = run_in_ticks(feed, config(tick_s));
                if ticked != whole {
                    let first = whole
                        .iter()
                        .zip(&ticked)
                        .position(|(a, b)| a != b)
                        .unwrap_or(whole.len().min(ticked.len()));
                    let trip = |arrivals: &[StopArrival]| {
                        arrivals
                            .get(first)
                            .map(|a| (feed.day.trips[a.trip.0 as usize].trip_id.clone(), *a))
                    };
                    panic!(
                        "{} ({setting}): {} arrivals in {tick_s}-second ticks, \
                         {} in one step; the first that differs, #{first}: in ticks {:?}, in \
                         one step {:?}",
                        feed.what,
                        ticked.len(),
                        whole.len(),
                        trip(&ticked),
                        trip(&whole)
                    );
                }
            }
        }
    }
}

/// NYC's timetable puts trains in one block now and then (it has no `block_id`, and its
/// trips meet at platforms and overtake one another on the stretches lines 1 and 2 share):
/// with rail's rules those are held, a little; riders make trains late.
#[test]
fn nyc_held_a_little_where_its_timetable_breaks_the_rule_and_riders_make_trains_late() {
    let feed = &feed_days()[0];
    assert!(
        feed.what.starts_with("nyc_subway_gtfs.zip"),
        "{}",
        feed.what
    );
    let config = config(true, true, 10);
    let conflicts = trips_in_conflict(&feed.day, config.rail_clearance_s);
    // The Wednesday's: trips meeting at a platform or overtaking between two stops.
    assert_eq!(conflicts.len(), 57, "NYC's timetable has its conflicts");
    let held = run(feed, config);
    let most = held.iter().map(StopArrival::delay_s).max().unwrap_or(0);
    assert!(
        (1..=60).contains(&most),
        "{}: held at most {most} s",
        feed.what
    );
    // Riders make trains late.
    let riders = run(feed, self::config(false, true, 10));
    assert!(riders.iter().any(|a| a.delay_s() > 0));
    assert!(riders.iter().map(|a| u64::from(a.boarded)).sum::<u64>() > 100_000);
}
