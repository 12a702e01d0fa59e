//! The reader on real feeds, downloaded by `scripts/feeds.sh` (not committed): NYC subway
//! lines 1 and 2 and gtfs-kit's demo feed (both from gtfs-kit 13.0.1's sdist), and npm
//! `sample-gtfs-feed` 0.13.0. Without them these tests fail, saying how to get them.

mod gtfs_kit_sample;
mod nyc;
mod sample_gtfs_feed;

use std::path::PathBuf;

use chrono::NaiveDate;

/// A feed of the folder `TRANSIT_TEST_FEEDS` names.
pub(crate) fn feed_path(name: &str) -> PathBuf {
    let Some(dir) = std::env::var_os("TRANSIT_TEST_FEEDS") else {
        panic!(
            "TRANSIT_TEST_FEEDS is not set: these tests read real GTFS feeds that are downloaded, \
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

pub(crate) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}
