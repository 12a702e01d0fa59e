use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{LineId, StationId};

/// One rider entered a station through a turnstile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnstileEvent {
    /// The station entered.
    pub station_id: StationId,
    /// Its name, so a consumer needs no station table to show it.
    pub station_name: Arc<str>,
    /// The line whose platform the rider entered for.
    #[serde(with = "super::avro_line")]
    pub line: LineId,
}

/// The turnstile-count table's value (the original's KSQL `TURNSTILE_SUMMARY`, per line).
///
/// It carries the input position the count includes up to, so the state and the offsets it was
/// built from are one record: a restarted counter skips entries at or before
/// `source_offset` and so never counts one twice, without needing broker transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnstileCount {
    /// The station.
    pub station_id: StationId,
    /// The line.
    #[serde(with = "super::avro_line")]
    pub line: LineId,
    /// Entries counted so far.
    #[serde(with = "super::avro_long")]
    pub entries: u64,
    /// The partition of the turnstile-entries topic this station's entries come from.
    #[serde(with = "super::avro_int")]
    pub source_partition: u32,
    /// The offset of the last entry included in `entries`.
    #[serde(with = "super::avro_long")]
    pub source_offset: u64,
}
