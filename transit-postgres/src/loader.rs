//! Loading `cta_stations.csv` into the `stations` table, as the original's setup script did.
//!
//! # Idempotent: `ON CONFLICT (stop_id) DO NOTHING`
//!
//! Loading the same file twice leaves one copy of each row. A row whose `stop_id` is already
//! there is left as it is rather than updated, on purpose: the station source reads the table
//! in incrementing mode (like Kafka Connect's JDBC source), which never sees updates to rows it
//! has passed, so an `UPDATE` would make the table and the topic disagree without anyone
//! noticing. A changed row needs a new `stop_id`. The report says how many rows were already
//! present.
//!
//! # Bad rows
//!
//! A row that does not parse (see [`parse_station_rows_lenient`]) or that the database refuses
//! (a data or constraint error, e.g. a NUL byte in a name) is skipped and reported with its
//! line; the other rows load. Everything happens in one transaction, each row under a savepoint
//! so a refused row does not abort the rest: a reader sees all of the file's good rows or none.

use std::io::Read;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Client;
use transit_core::event::StationRow;
use transit_core::network::{parse_station_rows_lenient, DataError};

use super::table::COLUMNS;

/// Creates the `stations` table (the columns of `cta_stations.csv`) unless it exists.
///
/// The table goes to the first schema of the connection's `search_path`.
pub async fn create_table(client: &Client) -> Result<(), LoadError> {
    client
        .batch_execute(
            r#"CREATE TABLE IF NOT EXISTS stations (
                stop_id integer PRIMARY KEY,
                direction_id text NOT NULL,
                stop_name text NOT NULL,
                station_name text NOT NULL,
                station_descriptive_name text NOT NULL,
                station_id integer NOT NULL,
                "order" integer NOT NULL,
                red boolean NOT NULL,
                blue boolean NOT NULL,
                green boolean NOT NULL
            )"#,
        )
        .await
        .map_err(LoadError::database("creating the stations table"))
}

/// What a load did.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Data rows in the file (good and bad; the header is not counted).
    pub rows: u64,
    /// Rows inserted.
    pub inserted: u64,
    /// Good rows whose `stop_id` was already in the table (left unchanged).
    pub already_present: u64,
    /// The rows skipped, each a [`DataError::Row`] naming the file, the line and what is wrong,
    /// in file order.
    pub rejected: Vec<DataError>,
}

impl LoadReport {
    /// The lines of the rejected rows (the header is line 1).
    pub fn rejected_lines(&self) -> Vec<u64> {
        self.rejected
            .iter()
            .filter_map(|error| match error {
                DataError::Row { line, .. } => Some(*line),
                _ => None,
            })
            .collect()
    }
}

/// Why a load failed as a whole (nothing was committed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The rows could not be read at all.
    #[error("reading the station rows")]
    Read(#[from] DataError),
    /// The database failed for a reason other than one row's data.
    #[error("{operation}")]
    Database {
        /// What was being done.
        operation: &'static str,
        /// What PostgreSQL (or the connection) said.
        #[source]
        source: tokio_postgres::Error,
    },
}

impl LoadError {
    fn database(operation: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Self {
        move |source| Self::Database { operation, source }
    }
}

/// Loads the station rows of `reader` (CSV with the columns of `cta_stations.csv`; `source_name`
/// names it in reports) into the `stations` table, which must exist (see [`create_table`]).
///
/// `reader` is read synchronously, before the first query: give it a file or bytes in memory.
/// Rows already present are left alone and counted; bad rows are skipped and reported (see the
/// [module documentation](self)).
pub async fn load_csv(
    client: &mut Client,
    source_name: &str,
    reader: impl Read,
) -> Result<LoadReport, LoadError> {
    let parsed = parse_station_rows_lenient(source_name, reader)?;
    let mut report = LoadReport {
        rows: (parsed.rows.len() + parsed.rejected.len()) as u64,
        rejected: parsed.rejected,
        ..LoadReport::default()
    };
    let mut transaction = client
        .transaction()
        .await
        .map_err(LoadError::database("starting the load transaction"))?;
    let insert = transaction
        .prepare(&format!(
            "INSERT INTO stations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (stop_id) DO NOTHING"
        ))
        .await
        .map_err(LoadError::database("preparing the insert"))?;
    for (line, row) in &parsed.rows {
        let params = match Params::of(row) {
            Ok(params) => params,
            Err(message) => {
                report.rejected.push(row_error(source_name, *line, message));
                continue;
            }
        };
        let savepoint = transaction
            .savepoint("station_row")
            .await
            .map_err(LoadError::database("setting a savepoint"))?;
        match savepoint.execute(&insert, &params.as_sql()).await {
            Ok(count) => {
                savepoint
                    .commit()
                    .await
                    .map_err(LoadError::database("releasing a savepoint"))?;
                if count == 0 {
                    report.already_present += 1;
                } else {
                    report.inserted += count;
                }
            }
            Err(error) if refuses_the_row(&error) => {
                savepoint
                    .rollback()
                    .await
                    .map_err(LoadError::database("rolling back to a savepoint"))?;
                let message = format!("refused by the database: {}", db_message(&error));
                report.rejected.push(row_error(source_name, *line, message));
            }
            Err(source) => {
                return Err(LoadError::Database {
                    operation: "inserting a station row",
                    source,
                })
            }
        }
    }
    transaction
        .commit()
        .await
        .map_err(LoadError::database("committing the load"))?;
    report.rejected.sort_by_key(|error| match error {
        DataError::Row { line, .. } => *line,
        _ => 0,
    });
    for rejected in &report.rejected {
        tracing::warn!(error = %rejected, "station row skipped");
    }
    tracing::info!(
        source = source_name,
        rows = report.rows,
        inserted = report.inserted,
        already_present = report.already_present,
        rejected = report.rejected.len(),
        "station rows loaded"
    );
    Ok(report)
}

/// Whether a failed insert is this row's fault (SQLSTATE class 22, data exception, or 23,
/// integrity constraint violation) rather than the database's or the connection's.
fn refuses_the_row(error: &tokio_postgres::Error) -> bool {
    error.code().is_some_and(|code: &SqlState| {
        let code = code.code();
        code.starts_with("22") || code.starts_with("23")
    })
}

/// The server's own message for a database error; the error's text otherwise.
fn db_message(error: &tokio_postgres::Error) -> String {
    error
        .as_db_error()
        .map_or_else(|| error.to_string(), |db| db.message().to_string())
}

fn row_error(source_name: &str, line: u64, message: String) -> DataError {
    DataError::Row {
        source_name: source_name.to_string(),
        line,
        message,
    }
}

/// A row as the insert's parameters (`integer` columns take `i32`).
struct Params<'a> {
    stop_id: i32,
    station_id: i32,
    order: i32,
    row: &'a StationRow,
}

impl<'a> Params<'a> {
    fn of(row: &'a StationRow) -> Result<Self, String> {
        // The parser already bounds numbers by i32::MAX; checked again rather than cast.
        let int = |name: &str, value: u32| {
            i32::try_from(value).map_err(|_| format!("{name} {value} is too large"))
        };
        Ok(Self {
            stop_id: int("stop_id", row.stop_id)?,
            station_id: int("station_id", row.station_id.0)?,
            order: int("order", row.order)?,
            row,
        })
    }

    fn as_sql(&self) -> [&(dyn ToSql + Sync); 10] {
        [
            &self.stop_id,
            &self.row.direction_id,
            &self.row.stop_name,
            &self.row.station_name,
            &self.row.station_descriptive_name,
            &self.station_id,
            &self.order,
            &self.row.red,
            &self.row.blue,
            &self.row.green,
        ]
    }
}
