//! The simulated clock's time: what records carry as their timestamp, and what the simulator
//! and everything that reads the bus count in.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};

/// A moment of simulated time: milliseconds since 1970-01-01T00:00 of Chicago local time.
///
/// The simulation lives in local time (day types and hours are local), with no time zone or
/// daylight-saving shifts; records carry this value as their timestamp. In records it is an
/// Avro `long`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct SimTime(pub i64);

impl SimTime {
    /// The moment a local date and time names.
    pub fn from_naive(time: NaiveDateTime) -> Self {
        SimTime(time.and_utc().timestamp_millis())
    }

    /// The local date and time; `None` beyond chrono's range.
    pub fn to_naive(self) -> Option<NaiveDateTime> {
        DateTime::from_timestamp_millis(self.0).map(|t| t.naive_utc())
    }

    /// The local date.
    pub fn date(self) -> Option<NaiveDate> {
        self.to_naive().map(|t| t.date())
    }

    /// The hour of the day, 0-23.
    pub fn hour(self) -> u32 {
        self.to_naive().map_or(0, |t| t.hour())
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_naive() {
            Some(time) => write!(f, "{}", time.format("%Y-%m-%d %H:%M:%S")),
            None => write!(f, "{} ms", self.0),
        }
    }
}

/// Text that is not a date and time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a date and time like 2026-11-02T05:00")]
pub struct InvalidSimTime(pub String);

impl FromStr for SimTime {
    type Err = InvalidSimTime;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        [
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d %H:%M",
        ]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .map(SimTime::from_naive)
        .ok_or_else(|| InvalidSimTime(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        let time: SimTime = "2026-11-02T05:00".parse().unwrap();
        assert_eq!(time.to_string(), "2026-11-02 05:00:00");
        assert_eq!(time.hour(), 5);
        assert_eq!("2026-11-02".parse::<SimTime>().unwrap().hour(), 0);
        assert!("yesterday".parse::<SimTime>().is_err());
    }
}
