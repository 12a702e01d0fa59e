//! The integration tests of transit-registry, one test binary: the bus-backed registry and the
//! compatibility rules against Confluent's own cases.

mod bus_registry;
mod confluent_compatibility;
