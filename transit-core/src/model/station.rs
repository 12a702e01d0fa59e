use std::fmt;

use serde::{Deserialize, Serialize};

use super::LineId;

/// The CTA's id of a station (the parent of its two directional stops), e.g. `40380` for
/// Clark/Lake. A station served by two lines has one id on both.
///
/// On the wire it is an Avro `int` (ids are five-digit numbers; larger ones are refused when
/// the data is parsed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct StationId(pub u32);

impl Serialize for StationId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let id = i32::try_from(self.0).map_err(|_| {
            serde::ser::Error::custom(format!("station id {} does not fit an Avro int", self.0))
        })?;
        serializer.serialize_i32(id)
    }
}

impl<'de> Deserialize<'de> for StationId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = i32::deserialize(deserializer)?;
        u32::try_from(id)
            .map(StationId)
            .map_err(|_| serde::de::Error::custom(format!("negative station id {id}")))
    }
}

impl fmt::Display for StationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A station as one line sees it: its place on that line and its two directional stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Station {
    /// The CTA station id.
    pub id: StationId,
    /// The station's name, e.g. `Clark/Lake`.
    pub name: String,
    /// Its position along the line, from 0.
    pub order: u32,
    /// The line this entry belongs to.
    pub line: LineId,
    /// The stop (platform) ids for direction a and direction b.
    pub stop_ids: [u32; 2],
}
