//! `transit gtfs export DIR|FILE.zip`: the static GTFS feed of the simulated network.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{Days, NaiveDate};
use clap::{Args, Subcommand};
use transit_gtfs::{FeedOptions, Sources, Written};

/// `transit gtfs ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum GtfsCommand {
    /// Write the static GTFS feed of the simulated network: a zip archive if the target ends
    /// in `.zip`, otherwise a directory of `.txt` files.
    Export(ExportArgs),
}

/// Settings of `transit gtfs export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Where to write the feed: `DIR` or `FILE.zip`.
    #[arg(value_name = "DIR|FILE.zip")]
    pub target: PathBuf,

    /// The first day of service (YYYY-MM-DD); the simulation's default start day if omitted.
    #[arg(long, value_name = "DATE")]
    pub start_date: Option<NaiveDate>,

    /// How many days of service the calendar covers.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u64).range(1..=3653))]
    pub days: u64,

    /// `feed_publisher_url`: yours, if you publish the feed (CTA's developer page otherwise).
    #[arg(long, value_name = "URL")]
    pub publisher_url: Option<String>,
}

/// Runs `transit gtfs ...`.
pub fn run(command: &GtfsCommand) -> anyhow::Result<()> {
    match command {
        GtfsCommand::Export(args) => export(args),
    }
}

fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let defaults = FeedOptions::default();
    let start_date = args.start_date.unwrap_or(defaults.start_date);
    let end_date = start_date
        .checked_add_days(Days::new(args.days - 1))
        .context("the calendar runs past the last date there is")?;
    let options = FeedOptions {
        start_date,
        end_date,
        publisher_url: args.publisher_url.clone().unwrap_or(defaults.publisher_url),
        ..defaults
    };
    let sources = Sources::embedded().context("loading the network and its timetables")?;
    let feed = transit_gtfs::build(&sources, &options).context("building the feed")?;
    let written = feed.write(&args.target)?;
    let (what, path) = match &written {
        Written::Zip(path) => ("zip archive", path),
        Written::Directory(path) => ("directory", path),
    };
    println!(
        "GTFS feed written to {what} {}: {} stops, {} trips, {} stop times, service {start_date} to {end_date}",
        path.display(),
        feed.stops.len(),
        feed.trips.len(),
        feed.stop_times.len(),
    );
    Ok(())
}
