use serde::{Deserialize, Serialize};

use crate::model::{Direction, LineId, StationId, TrainId, TrainStatus};
use crate::time::SimTime;

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
    #[serde(with = "super::avro_line")]
    pub line: LineId,
    /// Its status on arrival.
    pub train_status: TrainStatus,
    /// The station it came from; `None` for its first arrival.
    pub prev_station_id: Option<StationId>,
    /// The direction it had there; `None` for its first arrival.
    pub prev_direction: Option<Direction>,
    /// When it arrived (simulated); `None` from writers that predate the field.
    #[serde(default)]
    pub arrival_time: Option<SimTime>,
    /// When its trip was scheduled to be there (at a trip's first station, its scheduled
    /// departure); `None` for a train not running to a schedule.
    #[serde(default)]
    pub scheduled_time: Option<SimTime>,
    /// The scheduled headway of its trip, in seconds; `None` without a schedule.
    #[serde(default)]
    pub scheduled_headway_s: Option<i32>,
    /// Seconds after its scheduled time (negative: early); `None` without a schedule.
    #[serde(default)]
    pub delay_s: Option<i32>,
    /// Its run: the number it keeps across trips (the number of its id).
    #[serde(default)]
    pub run_number: Option<i32>,
    /// When it arrived at `prev_station_id`; `None` for its first arrival. With
    /// `arrival_time`, how long the segment between the two stations took, from this event
    /// alone (readers that apply arrivals in any order learn the same segment times).
    #[serde(default)]
    pub prev_arrival_time: Option<SimTime>,
}
