use std::io::Read;

use serde::Deserialize;

use super::DataError;
use crate::event::StationRow;
use crate::model::StationId;

/// The CTA's `cta_stations.csv`, embedded.
pub const EMBEDDED_STATIONS: &str = include_str!("../../data/cta_stations.csv");

/// The CSV's columns as text, so a bad value is reported with its column instead of a serde
/// message.
#[derive(Debug, Deserialize)]
struct RawRow {
    stop_id: String,
    direction_id: String,
    stop_name: String,
    station_name: String,
    station_descriptive_name: String,
    station_id: String,
    order: String,
    red: String,
    blue: String,
    green: String,
}

/// Collapses runs of whitespace and trims: `California  (Blue Line)` is `California (Blue Line)`.
pub(crate) fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn number(column: &str, value: &str) -> Result<u32, String> {
    let parsed: u32 = value
        .trim()
        .parse()
        .map_err(|_| format!("{column} {value:?} is not a number"))?;
    if i32::try_from(parsed).is_err() {
        return Err(format!(
            "{column} {parsed} is too large (at most {})",
            i32::MAX
        ));
    }
    Ok(parsed)
}

fn flag(column: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_uppercase().as_str() {
        "TRUE" | "T" | "1" => Ok(true),
        "FALSE" | "F" | "0" => Ok(false),
        _ => Err(format!("{column} {value:?} is not TRUE or FALSE")),
    }
}

impl RawRow {
    fn parse(self) -> Result<StationRow, String> {
        Ok(StationRow {
            stop_id: number("stop_id", &self.stop_id)?,
            direction_id: self.direction_id.trim().to_string(),
            stop_name: normalise(&self.stop_name),
            station_name: normalise(&self.station_name),
            station_descriptive_name: normalise(&self.station_descriptive_name),
            station_id: StationId(number("station_id", &self.station_id)?),
            order: number("order", &self.order)?,
            red: flag("red", &self.red)?,
            blue: flag("blue", &self.blue)?,
            green: flag("green", &self.green)?,
        })
    }
}

/// Parses station rows (the columns of `cta_stations.csv`) from `reader`; `source` names it in
/// errors. The first bad row fails the whole parse; see [`parse_station_rows_lenient`] to keep
/// the good rows instead.
pub fn parse_station_rows(source: &str, reader: impl Read) -> Result<Vec<StationRow>, DataError> {
    let mut rows = Vec::new();
    for parsed in station_records(source, reader) {
        let (_line, row) = parsed?;
        rows.push(row);
    }
    Ok(rows)
}

/// What [`parse_station_rows_lenient`] found: the good rows with their lines, and the bad ones.
#[derive(Debug, Default)]
pub struct LenientRows {
    /// Each good row with its 1-based line in the file (the header is line 1), in file order.
    pub rows: Vec<(u64, StationRow)>,
    /// One [`DataError::Row`] per bad row, naming its file, line and what is wrong, in file
    /// order.
    pub rejected: Vec<DataError>,
}

/// Parses station rows like [`parse_station_rows`], but a bad row is set aside (with its line
/// and reason) and the rest are still parsed: what a loader needs to load the good rows of a
/// file and report the bad ones.
///
/// Only a failure to read `reader` at all (an I/O error) is an `Err`, since no later row can be
/// trusted after it.
pub fn parse_station_rows_lenient(
    source: &str,
    reader: impl Read,
) -> Result<LenientRows, DataError> {
    let mut parsed = LenientRows::default();
    for record in station_records(source, reader) {
        match record {
            Ok(row) => parsed.rows.push(row),
            Err(error @ DataError::Row { .. }) => parsed.rejected.push(error),
            Err(error) => return Err(error),
        }
    }
    Ok(parsed)
}

/// The records of a station CSV, each parsed and validated on its own, with its line.
///
/// Validation is the same for the strict and the lenient parser: one place decides what a good
/// row is. An I/O error ends the iteration (after reporting it), since the reader's position is
/// then unknown.
fn station_records<R: Read>(
    source: &str,
    reader: R,
) -> impl Iterator<Item = Result<(u64, StationRow), DataError>> + use<'_, R> {
    let csv = csv::ReaderBuilder::new()
        .trim(csv::Trim::None)
        .from_reader(reader);
    let mut stopped = false;
    csv.into_deserialize::<RawRow>()
        .enumerate()
        .map_while(move |(index, record)| {
            if stopped {
                return None;
            }
            // The header is line 1; without multi-line fields a record's line is its index + 2.
            let line = index as u64 + 2;
            let parsed = match record {
                Ok(raw) => raw
                    .parse()
                    .map(|row| (line, row))
                    .map_err(|message| DataError::Row {
                        source_name: source.to_string(),
                        line,
                        message,
                    }),
                Err(error) => {
                    if let csv::ErrorKind::Io(_) = error.kind() {
                        stopped = true;
                        return Some(Err(DataError::Io {
                            source_name: source.to_string(),
                            source: std::io::Error::other(error.to_string()),
                        }));
                    }
                    let line = error.position().map_or(line, |p| p.line());
                    Err(DataError::Row {
                        source_name: source.to_string(),
                        line,
                        message: match error.kind() {
                            csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
                            _ => error.to_string(),
                        },
                    })
                }
            };
            Some(parsed)
        })
}

/// The embedded CTA station rows.
pub fn embedded_station_rows() -> Result<Vec<StationRow>, DataError> {
    parse_station_rows("cta_stations.csv", EMBEDDED_STATIONS.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "stop_id,direction_id,stop_name,station_name,station_descriptive_name,station_id,order,red,blue,green\n";

    #[test]
    fn the_embedded_rows_parse() {
        let rows = embedded_station_rows().unwrap();
        assert_eq!(rows.len(), 230);
        assert!(rows
            .iter()
            .any(|r| r.station_descriptive_name == "California (Blue Line)"));
    }

    #[test]
    fn a_bad_number_names_file_line_and_column() {
        let csv = format!(
            "{HEADER}1,N,a,b,c,40000,0,TRUE,FALSE,FALSE\n2,S,a,b,c,abc,0,TRUE,FALSE,FALSE\n"
        );
        let error = parse_station_rows("mine.csv", csv.as_bytes()).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"mine.csv line 3: station_id "abc" is not a number"#
        );
    }

    #[test]
    fn a_missing_column_is_reported_with_its_line() {
        let csv = format!("{HEADER}1,N,a,b,c,40000,0,TRUE,FALSE\n");
        let error = parse_station_rows("mine.csv", csv.as_bytes()).unwrap_err();
        assert!(error.to_string().starts_with("mine.csv line 2:"), "{error}");
    }

    #[test]
    fn quoted_commas_and_bad_flags() {
        let csv = format!("{HEADER}1,N,a,b,\"c, d\",40000,0,TRUE,FALSE,FALSE\n");
        let rows = parse_station_rows("mine.csv", csv.as_bytes()).unwrap();
        assert_eq!(rows[0].station_descriptive_name, "c, d");
        let csv = format!("{HEADER}1,N,a,b,c,40000,0,yes,FALSE,FALSE\n");
        let error = parse_station_rows("mine.csv", csv.as_bytes()).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"mine.csv line 2: red "yes" is not TRUE or FALSE"#
        );
    }

    #[test]
    fn the_lenient_parser_keeps_good_rows_and_names_bad_lines() {
        let csv = format!(
            "{HEADER}1,N,a,b,c,40000,0,TRUE,FALSE,FALSE\n2,S,a,b,c,abc,0,TRUE,FALSE,FALSE\n3,S,a,b,c,40000,1,TRUE,FALSE\n4,S,a,b,c,40001,2,FALSE,TRUE,FALSE\n"
        );
        let parsed = parse_station_rows_lenient("mine.csv", csv.as_bytes()).unwrap();
        let good: Vec<(u64, u32)> = parsed.rows.iter().map(|(l, r)| (*l, r.stop_id)).collect();
        assert_eq!(good, [(2, 1), (5, 4)]);
        let bad: Vec<String> = parsed.rejected.iter().map(ToString::to_string).collect();
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert_eq!(
            bad[0],
            r#"mine.csv line 3: station_id "abc" is not a number"#
        );
        assert!(bad[1].starts_with("mine.csv line 4:"), "{}", bad[1]);
    }

    #[test]
    fn the_lenient_parser_accepts_the_embedded_file_whole() {
        let parsed =
            parse_station_rows_lenient("cta_stations.csv", EMBEDDED_STATIONS.as_bytes()).unwrap();
        assert_eq!(parsed.rows.len(), 230);
        assert!(parsed.rejected.is_empty());
    }
}
