//! Calibrates the timetabled simulation's uncertainty: simulates a weekday of NYC's subway feed
//! and scores the baseline prediction "timetable + the train's current delay" by MBTA's horizon
//! buckets, with the headway coefficient of variation at the busiest stops.
//!
//! ```text
//! cargo run --release -p transit-sim --example calibrate_uncertainty [FEED.zip] [YYYY-MM-DD] [SEED]
//! ```
//!
//! The feed defaults to `nyc_subway_gtfs.zip` in `$TRANSIT_TEST_FEEDS` (else
//! `~/.cache/transit/feeds`), the date to Wednesday 2025-01-08, the seed to 2026.
//!
//! The baseline polls every 30 simulated seconds of the day: every vehicle in service predicts
//! each stop ahead on its trip at the scheduled arrival plus the delay of its last arrival. Each
//! prediction is scored against the arrival that then happened, in MBTA's buckets of the
//! prediction's horizon (its arrival-prediction accuracy page): 0-3 min right from 1 min early
//! to 1 min late, 3-6 min from 1.5 early to 2 late, 6-12 min from 2.5 early to 3.5 late, 12-30
//! min from 4 early to 6 late. The scorer is kept small and here on purpose: the project's
//! prediction scorer (issue 22's processor) replaces it.

use std::collections::HashMap;
use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use transit_core::network::service_day::ServiceDay;
use transit_gtfs_reader::{Feed, ReadOptions};
use transit_sim::timetabled::{StopArrival, TimetabledConfig, TimetabledSimulation};

/// The end of any service day (GTFS times run to 47:59).
const DAY_END_S: u32 = 48 * 3_600;
/// How often the baseline is polled, simulated seconds.
const POLL_S: u32 = 30;

/// MBTA's buckets: the horizon's upper bound (exclusive, seconds; the last inclusive), and how
/// early and how late (seconds) a train may come for the prediction to be right.
const BUCKETS: [(&str, u32, i64, i64); 4] = [
    ("0-3 min", 180, 60, 60),
    ("3-6 min", 360, 90, 120),
    ("6-12 min", 720, 150, 210),
    ("12-30 min", 1_800, 240, 360),
];

#[derive(Debug, Default, Clone, Copy)]
struct Score {
    predictions: u64,
    right: u64,
    /// Sum of absolute errors, seconds.
    absolute_s: u64,
    /// Predictions the train beat (came earlier than the window allows).
    early: u64,
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let feed_path = match args.next() {
        Some(path) => PathBuf::from(path),
        None => std::env::var_os("TRANSIT_TEST_FEEDS")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(|home| PathBuf::from(home).join(".cache/transit/feeds"))
            })
            .ok_or("no feed given and neither TRANSIT_TEST_FEEDS nor HOME set")?
            .join("nyc_subway_gtfs.zip"),
    };
    let date = match args.next() {
        Some(date) => NaiveDate::parse_from_str(&date, "%Y-%m-%d")?,
        None => NaiveDate::from_ymd_opt(2025, 1, 8).ok_or("a date")?,
    };
    let seed: u64 = match args.next() {
        Some(seed) => seed.parse()?,
        None => 2026,
    };
    let feed = Feed::read(&feed_path, &ReadOptions::default())?;
    let day = Arc::new(feed.service_day(date)?);
    println!(
        "{}, {date}: {} trips, {} vehicles, seed {seed}\n",
        feed_path.display(),
        day.trips.len(),
        day.vehicles.len()
    );
    for (name, config) in [
        ("riders only (regular)", TimetabledConfig::regular(seed)?),
        ("calibrated", TimetabledConfig::embedded(seed)?),
    ] {
        report(name, &day, config)?;
    }
    Ok(())
}

/// Runs the day with `config`, scores the baseline and prints the table.
fn report(
    name: &str,
    day: &Arc<ServiceDay>,
    config: TimetabledConfig,
) -> Result<(), Box<dyn Error>> {
    // The truth: every arrival of the day, by trip and stop.
    let mut truth_sim = TimetabledSimulation::new(Arc::clone(day), config.clone())?;
    let mut arrivals = Vec::new();
    truth_sim.advance_to(DAY_END_S, &mut arrivals);
    let truth: HashMap<(u32, u32), u32> = arrivals
        .iter()
        .map(|a| ((a.trip.0, a.stop_sequence), a.arrival_s))
        .collect();

    // The same day again (the same seed gives the same events), polled.
    let mut sim = TimetabledSimulation::new(Arc::clone(day), config)?;
    let mut last: HashMap<u32, StopArrival> = HashMap::new();
    let mut scores = [Score::default(); 4];
    let mut unresolved = 0u64;
    let mut step = Vec::new();
    let mut now = 0;
    while now <= DAY_END_S && !sim.is_finished() {
        step.clear();
        sim.advance_to(now, &mut step);
        for arrival in &step {
            last.insert(arrival.vehicle.0, *arrival);
        }
        for position in sim.positions() {
            let Some(latest) = last
                .get(&position.vehicle.0)
                .filter(|a| a.trip == position.trip)
            else {
                continue;
            };
            let delay = latest.delay_s();
            let trip = &day.trips[position.trip.0 as usize];
            for (seq, stop) in trip
                .stops
                .iter()
                .enumerate()
                .skip(latest.stop_sequence as usize + 1)
            {
                let predicted = i64::from(stop.arrival_s) + delay;
                let horizon = predicted - i64::from(now);
                if horizon < 0 {
                    continue;
                }
                let Some(bucket) = BUCKETS
                    .iter()
                    .position(|(_, upper, _, _)| horizon < i64::from(*upper))
                    .or((horizon == 1_800).then_some(3))
                else {
                    break;
                };
                let Some(actual) = truth.get(&(position.trip.0, seq as u32)) else {
                    unresolved += 1;
                    continue;
                };
                let error = i64::from(*actual) - predicted;
                let (_, _, early, late) = BUCKETS[bucket];
                let score = &mut scores[bucket];
                score.predictions += 1;
                score.absolute_s += error.unsigned_abs();
                if (-early..=late).contains(&error) {
                    score.right += 1;
                } else if error < -early {
                    score.early += 1;
                }
            }
        }
        now += POLL_S;
    }

    println!("## {name}\n");
    let disturbances = truth_sim.disturbances();
    println!("{disturbances:?}\n");
    let mut delays: Vec<i64> = arrivals.iter().map(StopArrival::delay_s).collect();
    delays.sort_unstable();
    let quantile = |q: f64| delays[((delays.len() - 1) as f64 * q) as usize];
    println!(
        "{} arrivals; delay median {} s, 90 % {} s, 99 % {} s, most {} s\n",
        arrivals.len(),
        quantile(0.5),
        quantile(0.9),
        quantile(0.99),
        quantile(1.0)
    );
    println!("| horizon | predictions | accurate | mean absolute error | too early | too late |");
    println!("|---|---:|---:|---:|---:|---:|");
    for ((label, ..), score) in BUCKETS.iter().zip(&scores) {
        let n = score.predictions.max(1) as f64;
        let late = score.predictions - score.right - score.early;
        println!(
            "| {label} | {} | {:.1} % | {:.0} s | {:.1} % | {:.1} % |",
            score.predictions,
            100.0 * score.right as f64 / n,
            score.absolute_s as f64 / n,
            100.0 * score.early as f64 / n,
            100.0 * late as f64 / n,
        );
    }
    if unresolved > 0 {
        println!("\n{unresolved} predictions of arrivals that never happened");
    }
    println!();
    headway_cv(day, &arrivals);
    Ok(())
}

/// The headway coefficient of variation at the ten busiest stops (by route), 06:00-22:00, as
/// TCQSM defines it: the standard deviation of the actual less the scheduled headway, over the
/// mean scheduled headway; and NYC Transit's wait assessment there, the share of headways no
/// longer than the scheduled plus 25 %. The scheduled headway of a train's headway is the
/// timetable's at the time it came (so a dropped trip's gap counts, and trains that swapped
/// places are not counted against their own slots).
fn headway_cv(day: &ServiceDay, arrivals: &[StopArrival]) {
    let mut timetable: HashMap<(u32, &str), Vec<u32>> = HashMap::new();
    for trip in &day.trips {
        for stop in &trip.stops {
            timetable
                .entry((stop.stop.0, trip.route.as_str()))
                .or_default()
                .push(stop.arrival_s);
        }
    }
    for times in timetable.values_mut() {
        times.sort_unstable();
    }
    let mut at_stop: HashMap<(u32, &str), Vec<&StopArrival>> = HashMap::new();
    for arrival in arrivals
        .iter()
        .filter(|a| (6 * 3_600..22 * 3_600).contains(&a.arrival_s))
    {
        at_stop
            .entry((arrival.stop.0, arrival.route.as_str()))
            .or_default()
            .push(arrival);
    }
    let mut busiest: Vec<_> = at_stop.into_iter().collect();
    busiest.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    busiest.truncate(10);
    let mut cvs = Vec::new();
    let mut waits = Vec::new();
    println!(
        "| stop | route | trains 06-22 | mean scheduled headway | headway CV | wait assessment |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for ((stop, route), mut visits) in busiest {
        visits.sort_by_key(|a| (a.arrival_s, a.trip.0));
        let scheduled = &timetable[&(stop, route)];
        let pairs: Vec<(f64, f64)> = visits
            .windows(2)
            .filter_map(|w| {
                let actual = f64::from(w[1].arrival_s) - f64::from(w[0].arrival_s);
                // The timetable's headway at the time the train came.
                let at = scheduled
                    .partition_point(|t| *t <= w[1].arrival_s)
                    .clamp(1, scheduled.len().checked_sub(1)?);
                Some((actual, f64::from(scheduled[at] - scheduled[at - 1])))
            })
            .collect();
        let n = pairs.len().max(1) as f64;
        let mean_scheduled = pairs.iter().map(|p| p.1).sum::<f64>() / n;
        let deviations: Vec<f64> = pairs.iter().map(|(a, s)| a - s).collect();
        let mean_deviation = deviations.iter().sum::<f64>() / n;
        let variance = deviations
            .iter()
            .map(|d| (d - mean_deviation).powi(2))
            .sum::<f64>()
            / n;
        let cv = variance.sqrt() / mean_scheduled.max(1.0);
        cvs.push(cv);
        let wait = pairs.iter().filter(|(a, s)| *a <= 1.25 * s).count() as f64 / n;
        waits.push(wait);
        println!(
            "| {} | {route} | {} | {:.0} s | {cv:.2} | {:.1} % |",
            day.stops[stop as usize].name,
            visits.len(),
            mean_scheduled,
            100.0 * wait
        );
    }
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len().max(1) as f64;
    println!(
        "\nat the ten busiest stops: mean headway CV {:.2}, wait assessment {:.1} %\n",
        mean(&cvs),
        100.0 * mean(&waits)
    );
}
