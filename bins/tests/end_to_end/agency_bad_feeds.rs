//! Bad GTFS feeds as an operator meets them: `full_pipeline --gtfs BAD` (in memory), and
//! `transit produce --gtfs BAD` and `transit dashboard --gtfs BAD` on Apache Kafka, each end at
//! once with a non-zero status and one error line, the last of stderr, naming the file, the
//! line and the field (or, for a feed that is no feed at all, the path or the missing file),
//! without a panic, and publish nothing. Each bad feed is gtfs-kit's demo feed (the one
//! `scripts/feeds.sh` downloads) with one file altered, in a folder for `full_pipeline` and
//! zipped again for `transit`. The same feed with a byte-order mark, CRLF line ends and quoted
//! fields holding commas is a good feed, and runs as the plain one, from a folder or a zip.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use transit_core::testing::unique_name;
use transit_testkit::browser::built_binary;
use transit_testkit::feeds::{self, Scratch, GTFS_KIT_DEMO};
use transit_testkit::kafka::{process_args, rdkafka_settings};
use transit_testkit::processes::{Launcher, LogDir, Proc};

/// How long a bad feed may take to end a process: reading the demo feed takes milliseconds,
/// the rest is the process starting.
const QUICKLY: Duration = Duration::from_secs(10);

/// The demo feed runs buses only (route type 3).
const BUSES: &str = "3";

/// One bad input: how it is made from the demo feed unpacked in a folder, and what its error
/// line must say.
struct Bad {
    /// What is wrong, for the failure messages.
    what: &'static str,
    /// Alters the unpacked feed in `dir`; returns the path to pass as `--gtfs`.
    make: fn(&Path) -> PathBuf,
    /// What the error line must contain (the file, `line N`, `field F`).
    says: &'static [&'static str],
}

/// The file `file` of the feed in `dir`, as lines (without their ends).
fn lines(dir: &Path, file: &str) -> Vec<String> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines().map(str::to_owned).collect()
}

fn write_lines(dir: &Path, file: &str, lines: &[String]) {
    let path = dir.join(file);
    std::fs::write(&path, lines.join("\n") + "\n")
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// Sets `column` of line `line` (1 is the header) of `file` to `value`. The demo feed quotes
/// nothing, so a comma splits its fields.
fn set_field(dir: &Path, file: &str, line: usize, column: &str, value: &str) {
    let mut rows = lines(dir, file);
    let index = rows[0]
        .split(',')
        .position(|c| c == column)
        .unwrap_or_else(|| panic!("{file} has no column {column}"));
    assert!(
        !rows[line - 1].contains('"'),
        "{file} line {line} is quoted"
    );
    let mut fields: Vec<&str> = rows[line - 1].split(',').collect();
    fields[index] = value;
    rows[line - 1] = fields.join(",");
    write_lines(dir, file, &rows);
}

/// Gives stops.txt the columns `location_type` and `parent_station`, empty but on the lines
/// `set` names (line, location type, parent).
fn set_parents(dir: &Path, set: &[(usize, &str, &str)]) {
    let mut rows = lines(dir, "stops.txt");
    rows[0].push_str(",location_type,parent_station");
    for (at, row) in rows.iter_mut().enumerate().skip(1) {
        match set.iter().find(|(line, _, _)| *line == at + 1) {
            Some((_, kind, parent)) => row.push_str(&format!(",{kind},{parent}")),
            None => row.push_str(",,"),
        }
    }
    write_lines(dir, "stops.txt", &rows);
}

/// The bad inputs of issue 21's list, each made from the demo feed. Lines are the demo feed's:
/// stop_times.txt line 5 is `CITY1,6:05:00,6:07:00,NANAA,2,...`; stops.txt lines 6 and 7 are
/// the platforms NADAV and NANAA.
fn bad_feeds() -> Vec<Bad> {
    vec![
        Bad {
            what: "not a zip",
            make: |dir| {
                let path = dir.with_extension("zip");
                std::fs::write(&path, "stop_id,stop_name\nthis is no zip archive\n")
                    .expect("writing the test's file");
                path
            },
            says: &["not a zip archive"],
        },
        Bad {
            what: "a required file missing",
            make: |dir| {
                std::fs::remove_file(dir.join("stop_times.txt")).expect("removing stop_times");
                dir.to_owned()
            },
            says: &["stop_times.txt", "GTFS requires"],
        },
        Bad {
            what: "a stop_time naming an unknown stop",
            make: |dir| {
                set_field(dir, "stop_times.txt", 5, "stop_id", "NO_SUCH_STOP");
                dir.to_owned()
            },
            says: &["stop_times.txt line 5", "field stop_id", "NO_SUCH_STOP"],
        },
        Bad {
            what: "a stop_time naming an unknown trip",
            make: |dir| {
                set_field(dir, "stop_times.txt", 5, "trip_id", "NO_SUCH_TRIP");
                dir.to_owned()
            },
            says: &["stop_times.txt line 5", "field trip_id", "NO_SUCH_TRIP"],
        },
        Bad {
            what: "a time of 25:61:00",
            make: |dir| {
                set_field(dir, "stop_times.txt", 5, "departure_time", "25:61:00");
                dir.to_owned()
            },
            says: &["stop_times.txt line 5", "field departure_time", "25:61:00"],
        },
        Bad {
            what: "a parent station that is a platform",
            make: |dir| {
                set_parents(dir, &[(6, "0", "NANAA")]);
                dir.to_owned()
            },
            says: &["stops.txt line 6", "field parent_station", "NANAA"],
        },
        Bad {
            what: "a circle of parent stations",
            make: |dir| {
                set_parents(dir, &[(6, "1", "NANAA"), (7, "1", "NADAV")]);
                dir.to_owned()
            },
            says: &["stops.txt line 6", "field parent_station", "circle"],
        },
        Bad {
            what: "a quote never closed",
            make: |dir| {
                set_field(
                    dir,
                    "stops.txt",
                    6,
                    "stop_name",
                    "\"North Ave / D Ave N (Demo)",
                );
                dir.to_owned()
            },
            says: &["stops.txt line 6", "field stop_desc", "never closed"],
        },
        Bad {
            what: "a field that is not UTF-8",
            make: |dir| {
                let path = dir.join("stops.txt");
                let mut bytes = std::fs::read(&path).expect("reading stops.txt");
                // "North Ave" of line 6 in Latin-1, with its "o" an "ö".
                let at = bytes
                    .windows(9)
                    .position(|w| w == b"North Ave")
                    .expect("NADAV's name");
                bytes[at + 1] = 0xf6;
                std::fs::write(&path, bytes).expect("writing stops.txt");
                dir.to_owned()
            },
            says: &["stops.txt line 6", "field stop_name", "UTF-8"],
        },
        Bad {
            what: "a field of 10 MB",
            make: |dir| {
                set_field(dir, "stops.txt", 6, "stop_desc", &"x".repeat(10 << 20));
                dir.to_owned()
            },
            says: &["stops.txt line 6", "field stop_desc", "bytes long"],
        },
    ]
}

/// The demo feed unpacked into a new folder of `scratch`, named after `what`.
fn demo_feed(scratch: &Scratch, what: &str) -> PathBuf {
    let dir = scratch.path().join(what.replace([' ', ':'], "-"));
    feeds::unpack(GTFS_KIT_DEMO, &dir);
    dir
}

/// Waits for `proc` to end on the bad feed `bad` at `path`, and checks that it did as an
/// operator needs: quickly, with status 1, its last stderr line the one error line naming the
/// path once and saying what `bad.says`, no panic, nothing on stdout.
async fn assert_refused(proc: &mut Proc, bad: &Bad, path: &Path, started: Instant) -> String {
    let status = proc.wait_exit(QUICKLY).await;
    let took = started.elapsed();
    let log = proc.log();
    let label = format!("{} on {}", proc.label(), bad.what);
    assert_eq!(status.code(), Some(1), "{label}: {status}:\n{log}");
    assert!(took < QUICKLY, "{label}: ended after {took:?}");
    assert!(
        !log.contains("panicked") && !log.contains("backtrace"),
        "{label}: a panic:\n{log}"
    );
    let errors: Vec<&str> = log.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{label}: one error line:\n{log}");
    assert_eq!(
        log.lines().last(),
        Some(errors[0]),
        "{label}: the error is the last line:\n{log}"
    );
    for needle in bad.says {
        assert!(
            errors[0].contains(needle),
            "{label}: no {needle:?} in\n{}",
            errors[0]
        );
    }
    let path = path.display().to_string();
    assert_eq!(
        errors[0].matches(&path).count(),
        1,
        "{label}: names {path} once:\n{}",
        errors[0]
    );
    assert!(
        errors[0].contains("--gtfs"),
        "{label}: names the setting:\n{}",
        errors[0]
    );
    assert_eq!(
        proc.stdout(),
        "",
        "{label}: nothing served, nothing printed"
    );
    errors[0].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_pipeline_refuses_each_bad_feed_with_one_line_naming_file_line_and_field() {
    let binary = built_binary(
        "examples/full_pipeline",
        "cargo build --example full_pipeline",
    );
    let mut launcher = Launcher::new(binary, LogDir::create("agency-bad-feeds-pipeline"));
    let scratch = Scratch::new("agency-bad-feeds-pipeline");
    launcher.env("RUST_LOG", "info");
    for bad in bad_feeds() {
        let path = (bad.make)(&demo_feed(&scratch, bad.what));
        let args: Vec<String> = [
            "--gtfs",
            &path.display().to_string(),
            "--route-types",
            BUSES,
            "--flat-out",
            "--days",
            "1",
            "--address",
            "127.0.0.1:0",
            "--registry-address",
            "127.0.0.1:0",
            "--rest-proxy-address",
            "127.0.0.1:0",
        ]
        .map(String::from)
        .to_vec();
        let started = Instant::now();
        let mut proc = launcher.start("full_pipeline", &args);
        let line = assert_refused(&mut proc, &bad, &path, started).await;
        println!("{}, in {:?}: {line}", bad.what, started.elapsed());
    }
    launcher.logs().remove();
}

/// Every topic of the broker whose name starts with `prefix`, with the records it holds.
fn topics_with(prefix: &str) -> Vec<(String, i64)> {
    let mut config = ClientConfig::new();
    for (key, value) in rdkafka_settings() {
        config.set(key, value);
    }
    let client: BaseConsumer = config
        .set("group.id", unique_name("bad-feeds-metadata"))
        .create()
        .expect("a metadata client");
    let timeout = Duration::from_secs(30);
    let metadata = client
        .fetch_metadata(None, timeout)
        .expect("the broker's topics");
    metadata
        .topics()
        .iter()
        .filter(|topic| topic.name().starts_with(prefix))
        .map(|topic| {
            let records = topic
                .partitions()
                .iter()
                .map(|p| {
                    let (low, high) = client
                        .fetch_watermarks(topic.name(), p.id(), timeout)
                        .expect("a partition's offsets");
                    high - low
                })
                .sum();
            (topic.name().to_owned(), records)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_dashboard_refuse_each_bad_feed_with_one_line_and_publish_nothing_on_kafka() {
    let binary = built_binary("transit", "cargo build --bin transit");
    let mut launcher = Launcher::new(binary, LogDir::create("agency-bad-feeds-produce"));
    let scratch = Scratch::new("agency-bad-feeds-produce");
    launcher.env("RUST_LOG", "info");
    let prefix = unique_name("badfeeds").replace('-', "_");
    for bad in bad_feeds() {
        // Zipped, as publishers ship feeds (full_pipeline's test reads them as folders).
        let mut path = (bad.make)(&demo_feed(&scratch, bad.what));
        if path.is_dir() {
            let zip = path.with_extension("zip");
            feeds::pack(&path, &zip);
            path = zip;
        }
        for command in ["produce", "dashboard"] {
            let mut args: Vec<String> = [command, "--gtfs", &path.display().to_string()]
                .map(String::from)
                .to_vec();
            args.extend(process_args());
            args.extend(
                [
                    "--route-types",
                    BUSES,
                    "--topic-prefix",
                    &prefix,
                    // Nothing may reach the registry either: none answers here.
                    "--registry-url",
                    "http://127.0.0.1:9",
                    "--metrics-address",
                    "127.0.0.1:0",
                ]
                .map(String::from),
            );
            if command == "dashboard" {
                args.extend(["--address", "127.0.0.1:0"].map(String::from));
            }
            let started = Instant::now();
            let mut proc = launcher.start(command, &args);
            let line = assert_refused(&mut proc, &bad, &path, started).await;
            println!(
                "{command}, {}, in {:?}: {line}",
                bad.what,
                started.elapsed()
            );
        }
    }
    let published = tokio::task::spawn_blocking(move || topics_with(&prefix))
        .await
        .expect("listing the topics");
    assert!(
        published.iter().all(|(_, records)| *records == 0),
        "published on a bad feed: {published:?}"
    );
    launcher.logs().remove();
}

/// `full_pipeline` over the feed at `dir` (a folder or a zip) for a day flat out; what it printed of the arrivals
/// it published, after checking it ended well.
async fn run_day(launcher: &mut Launcher, name: &str, dir: &Path) -> String {
    let args: Vec<String> = [
        "--gtfs",
        &dir.display().to_string(),
        "--route-types",
        BUSES,
        "--flat-out",
        "--days",
        "1",
        "--address",
        "127.0.0.1:0",
        "--registry-address",
        "127.0.0.1:0",
        "--rest-proxy-address",
        "127.0.0.1:0",
    ]
    .map(String::from)
    .to_vec();
    let mut proc = launcher.start(name, &args);
    let status = proc.wait_exit(Duration::from_secs(60)).await;
    let log = proc.log();
    assert!(status.success(), "{name}: {status}:\n{log}");
    assert!(
        !log.contains("error") && !log.contains("WARN"),
        "{name}:\n{log}"
    );
    let stdout = proc.stdout();
    let published = stdout
        .lines()
        .find(|line| line.starts_with("published "))
        .unwrap_or_else(|| panic!("{name}: no arrivals published:\n{stdout}"));
    published.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_with_a_byte_order_mark_crlf_and_quoted_commas_runs_as_the_plain_one() {
    let binary = built_binary(
        "examples/full_pipeline",
        "cargo build --example full_pipeline",
    );
    let mut launcher = Launcher::new(binary, LogDir::create("agency-good-odd-feed"));
    let scratch = Scratch::new("agency-good-odd-feed");
    launcher.env("RUST_LOG", "info");
    let plain = demo_feed(&scratch, "plain");
    let dir = demo_feed(&scratch, "bom-crlf-quotes");
    // Quoted fields holding commas (and a quote), a byte-order mark, CRLF in every file.
    set_field(
        &dir,
        "stops.txt",
        6,
        "stop_name",
        "\"North Ave, D Ave N, \"\"Demo\"\"\"",
    );
    set_field(
        &dir,
        "stop_times.txt",
        4,
        "stop_headsign",
        "\"to Stagecoach, via North Ave\"",
    );
    for entry in std::fs::read_dir(&dir).expect("the feed's folder") {
        let path = entry.expect("a file of the feed").path();
        let text = std::fs::read_to_string(&path).expect("a file of the demo feed");
        let crlf = text.replace('\n', "\r\n");
        std::fs::write(&path, format!("\u{feff}{crlf}")).expect("writing the feed");
    }
    let zipped = dir.with_extension("zip");
    feeds::pack(&dir, &zipped);
    let expected = run_day(&mut launcher, "plain", &plain).await;
    assert!(!expected.starts_with("published 0 "), "{expected}");
    for (name, odd) in [
        ("bom-crlf-quotes", &dir),
        ("bom-crlf-quotes-zipped", &zipped),
    ] {
        let published = run_day(&mut launcher, name, odd).await;
        assert_eq!(published, expected, "{name}: the same day's arrivals");
    }
    launcher.logs().remove();
}
