//! Arrival predictions riders can trust, for any agency's network: learnt from what arrives on
//! the bus, published as a table, and scored against what then happens.
//!
//! It reads only the bus (the vehicles' arrivals, [`transit_core::event::VehicleArrivalEvent`])
//! and the static timetable of the day ([`ServiceDay`]); it never sees the simulation that
//! publishes the arrivals, so it works the same on a real agency's stream.
//!
//! # Layout
//!
//! - [`model`]: the predictor without a bus: learnt run and dwell times by segment, hour and
//!   day type, each vehicle's delay carried forward, the train ahead, holds, vehicles leaving
//!   service; and the baselines ([`Method`]) the same way.
//! - [`estimate`]: the robust estimates it learns with (weighted quantiles, a timetable prior).
//! - [`timetable`]: the service day indexed for it.
//! - [`predictor`]: the predictor as a processor: arrivals in, the compacted prediction table
//!   ([`topics::predictions`]) and the stream of its changes ([`topics::issued`]) out,
//!   exactly once, state restored on every assignment.
//! - [`score`]: MBTA's horizon buckets, sampling as a 30-second poller would, the windowed join.
//! - [`scorer`]: the scorer as a processor: the predictions issued and the arrivals in, the compacted
//!   accuracy table ([`topics::accuracy`]) out.
//! - [`topics`]: the topic names.
//!
//! # Example
//!
//! A two-stop shuttle: the timetable gives 5 minutes from `a` to `b`, and the segment has
//! taken 6 minutes all morning. A vehicle leaving `a` two minutes late is predicted at `b`
//! 8 minutes after its scheduled departure, not 7 (the delay carried unchanged) nor 5 (the
//! timetable).
//!
//! ```
//! use std::sync::Arc;
//!
//! use chrono::NaiveDate;
//! use transit_core::event::VehicleArrivalEvent;
//! use transit_core::model::{LineId, Rgb, Route};
//! use transit_core::network::service_day::*;
//! use transit_predict::model::{Issue, Issued, Method, PredictConfig, Predictor};
//! use transit_predict::timetable::Timetable;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let route = LineId::new("S")?;
//! let stop = |id: &str| StopPlace { id: id.into(), name: id.into(), location: None, parent: None };
//! let at = |stop, s| ScheduledStop { stop: StopIndex(stop), arrival_s: s, departure_s: s, stop_sequence: stop };
//! let date = NaiveDate::from_ymd_opt(2025, 1, 13).ok_or("a date")?;
//! // Trips every 10 minutes from 06:00, each its own vehicle.
//! let trips: Vec<ScheduledTrip> = (0..20)
//!     .map(|i| ScheduledTrip {
//!         trip_id: format!("t{i}"),
//!         route,
//!         direction_id: Some(0),
//!         frequency_start_s: None,
//!         exact_times: false,
//!         shape_id: None,
//!         vehicle: VehicleIndex(i),
//!         stops: vec![at(0, 6 * 3_600 + i * 600), at(1, 6 * 3_600 + i * 600 + 300)],
//!     })
//!     .collect();
//! let vehicles = (0..20)
//!     .map(|i| Vehicle { id: format!("v{i}"), trips: vec![TripIndex(i)] })
//!     .collect();
//! let day = ServiceDay {
//!     timezone: "America/New_York".into(),
//!     requested: date,
//!     date,
//!     start_unix_s: 1_736_744_400,
//!     routes: vec![Route { id: route, short_name: "S".into(), long_name: String::new(),
//!         route_type: 3, color: Rgb::WHITE, text_color: Rgb::BLACK }],
//!     stops: vec![stop("a"), stop("b")],
//!     trips,
//!     vehicles,
//! };
//! let ms = |s: u32| (day.start_unix_s + i64::from(s)) * 1_000;
//! let arrival = |i: u32, stop: u32, late_s: u32| VehicleArrivalEvent {
//!     route_id: "S".into(),
//!     trip_id: format!("t{i}"),
//!     start_date: "20250113".into(),
//!     start_time: None,
//!     direction_id: Some(0),
//!     stop_id: ["a", "b"][stop as usize].into(),
//!     stop_sequence: stop,
//!     vehicle_id: format!("v{i}"),
//!     arrival_time: ms(6 * 3_600 + i * 600 + stop * 300 + late_s),
//!     departure_time: ms(6 * 3_600 + i * 600 + stop * 300 + late_s),
//!     scheduled_arrival_time: ms(6 * 3_600 + i * 600 + stop * 300),
//!     scheduled_departure_time: ms(6 * 3_600 + i * 600 + stop * 300),
//!     boarded: 0,
//!     alighted: 0,
//! };
//! let mut predictor = Predictor::new(Arc::new(Timetable::new(Arc::new(day.clone()))), PredictConfig::default());
//! let mut issued = Issued::default();
//! // All morning, every vehicle takes 6 minutes from a to b.
//! for i in 0..10 {
//!     predictor.observe(0, u64::from(2 * i), &arrival(i, 0, 0), &mut issued)?;
//!     predictor.observe(0, u64::from(2 * i + 1), &arrival(i, 1, 60), &mut issued)?;
//! }
//! // Vehicle 10 leaves a two minutes late.
//! let mut issued = Issued::default();
//! predictor.observe(0, 20, &arrival(10, 0, 120), &mut issued)?;
//! let predicted = |method: Method| {
//!     issued.changes.iter().find_map(|change| match change {
//!         Issue::Upsert(p) if p.method == method.as_str() => Some(p.predicted_arrival_time),
//!         _ => None,
//!     })
//! };
//! let scheduled_departure = ms(6 * 3_600 + 10 * 600);
//! assert_eq!(predicted(Method::Learnt), Some(scheduled_departure + 480_000));
//! assert_eq!(predicted(Method::Delay), Some(scheduled_departure + 420_000));
//! assert_eq!(predicted(Method::Timetable), Some(scheduled_departure + 300_000));
//! # Ok(())
//! # }
//! ```

pub mod estimate;
pub mod model;
pub mod predictor;
pub mod recovery;
pub mod score;
pub mod scorer;
pub mod timetable;

mod changelog;
mod side_input;

pub use model::{Method, PredictConfig, Predictor};
pub use predictor::{PredictionProcessor, PredictorStats};
pub use score::{ScoreConfig, Summary, BUCKETS};
pub use scorer::{ScoreProcessor, ScorerStats};

pub use transit_core::network::service_day::ServiceDay;

/// The latest instant a record may name, ms since the Unix epoch (the year 5138): times from
/// the bus beyond it (or before 1970) are refused, so no sum of a few of them can overflow.
pub const MAX_MS: i64 = 100_000_000_000_000;

/// Whether `ms` is an instant the predictor and scorer take (see [`MAX_MS`]).
pub fn sane_ms(ms: i64) -> bool {
    (0..=MAX_MS).contains(&ms)
}

/// The topic names of predictions, under a deployment's prefix.
pub mod topics {
    use transit_core::topics::Topics;

    /// The current predictions per vehicle, stop and method (compacted; as many partitions as
    /// the arrivals): `<prefix>.predictions.table.v1`.
    pub fn predictions(topics: &Topics) -> String {
        format!("{}.predictions.table.v1", topics.prefix())
    }

    /// Every change of the prediction table, in order, kept (not compacted), withdrawals as
    /// records without a value: what the scorer reads, as a compacted topic keeps only the
    /// latest of each key and drops withdrawals (on the in-memory bus at once, on Kafka once
    /// a segment is cleaned): `<prefix>.predictions.issued.v1`.
    pub fn issued(topics: &Topics) -> String {
        format!("{}.predictions.issued.v1", topics.prefix())
    }

    /// The accuracy per route, hour, horizon bucket, method and partition (compacted):
    /// `<prefix>.predictions.accuracy.v1`.
    pub fn accuracy(topics: &Topics) -> String {
        format!("{}.predictions.accuracy.v1", topics.prefix())
    }

    /// The predictor's changelog (compacted): `<prefix>.predictions.predictor-state.v1`.
    pub fn predictor_state(topics: &Topics) -> String {
        format!("{}.predictions.predictor-state.v1", topics.prefix())
    }

    /// The scorer's changelog (compacted): `<prefix>.predictions.scorer-state.v1`.
    pub fn scorer_state(topics: &Topics) -> String {
        format!("{}.predictions.scorer-state.v1", topics.prefix())
    }
}
