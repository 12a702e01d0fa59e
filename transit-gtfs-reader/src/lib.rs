//! Reads any agency's static [GTFS](https://gtfs.org/documentation/schedule/reference/) feed,
//! a zip or a folder, into a compact model, so the network and timetable of any agency can be
//! simulated (see "Beyond one agency" in the design).
//!
//! ```no_run
//! use transit_gtfs_reader::{Feed, ReadOptions};
//!
//! # fn main() -> Result<(), transit_gtfs_reader::GtfsError> {
//! let feed = Feed::read("nyc_subway_gtfs.zip", &ReadOptions::default())?;
//! let requested = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default();
//! let day = feed.service_date(requested)?;
//! tracing::info!(%day, trips = feed.trips_on(day.taken).len(), "service date");
//! // What a simulation runs: the date's trips and vehicles, in the agency's wall-clock time.
//! let service = feed.service_day(requested)?;
//! tracing::info!(trips = service.trips.len(), vehicles = service.vehicles.len(), "service day");
//! # Ok(())
//! # }
//! ```
//!
//! What it reads: `agency.txt` (the time zone), `routes.txt`, `stops.txt` (stations,
//! platforms and their parents, checked), `trips.txt` (with `block_id` where present),
//! `stop_times.txt` (times past 24:00 kept as seconds since the service day's noon minus 12 h;
//! the times of untimed stops interpolated by `shape_dist_traveled`, else by position),
//! `calendar.txt` and `calendar_dates.txt`, `frequencies.txt` and `shapes.txt`. Columns are
//! found by header name and unknown ones ignored; a byte-order mark, CRLF line ends and quoted
//! fields holding commas are accepted. A feed that cannot be read gets one [`GtfsError`]
//! naming the file, the line and the field.
//!
//! Only the trips of the route types asked for are kept ([`ReadOptions`]; rail by default),
//! with their stop times, frequencies and shapes; every agency, route, stop and service is
//! kept.
//!
//! A date's service as a simulation runs it, [`Feed::service_day`] (a
//! [`ServiceDay`](transit_core::network::service_day::ServiceDay)):
//! - the date: the one asked for, or when the feed's calendar does not cover it (every old feed),
//!   the same weekday within it, logged ("the feed's calendar covers A to B; running the
//!   service of ..."), or the one [`ServiceDayOptions::service_date`] chooses; the times count
//!   from the date asked for's noon minus 12 h in the agency's zone, so the service runs on
//!   the date simulated, daylight-saving days included;
//! - routes with GTFS's default colours (white, black text) and a text colour that reads
//!   (WCAG contrast at least [`MIN_TEXT_CONTRAST`], else black or white, logged);
//! - every trip of the date once, a frequency trip once per instance (`start_time + k x
//!   headway_secs` before `end_time`, for `exact_times` 1 and 0 alike: the schedule says no
//!   better), sorted by first departure;
//! - vehicles: a block's trips chained (overlapping ones, a fault of the feed, split off and
//!   logged); without `block_id`, runs paired at the terminals after a layover, as CTA's block
//!   plan does (see [`DEFAULT_MIN_LAYOVER_S`]).
//!
//! A feed to serve beside a simulation of a date its calendar does not cover,
//! [`redate_zip`]: every date moved by whole weeks ([`Redate`]) so the date simulated runs the
//! service of the date taken, only the dates' digits rewritten and every other file copied as
//! stored (why, and what happens to holidays: `docs/feeds.md`).
//!
//! Bad input: a trip whose times go back along it is refused when the feed is read (the
//! error names stop_times.txt, the trip and the two stops), as every other fault of a feed;
//! what the service day leaves out (trips of one stop time) or changes (unreadable text
//! colours, overlapping blocks) it logs as a warning.
//!
//! Memory: stop times dominate a feed, so each is 20 bytes (indices into the stop and trip
//! tables, `u32` times) in one flat vector, each trip holding its range; ids are kept once.

mod day;
mod error;
mod model;
mod read;
mod redate;
mod service;
mod source;
mod table;

use std::path::Path;

use rustc_hash::FxHashMap;

pub use day::{ServiceDayOptions, DEFAULT_MAX_LAYOVER_S, DEFAULT_MIN_LAYOVER_S, MIN_TEXT_CONTRAST};
pub use error::{GtfsError, Result};
pub use model::{
    Agency, AgencyIdx, BlockIdx, Frequency, LocationType, Rgb, Route, RouteIdx, Service,
    ServiceIdx, Shape, ShapeIdx, ShapePoint, Stop, StopIdx, StopTime, Trip, TripIdx,
};
pub use redate::{redate_zip, Redate};
pub use service::{service_day_start, ServiceDate};
pub use table::MAX_FIELD_BYTES;

/// The GTFS route types kept by default: tram (0), subway (1), rail (2), cable tram (5),
/// funicular (7) and monorail (12). One train per block on these.
pub const RAIL_ROUTE_TYPES: [u16; 6] = [0, 1, 2, 5, 7, 12];

/// What to read of a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// The route types kept; `None` keeps every route.
    pub route_types: Option<Vec<u16>>,
}

impl Default for ReadOptions {
    /// Rail only ([`RAIL_ROUTE_TYPES`]).
    fn default() -> Self {
        ReadOptions {
            route_types: Some(RAIL_ROUTE_TYPES.to_vec()),
        }
    }
}

impl ReadOptions {
    /// Every route, whatever its type.
    pub fn all_route_types() -> Self {
        ReadOptions { route_types: None }
    }

    /// Only routes of these types (buses are 3, for example).
    pub fn route_types(types: impl IntoIterator<Item = u16>) -> Self {
        ReadOptions {
            route_types: Some(types.into_iter().collect()),
        }
    }

    fn keeps(&self, route_type: u16) -> bool {
        self.route_types
            .as_ref()
            .is_none_or(|types| types.contains(&route_type))
    }
}

/// A static GTFS feed, read.
#[derive(Debug, Default)]
pub struct Feed {
    agencies: Vec<Agency>,
    routes: Vec<Route>,
    stops: Vec<Stop>,
    trips: Vec<Trip>,
    stop_times: Vec<StopTime>,
    services: Vec<Service>,
    frequencies: Vec<Frequency>,
    shapes: Vec<Shape>,
    blocks: Vec<Box<str>>,
    route_ids: FxHashMap<Box<str>, RouteIdx>,
    stop_ids: FxHashMap<Box<str>, StopIdx>,
    trip_ids: FxHashMap<Box<str>, TripIdx>,
    service_ids: FxHashMap<Box<str>, ServiceIdx>,
}

impl Feed {
    /// Reads a feed from a zip file or a folder of `.txt` files.
    pub fn read(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Feed> {
        read::read_feed(source::Source::open(path.as_ref())?, options)
    }

    /// Reads a feed from the bytes of a zip archive.
    pub fn from_zip_bytes(bytes: Vec<u8>, options: &ReadOptions) -> Result<Feed> {
        read::read_feed(source::Source::from_bytes(bytes)?, options)
    }

    /// The agencies, in file order.
    pub fn agencies(&self) -> &[Agency] {
        &self.agencies
    }

    /// The feed's time zone: its first agency's (GTFS wants every agency in the same zone;
    /// each route's own agency has its zone too).
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.agencies.first().map_or(chrono_tz::UTC, |a| a.timezone)
    }

    /// Every route, in file order (whatever its type: only trips are left out by type).
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Every stop, platform, station, entrance, node and boarding area, in file order.
    pub fn stops(&self) -> &[Stop] {
        &self.stops
    }

    /// The trips of the routes kept, in file order.
    pub fn trips(&self) -> &[Trip] {
        &self.trips
    }

    /// Every stop time of the trips kept, sorted by trip and stop sequence.
    pub fn stop_times(&self) -> &[StopTime] {
        &self.stop_times
    }

    /// A trip's stop times, in stop sequence order (none for a trip stop_times.txt leaves
    /// out, which is logged as a warning).
    pub fn trip_stop_times(&self, trip: TripIdx) -> &[StopTime] {
        self.trips.get(trip.index()).map_or(&[], |t| {
            let start = t.first_stop_time as usize;
            self.stop_times
                .get(start..start + t.stop_time_count as usize)
                .unwrap_or(&[])
        })
    }

    /// The services of `calendar.txt` and `calendar_dates.txt`.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The headway-based runs of the trips kept.
    pub fn frequencies(&self) -> &[Frequency] {
        &self.frequencies
    }

    /// The shapes of the trips kept.
    pub fn shapes(&self) -> &[Shape] {
        &self.shapes
    }

    /// A block's `block_id`.
    pub fn block_id(&self, block: BlockIdx) -> Option<&str> {
        self.blocks.get(block.index()).map(|b| &**b)
    }

    /// How many blocks the trips kept name.
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// The route with this `route_id`.
    pub fn route_by_id(&self, id: &str) -> Option<RouteIdx> {
        self.route_ids.get(id).copied()
    }

    /// The stop with this `stop_id`.
    pub fn stop_by_id(&self, id: &str) -> Option<StopIdx> {
        self.stop_ids.get(id).copied()
    }

    /// The trip with this `trip_id`, if its route was kept.
    pub fn trip_by_id(&self, id: &str) -> Option<TripIdx> {
        self.trip_ids.get(id).copied()
    }

    /// The service with this `service_id`.
    pub fn service_by_id(&self, id: &str) -> Option<ServiceIdx> {
        self.service_ids.get(id).copied()
    }
}

#[cfg(test)]
mod tests;
