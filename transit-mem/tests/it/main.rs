//! The integration tests of transit-mem, one test binary: the bus conformance suite and the
//! in-memory bus's own behaviour.

mod conformance;
mod mem_bus;
