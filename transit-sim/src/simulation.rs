use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::whatif::{AppliedWhatIf, ScheduledWhatIf, WhatIf, WhatIfOutcome};
use crate::{LineSim, SimTime, Surroundings, TurnstileModel, WeatherModel};
use transit_core::event::{ArrivalEvent, TurnstileEvent, WeatherEvent};
use transit_core::model::LineId;
#[cfg(test)]
use transit_core::model::TrainStatus;
use transit_core::network::calls::TrainCall;
use transit_core::network::timetable::{spacings_m, NominalTimetable};
use transit_core::network::{DataError, Network, Ridership, Schedule};
use transit_core::speed::Conditions;

const HOUR_MS: i64 = 3_600_000;

/// Random stream numbers, one per component.
const TURNSTILE_STREAM: u64 = 1;
const WEATHER_STREAM: u64 = 2;
/// The first line's stream; the others follow in the network's order of its lines.
const LINE_STREAM: u64 = 16;

/// How a simulation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Seed of every random draw: the same seed gives the same events.
    pub seed: u64,
    /// `None` (the default): trains enter and leave service by CTA's schedule for the hour and
    /// day type. `Some(n)`: instead, `n` trains run on each line all the time, fewer than two
    /// per station of the line (one block, a station's platform and the track to the next, per
    /// direction and station, and one block free).
    pub trains_per_line: Option<u16>,
    /// Simulated time per tick: how often events are emitted. Trains move in continuous time;
    /// a shorter tick gives the same arrivals, emitted in smaller batches.
    pub tick: Duration,
    /// Simulated time of the start.
    pub start: SimTime,
}

impl Default for SimConfig {
    /// Seed 2026, service by the schedule, 2-minute ticks,
    /// starting on Monday 2026-11-02 at 05:00.
    fn default() -> Self {
        let start = NaiveDate::from_ymd_opt(2026, 11, 2)
            .and_then(|d| d.and_hms_opt(5, 0, 0))
            .map_or(SimTime(0), SimTime::from_naive);
        Self {
            seed: 2026,
            trains_per_line: None,
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
    /// More trains than fit (one block must stay free: fewer than two per station).
    #[error("the {line} line has {stations} stations: at most {} trains fit, not {trains}", 2 * stations - 1)]
    TooManyTrains {
        /// The line.
        line: LineId,
        /// Its stations.
        stations: usize,
        /// The trains asked for.
        trains: u16,
    },
    /// The schedule has no reference station on a line (a network of other stations): give
    /// the trains per line instead.
    #[error("the schedule has no station of the {line} line: set the trains per line")]
    NoSchedule {
        /// The line.
        line: LineId,
    },
}

/// Why [`Simulation::embedded`] could not build the simulation of the embedded CTA data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbeddedError {
    /// The embedded network or riders did not load (a bug in the data shipped with the crate).
    #[error("the embedded CTA data did not load")]
    Data(#[from] DataError),
    /// The settings do not fit the embedded network.
    #[error("the simulation settings do not fit the embedded CTA network")]
    Settings(#[from] SimError),
}

/// One tick's events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickEvents {
    /// Simulated time at the end of the tick.
    pub time: SimTime,
    /// The arrivals during the tick, each line's in order of time.
    pub arrivals: Vec<ArrivalEvent>,
    /// One event per rider who entered during the tick.
    pub turnstile_entries: Vec<TurnstileEvent>,
    /// A reading, on the first tick and on each tick that reaches a new hour.
    pub weather: Option<WeatherEvent>,
    /// The calls of trains in revenue service at the stops of their scheduled trips during
    /// the tick (the arrivals among `arrivals` that are on a trip), each line's in order of
    /// time: what the feeds' ids name ([`transit_core::network::calls::NameCalls`]).
    pub calls: Vec<TrainCall>,
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
/// use transit_sim::{SimConfig, Simulation, TickEvents};
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
/// assert!(sim.lines().iter().all(|line| line.in_service() > 5), "Monday 05:00: in service");
/// assert!(!tick.arrivals.is_empty());
/// assert!(tick.arrivals.iter().all(|a| a.arrival_time.is_some_and(|t| t >= start && t <= tick.time)));
/// assert!(tick.weather.is_some(), "a first reading on the first tick");
/// for entry in &tick.turnstile_entries {
///     let line = sim.network().line(entry.line).ok_or("a line of the network")?;
///     assert!(line.stations().iter().any(|s| s.id == entry.station_id));
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
    /// Where each line's stations start in the turnstile model's network order.
    gate_base: Vec<usize>,
    turnstiles: TurnstileModel,
    weather: WeatherModel,
    turnstile_rng: ChaCha8Rng,
    weather_rng: ChaCha8Rng,
    started: bool,
    /// What-ifs still to take effect: (time, order of scheduling, what-if), by time.
    what_ifs: Vec<(i64, u64, ScheduledWhatIf)>,
    /// How many what-ifs were scheduled, so equal times keep their order.
    what_if_count: u64,
    /// What-ifs dealt with since [`Simulation::take_applied`] last took them.
    applied: Vec<AppliedWhatIf>,
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
    /// A simulation of the CTA's Blue, Red and Green lines and their riders, from the data
    /// embedded in the crates, at `config.start`: what [`Simulation::new`] gives with
    /// [`Network::embedded`] and [`Ridership::embedded`].
    ///
    /// To run it with the processors and the board, pair it with
    /// [`PipelineConfig::embedded`](crate::pipeline::PipelineConfig::embedded), which
    /// publishes the same stations' rows (see [`crate::pipeline`]).
    ///
    /// ```
    /// use transit_sim::{SimConfig, Simulation};
    ///
    /// let sim = Simulation::embedded(SimConfig::default())?;
    /// assert_eq!(sim.network().lines().count(), 3);
    /// # Ok::<(), transit_sim::EmbeddedError>(())
    /// ```
    pub fn embedded(config: SimConfig) -> Result<Self, EmbeddedError> {
        let network = Arc::new(Network::embedded()?);
        let ridership = Arc::new(Ridership::embedded()?);
        Ok(Self::new(network, ridership, config)?)
    }

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
        // The network's own coordinates (the embedded ones cover every station of the embedded
        // network); a station they do not place is taken to be the usual spacing from its
        // neighbours.
        let places = Arc::clone(network.locations());
        let schedule = Schedule::embedded().unwrap_or_default();
        let gate_base: Vec<usize> = network
            .lines()
            .scan(0, |base, line| {
                let this = *base;
                *base += line.len();
                Some(this)
            })
            .collect();
        let turnstiles = TurnstileModel::new(&network, &ridership);
        let lines = network
            .lines()
            .enumerate()
            .map(|(index, line)| {
                let ids: Vec<_> = line.stations().iter().map(|s| s.id).collect();
                let rng = rng(config.seed, LINE_STREAM + index as u64);
                match config.trains_per_line {
                    None => {
                        let no_schedule = SimError::NoSchedule { line: line.id() };
                        // The timetable allows the dwell the turnstiles' expected riders
                        // need.
                        let timetable = schedule
                            .for_line(line)
                            .and_then(|schedule| {
                                NominalTimetable::for_line(
                                    line,
                                    schedule,
                                    &places,
                                    turnstiles.riders(),
                                )
                            })
                            .ok_or_else(|| no_schedule.clone())?;
                        LineSim::with_timetable(line.id(), ids, timetable, config.start, rng)
                            .ok_or(no_schedule)
                    }
                    Some(trains) => {
                        let distances = spacings_m(line, &places);
                        LineSim::new(line.id(), ids, &distances, trains, config.start, rng).ok_or(
                            SimError::TooManyTrains {
                                line: line.id(),
                                stations: line.len(),
                                trains,
                            },
                        )
                    }
                }
            })
            .collect::<Result<_, _>>()?;
        let mut weather_rng = rng(config.seed, WEATHER_STREAM);
        let weather = WeatherModel::new(month(config.start), &mut weather_rng);
        Ok(Self {
            now: config.start,
            tick_ms,
            lines,
            gate_base,
            turnstiles,
            weather,
            turnstile_rng: rng(config.seed, TURNSTILE_STREAM),
            weather_rng,
            started: false,
            what_ifs: Vec::new(),
            what_if_count: 0,
            applied: Vec::new(),
            network,
            config,
        })
    }

    /// Advances the clock one tick and writes that tick's events into `out` (cleared first).
    ///
    /// Trains move up to the end of the tick, and the weather changes at each hour they pass:
    /// moves before the hour see the old reading, moves from the hour on the new one, so ticks
    /// of any length up to an hour give the same arrivals.
    pub fn step(&mut self, out: &mut TickEvents) {
        out.arrivals.clear();
        out.turnstile_entries.clear();
        out.calls.clear();
        let from = self.now;
        let to = SimTime(from.0.saturating_add(self.tick_ms));
        self.now = to;
        out.time = to;
        out.weather = (!self.started).then(|| self.weather.reading());
        self.started = true;
        let mut hour = (from.0.div_euclid(HOUR_MS) + 1) * HOUR_MS;
        while hour <= to.0 {
            self.move_trains_and_apply(hour - 1, out);
            out.weather = Some(
                self.weather
                    .advance_hour(month(SimTime(hour)), &mut self.weather_rng),
            );
            hour += HOUR_MS;
        }
        self.move_trains_and_apply(to.0, out);
        self.turnstiles.step(
            from,
            to,
            &mut self.turnstile_rng,
            &mut out.turnstile_entries,
        );
    }

    /// Schedules a what-if: it takes effect at its time, or at once (the start of the next
    /// tick) if it has none or its time is past. Applied in order of time, then of scheduling.
    pub fn schedule(&mut self, what_if: ScheduledWhatIf) {
        let at = what_if.at.map_or(self.now.0, |at| at.0.max(self.now.0));
        let position = self.what_ifs.partition_point(|(t, _, _)| *t <= at);
        self.what_ifs
            .insert(position, (at, self.what_if_count, what_if));
        self.what_if_count += 1;
    }

    /// What-ifs scheduled and not yet taken effect, in the order they will.
    pub fn pending_what_ifs(&self) -> impl Iterator<Item = (SimTime, &ScheduledWhatIf)> + '_ {
        self.what_ifs.iter().map(|(at, _, w)| (SimTime(*at), w))
    }

    /// The what-ifs dealt with since the last call, oldest first, with their outcome.
    pub fn take_applied(&mut self) -> Vec<AppliedWhatIf> {
        std::mem::take(&mut self.applied)
    }

    /// Moves the trains up to `until`, stopping at each what-if due by then to apply it.
    fn move_trains_and_apply(&mut self, until: i64, out: &mut TickEvents) {
        while self.what_ifs.first().is_some_and(|(at, _, _)| *at <= until) {
            let (at, _, what_if) = self.what_ifs.remove(0);
            self.move_trains(at, out);
            let outcome = self.apply(at, &what_if.what, out);
            self.applied.push(AppliedWhatIf {
                time: SimTime(at),
                what_if,
                outcome,
            });
        }
        self.move_trains(until, out);
    }

    /// Applies one what-if at `at` (the trains have moved up to then).
    fn apply(&mut self, at: i64, what_if: &WhatIf, out: &mut TickEvents) -> WhatIfOutcome {
        let Some(line) = self.lines.iter_mut().find(|l| l.line() == what_if.line()) else {
            return WhatIfOutcome::NotInService;
        };
        let applied = match *what_if {
            WhatIf::Delay {
                station,
                direction,
                seconds,
                ..
            } => {
                if !line.delay_at(station, direction, i64::from(seconds) * 1000) {
                    return WhatIfOutcome::UnknownStation;
                }
                true
            }
            WhatIf::OutOfService { train } => {
                line.take_out_of_service(train, at, &mut out.arrivals)
            }
            WhatIf::BreakDown { train, minutes } => {
                line.break_down(train, at, i64::from(minutes) * 60_000, &mut out.arrivals)
            }
        };
        if applied {
            WhatIfOutcome::Applied
        } else {
            WhatIfOutcome::NotInService
        }
    }

    /// Whether `station` is a station of `line` in this simulation's network.
    pub fn has_station(&self, line: LineId, station: transit_core::model::StationId) -> bool {
        self.network
            .line(line)
            .is_some_and(|line| line.stations().iter().any(|s| s.id == station))
    }

    /// Moves every line's trains up to `until` (ms) under the current weather.
    fn move_trains(&mut self, until: i64, out: &mut TickEvents) {
        let conditions = Conditions::of(&self.weather.reading());
        for (line, base) in self.lines.iter_mut().zip(&self.gate_base) {
            let around = Platforms {
                turnstiles: &self.turnstiles,
                base: *base,
                conditions,
            };
            line.advance(until, &around, &mut out.arrivals);
            line.take_calls(&mut out.calls);
        }
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

    /// The trains of each line, in the network's order of its lines.
    pub fn lines(&self) -> &[LineSim] {
        &self.lines
    }
}

/// One line's view of the turnstiles and the weather.
struct Platforms<'a> {
    turnstiles: &'a TurnstileModel,
    base: usize,
    conditions: Conditions,
}

impl Surroundings for Platforms<'_> {
    fn entries(&self, station: usize, from: i64, to: i64) -> f64 {
        self.turnstiles
            .expected_at(self.base + station, SimTime(from), SimTime(to))
    }

    fn conditions(&self) -> Conditions {
        self.conditions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScheduledWhatIf;

    fn run(tick_s: u64, what_ifs: &[&str]) -> (Vec<ArrivalEvent>, Vec<AppliedWhatIf>) {
        let config = SimConfig {
            tick: Duration::from_secs(tick_s),
            ..SimConfig::default()
        };
        let mut sim = Simulation::new(
            Arc::new(Network::embedded().unwrap()),
            Arc::new(Ridership::embedded().unwrap()),
            config,
        )
        .unwrap();
        for what_if in what_ifs {
            sim.schedule(what_if.parse::<ScheduledWhatIf>().unwrap());
        }
        let end = sim.now().0 + 2 * HOUR_MS;
        let mut arrivals = Vec::new();
        let mut tick = TickEvents::default();
        while sim.now().0 < end {
            sim.step(&mut tick);
            arrivals.extend(tick.arrivals.iter().cloned());
        }
        // Each line's events in order of time; lines interleave by tick.
        arrivals.sort_by_key(|a| (a.line, a.arrival_time));
        (arrivals, sim.take_applied())
    }

    #[test]
    fn the_same_what_ifs_at_the_same_times_give_the_same_events_at_any_tick() {
        let what_ifs = [
            "break-down:BL003:10@2026-11-02T05:20",
            "out-of-service:RL002@2026-11-02T05:30:30",
            "delay:green:40890:300@2026-11-02T05:10",
            "delay:blue:40380:a:240@2026-11-02T05:15",
            "break-down:GL099:5@2026-11-02T05:25",
        ];
        let (base, _) = run(120, &[]);
        let (first, applied) = run(120, &what_ifs);
        let (again, applied_again) = run(15, &what_ifs);
        assert_eq!(first, again);
        assert_eq!(applied, applied_again);
        assert_ne!(first, base, "the what-ifs changed something");
        let outcomes: Vec<_> = applied.iter().map(|a| a.outcome).collect();
        assert_eq!(
            outcomes,
            [
                WhatIfOutcome::UnknownStation,
                WhatIfOutcome::Applied,
                WhatIfOutcome::Applied,
                WhatIfOutcome::NotInService,
                WhatIfOutcome::Applied,
            ]
        );
        assert!(first.iter().any(
            |a| a.train_status == TrainStatus::BrokenDown && a.train_id.to_string() == "BL003"
        ));
    }
}
