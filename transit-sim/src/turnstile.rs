use std::collections::HashMap;
use std::sync::Arc;

use rand::Rng;
use rand_distr::{Distribution, Poisson};

use crate::SimTime;
use transit_core::event::TurnstileEvent;
use transit_core::model::{LineColor, StationId};
use transit_core::network::{DayType, Network, Ridership};

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

#[derive(Debug, Clone)]
struct Gate {
    station_id: StationId,
    name: Arc<str>,
    line: LineColor,
    /// Riders per day for weekday, Saturday, Sunday, already split between the station's lines.
    riders: [f64; 3],
}

/// Turnstile entries: for each station and tick, a Poisson draw whose mean is the station's
/// daily riders for the day type × the hour's share of the day × the part of that hour the
/// tick covers.
///
/// A station on two of the three lines (Clark/Lake, Roosevelt) splits its riders evenly between
/// them, so each station's daily total matches the CTA's figure (the original counted such
/// stations twice, used weekday riders every day, and miscounted ticks per hour).
#[derive(Debug, Clone)]
pub struct TurnstileModel {
    gates: Vec<Gate>,
    hour_shares: [f64; 24],
}

impl TurnstileModel {
    /// The model for every station of `network`.
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
                    station_id: station.id,
                    name: Arc::from(station.name.as_str()),
                    line: station.line,
                    riders,
                }
            })
            .collect();
        let hour_shares = std::array::from_fn(|hour| ridership.hour_share(hour as u32));
        Self { gates, hour_shares }
    }

    /// The expected entries of every station between `from` and `to`, in network order.
    pub fn expected(&self, from: SimTime, to: SimTime) -> impl Iterator<Item = f64> + '_ {
        let weights = self.day_weights(from, to);
        self.gates
            .iter()
            .map(move |gate| weights.iter().zip(gate.riders).map(|(w, r)| w * r).sum())
    }

    /// The expected entries of one station (its index in network order: the lines in order,
    /// each line's stations in order) between `from` and `to`.
    pub fn expected_at(&self, gate: usize, from: SimTime, to: SimTime) -> f64 {
        let Some(gate) = self.gates.get(gate) else {
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

    /// Draws the entries between `from` and `to` and appends one event per rider to `out`.
    pub fn step(
        &self,
        from: SimTime,
        to: SimTime,
        rng: &mut impl Rng,
        out: &mut Vec<TurnstileEvent>,
    ) {
        for (gate, mean) in self.gates.iter().zip(self.expected(from, to)) {
            // Poisson::new refuses a zero mean (a closed station, or no time at all).
            let Ok(poisson) = Poisson::new(mean) else {
                continue;
            };
            let entries = poisson.sample(rng) as u64;
            out.extend((0..entries).map(|_| TurnstileEvent {
                station_id: gate.station_id,
                station_name: Arc::clone(&gate.name),
                line: gate.line,
            }));
        }
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
