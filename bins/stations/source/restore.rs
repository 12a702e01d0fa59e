//! Which rows this source has already published, read back from the raw station topic.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use transit_core::bus::{Delivery, SubscribeOptions};
use transit_core::EventBus;

use super::{SourceError, HEADER_SOURCE, HEADER_STOP_ID};

/// How long to wait for records before checking positions again.
const POLL: Duration = Duration::from_millis(200);

/// Records read per batch.
const BATCH: usize = 4096;

/// The `stop_id`s of every record on `topic` (up to its end when reading starts) that source
/// `name` published, known by its headers.
///
/// Every record is read, not the last per key: the raw topic is keyed by station, and a
/// station has a row per direction. The topic holds one record per row, so this is bounded by
/// the table's size.
pub(super) async fn published_stop_ids(
    bus: &dyn EventBus,
    topic: &str,
    name: &str,
) -> Result<BTreeSet<u32>, SourceError> {
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([topic]))
        .await
        .map_err(SourceError::bus("subscribing to", topic))?;
    let targets: HashMap<u32, u64> = consumer
        .positions()
        .await
        .map_err(SourceError::bus("reading the positions of", topic))?
        .into_iter()
        .map(|p| (p.partition, p.end_offset))
        .collect();
    let mut published = BTreeSet::new();
    let mut batch = Vec::new();
    loop {
        let positions = consumer
            .positions()
            .await
            .map_err(SourceError::bus("reading the positions of", topic))?;
        let done = positions.iter().all(|p| {
            targets
                .get(&p.partition)
                .is_none_or(|&target| p.next_offset >= target)
        });
        if done {
            break;
        }
        batch.clear();
        match tokio::time::timeout(POLL, consumer.recv_batch(&mut batch, BATCH)).await {
            Err(_elapsed) => continue,
            Ok(received) => {
                if received.map_err(SourceError::bus("reading", topic))? == 0 {
                    break;
                }
            }
        }
        for delivery in &batch {
            let within = targets
                .get(&delivery.partition)
                .is_some_and(|&target| delivery.offset < target);
            if within {
                if let Some(stop_id) = published_by(delivery, name) {
                    published.insert(stop_id);
                }
            }
        }
    }
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
