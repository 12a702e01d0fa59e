//! The Kafka bus against a real broker (Apache Kafka in `scripts/test.sh`, named by
//! `TRANSIT_TEST_KAFKA`): the bus conformance suite, and the turnstile counter scaled out.

mod conformance;
mod scale_out;
