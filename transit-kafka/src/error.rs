//! rdkafka's errors turned into the bus's, by meaning.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use transit_core::bus::Error;

/// The backend name every Kafka error carries.
pub(crate) const BACKEND: &str = "kafka";

/// Maps an rdkafka error to the bus error of the same meaning; the rest keep rdkafka's error as
/// their source.
pub(crate) fn bus_error(error: KafkaError, topic: Option<&str>) -> Error {
    match (error.rdkafka_error_code(), topic) {
        (
            Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic),
            Some(topic),
        ) => Error::UnknownTopic {
            topic: topic.to_string(),
        },
        (Some(RDKafkaErrorCode::MessageTimedOut | RDKafkaErrorCode::OperationTimedOut), _)
        | (Some(RDKafkaErrorCode::RequestTimedOut), _) => Error::Timeout {
            operation: "a Kafka request",
        },
        (Some(RDKafkaErrorCode::InvalidTopic), Some(topic)) => Error::InvalidRequest {
            message: format!("{topic:?} is not a valid Kafka topic name"),
        },
        _ => backend(error),
    }
}

/// Wraps any error as a Kafka backend error.
pub(crate) fn backend(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
    Error::Backend {
        backend: BACKEND,
        source: error.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_map_to_meanings() {
        let unknown = bus_error(
            KafkaError::MessageProduction(RDKafkaErrorCode::UnknownTopicOrPartition),
            Some("t"),
        );
        assert!(matches!(unknown, Error::UnknownTopic { topic } if topic == "t"));
        let timeout = bus_error(
            KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut),
            Some("t"),
        );
        assert!(matches!(timeout, Error::Timeout { .. }));
        let other = bus_error(KafkaError::Canceled, None);
        assert!(matches!(
            other,
            Error::Backend {
                backend: "kafka",
                ..
            }
        ));
    }
}
