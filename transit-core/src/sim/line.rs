use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Normal};

use super::service::{self, Conditions};
use super::SimTime;
use crate::event::ArrivalEvent;
use crate::model::{Direction, LineColor, StationId, TrainId, TrainStatus};

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
    /// The cell of the ring it holds.
    cell: usize,
    /// When it next moves, in simulated ms; `None` while the cell ahead is taken.
    next_at: Option<i64>,
    /// Whether it has arrived anywhere yet.
    arrived: bool,
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
/// Time is in simulated milliseconds, not ticks: [`LineSim::advance`] processes every move due
/// up to a moment, in order of time (ties by train number), and draws from the line's random
/// stream in that order, so stopping at other moments (other tick lengths) gives the same moves.
#[derive(Debug, Clone)]
pub struct LineSim {
    line: LineColor,
    stations: Vec<StationId>,
    /// Nominal seconds of each track cell's run, by ring position (turnarounds included).
    run_s: Vec<f64>,
    /// The train (index) holding each block.
    blocks: Vec<Option<u16>>,
    trains: Vec<Train>,
    /// When a train last left each platform (by ring position), for the riders waiting.
    last_departure: Vec<Option<i64>>,
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

fn seconds_to_ms(seconds: f64) -> i64 {
    (seconds * 1000.0).round().max(1.0) as i64
}

impl LineSim {
    /// `trains` trains spread evenly along a line of `stations` (at least 2), in both
    /// directions, each arriving at its first platform at `start`. `distances_m[i]` is the
    /// distance from station `i` to station `i + 1` (one fewer than the stations). `None` if
    /// the line is too short, the distances don't match, or the trains don't fit: one block
    /// must stay free for any to move, so at most `2 × stations - 1`.
    pub fn new(
        line: LineColor,
        stations: Vec<StationId>,
        distances_m: &[f64],
        trains: u16,
        start: SimTime,
        rng: ChaCha8Rng,
    ) -> Option<Self> {
        let n = stations.len();
        let ring = 2 * n;
        if n < 2 || usize::from(trains) >= ring || distances_m.len() != n - 1 {
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
        let count = usize::from(trains);
        let mut blocks = vec![None; ring];
        let trains = (0..count)
            .map(|k| {
                // On the track just before its first platform, arriving there at the start.
                let cell = (4 * n + 2 * (k * ring / count) - 1) % (4 * n);
                blocks[cell / 2] = Some(k as u16);
                Train {
                    id: TrainId {
                        line,
                        number: k as u16,
                    },
                    status: TrainStatus::InService,
                    cell,
                    next_at: Some(start.0),
                    arrived: false,
                }
            })
            .collect();
        Some(Self {
            line,
            stations,
            run_s,
            blocks,
            trains,
            last_departure: vec![None; ring],
            rng,
        })
    }

    /// The line.
    pub fn line(&self) -> LineColor {
        self.line
    }

    /// Where each train is.
    pub fn positions(&self) -> impl Iterator<Item = (TrainId, Position)> + '_ {
        let n = self.stations.len();
        self.trains.iter().map(move |train| {
            let p = train.cell / 2;
            let (station, direction) = ring_slot(p, n);
            let position = if train.cell % 2 == 0 {
                Position::Platform { station, direction }
            } else {
                let (to, _) = ring_slot((p + 1) % (2 * n), n);
                Position::Track {
                    from: station,
                    to,
                    direction,
                }
            };
            (train.id, position)
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

    /// Moves every train whose move is due at or before `until` (ms), in order of time, and
    /// appends each arrival to `out`.
    pub fn advance(&mut self, until: i64, around: &dyn Surroundings, out: &mut Vec<ArrivalEvent>) {
        loop {
            let next = self
                .trains
                .iter()
                .enumerate()
                .filter_map(|(k, train)| train.next_at.map(|at| (at, k)))
                .filter(|(at, _)| *at <= until)
                .min();
            let Some((at, k)) = next else { break };
            self.move_train(k, at, around, out);
        }
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
        let from = self.trains[k].cell;
        let to = (from + 1) % (2 * ring);
        let (block, next_block) = (from / 2, to / 2);
        if block != next_block {
            if self.blocks[next_block].is_some() {
                // Held at the signal: the train ahead wakes it when it leaves the block.
                self.trains[k].next_at = None;
                return;
            }
            self.blocks[block] = None;
            self.blocks[next_block] = Some(k as u16);
        }
        self.trains[k].cell = to;
        let conditions = around.conditions();
        let position = to / 2;
        if to % 2 == 0 {
            // Into a platform: an arrival, then the dwell.
            let train = &self.trains[k];
            let (station, direction) = ring_slot(position, n);
            let previous = train.arrived.then(|| ring_slot(from / 2, n));
            out.push(ArrivalEvent {
                station_id: self.stations[station],
                train_id: train.id,
                direction,
                line: self.line,
                train_status: train.status,
                prev_station_id: previous.map(|(index, _)| self.stations[index]),
                prev_direction: previous.map(|(_, direction)| direction),
                arrival_time: Some(SimTime(at)),
            });
            // Riders for this platform's direction; a terminal's arrival platform takes none,
            // its departure platform all.
            let share = match (station, direction) {
                (0, Direction::A) => 1.0,
                (0, Direction::B) => 0.0,
                (s, Direction::B) if s == n - 1 => 1.0,
                (s, Direction::A) if s == n - 1 => 0.0,
                _ => 0.5,
            };
            let waiting_since = self.last_departure[position].unwrap_or(at - 10 * 60_000);
            let boarders = share * around.entries(station, waiting_since, at);
            let extra = Exp::new(1.0 / service::DWELL_NOISE_MEAN_S)
                .map_or(0.0, |exp| exp.sample(&mut self.rng));
            let dwell = service::dwell_s(boarders) * conditions.dwell + extra;
            self.trains[k].arrived = true;
            self.trains[k].next_at = Some(at + seconds_to_ms(dwell));
        } else {
            // Out onto the track.
            self.last_departure[from / 2] = Some(at);
            let chance = Normal::new(0.0, service::RUN_NOISE_SIGMA)
                .map_or(1.0, |normal| normal.sample(&mut self.rng).exp());
            let run = self.run_s[position] * conditions.run * chance;
            self.trains[k].next_at = Some(at + seconds_to_ms(run));
        }
        // Wake the train held at the signal of the block just freed.
        if block != next_block {
            if let Some(j) = self.blocks[(block + ring - 1) % ring] {
                let held = &mut self.trains[usize::from(j)];
                if held.next_at.is_none() {
                    held.next_at = Some(at + seconds_to_ms(service::PULL_IN_S));
                }
            }
        }
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
}
