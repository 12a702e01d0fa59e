use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

use apache_avro::writer::datum::GenericDatumWriter;
use bytes::{Bytes, BytesMut};

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
/// use transit_registry::MemRegistry;
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

    /// Appends `value` (header and body) to `buf` if `T` has a hand-written writer and it
    /// takes the value; otherwise leaves `buf` as it was and returns `false`.
    pub(crate) fn encode_fast_into(&self, value: &T, buf: &mut Vec<u8>) -> bool {
        let start = buf.len();
        write_header(buf, self.id);
        if value.write_body_fast(buf) {
            return true;
        }
        buf.truncate(start);
        false
    }

    /// `value` in the wire format.
    ///
    /// The bytes are a slice of a per-thread arena (see `encode_shared`): cloning them, as a
    /// bus does for every reader, is a reference count rather than an allocation.
    pub fn encode(&self, value: &T) -> Result<Bytes, EncodeError> {
        encode_shared(|buf| self.encode_into(value, buf))
    }
}

/// Bytes of each chunk encoded records are cut from, per thread.
///
/// Big enough that a chunk holds a few hundred records (one allocation for all of them),
/// small enough that a long-lived record (a compacted table's last value of a key) pins
/// little memory with it.
const ARENA_CHUNK: usize = 16 * 1024;

/// What [`encode_shared`] keeps per thread: the buffer encoders write into, and the chunk
/// the results are cut from.
#[derive(Default)]
struct Scratch {
    buf: Vec<u8>,
    arena: BytesMut,
}

/// Runs `encode` into a reused per-thread buffer and returns the result as a slice of a
/// per-thread arena chunk.
///
/// An exact-size `Bytes` per record costs an allocation, a second one (the shared header)
/// the first time it is cloned, and two frees when the last clone goes; slices of a shared
/// chunk cost one allocation per chunk, and their clones and drops only count references.
/// The price is that a record kept for long keeps its chunk alive ([`ARENA_CHUNK`]).
pub(crate) fn encode_shared<E>(
    encode: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<Bytes, E> {
    thread_local! {
        static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => {
            let Scratch { buf, arena } = &mut *scratch;
            buf.clear();
            encode(buf)?;
            if arena.capacity() < buf.len() {
                // A new chunk, or the old one again once every slice of it was dropped.
                arena.reserve(ARENA_CHUNK.max(buf.len()));
            }
            arena.extend_from_slice(buf);
            Ok(arena.split().freeze())
        }
        // Only if `encode` itself encodes through this function: use a buffer of its own.
        Err(_) => {
            let mut buf = Vec::new();
            encode(&mut buf)?;
            Ok(Bytes::copy_from_slice(&buf))
        }
    })
}
