//! The domain: lines, stations, directions, trains.
//!
//! These are plain values. How they are parsed from the CTA data sets lives in
//! [`crate::network`]; how they move lives in the simulator (`transit-sim`).

mod line;
mod route;
mod station;
mod train;

pub use line::{ring_slot, trip_start, Direction};
pub use route::{InvalidLineId, InvalidRgb, LineId, Rgb, Route, MAX_LINE_IDS, MAX_LINE_ID_LEN};
pub use station::{Station, StationId};
pub use train::{InvalidTrainId, TrainId, TrainStatus};
