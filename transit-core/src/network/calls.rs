//! A CTA train's call at a stop of its scheduled trip, as the simulation knows it when the
//! train arrives, and [`NameCalls`], which names it by a static GTFS feed's ids.
//!
//! CTA's simulation runs trips by their departure from the terminal (a slot of the
//! [`NominalTimetable`](super::timetable::NominalTimetable)); the static feed that names those
//! trips (`trip_id`, `start_date`), their stops (`stop_id`) and their scheduled times is built
//! by `transit-gtfs`, which the simulation does not depend on. So the simulation says what it
//! knows ([`TrainCall`]) and a [`NameCalls`] given to its driver turns each call into the
//! [`VehicleArrivalEvent`] any agency's arrivals are, on the one topic of them.

use std::fmt;

use crate::event::VehicleArrivalEvent;
use crate::model::{Direction, LineId, StationId, TrainId};
use crate::time::SimTime;

/// A train in revenue service arrived at a stop of its scheduled trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainCall {
    /// The line.
    pub line: LineId,
    /// The train (its id, as `BL007`, is the vehicle's).
    pub train: TrainId,
    /// The direction of its trip.
    pub direction: Direction,
    /// Its trip's scheduled departure from the terminal: the slot that names the trip.
    pub trip_departure: SimTime,
    /// The stop's place in the trip, 0 for the terminal it left.
    pub stop: u32,
    /// The station's index on the line.
    pub station: usize,
    /// The station.
    pub station_id: StationId,
    /// When it arrived.
    pub arrival: SimTime,
    /// When its trip was scheduled to arrive there, as the simulation's timetable has it.
    pub scheduled_arrival: SimTime,
    /// When it leaves, as its dwell and the schedule have it at its arrival (a what-if that
    /// holds it later, or a breakdown, is not known yet).
    pub departure: SimTime,
    /// Riders who got on (expected entries since the train before, rounded).
    pub boarded: u32,
}

/// Names a CTA train's call by a static GTFS feed's ids: the record any agency's arrivals are.
pub trait NameCalls: fmt::Debug + Send + Sync {
    /// `call` as an arrival of the feed's trip at the feed's stop; `None` when the feed has no
    /// such trip or stop, or its schedule is not the one the train runs by (a simulation of
    /// another network or ridership than the feed's).
    fn vehicle_arrival(&self, call: &TrainCall) -> Option<VehicleArrivalEvent>;
}
