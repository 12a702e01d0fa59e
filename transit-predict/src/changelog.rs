//! A processor's changelog: its state, one compacted record per entry, restored for the
//! partitions a member is given (as Kafka Streams keeps a store's changelog).
//!
//! Each entry belongs to one input partition, so a member restores exactly what the
//! partitions it gains need and drops what it loses. The entry itself is JSON inside an Avro
//! record ([`ProcessorState`]): its shape is the processor's own and changes with it, and a
//! Confluent client can still read the topic with the registry alone.

use std::sync::Arc;

use rustc_hash::FxHashSet;
use serde::Serialize;
use transit_core::bus::{Delivery, EventBus, Record, TopicSpec};
use transit_core::codec::{DecodeError, Encoder, SchemaRegistry, TopicCodec};
use transit_core::event::{ProcessorState, ProcessorStateKey};
use transit_core::processor::runner::Output;
use transit_core::processor::{read_table, ProcessorError};

/// The changelog of one processor.
#[derive(Debug)]
pub(crate) struct Changelog {
    codec: TopicCodec<ProcessorState>,
    keys: Encoder<ProcessorStateKey>,
}

impl Changelog {
    /// Registers the changelog's schemas and creates its topic (compacted, one partition).
    pub(crate) async fn new(
        bus: &dyn EventBus,
        registry: Arc<dyn SchemaRegistry>,
        topic: String,
    ) -> Result<Self, ProcessorError> {
        let keys =
            Encoder::<ProcessorStateKey>::register(registry.as_ref(), &format!("{topic}-key"))
                .await?;
        let codec = TopicCodec::register(registry, topic.clone()).await?;
        bus.create_topic(&TopicSpec::new(topic.clone(), 1).compacted())
            .await
            .map_err(ProcessorError::bus("creating", topic))?;
        Ok(Self { codec, keys })
    }

    /// The topic.
    pub(crate) fn topic(&self) -> &str {
        self.codec.topic()
    }

    /// Puts entry (`partition`, `kind`, `id`) = `value` into `output`.
    pub(crate) fn put(
        &self,
        partition: u32,
        kind: &str,
        id: &str,
        value: &impl Serialize,
        timestamp_ms: i64,
        output: &mut Output,
    ) -> Result<(), ProcessorError> {
        let state = match serde_json::to_string(value) {
            Ok(state) => state,
            Err(error) => {
                // The state types serialize to JSON by construction; should one not, that
                // entry is not kept (a restore starts it afresh) rather than the member stop.
                tracing::error!(kind, id, %error, "a state entry does not serialize; not kept");
                return Ok(());
            }
        };
        let entry = ProcessorState {
            partition,
            kind: kind.to_string(),
            id: id.to_string(),
            state,
        };
        let record =
            self.codec
                .record(&entry, timestamp_ms)
                .map_err(|source| ProcessorError::Encode {
                    topic: self.topic().to_string(),
                    source,
                })?;
        output.publish(self.codec.topic(), record);
        Ok(())
    }

    /// Puts the removal of entry (`partition`, `kind`, `id`) into `output`.
    pub(crate) fn delete(
        &self,
        partition: u32,
        kind: &str,
        id: &str,
        timestamp_ms: i64,
        output: &mut Output,
    ) -> Result<(), ProcessorError> {
        let key = ProcessorStateKey {
            partition,
            kind: kind.to_string(),
            id: id.to_string(),
        };
        let key = self
            .keys
            .encode(&key)
            .map_err(|source| ProcessorError::Encode {
                topic: self.topic().to_string(),
                source,
            })?;
        output.publish(self.codec.topic(), tombstone(key, timestamp_ms, None));
        Ok(())
    }

    /// The entries of `partitions`, read back from the changelog.
    pub(crate) async fn restore(
        &self,
        bus: &dyn EventBus,
        partitions: &FxHashSet<u32>,
    ) -> Result<Vec<ProcessorState>, ProcessorError> {
        let rows = read_table(bus, self.topic()).await?;
        let mut entries = Vec::new();
        for delivery in &rows {
            match self.codec.decode(delivery).await {
                Ok((_, entry)) if partitions.contains(&entry.partition) => entries.push(entry),
                Ok(_) => {}
                Err(error) => tracing::warn!(
                    topic = %delivery.topic,
                    offset = delivery.offset,
                    %error,
                    "a changelog entry does not decode; that part of the state starts afresh"
                ),
            }
        }
        Ok(entries)
    }
}

/// A record deleting `key` on a compacted topic.
pub(crate) fn tombstone(key: bytes::Bytes, timestamp_ms: i64, partition: Option<u32>) -> Record {
    Record {
        key: Some(key),
        value: None,
        headers: Vec::new(),
        timestamp_ms,
        partition,
    }
}

/// The value of `delivery` decoded by `codec` (the cached fast path first), or `None` when it
/// does not decode: then it is handed to `output` as a dead letter, the reason starting
/// `not {what}: `. Only a registry that cannot be asked stops the processor: the batch is
/// then neither processed nor committed, so no good record is refused for it.
pub(crate) async fn decode_or_reject<E: transit_core::codec::Keyed>(
    codec: &TopicCodec<E>,
    delivery: &Delivery,
    output: &mut Output,
    what: &str,
) -> Result<Option<E>, ProcessorError> {
    if let Ok(value) = codec.decode_value_cached(delivery) {
        return Ok(Some(value));
    }
    match codec.decode(delivery).await {
        Ok((_, value)) => Ok(Some(value)),
        Err(error) => reject_or_stop(error, delivery, output, what).map(|()| None),
    }
}

/// Sends `delivery` to the dead letters for `error`, unless the registry could not be asked.
pub(crate) fn reject_or_stop(
    error: DecodeError,
    delivery: &Delivery,
    output: &mut Output,
    what: &str,
) -> Result<(), ProcessorError> {
    if error.registry_unavailable() {
        return Err(ProcessorError::RegistryUnavailable {
            topic: delivery.topic.to_string(),
            source: error,
        });
    }
    output.reject(delivery, format!("not {what}: {error}"));
    Ok(())
}
