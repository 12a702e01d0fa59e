//! The one loop every processor runs on: consume a batch, process it, publish what it produced
//! and the dead letters, commit the batch's input positions; per-partition state kept right
//! across rebalances; lag and progress reported; shutdown processing what was published before it.
//!
//! A processor says only what is its own (the [`Processor`] trait): how to process a batch,
//! what to restore for a partition it gains and drop for one it loses. Everything else is
//! here, once, so the processors cannot drift apart.
//!
//! # Order of a turn
//!
//! 1. Wait for a batch (or shutdown, or `idle_every` without records; without `idle_every`,
//!    until the first assignment, a quiet second applies the assignment changes, so a member
//!    restores what it was first given, and is ready, without waiting for a record).
//! 2. Apply the assignment changes the consumer reports, in order: [`Processor::revoked`]
//!    drops state, [`Processor::assigned`] restores it. They are taken after the batch
//!    arrived and before it is processed, so the batch is always processed against state that
//!    matches the partitions it came from, and a partition lost and handed back between two
//!    batches is restored, not kept stale.
//! 3. [`Processor::process`] the batch into an [`Output`].
//! 4. On a bus with transactions ([`EventBus::supports_transactions`]), for a group member:
//!    publish the output and the dead letters and commit the batch's input positions in one
//!    transaction ([`Consumer::publish_and_commit`]). A member that was replaced meanwhile is
//!    fenced: its output is aborted, never read, and it carries on with the partitions its
//!    group gives it (restored from the tables, as at any assignment). Otherwise: publish the
//!    output topic by topic, then the dead letters, then commit the next offset of each input
//!    partition. A crash before the commit replays the batch: each processor makes replays
//!    harmless (the counter by the input offset in its state).
//! 5. [`Processor::after_batch`], measure lag every [`LAG_EVERY`], log progress every
//!    [`PROGRESS_EVERY`].

use std::collections::BTreeMap;
use std::fmt::{Debug, Display};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::{commit_positions, publish, ProcessorError, BATCH, LAG_EVERY};
use crate::bus::{AssignmentChange, Consumer, Delivery, EventBus, Record, SubscribeOptions};
use crate::bus::{PartitionList, TopicPartition};
use crate::deadletter::DeadLetters;
use crate::metrics::PipelineMetrics;

/// Transactions that may fail in a row (each aborted, the batch read again) before the
/// processor gives up.
const MAX_FAILED_TRANSACTIONS: u32 = 5;

/// How often a running processor logs what it has done.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// How long a batch that came smaller than [`BATCH`] waits for more records before it is
/// processed: the latency it adds is well below the board's refresh, and flat out it turns
/// thousands of one-tick transactions into a few.
const LINGER: Duration = Duration::from_millis(5);

/// How long a loop without `idle_every`, before its first assignment, waits for records
/// before it applies the assignment changes that came meanwhile.
const QUIET: Duration = Duration::from_secs(1);

/// How long a stopping loop waits for more records before it calls its input drained.
const DRAIN_WAIT: Duration = Duration::from_millis(200);

/// Whether `consumer` has read every partition up to `ends` (where each ended at the stop).
async fn drained(consumer: &mut dyn Consumer, ends: &BTreeMap<(Arc<str>, u32), u64>) -> bool {
    match consumer.positions().await {
        Ok(positions) => positions.iter().all(|p| {
            ends.get(&(Arc::clone(&p.topic), p.partition))
                .is_none_or(|&end| p.next_offset >= end)
        }),
        Err(_) => true,
    }
}

/// What a processor adds to the loop: its own processing and its per-partition state.
#[async_trait]
pub trait Processor: Send {
    /// What the processor counts while it runs; returned by [`ProcessorLoop::run`]. Cloned
    /// before each batch, so a batch whose transaction was aborted is not counted. Logged
    /// with its `Display` form, in plain words.
    type Stats: Clone + Debug + Display + Default + Send;

    /// Restores what the processor keeps for `partitions`, just assigned to it (at start,
    /// after a rebalance, or handed back after another member had them).
    async fn assigned(
        &mut self,
        _bus: &dyn EventBus,
        _partitions: &[TopicPartition],
        _stats: &mut Self::Stats,
    ) -> Result<(), ProcessorError> {
        Ok(())
    }

    /// Drops what the processor kept for `partitions`, no longer its own: another member may
    /// move them on, so what it holds would be stale if they came back.
    fn revoked(&mut self, _partitions: &[TopicPartition]) {}

    /// Processes one batch, putting what it produced (and what it refused) into `output`.
    async fn process(
        &mut self,
        batch: &[Delivery],
        output: &mut Output,
        stats: &mut Self::Stats,
    ) -> Result<(), ProcessorError>;

    /// Called after each batch was published and committed, and when no record came for the
    /// loop's `idle_every`.
    fn after_batch(&mut self, _stats: &mut Self::Stats) {}

    /// Called once when the loop stops, after the batch in hand was finished.
    fn finish(&mut self, _stats: &mut Self::Stats) {}
}

/// What a batch produced: records per output topic, and the input records refused.
#[derive(Debug, Default)]
pub struct Output {
    records: BTreeMap<String, Vec<Record>>,
    rejected: Vec<(Delivery, String)>,
    /// How many of `rejected` are refusals the pipeline expects of good data.
    by_design: usize,
}

impl Output {
    /// Publishes `record` to `topic` with the rest of the batch's output.
    pub fn publish(&mut self, topic: &str, record: Record) {
        match self.records.get_mut(topic) {
            Some(records) => records.push(record),
            None => {
                self.records.insert(topic.to_string(), vec![record]);
            }
        }
    }

    /// Sends a copy of `delivery` to the dead-letter topic, with `reason`.
    pub fn reject(&mut self, delivery: &Delivery, reason: impl Into<String>) {
        self.rejected.push((delivery.clone(), reason.into()));
    }

    /// Sends a copy of `delivery` to the dead-letter topic, with `reason`, as a refusal the
    /// pipeline expects of good data (a row of a line it does not show): logged at info
    /// level, not as a warning.
    pub fn reject_by_design(&mut self, delivery: &Delivery, reason: impl Into<String>) {
        self.reject(delivery, reason);
        self.by_design += 1;
    }

    /// How many input records were refused so far.
    pub fn rejected(&self) -> usize {
        self.rejected.len()
    }
}

/// Whether a group member's output and commits go in one transaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transactions {
    /// In a transaction when the bus supports them (the default).
    #[default]
    WhenSupported,
    /// Never: publish, then commit (at-least-once, made exact by offsets kept in the state).
    Off,
}

/// The loop of one processor member: its subscription, its name, where its dead letters go.
#[derive(Debug)]
pub struct ProcessorLoop {
    bus: Arc<dyn EventBus>,
    subscription: SubscribeOptions,
    name: String,
    dead_letters: DeadLetters,
    metrics: Arc<PipelineMetrics>,
    idle_every: Option<Duration>,
    transactions: Transactions,
    /// The most records one batch (and so one transaction) takes.
    batch: usize,
    /// Whether a stop reads on up to where each partition ended (see [`ProcessorLoop::run`]).
    drain: bool,
}

impl ProcessorLoop {
    /// A loop over `subscription`: in its group when it names one (then it commits), else
    /// reading every partition without committing. `name` is the member's name in logs,
    /// metrics and dead-letter headers (the group's, for a group member).
    pub fn new(
        bus: Arc<dyn EventBus>,
        subscription: SubscribeOptions,
        name: impl Into<String>,
        dead_letter_topic: impl Into<String>,
        metrics: Arc<PipelineMetrics>,
    ) -> Self {
        let name = name.into();
        Self {
            dead_letters: DeadLetters::new(dead_letter_topic, name.clone(), Arc::clone(&metrics)),
            bus,
            subscription,
            name,
            metrics,
            idle_every: None,
            transactions: Transactions::default(),
            batch: BATCH,
            drain: true,
        }
    }

    /// Takes at most `records` records a batch (default [`BATCH`]): for a processor whose
    /// records are costly, so that the batch in hand, and its transaction, ends well within a
    /// stop's grace.
    pub fn max_batch(mut self, records: usize) -> Self {
        self.batch = records.max(1);
        self
    }

    /// Whether a stop reads on up to where each partition ended when it came (default), or
    /// stops after the batch in hand: for a group member that may lag far behind, whose
    /// unread records its group's next member reads (exactly once by the committed offsets).
    pub fn drain_on_stop(mut self, drain: bool) -> Self {
        self.drain = drain;
        self
    }

    /// Whether output and commits go in one transaction (by default, when the bus can).
    pub fn transactions(mut self, transactions: Transactions) -> Self {
        self.transactions = transactions;
        self
    }

    /// A loop for a member of `group` reading `input`, named by its group.
    pub fn group_member(
        bus: Arc<dyn EventBus>,
        input: &str,
        group: &str,
        dead_letter_topic: impl Into<String>,
        metrics: Arc<PipelineMetrics>,
    ) -> Self {
        let subscription = SubscribeOptions::topics([input.to_string()]).in_group(group);
        Self::new(bus, subscription, group, dead_letter_topic, metrics)
    }

    /// Calls [`Processor::after_batch`] also when no record came for `every` (the read model
    /// publishes its last changes that way).
    pub fn idle_every(mut self, every: Duration) -> Self {
        self.idle_every = Some(every);
        self
    }

    /// Runs `processor` until `shutdown` is cancelled or the bus closes. After a shutdown it
    /// reads on up to where each partition ended when the shutdown came (not waiting for more
    /// than `DRAIN_WAIT` at a time), so everything published before the stop is processed
    /// (unless [`ProcessorLoop::drain_on_stop`] says not to); every batch is published and
    /// committed before it returns.
    pub async fn run<P: Processor>(
        self,
        mut processor: P,
        shutdown: CancellationToken,
    ) -> Result<P::Stats, ProcessorError> {
        let inputs = describe(&self.subscription);
        self.bus
            .create_topic(&self.dead_letters.topic_spec())
            .await
            .map_err(ProcessorError::bus("creating", self.dead_letters.topic()))?;
        let commits = self.subscription.group.is_some();
        let transactional = commits
            && self.transactions == Transactions::WhenSupported
            && self.bus.supports_transactions();
        let mut consumer = self
            .bus
            .subscribe(self.subscription.clone())
            .await
            .map_err(ProcessorError::bus("subscribing to", inputs.as_str()))?;
        let mut stats = P::Stats::default();
        let mut batch = Vec::with_capacity(self.batch.min(BATCH));
        let mut lag_measured = Instant::now();
        let mut progress_logged = Instant::now();
        let mut processed_since_log = 0u64;
        let mut failed_transactions = 0u32;
        // Until its first assignment is applied, a quiet second applies the changes (see
        // `Received::Quiet`); from then on it reads as it always did.
        let mut assigned = self
            .apply_changes(consumer.as_mut(), &mut processor, &mut stats)
            .await?;
        tracing::info!(
            processor = %self.name,
            inputs = %inputs,
            transactional,
            "processor running"
        );
        // Set once shutdown came: where each partition ended then. The loop reads on up to
        // there, so what was published before a stop is processed (a finite run counts every
        // entry it published), and then stops, however busy the producers still are.
        let mut drain_to: Option<BTreeMap<(Arc<str>, u32), u64>> = None;
        loop {
            batch.clear();
            let received = match &drain_to {
                Some(ends) => {
                    if drained(consumer.as_mut(), ends).await {
                        break;
                    }
                    match tokio::time::timeout(
                        DRAIN_WAIT,
                        consumer.recv_batch(&mut batch, self.batch),
                    )
                    .await
                    {
                        // Nothing more comes (the rest was compacted away, or the backend
                        // has nothing ready): done.
                        Err(_quiet) => break,
                        Ok(received) => received.map(|n| {
                            if n == 0 {
                                Received::Closed
                            } else {
                                Received::Batch
                            }
                        }),
                    }
                }
                None => tokio::select! {
                    biased;
                    () = shutdown.cancelled() => {
                        if !self.drain {
                            break;
                        }
                        let Ok(positions) = consumer.positions().await else {
                            break;
                        };
                        drain_to = Some(
                            positions
                                .into_iter()
                                .map(|p| ((p.topic, p.partition), p.end_offset))
                                .collect(),
                        );
                        continue;
                    }
                    received = self.next_batch(consumer.as_mut(), &mut batch, assigned) => received,
                },
            };
            if drain_to.is_none() && matches!(received, Ok(Received::Batch)) {
                self.linger(consumer.as_mut(), &mut batch).await;
            }
            match received.map_err(ProcessorError::bus("reading", inputs.as_str()))? {
                Received::Closed => break,
                Received::Quiet => {
                    // Its first partitions, assigned while no record comes, are restored now,
                    // not at the first record: the member is ready (and says so) as soon as it
                    // can be.
                    assigned |= self
                        .apply_changes(consumer.as_mut(), &mut processor, &mut stats)
                        .await?;
                    continue;
                }
                Received::Idle => {
                    assigned |= self
                        .apply_changes(consumer.as_mut(), &mut processor, &mut stats)
                        .await?;
                }
                Received::Batch => {
                    assigned |= self
                        .apply_changes(consumer.as_mut(), &mut processor, &mut stats)
                        .await?;
                    self.metrics.record_consumed(&self.name, &batch);
                    let before = stats.clone();
                    let mut output = Output::default();
                    processor.process(&batch, &mut output, &mut stats).await?;
                    if transactional {
                        let positions = commit_positions(&batch);
                        match self
                            .commit_transaction(consumer.as_mut(), output, &positions)
                            .await
                        {
                            Ok(()) => {
                                failed_transactions = 0;
                                self.metrics.record_commit(&self.name);
                            }
                            Err(crate::bus::Error::Fenced { reason }) => {
                                self.metrics.record_aborted_transaction(&self.name);
                                self.metrics
                                    .record_error(&self.name, &format!("fenced: {reason}"));
                                tracing::warn!(
                                    processor = %self.name,
                                    %reason,
                                    "fenced, or the transaction could not go on: this batch's \
                                     output is aborted and never read, and this member carries \
                                     on from the committed offsets with what its group gives it, \
                                     its state restored"
                                );
                                stats = before;
                                continue;
                            }
                            Err(error) => {
                                failed_transactions += 1;
                                self.metrics.record_aborted_transaction(&self.name);
                                self.metrics
                                    .record_retry(&self.name, &crate::error_chain(&error));
                                if failed_transactions >= MAX_FAILED_TRANSACTIONS {
                                    return Err(ProcessorError::bus(
                                        "committing a transaction on",
                                        inputs.clone(),
                                    )(error));
                                }
                                tracing::warn!(
                                    processor = %self.name,
                                    error = %crate::error_chain(&error),
                                    attempt = failed_transactions,
                                    "a transaction failed and was aborted; the batch is read again from the committed offsets"
                                );
                                stats = before;
                                tokio::time::sleep(
                                    Duration::from_millis(200) * failed_transactions,
                                )
                                .await;
                                continue;
                            }
                        }
                    } else {
                        self.publish(output).await?;
                        if commits {
                            consumer
                                .commit(&commit_positions(&batch))
                                .await
                                .map_err(ProcessorError::bus("committing", inputs.as_str()))?;
                            self.metrics.record_commit(&self.name);
                        }
                    }
                    processed_since_log += batch.len() as u64;
                }
            }
            processor.after_batch(&mut stats);
            if lag_measured.elapsed() >= LAG_EVERY {
                lag_measured = Instant::now();
                if let Ok(positions) = consumer.positions().await {
                    self.metrics.record_positions(&self.name, &positions);
                }
            }
            if progress_logged.elapsed() >= PROGRESS_EVERY && processed_since_log > 0 {
                progress_logged = Instant::now();
                let lag: u64 = self
                    .metrics
                    .snapshot()
                    .lag
                    .iter()
                    .filter(|((consumer, _, _), _)| *consumer == self.name)
                    .map(|(_, lag)| *lag)
                    .sum();
                tracing::info!(
                    processor = %self.name,
                    records = processed_since_log,
                    lag,
                    totals = %stats,
                    "processing"
                );
                processed_since_log = 0;
            }
        }
        processor.finish(&mut stats);
        tracing::info!(
            processor = %self.name,
            totals = %stats,
            "processor stopped; its output is published and its inputs committed"
        );
        Ok(stats)
    }

    /// Waits for the next batch, or for `idle_every` to pass without one; without
    /// `idle_every`, before the first assignment was `assigned`, for [`QUIET`].
    async fn next_batch(
        &self,
        consumer: &mut dyn Consumer,
        batch: &mut Vec<Delivery>,
        assigned: bool,
    ) -> crate::bus::Result<Received> {
        let received = match self.idle_every {
            Some(every) => {
                match tokio::time::timeout(every, consumer.recv_batch(batch, self.batch)).await {
                    Err(_quiet) => return Ok(Received::Idle),
                    Ok(received) => received?,
                }
            }
            None if !assigned => {
                match tokio::time::timeout(QUIET, consumer.recv_batch(batch, self.batch)).await {
                    Err(_quiet) => return Ok(Received::Quiet),
                    Ok(received) => received?,
                }
            }
            None => consumer.recv_batch(batch, self.batch).await?,
        };
        Ok(if received == 0 {
            Received::Closed
        } else {
            Received::Batch
        })
    }

    /// Lets a batch that came small wait a moment for more, as a Kafka consumer's
    /// `fetch.max.wait.ms` does: a producer running flat out publishes a tick at a time, and a
    /// transaction (and a table row per key changed) per tick cost more than the records.
    ///
    /// Not cancel-safe (records in hand would be dropped): it is awaited outside any
    /// `select!`, after [`ProcessorLoop::next_batch`] returned a batch.
    async fn linger(&self, consumer: &mut dyn Consumer, batch: &mut Vec<Delivery>) {
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < self.batch {
            match tokio::time::timeout_at(
                deadline,
                consumer.recv_batch(batch, self.batch - batch.len()),
            )
            .await
            {
                Ok(Ok(n)) if n > 0 => {}
                // Time is up, the bus closed (the next read says so), or an error that the
                // next read reports: process what is in hand first.
                _ => break,
            }
        }
    }

    /// Hands the consumer's assignment changes to the processor, in the order they happened;
    /// whether one was an assignment.
    async fn apply_changes<P: Processor>(
        &self,
        consumer: &mut dyn Consumer,
        processor: &mut P,
        stats: &mut P::Stats,
    ) -> Result<bool, ProcessorError> {
        let mut assigned = false;
        for change in consumer.assignment_changes() {
            match change {
                AssignmentChange::Revoked(partitions) => {
                    tracing::info!(processor = %self.name, partitions = %PartitionList(&partitions), "partitions revoked; their state dropped");
                    processor.revoked(&partitions);
                }
                AssignmentChange::Assigned(partitions) => {
                    let started = Instant::now();
                    processor
                        .assigned(self.bus.as_ref(), &partitions, stats)
                        .await?;
                    tracing::info!(
                        processor = %self.name,
                        partitions = %PartitionList(&partitions),
                        millis = started.elapsed().as_millis() as u64,
                        "partitions assigned; their state restored"
                    );
                    // Ready from its first assignment on, an empty one too (a member its
                    // group gave nothing has nothing to restore).
                    self.metrics.record_restored(&self.name);
                    assigned = true;
                }
            }
        }
        Ok(assigned)
    }

    /// Publishes `output` with its dead letters and commits `positions`, in one transaction.
    async fn commit_transaction(
        &self,
        consumer: &mut dyn Consumer,
        output: Output,
        positions: &[crate::bus::RecordPosition],
    ) -> crate::bus::Result<()> {
        let counts: Vec<(String, u64)> = output
            .records
            .iter()
            .map(|(topic, records)| (topic.clone(), records.len() as u64))
            .collect();
        let mut outputs: Vec<(String, Vec<Record>)> = output.records.into_iter().collect();
        if !output.rejected.is_empty() {
            outputs.push((
                self.dead_letters.topic().to_string(),
                self.dead_letters
                    .records(&output.rejected, output.by_design),
            ));
        }
        consumer.publish_and_commit(outputs, positions).await?;
        for (topic, count) in counts {
            self.metrics.record_published(&topic, count);
        }
        self.dead_letters.count(&output.rejected);
        Ok(())
    }

    async fn publish(&self, output: Output) -> Result<(), ProcessorError> {
        for (topic, records) in output.records {
            let count = publish(self.bus.as_ref(), &topic, records).await?;
            self.metrics.record_published(&topic, count);
        }
        self.dead_letters
            .send(self.bus.as_ref(), &output.rejected, output.by_design)
            .await
            .map_err(ProcessorError::publish(self.dead_letters.topic()))
    }
}

/// The partition numbers of `topic` among `partitions`: what a processor with one input topic
/// restores or drops on an assignment change.
pub fn partitions_of(
    topic: &str,
    partitions: &[TopicPartition],
) -> std::collections::BTreeSet<u32> {
    partitions
        .iter()
        .filter(|tp| &*tp.topic == topic)
        .map(|tp| tp.partition)
        .collect()
}

/// Writes counters as `name value, name value`: a processor's stats in a log line.
pub fn write_counts(f: &mut std::fmt::Formatter<'_>, counts: &[(&str, u64)]) -> std::fmt::Result {
    for (index, (name, value)) in counts.iter().enumerate() {
        if index > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{name} {value}")?;
    }
    Ok(())
}

enum Received {
    Batch,
    /// No record for `idle_every`: the processor's `after_batch` runs.
    Idle,
    /// No record for [`QUIET`] (a loop without `idle_every`, before its first assignment):
    /// assignment changes are applied.
    Quiet,
    Closed,
}

fn describe(subscription: &SubscribeOptions) -> String {
    match &subscription.topics {
        crate::bus::TopicSelector::Names(names) => names.join(", "),
        crate::bus::TopicSelector::Pattern(pattern) => format!("/{pattern}/"),
    }
}
