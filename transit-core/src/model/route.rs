//! Lines as data: a line's id ([`LineId`]) and what a rider sees of it ([`Route`]).
//!
//! CTA's three lines are one network among others: their ids (`blue`, `red`, `green`) and
//! colours come from the embedded data, and any GTFS feed's `routes.txt` gives its own.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

/// The most distinct line ids one process keeps (a 200-route bus feed needs 200): ids read
/// from records are refused beyond it, so a stream of made-up ids cannot grow memory.
pub const MAX_LINE_IDS: usize = 65_536;

/// The longest line id, in bytes.
pub const MAX_LINE_ID_LEN: usize = 255;

/// A line's id: CTA's `blue`, `red` or `green`, or a feed's `route_id`.
///
/// A small copyable value: ids are interned once per process (at most [`MAX_LINE_IDS`]), so
/// events and tables carry a pointer, not a string. Ids compare, hash and sort by their text.
///
/// ```
/// use transit_core::model::LineId;
///
/// let one = LineId::new("1")?;
/// assert_eq!(one.as_str(), "1");
/// assert_eq!(LineId::new("1")?, one);
/// assert!(LineId::new("").is_err());
/// # Ok::<(), transit_core::model::InvalidLineId>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LineId(&'static str);

/// Text that cannot be a line id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidLineId {
    /// An empty id.
    #[error("a line id cannot be empty")]
    Empty,
    /// An id longer than [`MAX_LINE_ID_LEN`] bytes.
    #[error("a line id of {0} bytes is longer than the {MAX_LINE_ID_LEN} allowed")]
    TooLong(usize),
    /// An id holding a control character (it would break logs, CSV and XML).
    #[error("the line id {0:?} holds a control character")]
    ControlCharacter(String),
    /// More distinct ids than [`MAX_LINE_IDS`] in this process.
    #[error("more than {MAX_LINE_IDS} distinct line ids in one process; {0:?} refused")]
    TooMany(String),
}

impl LineId {
    /// An id known when the program is written (CTA's lines, tests). Not checked: use
    /// [`LineId::new`] for anything read from outside.
    pub const fn from_static(id: &'static str) -> Self {
        LineId(id)
    }

    /// The id `id`, interned: checked (not empty, at most [`MAX_LINE_ID_LEN`] bytes, no control
    /// character) and kept once per process.
    pub fn new(id: &str) -> Result<Self, InvalidLineId> {
        if id.is_empty() {
            return Err(InvalidLineId::Empty);
        }
        if id.len() > MAX_LINE_ID_LEN {
            return Err(InvalidLineId::TooLong(id.len()));
        }
        if id.chars().any(char::is_control) {
            return Err(InvalidLineId::ControlCharacter(id.to_string()));
        }
        static INTERNED: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
        let mut interned = INTERNED
            .get_or_init(Default::default)
            .lock()
            // The set is only ever inserted into whole: a panic elsewhere leaves it valid.
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(&known) = interned.get(id) {
            return Ok(LineId(known));
        }
        if interned.len() >= MAX_LINE_IDS {
            return Err(InvalidLineId::TooMany(id.to_string()));
        }
        // Bounded by MAX_LINE_IDS ids of at most MAX_LINE_ID_LEN bytes: kept for the process.
        let kept: &'static str = Box::leak(id.to_owned().into_boxed_str());
        interned.insert(kept);
        Ok(LineId(kept))
    }

    /// The id's text.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for LineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for LineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl FromStr for LineId {
    type Err = InvalidLineId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LineId::new(s)
    }
}

impl Serialize for LineId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for LineId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        LineId::new(&id).map_err(serde::de::Error::custom)
    }
}

/// A colour, three bytes red, green, blue; written as six hex digits, as GTFS does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rgb(pub [u8; 3]);

impl Rgb {
    /// White, GTFS's default route colour.
    pub const WHITE: Rgb = Rgb([0xFF, 0xFF, 0xFF]);
    /// Black, GTFS's default text colour.
    pub const BLACK: Rgb = Rgb([0, 0, 0]);

    /// The text colour that reads best on this colour (black or white), by WCAG's contrast
    /// ratio: for a feed whose `route_text_color` is missing or too faint.
    pub fn readable_text(self) -> Rgb {
        if self.contrast(Rgb::BLACK) >= self.contrast(Rgb::WHITE) {
            Rgb::BLACK
        } else {
            Rgb::WHITE
        }
    }

    /// WCAG 2.1's contrast ratio between two colours, 1 to 21.
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    /// WCAG 2.1's relative luminance, 0 (black) to 1 (white).
    pub fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.0;
        0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    }
}

impl fmt::Display for Rgb {
    /// Six upper-case hex digits (`00A1DE`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.0;
        write!(f, "{r:02X}{g:02X}{b:02X}")
    }
}

/// Text that is not six hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a colour of six hex digits like 00A1DE")]
pub struct InvalidRgb(pub String);

impl FromStr for Rgb {
    type Err = InvalidRgb;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s.trim().trim_start_matches('#');
        let byte = |i: usize| {
            hex.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        };
        match (hex.len(), byte(0), byte(2), byte(4)) {
            (6, Some(r), Some(g), Some(b)) => Ok(Rgb([r, g, b])),
            _ => Err(InvalidRgb(s.to_string())),
        }
    }
}

/// A line as riders know it (GTFS's `routes.txt`): its names, kind and colours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The line's id (`route_id`).
    pub id: LineId,
    /// `route_short_name` (`1`, `Blue`); may be empty when the long name is not.
    pub short_name: String,
    /// `route_long_name` (`Blue Line`); may be empty when the short name is not.
    pub long_name: String,
    /// `route_type`: 0 tram, 1 subway or metro, 2 rail, 3 bus, ... (GTFS's codes, extended
    /// ones included).
    pub route_type: u16,
    /// `route_color`.
    pub color: Rgb,
    /// `route_text_color`, readable on [`Route::color`].
    pub text_color: Rgb,
}

impl Route {
    /// The route types run as rail by default (GTFS's tram, subway, rail, cable tram, funicular
    /// and monorail): one train per block, and trains never pass one another.
    pub const RAIL_TYPES: [u16; 6] = [0, 1, 2, 5, 7, 12];

    /// Whether its vehicles run on rails (never passing one another).
    pub fn is_rail(&self) -> bool {
        Self::RAIL_TYPES.contains(&self.route_type) || (100..=117).contains(&self.route_type)
    }

    /// The name a rider knows it by: the short name, else the long one, else its id.
    pub fn name(&self) -> &str {
        [self.short_name.as_str(), self.long_name.as_str()]
            .into_iter()
            .find(|name| !name.is_empty())
            .unwrap_or(self.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_interned_and_compare_by_text() {
        let a = LineId::new("A-train").expect("an id");
        let b = LineId::new(&String::from("A-train")).expect("an id");
        assert_eq!(a, b);
        assert!(std::ptr::eq(a.as_str(), b.as_str()), "interned once");
        assert_eq!(
            LineId::from_static("blue"),
            LineId::new("blue").expect("an id")
        );
        assert!(LineId::from_static("blue") < LineId::from_static("red"));
    }

    #[test]
    fn bad_ids_are_refused() {
        assert_eq!(LineId::new(""), Err(InvalidLineId::Empty));
        assert!(matches!(
            LineId::new(&"x".repeat(256)),
            Err(InvalidLineId::TooLong(256))
        ));
        assert!(matches!(
            LineId::new("a\nb"),
            Err(InvalidLineId::ControlCharacter(_))
        ));
    }

    #[test]
    fn ids_round_trip_through_serde() {
        let id = LineId::new("GS").expect("an id");
        let json = serde_json::to_string(&id).expect("serialised");
        assert_eq!(json, "\"GS\"");
        let back: LineId = serde_json::from_str(&json).expect("deserialised");
        assert_eq!(back, id);
        assert!(serde_json::from_str::<LineId>("\"\"").is_err());
    }

    #[test]
    fn colours_parse_print_and_pick_readable_text() {
        let blue: Rgb = "00a1de".parse().expect("a colour");
        assert_eq!(blue.to_string(), "00A1DE");
        assert_eq!("#FFFFFF".parse(), Ok(Rgb::WHITE));
        assert!("00A1D".parse::<Rgb>().is_err());
        assert!("GGGGGG".parse::<Rgb>().is_err());
        assert!("00A1DÉ".parse::<Rgb>().is_err());
        assert_eq!(Rgb([0xFF, 0xD7, 0x00]).readable_text(), Rgb::BLACK);
        assert_eq!(Rgb([0xC6, 0x0C, 0x30]).readable_text(), Rgb::WHITE);
        assert!((Rgb::BLACK.contrast(Rgb::WHITE) - 21.0).abs() < 1e-9);
    }

    #[test]
    fn a_route_is_named_by_what_it_has() {
        let mut route = Route {
            id: LineId::from_static("R1"),
            short_name: String::new(),
            long_name: "Harbour Line".into(),
            route_type: 2,
            color: Rgb::WHITE,
            text_color: Rgb::BLACK,
        };
        assert_eq!(route.name(), "Harbour Line");
        assert!(route.is_rail());
        route.long_name.clear();
        assert_eq!(route.name(), "R1");
        route.route_type = 3;
        assert!(!route.is_rail());
    }
}
