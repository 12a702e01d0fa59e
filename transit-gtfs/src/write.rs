//! The feed as files: CSV text per GTFS file, to a directory or a zip archive.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::model::Feed;
use crate::GtfsError;

/// Where [`Feed::write`] put the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// A directory of `.txt` files.
    Directory(PathBuf),
    /// A zip archive.
    Zip(PathBuf),
}

fn csv_of<T: Serialize>(name: &'static str, rows: &[T]) -> Result<Vec<u8>, GtfsError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer
            .serialize(row)
            .map_err(|source| GtfsError::Csv { file: name, source })?;
    }
    writer.into_inner().map_err(|e| GtfsError::Csv {
        file: name,
        source: e.into_error().into(),
    })
}

impl Feed {
    /// Each file of the feed: its name and CSV text (UTF-8, a header row, `\n` line ends).
    pub fn files(&self) -> Result<Vec<(&'static str, Vec<u8>)>, GtfsError> {
        Ok(vec![
            ("agency.txt", csv_of("agency.txt", &self.agency)?),
            ("stops.txt", csv_of("stops.txt", &self.stops)?),
            ("routes.txt", csv_of("routes.txt", &self.routes)?),
            ("trips.txt", csv_of("trips.txt", &self.trips)?),
            (
                "stop_times.txt",
                csv_of("stop_times.txt", &self.stop_times)?,
            ),
            ("calendar.txt", csv_of("calendar.txt", &self.calendar)?),
            (
                "feed_info.txt",
                csv_of("feed_info.txt", std::slice::from_ref(&self.feed_info))?,
            ),
        ])
    }

    /// The feed as a zip archive (deflated; every entry dated 1980-01-01, so the same feed
    /// always gives the same bytes).
    pub fn to_zip(&self) -> Result<Vec<u8>, GtfsError> {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(0o644);
        for (name, bytes) in self.files()? {
            zip.start_file(name, options)?;
            zip.write_all(&bytes).map_err(zip::result::ZipError::Io)?;
        }
        Ok(zip.finish()?.into_inner())
    }

    /// Writes the feed to `target`: a zip archive if its name ends in `.zip`, otherwise a
    /// directory of `.txt` files (created if missing; files of the feed's names replaced).
    pub fn write(&self, target: &Path) -> Result<Written, GtfsError> {
        let io = |source| GtfsError::Io {
            path: target.to_path_buf(),
            source,
        };
        let is_zip = target
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        if is_zip {
            let bytes = self.to_zip()?;
            std::fs::write(target, bytes).map_err(io)?;
            return Ok(Written::Zip(target.to_path_buf()));
        }
        std::fs::create_dir_all(target).map_err(io)?;
        for (name, bytes) in self.files()? {
            let path = target.join(name);
            std::fs::write(&path, bytes).map_err(|source| GtfsError::Io { path, source })?;
        }
        Ok(Written::Directory(target.to_path_buf()))
    }
}
