use std::fmt;

use serde::{Deserialize, Serialize};

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
    fn directions_reverse() {
        assert_eq!(Direction::A.reversed(), Direction::B);
        assert_eq!(Direction::B.reversed().reversed(), Direction::B);
    }
}
