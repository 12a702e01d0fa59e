//! Counters of what flows through a pipeline's consumers, for `/metrics` and the logs.
//!
//! Processors and the status read model record into one shared [`PipelineMetrics`]; the
//! dashboard renders a [`MetricsSnapshot`] as Prometheus text. Counters are updated once per
//! batch, not per record, so keeping them costs nothing measurable at millions of records a
//! second. This is an explicit value rather than a global recorder so several pipelines (and
//! tests) in one process keep their own numbers.

use std::collections::{BTreeMap, BTreeSet};
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
    /// Commits of input positions (transactions committed, for a transactional member), per
    /// consumer.
    pub commits: BTreeMap<String, u64>,
    /// Transactions aborted (fenced or failed; their batch is read again), per consumer.
    pub aborted_transactions: BTreeMap<String, u64>,
    /// Operations retried after a failure, per component (a consumer, a source, a client).
    pub retries: BTreeMap<String, u64>,
    /// Errors seen (retried or not), per component.
    pub errors: BTreeMap<String, u64>,
    /// The last error per component, with when it happened.
    pub last_error: BTreeMap<String, LastError>,
    /// Consumers that have restored the state of the partitions first assigned to them.
    pub restored: BTreeSet<String>,
}

/// The last error a component saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastError {
    /// The error and its causes, in one line.
    pub message: String,
    /// When, in milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
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

    /// Counts a commit of `consumer`'s input positions (or a committed transaction).
    pub fn record_commit(&self, consumer: &str) {
        bump(&mut self.lock().commits, consumer);
    }

    /// Counts a transaction of `consumer` that was aborted.
    pub fn record_aborted_transaction(&self, consumer: &str) {
        bump(&mut self.lock().aborted_transactions, consumer);
    }

    /// Counts an operation of `component` retried after `error`, which becomes its last error.
    pub fn record_retry(&self, component: &str, error: &str) {
        let mut inner = self.lock();
        bump(&mut inner.retries, component);
        note_error(&mut inner, component, error);
    }

    /// Counts an error of `component` (not retried), which becomes its last error.
    pub fn record_error(&self, component: &str, error: &str) {
        note_error(&mut self.lock(), component, error);
    }

    /// Marks `consumer` as having restored the state of its first partitions.
    pub fn record_restored(&self, consumer: &str) {
        let mut inner = self.lock();
        if !inner.restored.contains(consumer) {
            inner.restored.insert(consumer.to_string());
        }
    }

    /// Whether `consumer` has restored the state of its first partitions.
    pub fn has_restored(&self, consumer: &str) -> bool {
        self.lock().restored.contains(consumer)
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        self.lock().clone()
    }
}

fn bump(map: &mut BTreeMap<String, u64>, name: &str) {
    match map.get_mut(name) {
        Some(count) => *count += 1,
        None => {
            map.insert(name.to_string(), 1);
        }
    }
}

fn note_error(inner: &mut MetricsSnapshot, component: &str, error: &str) {
    bump(&mut inner.errors, component);
    let at_unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64);
    inner.last_error.insert(
        component.to_string(),
        LastError {
            message: error.to_string(),
            at_unix_ms,
        },
    );
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
    fn commits_aborts_retries_and_the_last_error_per_component() {
        let metrics = PipelineMetrics::new();
        metrics.record_commit("c");
        metrics.record_commit("c");
        metrics.record_aborted_transaction("c");
        metrics.record_retry("source", "connection refused");
        metrics.record_retry("source", "timed out");
        metrics.record_error("c", "fenced");
        assert!(!metrics.has_restored("c"));
        metrics.record_restored("c");
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.commits["c"], 2);
        assert_eq!(snapshot.aborted_transactions["c"], 1);
        assert_eq!(snapshot.retries["source"], 2);
        assert_eq!(snapshot.errors["source"], 2);
        assert_eq!(snapshot.last_error["source"].message, "timed out");
        assert!(snapshot.last_error["source"].at_unix_ms > 0);
        assert_eq!(snapshot.last_error["c"].message, "fenced");
        assert!(metrics.has_restored("c"));
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
