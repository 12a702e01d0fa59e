//! The riders expected at each station: the turnstile model's mean, without its draws.

use std::collections::HashMap;

use super::{DayType, Network, Ridership};
use crate::model::{LineId, StationId};
use crate::time::SimTime;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The day type (0 weekday, 1 Saturday, 2 Sunday) and the hour of the day of a moment (ms),
/// by arithmetic: 1970-01-01 was a Thursday. Every train's every stop asks, and a calendar
/// date per question showed in profiles.
fn day_and_hour(at: i64) -> (usize, usize) {
    let day = match (at.div_euclid(DAY_MS) + 3).rem_euclid(7) {
        5 => 1,
        6 => 2,
        _ => 0,
    };
    (day, (at.rem_euclid(DAY_MS) / HOUR_MS) as usize)
}

#[derive(Debug, Clone, PartialEq)]
struct Gate {
    station: StationId,
    line: LineId,
    /// Riders per day for weekday, Saturday, Sunday, already split between the station's lines.
    riders: [f64; 3],
}

/// The riders expected to enter each station of a network over any stretch of time: the
/// station's daily riders for the day type × the hour's share of the day × the part of that
/// hour the stretch covers.
///
/// The simulator draws its turnstile entries around this mean, and trains board the riders it
/// expects; the scheduled timetable ([`super::timetable`]) allows the dwell they need. A
/// station on two of the three lines (Clark/Lake, Roosevelt) splits its riders evenly between
/// them, so each station's daily total matches the CTA's figure.
///
/// Stations are numbered in network order: the lines in order, each line's stations in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedRiders {
    gates: Vec<Gate>,
    hour_shares: [f64; 24],
}

impl ExpectedRiders {
    /// The riders expected at every station of `network`.
    pub fn new(network: &Network, ridership: &Ridership) -> Self {
        let mut lines_per_station: HashMap<StationId, f64> = HashMap::new();
        for station in network.lines().flat_map(|line| line.stations()) {
            *lines_per_station.entry(station.id).or_default() += 1.0;
        }
        let gates = network
            .lines()
            .flat_map(|line| line.stations())
            .map(|station| {
                let split = lines_per_station.get(&station.id).copied().unwrap_or(1.0);
                let riders = [DayType::Weekday, DayType::Saturday, DayType::Sunday]
                    .map(|day| ridership.daily_riders(station.id, day) / split);
                Gate {
                    station: station.id,
                    line: station.line,
                    riders,
                }
            })
            .collect();
        let hour_shares = std::array::from_fn(|hour| ridership.hour_share(hour as u32));
        Self { gates, hour_shares }
    }

    /// The stations, in network order: each with its line.
    pub fn stations(&self) -> impl Iterator<Item = (StationId, LineId)> + '_ {
        self.gates.iter().map(|gate| (gate.station, gate.line))
    }

    /// Where `line`'s stations start in network order; `None` for a line without stations.
    pub fn line_start(&self, line: LineId) -> Option<usize> {
        self.gates.iter().position(|gate| gate.line == line)
    }

    /// The riders expected to enter every station between `from` and `to`, in network order.
    pub fn expected(&self, from: SimTime, to: SimTime) -> impl Iterator<Item = f64> + '_ {
        let weights = self.day_weights(from, to);
        self.gates
            .iter()
            .map(move |gate| weights.iter().zip(gate.riders).map(|(w, r)| w * r).sum())
    }

    /// The riders expected to enter one station (its index in network order) between `from`
    /// and `to`; none for an index past the last station.
    pub fn expected_at(&self, station: usize, from: SimTime, to: SimTime) -> f64 {
        let Some(gate) = self.gates.get(station) else {
            return 0.0;
        };
        self.day_weights(from, to)
            .iter()
            .zip(gate.riders)
            .map(|(w, r)| w * r)
            .sum()
    }

    /// For each day type, the share of a day's riders that enter between `from` and `to`:
    /// the interval split at hour boundaries, each piece weighted by its hour's share.
    fn day_weights(&self, from: SimTime, to: SimTime) -> [f64; 3] {
        let mut weights = [0.0; 3];
        let mut at = from.0;
        while at < to.0 {
            let hour_end = (at.div_euclid(HOUR_MS) + 1) * HOUR_MS;
            let end = hour_end.min(to.0);
            let (day, hour) = day_and_hour(at);
            let share = self.hour_shares[hour % 24];
            weights[day] += share * (end - at) as f64 / HOUR_MS as f64;
            at = end;
        }
        weights
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_types_and_hours_by_arithmetic_are_the_calendars() {
        // Every hour over several years on both sides of 1970, and odd minutes within them.
        let start = -3 * 366 * DAY_MS;
        let end = 60 * 366 * DAY_MS;
        for at in (start..end).step_by(HOUR_MS as usize * 7 + 61_000) {
            let time = SimTime(at);
            let day = match time.date().map(DayType::of) {
                Some(DayType::Weekday) | None => 0,
                Some(DayType::Saturday) => 1,
                Some(DayType::Sunday) => 2,
            };
            assert_eq!(day_and_hour(at), (day, time.hour() as usize), "{time}");
        }
    }
}
