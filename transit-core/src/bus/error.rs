use super::Record;

/// The result type of bus operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong on a bus, named by meaning so callers can match on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bus was shut down; no more records will flow.
    #[error("the bus is closed")]
    Closed,
    /// An operation did not finish in time.
    #[error("{operation} timed out")]
    Timeout {
        /// What was being done.
        operation: &'static str,
    },
    /// The topic does not exist (and the backend does not create topics on publish).
    #[error("unknown topic {topic:?}")]
    UnknownTopic {
        /// The topic that was named.
        topic: String,
    },
    /// A partition number beyond the topic's partitions.
    #[error("topic {topic:?} has no partition {partition}")]
    UnknownPartition {
        /// The topic that was named.
        topic: String,
        /// The partition that was asked for.
        partition: u32,
    },
    /// A request the caller got wrong: bad topic name, zero partitions, bad pattern...
    #[error("invalid request: {message}")]
    InvalidRequest {
        /// What is wrong, for a person.
        message: String,
    },
    /// The backend cannot do this (for example, a commit without a consumer group).
    #[error("{operation} is not supported by {backend}")]
    NotSupported {
        /// What was asked.
        operation: &'static str,
        /// Which backend refused.
        backend: &'static str,
    },
    /// This consumer is no longer the member its group knows (another has its partitions, or
    /// the group moved to a new generation without it): its transaction was aborted, and
    /// nothing of it is visible. It learns its new partitions from its assignment changes.
    #[error("fenced: {reason}")]
    Fenced {
        /// Why, as the backend put it.
        reason: String,
    },
    /// Anything else a backend reports, with its own error as the source.
    #[error("{backend} bus error")]
    Backend {
        /// Which backend failed.
        backend: &'static str,
        /// The backend's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A failed publish: the error, and the records that were not stored, so the caller can retry
/// them or route them aside.
#[derive(Debug, thiserror::Error)]
#[error("publishing {} record(s) failed", unsent.len())]
pub struct PublishError {
    /// Why the records were not stored.
    #[source]
    pub error: Error,
    /// The records that were not stored, in publish order.
    pub unsent: Vec<Record>,
}
