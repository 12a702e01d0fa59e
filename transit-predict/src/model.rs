//! The predictor itself, without a bus: what it learns from each arrival and the predictions
//! it issues, by every method. [`crate::predictor`] runs it on the processor loop.
//!
//! # How a vehicle's arrivals ahead are predicted ([`Method::Learnt`])
//!
//! From the vehicle's latest arrival (and the departure it announced), stop after stop along
//! its trip and the trips its vehicle runs next, until the horizon:
//!
//! - **run**: the learnt run time of the segment (route, from, to) for the day type and the
//!   hour of its scheduled departure ([`crate::estimate`]: a weighted median of the newest
//!   observations, the timetable's run time as the prior). A late vehicle's delay is carried
//!   forward by adding what segments take now, so it grows where they run slower than the
//!   timetable and shrinks where the timetable is generous;
//! - **the train ahead** (rail only, where trains never pass): a train never reaches a stop
//!   sooner than [`PredictConfig::min_separation_s`] after the train ahead of it on its
//!   route and direction is predicted there, so a train close behind a late one waits;
//! - **dwell**: the learnt dwell at the stop (observations where the vehicle was held for its
//!   scheduled departure are left out: a hold is not a dwell); a vehicle never leaves before
//!   its scheduled departure where [`PredictConfig::holds`] (running early is made up there);
//! - **the dispatchers' spacing** (rail): a train leaves a stop no sooner than
//!   [`PredictConfig::spacing_share`] of the scheduled headway there after the train ahead of
//!   it leaves (as that one announced, or is predicted to), so a bunch behind a late train is
//!   predicted spread out as it will be;
//! - **overdue**: a vehicle not at its trip's next stop by its predicted arrival is predicted
//!   there a moment from now ([`PredictConfig::overdue_floor_s`]), again and again while it
//!   does not come, and the trains behind it with it (a train stopped on the way holds them);
//! - **between trips**: the vehicle starts its next trip at the later of its scheduled start
//!   and its predicted arrival at the end of the one before.
//!
//! What is announced is the estimate itself. Aiming at the middle of the window a prediction
//! at its horizon is right within ([`aim_ms`], [`PredictConfig::aim_at_window`]) would suit
//! errors spread evenly either way; the railway's are not (a train held by an incident comes
//! minutes late, none comes minutes early), and on NYC's simulated weekdays, once cancelled
//! trips were read, the estimate scored 0.9 to 1.7 points better in every bucket.
//!
//! The uncertainty of each prediction is the square root of the summed variances (from the
//! spread of what was seen) of the runs and dwells before it.
//!
//! # Baselines, the same way
//!
//! [`Method::Timetable`]: the scheduled times; [`Method::Delay`]: the scheduled times plus the
//! vehicle's current delay, unchanged (what most GTFS-realtime producers do);
//! [`Method::LatestSegment`]: each segment's latest observed run time, the scheduled dwell,
//! holds kept (today's board). They state no uncertainty.
//!
//! # Leaving service
//!
//! A vehicle at the last stop of its last trip leaves service: its predictions are withdrawn.
//! So are those of a vehicle not heard of for [`PredictConfig::stale_after_s`] after it was
//! due somewhere (taken out of service, broken down): a prediction riders can trust is better
//! missing than wrong.
//!
//! # Weather
//!
//! Where the deployment has a weather topic, its readings are given to the predictor
//! ([`Predictor::read_weather`]) and each is a [`WeatherClass`] (wet or dry, how cold). For run
//! times only (a dwell is learnt from arrivals alone): each run is compared with the
//! timetable's, and the mean of the log of that ratio is learnt per weather class
//! ([`Slowdown`]); a class's slowdown is its mean against fair weather's. A run is
//! learnt divided by the slowdown of the weather it ran in (the windows hold fair-weather
//! runs), and predicted times its slowdown in the weather of the instant it is predicted at.
//! With no reading at all, or a class seen too little, the slowdown is 1: nothing changes.
//!
//! # Where service events will come in
//!
//! [`LearnKey`] is where a condition joins the key (the day type and hour are there); a
//! service change (a slow zone, a suspension) read from the bus would be one more field of it
//! and one more input of [`Predictor::observe`]'s caller. Nothing else changes: the estimates
//! are per key.

use std::cell::RefCell;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use transit_core::event::{
    PredictionEvent, PredictionKey, TripCancellation, VehicleArrivalEvent, WeatherEvent,
    WeatherStatus,
};

use crate::estimate::{estimate, Estimate, LearnConfig, Observation, Window};
use crate::timetable::{DayType, Placed, Timetable, Unplaced};

/// How a prediction was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Method {
    /// The predictor: learnt run and dwell times, the train ahead, holds.
    Learnt,
    /// The timetable alone.
    Timetable,
    /// The timetable plus the vehicle's current delay, carried unchanged.
    Delay,
    /// Each segment's latest observed run time.
    LatestSegment,
}

impl Method {
    /// Every method, the predictor first.
    pub const ALL: [Method; 4] = [
        Method::Learnt,
        Method::Timetable,
        Method::Delay,
        Method::LatestSegment,
    ];

    /// Its name in records: `learnt`, `timetable`, `delay`, `latest_segment`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Learnt => "learnt",
            Method::Timetable => "timetable",
            Method::Delay => "delay",
            Method::LatestSegment => "latest_segment",
        }
    }

    /// The method named `name`.
    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

/// What the predictor learns: a run between two stops, or a dwell at a stop (toward the next).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Quantity {
    /// From leaving `from` to reaching `to`.
    Run,
    /// Standing at `from` (on the way to `to`).
    Dwell,
}

/// The key of a learnt quantity: what, where, on which kind of day, at which hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LearnKey {
    /// Run or dwell.
    pub quantity: Quantity,
    /// The route (its index in the service day).
    pub route: u32,
    /// The stop left (run) or stood at (dwell), by index in the service day.
    pub from: u32,
    /// The next stop.
    pub to: u32,
    /// The day type.
    pub day_type: DayType,
    /// The local hour of the scheduled departure (run) or arrival (dwell).
    pub hour: u8,
}

/// What the predictor tells weathers apart by, from a reading: wet (rain or snow) or dry, and
/// how cold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WeatherClass {
    /// Rain or snow.
    pub wet: bool,
    /// 0 above freezing (32 °F), 1 from 20 °F to freezing, 2 from 0 °F to 20 °F, 3 below.
    pub cold: u8,
}

impl WeatherClass {
    /// Dry and above freezing: the class the others' slowdowns are measured against.
    pub const FAIR: WeatherClass = WeatherClass {
        wet: false,
        cold: 0,
    };

    /// The class of a reading.
    pub fn of(reading: &WeatherEvent) -> Self {
        let temperature = f64::from(reading.temperature);
        let cold = if temperature > 32.0 || temperature.is_nan() {
            0
        } else if temperature >= 20.0 {
            1
        } else if temperature >= 0.0 {
            2
        } else {
            3
        };
        Self {
            wet: reading.status == WeatherStatus::Precipitation,
            cold,
        }
    }

    /// Its id in the changelog, e.g. `wet/1`.
    pub fn id(self) -> String {
        format!("{}/{}", if self.wet { "wet" } else { "dry" }, self.cold)
    }
}

/// What runs in one weather class took against the timetable's: the mean of the logarithm of
/// the ratio, over the runs seen (the older fading once [`Slowdown::MEMORY`] were seen).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Slowdown {
    /// Runs it rests on (at most [`Slowdown::MEMORY`] counted).
    pub runs: u32,
    /// The mean of ln(run / scheduled run).
    pub mean_log: f64,
}

impl Slowdown {
    /// Runs after which older ones fade: a day of a busy line has thousands.
    pub const MEMORY: u32 = 2_000;
    /// Runs each of a class and of fair weather must rest on before a slowdown is applied.
    pub const LEAST: u32 = 50;

    fn add(&mut self, log_ratio: f64) {
        self.runs = (self.runs + 1).min(Self::MEMORY);
        self.mean_log += (log_ratio - self.mean_log) / f64::from(self.runs);
    }

    /// Whether it holds a figure the predictor learns (a slowdown of at most e).
    pub fn is_sane(&self) -> bool {
        self.mean_log.is_finite() && self.mean_log.abs() <= 1.0 && self.runs <= Self::MEMORY
    }
}

/// A segment of a route, for [`Method::LatestSegment`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SegmentKey {
    /// The route (index).
    pub route: u32,
    /// The stop left (index).
    pub from: u32,
    /// The stop reached (index).
    pub to: u32,
}

/// The default [`PredictConfig::issue_resolution_ms`], 5 s: well inside the scorer's
/// resolution (its narrowest tolerance is a minute either way; it reports the share right to
/// a tenth of a percent and the error in whole seconds) and below what a rider is shown
/// (minutes on a board, Train Tracker's minute). Over NYC's weekday (seed 2026, one
/// partition) it issues 39 % fewer predictions than issuing every change, with every
/// bucket's share right unchanged to 0.1 % and the mean errors within a second.
pub const ISSUE_RESOLUTION_MS: u32 = 5_000;

/// The default [`PredictConfig::issue_resolution_per_minute_ms`], 1 s a minute: a prediction
/// 20 minutes ahead is issued again once it moved by 20 s, one 3 minutes ahead by 5 s (the
/// floor). MBTA's windows widen with the horizon (a minute either way up to 3 minutes ahead,
/// 4 early to 6 late from 12 to 30), and so does what a rider is shown ("20 min"), so a move
/// far ahead that matters is a larger one. Most predictions are far ahead: half of what the
/// scorer samples is 12 to 30 minutes out.
pub const ISSUE_RESOLUTION_PER_MINUTE_MS: u32 = 1_000;

/// The predictor's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PredictConfig {
    /// How far ahead to predict, seconds (MBTA's buckets end at 30 min).
    pub horizon_s: u32,
    /// The least time between two trains reaching a stop, seconds (rail).
    pub min_separation_s: u32,
    /// Whether vehicles hold at stops rather than leave before the scheduled departure.
    pub holds: bool,
    /// A vehicle not heard of this long after it was due (or after its latest arrival, when
    /// nothing is predicted for it) has left service, seconds.
    pub stale_after_s: u32,
    /// How many vehicles behind one whose predictions changed are predicted again.
    pub max_cascade: usize,
    /// A prediction is issued again only when its arrival or departure moved by at least
    /// this much (or its trip, or its uncertainty by as many seconds), ms, or by more
    /// further ahead ([`issue_resolution_per_minute_ms`](Self::issue_resolution_per_minute_ms));
    /// 0 for both issues every change. Below it the table keeps the prediction it holds, so
    /// it is never further than this from the fresh one: a poller of the table, and the
    /// scorer, see it that far off at most.
    pub issue_resolution_ms: u32,
    /// Further ahead, the resolution grows by this much per minute the prediction is ahead,
    /// ms (the larger of the two applies); 0 keeps it at
    /// [`issue_resolution_ms`](Self::issue_resolution_ms) at every horizon. See
    /// [`ISSUE_RESOLUTION_PER_MINUTE_MS`].
    pub issue_resolution_per_minute_ms: u32,
    /// How the estimates weigh what was seen.
    pub learn: LearnConfig,
    /// The dispatchers' spacing (rail): a train leaves a stop no sooner than this share of
    /// the scheduled headway after the train ahead of it left it (`None`: no such rule).
    pub spacing_share: Option<f64>,
    /// A vehicle overdue at its trip's next stop (not there by its predicted arrival) is
    /// predicted there no sooner than this long after now, looked at again as often, and the
    /// trains behind it with it (`None`: its prediction stands until it is given up).
    pub overdue_floor_s: Option<u32>,
    /// Whether vehicles ahead of time ease off to their scheduled arrivals (rather than come
    /// early): a learnt arrival is then never before the scheduled one, and a run that came
    /// at or before it is learnt as a bound (the segment takes no longer), not as a run. Off
    /// by default: on NYC's simulated weekday (whose trains do ease off) it made no difference
    /// worth having, as a segment seen only eased falls back on the prior's lower end.
    pub eases: bool,
    /// The dispatchers' turn: a vehicle that would leave for its next trip more than this
    /// late, seconds, does not run it but the trip after (a late train turned to close the
    /// gap; the trip it leaves is cancelled then), never two trips in a row. The learnt method
    /// predicts it so; the baselines carry it onto its next trip whatever its lateness
    /// (`None`: the learnt method does too). Like [`spacing_share`](Self::spacing_share), a
    /// rule of the operation the predictor is told, not something it reads from the vehicles.
    pub turn_late_after_s: Option<u32>,
    /// Whether a learnt prediction aims at the middle of the window a prediction at its
    /// horizon is right within (MBTA's buckets are wider late than early), rather than at the
    /// estimate itself. Off by default: errors late outweigh errors early (see the module's
    /// docs).
    pub aim_at_window: bool,
}

impl PredictConfig {
    /// The resolution of a prediction `ahead_ms` ahead of its issue, ms: it is issued again
    /// only when it moved by at least this much.
    pub fn issue_resolution_at(&self, ahead_ms: i64) -> u32 {
        let minutes = u32::try_from(ahead_ms.max(0) / 60_000).unwrap_or(u32::MAX);
        self.issue_resolution_ms
            .max(minutes.saturating_mul(self.issue_resolution_per_minute_ms))
    }
}

impl Default for PredictConfig {
    fn default() -> Self {
        Self {
            horizon_s: 1_800,
            min_separation_s: 90,
            holds: true,
            stale_after_s: 1_200,
            max_cascade: 8,
            issue_resolution_ms: ISSUE_RESOLUTION_MS,
            issue_resolution_per_minute_ms: ISSUE_RESOLUTION_PER_MINUTE_MS,
            learn: LearnConfig::default(),
            spacing_share: Some(0.75),
            overdue_floor_s: Some(30),
            eases: false,
            turn_late_after_s: Some(600),
            aim_at_window: false,
        }
    }
}

/// One current prediction of a vehicle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// By which method.
    pub method: Method,
    /// The stop (index in the service day).
    pub stop: u32,
    /// The trip of the visit.
    pub trip: u32,
    /// The stop's place in it.
    pub position: u32,
    /// Predicted arrival, ms.
    pub arrival_ms: i64,
    /// Predicted departure, ms.
    pub departure_ms: i64,
    /// Scheduled arrival, ms.
    pub scheduled_ms: i64,
    /// Expected error, seconds.
    pub uncertainty_s: Option<i32>,
    /// When it was issued, ms.
    pub issued_ms: i64,
    /// The arrival offset it follows from.
    pub offset: u64,
}

impl Row {
    /// Whether `other` says the same (issue time and offset aside), to within `resolution_ms`
    /// (see [`PredictConfig::issue_resolution_ms`]).
    fn same_as(&self, other: &Row, resolution_ms: u32) -> bool {
        let resolution = u64::from(resolution_ms.max(1));
        let close = |a: i64, b: i64| a.abs_diff(b) < resolution;
        let uncertainty = match (self.uncertainty_s, other.uncertainty_s) {
            (Some(a), Some(b)) => close(i64::from(a) * 1_000, i64::from(b) * 1_000),
            (a, b) => a == b,
        };
        (self.trip, self.position) == (other.trip, other.position)
            && close(self.arrival_ms, other.arrival_ms)
            && close(self.departure_ms, other.departure_ms)
            && uncertainty
    }
}

/// What the predictor holds of one vehicle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VehicleState {
    /// The arrivals' partition its records come from.
    pub partition: u32,
    /// Its latest arrival.
    pub latest: VehicleArrivalEvent,
    /// That arrival's offset.
    pub offset: u64,
    /// Its trip (index).
    pub trip: u32,
    /// Its place in the trip.
    pub position: u32,
    /// The shift of its day against the timetable's, ms.
    pub shift_ms: i64,
    /// Its day type.
    pub day_type: DayType,
    /// Its current predictions.
    pub rows: Vec<Row>,
    /// When stops now beyond the horizon come within it, ms.
    pub refresh_at_ms: Option<i64>,
}

impl VehicleState {
    /// When it is to be looked at again: predicted afresh (its next stops come within the
    /// horizon, or, with `overdue_ms`, it is that late at its next stop), or found gone.
    fn due_ms(&self, stale_after_ms: i64, overdue_ms: Option<i64>) -> i64 {
        let stale = self.stale_at_ms(stale_after_ms, overdue_ms.is_some());
        let due = self
            .refresh_at_ms
            .map_or(stale, |refresh| refresh.min(stale));
        match (overdue_ms, self.next_on_trip_ms()) {
            (Some(after), Some(next)) => due.min(next + after),
            _ => due,
        }
    }

    /// When it is given up; `running`: a vehicle on its way to its trip's next stop is given
    /// up counting from when it left its latest stop (its predictions there move on while it
    /// is overdue).
    fn stale_at_ms(&self, stale_after_ms: i64, running: bool) -> i64 {
        if running && self.next_on_trip_ms().is_some() {
            return self.latest.departure_time.max(self.latest.arrival_time) + stale_after_ms;
        }
        let expected = self
            .rows
            .iter()
            .map(|row| row.arrival_ms)
            .min()
            .or(self.refresh_at_ms)
            .unwrap_or(self.latest.arrival_time);
        expected.max(self.latest.arrival_time) + stale_after_ms
    }

    /// Its learnt arrival at its trip's next stop, if predicted.
    fn next_on_trip_ms(&self) -> Option<i64> {
        self.rows
            .iter()
            .find(|row| {
                row.method == Method::Learnt
                    && row.trip == self.trip
                    && row.position == self.position + 1
            })
            .map(|row| row.arrival_ms)
    }
}

/// One change to the prediction table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// A new or changed prediction.
    Upsert(PredictionEvent),
    /// A prediction withdrawn (the vehicle got there, or left service).
    Withdraw {
        /// The arrivals' partition of the vehicle.
        partition: u32,
        /// The row withdrawn.
        key: PredictionKey,
        /// When: the time of the arrival (or of the clock) that withdrew it, ms.
        at_ms: i64,
    },
}

/// Changes to the prediction table, in the order they were made.
#[derive(Debug, Default)]
pub struct Issued {
    /// The changes.
    pub changes: Vec<Issue>,
}

/// What an arrival did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// Applied: learnt from, the vehicle predicted again.
    Applied,
    /// Older than what is known of the vehicle on the same trip: left out.
    Stale,
    /// At the last stop of its last trip: the vehicle left service.
    LeftService,
}

/// The state entries changed since [`Predictor::take_changes`] was last called, for the
/// changelog.
#[derive(Debug, Default)]
pub struct Changes {
    /// Vehicles whose state changed.
    pub vehicles: FxHashSet<String>,
    /// Vehicles gone, with their partition.
    pub removed: Vec<(u32, String)>,
    /// Learnt windows changed.
    pub learnt: FxHashSet<(u32, LearnKey)>,
    /// Latest segment runs changed.
    pub latest: FxHashSet<(u32, SegmentKey)>,
    /// Weather slowdowns changed.
    pub slowdowns: FxHashSet<(u32, WeatherClass)>,
}

/// The predictor: what it learnt, per input partition, and the vehicles it predicts.
#[derive(Debug)]
pub struct Predictor {
    timetable: Arc<Timetable>,
    config: PredictConfig,
    learnt: PerPartition<LearnKey, Window>,
    latest: PerPartition<SegmentKey, Observation>,
    vehicles: FxHashMap<String, VehicleState>,
    /// Which vehicle runs (or is predicted to run) each trip of a day: (trip, shift) → vehicle.
    on_trip: FxHashMap<(u32, i64), String>,
    /// Per partition, the earliest [`VehicleState::due_ms`] among its vehicles.
    next_due: FxHashMap<u32, i64>,
    changes: Changes,
    /// Estimates made, per key and prior (its bits), until the key's window (or the window of
    /// the hour before, which it may draw on) changes.
    estimates: RefCell<FxHashMap<LearnKey, Vec<(u64, Estimate)>>>,
    /// The weather readings read, by the instant each was taken (ms).
    weather: BTreeMap<i64, WeatherClass>,
    /// Per weather class, what runs took against their estimates, per input partition.
    slowdowns: PerPartition<WeatherClass, Slowdown>,
    /// The trips cancelled (trip, shift of its day): a vehicle's chain goes past them.
    cancelled: FxHashSet<(u32, i64)>,
}

impl Predictor {
    /// A predictor over `timetable` that has learnt nothing yet.
    pub fn new(timetable: Arc<Timetable>, config: PredictConfig) -> Self {
        Self {
            timetable,
            config,
            learnt: FxHashMap::default(),
            latest: FxHashMap::default(),
            vehicles: FxHashMap::default(),
            on_trip: FxHashMap::default(),
            next_due: FxHashMap::default(),
            changes: Changes::default(),
            estimates: RefCell::default(),
            weather: BTreeMap::new(),
            slowdowns: FxHashMap::default(),
            cancelled: FxHashSet::default(),
        }
    }

    /// Takes the cancellation of a trip (a service event): its vehicle is predicted on the
    /// trip after it from now on, and the predictions it had on the trip are withdrawn into
    /// `out`, as are the changes of the train behind, no longer held by it. `Ok(false)` when
    /// the trip was cancelled already.
    pub fn cancel(
        &mut self,
        cancellation: &TripCancellation,
        out: &mut Issued,
    ) -> Result<bool, Unplaced> {
        let (trip, shift) = self.timetable.place_cancellation(cancellation)?;
        if !self.cancelled.insert((trip, shift)) {
            return Ok(false);
        }
        let at_ms = cancellation.announced_time;
        let mut affected = Vec::new();
        if let Some(vehicle) = self.on_trip.get(&(trip, shift)) {
            affected.push(vehicle.clone());
        }
        if let Some((behind, _)) = self.timetable.trip_behind(trip, 0) {
            if let Some(vehicle) = self.on_trip.get(&(behind, shift)) {
                affected.push(vehicle.clone());
            }
        }
        for id in affected {
            let Some(offset) = self.vehicles.get(&id).map(|v| v.offset) else {
                continue;
            };
            if self.repredict(&id, at_ms, false, offset, out) {
                self.cascade(&id, at_ms, out);
            }
        }
        Ok(true)
    }

    /// The trip the vehicle of `trip` runs after it on its day shifted by `shift`: the next of
    /// its block not cancelled.
    fn next_run_trip(&self, trip: u32, shift: i64) -> Option<u32> {
        let mut next = self.timetable.next_trip(trip)?;
        // Bounded by the block's length; the bound guards a block that loops.
        for _ in 0..10_000 {
            if !self.cancelled.contains(&(next, shift)) {
                return Some(next);
            }
            next = self.timetable.next_trip(next)?;
        }
        None
    }

    /// The trip the vehicle of `trip`, free to leave its last stop at `free_ms`, is predicted
    /// to run next by `method`: the next of its block not cancelled, but by the learnt method
    /// the one after that when it would leave for it more than
    /// [`PredictConfig::turn_late_after_s`] late (the dispatchers turn it; not when a
    /// cancelled trip was passed over already, as they never turn it twice in a row). `None`:
    /// it leaves service after `trip`.
    fn predicted_next_trip(
        &self,
        method: Method,
        trip: u32,
        shift: i64,
        free_ms: i64,
    ) -> Option<u32> {
        let next = self.next_run_trip(trip, shift)?;
        let (Method::Learnt, Some(most_s)) = (method, self.config.turn_late_after_s) else {
            return Some(next);
        };
        if self.timetable.next_trip(trip) != Some(next) {
            return Some(next);
        }
        let Some(first) = self.timetable.stop(next, 0) else {
            return Some(next);
        };
        let due_ms = self.timetable.ms(first.departure_s, shift);
        if free_ms - due_ms > i64::from(most_s) * 1_000 {
            self.next_run_trip(next, shift)
        } else {
            Some(next)
        }
    }

    /// Takes a weather reading taken at `at_ms`: from then on (in event time) runs are learnt
    /// and predicted in its class.
    pub fn read_weather(&mut self, at_ms: i64, reading: &WeatherEvent) {
        self.weather.insert(at_ms, WeatherClass::of(reading));
    }

    /// The weather class at `at_ms`: the latest reading's taken by then, if any.
    pub fn weather_at(&self, at_ms: i64) -> Option<WeatherClass> {
        self.weather.range(..=at_ms).next_back().map(|(_, c)| *c)
    }

    /// What `class`'s runs learnt from `partition` took against their estimates.
    pub fn slowdown(&self, partition: u32, class: WeatherClass) -> Option<Slowdown> {
        self.slowdowns
            .get(&class)?
            .iter()
            .find(|(p, _)| *p == partition)
            .map(|(_, s)| *s)
    }

    /// The factor runs take in weather `class` against fair weather, from what every
    /// partition held taught: 1 for fair weather, no weather, or a class (or fair weather)
    /// seen too little.
    pub fn weather_factor(&self, class: Option<WeatherClass>) -> f64 {
        let merged = |class: WeatherClass| {
            let list = self.slowdowns.get(&class)?;
            let runs: u32 = list.iter().map(|(_, s)| s.runs).sum();
            (runs >= Slowdown::LEAST).then(|| {
                list.iter()
                    .map(|(_, s)| f64::from(s.runs) * s.mean_log)
                    .sum::<f64>()
                    / f64::from(runs)
            })
        };
        match class {
            Some(class) if class != WeatherClass::FAIR => {
                match (merged(class), merged(WeatherClass::FAIR)) {
                    (Some(own), Some(fair)) => (own - fair).clamp(-0.5, 0.7).exp(),
                    _ => 1.0,
                }
            }
            _ => 1.0,
        }
    }

    /// Puts back a weather slowdown read from the changelog; `false` (and nothing put back)
    /// for one the predictor never learns.
    pub fn restore_slowdown(
        &mut self,
        partition: u32,
        class: WeatherClass,
        slowdown: Slowdown,
    ) -> bool {
        if !slowdown.is_sane() {
            return false;
        }
        put_own(&mut self.slowdowns, class, partition, slowdown);
        true
    }

    /// The timetable.
    pub fn timetable(&self) -> &Timetable {
        &self.timetable
    }

    /// The timetable, shared.
    pub fn shared_timetable(&self) -> &Arc<Timetable> {
        &self.timetable
    }

    /// The settings.
    pub fn config(&self) -> &PredictConfig {
        &self.config
    }

    /// The vehicle `id`, if it is predicted.
    pub fn vehicle(&self, id: &str) -> Option<&VehicleState> {
        self.vehicles.get(id)
    }

    /// How many vehicles are predicted.
    pub fn vehicles(&self) -> usize {
        self.vehicles.len()
    }

    /// The window of `key` learnt from `partition`.
    pub fn window(&self, partition: u32, key: &LearnKey) -> Option<&Window> {
        self.learnt
            .get(key)?
            .iter()
            .find(|(p, _)| *p == partition)
            .map(|(_, w)| w)
    }

    /// The latest run over `segment` seen on `partition`.
    pub fn latest_run(&self, partition: u32, segment: &SegmentKey) -> Option<Observation> {
        self.latest
            .get(segment)?
            .iter()
            .find(|(p, _)| *p == partition)
            .map(|(_, o)| *o)
    }

    /// The estimate of `key` from everything held (the key's hour, and the hour before when
    /// the key has seen little), with `prior_s` from the timetable.
    pub fn estimate(&self, key: &LearnKey, prior_s: f64) -> Estimate {
        // Every arrival predicts a vehicle's next half hour, some forty estimates, while a
        // key's window changes once per vehicle over it: estimates are kept until it does.
        let prior_bits = prior_s.to_bits();
        let mut cache = self.estimates.borrow_mut();
        let cached = cache.entry(*key).or_default();
        if let Some((_, estimate)) = cached.iter().find(|(bits, _)| *bits == prior_bits) {
            return *estimate;
        }
        let estimate = self.compute_estimate(key, prior_s);
        cached.push((prior_bits, estimate));
        estimate
    }

    fn compute_estimate(&self, key: &LearnKey, prior_s: f64) -> Estimate {
        let own = self.learnt.get(key).map(Vec::as_slice).unwrap_or_default();
        let seen: usize = own.iter().map(|(_, w)| w.len()).sum();
        let mut windows: Vec<(&Window, f64)> = own.iter().map(|(_, w)| (w, 1.0)).collect();
        if seen < 4 {
            let before = LearnKey {
                hour: (key.hour + 23) % 24,
                ..*key
            };
            if let Some(list) = self.learnt.get(&before) {
                windows.extend(list.iter().map(|(_, w)| (w, 0.5)));
            }
        }
        estimate(windows, prior_s, &self.config.learn)
    }

    /// Takes the state entries changed since the last call.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    /// Puts back a vehicle's state read from the changelog; refuses (and says why) one whose
    /// latest arrival is not where the state says in this timetable (a changelog of another
    /// feed, or a damaged entry).
    pub fn restore_vehicle(&mut self, id: String, state: VehicleState) -> Result<(), Unplaced> {
        let placed = self.timetable.place(&state.latest)?;
        let horizon_ms = i64::from(self.config.horizon_s) * 1_000;
        let rows_sane = state.rows.iter().all(|row| {
            crate::sane_ms(row.arrival_ms)
                && crate::sane_ms(row.departure_ms)
                && crate::sane_ms(row.scheduled_ms)
                && self.timetable.stop(row.trip, row.position).is_some()
        }) && state
            .refresh_at_ms
            .is_none_or(|at| crate::sane_ms(at.saturating_add(horizon_ms)));
        if (placed.trip, placed.position, placed.shift_ms)
            != (state.trip, state.position, state.shift_ms)
            || !rows_sane
        {
            return Err(Unplaced::WrongStop {
                trip_id: state.latest.trip_id.clone(),
                stop_id: state.latest.stop_id.clone(),
                stop_sequence: state.latest.stop_sequence,
            });
        }
        self.index_rows(&id, &[], &state.rows, state.trip, state.shift_ms);
        let due = state.due_ms(self.stale_after_ms(), self.overdue_ms());
        self.note_due(state.partition, due);
        self.vehicles.insert(id, state);
        Ok(())
    }

    /// Puts back a learnt window read from the changelog; `false` (and nothing put back) for
    /// one holding durations the predictor never learns (a damaged entry).
    pub fn restore_window(&mut self, partition: u32, key: LearnKey, window: Window) -> bool {
        if !window.is_sane() {
            return false;
        }
        self.invalidate(&key);
        put_own(&mut self.learnt, key, partition, window);
        true
    }

    /// Puts back a latest segment run read from the changelog; `false` (and nothing put
    /// back) for a duration the predictor never learns.
    pub fn restore_latest(
        &mut self,
        partition: u32,
        segment: SegmentKey,
        run: Observation,
    ) -> bool {
        if !run.is_sane() {
            return false;
        }
        put_own(&mut self.latest, segment, partition, run);
        true
    }

    /// Forgets everything learnt from and held for `partitions` (no longer this member's).
    pub fn drop_partitions(&mut self, partitions: &FxHashSet<u32>) {
        self.estimates.get_mut().clear();
        drop_own(&mut self.learnt, partitions);
        drop_own(&mut self.latest, partitions);
        drop_own(&mut self.slowdowns, partitions);
        let gone: Vec<String> = self
            .vehicles
            .iter()
            .filter(|(_, v)| partitions.contains(&v.partition))
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            if let Some(state) = self.vehicles.remove(&id) {
                self.index_rows(&id, &state.rows, &[], state.trip, state.shift_ms);
                self.unindex_trip(&id, state.trip, state.shift_ms);
            }
        }
        self.next_due.retain(|p, _| !partitions.contains(p));
    }

    /// Applies `arrival` (at `offset` of `partition`): learns from it, predicts its vehicle
    /// again (and the vehicles behind it), puts what changed into `out`.
    pub fn observe(
        &mut self,
        partition: u32,
        offset: u64,
        arrival: &VehicleArrivalEvent,
        out: &mut Issued,
    ) -> Result<Observed, Unplaced> {
        let placed = self.timetable.place(arrival)?;
        let id = arrival.vehicle_id.as_str();
        if let Some(previous) = self.vehicles.get(id) {
            let same_trip = previous.trip == placed.trip && previous.shift_ms == placed.shift_ms;
            if same_trip && placed.position <= previous.position {
                return Ok(Observed::Stale);
            }
            if same_trip && placed.position == previous.position + 1 {
                let run_s = (arrival.arrival_time - previous.latest.departure_time) as f64 / 1e3;
                let from = previous.position;
                let departed = previous.latest.scheduled_departure_time;
                // At or before its scheduled arrival, the vehicle may have eased off: the run
                // took no longer than what it took.
                let eased =
                    self.config.eases && arrival.arrival_time <= arrival.scheduled_arrival_time;
                self.learn_run(
                    partition,
                    &placed,
                    from,
                    (run_s, eased),
                    departed,
                    arrival.arrival_time,
                );
            }
        }
        self.learn_dwell(partition, &placed, arrival);
        let previous = self.vehicles.remove(id);
        let (old_rows, old_trip, old_shift) = match &previous {
            Some(state) => (state.rows.clone(), state.trip, state.shift_ms),
            None => (Vec::new(), placed.trip, placed.shift_ms),
        };
        if previous.is_some() {
            self.unindex_trip(id, old_trip, old_shift);
        }
        let last_stop = self
            .timetable
            .trip(placed.trip)
            .is_some_and(|trip| placed.position as usize + 1 >= trip.stops.len());
        if last_stop && self.next_run_trip(placed.trip, placed.shift_ms).is_none() {
            self.index_rows(id, &old_rows, &[], old_trip, old_shift);
            withdraw(
                id,
                partition,
                &old_rows,
                self.timetable(),
                arrival.arrival_time,
                out,
            );
            self.changes.vehicles.remove(id);
            self.changes.removed.push((partition, id.to_string()));
            return Ok(Observed::LeftService);
        }
        let state = VehicleState {
            partition,
            latest: arrival.clone(),
            offset,
            trip: placed.trip,
            position: placed.position,
            shift_ms: placed.shift_ms,
            day_type: placed.day_type,
            rows: old_rows,
            refresh_at_ms: None,
        };
        self.on_trip
            .insert((placed.trip, placed.shift_ms), id.to_string());
        self.vehicles.insert(id.to_string(), state);
        self.repredict(id, arrival.arrival_time, true, offset, out);
        self.cascade(id, arrival.arrival_time, out);
        Ok(Observed::Applied)
    }

    /// Brings `partition` to `now_ms`: predicts again the vehicles whose next stops come
    /// within the horizon, and withdraws the predictions of vehicles not heard of when due.
    /// Returns how many vehicles left service.
    pub fn advance(&mut self, partition: u32, now_ms: i64, out: &mut Issued) -> u64 {
        if self
            .next_due
            .get(&partition)
            .is_none_or(|due| *due > now_ms)
        {
            return 0;
        }
        let stale_after = self.stale_after_ms();
        let overdue = self.overdue_ms();
        let mut due: Vec<(String, bool)> = self
            .vehicles
            .iter()
            .filter(|(_, v)| v.partition == partition && v.due_ms(stale_after, overdue) <= now_ms)
            .map(|(id, v)| {
                (
                    id.clone(),
                    v.stale_at_ms(stale_after, overdue.is_some()) <= now_ms,
                )
            })
            .collect();
        due.sort();
        let mut gone = 0;
        for (id, stale) in due {
            if stale {
                if let Some(state) = self.vehicles.remove(&id) {
                    self.index_rows(&id, &state.rows, &[], state.trip, state.shift_ms);
                    self.unindex_trip(&id, state.trip, state.shift_ms);
                    withdraw(&id, partition, &state.rows, self.timetable(), now_ms, out);
                    self.changes.vehicles.remove(&id);
                    self.changes.removed.push((partition, id));
                    gone += 1;
                }
            } else {
                let offset = self.vehicles.get(&id).map_or(0, |v| v.offset);
                if self.repredict(&id, now_ms, true, offset, out) {
                    // Overdue: the trains behind it wait longer too.
                    self.cascade(&id, now_ms, out);
                }
            }
        }
        let next = self
            .vehicles
            .values()
            .filter(|v| v.partition == partition)
            .map(|v| v.due_ms(stale_after, overdue))
            .min();
        match next {
            Some(next) => self.next_due.insert(partition, next),
            None => self.next_due.remove(&partition),
        };
        gone
    }

    fn stale_after_ms(&self) -> i64 {
        i64::from(self.config.stale_after_s) * 1_000
    }

    fn overdue_ms(&self) -> Option<i64> {
        self.config
            .overdue_floor_s
            .map(|floor| i64::from(floor.max(1)) * 1_000)
    }

    fn note_due(&mut self, partition: u32, due_ms: i64) {
        let entry = self.next_due.entry(partition).or_insert(due_ms);
        *entry = (*entry).min(due_ms);
    }

    fn learn_run(
        &mut self,
        partition: u32,
        placed: &Placed,
        from_position: u32,
        (run_s, eased): (f64, bool),
        scheduled_departure_ms: i64,
        at_ms: i64,
    ) {
        // A run under nothing or over two hours is a fault of the record, not a run.
        if !(0.0..=7_200.0).contains(&run_s) {
            return;
        }
        let (Some(from), Some(to)) = (
            self.timetable.stop(placed.trip, from_position).copied(),
            self.timetable.stop(placed.trip, placed.position).copied(),
        ) else {
            return;
        };
        let route = self.timetable.route_of(placed.trip);
        let key = LearnKey {
            quantity: Quantity::Run,
            route,
            from: from.stop.0,
            to: to.stop.0,
            day_type: placed.day_type,
            hour: self.timetable.hour_of(scheduled_departure_ms),
        };
        // The windows hold fair-weather runs: a run in other weather is learnt divided by its
        // slowdown, and tells the slowdown how far it was from the (fair-weather) estimate.
        let started_ms = at_ms - (run_s * 1e3).round() as i64;
        let learnt_s = match self.weather_at(started_ms) {
            Some(class) => {
                // Against the timetable, which no weather moves (the learnt estimates follow
                // the weather within a few trains, so they would say nothing of it).
                let expected_s = f64::from(to.arrival_s.saturating_sub(from.departure_s));
                if !eased && run_s > 0.0 && expected_s > 0.0 {
                    own_mut(&mut self.slowdowns, class, partition)
                        .add((run_s / expected_s).ln().clamp(-1.0, 1.0));
                    self.changes.slowdowns.insert((partition, class));
                }
                run_s / self.weather_factor(Some(class))
            }
            None => run_s,
        };
        let observation = Observation {
            at_ms,
            value_s: learnt_s as f32,
            censored: eased,
        };
        self.push(partition, key, observation);
        let observation = Observation {
            value_s: run_s as f32,
            ..observation
        };
        let segment = SegmentKey {
            route,
            from: from.stop.0,
            to: to.stop.0,
        };
        put_own(&mut self.latest, segment, partition, observation);
        self.changes.latest.insert((partition, segment));
    }

    fn learn_dwell(&mut self, partition: u32, placed: &Placed, arrival: &VehicleArrivalEvent) {
        // Held for its scheduled departure: the dwell took no longer than that.
        let held = arrival.departure_time <= arrival.scheduled_departure_time
            && arrival.arrival_time < arrival.scheduled_departure_time;
        let dwell_s = (arrival.departure_time - arrival.arrival_time) as f64 / 1e3;
        if !(0.0..=3_600.0).contains(&dwell_s) {
            return;
        }
        let (Some(here), Some(next)) = (
            self.timetable.stop(placed.trip, placed.position).copied(),
            self.timetable
                .stop(placed.trip, placed.position + 1)
                .copied(),
        ) else {
            return;
        };
        let key = LearnKey {
            quantity: Quantity::Dwell,
            route: self.timetable.route_of(placed.trip),
            from: here.stop.0,
            to: next.stop.0,
            day_type: placed.day_type,
            hour: self.timetable.hour_of(arrival.scheduled_arrival_time),
        };
        let observation = Observation {
            at_ms: arrival.arrival_time,
            value_s: dwell_s as f32,
            censored: held,
        };
        self.push(partition, key, observation);
    }

    /// Forgets the estimates that drew on `key`'s window: its own and the next hour's.
    fn invalidate(&mut self, key: &LearnKey) {
        let cache = self.estimates.get_mut();
        cache.remove(key);
        cache.remove(&LearnKey {
            hour: (key.hour + 1) % 24,
            ..*key
        });
    }

    fn push(&mut self, partition: u32, key: LearnKey, observation: Observation) {
        self.invalidate(&key);
        let limit = self.config.learn.window;
        own_mut(&mut self.learnt, key, partition).push(observation, limit);
        self.changes.learnt.insert((partition, key));
    }

    /// Predicts vehicle `id` again, issued at `issued_ms` (`own_clock`: an instant its own
    /// partition has reached, so that it is overdue wherever it is not by then); whether its
    /// learnt rows changed.
    fn repredict(
        &mut self,
        id: &str,
        issued_ms: i64,
        own_clock: bool,
        offset: u64,
        out: &mut Issued,
    ) -> bool {
        let Some(state) = self.vehicles.get(id) else {
            return false;
        };
        let mut rows = Vec::new();
        let mut refresh: Option<i64> = None;
        for method in Method::ALL {
            let at = self.chain(id, state, method, (issued_ms, own_clock), offset, &mut rows);
            if let Some(at) = at {
                refresh = Some(refresh.map_or(at, |r: i64| r.min(at)));
            }
        }
        let old = state.rows.clone();
        let (partition, trip, shift) = (state.partition, state.trip, state.shift_ms);
        let mut learnt_changed = false;
        let mut kept = Vec::with_capacity(rows.len());
        // Each new row's previous one is found by (method, stop), in a sorted index rather
        // than by scanning: a vehicle holds some 80 rows, and a cascade predicts several.
        let mut by_key: Vec<usize> = (0..old.len()).collect();
        by_key.sort_unstable_by_key(|&at| (old[at].method, old[at].stop));
        let mut matched = vec![false; old.len()];
        for row in rows {
            let previous = by_key
                .binary_search_by_key(&(row.method, row.stop), |&at| {
                    (old[at].method, old[at].stop)
                })
                .ok()
                .map(|found| by_key[found]);
            if let Some(at) = previous {
                matched[at] = true;
            }
            match previous.map(|at| &old[at]) {
                Some(previous)
                    if previous.same_as(
                        &row,
                        self.config
                            .issue_resolution_at(row.arrival_ms - row.issued_ms),
                    ) =>
                {
                    kept.push(*previous)
                }
                _ => {
                    learnt_changed |= row.method == Method::Learnt;
                    out.changes.push(Issue::Upsert(self.event(id, state, &row)));
                    kept.push(row);
                }
            }
        }
        let removed: Vec<Row> = old
            .iter()
            .zip(&matched)
            .filter(|(_, matched)| !**matched)
            .map(|(row, _)| *row)
            .collect();
        learnt_changed |= removed.iter().any(|r| r.method == Method::Learnt);
        withdraw(id, partition, &removed, self.timetable(), issued_ms, out);
        self.index_rows(id, &old, &kept, trip, shift);
        let (stale_after, overdue) = (self.stale_after_ms(), self.overdue_ms());
        let due = if let Some(state) = self.vehicles.get_mut(id) {
            state.rows = kept;
            state.refresh_at_ms = refresh;
            Some(state.due_ms(stale_after, overdue))
        } else {
            None
        };
        if let Some(due) = due {
            self.note_due(partition, due);
        }
        self.changes.vehicles.insert(id.to_string());
        learnt_changed
    }

    /// Predicts the vehicles behind `id`, one after another, while their learnt predictions
    /// change (a late train holds back the one behind it, which holds back the next).
    fn cascade(&mut self, id: &str, issued_ms: i64, out: &mut Issued) {
        let mut current = id.to_string();
        let partition = self.vehicles.get(id).map(|v| v.partition);
        for _ in 0..self.config.max_cascade {
            let Some(state) = self.vehicles.get(&current) else {
                return;
            };
            if !self.timetable.is_rail(state.trip) {
                return;
            }
            let Some((trip, _)) = self.timetable.trip_behind(state.trip, state.position) else {
                return;
            };
            let Some(behind) = self.on_trip.get(&(trip, state.shift_ms)).cloned() else {
                return;
            };
            if behind == current || behind == id {
                return;
            }
            let (offset, own_clock) = self
                .vehicles
                .get(&behind)
                .map_or((0, false), |v| (v.offset, Some(v.partition) == partition));
            // Another partition's vehicle may not have been read up to this instant yet: it
            // is not taken for overdue by it.
            if !self.repredict(&behind, issued_ms, own_clock, offset, out) {
                return;
            }
            current = behind;
        }
    }

    /// Appends `state`'s predictions by `method` to `rows`, up to the horizon; returns when
    /// the first stop beyond it comes within it.
    fn chain(
        &self,
        id: &str,
        state: &VehicleState,
        method: Method,
        (issued_ms, own_clock): (i64, bool),
        offset: u64,
        rows: &mut Vec<Row>,
    ) -> Option<i64> {
        let tt = &*self.timetable;
        let horizon_ms = i64::from(self.config.horizon_s) * 1_000;
        let shift = state.shift_ms;
        let delay_ms = state.latest.arrival_time - state.latest.scheduled_arrival_time;
        let (mut trip, mut position) = (state.trip, state.position);
        let mut departure_ms = state.latest.departure_time;
        let mut variance = 0.0;
        let first = rows.len();
        // Runs ahead go as the weather of the instant predicted at says.
        let weather = self.weather_factor(self.weather_at(issued_ms));
        // A vehicle's chain is bounded by the horizon; the bound on steps guards a timetable
        // whose times do not advance.
        for _ in 0..10_000 {
            let (next_trip, next_position, between) =
                match tt.trip(trip).map(|t| t.stops.len() as u32) {
                    Some(len) if position + 1 < len => (trip, position + 1, false),
                    Some(_) => (
                        self.predicted_next_trip(method, trip, shift, departure_ms)?,
                        0,
                        true,
                    ),
                    None => return None,
                };
            let stop = *tt.stop(next_trip, next_position)?;
            let scheduled_arrival = tt.ms(stop.arrival_s, shift);
            let scheduled_departure = tt.ms(stop.departure_s, shift);
            let mut arrival = match method {
                Method::Timetable => scheduled_arrival,
                Method::Delay => scheduled_arrival + delay_ms,
                Method::Learnt | Method::LatestSegment if between => {
                    departure_ms.max(scheduled_arrival)
                }
                Method::Learnt | Method::LatestSegment => {
                    let before = tt.stop(next_trip, next_position - 1)?;
                    let prior_s = f64::from(stop.arrival_s.saturating_sub(before.departure_s));
                    let segment = SegmentKey {
                        route: tt.route_of(next_trip),
                        from: before.stop.0,
                        to: stop.stop.0,
                    };
                    let run_s = if method == Method::Learnt {
                        let key = LearnKey {
                            quantity: Quantity::Run,
                            route: segment.route,
                            from: segment.from,
                            to: segment.to,
                            day_type: state.day_type,
                            hour: tt.hour_of(tt.ms(before.departure_s, shift)),
                        };
                        let estimate = self.estimate(&key, prior_s);
                        let sigma_s = estimate.sigma_s * weather;
                        variance += sigma_s * sigma_s;
                        estimate.median_s * weather
                    } else {
                        self.latest
                            .get(&segment)
                            .and_then(|list| list.iter().max_by_key(|(_, o)| o.at_ms))
                            .map_or(prior_s, |(_, o)| f64::from(o.value_s))
                    };
                    let reached = departure_ms + (run_s * 1e3).round() as i64;
                    if method == Method::Learnt && self.config.eases {
                        // Ahead of time, a vehicle runs easy to its scheduled arrival.
                        reached.max(scheduled_arrival)
                    } else {
                        reached
                    }
                }
            };
            if let (Method::Learnt, Some(floor), false) =
                (method, self.config.overdue_floor_s, between)
            {
                // Not there yet when predicted: it comes no sooner than a moment from now.
                if own_clock && rows.len() == first {
                    arrival = arrival.max(issued_ms + i64::from(floor) * 1_000);
                }
            }
            if method == Method::Learnt && tt.is_rail(next_trip) {
                if let Some(ahead) = self.ahead_arrival(id, next_trip, next_position, shift) {
                    let earliest = ahead + i64::from(self.config.min_separation_s) * 1_000;
                    arrival = arrival.max(earliest);
                }
            }
            if arrival - issued_ms > horizon_ms {
                return Some(arrival - horizon_ms);
            }
            let last = tt
                .trip(next_trip)
                .is_some_and(|t| next_position as usize + 1 >= t.stops.len());
            let scheduled_dwell_s =
                f64::from(stop.departure_s - stop.arrival_s.min(stop.departure_s));
            let mut departure = match method {
                Method::Timetable => scheduled_departure,
                Method::Delay => scheduled_departure + delay_ms,
                Method::Learnt if !last => {
                    let next = tt.stop(next_trip, next_position + 1)?;
                    let key = LearnKey {
                        quantity: Quantity::Dwell,
                        route: tt.route_of(next_trip),
                        from: stop.stop.0,
                        to: next.stop.0,
                        day_type: state.day_type,
                        hour: tt.hour_of(scheduled_arrival),
                    };
                    let estimate = self.estimate(&key, scheduled_dwell_s);
                    variance += estimate.sigma_s * estimate.sigma_s;
                    arrival + (estimate.median_s * 1e3).round() as i64
                }
                Method::Learnt => arrival,
                Method::LatestSegment => arrival + (scheduled_dwell_s * 1e3) as i64,
            };
            if self.config.holds && matches!(method, Method::Learnt | Method::LatestSegment) {
                departure = departure.max(scheduled_departure);
            }
            if let (Method::Learnt, Some(share), false) = (method, self.config.spacing_share, last)
            {
                if let Some(earliest) =
                    self.spaced_departure(id, next_trip, next_position, shift, share)
                {
                    departure = departure.max(earliest);
                }
            }
            // The first visit of a stop is the one predicted (a loop passes some stops twice).
            let visited = rows[first..].iter().any(|r| r.stop == stop.stop.0);
            if !visited {
                rows.push(Row {
                    method,
                    stop: stop.stop.0,
                    trip: next_trip,
                    position: next_position,
                    arrival_ms: arrival,
                    departure_ms: departure,
                    scheduled_ms: scheduled_arrival,
                    uncertainty_s: (method == Method::Learnt)
                        .then(|| variance.sqrt().round() as i32),
                    issued_ms,
                    offset,
                });
            }
            trip = next_trip;
            position = next_position;
            departure_ms = departure;
        }
        None
    }

    /// The learnt predicted arrival of the vehicle ahead of trip `trip` at its stop
    /// `position`, if this member predicts it.
    fn ahead_arrival(&self, id: &str, trip: u32, position: u32, shift: i64) -> Option<i64> {
        let (ahead_trip, ahead_position) = self.timetable.trip_ahead(trip, position)?;
        let vehicle = self.on_trip.get(&(ahead_trip, shift))?;
        if vehicle == id {
            return None;
        }
        let ahead = self.vehicles.get(vehicle)?;
        if self.passed(id, ahead, shift) {
            return None;
        }
        ahead.rows.iter().find_map(|row| {
            (row.method == Method::Learnt
                && row.trip == ahead_trip
                && row.position == ahead_position)
                .then_some(row.arrival_ms)
        })
    }

    /// The earliest departure of trip `trip` from its stop `position` that the dispatchers'
    /// spacing allows (rail): `share` of the scheduled headway after the train ahead of it
    /// leaves (as predicted, or as it announced when it stands there), if this member knows it.
    fn spaced_departure(
        &self,
        id: &str,
        trip: u32,
        position: u32,
        shift: i64,
        share: f64,
    ) -> Option<i64> {
        if !self.timetable.is_rail(trip) {
            return None;
        }
        let headway_s = self.timetable.headway_s(trip, position)?;
        let (ahead_trip, ahead_position) = self.timetable.trip_ahead(trip, position)?;
        let vehicle = self.on_trip.get(&(ahead_trip, shift))?;
        if vehicle == id {
            return None;
        }
        let ahead = self.vehicles.get(vehicle)?;
        if self.passed(id, ahead, shift) {
            return None;
        }
        let left = if ahead.trip == ahead_trip && ahead.position == ahead_position {
            Some(ahead.latest.departure_time)
        } else {
            ahead.rows.iter().find_map(|row| {
                (row.method == Method::Learnt
                    && row.trip == ahead_trip
                    && row.position == ahead_position)
                    .then_some(row.departure_ms)
            })
        }?;
        Some(left + (share * headway_s * 1e3).round() as i64)
    }

    /// Whether vehicle `id` has been at a stop that `ahead`, the vehicle predicted to run the
    /// trip ahead of it, has not reached yet: a train cannot pass the one ahead, so that one
    /// is no longer ahead of it (taken out of service between stops, or on another track),
    /// and it does not hold `id` back.
    fn passed(&self, id: &str, ahead: &VehicleState, shift: i64) -> bool {
        let Some(own) = self.vehicles.get(id) else {
            return false;
        };
        if own.shift_ms != shift || ahead.shift_ms != shift {
            return false;
        }
        let Some((ahead_trip, ahead_position)) = self.timetable.trip_ahead(own.trip, own.position)
        else {
            return false;
        };
        ahead.trip == ahead_trip && ahead.position < ahead_position
    }

    fn aim_ms(&self, horizon_ms: i64) -> i64 {
        if self.config.aim_at_window {
            aim_ms(horizon_ms)
        } else {
            0
        }
    }

    /// Keeps [`Predictor::on_trip`] right for the trips of a vehicle's rows.
    fn index_rows(&mut self, id: &str, old: &[Row], new: &[Row], trip: u32, shift: i64) {
        for row in old {
            if row.trip != trip && !new.iter().any(|n| n.trip == row.trip) {
                let key = (row.trip, shift);
                if self.on_trip.get(&key).is_some_and(|v| v == id) {
                    self.on_trip.remove(&key);
                }
            }
        }
        for row in new {
            self.on_trip
                .entry((row.trip, shift))
                .or_insert_with(|| id.to_string());
        }
        self.on_trip.insert((trip, shift), id.to_string());
    }

    fn unindex_trip(&mut self, id: &str, trip: u32, shift: i64) {
        if self.on_trip.get(&(trip, shift)).is_some_and(|v| v == id) {
            self.on_trip.remove(&(trip, shift));
        }
    }

    /// `row` of vehicle `id` as the record the table holds.
    fn event(&self, id: &str, state: &VehicleState, row: &Row) -> PredictionEvent {
        let tt = &*self.timetable;
        let trip = tt.trip(row.trip);
        let arrival_ms = if row.method == Method::Learnt {
            row.arrival_ms - self.aim_ms(row.arrival_ms - row.issued_ms)
        } else {
            row.arrival_ms
        };
        PredictionEvent {
            vehicle_id: id.to_string(),
            stop_id: tt
                .day()
                .stops
                .get(row.stop as usize)
                .map_or_else(String::new, |s| s.id.clone()),
            method: row.method.as_str().to_string(),
            route_id: trip.map_or_else(String::new, |t| t.route.as_str().to_string()),
            trip_id: trip.map_or_else(String::new, |t| t.trip_id.clone()),
            start_date: state.latest.start_date.clone(),
            start_time: trip.and_then(|t| t.frequency_start_s).map(gtfs_time),
            direction_id: trip.and_then(|t| t.direction_id).map(i32::from),
            stop_sequence: row.position,
            predicted_arrival_time: arrival_ms,
            predicted_departure_time: row.departure_ms,
            scheduled_arrival_time: row.scheduled_ms,
            uncertainty_s: row.uncertainty_s,
            issued_at: row.issued_ms,
            source_partition: state.partition,
            source_offset: row.offset,
        }
    }
}

/// What each partition learnt of one key: a member holds several partitions' state side by
/// side, each restored and dropped with its partition.
type PerPartition<K, T> = FxHashMap<K, Vec<(u32, T)>>;

/// `partition`'s entry of `key`, made empty when it has none.
fn own_mut<K: std::hash::Hash + Eq, T: Default>(
    map: &mut PerPartition<K, T>,
    key: K,
    partition: u32,
) -> &mut T {
    let list = map.entry(key).or_default();
    let at = match list.iter().position(|(p, _)| *p == partition) {
        Some(at) => at,
        None => {
            list.push((partition, T::default()));
            list.len() - 1
        }
    };
    &mut list[at].1
}

/// Puts `value` as `partition`'s entry of `key`, in place of what it held.
fn put_own<K: std::hash::Hash + Eq, T>(
    map: &mut PerPartition<K, T>,
    key: K,
    partition: u32,
    value: T,
) {
    let list = map.entry(key).or_default();
    match list.iter_mut().find(|(p, _)| *p == partition) {
        Some((_, own)) => *own = value,
        None => list.push((partition, value)),
    }
}

/// Forgets `partitions`' entries, and the keys left with none.
fn drop_own<K, T>(map: &mut PerPartition<K, T>, partitions: &FxHashSet<u32>) {
    map.retain(|_, list| {
        list.retain(|(p, _)| !partitions.contains(p));
        !list.is_empty()
    });
}

/// Puts the withdrawal of `rows` of vehicle `id` into `out`.
fn withdraw(id: &str, partition: u32, rows: &[Row], tt: &Timetable, at_ms: i64, out: &mut Issued) {
    for row in rows {
        out.changes.push(Issue::Withdraw {
            partition,
            key: PredictionKey {
                vehicle_id: id.to_string(),
                stop_id: tt
                    .day()
                    .stops
                    .get(row.stop as usize)
                    .map_or_else(String::new, |s| s.id.clone()),
                method: row.method.as_str().to_string(),
            },
            at_ms,
        });
    }
}

/// How much earlier than its estimate a learnt arrival `horizon_ms` ahead (as estimated) is
/// announced where [`PredictConfig::aim_at_window`]: the middle of the window of the
/// horizon's bucket (a prediction is right from `early_s` before to `late_s` after the arrival
/// it names, and riders mind a train that comes sooner than said more than one that comes
/// later), so that an error either way has the same room. Milliseconds.
pub fn aim_ms(horizon_ms: i64) -> i64 {
    crate::score::bucket_of(horizon_ms)
        .and_then(|bucket| crate::score::BUCKETS.get(bucket))
        .map_or(0, |b| (b.late_s - b.early_s) * 1_000 / 2)
}

/// Seconds from the service day's start as GTFS writes them, `HH:MM:SS`.
pub fn gtfs_time(seconds: u32) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use transit_core::model::{LineId, Rgb, Route};
    use transit_core::network::service_day::{
        ScheduledStop, ScheduledTrip, ServiceDay, StopIndex, StopPlace, TripIndex, Vehicle,
        VehicleIndex,
    };

    use super::*;

    const START: i64 = 1_736_744_400;
    const STOPS: u32 = 6;
    /// Scheduled: 120 s between stops, 30 s at each.
    const RUN: u32 = 120;
    const DWELL: u32 = 30;

    fn first(trip: u32) -> u32 {
        6 * 3_600 + trip * 300
    }

    /// Trips every 5 minutes over six stops, each run by its own vehicle, or two trips a
    /// vehicle (`blocks`).
    fn day(trips: u32, route_type: u16, blocks: bool) -> ServiceDay {
        day_in_blocks(trips, route_type, if blocks { 2 } else { 1 })
    }

    /// As [`day`], `block` trips in a row a vehicle.
    fn day_in_blocks(trips: u32, route_type: u16, block: u32) -> ServiceDay {
        let route = LineId::from_static("L");
        let date = NaiveDate::from_ymd_opt(2025, 1, 13).unwrap_or_default();
        let scheduled = (0..trips)
            .map(|i| ScheduledTrip {
                trip_id: format!("t{i}"),
                route,
                direction_id: Some(0),
                frequency_start_s: None,
                exact_times: false,
                shape_id: None,
                vehicle: VehicleIndex(i / block),
                stops: (0..STOPS)
                    .map(|k| ScheduledStop {
                        stop: StopIndex(k),
                        arrival_s: first(i) + k * (RUN + DWELL),
                        departure_s: first(i) + k * (RUN + DWELL) + DWELL,
                        stop_sequence: k,
                    })
                    .collect(),
            })
            .collect();
        let vehicles = (0..trips.div_ceil(block))
            .map(|v| Vehicle {
                id: format!("v{v}"),
                trips: (block * v..(block * v + block).min(trips))
                    .map(TripIndex)
                    .collect(),
            })
            .collect();
        ServiceDay {
            timezone: "America/New_York".into(),
            requested: date,
            date,
            start_unix_s: START,
            routes: vec![Route {
                id: route,
                short_name: "L".into(),
                long_name: String::new(),
                route_type,
                color: Rgb::WHITE,
                text_color: Rgb::BLACK,
            }],
            stops: (0..STOPS)
                .map(|k| StopPlace {
                    id: format!("s{k}"),
                    name: format!("s{k}"),
                    location: None,
                    parent: None,
                })
                .collect(),
            trips: scheduled,
            vehicles,
        }
    }

    fn ms(seconds: u32) -> i64 {
        (START + i64::from(seconds)) * 1_000
    }

    /// Trip `trip` (vehicle `vehicle`) at stop `k`, arriving `late_s` after its schedule and
    /// leaving `departure_late_s` after its scheduled departure.
    fn arrival(
        trip: u32,
        vehicle: u32,
        k: u32,
        late_s: i64,
        departure_late_s: i64,
    ) -> VehicleArrivalEvent {
        let arrival = first(trip) + k * (RUN + DWELL);
        VehicleArrivalEvent {
            route_id: "L".into(),
            trip_id: format!("t{trip}"),
            start_date: "20250113".into(),
            start_time: None,
            direction_id: Some(0),
            stop_id: format!("s{k}"),
            stop_sequence: k,
            vehicle_id: format!("v{vehicle}"),
            arrival_time: ms(arrival) + late_s * 1_000,
            departure_time: ms(arrival + DWELL) + departure_late_s * 1_000,
            scheduled_arrival_time: ms(arrival),
            scheduled_departure_time: ms(arrival + DWELL),
            boarded: 0,
            alighted: 0,
        }
    }

    fn predictor(day: ServiceDay) -> Predictor {
        Predictor::new(
            Arc::new(Timetable::new(Arc::new(day))),
            PredictConfig::default(),
        )
    }

    /// The dispatchers' spacing behind the train ahead at stop `position` of trip `trip`, ms.
    fn spaced_ms(p: &Predictor, trip: u32, position: u32) -> i64 {
        let share = p.config().spacing_share.unwrap_or(0.0);
        let headway = p.timetable().headway_s(trip, position).unwrap_or(0.0);
        (share * headway * 1e3).round() as i64
    }

    /// A predictor for vehicles that ease off rather than come early.
    fn predictor_easing(day: ServiceDay) -> Predictor {
        Predictor::new(
            Arc::new(Timetable::new(Arc::new(day))),
            PredictConfig {
                eases: true,
                ..PredictConfig::default()
            },
        )
    }

    fn row(p: &Predictor, vehicle: u32, method: Method, stop: u32) -> Option<Row> {
        p.vehicle(&format!("v{vehicle}"))?
            .rows
            .iter()
            .find(|r| r.method == method && r.stop == stop)
            .copied()
    }

    /// Vehicles 0..n run the whole trip with every run `extra_s` longer than scheduled
    /// (arriving later and later, leaving as soon as their dwell is done).
    fn teach(p: &mut Predictor, trips: u32, extra_s: i64) -> Result<(), Unplaced> {
        let mut out = Issued::default();
        let mut offset = 0;
        for trip in 0..trips {
            for k in 0..STOPS {
                let late = extra_s * i64::from(k);
                p.observe(0, offset, &arrival(trip, trip, k, late, late), &mut out)?;
                offset += 1;
            }
        }
        Ok(())
    }

    #[test]
    fn runs_are_learnt_and_predicted_by_the_weather_they_run_in() -> Result<(), Unplaced> {
        let reading = |status, temperature| WeatherEvent {
            temperature,
            status,
        };
        let mut p = predictor(day(40, 1, false));
        let mut out = Issued::default();
        let mut offset = 0;
        // Fair weather from the start: trips 0..12 on time; rain from trip 12 on, whose
        // runs take a quarter longer (the first 50 runs of a class are learnt as they came).
        p.read_weather(0, &reading(WeatherStatus::Sunny, 60.0));
        p.read_weather(
            ms(first(12)) - 1,
            &reading(WeatherStatus::Precipitation, 40.0),
        );
        let wet = WeatherClass { wet: true, cold: 0 };
        assert_eq!(p.weather_at(ms(first(13))), Some(wet));
        for trip in 0..36 {
            let extra = if trip < 12 { 0 } else { i64::from(RUN) / 4 };
            for k in 0..STOPS {
                let late = extra * i64::from(k);
                p.observe(0, offset, &arrival(trip, trip, k, late, late), &mut out)?;
                offset += 1;
            }
        }
        let factor = p.weather_factor(Some(wet));
        assert!((factor - 1.25).abs() < 0.01, "{factor}");
        assert_eq!(p.weather_factor(Some(WeatherClass::FAIR)), 1.0);
        assert_eq!(p.weather_factor(None), 1.0);
        // The windows hold fair-weather runs: in the rain, the next train's run is predicted
        // a quarter over the timetable's.
        p.observe(0, offset, &arrival(36, 36, 0, 0, 0), &mut out)?;
        let run_ms = |p: &Predictor| {
            let left = p.vehicle("v36").map_or(0, |v| v.latest.departure_time);
            row(p, 36, Method::Learnt, 1).map_or(0, |r| r.arrival_ms - left)
        };
        let wet_run = run_ms(&p);
        assert!(
            (wet_run - i64::from(RUN) * 1_250).abs() < 3_000,
            "{wet_run} ms"
        );
        // Dry again from then on: the same run as the timetable's.
        p.read_weather(ms(first(36)) - 1, &reading(WeatherStatus::Sunny, 60.0));
        p.observe(0, offset + 1, &arrival(36, 36, 1, 0, 0), &mut out)?;
        let left = p.vehicle("v36").map_or(0, |v| v.latest.departure_time);
        let dry_run = row(&p, 36, Method::Learnt, 2).map_or(0, |r| r.arrival_ms - left);
        assert!(
            (dry_run - i64::from(RUN) * 1_000).abs() < 3_000,
            "{dry_run} ms"
        );
        Ok(())
    }

    #[test]
    fn a_delay_grows_where_segments_run_slower_than_the_timetable() -> Result<(), Unplaced> {
        let mut p = predictor(day(12, 3, false));
        teach(&mut p, 8, 40)?;
        // Vehicle 8 leaves s0 a minute late.
        let mut out = Issued::default();
        p.observe(0, 100, &arrival(8, 8, 0, 60, 60), &mut out)?;
        let departed = ms(first(8) + DWELL) + 60_000;
        // Each run learnt at 160 s, each dwell at 30 s: s3 is 3 runs and 2 dwells on.
        let learnt = row(&p, 8, Method::Learnt, 3).map(|r| r.arrival_ms);
        assert_eq!(learnt, Some(departed + 3 * 160_000 + 2 * 30_000));
        // Carried unchanged, the delay stays a minute; the timetable knows none.
        let scheduled = ms(first(8) + 3 * (RUN + DWELL));
        assert_eq!(
            row(&p, 8, Method::Delay, 3).map(|r| r.arrival_ms),
            Some(scheduled + 60_000)
        );
        assert_eq!(
            row(&p, 8, Method::Timetable, 3).map(|r| r.arrival_ms),
            Some(scheduled)
        );
        // The latest run of each segment was 160 s too, with the scheduled dwell.
        assert_eq!(
            row(&p, 8, Method::LatestSegment, 3).map(|r| r.arrival_ms),
            learnt
        );
        // What was seen was steady: the uncertainty is small but grows with the distance.
        let near = row(&p, 8, Method::Learnt, 1).and_then(|r| r.uncertainty_s);
        let far = row(&p, 8, Method::Learnt, 5).and_then(|r| r.uncertainty_s);
        assert!(near <= far, "{near:?} {far:?}");
        Ok(())
    }

    #[test]
    fn a_delay_recovers_where_the_timetable_is_generous_and_holds_keep_early_vehicles(
    ) -> Result<(), Unplaced> {
        let mut p = predictor(day(12, 3, false));
        // Runs take 60 s less than scheduled; vehicles wait for their scheduled departures.
        let mut out = Issued::default();
        let mut offset = 0;
        for trip in 0..8 {
            for k in 0..STOPS {
                p.observe(0, offset, &arrival(trip, trip, k, -60, 0), &mut out)?;
                offset += 1;
            }
        }
        // Vehicle 8 leaves s0 90 s late: it makes up 60 s a segment, then holds.
        p.observe(0, 100, &arrival(8, 8, 0, 90, 90), &mut out)?;
        let departed = ms(first(8) + DWELL) + 90_000;
        let at_s1 = row(&p, 8, Method::Learnt, 1);
        assert_eq!(at_s1.map(|r| r.arrival_ms), Some(departed + 60_000));
        // Dwells were never seen unheld, so the scheduled 30 s; 30 s late leaving s1 ...
        assert_eq!(
            at_s1.map(|r| r.departure_ms),
            Some(ms(first(8) + RUN + 2 * DWELL) + 30_000)
        );
        // ... and on time from s2 on: early at s2, held for its scheduled departure.
        let at_s2 = row(&p, 8, Method::Learnt, 2);
        assert!(at_s2.is_some_and(|r| r.arrival_ms < ms(first(8) + 2 * (RUN + DWELL))));
        assert_eq!(
            at_s2.map(|r| r.departure_ms),
            Some(ms(first(8) + 2 * (RUN + DWELL) + DWELL))
        );
        Ok(())
    }

    #[test]
    fn a_late_vehicle_makes_up_time_but_never_comes_before_its_schedule_where_vehicles_ease(
    ) -> Result<(), Unplaced> {
        let mut p = predictor_easing(day(12, 3, false));
        // Runs take 60 s less than scheduled. Vehicles leave s0 90 s late, make up 60 s to s1
        // and the last 30 s to s2, where they come on time (easing off the last 30 s), and run
        // easy from there on.
        let lateness = [90, 30, 0, 0, 0, 0];
        let mut out = Issued::default();
        let mut offset = 0;
        for trip in 0..8 {
            for k in 0..STOPS {
                let late = lateness[k as usize];
                p.observe(0, offset, &arrival(trip, trip, k, late, late), &mut out)?;
                offset += 1;
            }
        }
        // Vehicle 8 leaves s0 a minute late: s0 to s1 was run flat out by late vehicles, in
        // 60 s, so it is on time at s1 ...
        p.observe(0, 100, &arrival(8, 8, 0, 60, 60), &mut out)?;
        let departed = ms(first(8) + DWELL) + 60_000;
        let at_s1 = row(&p, 8, Method::Learnt, 1);
        assert_eq!(at_s1.map(|r| r.arrival_ms), Some(departed + 60_000));
        assert_eq!(
            at_s1.map(|r| r.arrival_ms),
            Some(ms(first(8) + RUN + DWELL))
        );
        // ... and s1 to s2 takes it no longer than 90 s, but it eases off: on time at s2.
        let scheduled_s2 = ms(first(8) + 2 * (RUN + DWELL));
        let at_s2 = row(&p, 8, Method::Learnt, 2);
        assert_eq!(at_s2.map(|r| r.arrival_ms), Some(scheduled_s2));
        // Vehicles that do not ease would come 30 s early.
        let mut early = predictor(day(12, 3, false));
        let mut offset = 0;
        for trip in 0..8 {
            for k in 0..STOPS {
                let late = lateness[k as usize];
                early.observe(0, offset, &arrival(trip, trip, k, late, late), &mut out)?;
                offset += 1;
            }
        }
        early.observe(0, 100, &arrival(8, 8, 0, 60, 60), &mut out)?;
        let early_s2 = row(&early, 8, Method::Learnt, 2).map(|r| r.arrival_ms);
        assert_eq!(early_s2, Some(scheduled_s2 - 30_000));
        Ok(())
    }

    #[test]
    fn a_train_close_behind_a_late_one_waits() -> Result<(), Unplaced> {
        for (route_type, rail) in [(1, true), (3, false)] {
            let mut p = predictor(day(12, route_type, false));
            teach(&mut p, 6, 0)?;
            let mut out = Issued::default();
            // Train 6 stands at s2 six minutes late; train 7, five minutes behind it on the
            // timetable, leaves s1 on time.
            p.observe(0, 100, &arrival(6, 6, 1, 0, 0), &mut out)?;
            p.observe(0, 101, &arrival(6, 6, 2, 0, 360), &mut out)?;
            p.observe(0, 102, &arrival(7, 7, 1, 0, 0), &mut out)?;
            let ahead = row(&p, 6, Method::Learnt, 3).map(|r| r.arrival_ms);
            let behind = row(&p, 7, Method::Learnt, 3).map(|r| r.arrival_ms);
            let (Some(ahead), Some(behind)) = (ahead, behind) else {
                panic!("both trains are predicted at s3");
            };
            if rail {
                // Dispatchers space the trains three quarters of the scheduled headway apart
                // (eleven trains leave s3 in its hour).
                let spacing = spaced_ms(&p, 7, 3);
                assert_eq!(spacing, 245_455);
                let left = |v| row(&p, v, Method::Learnt, 3).map(|r| r.departure_ms);
                assert_eq!(left(7), left(6).map(|d| d + spacing), "rail: spaced");
                assert!(behind >= ahead + spacing, "rail: behind the late train");
            } else {
                assert!(behind < ahead, "a bus passes");
            }
        }
        Ok(())
    }

    #[test]
    fn the_train_behind_is_predicted_again_when_the_one_ahead_gets_later() -> Result<(), Unplaced> {
        let mut p = predictor(day(12, 1, false));
        teach(&mut p, 6, 0)?;
        let mut out = Issued::default();
        p.observe(0, 100, &arrival(6, 6, 1, 0, 0), &mut out)?;
        p.observe(0, 101, &arrival(7, 7, 0, 0, 0), &mut out)?;
        // Train 6 reaches s2 and is held there eight minutes.
        let mut out = Issued::default();
        p.observe(0, 102, &arrival(6, 6, 2, 0, 480), &mut out)?;
        let followers: Vec<&PredictionEvent> = out
            .changes
            .iter()
            .filter_map(|c| match c {
                Issue::Upsert(e) if e.vehicle_id == "v7" && e.method == "learnt" => Some(e),
                _ => None,
            })
            .collect();
        assert!(!followers.is_empty(), "train 7 is predicted again");
        let spacing = spaced_ms(&p, 7, 3);
        let left = |v| row(&p, v, Method::Learnt, 3).map(|r| r.departure_ms);
        assert_eq!(left(7), left(6).map(|d| d + spacing), "spaced");
        let ahead = row(&p, 6, Method::Learnt, 4).map(|r| r.arrival_ms);
        let behind = row(&p, 7, Method::Learnt, 4).map(|r| r.arrival_ms);
        assert!(behind >= ahead.map(|a| a + spacing), "{behind:?} {ahead:?}");
        // Issued at the arrival that made it so.
        assert!(followers
            .iter()
            .all(|e| e.issued_at == ms(first(6) + 2 * (RUN + DWELL))));
        Ok(())
    }

    #[test]
    fn a_vehicle_at_the_end_of_its_last_trip_leaves_service() -> Result<(), Unplaced> {
        let mut p = predictor(day(4, 1, true));
        let mut out = Issued::default();
        // Vehicle 0 runs t0 then t1: at t0's end it is predicted on t1.
        for k in 0..STOPS {
            p.observe(0, u64::from(k), &arrival(0, 0, k, 0, 0), &mut out)?;
        }
        assert!(row(&p, 0, Method::Learnt, 1).is_some_and(|r| r.trip == 1));
        for k in 0..STOPS {
            let mut out = Issued::default();
            let observed = p.observe(0, u64::from(10 + k), &arrival(1, 0, k, 0, 0), &mut out)?;
            if k + 1 == STOPS {
                assert_eq!(observed, Observed::LeftService);
                assert!(p.vehicle("v0").is_none());
                // Nothing ahead was left predicted: the last stop's rows were withdrawn.
                assert!(out
                    .changes
                    .iter()
                    .all(|c| matches!(c, Issue::Withdraw { .. })));
                assert_eq!(out.changes.len(), Method::ALL.len());
            }
        }
        Ok(())
    }

    /// Trip `trip` of [`day`] with blocks cancelled at `announced_s`.
    fn cancellation(trip: u32, announced_s: u32) -> TripCancellation {
        TripCancellation {
            route_id: "L".into(),
            trip_id: format!("t{trip}"),
            start_date: "20250113".into(),
            start_time: None,
            direction_id: Some(0),
            vehicle_id: format!("v{}", trip / 2),
            scheduled_start_time: ms(first(trip) + DWELL),
            scheduled_end_time: ms(first(trip) + (STOPS - 1) * (RUN + DWELL)),
            announced_time: ms(announced_s),
        }
    }

    #[test]
    fn a_cancelled_trip_is_withdrawn_and_its_vehicle_goes_on_to_the_trip_after(
    ) -> Result<(), Unplaced> {
        let mut p = predictor(day(4, 1, true));
        let mut out = Issued::default();
        for k in 0..3 {
            p.observe(0, u64::from(k), &arrival(0, 0, k, 0, 0), &mut out)?;
        }
        let on_t1 = |p: &Predictor| {
            p.vehicle("v0")
                .map_or(0, |v| v.rows.iter().filter(|r| r.trip == 1).count())
        };
        let predicted = on_t1(&p);
        assert!(
            predicted > 0,
            "v0 is predicted on t1 before it is cancelled"
        );

        let mut out = Issued::default();
        assert!(p.cancel(&cancellation(1, first(0) + 400), &mut out)?);
        assert_eq!(on_t1(&p), 0);
        let withdrawn = out
            .changes
            .iter()
            .filter(|c| matches!(c, Issue::Withdraw { .. }))
            .count();
        assert_eq!(withdrawn, predicted);
        assert!(!out
            .changes
            .iter()
            .any(|c| matches!(c, Issue::Upsert(e) if e.trip_id == "t1")));
        // Said again (a member reading the topic from its start): nothing changes.
        assert!(!p.cancel(&cancellation(1, first(0) + 400), &mut Issued::default())?);

        // Its only trip after t0 cancelled, v0 leaves service at t0's end.
        for k in 3..STOPS {
            let observed = p.observe(
                0,
                u64::from(k),
                &arrival(0, 0, k, 0, 0),
                &mut Issued::default(),
            )?;
            assert_eq!(observed == Observed::LeftService, k + 1 == STOPS);
        }
        assert!(p.vehicle("v0").is_none());
        // A trip the timetable does not have is refused.
        let mut unknown = cancellation(1, first(0));
        unknown.trip_id = "t99".into();
        assert!(p.cancel(&unknown, &mut Issued::default()).is_err());
        Ok(())
    }

    #[test]
    fn a_vehicle_too_late_for_its_next_trip_is_predicted_on_the_trip_after_as_dispatchers_turn_it(
    ) -> Result<(), Unplaced> {
        // v0 runs t0, t1 and t2, each due 5 minutes after the one before, while a trip takes
        // 12.5 minutes: on time at t0's end it leaves for t1 450 s late, under the 600 s turn
        // (and for t2 900 s late, over it: with no trip after t2, it leaves service at t1's end).
        let trips_of = |p: &Predictor, method: Method| -> Vec<u32> {
            let mut trips: Vec<u32> = p
                .vehicle("v0")
                .map(|v| v.rows.iter().filter(|r| r.method == method))
                .into_iter()
                .flatten()
                .map(|r| r.trip)
                .collect();
            trips.dedup();
            trips
        };
        let mut on_time = predictor(day_in_blocks(6, 1, 3));
        on_time.observe(0, 0, &arrival(0, 0, 2, 0, 0), &mut Issued::default())?;
        assert_eq!(trips_of(&on_time, Method::Learnt), [0, 1]);

        // 300 s late, it would leave for t1 750 s late: turned, it runs t2 next (450 s late for
        // it, not turned again). The baselines keep it on t1.
        let mut late = predictor(day_in_blocks(6, 1, 3));
        late.observe(0, 0, &arrival(0, 0, 2, 300, 300), &mut Issued::default())?;
        assert_eq!(trips_of(&late, Method::Learnt), [0, 2]);
        assert_eq!(trips_of(&late, Method::Delay)[..2], [0, 1]);
        let first_on_t2 = late
            .vehicle("v0")
            .and_then(|v| {
                v.rows
                    .iter()
                    .find(|r| r.method == Method::Learnt && r.trip == 2)
            })
            .map(|r| r.arrival_ms);
        assert!(first_on_t2.is_some_and(|at| at >= ms(first(0) + 5 * (RUN + DWELL) + 300)));

        // With t1 cancelled, t2 is its next trip: never turned twice in a row, however late.
        let mut cancelled = predictor(day_in_blocks(6, 1, 3));
        let mut t1 = cancellation(1, first(0));
        t1.vehicle_id = "v0".into();
        assert!(cancelled.cancel(&t1, &mut Issued::default())?);
        cancelled.observe(0, 0, &arrival(0, 0, 2, 700, 700), &mut Issued::default())?;
        assert_eq!(trips_of(&cancelled, Method::Learnt), [0, 2]);

        // Told of no such rule, the learnt method keeps it on t1 too.
        let mut untold = Predictor::new(
            Arc::new(Timetable::new(Arc::new(day_in_blocks(6, 1, 3)))),
            PredictConfig {
                turn_late_after_s: None,
                ..PredictConfig::default()
            },
        );
        untold.observe(0, 0, &arrival(0, 0, 2, 300, 300), &mut Issued::default())?;
        assert_eq!(trips_of(&untold, Method::Learnt)[..2], [0, 1]);
        Ok(())
    }

    #[test]
    fn a_vehicle_not_heard_of_when_due_leaves_service() -> Result<(), Unplaced> {
        let mut p = predictor(day(4, 1, false));
        let mut out = Issued::default();
        p.observe(0, 0, &arrival(0, 0, 0, 0, 0), &mut out)?;
        let held = p.vehicle("v0").map_or(0, |v| v.rows.len());
        assert!(held > 0);
        let due = row(&p, 0, Method::Learnt, 1).map_or(0, |r| r.arrival_ms);
        let mut out = Issued::default();
        assert_eq!(
            p.advance(0, due + 60_000, &mut out),
            0,
            "a minute late is late"
        );
        assert_eq!(p.advance(0, due + 1_200_001, &mut out), 1);
        assert!(p.vehicle("v0").is_none());
        let withdrawn = out
            .changes
            .iter()
            .filter(|c| matches!(c, Issue::Withdraw { .. }))
            .count();
        assert_eq!(withdrawn, held);
        Ok(())
    }

    #[test]
    fn a_train_overdue_is_predicted_later_and_so_are_the_trains_behind_it() -> Result<(), Unplaced>
    {
        let mut p = predictor(day(12, 1, false));
        teach(&mut p, 6, 0)?;
        let mut out = Issued::default();
        p.observe(0, 100, &arrival(6, 6, 1, 0, 0), &mut out)?;
        p.observe(0, 101, &arrival(7, 7, 0, 0, 0), &mut out)?;
        let due = row(&p, 6, Method::Learnt, 2).map_or(0, |r| r.arrival_ms);
        let behind_before = row(&p, 7, Method::Learnt, 2).map_or(0, |r| r.arrival_ms);
        // Train 6 is not at s2 four minutes after it was due there (stopped on the way).
        let mut now = due;
        while now < due + 240_000 {
            now += 10_000;
            p.advance(0, now, &mut out);
        }
        let floor = i64::from(p.config().overdue_floor_s.unwrap_or(0)) * 1_000;
        let ahead = row(&p, 6, Method::Learnt, 2).map_or(0, |r| r.arrival_ms);
        assert!(ahead > due + 200_000, "still coming, later and later");
        assert!(
            ahead <= now + floor,
            "a moment from now: {} s",
            (ahead - now) / 1_000
        );
        let behind = row(&p, 7, Method::Learnt, 2).map_or(0, |r| r.arrival_ms);
        assert!(behind >= ahead + 90_000, "the train behind waits for it");
        assert!(behind > behind_before);
        // Given up twenty minutes after it left s1, not kept coming for ever.
        p.advance(0, ms(first(6) + RUN + 2 * DWELL) + 1_200_001, &mut out);
        assert!(p.vehicle("v6").is_none());
        Ok(())
    }

    #[test]
    fn a_train_seen_past_the_train_ahead_is_not_held_behind_it() -> Result<(), Unplaced> {
        let mut p = predictor(day(12, 1, false));
        teach(&mut p, 6, 0)?;
        let mut out = Issued::default();
        // Train 6 is last heard of at s1 (taken out on the way); train 7 runs on time, and
        // is seen at s3, which train 6 never reached.
        p.observe(0, 100, &arrival(6, 6, 1, 0, 0), &mut out)?;
        for k in 0..4 {
            let at = ms(first(7) + k * (RUN + DWELL));
            p.advance(0, at, &mut out);
            p.observe(0, 101 + u64::from(k), &arrival(7, 7, k, 0, 0), &mut out)?;
        }
        assert!(p.vehicle("v6").is_some(), "not given up yet");
        let next = row(&p, 7, Method::Learnt, 4).map_or(0, |r| r.arrival_ms);
        let scheduled = ms(first(7) + 4 * (RUN + DWELL));
        assert!(
            (next - scheduled).abs() <= 5_000,
            "on time, not behind train 6: {} s",
            (next - scheduled) / 1_000
        );
        Ok(())
    }

    #[test]
    fn a_replayed_or_older_arrival_is_left_out() -> Result<(), Unplaced> {
        let mut p = predictor(day(4, 1, false));
        let mut out = Issued::default();
        p.observe(0, 0, &arrival(0, 0, 0, 0, 0), &mut out)?;
        p.observe(0, 1, &arrival(0, 0, 1, 0, 0), &mut out)?;
        assert_eq!(
            p.observe(0, 1, &arrival(0, 0, 1, 0, 0), &mut out)?,
            Observed::Stale
        );
        assert_eq!(
            p.observe(0, 0, &arrival(0, 0, 0, 0, 0), &mut out)?,
            Observed::Stale
        );
        Ok(())
    }

    #[test]
    fn an_arrival_of_another_timetable_is_refused() {
        let mut p = predictor(day(4, 1, false));
        let mut out = Issued::default();
        let mut unknown = arrival(0, 0, 0, 0, 0);
        unknown.trip_id = "elsewhere".into();
        assert!(matches!(
            p.observe(0, 0, &unknown, &mut out),
            Err(Unplaced::UnknownTrip { .. })
        ));
        let mut wrong = arrival(0, 0, 1, 0, 0);
        wrong.stop_id = "s4".into();
        assert!(matches!(
            p.observe(0, 0, &wrong, &mut out),
            Err(Unplaced::WrongStop { .. })
        ));
    }

    #[test]
    fn dropping_a_partition_forgets_its_vehicles_and_what_it_taught() -> Result<(), Unplaced> {
        let mut p = predictor(day(12, 3, false));
        teach(&mut p, 4, 40)?;
        let mut lost = FxHashSet::default();
        lost.insert(0);
        p.drop_partitions(&lost);
        assert_eq!(p.vehicles(), 0);
        let key = LearnKey {
            quantity: Quantity::Run,
            route: 0,
            from: 0,
            to: 1,
            day_type: DayType::Weekday,
            hour: 6,
        };
        assert!(p.window(0, &key).is_none());
        assert_eq!(p.estimate(&key, 120.0).observations, 0);
        Ok(())
    }
}
