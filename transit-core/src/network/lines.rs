use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::{cta, embedded_station_rows, parse_station_rows, DataError, StationLocations};
use crate::event::StationRow;
use crate::model::{LineId, Route, Station, StationId};

/// One line: its route and its stations in order (a station's index is its position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    route: Route,
    stations: Vec<Station>,
}

impl Line {
    /// Which line.
    pub fn id(&self) -> LineId {
        self.route.id
    }

    /// What riders see of it: names, kind, colours.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// Its stations, first to last.
    pub fn stations(&self) -> &[Station] {
        &self.stations
    }

    /// How many stations it has (at least 2).
    pub fn len(&self) -> usize {
        self.stations.len()
    }

    /// Always false: a line has at least two stations.
    pub fn is_empty(&self) -> bool {
        self.stations.is_empty()
    }

    /// The station at `index`, first is 0.
    pub fn station(&self, index: usize) -> Option<&Station> {
        self.stations.get(index)
    }
}

/// What parsing the station rows decided about the data's quirks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkReport {
    /// Rows flagged for none of the three lines (other 'L' lines): left out.
    pub off_line_rows: usize,
    /// Stop ids of rows flagged for several of the three lines: ambiguous, left out.
    pub multi_line_stops: Vec<u32>,
    /// Stations whose rows disagree on the name: (station, name chosen, names rejected).
    pub name_conflicts: Vec<(StationId, String, Vec<String>)>,
}

impl NetworkReport {
    /// One sentence per decision, for a log.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.off_line_rows > 0 {
            notes.push(format!(
                "{} rows are on none of the Blue, Red and Green lines and are left out",
                self.off_line_rows
            ));
        }
        if !self.multi_line_stops.is_empty() {
            notes.push(format!(
                "stops {:?} are flagged for several of the three lines and are left out",
                self.multi_line_stops
            ));
        }
        for (station, chosen, rejected) in &self.name_conflicts {
            notes.push(format!(
                "station {station} is named {rejected:?} in some rows; using {chosen:?}, which its stop names agree with"
            ));
        }
        notes
    }
}

/// A network's lines, in the order the board shows them (CTA's: Blue, Red, Green), and where
/// their stations are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    lines: Vec<Line>,
    report: NetworkReport,
    /// The stations' coordinates: run times come from them, in the simulation and on the
    /// board. Shared, as every read model of the network holds them.
    locations: Arc<StationLocations>,
}

impl Network {
    /// The network of the embedded CTA data, with the embedded coordinates of its stations.
    pub fn embedded() -> Result<Self, DataError> {
        Ok(
            Self::from_rows_named("cta_stations.csv", embedded_station_rows()?)?
                .with_locations(StationLocations::embedded()?),
        )
    }

    /// The network of a stations CSV file (the columns of `cta_stations.csv`), placed by its
    /// own `latitude` and `longitude` columns if it has them. A file without them gives a
    /// network without coordinates (said once, in a warning): its runs are all taken to be the
    /// usual spacing, never the embedded CTA geometry, which need not be this network's.
    pub fn from_path(path: &Path) -> Result<Self, DataError> {
        let name = path.display().to_string();
        let csv = std::fs::read(path).map_err(|source| DataError::Io {
            source_name: name.clone(),
            source,
        })?;
        let network = Self::from_rows_named(&name, parse_station_rows(&name, csv.as_slice())?)?;
        let locations = match StationLocations::from_stations_csv(&name, &csv)? {
            Some(locations) => locations,
            None => {
                tracing::warn!(
                    file = %name,
                    "the stations file has no latitude and longitude columns: its stations are \
                     placed nowhere, so run times and the board use the usual station spacing"
                );
                StationLocations::default()
            }
        };
        Ok(network.with_locations(locations))
    }

    /// The network of station rows from anywhere (a database, a topic). Rows carry no
    /// coordinates: place the stations with [`Network::with_locations`].
    pub fn from_rows(rows: impl IntoIterator<Item = StationRow>) -> Result<Self, DataError> {
        Self::from_rows_named("station rows", rows)
    }

    /// The same network with its stations at `locations`.
    pub fn with_locations(mut self, locations: StationLocations) -> Self {
        self.locations = Arc::new(locations);
        self
    }

    fn from_rows_named(
        source: &str,
        rows: impl IntoIterator<Item = StationRow>,
    ) -> Result<Self, DataError> {
        let invalid = |message: String| DataError::Invalid {
            source_name: source.to_string(),
            message,
        };
        let mut report = NetworkReport::default();
        let mut by_line: [BTreeMap<StationId, Vec<StationRow>>; 3] = Default::default();
        for row in rows {
            let lines: Vec<LineId> = row.lines().collect();
            match lines.as_slice() {
                [] => report.off_line_rows += 1,
                [line] => {
                    if let Some(position) = cta::position(*line) {
                        by_line[position]
                            .entry(row.station_id)
                            .or_default()
                            .push(row);
                    }
                }
                _ => report.multi_line_stops.push(row.stop_id),
            }
        }
        let mut lines = Vec::with_capacity(3);
        // The rows' flag columns are CTA's lines: the network's lines are those, with their data.
        for (data, stations) in cta::DATA.iter().zip(by_line) {
            let color = data.id;
            let mut built = Vec::with_capacity(stations.len());
            for (id, mut rows) in stations {
                if rows.len() != 2 {
                    return Err(invalid(format!(
                        "station {id} has {} rows on the {color} line; expected one per direction",
                        rows.len()
                    )));
                }
                rows.sort_by_key(|r| r.stop_id);
                if rows[0].order != rows[1].order {
                    return Err(invalid(format!(
                        "station {id} has orders {} and {} on the {color} line",
                        rows[0].order, rows[1].order
                    )));
                }
                let name = choose_name(&rows, &mut report);
                built.push(Station {
                    id,
                    name,
                    order: rows[0].order,
                    line: color,
                    stop_ids: [rows[0].stop_id, rows[1].stop_id],
                });
            }
            built.sort_by_key(|s| s.order);
            if let Some(pair) = built.windows(2).find(|w| w[0].order == w[1].order) {
                return Err(invalid(format!(
                    "stations {} and {} share order {} on the {color} line",
                    pair[0].id, pair[1].id, pair[0].order
                )));
            }
            if built.len() < 2 {
                return Err(invalid(format!(
                    "the {color} line has {} station(s); a line needs at least 2",
                    built.len()
                )));
            }
            lines.push(Line {
                route: cta::route(data),
                stations: built,
            });
        }
        Ok(Self {
            lines,
            report,
            locations: Arc::default(),
        })
    }

    /// One line; `None` for a line not in this network.
    pub fn line(&self, id: LineId) -> Option<&Line> {
        self.lines.iter().find(|line| line.id() == id)
    }

    /// Its lines, in the board's order (CTA's: Blue, Red, Green).
    pub fn lines(&self) -> impl ExactSizeIterator<Item = &Line> + Clone {
        self.lines.iter()
    }

    /// Its lines' ids, in the board's order.
    pub fn line_ids(&self) -> impl ExactSizeIterator<Item = LineId> + Clone + '_ {
        self.lines.iter().map(Line::id)
    }

    /// The position of line `id` among [`Network::lines`], for tables indexed by line.
    pub fn position(&self, id: LineId) -> Option<usize> {
        self.lines.iter().position(|line| line.id() == id)
    }

    /// The line a user names (`blue`, ` Blue `: any case, spaces around); an unknown name is
    /// answered with the ids this network knows.
    pub fn resolve_line(&self, name: &str) -> Result<LineId, UnknownLine> {
        resolve_line(self.line_ids(), name)
    }

    /// Where its stations are (empty when its data gives no coordinates). Clone the `Arc` to
    /// share them, as the status read model does.
    pub fn locations(&self) -> &Arc<StationLocations> {
        &self.locations
    }

    /// What was decided about the data's quirks.
    pub fn report(&self) -> &NetworkReport {
        &self.report
    }
}

/// A line name that is none of a network's lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown line {given:?} (the lines are {})", known.join(", "))]
pub struct UnknownLine {
    /// The name given.
    pub given: String,
    /// The ids of the lines there are, in the board's order.
    pub known: Vec<&'static str>,
}

/// The line of `lines` that `name` names: its id exactly, else in any case, spaces around
/// trimmed.
pub fn resolve_line(
    lines: impl Iterator<Item = LineId> + Clone,
    name: &str,
) -> Result<LineId, UnknownLine> {
    let trimmed = name.trim();
    lines
        .clone()
        .find(|id| id.as_str() == trimmed)
        .or_else(|| {
            lines
                .clone()
                .find(|id| id.as_str().eq_ignore_ascii_case(trimmed))
        })
        .ok_or_else(|| UnknownLine {
            given: name.to_string(),
            known: lines.map(LineId::as_str).collect(),
        })
}

/// The name a station's rows agree on; when they disagree, the one that begins the most of its
/// stop names (`95th/Dan Ryan (95th-bound)` backs `95th/Dan Ryan` over `95th/Ran Ryan`).
fn choose_name(rows: &[StationRow], report: &mut NetworkReport) -> String {
    let (chosen, rejected) = agreed_name(rows);
    if !rejected.is_empty() {
        if let Some(first) = rows.first() {
            report
                .name_conflicts
                .push((first.station_id, chosen.clone(), rejected));
        }
    }
    chosen
}

/// The name a station's rows (sorted by stop id) agree on, and the names that lost: where they
/// disagree, the name that begins the most of the rows' stop names wins, then the earliest.
///
/// A name that does not say which branch the station is on while its long name does gets the
/// branch, as CTA's own signs do: the Blue Line has a Harlem on the O'Hare branch and another
/// on the Forest Park branch, which would otherwise look identical.
pub(crate) fn agreed_name(rows: &[StationRow]) -> (String, Vec<String>) {
    let (name, rejected) = agreed_name_as_written(rows);
    let branch = rows
        .iter()
        .find_map(|row| branch_of(&row.station_descriptive_name));
    match branch {
        Some(branch) if !name.contains("Branch") => (format!("{name} ({branch})"), rejected),
        _ => (name, rejected),
    }
}

/// `O'Hare Branch` from `Harlem (Blue Line - O'Hare Branch)`.
fn branch_of(descriptive_name: &str) -> Option<&str> {
    let inside = descriptive_name.rsplit_once('(')?.1.strip_suffix(')')?;
    let branch = inside.rsplit_once(" - ")?.1.trim();
    branch.ends_with("Branch").then_some(branch)
}

fn agreed_name_as_written(rows: &[StationRow]) -> (String, Vec<String>) {
    let mut candidates: Vec<&str> = rows.iter().map(|r| r.station_name.as_str()).collect();
    candidates.dedup();
    if let [only] = candidates.as_slice() {
        return ((*only).to_string(), Vec::new());
    }
    let support = |name: &str| {
        rows.iter()
            .filter(|r| r.stop_name.starts_with(name))
            .count()
    };
    let chosen = candidates
        .iter()
        .copied()
        .enumerate()
        .max_by_key(|&(index, name)| (support(name), std::cmp::Reverse(index)))
        .map(|(_, name)| name.to_string())
        .unwrap_or_default();
    let rejected = candidates
        .iter()
        .filter(|name| **name != chosen)
        .map(|name| name.to_string())
        .collect();
    (chosen, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::EMBEDDED_STATIONS;

    /// Writes `text` to a file of its own under the system's temporary directory.
    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("transit-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_embedded_network_carries_the_embedded_coordinates() {
        let network = Network::embedded().unwrap();
        assert_eq!(**network.locations(), StationLocations::embedded().unwrap());
    }

    #[test]
    fn a_stations_file_is_placed_by_its_own_coordinates_or_not_at_all() {
        // The embedded rows as a custom file: no coordinate columns, so no coordinates (never
        // the embedded ones, which need not be this network's).
        let bare = file("bare.csv", EMBEDDED_STATIONS);
        let network = Network::from_path(&bare).unwrap();
        std::fs::remove_file(&bare).unwrap();
        assert!(network.locations().is_empty());
        assert_eq!(network.lines, Network::embedded().unwrap().lines);

        // The same rows with latitude and longitude: placed by them.
        let mut lines = EMBEDDED_STATIONS.lines();
        let mut text = format!("{},latitude,longitude\n", lines.next().unwrap());
        for (index, row) in lines.enumerate() {
            let (latitude, longitude) = (41.0 + index as f64 / 1000.0, -87.5);
            text.push_str(&format!("{row},{latitude},{longitude}\n"));
        }
        let placed = file("placed.csv", &text);
        let network = Network::from_path(&placed).unwrap();
        std::fs::remove_file(&placed).unwrap();
        let first = network.line(cta::BLUE).unwrap().stations()[0].id;
        let (latitude, longitude) = network.locations().get(first).unwrap();
        assert!((41.0..42.0).contains(&latitude) && longitude == -87.5);
        for station in network.lines().flat_map(|line| line.stations()) {
            assert!(network.locations().get(station.id).is_some(), "{station:?}");
        }
    }

    #[test]
    fn rows_carry_no_coordinates_until_given_some() {
        let network = Network::from_rows(embedded_station_rows().unwrap()).unwrap();
        assert!(network.locations().is_empty());
        let placed = network.with_locations(StationLocations::embedded().unwrap());
        assert!(!placed.locations().is_empty());
    }

    #[test]
    fn cta_lines_are_data_in_the_boards_order() {
        let network = Network::embedded().unwrap();
        let ids: Vec<&str> = network.line_ids().map(LineId::as_str).collect();
        assert_eq!(ids, ["blue", "red", "green"]);
        let routes: Vec<(String, String, u16, String)> = network
            .lines()
            .map(|line| {
                let route = line.route();
                let colours = format!("{}/{}", route.color, route.text_color);
                (
                    route.name().to_string(),
                    colours,
                    route.route_type,
                    line.id().to_string(),
                )
            })
            .collect();
        assert_eq!(
            routes,
            [
                ("Blue Line".into(), "00A1DE/FFFFFF".into(), 1, "blue".into()),
                ("Red Line".into(), "C60C30/FFFFFF".into(), 1, "red".into()),
                (
                    "Green Line".into(),
                    "009B3A/FFFFFF".into(),
                    1,
                    "green".into()
                ),
            ]
        );
        assert!(network.lines().all(|line| line.route().is_rail()));
        assert_eq!(network.position(cta::GREEN), Some(2));
        assert_eq!(network.position(LineId::from_static("brown")), None);
        assert!(network.line(LineId::from_static("brown")).is_none());
    }

    #[test]
    fn a_line_is_named_in_any_case_and_an_unknown_one_is_answered_with_the_known() {
        let network = Network::embedded().unwrap();
        assert_eq!(network.resolve_line("green"), Ok(cta::GREEN));
        assert_eq!(network.resolve_line(" Blue "), Ok(cta::BLUE));
        let error = network.resolve_line("brown").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown line \"brown\" (the lines are blue, red, green)"
        );
    }
}
