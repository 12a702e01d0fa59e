//! Predictions of arrivals and how right they were: the records of `transit-predict`.
//!
//! - [`PredictionEvent`], keyed by [`PredictionKey`] (vehicle, stop, method): the current
//!   prediction of a vehicle's next arrival at a stop ahead, on a compacted table; a tombstone
//!   withdraws it (the vehicle got there, or left service).
//! - [`AccuracyEvent`], keyed by [`AccuracyKey`] (route, hour, horizon bucket, method,
//!   partition): the running score of the predictions by MBTA's buckets, on a compacted table.
//! - [`ProcessorState`], keyed by [`ProcessorStateKey`]: one entry of a processor's state in
//!   its changelog, restored when the member is given the entry's partition.

use std::sync::OnceLock;

use apache_avro::Schema;
use serde::{Deserialize, Serialize};

use crate::codec::{AvroRecord, Keyed};

/// The prediction table's key: one vehicle's next visit to one stop, by one method.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PredictionKey {
    /// The vehicle.
    pub vehicle_id: String,
    /// The static feed's `stop_id`.
    pub stop_id: String,
    /// How it was predicted (`learnt`, `timetable`, `delay`, `latest_segment`).
    pub method: String,
}

/// A vehicle's predicted arrival at a stop ahead of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredictionEvent {
    /// The vehicle.
    pub vehicle_id: String,
    /// The static feed's `stop_id`.
    pub stop_id: String,
    /// How it was predicted (`learnt`, `timetable`, `delay`, `latest_segment`).
    pub method: String,
    /// The trip's `route_id`.
    pub route_id: String,
    /// The `trip_id` of the visit (the vehicle's current trip, or one it runs next).
    pub trip_id: String,
    /// The service date the trip runs on, `YYYYMMDD`.
    pub start_date: String,
    /// For a frequency trip, its instance's start time (`HH:MM:SS`).
    #[serde(default)]
    pub start_time: Option<String>,
    /// The trip's `direction_id`.
    #[serde(default)]
    pub direction_id: Option<i32>,
    /// The stop's place in the trip, 0 for the first.
    #[serde(with = "super::avro_int")]
    pub stop_sequence: u32,
    /// When the vehicle is predicted to arrive, milliseconds since the Unix epoch.
    pub predicted_arrival_time: i64,
    /// When it is predicted to leave.
    pub predicted_departure_time: i64,
    /// When the timetable has it arrive.
    pub scheduled_arrival_time: i64,
    /// The expected error of the arrival, seconds; `None` for a method that states none.
    #[serde(default)]
    pub uncertainty_s: Option<i32>,
    /// When the prediction was made: the time of the arrival it follows from.
    pub issued_at: i64,
    /// The arrivals' partition of the vehicle (the prediction is on the same partition).
    #[serde(with = "super::avro_int")]
    pub source_partition: u32,
    /// The offset of the arrival it follows from.
    #[serde(with = "super::avro_long")]
    pub source_offset: u64,
}

/// The accuracy table's key: route, hour, horizon bucket, method and the partition scored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccuracyKey {
    /// The route.
    pub route_id: String,
    /// The local hour of the day the predictions were sampled at.
    pub hour: i32,
    /// The horizon bucket (`0-3`, `3-6`, `6-12`, `12-30`).
    pub bucket: String,
    /// The method.
    pub method: String,
    /// The partition of the predictions scored.
    #[serde(with = "super::avro_int")]
    pub partition: u32,
}

/// How right the sampled predictions of one [`AccuracyKey`] were.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccuracyEvent {
    /// The route.
    pub route_id: String,
    /// The local hour of the day the predictions were sampled at.
    pub hour: i32,
    /// The horizon bucket (`0-3`, `3-6`, `6-12`, `12-30`).
    pub bucket: String,
    /// The method.
    pub method: String,
    /// The partition scored.
    #[serde(with = "super::avro_int")]
    pub partition: u32,
    /// Predictions whose arrival came within their window.
    #[serde(with = "super::avro_long")]
    pub scored: u64,
    /// Of those, the ones within the bucket's tolerance.
    #[serde(with = "super::avro_long")]
    pub accurate: u64,
    /// The sum of the scored ones' absolute errors, seconds.
    #[serde(with = "super::avro_long")]
    pub abs_error_sum_s: u64,
    /// Predictions whose window closed before their arrival came (wrong).
    #[serde(with = "super::avro_long")]
    pub expired: u64,
    /// Of the expired, those whose arrival came afterwards.
    #[serde(with = "super::avro_long")]
    pub late: u64,
    /// Of the expired, those whose arrival never came while remembered.
    #[serde(with = "super::avro_long")]
    pub never: u64,
    /// Event time of the last change, milliseconds since the Unix epoch.
    pub updated_at: i64,
}

impl AccuracyEvent {
    /// Its key.
    pub fn key(&self) -> AccuracyKey {
        AccuracyKey {
            route_id: self.route_id.clone(),
            hour: self.hour,
            bucket: self.bucket.clone(),
            method: self.method.clone(),
            partition: self.partition,
        }
    }
}

/// The key of one entry of a processor's changelog.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProcessorStateKey {
    /// The input partition the entry belongs to.
    #[serde(with = "super::avro_int")]
    pub partition: u32,
    /// Which part of the state.
    pub kind: String,
    /// The entry's id within its kind.
    pub id: String,
}

/// One entry of a processor's state, as its changelog keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessorState {
    /// The input partition the entry belongs to.
    #[serde(with = "super::avro_int")]
    pub partition: u32,
    /// Which part of the state.
    pub kind: String,
    /// The entry's id within its kind.
    pub id: String,
    /// The entry, as JSON (its shape is the processor's own).
    pub state: String,
}

/// The schema parsed once; an invalid one (a unit test parses each) shows as `Schema::Null`,
/// which no value encodes against, rather than as a panic.
fn parse(cell: &'static OnceLock<Schema>, json: &'static str) -> &'static Schema {
    cell.get_or_init(|| Schema::parse_str(json).unwrap_or(Schema::Null))
}

macro_rules! record {
    ($($ty:ty => $file:literal $(, fast: $fast:ident, $read:ident)?;)+) => {$(
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
                    crate::codec::fast_prediction::$fast(self, buf)
                }

                fn read_body_fast(body: &[u8]) -> Option<(Self, usize)> {
                    crate::codec::fast_prediction::$read(body)
                }
            )?
        }
    )+};
}

// The predictions, their keys and the scores are written and read by hand (see
// `codec/fast/prediction.rs`): a weekday issues millions of predictions, and the scorer's
// changelog keeps an entry per current prediction.
record! {
    PredictionKey => "prediction_key.avsc", fast: prediction_key, read_prediction_key;
    PredictionEvent => "prediction.avsc", fast: prediction, read_prediction;
    AccuracyKey => "accuracy_key.avsc";
    AccuracyEvent => "accuracy.avsc", fast: accuracy, read_accuracy;
    ProcessorStateKey => "processor_state_key.avsc", fast: processor_state_key, read_processor_state_key;
    ProcessorState => "processor_state.avsc", fast: processor_state, read_processor_state;
}

impl Keyed for PredictionEvent {
    type Key = PredictionKey;

    fn key(&self) -> PredictionKey {
        PredictionKey {
            vehicle_id: self.vehicle_id.clone(),
            stop_id: self.stop_id.clone(),
            method: self.method.clone(),
        }
    }
}

impl Keyed for AccuracyEvent {
    type Key = AccuracyKey;

    fn key(&self) -> AccuracyKey {
        AccuracyEvent::key(self)
    }
}

impl Keyed for ProcessorState {
    type Key = ProcessorStateKey;

    fn key(&self) -> ProcessorStateKey {
        ProcessorStateKey {
            partition: self.partition,
            kind: self.kind.clone(),
            id: self.id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses<T: AvroRecord>() {
        let parsed = Schema::parse_str(T::schema_json());
        assert!(
            matches!(parsed, Ok(Schema::Record(_))),
            "{}: {parsed:?}",
            std::any::type_name::<T>()
        );
        assert!(matches!(T::schema(), Schema::Record(_)));
    }

    #[test]
    fn every_schema_parses_as_a_record() {
        parses::<PredictionKey>();
        parses::<PredictionEvent>();
        parses::<AccuracyKey>();
        parses::<AccuracyEvent>();
        parses::<ProcessorStateKey>();
        parses::<ProcessorState>();
    }

    #[test]
    fn a_prediction_round_trips_through_avro() -> Result<(), Box<dyn std::error::Error>> {
        let prediction = PredictionEvent {
            vehicle_id: "v1".into(),
            stop_id: "101N".into(),
            method: "learnt".into(),
            route_id: "1".into(),
            trip_id: "t1".into(),
            start_date: "20250113".into(),
            start_time: None,
            direction_id: Some(0),
            stop_sequence: 3,
            predicted_arrival_time: 1_736_770_000_000,
            predicted_departure_time: 1_736_770_030_000,
            scheduled_arrival_time: 1_736_769_990_000,
            uncertainty_s: Some(42),
            issued_at: 1_736_769_000_000,
            source_partition: 2,
            source_offset: 77,
        };
        let bytes =
            apache_avro::writer::datum::GenericDatumWriter::builder(PredictionEvent::schema())
                .build()?
                .write_ser_to_vec(&prediction)?;
        let back: PredictionEvent =
            apache_avro::reader::datum::GenericDatumReader::builder(PredictionEvent::schema())
                .build()?
                .read_deser(&mut &bytes[..])?;
        assert_eq!(back, prediction);
        Ok(())
    }
}
