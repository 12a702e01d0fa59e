use serde::{Deserialize, Serialize};

use crate::model::{Direction, LineId, StationId, TrainId, TrainStatus};
use crate::network::cta;
use crate::time::SimTime;

/// A train arrived at a station (the original's `arrival` value schema, with enums, and the
/// fields added since, each optional with a default so the schema evolves BACKWARD).
///
/// The line is the schema's three-symbol `Line` enum (CTA's lines, one topic each); the route
/// as data is `route_id`, the static GTFS feed's id of the line, added at the end.
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
    /// Its line's `route_id` in the static GTFS feed (CTA's `Blue`, `Red`, `G`: see
    /// [`cta::route_id`]): the route as data, as GTFS-realtime names it. `None` from writers
    /// that predate the field; read the route with [`ArrivalEvent::route`], which falls back
    /// to `line` for those.
    #[serde(default)]
    pub route_id: Option<LineId>,
}

impl ArrivalEvent {
    /// The static feed's `route_id` of the train's route: the record's `route_id` when its
    /// writer gave one, else the one of its `line` (records written before the field).
    ///
    /// ```
    /// use transit_core::event::ArrivalEvent;
    /// use transit_core::model::{Direction, StationId, TrainId, TrainStatus};
    /// use transit_core::network::cta;
    ///
    /// let older = ArrivalEvent {
    ///     station_id: StationId(40380),
    ///     train_id: TrainId { line: cta::BLUE, number: 7 },
    ///     direction: Direction::A,
    ///     line: cta::BLUE,
    ///     train_status: TrainStatus::InService,
    ///     prev_station_id: None,
    ///     prev_direction: None,
    ///     arrival_time: None,
    ///     scheduled_time: None,
    ///     scheduled_headway_s: None,
    ///     delay_s: None,
    ///     run_number: None,
    ///     prev_arrival_time: None,
    ///     route_id: None,
    /// };
    /// assert_eq!(older.route().as_str(), "Blue");
    /// let newer = ArrivalEvent { route_id: Some(cta::route_id(cta::BLUE)), ..older };
    /// assert_eq!(newer.route().as_str(), "Blue");
    /// ```
    pub fn route(&self) -> LineId {
        self.route_id.unwrap_or_else(|| cta::route_id(self.line))
    }
}
