//! The exported feed through a real GTFS validator: `gtfs-validator` from PyPI, a pure-Python
//! implementation of MobilityData's canonical GTFS Schedule rule set (the notices, severities
//! and `report.json` of MobilityData's Java validator v8.0.1, checked against that jar by its
//! authors). No ERROR-level notice is allowed; warnings are printed.
//!
//! Needs the Python named by `TRANSIT_TEST_PYTHON` with the validator installed (`source
//! scripts/python.sh; need_python_venv` makes a venv with it, pinned in
//! `scripts/python/requirements.txt`, and sets the variable); `scripts/test.sh` does that.
//! Without it the test fails and says so: it never passes silently.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use transit_gtfs::model::StopTime;
use transit_gtfs::{Feed, FeedOptions, Sources};

/// The environment variable naming the Python with the validator installed.
const PYTHON_VAR: &str = "TRANSIT_TEST_PYTHON";

/// How long one validation may take (about 20 s for the whole feed on one core).
const VALIDATION: Duration = Duration::from_secs(300);

fn python() -> PathBuf {
    let python = std::env::var_os(PYTHON_VAR).unwrap_or_else(|| {
        panic!(
            "{PYTHON_VAR} is not set: this test runs the gtfs-validator from PyPI. Run \
             scripts/test.sh, or `source scripts/python.sh; need_python_venv` first (it makes \
             a venv with the pinned validator and sets {PYTHON_VAR})"
        )
    });
    let python = PathBuf::from(python);
    assert!(
        python.is_file(),
        "{PYTHON_VAR}={} is not a file: run `source scripts/python.sh; need_python_venv`",
        python.display()
    );
    python
}

/// A directory of this test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "transit-gtfs-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the validator said: its `report.json` and `system_errors.json`.
struct Report {
    report: Value,
    system_errors: Value,
}

impl Report {
    fn notices(&self, severity: &str) -> Vec<&Value> {
        self.report["notices"]
            .as_array()
            .expect("report.json has notices")
            .iter()
            .filter(|n| n["severity"] == severity)
            .collect()
    }

    fn describe(notices: &[&Value]) -> String {
        notices
            .iter()
            .map(|n| {
                format!(
                    "{} ({}): {}",
                    n["code"],
                    n["totalNotices"],
                    serde_json::to_string(&n["sampleNotices"][0]).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Runs the validator on `zip`, as of `date`, for a feed in the United States.
fn validate(zip: &Path, date: chrono::NaiveDate, out: &Path) -> Report {
    let mut child = Command::new(python())
        .args(["-m", "gtfs_validator.cli", "-i"])
        .arg(zip)
        .arg("-o")
        .arg(out)
        .args(["-c", "US", "-d", &date.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the validator starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the validator") {
            break status;
        }
        if started.elapsed() > VALIDATION {
            let _ = child.kill();
            panic!("the validator took over {VALIDATION:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = child.wait_with_output().expect("the validator's output");
    assert!(
        status.success(),
        "the validator failed ({status}):\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let read = |name: &str| -> Value {
        let text = std::fs::read_to_string(out.join(name))
            .unwrap_or_else(|e| panic!("the validator wrote no {name}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
    };
    Report {
        report: read("report.json"),
        system_errors: read("system_errors.json"),
    }
}

fn write_zip(feed: &Feed, dir: &Path) -> PathBuf {
    let zip = dir.join("feed.zip");
    feed.write(&zip).unwrap();
    zip
}

#[test]
fn the_static_feed_passes_the_canonical_gtfs_rules_without_an_error() {
    let options = FeedOptions::default();
    let feed = transit_gtfs::build(&Sources::embedded().unwrap(), &options).unwrap();
    let scratch = Scratch::new("valid");
    let zip = write_zip(&feed, &scratch.0);
    let report = validate(&zip, options.start_date, &scratch.0.join("report"));

    assert_eq!(
        report.system_errors["notices"].as_array().map(Vec::len),
        Some(0),
        "system errors: {}",
        report.system_errors
    );
    // It read the whole feed: every file, every stop, route and trip.
    let summary = &report.report["summary"];
    let files: Vec<&str> = summary["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for file in [
        "agency.txt",
        "calendar.txt",
        "feed_info.txt",
        "routes.txt",
        "stop_times.txt",
        "stops.txt",
        "trips.txt",
    ] {
        assert!(files.contains(&file), "{file} not read: {files:?}");
    }
    assert_eq!(summary["counts"]["Stops"], feed.stops.len());
    assert_eq!(summary["counts"]["Routes"], feed.routes.len());
    assert_eq!(summary["counts"]["Trips"], feed.trips.len());

    let errors = report.notices("ERROR");
    assert!(
        errors.is_empty(),
        "the validator found errors:\n{}",
        Report::describe(&errors)
    );
    let warnings = report.notices("WARNING");
    println!(
        "gtfs-validator: no error; {} kind(s) of warning:\n{}",
        warnings.len(),
        Report::describe(&warnings)
    );
}

/// The validator really checks: a feed with a stop time at a stop that does not exist draws
/// an error, so a clean report above means something.
#[test]
fn a_feed_with_a_dangling_stop_draws_an_error() {
    let options = FeedOptions::default();
    let mut feed = transit_gtfs::build(&Sources::embedded().unwrap(), &options).unwrap();
    // A few trips are enough, and quick to validate.
    feed.trips.truncate(4);
    let kept: Vec<String> = feed.trips.iter().map(|t| t.trip_id.clone()).collect();
    feed.stop_times.retain(|s| kept.contains(&s.trip_id));
    let first: &mut StopTime = &mut feed.stop_times[0];
    first.stop_id = "39999".into();
    let scratch = Scratch::new("dangling");
    let zip = write_zip(&feed, &scratch.0);
    let report = validate(&zip, options.start_date, &scratch.0.join("report"));
    let errors = report.notices("ERROR");
    assert!(
        errors.iter().any(|n| n["code"] == "foreign_key_violation"),
        "expected a foreign_key_violation, got:\n{}",
        Report::describe(&errors)
    );
}
