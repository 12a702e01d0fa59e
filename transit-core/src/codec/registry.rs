use std::fmt::{self, Debug};
use std::sync::Arc;

use async_trait::async_trait;

/// A schema's global id in a registry (the 4 bytes after the magic byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemaId(pub u32);

impl fmt::Display for SchemaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What can go wrong with a registry, named by meaning.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No schema has this id.
    #[error("schema {id} not found")]
    SchemaNotFound {
        /// The id asked for.
        id: SchemaId,
    },
    /// No subject has this name.
    #[error("subject {subject:?} not found")]
    SubjectNotFound {
        /// The subject asked for.
        subject: String,
    },
    /// The subject has no such version.
    #[error("subject {subject:?} has no version {version}")]
    VersionNotFound {
        /// The subject.
        subject: String,
        /// The version asked for.
        version: u32,
    },
    /// The schema breaks the subject's compatibility rule; the message says which field broke
    /// which rule.
    #[error("schema is incompatible with the latest of {subject:?}: {message}")]
    Incompatible {
        /// The subject.
        subject: String,
        /// Which field broke which rule.
        message: String,
    },
    /// The text is not a valid Avro schema.
    #[error("invalid Avro schema: {message}")]
    InvalidSchema {
        /// What is wrong.
        message: String,
    },
    /// The registry itself failed (network, server error...).
    #[error("schema registry error")]
    Backend {
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A schema registry in the manner of Confluent's: subjects with versions, and global ids.
#[async_trait]
pub trait SchemaRegistry: Debug + Send + Sync + 'static {
    /// Registers `schema` (Avro JSON) under `subject` and returns its global id. Registering a
    /// schema that is already there returns its existing id.
    async fn register(&self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError>;

    /// The schema (Avro JSON) with this global id.
    async fn schema_by_id(&self, id: SchemaId) -> Result<String, RegistryError>;
}

macro_rules! forward_registry {
    ($($wrapper:ty),+) => {$(
        #[deny(clippy::missing_trait_methods)]
        #[async_trait]
        impl<R: SchemaRegistry + ?Sized> SchemaRegistry for $wrapper {
            async fn register(&self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError> {
                (**self).register(subject, schema).await
            }

            async fn schema_by_id(&self, id: SchemaId) -> Result<String, RegistryError> {
                (**self).schema_by_id(id).await
            }
        }
    )+};
}

forward_registry!(Arc<R>, Box<R>);
