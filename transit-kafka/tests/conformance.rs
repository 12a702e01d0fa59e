//! The bus conformance suite, against a real Kafka-protocol broker (tansu in scripts/test.sh).

mod support;

transit_core::conformance_tests!(support::kafka_bus);
