//! The block plan run at the terminals: a train ends its trip and lays over (or pulls in),
//! turns, and pulls onto the departure platform for the first departure due; a train comes
//! out of the yard for a pull-out; a run ends, and a controller keeps at most one train
//! running late past its run's end in passenger service.

use std::cmp::Reverse;

use rand_distr::{Distribution, Normal};

use super::plan::trip_run;
use super::{LineSim, Surroundings, DAY_MS};
use transit_core::event::ArrivalEvent;
use transit_core::model::{ring_slot, trip_start, Direction, TrainStatus};
use transit_core::speed::{self, seconds_to_ms};

impl LineSim {
    /// The run whose last trip (leaving at `slot`) train `k` ran ends at `at`. If the train is
    /// still on that trip it runs late, past its run's end; if another train already does, a
    /// controller takes one of the two out of service (the one with fewer stops to go: its
    /// riders have the least left to ride on the train behind), so the trains in service never
    /// run more than one over the plan's runs. It says so at once, alights its riders at the
    /// next platform and runs empty to its terminal and the yard.
    pub(super) fn run_ended(&mut self, k: usize, slot: i64, at: i64, out: &mut Vec<ArrivalEvent>) {
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

    /// The yard's turn at a pull-out in `d`: a train comes out onto the terminal's layover
    /// tracks at `at`, [`speed::PLATFORM_LEAD_S`] before the departure, and pulls onto the
    /// platform for the first departure due there.
    pub(super) fn pull_out(&mut self, d: Direction, at: i64) {
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
    pub(super) fn arrival_block(&self, d: Direction) -> usize {
        let ring = self.blocks.len();
        (trip_start(d, self.stations.len()) + ring - 1) % ring
    }

    /// Train `k`, laying over at the terminal where trips in `d` start, pulls onto the
    /// departure platform for the first departure due there, once it has turned and that
    /// departure is [`speed::PLATFORM_LEAD_S`] away, if the platform is free; otherwise it
    /// waits for the time (or for the platform to clear, which wakes it).
    pub(super) fn pull_on(
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
    pub(super) fn end_trip(
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
}
