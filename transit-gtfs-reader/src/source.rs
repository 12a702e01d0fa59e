//! Where a feed's files come from: a zip archive (a file or bytes) or a folder.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::{Path, PathBuf};

use crate::error::{GtfsError, Result};

/// What a zip archive reads from: a file or bytes in memory.
pub(crate) trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// The files of one feed.
pub(crate) enum Source {
    Dir(PathBuf),
    Zip {
        archive: zip::ZipArchive<Box<dyn ReadSeek>>,
        /// The folder inside the archive the `.txt` files are in ("" at the top): some
        /// publishers zip the folder rather than its files.
        prefix: String,
    },
}

impl Source {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|source| GtfsError::Io {
            path: path.to_owned(),
            source,
        })?;
        if meta.is_dir() {
            return Ok(Source::Dir(path.to_owned()));
        }
        let file = File::open(path).map_err(|source| GtfsError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::zip(
            Box::new(BufReader::with_capacity(1 << 16, file)),
            path.display().to_string(),
        )
    }

    pub(crate) fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Self::zip(Box::new(Cursor::new(bytes)), "the bytes given".to_owned())
    }

    fn zip(reader: Box<dyn ReadSeek>, what: String) -> Result<Self> {
        let archive =
            zip::ZipArchive::new(reader).map_err(|source| GtfsError::NotZip { what, source })?;
        let prefix = feed_folder(&archive);
        Ok(Source::Zip { archive, prefix })
    }

    /// Calls `read` with the file's bytes, or returns `None` if the feed has no such file.
    pub(crate) fn with_file<T>(
        &mut self,
        file: &'static str,
        read: impl FnOnce(&mut dyn Read) -> Result<T>,
    ) -> Result<Option<T>> {
        match self {
            Source::Dir(dir) => {
                let path = dir.join(file);
                match File::open(&path) {
                    Ok(f) => read(&mut BufReader::with_capacity(1 << 16, f)).map(Some),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(GtfsError::Io { path, source }),
                }
            }
            Source::Zip { archive, prefix } => {
                let name = format!("{prefix}{file}");
                match archive.by_name(&name) {
                    Ok(mut entry) => read(&mut entry).map(Some),
                    Err(zip::result::ZipError::FileNotFound) => Ok(None),
                    Err(e) => Err(GtfsError::File {
                        file,
                        message: format!("cannot read it from the zip: {e}"),
                    }),
                }
            }
        }
    }
}

/// The folder of `archive` holding the feed's files (the one holding `stops.txt`, the
/// shallowest), `""` when they are at the top, as `folder/`.
pub(crate) fn feed_folder<R: std::io::Read + std::io::Seek>(
    archive: &zip::ZipArchive<R>,
) -> String {
    archive
        .file_names()
        .filter_map(|name| name.ok())
        .filter(|name| *name == "stops.txt" || name.ends_with("/stops.txt"))
        .min_by_key(|name| name.len())
        .map(|name| name.trim_end_matches("stops.txt").to_owned())
        .unwrap_or_default()
}
