//! CTA's 'L' lines of the embedded network: their ids and what riders see of them.
//!
//! The embedded stations file flags each row for the Blue, Red and Green lines; these are
//! those lines as data (ids, names, colours, train-id prefixes, Train Tracker's codes), in the
//! order the board shows them. Another network brings its own lines.

use crate::model::{LineId, Rgb, Route};

/// The Blue Line (O'Hare - Forest Park).
pub const BLUE: LineId = LineId::from_static("blue");
/// The Red Line (Howard - 95th/Dan Ryan).
pub const RED: LineId = LineId::from_static("red");
/// The Green Line (Harlem/Lake - Ashland/63rd, Cottage Grove).
pub const GREEN: LineId = LineId::from_static("green");

/// CTA's lines, in the order the board shows them.
pub const LINES: [LineId; 3] = [BLUE, RED, GREEN];

/// What the embedded data says of one CTA line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtaLine {
    /// The line's id in topics, events and the stations file's flag column (`blue`).
    pub id: LineId,
    /// CTA's own route id, in its GTFS feed and Train Tracker's `rt` (`Blue`, `G`).
    pub route_id: &'static str,
    /// `route_long_name` (`Blue Line`).
    pub long_name: &'static str,
    /// `route_color`.
    pub color: Rgb,
    /// `route_text_color`.
    pub text_color: Rgb,
    /// The two letters its train ids start with (`BL007`).
    pub train_prefix: &'static str,
    /// The hundreds of its Train Tracker run numbers.
    pub run_base: i32,
}

/// CTA's lines' data, in [`LINES`] order.
pub const DATA: [CtaLine; 3] = [
    CtaLine {
        id: BLUE,
        route_id: "Blue",
        long_name: "Blue Line",
        color: Rgb([0x00, 0xA1, 0xDE]),
        text_color: Rgb::WHITE,
        train_prefix: "BL",
        run_base: 100,
    },
    CtaLine {
        id: RED,
        route_id: "Red",
        long_name: "Red Line",
        color: Rgb([0xC6, 0x0C, 0x30]),
        text_color: Rgb::WHITE,
        train_prefix: "RL",
        run_base: 800,
    },
    CtaLine {
        id: GREEN,
        route_id: "G",
        long_name: "Green Line",
        color: Rgb([0x00, 0x9B, 0x3A]),
        text_color: Rgb::WHITE,
        train_prefix: "GL",
        run_base: 600,
    },
];

/// The data of `line`, if it is one of CTA's.
#[inline(always)]
pub fn data(line: LineId) -> Option<&'static CtaLine> {
    position(line).and_then(|i| DATA.get(i))
}

/// `line`'s `route_id` in the static GTFS feed: CTA's own for its lines (`Blue`, `Red`, `G`,
/// as in its GTFS feed, GTFS-realtime and Train Tracker's `rt`), the line's id for any other
/// network's line (whose line ids are its feed's route ids).
///
/// ```
/// use transit_core::network::cta;
/// use transit_core::model::LineId;
///
/// assert_eq!(cta::route_id(cta::GREEN).as_str(), "G");
/// let one = LineId::new("1")?;
/// assert_eq!(cta::route_id(one), one);
/// # Ok::<(), transit_core::model::InvalidLineId>(())
/// ```
#[inline(always)]
pub fn route_id(line: LineId) -> LineId {
    data(line).map_or(line, |data| LineId::from_static(data.route_id))
}

/// The position of `line` in [`LINES`], if it is one of CTA's.
#[inline(always)]
pub fn position(line: LineId) -> Option<usize> {
    match line.as_str() {
        "blue" => Some(0),
        "red" => Some(1),
        "green" => Some(2),
        _ => None,
    }
}

/// `line`'s route: subway (GTFS type 1) in CTA's colours, named by its long name.
pub fn route(line: &CtaLine) -> Route {
    Route {
        id: line.id,
        short_name: String::new(),
        long_name: line.long_name.into(),
        route_type: 1,
        color: line.color,
        text_color: line.text_color,
    }
}
