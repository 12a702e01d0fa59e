//! One day of any agency's scheduled service, as a simulator runs it and the feeds describe
//! it: the routes, the stops, every trip that runs on the date with its stop times, and the
//! vehicles that run them in turn.
//!
//! It is data, read from a static GTFS feed by `transit-gtfs-reader` (which expands frequency
//! trips and pairs trips into vehicles), and it names everything by the feed's own ids so the
//! live feeds can be used beside the static one.
//!
//! Times are counted as GTFS counts them: seconds from "noon minus 12 h" of the date simulated
//! in the agency's time zone ([`ServiceDay::start_unix_s`] is that instant; the service run
//! may be another date's, [`ServiceDay::date`], when the feed's calendar does not cover it). So a stop time
//! past 24:00 is simply more seconds, and on a daylight-saving day the seconds are still real
//! elapsed seconds: 02:30 on the night clocks go forward is 01:30 + 1 h as GTFS defines.

use chrono::NaiveDate;

use crate::model::{LineId, Route};

/// A stop's position in [`ServiceDay::stops`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StopIndex(pub u32);

/// A vehicle's position in [`ServiceDay::vehicles`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VehicleIndex(pub u32);

/// A trip's position in [`ServiceDay::trips`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TripIndex(pub u32);

/// A stop, platform or station (GTFS's `stops.txt`).
#[derive(Debug, Clone, PartialEq)]
pub struct StopPlace {
    /// `stop_id`.
    pub id: String,
    /// `stop_name`.
    pub name: String,
    /// Where it is (latitude, longitude), when the feed says.
    pub location: Option<(f64, f64)>,
    /// Its parent station, when it is a platform of one.
    pub parent: Option<StopIndex>,
}

/// One stop of a trip: when the vehicle is due there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledStop {
    /// Where.
    pub stop: StopIndex,
    /// Due to arrive, seconds from the service day's start ([`ServiceDay::start_unix_s`]).
    pub arrival_s: u32,
    /// Due to leave (at or after the arrival).
    pub departure_s: u32,
    /// `stop_sequence` in the feed's `stop_times.txt` (increasing along the trip, not
    /// necessarily from 0 or by 1), which GTFS-realtime names the stop by.
    pub stop_sequence: u32,
}

/// One trip that runs on the service date.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledTrip {
    /// `trip_id`, as the feed has it.
    pub trip_id: String,
    /// Its route.
    pub route: LineId,
    /// `direction_id`, when the feed gives it.
    pub direction_id: Option<u8>,
    /// For a trip of `frequencies.txt`, the start time of this instance (seconds from the
    /// service day's start), which GTFS-realtime names it by with `start_time`; `None` for a
    /// trip of its own schedule.
    pub frequency_start_s: Option<u32>,
    /// For a frequency instance, whether its `frequencies.txt` row has `exact_times` 1 (a
    /// schedule, GTFS-realtime's `SCHEDULED`) rather than 0 (a headway only, `UNSCHEDULED`);
    /// `false` for a trip of its own schedule.
    pub exact_times: bool,
    /// `shape_id`, when the feed gives it.
    pub shape_id: Option<String>,
    /// The vehicle that runs it.
    pub vehicle: VehicleIndex,
    /// Its stops in order; at least two, times never decreasing.
    pub stops: Vec<ScheduledStop>,
}

impl ScheduledTrip {
    /// When it leaves its first stop.
    pub fn first_departure_s(&self) -> u32 {
        self.stops.first().map_or(0, |stop| stop.departure_s)
    }

    /// When it reaches its last stop.
    pub fn last_arrival_s(&self) -> u32 {
        self.stops.last().map_or(0, |stop| stop.arrival_s)
    }
}

/// A vehicle: the trips it runs one after another through the day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vehicle {
    /// Its id in the feeds: the trips' `block_id` where the feed has one (`<block_id>~2`,
    /// `~3`... for trips of a block that overlap in time, a fault of the feed), otherwise
    /// `<route_id>-<n>`, the route's vehicles numbered from 1 by first departure.
    pub id: String,
    /// Its trips in the order it runs them (each starts after the one before ends).
    pub trips: Vec<TripIndex>,
}

/// A day of scheduled service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDay {
    /// The agency's time zone (IANA name, `America/New_York`).
    pub timezone: String,
    /// The date asked for.
    pub requested: NaiveDate,
    /// The feed's date whose service runs: the one asked for, or, when the feed's calendar does
    /// not cover it, the same weekday within the feed's range.
    pub date: NaiveDate,
    /// The instant the day's times count from, Unix seconds: "noon minus 12 h" local of
    /// [`ServiceDay::requested`], the date simulated, so the service of [`ServiceDay::date`]
    /// runs on it in wall-clock time (with the simulated date's daylight-saving change, if it
    /// has one).
    pub start_unix_s: i64,
    /// The routes, in the feed's order.
    pub routes: Vec<Route>,
    /// Every stop of the feed (the trips refer to them by index).
    pub stops: Vec<StopPlace>,
    /// The trips that run on the date, frequency instances expanded, by first departure.
    pub trips: Vec<ScheduledTrip>,
    /// The vehicles that run them.
    pub vehicles: Vec<Vehicle>,
}

impl ServiceDay {
    /// The route `id`.
    pub fn route(&self, id: LineId) -> Option<&Route> {
        self.routes.iter().find(|route| route.id == id)
    }

    /// The stop at `index`.
    pub fn stop(&self, index: StopIndex) -> Option<&StopPlace> {
        self.stops.get(index.0 as usize)
    }

    /// The trip at `index`.
    pub fn trip(&self, index: TripIndex) -> Option<&ScheduledTrip> {
        self.trips.get(index.0 as usize)
    }

    /// The Unix time (seconds) of `seconds` from the day's start.
    pub fn unix_s(&self, seconds: u32) -> i64 {
        self.start_unix_s + i64::from(seconds)
    }
}
