//! The figures of the service model: how long trains take between stations and at platforms.
//!
//! # Run times
//!
//! No public copy of CTA's scheduled run times between stations exists, so they come from the
//! distance between the two stations' coordinates (`cta_station_locations.csv`, the straight
//! line: the three lines' track between adjacent stations is close to straight, except round
//! the Loop's corners) and the speed of a CTA 5000-series car:
//!
//! - accelerating at [`ACCELERATION`] 0.9 m/s² (the 5000-series' rated 2.0 mph/s);
//! - cruising at [`CRUISE_SPEED`] 20 m/s (45 mph): the cars are built for 55 mph, but curves,
//!   the Loop and slow zones keep the usual running speed lower;
//! - braking at [`BRAKING`] 1.1 m/s² (2.5 mph/s, a usual service-brake rate for rapid transit;
//!   emergency braking is harder).
//!
//! A run too short to reach cruise speed is a triangle: accelerate, then brake.
//!
//! # Dwell
//!
//! A train stands at a platform [`BASE_DWELL_S`] 15 s (doors open and close, the operator's
//! checks) plus [`SECONDS_PER_BOARDER`] 0.125 s per boarding rider (about 2 s per rider
//! through one of an 8-car train's 16 doorways), and at least [`MIN_DWELL_S`] 20 s; no more than
//! a train holds ([`TRAIN_CAPACITY`]) board at once. Riders
//! boarding are the turnstile model's expected entries at that station since the last train
//! left that platform: half of them for each direction, all of them for the one direction that
//! leaves a terminal. A late train finds more riders waiting and falls further behind, the one
//! behind it finds fewer and catches up: that is how bunching arises. Alighting riders are not
//! counted (they leave through the same doors at the same time).
//!
//! # Weather and chance
//!
//! Wet rails make operators brake earlier and accelerate gently: in precipitation run times are
//! 10 % longer, in snow (precipitation at or below 32 °F) 20 %; cold slows switches and doors:
//! 5 % below 20 °F, 15 % below 0 °F. Boarding in precipitation takes 10 % longer. Every run
//! time is then multiplied by a log-normal factor (σ = 0.04) and every dwell gets an exponential
//! extra (mean 3 s: a slow rider), drawn from the line's own seeded stream. One dwell in 40
//! ([`HELD_DWELL_CHANCE`]) is held longer: someone holds the doors, a rider needs help; the
//! extra time is log-normal, a minute at the median ([`HELD_DWELL_MEDIAN_S`]), one in sixteen
//! over four minutes ([`HELD_DWELL_SIGMA`]), at most 15 minutes. A held train falls behind,
//! finds more riders at each stop after and falls further behind, and the train behind it
//! finds fewer and closes up: gaps and bunches arise, as on the real line, from where and
//! when chance strikes and how many ride.

use crate::event::{WeatherEvent, WeatherStatus};
use crate::model::ring_slot;

/// Acceleration (m/s²) of a CTA 5000-series car: 2.0 mph/s.
pub const ACCELERATION: f64 = 0.9;
/// Usual running speed (m/s) between stations: 45 mph.
pub const CRUISE_SPEED: f64 = 20.0;
/// Service braking (m/s²): 2.5 mph/s.
pub const BRAKING: f64 = 1.1;
/// Distance (m) assumed between two adjacent stations the location data does not place: about
/// the median spacing of the three lines.
pub const DEFAULT_SPACING_M: f64 = 1_000.0;
/// Shortest dwell (s).
pub const MIN_DWELL_S: f64 = 20.0;
/// Dwell (s) before any rider boards: doors and checks.
pub const BASE_DWELL_S: f64 = 15.0;
/// Dwell (s) per boarding rider: 2 s a rider through 16 doorways.
pub const SECONDS_PER_BOARDER: f64 = 2.0 / 16.0;
/// Riders an 8-car train of 5000-series cars holds, seated and standing (about 110 a car):
/// the most that board at one stop, so a platform that waited hours does not hold a train
/// for as long.
pub const TRAIN_CAPACITY: f64 = 880.0;
/// Time (s) at a terminal between arriving on one platform and arriving on the other: the
/// operator changes ends and the train crosses over.
pub const TURNAROUND_S: f64 = 240.0;
/// Longest a train's layover at a terminal may run past its earliest departure (its arrival,
/// turn and recovery): the block plan turns a trip for the first departure the other way
/// within this, and otherwise the train pulls in and a later departure pulls out of the yard.
pub const MAX_LAYOVER_S: f64 = 900.0;
/// Recovery time planned at a terminal, as a share of the trip just run (at least
/// [`MIN_RECOVERY_S`]). CTA's timetables, like most operators', put recovery at the terminals
/// so a late train can still leave on time; 15 % of the trip covers rain (10 % longer runs),
/// most of snow (20 %) and the chance on runs and dwells: a late train leaves late and the
/// recovery absorbs it over its next trips.
pub const RECOVERY_SHARE: f64 = 0.15;
/// Shortest recovery (s) planned at a terminal.
pub const MIN_RECOVERY_S: f64 = 180.0;
/// How long before its departure a train laying over at a terminal (or pulling out of the
/// yard) pulls onto the departure platform, so riders board before it leaves.
pub const PLATFORM_LEAD_S: f64 = 60.0;
/// Time (s) a train held at a signal takes to pull into the platform once it clears.
pub const PULL_IN_S: f64 = 15.0;
/// Standard deviation of the logarithm of the random factor on run times.
pub const RUN_NOISE_SIGMA: f64 = 0.04;
/// Mean (s) of the random extra on dwells.
pub const DWELL_NOISE_MEAN_S: f64 = 3.0;
/// Chance that a dwell is held: someone holds the doors, a rider needs help or falls ill, a
/// disturbance on board. One dwell in 40.
pub const HELD_DWELL_CHANCE: f64 = 0.025;
/// Median (s) of a held dwell's extra time: a minute.
pub const HELD_DWELL_MEDIAN_S: f64 = 60.0;
/// Standard deviation of the logarithm of a held dwell's extra time: with the median of a
/// minute, over one hold in four is over 100 s and one in sixteen over four minutes.
pub const HELD_DWELL_SIGMA: f64 = 0.9;
/// Longest a held dwell's extra time runs (s): beyond that a controller would take the train
/// out of service.
pub const HELD_DWELL_MAX_S: f64 = 900.0;

/// Milliseconds of `seconds`, at least one: how the simulated clock, counting in ms, takes a
/// duration of the model.
pub fn seconds_to_ms(seconds: f64) -> i64 {
    (seconds * 1000.0).round().max(1.0) as i64
}

/// Nominal seconds of each ring position's run on a line whose stations are `distances_m`
/// apart (`distances_m[i]` from station `i` to station `i + 1`): from each platform to the next
/// one ([`run_time_s`]), and at a terminal's arrival platform the turn ([`TURNAROUND_S`]). Ring
/// positions are [`ring_slot`]'s. `None` for a line of fewer than two stations.
pub fn ring_run_s(distances_m: &[f64]) -> Option<Vec<f64>> {
    let n = distances_m.len() + 1;
    if n < 2 {
        return None;
    }
    let ring = 2 * n;
    let run_s = (0..ring)
        .map(|p| {
            let (from, _) = ring_slot(p, n);
            let (to, _) = ring_slot((p + 1) % ring, n);
            if from == to {
                TURNAROUND_S
            } else {
                run_time_s(distances_m[from.min(to)])
            }
        })
        .collect();
    Some(run_s)
}

/// Recovery (s) planned after a trip of `trip_s` seconds.
pub fn recovery_s(trip_s: f64) -> f64 {
    (RECOVERY_SHARE * trip_s).max(MIN_RECOVERY_S)
}

/// Seconds to run `distance_m` from a stand to a stand under the speed model.
pub fn run_time_s(distance_m: f64) -> f64 {
    let distance = distance_m.max(0.0);
    let v = CRUISE_SPEED;
    let ramps = v * v / (2.0 * ACCELERATION) + v * v / (2.0 * BRAKING);
    if distance >= ramps {
        distance / v + v / (2.0 * ACCELERATION) + v / (2.0 * BRAKING)
    } else {
        // Never reaches cruise speed: peak speed where acceleration meets braking.
        let peak = (2.0 * distance * ACCELERATION * BRAKING / (ACCELERATION + BRAKING)).sqrt();
        peak / ACCELERATION + peak / BRAKING
    }
}

/// Seconds at a platform where `boarders` riders want to board (before weather and chance):
/// no more than a train holds ([`TRAIN_CAPACITY`]) get on; the rest wait for the next one.
pub fn dwell_s(boarders: f64) -> f64 {
    (BASE_DWELL_S + SECONDS_PER_BOARDER * boarders.clamp(0.0, TRAIN_CAPACITY)).max(MIN_DWELL_S)
}

/// How the weather stretches run times and dwells.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conditions {
    /// Factor on run times (1 in fair weather).
    pub run: f64,
    /// Factor on dwells.
    pub dwell: f64,
}

impl Default for Conditions {
    fn default() -> Self {
        Self {
            run: 1.0,
            dwell: 1.0,
        }
    }
}

impl Conditions {
    /// The conditions a weather reading makes.
    pub fn of(weather: &WeatherEvent) -> Self {
        let wet = weather.status == WeatherStatus::Precipitation;
        let temperature = f64::from(weather.temperature);
        let rails = match (wet, temperature <= 32.0) {
            (true, true) => 1.20,
            (true, false) => 1.10,
            (false, _) => 1.0,
        };
        let cold = if temperature < 0.0 {
            1.15
        } else if temperature < 20.0 {
            1.05
        } else {
            1.0
        };
        Self {
            run: rails * cold,
            dwell: if wet { 1.10 } else { 1.0 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_times_follow_the_speed_model() {
        // 1 km: 50 s at cruise speed plus about 11 s accelerating and 9 s braking.
        let kilometre = run_time_s(1_000.0);
        assert!((69.0..72.0).contains(&kilometre), "{kilometre}");
        // A Loop block (250 m) never reaches cruise speed, and is still over 30 s.
        let block = run_time_s(250.0);
        assert!((30.0..40.0).contains(&block), "{block}");
        // Longer is slower, continuously at the cruise threshold.
        let threshold =
            CRUISE_SPEED * CRUISE_SPEED * (1.0 / (2.0 * ACCELERATION) + 1.0 / (2.0 * BRAKING));
        assert!((run_time_s(threshold - 1e-6) - run_time_s(threshold + 1e-6)).abs() < 1e-3);
        assert!(run_time_s(0.0) == 0.0 && run_time_s(100.0) < run_time_s(101.0));
    }

    #[test]
    fn dwell_grows_with_boarders_from_a_minimum() {
        assert_eq!(dwell_s(0.0), MIN_DWELL_S);
        assert_eq!(dwell_s(160.0), 35.0);
    }

    #[test]
    fn snow_and_cold_slow_trains() {
        let fair = Conditions::of(&WeatherEvent {
            temperature: 60.0,
            status: WeatherStatus::Sunny,
        });
        let rain = Conditions::of(&WeatherEvent {
            temperature: 60.0,
            status: WeatherStatus::Precipitation,
        });
        let snow = Conditions::of(&WeatherEvent {
            temperature: 10.0,
            status: WeatherStatus::Precipitation,
        });
        assert_eq!(fair, Conditions::default());
        assert!(fair.run < rain.run && rain.run < snow.run);
        assert!(rain.dwell > fair.dwell);
    }
}
