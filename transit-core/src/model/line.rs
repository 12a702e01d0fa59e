use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One of the three 'L' lines this board shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LineColor {
    /// The Blue Line (O'Hare - Forest Park).
    Blue,
    /// The Red Line (Howard - 95th/Dan Ryan).
    Red,
    /// The Green Line (Harlem/Lake - Ashland/63rd, Cottage Grove).
    Green,
}

impl LineColor {
    /// Every line, in the order the board shows them.
    pub const ALL: [LineColor; 3] = [LineColor::Blue, LineColor::Red, LineColor::Green];

    /// The lowercase name used in topics, events and the CSV header (`blue`, `red`, `green`).
    pub fn as_str(self) -> &'static str {
        match self {
            LineColor::Blue => "blue",
            LineColor::Red => "red",
            LineColor::Green => "green",
        }
    }

    /// The two-letter prefix of this line's train ids (`BL`, `RL`, `GL`).
    pub fn train_prefix(self) -> &'static str {
        match self {
            LineColor::Blue => "BL",
            LineColor::Red => "RL",
            LineColor::Green => "GL",
        }
    }

    /// Position in [`LineColor::ALL`], for arrays indexed by line.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for LineColor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the three lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown line {0:?} (expected blue, red or green)")]
pub struct UnknownLine(pub String);

impl FromStr for LineColor {
    type Err = UnknownLine;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "blue" => Ok(LineColor::Blue),
            "red" => Ok(LineColor::Red),
            "green" => Ok(LineColor::Green),
            _ => Err(UnknownLine(s.to_string())),
        }
    }
}

/// Which way a train runs along its line.
///
/// `A` runs towards increasing station order, `B` towards decreasing order; each station has
/// one platform (slot) per direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Towards the line's last station (increasing `order`).
    A,
    /// Towards the line's first station (decreasing `order`).
    B,
}

impl Direction {
    /// `"a"` or `"b"`, as in the events.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::A => "a",
            Direction::B => "b",
        }
    }

    /// The other direction.
    pub fn reversed(self) -> Self {
        match self {
            Direction::A => Direction::B,
            Direction::B => Direction::A,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The slot (station index, direction) of position `position` on the ring of a line with
/// `stations` stations.
///
/// The ring runs (0,A) → (1,A) → … → (n-1,A) → (n-1,B) → (n-2,B) → … → (0,B) → (0,A): a train
/// moving one position either moves one station or turns back at a terminal.
pub fn ring_slot(position: usize, stations: usize) -> (usize, Direction) {
    if position < stations {
        (position, Direction::A)
    } else {
        (2 * stations - 1 - position, Direction::B)
    }
}

/// The ring position (see [`ring_slot`]) where a trip in `direction` starts on a line with
/// `stations` stations: its first terminal's departure platform.
pub fn trip_start(direction: Direction, stations: usize) -> usize {
    match direction {
        Direction::A => 0,
        Direction::B => stations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_names_round_trip() {
        for line in LineColor::ALL {
            assert_eq!(line.as_str().parse::<LineColor>(), Ok(line));
            assert_eq!(LineColor::ALL[line.index()], line);
        }
        assert_eq!(" Blue ".parse::<LineColor>(), Ok(LineColor::Blue));
        assert!("brown".parse::<LineColor>().is_err());
    }

    #[test]
    fn directions_reverse() {
        assert_eq!(Direction::A.reversed(), Direction::B);
        assert_eq!(Direction::B.reversed().reversed(), Direction::B);
    }
}
