use std::path::PathBuf;

use transit_core::model::{LineId, StationId};
use transit_core::network::DataError;

/// Why a feed could not be built or written.
///
/// The cause of a failed write is its [`source`](std::error::Error::source), not part of the
/// message: print the chain (`{:#}` with anyhow).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GtfsError {
    /// The CTA data (network, coordinates, schedule) did not load.
    #[error(transparent)]
    Network(#[from] DataError),
    /// A row of the platform coordinates is bad.
    #[error("{source_name}, line {line}: {message}")]
    Data {
        /// The file.
        source_name: String,
        /// Its line (the header is line 1).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A line has no schedule (or too few stations to run one), so it has no trips to publish.
    #[error("the {line} line has no scheduled timetable")]
    NoTimetable {
        /// The line.
        line: LineId,
    },
    /// A station has no coordinates.
    #[error("station {station} has no coordinates")]
    NotPlaced {
        /// The station.
        station: StationId,
    },
    /// A station's platforms cannot be matched to the line's two directions.
    #[error("the {line} line's station {station}: {message}")]
    Platforms {
        /// The line.
        line: LineId,
        /// The station.
        station: StationId,
        /// What is wrong.
        message: String,
    },
    /// Dates out of order or out of range.
    #[error("{message}")]
    Dates {
        /// What is wrong.
        message: String,
    },
    /// A file's CSV could not be written.
    #[error("writing {file}")]
    Csv {
        /// The GTFS file.
        file: &'static str,
        /// The CSV writer's error.
        source: csv::Error,
    },
    /// The zip archive could not be written.
    #[error("writing the zip archive")]
    Zip(#[from] zip::result::ZipError),
    /// The feed, read back as any agency's, gave no service day for the date.
    #[error("reading the feed's service of {date}")]
    ServiceDay {
        /// The date.
        date: chrono::NaiveDate,
        /// What the reader said.
        source: transit_gtfs_reader::GtfsError,
    },
    /// A file or directory could not be written.
    #[error("writing {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}
