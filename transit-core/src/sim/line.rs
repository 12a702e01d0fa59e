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

#[derive(Debug, Clone)]
struct Train {
    id: TrainId,
    position: usize,
    status: TrainStatus,
}

/// The trains of one line.
///
/// All trains advance together, one ring position per tick, so trains that start in distinct
/// slots never share one.
#[derive(Debug, Clone)]
pub struct LineSim {
    line: LineColor,
    stations: Vec<StationId>,
    trains: Vec<Train>,
    started: bool,
}

impl LineSim {
    /// `trains` trains spread evenly along a line of `stations` (at least 2), in both
    /// directions. `None` if the line is too short or the trains don't fit (two per station).
    pub fn new(line: LineColor, stations: Vec<StationId>, trains: u16) -> Option<Self> {
        let ring = 2 * stations.len();
        if stations.len() < 2 || usize::from(trains) > ring {
            return None;
        }
        let count = usize::from(trains);
        let trains = (0..count)
            .map(|k| Train {
                id: TrainId {
                    line,
                    number: k as u16,
                },
                position: k * ring / count,
                status: TrainStatus::InService,
            })
            .collect();
        Some(Self {
            line,
            stations,
            trains,
            started: false,
        })
    }

    /// The line.
    pub fn line(&self) -> LineColor {
        self.line
    }

    /// Where each train is: (train, station index, direction).
    pub fn slots(&self) -> impl Iterator<Item = (TrainId, usize, Direction)> + '_ {
        self.trains.iter().map(|train| {
            let (index, direction) = ring_slot(train.position, self.stations.len());
            (train.id, index, direction)
        })
    }

    /// Moves every train one position (the first call places them where they start instead)
    /// and appends one arrival per train to `out`.
    pub fn step(&mut self, out: &mut Vec<ArrivalEvent>) {
        let n = self.stations.len();
        let first = !self.started;
        self.started = true;
        for train in &mut self.trains {
            let previous = ring_slot(train.position, n);
            if !first {
                train.position = (train.position + 1) % (2 * n);
            }
            let (index, direction) = ring_slot(train.position, n);
            out.push(ArrivalEvent {
                station_id: self.stations[index],
                train_id: train.id,
                direction,
                line: self.line,
                train_status: train.status,
                prev_station_id: (!first).then(|| self.stations[previous.0]),
                prev_direction: (!first).then_some(previous.1),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn too_many_trains_or_too_short_a_line_is_refused() {
        let ids = |n| (0..n).map(StationId).collect::<Vec<_>>();
        assert!(LineSim::new(LineColor::Red, ids(1), 1).is_none());
        assert!(LineSim::new(LineColor::Red, ids(3), 7).is_none());
        assert!(LineSim::new(LineColor::Red, ids(3), 6).is_some());
    }
}
