//! Any agency's static GTFS feed as the input (`--gtfs PATH`, a zip or a folder), for
//! `full_pipeline`, `transit produce` and `transit dashboard` alike: reading the feed,
//! choosing its service day, and building the board, the feeds' routes and the timetabled
//! simulation over that day.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use chrono::{NaiveDate, Timelike, Utc};
use clap::Args;
use transit_core::network::service_day::ServiceDay;
use transit_core::topics::Topics;
use transit_gtfs_reader::{Feed, GtfsError, ReadOptions, ServiceDayOptions};
use transit_http::agency::{AgencyFeeds, FeedClock};
use transit_http::agency_board::{AgencyBoard, AgencyNetwork, MapShape};
use transit_sim::timetabled::publish::Clock;
use transit_sim::timetabled::{TimetabledConfig, TimetabledSimulation};
use transit_sim::SimTime;

use crate::retry::Mistake;

/// The setting a bad feed names.
pub const GTFS: &str = "--gtfs (TRANSIT_GTFS)";

/// The settings a service day that cannot be built names.
const SERVICE_DAY: &str = "--gtfs (TRANSIT_GTFS), --service-date and --route-types";

/// `--gtfs` and the options of the feed it names.
#[derive(Debug, Clone, Default, Args)]
pub struct AgencyArgs {
    /// A static GTFS feed (a zip or a folder) to run instead of CTA's embedded network. Its
    /// topics are named after the feed, `gtfs.<agency_id, else the file's name>`, unless
    /// --topic-prefix names a prefix.
    #[arg(long, env = "TRANSIT_GTFS", value_name = "PATH")]
    pub gtfs: Option<PathBuf>,

    /// With --gtfs: the feed's service date to run (YYYY-MM-DD), whatever the date simulated.
    #[arg(long, requires = "gtfs", value_name = "DATE")]
    pub service_date: Option<NaiveDate>,

    /// With --gtfs: the GTFS route types to read, comma-separated (rail by default: 0,1,2,5,7,12;
    /// 3 is bus).
    #[arg(long, requires = "gtfs", value_delimiter = ',', value_name = "TYPES")]
    pub route_types: Option<Vec<u16>>,

    /// With --gtfs: start at the current wall-clock time in the agency's time zone and run at
    /// 1x, every timestamp real time.
    #[arg(long, requires = "gtfs")]
    pub live: bool,

    /// With --gtfs: run the timetable with its riders alone, no railway's uncertainty (no
    /// run-time spread, slow zones, incidents, late or dropped departures): every trip runs,
    /// late only by its riders' dwell (docs/simulation.md).
    #[arg(long, requires = "gtfs")]
    pub regular: bool,
}

/// One service day of an agency's feed, with what its board draws.
#[derive(Debug, Clone)]
pub struct AgencyDay {
    /// The feed read (served as the static feed, re-dated when the day runs another date's
    /// service).
    pub path: PathBuf,
    /// The agency's name (the first agency's), for the board's title.
    pub name: String,
    /// The topic prefix of the feed's run when `--topic-prefix` is not given
    /// ([`feed_topic_prefix`]).
    pub topic_prefix: String,
    /// The day's trips, routes, stops and vehicles.
    pub day: Arc<ServiceDay>,
    /// The shapes the day's trips follow.
    pub shapes: Vec<MapShape>,
    /// Seconds into the service day the run starts at (0 when live: the publisher catches up).
    pub start_s: u32,
    /// Whether the run follows the wall clock (`--live`).
    pub live: bool,
    /// Whether the railway is regular (`--regular`): riders alone, no uncertainty.
    pub regular: bool,
}

impl AgencyArgs {
    /// The service day of `--gtfs`, if given: today in the agency's zone when `--live`,
    /// otherwise the date of `start` (a local time, read in the agency's own zone). A feed
    /// that cannot be read, or runs no trip that day, is a mistake naming `--gtfs`.
    pub fn day(&self, start: SimTime) -> anyhow::Result<Option<AgencyDay>> {
        let Some(path) = &self.gtfs else {
            return Ok(None);
        };
        let options = match &self.route_types {
            Some(types) => ReadOptions::route_types(types.iter().copied()),
            None => ReadOptions::default(),
        };
        let feed = Feed::read(path, &options).map_err(|error| {
            // A path that is no feed is named by the error itself: once in the line is enough.
            let what = match error {
                GtfsError::Io { .. } | GtfsError::NotZip { .. } => "reading the GTFS feed".into(),
                _ => format!("reading the GTFS feed {}", path.display()),
            };
            Mistake::new(GTFS, what, &error)
        })?;
        let zone = feed.timezone();
        let (requested, start_s) = if self.live {
            (Utc::now().with_timezone(&zone).date_naive(), 0)
        } else {
            let local = start
                .to_naive()
                .context("the simulated start is out of range")?;
            (local.date(), local.time().num_seconds_from_midnight())
        };
        let day = feed
            .service_day_with(
                requested,
                &ServiceDayOptions {
                    service_date: self.service_date,
                    ..ServiceDayOptions::default()
                },
            )
            .map_err(|error| {
                Mistake::new(
                    SERVICE_DAY,
                    format!(
                        "building the service day of {requested} from {}",
                        path.display()
                    ),
                    &error,
                )
            })?;
        if day.trips.is_empty() {
            return Err(Mistake {
                message: format!(
                    "the GTFS feed {} runs no trips of the route types read on {}",
                    path.display(),
                    day.date
                ),
                setting: SERVICE_DAY,
            }
            .into());
        }
        let used: HashSet<&str> = day
            .trips
            .iter()
            .filter_map(|trip| trip.shape_id.as_deref())
            .collect();
        let shapes: Vec<MapShape> = feed
            .shapes()
            .iter()
            .filter(|shape| used.contains(&*shape.id))
            .map(|shape| MapShape {
                id: shape.id.to_string(),
                points: shape.points.iter().map(|p| (p.lat, p.lon)).collect(),
            })
            .collect();
        let name = feed.agencies().first().map_or_else(
            || "The network".to_string(),
            |agency| agency.name.to_string(),
        );
        let topic_prefix = feed_topic_prefix(
            feed.agencies()
                .first()
                .and_then(|agency| agency.id.as_deref()),
            path,
        );
        tracing::info!(
            feed = %path.display(),
            timezone = %day.timezone,
            requested = %day.requested,
            service_date = %day.date,
            routes = day.routes.len(),
            trips = day.trips.len(),
            vehicles = day.vehicles.len(),
            "service day"
        );
        Ok(Some(AgencyDay {
            path: path.clone(),
            name,
            topic_prefix,
            day: Arc::new(day),
            shapes,
            start_s,
            live: self.live,
            regular: self.regular,
        }))
    }

    /// The publisher's clock: the wall clock when `--live`, else `--flat-out` or `--speed`.
    pub fn clock(&self, flat_out: bool, speed: f64) -> anyhow::Result<Clock> {
        Ok(match (self.live, flat_out) {
            (true, true) => anyhow::bail!("--live and --flat-out cannot be used together"),
            (true, false) => Clock::Live,
            (false, true) => Clock::FlatOut,
            (false, false) => Clock::Speed(speed),
        })
    }
}

/// The topic prefix a GTFS feed's run takes by default: `gtfs.` and the feed's first
/// `agency_id`, or without one the feed's file name without `.zip` (or its folder's name), in
/// lower case with every character outside `a-z`, `0-9` turned into `-` (runs of them into
/// one), at most 100 characters; `gtfs.feed` if nothing is left. Kafka's topic names allow
/// `[a-zA-Z0-9._-]`; no `_` or further `.`, whose mix Kafka warns about (both map to `_` in its
/// metrics), and the prefix keeps the two parts of `org.chicago.cta`'s form.
pub fn feed_topic_prefix(agency_id: Option<&str>, path: &Path) -> String {
    let stem = path.file_name().map(|name| {
        let name = name.to_string_lossy();
        let zip = name.len() > 4 && name.to_ascii_lowercase().ends_with(".zip");
        match name.get(..name.len() - 4) {
            Some(stem) if zip => stem.to_owned(),
            _ => name.into_owned(),
        }
    });
    let source = agency_id
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .or(stem)
        .unwrap_or_default();
    let mut name = String::new();
    for c in source.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
        if name.len() >= 100 {
            break;
        }
    }
    let name = name.trim_end_matches('-');
    format!("gtfs.{}", if name.is_empty() { "feed" } else { name })
}

impl AgencyDay {
    /// The run's topics: under `configured` (`--topic-prefix`), or without one under the
    /// feed's own prefix ([`AgencyDay::topic_prefix`]), so another agency's records never land
    /// in CTA's topics unless asked for.
    pub fn topics(&self, configured: Option<&str>) -> Topics {
        let prefix = configured.unwrap_or(&self.topic_prefix);
        tracing::info!(prefix, feed = %self.path.display(), "topic prefix");
        Topics::new(prefix)
    }

    /// The board of the day's trips, empty until it reads arrivals.
    pub fn board(&self) -> AgencyBoard {
        AgencyBoard::new(AgencyNetwork {
            name: self.name.clone(),
            day: Arc::clone(&self.day),
            shapes: self.shapes.clone(),
        })
    }

    /// GTFS-realtime in the input's ids and the input itself as `/gtfs/static.zip` (re-dated
    /// to the simulated date when its service is another date's), stamped with the wall clock
    /// when live, else with the records' own (simulated) time. With `predicted`, its trip
    /// updates are the predictor's `learnt` predictions, which it reads from the prediction
    /// table ([`AgencyFeeds::follow_predictions`]); without, each vehicle's current delay
    /// carried over the timetable.
    pub fn feeds(&self, predicted: bool) -> AgencyFeeds {
        let board = transit_gtfs::agency::AgencyBoard::new(Arc::clone(&self.day)).with_shapes(
            self.shapes
                .iter()
                .map(|shape| (shape.id.clone(), shape.points.clone())),
        );
        AgencyFeeds::with_board(
            &self.path,
            if predicted {
                board.with_predictions()
            } else {
                board
            },
            if self.live {
                FeedClock::Wall
            } else {
                FeedClock::Records
            },
        )
    }

    /// The timetabled simulation of the day, standing at the start (the day before it is not
    /// published): the calibrated, uncertain railway, or with `--regular` the timetable with
    /// its riders alone.
    pub fn simulation(&self, seed: u64) -> anyhow::Result<TimetabledSimulation> {
        let config = if self.regular {
            TimetabledConfig::regular(seed)?
        } else {
            TimetabledConfig::embedded(seed)?
        };
        let mut sim = TimetabledSimulation::new(Arc::clone(&self.day), config)
            .context("setting up the timetabled simulation")?;
        if self.start_s > 0 {
            let mut before = Vec::new();
            sim.advance_to(self.start_s, &mut before);
        }
        Ok(sim)
    }

    /// The simulated second `days` days after where `sim` stands (`--days`).
    pub fn until(sim: &TimetabledSimulation, days: Option<f64>) -> Option<u32> {
        days.map(|days| {
            let seconds = (days.max(0.0) * 86_400.0) as u64 + u64::from(sim.now());
            u32::try_from(seconds).unwrap_or(u32::MAX)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::feed_topic_prefix;

    #[test]
    fn a_feeds_topic_prefix_comes_from_its_agency_id_or_file_in_kafkas_charset() {
        let nyc = Path::new("/feeds/nyc_subway_gtfs.zip");
        assert_eq!(feed_topic_prefix(Some("MTA NYCT"), nyc), "gtfs.mta-nyct");
        assert_eq!(feed_topic_prefix(Some("FTA"), nyc), "gtfs.fta");
        assert_eq!(feed_topic_prefix(None, nyc), "gtfs.nyc-subway-gtfs");
        assert_eq!(feed_topic_prefix(Some("  "), nyc), "gtfs.nyc-subway-gtfs");
        assert_eq!(
            feed_topic_prefix(None, Path::new("feeds/Bus Feed.2025/")),
            "gtfs.bus-feed-2025"
        );
        assert_eq!(
            feed_topic_prefix(Some("Société des transports/Zürich, été"), nyc),
            "gtfs.soci-t-des-transports-z-rich-t"
        );
        assert_eq!(feed_topic_prefix(Some("***"), nyc), "gtfs.feed");
        let long = feed_topic_prefix(Some(&"a".repeat(300)), nyc);
        assert_eq!(long.len(), "gtfs.".len() + 100);
        for prefix in [long, feed_topic_prefix(Some("a.b_c"), nyc)] {
            assert!(prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'));
            assert_eq!(prefix.matches('.').count(), 1, "{prefix}");
        }
    }
}
