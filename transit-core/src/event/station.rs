use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{LineId, StationId};
use crate::network::cta;

/// A raw row of the `stations` table (the columns of `cta_stations.csv`), as the station source
/// publishes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationRow {
    /// The directional stop's id (the incrementing column of the JDBC source).
    #[serde(with = "super::avro_int")]
    pub stop_id: u32,
    /// `N`, `S`, `E` or `W`.
    pub direction_id: String,
    /// The stop's name, e.g. `Harlem (63rd-bound)`.
    pub stop_name: String,
    /// The station's name.
    pub station_name: String,
    /// The station's long name, e.g. `Harlem/Lake (Green Line)`.
    pub station_descriptive_name: String,
    /// The parent station's id.
    pub station_id: StationId,
    /// Position along the line.
    #[serde(with = "super::avro_int")]
    pub order: u32,
    /// Served by the Red Line.
    pub red: bool,
    /// Served by the Blue Line.
    pub blue: bool,
    /// Served by the Green Line.
    pub green: bool,
}

impl StationRow {
    /// The lines among CTA's three this row is flagged for, in board order.
    pub fn lines(&self) -> impl Iterator<Item = LineId> + '_ {
        [
            (cta::BLUE, self.blue),
            (cta::RED, self.red),
            (cta::GREEN, self.green),
        ]
        .into_iter()
        .filter_map(|(line, flagged)| flagged.then_some(line))
    }
}

/// The key of the station table: a station on one line (Clark/Lake is on two lines with one
/// station id, so the id alone would let one line's entry overwrite the other's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StationLineKey {
    /// The station.
    pub station_id: StationId,
    /// The line.
    #[serde(with = "super::avro_line")]
    pub line: LineId,
}

/// A clean station, one per station and line: the station table's value (the original Faust
/// app's output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationEvent {
    /// The station.
    pub station_id: StationId,
    /// Its name.
    pub station_name: Arc<str>,
    /// Its position along the line.
    #[serde(with = "super::avro_int")]
    pub order: u32,
    /// Its line.
    #[serde(with = "super::avro_line")]
    pub line: LineId,
}
