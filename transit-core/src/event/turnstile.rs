use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{LineColor, StationId};

/// One rider entered a station through a turnstile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnstileEvent {
    /// The station entered.
    pub station_id: StationId,
    /// Its name, so a consumer needs no station table to show it.
    pub station_name: Arc<str>,
    /// The line whose platform the rider entered for.
    pub line: LineColor,
}
