use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::LineId;
use crate::network::cta;

/// A train's id: its line's prefix and a number, e.g. `BL007`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrainId {
    /// The line it runs on.
    pub line: LineId,
    /// Its number on that line, from 0.
    pub number: u16,
}

impl fmt::Display for TrainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (buf, len) = self.text_bytes();
        f.write_str(std::str::from_utf8(&buf[..len]).map_err(|_| fmt::Error)?)
    }
}

/// Whether a train carries riders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TrainStatus {
    /// Running and carrying riders.
    #[default]
    InService,
    /// Running empty, e.g. to or from a yard.
    OutOfService,
    /// Stopped with a fault.
    BrokenDown,
}

impl TrainStatus {
    /// The name used in events (`in_service`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TrainStatus::InService => "in_service",
            TrainStatus::OutOfService => "out_of_service",
            TrainStatus::BrokenDown => "broken_down",
        }
    }
}

impl fmt::Display for TrainStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a train id like `BL007`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid train id {0:?} (expected a line prefix BL, RL or GL and a number, e.g. BL007)")]
pub struct InvalidTrainId(pub String);

impl FromStr for TrainId {
    type Err = InvalidTrainId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_text(s.as_bytes()).ok_or_else(|| InvalidTrainId(s.to_string()))
    }
}

impl TrainId {
    /// Reads an id's text (`BL007`): a line's prefix, then digits making a `u16`. The
    /// decoders read ids from records' bytes with it, no string needed.
    pub(crate) fn from_text(text: &[u8]) -> Option<Self> {
        let (prefix, digits) = text.split_at_checked(2)?;
        let line = cta::DATA
            .iter()
            .find(|line| line.train_prefix.as_bytes() == prefix)?
            .id;
        if digits.is_empty() {
            return None;
        }
        let mut number: u16 = 0;
        for digit in digits {
            if !digit.is_ascii_digit() {
                return None;
            }
            number = number
                .checked_mul(10)?
                .checked_add(u16::from(digit - b'0'))?;
        }
        Some(TrainId { line, number })
    }
}

impl TrainId {
    /// The id's text (`BL007`) in a stack buffer and its length: arrivals are the hot path and
    /// a `String` per event shows.
    pub(crate) fn text_bytes(&self) -> ([u8; 7], usize) {
        let mut buf = [0u8; 7];
        buf[..2].copy_from_slice(&train_prefix(self.line));
        let mut digits = [0u8; 5];
        let mut n = self.number;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let width = len.max(3);
        for (i, slot) in buf[2..2 + width].iter_mut().enumerate() {
            let from_right = width - 1 - i;
            *slot = if from_right < len {
                digits[from_right]
            } else {
                b'0'
            };
        }
        (buf, 2 + width)
    }
}

/// The two letters a line's train ids start with: CTA's (`BL`), else the id's first two
/// letters or digits in upper case (`_` for any missing). Ids read back name CTA's lines only.
#[inline(always)]
fn train_prefix(line: LineId) -> [u8; 2] {
    if let Some(data) = cta::data(line) {
        let prefix = data.train_prefix.as_bytes();
        return [prefix[0], prefix[1]];
    }
    let mut letters = line
        .as_str()
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_uppercase());
    [
        letters.next().unwrap_or(b'_'),
        letters.next().unwrap_or(b'_'),
    ]
}

impl Serialize for TrainId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (buf, len) = self.text_bytes();
        let text = std::str::from_utf8(&buf[..len]).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
    }
}

impl<'de> Deserialize<'de> for TrainId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_ids_read_like_the_originals() {
        let id = TrainId {
            line: cta::BLUE,
            number: 7,
        };
        assert_eq!(id.to_string(), "BL007");
        assert_eq!("BL007".parse::<TrainId>(), Ok(id));
    }

    #[test]
    fn train_ids_serialize_like_they_display() {
        for number in [0, 7, 42, 999, 1000, u16::MAX] {
            let id = TrainId {
                line: cta::GREEN,
                number,
            };
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{id}\""));
            assert_eq!(serde_json::from_str::<TrainId>(&json).unwrap(), id);
        }
    }

    #[test]
    fn a_line_other_than_ctas_prefixes_its_trains_with_its_id() {
        let id = TrainId {
            line: LineId::from_static("orange-1"),
            number: 12,
        };
        assert_eq!(id.to_string(), "OR012");
        let short = TrainId {
            line: LineId::from_static("1"),
            number: 3,
        };
        assert_eq!(short.to_string(), "1_003");
    }

    #[test]
    fn malformed_train_ids_are_refused() {
        for bad in ["", "B", "BL", "XX001", "BL-1", "BL1a", "BL99999999"] {
            assert!(bad.parse::<TrainId>().is_err(), "{bad:?}");
        }
    }
}
