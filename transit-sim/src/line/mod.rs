//! One line's trains in continuous simulated time: [`LineSim`].
//!
//! The line is a ring of signal blocks (see [`LineSim`]); a line runs either a fixed fleet or
//! the scheduled timetable ([`NominalTimetable`], network data from `transit-core`) by a block
//! plan of runs. The parts:
//!
//! - this module: the line's state (trains, blocks, what its trains see of the rest of the
//!   simulation: [`Surroundings`]) and what readers ask of it (positions, trains in service,
//!   the schedule's runs under way);
//! - `setup`: putting trains on a line, a fixed fleet spread along it or the plan's runs under
//!   way at the start, and taking trains from the yard;
//! - `plan`: the block plan, built from the timetable alone: which departure each trip's train
//!   turns for at the other end, and which departures pull out of the yard or end in a pull-in;
//! - `terminals`: the plan run at the terminals: trains ending trips, laying over and turning,
//!   pulling onto the departure platform, coming out of the yard, and the ends of runs (a
//!   controller's call on trains running late past them);
//! - `motion`: trains moving along the ring: every move due in order of time, runs between
//!   platforms, arrivals and dwells, signals held and cleared, trains leaving service;
//! - `disruptions`: what-ifs applied to a line: a hold at a station, a train taken out of
//!   service, a breakdown, each said at once by an event.
//!
//! Every random draw comes from the line's own stream in the order of the moves, so the same
//! seed gives the same moves however the time is cut into ticks.

mod disruptions;
mod motion;
mod plan;
mod setup;
mod terminals;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand_chacha::ChaCha8Rng;

use crate::SimTime;
use transit_core::event::ArrivalEvent;
use transit_core::model::{ring_slot, Direction, LineId, StationId, TrainId, TrainStatus};
use transit_core::network::calls::TrainCall;
use transit_core::network::timetable::NominalTimetable;
use transit_core::speed::{self, seconds_to_ms, Conditions};

use motion::NextMoves;
use plan::Scheduled;

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
/// A scheduled line ([`LineSim::scheduled`]) runs a block plan of its timetable (module `plan`):
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
    line: LineId,
    /// The line's `route_id` in the static GTFS feed, carried by its every arrival.
    route_id: LineId,
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
    /// The calls of trains in revenue service at the stops of their trips since the last
    /// [`LineSim::take_calls`].
    calls: Vec<TrainCall>,
    rng: ChaCha8Rng,
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
    /// The line.
    pub fn line(&self) -> LineId {
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

    /// Trains a controller took out of service since the start for running past their
    /// run's end while another did (see [`LineSim::in_passenger_service`]).
    pub fn discharged(&self) -> u64 {
        self.discharged
    }

    /// Moves the calls at the stops of scheduled trips made since the last take (each train in
    /// revenue service's arrivals on its trip, in the order of its arrivals) into `out`.
    pub fn take_calls(&mut self, out: &mut Vec<TrainCall>) {
        out.append(&mut self.calls);
    }

    /// The train in service with id `train`, by index.
    pub(super) fn in_service_index(&self, train: TrainId) -> Option<usize> {
        self.trains
            .iter()
            .position(|t| t.id == train && (t.cell.is_some() || t.layover.is_some()))
    }

    /// An event of train `k` with `status` at `at`, at the platform of `block` and from it
    /// (it has not moved): no schedule, and its last arrival's time as the previous one.
    pub(super) fn event_at_block(
        &self,
        k: usize,
        block: usize,
        status: TrainStatus,
        at: i64,
    ) -> ArrivalEvent {
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
            route_id: Some(self.route_id),
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
    use transit_core::network::cta;

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

    pub(super) fn line(stations: u32, trains: u16) -> Option<LineSim> {
        let ids = (0..stations).map(StationId).collect::<Vec<_>>();
        let distances = vec![1_000.0; (stations as usize).saturating_sub(1)];
        LineSim::new(
            cta::RED,
            ids,
            &distances,
            trains,
            SimTime(0),
            ChaCha8Rng::seed_from_u64(1),
        )
    }

    pub(super) fn id(number: u16) -> TrainId {
        TrainId {
            line: cta::RED,
            number,
        }
    }

    /// The ring block (platform and track after it) each train holds, by train number.
    pub(super) fn blocks(sim: &LineSim) -> Vec<(u16, usize)> {
        let n = sim.stations.len();
        sim.trains
            .iter()
            .filter_map(|t| t.cell.map(|c| (t.id.number, c / 2)))
            .map(|(k, b)| (k, b % (2 * n)))
            .collect()
    }
}
