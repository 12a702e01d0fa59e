use std::collections::HashMap;
use std::io::Read;

use serde::Deserialize;

use super::ridership::rows;
use super::DataError;
use crate::model::StationId;

/// Where each station of the three lines is (`cta_station_locations.csv`), embedded.
pub const EMBEDDED_STATION_LOCATIONS: &str = include_str!("../../data/cta_station_locations.csv");

/// Mean radius of the Earth (m), for the haversine distance.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

#[derive(Debug, Deserialize)]
struct LocationRow {
    station_id: String,
    latitude: String,
    longitude: String,
}

/// The coordinates (latitude, longitude in degrees) of stations.
///
/// Empty (the [`Default`]) for a network whose data gives none: then every run between two
/// stations is taken to be the usual spacing ([`crate::speed::DEFAULT_SPACING_M`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StationLocations {
    at: HashMap<StationId, (f64, f64)>,
}

// Every coordinate is finite (the parser refuses the rest), so equality is an equivalence.
impl Eq for StationLocations {}

impl StationLocations {
    /// The embedded CTA coordinates of the Blue, Red and Green lines' stations.
    pub fn embedded() -> Result<Self, DataError> {
        Self::from_reader(
            "cta_station_locations.csv",
            EMBEDDED_STATION_LOCATIONS.as_bytes(),
        )
    }

    /// Coordinates from a CSV with `station_id`, `latitude` and `longitude` columns.
    pub fn from_reader(source: &str, reader: impl Read) -> Result<Self, DataError> {
        let mut at = HashMap::new();
        for row in rows::<LocationRow>(source, reader) {
            let (line, row) = row?;
            let bad = |message: String| DataError::Row {
                source_name: source.to_string(),
                line,
                message,
            };
            let id = row
                .station_id
                .trim()
                .parse::<u32>()
                .map_err(|_| bad(format!("station_id {:?} is not a number", row.station_id)))?;
            let coordinate = |text: &str, limit: f64| {
                text.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && v.abs() <= limit)
            };
            let latitude = coordinate(&row.latitude, 90.0)
                .ok_or_else(|| bad(format!("latitude {:?} is not a latitude", row.latitude)))?;
            let longitude = coordinate(&row.longitude, 180.0)
                .ok_or_else(|| bad(format!("longitude {:?} is not a longitude", row.longitude)))?;
            at.insert(StationId(id), (latitude, longitude));
        }
        Ok(Self { at })
    }

    /// The coordinates in a stations file (the columns of `cta_stations.csv`) that also has
    /// `latitude` and `longitude` columns, one station per row or per direction (the last row
    /// of a station places it); `None` when the file has no such columns.
    pub fn from_stations_csv(source: &str, csv: &[u8]) -> Result<Option<Self>, DataError> {
        let mut reader = csv::Reader::from_reader(csv);
        let headers = reader.headers().map_err(|error| DataError::Row {
            source_name: source.to_string(),
            line: 1,
            message: error.to_string(),
        })?;
        let named = |column: &str| headers.iter().any(|h| h.trim() == column);
        if !(named("latitude") && named("longitude")) {
            return Ok(None);
        }
        Self::from_reader(source, csv).map(Some)
    }

    /// Whether no station is placed.
    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    /// A station's latitude and longitude; `None` if the data does not place it.
    pub fn get(&self, station: StationId) -> Option<(f64, f64)> {
        self.at.get(&station).copied()
    }

    /// The great-circle distance (m) between two stations; `None` if either is not placed.
    pub fn distance_m(&self, from: StationId, to: StationId) -> Option<f64> {
        let (lat1, lon1) = self.get(from)?;
        let (lat2, lon2) = self.get(to)?;
        let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
        let dphi = phi2 - phi1;
        let dlambda = (lon2 - lon1).to_radians();
        let h =
            (dphi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (dlambda / 2.0).sin().powi(2);
        Some(2.0 * EARTH_RADIUS_M * h.sqrt().asin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Network;

    #[test]
    fn every_station_of_the_three_lines_is_placed() {
        let network = Network::embedded().unwrap();
        let places = StationLocations::embedded().unwrap();
        for station in network.lines().flat_map(|line| line.stations()) {
            assert!(places.get(station.id).is_some(), "{}", station.name);
        }
        // Clark/Lake to State/Lake: one Loop block, about 250 m.
        let block = places
            .distance_m(StationId(40380), StationId(40260))
            .unwrap();
        assert!((200.0..300.0).contains(&block), "{block} m");
    }
}
