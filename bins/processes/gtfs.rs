//! `transit gtfs export DIR|FILE.zip`: the static GTFS feed of the simulated network. Another
//! agency's feed (`--gtfs`) is static GTFS already: `transit dashboard --gtfs` serves it, with
//! its GTFS-realtime, and `transit gtfs --gtfs` says so.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{Days, NaiveDate};
use clap::{Args, Subcommand};
use transit_gtfs::{FeedOptions, Sources, Written};

use crate::retry::Mistake;

/// `transit gtfs ...`: a subcommand, or `--gtfs`, which only tells where another agency's
/// feeds are served.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct GtfsArgs {
    /// What to do with CTA's simulated network's feeds.
    #[command(subcommand)]
    pub command: Option<GtfsCommand>,

    /// Another agency's static GTFS feed: nothing to export (it is one already); `transit
    /// dashboard --gtfs PATH` serves it at /gtfs/static.zip with its GTFS-realtime, fed by
    /// `transit produce --gtfs PATH`.
    #[arg(long, value_name = "PATH")]
    pub gtfs: Option<PathBuf>,
}

/// `transit gtfs`'s subcommands.
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
pub fn run(args: &GtfsArgs) -> anyhow::Result<()> {
    match (&args.command, &args.gtfs) {
        (_, Some(path)) => Err(Mistake {
            message: format!(
                "`transit gtfs` exports CTA's simulated network; {} is a static GTFS feed already: \
                 serve it and its GTFS-realtime with `transit produce --gtfs {0}` and \
                 `transit dashboard --gtfs {0}` (/gtfs/static.zip, /gtfs-rt/vehicle-positions, \
                 /gtfs-rt/trip-updates)",
                path.display()
            ),
            setting: crate::agency::GTFS,
        }
        .into()),
        (Some(GtfsCommand::Export(export_args)), None) => export(export_args),
        (None, None) => anyhow::bail!("`transit gtfs` needs a subcommand: export (see --help)"),
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
