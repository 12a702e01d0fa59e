use std::fmt;
use std::marker::PhantomData;

use apache_avro::writer::datum::GenericDatumWriter;
use bytes::Bytes;

use super::wire::write_header;
use super::{AvroRecord, EncodeError, RegistryError, SchemaId, SchemaRegistry};

/// Writes values of `T` in the Confluent wire format under a registered schema id.
///
/// # Example
///
/// A weather reading in the wire format, with its schema registered in an in-process
/// registry, and read back with a [`Decoder`](super::Decoder):
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
///
/// use transit_core::codec::{split_header, Decoder, Encoder, MAGIC_BYTE};
/// use transit_core::event::{WeatherEvent, WeatherStatus};
/// use transit_core::registry::MemRegistry;
///
/// let registry = Arc::new(MemRegistry::new());
/// let encoder = Encoder::<WeatherEvent>::register(registry.as_ref(), "weather-value").await?;
/// let reading = WeatherEvent {
///     temperature: 41.5,
///     status: WeatherStatus::Cloudy,
/// };
/// let bytes = encoder.encode(&reading)?;
///
/// // Magic byte, schema id, Avro body: what any Confluent client reads.
/// assert_eq!(bytes[0], MAGIC_BYTE);
/// let (id, body) = split_header(&bytes)?;
/// assert_eq!(id, encoder.schema_id());
/// assert!(!body.is_empty());
///
/// let decoder = Decoder::<WeatherEvent>::new(registry)?;
/// assert_eq!(decoder.decode(&bytes).await?, reading);
/// # Ok(())
/// # }
/// ```
pub struct Encoder<T> {
    id: SchemaId,
    writer: GenericDatumWriter<'static>,
    _type: PhantomData<fn(&T)>,
}

impl<T> fmt::Debug for Encoder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("type", &std::any::type_name::<T>())
            .field("schema_id", &self.id)
            .finish()
    }
}

impl<T: AvroRecord> Encoder<T> {
    /// Registers `T`'s schema under `subject` and returns an encoder for it.
    pub async fn register(
        registry: &dyn SchemaRegistry,
        subject: &str,
    ) -> Result<Self, RegistryError> {
        let id = registry.register(subject, T::schema_json()).await?;
        Self::with_id(id)
    }

    /// An encoder writing `T`'s own schema under an id registered elsewhere.
    pub fn with_id(id: SchemaId) -> Result<Self, RegistryError> {
        // Resolving the schema's named types once here keeps the per-record path free of it.
        let writer = GenericDatumWriter::builder(T::schema())
            .build()
            .map_err(|error| RegistryError::InvalidSchema {
                message: error.to_string(),
            })?;
        Ok(Self {
            id,
            writer,
            _type: PhantomData,
        })
    }

    /// The schema id written in every header.
    pub fn schema_id(&self) -> SchemaId {
        self.id
    }

    /// Appends `value` (header and body) to `buf`; on error `buf` is left as it was.
    pub fn encode_into(&self, value: &T, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = buf.len();
        write_header(buf, self.id);
        if value.write_body_fast(buf) {
            return Ok(());
        }
        match self.writer.write_ser(buf, value) {
            Ok(_) => Ok(()),
            Err(source) => {
                buf.truncate(start);
                Err(EncodeError {
                    schema_id: self.id,
                    source,
                })
            }
        }
    }

    /// `value` in the wire format.
    pub fn encode(&self, value: &T) -> Result<Bytes, EncodeError> {
        encode_exact(|buf| self.encode_into(value, buf))
    }
}

/// Runs `encode` into a reused per-thread buffer and copies the result into an allocation of
/// exactly its size.
///
/// `Bytes::from(Vec)` of a vector with spare capacity allocates a second, shared header on
/// top of the vector; an exact copy is one small allocation, and the scratch buffer is never
/// reallocated in steady state.
pub(crate) fn encode_exact<E>(
    encode: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<Bytes, E> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            encode(&mut buf)?;
            Ok(Bytes::copy_from_slice(&buf))
        }
        // Only if `encode` itself encodes through this function: use a buffer of its own.
        Err(_) => {
            let mut buf = Vec::new();
            encode(&mut buf)?;
            Ok(Bytes::copy_from_slice(&buf))
        }
    })
}
