//! Loads a GTFS feed and prints how long it took and what it holds: the transit side of
//! `scripts/bench-gtfs-load.sh` (peak memory is measured around it by `/usr/bin/time -v`).
//!
//!   cargo run --release -p transit-gtfs-reader --example load_gtfs -- FEED [--all-route-types]

use std::process::ExitCode;
use std::time::Instant;

use transit_gtfs_reader::{Feed, ReadOptions};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: load_gtfs FEED [--all-route-types]");
        return ExitCode::from(2);
    };
    let options = if args.any(|a| a == "--all-route-types") {
        ReadOptions::all_route_types()
    } else {
        ReadOptions::default()
    };
    let started = Instant::now();
    match Feed::read(&path, &options) {
        Ok(feed) => {
            let secs = started.elapsed().as_secs_f64();
            println!(
                "transit-gtfs-reader: {secs:.2} s, {} stops, {} trips, {} stop_times, {} shapes",
                feed.stops().len(),
                feed.trips().len(),
                feed.stop_times().len(),
                feed.shapes().len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::FAILURE
        }
    }
}
