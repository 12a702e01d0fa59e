//! Any agency's day of service ([`ServiceDay`]) simulated: every trip run by its vehicle,
//! riders boarding and alighting, dwell that grows with them, and the lateness that follows.
//!
//! [`publish`] runs it on a bus, flat out, at a speed, or live in wall-clock time.
//!
//! # Motion
//!
//! A vehicle runs its trips in order. It appears at a trip's first stop at the trip's scheduled
//! arrival there, or when it finishes its previous trip if that is later (so a late vehicle
//! starts its next trip late; the move between the two trips takes no time). Between two stops
//! it takes the timetable's run time (the scheduled arrival at the next less the scheduled
//! departure from the one before), varied by the railway's [uncertainty](#uncertainty) unless
//! that is off. At a stop it stands for its dwell and never leaves before the scheduled
//! departure, holding when early; nor does it reach a stop before its scheduled arrival. Times
//! are whole seconds from the service day's start, as [`ServiceDay`] counts them.
//!
//! Rail ([`Route::is_rail`](transit_core::model::Route::is_rail)) keeps one train per block: a
//! train enters a platform (a stop, toward the trip's next stop; at a trip's last stop, from
//! its previous one) only when the train before has left it and
//! [`TimetabledConfig::rail_clearance_s`] has passed, waiting on the track before it until
//! then; and trains leave a stretch of track between two stops in the order they entered it,
//! so they never pass. The blocks are the platforms: a stretch between two stops holds the
//! trains queued on it in order, however many. Between two trips a train lays over off the
//! platforms. Buses pass one another and share stops. A real timetable may itself put two
//! trains at one platform in the same second (NYC's lines 1 and 2 do, some 40 times on a
//! weekday, where both run local): then the second waits, and
//! [`TimetabledConfig::rail_blocks`] off runs such a timetable as written.
//!
//! # Riders (the stated model, for a feed without ridership)
//!
//! Riders wait at a stop for a route. The timetable's own density says how many: at a stop,
//! riders for a route arrive at the rate of the route's scheduled departures from the stop in
//! the hour times a per-departure load ([`RidersModel::load`]):
//!
//! - **load** = base × day type × √(24 × hour share): the base is 4 riders a bus and 20 a
//!   train (at an hour of average demand on a weekday); the day type is that of the service
//!   run ([`ServiceDay::date`]); Saturday's departures carry 0.75 and
//!   Sunday's 0.65 of a weekday's (the CTA's weekend riders are 55 % and 46 % of its weekday
//!   riders, `ridership_seed.csv`, on roughly three quarters and two thirds of the weekday
//!   service); the hour shares are the CTA's daily curve (`ridership_curve.csv`), whose peaks
//!   the timetable already meets with more departures, so the load per departure rises only
//!   with the square root of the hour's demand (about 1.7 × at 08:00, 0.5 × at 03:00).
//! - **boarding**: a vehicle reaching a stop boards a Poisson draw (seeded, as the CTA's
//!   turnstiles draw) with mean load × (time since the route's last vehicle left the stop ÷ the
//!   scheduled headway, an hour over the route's departures from the stop in the hour of the
//!   stop time), the wait counted at most an hour (the day's first vehicle finds the riders of
//!   one scheduled headway; those who come while a vehicle stands at the stop board it
//!   without drawing, and one that comes meanwhile finds nobody). A vehicle close behind
//!   another finds few riders, one far behind many: so a late vehicle gets later, and bunching
//!   and gaps arise. Nobody boards at a trip's last stop; vehicles have no capacity limit.
//! - **alighting**: each rider on board is bound for any of the trip's stops ahead with equal
//!   chance (a binomial draw at each stop); everyone leaves at the last.
//!
//! # Dwell
//!
//! A stop's dwell is a fixed part plus seconds per rider ([`DwellModel`]), capped: a bus
//! 4 s + 3 s per boarder + 2 s per alighter, at most 120 s (one door, paying on board: the
//! per-rider times are of the order the Transit Capacity and Quality of Service Manual, TCRP
//! Report 165, gives for a bus); a train 15 s + 0.25 s per boarder + 0.2 s per alighter, at
//! most 90 s (many doors at once). A vehicle stands for the scheduled dwell or the riders'
//! dwell, whichever is longer; where the timetable gives no dwell (arrival equals departure)
//! its run times already allow for an average exchange (the load boarding, and alighting the
//! riders expected to leave there: the loads of the stops before, each shared among the stops
//! ahead of it), so only what exceeds the dwell of one ([`DwellModel::dwell_s`]) is added.
//! Without the uncertainty, run times are never shortened, so lateness is made up only at the
//! layovers between trips. [`TimetabledConfig::undisturbed`] keeps the scheduled dwell whatever
//! the riders, and turns the uncertainty off: then every vehicle keeps to the timetable to the
//! second (rail's rules aside, where a timetable itself would put two trains in one block).
//!
//! # Uncertainty
//!
//! A real railway is less regular than its riders alone make it. [`Uncertainty`] (in
//! [`TimetabledConfig::uncertainty`]) adds, each part stated and seeded;
//! [`Uncertainty::calibrated`] is the default of [`TimetabledConfig::embedded`], and
//! [`Uncertainty::regular`] ([`TimetabledConfig::regular`]) turns all of it off:
//!
//! - **Run times** vary from trip to trip: a stretch's run is the timetable's times a factor,
//!   mean 0.92, plus a normal draw (standard deviation 0.08, times the square root of the
//!   hour's demand as the riders' load: about 0.14 at 08:00, crowding) and a bias drawn for
//!   the stretch and the hour for the day (standard deviation 0.10: some stretches run slow at
//!   some hours for every train, signals and crowds). The mean below 1 is the timetable's
//!   padding: it is taken as written to about the 85th percentile of runs, as schedules built
//!   from measured run times are, which puts the mean run some 8 % under it. A run is never
//!   shorter than 0.85 of the timetable's (the physical minimum, the padding used up), and a
//!   train never reaches a stop before its scheduled arrival (one ahead of time runs easy), so
//!   only a late train makes up time on the way.
//! - **Slow zones**: 2 on each rail route, each over 3 consecutive stretches of one of its
//!   trips (one track, one way), multiplying their run times by 1.2 to 1.8, drawn from the
//!   seed and the service date, so they hold all day and move from day to day. The CTA
//!   publishes its slow zones: limits of 35, 25, 15 and 6 mph where track runs at up to
//!   55 mph, 21.2 % of its track in June 2007 and 16.9 % in January 2008 (CTA, "Slow Zones
//!   Decrease on CTA's Rail System", 2008-01-23), 5.5 % at the end of 2015, when their removal
//!   had cut 2 to 5 minutes a trip (CTA, 2016-02-16). Two zones of three stretches on a line of
//!   38 stops are some 8 % of its track both ways, and cost a trip through one some 2 to 3
//!   minutes.
//! - **Incidents**, 0.15 per train-hour of scheduled running (met on the way to a stop, as it
//!   is reached): a train held at the station (40 % of them, 1 to 5 minutes), a door fault
//!   (30 %, 1 to 4 minutes), a medical emergency (20 %, 5 to 10 minutes), each standing the
//!   train that much longer at the stop (on rail the trains behind queue at the signals); and
//!   on rail a signal failure (the remaining weight, 0.3 against the holds' 0.9), which slows
//!   the 3 stretches ahead of the train to 2.5 times their run for every train for an hour.
//!   The rate and the shares are tuned to the calibration below, not taken from an agency's
//!   published count.
//! - **Terminal departures**: a trip leaves its first stop late with chance 0.05 (an
//!   exponential lateness, mean 60 s); a trip is dropped (not run: no crew, no train) with
//!   chance 0.005; and a vehicle more than 10 minutes late for a trip's departure is turned,
//!   as a dispatcher restores the service: it does not run that trip but its next (never two
//!   trips in a row from one terminal, which would widen the gap it closes).
//!   [`TimetabledSimulation::skipped_trips`] lists the trips not run.
//! - **Regulation and crowding**: a train (not a bus) is held at a platform, but a trip's
//!   last, until three quarters of the scheduled headway there (its route's departures from
//!   the platform in the hour) have passed since the train before on its route left it; a
//!   train carries at most 600 riders, and those who do not fit wait for the next (counted as
//!   though the full train had left earlier). Without a limit the riders' dwell feeds on
//!   itself (a late train finds more riders and gets later) until trains run an hour late;
//!   600 is about twice the load the riders model puts on a busy trip, not a car's rated
//!   capacity, since the model's riders are stated rather than any agency's.
//! - **Weather**: [`Uncertainty::weather_slowdown`], a factor by hour of the service day that
//!   multiplies the run times starting in the hour. The engine is given no weather: empty by
//!   default, it is the input a weather model can feed.
//!
//! The draws: the slow zones and the stretches' hourly biases from the seed and the service
//! date; the rest from each vehicle's own stream of the seed (apart from its riders' stream,
//! so the riders drawn are the same with or without the uncertainty), at its own events, so the
//! events stay the same at any tick length. [`TimetabledSimulation::disturbances`] counts what
//! happened.
//!
//! Calibrated on NYC's subway feed (lines 1 and 2, Wednesday 2025-01-08, seed 2026; the
//! example `calibrate_uncertainty`, table in `docs/simulation.md`): the naive prediction
//! "timetable + the train's current delay", polled every 30 s, is right 60 to 85 % of the time
//! in MBTA's 6-12 and 12-30 minute buckets (72 to 83 % over seeds 1, 3, 7 and 2026; MBTA's own
//! predictions reach about 90 %, and fell below 75 % under its 2023 slow zones), the headway
//! coefficient of variation at the busiest stops is 0.40 to 0.50 (the Transit Capacity and
//! Quality of Service Manual's headway-adherence levels C and D, 0.31 to 0.52), and NYC
//! Transit's wait assessment there 82 to 87 % (NYC Transit reported 78 to 80 % for the whole
//! subway in 2013-2015, the 1 line its best numbered line: New York State Comptroller, audit
//! 2014-S-23).
//!
//! # Determinism
//!
//! Everything happens at events (a vehicle reaching a stop, a vehicle leaving one) taken from
//! one queue in order of time and then of scheduling, and each vehicle draws its riders from
//! its own random stream of the seed. [`TimetabledSimulation::advance_to`] takes every event up
//! to a time, so the events are the same whatever the steps the day is advanced in, and the
//! same seed gives the same events.

mod breakdown;
mod dwell;
mod motion;
pub mod publish;
mod riders;
mod uncertainty;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use transit_core::model::LineId;
use transit_core::network::service_day::{
    ScheduledStop, ServiceDay, StopIndex, TripIndex, VehicleIndex,
};
use transit_core::network::DataError;

pub use breakdown::{Breakdown, BrokenDown};
pub use dwell::DwellModel;
use motion::{Entry, Interlocking, PlatformKey, SegmentKey, Toward};
use riders::Riders;
pub use riders::RidersModel;
pub use uncertainty::{Disturbances, Hold, Incidents, SignalFailure, Uncertainty};
use uncertainty::{Disturbed, Incident};

/// How a [`TimetabledSimulation`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct TimetabledConfig {
    /// Seed of every random draw: the same seed gives the same events.
    pub seed: u64,
    /// Simulated seconds per [`TimetabledSimulation::tick`]; the events do not depend on it.
    pub tick_s: u32,
    /// Keep every scheduled dwell whatever the riders (who are still drawn and counted), and
    /// every run as the timetable's: nothing of [`TimetabledConfig::uncertainty`] either.
    pub undisturbed: bool,
    /// Keep rail's rules, one train per block and no passing (on by default). Off, trains run
    /// as buses do, through whatever a timetable says, even two trains in one block.
    pub rail_blocks: bool,
    /// Seconds a platform stays closed after a train leaves it before the next may enter.
    pub rail_clearance_s: u32,
    /// Riders per departure.
    pub riders: RidersModel,
    /// A bus's dwell.
    pub bus_dwell: DwellModel,
    /// A train's dwell.
    pub rail_dwell: DwellModel,
    /// How uncertain the railway is beyond its riders: run times, slow zones, incidents, late
    /// and skipped terminal departures, weather ([`Uncertainty::regular`] for none).
    pub uncertainty: Uncertainty,
}

impl TimetabledConfig {
    /// Seed `seed`, 10-second ticks, riders disturbing the timetable, and the stated riders and
    /// dwell models with the CTA's hourly curve; rail's rules with a 1-second clearance, the
    /// least that keeps two trains from one platform in one second (the spacing of trains
    /// beyond it is the timetable's); the calibrated [`Uncertainty::calibrated`].
    pub fn embedded(seed: u64) -> Result<Self, DataError> {
        Ok(Self {
            seed,
            tick_s: 10,
            undisturbed: false,
            rail_blocks: true,
            rail_clearance_s: 1,
            riders: RidersModel::embedded()?,
            bus_dwell: DwellModel::BUS,
            rail_dwell: DwellModel::RAIL,
            uncertainty: Uncertainty::calibrated(),
        })
    }

    /// The same with a regular railway: the riders still vary the dwell, but every run is the
    /// timetable's and nothing else happens ([`Uncertainty::regular`]).
    pub fn regular(seed: u64) -> Result<Self, DataError> {
        Ok(Self {
            uncertainty: Uncertainty::regular(),
            ..Self::embedded(seed)?
        })
    }
}

/// A [`ServiceDay`] that cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidServiceDay {
    /// A vehicle lists a trip the day does not have.
    #[error("vehicle {vehicle:?} lists trip {trip}, but the day has {trips} trips")]
    NoSuchTrip {
        /// The vehicle's id.
        vehicle: String,
        /// The index it lists.
        trip: u32,
        /// How many trips the day has.
        trips: usize,
    },
    /// A trip is run by no vehicle, by more than one, or not by the one it names.
    #[error("trip {trip_id:?} names vehicle {named}, but is listed by {listed:?}")]
    TripVehicle {
        /// The trip's id.
        trip_id: String,
        /// The vehicle the trip names.
        named: u32,
        /// The vehicles listing it.
        listed: Vec<u32>,
    },
    /// A trip without stops.
    #[error("trip {0:?} has no stops")]
    NoStops(String),
    /// A trip stops at a stop the day does not have.
    #[error("trip {trip_id:?} stops at stop {stop}, but the day has {stops} stops")]
    NoSuchStop {
        /// The trip's id.
        trip_id: String,
        /// The index it names.
        stop: u32,
        /// How many stops the day has.
        stops: usize,
    },
    /// A trip's route is not among the day's routes.
    #[error("trip {trip_id:?} runs on route {route}, which the day does not have")]
    NoSuchRoute {
        /// The trip's id.
        trip_id: String,
        /// Its route.
        route: LineId,
    },
}

/// A vehicle at a stop: when it came and went, against the timetable, and who rode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopArrival {
    /// The vehicle.
    pub vehicle: VehicleIndex,
    /// The trip it runs.
    pub trip: TripIndex,
    /// The stop's place in the trip (0 for the first).
    pub stop_sequence: u32,
    /// The stop.
    pub stop: StopIndex,
    /// The trip's route.
    pub route: LineId,
    /// When it arrived, seconds from the service day's start.
    pub arrival_s: u32,
    /// When it leaves (decided on arrival).
    pub departure_s: u32,
    /// When it was due to arrive.
    pub scheduled_arrival_s: u32,
    /// When it was due to leave.
    pub scheduled_departure_s: u32,
    /// Riders who got on.
    pub boarded: u32,
    /// Riders who got off.
    pub alighted: u32,
}

impl StopArrival {
    /// Seconds late arriving (vehicles never run early, so never negative; signed as the
    /// feeds' delays are).
    pub fn delay_s(&self) -> i64 {
        i64::from(self.arrival_s) - i64::from(self.scheduled_arrival_s)
    }
}

/// Where a vehicle in service is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VehiclePosition {
    /// The vehicle.
    pub vehicle: VehicleIndex,
    /// The trip it runs.
    pub trip: TripIndex,
    /// The trip's route.
    pub route: LineId,
    /// At a stop or between two.
    pub place: Place,
    /// Riders on board.
    pub on_board: u32,
}

/// A vehicle's place along its trip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Place {
    /// Standing at the trip's stop `stop_sequence`.
    AtStop {
        /// The stop's place in the trip.
        stop_sequence: u32,
        /// The stop.
        stop: StopIndex,
    },
    /// On the way from the trip's stop `from_sequence` to the next.
    Between {
        /// The stop left's place in the trip.
        from_sequence: u32,
        /// The stop left.
        from: StopIndex,
        /// The stop ahead.
        to: StopIndex,
        /// How far along, 0 to 1, by time (1 while held outside the stop ahead).
        fraction: f64,
    },
}

/// What a vehicle is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before a trip (the first of the day, or between two): due at its first stop.
    Waiting,
    /// On the way to the current stop, having left the one before at `left`, due at `due`.
    Running { left: u32, due: u32 },
    /// Standing at the current stop.
    AtStop { departs: u32 },
    /// Its day is over.
    Done,
}

#[derive(Debug, Clone)]
struct VehicleState {
    /// Position in its vehicle's trip list.
    trip_at: usize,
    /// The trip's stop it is at or heading for.
    seq: usize,
    phase: Phase,
    /// Held before its stop by rail's rules, to be woken when the way is clear.
    held: bool,
    on_board: u32,
    rng: ChaCha8Rng,
    /// The stream of its disturbances (apart, so that its riders are the same either way).
    chance: uncertainty::Stream,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Reach,
    Depart,
}

/// An event in the queue: ordered by time, then by when it was scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    time: u32,
    order: u64,
    vehicle: u32,
    kind: Kind,
}

/// One service day simulated, event by event.
///
/// # Example
///
/// A bus route of two stops and one trip, undisturbed:
///
/// ```
/// use std::sync::Arc;
///
/// use chrono::NaiveDate;
/// use transit_core::model::{LineId, Rgb, Route};
/// use transit_core::network::service_day::*;
/// use transit_sim::timetabled::{TimetabledConfig, TimetabledSimulation};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let route = LineId::new("M1")?;
/// let stop = |id: &str| StopPlace {
///     id: id.into(),
///     name: id.into(),
///     location: None,
///     parent: None,
/// };
/// let at = |stop, s| ScheduledStop { stop: StopIndex(stop), arrival_s: s, departure_s: s, stop_sequence: stop + 1 };
/// let date = NaiveDate::from_ymd_opt(2026, 12, 7).ok_or("a date")?;
/// let day = ServiceDay {
///     timezone: "America/New_York".into(),
///     requested: date,
///     date,
///     start_unix_s: 1_796_619_600,
///     routes: vec![Route {
///         id: route,
///         short_name: "M1".into(),
///         long_name: String::new(),
///         route_type: 3,
///         color: Rgb::WHITE,
///         text_color: Rgb::BLACK,
///     }],
///     stops: vec![stop("a"), stop("b")],
///     trips: vec![ScheduledTrip {
///         trip_id: "t1".into(),
///         route,
///         direction_id: Some(0),
///         frequency_start_s: None,
///         exact_times: false,
///         shape_id: None,
///         vehicle: VehicleIndex(0),
///         stops: vec![at(0, 8 * 3_600), at(1, 8 * 3_600 + 300)],
///     }],
///     vehicles: vec![Vehicle { id: "bus".into(), trips: vec![TripIndex(0)] }],
/// };
/// let config = TimetabledConfig { undisturbed: true, ..TimetabledConfig::embedded(7)? };
/// let mut sim = TimetabledSimulation::new(Arc::new(day), config)?;
/// let mut arrivals = Vec::new();
/// sim.advance_to(8 * 3_600 + 60, &mut arrivals);
/// assert_eq!(arrivals.len(), 1);
/// assert_eq!(sim.positions().len(), 1, "between a and b");
/// sim.advance_to(9 * 3_600, &mut arrivals);
/// assert_eq!(arrivals[1].arrival_s, 8 * 3_600 + 300, "on time, undisturbed");
/// assert!(sim.is_finished());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TimetabledSimulation {
    day: Arc<ServiceDay>,
    config: TimetabledConfig,
    /// Whether each trip runs on rail.
    rail: Vec<bool>,
    riders: Riders,
    /// The railway's uncertainty, unless undisturbed or regular.
    disturbed: Option<Disturbed>,
    rails: Interlocking,
    vehicles: Vec<VehicleState>,
    queue: BinaryHeap<Reverse<Event>>,
    scheduled: u64,
    now: u32,
    /// Breakdowns still to happen.
    breakdowns: Vec<Breakdown>,
    /// Breakdowns that happened.
    broken_down: Vec<BrokenDown>,
}

impl TimetabledSimulation {
    /// The day `day`, its clock at the service day's start (0), every vehicle due at its first
    /// trip's first stop. To start later in the day (at the wall-clock time), advance to that
    /// time and set aside the arrivals: a whole day takes some tens of milliseconds.
    pub fn new(day: Arc<ServiceDay>, config: TimetabledConfig) -> Result<Self, InvalidServiceDay> {
        let rail = validate(&day)?;
        let riders = Riders::new(&day, &rail, config.riders.clone());
        let vehicles = (0..day.vehicles.len())
            .map(|index| {
                let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
                rng.set_stream(index as u64);
                VehicleState {
                    trip_at: 0,
                    seq: 0,
                    phase: Phase::Waiting,
                    held: false,
                    on_board: 0,
                    rng,
                    chance: Disturbed::stream(config.seed, index as u32),
                }
            })
            .collect();
        let disturbed = (!config.undisturbed && !config.uncertainty.is_regular()).then(|| {
            let mut disturbed = Disturbed::new(
                config.uncertainty.clone(),
                &day,
                &rail,
                config.seed,
                &config.riders.hour_shares,
            );
            // The departures the dispatchers space, by platform: a train's from every stop
            // of its trip but the last.
            for (trip, _) in day.trips.iter().zip(&rail).filter(|(_, rail)| **rail) {
                for (seq, stop) in trip.stops.iter().enumerate().take(trip.stops.len() - 1) {
                    disturbed.schedule_departure(
                        platform_of(&trip.stops, seq),
                        trip.route,
                        stop.departure_s,
                    );
                }
            }
            disturbed
        });
        let mut sim = Self {
            rails: Interlocking::new(config.rail_clearance_s),
            day,
            config,
            rail,
            riders,
            disturbed,
            vehicles,
            queue: BinaryHeap::new(),
            scheduled: 0,
            now: 0,
            breakdowns: Vec::new(),
            broken_down: Vec::new(),
        };
        for vehicle in 0..sim.vehicles.len() {
            sim.start_trip(vehicle as u32, 0);
        }
        Ok(sim)
    }

    /// Has a train of `breakdown`'s route break down (a what-if): the first to leave a stop at
    /// or after its time stands between that stop and the next for its duration. A rail
    /// route's trains behind it wait; a bus route's pass.
    pub fn break_down(&mut self, breakdown: Breakdown) {
        self.breakdowns.push(breakdown);
    }

    /// The breakdowns that happened, in the order they did.
    pub fn broken_down(&self) -> &[BrokenDown] {
        &self.broken_down
    }

    /// The day simulated.
    pub fn day(&self) -> &Arc<ServiceDay> {
        &self.day
    }

    /// The simulated clock, seconds from the service day's start.
    pub fn now(&self) -> u32 {
        self.now
    }

    /// Whether every vehicle has run all its trips.
    pub fn is_finished(&self) -> bool {
        self.queue.is_empty()
    }

    /// When the next event happens, if any is left.
    pub fn next_event_s(&self) -> Option<u32> {
        self.queue.peek().map(|Reverse(event)| event.time)
    }

    /// Advances one tick ([`TimetabledConfig::tick_s`]), adding the tick's arrivals to `out`.
    pub fn tick(&mut self, out: &mut Vec<StopArrival>) {
        let until = self.now.saturating_add(self.config.tick_s.max(1));
        self.advance_to(until, out);
    }

    /// Advances the clock to `until` (seconds from the service day's start; an earlier time
    /// leaves it where it is), adding every arrival up to and at it to `out` in the order they
    /// happen.
    pub fn advance_to(&mut self, until: u32, out: &mut Vec<StopArrival>) {
        while let Some(Reverse(event)) = self.queue.peek().copied() {
            if event.time > until {
                break;
            }
            self.queue.pop();
            self.now = event.time;
            match event.kind {
                Kind::Reach => self.reach(event.vehicle, out),
                Kind::Depart => self.depart(event.vehicle),
            }
        }
        self.now = self.now.max(until);
    }

    /// What has disturbed the day so far (all zero when undisturbed or regular).
    pub fn disturbances(&self) -> Disturbances {
        self.disturbed
            .as_ref()
            .map_or_else(Disturbances::default, |disturbed| disturbed.counts)
    }

    /// The trips dropped so far (not run: no arrivals), in the order they were dropped.
    pub fn skipped_trips(&self) -> &[TripIndex] {
        self.disturbed
            .as_ref()
            .map_or(&[], |disturbed| disturbed.skipped.as_slice())
    }

    /// When each of [`skipped_trips`](Self::skipped_trips) was dropped (simulated seconds from
    /// the day's start), index for index: as its vehicle became free for it, at or before the
    /// trip was due to leave unless the vehicle came late.
    pub fn skipped_at_s(&self) -> &[u32] {
        self.disturbed
            .as_ref()
            .map_or(&[], |disturbed| disturbed.skipped_at_s.as_slice())
    }

    /// Where every vehicle in service is now (those between trips, not yet out or done are
    /// left out), by vehicle.
    pub fn positions(&self) -> Vec<VehiclePosition> {
        self.vehicles
            .iter()
            .enumerate()
            .filter_map(|(index, state)| {
                let trip_index = *self.day.vehicles[index].trips.get(state.trip_at)?;
                let trip = &self.day.trips[trip_index.0 as usize];
                let place = match state.phase {
                    Phase::Waiting | Phase::Done => return None,
                    Phase::AtStop { .. } => Place::AtStop {
                        stop_sequence: state.seq as u32,
                        stop: trip.stops[state.seq].stop,
                    },
                    Phase::Running { left, due } => {
                        let fraction = if due > left {
                            f64::from(self.now.saturating_sub(left)) / f64::from(due - left)
                        } else {
                            1.0
                        };
                        Place::Between {
                            from_sequence: state.seq as u32 - 1,
                            from: trip.stops[state.seq - 1].stop,
                            to: trip.stops[state.seq].stop,
                            fraction: fraction.clamp(0.0, 1.0),
                        }
                    }
                };
                Some(VehiclePosition {
                    vehicle: VehicleIndex(index as u32),
                    trip: trip_index,
                    route: trip.route,
                    place,
                    on_board: state.on_board,
                })
            })
            .collect()
    }

    fn push(&mut self, time: u32, vehicle: u32, kind: Kind) {
        self.scheduled += 1;
        self.queue.push(Reverse(Event {
            time,
            order: self.scheduled,
            vehicle,
            kind,
        }));
    }

    /// The trip `vehicle` runs now.
    fn trip_index(&self, vehicle: u32) -> Option<usize> {
        let state = &self.vehicles[vehicle as usize];
        self.day.vehicles[vehicle as usize]
            .trips
            .get(state.trip_at)
            .map(|trip| trip.0 as usize)
    }

    /// `vehicle` starts its trip `trip_at` (in its list), free from `free_at`.
    fn start_trip(&mut self, vehicle: u32, free_at: u32) {
        let state = &mut self.vehicles[vehicle as usize];
        let trips = &self.day.vehicles[vehicle as usize].trips;
        // A dropped trip is not run: the vehicle is next due for the one after.
        while let (Some(trip), Some(disturbed)) = (trips.get(state.trip_at), &mut self.disturbed) {
            let first = &self.day.trips[trip.0 as usize];
            let origin = (first.route, first.stops[0].stop.0);
            let due = first.stops[0].departure_s;
            if !disturbed.skips(&mut state.chance, *trip, origin, (due, free_at), self.now) {
                break;
            }
            state.trip_at += 1;
        }
        let Some(trip) = trips.get(state.trip_at) else {
            state.phase = Phase::Done;
            return;
        };
        state.seq = 0;
        state.phase = Phase::Waiting;
        let due = self.day.trips[trip.0 as usize].stops[0].arrival_s;
        self.push(due.max(free_at), vehicle, Kind::Reach);
    }

    /// `vehicle`, if held before its stop, asks again at `at`.
    fn wake(&mut self, vehicle: u32, at: u32) {
        let state = &mut self.vehicles[vehicle as usize];
        if state.held {
            state.held = false;
            self.push(at, vehicle, Kind::Reach);
        }
    }

    fn platform(&self, trip: usize, seq: usize) -> PlatformKey {
        platform_of(&self.day.trips[trip].stops, seq)
    }

    fn segment(&self, trip: usize, seq: usize) -> Option<SegmentKey> {
        let stops = &self.day.trips[trip].stops;
        let before = stops.get(seq.checked_sub(1)?)?;
        Some((before.stop.0, stops[seq].stop.0))
    }

    /// `vehicle` reaches its current stop (or asks again to enter it).
    fn reach(&mut self, vehicle: u32, out: &mut Vec<StopArrival>) {
        let Some(trip) = self.trip_index(vehicle) else {
            return;
        };
        let state = &mut self.vehicles[vehicle as usize];
        let seq = state.seq;
        state.held = false;
        let now = self.now;
        if self.rail[trip] && self.config.rail_blocks {
            let segment = self.segment(trip, seq);
            if let Some(segment) = segment {
                // Behind a train still on the stretch: woken when that one enters.
                if !self.rails.first_on_segment(segment, vehicle) {
                    self.vehicles[vehicle as usize].held = true;
                    return;
                }
            }
            match self.rails.request(self.platform(trip, seq), vehicle, now) {
                Entry::Enter => {}
                Entry::RetryAt(time) => return self.push(time, vehicle, Kind::Reach),
                Entry::Wait => {
                    self.vehicles[vehicle as usize].held = true;
                    return;
                }
            }
            if let Some(segment) = segment {
                if let Some(next) = self.rails.leave_segment(segment, vehicle) {
                    self.wake(next, now);
                }
            }
        }
        self.arrive(vehicle, trip, seq, out);
    }

    /// `vehicle` enters its trip's stop `seq` now: riders get off and on, and its departure is
    /// set.
    fn arrive(&mut self, vehicle: u32, trip_index: usize, seq: usize, out: &mut Vec<StopArrival>) {
        let now = self.now;
        let rail = self.rail[trip_index];
        let trip = &self.day.trips[trip_index];
        let scheduled = trip.stops[seq];
        let state = &mut self.vehicles[vehicle as usize];
        let exchange = self.riders.exchange(
            &mut state.rng,
            trip_index,
            seq,
            trip.stops.len(),
            rail,
            now,
            scheduled.departure_s,
            state.on_board,
        );
        let mut exchange = exchange;
        let staying = state.on_board - exchange.alighted.min(state.on_board);
        // Full: those who do not fit wait for the next vehicle.
        let mut left_behind_s = 0;
        if let Some(capacity) = self.disturbed.as_ref().and_then(|d| d.capacity(rail)) {
            let fits = capacity.saturating_sub(staying);
            if exchange.boarded > fits && exchange.rate_per_s > 0.0 {
                let left = exchange.boarded - fits;
                left_behind_s = (f64::from(left) / exchange.rate_per_s).round() as u32;
                exchange.boarded = fits;
            }
        }
        state.on_board = staying + exchange.boarded;
        let scheduled_dwell = scheduled.departure_s.saturating_sub(scheduled.arrival_s);
        let dwell = if self.config.undisturbed {
            scheduled_dwell
        } else {
            let model = if rail {
                &self.config.rail_dwell
            } else {
                &self.config.bus_dwell
            };
            model.dwell_s(
                scheduled_dwell,
                exchange.boarded,
                exchange.alighted,
                (exchange.expected_boarded, exchange.expected_alighted),
            )
        };
        let mut departs = scheduled.departure_s.max(now.saturating_add(dwell));
        let mut failed = false;
        if let Some(disturbed) = &mut self.disturbed {
            if seq == 0 {
                departs = departs.saturating_add(disturbed.late_departure_s(&mut state.chance));
            } else {
                let run = scheduled
                    .arrival_s
                    .saturating_sub(trip.stops[seq - 1].departure_s);
                match disturbed.incident(&mut state.chance, run, rail) {
                    Some(Incident::Hold(held)) => {
                        let held = now.saturating_add(dwell).saturating_add(held);
                        departs = departs.max(held);
                    }
                    Some(Incident::SignalFailure) => failed = true,
                    None => {}
                }
            }
        }
        // Dispatchers space the trains: one close behind the one before is held.
        if rail && seq + 1 < trip.stops.len() {
            let platform = platform_of(&trip.stops, seq);
            if let Some(disturbed) = &mut self.disturbed {
                departs = disturbed.space(platform, trip.route, scheduled.departure_s, departs);
            }
        }
        if failed {
            let stops = &trip.stops;
            let ahead = stops[seq..]
                .windows(2)
                .map(|pair| (pair[0].stop.0, pair[1].stop.0));
            if let Some(disturbed) = &mut self.disturbed {
                disturbed.fail_signals(ahead, now);
            }
        }
        let state = &mut self.vehicles[vehicle as usize];
        state.phase = Phase::AtStop { departs };
        self.riders
            .departed(trip_index, seq, departs, left_behind_s);
        out.push(StopArrival {
            vehicle: VehicleIndex(vehicle),
            trip: TripIndex(trip_index as u32),
            stop_sequence: seq as u32,
            stop: scheduled.stop,
            route: trip.route,
            arrival_s: now,
            departure_s: departs,
            scheduled_arrival_s: scheduled.arrival_s,
            scheduled_departure_s: scheduled.departure_s,
            boarded: exchange.boarded,
            alighted: exchange.alighted,
        });
        self.push(departs, vehicle, Kind::Depart);
    }

    /// `vehicle` leaves its current stop: on to the next, or to its next trip.
    fn depart(&mut self, vehicle: u32) {
        let Some(trip) = self.trip_index(vehicle) else {
            return;
        };
        let now = self.now;
        let seq = self.vehicles[vehicle as usize].seq;
        let rail = self.rail[trip] && self.config.rail_blocks;
        if rail {
            let platform = self.platform(trip, seq);
            if let Some((next, at)) = self.rails.leave_platform(platform, vehicle, now) {
                self.wake(next, at.max(now));
            }
        }
        let stops = &self.day.trips[trip].stops;
        if let Some(ahead) = stops.get(seq + 1) {
            let scheduled_run = ahead.arrival_s.saturating_sub(stops[seq].departure_s);
            let due = match &self.disturbed {
                None => now.saturating_add(scheduled_run),
                Some(disturbed) => {
                    let stretch = (stops[seq].stop.0, ahead.stop.0);
                    let run = disturbed.run_s(
                        &mut self.vehicles[vehicle as usize].chance,
                        stretch,
                        scheduled_run,
                        stops[seq].departure_s,
                        now,
                        self.rail[trip],
                    );
                    // A train ahead of time runs easy: never at a stop before it is due there.
                    now.saturating_add(run).max(ahead.arrival_s)
                }
            };
            let route = self.day.trips[trip].route;
            let (from, to) = (stops[seq].stop, ahead.stop);
            let due = match self
                .breakdowns
                .iter()
                .position(|b| b.route == route && b.at_s <= now)
            {
                Some(index) => {
                    let breakdown = self.breakdowns.swap_remove(index);
                    let cleared_s = now.saturating_add(breakdown.duration_s);
                    self.broken_down.push(BrokenDown {
                        breakdown,
                        vehicle: VehicleIndex(vehicle),
                        trip: TripIndex(trip as u32),
                        from,
                        to,
                        stopped_s: now,
                        cleared_s,
                    });
                    due.saturating_add(breakdown.duration_s)
                }
                None => due,
            };
            let state = &mut self.vehicles[vehicle as usize];
            state.seq = seq + 1;
            state.phase = Phase::Running { left: now, due };
            if let Some(segment) = self.segment(trip, seq + 1).filter(|_| rail) {
                self.rails.enter_segment(segment, vehicle);
            }
            self.push(due, vehicle, Kind::Reach);
        } else {
            self.vehicles[vehicle as usize].trip_at += 1;
            self.start_trip(vehicle, now);
        }
    }
}

/// The platform of a trip's stop `seq` of `stops`: the stop, toward the next (at the last,
/// from the one before).
fn platform_of(stops: &[ScheduledStop], seq: usize) -> PlatformKey {
    let toward = match (stops.get(seq + 1), seq.checked_sub(1)) {
        (Some(next), _) => Toward::Next(next.stop.0),
        (None, Some(before)) => Toward::EndFrom(stops[before].stop.0),
        (None, None) => Toward::Alone,
    };
    (stops[seq].stop.0, toward)
}

/// Checks that every trip is run by the one vehicle it names and its stops and route exist;
/// returns whether each trip runs on rail.
fn validate(day: &ServiceDay) -> Result<Vec<bool>, InvalidServiceDay> {
    let mut listed: Vec<Vec<u32>> = vec![Vec::new(); day.trips.len()];
    for (index, vehicle) in day.vehicles.iter().enumerate() {
        for trip in &vehicle.trips {
            let slot =
                listed
                    .get_mut(trip.0 as usize)
                    .ok_or_else(|| InvalidServiceDay::NoSuchTrip {
                        vehicle: vehicle.id.clone(),
                        trip: trip.0,
                        trips: day.trips.len(),
                    })?;
            slot.push(index as u32);
        }
    }
    day.trips
        .iter()
        .zip(listed)
        .map(|(trip, listed)| {
            if listed != [trip.vehicle.0] {
                return Err(InvalidServiceDay::TripVehicle {
                    trip_id: trip.trip_id.clone(),
                    named: trip.vehicle.0,
                    listed,
                });
            }
            if trip.stops.is_empty() {
                return Err(InvalidServiceDay::NoStops(trip.trip_id.clone()));
            }
            if let Some(stop) = trip
                .stops
                .iter()
                .find(|stop| stop.stop.0 as usize >= day.stops.len())
            {
                return Err(InvalidServiceDay::NoSuchStop {
                    trip_id: trip.trip_id.clone(),
                    stop: stop.stop.0,
                    stops: day.stops.len(),
                });
            }
            day.route(trip.route)
                .map(|route| route.is_rail())
                .ok_or_else(|| InvalidServiceDay::NoSuchRoute {
                    trip_id: trip.trip_id.clone(),
                    route: trip.route,
                })
        })
        .collect()
}
