//! The integration tests of transit-sim, one test binary: the publishing driver, the property
//! tests of the service model, the turnstile and weather models over whole days, and the
//! timetabled simulation of any agency's day (property tests on synthetic days, and on every
//! real feed `scripts/feeds.sh` downloads).
//!
//! Proptest keeps the failing cases it found in `tests/proptest-regressions/<module>.txt` (its
//! default place for a test binary rooted at `main.rs`) and replays them first.

mod driver;
mod predictions;
mod sim_properties;
mod timetabled_feeds;
mod timetabled_properties;
mod timetabled_publish;
mod turnstiles_and_weather;

use std::path::PathBuf;

/// A feed of the folder `TRANSIT_TEST_FEEDS` names.
pub(crate) fn feed_path(name: &str) -> PathBuf {
    let Some(dir) = std::env::var_os("TRANSIT_TEST_FEEDS") else {
        panic!(
            "TRANSIT_TEST_FEEDS is not set: this test reads real GTFS feeds that are downloaded, \
             not committed. Run `source scripts/feeds.sh && need_feeds` (it downloads them once \
             into ~/.cache/transit/feeds and sets TRANSIT_TEST_FEEDS), or scripts/test.sh"
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
