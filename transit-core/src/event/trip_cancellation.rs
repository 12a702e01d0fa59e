//! A service event of any agency's feed: a trip dropped before it ran.
//!
//! The timetabled simulation drops a trip at its terminal (a late train turned to close a gap,
//! or a trip not run for want of a crew) and says so on `<prefix>.vehicles.cancellations.v1`
//! ([`Topics::trip_cancellations`](crate::topics::Topics::trip_cancellations)), keyed by the
//! vehicle that was to run it, as soon as it is decided: the predictor stops predicting the
//! trip (the vehicle is next due for the trip after it) and GTFS-realtime says `CANCELED`.

use serde::{Deserialize, Serialize};

use super::VehicleKey;
use crate::codec::Keyed;

/// A trip that will not run, in the static feed's ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TripCancellation {
    /// The trip's `route_id`.
    pub route_id: String,
    /// The static feed's `trip_id`.
    pub trip_id: String,
    /// The service date the trip was to run on, `YYYYMMDD`.
    pub start_date: String,
    /// For a frequency trip, its instance's start time, `HH:MM:SS`; `None` for a trip of its
    /// own schedule.
    #[serde(default)]
    pub start_time: Option<String>,
    /// The trip's `direction_id`, when the feed gives it.
    #[serde(default)]
    pub direction_id: Option<i32>,
    /// The vehicle that was to run it.
    pub vehicle_id: String,
    /// When the timetable has it leave its first stop: milliseconds since the Unix epoch, UTC.
    pub scheduled_start_time: i64,
    /// When the timetable has it reach its last stop, in the same milliseconds.
    pub scheduled_end_time: i64,
    /// When it was dropped, in the same milliseconds.
    pub announced_time: i64,
}

impl Keyed for TripCancellation {
    type Key = VehicleKey;

    fn key(&self) -> VehicleKey {
        VehicleKey {
            vehicle_id: self.vehicle_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use apache_avro::Schema;

    use super::*;
    use crate::codec::AvroRecord;

    #[test]
    fn the_schema_parses_as_a_record_and_a_cancellation_round_trips() {
        assert!(matches!(
            TripCancellation::schema(),
            Schema::Record(record) if record.name.name() == "TripCancellation"
        ));
        let dropped = TripCancellation {
            route_id: "1".into(),
            trip_id: "t-0815".into(),
            start_date: "20261207".into(),
            start_time: None,
            direction_id: Some(1),
            vehicle_id: "1-4".into(),
            scheduled_start_time: 1_796_648_100_000,
            scheduled_end_time: 1_796_651_100_000,
            announced_time: 1_796_647_000_000,
        };
        let value = apache_avro::to_value(&dropped).expect("a cancellation serialises");
        let value = value
            .resolve(TripCancellation::schema())
            .expect("it fits its schema");
        let back: TripCancellation = apache_avro::from_value(&value).expect("and reads back");
        assert_eq!(back, dropped);
    }
}
