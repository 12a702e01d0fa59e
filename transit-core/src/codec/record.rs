use std::sync::OnceLock;

use apache_avro::Schema;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::event::{
    ArrivalEvent, HeadwayEvent, HeadwayKey, StationEvent, StationKey, StationLineKey, StationRow,
    TripCancellation, TurnstileCount, TurnstileEvent, WeatherEvent, WeatherKey,
};

/// A Rust type with an Avro schema of its own (a `.avsc` file in `transit-core/schemas/`).
pub trait AvroRecord: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The schema as Avro JSON, as registered.
    fn schema_json() -> &'static str;

    /// The parsed schema.
    ///
    /// The schemas are embedded at compile time and a unit test parses every one, so this
    /// cannot fail in a released build; an invalid schema would show as `Schema::Null`, which
    /// no value encodes against, rather than as a panic.
    fn schema() -> &'static Schema;

    /// Appends the Avro body with a hand-written writer, for the hot record types; `false`
    /// (the default) means "use apache-avro's schema-aware serde writer". A hand-written writer
    /// must produce exactly the bytes apache-avro does, which `transit-core/tests/it/codec.rs`
    /// checks for arbitrary values.
    fn write_body_fast(&self, _buf: &mut Vec<u8>) -> bool {
        false
    }

    /// Reads an Avro body written with this type's own schema with a hand-written reader, for
    /// the hot record types: the value and the bytes it took. `None` (the default, and for
    /// anything malformed) means "use apache-avro's serde reader", which then reports what is
    /// wrong. Tests check it against apache-avro for arbitrary values and bytes.
    fn read_body_fast(_body: &[u8]) -> Option<(Self, usize)> {
        None
    }
}

/// An event whose key is derived from its value.
pub trait Keyed: AvroRecord {
    /// The key's type (hashable: encoded keys are cached).
    type Key: AvroRecord + std::hash::Hash + Eq;

    /// The key this event is published under.
    fn key(&self) -> Self::Key;
}

fn parse(cell: &'static OnceLock<Schema>, json: &'static str) -> &'static Schema {
    cell.get_or_init(|| Schema::parse_str(json).unwrap_or(Schema::Null))
}

macro_rules! avro_record {
    ($($ty:ty => $file:literal $(, fast: $fast:path, $read:path)?);+ $(;)?) => {$(
        impl AvroRecord for $ty {
            fn schema_json() -> &'static str {
                include_str!(concat!("../../schemas/", $file))
            }

            fn schema() -> &'static Schema {
                static SCHEMA: OnceLock<Schema> = OnceLock::new();
                parse(&SCHEMA, Self::schema_json())
            }

            $(
                fn write_body_fast(&self, buf: &mut Vec<u8>) -> bool {
                    $fast(self, buf)
                }

                fn read_body_fast(body: &[u8]) -> Option<(Self, usize)> {
                    $read(body)
                }
            )?
        }
    )+};
}

avro_record! {
    StationKey => "station_key.avsc", fast: super::fast::station_key, super::fast::read_station_key;
    ArrivalEvent => "arrival.avsc", fast: super::fast::arrival, super::fast::read_arrival;
    TurnstileEvent => "turnstile.avsc", fast: super::fast::turnstile, super::fast::read_turnstile;
    WeatherKey => "weather_key.avsc";
    WeatherEvent => "weather.avsc";
    StationRow => "station_row.avsc";
    StationLineKey => "station_line_key.avsc", fast: super::fast::station_line_key, super::fast::read_station_line_key;
    StationEvent => "station.avsc";
    TurnstileCount => "turnstile_count.avsc", fast: super::fast::turnstile_count, super::fast::read_turnstile_count;
    HeadwayKey => "headway_key.avsc", fast: super::fast::headway_key, super::fast::read_headway_key;
    HeadwayEvent => "headway.avsc", fast: super::fast::headway, super::fast::read_headway;
    TripCancellation => "trip_cancellation.avsc";
}

impl Keyed for ArrivalEvent {
    type Key = StationKey;

    fn key(&self) -> StationKey {
        StationKey {
            station_id: self.station_id,
        }
    }
}

impl Keyed for TurnstileEvent {
    type Key = StationKey;

    fn key(&self) -> StationKey {
        StationKey {
            station_id: self.station_id,
        }
    }
}

impl Keyed for StationRow {
    type Key = StationKey;

    fn key(&self) -> StationKey {
        StationKey {
            station_id: self.station_id,
        }
    }
}

impl Keyed for TurnstileCount {
    type Key = StationLineKey;

    fn key(&self) -> StationLineKey {
        StationLineKey {
            station_id: self.station_id,
            line: self.line,
        }
    }
}

impl Keyed for HeadwayEvent {
    type Key = HeadwayKey;

    fn key(&self) -> HeadwayKey {
        HeadwayEvent::key(self)
    }
}

impl Keyed for StationEvent {
    type Key = StationLineKey;

    fn key(&self) -> StationLineKey {
        StationLineKey {
            station_id: self.station_id,
            line: self.line,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses<T: AvroRecord>() {
        let parsed = Schema::parse_str(T::schema_json());
        assert!(parsed.is_ok(), "{}: {parsed:?}", std::any::type_name::<T>());
        assert!(matches!(T::schema(), Schema::Record(_)));
    }

    #[test]
    fn every_embedded_schema_parses() {
        parses::<StationKey>();
        parses::<ArrivalEvent>();
        parses::<TurnstileEvent>();
        parses::<WeatherKey>();
        parses::<WeatherEvent>();
        parses::<StationRow>();
        parses::<StationLineKey>();
        parses::<StationEvent>();
        parses::<TurnstileCount>();
        parses::<HeadwayKey>();
        parses::<HeadwayEvent>();
    }
}
