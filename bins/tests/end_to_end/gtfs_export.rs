//! `transit gtfs export` as a user runs it: the feed it writes is the library's, to a zip or a
//! directory, and a failure is one line on stderr and a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use transit_core::testing::unique_name;
use transit_gtfs::{FeedOptions, Sources};

fn transit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_transit"))
        .args(args)
        .output()
        .expect("running transit")
}

/// A directory of the test's own, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch() -> Scratch {
    let dir = std::env::temp_dir().join(unique_name("transit-gtfs-export"));
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn gtfs_export_writes_the_library_feed_to_a_zip_or_a_directory() {
    let dir = scratch();
    let feed = transit_gtfs::build(&Sources::embedded().unwrap(), &FeedOptions::default()).unwrap();

    let zip = path(&dir.0, "cta.zip");
    let out = transit(&["gtfs", "export", &zip]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("{} trips", feed.trips.len())),
        "{said}"
    );
    assert!(std::fs::read(&zip).unwrap() == feed.to_zip().unwrap());

    let files = path(&dir.0, "feed");
    let out = transit(&[
        "gtfs",
        "export",
        &files,
        "--start-date",
        "2027-03-01",
        "--days",
        "7",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (name, bytes) in feed.files().unwrap() {
        let written = std::fs::read(dir.0.join("feed").join(name)).unwrap();
        if name == "calendar.txt" || name == "feed_info.txt" {
            let text = String::from_utf8(written).unwrap();
            assert!(
                text.contains("20270301") && text.contains("20270307"),
                "{text}"
            );
        } else {
            assert!(written == bytes, "{name}");
        }
    }
}

#[test]
fn gtfs_export_failures_are_one_line_and_a_non_zero_exit() {
    let dir = scratch();
    // A target inside a regular file cannot be written.
    let file = path(&dir.0, "plain");
    std::fs::write(&file, "not a directory").unwrap();
    let out = transit(&["gtfs", "export", &format!("{file}/cta.zip")]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: writing "), "{stderr}");

    let out = transit(&[
        "gtfs",
        "export",
        &path(&dir.0, "x.zip"),
        "--start-date",
        "2026-13-01",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--start-date"));
}
