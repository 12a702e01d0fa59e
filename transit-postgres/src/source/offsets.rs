//! The source's stored position: one record per source on the compacted offsets topic.
//!
//! Key: the source's name (UTF-8). Value: JSON `{"incrementing": <highest stop_id read>}`, the
//! shape Kafka Connect's JDBC source stores for incrementing mode, so an operator reading the
//! topic recognises it.

use serde::{Deserialize, Serialize};
use transit_core::bus::Record;
use transit_core::processor::read_table;
use transit_core::EventBus;

use super::SourceError;

#[derive(Debug, Serialize, Deserialize)]
struct StoredPosition {
    incrementing: i64,
}

/// The position record of source `name`.
pub(super) fn record(name: &str, position: i64, timestamp_ms: i64) -> Record {
    let value = serde_json::json!({ "incrementing": position }).to_string();
    Record::new(name.as_bytes().to_vec(), value.into_bytes(), timestamp_ms)
}

/// The position source `name` stored last, if any. A record that does not parse is reported
/// and ignored: the raw topic still tells how far the source got (see `super::restore`).
pub(super) async fn stored_position(
    bus: &dyn EventBus,
    topic: &str,
    name: &str,
) -> Result<Option<i64>, SourceError> {
    let table = read_table(bus, topic)
        .await
        .map_err(|source| SourceError::Restore {
            topic: topic.to_string(),
            source,
        })?;
    let Some(delivery) = table
        .iter()
        .find(|d| d.key.as_deref() == Some(name.as_bytes()))
    else {
        return Ok(None);
    };
    let value = delivery.value.as_deref().unwrap_or_default();
    match serde_json::from_slice::<StoredPosition>(value) {
        Ok(stored) => Ok(Some(stored.incrementing)),
        Err(error) => {
            tracing::warn!(
                topic,
                partition = delivery.partition,
                offset = delivery.offset,
                source = name,
                %error,
                "stored position does not parse; ignored"
            );
            Ok(None)
        }
    }
}
