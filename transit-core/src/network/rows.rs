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
/// errors.
pub fn parse_station_rows(source: &str, reader: impl Read) -> Result<Vec<StationRow>, DataError> {
    let mut csv = csv::ReaderBuilder::new()
        .trim(csv::Trim::None)
        .from_reader(reader);
    let mut rows = Vec::new();
    for (index, record) in csv.deserialize::<RawRow>().enumerate() {
        // The header is line 1; without multi-line fields a record's line is its index + 2.
        let line = index as u64 + 2;
        let row_error = |message: String| DataError::Row {
            source_name: source.to_string(),
            line,
            message,
        };
        let raw = record.map_err(|error| {
            let line = error.position().map_or(line, |p| p.line());
            DataError::Row {
                source_name: source.to_string(),
                line,
                message: match error.kind() {
                    csv::ErrorKind::Deserialize { err, .. } => err.to_string(),
                    _ => error.to_string(),
                },
            }
        })?;
        rows.push(raw.parse().map_err(row_error)?);
    }
    Ok(rows)
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
}
