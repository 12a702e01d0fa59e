use serde::{Deserialize, Serialize};

use crate::model::{Direction, LineId, StationId, TrainId};
use crate::time::SimTime;

/// The headway table's key: one platform (a station of a line, in one direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HeadwayKey {
    /// The line.
    #[serde(with = "super::avro_line")]
    pub line: LineId,
    /// The station.
    pub station_id: StationId,
    /// The platform's direction.
    pub direction: Direction,
}

/// How a train's headway compares with the scheduled one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadwayState {
    /// No headway to judge (the first train after a break in service), or no schedule to
    /// judge it by.
    #[default]
    Unknown,
    /// Between the bunched and the gapped share of the scheduled headway.
    OnTime,
    /// Too close behind the train before it.
    Bunched,
    /// Too far behind the train before it.
    Gapped,
}

impl HeadwayState {
    /// The name used in the schema, JSON and CSS: `on_time`, `bunched`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::OnTime => "on_time",
            Self::Bunched => "bunched",
            Self::Gapped => "gapped",
        }
    }
}

/// The headway table's value: the latest train at a platform and its headway.
///
/// Like a turnstile count, it carries the input position it was computed from
/// (`source_partition`, `source_offset`): a restarted processor restores the platform from it
/// and skips arrivals at or before that offset, so a replayed arrival never becomes a second,
/// zero-second headway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadwayEvent {
    /// The line.
    #[serde(with = "super::avro_line")]
    pub line: LineId,
    /// The station.
    pub station_id: StationId,
    /// The platform's direction.
    pub direction: Direction,
    /// The train that arrived.
    pub train_id: TrainId,
    /// Its run.
    #[serde(default)]
    pub run_number: Option<i32>,
    /// When it arrived.
    pub arrival_time: SimTime,
    /// Seconds since the train before it arrived here; `None` for the first after a break.
    #[serde(default)]
    pub headway_s: Option<i32>,
    /// The scheduled headway of its trip; `None` without a schedule.
    #[serde(default)]
    pub scheduled_headway_s: Option<i32>,
    /// How the headway compares with the scheduled one.
    #[serde(default)]
    pub state: HeadwayState,
    /// Seconds after its scheduled time (negative: early).
    #[serde(default)]
    pub delay_s: Option<i32>,
    /// The partition of the line's arrivals topic this platform's arrivals come from.
    #[serde(with = "super::avro_int")]
    pub source_partition: u32,
    /// The offset of the arrival this record is about.
    #[serde(with = "super::avro_long")]
    pub source_offset: u64,
}

impl HeadwayEvent {
    /// Its key.
    pub fn key(&self) -> HeadwayKey {
        HeadwayKey {
            line: self.line,
            station_id: self.station_id,
            direction: self.direction,
        }
    }
}
