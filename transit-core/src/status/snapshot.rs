use serde::{Deserialize, Serialize};

use crate::event::{HeadwayState, WeatherStatus};
use crate::model::{Direction, LineId, StationId, TrainStatus};

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineView {
    /// Which line.
    pub line: LineId,
    /// Its stations, by their order along the line.
    pub stations: Vec<StationView>,
    /// Its trains in service, where they are now (at a platform or between two stations).
    #[serde(default)]
    pub trains: Vec<TrainPosition>,
    /// How evenly its trains are spaced.
    #[serde(default)]
    pub headways: HeadwayPanel,
}

/// Where a train is: at the platform of `from`, or `progress` of the way from `from` to `to`.
///
/// Between arrivals the position is an estimate: the train leaves after the shortest dwell and
/// runs the nominal run time of the service model (stretched by the weather), and it is never
/// shown further than [`TrainPosition::MAX_PROGRESS`] of the way until it arrives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainPosition {
    /// Its id, e.g. `BL007`.
    pub id: String,
    /// Its run number.
    pub run: Option<i32>,
    /// The direction it runs in.
    pub direction: Direction,
    /// The station it last arrived at.
    pub from: StationId,
    /// The station it runs to; `None` while it stands at `from`.
    pub to: Option<StationId>,
    /// How far from `from` to `to` it is, 0 to [`TrainPosition::MAX_PROGRESS`].
    pub progress: f64,
    /// Its status on its last arrival.
    pub status: TrainStatus,
    /// Its headway state at its last arrival.
    pub headway: HeadwayState,
    /// Seconds behind the train before it at its last station.
    pub headway_s: Option<i32>,
    /// Seconds behind its schedule at its last station (negative: early).
    pub delay_s: Option<i32>,
    /// When its trip was scheduled at `from` (`YYYY-MM-DD HH:MM:SS`, simulated local time; at
    /// a trip's first station, its scheduled departure): what the realtime feeds name its trip
    /// by. `None` for a train not running to a schedule.
    #[serde(default)]
    pub scheduled_time: Option<String>,
}

impl TrainPosition {
    /// The furthest a train is drawn towards a station it has not arrived at yet.
    pub const MAX_PROGRESS: f64 = 0.95;
}

/// The headway figures of one line, over the latest headway at each of its platforms that saw
/// a train in the last hour.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HeadwayPanel {
    /// Platforms with a headway.
    pub platforms: u32,
    /// Their mean headway (seconds).
    pub mean_headway_s: Option<f64>,
    /// The mean of their scheduled headways (seconds).
    pub scheduled_headway_s: Option<f64>,
    /// Coefficient of variation of the headways: standard deviation over mean (0 for evenly
    /// spaced trains).
    pub cv: Option<f64>,
    /// The expected wait of a rider arriving at random: ½·h·(1 + cv²), h the mean headway.
    pub expected_wait_s: Option<f64>,
    /// Trains in service whose latest headway is bunched.
    pub bunched: u32,
    /// … gapped.
    pub gapped: u32,
    /// … on time.
    pub on_time: u32,
}

/// The next train due at a platform.
///
/// `seconds` and `minutes` count down from the board's clock, so they change with every
/// update; `due_at` is the instant itself, which changes only when the estimate does: what
/// the dashboard's live stream sends (the page counts down to it against the board's
/// `simulated_time`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextTrain {
    /// The train.
    pub id: String,
    /// Seconds until it arrives (0: at the platform now).
    pub seconds: u32,
    /// Whole minutes, rounded down as Train Tracker shows them (0: "Due").
    pub minutes: u32,
    /// When it is due, `YYYY-MM-DD HH:MM:SS` in simulated local time like
    /// [`StatusSnapshot::simulated_time`], rounded to the nearest [`NextTrain::DUE_ROUNDING_S`]
    /// seconds; `None` while the board has no clock.
    #[serde(default)]
    pub due_at: Option<String>,
}

impl NextTrain {
    /// The grid `due_at` is rounded to, in seconds. A train's estimate moves by a few seconds
    /// at each arrival even when it runs as estimated (dwells vary with riders, and every
    /// segment's time is the latest train's); half a minute absorbs that for most updates
    /// while the page, which shows whole minutes, stays within 15 s of the exact estimate.
    pub const DUE_ROUNDING_S: i64 = 30;

    /// Train `id`, due at `due`, as the board shows it at `now`: `seconds` and `minutes` from
    /// `now` (0 once due), `due_at` rounded as the board's own estimates are.
    pub fn due(
        id: impl Into<String>,
        now: crate::time::SimTime,
        due: crate::time::SimTime,
    ) -> Self {
        let seconds = (due.0 - now.0).max(0) as f64 / 1000.0;
        let whole = seconds.round() as u32;
        Self {
            id: id.into(),
            seconds: whole,
            minutes: whole / 60,
            due_at: Some(super::view::due_at(now, seconds)),
        }
    }

    /// Whole minutes from `now` (the board's `simulated_time`) to `due_at`, rounded down and
    /// never below 0 (0: "Due"); `minutes` when either is missing or not a date and time.
    pub fn minutes_from(&self, now: Option<&str>) -> u32 {
        let parse = |text: &str| text.parse::<crate::time::SimTime>().ok();
        match (self.due_at.as_deref().and_then(parse), now.and_then(parse)) {
            (Some(due), Some(now)) => {
                u32::try_from((due.0 - now.0).max(0) / 60_000).unwrap_or(u32::MAX)
            }
            _ => self.minutes,
        }
    }
}

/// The latest headway at a platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformHeadway {
    /// The train that arrived last.
    pub train: String,
    /// Seconds since the train before it.
    pub headway_s: Option<i32>,
    /// The scheduled headway.
    pub scheduled_headway_s: Option<i32>,
    /// How the two compare.
    pub state: HeadwayState,
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
    /// The next train due at its platform in direction A.
    #[serde(default)]
    pub next_a: Option<NextTrain>,
    /// … in direction B.
    #[serde(default)]
    pub next_b: Option<NextTrain>,
    /// The latest headway at its platform in direction A.
    #[serde(default)]
    pub headway_a: Option<PlatformHeadway>,
    /// … in direction B.
    #[serde(default)]
    pub headway_b: Option<PlatformHeadway>,
}

/// A train at a platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainView {
    /// Its id, e.g. `BL007`.
    pub id: String,
    /// Its status on arrival.
    pub status: TrainStatus,
    /// Its headway state on arrival.
    #[serde(default)]
    pub headway: HeadwayState,
}

/// Sums over the whole board.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Stations on the board.
    pub stations: u64,
    /// Trains at a platform of a known station.
    pub trains: u64,
    /// Trains in service on the board, at platforms or between stations.
    #[serde(default)]
    pub in_service: u64,
    /// Of those, bunched.
    #[serde(default)]
    pub bunched: u64,
    /// Of those, gapped.
    #[serde(default)]
    pub gapped: u64,
    /// Turnstile entries counted.
    pub entries: u64,
}

/// `value` to `decimals` places: short decimals survive a JSON round trip exactly.
pub(crate) fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}
