use std::fmt;

use serde::{Deserialize, Serialize};

/// The sky, as the original weather hardware reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeatherStatus {
    /// Clear sky.
    Sunny,
    /// Some clouds.
    PartlyCloudy,
    /// Overcast.
    Cloudy,
    /// Strong wind.
    Windy,
    /// Rain or snow.
    Precipitation,
}

impl WeatherStatus {
    /// Every status, in the schema's symbol order.
    pub const ALL: [WeatherStatus; 5] = [
        WeatherStatus::Sunny,
        WeatherStatus::PartlyCloudy,
        WeatherStatus::Cloudy,
        WeatherStatus::Windy,
        WeatherStatus::Precipitation,
    ];

    /// The symbol used in events (`sunny`, `partly_cloudy`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            WeatherStatus::Sunny => "sunny",
            WeatherStatus::PartlyCloudy => "partly_cloudy",
            WeatherStatus::Cloudy => "cloudy",
            WeatherStatus::Windy => "windy",
            WeatherStatus::Precipitation => "precipitation",
        }
    }
}

impl fmt::Display for WeatherStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The key of weather records: when the reading was taken (the original's key schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeatherKey {
    /// Milliseconds since the Unix epoch, in simulated time.
    pub timestamp: i64,
}

/// An hourly weather reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WeatherEvent {
    /// Degrees Fahrenheit, as the original hardware reports.
    pub temperature: f32,
    /// The sky.
    pub status: WeatherStatus,
}
