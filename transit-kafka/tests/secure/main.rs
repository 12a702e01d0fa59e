//! The Kafka bus on a secured, replicated cluster: three KRaft nodes with a SASL_SSL listener
//! (SCRAM users) and an mTLS listener (`scripts/kafka.sh --brokers 3 --security secure`, which
//! names their client settings in `TRANSIT_TEST_KAFKA_SASL_SSL` and `TRANSIT_TEST_KAFKA_MTLS`).
//!
//! - `conformance`: the bus conformance suite over SASL_SSL with SCRAM-SHA-512, and a
//!   representative part of it over mTLS;
//! - `settings`: the documented `config/kafka.properties.example` loaded and used, every SASL
//!   mechanism the build has, refusals, and no secret in an error or a `Debug`;
//! - `python`: Confluent's Python client on the same listener with the same properties file.
//!
//! Brokers lost under a running pipeline are the `broker_loss` test binary's.
//!
//! The tests are ignored in the workspace's test run, which has one plaintext broker; the
//! secured-cluster step of `scripts/test.sh` runs them with `--ignored`:
//!
//! ```text
//! scripts/kafka.sh --brokers 3 --security secure cargo test -p transit-kafka --test secure -- --ignored
//! ```

mod conformance;
mod python;
mod settings;
