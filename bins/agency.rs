//! Any agency's static GTFS feed as the input (`--gtfs PATH`, a zip or a folder), for
//! `full_pipeline`, `transit produce` and `transit dashboard` alike: reading the feed,
//! choosing its service day, and building the board, the feeds' routes and the timetabled
//! simulation over that day.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use chrono::{NaiveDate, Timelike, Utc};
use clap::Args;
use transit_core::network::service_day::ServiceDay;
use transit_gtfs_reader::{Feed, ReadOptions, ServiceDayOptions};
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
    /// A static GTFS feed (a zip or a folder) to run instead of CTA's embedded network.
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
}

/// One service day of an agency's feed, with what its board draws.
#[derive(Debug, Clone)]
pub struct AgencyDay {
    /// The feed read (served as the static feed, re-dated when the day runs another date's
    /// service).
    pub path: PathBuf,
    /// The agency's name (the first agency's), for the board's title.
    pub name: String,
    /// The day's trips, routes, stops and vehicles.
    pub day: Arc<ServiceDay>,
    /// The shapes the day's trips follow.
    pub shapes: Vec<MapShape>,
    /// Seconds into the service day the run starts at (0 when live: the publisher catches up).
    pub start_s: u32,
    /// Whether the run follows the wall clock (`--live`).
    pub live: bool,
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
            Mistake::new(
                GTFS,
                format!("reading the GTFS feed {}", path.display()),
                &error,
            )
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
            day: Arc::new(day),
            shapes,
            start_s,
            live: self.live,
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

impl AgencyDay {
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
    /// when live, else with the records' own (simulated) time.
    pub fn feeds(&self) -> AgencyFeeds {
        AgencyFeeds::with_board(
            &self.path,
            transit_gtfs::agency::AgencyBoard::new(Arc::clone(&self.day)).with_shapes(
                self.shapes
                    .iter()
                    .map(|shape| (shape.id.clone(), shape.points.clone())),
            ),
            if self.live {
                FeedClock::Wall
            } else {
                FeedClock::Records
            },
        )
    }

    /// The timetabled simulation of the day, standing at the start (the day before it is not
    /// published).
    pub fn simulation(&self, seed: u64) -> anyhow::Result<TimetabledSimulation> {
        let mut sim =
            TimetabledSimulation::new(Arc::clone(&self.day), TimetabledConfig::embedded(seed)?)
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
