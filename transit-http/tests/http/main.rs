//! The HTTP servers as their clients see them: the dashboard (and its feeds), the board of any
//! agency's network, the schema
//! registry and the REST Proxy over the in-memory bus, and the registry and proxy over a real Kafka broker.

mod accuracy;
mod agency;
mod agency_board;
mod dashboard;
mod fuzz;
mod gtfs;
mod on_kafka;
mod probes;
mod realtime;
mod registry;
mod registry_admin;
mod registry_references;
mod rest_proxy;
mod secured;
mod what_if;
