use std::fmt;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use rustc_hash::FxHashMap;

use super::encoder::encode_shared;
use super::{DecodeError, Decoder, EncodeError, Encoder, Keyed, RegistryError, SchemaRegistry};
use crate::bus::{Delivery, Record};

/// Most keys a topic codec keeps encoded.
const KEY_CACHE_LIMIT: usize = 65_536;

/// The key and value codecs of one topic, registered under `<topic>-key` and `<topic>-value`.
///
/// # Example
///
/// A turnstile entry encoded as a record (key and value in the Confluent wire format),
/// published on the in-memory bus (`transit_mem::MemBus`), consumed and decoded back:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
///
/// use transit_core::bus::{Consumer, EventBus, EventBusExt, SubscribeOptions, TopicSpec};
/// use transit_core::codec::{Keyed, TopicCodec, MAGIC_BYTE};
/// use transit_core::event::TurnstileEvent;
/// use transit_core::model::StationId;
/// use transit_core::network::cta;
/// use transit_registry::MemRegistry;
/// use transit_mem::MemBus;
///
/// let registry = Arc::new(MemRegistry::new());
/// let codec = TopicCodec::<TurnstileEvent>::register(registry.clone(), "turnstile").await?;
/// assert_eq!(registry.subjects(), ["turnstile-key", "turnstile-value"]);
///
/// let entry = TurnstileEvent {
///     station_id: StationId(40380),
///     station_name: "Clark/Lake".into(),
///     line: cta::BLUE,
/// };
/// let record = codec.record(&entry, 1_700_000_000_000)?;
/// assert_eq!(record.value.as_ref().map(|v| v[0]), Some(MAGIC_BYTE));
///
/// let bus = MemBus::new();
/// bus.create_topic(&TopicSpec::new(codec.topic(), 1)).await?;
/// bus.publish(codec.topic(), record).await?;
/// let mut consumer = bus.subscribe(SubscribeOptions::topics([codec.topic()])).await?;
/// let delivery = consumer.recv().await.expect("the bus is open")?;
///
/// let (key, value) = codec.decode(&delivery).await?;
/// assert_eq!(key, entry.key());
/// assert_eq!(value, entry);
/// # Ok(())
/// # }
/// ```
pub struct TopicCodec<E: Keyed> {
    topic: String,
    key_encoder: Encoder<E::Key>,
    value_encoder: Encoder<E>,
    key_decoder: Decoder<E::Key>,
    value_decoder: Decoder<E>,
    key_cache: RwLock<FxHashMap<E::Key, Bytes>>,
}

impl<E: Keyed> fmt::Debug for TopicCodec<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TopicCodec")
            .field("topic", &self.topic)
            .field("key_schema", &self.key_encoder.schema_id())
            .field("value_schema", &self.value_encoder.schema_id())
            .finish()
    }
}

impl<E: Keyed> TopicCodec<E> {
    /// Registers the key and value schemas of `topic`.
    pub async fn register(
        registry: Arc<dyn SchemaRegistry>,
        topic: impl Into<String>,
    ) -> Result<Self, RegistryError> {
        let topic = topic.into();
        let key_encoder =
            Encoder::<E::Key>::register(registry.as_ref(), &format!("{topic}-key")).await?;
        let value_encoder =
            Encoder::<E>::register(registry.as_ref(), &format!("{topic}-value")).await?;
        let key_decoder = Decoder::new(Arc::clone(&registry))?;
        key_decoder.learn_own(key_encoder.schema_id());
        let value_decoder = Decoder::new(registry)?;
        value_decoder.learn_own(value_encoder.schema_id());
        Ok(Self {
            topic,
            key_encoder,
            value_encoder,
            key_decoder,
            value_decoder,
            key_cache: RwLock::new(FxHashMap::default()),
        })
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// `event` as a record: its key, its value, stamped with `timestamp_ms`.
    pub fn record(&self, event: &E, timestamp_ms: i64) -> Result<Record, EncodeError> {
        let key = event.key();
        // A key with a hand-written writer is written with the value, and both are cut from
        // the arena at once; other keys come from the cache.
        let mut key_len = None;
        let mut both = encode_shared(|buf| {
            if self.key_encoder.encode_fast_into(&key, buf) {
                key_len = Some(buf.len());
            }
            self.value_encoder.encode_into(event, buf)
        })?;
        let key = match key_len {
            Some(len) => both.split_to(len),
            None => self.key_bytes(key)?,
        };
        Ok(Record::new(key, both, timestamp_ms))
    }

    /// The encoded key, from the cache when it has been encoded before.
    ///
    /// Keys are few and never change (a station's key is always the same bytes), and encoding
    /// one costs as much as a whole value, so each is encoded once. The cache stops growing at
    /// [`KEY_CACHE_LIMIT`] keys, so an unbounded key space cannot exhaust memory.
    fn key_bytes(&self, key: E::Key) -> Result<Bytes, EncodeError> {
        {
            let cache = self.key_cache.read().unwrap_or_else(|e| e.into_inner());
            if let Some(bytes) = cache.get(&key) {
                return Ok(bytes.clone());
            }
        }
        // An exact copy for the cache: the encoder's bytes share a chunk with other records,
        // which a key kept for good would keep alive with it.
        let bytes = Bytes::copy_from_slice(&self.key_encoder.encode(&key)?);
        let mut cache = self.key_cache.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() < KEY_CACHE_LIMIT {
            cache.insert(key, bytes.clone());
        }
        Ok(bytes)
    }

    /// The value of `delivery`, with writer schemas already known (the fast path).
    pub fn decode_value_cached(&self, delivery: &Delivery) -> Result<E, DecodeError> {
        let value = delivery.value.as_ref().ok_or(DecodeError::MissingValue)?;
        self.value_decoder.decode_cached(value)
    }

    /// The key and value of `delivery`, fetching writer schemas it has not seen yet.
    pub async fn decode(&self, delivery: &Delivery) -> Result<(E::Key, E), DecodeError> {
        let key = delivery.key.as_ref().ok_or(DecodeError::MissingKey)?;
        let value = delivery.value.as_ref().ok_or(DecodeError::MissingValue)?;
        let key = self.key_decoder.decode(key).await?;
        let value = self.value_decoder.decode(value).await?;
        Ok((key, value))
    }
}
