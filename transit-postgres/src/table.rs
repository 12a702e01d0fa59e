//! The `stations` table as the loader and the source both see it: its name, its columns, and
//! a database row turned into a validated [`StationRow`].

use tokio_postgres::Row;
use transit_core::event::StationRow;
use transit_core::model::StationId;

/// The table's columns in the order of `cta_stations.csv` (`order` is an SQL keyword, hence
/// the quotes).
pub(crate) const COLUMNS: &str = r#"stop_id, direction_id, stop_name, station_name, station_descriptive_name, station_id, "order", red, blue, green"#;

/// A row read from the table: its `stop_id` (always readable, it is what positions are made
/// of) and the row itself, or why it cannot be published.
#[derive(Debug)]
pub(crate) struct TableRow {
    /// The row's `stop_id`.
    pub(crate) stop_id: i32,
    /// The validated row, or what is wrong with it.
    pub(crate) row: Result<StationRow, String>,
}

impl TableRow {
    /// Reads a row selected with [`COLUMNS`]. A `stop_id` that cannot be read as an integer is
    /// an error of the table, not of the row (the query cannot make progress past it).
    pub(crate) fn read(row: &Row) -> Result<Self, tokio_postgres::Error> {
        let stop_id: i32 = row.try_get(0)?;
        Ok(Self {
            stop_id,
            row: station_row(stop_id, row),
        })
    }
}

/// Validates a database row the way the CSV parser validates a line: a table created by
/// someone else may hold NULLs, negative ids or columns of another type.
fn station_row(stop_id: i32, row: &Row) -> Result<StationRow, String> {
    Ok(StationRow {
        stop_id: natural("stop_id", Some(stop_id))?,
        direction_id: text(row, 1, "direction_id")?,
        stop_name: text(row, 2, "stop_name")?,
        station_name: text(row, 3, "station_name")?,
        station_descriptive_name: text(row, 4, "station_descriptive_name")?,
        station_id: StationId(natural("station_id", column(row, 5, "station_id")?)?),
        order: natural("order", column(row, 6, "order")?)?,
        red: flag(row, 7, "red")?,
        blue: flag(row, 8, "blue")?,
        green: flag(row, 9, "green")?,
    })
}

fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    index: usize,
    name: &str,
) -> Result<T, String> {
    row.try_get(index)
        .map_err(|error| format!("column {name}: {error}"))
}

fn text(row: &Row, index: usize, name: &str) -> Result<String, String> {
    column::<Option<String>>(row, index, name)?.ok_or_else(|| format!("{name} is NULL"))
}

fn flag(row: &Row, index: usize, name: &str) -> Result<bool, String> {
    column::<Option<bool>>(row, index, name)?.ok_or_else(|| format!("{name} is NULL"))
}

fn natural(name: &str, value: Option<i32>) -> Result<u32, String> {
    let value = value.ok_or_else(|| format!("{name} is NULL"))?;
    u32::try_from(value).map_err(|_| format!("{name} {value} is negative"))
}
