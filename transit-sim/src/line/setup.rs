//! Putting trains on a line: a fixed fleet spread along it, or the runs of the block plan
//! under way at the start; and taking a train from the yard (the lowest number free).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand_chacha::ChaCha8Rng;

use super::motion::NextMoves;
use super::plan::{trip_run, Plan, Scheduled, PLAN_LEAD_MS};
use super::{other, LineSim, Surroundings, Train, TripRun, DAY_MS};
use crate::SimTime;
use transit_core::model::{trip_start, Direction, LineId, StationId, TrainId, TrainStatus};
use transit_core::network::cta;
use transit_core::network::timetable::NominalTimetable;
use transit_core::network::LineSchedule;
use transit_core::speed::{self, seconds_to_ms};

impl LineSim {
    /// A line of `stations` whose ring positions run `run_s` (see [`speed::ring_run_s`]),
    /// without trains. `None` unless there are two runs per station.
    pub(super) fn empty(
        line: LineId,
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
            route_id: cta::route_id(line),
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
            calls: Vec::new(),
            rng,
        })
    }

    /// Puts a new train (or the lowest-numbered one in the yard) at the platform of ring
    /// position `p`, arriving there at `at`. `None` if that block is taken.
    pub(super) fn place(&mut self, p: usize, at: i64, trip: Option<TripRun>) -> Option<usize> {
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
    pub(super) fn lay_over(&mut self, d: Direction, at: i64) -> usize {
        let k = self.allocate();
        let train = &mut self.trains[k];
        train.layover = Some(d);
        train.ready_at = at;
        self.next_at.set(k, Some(at));
        k
    }

    /// The lowest-numbered train in the yard (made ready for service), or a new one.
    pub(super) fn allocate(&mut self) -> usize {
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
        line: LineId,
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
        line: LineId,
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
        line: LineId,
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
}

#[cfg(test)]
mod tests {
    use super::super::tests::line;

    #[test]
    fn too_many_trains_or_too_short_a_line_is_refused() {
        assert!(line(1, 1).is_none());
        assert!(line(3, 6).is_none());
        assert!(line(3, 5).is_some());
    }
}
