//! Loads a GTFS feed and prints how long it took and what it holds: the transit side of
//! `scripts/bench-gtfs-load.sh` (peak memory is measured around it by `/usr/bin/time -v`).
//! With `--service-day DATE`, it then builds that date's [`ServiceDay`] and prints how long
//! that took and what it holds.
//!
//!   cargo run --release -p transit-gtfs-reader --example load_gtfs -- FEED \
//!       [--all-route-types] [--service-day YYYY-MM-DD]
//!
//! [`ServiceDay`]: transit_core::network::service_day::ServiceDay

use std::process::ExitCode;
use std::time::Instant;

use transit_gtfs_reader::{Feed, ReadOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: load_gtfs FEED [--all-route-types] [--service-day YYYY-MM-DD]";
    let Some(path) = args.first() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let options = if args.iter().any(|a| a == "--all-route-types") {
        ReadOptions::all_route_types()
    } else {
        ReadOptions::default()
    };
    let service_day = match args.iter().position(|a| a == "--service-day") {
        None => None,
        Some(i) => match args
            .get(i + 1)
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        {
            Some(date) => Some(date),
            None => {
                eprintln!("--service-day wants a date YYYY-MM-DD\n{usage}");
                return ExitCode::from(2);
            }
        },
    };
    let started = Instant::now();
    let feed = match Feed::read(path, &options) {
        Ok(feed) => feed,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "transit-gtfs-reader: {secs:.2} s, {} stops, {} trips, {} stop_times, {} shapes",
        feed.stops().len(),
        feed.trips().len(),
        feed.stop_times().len(),
        feed.shapes().len()
    );
    if let Some(date) = service_day {
        let started = Instant::now();
        match feed.service_day(date) {
            Ok(day) => {
                let secs = started.elapsed().as_secs_f64();
                let stops: usize = day.trips.iter().map(|t| t.stops.len()).sum();
                println!(
                    "service day {} (for {date}): {secs:.3} s, {} routes, {} trips, {stops} scheduled stops, {} vehicles",
                    day.date,
                    day.routes.len(),
                    day.trips.len(),
                    day.vehicles.len()
                );
            }
            Err(e) => {
                eprintln!("{path}: service day {date}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
