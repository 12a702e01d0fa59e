//! The simulation's scheduled trips as GTFS trips: service days, services and trip ids.
//!
//! # Which service day a departure belongs to
//!
//! The simulation dispatches trains at slots of simulated time ([`NominalTimetable`]): the
//! departures the schedule gives one reference station in each calendar hour, spread evenly
//! over it, minus the nominal run from the terminal. An hour after midnight counts the service
//! day's own departures of that hour and the day before's past midnight (service hours 24 and
//! on), merged into one even spread. GTFS wants each trip on one service day, so a slot is
//! given to one: of a calendar hour's slots at the reference station, the first are the
//! previous service day's (as many as it scheduled past midnight), the rest the new day's. A
//! trip that leaves its terminal before midnight belongs to that evening's service day however
//! it was counted, so no time is negative; times past midnight are written `24:xx:xx` and on.
//!
//! # Services
//!
//! The simulation's schedule depends only on the day type (weekday, Saturday, Sunday), so it
//! repeats every week (the simulation keeps no holidays and no daylight-saving shifts). A trip
//! is the same trip on every day of the week its departure recurs at the same time of the
//! service day; its days, within one day type, are its service. Most trips run on every day of
//! their type (`WKDY`, `SAT`, `SUN`); the night trips around midnight differ with the day
//! type before or after (the merged hour after midnight spreads differently), and run on
//! services named by their days (`MON`, `TUE-FRI`, `MON-THU`, `FRI`).

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, Days, NaiveDate, Weekday};
use transit_core::model::{Direction, LineId};
use transit_core::network::cta;
use transit_core::network::timetable::{NominalTimetable, StopOffset};
use transit_core::network::DayType;
use transit_core::time::SimTime;

use crate::GtfsError;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Days of the week as a set: bit `Weekday::num_days_from_monday`.
pub(crate) type DaySet = u8;

/// A trip as one week's departures find it: line (its place among the timetables, then its
/// id), direction, ms into the service day, and its (arrival, departure) offsets at each stop.
type TripKey = (usize, LineId, u8, i64, Vec<(i64, i64)>);

const WEEKDAYS: DaySet = 0b001_1111;
const SATURDAY: DaySet = 0b010_0000;
const SUNDAY: DaySet = 0b100_0000;

/// One trip of a line: a departure from a terminal at the same time of the service day on
/// every day of its service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledTrip {
    /// The line.
    pub line: LineId,
    /// The direction.
    pub direction: Direction,
    /// Its GTFS `service_id`.
    pub service_id: String,
    /// Its GTFS `trip_id`.
    pub trip_id: String,
    /// When it leaves its terminal, in ms since midnight of its service day (the start of
    /// the day; GTFS's noon minus 12 h, the same without daylight-saving shifts).
    pub departure_ms: i64,
    /// Its scheduled offsets at each stop, in calling order (they depend on the riders
    /// expected then: see [`NominalTimetable::stop_offsets`]).
    pub stop_offsets: Vec<StopOffset>,
    /// The days of the week it runs on.
    pub(crate) days: DaySet,
}

/// A departure of the simulation as GTFS names it: the trip and the service day it runs on
/// (GTFS-realtime's `trip_id` and `start_date`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TripRef {
    /// The GTFS `trip_id`.
    pub trip_id: String,
    /// The service day (`start_date`).
    pub start_date: NaiveDate,
}

/// The scheduled trips of the three lines, and the way from a simulated departure to its trip.
#[derive(Debug, Clone)]
pub struct ScheduledTrips {
    timetables: Vec<(LineId, NominalTimetable)>,
    trips: Vec<ScheduledTrip>,
    /// (line, direction, ms into the service day) → indexes into `trips`.
    index: HashMap<(LineId, Direction, i64), Vec<usize>>,
}

impl ScheduledTrips {
    /// The trips of the lines run by `timetables`, from the departures of one week (any week
    /// is every week).
    pub fn new(timetables: Vec<(LineId, NominalTimetable)>) -> Result<Self, GtfsError> {
        // Monday 2024-01-01; the simulation's time starts at 1970 and runs to chrono's limit,
        // so any week does.
        let monday = NaiveDate::from_ymd_opt(2024, 1, 1).ok_or(GtfsError::Dates {
            message: "the reference week is not a date".into(),
        })?;
        let start = day_start(monday)?;
        // Trips leaving at one time of the service day are one trip on the days their stop
        // times agree.
        let mut found: BTreeMap<TripKey, DaySet> = BTreeMap::new();
        for (place, (line, timetable)) in timetables.iter().enumerate() {
            for direction in [Direction::A, Direction::B] {
                // A service day's trips leave on its date or the next one.
                for slot in timetable.terminal_departures(direction, start, start + 8 * DAY_MS) {
                    let (date, offset) = service_day(timetable, direction, slot)?;
                    let day = date.signed_duration_since(monday).num_days();
                    if (0..7).contains(&day) {
                        let stops = timetable
                            .stop_offsets(direction, slot)
                            .iter()
                            .map(|o| (o.arrival_ms, o.departure_ms))
                            .collect();
                        *found
                            .entry((place, *line, direction as u8, offset, stops))
                            .or_default() |= 1 << date.weekday().num_days_from_monday();
                    }
                }
            }
        }
        let mut trips = Vec::new();
        for ((_, line, direction, offset, stops), days) in found {
            let direction = if direction == 0 {
                Direction::A
            } else {
                Direction::B
            };
            // One trip per day type it runs on: services never mix day types.
            for kind in [WEEKDAYS, SATURDAY, SUNDAY] {
                let days = days & kind;
                if days == 0 {
                    continue;
                }
                let service_id = service_name(days);
                let trip_id = trip_id(line, direction, &service_id, offset);
                trips.push(ScheduledTrip {
                    line,
                    direction,
                    service_id,
                    trip_id,
                    departure_ms: offset,
                    stop_offsets: stops
                        .iter()
                        .map(|(arrival_ms, departure_ms)| StopOffset {
                            arrival_ms: *arrival_ms,
                            departure_ms: *departure_ms,
                        })
                        .collect(),
                    days,
                });
            }
        }
        // Lines in the timetables' order (the network's), not by id.
        let place = |line: LineId| timetables.iter().position(|(id, _)| *id == line);
        trips.sort_by(|a, b| {
            (
                place(a.line),
                a.direction as u8,
                service_rank(a.days),
                a.departure_ms,
            )
                .cmp(&(
                    place(b.line),
                    b.direction as u8,
                    service_rank(b.days),
                    b.departure_ms,
                ))
        });
        let mut index: HashMap<_, Vec<usize>> = HashMap::new();
        for (i, trip) in trips.iter().enumerate() {
            index
                .entry((trip.line, trip.direction, trip.departure_ms))
                .or_default()
                .push(i);
        }
        Ok(Self {
            timetables,
            trips,
            index,
        })
    }

    /// The trips, by line, direction, service and departure.
    pub fn trips(&self) -> &[ScheduledTrip] {
        &self.trips
    }

    /// The timetable of `line`.
    pub fn timetable(&self, line: LineId) -> Option<&NominalTimetable> {
        self.timetables
            .iter()
            .find(|(color, _)| *color == line)
            .map(|(_, timetable)| timetable)
    }

    /// The services: each `service_id` with its days, weekday services first.
    pub(crate) fn services(&self) -> Vec<(String, DaySet)> {
        let mut services: Vec<(String, DaySet)> = Vec::new();
        for trip in &self.trips {
            if !services.iter().any(|(id, _)| *id == trip.service_id) {
                services.push((trip.service_id.clone(), trip.days));
            }
        }
        services.sort_by_key(|(_, days)| service_rank(*days));
        services
    }

    /// The trip that the simulation's departure of `line` in `direction` from its terminal
    /// at `slot` runs, and its service day; `None` if `slot` is not a scheduled departure.
    ///
    /// ```
    /// use transit_core::model::Direction;
    /// use transit_core::network::cta;
    /// use transit_core::time::SimTime;
    /// use transit_gtfs::Sources;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sources = Sources::embedded()?;
    /// let blue = sources.trips.timetable(cta::BLUE).ok_or("no Blue timetable")?;
    /// // The first Blue Line departure towards Forest Park after 05:00 on Monday 2026-11-02.
    /// let five: SimTime = "2026-11-02T05:00".parse()?;
    /// let slot = blue.terminal_departures(Direction::A, five.0, five.0 + 3_600_000)[0];
    /// let trip = sources
    ///     .trips
    ///     .trip_of_departure(cta::BLUE, Direction::A, SimTime(slot))
    ///     .ok_or("not a scheduled departure")?;
    /// assert!(trip.trip_id.starts_with("BL-A-WKDY-05"));
    /// assert_eq!(trip.start_date.to_string(), "2026-11-02");
    /// # Ok(())
    /// # }
    /// ```
    pub fn trip_of_departure(
        &self,
        line: LineId,
        direction: Direction,
        slot: SimTime,
    ) -> Option<TripRef> {
        let timetable = self.timetable(line)?;
        let (date, offset) = service_day(timetable, direction, slot.0).ok()?;
        let day: DaySet = 1 << date.weekday().num_days_from_monday();
        self.index
            .get(&(line, direction, offset))?
            .iter()
            .map(|i| &self.trips[*i])
            .find(|trip| trip.days & day != 0)
            .map(|trip| TripRef {
                trip_id: trip.trip_id.clone(),
                start_date: date,
            })
    }
}

/// The simulated moment a date starts.
fn day_start(date: NaiveDate) -> Result<i64, GtfsError> {
    date.and_hms_opt(0, 0, 0)
        .map(|t| SimTime::from_naive(t).0)
        .ok_or(GtfsError::Dates {
            message: format!("{date} has no midnight"),
        })
}

/// The service day of the departure at `slot` (a slot of `timetable`), and its time in ms
/// since that day's midnight (see the module's doc).
fn service_day(
    timetable: &NominalTimetable,
    direction: Direction,
    slot: i64,
) -> Result<(NaiveDate, i64), GtfsError> {
    let unknown = || GtfsError::Dates {
        message: format!("the departure at {} is out of range", SimTime(slot)),
    };
    let shift = timetable.reference_offset_ms(direction);
    let at_reference = slot + shift;
    let hour_start = at_reference.div_euclid(HOUR_MS) * HOUR_MS;
    let hour = SimTime(hour_start);
    let calendar_day = hour.date().ok_or_else(unknown)?;
    let slots =
        timetable.terminal_departures(direction, hour_start - shift, hour_start - shift + HOUR_MS);
    let position = slots.iter().position(|s| *s == slot).ok_or_else(unknown)?;
    let previous = calendar_day
        .checked_sub_days(Days::new(1))
        .ok_or_else(unknown)?;
    let carried = usize::from(timetable.schedule().departures(
        direction,
        DayType::of(previous),
        hour.hour() as usize + 24,
    ));
    let counted = if position < carried {
        previous
    } else {
        calendar_day
    };
    // A trip that leaves before midnight is that evening's, whichever day counted it.
    let leaves_on = SimTime(slot).date().ok_or_else(unknown)?;
    let date = counted.min(leaves_on);
    Ok((date, slot - day_start(date)?))
}

/// A service's rank: weekday services, then Saturday's, then Sunday's; the whole day type
/// first, then by their first day.
fn service_rank(days: DaySet) -> (u8, bool, u32) {
    let kind = if days & WEEKDAYS != 0 {
        0
    } else if days & SATURDAY != 0 {
        1
    } else {
        2
    };
    let whole = matches!(days, WEEKDAYS | SATURDAY | SUNDAY);
    (kind, !whole, days.trailing_zeros())
}

/// `WKDY`, `SAT` and `SUN` for whole day types; otherwise the days, runs of them joined
/// (`TUE-FRI`, `MON_WED`).
fn service_name(days: DaySet) -> String {
    const NAMES: [&str; 7] = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    match days {
        WEEKDAYS => return "WKDY".into(),
        SATURDAY => return "SAT".into(),
        SUNDAY => return "SUN".into(),
        _ => {}
    }
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for day in (0..7).filter(|d| days & (1 << d) != 0) {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == day => *end = day,
            _ => runs.push((day, day)),
        }
    }
    runs.iter()
        .map(|&(first, last)| {
            if first == last {
                NAMES[first].to_string()
            } else {
                format!("{}-{}", NAMES[first], NAMES[last])
            }
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// Whole seconds of a time in ms, to the nearest.
pub(crate) fn whole_seconds(ms: i64) -> i64 {
    (ms + 500).div_euclid(1000)
}

/// A trip's id: the line's train prefix, its direction, its service and its departure from
/// the terminal (service-day time, to the second), as `BL-A-WKDY-051243`; a departure after
/// midnight reads `BL-B-FRI-243015`. Unique, since a line's departures each way are minutes
/// apart, and stable as long as the schedule and the run-time model are.
pub fn trip_id(line: LineId, direction: Direction, service_id: &str, departure_ms: i64) -> String {
    let s = whole_seconds(departure_ms);
    format!(
        "{}-{}-{service_id}-{:02}{:02}{:02}",
        cta::data(line).map_or(line.as_str(), |data| data.train_prefix),
        match direction {
            Direction::A => "A",
            Direction::B => "B",
        },
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// The weekday of bit `day`.
pub(crate) fn has_day(days: DaySet, day: Weekday) -> bool {
    days & (1 << day.num_days_from_monday()) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_named_by_day_type_or_days() {
        assert_eq!(service_name(WEEKDAYS), "WKDY");
        assert_eq!(service_name(SATURDAY), "SAT");
        assert_eq!(service_name(0b000_0001), "MON");
        assert_eq!(service_name(0b001_1110), "TUE-FRI");
        assert_eq!(service_name(0b000_0101), "MON_WED");
    }

    #[test]
    fn trip_ids_read_as_line_direction_service_and_departure() {
        let at = (5 * 3600 + 12 * 60 + 43) * 1000 + 400;
        assert_eq!(
            trip_id(cta::BLUE, Direction::A, "WKDY", at),
            "BL-A-WKDY-051243"
        );
        assert_eq!(
            trip_id(cta::RED, Direction::B, "FRI", (24 * 3600 + 30 * 60) * 1000),
            "RL-B-FRI-243000"
        );
    }
}
