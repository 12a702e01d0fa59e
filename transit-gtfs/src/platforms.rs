//! Which platform of a station serves which direction of a line, and where platforms are.
//!
//! A station's two rows in `cta_stations.csv` are its platforms, with CTA's stop ids, but the
//! rows do not say which one the simulation's direction A (towards the line's last station)
//! uses, and their names do not say it either in a form that holds everywhere
//! (`(Inner Loop)`, `(O'Hare Branch)`, `(Terminal arrival)`). Each row does carry the compass
//! direction trains leave it in (`direction_id`: N, S, E or W); the line's own course at the
//! station, from the coordinates of the stations before and after it, says which of the two
//! points along direction A.

use std::collections::HashMap;
use std::io::Read;

use serde::Deserialize;
use transit_core::event::StationRow;
use transit_core::model::{Direction, LineId, StationId};
use transit_core::network::{Network, StationLocations};

use crate::GtfsError;

/// Where each CTA platform is (`cta_stop_locations.csv`: City of Chicago data portal, "CTA -
/// System Information - List of 'L' Stops"; see `data/SOURCES.md`), embedded.
pub const EMBEDDED_PLATFORM_LOCATIONS: &str = include_str!("../data/cta_stop_locations.csv");

/// One platform of a line: the simulation's (station, direction) slot and CTA's stop.
#[derive(Debug, Clone, PartialEq)]
pub struct Platform {
    /// CTA's stop id (3xxxx): the GTFS `stop_id`, Train Tracker's `stpid`.
    pub stop_id: u32,
    /// CTA's name of the stop, as `Clark/Lake (Forest Pk-bound)`.
    pub name: String,
    /// The station (4xxxx): its parent in GTFS, Train Tracker's `mapid`.
    pub station: StationId,
    /// Latitude and longitude (degrees).
    pub location: (f64, f64),
}

/// The platforms of the network's lines, by line, station index and direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Platforms {
    /// Per line (in the network's order), per station index, per direction
    /// (`Direction as usize`).
    by_line: Vec<(LineId, Vec<[Platform; 2]>)>,
}

impl Platforms {
    /// The platforms of `network`, from its station rows, with the coordinates of
    /// `platform_places` (each platform's own; its station's where it has none). Fails if a
    /// station's rows cannot be told apart by direction, or a station is not placed.
    pub fn new(
        network: &Network,
        rows: &[StationRow],
        places: &StationLocations,
        platform_places: &PlatformLocations,
    ) -> Result<Self, GtfsError> {
        let by_stop: HashMap<u32, &StationRow> = rows.iter().map(|r| (r.stop_id, r)).collect();
        let mut by_line: Vec<(LineId, Vec<[Platform; 2]>)> = Vec::new();
        for line in network.lines() {
            by_line.push((line.id(), Vec::new()));
            let stations = line.stations();
            let place = |i: usize| {
                let id = stations[i].id;
                places.get(id).ok_or(GtfsError::NotPlaced { station: id })
            };
            for (i, station) in stations.iter().enumerate() {
                let here = place(i)?;
                // The line's course at the station, as (east, north) in local metres' ratio:
                // from the station before to the station after (itself at a terminal).
                let before = place(i.saturating_sub(1))?;
                let after = place((i + 1).min(stations.len() - 1))?;
                let course = (
                    (after.1 - before.1) * here.0.to_radians().cos(),
                    after.0 - before.0,
                );
                let mut scored = Vec::with_capacity(2);
                for stop in station.stop_ids {
                    let bad = |message: String| GtfsError::Platforms {
                        line: line.id(),
                        station: station.id,
                        message,
                    };
                    let row = by_stop
                        .get(&stop)
                        .ok_or_else(|| bad(format!("stop {stop} has no row")))?;
                    let heading = match row.direction_id.trim() {
                        "N" => (0.0, 1.0),
                        "S" => (0.0, -1.0),
                        "E" => (1.0, 0.0),
                        "W" => (-1.0, 0.0),
                        other => {
                            return Err(bad(format!(
                                "stop {stop} has direction_id {other:?}, not N, S, E or W"
                            )))
                        }
                    };
                    let along = heading.0 * course.0 + heading.1 * course.1;
                    let platform = Platform {
                        stop_id: stop,
                        name: row.stop_name.clone(),
                        station: station.id,
                        location: platform_places.get(stop).unwrap_or(here),
                    };
                    scored.push((along, platform));
                }
                let [(a_score, first), (b_score, second)]: [(f64, Platform); 2] =
                    scored.try_into().map_err(|_| GtfsError::Platforms {
                        line: line.id(),
                        station: station.id,
                        message: "expected two platforms".into(),
                    })?;
                // Opposite compass directions score opposite signs; one across the course
                // (or two rows with the same direction) leaves nothing to go by.
                if (a_score - b_score).abs() < 1e-9 {
                    return Err(GtfsError::Platforms {
                        line: line.id(),
                        station: station.id,
                        message: format!(
                            "stops {} and {} head the same way along the line",
                            first.stop_id, second.stop_id
                        ),
                    });
                }
                let pair = if a_score > b_score {
                    [first, second]
                } else {
                    [second, first]
                };
                if let Some((_, platforms)) = by_line.last_mut() {
                    platforms.push(pair);
                }
            }
        }
        Ok(Self { by_line })
    }

    /// The platform of station `station` (index on the line) for direction `direction`.
    pub fn get(&self, line: LineId, station: usize, direction: Direction) -> Option<&Platform> {
        self.platforms(line)?
            .get(station)
            .map(|pair| &pair[direction as usize])
    }

    /// Every platform of `line`, station by station, direction A then B.
    pub fn of_line(&self, line: LineId) -> impl Iterator<Item = &Platform> {
        self.platforms(line).into_iter().flatten().flatten()
    }

    fn platforms(&self, line: LineId) -> Option<&[[Platform; 2]]> {
        self.by_line
            .iter()
            .find(|(id, _)| *id == line)
            .map(|(_, platforms)| &platforms[..])
    }
}

#[derive(Debug, Deserialize)]
struct PlatformRow {
    stop_id: String,
    latitude: String,
    longitude: String,
}

/// The coordinates of CTA's platforms, by stop id.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlatformLocations {
    at: HashMap<u32, (f64, f64)>,
}

impl PlatformLocations {
    /// The embedded coordinates of the three lines' platforms.
    pub fn embedded() -> Result<Self, GtfsError> {
        Self::from_reader(
            "cta_stop_locations.csv",
            EMBEDDED_PLATFORM_LOCATIONS.as_bytes(),
        )
    }

    /// Coordinates from a CSV with `stop_id`, `latitude` and `longitude` columns.
    pub fn from_reader(source: &str, reader: impl Read) -> Result<Self, GtfsError> {
        let mut at = HashMap::new();
        let mut csv = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(reader);
        for (index, row) in csv.deserialize::<PlatformRow>().enumerate() {
            // Line numbers count the header as line 1.
            let line = index + 2;
            let bad = |message: String| GtfsError::Data {
                source_name: source.to_string(),
                line,
                message,
            };
            let row = row.map_err(|e| bad(e.to_string()))?;
            let stop = row
                .stop_id
                .parse::<u32>()
                .map_err(|_| bad(format!("stop_id {:?} is not a number", row.stop_id)))?;
            let coordinate = |text: &str, limit: f64| {
                text.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && v.abs() <= limit)
            };
            let latitude = coordinate(&row.latitude, 90.0)
                .ok_or_else(|| bad(format!("latitude {:?} is not a latitude", row.latitude)))?;
            let longitude = coordinate(&row.longitude, 180.0)
                .ok_or_else(|| bad(format!("longitude {:?} is not a longitude", row.longitude)))?;
            at.insert(stop, (latitude, longitude));
        }
        Ok(Self { at })
    }

    /// A platform's latitude and longitude; `None` if the data does not place it.
    pub fn get(&self, stop: u32) -> Option<(f64, f64)> {
        self.at.get(&stop).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use transit_core::network::cta;
    use transit_core::network::{embedded_station_rows, Schedule};

    fn platforms() -> (Network, Platforms) {
        let network = Network::embedded().unwrap();
        let platforms = Platforms::new(
            &network,
            &embedded_station_rows().unwrap(),
            &StationLocations::embedded().unwrap(),
            &PlatformLocations::embedded().unwrap(),
        )
        .unwrap();
        (network, platforms)
    }

    #[test]
    fn every_station_has_one_platform_each_way() {
        let (network, platforms) = platforms();
        for line in network.lines() {
            for (i, station) in line.stations().iter().enumerate() {
                let a = platforms.get(line.id(), i, Direction::A).unwrap();
                let b = platforms.get(line.id(), i, Direction::B).unwrap();
                assert_ne!(a.stop_id, b.stop_id);
                assert!(station.stop_ids.contains(&a.stop_id));
                assert!(station.stop_ids.contains(&b.stop_id));
            }
        }
    }

    #[test]
    fn directions_agree_with_the_schedule_and_the_terminals() {
        let (network, platforms) = platforms();
        // The schedule's reference stops name their direction: bound for the line's first
        // station is B.
        let schedule = Schedule::embedded().unwrap();
        for (line, b_stop) in [
            (cta::BLUE, 30072),  // Washington (O'Hare-bound)
            (cta::RED, 30064),   // Grand/State (Howard-bound)
            (cta::GREEN, 30381), // Cermak-McCormick Place (Harlem-bound)
        ] {
            let reference = schedule
                .for_line(network.line(line).unwrap())
                .unwrap()
                .station;
            let b = platforms.get(line, reference, Direction::B).unwrap();
            assert_eq!(b.stop_id, b_stop, "{line}");
        }
        // Trains bound for the first station end their trips on its arrival platform.
        let harlem = platforms.get(cta::GREEN, 0, Direction::B).unwrap();
        assert_eq!(harlem.name, "Harlem (Terminal arrival)");
        // Every "-bound" name in direction B is bound for where B goes: not the last station.
        for line in network.lines() {
            let last = line.stations()[line.len() - 1]
                .name
                .split('/')
                .next()
                .unwrap();
            for i in 0..line.len() {
                let b = platforms.get(line.id(), i, Direction::B).unwrap();
                assert!(
                    !b.name.contains(&format!("({last}-bound)")),
                    "{} at {i}: {}",
                    line.id(),
                    b.name
                );
            }
        }
    }

    #[test]
    fn platforms_have_their_own_coordinates() {
        let (network, platforms) = platforms();
        let roosevelt = network
            .line(cta::GREEN)
            .unwrap()
            .stations()
            .iter()
            .position(|s| s.id == StationId(41400))
            .unwrap();
        let green = platforms.get(cta::GREEN, roosevelt, Direction::A).unwrap();
        let station = StationLocations::embedded()
            .unwrap()
            .get(StationId(41400))
            .unwrap();
        // The elevated Green/Orange platform is not where CTA places the station.
        assert_ne!(green.location, station);
    }
}
