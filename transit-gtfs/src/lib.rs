//! Standard feeds of the simulated CTA 'L' network: the static GTFS feed of its schedule, and
//! over a live status board GTFS-realtime and CTA's Train Tracker API, naming the same trips,
//! stops and routes.
//!
//! # Layout
//!
//! - [`model`]: the feed as data, one struct per GTFS file ([`Feed`]).
//! - [`build()`]: the feed from its [`Sources`] (network, platforms, the lines' scheduled
//!   timetables, `transit_core::network::timetable`, the very ones the simulation runs by):
//!   a pure function. No simulation is run to build it.
//! - [`Platforms`]: which of a station's two CTA platforms serves which direction of a line,
//!   and where it is.
//! - [`ScheduledTrips`]: the simulation's scheduled departures as GTFS trips and services,
//!   and [`ScheduledTrips::trip_of_departure`], the way from a departure of the running
//!   simulation to its `trip_id` and `start_date` (for GTFS-realtime).
//! - [`Feed::write`], [`Feed::to_zip`]: the CSV files, to a directory or a zip archive.
//! - [`live`]: a status board's trains as the live feeds publish them (place on the map,
//!   scheduled trip, predicted arrivals at the stops left).
//! - [`realtime`]: GTFS-realtime `VehiclePositions` and `TripUpdates` (messages generated from
//!   the official `.proto`).
//! - [`tracker`]: CTA's Train Tracker API v1.0 (arrivals, positions, follow; XML and JSON).
//! - [`vehicles`]: CTA's trains as any agency's vehicles: their calls as
//!   `VehicleArrivalEvent`s in the feed's ids, and a date's service as a `ServiceDay`.
//! - [`agency`]: GTFS-realtime of any agency's simulated day (a static GTFS feed as the
//!   input), in that feed's own ids, from the timetabled simulation's arrivals.
//!
//! # The feed
//!
//! | file | what |
//! |---|---|
//! | `agency.txt` | the CTA, simulated; times in America/Chicago |
//! | `stops.txt` | each station a parent station (CTA's `mapid`, 4xxxx) at the shared station coordinates; each platform a stop (CTA's `stpid`, 3xxxx) at its own |
//! | `routes.txt` | `Blue`, `Red`, `G` (CTA's route ids) in CTA's colours |
//! | `trips.txt`, `stop_times.txt` | every scheduled trip, terminal to terminal, as the simulation dispatches it, at the nominal run and dwell times |
//! | `calendar.txt` | `WKDY`, `SAT`, `SUN`, and the night services that differ by the day before or after |
//! | `feed_info.txt` | publisher, language, dates, version |
//!
//! Run times come from the speed model (`transit_core::speed`) over the stations' coordinates (no public
//! copy of CTA's run times exists), so the times are the simulation's, not CTA's; the number
//! of trips per hour at each line's reference station is CTA's.
//!
//! # Example
//!
//! ```
//! use transit_gtfs::{build, FeedOptions, Sources};
//!
//! # fn main() -> Result<(), transit_gtfs::GtfsError> {
//! let feed = build(&Sources::embedded()?, &FeedOptions::default())?;
//! assert_eq!(feed.routes.len(), 3);
//! let washington = feed.stops.iter().find(|s| s.stop_id == "40370").unwrap();
//! assert_eq!(washington.stop_name, "Washington");
//! let zip = feed.to_zip()?;
//! assert_eq!(&zip[..2], b"PK");
//! # Ok(())
//! # }
//! ```

pub mod agency;
mod build;
mod error;
pub mod live;
pub mod model;
mod platforms;
pub mod realtime;
pub mod tracker;
mod trips;
pub mod vehicles;
mod write;

pub use build::{build, route_id, FeedOptions, Sources, AGENCY_ID};
pub use error::GtfsError;
pub use model::Feed;
pub use platforms::{Platform, PlatformLocations, Platforms, EMBEDDED_PLATFORM_LOCATIONS};
pub use trips::{trip_id, ScheduledTrip, ScheduledTrips, TripRef};
pub use write::Written;
