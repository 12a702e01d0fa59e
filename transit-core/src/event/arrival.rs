use serde::{Deserialize, Serialize};

use crate::model::{Direction, LineColor, StationId, TrainId, TrainStatus};
use crate::sim::SimTime;

/// A train arrived at a station (the original's `arrival` value schema, with enums, and the
/// fields added since, each optional with a default so the schema evolves BACKWARD).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrivalEvent {
    /// Where the train arrived.
    pub station_id: StationId,
    /// Which train.
    pub train_id: TrainId,
    /// The direction it arrived in.
    pub direction: Direction,
    /// Its line.
    pub line: LineColor,
    /// Its status on arrival.
    pub train_status: TrainStatus,
    /// The station it came from; `None` for its first arrival.
    pub prev_station_id: Option<StationId>,
    /// The direction it had there; `None` for its first arrival.
    pub prev_direction: Option<Direction>,
    /// When it arrived (simulated); `None` from writers that predate the field.
    #[serde(default)]
    pub arrival_time: Option<SimTime>,
}
