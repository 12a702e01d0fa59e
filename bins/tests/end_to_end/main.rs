//! End to end, as users run it: the example's binary in a real headless Chromium (CTA's board
//! and another agency's), and the
//! production processes (`transit` subcommands) against Apache Kafka and PostgreSQL, bad GTFS
//! feeds refused by both, and `transit gtfs export`.

mod agency_bad_feeds;
mod agency_browser;
mod agency_predictions;
mod agency_production;
mod browser;
mod confluent_clients;
mod feeds;
mod gtfs_export;
mod operator_mistakes;
mod probes;
mod production;
mod secured_services;
