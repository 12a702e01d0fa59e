//! The dead-letter topic: where records no consumer could process go, with the reason.
//!
//! A dead-letter record is the rejected record itself (same key, value, headers and timestamp,
//! so nothing about it is lost and it can be replayed once fixed) plus headers naming where it
//! came from and why it was refused. Nothing is dropped silently: every rejection is also logged
//! with topic, partition and offset, and counted in [`PipelineMetrics`].

use std::sync::Arc;

use crate::bus::{Delivery, EventBus, PublishError, Record, TopicSpec};
use crate::metrics::PipelineMetrics;

/// Header: the topic the record was read from.
pub const HEADER_TOPIC: &str = "transit.deadletter.topic";
/// Header: its partition, in decimal.
pub const HEADER_PARTITION: &str = "transit.deadletter.partition";
/// Header: its offset, in decimal.
pub const HEADER_OFFSET: &str = "transit.deadletter.offset";
/// Header: the consumer that refused it.
pub const HEADER_CONSUMER: &str = "transit.deadletter.consumer";
/// Header: why, for a person.
pub const HEADER_REASON: &str = "transit.deadletter.reason";

/// The dead-letter copy of `delivery`, refused by `consumer` for `reason`.
pub fn dead_letter_record(delivery: &Delivery, consumer: &str, reason: &str) -> Record {
    let mut headers = delivery.headers.clone();
    let mut header = |name: &str, value: String| {
        headers.push(crate::bus::Header {
            name: name.to_string(),
            value: value.into(),
        });
    };
    header(HEADER_TOPIC, delivery.topic.to_string());
    header(HEADER_PARTITION, delivery.partition.to_string());
    header(HEADER_OFFSET, delivery.offset.to_string());
    header(HEADER_CONSUMER, consumer.to_string());
    header(HEADER_REASON, reason.to_string());
    Record {
        key: delivery.key.clone(),
        value: delivery.value.clone(),
        headers,
        timestamp_ms: delivery.timestamp_ms,
        partition: None,
    }
}

/// A consumer's way to the dead-letter topic: logs, counts and publishes each rejection.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    topic: String,
    consumer: String,
    metrics: Arc<PipelineMetrics>,
}

impl DeadLetters {
    /// Rejections of `consumer`, to `topic`, counted in `metrics`.
    pub fn new(
        topic: impl Into<String>,
        consumer: impl Into<String>,
        metrics: Arc<PipelineMetrics>,
    ) -> Self {
        Self {
            topic: topic.into(),
            consumer: consumer.into(),
            metrics,
        }
    }

    /// The dead-letter topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The spec the dead-letter topic is created with: one partition, so rejections stay in
    /// the order they happened.
    pub fn topic_spec(&self) -> TopicSpec {
        TopicSpec::new(self.topic.clone(), 1)
    }

    /// Logs, counts and publishes the rejection of each `(delivery, reason)`; `by_design` of
    /// them are refusals the pipeline expects (see [`DeadLetters::records`]).
    ///
    /// A record that cannot even be dead-lettered is an error for the caller: it must not
    /// commit past it.
    pub async fn send(
        &self,
        bus: &dyn EventBus,
        rejected: &[(Delivery, String)],
        by_design: usize,
    ) -> Result<(), PublishError> {
        if rejected.is_empty() {
            return Ok(());
        }
        bus.publish_batch(&self.topic, self.records(rejected, by_design))
            .await?;
        self.count(rejected);
        Ok(())
    }

    /// Logs the rejection of each `(delivery, reason)` and returns the dead-letter records, for
    /// a caller that publishes them itself (in a transaction with its other output); it calls
    /// [`DeadLetters::count`] once they are stored.
    ///
    /// `by_design` of them are refusals the pipeline expects of good data (the CTA file's
    /// stations on other lines): when every one is, the batch is logged at info level, since
    /// nothing is wrong; any other refusal makes it a warning.
    pub fn records(&self, rejected: &[(Delivery, String)], by_design: usize) -> Vec<Record> {
        if let Some((first, reason)) = rejected.first() {
            // One line per batch: a data set with many expected rejections (stations of other
            // lines) should not bury the log; each record is logged at debug level.
            if by_design >= rejected.len() {
                tracing::info!(
                    consumer = %self.consumer,
                    records = rejected.len(),
                    topic = %first.topic,
                    partition = first.partition,
                    first_offset = first.offset,
                    first_reason = %reason,
                    dead_letter_topic = %self.topic,
                    "records left out by design; copies with the reason are on the dead-letter topic"
                );
            } else {
                tracing::warn!(
                    consumer = %self.consumer,
                    records = rejected.len(),
                    by_design,
                    topic = %first.topic,
                    partition = first.partition,
                    first_offset = first.offset,
                    first_reason = %reason,
                    dead_letter_topic = %self.topic,
                    "records refused; copies with the reason are on the dead-letter topic"
                );
            }
        }
        rejected
            .iter()
            .map(|(delivery, reason)| {
                tracing::debug!(
                    consumer = %self.consumer,
                    topic = %delivery.topic,
                    partition = delivery.partition,
                    offset = delivery.offset,
                    %reason,
                    "record refused; sent to the dead-letter topic"
                );
                dead_letter_record(delivery, &self.consumer, reason)
            })
            .collect()
    }

    /// Counts dead letters stored, in the metrics.
    pub fn count(&self, rejected: &[(Delivery, String)]) {
        for (delivery, _) in rejected {
            self.metrics
                .record_dead_letter(&self.consumer, &delivery.topic);
        }
        self.metrics
            .record_published(&self.topic, rejected.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn the_copy_keeps_the_record_and_says_where_and_why() {
        let delivery = Delivery {
            topic: Arc::from("in"),
            partition: 3,
            offset: 42,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"\x00bad")),
            headers: Vec::new(),
            timestamp_ms: 7,
        };
        let record = dead_letter_record(&delivery, "counter", "no magic byte");
        assert_eq!(record.key, delivery.key);
        assert_eq!(record.value, delivery.value);
        assert_eq!(record.timestamp_ms, 7);
        let header = |name: &str| {
            record
                .headers
                .iter()
                .find(|h| h.name == name)
                .map(|h| h.value.clone())
        };
        assert_eq!(header(HEADER_TOPIC), Some(Bytes::from("in")));
        assert_eq!(header(HEADER_PARTITION), Some(Bytes::from("3")));
        assert_eq!(header(HEADER_OFFSET), Some(Bytes::from("42")));
        assert_eq!(header(HEADER_CONSUMER), Some(Bytes::from("counter")));
        assert_eq!(header(HEADER_REASON), Some(Bytes::from("no magic byte")));
    }
}
