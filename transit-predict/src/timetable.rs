//! The static timetable of a service day, indexed for the predictor: a trip by the ids the
//! arrivals name it by, the trip a vehicle runs next, and the order in which trips of a route
//! and direction reach each stop (to find the one ahead).

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, Weekday};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use transit_core::event::{TripCancellation, VehicleArrivalEvent};
use transit_core::network::service_day::{ScheduledStop, ScheduledTrip, ServiceDay, StopIndex};

/// The kind of day, which changes how long things take (a Sunday's trains carry fewer riders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DayType {
    /// Monday to Friday.
    Weekday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl DayType {
    /// The day type of `date`.
    pub fn of(date: NaiveDate) -> Self {
        match date.weekday() {
            Weekday::Sat => Self::Saturday,
            Weekday::Sun => Self::Sunday,
            _ => Self::Weekday,
        }
    }
}

/// Why an arrival cannot be placed in the timetable (it goes to the dead-letter topic).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unplaced {
    /// Its trip is not one of the day's.
    #[error("trip {trip_id} (start time {start_time:?}) is not in the timetable")]
    UnknownTrip {
        /// The trip.
        trip_id: String,
        /// Its start time, for a frequency trip.
        start_time: Option<String>,
    },
    /// Its stop is not the trip's stop at its place.
    #[error("stop {stop_id} is not stop {stop_sequence} of trip {trip_id}")]
    WrongStop {
        /// The trip.
        trip_id: String,
        /// The stop named.
        stop_id: String,
        /// Its place in the trip.
        stop_sequence: u32,
    },
    /// Its `start_date` is not a date.
    #[error("start_date {0:?} is not a YYYYMMDD date")]
    BadDate(String),
    /// A time is out of range, or it is more than a week off its schedule.
    #[error("its times are out of range (arrival {arrival_ms}, departure {departure_ms}, scheduled arrival {scheduled_ms} ms)")]
    BadTimes {
        /// The arrival, ms.
        arrival_ms: i64,
        /// The departure, ms.
        departure_ms: i64,
        /// The scheduled arrival, ms.
        scheduled_ms: i64,
    },
}

/// Where an arrival is in the timetable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// The trip (its index in the day).
    pub trip: u32,
    /// The stop's place in the trip.
    pub position: u32,
    /// The shift between the day's times and the arrival's, milliseconds: 0 on the day itself,
    /// a multiple of a day when a run goes on for several (the trip's times plus the shift
    /// are the arrival's day's).
    pub shift_ms: i64,
    /// The day type of the arrival's service date.
    pub day_type: DayType,
}

/// Per (route, direction, stop): (scheduled arrival, trip, place) of every visit, by arrival.
type VisitOrder = FxHashMap<(u32, Option<u8>, StopIndex), Vec<(u32, u32, u32)>>;

/// Hours a service day's scheduled times may span (GTFS times run past 24:00).
const HOURS: usize = 48;

/// Per (route, stop, next stop): scheduled departures in each hour of the service day.
type Departures = FxHashMap<(u32, StopIndex, StopIndex), [u16; HOURS]>;

/// A day's timetable, indexed.
#[derive(Debug)]
pub struct Timetable {
    day: Arc<ServiceDay>,
    trips: FxHashMap<(String, Option<u32>), u32>,
    route_of: Vec<u32>,
    rail: Vec<bool>,
    next_trip: Vec<Option<u32>>,
    order: VisitOrder,
    departures: Departures,
}

impl Timetable {
    /// Indexes `day`.
    pub fn new(day: Arc<ServiceDay>) -> Self {
        let route_index: FxHashMap<_, _> = day
            .routes
            .iter()
            .enumerate()
            .map(|(i, route)| (route.id, i as u32))
            .collect();
        let rail = day.routes.iter().map(|route| route.is_rail()).collect();
        let mut trips = FxHashMap::default();
        let mut route_of = Vec::with_capacity(day.trips.len());
        let mut order: VisitOrder = FxHashMap::default();
        let mut departures: Departures = FxHashMap::default();
        for (index, trip) in day.trips.iter().enumerate() {
            let index = index as u32;
            trips.insert((trip.trip_id.clone(), trip.frequency_start_s), index);
            let route = route_index.get(&trip.route).copied().unwrap_or(u32::MAX);
            route_of.push(route);
            for (position, stop) in trip.stops.iter().enumerate() {
                order
                    .entry((route, trip.direction_id, stop.stop))
                    .or_default()
                    .push((stop.arrival_s, index, position as u32));
            }
            for pair in trip.stops.windows(2) {
                let hour = (pair[0].departure_s / 3_600) as usize;
                let hours = departures
                    .entry((route, pair[0].stop, pair[1].stop))
                    .or_insert([0; HOURS]);
                let count = &mut hours[hour.min(HOURS - 1)];
                *count = count.saturating_add(1);
            }
        }
        for list in order.values_mut() {
            list.sort_unstable();
        }
        let mut next_trip = vec![None; day.trips.len()];
        for vehicle in &day.vehicles {
            for pair in vehicle.trips.windows(2) {
                if let Some(slot) = next_trip.get_mut(pair[0].0 as usize) {
                    *slot = Some(pair[1].0);
                }
            }
        }
        Self {
            day,
            trips,
            route_of,
            rail,
            next_trip,
            order,
            departures,
        }
    }

    /// The scheduled headway of trip `trip`'s departures from its stop `position` (toward the
    /// next): the hour of its scheduled departure divided among the route's departures from
    /// there toward the same stop in that hour, seconds; `None` at a trip's last stop.
    pub fn headway_s(&self, trip: u32, position: u32) -> Option<f64> {
        let scheduled = self.trip(trip)?;
        let here = scheduled.stops.get(position as usize)?;
        let next = scheduled.stops.get(position as usize + 1)?;
        let hours = self
            .departures
            .get(&(self.route_of(trip), here.stop, next.stop))?;
        let hour = (here.departure_s / 3_600) as usize;
        let count = hours[hour.min(HOURS - 1)].max(1);
        Some(3_600.0 / f64::from(count))
    }

    /// The day.
    pub fn day(&self) -> &ServiceDay {
        &self.day
    }

    /// Trip `trip`.
    pub fn trip(&self, trip: u32) -> Option<&ScheduledTrip> {
        self.day.trips.get(trip as usize)
    }

    /// Stop `position` of trip `trip`.
    pub fn stop(&self, trip: u32, position: u32) -> Option<&ScheduledStop> {
        self.trip(trip)?.stops.get(position as usize)
    }

    /// The `stop_id` of `stop`.
    pub fn stop_id(&self, stop: StopIndex) -> &str {
        self.day.stop(stop).map_or("", |s| s.id.as_str())
    }

    /// The route index of trip `trip`.
    pub fn route_of(&self, trip: u32) -> u32 {
        self.route_of
            .get(trip as usize)
            .copied()
            .unwrap_or(u32::MAX)
    }

    /// Whether trip `trip` runs on rails (no passing: the train ahead holds it back).
    pub fn is_rail(&self, trip: u32) -> bool {
        self.rail
            .get(self.route_of(trip) as usize)
            .copied()
            .unwrap_or(false)
    }

    /// The trip the vehicle of `trip` runs after it.
    pub fn next_trip(&self, trip: u32) -> Option<u32> {
        self.next_trip.get(trip as usize).copied().flatten()
    }

    /// The trip of the same route and direction due at stop `position` of `trip` just before
    /// it, and its place there.
    pub fn trip_ahead(&self, trip: u32, position: u32) -> Option<(u32, u32)> {
        self.neighbour(trip, position, -1)
    }

    /// The trip of the same route and direction due there just after it, and its place.
    pub fn trip_behind(&self, trip: u32, position: u32) -> Option<(u32, u32)> {
        self.neighbour(trip, position, 1)
    }

    fn neighbour(&self, trip: u32, position: u32, step: isize) -> Option<(u32, u32)> {
        let scheduled = self.trip(trip)?;
        let stop = scheduled.stops.get(position as usize)?;
        let list = self
            .order
            .get(&(self.route_of(trip), scheduled.direction_id, stop.stop))?;
        let at = list.binary_search(&(stop.arrival_s, trip, position)).ok()?;
        let other = list.get(at.checked_add_signed(step)?)?;
        Some((other.1, other.2))
    }

    /// Where `arrival` is in the timetable.
    pub fn place(&self, arrival: &VehicleArrivalEvent) -> Result<Placed, Unplaced> {
        const WEEK_MS: i64 = 7 * 86_400_000;
        let times = [
            arrival.arrival_time,
            arrival.departure_time,
            arrival.scheduled_arrival_time,
            arrival.scheduled_departure_time,
        ];
        if !times.iter().all(|&t| crate::sane_ms(t))
            || (arrival.arrival_time - arrival.scheduled_arrival_time).abs() > WEEK_MS
            || arrival.departure_time < arrival.arrival_time
            || arrival.departure_time - arrival.arrival_time > WEEK_MS
        {
            return Err(Unplaced::BadTimes {
                arrival_ms: arrival.arrival_time,
                departure_ms: arrival.departure_time,
                scheduled_ms: arrival.scheduled_arrival_time,
            });
        }
        let trip = self.trip_index(&arrival.trip_id, arrival.start_time.as_deref())?;
        let stop = self
            .stop(trip, arrival.stop_sequence)
            .filter(|stop| self.stop_id(stop.stop) == arrival.stop_id)
            .ok_or_else(|| Unplaced::WrongStop {
                trip_id: arrival.trip_id.clone(),
                stop_id: arrival.stop_id.clone(),
                stop_sequence: arrival.stop_sequence,
            })?;
        let date = NaiveDate::parse_from_str(&arrival.start_date, "%Y%m%d")
            .map_err(|_| Unplaced::BadDate(arrival.start_date.clone()))?;
        let scheduled_ms = self.day.unix_s(stop.arrival_s) * 1_000;
        // Whole days between the day's schedule and the arrival's.
        let days =
            (arrival.scheduled_arrival_time - scheduled_ms + 43_200_000).div_euclid(86_400_000);
        Ok(Placed {
            trip,
            position: arrival.stop_sequence,
            shift_ms: days * 86_400_000,
            day_type: DayType::of(date),
        })
    }

    /// The trip `cancellation` names and the shift of its day against the timetable's (ms),
    /// or why it is not a trip of the timetable.
    pub fn place_cancellation(
        &self,
        cancellation: &TripCancellation,
    ) -> Result<(u32, i64), Unplaced> {
        let trip = self.trip_index(&cancellation.trip_id, cancellation.start_time.as_deref())?;
        let first = self.stop(trip, 0).ok_or_else(|| Unplaced::WrongStop {
            trip_id: cancellation.trip_id.clone(),
            stop_id: String::new(),
            stop_sequence: 0,
        })?;
        if !crate::sane_ms(cancellation.scheduled_start_time) {
            return Err(Unplaced::BadTimes {
                arrival_ms: cancellation.scheduled_start_time,
                departure_ms: cancellation.scheduled_start_time,
                scheduled_ms: cancellation.scheduled_start_time,
            });
        }
        let scheduled_ms = self.day.unix_s(first.departure_s) * 1_000;
        let days =
            (cancellation.scheduled_start_time - scheduled_ms + 43_200_000).div_euclid(86_400_000);
        Ok((trip, days * 86_400_000))
    }

    /// The index of trip `trip_id` (the instance starting at `start_time`, for a frequency
    /// trip).
    fn trip_index(&self, trip_id: &str, start_time: Option<&str>) -> Result<u32, Unplaced> {
        let start = start_time.and_then(parse_gtfs_time);
        // Trips are few and ids short: the key's clone is cheaper than a borrowed-key map.
        self.trips
            .get(&(trip_id.to_string(), start))
            .copied()
            .ok_or_else(|| Unplaced::UnknownTrip {
                trip_id: trip_id.to_string(),
                start_time: start_time.map(str::to_string),
            })
    }

    /// The instant of `seconds` of the day shifted by `shift_ms`, milliseconds.
    pub fn ms(&self, seconds: u32, shift_ms: i64) -> i64 {
        self.day.unix_s(seconds) * 1_000 + shift_ms
    }

    /// The local hour of the day (0-23) of instant `ms`.
    pub fn hour_of(&self, ms: i64) -> u8 {
        let seconds = ms.div_euclid(1_000) - self.day.start_unix_s;
        (seconds.div_euclid(3_600).rem_euclid(24)) as u8
    }
}

/// `HH:MM:SS` (past 24:00 allowed) as seconds.
fn parse_gtfs_time(text: &str) -> Option<u32> {
    let mut parts = text.split(':').map(|p| p.parse::<u32>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    Some(h * 3_600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtfs_times_past_midnight_parse() {
        assert_eq!(parse_gtfs_time("25:10:00"), Some(25 * 3_600 + 600));
        assert_eq!(parse_gtfs_time("xx"), None);
    }

    #[test]
    fn day_types() {
        let monday = NaiveDate::from_ymd_opt(2025, 1, 13);
        assert_eq!(monday.map(DayType::of), Some(DayType::Weekday));
        let sunday = NaiveDate::from_ymd_opt(2025, 1, 12);
        assert_eq!(sunday.map(DayType::of), Some(DayType::Sunday));
    }
}
