//! The scheduled timetable of a line: when trips leave its terminals, and their scheduled
//! times at each stop.
//!
//! It is network data, built from the line, its schedule ([`LineSchedule`]), the stations'
//! coordinates ([`StationLocations`]), the riders expected at its stations
//! ([`ExpectedRiders`]) and the speed model ([`speed`]); it draws nothing. The simulator
//! dispatches its trains by it, and the feeds (static GTFS and what refers to it) publish it,
//! so both take the very same slots and times.

use chrono::NaiveDate;

use super::{DayType, ExpectedRiders, Line, LineSchedule, StationLocations};
use crate::model::{ring_slot, trip_start, Direction};
use crate::speed::{self, seconds_to_ms, DEFAULT_SPACING_M};
use crate::time::SimTime;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The distances (m) between consecutive stations of `line` (one fewer than its stations):
/// straight lines between their coordinates in `places`; a station `places` does not place is
/// taken to be the usual spacing ([`DEFAULT_SPACING_M`]) from its neighbours.
pub fn spacings_m(line: &Line, places: &StationLocations) -> Vec<f64> {
    line.stations()
        .windows(2)
        .map(|pair| {
            places
                .distance_m(pair[0].id, pair[1].id)
                .unwrap_or(DEFAULT_SPACING_M)
        })
        .collect()
}

/// A scheduled line's timetable: when trips leave the terminals and their scheduled times at
/// each stop.
///
/// The schedule gives departures per hour at one reference station per direction. A trip
/// leaves its terminal that station's scheduled time minus the shortest running time from the
/// terminal (runs, and the shortest dwell at each stop between), the departures of an hour
/// spread evenly over it. Every trip runs terminal to terminal (CTA's short turns, such as
/// UIC-Halsted or Jefferson Park, run the whole line here).
///
/// A trip's scheduled times at its stops allow the dwell riders are expected to need: at each
/// stop, the riders expected to enter since the trip before it left (half of them for each
/// direction), boarding at [`speed::dwell_s`], plus the mean of chance's extra
/// ([`speed::DWELL_NOISE_MEAN_S`]). So on a fair day trips run on time on average, and the
/// reference station's times are the schedule's plus the extra dwell before it.
///
/// Times are simulated ms ([`SimTime`]); the stops of a trip in direction A are the line's
/// stations first to last, in direction B last to first, each at its platform for that
/// direction. Ring positions are [`ring_slot`]'s.
#[derive(Debug, Clone, PartialEq)]
pub struct NominalTimetable {
    schedule: LineSchedule,
    stations: usize,
    /// Nominal seconds of each track cell's run, by ring position.
    run_s: Vec<f64>,
    /// Shortest ms from a trip's departure from its terminal to its arrival at each ring
    /// position (0 for the terminal itself): runs, and the shortest dwell at each stop between.
    offset_ms: Vec<i64>,
    /// Shortest ms from each direction's terminal to the reference station.
    reference_ms: [i64; 2],
    /// Riders expected to enter each station (both directions) per hour, by day type
    /// (weekday, Saturday, Sunday) and hour of the day.
    riders: Vec<[[f64; 24]; 3]>,
}

/// Scheduled ms from a trip's departure from its terminal to one of its stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StopOffset {
    /// To its arrival at the stop (0 at the terminal it leaves).
    pub arrival_ms: i64,
    /// To its departure from the stop: the arrival plus the dwell its expected riders need
    /// (at least [`speed::MIN_DWELL_S`], plus the mean extra by chance), except at the first
    /// stop (it leaves at 0) and the last (the trip ends there).
    pub departure_ms: i64,
}

/// Moments closer to 1970 than this (ms, 100 000 years) take their day type and hour by
/// arithmetic ([`day_type`]); the calendar's dates end a little further out.
const ARITHMETIC_DAYS_MS: i64 = 100_000 * 366 * DAY_MS;

/// The day type of the `day`th day since 1970-01-01, which was a Thursday.
fn day_type(day: i64) -> DayType {
    match (day + 3).rem_euclid(7) {
        5 => DayType::Saturday,
        6 => DayType::Sunday,
        _ => DayType::Weekday,
    }
}

/// The day type (its [`day_index`]) and hour of the day of a moment (ms): by arithmetic near
/// 1970, where it is the calendar's (see the test), by the calendar's date beyond (a weekday
/// at hour 0 where there is no date). Every trip's every stop asks, for each hour it covers.
fn day_and_hour(at: i64) -> (usize, usize) {
    if (-ARITHMETIC_DAYS_MS..ARITHMETIC_DAYS_MS).contains(&at) {
        let day = day_index(day_type(at.div_euclid(DAY_MS)));
        return (day, (at.rem_euclid(DAY_MS) / HOUR_MS) as usize);
    }
    let time = SimTime(at);
    let day = time.date().map_or(0, |date| day_index(DayType::of(date)));
    (day, time.hour() as usize)
}

fn day_index(day: DayType) -> usize {
    match day {
        DayType::Weekday => 0,
        DayType::Saturday => 1,
        DayType::Sunday => 2,
    }
}

impl NominalTimetable {
    /// The timetable of `line` run by `schedule`, over the stations' coordinates `places`
    /// (see [`spacings_m`]), with the riders `riders` expects at its stations. `None` if the
    /// line has fewer than two stations.
    pub fn for_line(
        line: &Line,
        schedule: LineSchedule,
        places: &StationLocations,
        riders: &ExpectedRiders,
    ) -> Option<Self> {
        let start = riders.line_start(line.id());
        Self::new(schedule, &spacings_m(line, places), |station, from, to| {
            start.map_or(0.0, |start| riders.expected_at(start + station, from, to))
        })
    }

    /// The timetable of `schedule` on a line whose stations are `distances_m` apart
    /// (`distances_m[i]` from station `i` to station `i + 1`), with `riders(station, from,
    /// to)` riders expected to enter station `station` (index on the line, both directions)
    /// between two moments. `None` if the line has fewer than two stations.
    pub fn new(
        schedule: LineSchedule,
        distances_m: &[f64],
        riders: impl Fn(usize, SimTime, SimTime) -> f64,
    ) -> Option<Self> {
        let run_s = speed::ring_run_s(distances_m)?;
        let ring = run_s.len();
        let n = ring / 2;
        let mut offset_ms = vec![0; ring];
        for d in [Direction::A, Direction::B] {
            let first = trip_start(d, n);
            let mut at = 0.0;
            for p in first + 1..first + n {
                let dwell = if p > first + 1 {
                    speed::MIN_DWELL_S
                } else {
                    0.0
                };
                at += run_s[p - 1] + dwell;
                offset_ms[p] = seconds_to_ms(at);
            }
        }
        let reference = schedule.station.min(n - 1);
        let reference_ms = [offset_ms[reference], offset_ms[2 * n - 1 - reference]];
        // Riders depend on the day type and the hour: read them off one week (Wednesday 3,
        // Saturday 6 and Sunday 7 January 2024).
        let day_starts = [3, 6, 7].map(|day| {
            NaiveDate::from_ymd_opt(2024, 1, day)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map_or(0, |t| SimTime::from_naive(t).0)
        });
        let riders = (0..n)
            .map(|station| {
                day_starts.map(|start| {
                    std::array::from_fn(|hour| {
                        let from = start + hour as i64 * HOUR_MS;
                        riders(station, SimTime(from), SimTime(from + HOUR_MS)).max(0.0)
                    })
                })
            })
            .collect();
        Some(Self {
            schedule,
            stations: n,
            run_s,
            offset_ms,
            reference_ms,
            riders,
        })
    }

    /// The stations of the line.
    pub fn stations(&self) -> usize {
        self.stations
    }

    /// The schedule the departures come from.
    pub fn schedule(&self) -> &LineSchedule {
        &self.schedule
    }

    /// Nominal seconds of each ring position's run (from its platform to the next one; at a
    /// terminal's arrival platform, the turn), before weather and chance.
    pub fn run_s(&self) -> &[f64] {
        &self.run_s
    }

    /// Departures at the reference station in direction `d` during the calendar hour that
    /// starts at `hour_start` (ms): the service day's own hour plus the previous service day's
    /// hours past midnight.
    fn departures_in_hour(&self, d: Direction, hour_start: i64) -> u16 {
        // Every arrival on a trip asks (its scheduled headway), and two calendar dates per
        // question were a tenth of a train's move in profiles: within the years where the
        // arithmetic is the calendar's (see the test), the day type is counted from
        // 1970-01-01, a Thursday.
        if (-ARITHMETIC_DAYS_MS..ARITHMETIC_DAYS_MS).contains(&hour_start) {
            let day = hour_start.div_euclid(DAY_MS);
            let hour = (hour_start.rem_euclid(DAY_MS) / HOUR_MS) as usize;
            let today = self.schedule.departures(d, day_type(day), hour);
            let yesterday = self.schedule.departures(d, day_type(day - 1), hour + 24);
            return today + yesterday;
        }
        self.departures_in_hour_by_calendar(d, hour_start)
    }

    /// [`NominalTimetable::departures_in_hour`] by the calendar's dates: for moments far
    /// from now, where a date may not exist.
    fn departures_in_hour_by_calendar(&self, d: Direction, hour_start: i64) -> u16 {
        let time = SimTime(hour_start);
        let Some(date) = time.date() else { return 0 };
        let hour = time.hour() as usize;
        let today = self.schedule.departures(d, DayType::of(date), hour);
        let yesterday = date.pred_opt().map_or(0, |day| {
            self.schedule.departures(d, DayType::of(day), hour + 24)
        });
        today + yesterday
    }

    /// The first departure from `d`'s terminal at or after `after` (ms), within two days.
    pub fn next_slot(&self, d: Direction, after: i64) -> Option<i64> {
        let shift = self.reference_ms[d as usize];
        let first_hour = (after + shift).div_euclid(HOUR_MS);
        (first_hour..first_hour + 48).find_map(|hour| {
            let count = i64::from(self.departures_in_hour(d, hour * HOUR_MS));
            (0..count)
                .map(|i| hour * HOUR_MS + i * HOUR_MS / count - shift)
                .find(|slot| *slot >= after)
        })
    }

    /// The last departure from `d`'s terminal before `before` (ms), within two days.
    pub fn previous_slot(&self, d: Direction, before: i64) -> Option<i64> {
        let shift = self.reference_ms[d as usize];
        let last_hour = (before - 1 + shift).div_euclid(HOUR_MS);
        (0..48).find_map(|back| {
            let hour = last_hour - back;
            let count = i64::from(self.departures_in_hour(d, hour * HOUR_MS));
            (0..count)
                .rev()
                .map(|i| hour * HOUR_MS + i * HOUR_MS / count - shift)
                .find(|slot| *slot < before)
        })
    }

    /// The scheduled departures from the terminal of direction `d` in `[from, to)` (ms),
    /// oldest first: the slots the simulation dispatches trains at.
    pub fn terminal_departures(&self, d: Direction, from: i64, to: i64) -> Vec<i64> {
        std::iter::successors(self.next_slot(d, from), |at| self.next_slot(d, at + 1))
            .take_while(|at| *at < to)
            .collect()
    }

    /// Shortest ms from the departure of a trip in direction `d` to its departure from the
    /// schedule's reference station (with the shortest dwells): a trip leaving at `slot`
    /// counts as the reference station's departure at `slot + reference_offset_ms(d)`.
    pub fn reference_offset_ms(&self, d: Direction) -> i64 {
        self.reference_ms[d as usize]
    }

    /// The scheduled headway (ms) at the reference station for a trip leaving `d`'s terminal
    /// at `slot`; `None` in an hour without service.
    pub fn headway_ms(&self, d: Direction, slot: i64) -> Option<i64> {
        let at = slot + self.reference_ms[d as usize];
        let count = i64::from(self.departures_in_hour(d, at.div_euclid(HOUR_MS) * HOUR_MS));
        (count > 0).then(|| HOUR_MS / count)
    }

    /// Riders expected to enter station `station` between two moments (ms).
    fn expected_riders(&self, station: usize, from: i64, to: i64) -> f64 {
        let Some(rates) = self.riders.get(station) else {
            return 0.0;
        };
        let mut riders = 0.0;
        let mut at = from;
        while at < to {
            let end = ((at.div_euclid(HOUR_MS) + 1) * HOUR_MS).min(to);
            let (day, hour) = day_and_hour(at);
            riders += rates[day][hour % 24] * (end - at) as f64 / HOUR_MS as f64;
            at = end;
        }
        riders
    }

    /// The scheduled offsets of the trip in direction `d` leaving its terminal at `slot`, at
    /// each of its stops, in the order it calls at them (one per station). They depend on
    /// the riders expected at that time of day, so trips differ.
    pub fn stop_offsets(&self, d: Direction, slot: i64) -> Vec<StopOffset> {
        let n = self.stations;
        let first = trip_start(d, n);
        // Riders waiting at a stop came since the trip before passed; after a day without
        // service a train holds as many as board at once anyway.
        let gap = self
            .previous_slot(d, slot)
            .map_or(DAY_MS, |previous| (slot - previous).clamp(0, DAY_MS));
        let mut out = Vec::with_capacity(n);
        out.push(StopOffset {
            arrival_ms: 0,
            departure_ms: 0,
        });
        let mut at = 0.0;
        for k in 1..n {
            let p = first + k;
            at += self.run_s[p - 1];
            let arrival_ms = seconds_to_ms(at);
            if k + 1 == n {
                out.push(StopOffset {
                    arrival_ms,
                    departure_ms: arrival_ms,
                });
                break;
            }
            let (station, _) = ring_slot(p, n);
            let reached = slot + arrival_ms;
            let boarders = 0.5 * self.expected_riders(station, reached - gap, reached);
            at += speed::dwell_s(boarders) + speed::DWELL_NOISE_MEAN_S;
            out.push(StopOffset {
                arrival_ms,
                departure_ms: seconds_to_ms(at),
            });
        }
        out
    }

    /// The shortest offsets of a trip in direction `d` at each of its stops (runs, and the
    /// shortest dwell at each stop between): no trip's [`NominalTimetable::stop_offsets`] are
    /// shorter.
    pub fn shortest_offsets(&self, d: Direction) -> Vec<StopOffset> {
        let n = self.stations;
        let first = trip_start(d, n);
        let dwell = seconds_to_ms(speed::MIN_DWELL_S);
        (0..n)
            .map(|k| {
                let arrival_ms = self.offset_ms[first + k];
                let departure_ms = if k == 0 || k + 1 == n {
                    arrival_ms
                } else {
                    arrival_ms + dwell
                };
                StopOffset {
                    arrival_ms,
                    departure_ms,
                }
            })
            .collect()
    }

    /// The shortest time (ms) of a trip in direction `d`, from its terminal's departure to its
    /// arrival at the other terminal (runs, and the shortest dwell at each stop between).
    pub fn nominal_trip_ms(&self, d: Direction) -> i64 {
        let n = self.stations;
        self.offset_ms[trip_start(d, n) + n - 1]
    }

    /// The least a trip in `d` can take from its departure to its arrival at the other end:
    /// its runs alone, each rounded to the ms, without a dwell.
    pub fn shortest_run_ms(&self, d: Direction) -> i64 {
        let n = self.stations;
        let first = trip_start(d, n);
        self.run_s[first..first + n - 1]
            .iter()
            .map(|s| seconds_to_ms(*s))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{Network, Ridership, Schedule, SERVICE_HOURS};

    /// Wednesday 2026-11-04 00:00 (after a weekday).
    fn wednesday() -> i64 {
        NaiveDate::from_ymd_opt(2026, 11, 4)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| SimTime::from_naive(t).0)
            .unwrap()
    }

    fn embedded() -> Vec<NominalTimetable> {
        let network = Network::embedded().unwrap();
        let riders = ExpectedRiders::new(&network, &Ridership::embedded().unwrap());
        let places = StationLocations::embedded().unwrap();
        let schedule = Schedule::embedded().unwrap();
        network
            .lines()
            .map(|line| {
                let schedule = schedule.for_line(line).unwrap();
                NominalTimetable::for_line(line, schedule, &places, &riders).unwrap()
            })
            .collect()
    }

    #[test]
    fn a_line_needs_two_stations() {
        let schedule = LineSchedule {
            station: 0,
            departures: [[[4; SERVICE_HOURS]; 3]; 2],
        };
        assert!(NominalTimetable::new(schedule.clone(), &[], |_, _, _| 0.0).is_none());
        let two = NominalTimetable::new(schedule, &[1_000.0], |_, _, _| 0.0).unwrap();
        assert_eq!(two.stations(), 2);
        assert_eq!(two.run_s().len(), 4);
    }

    #[test]
    fn day_types_and_hours_by_arithmetic_are_the_calendars() {
        // Hours and odd minutes over years on both sides of 1970, and the far ends where the
        // calendar takes over.
        let start = -3 * 366 * DAY_MS;
        let end = 60 * 366 * DAY_MS;
        let near = (start..end).step_by(HOUR_MS as usize * 7 + 61_000);
        let edges = [ARITHMETIC_DAYS_MS, -ARITHMETIC_DAYS_MS]
            .into_iter()
            .flat_map(|edge| (-50..50).map(move |h| edge + h * HOUR_MS + 17));
        let far = [i64::MIN, i64::MIN / 2, i64::MAX / 2, i64::MAX];
        let timetables = embedded();
        for at in near.chain(edges).chain(far) {
            let time = SimTime(at);
            let day = time.date().map_or(0, |date| day_index(DayType::of(date)));
            assert_eq!(day_and_hour(at), (day, time.hour() as usize), "{time}");
            for timetable in &timetables {
                for d in [Direction::A, Direction::B] {
                    assert_eq!(
                        timetable.departures_in_hour(d, at),
                        timetable.departures_in_hour_by_calendar(d, at),
                        "{time}"
                    );
                }
            }
        }
    }

    #[test]
    fn departures_per_hour_at_the_reference_station_are_the_schedules() {
        let day = wednesday();
        for timetable in embedded() {
            for d in [Direction::A, Direction::B] {
                let shift = timetable.reference_offset_ms(d);
                for hour in 0..24 {
                    let from = day + hour * HOUR_MS - shift;
                    let found = timetable.terminal_departures(d, from, from + HOUR_MS).len();
                    let schedule = timetable.schedule();
                    let hour = hour as usize;
                    let expected = schedule.departures(d, DayType::Weekday, hour)
                        + schedule.departures(d, DayType::Weekday, hour + 24);
                    assert_eq!(found, usize::from(expected), "{d} at {hour}:00");
                }
            }
        }
    }

    #[test]
    fn no_trip_runs_faster_than_the_shortest_offsets_and_riders_lengthen_dwells() {
        let day = wednesday();
        for timetable in embedded() {
            let n = timetable.stations();
            for d in [Direction::A, Direction::B] {
                let shortest = timetable.shortest_offsets(d);
                assert_eq!(shortest.len(), n);
                assert_eq!(
                    timetable.nominal_trip_ms(d),
                    shortest[n - 1].arrival_ms,
                    "{d}"
                );
                assert!(timetable.shortest_run_ms(d) <= timetable.nominal_trip_ms(d));
                let slots = timetable.terminal_departures(d, day, day + DAY_MS);
                assert!(slots.len() > 50, "{d}: {} trips", slots.len());
                for slot in slots {
                    let offsets = timetable.stop_offsets(d, slot);
                    assert_eq!(offsets.len(), n);
                    assert_eq!(offsets[0].arrival_ms, 0);
                    assert_eq!(offsets[0].departure_ms, 0);
                    for (k, (o, s)) in offsets.iter().zip(&shortest).enumerate() {
                        assert!(o.arrival_ms >= s.arrival_ms, "{d} stop {k}");
                        assert!(o.departure_ms >= s.departure_ms, "{d} stop {k}");
                        assert!(o.departure_ms >= o.arrival_ms, "{d} stop {k}");
                    }
                }
            }
        }
        // The same line with more riders waiting: every stop after the first reached or left
        // later.
        let schedule = LineSchedule {
            station: 1,
            departures: [[[6; SERVICE_HOURS]; 3]; 2],
        };
        let distances = [800.0, 1_200.0, 900.0];
        let quiet = NominalTimetable::new(schedule.clone(), &distances, |_, _, _| 0.0).unwrap();
        let busy = NominalTimetable::new(schedule, &distances, |_, from, to| {
            (to.0 - from.0) as f64 / 1_000.0
        })
        .unwrap();
        let slot = quiet.next_slot(Direction::A, day).unwrap();
        let (quiet, busy) = (
            quiet.stop_offsets(Direction::A, slot),
            busy.stop_offsets(Direction::A, slot),
        );
        for k in 1..4 {
            assert!(busy[k].departure_ms > quiet[k].departure_ms, "stop {k}");
        }
    }
}
