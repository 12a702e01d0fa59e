//! Publishing station rows onto the raw station topic.
//!
//! In one process the rows come from the embedded CSV; in production a database source
//! publishes the same records the same way, so the station processor cannot tell them apart.

use std::sync::Arc;

use super::{publish, ProcessorError};
use crate::bus::{EventBus, TopicSpec};
use crate::codec::{SchemaRegistry, TopicCodec};
use crate::event::StationRow;
use crate::topics::Topics;

/// Publishes `rows` to the raw station topic (creating it if needed) at `timestamp_ms`, keyed
/// by station id; returns how many were published.
pub async fn publish_station_rows(
    bus: &dyn EventBus,
    registry: Arc<dyn SchemaRegistry>,
    topics: &Topics,
    rows: &[StationRow],
    timestamp_ms: i64,
) -> Result<u64, ProcessorError> {
    let topic = topics.station_rows();
    bus.create_topic(&TopicSpec::new(topic.clone(), 1))
        .await
        .map_err(ProcessorError::bus("creating", topic.as_str()))?;
    let codec = TopicCodec::<StationRow>::register(registry, topic.clone()).await?;
    let records = rows
        .iter()
        .map(|row| codec.record(row, timestamp_ms))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| ProcessorError::Encode {
            topic: topic.clone(),
            source,
        })?;
    let published = publish(bus, &topic, records).await?;
    tracing::info!(topic, rows = published, "station rows published");
    Ok(published)
}
