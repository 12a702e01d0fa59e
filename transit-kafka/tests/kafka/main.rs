//! The Kafka bus against a real broker (Apache Kafka in `scripts/test.sh`, named by
//! `TRANSIT_TEST_KAFKA`): the bus conformance suite, the turnstile counter scaled out, and
//! the arrival schema evolving on a registry kept on the broker.

mod arrival_evolution;
mod conformance;
mod scale_out;
