//! Why the station source stops. Database trouble is not here: the source retries it.

use transit_core::codec::RegistryError;
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
    /// The bus or the registry failed while registering the schemas, creating a topic,
    /// publishing rows or the position, or flushing: the failures a processor stops for, in
    /// the processors' own terms.
    #[error(transparent)]
    Pipeline(#[from] ProcessorError),
    /// PostgreSQL refused what the settings ask for, which no retry mends: the credentials,
    /// a database or table that does not exist, a privilege, the TLS handshake.
    #[error("PostgreSQL refused the source: {message}")]
    Refused {
        /// What was refused, the server's reason and where (never the password).
        message: String,
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

impl From<RegistryError> for SourceError {
    fn from(error: RegistryError) -> Self {
        Self::Pipeline(error.into())
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

impl DbError {
    /// Whether retrying cannot help (see [`crate::connection::is_permanent`]).
    pub(super) fn is_permanent(&self) -> bool {
        match self {
            Self::Postgres { source, .. } => crate::connection::is_permanent(source),
            Self::Connect(error) => error.is_permanent(),
            Self::Timeout { .. } => false,
        }
    }
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
