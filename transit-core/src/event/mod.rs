//! The events that flow on the bus, as Rust values.
//!
//! Each type here has an Avro schema in `transit-core/schemas/` and is encoded with
//! [`crate::codec`]. Keys are chosen for partitioning: the station where a station is
//! concerned, so one station's records stay in order on one partition.

mod arrival;
mod headway;
mod prediction;
mod station;
mod trip_cancellation;
mod turnstile;
mod vehicle_arrival;
mod weather;

pub use arrival::ArrivalEvent;
pub use headway::{HeadwayEvent, HeadwayKey, HeadwayState};
pub use prediction::{
    AccuracyEvent, AccuracyKey, PredictionEvent, PredictionKey, ProcessorState, ProcessorStateKey,
};
pub use station::{StationEvent, StationLineKey, StationRow};
pub use trip_cancellation::TripCancellation;
pub use turnstile::{TurnstileCount, TurnstileEvent};
pub use vehicle_arrival::{VehicleArrivalEvent, VehicleKey};
pub use weather::{WeatherEvent, WeatherKey, WeatherStatus};

use serde::{Deserialize, Serialize};

use crate::model::{LineId, StationId};

/// The key of records about one station: arrivals, turnstile entries, raw station rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StationKey {
    /// The station the record is about.
    pub station_id: StationId,
}

/// Serde for `u32` columns that are Avro `int`s: ids and orders are small, and a value that
/// does not fit is refused rather than wrapped.
pub(crate) mod avro_int {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &u32, serializer: S) -> Result<S::Ok, S::Error> {
        let value = i32::try_from(*value)
            .map_err(|_| serde::ser::Error::custom(format!("{value} does not fit an Avro int")))?;
        serializer.serialize_i32(value)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
        let value = i32::deserialize(deserializer)?;
        u32::try_from(value)
            .map_err(|_| serde::de::Error::custom(format!("negative value {value}")))
    }
}

/// The symbols of the schemas' `Line` enum, in the schemas' order: the lines today's schemas
/// can carry (CTA's). A line id beyond them is refused when written, with an error naming it.
pub const LINE_SYMBOLS: [&str; 3] = ["blue", "red", "green"];

/// The line of each of [`LINE_SYMBOLS`].
pub(crate) const LINE_SYMBOL_IDS: [LineId; 3] = [
    LineId::from_static("blue"),
    LineId::from_static("red"),
    LineId::from_static("green"),
];

/// The position of `line` among [`LINE_SYMBOLS`]: what the `Line` enum writes for it.
#[inline(always)]
pub fn line_symbol(line: LineId) -> Option<u32> {
    match line.as_str() {
        "blue" => Some(0),
        "red" => Some(1),
        "green" => Some(2),
        _ => None,
    }
}

/// Serde for a [`LineId`] that is the schemas' `Line` enum: written as its symbol (a unit
/// variant, so JSON still reads `"blue"`), read from any symbol.
pub(crate) mod avro_line {
    use std::fmt;

    use serde::de::{EnumAccess, VariantAccess, Visitor};
    use serde::{Deserializer, Serializer};

    use super::{line_symbol, LINE_SYMBOLS};
    use crate::model::LineId;

    pub(crate) fn serialize<S: Serializer>(
        line: &LineId,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match line_symbol(*line) {
            Some(index) => serializer.serialize_unit_variant("Line", index, line.as_str()),
            None => Err(serde::ser::Error::custom(format!(
                "the line {:?} cannot be written: the schema's Line enum has only {}",
                line.as_str(),
                LINE_SYMBOLS.join(", ")
            ))),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<LineId, D::Error> {
        deserializer.deserialize_enum("Line", &LINE_SYMBOLS, LineVisitor)
    }

    struct LineVisitor;

    impl<'de> Visitor<'de> for LineVisitor {
        type Value = LineId;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a line id")
        }

        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<LineId, E> {
            LineId::new(text).map_err(E::custom)
        }

        fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<LineId, A::Error> {
            let (Symbol(line), variant) = data.variant()?;
            variant.unit_variant()?;
            Ok(line)
        }
    }

    /// An enum's symbol, read as the identifier it is (Avro's readers give symbols only so).
    struct Symbol(LineId);

    impl<'de> serde::Deserialize<'de> for Symbol {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_identifier(LineVisitor).map(Symbol)
        }
    }
}

/// Serde for `u64` counters and offsets that are Avro `long`s; a value beyond `i64` is refused.
pub(crate) mod avro_long {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        let value = i64::try_from(*value)
            .map_err(|_| serde::ser::Error::custom(format!("{value} does not fit an Avro long")))?;
        serializer.serialize_i64(value)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        let value = i64::deserialize(deserializer)?;
        u64::try_from(value)
            .map_err(|_| serde::de::Error::custom(format!("negative value {value}")))
    }
}
