//! Why the station source stops. Database trouble is not here: the source retries it.

use transit_core::bus::{self, PublishError};
use transit_core::codec::{EncodeError, RegistryError};
use transit_core::processor::ProcessorError;

use transit_core::error_chain;

use crate::connection::ConnectError;

/// A fatal error of the station source: the bus or the registry failed, so its position could
/// no longer be kept exact. (PostgreSQL being unreachable is not fatal: the source retries.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The connection settings do not parse.
    #[error("invalid PostgreSQL connection settings")]
    Config(#[source] crate::connection::OptionsError),
    /// Registering the raw station schemas failed.
    #[error("registering the station row schemas")]
    Registry(#[from] RegistryError),
    /// A bus operation failed.
    #[error("{operation} {topic}")]
    Bus {
        /// What was being done, e.g. `creating`.
        operation: &'static str,
        /// The topic.
        topic: String,
        /// What the bus said.
        #[source]
        source: bus::Error,
    },
    /// Publishing rows or the position failed; the records not stored are in the error.
    #[error("publishing to {topic}")]
    Publish {
        /// The topic.
        topic: String,
        /// What the bus said.
        #[source]
        source: PublishError,
    },
    /// A row could not be encoded (a bug in the schema or the row type).
    #[error("encoding a station row for {topic}")]
    Encode {
        /// The topic.
        topic: String,
        /// What the encoder said.
        #[source]
        source: EncodeError,
    },
    /// Reading a topic back at start failed.
    #[error("restoring the source's position from {topic}")]
    Restore {
        /// The topic.
        topic: String,
        /// What went wrong.
        #[source]
        source: ProcessorError,
    },
}

impl SourceError {
    pub(super) fn bus(
        operation: &'static str,
        topic: impl Into<String>,
    ) -> impl FnOnce(bus::Error) -> Self {
        let topic = topic.into();
        move |source| Self::Bus {
            operation,
            topic,
            source,
        }
    }
}

/// A database failure the source retries: what it was doing and what went wrong. Only ever
/// logged, so its message carries the whole chain of causes.
#[derive(Debug, thiserror::Error)]
pub(super) enum DbError {
    /// PostgreSQL or the connection failed.
    #[error("{operation}: {}", error_chain(source))]
    Postgres {
        operation: &'static str,
        source: tokio_postgres::Error,
    },
    /// Connecting failed (the message names the server, never the password).
    #[error("connecting: {}", connect_message(.0))]
    Connect(ConnectError),
    /// PostgreSQL did not answer in time.
    #[error("{operation}: no answer within {after:?}")]
    Timeout {
        operation: &'static str,
        after: std::time::Duration,
    },
}

/// What went wrong first, then where: `connection refused (to ann@db:5432/cta (sslmode=...))`.
fn connect_message(error: &ConnectError) -> String {
    match error {
        ConnectError::Postgres { target, source } => {
            format!("{} (to {target})", error_chain(source))
        }
        other => error_chain(other),
    }
}
