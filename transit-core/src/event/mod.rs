//! The events that flow on the bus, as Rust values.
//!
//! Each type here has an Avro schema in `transit-core/schemas/` and is encoded with
//! [`crate::codec`]. Keys are chosen for partitioning: the station where a station is
//! concerned, so one station's records stay in order on one partition.

mod arrival;
mod headway;
mod station;
mod turnstile;
mod vehicle_arrival;
mod weather;

pub use arrival::ArrivalEvent;
pub use headway::{HeadwayEvent, HeadwayKey, HeadwayState};
pub use station::{StationEvent, StationLineKey, StationRow};
pub use turnstile::{TurnstileCount, TurnstileEvent};
pub use vehicle_arrival::{VehicleArrivalEvent, VehicleKey};
pub use weather::{WeatherEvent, WeatherKey, WeatherStatus};

use serde::{Deserialize, Serialize};

use crate::model::StationId;

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
