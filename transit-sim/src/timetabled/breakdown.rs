//! A breakdown what-if on the timetabled railway: a train stops between two stops for a while,
//! then is cleared and runs on. On rail, the trains behind it cannot pass: they wait at the
//! stops behind (one train to a stretch) and come on in a bunch once it clears, which the
//! dispatchers' spacing then spreads out again.

use transit_core::model::LineId;
use transit_core::network::service_day::{StopIndex, TripIndex, VehicleIndex};

/// A breakdown to happen: the first train of `route` to leave a stop (not its trip's last) at
/// or after `at_s` stops just beyond it for `duration_s`, then runs on to the next stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breakdown {
    /// The route.
    pub route: LineId,
    /// From when, seconds from the service day's start.
    pub at_s: u32,
    /// How long the train stands, seconds.
    pub duration_s: u32,
}

/// A breakdown that happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokenDown {
    /// What was asked for.
    pub breakdown: Breakdown,
    /// The train that broke down.
    pub vehicle: VehicleIndex,
    /// Its trip.
    pub trip: TripIndex,
    /// The stop it had left.
    pub from: StopIndex,
    /// The stop it was running to.
    pub to: StopIndex,
    /// When it stopped (as it left `from`), seconds from the service day's start.
    pub stopped_s: u32,
    /// When it was cleared and ran on.
    pub cleared_s: u32,
}
