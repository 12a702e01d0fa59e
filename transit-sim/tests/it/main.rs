//! The integration tests of transit-sim, one test binary: the publishing driver, the property
//! tests of the service model, the turnstile and weather models over whole days, and the
//! timetabled simulation of any agency's day (property tests on synthetic days, and NYC's
//! lines 1 and 2 from the feed `scripts/feeds.sh` downloads).
//!
//! Proptest keeps the failing cases it found in `tests/proptest-regressions/<module>.txt` (its
//! default place for a test binary rooted at `main.rs`) and replays them first.

mod driver;
mod sim_properties;
mod timetabled_feeds;
mod timetabled_properties;
mod timetabled_publish;
mod turnstiles_and_weather;
