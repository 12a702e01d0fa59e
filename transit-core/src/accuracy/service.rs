use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{AccuracyModel, AccuracySnapshot};
use crate::bus::{Delivery, EventBus, SubscribeOptions, TopicSpec};
use crate::codec::{DecodeError, Decoder, SchemaRegistry};
use crate::event::{AccuracyEvent, AccuracyKey};
use crate::metrics::PipelineMetrics;
use crate::processor::runner::{Output, Processor, ProcessorLoop};
use crate::processor::{applied_or_rejected, ProcessorError};

/// The name of the accuracy read model's consumer in metrics and dead letters.
pub const CONSUMER: &str = "transit-accuracy";

/// The longest a change waits before a new snapshot is published: the scorer's rows change
/// every few seconds of a live run, and the panel is read by people, not machines.
const SNAPSHOT_EVERY: Duration = Duration::from_millis(500);

/// What a run of the accuracy service did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccuracyStats {
    /// Records applied to the model (rows and tombstones).
    pub applied: u64,
    /// Records sent to the dead-letter topic.
    pub dead_lettered: u64,
    /// Snapshots published.
    pub snapshots: u64,
}

impl std::fmt::Display for AccuracyStats {
    /// The counters in plain words, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::processor::runner::write_counts(
            f,
            &[
                ("applied", self.applied),
                ("dead-lettered", self.dead_lettered),
                ("snapshots", self.snapshots),
            ],
        )
    }
}

/// Feeds an [`AccuracyModel`] from the accuracy table and publishes [`AccuracySnapshot`]s.
///
/// It reads every partition of the table from the earliest record kept (it is not a group
/// member: every board shows the whole table). Snapshots go out on a watch channel at most
/// every half second, so the boards never wait on the model.
#[derive(Debug)]
pub struct AccuracyService {
    bus: Arc<dyn EventBus>,
    topic: String,
    rows: Decoder<AccuracyEvent>,
    keys: Decoder<AccuracyKey>,
    dead_letter_topic: String,
    metrics: Arc<PipelineMetrics>,
    model: AccuracyModel,
    snapshots: watch::Sender<Arc<AccuracySnapshot>>,
    published_version: u64,
    published_at: Instant,
}

impl AccuracyService {
    /// A service over `topic` (the accuracy table, `<prefix>.predictions.accuracy.v1`: its
    /// name is the predictor crate's `topics::accuracy`) on `bus`, refusing what it cannot
    /// decode to `dead_letter_topic`; and the receiving end of its snapshots (which starts
    /// empty).
    pub fn new(
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        topic: impl Into<String>,
        dead_letter_topic: impl Into<String>,
        metrics: Arc<PipelineMetrics>,
    ) -> Result<(Self, watch::Receiver<Arc<AccuracySnapshot>>), ProcessorError> {
        let model = AccuracyModel::new();
        let (snapshots, receiver) = watch::channel(Arc::new(model.snapshot()));
        let service = Self {
            bus,
            topic: topic.into(),
            rows: Decoder::new(Arc::clone(&registry))?,
            keys: Decoder::new(registry)?,
            dead_letter_topic: dead_letter_topic.into(),
            metrics,
            published_version: model.version(),
            published_at: Instant::now(),
            model,
            snapshots,
        };
        Ok((service, receiver))
    }

    /// Applies records until `shutdown` is cancelled or the bus closes, then publishes a last
    /// snapshot.
    ///
    /// The table is created first as the scorer creates it (one partition, compacted; an
    /// existing one is left as it is), so a board started before the scorer reads it from its
    /// first row.
    pub async fn run(self, shutdown: CancellationToken) -> Result<AccuracyStats, ProcessorError> {
        self.bus
            .create_topic(&TopicSpec::new(self.topic.clone(), 1).compacted())
            .await
            .map_err(ProcessorError::bus("creating", self.topic.clone()))?;
        ProcessorLoop::new(
            Arc::clone(&self.bus),
            SubscribeOptions::topics([self.topic.clone()]),
            CONSUMER,
            self.dead_letter_topic.clone(),
            Arc::clone(&self.metrics),
        )
        .idle_every(SNAPSHOT_EVERY)
        .run(self, shutdown)
        .await
    }

    fn publish_snapshot(&mut self, stats: &mut AccuracyStats) {
        let snapshot = Arc::new(self.model.snapshot());
        self.published_version = snapshot.version;
        self.published_at = Instant::now();
        // No receiver left is not an error: the model keeps going for whoever subscribes.
        self.snapshots.send_replace(snapshot);
        stats.snapshots += 1;
    }

    async fn apply_one(&mut self, delivery: &Delivery) -> Result<(), DecodeError> {
        match delivery.value.as_deref() {
            Some(value) => {
                let row = self.rows.decode(value).await?;
                self.model.apply(&row);
            }
            None => {
                let key = delivery.key.as_deref().ok_or(DecodeError::MissingKey)?;
                let key = self.keys.decode(key).await?;
                self.model.remove(&key);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Processor for AccuracyService {
    type Stats = AccuracyStats;

    async fn process(
        &mut self,
        batch: &[Delivery],
        output: &mut Output,
        stats: &mut AccuracyStats,
    ) -> Result<(), ProcessorError> {
        for delivery in batch {
            if *delivery.topic != *self.topic {
                continue;
            }
            let outcome = self.apply_one(delivery).await;
            if applied_or_rejected(outcome, delivery, output)? {
                stats.applied += 1;
            } else {
                stats.dead_lettered += 1;
            }
        }
        Ok(())
    }

    /// Publishes a snapshot when the model changed and the last one is half a second old.
    fn after_batch(&mut self, stats: &mut AccuracyStats) {
        let due = self.published_at.elapsed() >= SNAPSHOT_EVERY;
        if due && self.model.version() != self.published_version {
            self.publish_snapshot(stats);
        }
    }

    fn finish(&mut self, stats: &mut AccuracyStats) {
        if self.model.version() != self.published_version {
            self.publish_snapshot(stats);
        }
    }
}
