//! A railway as uncertain as a real one: run times that vary, slow zones, incidents, late and
//! skipped terminal departures, and weather (the model and its sources are stated in the
//! [module docs](super)).
//!
//! Every draw is seeded from the simulation's seed: the slow zones and each stretch's hourly
//! bias from the seed and the service date (so they hold all day, whatever the events), the
//! rest from each vehicle's own stream of the seed, drawn at that vehicle's events.

use chrono::Datelike;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Normal};
use rustc_hash::FxHashMap;
use transit_core::model::LineId;
use transit_core::network::service_day::{ServiceDay, TripIndex};

use super::motion::{PlatformKey, SegmentKey};

/// Hours a service day's scheduled times may span (GTFS times run past 24:00).
const HOURS: usize = 48;

/// How uncertain the railway is; [`Uncertainty::regular`] turns all of it off,
/// [`Uncertainty::calibrated`] gives the stated defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Uncertainty {
    /// A stretch's mean run time as a share of the timetable's: below 1 where the timetable
    /// pads its runs (its recovery margin), so that a late train makes up time.
    pub run_mean_fraction: f64,
    /// Standard deviation, from trip to trip, of a stretch's run time over the timetable's, at
    /// an hour of average demand (driver, crowding, signals); it grows with the square root of
    /// the hour's demand, as the riders' load does.
    pub run_spread: f64,
    /// Standard deviation of a stretch's own bias over the timetable in an hour (drawn per
    /// stretch and hour, for the service date: some stretches run slow at some hours all day).
    pub stretch_hour_spread: f64,
    /// The shortest run over a stretch as a share of the timetable's: the physical minimum,
    /// reached only by a late train using up the timetable's margin (a train never reaches a
    /// stop before its scheduled arrival).
    pub min_run_fraction: f64,
    /// Slow zones on each rail route, chosen for the service date.
    pub slow_zones_per_route: u32,
    /// Stretches (from one stop to the next) one slow zone covers.
    pub slow_zone_stretches: u32,
    /// The least and the most a slow zone multiplies a stretch's run time by.
    pub slow_zone_factor: (f64, f64),
    /// Incidents: held trains, door faults, medical emergencies, signal failures.
    pub incidents: Incidents,
    /// Chance that a vehicle leaves a trip's first stop late.
    pub late_departure_chance: f64,
    /// Mean of how late it leaves, seconds (exponential).
    pub late_departure_mean_s: f64,
    /// Chance that a trip is not run (dropped at its terminal: no crew, no train).
    pub skipped_trip_chance: f64,
    /// A vehicle this late (seconds) for a trip's departure from its first stop does not run
    /// it but is turned, as a dispatcher restores the service, for its next trip (never two
    /// trips in a row from one terminal); `None`, never.
    pub turn_late_after_s: Option<u32>,
    /// Dispatchers hold a train (not a bus) at a stop (but a trip's last) until this share of
    /// the scheduled headway has passed since the train before on its route left it, evening
    /// the gaps (`None`, no holding).
    pub spacing: Option<f64>,
    /// The most riders a train carries: a full train leaves riders behind for the next, which
    /// bounds the dwell of a train far behind the one before (`None`, no limit).
    pub rail_capacity: Option<u32>,
    /// The same for a bus.
    pub bus_capacity: Option<u32>,
    /// Weather's slowdown of every run, by hour of the service day (index 0 is 00:00-01:00;
    /// GTFS days run to 47:59): a factor of at least 1 multiplying the run times that start in
    /// the hour. Empty (the default): no weather. The pipeline's weather model can feed it.
    pub weather_slowdown: Vec<f64>,
}

/// How often a train meets an incident, and what each kind does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Incidents {
    /// Incidents per train-hour of scheduled running.
    pub per_train_hour: f64,
    /// Held at a station (by the control centre, for crew, for spacing).
    pub held: Hold,
    /// A door that will not close.
    pub door_fault: Hold,
    /// A sick passenger: the train stands until help comes.
    pub medical: Hold,
    /// A signal failure slowing the stretches ahead for everybody.
    pub signal_failure: SignalFailure,
}

/// An incident that holds a train at a stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hold {
    /// Its share of the incidents (the shares are weights, summed over the kinds).
    pub share: f64,
    /// The shortest hold, seconds.
    pub min_s: u32,
    /// The longest hold, seconds (uniform between).
    pub max_s: u32,
}

/// A signal failure: the stretches ahead of where it is met run slowly for a while.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SignalFailure {
    /// Its share of the incidents.
    pub share: f64,
    /// How long the stretches stay slow, seconds.
    pub duration_s: u32,
    /// How many stretches, from the stop where it is met onward along the trip.
    pub stretches: u32,
    /// What it multiplies their run times by (trains run on sight, or by the block).
    pub factor: f64,
}

impl Uncertainty {
    /// Nothing beyond the riders: every run as the timetable's, no slow zones, incidents, late
    /// or skipped departures, nor weather.
    pub fn regular() -> Self {
        Self {
            run_mean_fraction: 1.0,
            run_spread: 0.0,
            stretch_hour_spread: 0.0,
            min_run_fraction: 1.0,
            slow_zones_per_route: 0,
            slow_zone_stretches: 0,
            slow_zone_factor: (1.0, 1.0),
            incidents: Incidents {
                per_train_hour: 0.0,
                held: Hold::NONE,
                door_fault: Hold::NONE,
                medical: Hold::NONE,
                signal_failure: SignalFailure {
                    share: 0.0,
                    duration_s: 0,
                    stretches: 0,
                    factor: 1.0,
                },
            },
            late_departure_chance: 0.0,
            late_departure_mean_s: 0.0,
            skipped_trip_chance: 0.0,
            turn_late_after_s: None,
            spacing: None,
            rail_capacity: None,
            bus_capacity: None,
            weather_slowdown: Vec::new(),
        }
    }

    /// The stated defaults, calibrated on NYC's weekday (the module docs give the figures and
    /// their sources, and docs/simulation.md the table they give).
    pub fn calibrated() -> Self {
        Self {
            run_mean_fraction: 0.92,
            run_spread: 0.08,
            stretch_hour_spread: 0.10,
            min_run_fraction: 0.85,
            slow_zones_per_route: 2,
            slow_zone_stretches: 3,
            slow_zone_factor: (1.2, 1.8),
            incidents: Incidents {
                per_train_hour: 0.15,
                held: Hold {
                    share: 0.4,
                    min_s: 60,
                    max_s: 300,
                },
                door_fault: Hold {
                    share: 0.3,
                    min_s: 60,
                    max_s: 240,
                },
                medical: Hold {
                    share: 0.2,
                    min_s: 300,
                    max_s: 600,
                },
                signal_failure: SignalFailure {
                    share: 0.3,
                    duration_s: 3_600,
                    stretches: 3,
                    factor: 2.5,
                },
            },
            late_departure_chance: 0.05,
            late_departure_mean_s: 60.0,
            skipped_trip_chance: 0.005,
            turn_late_after_s: Some(600),
            spacing: Some(0.75),
            rail_capacity: Some(600),
            bus_capacity: None,
            weather_slowdown: Vec::new(),
        }
    }

    /// Whether anything here disturbs the timetable.
    pub fn is_regular(&self) -> bool {
        self.run_mean_fraction == 1.0
            && self.run_spread <= 0.0
            && self.stretch_hour_spread <= 0.0
            && self.min_run_fraction >= 1.0
            && (self.slow_zones_per_route == 0
                || self.slow_zone_stretches == 0
                || self.slow_zone_factor.1 <= 1.0)
            && self.incidents.per_train_hour <= 0.0
            && self.late_departure_chance <= 0.0
            && self.skipped_trip_chance <= 0.0
            && self.turn_late_after_s.is_none()
            && self.spacing.is_none()
            && self.rail_capacity.is_none()
            && self.bus_capacity.is_none()
            && self.weather_slowdown.iter().all(|factor| *factor <= 1.0)
    }
}

impl Hold {
    /// No hold.
    pub const NONE: Hold = Hold {
        share: 0.0,
        min_s: 0,
        max_s: 0,
    };
}

/// What disturbed the day so far, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Disturbances {
    /// Stretches under a slow zone (for the whole day).
    pub slow_zone_stretches: u32,
    /// Trains held at a station.
    pub held: u32,
    /// Door faults.
    pub door_faults: u32,
    /// Medical emergencies.
    pub medical: u32,
    /// Signal failures.
    pub signal_failures: u32,
    /// Trips that left their first stop late.
    pub late_departures: u32,
    /// Trips dropped by chance.
    pub skipped_trips: u32,
    /// Trips not run because their vehicle came too late for them.
    pub turned: u32,
}

/// A platform's departures for one route, for the dispatchers' spacing.
#[derive(Debug, Clone)]
struct Spacing {
    per_hour: [u16; HOURS],
    left: Option<u32>,
}

/// An incident met at a stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Incident {
    /// The train stands this many seconds more.
    Hold(u32),
    /// The stretches ahead slow down.
    SignalFailure,
}

/// The uncertainty of one day, running: its slow zones, the signal failures in force, and the
/// counts.
#[derive(Debug, Clone)]
pub(crate) struct Disturbed {
    model: Uncertainty,
    /// The seed and the service date mixed, for the stretches' hourly biases.
    day_seed: u64,
    slow_zones: FxHashMap<SegmentKey, f64>,
    /// Each slowed stretch: until when, and by how much.
    signal_failures: FxHashMap<SegmentKey, (u32, f64)>,
    /// The demand of each hour of the day relative to an even day, square-rooted (1 on
    /// average; the riders' curve).
    crowding: [f64; 24],
    /// Each rail platform's scheduled departures by hour, and when a train of the route last
    /// left it, by platform and route.
    spacing: FxHashMap<(PlatformKey, LineId), Spacing>,
    /// Whether the last trip to start from each origin (route, first stop) was turned.
    turned_last: FxHashMap<(LineId, u32), bool>,
    pub(crate) counts: Disturbances,
    pub(crate) skipped: Vec<TripIndex>,
    /// When each of `skipped` was dropped (simulated seconds), index for index.
    pub(crate) skipped_at_s: Vec<u32>,
}

impl Disturbed {
    /// The uncertainty `model` of `day` for `seed`, whose rail trips are `rail`, with the
    /// riders' `hour_shares`.
    pub(crate) fn new(
        model: Uncertainty,
        day: &ServiceDay,
        rail: &[bool],
        seed: u64,
        hour_shares: &[f64; 24],
    ) -> Self {
        let date = i64::from(day.date.num_days_from_ce()) as u64;
        let day_seed = mix(seed ^ mix(date ^ 0x5105_e5d0));
        let crowding = std::array::from_fn(|hour| (24.0 * hour_shares[hour]).max(0.0).sqrt());
        let slow_zones = slow_zones(&model, day, rail, day_seed);
        let counts = Disturbances {
            slow_zone_stretches: slow_zones.len() as u32,
            ..Disturbances::default()
        };
        Self {
            model,
            day_seed,
            slow_zones,
            signal_failures: FxHashMap::default(),
            crowding,
            turned_last: FxHashMap::default(),
            spacing: FxHashMap::default(),
            counts,
            skipped: Vec::new(),
            skipped_at_s: Vec::new(),
        }
    }

    /// The random stream of vehicle `vehicle` for `seed` (apart from its riders' stream, so the
    /// riders drawn do not depend on whether the railway is uncertain).
    pub(crate) fn stream(seed: u64, vehicle: u32) -> Stream {
        Stream(mix(mix(seed ^ 0x00ce_27a1_17e5) ^ u64::from(vehicle)))
    }

    /// A train of `route` is scheduled to leave `platform` at `departure_s`.
    pub(crate) fn schedule_departure(
        &mut self,
        platform: PlatformKey,
        route: LineId,
        departure_s: u32,
    ) {
        let hours = self
            .spacing
            .entry((platform, route))
            .or_insert_with(|| Spacing {
                per_hour: [0; HOURS],
                left: None,
            });
        let count = &mut hours.per_hour[(departure_s / 3_600).min(HOURS as u32 - 1) as usize];
        *count = count.saturating_add(1);
    }

    /// When a train of `route` due to leave `platform` at `scheduled_s` and ready at
    /// `departs` leaves, spaced behind the train before (the dispatchers' holding), and
    /// records it.
    pub(crate) fn space(
        &mut self,
        platform: PlatformKey,
        route: LineId,
        scheduled_s: u32,
        departs: u32,
    ) -> u32 {
        let Some(spacing) = self.spacing.get_mut(&(platform, route)) else {
            return departs;
        };
        let mut departs = departs;
        if let (Some(fraction), Some(left)) = (self.model.spacing, spacing.left) {
            let hour = (scheduled_s / 3_600).min(HOURS as u32 - 1) as usize;
            let headway = 3_600.0 / f64::from(spacing.per_hour[hour].max(1));
            departs = departs.max((f64::from(left) + fraction * headway).round() as u32);
        }
        spacing.left = Some(spacing.left.map_or(departs, |left| left.max(departs)));
        departs
    }

    /// The most riders a vehicle carries, if limited.
    pub(crate) fn capacity(&self, rail: bool) -> Option<u32> {
        if rail {
            self.model.rail_capacity
        } else {
            self.model.bus_capacity
        }
    }

    /// Whether trip `trip`, due to leave `origin` (its route and first stop) at `due`, whose
    /// vehicle is free at `free_at`, is not run.
    pub(crate) fn skips(
        &mut self,
        rng: &mut Stream,
        trip: TripIndex,
        origin: (LineId, u32),
        (due, free_at): (u32, u32),
        now: u32,
    ) -> bool {
        if let Some(most) = self.model.turn_late_after_s {
            // Never two trips in a row from one terminal: a dispatcher turns a late train to
            // close a gap, not to open a wider one.
            let turned_last = self.turned_last.get(&origin).copied().unwrap_or(false);
            let turn = free_at.saturating_sub(due) > most && !turned_last;
            self.turned_last.insert(origin, turn);
            if turn {
                self.counts.turned += 1;
                self.skipped.push(trip);
                self.skipped_at_s.push(now);
                return true;
            }
        }
        let chance = self.model.skipped_trip_chance;
        if chance > 0.0 && rng.random::<f64>() < chance {
            self.counts.skipped_trips += 1;
            self.skipped.push(trip);
            self.skipped_at_s.push(now);
            return true;
        }
        false
    }

    /// Seconds a vehicle leaves a trip's first stop late.
    pub(crate) fn late_departure_s(&mut self, rng: &mut Stream) -> u32 {
        let chance = self.model.late_departure_chance;
        if chance <= 0.0 || rng.random::<f64>() >= chance {
            return 0;
        }
        self.counts.late_departures += 1;
        Exp::new(1.0 / self.model.late_departure_mean_s.max(1.0))
            .map_or(0.0, |exp| exp.sample(rng))
            .round() as u32
    }

    /// The incident a train meets, if any, over a stretch scheduled to take `run_s`, reaching a
    /// stop (a signal failure only on rail).
    pub(crate) fn incident(
        &mut self,
        rng: &mut Stream,
        run_s: u32,
        rail: bool,
    ) -> Option<Incident> {
        let incidents = self.model.incidents;
        if incidents.per_train_hour <= 0.0 || run_s == 0 {
            return None;
        }
        let chance = 1.0 - (-incidents.per_train_hour * f64::from(run_s) / 3_600.0).exp();
        if rng.random::<f64>() >= chance {
            return None;
        }
        let signal = if rail {
            incidents.signal_failure.share.max(0.0)
        } else {
            0.0
        };
        let holds = [incidents.held, incidents.door_fault, incidents.medical];
        let total = holds.iter().map(|h| h.share.max(0.0)).sum::<f64>() + signal;
        if total <= 0.0 {
            return None;
        }
        let mut pick = rng.random::<f64>() * total;
        for (kind, hold) in holds.iter().enumerate() {
            let share = hold.share.max(0.0);
            if pick < share {
                match kind {
                    0 => self.counts.held += 1,
                    1 => self.counts.door_faults += 1,
                    _ => self.counts.medical += 1,
                }
                let (min, max) = (hold.min_s, hold.max_s.max(hold.min_s));
                return Some(Incident::Hold(rng.random_range(min..=max)));
            }
            pick -= share;
        }
        self.counts.signal_failures += 1;
        Some(Incident::SignalFailure)
    }

    /// A signal failure met at `now` slows `stretches` (those ahead of the train).
    pub(crate) fn fail_signals(&mut self, stretches: impl Iterator<Item = SegmentKey>, now: u32) {
        let failure = self.model.incidents.signal_failure;
        let until = now.saturating_add(failure.duration_s);
        for stretch in stretches.take(failure.stretches as usize) {
            let slot = self
                .signal_failures
                .entry(stretch)
                .or_insert((until, failure.factor));
            slot.0 = slot.0.max(until);
        }
    }

    /// The run over `stretch` of a train leaving at `now`, scheduled to take `scheduled_s`
    /// from a departure scheduled at `scheduled_departure_s`, on rail or not.
    pub(crate) fn run_s(
        &self,
        rng: &mut Stream,
        stretch: SegmentKey,
        scheduled_s: u32,
        scheduled_departure_s: u32,
        now: u32,
        rail: bool,
    ) -> u32 {
        if scheduled_s == 0 {
            return 0;
        }
        let hour = (scheduled_departure_s / 3_600) as usize;
        let mut factor = self.model.run_mean_fraction;
        let spread = self.model.run_spread * self.crowding[hour % 24];
        if spread > 0.0 {
            factor += Normal::new(0.0, spread).map_or(0.0, |normal| normal.sample(rng));
        }
        if self.model.stretch_hour_spread > 0.0 {
            factor += self.model.stretch_hour_spread * self.stretch_hour_bias(stretch, hour);
        }
        factor = factor.max(self.model.min_run_fraction.min(1.0));
        if rail {
            factor *= self.slow_zones.get(&stretch).copied().unwrap_or(1.0);
            if let Some((until, slow)) = self.signal_failures.get(&stretch) {
                if now < *until {
                    factor *= slow.max(1.0);
                }
            }
        }
        let weather_hour = (now / 3_600) as usize;
        if let Some(weather) = self.model.weather_slowdown.get(weather_hour.min(HOURS - 1)) {
            factor *= weather.max(1.0);
        }
        let floor = (f64::from(scheduled_s) * self.model.min_run_fraction.min(1.0)).ceil();
        (f64::from(scheduled_s) * factor).round().max(floor) as u32
    }

    /// A standard normal draw fixed for `stretch` and `hour` of this day.
    fn stretch_hour_bias(&self, stretch: SegmentKey, hour: usize) -> f64 {
        let key = mix(self.day_seed
            ^ mix(u64::from(stretch.0) << 32 | u64::from(stretch.1))
            ^ mix(hour as u64 + 0x9e37));
        // Box-Muller from two uniforms of the key.
        let u1 = ((key >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (mix(key) >> 11) as f64 / (1u64 << 53) as f64;
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// The slow zones of `day`: on each rail route, zones of consecutive stretches along one of
/// its trips, drawn for the day.
fn slow_zones(
    model: &Uncertainty,
    day: &ServiceDay,
    rail: &[bool],
    day_seed: u64,
) -> FxHashMap<SegmentKey, f64> {
    let mut zones = FxHashMap::default();
    let (least, most) = model.slow_zone_factor;
    if model.slow_zones_per_route == 0 || model.slow_zone_stretches == 0 || most <= 1.0 {
        return zones;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(day_seed);
    for route in &day.routes {
        let trips: Vec<usize> = day
            .trips
            .iter()
            .enumerate()
            .filter(|(index, trip)| trip.route == route.id && rail[*index] && trip.stops.len() >= 2)
            .map(|(index, _)| index)
            .collect();
        if trips.is_empty() {
            continue;
        }
        for _ in 0..model.slow_zones_per_route {
            let trip = &day.trips[trips[rng.random_range(0..trips.len())]];
            let stretches = trip.stops.len() - 1;
            let length = (model.slow_zone_stretches as usize).min(stretches);
            let start = rng.random_range(0..=stretches - length);
            let factor = if most > least {
                rng.random_range(least.max(1.0)..=most)
            } else {
                most
            };
            for pair in trip.stops[start..=start + length].windows(2) {
                zones.insert((pair[0].stop.0, pair[1].stop.0), factor);
            }
        }
    }
    zones
}

/// A vehicle's stream of disturbances: SplitMix64, a counter through a well-mixing hash. Its
/// draws are few and need no cryptographic strength; it is fast in an unoptimised build, where
/// the tests run a live day's catch-up against the wall clock.
#[derive(Debug, Clone)]
pub(crate) struct Stream(u64);

impl RngCore for Stream {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash of `x`.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_is_regular_and_calibrated_is_not() {
        assert!(Uncertainty::regular().is_regular());
        assert!(!Uncertainty::calibrated().is_regular());
        let wet = Uncertainty {
            weather_slowdown: vec![1.0, 1.2],
            ..Uncertainty::regular()
        };
        assert!(!wet.is_regular(), "weather alone disturbs");
    }

    #[test]
    fn a_vehicles_stream_is_its_seeds_and_its_own() {
        let draws = |seed, vehicle| {
            let mut stream = Disturbed::stream(seed, vehicle);
            [stream.next_u64(), stream.next_u64()]
        };
        assert_eq!(draws(7, 3), draws(7, 3));
        assert_ne!(draws(7, 3), draws(7, 4));
        assert_ne!(draws(7, 3), draws(8, 3));
    }

    #[test]
    fn a_run_is_never_under_the_physical_minimum() {
        let day = ServiceDay {
            timezone: "America/New_York".into(),
            requested: chrono::NaiveDate::default(),
            date: chrono::NaiveDate::default(),
            start_unix_s: 0,
            routes: Vec::new(),
            stops: Vec::new(),
            trips: Vec::new(),
            vehicles: Vec::new(),
        };
        let model = Uncertainty {
            run_spread: 1.0,
            ..Uncertainty::calibrated()
        };
        let disturbed = Disturbed::new(model, &day, &[], 1, &[1.0 / 24.0; 24]);
        let mut stream = Disturbed::stream(1, 0);
        for departure in (0..2_000).map(|i| i * 60) {
            let run = disturbed.run_s(&mut stream, (1, 2), 100, departure, departure, true);
            assert!(run >= 85, "{run} s");
        }
    }
}
