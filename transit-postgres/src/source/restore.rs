//! Which rows this source has already published, read back from the raw station topic.

use std::collections::BTreeSet;

use transit_core::bus::Delivery;
use transit_core::processor::read_topic;
use transit_core::EventBus;

use super::{SourceError, HEADER_SOURCE, HEADER_STOP_ID};

/// The `stop_id`s of every record on `topic` (up to its end when reading starts) that source
/// `name` published, known by its headers.
///
/// Every record is read, not the last per key: the raw topic is keyed by station, and a
/// station has a row per direction. Only the `stop_id`s are kept.
pub(super) async fn published_stop_ids(
    bus: &dyn EventBus,
    topic: &str,
    name: &str,
) -> Result<BTreeSet<u32>, SourceError> {
    let mut published = BTreeSet::new();
    read_topic(bus, topic, |delivery| {
        if let Some(stop_id) = published_by(&delivery, name) {
            published.insert(stop_id);
        }
    })
    .await
    .map_err(|source| SourceError::Restore {
        topic: topic.to_string(),
        source,
    })?;
    Ok(published)
}

/// The `stop_id` of `delivery` if source `name` published it. A record with this source's
/// header but an unreadable `stop_id` header is reported and not counted.
fn published_by(delivery: &Delivery, name: &str) -> Option<u32> {
    if delivery.header(HEADER_SOURCE).map(|v| v.as_ref()) != Some(name.as_bytes()) {
        return None;
    }
    let stop_id = delivery
        .header(HEADER_STOP_ID)
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.parse().ok());
    if stop_id.is_none() {
        tracing::warn!(
            topic = %delivery.topic,
            partition = delivery.partition,
            offset = delivery.offset,
            "record of this source without a readable {HEADER_STOP_ID} header; ignored"
        );
    }
    stop_id
}
