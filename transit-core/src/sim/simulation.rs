use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{LineSim, SimTime, TurnstileModel, WeatherModel};
use crate::event::{ArrivalEvent, TurnstileEvent, WeatherEvent};
use crate::model::LineColor;
use crate::network::{Network, Ridership};

const HOUR_MS: i64 = 3_600_000;

/// Random stream numbers, one per component.
const TURNSTILE_STREAM: u64 = 1;
const WEATHER_STREAM: u64 = 2;

/// How a simulation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Seed of every random draw: the same seed gives the same events.
    pub seed: u64,
    /// Trains on each line (at most two per station of the line).
    pub trains_per_line: u16,
    /// Simulated time per tick; each tick every train moves one station.
    pub tick: Duration,
    /// Simulated time of the start.
    pub start: SimTime,
}

impl Default for SimConfig {
    /// Seed 2026, 10 trains a line, 2-minute ticks (about the time between two 'L' stations),
    /// starting on Monday 2026-11-02 at 05:00.
    fn default() -> Self {
        let start = NaiveDate::from_ymd_opt(2026, 11, 2)
            .and_then(|d| d.and_hms_opt(5, 0, 0))
            .map_or(SimTime(0), SimTime::from_naive);
        Self {
            seed: 2026,
            trains_per_line: 10,
            tick: Duration::from_secs(120),
            start,
        }
    }
}

/// Settings a simulation cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A tick must move time forward (at least a millisecond).
    #[error("the tick must be at least one millisecond")]
    ZeroTick,
    /// More trains than slots (two per station).
    #[error("the {line} line has {stations} stations: at most {} trains fit, not {trains}", 2 * stations)]
    TooManyTrains {
        /// The line.
        line: LineColor,
        /// Its stations.
        stations: usize,
        /// The trains asked for.
        trains: u16,
    },
}

/// One tick's events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickEvents {
    /// Simulated time at the end of the tick: when the arrivals happen.
    pub time: SimTime,
    /// One arrival per train.
    pub arrivals: Vec<ArrivalEvent>,
    /// One event per rider who entered during the tick.
    pub turnstile_entries: Vec<TurnstileEvent>,
    /// A reading, on the first tick and on each tick that reaches a new hour.
    pub weather: Option<WeatherEvent>,
}

/// The whole network's simulation.
///
/// # Example
///
/// The embedded network and ridership, stepped one tick:
///
/// ```
/// use std::sync::Arc;
///
/// use transit_core::network::{Network, Ridership};
/// use transit_core::sim::{SimConfig, Simulation, TickEvents};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = SimConfig::default();
/// let start = config.start;
/// let mut sim = Simulation::new(
///     Arc::new(Network::embedded()?),
///     Arc::new(Ridership::embedded()?),
///     config,
/// )?;
/// let mut twin = sim.clone();
///
/// let mut tick = TickEvents::default();
/// sim.step(&mut tick);
/// assert_eq!(tick.time.0 - start.0, 2 * 60 * 1000, "one 2-minute tick");
/// assert_eq!(sim.now(), tick.time);
/// assert_eq!(tick.arrivals.len(), 3 * 10, "each train of the three lines arrived somewhere");
/// assert!(tick.weather.is_some(), "a first reading on the first tick");
/// for entry in &tick.turnstile_entries {
///     assert!(sim.network().line(entry.line).stations().iter().any(|s| s.id == entry.station_id));
/// }
///
/// // Pure and seeded: the same state steps to the same events.
/// let mut again = TickEvents::default();
/// twin.step(&mut again);
/// assert_eq!(again, tick);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Simulation {
    network: Arc<Network>,
    config: SimConfig,
    now: SimTime,
    tick_ms: i64,
    lines: Vec<LineSim>,
    turnstiles: TurnstileModel,
    weather: WeatherModel,
    turnstile_rng: ChaCha8Rng,
    weather_rng: ChaCha8Rng,
    started: bool,
}

fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

fn month(time: SimTime) -> u32 {
    time.date().map_or(1, |d| d.month())
}

impl Simulation {
    /// A simulation of `network` at `config.start`.
    pub fn new(
        network: Arc<Network>,
        ridership: Arc<Ridership>,
        config: SimConfig,
    ) -> Result<Self, SimError> {
        let tick_ms = i64::try_from(config.tick.as_millis()).unwrap_or(i64::MAX);
        if tick_ms == 0 {
            return Err(SimError::ZeroTick);
        }
        let lines = network
            .lines()
            .map(|line| {
                let ids = line.stations().iter().map(|s| s.id).collect();
                LineSim::new(line.color(), ids, config.trains_per_line).ok_or(
                    SimError::TooManyTrains {
                        line: line.color(),
                        stations: line.len(),
                        trains: config.trains_per_line,
                    },
                )
            })
            .collect::<Result<_, _>>()?;
        let turnstiles = TurnstileModel::new(&network, &ridership);
        let mut weather_rng = rng(config.seed, WEATHER_STREAM);
        let weather = WeatherModel::new(month(config.start), &mut weather_rng);
        Ok(Self {
            now: config.start,
            tick_ms,
            lines,
            turnstiles,
            weather,
            turnstile_rng: rng(config.seed, TURNSTILE_STREAM),
            weather_rng,
            started: false,
            network,
            config,
        })
    }

    /// Advances the clock one tick and writes that tick's events into `out` (cleared first).
    pub fn step(&mut self, out: &mut TickEvents) {
        out.arrivals.clear();
        out.turnstile_entries.clear();
        let from = self.now;
        let to = SimTime(from.0.saturating_add(self.tick_ms));
        self.now = to;
        out.time = to;
        for line in &mut self.lines {
            line.step(&mut out.arrivals);
        }
        self.turnstiles.step(
            from,
            to,
            &mut self.turnstile_rng,
            &mut out.turnstile_entries,
        );
        let new_hour = from.0.div_euclid(HOUR_MS) != to.0.div_euclid(HOUR_MS);
        out.weather = if !self.started {
            Some(self.weather.reading())
        } else if new_hour {
            Some(self.weather.advance_hour(month(to), &mut self.weather_rng))
        } else {
            None
        };
        self.started = true;
    }

    /// The simulated time now (the end of the last tick).
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The settings it runs with.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The network it simulates.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The trains of each line.
    pub fn lines(&self) -> &[LineSim] {
        &self.lines
    }
}
