//! CTA's trains as any agency's vehicles: each call of a train at a stop of its scheduled trip
//! as a [`VehicleArrivalEvent`] in the static feed's ids ([`CallNames`]), and the service of a
//! date as a [`ServiceDay`] with the feed's very trips, stops and times ([`service_day`]), so
//! what reads any agency's arrivals and timetable (the predictor, `transit-predict`) reads
//! CTA's.
//!
//! The trip a train runs is its departure from the terminal named by
//! [`ScheduledTrips::trip_of_departure`](crate::ScheduledTrips::trip_of_departure), the mapping the live feeds use
//! ([`live`](crate::live)); its stop is the platform of the station for its direction
//! ([`Platforms`](crate::Platforms)); its scheduled times are the feed's `stop_times.txt`
//! ones (whole seconds of the trip's departure plus the stop's offset), counted from the
//! service date's noon minus 12 h in Chicago, as [`ServiceDay`] counts them. The
//! `stop_sequence` of an arrival is the stop's place in its trip from 0, as the timetabled
//! simulation's arrivals give it (the static feed's `stop_sequence` is that plus 1).
//!
//! The service day is the static feed itself read back by `transit-gtfs-reader`, as any
//! agency's feed is: its vehicles are the reader's (trips paired at the terminals after a
//! layover), which are the simulation's block plan's pairings where no train runs late; a
//! late train may swap runs with one laying over, as controllers do, and then runs a trip
//! the service day gives another vehicle.

use chrono::NaiveDate;
use transit_core::event::VehicleArrivalEvent;
use transit_core::network::calls::{NameCalls, TrainCall};
use transit_core::network::service_day::ServiceDay;
use transit_core::time::SimTime;

use crate::build::{build, route_id, FeedOptions, Sources};
use crate::trips::whole_seconds;
use crate::GtfsError;

/// The time zone CTA's feeds and the simulation's clock are in.
const TIMEZONE: chrono_tz::Tz = chrono_tz::America::Chicago;

/// Names CTA's train calls by the static feed of [`Sources`]: see the module docs.
///
/// ```
/// use std::sync::Arc;
///
/// use transit_core::network::calls::NameCalls;
/// use transit_gtfs::vehicles::CallNames;
/// use transit_gtfs::Sources;
///
/// # fn main() -> Result<(), transit_gtfs::GtfsError> {
/// let names: Arc<dyn NameCalls> = Arc::new(CallNames::new(Sources::embedded()?));
/// # let _ = names;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CallNames {
    sources: Sources,
}

impl CallNames {
    /// The names of `sources`' feed.
    pub fn new(sources: Sources) -> Self {
        Self { sources }
    }

    /// What the feed is made of.
    pub fn sources(&self) -> &Sources {
        &self.sources
    }
}

impl NameCalls for CallNames {
    fn vehicle_arrival(&self, call: &TrainCall) -> Option<VehicleArrivalEvent> {
        let trips = &self.sources.trips;
        let trip = trips.trip_of_departure(call.line, call.direction, call.trip_departure)?;
        let offsets = trips
            .timetable(call.line)?
            .stop_offsets(call.direction, call.trip_departure.0);
        let offset = offsets.get(call.stop as usize)?;
        let platform = self
            .sources
            .platforms
            .get(call.line, call.station, call.direction)
            .filter(|platform| platform.station == call.station_id)?;
        let midnight = SimTime::from_naive(trip.start_date.and_hms_opt(0, 0, 0)?);
        let day_start_ms = service_day_start_ms(trip.start_date)?;
        // The feed's times: whole seconds of the service day, as stop_times.txt has them.
        let scheduled = |offset_ms: i64| {
            day_start_ms + whole_seconds(call.trip_departure.0 - midnight.0 + offset_ms) * 1_000
        };
        // The simulation's clock is the service day's wall clock, from its start.
        let instant = |time: SimTime| day_start_ms + (time.0 - midnight.0);
        // The feed's schedule must be the one the train keeps (to the feed's whole second).
        if (scheduled(offset.arrival_ms) - instant(call.scheduled_arrival)).abs() > 1_000 {
            return None;
        }
        Some(VehicleArrivalEvent {
            route_id: route_id(call.line).to_string(),
            trip_id: trip.trip_id,
            start_date: trip.start_date.format("%Y%m%d").to_string(),
            start_time: None,
            direction_id: Some(call.direction as i32),
            stop_id: platform.stop_id.to_string(),
            stop_sequence: call.stop,
            vehicle_id: call.train.to_string(),
            arrival_time: instant(call.arrival),
            departure_time: instant(call.departure.max(call.arrival)),
            scheduled_arrival_time: scheduled(offset.arrival_ms),
            scheduled_departure_time: scheduled(offset.departure_ms),
            boarded: call.boarded,
            // The simulation does not model riders getting off.
            alighted: 0,
        })
    }
}

/// The instant (Unix ms) the times of service date `date` count from in Chicago: noon minus
/// 12 h, as GTFS and [`ServiceDay::start_unix_s`] count.
fn service_day_start_ms(date: NaiveDate) -> Option<i64> {
    transit_gtfs_reader::service_day_start(TIMEZONE, date).map(|start| start.timestamp() * 1_000)
}

/// The service CTA's static feed of `sources` runs on `date`: the feed built (a calendar that
/// covers the date) and read back as any agency's feed is, so the trips, stops and times are
/// the feed's own.
///
/// ```
/// use chrono::NaiveDate;
/// use transit_gtfs::{vehicles, Sources};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let monday = NaiveDate::from_ymd_opt(2026, 11, 2).ok_or("a date")?;
/// let day = vehicles::service_day(&Sources::embedded()?, monday)?;
/// assert_eq!(day.routes.len(), 3);
/// assert!(day.trips.iter().all(|trip| trip.trip_id.contains("-WKDY-") || trip.trip_id.contains("-MON")));
/// # Ok(())
/// # }
/// ```
pub fn service_day(sources: &Sources, date: NaiveDate) -> Result<ServiceDay, GtfsError> {
    let defaults = FeedOptions::default();
    let options = FeedOptions {
        start_date: defaults.start_date.min(date),
        end_date: defaults.end_date.max(date),
        ..defaults
    };
    let zip = build(sources, &options)?.to_zip()?;
    let feed = transit_gtfs_reader::Feed::from_zip_bytes(zip, &Default::default())
        .map_err(|source| GtfsError::ServiceDay { date, source })?;
    feed.service_day(date)
        .map_err(|source| GtfsError::ServiceDay { date, source })
}
