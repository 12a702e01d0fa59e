use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Normal};

use super::service::{self, Conditions};
use super::SimTime;
use crate::event::ArrivalEvent;
use crate::model::{Direction, LineColor, StationId, TrainId, TrainStatus};
use crate::network::{DayType, LineSchedule};

/// The slot (station index, direction) of position `position` on the ring of a line with
/// `stations` stations.
///
/// The ring runs (0,A) → (1,A) → … → (n-1,A) → (n-1,B) → (n-2,B) → … → (0,B) → (0,A): a train
/// moving one position either moves one station or turns back at a terminal.
pub fn ring_slot(position: usize, stations: usize) -> (usize, Direction) {
    if position < stations {
        (position, Direction::A)
    } else {
        (2 * stations - 1 - position, Direction::B)
    }
}

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
}

#[derive(Debug, Clone)]
struct Train {
    id: TrainId,
    status: TrainStatus,
    /// The cell of the ring it holds; `None` while out of service (in the yard).
    cell: Option<usize>,
    /// When it last arrived anywhere since it entered service (ms).
    arrived_at: Option<i64>,
    /// The scheduled departure of its trip from its terminal; `None` without a schedule.
    trip_start: Option<i64>,
    /// The slot it claimed for its next trip while turning at a terminal.
    next_trip: Option<i64>,
    /// Placed at a platform, its arrival there still to come.
    entering: bool,
    /// When its dwell at the platform it stands at is over (its riders on board).
    ready_at: i64,
    /// Broken down until then (ms), and the status it had before: it makes no move before.
    broken: Option<(i64, TrainStatus)>,
    /// A what-if held or stopped it since its last arrival: its next arrival carries no
    /// previous arrival time, so readers do not learn the hold as the segment's run time.
    disturbed: bool,
}

/// The terminal departures of a scheduled line.
///
/// The schedule gives departures per hour at one reference station per direction. A trip
/// leaves its terminal that station's scheduled time minus the nominal running time from the
/// terminal (runs, and the shortest dwell at each stop between), so the reference station's
/// headways hold, in the schedule's terms, along the whole line; the departures of an hour are
/// spread evenly over it. Every trip runs terminal to terminal (CTA's short turns, such as
/// UIC-Halsted or Jefferson Park, run the whole line here).
#[derive(Debug, Clone)]
struct Timetable {
    schedule: LineSchedule,
    /// Nominal ms from a trip's departure from its terminal to its arrival at each ring
    /// position (0 for the terminal itself).
    offset_ms: Vec<i64>,
    /// Nominal ms from each direction's terminal to the reference station.
    reference_ms: [i64; 2],
    /// The next slot the yard looks at, per direction: a train enters there unless one
    /// turning at the terminal claimed the slot.
    yard_next: [Option<i64>; 2],
    /// The slots claimed by turning trains, oldest first, per direction.
    claimed: [VecDeque<i64>; 2],
}

const HOUR_MS: i64 = 3_600_000;

/// How long before its departure a train from the yard pulls onto the terminal's platform.
const YARD_LEAD_MS: i64 = 60_000;

impl Timetable {
    /// Departures at the reference station in direction `d` during the calendar hour that
    /// starts at `hour_start` (ms): the service day's own hour plus the previous service day's
    /// hours past midnight.
    fn departures_in_hour(&self, d: Direction, hour_start: i64) -> u16 {
        let time = SimTime(hour_start);
        let Some(date) = time.date() else { return 0 };
        let hour = time.hour() as usize;
        let today = self.schedule.departures(d, DayType::of(date), hour);
        let yesterday = date.pred_opt().map_or(0, |day| {
            self.schedule.departures(d, DayType::of(day), hour + 24)
        });
        today + yesterday
    }

    /// The first departure from `d`'s terminal at or after `after` (ms), within two days.
    fn next_slot(&self, d: Direction, after: i64) -> Option<i64> {
        let shift = self.reference_ms[d as usize];
        let first_hour = (after + shift).div_euclid(HOUR_MS);
        (first_hour..first_hour + 48).find_map(|hour| {
            let count = i64::from(self.departures_in_hour(d, hour * HOUR_MS));
            (0..count)
                .map(|i| hour * HOUR_MS + i * HOUR_MS / count - shift)
                .find(|slot| *slot >= after)
        })
    }

    /// The scheduled headway (ms) at `d`'s reference station for a trip leaving its terminal
    /// at `slot`.
    fn headway_ms(&self, d: Direction, slot: i64) -> Option<i64> {
        let at = slot + self.reference_ms[d as usize];
        let count = i64::from(self.departures_in_hour(d, at.div_euclid(HOUR_MS) * HOUR_MS));
        (count > 0).then(|| HOUR_MS / count)
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
/// A scheduled line ([`LineSim::scheduled`]) puts trains into service at the terminals at the
/// scheduled departures: a train that reaches a terminal turns for the first free departure
/// the other way if it can make it within [`service::MAX_LAYOVER_S`] and fewer than
/// [`service::TERMINAL_WAITING`] trains are already waiting to leave there, and otherwise
/// leaves service; a departure no train turned for gets a train from the yard. A train keeps its
/// number (its run) across trips, and a train from the yard takes the lowest number free.
///
/// Time is in simulated milliseconds, not ticks: [`LineSim::advance`] processes every move due
/// up to a moment, in order of time (ties: the yard first, then by train number), and draws
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
    timetable: Option<Timetable>,
    /// When trains left each direction's terminal (a few hundred a day).
    departures: [Vec<i64>; 2],
    /// Holds injected by [`LineSim::delay_at`] for the next train to reach a station
    /// (index, direction or either): (station, direction, ms), oldest first.
    holds: Vec<(usize, Option<Direction>, i64)>,
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

fn seconds_to_ms(seconds: f64) -> i64 {
    (seconds * 1000.0).round().max(1.0) as i64
}

/// The ring position where a trip in `d` starts (its terminal's departure platform).
fn trip_start_position(d: Direction, n: usize) -> usize {
    match d {
        Direction::A => 0,
        Direction::B => n,
    }
}

impl LineSim {
    fn empty(
        line: LineColor,
        stations: Vec<StationId>,
        distances_m: &[f64],
        rng: ChaCha8Rng,
    ) -> Option<Self> {
        let n = stations.len();
        let ring = 2 * n;
        if n < 2 || distances_m.len() != n - 1 {
            return None;
        }
        let run_s = (0..ring)
            .map(|p| {
                let (from, _) = ring_slot(p, n);
                let (to, _) = ring_slot((p + 1) % ring, n);
                if from == to {
                    service::TURNAROUND_S
                } else {
                    service::run_time_s(distances_m[from.min(to)])
                }
            })
            .collect();
        Some(Self {
            line,
            stations,
            run_s,
            blocks: vec![None; ring],
            trains: Vec::new(),
            next_at: NextMoves::default(),
            last_departure: vec![None; ring],
            timetable: None,
            departures: Default::default(),
            holds: Vec::new(),
            rng,
        })
    }

    /// Puts a new train (or the lowest-numbered one in the yard) at the platform of ring
    /// position `p`, arriving there at `at`. `None` if that block is taken.
    fn place(&mut self, p: usize, at: i64, trip_start: Option<i64>) -> Option<usize> {
        if self.blocks[p].is_some() {
            return None;
        }
        let k = self.allocate();
        self.blocks[p] = Some(k as u16);
        let train = &mut self.trains[k];
        train.cell = Some(2 * p);
        train.entering = true;
        self.next_at.set(k, Some(at));
        train.arrived_at = None;
        train.trip_start = trip_start;
        train.next_trip = None;
        train.status = TrainStatus::InService;
        Some(k)
    }

    /// The lowest-numbered train in the yard, or a new one.
    fn allocate(&mut self) -> usize {
        match self.trains.iter().position(|t| t.cell.is_none()) {
            Some(k) => k,
            None => {
                self.trains.push(Train {
                    id: TrainId {
                        line: self.line,
                        number: self.trains.len() as u16,
                    },
                    status: TrainStatus::InService,
                    cell: None,
                    arrived_at: None,
                    trip_start: None,
                    next_trip: None,
                    entering: false,
                    ready_at: 0,
                    broken: None,
                    disturbed: false,
                });
                self.next_at.push();
                self.trains.len() - 1
            }
        }
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
        let mut sim = Self::empty(line, stations, distances_m, rng)?;
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

    /// A line run by `schedule`, from `start`: the trips that left their terminals in the
    /// scheduled time before `start` are on the line where the schedule puts them (each
    /// arriving at that platform at `start`; a trip whose block another already holds is left
    /// out), and trains enter and leave service by the schedule from then on. `None` if the
    /// line is too short or the distances don't match.
    pub fn scheduled(
        line: LineColor,
        stations: Vec<StationId>,
        distances_m: &[f64],
        schedule: LineSchedule,
        start: SimTime,
        rng: ChaCha8Rng,
    ) -> Option<Self> {
        let mut sim = Self::empty(line, stations, distances_m, rng)?;
        let n = sim.stations.len();
        let ring = 2 * n;
        let mut offset_ms = vec![0; ring];
        for d in [Direction::A, Direction::B] {
            let first = trip_start_position(d, n);
            let mut at = 0.0;
            let trip = offset_ms
                .iter_mut()
                .enumerate()
                .take(first + n)
                .skip(first + 1);
            for (p, offset) in trip {
                let dwell = if p > first + 1 {
                    service::MIN_DWELL_S
                } else {
                    0.0
                };
                at += sim.run_s[p - 1] + dwell;
                *offset = seconds_to_ms(at);
            }
        }
        let reference = schedule.station.min(n - 1);
        let reference_ms = [offset_ms[reference], offset_ms[2 * n - 1 - reference]];
        let mut timetable = Timetable {
            schedule,
            offset_ms,
            reference_ms,
            yard_next: [None; 2],
            claimed: Default::default(),
        };
        // The trips under way at the start, latest first, each where its nominal times put it.
        let mut under_way = Vec::new();
        for d in [Direction::A, Direction::B] {
            let first = trip_start_position(d, n);
            let trip_ms = timetable.offset_ms[first + n - 1];
            let mut slot = timetable.next_slot(d, start.0 - trip_ms);
            // A departure too soon for the yard (before its lead) starts at the terminal too.
            while let Some(at) = slot.filter(|at| *at < start.0 + YARD_LEAD_MS) {
                let elapsed = start.0 - at;
                let p = (first..first + n)
                    .rev()
                    .find(|p| timetable.offset_ms[*p] <= elapsed)
                    .unwrap_or(first);
                under_way.push((at, p));
                slot = timetable.next_slot(d, at + 1);
            }
            timetable.yard_next[d as usize] = slot;
        }
        under_way.sort_by_key(|(at, p)| (std::cmp::Reverse(*at), *p));
        for (at, p) in under_way {
            sim.place(p, start.0, Some(at));
        }
        sim.timetable = Some(timetable);
        Some(sim)
    }

    /// The line.
    pub fn line(&self) -> LineColor {
        self.line
    }

    /// Trains in service now.
    pub fn in_service(&self) -> usize {
        self.trains.iter().filter(|t| t.cell.is_some()).count()
    }

    /// Where each train in service is.
    pub fn positions(&self) -> impl Iterator<Item = (TrainId, Position)> + '_ {
        let n = self.stations.len();
        self.trains.iter().filter_map(move |train| {
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
                Position::Track { .. } => None,
            })
    }

    /// When trains left the terminal of direction `d` (ms), oldest first.
    pub fn terminal_departures(&self, d: Direction) -> &[i64] {
        &self.departures[d as usize]
    }

    /// The scheduled departures from the terminal of direction `d` in `[from, to)` (ms); empty
    /// for a line without a schedule.
    pub fn scheduled_departures(&self, d: Direction, from: i64, to: i64) -> Vec<i64> {
        let Some(timetable) = &self.timetable else {
            return Vec::new();
        };
        std::iter::successors(timetable.next_slot(d, from), |at| {
            timetable.next_slot(d, at + 1)
        })
        .take_while(|at| *at < to)
        .collect()
    }

    /// The nominal time (ms) of a trip in direction `d`, from its terminal's departure to its
    /// arrival at the other terminal (runs, and the shortest dwell at each stop between);
    /// `None` without a schedule.
    pub fn nominal_trip_ms(&self, d: Direction) -> Option<i64> {
        let timetable = self.timetable.as_ref()?;
        let n = self.stations.len();
        timetable
            .offset_ms
            .get(trip_start_position(d, n) + n - 1)
            .copied()
    }

    /// The scheduled headway (ms) for a trip leaving `d`'s terminal at `slot`, at the
    /// reference station; `None` without a schedule.
    pub fn scheduled_headway_ms(&self, d: Direction, slot: i64) -> Option<i64> {
        self.timetable.as_ref()?.headway_ms(d, slot)
    }

    /// Moves every train whose move is due at or before `until` (ms), in order of time, and
    /// appends each arrival to `out`.
    pub fn advance(&mut self, until: i64, around: &dyn Surroundings, out: &mut Vec<ArrivalEvent>) {
        loop {
            let yard = self.timetable.as_ref().and_then(|t| {
                [Direction::A, Direction::B]
                    .into_iter()
                    .filter_map(|d| {
                        t.yard_next[d as usize].map(|slot| (slot - YARD_LEAD_MS, 0, d as usize))
                    })
                    .min()
            });
            let train = self.next_at.earliest().map(|(at, k)| (at, 1, k));
            let next = match (yard, train) {
                (Some(y), Some(t)) => Some(y.min(t)),
                (y, t) => y.or(t),
            };
            match next {
                Some((at, 0, d)) if at <= until => {
                    let d = if d == 0 { Direction::A } else { Direction::B };
                    self.dispatch(d, at + YARD_LEAD_MS, around, out);
                }
                Some((at, _, k)) if at <= until => self.move_train(k, at, around, out),
                _ => break,
            }
        }
    }

    /// The yard's turn at the scheduled departure `slot`, [`YARD_LEAD_MS`] before it: a train
    /// pulls in from the yard to leave at the slot, unless one turning at the terminal claimed
    /// it, or one stands at the platform for a later departure (it takes this one and gives
    /// its own back). With the platform taken otherwise, the departure is lost.
    fn dispatch(
        &mut self,
        d: Direction,
        slot: i64,
        around: &dyn Surroundings,
        out: &mut Vec<ArrivalEvent>,
    ) {
        let at = slot - YARD_LEAD_MS;
        let Some(timetable) = self.timetable.as_mut() else {
            return;
        };
        let i = d as usize;
        timetable.yard_next[i] = timetable.next_slot(d, slot + 1);
        if timetable.claimed[i].front() == Some(&slot) {
            timetable.claimed[i].pop_front();
            return;
        }
        let p = trip_start_position(d, self.stations.len());
        if let Some(j) = self.blocks[p] {
            let train = &mut self.trains[usize::from(j)];
            let waiting = train.cell == Some(2 * p) && train.trip_start.is_some_and(|s| s > slot);
            if waiting {
                if let Some(later) = train.trip_start.replace(slot) {
                    self.next_at
                        .set(usize::from(j), Some(train.ready_at.max(slot)));
                    timetable.claimed[i].retain(|claimed| *claimed != later);
                }
            }
            return;
        }
        let k = self.allocate();
        self.blocks[p] = Some(k as u16);
        let train = &mut self.trains[k];
        train.cell = Some(2 * p);
        train.arrived_at = None;
        train.entering = false;
        train.trip_start = Some(slot);
        train.next_trip = None;
        train.status = TrainStatus::InService;
        self.arrive(k, at, None, around, out);
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
        let Some(from) = self.trains[k].cell else {
            self.next_at.set(k, None);
            return;
        };
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
        if std::mem::take(&mut self.trains[k].entering) {
            self.arrive(k, at, None, around, out);
            return;
        }
        let to = (from + 1) % (2 * ring);
        let (block, next_block) = (from / 2, to / 2);
        // At a terminal's arrival platform a train taken out of service leaves service; a
        // scheduled train turns for a departure the other way, or leaves service.
        let terminal = from % 2 == 0 && (block == n - 1 || block == ring - 1);
        if terminal && self.trains[k].status == TrainStatus::OutOfService {
            self.leave_service(k, at, out);
            return;
        }
        if terminal {
            if let Some(timetable) = self.timetable.as_mut() {
                let d = if block == n - 1 {
                    Direction::B
                } else {
                    Direction::A
                };
                let i = d as usize;
                let ready = at + seconds_to_ms(self.run_s[block] + service::MIN_DWELL_S);
                let free_from = [
                    Some(ready),
                    timetable.claimed[i].back().map(|c| c + 1),
                    timetable.yard_next[i],
                ]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(ready);
                // One train may wait for the terminal's next departures; another goes to the
                // yard rather than queue on the line.
                let room = timetable.claimed[i].len() < service::TERMINAL_WAITING;
                match timetable.next_slot(d, free_from) {
                    Some(slot) if room && slot - ready <= seconds_to_ms(service::MAX_LAYOVER_S) => {
                        timetable.claimed[i].push_back(slot);
                        self.trains[k].next_trip = Some(slot);
                    }
                    _ => {
                        self.leave_service(k, at, out);
                        return;
                    }
                }
            }
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
                self.release_trip(k);
                self.leave_service(k, at, out);
                if block != next_block {
                    self.wake_behind(block, at);
                }
                return;
            }
            if position == 0 || position == n {
                if let Some(slot) = self.trains[k].next_trip.take() {
                    self.trains[k].trip_start = Some(slot);
                }
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
            let chance = Normal::new(0.0, service::RUN_NOISE_SIGMA)
                .map_or(1.0, |normal| normal.sample(&mut self.rng).exp());
            let run = self.run_s[position] * conditions.run * chance;
            self.next_at.set(k, Some(at + seconds_to_ms(run)));
        }
        if block != next_block {
            self.wake_behind(block, at);
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
        let trip = self
            .timetable
            .as_ref()
            .zip(train.trip_start)
            .map(|(timetable, start)| {
                let direction = if position < n {
                    Direction::A
                } else {
                    Direction::B
                };
                (
                    start + timetable.offset_ms[position],
                    timetable.headway_ms(direction, start),
                )
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
        let extra = Exp::new(1.0 / service::DWELL_NOISE_MEAN_S)
            .map_or(0.0, |exp| exp.sample(&mut self.rng));
        let dwell = service::dwell_s(boarders) * conditions.dwell + extra;
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
        // At its terminal a scheduled train waits for its departure.
        if position == 0 || position == n {
            if let Some(slot) = self.trains[k].trip_start {
                leave = leave.max(slot);
            }
        }
        self.trains[k].arrived_at = Some(at);
        self.next_at.set(k, Some(leave));
    }

    /// Takes train `k` out of service at `at` (into the yard), freeing its block, and says so:
    /// an event at the platform it stands at with the status [`TrainStatus::OutOfService`]
    /// (running empty to the yard), so readers stop showing it there.
    fn leave_service(&mut self, k: usize, at: i64, out: &mut Vec<ArrivalEvent>) {
        let Some(cell) = self.trains[k].cell.take() else {
            return;
        };
        let block = cell / 2;
        self.blocks[block] = None;
        self.next_at.set(k, None);
        out.push(self.event_at_block(k, block, TrainStatus::OutOfService, at));
        let train = &mut self.trains[k];
        train.arrived_at = None;
        train.trip_start = None;
        train.next_trip = None;
        train.broken = None;
        train.disturbed = false;
        train.status = TrainStatus::InService;
        self.wake_behind(block, at);
    }

    /// Gives back the departure train `k` claimed or waits for, so the yard sends a train
    /// for it (if its time to pull in has not passed).
    fn release_trip(&mut self, k: usize) {
        let train = &mut self.trains[k];
        let slots = [train.next_trip.take(), train.trip_start.take()];
        if let Some(timetable) = self.timetable.as_mut() {
            for claimed in &mut timetable.claimed {
                claimed.retain(|c| !slots.contains(&Some(*c)));
            }
        }
    }

    /// The train in service with id `train`, by index.
    fn in_service_index(&self, train: TrainId) -> Option<usize> {
        self.trains
            .iter()
            .position(|t| t.id == train && t.cell.is_some())
    }

    /// Says at once that train `k`'s status changed at `at`: an event at the platform it last
    /// reached (its block's), from that platform, with the new status. Not in service, so
    /// readers learn no run time from it.
    fn status_event(&self, k: usize, at: i64, out: &mut Vec<ArrivalEvent>) {
        let train = &self.trains[k];
        let Some(cell) = train.cell else { return };
        out.push(self.event_at_block(k, cell / 2, train.status, at));
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
    /// at the next terminal it reaches; one standing at a terminal's departure platform
    /// leaves at once. An event says so at once. `false` if the train is not in service.
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
        } else {
            train.status = TrainStatus::OutOfService;
            if train.cell.is_some_and(|cell| cell == 0 || cell == 2 * n) {
                self.release_trip(k);
                self.leave_service(k, at, out);
                return true;
            }
        }
        self.status_event(k, at, out);
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
        // the signal) it makes no move before it is repaired (see `move_train`).
        if t.cell.is_some_and(|cell| cell % 2 == 1) {
            let next = self.next_at.get(k).map(|next| next.max(at) + stop_ms);
            self.next_at.set(k, next);
        }
        self.status_event(k, at, out);
        true
    }

    /// Wakes the train held at the signal of `block`, just freed.
    fn wake_behind(&mut self, block: usize, at: i64) {
        let ring = self.blocks.len();
        if let Some(j) = self.blocks[(block + ring - 1) % ring] {
            let j = usize::from(j);
            if self.next_at.get(j).is_none() && self.trains[j].cell.is_some() {
                self.next_at
                    .set(j, Some(at + seconds_to_ms(service::PULL_IN_S)));
            }
        }
    }
}

/// A scheduled line's nominal timetable, read-only: when trips leave the terminals and the
/// nominal times from a trip's departure to each of its stops, as [`LineSim`] dispatches them.
///
/// For the feeds that publish the simulation's schedule (static GTFS and what refers to it),
/// so they take the very slots the simulation uses rather than a copy of its rules. Times are
/// simulated ms ([`SimTime`]); the stops of a trip in direction A are the line's stations
/// first to last, in direction B last to first, each at its platform for that direction.
#[derive(Debug, Clone)]
pub struct NominalTimetable {
    timetable: Timetable,
    stations: usize,
}

/// Nominal ms from a trip's departure from its terminal to one of its stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopOffset {
    /// To its arrival at the stop (0 at the terminal it leaves).
    pub arrival_ms: i64,
    /// To its departure from the stop: the arrival plus the shortest dwell
    /// ([`service::MIN_DWELL_S`]), except at the first stop (it leaves at 0) and the last
    /// (the trip ends there).
    pub departure_ms: i64,
}

impl NominalTimetable {
    /// The stations of the line.
    pub fn stations(&self) -> usize {
        self.stations
    }

    /// The schedule the departures come from.
    pub fn schedule(&self) -> &LineSchedule {
        &self.timetable.schedule
    }

    /// The scheduled departures from the terminal of direction `d` in `[from, to)` (ms),
    /// oldest first: the slots the simulation dispatches trains at.
    pub fn terminal_departures(&self, d: Direction, from: i64, to: i64) -> Vec<i64> {
        std::iter::successors(self.timetable.next_slot(d, from), |at| {
            self.timetable.next_slot(d, at + 1)
        })
        .take_while(|at| *at < to)
        .collect()
    }

    /// Nominal ms from the departure of a trip in direction `d` to its departure from the
    /// schedule's reference station: a trip leaving at `slot` is the reference station's
    /// departure at `slot + reference_offset_ms(d)`.
    pub fn reference_offset_ms(&self, d: Direction) -> i64 {
        self.timetable.reference_ms[d as usize]
    }

    /// The nominal offsets of a trip in direction `d` at each of its stops, in the order it
    /// calls at them (one per station).
    pub fn stop_offsets(&self, d: Direction) -> Vec<StopOffset> {
        let n = self.stations;
        let first = trip_start_position(d, n);
        let dwell = seconds_to_ms(service::MIN_DWELL_S);
        (0..n)
            .map(|k| {
                let arrival_ms = self.timetable.offset_ms[first + k];
                let departure_ms = if k == 0 || k + 1 == n {
                    arrival_ms
                } else {
                    arrival_ms + dwell
                };
                StopOffset {
                    arrival_ms,
                    departure_ms,
                }
            })
            .collect()
    }

    /// The scheduled headway (ms) at the reference station for a trip leaving `d`'s terminal
    /// at `slot`; `None` in an hour without service.
    pub fn headway_ms(&self, d: Direction, slot: i64) -> Option<i64> {
        self.timetable.headway_ms(d, slot)
    }
}

impl LineSim {
    /// The nominal timetable of a line run by a schedule; `None` for a fixed fleet
    /// ([`LineSim::new`]).
    pub fn nominal_timetable(&self) -> Option<NominalTimetable> {
        self.timetable.as_ref().map(|timetable| NominalTimetable {
            timetable: timetable.clone(),
            stations: self.stations.len(),
        })
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
