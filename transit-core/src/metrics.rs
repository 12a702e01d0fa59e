//! Counters of what flows through a pipeline's consumers, for `/metrics` and the logs.
//!
//! Processors and the status read model record into one shared [`PipelineMetrics`]; the
//! dashboard renders a [`MetricsSnapshot`] as Prometheus text. Counters are updated once per
//! batch, not per record, so keeping them costs nothing measurable at millions of records a
//! second. This is an explicit value rather than a global recorder so several pipelines (and
//! tests) in one process keep their own numbers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::bus::{Delivery, PartitionPosition};

/// Shared counters of one pipeline; cheap to clone behind an `Arc`.
#[derive(Debug, Default)]
pub struct PipelineMetrics {
    inner: Mutex<MetricsSnapshot>,
}

/// A consumer (by name) reading a topic.
pub type ConsumerTopic = (String, Arc<str>);

/// The counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Records received, per consumer and topic.
    pub consumed: BTreeMap<ConsumerTopic, u64>,
    /// Records sent to the dead-letter topic, per consumer and the topic they came from.
    pub dead_lettered: BTreeMap<ConsumerTopic, u64>,
    /// Records published, per topic.
    pub published: BTreeMap<String, u64>,
    /// Lag per consumer, topic and partition, as last measured.
    pub lag: BTreeMap<(String, Arc<str>, u32), u64>,
}

impl PipelineMetrics {
    /// Fresh counters, shared.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> MutexGuard<'_, MetricsSnapshot> {
        // Nothing panics while holding the lock; a poisoned lock still holds valid counters.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a batch `consumer` received.
    pub fn record_consumed(&self, consumer: &str, batch: &[Delivery]) {
        let mut inner = self.lock();
        let mut run: Option<(&Arc<str>, u64)> = None;
        for delivery in batch {
            match &mut run {
                Some((topic, count)) if Arc::ptr_eq(topic, &delivery.topic) => *count += 1,
                _ => {
                    if let Some((topic, count)) = run.take() {
                        add(&mut inner.consumed, consumer, topic, count);
                    }
                    run = Some((&delivery.topic, 1));
                }
            }
        }
        if let Some((topic, count)) = run {
            add(&mut inner.consumed, consumer, topic, count);
        }
    }

    /// Counts one record `consumer` sent to the dead-letter topic.
    pub fn record_dead_letter(&self, consumer: &str, source_topic: &Arc<str>) {
        add(&mut self.lock().dead_lettered, consumer, source_topic, 1);
    }

    /// Counts `count` records published to `topic`.
    pub fn record_published(&self, topic: &str, count: u64) {
        let mut inner = self.lock();
        match inner.published.get_mut(topic) {
            Some(total) => *total += count,
            None => {
                inner.published.insert(topic.to_string(), count);
            }
        }
    }

    /// Replaces `consumer`'s lag with what `positions` show.
    pub fn record_positions(&self, consumer: &str, positions: &[PartitionPosition]) {
        let mut inner = self.lock();
        inner.lag.retain(|(name, _, _), _| name != consumer);
        for position in positions {
            inner.lag.insert(
                (
                    consumer.to_string(),
                    Arc::clone(&position.topic),
                    position.partition,
                ),
                position.lag(),
            );
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        self.lock().clone()
    }
}

fn add(map: &mut BTreeMap<ConsumerTopic, u64>, consumer: &str, topic: &Arc<str>, count: u64) {
    // Look up without allocating: this runs once per batch and topic.
    if let Some((_, total)) = map
        .iter_mut()
        .find(|((name, t), _)| name == consumer && t == topic)
    {
        *total += count;
        return;
    }
    map.insert((consumer.to_string(), Arc::clone(topic)), count);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(topic: &Arc<str>, offset: u64) -> Delivery {
        Delivery {
            topic: Arc::clone(topic),
            partition: 0,
            offset,
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp_ms: 0,
        }
    }

    #[test]
    fn counts_batches_per_consumer_and_topic() {
        let metrics = PipelineMetrics::new();
        let a: Arc<str> = Arc::from("a");
        let b: Arc<str> = Arc::from("b");
        let batch = [
            delivery(&a, 0),
            delivery(&a, 1),
            delivery(&b, 0),
            delivery(&a, 2),
        ];
        metrics.record_consumed("status", &batch);
        metrics.record_consumed("counter", &batch[..1]);
        metrics.record_dead_letter("status", &b);
        metrics.record_published("out", 2);
        metrics.record_published("out", 3);
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.consumed[&("status".into(), Arc::clone(&a))], 3);
        assert_eq!(snapshot.consumed[&("status".into(), Arc::clone(&b))], 1);
        assert_eq!(snapshot.consumed[&("counter".into(), Arc::clone(&a))], 1);
        assert_eq!(snapshot.dead_lettered[&("status".into(), b)], 1);
        assert_eq!(snapshot.published["out"], 5);
    }

    #[test]
    fn positions_replace_a_consumers_lag() {
        let metrics = PipelineMetrics::new();
        let topic: Arc<str> = Arc::from("t");
        let at = |partition, next_offset, end_offset| PartitionPosition {
            topic: Arc::clone(&topic),
            partition,
            next_offset,
            end_offset,
        };
        metrics.record_positions("c", &[at(0, 3, 10), at(1, 5, 5)]);
        metrics.record_positions("c", &[at(1, 5, 7)]);
        let lag = metrics.snapshot().lag;
        assert_eq!(lag.len(), 1, "partition 0 is no longer assigned: {lag:?}");
        assert_eq!(lag[&("c".into(), Arc::clone(&topic), 1)], 2);
    }
}
