//! The SVG diagram of one line: its stations in order on a track, the trains of direction A
//! above it and those of direction B below it.
//!
//! Geometry is shared with the page's script through `data-` attributes (each station's `x`)
//! and the constants below (each direction's `y`), so the script can move trains without
//! knowing the layout rules.

use maud::{html, Markup};
use transit_core::status::{LineView, TrainView};

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
                @for (index, station) in line.stations.iter().enumerate() {
                    @if let Some(train) = &station.train_a {
                        (train_marker(train, station_x(index), TRAIN_A_Y))
                    }
                    @if let Some(train) = &station.train_b {
                        (train_marker(train, station_x(index), TRAIN_B_Y))
                    }
                }
            }
        }
    }
}

/// A train's marker: a labelled box placed with a CSS transform, so moving it animates.
fn train_marker(train: &TrainView, x: u32, y: u32) -> Markup {
    html! {
        g class={ "train " (status_class(train)) } data-train=(train.id)
            style={ "transform: translate(" (x) "px, " (y) "px)" } {
            rect x="-17" y="-8" width="34" height="16" rx="4" {}
            text y="4" { (train.id) }
        }
    }
}

/// The CSS class of a train's status.
pub(crate) fn status_class(train: &TrainView) -> &'static str {
    use transit_core::model::TrainStatus;
    match train.status {
        TrainStatus::InService => "in_service",
        TrainStatus::OutOfService => "out_of_service",
        TrainStatus::BrokenDown => "broken_down",
    }
}
