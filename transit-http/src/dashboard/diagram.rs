//! The SVG diagram of one line: its stations in order on a track, the trains of direction A
//! above it and those of direction B below it, each where the read model places it (at a
//! platform, or part of the way to the next station), outlined by its headway state.
//!
//! Geometry is shared with the page's script through `data-` attributes (each station's `x`)
//! and the constants below (each direction's `y`), so the script can move trains without
//! knowing the layout rules.

use maud::{html, Markup};
use transit_core::event::HeadwayState;
use transit_core::model::Direction;
use transit_core::status::{LineView, TrainPosition, TrainView};

/// Horizontal distance between stations.
const STEP: u32 = 38;
/// Space left and right of the first and last station.
const MARGIN: u32 = 30;
/// Where the track runs.
pub(crate) const TRACK_Y: u32 = 62;
/// Where direction A's trains sit (above the track).
pub(crate) const TRAIN_A_Y: u32 = 36;
/// Where direction B's trains sit (below the track).
pub(crate) const TRAIN_B_Y: u32 = 88;
/// Where station names start.
const NAME_Y: u32 = 110;
/// Height of the drawing, room for rotated names included.
const HEIGHT: u32 = 250;

/// The x coordinate of the station at `index` along the line.
fn station_x(index: usize) -> u32 {
    MARGIN + index as u32 * STEP
}

/// The diagram of `line`.
pub(crate) fn line_diagram(line: &LineView) -> Markup {
    let count = line.stations.len().max(1);
    let width = 2 * MARGIN + (count as u32 - 1) * STEP + 90;
    let last_x = station_x(count - 1);
    let name = line.line.as_str();
    html! {
        svg class="diagram" viewBox={ "0 0 " (width) " " (HEIGHT) } role="img"
            aria-label={ "Diagram of the " (name) " line" }
            data-train-a-y=(TRAIN_A_Y) data-train-b-y=(TRAIN_B_Y) {
            text class="dir" x="2" y=(TRAIN_A_Y - 18) { "A →" }
            text class="dir" x="2" y=(TRAIN_B_Y + 26) { "← B" }
            line class="track" x1=(MARGIN) y1=(TRACK_Y) x2=(last_x) y2=(TRACK_Y) {}
            g class="stations" {
                @for (index, station) in line.stations.iter().enumerate() {
                    @let x = station_x(index);
                    g class="station" data-id=(station.station_id.0) data-x=(x) {
                        circle cx=(x) cy=(TRACK_Y) r="5" {}
                        text class="name" x=(x) y=(NAME_Y)
                            transform={ "rotate(55 " (x) " " (NAME_Y) ")" } { (station.name) }
                        title { (station.name) }
                    }
                }
            }
            g class="trains" {
                @for train in &line.trains {
                    @if let Some((x, y)) = train_xy(line, train) {
                        (train_marker(train, x, y))
                    }
                }
            }
        }
    }
}

/// Where `train` is drawn: between its stations' x by its progress, on its direction's side.
pub(crate) fn train_xy(line: &LineView, train: &TrainPosition) -> Option<(f64, u32)> {
    let index = |id| line.stations.iter().position(|s| s.station_id == id);
    let from = f64::from(station_x(index(train.from)?));
    let x = match train.to.and_then(index) {
        Some(to) => from + (f64::from(station_x(to)) - from) * train.progress,
        None => from,
    };
    let y = match train.direction {
        Direction::A => TRAIN_A_Y,
        Direction::B => TRAIN_B_Y,
    };
    Some((x, y))
}

/// A train's marker: a labelled box placed with a CSS transform, so moving it animates;
/// classed by its status and its headway state.
fn train_marker(train: &TrainPosition, x: f64, y: u32) -> Markup {
    html! {
        g class={ "train " (train.status.as_str()) " hw-" (train.headway.as_str()) }
            data-train=(train.id)
            style={ "transform: translate(" (format!("{x:.1}")) "px, " (y) "px)" } {
            rect x="-17" y="-8" width="34" height="16" rx="4" {}
            text y="4" { (train.id) }
            title { (train_title(train)) }
        }
    }
}

/// The tooltip of a train: its run, headway state and delay.
pub(crate) fn train_title(train: &TrainPosition) -> String {
    let mut title = train.id.clone();
    if let Some(run) = train.run {
        title.push_str(&format!(" · run {run}"));
    }
    title.push_str(&format!(" · {}", headway_label(train.headway)));
    if let Some(headway) = train.headway_s {
        title.push_str(&format!(" ({} behind)", clock(headway)));
    }
    if let Some(delay) = train.delay_s {
        title.push_str(&format!(
            " · {} {}",
            clock(delay.abs()),
            if delay < 0 { "early" } else { "late" }
        ));
    }
    title
}

/// A headway state as words.
pub(crate) fn headway_label(state: HeadwayState) -> &'static str {
    match state {
        HeadwayState::OnTime => "on time",
        HeadwayState::Bunched => "bunched",
        HeadwayState::Gapped => "gapped",
        HeadwayState::Unknown => "no headway yet",
    }
}

/// Seconds as `m:ss`.
pub(crate) fn clock(seconds: i32) -> String {
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

/// The CSS classes of a train at a platform: its status and its headway state.
pub(crate) fn status_class(train: &TrainView) -> String {
    format!("{} hw-{}", train.status.as_str(), train.headway.as_str())
}
