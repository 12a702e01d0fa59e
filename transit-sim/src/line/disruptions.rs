//! What-ifs applied to a line, each said at once by an event: a hold at a station, a train
//! taken out of service, a breakdown.

use super::LineSim;
use transit_core::event::ArrivalEvent;
use transit_core::model::{Direction, StationId, TrainId, TrainStatus};

impl LineSim {
    /// Says at once that train `k`'s status changed at `at`: an event at the platform it last
    /// reached (its block's; laying over, its terminal's arrival platform), from that
    /// platform, with the new status. Not in service, so readers learn no run time from it.
    pub(super) fn status_event(&self, k: usize, at: i64, out: &mut Vec<ArrivalEvent>) {
        let train = &self.trains[k];
        let block = match (train.cell, train.layover) {
            (Some(cell), _) => cell / 2,
            (None, Some(d)) => self.arrival_block(d),
            (None, None) => return,
        };
        out.push(self.event_at_block(k, block, train.status, at));
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
}

#[cfg(test)]
mod tests {
    use super::super::tests::{blocks, id, line};
    use super::super::Empty;
    use super::*;
    use crate::SimTime;

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
