//! The integration tests of transit-core, one test binary (one link instead of one per file):
//! the codecs, the network data, the processors, the status and accuracy read models on the in-memory bus.
//!
//! Proptest keeps the failing cases it found in `tests/proptest-regressions/<module>.txt` (its
//! default place for a test binary rooted at `main.rs`) and replays them first.

mod accuracy;
mod codec;
mod network;
mod prediction_codec;
mod processors;
mod status;
mod vehicle_arrival;
