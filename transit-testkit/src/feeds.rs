//! The real GTFS feeds the tests read: downloaded once by `scripts/feeds.sh` into the folder
//! [`FEEDS_VAR`] names (not committed, each under its own licence), and unpacked into a folder
//! for a test that alters one of their files (and zipped again).
//!
//! - [`NYC`]: NYC subway lines 1 and 2 (gtfs-kit 13.0.1's `data/nyc_subway_gtfs.zip`);
//! - [`SAMPLE_GTFS_FEED`]: npm `sample-gtfs-feed` 0.13.0 (two agencies in two time zones,
//!   frequencies with `exact_times` 0 and 1);
//! - [`GTFS_KIT_DEMO`]: gtfs-kit's small demo feed (`data/sample_gtfs.zip`, buses only).

use std::io::Read;
use std::path::{Path, PathBuf};

/// The variable naming the folder of the downloaded feeds.
pub const FEEDS_VAR: &str = "TRANSIT_TEST_FEEDS";

/// NYC subway lines 1 and 2.
pub const NYC: &str = "nyc_subway_gtfs.zip";

/// npm `sample-gtfs-feed`'s `gtfs.zip`.
pub const SAMPLE_GTFS_FEED: &str = "sample-gtfs-feed.zip";

/// gtfs-kit's demo feed.
pub const GTFS_KIT_DEMO: &str = "sample_gtfs.zip";

/// The path of the downloaded feed `name` (one of the constants above); fails the test, saying
/// how to download it, when [`FEEDS_VAR`] is not set or the file is not there.
pub fn feed(name: &str) -> PathBuf {
    let Some(dir) = std::env::var_os(FEEDS_VAR) else {
        panic!(
            "{FEEDS_VAR} is not set: this test reads real GTFS feeds that are downloaded, not \
             committed. Run `source scripts/feeds.sh && need_feeds` (it downloads them once \
             into ~/.cache/transit/feeds and sets {FEEDS_VAR}), or scripts/test.sh"
        );
    };
    let path = PathBuf::from(dir).join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `source scripts/feeds.sh && need_feeds` again",
        path.display()
    );
    path
}

/// NYC's lines 1 and 2 ([`NYC`]).
pub fn nyc() -> PathBuf {
    feed(NYC)
}

/// Unpacks the downloaded feed `name`'s files into the folder `into` (created if need be), as
/// a feed a test may alter: `--gtfs` and the reader take a folder as they take a zip.
pub fn unpack(name: &str, into: &Path) {
    let path = feed(name);
    let file =
        std::fs::File::open(&path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .unwrap_or_else(|e| panic!("{} as a zip: {e}", path.display()));
    std::fs::create_dir_all(into).unwrap_or_else(|e| panic!("creating {}: {e}", into.display()));
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .unwrap_or_else(|e| panic!("entry {index} of {}: {e}", path.display()));
        if entry.is_dir() {
            continue;
        }
        // The feed's files by their own names, whatever folder the archive keeps them in.
        let Some(name) = entry
            .enclosed_name()
            .and_then(|p| p.file_name().map(PathBuf::from))
        else {
            continue;
        };
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .unwrap_or_else(|e| panic!("reading {} of {}: {e}", name.display(), path.display()));
        let target = into.join(&name);
        std::fs::write(&target, bytes)
            .unwrap_or_else(|e| panic!("writing {}: {e}", target.display()));
    }
}

/// Packs the files of the folder `dir` (a feed [`unpack`]ed and altered) into the zip archive
/// `zip`, as a publisher ships a feed.
pub fn pack(dir: &Path, zip: &Path) {
    let out =
        std::fs::File::create(zip).unwrap_or_else(|e| panic!("creating {}: {e}", zip.display()));
    let mut writer = zip::ZipWriter::new(out);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|entry| entry.expect("an entry of the feed's folder").path())
        .filter(|path| path.is_file())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a file name in UTF-8");
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap_or_else(|e| panic!("adding {name} to {}: {e}", zip.display()));
        let bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        std::io::Write::write_all(&mut writer, &bytes)
            .unwrap_or_else(|e| panic!("writing {name} into {}: {e}", zip.display()));
    }
    writer
        .finish()
        .unwrap_or_else(|e| panic!("finishing {}: {e}", zip.display()));
}

/// A temporary folder for feeds a test makes (a 10 MB field among them), removed with it: they
/// are no logs, and would only weigh on the test's log folder.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// A new, empty folder named after `name` in the system's temporary folder.
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(transit_core::testing::unique_name(name));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        Self { dir }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: a folder left behind in the temporary folder harms nothing.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
