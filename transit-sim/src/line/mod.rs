use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};

use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Normal};

use crate::SimTime;
use transit_core::event::ArrivalEvent;
use transit_core::model::{
    ring_slot, trip_start, Direction, LineColor, StationId, TrainId, TrainStatus,
};
use transit_core::network::timetable::NominalTimetable;
use transit_core::network::LineSchedule;
use transit_core::speed::{self, seconds_to_ms, Conditions};

/// Where a train is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Position {
    /// Standing at the platform of a station (index on the line) for a direction.
    Platform {
        /// The station's index on the line.
        station: usize,
        /// The platform's direction.
        direction: Direction,
    },
    /// On the track from one platform to the next (at a terminal: from the arrival platform
    /// to the departure platform of the same station), running or held at the signal.
    Track {
        /// The station it left (index on the line).
        from: usize,
        /// The station it is bound for; the same as `from` when it turns at a terminal.
        to: usize,
        /// The direction of the platform it left.
        direction: Direction,
    },
    /// Laying over at a terminal (a station at either end of the line), off the signal blocks
    /// of the line (on a tail or yard track), in service: turning, or waiting for a departure
    /// in `direction`, or just out of the yard for one.
    Layover {
        /// The terminal's index on the line.
        station: usize,
        /// The direction of the departure it waits for.
        direction: Direction,
    },
}

/// A trip a train runs: its direction, its scheduled departure from its terminal, and the
/// scheduled offsets of its arrivals at each stop (in the order it calls).
#[derive(Debug, Clone)]
struct TripRun {
    direction: Direction,
    slot: i64,
    arrivals_ms: Vec<i64>,
    /// The end of its run (ms), when this is the run's last trip: its scheduled arrival at
    /// the far terminal and alighting dwell. The train pulls in no earlier.
    run_ends: Option<i64>,
}

#[derive(Debug, Clone)]
struct Train {
    id: TrainId,
    status: TrainStatus,
    /// The cell of the ring it holds; `None` while off the ring (laying over, or in the yard).
    cell: Option<usize>,
    /// Laying over at the terminal where trips in this direction start (in service, off the
    /// ring); `None` on the ring or in the yard.
    layover: Option<Direction>,
    /// When it last arrived anywhere since it entered service (ms).
    arrived_at: Option<i64>,
    /// The trip it runs (or, at the departure platform, is about to); `None` without a
    /// schedule, or between trips.
    trip: Option<TripRun>,
    /// Placed at a platform, its arrival there still to come.
    entering: bool,
    /// When its dwell at the platform it stands at is over (its riders on board); laying
    /// over, when it has turned.
    ready_at: i64,
    /// Broken down until then (ms), and the status it had before: it makes no move before.
    broken: Option<(i64, TrainStatus)>,
    /// A what-if held or stopped it since its last arrival: its next arrival carries no
    /// previous arrival time, so readers do not learn the hold as the segment's run time.
    disturbed: bool,
}

/// The opposite direction.
fn other(d: Direction) -> Direction {
    match d {
        Direction::A => Direction::B,
        Direction::B => Direction::A,
    }
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// How far back of its start a line's block plan begins, so the runs under way at the start
/// (and the hours before it) are paired as on any other day.
const PLAN_LEAD_MS: i64 = DAY_MS;

/// The scheduled arrivals of a trip at each of its stops, as offsets from its departure,
/// and the end of its run if the plan pulls its train in after it.
fn trip_run(timetable: &NominalTimetable, plan: &mut Plan, d: Direction, slot: i64) -> TripRun {
    let run_ends = plan
        .trip(timetable, d, slot)
        .filter(|planned| planned.next.is_none())
        .map(|planned| planned.arrival + seconds_to_ms(speed::MIN_DWELL_S));
    TripRun {
        direction: d,
        slot,
        arrivals_ms: timetable
            .stop_offsets(d, slot)
            .iter()
            .map(|o| o.arrival_ms)
            .collect(),
        run_ends,
    }
}

/// One trip in the block plan: when it arrives at the other end (ms, scheduled), and the
/// departure the other way its train turns for (`None`: it pulls in to the yard).
#[derive(Debug, Clone, Copy)]
struct Planned {
    arrival: i64,
    next: Option<i64>,
}

/// The block plan (the runs) of a scheduled line: which trip each trip's train runs next.
///
/// Built from the timetable alone, as an operator's crew and vehicle schedule is: the trips in
/// each direction, in order of departure, each pair their arrival at the other end with the
/// first departure the other way not yet paired, at or after the arrival plus the shortest
/// alighting dwell, the turn ([`speed::TURNAROUND_S`]), the lead onto the departure platform
/// ([`speed::PLATFORM_LEAD_S`]) and the recovery ([`speed::recovery_s`]), if it is within
/// [`speed::MAX_LAYOVER_S`] of that; otherwise the train pulls in after it. A departure no
/// trip pairs with pulls out of the yard. A run is such a chain of trips, from a pull-out to
/// a pull-in; the plan pairs lazily as time goes on, every decision final, so it is the same
/// plan however far and in what steps it was taken.
#[derive(Debug, Clone)]
struct Plan {
    /// Per direction: the trips paired so far, by departure.
    trips: [BTreeMap<i64, Planned>; 2],
    /// Per direction: the departures some trip the other way turns for.
    claimed: [BTreeSet<i64>; 2],
    /// Per direction: every trip leaving at or before this is paired.
    paired_through: [i64; 2],
    /// Per direction: the last departure claimed.
    last_claimed: [Option<i64>; 2],
}

impl Plan {
    fn new(origin: i64) -> Self {
        Self {
            trips: Default::default(),
            claimed: Default::default(),
            paired_through: [origin; 2],
            last_claimed: [None; 2],
        }
    }

    /// The ms from a trip's scheduled arrival to the first departure its train may take.
    fn turn_ms(trip_ms: i64) -> i64 {
        seconds_to_ms(
            speed::MIN_DWELL_S
                + speed::TURNAROUND_S
                + speed::PLATFORM_LEAD_S
                + speed::recovery_s(trip_ms as f64 / 1000.0),
        )
    }

    /// Pairs every trip in `d` leaving up to `upto`.
    fn pair_through(&mut self, timetable: &NominalTimetable, d: Direction, upto: i64) {
        let i = d as usize;
        let back = other(d);
        let n = timetable.stations();
        while self.paired_through[i] < upto {
            let slot = match timetable.next_slot(d, self.paired_through[i] + 1) {
                Some(slot) if slot <= upto => slot,
                Some(_) => {
                    self.paired_through[i] = upto;
                    break;
                }
                // Nothing within two days: look on from there.
                None => {
                    self.paired_through[i] = (self.paired_through[i] + 2 * DAY_MS).min(upto);
                    continue;
                }
            };
            let offsets = timetable.stop_offsets(d, slot);
            let trip_ms = offsets.get(n - 1).map_or(0, |o| o.arrival_ms);
            let arrival = slot + trip_ms;
            let earliest = arrival + Self::turn_ms(trip_ms);
            let from = self.last_claimed[back as usize].map_or(earliest, |c| earliest.max(c + 1));
            let next = timetable
                .next_slot(back, from)
                .filter(|at| *at - earliest <= seconds_to_ms(speed::MAX_LAYOVER_S));
            if let Some(at) = next {
                self.claimed[back as usize].insert(at);
                self.last_claimed[back as usize] = Some(at);
            }
            self.trips[i].insert(slot, Planned { arrival, next });
            self.paired_through[i] = slot;
        }
    }

    /// The trip in `d` leaving at `slot`, paired.
    fn trip(&mut self, timetable: &NominalTimetable, d: Direction, slot: i64) -> Option<Planned> {
        self.pair_through(timetable, d, slot);
        self.trips[d as usize].get(&slot).copied()
    }

    /// Whether the departure in `d` at `slot` is a pull-out: no trip the other way turns for
    /// it. Pairs the trips the other way that could.
    fn pulls_out(&mut self, timetable: &NominalTimetable, d: Direction, slot: i64) -> bool {
        let back = other(d);
        // Rounding aside (a second), no trip leaving later than this arrives in time for it.
        let soonest = timetable.shortest_run_ms(back) + Self::turn_ms(0) - 1_000;
        self.pair_through(timetable, back, slot - soonest + 1);
        !self.claimed[d as usize].contains(&slot)
    }

    /// The first pull-out in `d` at or after `after`, within two days.
    fn next_pull_out(
        &mut self,
        timetable: &NominalTimetable,
        d: Direction,
        after: i64,
    ) -> Option<i64> {
        let mut at = after;
        loop {
            let slot = timetable.next_slot(d, at)?;
            if slot > after + 2 * DAY_MS {
                return None;
            }
            if self.pulls_out(timetable, d, slot) {
                return Some(slot);
            }
            at = slot + 1;
        }
    }

    /// When the trip in `d` leaving at `slot` holds a run (train) of the plan: from its
    /// departure (a pull-out: [`speed::PLATFORM_LEAD_S`] before it, out of the yard) to the
    /// departure of its run's next trip, or to its arrival and alighting dwell if its train
    /// pulls in after it.
    fn holds(
        &mut self,
        timetable: &NominalTimetable,
        d: Direction,
        slot: i64,
    ) -> Option<(i64, i64)> {
        let planned = self.trip(timetable, d, slot)?;
        let start = if self.pulls_out(timetable, d, slot) {
            slot - seconds_to_ms(speed::PLATFORM_LEAD_S)
        } else {
            slot
        };
        let end = planned
            .next
            .unwrap_or(planned.arrival + seconds_to_ms(speed::MIN_DWELL_S));
        Some((start, end))
    }

    /// Forgets the trips and claims of departures before `before`.
    fn forget(&mut self, before: i64) {
        for trips in &mut self.trips {
            *trips = trips.split_off(&before);
        }
        for claimed in &mut self.claimed {
            *claimed = claimed.split_off(&before);
        }
    }
}

/// A scheduled line's timetable, plan and terminals.
#[derive(Debug, Clone)]
struct Scheduled {
    timetable: NominalTimetable,
    plan: Plan,
    /// The simulation's start (ms): nothing happens before it.
    start: i64,
    /// Per direction: departures no train has taken yet, oldest first, up to `fed_through`.
    pending: [VecDeque<i64>; 2],
    /// Per direction: every departure up to this is in `pending` or taken.
    fed_through: [i64; 2],
    /// Per direction: the next departure that pulls out of the yard.
    yard_next: [Option<i64>; 2],
}

impl Scheduled {
    /// Puts the departures in `d` due onto the platform by `at` into `pending`.
    fn feed(&mut self, d: Direction, at: i64) {
        let i = d as usize;
        let upto = at + seconds_to_ms(speed::PLATFORM_LEAD_S);
        while let Some(slot) = self
            .timetable
            .next_slot(d, self.fed_through[i] + 1)
            .filter(|slot| *slot <= upto)
        {
            self.pending[i].push_back(slot);
            self.fed_through[i] = slot;
        }
    }
}

/// The trains of one line, in continuous simulated time.
///
/// The line is a ring of blocks, one per ring position `p` (see [`ring_slot`]): the platform
/// of that position and the track from it to the next platform, as a signal block from one
/// station to the next. A block holds at most one train. A train leaves its platform when its
/// dwell is over, runs, and enters the next platform when its run is over and the train ahead
/// has left that block (arrived at the platform after it); otherwise it waits at the signal and
/// pulls in when the block clears. So trains on one track never pass each other, a platform
/// never holds two trains, and the platform each train last arrived at is its own.
///
/// A scheduled line ([`LineSim::scheduled`]) runs a block plan of its timetable (see `Plan`):
/// a train that ends a trip at a terminal pulls in to the yard if its run ends there, and
/// otherwise leaves the arrival platform for the terminal's layover tracks (off the blocks,
/// still in service), turns ([`speed::TURNAROUND_S`]), and pulls onto the departure platform
/// [`speed::PLATFORM_LEAD_S`] before the next departure there, or as soon as it has turned if
/// that departure is already due: a late train leaves late, and the recovery in the plan
/// absorbs it. The trains laying over at a terminal take its departures in order, the first
/// ready first (a late train swaps runs with one laying over, as controllers do); a departure
/// no trip turns for pulls a train out of the yard, and a train taken out of service is
/// replaced by one from the yard when it leaves. A train whose run ends stands at its last
/// terminal until the run's scheduled end; of the trains running late past their run's end a
/// controller keeps at most one carrying riders, and takes the other out of service. So the
/// trains carrying riders are the runs of the plan under way within one
/// ([`LineSim::in_passenger_service`], [`LineSim::scheduled_runs`]).
/// A train keeps its number across trips, and a train from the yard takes the lowest number
/// free.
///
/// Time is in simulated milliseconds, not ticks: [`LineSim::advance`] processes every move due
/// up to a moment, in order of time (ties: the yard first, then by train number, then the
/// ends of runs), and draws
/// from the line's random stream in that order, so stopping at other moments (other tick
/// lengths) gives the same moves.
#[derive(Debug, Clone)]
pub struct LineSim {
    line: LineColor,
    stations: Vec<StationId>,
    /// Nominal seconds of each track cell's run, by ring position (turnarounds included).
    run_s: Vec<f64>,
    /// The train (index) holding each block.
    blocks: Vec<Option<u16>>,
    trains: Vec<Train>,
    /// When each train (by index) next moves.
    next_at: NextMoves,
    /// When a train last left each platform (by ring position), for the riders waiting.
    last_departure: Vec<Option<i64>>,
    scheduled: Option<Scheduled>,
    /// When trains left each direction's terminal (a few hundred a day).
    departures: [Vec<i64>; 2],
    /// Holds injected by [`LineSim::delay_at`] for the next train to reach a station
    /// (index, direction or either): (station, direction, ms), oldest first.
    holds: Vec<(usize, Option<Direction>, i64)>,
    /// The ends of the runs whose last trip a train runs: (end, train index, trip's slot),
    /// earliest first. See [`LineSim::run_ended`].
    run_ends: BinaryHeap<Reverse<(i64, usize, i64)>>,
    /// Trains still carrying riders on their run's last trip after the run's end, by index
    /// and trip slot (some may have pulled in since).
    overrunning: Vec<(usize, i64)>,
    /// Trains a controller took out of service for running past their run's end while
    /// another did.
    discharged: u64,
    rng: ChaCha8Rng,
}

/// When each train (by index) next moves, in simulated ms (`None` while the block ahead is
/// taken, or in the yard), and the earliest of them.
///
/// Finding the next train to move is done for every move of every train; a scan of all the
/// trains cost more than the move itself. A heap ordered by (time, index) gives the same
/// answer as that scan (the earliest, the lowest index on a tie): every time set is pushed,
/// and an entry that no longer matches its train's time is dropped when it comes up.
#[derive(Debug, Clone, Default)]
struct NextMoves {
    at: Vec<Option<i64>>,
    queue: BinaryHeap<Reverse<(i64, usize)>>,
}

impl NextMoves {
    /// Room for one more train, not moving.
    fn push(&mut self) {
        self.at.push(None);
    }

    fn get(&self, k: usize) -> Option<i64> {
        self.at[k]
    }

    fn set(&mut self, k: usize, at: Option<i64>) {
        let previous = std::mem::replace(&mut self.at[k], at);
        if let Some(at) = at {
            if previous != Some(at) {
                self.queue.push(Reverse((at, k)));
            }
        }
    }

    /// The earliest (time, train), the lowest index on a tie.
    fn earliest(&mut self) -> Option<(i64, usize)> {
        while let Some(&Reverse((at, k))) = self.queue.peek() {
            if self.at[k] == Some(at) {
                return Some((at, k));
            }
            self.queue.pop();
        }
        None
    }
}

/// What the line's trains see of the rest of the simulation while they move.
pub trait Surroundings {
    /// Riders expected to enter station `station` (index on the line) between two moments
    /// (ms), bound for either direction.
    fn entries(&self, station: usize, from: i64, to: i64) -> f64;
    /// How the weather stretches runs and dwells.
    fn conditions(&self) -> Conditions;
}

/// No riders and fair weather: trains run and dwell their nominal times (plus chance).
#[derive(Debug, Clone, Copy, Default)]
pub struct Empty;

impl Surroundings for Empty {
    fn entries(&self, _: usize, _: i64, _: i64) -> f64 {
        0.0
    }
    fn conditions(&self) -> Conditions {
        Conditions::default()
    }
}

impl LineSim {
    /// A line of `stations` whose ring positions run `run_s` (see [`speed::ring_run_s`]),
    /// without trains. `None` unless there are two runs per station.
    fn empty(
        line: LineColor,
        stations: Vec<StationId>,
        run_s: Vec<f64>,
        rng: ChaCha8Rng,
    ) -> Option<Self> {
        let n = stations.len();
        let ring = 2 * n;
        if n < 2 || run_s.len() != ring {
            return None;
        }
        Some(Self {
            line,
            stations,
            run_s,
            blocks: vec![None; ring],
            trains: Vec::new(),
            next_at: NextMoves::default(),
            last_departure: vec![None; ring],
            scheduled: None,
            departures: Default::default(),
            holds: Vec::new(),
            run_ends: BinaryHeap::new(),
            overrunning: Vec::new(),
            discharged: 0,
            rng,
        })
    }

    /// Puts a new train (or the lowest-numbered one in the yard) at the platform of ring
    /// position `p`, arriving there at `at`. `None` if that block is taken.
    fn place(&mut self, p: usize, at: i64, trip: Option<TripRun>) -> Option<usize> {
        if self.blocks[p].is_some() {
            return None;
        }
        let k = self.allocate();
        self.blocks[p] = Some(k as u16);
        let train = &mut self.trains[k];
        train.cell = Some(2 * p);
        train.entering = true;
        train.trip = trip;
        self.next_at.set(k, Some(at));
        Some(k)
    }

    /// Puts a new train (or the lowest-numbered one in the yard) on the layover tracks of the
    /// terminal where trips in `d` start, ready to pull onto the platform from `at`.
    fn lay_over(&mut self, d: Direction, at: i64) -> usize {
        let k = self.allocate();
        let train = &mut self.trains[k];
        train.layover = Some(d);
        train.ready_at = at;
        self.next_at.set(k, Some(at));
        k
    }

    /// The lowest-numbered train in the yard (made ready for service), or a new one.
    fn allocate(&mut self) -> usize {
        let k = match self
            .trains
            .iter()
            .position(|t| t.cell.is_none() && t.layover.is_none())
        {
            Some(k) => k,
            None => {
                self.trains.push(Train {
                    id: TrainId {
                        line: self.line,
                        number: self.trains.len() as u16,
                    },
                    status: TrainStatus::InService,
                    cell: None,
                    layover: None,
                    arrived_at: None,
                    trip: None,
                    entering: false,
                    ready_at: 0,
                    broken: None,
                    disturbed: false,
                });
                self.next_at.push();
                self.trains.len() - 1
            }
        };
        let train = &mut self.trains[k];
        train.status = TrainStatus::InService;
        train.arrived_at = None;
        train.trip = None;
        train.entering = false;
        train.broken = None;
        train.disturbed = false;
        k
    }

    /// `trains` trains spread evenly along a line of `stations` (at least 2), in both
    /// directions, each arriving at its first platform at `start`, and running all day: the
    /// fixed fleet that `--trains-per-line` asks for instead of the schedule.
    /// `distances_m[i]` is the distance from station `i` to station `i + 1` (one fewer than the
    /// stations). `None` if the line is too short, the distances don't match, or the trains
    /// don't fit: one block must stay free for any to move, so at most `2 × stations - 1`.
    pub fn new(
        line: LineColor,
        stations: Vec<StationId>,
        distances_m: &[f64],
        trains: u16,
        start: SimTime,
        rng: ChaCha8Rng,
    ) -> Option<Self> {
        if distances_m.len() + 1 != stations.len() {
            return None;
        }
        let mut sim = Self::empty(line, stations, speed::ring_run_s(distances_m)?, rng)?;
        let ring = sim.blocks.len();
        let count = usize::from(trains);
        if count >= ring {
            return None;
        }
        for k in 0..count {
            sim.place(k * ring / count, start.0, None)?;
        }
        Some(sim)
    }

    /// A line run by `schedule`, from `start`, with the riders `riders` expects (its
    /// [`Surroundings::entries`]; the timetable allows the dwell they need, see
    /// [`NominalTimetable`]). The runs of the block plan under way at `start` are there: the
    /// trips that left their terminals before `start` and have not arrived are on the line
    /// where their scheduled times put them (each arriving at that platform at `start`; a trip
    /// whose block another already holds starts its run's next trip from the yard instead),
    /// and the trains between two trips lay over at their terminal. `None` if the line is too
    /// short or the distances don't match.
    pub fn scheduled(
        line: LineColor,
        stations: Vec<StationId>,
        distances_m: &[f64],
        schedule: LineSchedule,
        riders: &dyn Surroundings,
        start: SimTime,
        rng: ChaCha8Rng,
    ) -> Option<Self> {
        if distances_m.len() + 1 != stations.len() {
            return None;
        }
        let timetable = NominalTimetable::new(schedule, distances_m, |station, from, to| {
            riders.entries(station, from.0, to.0)
        })?;
        Self::with_timetable(line, stations, timetable, start, rng)
    }

    /// A line run by `timetable` (built for a line of these stations, as
    /// [`NominalTimetable::for_line`] builds it from the network), from `start`: as
    /// [`LineSim::scheduled`]. `None` if the timetable is of a line with another number of
    /// stations.
    pub fn with_timetable(
        line: LineColor,
        stations: Vec<StationId>,
        timetable: NominalTimetable,
        start: SimTime,
        rng: ChaCha8Rng,
    ) -> Option<Self> {
        if timetable.stations() != stations.len() {
            return None;
        }
        let mut sim = Self::empty(line, stations, timetable.run_s().to_vec(), rng)?;
        let n = sim.stations.len();
        let mut plan = Plan::new(start.0 - PLAN_LEAD_MS);
        let alight = seconds_to_ms(speed::MIN_DWELL_S);
        let mut on_line = Vec::new();
        let mut laying_over = Vec::new();
        for d in [Direction::A, Direction::B] {
            // A run holds a trip from its departure to the next trip's, half a day at most.
            let mut at = start.0 - DAY_MS / 2;
            while let Some(slot) = timetable.next_slot(d, at).filter(|slot| *slot <= start.0) {
                at = slot + 1;
                let Some((_, end)) = plan.holds(&timetable, d, slot) else {
                    continue;
                };
                let Some(planned) = plan.trip(&timetable, d, slot) else {
                    continue;
                };
                if end <= start.0 {
                    continue;
                }
                if start.0 < planned.arrival + alight {
                    let trip = trip_run(&timetable, &mut plan, d, slot);
                    let elapsed = start.0 - slot;
                    let k = trip
                        .arrivals_ms
                        .iter()
                        .rposition(|offset| *offset <= elapsed)
                        .unwrap_or(0);
                    on_line.push((slot, trip_start(d, n) + k, trip, planned.next));
                } else if let Some(next) = planned.next {
                    laying_over.push((next, other(d)));
                }
            }
        }
        // Latest first, so numbers run from the front of the line.
        on_line.sort_by_key(|(slot, p, _, _)| (Reverse(*slot), *p));
        for (_, p, trip, next) in on_line {
            let d = trip.direction;
            let ends = trip.run_ends.map(|end| (end, trip.slot));
            match sim.place(p, start.0, Some(trip)) {
                Some(k) => {
                    if let Some((end, slot)) = ends {
                        sim.run_ends.push(Reverse((end, k, slot)));
                    }
                }
                None => {
                    if let Some(next) = next {
                        laying_over.push((next, other(d)));
                    }
                }
            }
        }
        laying_over.sort_by_key(|(next, d)| (*next, *d as usize));
        for (_, d) in laying_over {
            sim.lay_over(d, start.0);
        }
        let yard_next =
            [Direction::A, Direction::B].map(|d| plan.next_pull_out(&timetable, d, start.0 + 1));
        sim.scheduled = Some(Scheduled {
            timetable,
            plan,
            start: start.0,
            pending: Default::default(),
            fed_through: [start.0; 2],
            yard_next,
        });
        Some(sim)
    }

    /// The line.
    pub fn line(&self) -> LineColor {
        self.line
    }

    /// Trains in service now: on the line, or laying over at a terminal.
    pub fn in_service(&self) -> usize {
        self.trains
            .iter()
            .filter(|t| t.cell.is_some() || t.layover.is_some())
            .count()
    }

    /// Trains carrying riders now: in service ([`LineSim::in_service`]) but not running empty
    /// to the yard. On a scheduled line these are the plan's runs under way
    /// ([`LineSim::scheduled_runs`]) within one: a train whose run ends stands at its last
    /// terminal until the run's scheduled end, and of the trains running past their run's end
    /// a controller keeps at most one carrying riders.
    pub fn in_passenger_service(&self) -> usize {
        self.trains
            .iter()
            .filter(|t| {
                (t.cell.is_some() || t.layover.is_some())
                    && t.status != TrainStatus::OutOfService
                    && !matches!(t.broken, Some((_, TrainStatus::OutOfService)))
            })
            .count()
    }

    /// The runs of the block plan under way at `at` (ms): the trains the schedule has in
    /// service then, each from [`speed::PLATFORM_LEAD_S`] before its pull-out to its last
    /// trip's arrival and alighting dwell. `None` without a schedule.
    pub fn scheduled_runs(&self, at: i64) -> Option<usize> {
        let scheduled = self.scheduled.as_ref()?;
        let timetable = &scheduled.timetable;
        let mut plan = scheduled.plan.clone();
        let lead = seconds_to_ms(speed::PLATFORM_LEAD_S);
        let mut runs = 0;
        for d in [Direction::A, Direction::B] {
            let mut from = at - DAY_MS / 2;
            while let Some(slot) = timetable
                .next_slot(d, from)
                .filter(|slot| *slot <= at + lead)
            {
                from = slot + 1;
                if let Some((start, end)) = plan.holds(timetable, d, slot) {
                    runs += usize::from(start <= at && at < end);
                }
            }
        }
        Some(runs)
    }

    /// Where each train in service is.
    pub fn positions(&self) -> impl Iterator<Item = (TrainId, Position)> + '_ {
        let n = self.stations.len();
        self.trains.iter().filter_map(move |train| {
            if let Some(direction) = train.layover {
                let station = match direction {
                    Direction::A => 0,
                    Direction::B => n - 1,
                };
                return Some((train.id, Position::Layover { station, direction }));
            }
            let cell = train.cell?;
            let p = cell / 2;
            let (station, direction) = ring_slot(p, n);
            let position = if cell % 2 == 0 {
                Position::Platform { station, direction }
            } else {
                let (to, _) = ring_slot((p + 1) % (2 * n), n);
                Position::Track {
                    from: station,
                    to,
                    direction,
                }
            };
            Some((train.id, position))
        })
    }

    /// The trains at platforms: (train, station index, direction).
    pub fn slots(&self) -> impl Iterator<Item = (TrainId, usize, Direction)> + '_ {
        self.positions()
            .filter_map(|(train, position)| match position {
                Position::Platform { station, direction } => Some((train, station, direction)),
                _ => None,
            })
    }

    /// When trains left the terminal of direction `d` (ms), oldest first.
    pub fn terminal_departures(&self, d: Direction) -> &[i64] {
        &self.departures[d as usize]
    }

    /// The scheduled departures from the terminal of direction `d` in `[from, to)` (ms); empty
    /// for a line without a schedule.
    pub fn scheduled_departures(&self, d: Direction, from: i64, to: i64) -> Vec<i64> {
        let Some(scheduled) = &self.scheduled else {
            return Vec::new();
        };
        scheduled.timetable.terminal_departures(d, from, to)
    }

    /// The shortest time (ms) of a trip in direction `d`, from its terminal's departure to its
    /// arrival at the other terminal (runs, and the shortest dwell at each stop between);
    /// `None` without a schedule.
    pub fn nominal_trip_ms(&self, d: Direction) -> Option<i64> {
        let timetable = &self.scheduled.as_ref()?.timetable;
        Some(timetable.nominal_trip_ms(d))
    }

    /// The scheduled headway (ms) for a trip leaving `d`'s terminal at `slot`, at the
    /// reference station; `None` without a schedule.
    pub fn scheduled_headway_ms(&self, d: Direction, slot: i64) -> Option<i64> {
        self.scheduled.as_ref()?.timetable.headway_ms(d, slot)
    }

    /// Moves every train whose move is due at or before `until` (ms), in order of time, and
    /// appends each arrival to `out`.
    pub fn advance(&mut self, until: i64, around: &dyn Surroundings, out: &mut Vec<ArrivalEvent>) {
        let lead = seconds_to_ms(speed::PLATFORM_LEAD_S);
        loop {
            let yard = self.scheduled.as_ref().and_then(|s| {
                [Direction::A, Direction::B]
                    .into_iter()
                    .filter_map(|d| {
                        s.yard_next[d as usize]
                            .map(|slot| ((slot - lead).max(s.start), 0, d as usize))
                    })
                    .min()
            });
            let train = self.next_at.earliest().map(|(at, k)| (at, 1, k));
            // A run's end comes after the moves at that moment (its train may pull in then).
            let end = self.run_ends.peek().map(|Reverse((at, k, _))| (*at, 2, *k));
            let next = [yard, train, end].into_iter().flatten().min();
            match next {
                Some((at, 0, d)) if at <= until => {
                    let d = if d == 0 { Direction::A } else { Direction::B };
                    self.pull_out(d, at);
                }
                Some((at, 1, k)) if at <= until => self.move_train(k, at, around, out),
                Some((at, _, _)) if at <= until => {
                    if let Some(Reverse((_, k, slot))) = self.run_ends.pop() {
                        self.run_ended(k, slot, at, out);
                    }
                }
                _ => break,
            }
        }
    }

    /// The run whose last trip (leaving at `slot`) train `k` ran ends at `at`. If the train is
    /// still on that trip it runs late, past its run's end; if another train already does, a
    /// controller takes one of the two out of service (the one with fewer stops to go: its
    /// riders have the least left to ride on the train behind), so the trains in service never
    /// run more than one over the plan's runs. It says so at once, alights its riders at the
    /// next platform and runs empty to its terminal and the yard.
    fn run_ended(&mut self, k: usize, slot: i64, at: i64, out: &mut Vec<ArrivalEvent>) {
        let n = self.stations.len();
        let trains = &self.trains;
        let still_on = |&(k, slot): &(usize, i64)| {
            let train = &trains[k];
            train.cell.is_some()
                && train.status != TrainStatus::OutOfService
                && train.trip.as_ref().is_some_and(|trip| trip.slot == slot)
        };
        if !still_on(&(k, slot)) {
            return;
        }
        self.overrunning.retain(still_on);
        self.overrunning.push((k, slot));
        if self.overrunning.len() < 2 {
            return;
        }
        // Stops to go: ring cells to the trip's last platform.
        let to_go = |k: usize| {
            let train = &trains[k];
            let last = train
                .trip
                .as_ref()
                .map_or(0, |trip| trip_start(trip.direction, n) + n - 1);
            (2 * last).saturating_sub(train.cell.unwrap_or(0))
        };
        let Some(i) = (0..self.overrunning.len()).min_by_key(|i| to_go(self.overrunning[*i].0))
        else {
            return;
        };
        let (j, _) = self.overrunning.remove(i);
        let train = &mut self.trains[j];
        match &mut train.broken {
            Some((_, before)) => *before = TrainStatus::OutOfService,
            None => train.status = TrainStatus::OutOfService,
        }
        self.discharged += 1;
        self.status_event(j, at, out);
    }

    /// Trains a controller took out of service since the start for running past their
    /// run's end while another did (see [`LineSim::in_passenger_service`]).
    pub fn discharged(&self) -> u64 {
        self.discharged
    }

    /// The yard's turn at a pull-out in `d`: a train comes out onto the terminal's layover
    /// tracks at `at`, [`speed::PLATFORM_LEAD_S`] before the departure, and pulls onto the
    /// platform for the first departure due there.
    fn pull_out(&mut self, d: Direction, at: i64) {
        let Some(scheduled) = self.scheduled.as_mut() else {
            return;
        };
        let i = d as usize;
        let Some(slot) = scheduled.yard_next[i] else {
            return;
        };
        scheduled.yard_next[i] = scheduled
            .plan
            .next_pull_out(&scheduled.timetable, d, slot + 1);
        // The plan need not remember more than the last two days.
        scheduled.plan.forget(at - 2 * DAY_MS);
        self.lay_over(d, at);
    }

    /// The ring position of the arrival platform at the terminal where trips in `d` start.
    fn arrival_block(&self, d: Direction) -> usize {
        let ring = self.blocks.len();
        (trip_start(d, self.stations.len()) + ring - 1) % ring
    }

    /// Train `k`, laying over at the terminal where trips in `d` start, pulls onto the
    /// departure platform for the first departure due there, once it has turned and that
    /// departure is [`speed::PLATFORM_LEAD_S`] away, if the platform is free; otherwise it
    /// waits for the time (or for the platform to clear, which wakes it).
    fn pull_on(
        &mut self,
        k: usize,
        d: Direction,
        at: i64,
        around: &dyn Surroundings,
        out: &mut Vec<ArrivalEvent>,
    ) {
        let n = self.stations.len();
        let lead = seconds_to_ms(speed::PLATFORM_LEAD_S);
        let ready = self.trains[k].ready_at;
        let Some(scheduled) = self.scheduled.as_mut() else {
            return;
        };
        let i = d as usize;
        scheduled.feed(d, at);
        let Some(&slot) = scheduled.pending[i].front() else {
            // No departure due yet: wake for the next one; with none in two days, go to the
            // yard.
            match scheduled
                .timetable
                .next_slot(d, scheduled.fed_through[i] + 1)
            {
                Some(next) => self.next_at.set(k, Some((next - lead).max(ready).max(at))),
                None => self.leave_service(k, at, out),
            }
            return;
        };
        let due = ready.max(slot - lead);
        if at < due {
            self.next_at.set(k, Some(due));
            return;
        }
        let p = trip_start(d, n);
        if self.blocks[p].is_some() {
            self.next_at.set(k, None);
            return;
        }
        scheduled.pending[i].pop_front();
        let trip = trip_run(&scheduled.timetable, &mut scheduled.plan, d, slot);
        // A train that leaves so late that its run's end has passed is already late past it.
        if let Some(end) = trip.run_ends {
            self.run_ends.push(Reverse((end.max(at), k, slot)));
        }
        self.blocks[p] = Some(k as u16);
        let arrival_block = self.arrival_block(d);
        let train = &mut self.trains[k];
        train.layover = None;
        train.cell = Some(2 * p);
        train.trip = Some(trip);
        let previous = train.arrived_at.map(|time| {
            let (station, direction) = ring_slot(arrival_block, n);
            (station, direction, time)
        });
        self.arrive(k, at, previous, around, out);
    }

    /// Train `k` ends its trip at the arrival platform of a terminal (ring position `block`)
    /// at `at`: it pulls in if its run ends here or it is out of service (then a train from
    /// the yard takes its run's next trip), and otherwise lays over to turn.
    fn end_trip(
        &mut self,
        k: usize,
        block: usize,
        at: i64,
        around: &dyn Surroundings,
        out: &mut Vec<ArrivalEvent>,
    ) {
        let n = self.stations.len();
        let Some(scheduled) = self.scheduled.as_mut() else {
            return;
        };
        let next_d = if block == n - 1 {
            Direction::B
        } else {
            Direction::A
        };
        let next = self.trains[k]
            .trip
            .as_ref()
            .map(|trip| (trip.direction, trip.slot))
            .and_then(|(d, slot)| scheduled.plan.trip(&scheduled.timetable, d, slot))
            .and_then(|planned| planned.next);
        if next.is_none() {
            self.leave_service(k, at, out);
            return;
        }
        if self.trains[k].status == TrainStatus::OutOfService {
            self.leave_service(k, at, out);
            self.lay_over(next_d, at);
            return;
        }
        let chance = Normal::new(0.0, speed::RUN_NOISE_SIGMA)
            .map_or(1.0, |normal| normal.sample(&mut self.rng).exp());
        let turn = speed::TURNAROUND_S * around.conditions().run * chance;
        self.blocks[block] = None;
        self.last_departure[block] = Some(at);
        let train = &mut self.trains[k];
        train.cell = None;
        train.layover = Some(next_d);
        train.trip = None;
        train.ready_at = at + seconds_to_ms(turn);
        self.next_at.set(k, Some(train.ready_at));
        self.free_block(block, at);
    }

    fn move_train(
        &mut self,
        k: usize,
        at: i64,
        around: &dyn Surroundings,
        out: &mut Vec<ArrivalEvent>,
    ) {
        let n = self.stations.len();
        let ring = 2 * n;
        // Broken down: no move until repaired (a train woken at the signal waits too); then
        // it carries on with the status it had.
        if let Some((until, before)) = self.trains[k].broken {
            if at < until {
                self.next_at.set(k, Some(until));
                return;
            }
            self.trains[k].broken = None;
            self.trains[k].status = before;
        }
        if let Some(d) = self.trains[k].layover {
            self.pull_on(k, d, at, around, out);
            return;
        }
        let Some(from) = self.trains[k].cell else {
            self.next_at.set(k, None);
            return;
        };
        if std::mem::take(&mut self.trains[k].entering) {
            self.arrive(k, at, None, around, out);
            return;
        }
        let to = (from + 1) % (2 * ring);
        let (block, next_block) = (from / 2, to / 2);
        // At a terminal's arrival platform a train taken out of service leaves service; a
        // scheduled train ends its trip (and lays over, or pulls in).
        let terminal = from % 2 == 0 && (block == n - 1 || block == ring - 1);
        if terminal && self.scheduled.is_some() {
            self.end_trip(k, block, at, around, out);
            return;
        }
        if terminal && self.trains[k].status == TrainStatus::OutOfService {
            self.leave_service(k, at, out);
            return;
        }
        if block != next_block {
            if self.blocks[next_block].is_some() {
                // Held at the signal: the train ahead wakes it when it leaves the block.
                self.next_at.set(k, None);
                return;
            }
            self.blocks[block] = None;
            self.blocks[next_block] = Some(k as u16);
        }
        self.trains[k].cell = Some(to);
        let conditions = around.conditions();
        let position = to / 2;
        if to % 2 == 0 {
            // Into a platform: an arrival, then the dwell.
            if (position == 0 || position == n)
                && self.trains[k].status == TrainStatus::OutOfService
            {
                // Taken out of service while turning: it leaves here rather than run a trip.
                self.leave_service(k, at, out);
                if block != next_block {
                    self.free_block(block, at);
                }
                return;
            }
            let previous = self.trains[k].arrived_at.map(|time| {
                let (station, direction) = ring_slot(from / 2, n);
                (station, direction, time)
            });
            self.arrive(k, at, previous, around, out);
        } else {
            // Out onto the track.
            self.last_departure[from / 2] = Some(at);
            if block == 0 || block == n {
                self.departures[usize::from(block != 0)].push(at);
            }
            let chance = Normal::new(0.0, speed::RUN_NOISE_SIGMA)
                .map_or(1.0, |normal| normal.sample(&mut self.rng).exp());
            let run = self.run_s[position] * conditions.run * chance;
            self.next_at.set(k, Some(at + seconds_to_ms(run)));
        }
        if block != next_block {
            self.free_block(block, at);
        }
    }

    /// Train `k` arrives at the platform of its cell at `at`, from `previous` (station index,
    /// direction, when it arrived there; `None` for its first arrival in service): the event,
    /// then its dwell.
    fn arrive(
        &mut self,
        k: usize,
        at: i64,
        previous: Option<(usize, Direction, i64)>,
        around: &dyn Surroundings,
        out: &mut Vec<ArrivalEvent>,
    ) {
        let n = self.stations.len();
        let Some(cell) = self.trains[k].cell else {
            return;
        };
        let position = cell / 2;
        let conditions = around.conditions();
        let train = &self.trains[k];
        let (station, direction) = ring_slot(position, n);
        let trip =
            self.scheduled
                .as_ref()
                .zip(train.trip.as_ref())
                .and_then(|(scheduled, trip)| {
                    let stop = position.checked_sub(trip_start(trip.direction, n))?;
                    Some((
                        trip.slot + trip.arrivals_ms.get(stop)?,
                        scheduled.timetable.headway_ms(trip.direction, trip.slot),
                    ))
                });
        let seconds = |ms: i64| i32::try_from(ms.div_euclid(1000)).ok();
        out.push(ArrivalEvent {
            station_id: self.stations[station],
            train_id: train.id,
            direction,
            line: self.line,
            train_status: train.status,
            prev_station_id: previous.map(|(index, _, _)| self.stations[index]),
            prev_direction: previous.map(|(_, direction, _)| direction),
            arrival_time: Some(SimTime(at)),
            scheduled_time: trip.map(|(scheduled, _)| SimTime(scheduled)),
            scheduled_headway_s: trip.and_then(|(_, headway)| headway).and_then(seconds),
            delay_s: trip.and_then(|(scheduled, _)| seconds(at - scheduled)),
            run_number: Some(i32::from(train.id.number)),
            prev_arrival_time: previous
                .filter(|_| !train.disturbed)
                .map(|(_, _, time)| SimTime(time)),
        });
        self.trains[k].disturbed = false;
        // Riders for this platform's direction; a terminal's arrival platform takes none, its
        // departure platform all.
        let share = match (station, direction) {
            (0, Direction::A) => 1.0,
            (0, Direction::B) => 0.0,
            (s, Direction::B) if s == n - 1 => 1.0,
            (s, Direction::A) if s == n - 1 => 0.0,
            _ => 0.5,
        };
        let waiting_since = self.last_departure[position].unwrap_or(at - 10 * 60_000);
        // A train out of service carries no riders: it stands the shortest dwell.
        let boarders = if self.trains[k].status == TrainStatus::InService {
            share * around.entries(station, waiting_since, at)
        } else {
            0.0
        };
        let mut extra =
            Exp::new(1.0 / speed::DWELL_NOISE_MEAN_S).map_or(0.0, |exp| exp.sample(&mut self.rng));
        // Now and then a dwell is held: doors held, a rider who needs help.
        if rand::Rng::random_bool(&mut self.rng, speed::HELD_DWELL_CHANCE) {
            let held = Normal::new(0.0, speed::HELD_DWELL_SIGMA)
                .map_or(0.0, |normal| normal.sample(&mut self.rng));
            extra += (speed::HELD_DWELL_MEDIAN_S * held.exp()).min(speed::HELD_DWELL_MAX_S);
        }
        let dwell = speed::dwell_s(boarders) * conditions.dwell + extra;
        let mut ready = at + seconds_to_ms(dwell);
        // A delay injected at this platform holds the first train to reach it.
        if let Some(i) = self
            .holds
            .iter()
            .position(|(s, d, _)| *s == station && d.is_none_or(|d| d == direction))
        {
            let (_, _, hold) = self.holds.remove(i);
            ready += hold;
            self.trains[k].disturbed = true;
        }
        self.trains[k].ready_at = ready;
        let mut leave = ready;
        // At its terminal a scheduled train waits for its departure; at the far terminal of
        // its run's last trip it pulls in no earlier than the run's end (the yard's move is
        // booked then).
        if let Some(trip) = &self.trains[k].trip {
            let first = trip_start(trip.direction, n);
            if position == first {
                leave = leave.max(trip.slot);
            }
            if let Some(end) = trip.run_ends.filter(|_| position == first + n - 1) {
                leave = leave.max(end);
            }
        }
        self.trains[k].arrived_at = Some(at);
        self.next_at.set(k, Some(leave));
    }

    /// Takes train `k` out of service at `at` (into the yard), freeing its block, and says so:
    /// an event at the platform it stands at (laying over, the terminal's arrival platform)
    /// with the status [`TrainStatus::OutOfService`] (running empty to the yard), so readers
    /// stop showing it there.
    fn leave_service(&mut self, k: usize, at: i64, out: &mut Vec<ArrivalEvent>) {
        let block = match (self.trains[k].cell.take(), self.trains[k].layover.take()) {
            (Some(cell), _) => {
                let block = cell / 2;
                self.blocks[block] = None;
                Some(block)
            }
            (None, Some(d)) => {
                let block = self.arrival_block(d);
                out.push(self.event_at_block(k, block, TrainStatus::OutOfService, at));
                None
            }
            (None, None) => return,
        };
        self.next_at.set(k, None);
        if let Some(block) = block {
            out.push(self.event_at_block(k, block, TrainStatus::OutOfService, at));
        }
        let train = &mut self.trains[k];
        train.arrived_at = None;
        train.trip = None;
        train.broken = None;
        train.disturbed = false;
        train.status = TrainStatus::InService;
        if let Some(block) = block {
            self.free_block(block, at);
        }
    }

    /// The train in service with id `train`, by index.
    fn in_service_index(&self, train: TrainId) -> Option<usize> {
        self.trains
            .iter()
            .position(|t| t.id == train && (t.cell.is_some() || t.layover.is_some()))
    }

    /// Says at once that train `k`'s status changed at `at`: an event at the platform it last
    /// reached (its block's; laying over, its terminal's arrival platform), from that
    /// platform, with the new status. Not in service, so readers learn no run time from it.
    fn status_event(&self, k: usize, at: i64, out: &mut Vec<ArrivalEvent>) {
        let train = &self.trains[k];
        let block = match (train.cell, train.layover) {
            (Some(cell), _) => cell / 2,
            (None, Some(d)) => self.arrival_block(d),
            (None, None) => return,
        };
        out.push(self.event_at_block(k, block, train.status, at));
    }

    /// An event of train `k` with `status` at `at`, at the platform of `block` and from it
    /// (it has not moved): no schedule, and its last arrival's time as the previous one.
    fn event_at_block(&self, k: usize, block: usize, status: TrainStatus, at: i64) -> ArrivalEvent {
        let train = &self.trains[k];
        let (station, direction) = ring_slot(block, self.stations.len());
        ArrivalEvent {
            station_id: self.stations[station],
            train_id: train.id,
            direction,
            line: self.line,
            train_status: status,
            prev_station_id: Some(self.stations[station]),
            prev_direction: Some(direction),
            arrival_time: Some(SimTime(at)),
            scheduled_time: None,
            scheduled_headway_s: None,
            delay_s: None,
            run_number: Some(i32::from(train.id.number)),
            prev_arrival_time: train.arrived_at.map(SimTime),
        }
    }

    /// Holds the next train to reach station `station` (in direction `direction`, or either)
    /// `hold_ms` longer at its platform. `false` if the station is not on the line.
    pub fn delay_at(
        &mut self,
        station: StationId,
        direction: Option<Direction>,
        hold_ms: i64,
    ) -> bool {
        let Some(index) = self.stations.iter().position(|s| *s == station) else {
            return false;
        };
        self.holds.push((index, direction, hold_ms.max(0)));
        true
    }

    /// Takes train `train` out of service at `at` (call after [`LineSim::advance`] up to
    /// `at`): it carries no more riders (its arrivals say out of service) and leaves service
    /// at the next terminal it reaches; one laying over, or standing at a terminal's departure
    /// platform, leaves at once. An event says so at once. On a scheduled line a train from
    /// the yard takes its place when it leaves (its departure, if it had taken one, goes back
    /// to the terminal's next). `false` if the train is not in service.
    pub fn take_out_of_service(
        &mut self,
        train: TrainId,
        at: i64,
        out: &mut Vec<ArrivalEvent>,
    ) -> bool {
        let Some(k) = self.in_service_index(train) else {
            return false;
        };
        if self.trains[k].status == TrainStatus::OutOfService {
            return false;
        }
        let n = self.stations.len();
        let train = &mut self.trains[k];
        if let Some((_, before)) = &mut train.broken {
            // Broken down, it stays so; repaired, it runs out of service.
            *before = TrainStatus::OutOfService;
            self.status_event(k, at, out);
            return true;
        }
        train.status = TrainStatus::OutOfService;
        // Where it stands to leave at once: laying over, or at a departure platform (the
        // departure it took given back).
        let leaves_from = match (train.layover, train.cell) {
            (Some(d), _) => Some((d, None)),
            (None, Some(cell)) if cell == 0 || cell == 2 * n => {
                let d = if cell == 0 {
                    Direction::A
                } else {
                    Direction::B
                };
                Some((d, train.trip.as_ref().map(|trip| trip.slot)))
            }
            _ => None,
        };
        let Some((d, departure)) = leaves_from else {
            self.status_event(k, at, out);
            return true;
        };
        self.leave_service(k, at, out);
        if let Some(scheduled) = self.scheduled.as_mut() {
            if let Some(slot) = departure {
                scheduled.pending[d as usize].push_front(slot);
            }
            self.lay_over(d, at);
        }
        true
    }

    /// Breaks train `train` down at `at` (call after [`LineSim::advance`] up to `at`): it
    /// stops where it is for `stop_ms` (trains behind it wait at the signals), with the status
    /// [`TrainStatus::BrokenDown`], said at once by an event; then carries on with the status
    /// it had. `false` if the train is not in service or already broken down.
    pub fn break_down(
        &mut self,
        train: TrainId,
        at: i64,
        stop_ms: i64,
        out: &mut Vec<ArrivalEvent>,
    ) -> bool {
        let Some(k) = self.in_service_index(train) else {
            return false;
        };
        let stop_ms = stop_ms.max(0);
        let t = &mut self.trains[k];
        if t.broken.is_some() {
            return false;
        }
        t.broken = Some((at + stop_ms, t.status));
        t.status = TrainStatus::BrokenDown;
        t.disturbed = true;
        // Running between stations, its arrival comes that much later; at a platform (or at
        // the signal, or laying over) it makes no move before it is repaired (see
        // `move_train`).
        if t.cell.is_some_and(|cell| cell % 2 == 1) {
            let next = self.next_at.get(k).map(|next| next.max(at) + stop_ms);
            self.next_at.set(k, next);
        }
        self.status_event(k, at, out);
        true
    }

    /// `block` was just freed at `at`: wakes the train held at its signal, and at a terminal's
    /// departure platform the trains laying over there for it.
    fn free_block(&mut self, block: usize, at: i64) {
        let n = self.stations.len();
        let ring = self.blocks.len();
        let pull_in = at + seconds_to_ms(speed::PULL_IN_S);
        if let Some(j) = self.blocks[(block + ring - 1) % ring] {
            let j = usize::from(j);
            if self.next_at.get(j).is_none() && self.trains[j].cell.is_some() {
                self.next_at.set(j, Some(pull_in));
            }
        }
        if self.scheduled.is_some() && (block == 0 || block == n) {
            let d = if block == 0 {
                Direction::A
            } else {
                Direction::B
            };
            for j in 0..self.trains.len() {
                if self.trains[j].layover == Some(d) && self.next_at.get(j).is_none() {
                    self.next_at.set(j, Some(pull_in));
                }
            }
        }
    }
}

impl LineSim {
    /// The timetable of a line run by a schedule; `None` for a fixed fleet
    /// ([`LineSim::new`]).
    pub fn nominal_timetable(&self) -> Option<&NominalTimetable> {
        self.scheduled
            .as_ref()
            .map(|scheduled| &scheduled.timetable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_ring_turns_at_terminals() {
        let slots: Vec<_> = (0..6).map(|p| ring_slot(p, 3)).collect();
        assert_eq!(
            slots,
            [
                (0, Direction::A),
                (1, Direction::A),
                (2, Direction::A),
                (2, Direction::B),
                (1, Direction::B),
                (0, Direction::B)
            ]
        );
    }

    fn line(stations: u32, trains: u16) -> Option<LineSim> {
        let ids = (0..stations).map(StationId).collect::<Vec<_>>();
        let distances = vec![1_000.0; (stations as usize).saturating_sub(1)];
        LineSim::new(
            LineColor::Red,
            ids,
            &distances,
            trains,
            SimTime(0),
            ChaCha8Rng::seed_from_u64(1),
        )
    }

    #[test]
    fn too_many_trains_or_too_short_a_line_is_refused() {
        assert!(line(1, 1).is_none());
        assert!(line(3, 6).is_none());
        assert!(line(3, 5).is_some());
    }

    #[test]
    fn a_lone_train_runs_the_line_at_the_speed_model() {
        let mut sim = line(5, 1).unwrap();
        let mut out = Vec::new();
        sim.advance(3_600_000, &Empty, &mut out);
        let times: Vec<_> = out.iter().filter_map(|a| a.arrival_time).collect();
        assert_eq!(times.len(), out.len());
        // Station 0 to 1: 20 s minimum dwell (+ a few s by chance) and about 70 s running.
        let first_hop = (times[1].0 - times[0].0) as f64 / 1000.0;
        assert!((85.0..110.0).contains(&first_hop), "{first_hop} s");
        assert_eq!(out[1].station_id, StationId(1));
        assert_eq!(out[1].prev_station_id, Some(StationId(0)));
        assert!(times.windows(2).all(|w| w[0] < w[1]));
    }

    fn id(number: u16) -> TrainId {
        TrainId {
            line: LineColor::Red,
            number,
        }
    }

    /// The ring block (platform and track after it) each train holds, by train number.
    fn blocks(sim: &LineSim) -> Vec<(u16, usize)> {
        let n = sim.stations.len();
        sim.trains
            .iter()
            .filter_map(|t| t.cell.map(|c| (t.id.number, c / 2)))
            .map(|(k, b)| (k, b % (2 * n)))
            .collect()
    }

    #[test]
    fn a_broken_down_train_holds_the_trains_behind_it_which_bunch() {
        let mut sim = line(10, 4).unwrap();
        let mut out = Vec::new();
        sim.advance(600_000, &Empty, &mut out);
        out.clear();
        assert!(sim.break_down(id(0), 600_000, 30 * 60_000, &mut out));
        assert_eq!(out.len(), 1, "said at once");
        assert_eq!(out[0].train_status, TrainStatus::BrokenDown);
        assert_eq!(out[0].arrival_time, Some(SimTime(600_000)));
        assert_eq!(out[0].prev_station_id, Some(out[0].station_id));
        assert!(!sim.break_down(id(0), 600_000, 60_000, &mut out), "already");
        let stuck = blocks(&sim)[0].1;
        out.clear();
        sim.advance(600_000 + 29 * 60_000, &Empty, &mut out);
        assert!(out.iter().all(|a| a.train_id != id(0)), "it stands");
        assert_eq!(blocks(&sim)[0].1, stuck);
        // Every other train has caught up: each in the block right behind the one ahead.
        let ring = 20;
        let mut held: Vec<usize> = blocks(&sim).iter().map(|(_, b)| *b).collect();
        held.sort_by_key(|b| (stuck + ring - b) % ring);
        for pair in held.windows(2) {
            assert_eq!((pair[0] + ring - pair[1]) % ring, 1, "bunched: {held:?}");
        }
        // Repaired, it carries on in service; its first arrival teaches no run time.
        out.clear();
        sim.advance(600_000 + 40 * 60_000, &Empty, &mut out);
        let next = out.iter().find(|a| a.train_id == id(0)).unwrap();
        assert_eq!(next.train_status, TrainStatus::InService);
        assert_eq!(next.prev_arrival_time, None);
        assert!(next.arrival_time.unwrap().0 >= 600_000 + 30 * 60_000);
    }

    #[test]
    fn a_delayed_train_arrives_that_much_later_at_the_next_station() {
        let run = |hold: Option<i64>| {
            let mut sim = line(5, 1).unwrap();
            let mut out = Vec::new();
            sim.advance(1_000, &Empty, &mut out);
            if let Some(hold) = hold {
                assert!(sim.delay_at(StationId(2), Some(Direction::A), hold));
            }
            sim.advance(3_600_000, &Empty, &mut out);
            out.iter()
                .find(|a| a.station_id == StationId(3) && a.direction == Direction::A)
                .and_then(|a| Some((a.arrival_time?.0, a.prev_arrival_time)))
                .unwrap()
        };
        let (plain, _) = run(None);
        let (delayed, prev) = run(Some(120_000));
        assert_eq!(delayed - plain, 120_000);
        assert_eq!(prev, None, "the hold is not a run time");
        assert!(!line(5, 1).unwrap().delay_at(StationId(99), None, 1));
    }

    #[test]
    fn a_train_out_of_service_carries_on_empty_and_leaves_at_the_terminal() {
        let mut sim = line(5, 2).unwrap();
        let mut out = Vec::new();
        sim.advance(200_000, &Empty, &mut out);
        out.clear();
        let train = id(1);
        assert!(sim.take_out_of_service(train, 200_000, &mut out));
        assert_eq!(out[0].train_status, TrainStatus::OutOfService);
        assert!(
            !sim.take_out_of_service(train, 200_000, &mut out),
            "already"
        );
        sim.advance(3_600_000, &Empty, &mut out);
        let events: Vec<_> = out.iter().filter(|a| a.train_id == train).collect();
        assert!(events.len() >= 2);
        assert!(events
            .iter()
            .all(|a| a.train_status == TrainStatus::OutOfService));
        let last = events[events.len() - 1];
        assert_eq!(last.prev_station_id, Some(last.station_id), "left service");
        assert!([StationId(0), StationId(4)].contains(&last.station_id));
        assert_eq!(sim.in_service(), 1);
        assert!(sim.positions().all(|(t, _)| t != train));
    }
}
