use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Once, RwLock};

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::Schema;

use super::wire::split_header;
use super::{AvroRecord, DecodeError, RegistryError, SchemaId, SchemaRegistry};

/// The most bytes one Avro string or array may claim. Our records are small; without a limit a
/// corrupt length prefix could make apache-avro allocate up to its default of 512 MiB.
const MAX_ALLOCATION_BYTES: usize = 1 << 20;

/// How a writer's schema relates to the type being decoded.
#[derive(Debug)]
enum WriterSchema {
    /// The same schema: the fast, schema-aware serde path.
    Own,
    /// Another version: resolved against the reader's schema through a `Value`.
    Other(Schema),
}

/// Reads values of `T` from the Confluent wire format, whatever schema version wrote them.
///
/// # Example
///
/// A decoder learns a writer's schema from the registry the first time it meets its id;
/// [`Decoder::decode_cached`] only takes ids it already knows:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
///
/// use transit_core::codec::{DecodeError, Decoder, Encoder};
/// use transit_core::event::{WeatherEvent, WeatherStatus};
/// use transit_registry::MemRegistry;
///
/// let registry = Arc::new(MemRegistry::new());
/// let encoder = Encoder::<WeatherEvent>::register(registry.as_ref(), "weather-value").await?;
/// let reading = WeatherEvent {
///     temperature: 68.0,
///     status: WeatherStatus::Sunny,
/// };
/// let bytes = encoder.encode(&reading)?;
///
/// let decoder = Decoder::<WeatherEvent>::new(registry)?;
/// assert!(matches!(
///     decoder.decode_cached(&bytes),
///     Err(DecodeError::UnknownSchemaId { .. })
/// ));
/// assert_eq!(decoder.decode(&bytes).await?, reading, "fetched the writer's schema");
/// assert_eq!(decoder.decode_cached(&bytes)?, reading, "and now knows it");
///
/// // Bytes that are not the wire format are a typed error, not a panic.
/// assert!(matches!(
///     decoder.decode(b"\x01junk").await,
///     Err(DecodeError::BadMagic { found: 1 })
/// ));
/// # Ok(())
/// # }
/// ```
pub struct Decoder<T> {
    registry: Arc<dyn SchemaRegistry>,
    own: GenericDatumReader<'static>,
    own_canonical: String,
    writers: RwLock<HashMap<SchemaId, Arc<WriterSchema>>>,
    /// The last id learnt to be this type's own schema (-1: none yet). Nearly every record
    /// carries it, and matching it first skips the lock, the map and the reference count.
    own_id: AtomicI64,
    _type: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Decoder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("type", &std::any::type_name::<T>())
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

impl<T: AvroRecord> Decoder<T> {
    /// A decoder that asks `registry` for writer schemas it has not seen yet.
    pub fn new(registry: Arc<dyn SchemaRegistry>) -> Result<Self, RegistryError> {
        static LIMIT: Once = Once::new();
        LIMIT.call_once(|| {
            apache_avro::util::max_allocation_bytes(MAX_ALLOCATION_BYTES);
        });
        let own = GenericDatumReader::builder(T::schema())
            .build()
            .map_err(|error| RegistryError::InvalidSchema {
                message: error.to_string(),
            })?;
        Ok(Self {
            registry,
            own,
            own_canonical: T::schema().canonical_form(),
            writers: RwLock::new(HashMap::new()),
            own_id: AtomicI64::new(-1),
            _type: PhantomData,
        })
    }

    /// Records that `id` is `T`'s own schema, so records written with it decode without a
    /// registry round trip.
    pub fn learn_own(&self, id: SchemaId) {
        self.remember(id, WriterSchema::Own);
    }

    /// Decodes with the writer schemas already known; an unknown id is
    /// [`DecodeError::UnknownSchemaId`].
    pub fn decode_cached(&self, bytes: &[u8]) -> Result<T, DecodeError> {
        let (id, body) = split_header(bytes)?;
        if self.is_own(id) {
            return self.decode_body(id, &WriterSchema::Own, body);
        }
        let writer = self.known(id).ok_or(DecodeError::UnknownSchemaId { id })?;
        self.decode_body(id, &writer, body)
    }

    /// Decodes, first fetching the writer's schema from the registry if it is new.
    pub async fn decode(&self, bytes: &[u8]) -> Result<T, DecodeError> {
        let (id, body) = split_header(bytes)?;
        if self.is_own(id) {
            return self.decode_body(id, &WriterSchema::Own, body);
        }
        let writer = match self.known(id) {
            Some(writer) => writer,
            None => self.fetch(id).await?,
        };
        self.decode_body(id, &writer, body)
    }

    fn known(&self, id: SchemaId) -> Option<Arc<WriterSchema>> {
        // A poisoned lock only means another thread panicked mid-insert of a complete value.
        let writers = self.writers.read().unwrap_or_else(|e| e.into_inner());
        writers.get(&id).cloned()
    }

    fn is_own(&self, id: SchemaId) -> bool {
        self.own_id.load(Ordering::Relaxed) == i64::from(id.0)
    }

    fn remember(&self, id: SchemaId, writer: WriterSchema) -> Arc<WriterSchema> {
        if matches!(writer, WriterSchema::Own) {
            self.own_id.store(i64::from(id.0), Ordering::Relaxed);
        }
        let writer = Arc::new(writer);
        let mut writers = self.writers.write().unwrap_or_else(|e| e.into_inner());
        writers.insert(id, Arc::clone(&writer));
        writer
    }

    async fn fetch(&self, id: SchemaId) -> Result<Arc<WriterSchema>, DecodeError> {
        let json = self
            .registry
            .schema_by_id(id)
            .await
            .map_err(|error| match error {
                RegistryError::SchemaNotFound { id } => DecodeError::UnknownSchemaId { id },
                other => DecodeError::Registry(other),
            })?;
        let schema = Schema::parse_str(&json).map_err(|error| {
            DecodeError::Registry(RegistryError::InvalidSchema {
                message: format!("schema {id}: {error}"),
            })
        })?;
        let writer = if schema.canonical_form() == self.own_canonical {
            WriterSchema::Own
        } else {
            WriterSchema::Other(schema)
        };
        Ok(self.remember(id, writer))
    }

    fn decode_body(
        &self,
        schema_id: SchemaId,
        writer: &WriterSchema,
        mut body: &[u8],
    ) -> Result<T, DecodeError> {
        let body_error = |source| DecodeError::Body { schema_id, source };
        let value = match writer {
            WriterSchema::Own => match T::read_body_fast(body) {
                Some((value, used)) => {
                    body = &body[used..];
                    value
                }
                None => self.own.read_deser::<T>(&mut body).map_err(body_error)?,
            },
            WriterSchema::Other(schema) => {
                let reader = GenericDatumReader::builder(schema)
                    .reader_schema(T::schema())
                    .build()
                    .map_err(body_error)?;
                let value = reader.read_value(&mut body).map_err(body_error)?;
                apache_avro::from_value::<T>(&value).map_err(body_error)?
            }
        };
        if !body.is_empty() {
            return Err(DecodeError::TrailingBytes {
                schema_id,
                count: body.len(),
            });
        }
        Ok(value)
    }
}
