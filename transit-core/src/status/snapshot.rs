use serde::{Deserialize, Serialize};

use crate::event::WeatherStatus;
use crate::model::{LineColor, StationId, TrainStatus};

/// The status board at one moment: what `/` renders and `/api/status` returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusSnapshot {
    /// Grows with every change the model applied; equal versions mean equal snapshots.
    pub version: u64,
    /// The latest event time seen, `YYYY-MM-DD HH:MM:SS` in simulated local time.
    pub simulated_time: Option<String>,
    /// The latest weather reading.
    pub weather: Option<WeatherView>,
    /// Blue, Red and Green, each with its stations in order.
    pub lines: Vec<LineView>,
    /// Sums over the board.
    pub totals: Totals,
}

/// A weather reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WeatherView {
    /// Degrees Fahrenheit.
    pub temperature: f32,
    /// The sky.
    pub status: WeatherStatus,
}

/// One line of the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineView {
    /// Which line.
    pub line: LineColor,
    /// Its stations, by their order along the line.
    pub stations: Vec<StationView>,
}

/// One station of a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationView {
    /// The station.
    pub station_id: StationId,
    /// Its name.
    pub name: String,
    /// Its position along the line.
    pub order: u32,
    /// The train at its platform in direction A.
    pub train_a: Option<TrainView>,
    /// The train at its platform in direction B.
    pub train_b: Option<TrainView>,
    /// Turnstile entries counted for this line.
    pub entries: u64,
}

/// A train at a platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainView {
    /// Its id, e.g. `BL007`.
    pub id: String,
    /// Its status on arrival.
    pub status: TrainStatus,
}

/// Sums over the whole board.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Stations on the board.
    pub stations: u64,
    /// Trains at a platform of a known station.
    pub trains: u64,
    /// Turnstile entries counted.
    pub entries: u64,
}
