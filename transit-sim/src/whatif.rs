//! What-if controls: incidents injected into a running simulation, for testing apps that read
//! its feeds (a delay at a station, a train taken out of service, a breakdown).
//!
//! A what-if takes effect at a simulated time; [`Simulation`](crate::Simulation) applies it
//! between the moves before and after that moment, so the same what-ifs at the same times give
//! the same events at any tick length. The text form (`--what-if`) is
//! `delay:LINE:STATION[:a|b]:SECONDS`, `out-of-service:TRAIN`, `break-down:TRAIN:MINUTES`,
//! each with an optional `@TIME` (Chicago local, e.g. `@2026-11-02T08:00`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::SimTime;
use transit_core::model::{Direction, LineId, StationId, TrainId};
use transit_core::network::{cta, resolve_line};

/// The longest delay or breakdown accepted: a day. Longer is a typo, not a test.
pub const MAX_WHAT_IF_SECONDS: u32 = 86_400;

/// An incident to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WhatIf {
    /// Holds the next train to reach a station (on one platform, or either) that many seconds
    /// longer at its platform.
    Delay {
        /// The line.
        line: LineId,
        /// The station (its id on the line, e.g. 40380).
        station: StationId,
        /// The platform's direction; `None`: whichever train comes first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        direction: Option<Direction>,
        /// How much longer it stands there.
        seconds: u32,
    },
    /// Takes a train out of service: it carries no riders and leaves service at the next
    /// terminal it reaches.
    OutOfService {
        /// The train, e.g. `BL007`.
        train: TrainId,
    },
    /// Breaks a train down where it is for that many minutes; then it carries on.
    BreakDown {
        /// The train, e.g. `RL012`.
        train: TrainId,
        /// How long it stands.
        minutes: u32,
    },
}

impl WhatIf {
    /// The line it concerns.
    pub fn line(&self) -> LineId {
        match self {
            WhatIf::Delay { line, .. } => *line,
            WhatIf::OutOfService { train } | WhatIf::BreakDown { train, .. } => train.line,
        }
    }

    /// Checks what can be checked before it runs: durations within
    /// [`MAX_WHAT_IF_SECONDS`]. (Whether the station is on the line, or the train in service,
    /// is the simulation's to say.)
    pub fn check(&self) -> Result<(), InvalidWhatIf> {
        let seconds = match self {
            WhatIf::Delay { seconds, .. } => u64::from(*seconds),
            WhatIf::BreakDown { minutes, .. } => u64::from(*minutes) * 60,
            WhatIf::OutOfService { .. } => 0,
        };
        if seconds > u64::from(MAX_WHAT_IF_SECONDS) {
            return Err(InvalidWhatIf::TooLong(seconds));
        }
        Ok(())
    }
}

impl fmt::Display for WhatIf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WhatIf::Delay {
                line,
                station,
                direction,
                seconds,
            } => {
                write!(f, "delay:{line}:{}", station.0)?;
                if let Some(direction) = direction {
                    write!(f, ":{}", direction.as_str())?;
                }
                write!(f, ":{seconds}")
            }
            WhatIf::OutOfService { train } => write!(f, "out-of-service:{train}"),
            WhatIf::BreakDown { train, minutes } => write!(f, "break-down:{train}:{minutes}"),
        }
    }
}

/// A what-if and when it takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledWhatIf {
    /// Simulated time it takes effect (Chicago local, `2026-11-02T08:00`); `None`: at once
    /// (the start of the next tick). A time already past takes effect at once too.
    #[serde(default, with = "local_time", skip_serializing_if = "Option::is_none")]
    pub at: Option<SimTime>,
    /// What happens.
    #[serde(flatten)]
    pub what: WhatIf,
}

/// `at` as local date-time text rather than milliseconds, as people write it.
mod local_time {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::SimTime;

    pub(super) fn serialize<S: Serializer>(at: &Option<SimTime>, s: S) -> Result<S::Ok, S::Error> {
        match at.and_then(|t| t.to_naive()) {
            Some(time) => s.serialize_str(&time.format("%Y-%m-%dT%H:%M:%S").to_string()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SimTime>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| t.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl fmt::Display for ScheduledWhatIf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.what)?;
        if let Some(time) = self.at.and_then(|t| t.to_naive()) {
            write!(f, "@{}", time.format("%Y-%m-%dT%H:%M:%S"))?;
        }
        Ok(())
    }
}

/// Text or a request that is not a what-if.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidWhatIf {
    /// Not one of the three forms.
    #[error("{0:?} is not a what-if: expected delay:LINE:STATION[:a|b]:SECONDS, out-of-service:TRAIN or break-down:TRAIN:MINUTES, each with an optional @YYYY-MM-DDTHH:MM")]
    Syntax(String),
    /// A part of it is wrong.
    #[error("{part:?} in {text:?}: {reason}")]
    Part {
        /// The whole text.
        text: String,
        /// The part.
        part: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Longer than [`MAX_WHAT_IF_SECONDS`].
    #[error("{0} s is longer than the {MAX_WHAT_IF_SECONDS} s a what-if may last")]
    TooLong(u64),
}

impl FromStr for ScheduledWhatIf {
    type Err = InvalidWhatIf;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let part = |part: &str, reason: String| InvalidWhatIf::Part {
            text: text.to_string(),
            part: part.to_string(),
            reason,
        };
        let (body, at) = match text.trim().split_once('@') {
            Some((body, at)) => (
                body,
                Some(
                    at.parse::<SimTime>()
                        .map_err(|error| part(at, error.to_string()))?,
                ),
            ),
            None => (text.trim(), None),
        };
        let number = |text: &str| {
            text.parse::<u32>()
                .map_err(|error| part(text, error.to_string()))
        };
        let train = |text: &str| {
            text.parse::<TrainId>()
                .map_err(|error| part(text, error.to_string()))
        };
        let fields: Vec<&str> = body.split(':').collect();
        let what = match fields.as_slice() {
            ["delay", line, station, rest @ ..] if matches!(rest.len(), 1 | 2) => {
                // The text form names CTA's lines, as its train ids do.
                let line = resolve_line(cta::LINES.into_iter(), line)
                    .map_err(|error| part(line, error.to_string()))?;
                let station = StationId(number(station)?);
                let direction = match rest {
                    [direction, _] => Some(match direction.to_ascii_lowercase().as_str() {
                        "a" => Direction::A,
                        "b" => Direction::B,
                        _ => return Err(part(direction, "the direction is a or b".into())),
                    }),
                    _ => None,
                };
                let seconds = number(rest[rest.len() - 1])?;
                WhatIf::Delay {
                    line,
                    station,
                    direction,
                    seconds,
                }
            }
            ["out-of-service", id] => WhatIf::OutOfService { train: train(id)? },
            ["break-down", id, minutes] => WhatIf::BreakDown {
                train: train(id)?,
                minutes: number(minutes)?,
            },
            _ => return Err(InvalidWhatIf::Syntax(text.to_string())),
        };
        what.check()?;
        Ok(ScheduledWhatIf { at, what })
    }
}

/// What became of a what-if.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhatIfOutcome {
    /// It took effect.
    Applied,
    /// The station is not on the line.
    UnknownStation,
    /// The train was not in service then (or already out of service, or broken down).
    NotInService,
}

/// A what-if the simulation has dealt with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedWhatIf {
    /// The simulated time it took effect.
    pub time: SimTime,
    /// The what-if, as asked.
    pub what_if: ScheduledWhatIf,
    /// What became of it.
    pub outcome: WhatIfOutcome,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_forms_parse_and_print_back() {
        for text in [
            "delay:blue:40380:300",
            "delay:red:40380:b:60@2026-11-02T08:00:00",
            "out-of-service:BL007",
            "break-down:RL012:10@2026-11-02T08:30:00",
        ] {
            let what_if: ScheduledWhatIf = text.parse().unwrap();
            assert_eq!(what_if.to_string(), text);
        }
        let delay: ScheduledWhatIf = "delay:Blue:40380:300@2026-11-02T08:00".parse().unwrap();
        assert!(delay.at.is_some());
    }

    #[test]
    fn bad_text_is_refused_with_a_reason() {
        for bad in [
            "",
            "delay",
            "delay:purple:40380:300",
            "delay:blue:x:300",
            "delay:blue:40380:c:300",
            "delay:blue:40380:-5",
            "out-of-service:XX001",
            "break-down:BL007",
            "break-down:BL007:99999",
            "break-down:BL007:1@tomorrow",
            "teleport:BL007",
        ] {
            assert!(bad.parse::<ScheduledWhatIf>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn json_is_the_same_enum() {
        let json = r#"{"kind":"break_down","train":"BL007","minutes":10,"at":"2026-11-02T08:00"}"#;
        let what_if: ScheduledWhatIf = serde_json::from_str(json).unwrap();
        assert_eq!(
            what_if.what,
            WhatIf::BreakDown {
                train: "BL007".parse().unwrap(),
                minutes: 10
            }
        );
        let back = serde_json::to_string(&what_if).unwrap();
        assert_eq!(
            serde_json::from_str::<ScheduledWhatIf>(&back).unwrap(),
            what_if
        );
        assert!(serde_json::from_str::<ScheduledWhatIf>(r#"{"kind":"delay"}"#).is_err());
    }
}
