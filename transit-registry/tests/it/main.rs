//! The integration tests of transit-registry, one test binary: the bus-backed registry.

mod bus_registry;
