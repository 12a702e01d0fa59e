use std::collections::BTreeMap;
use std::path::Path;

use super::{embedded_station_rows, parse_station_rows, DataError};
use crate::event::StationRow;
use crate::model::{LineColor, Station, StationId};

/// One line: its stations in order (a station's index is its position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    color: LineColor,
    stations: Vec<Station>,
}

impl Line {
    /// Which line.
    pub fn color(&self) -> LineColor {
        self.color
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

/// The Blue, Red and Green lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    lines: [Line; 3],
    report: NetworkReport,
}

impl Network {
    /// The network of the embedded CTA data.
    pub fn embedded() -> Result<Self, DataError> {
        Self::from_rows_named("cta_stations.csv", embedded_station_rows()?)
    }

    /// The network of a stations CSV file.
    pub fn from_path(path: &Path) -> Result<Self, DataError> {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| DataError::Io {
            source_name: name.clone(),
            source,
        })?;
        Self::from_rows_named(&name, parse_station_rows(&name, file)?)
    }

    /// The network of station rows from anywhere (a database, a topic).
    pub fn from_rows(rows: impl IntoIterator<Item = StationRow>) -> Result<Self, DataError> {
        Self::from_rows_named("station rows", rows)
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
            let lines: Vec<LineColor> = row.lines().collect();
            match lines.as_slice() {
                [] => report.off_line_rows += 1,
                [line] => by_line[line.index()]
                    .entry(row.station_id)
                    .or_default()
                    .push(row),
                _ => report.multi_line_stops.push(row.stop_id),
            }
        }
        let mut lines = Vec::with_capacity(3);
        for (color, stations) in LineColor::ALL.into_iter().zip(by_line) {
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
                color,
                stations: built,
            });
        }
        let lines: [Line; 3] = lines
            .try_into()
            .map_err(|_| invalid("expected exactly three lines".into()))?;
        Ok(Self { lines, report })
    }

    /// One line.
    pub fn line(&self, color: LineColor) -> &Line {
        &self.lines[color.index()]
    }

    /// The three lines, Blue, Red, Green.
    pub fn lines(&self) -> impl Iterator<Item = &Line> {
        self.lines.iter()
    }

    /// What was decided about the data's quirks.
    pub fn report(&self) -> &NetworkReport {
        &self.report
    }
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
