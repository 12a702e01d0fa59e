use std::io::Read;

use serde::Deserialize;

use super::ridership::rows;
use super::{cta, resolve_line, DataError, DayType, Line};
use crate::model::{Direction, LineId, StationId};

/// CTA's scheduled departures per hour at one station per line
/// (`cta_scheduled_departures_by_hour.csv`), embedded.
pub const EMBEDDED_SCHEDULE: &str = include_str!("../../data/cta_scheduled_departures_by_hour.csv");

/// Service hours a schedule may name: a service day's trips can leave after midnight (GTFS
/// hours 24 and on), which belong to the day before.
pub const SERVICE_HOURS: usize = 30;

#[derive(Debug, Deserialize)]
struct ScheduleRow {
    line: String,
    station_id: String,
    stop_name: String,
    day_type: String,
    service_hour: String,
    scheduled_departures: String,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    line: LineId,
    station: StationId,
    stop_name: String,
    day: DayType,
    hour: usize,
    departures: u16,
}

/// Scheduled departures per service hour at one reference station per line and direction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schedule {
    entries: Vec<Entry>,
}

/// One line's schedule: departures at its reference station per direction, day type and
/// service hour.
#[derive(Debug, Clone, PartialEq)]
pub struct LineSchedule {
    /// The reference station's index on the line.
    pub station: usize,
    /// Departures per direction (`Direction as usize`), day type (weekday, Saturday, Sunday)
    /// and service hour.
    pub departures: [[[u16; SERVICE_HOURS]; 3]; 2],
}

impl LineSchedule {
    /// Departures in `direction` in service hour `hour` of a day of type `day`.
    pub fn departures(&self, direction: Direction, day: DayType, hour: usize) -> u16 {
        let day = match day {
            DayType::Weekday => 0,
            DayType::Saturday => 1,
            DayType::Sunday => 2,
        };
        self.departures[direction as usize][day]
            .get(hour)
            .copied()
            .unwrap_or(0)
    }
}

impl Schedule {
    /// The embedded CTA schedule (GTFS of November 2023; Wednesday stands for every weekday).
    pub fn embedded() -> Result<Self, DataError> {
        Self::from_reader(
            "cta_scheduled_departures_by_hour.csv",
            EMBEDDED_SCHEDULE.as_bytes(),
        )
    }

    /// A schedule from a CSV with the embedded file's columns.
    pub fn from_reader(source: &str, reader: impl Read) -> Result<Self, DataError> {
        let mut entries = Vec::new();
        for row in rows::<ScheduleRow>(source, reader) {
            let (line, row) = row?;
            let bad = |message: String| DataError::Row {
                source_name: source.to_string(),
                line,
                message,
            };
            // The schedule file is CTA's: its lines are CTA's.
            let color =
                resolve_line(cta::LINES.into_iter(), &row.line).map_err(|e| bad(e.to_string()))?;
            let station = row
                .station_id
                .trim()
                .parse::<u32>()
                .map(StationId)
                .map_err(|_| bad(format!("station_id {:?} is not a number", row.station_id)))?;
            let day = match row.day_type.trim() {
                "weekday" | "weekday_wed" => DayType::Weekday,
                "saturday" => DayType::Saturday,
                "sunday" => DayType::Sunday,
                other => {
                    return Err(bad(format!(
                        "day_type {other:?} is not weekday_wed, saturday or sunday"
                    )))
                }
            };
            let hour = row
                .service_hour
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|h| *h < SERVICE_HOURS)
                .ok_or_else(|| {
                    bad(format!(
                        "service_hour {:?} is not 0 to {}",
                        row.service_hour,
                        SERVICE_HOURS - 1
                    ))
                })?;
            let departures = row
                .scheduled_departures
                .trim()
                .parse::<u16>()
                .map_err(|_| {
                    bad(format!(
                        "scheduled_departures {:?} is not a count",
                        row.scheduled_departures
                    ))
                })?;
            entries.push(Entry {
                line: color,
                station,
                stop_name: row.stop_name,
                day,
                hour,
                departures,
            });
        }
        Ok(Self { entries })
    }

    /// The schedule of `line`, if this one has its reference station on it.
    ///
    /// A row's direction is read from its stop name: a stop bound for the line's first station
    /// (`Washington (O'Hare-bound)`) is direction B, any other direction A.
    pub fn for_line(&self, line: &Line) -> Option<LineSchedule> {
        let first = line.station(0)?.name.split('/').next()?.trim().to_string();
        let mut schedule: Option<LineSchedule> = None;
        for entry in self.entries.iter().filter(|e| e.line == line.id()) {
            let Some(index) = line.stations().iter().position(|s| s.id == entry.station) else {
                continue;
            };
            let found = schedule.get_or_insert(LineSchedule {
                station: index,
                departures: [[[0; SERVICE_HOURS]; 3]; 2],
            });
            if found.station != index {
                continue;
            }
            let direction = if entry.stop_name.contains(first.as_str()) {
                Direction::B
            } else {
                Direction::A
            };
            let day = match entry.day {
                DayType::Weekday => 0,
                DayType::Saturday => 1,
                DayType::Sunday => 2,
            };
            found.departures[direction as usize][day][entry.hour] += entry.departures;
        }
        schedule
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::network::Network;

    #[test]
    fn every_line_has_a_schedule_both_ways() {
        let network = Network::embedded().unwrap();
        let schedule = Schedule::embedded().unwrap();
        for line in network.lines() {
            let found = schedule.for_line(line).expect("a schedule");
            for direction in [Direction::A, Direction::B] {
                let rush = found.departures(direction, DayType::Weekday, 8);
                let night = found.departures(direction, DayType::Weekday, 3);
                assert!(
                    rush >= 5 && rush > night,
                    "{} {direction}: {rush} at 8, {night} at 3",
                    line.id()
                );
            }
        }
        // Blue at Washington, 8-9 on a weekday: 9 to O'Hare (B), 11 to Forest Park (A).
        let blue = schedule.for_line(network.line(cta::BLUE).unwrap()).unwrap();
        assert_eq!(blue.departures(Direction::B, DayType::Weekday, 8), 9);
        assert_eq!(blue.departures(Direction::A, DayType::Weekday, 8), 11);
        // Green has no trains between 2 and 4.
        let green = schedule
            .for_line(network.line(cta::GREEN).unwrap())
            .unwrap();
        assert_eq!(green.departures(Direction::A, DayType::Sunday, 3), 0);
    }
}
