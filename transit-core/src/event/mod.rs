//! The events that flow on the bus, as Rust values.
//!
//! Each type here has an Avro schema in `transit-core/schemas/` and is encoded with
//! [`crate::codec`]. Keys are chosen for partitioning: the station where a station is
//! concerned, so one station's records stay in order on one partition.

mod arrival;
mod station;
mod turnstile;
mod weather;

pub use arrival::ArrivalEvent;
pub use station::{StationEvent, StationLineKey, StationRow};
pub use turnstile::TurnstileEvent;
pub use weather::{WeatherEvent, WeatherKey, WeatherStatus};

use serde::{Deserialize, Serialize};

use crate::model::StationId;

/// The key of records about one station: arrivals, turnstile entries, raw station rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StationKey {
    /// The station the record is about.
    pub station_id: StationId,
}
