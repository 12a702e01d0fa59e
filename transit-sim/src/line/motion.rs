//! Trains moving along the ring of blocks: every move due, in order of time; runs between
//! platforms under the weather and chance; arrivals and dwells; a train held at a signal and
//! woken when the block ahead clears; a train leaving service.

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;

use rand_distr::{Distribution, Exp, Normal};

use super::{LineSim, Surroundings};
use crate::SimTime;
use transit_core::event::ArrivalEvent;
use transit_core::model::{ring_slot, trip_start, Direction, TrainStatus};
use transit_core::network::calls::TrainCall;
use transit_core::speed::{self, seconds_to_ms};

/// When each train (by index) next moves, in simulated ms (`None` while the block ahead is
/// taken, or in the yard), and the earliest of them.
///
/// Finding the next train to move is done for every move of every train; a scan of all the
/// trains cost more than the move itself. A heap ordered by (time, index) gives the same
/// answer as that scan (the earliest, the lowest index on a tie): every time set is pushed,
/// and an entry that no longer matches its train's time is dropped when it comes up.
#[derive(Debug, Clone, Default)]
pub(super) struct NextMoves {
    at: Vec<Option<i64>>,
    queue: BinaryHeap<Reverse<(i64, usize)>>,
}

impl NextMoves {
    /// Room for one more train, not moving.
    pub(super) fn push(&mut self) {
        self.at.push(None);
    }

    pub(super) fn get(&self, k: usize) -> Option<i64> {
        self.at[k]
    }

    pub(super) fn set(&mut self, k: usize, at: Option<i64>) {
        let previous = std::mem::replace(&mut self.at[k], at);
        if previous == at {
            return;
        }
        // Nearly every time set is the moving train's own, and its entry is on top: replacing
        // it there costs one sift down instead of a pop and a push, and leaves no stale entry
        // behind to sift past later.
        if let (Some(previous), Some(mut top)) = (previous, self.queue.peek_mut()) {
            if top.0 == (previous, k) {
                match at {
                    Some(at) => *top = Reverse((at, k)),
                    None => {
                        PeekMut::pop(top);
                    }
                }
                return;
            }
        }
        if let Some(at) = at {
            self.queue.push(Reverse((at, k)));
        }
    }

    /// The earliest (time, train), the lowest index on a tie.
    pub(super) fn earliest(&mut self) -> Option<(i64, usize)> {
        while let Some(&Reverse((at, k))) = self.queue.peek() {
            if self.at[k] == Some(at) {
                return Some((at, k));
            }
            self.queue.pop();
        }
        None
    }
}

/// The smaller of two options, either if the other is `None`.
fn earlier<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl LineSim {
    /// Moves every train whose move is due at or before `until` (ms), in order of time, and
    /// appends each arrival to `out`.
    pub fn advance(&mut self, until: i64, around: &dyn Surroundings, out: &mut Vec<ArrivalEvent>) {
        let lead = seconds_to_ms(speed::PLATFORM_LEAD_S);
        loop {
            // The earliest of three candidates, compared by hand: this runs once a move, and
            // chained iterators over arrays of options cost as much as the heap of moves.
            let yard = self.scheduled.as_ref().and_then(|s| {
                let next = |d: Direction| {
                    s.yard_next[d as usize].map(|slot| ((slot - lead).max(s.start), 0, d as usize))
                };
                earlier(next(Direction::A), next(Direction::B))
            });
            let train = self.next_at.earliest().map(|(at, k)| (at, 1, k));
            // A run's end comes after the moves at that moment (its train may pull in then).
            let end = self.run_ends.peek().map(|Reverse((at, k, _))| (*at, 2, *k));
            let next = earlier(earlier(yard, train), end);
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

    pub(super) fn move_train(
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
    pub(super) fn arrive(
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
            route_id: Some(self.route_id),
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
        // A train in revenue service on a trip of the schedule: its call, as the feeds name it.
        let train = &self.trains[k];
        if let (TrainStatus::InService, Some(trip)) = (train.status, train.trip.as_ref()) {
            let stop = position.checked_sub(trip_start(trip.direction, n));
            let scheduled = stop.and_then(|stop| Some((stop, *trip.arrivals_ms.get(stop)?)));
            if let Some((stop, offset)) = scheduled {
                self.calls.push(TrainCall {
                    line: self.line,
                    train: train.id,
                    direction: trip.direction,
                    trip_departure: SimTime(trip.slot),
                    stop: stop as u32,
                    station,
                    station_id: self.stations[station],
                    arrival: SimTime(at),
                    scheduled_arrival: SimTime(trip.slot + offset),
                    departure: SimTime(leave),
                    boarded: boarders.round().clamp(0.0, f64::from(u32::MAX)) as u32,
                });
            }
        }
    }

    /// Takes train `k` out of service at `at` (into the yard), freeing its block, and says so:
    /// an event at the platform it stands at (laying over, the terminal's arrival platform)
    /// with the status [`TrainStatus::OutOfService`] (running empty to the yard), so readers
    /// stop showing it there.
    pub(super) fn leave_service(&mut self, k: usize, at: i64, out: &mut Vec<ArrivalEvent>) {
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

    /// `block` was just freed at `at`: wakes the train held at its signal, and at a terminal's
    /// departure platform the trains laying over there for it.
    pub(super) fn free_block(&mut self, block: usize, at: i64) {
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

#[cfg(test)]
mod tests {
    use super::super::tests::line;
    use super::super::Empty;
    use transit_core::model::StationId;

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
}
