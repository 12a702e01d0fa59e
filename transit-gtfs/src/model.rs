//! The feed as data: one struct per GTFS file, one field per column, in the spec's names.
//!
//! Optional columns are `Option`s (an empty cell); times are seconds since the service day's
//! noon minus 12 h, written `H:MM:SS` and past `24:00:00` for trips after midnight, as GTFS
//! allows.

use chrono::NaiveDate;
use serde::{Serialize, Serializer};

/// `agency.txt`: who runs the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agency {
    /// `agency_id`.
    pub agency_id: String,
    /// `agency_name`.
    pub agency_name: String,
    /// `agency_url`.
    pub agency_url: String,
    /// `agency_timezone`: the time zone every time of the feed is in.
    pub agency_timezone: String,
    /// `agency_lang`.
    pub agency_lang: String,
}

/// What a row of `stops.txt` is (`location_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationType {
    /// 0: a platform, where trips stop.
    Platform,
    /// 1: a station, the parent of its platforms.
    Station,
}

impl Serialize for LocationType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(match self {
            LocationType::Platform => 0,
            LocationType::Station => 1,
        })
    }
}

/// `stops.txt`: a station (CTA's `mapid`, 4xxxx) or one of its platforms (CTA's `stpid`,
/// 3xxxx, one per direction and line).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stop {
    /// `stop_id`: CTA's own id.
    pub stop_id: String,
    /// `stop_name`.
    pub stop_name: String,
    /// `stop_lat`.
    pub stop_lat: f64,
    /// `stop_lon`.
    pub stop_lon: f64,
    /// `location_type`.
    pub location_type: LocationType,
    /// `parent_station`: the station of a platform; empty for a station.
    pub parent_station: Option<String>,
}

/// `routes.txt`: one per line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// `route_id`: CTA's (`Blue`, `Red`, `G`).
    pub route_id: String,
    /// `agency_id`.
    pub agency_id: String,
    /// `route_short_name`: empty, as in CTA's feed (the long name says it).
    pub route_short_name: String,
    /// `route_long_name`: `Blue Line`.
    pub route_long_name: String,
    /// `route_type`: 1, subway or metro (CTA's choice for the 'L').
    pub route_type: u16,
    /// `route_color`: CTA's colour of the line, hex without `#`.
    pub route_color: String,
    /// `route_text_color`.
    pub route_text_color: String,
}

/// `trips.txt`: one trip of a line, terminal to terminal, on the days of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trip {
    /// `route_id`.
    pub route_id: String,
    /// `service_id`: the days it runs (see [`Calendar`]).
    pub service_id: String,
    /// `trip_id`: line, direction, service and departure from the terminal, as
    /// `BL-A-WKDY-051243` (see [`crate::trip_id`]).
    pub trip_id: String,
    /// `trip_headsign`: the terminal it is bound for.
    pub trip_headsign: String,
    /// `direction_id`: 0 for the simulation's direction A (towards the line's last
    /// station), 1 for B.
    pub direction_id: u8,
}

/// A time of a service day: seconds since its noon minus 12 h; `25:10:00` is 01:10 the next
/// morning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceTime(pub u32);

impl std::fmt::Display for ServiceTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0;
        write!(f, "{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    }
}

impl Serialize for ServiceTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `stop_times.txt`: a trip's call at a platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopTime {
    /// `trip_id`.
    pub trip_id: String,
    /// `arrival_time`.
    pub arrival_time: ServiceTime,
    /// `departure_time`.
    pub departure_time: ServiceTime,
    /// `stop_id`: the platform.
    pub stop_id: String,
    /// `stop_sequence`: 1 at the terminal it leaves.
    pub stop_sequence: u32,
    /// `timepoint`: 1, the times are the simulation's nominal ones, not estimates.
    pub timepoint: u8,
}

/// A date written as GTFS wants it, `YYYYMMDD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GtfsDate(pub NaiveDate);

impl Serialize for GtfsDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0.format("%Y%m%d"))
    }
}

/// `calendar.txt`: the days of the week a service runs, between two dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Calendar {
    /// `service_id`: `WKDY`, `SAT`, `SUN`, or the days themselves (`MON`, `TUE-FRI`) for
    /// the night trips that differ by the day before or after.
    pub service_id: String,
    /// `monday`.
    pub monday: u8,
    /// `tuesday`.
    pub tuesday: u8,
    /// `wednesday`.
    pub wednesday: u8,
    /// `thursday`.
    pub thursday: u8,
    /// `friday`.
    pub friday: u8,
    /// `saturday`.
    pub saturday: u8,
    /// `sunday`.
    pub sunday: u8,
    /// `start_date`.
    pub start_date: GtfsDate,
    /// `end_date`.
    pub end_date: GtfsDate,
}

/// `feed_info.txt`: who publishes the feed, its language, dates and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedInfo {
    /// `feed_publisher_name`.
    pub feed_publisher_name: String,
    /// `feed_publisher_url`.
    pub feed_publisher_url: String,
    /// `feed_lang`.
    pub feed_lang: String,
    /// `feed_start_date`.
    pub feed_start_date: GtfsDate,
    /// `feed_end_date`.
    pub feed_end_date: GtfsDate,
    /// `feed_version`.
    pub feed_version: String,
}

/// A whole static GTFS feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// `agency.txt`.
    pub agency: Vec<Agency>,
    /// `stops.txt`: stations first, then platforms.
    pub stops: Vec<Stop>,
    /// `routes.txt`.
    pub routes: Vec<Route>,
    /// `trips.txt`.
    pub trips: Vec<Trip>,
    /// `stop_times.txt`, grouped by trip, in stop order.
    pub stop_times: Vec<StopTime>,
    /// `calendar.txt`.
    pub calendar: Vec<Calendar>,
    /// `feed_info.txt`.
    pub feed_info: FeedInfo,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_times_pass_midnight_as_gtfs_writes_them() {
        assert_eq!(ServiceTime(5 * 3600 + 12 * 60 + 43).to_string(), "05:12:43");
        assert_eq!(ServiceTime(25 * 3600 + 10 * 60).to_string(), "25:10:00");
    }
}
