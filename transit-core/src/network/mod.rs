//! The CTA data sets, parsed: the three lines and their stations, where the stations are, and
//! the riders per station.
//!
//! A [`Network`] carries its stations' coordinates ([`Network::locations`]), loaded with it:
//! the simulation's run times and the status board's estimates between arrivals come from
//! them, so a network of another stations file is never drawn with the embedded geometry.
//!
//! The data is embedded in the library, so the default run needs no file; every loader also
//! takes a path or a reader. Errors name the file and line of the bad row. The real data's
//! quirks are handled on purpose and listed in a [`NetworkReport`]:
//! rows on none of the three lines (Brown, Purple... only) are left out, rows on several are
//! left out and reported, two rows of a station that disagree on its name are reconciled by
//! the stop names, and runs of spaces in names are collapsed.
//!
//! Built from them, and still data rather than simulation: the riders expected at each station
//! ([`ExpectedRiders`]) and each line's scheduled timetable ([`timetable`]), which the
//! simulator runs by and the feeds publish.

pub mod calls;
pub mod cta;
mod error;
mod expected;
mod lines;
mod locations;
mod ridership;
mod rows;
mod schedule;
pub mod service_day;
pub mod timetable;

pub use error::DataError;
pub use expected::ExpectedRiders;
pub(crate) use lines::agreed_name;
pub use lines::{resolve_line, Line, Network, NetworkReport, UnknownLine};
pub use locations::{StationLocations, EMBEDDED_STATION_LOCATIONS};
pub use ridership::{DayType, Ridership, EMBEDDED_RIDERSHIP_CURVE, EMBEDDED_RIDERSHIP_SEED};
pub use rows::{
    embedded_station_rows, parse_station_rows, parse_station_rows_lenient, LenientRows,
    EMBEDDED_STATIONS,
};
pub use schedule::{LineSchedule, Schedule, EMBEDDED_SCHEDULE, SERVICE_HOURS};
