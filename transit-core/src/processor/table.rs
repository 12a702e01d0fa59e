//! Reading a topic back: how processors and read models restore their state.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::ProcessorError;
use crate::bus::{Delivery, EventBus, SubscribeOptions};

/// How long to wait for records before checking positions again.
const POLL: Duration = Duration::from_millis(200);

/// How often restore progress is logged.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Reads `topic` from its start up to its end as of the call, handing every record to `each`,
/// in offset order per partition; returns how many records were read.
///
/// The work is bounded by what the topic holds, not by what is published meanwhile: the end of
/// each partition is fixed when reading starts.
pub async fn read_topic(
    bus: &dyn EventBus,
    topic: &str,
    mut each: impl FnMut(Delivery) + Send,
) -> Result<u64, ProcessorError> {
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([topic]))
        .await
        .map_err(ProcessorError::bus("subscribing to", topic))?;
    let targets: HashMap<u32, u64> = consumer
        .positions()
        .await
        .map_err(ProcessorError::bus("reading the positions of", topic))?
        .into_iter()
        .map(|p| (p.partition, p.end_offset))
        .collect();
    let mut read = 0u64;
    let mut batch = Vec::new();
    let mut logged = Instant::now();
    loop {
        let positions = consumer
            .positions()
            .await
            .map_err(ProcessorError::bus("reading the positions of", topic))?;
        let done = positions.iter().all(|p| {
            targets
                .get(&p.partition)
                .is_none_or(|&target| p.next_offset >= target)
        });
        if done {
            break;
        }
        batch.clear();
        match tokio::time::timeout(POLL, consumer.recv_batch(&mut batch, super::BATCH)).await {
            Err(_elapsed) => continue,
            Ok(received) => {
                let count = received.map_err(ProcessorError::bus("reading", topic))?;
                if count == 0 {
                    break;
                }
            }
        }
        for delivery in batch.drain(..) {
            let beyond = targets
                .get(&delivery.partition)
                .is_none_or(|&target| delivery.offset >= target);
            if beyond {
                continue;
            }
            read += 1;
            each(delivery);
        }
        if logged.elapsed() >= PROGRESS_EVERY {
            logged = Instant::now();
            tracing::info!(topic, records = read, "reading a topic back");
        }
    }
    Ok(read)
}

/// Reads `topic` from its start up to its end as of the call (see [`read_topic`]), and returns
/// the last record of each key (tombstones remove a key), in offset order per partition.
///
/// On a compacted topic that is about one record per key, so restoring takes time proportional
/// to the table, not to its history.
pub async fn read_table(bus: &dyn EventBus, topic: &str) -> Result<Vec<Delivery>, ProcessorError> {
    let started = Instant::now();
    let mut last: HashMap<Option<Bytes>, Delivery> = HashMap::new();
    let read = read_topic(bus, topic, |delivery| {
        if delivery.value.is_none() {
            last.remove(&delivery.key);
        } else {
            last.insert(delivery.key.clone(), delivery);
        }
    })
    .await?;
    let mut rows: Vec<Delivery> = last.into_values().collect();
    rows.sort_by_key(|d| (d.partition, d.offset));
    tracing::info!(
        topic,
        records = read,
        keys = rows.len(),
        millis = started.elapsed().as_millis() as u64,
        "table restored"
    );
    Ok(rows)
}
