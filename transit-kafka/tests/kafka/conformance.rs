//! The bus conformance suite, against a real Kafka-protocol broker (tansu in scripts/test.sh).

transit_core::conformance_tests!(transit_testkit::kafka::kafka_bus);
