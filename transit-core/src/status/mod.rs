//! The status read model: what the dashboard shows, built from the pipeline's topics.
//!
//! - [`StatusModel`] applies stations, arrivals, headways, turnstile counts and weather; it is plain data
//!   with no I/O, so tests drive it directly.
//! - [`StatusSnapshot`] is the model at one moment, as the dashboard renders it and as
//!   `/api/status` returns it (serde).
//! - [`StatusService`] feeds a model from any [`crate::EventBus`] and publishes snapshots on a
//!   watch channel; records it cannot decode go to the dead-letter topic and it carries on.
//! - [`PredictionTable`] is the read model of the predictor's table: the current predictions
//!   of one method (`learnt`, what riders are served) by trip, vehicle and stop, for any
//!   agency's feeds and boards.

mod headways;
mod model;
mod motion;
pub mod predictions;
mod service;
mod snapshot;
mod view;

pub use model::{Slot, StatusModel};
pub use predictions::{PredictionTable, TripInstance, LEARNT};
pub use service::{StatusService, StatusStats, CONSUMER, SNAPSHOT_EVERY};
pub use snapshot::{
    HeadwayPanel, LineView, NextTrain, PlatformHeadway, StationView, StatusSnapshot, Totals,
    TrainPosition, TrainView, WeatherView,
};
