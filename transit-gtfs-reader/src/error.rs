//! The one error a feed that cannot be read gets: what is wrong, and where.

use std::path::PathBuf;

/// Why a feed could not be read. Every variant about the feed's content names the file, and
/// where it can, the line and the field, so whoever produced the feed can fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GtfsError {
    /// The path could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The zip or folder given.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The input is neither a folder nor a readable zip archive.
    #[error("{what} is not a zip archive: {source}")]
    NotZip {
        /// The path, or `"the bytes given"`.
        what: String,
        /// What the zip reader said.
        source: zip::result::ZipError,
    },
    /// A file GTFS requires is absent.
    #[error("the feed has no {file}, which GTFS requires")]
    MissingFile {
        /// The file's name, such as `stops.txt`.
        file: &'static str,
    },
    /// A file could not be read as CSV at all (for example an entry of the zip is corrupt).
    #[error("{file}: {message}")]
    File {
        /// The file's name.
        file: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A record of a file is wrong: a bad value, an unknown reference, a missing column.
    #[error("{file} line {line}, field {field}: {message}")]
    Field {
        /// The file's name.
        file: &'static str,
        /// The line in the file, 1 for the header.
        line: u64,
        /// The column's name (or `"(record)"` when the whole record is at fault).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A date has no "noon minus 12 h" in a time zone (a date at the end of chrono's range).
    #[error("{date} has no day start in {timezone}")]
    NoDayStart {
        /// The date.
        date: chrono::NaiveDate,
        /// The zone's IANA name.
        timezone: &'static str,
    },
    /// The feed has no service at all on which a date could be chosen.
    #[error("the feed's calendar has no service on any date")]
    NoService,
}

/// The reader's result.
pub type Result<T> = std::result::Result<T, GtfsError>;
