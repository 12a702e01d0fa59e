//! A vehicle of any agency's feed at a stop: the record the timetabled simulation publishes.
//!
//! Unlike the CTA's [`ArrivalEvent`](super::ArrivalEvent), whose lines are an enum and each
//! have a topic (kept for CTA's consumers; it carries its route's `route_id` too), the route
//! here is data alone (the feed's `route_id`), so one topic holds every route of any feed,
//! keyed by vehicle. The record carries what GTFS-realtime names a trip
//! and a stop by (`trip_id`, `route_id`, `start_date`, `start_time`, `stop_id`), in the
//! static feed's own ids, and real instants (UTC), so the live feeds built from it sit beside
//! the static feed as an agency's do.
//!
//! Positions between stops are not published: a reader derives them from a vehicle's last
//! arrival (its departure time) and the static feed's run time to the next stop, as the
//! simulation itself moves it.

use std::sync::OnceLock;

use apache_avro::Schema;
use serde::{Deserialize, Serialize};

use crate::codec::{AvroRecord, Keyed};

/// The key of records about one vehicle, so its records stay in order on one partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VehicleKey {
    /// The vehicle's id in the feeds.
    pub vehicle_id: String,
}

/// A vehicle arrived at a stop of its trip (and when it leaves), against the timetable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VehicleArrivalEvent {
    /// The trip's `route_id`.
    pub route_id: String,
    /// The static feed's `trip_id`.
    pub trip_id: String,
    /// The service date the trip runs on, `YYYYMMDD`.
    pub start_date: String,
    /// For a frequency trip, its instance's start time, `HH:MM:SS` (past 24:00 after
    /// midnight); `None` for a trip of its own schedule.
    #[serde(default)]
    pub start_time: Option<String>,
    /// The trip's `direction_id`, when the feed gives it.
    #[serde(default)]
    pub direction_id: Option<i32>,
    /// The static feed's `stop_id`.
    pub stop_id: String,
    /// The stop's place in the trip, 0 for the first.
    #[serde(with = "super::avro_int")]
    pub stop_sequence: u32,
    /// The vehicle running the trip.
    pub vehicle_id: String,
    /// When it arrived: milliseconds since the Unix epoch, UTC.
    pub arrival_time: i64,
    /// When it leaves, in the same milliseconds.
    pub departure_time: i64,
    /// When the timetable has it arrive.
    pub scheduled_arrival_time: i64,
    /// When the timetable has it leave.
    pub scheduled_departure_time: i64,
    /// Riders who got on.
    #[serde(with = "super::avro_int")]
    pub boarded: u32,
    /// Riders who got off.
    #[serde(with = "super::avro_int")]
    pub alighted: u32,
}

impl VehicleArrivalEvent {
    /// Seconds late arriving (negative: early).
    pub fn delay_s(&self) -> i64 {
        (self.arrival_time - self.scheduled_arrival_time) / 1_000
    }
}

/// The schema parsed once; an invalid one (a unit test parses both) shows as `Schema::Null`,
/// which no value encodes against, rather than as a panic.
fn parse(cell: &'static OnceLock<Schema>, json: &'static str) -> &'static Schema {
    cell.get_or_init(|| Schema::parse_str(json).unwrap_or(Schema::Null))
}

impl AvroRecord for VehicleKey {
    fn schema_json() -> &'static str {
        include_str!("../../schemas/vehicle_key.avsc")
    }

    fn schema() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        parse(&SCHEMA, Self::schema_json())
    }
}

impl AvroRecord for VehicleArrivalEvent {
    fn schema_json() -> &'static str {
        include_str!("../../schemas/vehicle_arrival.avsc")
    }

    fn schema() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        parse(&SCHEMA, Self::schema_json())
    }
}

impl Keyed for VehicleArrivalEvent {
    type Key = VehicleKey;

    fn key(&self) -> VehicleKey {
        VehicleKey {
            vehicle_id: self.vehicle_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_schemas_parse_as_records() {
        for json in [
            VehicleKey::schema_json(),
            VehicleArrivalEvent::schema_json(),
        ] {
            let parsed = Schema::parse_str(json);
            assert!(matches!(parsed, Ok(Schema::Record(_))), "{parsed:?}");
        }
        assert!(matches!(VehicleArrivalEvent::schema(), Schema::Record(_)));
        assert!(matches!(VehicleKey::schema(), Schema::Record(_)));
    }

    #[test]
    fn the_times_are_timestamp_millis() {
        let Schema::Record(record) = VehicleArrivalEvent::schema() else {
            panic!("not a record");
        };
        let field = |name: &str| record.fields.iter().find(|f| f.name == name);
        for name in [
            "arrival_time",
            "departure_time",
            "scheduled_arrival_time",
            "scheduled_departure_time",
        ] {
            assert!(
                matches!(
                    field(name).map(|f| &f.schema),
                    Some(Schema::TimestampMillis)
                ),
                "{name}"
            );
        }
    }
}
