//! A bus [`Consumer`] over librdkafka's consumer.
//!
//! librdkafka's consumer is polled from a thread of its own, which hands records to the async
//! side through a bounded channel. Why a thread: librdkafka runs rebalance callbacks inside
//! `poll`, and a poll that happens only while the application awaits `recv` would stall the
//! group (and trip `max.poll.interval.ms`) whenever the application is busy elsewhere. The
//! bounded channel keeps memory flat when the application is slower than the broker. Records
//! cross it in batches (`batch`).

pub(crate) mod batch;
pub(crate) mod settings;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message as _;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use transit_core::bus::{
    AssignmentChange, Consumer, Delivery, Error, PartitionPosition, Record, RecordPosition, Result,
    StartFrom, TopicPartition,
};

use self::batch::{EpochCache, Epoched, Topics};
use crate::context::{ConsumerState, TracingContext};
use crate::error::{backend, bus_error};
use crate::transaction::{Aborted, TransactionalProducer};

/// How long one librdkafka poll waits; also how soon the poll thread notices a stop.
const POLL: Duration = Duration::from_millis(100);

/// How often a rewind the coordinator could not answer is tried again before the consumer
/// gives up, and the wait before each (growing: a broker's restart takes seconds).
const REWIND_ATTEMPTS: u32 = 10;
const REWIND_BACKOFF: Duration = Duration::from_millis(500);

/// What the poll thread sends: records, each with the assignment epoch of its partition when
/// it was polled, or the error that ended the consumer.
type Polled = Result<Vec<Epoched>>;

/// A consumer of a [`crate::KafkaBus`].
pub(crate) struct KafkaConsumer {
    consumer: Option<Arc<BaseConsumer<ConsumerState>>>,
    state: ConsumerState,
    records: mpsc::Receiver<Polled>,
    /// Records taken off the channel and not yet handed out (they still count as pending).
    buffered: VecDeque<Epoched>,
    /// The error that ended the poll thread, kept until the records before it are handed out.
    ended: Option<Error>,
    stop: Arc<AtomicBool>,
    /// Rewinds so far, bumped before a rewind seeks: the poll thread's [`EpochCache`] looks
    /// epochs up again after one.
    rewinds: Arc<AtomicU64>,
    /// Keeps a rewind's seeks out from between a poll and the epoch it tags its record with.
    gate: Arc<PollGate>,
    /// Whether it is in a group its user named: only then does it commit, and has committed
    /// offsets to start from.
    commits: bool,
    start: StartFrom,
    timeout: Duration,
    /// Per partition, the offset after the last record handed out.
    handed_out: HashMap<TopicPartition, u64>,
    /// The bus's watermark client, whose connections answer without queueing behind this
    /// consumer's fetches.
    watermarks: Arc<BaseConsumer<TracingContext>>,
    /// This member's transactional producer, for a group member on a bus with transactions.
    transactions: Option<Arc<Mutex<TransactionalProducer>>>,
    /// Per partition, the assignment epoch of the records handed out since the last commit:
    /// a commit of a partition reassigned since is a stale member's.
    handed_out_epochs: HashMap<TopicPartition, u64>,
    /// A rewind after an aborted transaction that could not be done yet (the group's
    /// coordinator unreachable in a broker's restart): done before any record is handed out.
    rewind_pending: bool,
}

impl std::fmt::Debug for KafkaConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConsumer")
            .field("commits", &self.commits)
            .field("start", &self.start)
            .field("assignment", &self.state.lock().partitions)
            .finish_non_exhaustive()
    }
}

impl KafkaConsumer {
    /// Starts the poll thread of a consumer that is already subscribed or assigned.
    pub(crate) fn start(
        consumer: BaseConsumer<ConsumerState>,
        state: ConsumerState,
        commits: bool,
        start: StartFrom,
        timeout: Duration,
        watermarks: Arc<BaseConsumer<TracingContext>>,
        transactions: Option<Arc<Mutex<TransactionalProducer>>>,
    ) -> Result<Self> {
        let consumer = Arc::new(consumer);
        let (sender, records) = mpsc::channel(batch::CHANNEL_BATCHES);
        let stop = Arc::new(AtomicBool::new(false));
        let rewinds = Arc::new(AtomicU64::new(0));
        let gate = Arc::new(PollGate::default());
        std::thread::Builder::new()
            .name("kafka-consumer".into())
            .spawn({
                let consumer = Arc::clone(&consumer);
                let state = state.clone();
                let stop = Arc::clone(&stop);
                let epochs = EpochCache::new(Arc::clone(&rewinds));
                let gate = Arc::clone(&gate);
                move || poll_loop(&consumer, &state, &sender, &stop, epochs, &gate)
            })
            .map_err(backend)?;
        Ok(Self {
            consumer: Some(consumer),
            state,
            records,
            buffered: VecDeque::new(),
            ended: None,
            stop,
            rewinds,
            gate,
            commits,
            start,
            timeout,
            handed_out: HashMap::new(),
            watermarks,
            transactions,
            handed_out_epochs: HashMap::new(),
            rewind_pending: false,
        })
    }

    /// Puts the consumer back where its group committed: every partition held is sought to
    /// its committed offset, records polled ahead are dropped (a new epoch), and the change is
    /// reported as every partition revoked and assigned again, so the caller restores its
    /// state for them.
    ///
    /// Every partition is reported even when a seek failed (restoring twice is harmless); the
    /// failure is returned so the rewind is done again.
    async fn rewind(&mut self) -> Result<()> {
        let consumer = self.consumer()?;
        let timeout = self.timeout;
        // Off the runtime: in a broker's restart the coordinator may take the whole timeout.
        let committed = tokio::task::spawn_blocking({
            let consumer = Arc::clone(&consumer);
            move || consumer.committed(timeout)
        })
        .await
        .map_err(backend)?
        .map_err(|error| bus_error(error, None))?;
        // The seeks, with the poll thread held between two polls (see [`PollGate`]); off the
        // runtime, as a poll may take its whole wait and a seek its timeout.
        let (held, failed) = tokio::task::spawn_blocking({
            let (consumer, state, rewinds, gate) = (
                Arc::clone(&consumer),
                self.state.clone(),
                Arc::clone(&self.rewinds),
                Arc::clone(&self.gate),
            );
            let (start, timeout) = (self.start, self.timeout);
            move || {
                seek_committed(
                    &consumer, &state, &rewinds, &gate, &committed, start, timeout,
                )
            }
        })
        .await
        .map_err(backend)?;
        for partition in &held {
            self.handed_out.remove(partition);
        }
        self.handed_out_epochs.clear();
        failed.map_or(Ok(()), Err)
    }

    /// Rewinds after a transaction that did not commit, or marks the rewind as pending when it
    /// cannot be done now: either way no record past the committed offsets is handed out
    /// against state that lacks the aborted batch.
    async fn rewind_after_abort(&mut self) {
        self.rewind_pending = true;
        match self.rewind().await {
            Ok(()) => self.rewind_pending = false,
            Err(error) => tracing::warn!(
                error = %error,
                "rewinding to the committed offsets after an aborted transaction failed; \
                 retried before the next record is handed out"
            ),
        }
    }

    /// Does a pending rewind, retrying while the group's coordinator cannot answer.
    async fn finish_pending_rewind(&mut self) -> Result<()> {
        let mut attempt: u32 = 0;
        while self.rewind_pending {
            match self.rewind().await {
                Ok(()) => {
                    self.rewind_pending = false;
                    tracing::info!("rewound to the committed offsets after an aborted transaction");
                }
                Err(error) if attempt < REWIND_ATTEMPTS => {
                    attempt += 1;
                    tracing::warn!(%error, attempt, "rewinding to the committed offsets failed; retrying");
                    tokio::time::sleep(REWIND_BACKOFF * attempt).await;
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    fn consumer(&self) -> Result<Arc<BaseConsumer<ConsumerState>>> {
        self.consumer.clone().ok_or(Error::Closed)
    }

    /// Moves up to `max` buffered records whose partition is still ours, under the same
    /// assignment, into `out`; returns how many. After a rebalance, what was polled from a
    /// partition another member now owns is that member's to hand out, and what was polled
    /// before a partition was lost and handed back is replaced by what librdkafka fetches again
    /// from the group's committed offset: both are dropped here. One lock for the whole move,
    /// and one look-up per run of records of one partition.
    fn take_buffered(&mut self, out: &mut Vec<Delivery>, max: usize) -> usize {
        // Decided under the lock, moved after it: the poll thread takes the lock too.
        let mut runs: Vec<(usize, Option<(TopicPartition, u64)>)> = Vec::new();
        {
            let mut state = self.state.lock();
            let (mut index, mut room) = (0, max);
            while room > 0 && index < self.buffered.len() {
                let (first, epoch) = &self.buffered[index];
                let run = self
                    .buffered
                    .range(index..)
                    .take(room)
                    .take_while(|(delivery, e)| {
                        e == epoch && batch::same_partition(delivery, first)
                    })
                    .count();
                let partition = batch::partition_of(first);
                if let Some(pending) = state.pending.get_mut(&partition) {
                    *pending = pending.saturating_sub(run as u64);
                }
                let current = state.epochs.get(&partition).copied().unwrap_or_default();
                let kept = state.partitions.contains(&partition) && current == *epoch;
                if kept {
                    state.first_polled.remove(&partition);
                    room -= run;
                }
                runs.push((run, kept.then_some((partition, *epoch))));
                index += run;
            }
        }
        let mut added = 0;
        for (run, kept) in runs {
            let records = self.buffered.drain(..run);
            let Some((partition, epoch)) = kept else {
                drop(records);
                continue;
            };
            out.extend(records.map(|(delivery, _)| delivery));
            let next = out.last().map_or(0, |delivery| delivery.offset + 1);
            self.handed_out_epochs.insert(partition.clone(), epoch);
            self.handed_out.insert(partition, next);
            added += run;
        }
        added
    }

    /// Takes what the poll thread sent into the buffer; `false` once it sent an error (kept
    /// for after the buffer) or stopped.
    fn take_polled(&mut self, polled: Option<Polled>) -> bool {
        match polled {
            Some(Ok(records)) => {
                self.buffered.extend(records);
                true
            }
            Some(Err(error)) => {
                self.ended = Some(error);
                false
            }
            None => false,
        }
    }
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Closing a librdkafka consumer leaves its group, a network round trip: do it off the
        // async runtime's threads.
        if let Some(consumer) = self.consumer.take() {
            let _detached = std::thread::Builder::new()
                .name("kafka-consumer-close".into())
                .spawn(move || drop(consumer));
        }
    }
}

/// Seeks every partition held to its offset in `committed` (or where a consumer without one
/// starts), bumping each one's epoch so what was polled before is dropped, and reports them
/// all revoked and assigned again. Returns the partitions, and the last seek's error if any.
fn seek_committed(
    consumer: &BaseConsumer<ConsumerState>,
    state: &ConsumerState,
    rewinds: &AtomicU64,
    gate: &PollGate,
    committed: &TopicPartitionList,
    start: StartFrom,
    timeout: Duration,
) -> (Vec<TopicPartition>, Option<Error>) {
    let _between_polls = gate.rewind();
    let mut state = state.lock();
    // Before the seeks: a record the poll thread polls from here on gets its epoch looked up
    // again, after the epochs below are bumped.
    rewinds.fetch_add(1, Ordering::SeqCst);
    let held: Vec<TopicPartition> = state.partitions.iter().cloned().collect();
    let mut failed = None;
    let mut sought = Vec::with_capacity(held.len());
    for partition in &held {
        let Ok(number) = i32::try_from(partition.partition) else {
            continue;
        };
        let offset = committed
            .find_partition(&partition.topic, number)
            .map(|element| element.offset())
            .filter(|offset| matches!(offset, Offset::Offset(_)))
            .unwrap_or(match start {
                StartFrom::Earliest => Offset::Beginning,
                StartFrom::Latest => Offset::End,
            });
        if let Err(error) = consumer.seek(&partition.topic, number, offset, timeout) {
            failed = Some(bus_error(error, Some(&partition.topic)));
        }
        sought.push(format!("{}[{number}]@{offset:?}", partition.topic));
        *state.epochs.entry(partition.clone()).or_default() += 1;
        state.first_polled.remove(partition);
        state.idle_position.remove(partition);
    }
    tracing::info!(
        positions = %sought.join(" "),
        failed = failed.is_some(),
        "rewound to the group's committed offsets"
    );
    if !held.is_empty() {
        state.changes.push(AssignmentChange::Revoked(held.clone()));
        state.changes.push(AssignmentChange::Assigned(held.clone()));
    }
    (held, failed)
}

/// Keeps a rewind's seeks out from between a poll and the epoch lookup of what it returned.
///
/// Without it, a record polled just before a rewind, and tagged just after it, took the new
/// epoch: handed out ahead of the records the seek fetched again from before it, it moved a
/// count's input position past them, and they were then skipped as already counted (the fault
/// suite's thawed member lost a station's entries so). The poll thread holds the gate across
/// the polls of a batch and their lookups (and its look at the positions when idle); a rewind
/// takes it for its seeks, and the poll thread stands aside while one waits.
#[derive(Debug, Default)]
struct PollGate {
    lock: Mutex<()>,
    rewinding: AtomicBool,
}

impl PollGate {
    /// For a batch's polls and the lookups of their records' epochs.
    fn poll(&self) -> std::sync::MutexGuard<'_, ()> {
        while self.rewinding.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// For a rewind's seeks: waits for the batch being polled (its first poll waits at most
    /// one poll's wait, the rest take what librdkafka has ready).
    fn rewind(&self) -> std::sync::MutexGuard<'_, ()> {
        self.rewinding.store(true, Ordering::Release);
        let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.rewinding.store(false, Ordering::Release);
        guard
    }
}

fn poll_loop(
    consumer: &BaseConsumer<ConsumerState>,
    state: &ConsumerState,
    sender: &mpsc::Sender<Polled>,
    stop: &AtomicBool,
    mut epochs: EpochCache,
    gate: &PollGate,
) {
    let mut topics = Topics::default();
    let mut records: Vec<Epoched> = Vec::with_capacity(batch::BATCH);
    while !stop.load(Ordering::Relaxed) {
        // The first record of a batch is waited for; the rest are what librdkafka has ready.
        let mut wait = POLL;
        let mut ended = None;
        // Held for the batch's polls and their lookups, released before the batch is sent:
        // once a batch rather than once a record, off the per-record path.
        let polling = gate.poll();
        while records.len() < batch::BATCH {
            let Some(polled) = consumer.poll(wait) else {
                break;
            };
            wait = Duration::ZERO;
            match polled {
                Ok(message) => {
                    let topic = topics.get(message.topic());
                    let Some(delivery) = batch::delivery(&message, topic) else {
                        continue;
                    };
                    let epoch = epochs.epoch(state, &delivery);
                    records.push((delivery, epoch));
                }
                Err(KafkaError::PartitionEOF(_)) => {}
                Err(KafkaError::MessageConsumption(
                    rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition,
                )) => {
                    // A subscribed topic its producer has not created yet: librdkafka picks it
                    // up once it exists. (The client's context logs which one, once per topic.)
                    tracing::debug!("a subscribed topic does not exist yet; waiting for it");
                }
                Err(error) => {
                    // Transport errors and the like are retried by librdkafka itself; only a
                    // fatal error ends the consumer.
                    let fatal = matches!(error, KafkaError::MessageConsumptionFatal(_));
                    if fatal {
                        tracing::warn!(%error, fatal, "consuming from Kafka");
                        ended = Some(backend(error));
                        break;
                    }
                    // Every poll says it while the brokers are down: its repeats are held back
                    // like librdkafka's own lines.
                    if let Some(held_back) =
                        crate::log_limit::admit(&format!("consuming from Kafka: {error}"))
                    {
                        tracing::warn!(%error, fatal, held_back, "consuming from Kafka");
                    }
                }
            }
        }
        if records.is_empty() && ended.is_none() {
            if wait == POLL {
                note_idle_positions(consumer, state);
            }
            continue;
        }
        drop(polling);
        if !records.is_empty() {
            batch::note_polled(state, &records);
            let full = std::mem::replace(&mut records, Vec::with_capacity(batch::BATCH));
            if !send(sender, Ok(full), stop) {
                return;
            }
        }
        if let Some(error) = ended {
            send(sender, Err(error), stop);
            return;
        }
    }
}

/// A partition's low and high watermarks, asked again while its leader is still being elected
/// (a topic just created, a broker just restarted), or while this client's metadata does not
/// know the partition yet (a topic just created on a cluster: the broker asked may learn of it
/// after the controller said it was made), or while the broker asked has just gone away (its
/// handle destroyed, its connection refused: a node stopped) and the metadata has not yet moved
/// the partition's leadership to another.
pub(crate) fn fetch_watermarks<C: rdkafka::consumer::ConsumerContext>(
    client: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
    timeout: Duration,
) -> std::result::Result<(i64, i64), KafkaError> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match client.fetch_watermarks(topic, partition, timeout) {
            Err(error)
                if std::time::Instant::now() < deadline
                    && matches!(
                        error.rdkafka_error_code(),
                        Some(
                            RDKafkaErrorCode::NotLeaderForPartition
                                | RDKafkaErrorCode::LeaderNotAvailable
                                | RDKafkaErrorCode::UnknownTopicOrPartition
                                | RDKafkaErrorCode::UnknownPartition
                                | RDKafkaErrorCode::UnknownTopic
                                | RDKafkaErrorCode::DestroyBroker
                                | RDKafkaErrorCode::BrokerTransportFailure
                                // A partition's new leader, just elected, before its high
                                // watermark caught up with the followers' (a broker lost).
                                | RDKafkaErrorCode::OffsetNotAvailable
                                | RDKafkaErrorCode::UnknownLeaderEpoch
                                | RDKafkaErrorCode::FencedLeaderEpoch
                                | RDKafkaErrorCode::NotCoordinator
                                | RDKafkaErrorCode::RequestTimedOut
                        )
                    ) =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            outcome => return outcome,
        }
    }
}

/// Notes librdkafka's position of each partition with nothing pending, while nothing is being
/// polled: this thread is the only one that polls, so no record can be between librdkafka and
/// the channel now, and the position is exactly where the partition's reader stands.
fn note_idle_positions(consumer: &BaseConsumer<ConsumerState>, state: &ConsumerState) {
    let Ok(positions) = consumer.position() else {
        return;
    };
    let mut state = state.lock();
    for element in positions.elements() {
        let (Offset::Offset(offset), Ok(partition)) =
            (element.offset(), u32::try_from(element.partition()))
        else {
            continue;
        };
        let key = TopicPartition {
            topic: Arc::from(element.topic()),
            partition,
        };
        let idle = state.pending.get(&key).copied().unwrap_or_default() == 0;
        if idle && state.partitions.contains(&key) {
            state.idle_position.insert(key, offset.max(0) as u64);
        }
    }
}

/// Hands a record to the async side, waiting while the channel is full but not past a stop.
fn send(sender: &mpsc::Sender<Polled>, mut polled: Polled, stop: &AtomicBool) -> bool {
    loop {
        match sender.try_send(polled) {
            Ok(()) => return true,
            Err(mpsc::error::TrySendError::Closed(_)) => return false,
            Err(mpsc::error::TrySendError::Full(back)) => {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                polled = back;
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

#[async_trait]
impl Consumer for KafkaConsumer {
    async fn recv(&mut self) -> Option<Result<Delivery>> {
        let mut out = Vec::with_capacity(1);
        match self.recv_batch(&mut out, 1).await {
            Ok(_) => out.pop().map(Ok),
            Err(error) => Some(Err(error)),
        }
    }

    async fn recv_batch(&mut self, out: &mut Vec<Delivery>, max: usize) -> Result<usize> {
        if max == 0 {
            return Ok(0);
        }
        self.finish_pending_rewind().await?;
        let mut added = self.take_buffered(out, max);
        // Waits only while nothing was added; then takes what is in the channel already.
        while added < max {
            let open = if added == 0 {
                if let Some(error) = self.ended.take() {
                    return Err(error);
                }
                let polled = self.records.recv().await;
                self.take_polled(polled)
            } else {
                match self.records.try_recv() {
                    Ok(polled) => self.take_polled(Some(polled)),
                    Err(_) => break,
                }
            };
            added += self.take_buffered(out, max - added);
            if !open && self.buffered.is_empty() {
                break;
            }
        }
        if added == 0 {
            if let Some(error) = self.ended.take() {
                return Err(error);
            }
        }
        Ok(added)
    }

    async fn commit(&mut self, positions: &[RecordPosition]) -> Result<()> {
        if !self.commits {
            return Err(Error::NotSupported {
                operation: "commit without a consumer group",
                backend: crate::error::BACKEND,
            });
        }
        // A partition handed to another member is that member's to commit now; committing an
        // old offset over its progress would only cause replays.
        let assigned = self.state.lock().partitions.clone();
        let mut list = TopicPartitionList::new();
        for position in positions {
            let partition = TopicPartition {
                topic: Arc::clone(&position.topic),
                partition: position.partition,
            };
            if !assigned.contains(&partition) {
                continue;
            }
            let (Ok(number), Ok(offset)) = (
                i32::try_from(position.partition),
                i64::try_from(position.offset),
            ) else {
                return Err(Error::InvalidRequest {
                    message: format!("position out of Kafka's range: {position:?}"),
                });
            };
            list.add_partition_offset(&position.topic, number, Offset::Offset(offset))
                .map_err(|error| bus_error(error, Some(&position.topic)))?;
        }
        if list.count() == 0 {
            return Ok(());
        }
        let consumer = self.consumer()?;
        tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync))
            .await
            .map_err(backend)?
            .map_err(|error| bus_error(error, None))
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.state.lock().partitions.iter().cloned().collect()
    }

    fn assignment_changes(&mut self) -> Vec<AssignmentChange> {
        std::mem::take(&mut self.state.lock().changes)
    }

    async fn publish_and_commit(
        &mut self,
        outputs: Vec<(String, Vec<Record>)>,
        positions: &[RecordPosition],
    ) -> Result<()> {
        let Some(transactions) = self.transactions.clone().filter(|_| self.commits) else {
            return Err(Error::NotSupported {
                operation:
                    "a transaction outside a consumer group, or with transit.transactions=false",
                backend: crate::error::BACKEND,
            });
        };
        let consumer = self.consumer()?;
        // Captured before the check below: a rebalance after it makes the broker refuse the
        // offsets (an old generation); one before it shows in the epochs.
        let metadata = consumer.group_metadata().ok_or_else(|| Error::Fenced {
            reason: "the consumer has no group metadata (not a member now)".into(),
        })?;
        let mut offsets = TopicPartitionList::new();
        let stale = {
            let state = self.state.lock();
            positions.iter().find_map(|position| {
                let partition = TopicPartition {
                    topic: Arc::clone(&position.topic),
                    partition: position.partition,
                };
                let now = state.epochs.get(&partition).copied();
                let held = state.partitions.contains(&partition)
                    && self.handed_out_epochs.get(&partition).copied() == now;
                (!held)
                    .then(|| format!("{}[{}] was reassigned", position.topic, position.partition))
            })
        };
        if let Some(reason) = stale {
            // The rebalance that reassigned the partition has reported itself already, but the
            // batch was processed after it: against the state just restored for a partition
            // handed back to this member, it moved that state past the committed offsets.
            // Rewound, the partitions held now are restored again and read from there.
            self.handed_out_epochs.clear();
            self.rewind_after_abort().await;
            return Err(Error::Fenced { reason });
        }
        for position in positions {
            let (Ok(number), Ok(offset)) = (
                i32::try_from(position.partition),
                i64::try_from(position.offset),
            ) else {
                return Err(Error::InvalidRequest {
                    message: format!("position out of Kafka's range: {position:?}"),
                });
            };
            offsets
                .add_partition_offset(&position.topic, number, Offset::Offset(offset))
                .map_err(|error| bus_error(error, Some(&position.topic)))?;
        }
        let outcome = tokio::task::spawn_blocking(move || {
            let mut producer = transactions.lock().unwrap_or_else(|e| e.into_inner());
            producer.run(outputs, offsets, metadata)
        })
        .await
        .map_err(backend)?;
        match outcome {
            Ok(()) => {
                self.handed_out_epochs.clear();
                Ok(())
            }
            // Replaced, or a transaction that could not go on: the group's rebalance, if one
            // comes, revokes and reassigns. A member that still holds its partitions (an
            // abortable error in a broker's restart says "fenced" too) would otherwise carry
            // on past the aborted batch with state that has it and a changelog that does not:
            // rewind either way, so whoever holds the partitions reads them from the committed
            // offsets against the committed state.
            Err(Aborted::Fenced(reason)) => {
                self.handed_out_epochs.clear();
                self.rewind_after_abort().await;
                Err(Error::Fenced { reason })
            }
            // Still the member: rewind to the committed offsets and report it, so the caller
            // restores its state and processes the batch again.
            Err(Aborted::Failed(error)) => {
                self.rewind_after_abort().await;
                Err(error)
            }
        }
    }

    async fn positions(&mut self) -> Result<Vec<PartitionPosition>> {
        let assigned: Vec<TopicPartition> = self.assignment();
        // Where each partition's reader stands, from what this side knows alone: nothing here
        // races with the poll thread (librdkafka's own position runs ahead of what was handed
        // out while records wait in the channel).
        let known: HashMap<TopicPartition, u64> = {
            let state = self.state.lock();
            assigned
                .iter()
                .filter_map(|partition| {
                    let pending = state.pending.get(partition).copied().unwrap_or_default();
                    let handed_out = self.handed_out.get(partition).copied();
                    let next = if pending > 0 {
                        handed_out.or_else(|| state.first_polled.get(partition).copied())
                    } else {
                        match (handed_out, state.idle_position.get(partition).copied()) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            (a, b) => a.or(b),
                        }
                    };
                    next.map(|next| (partition.clone(), next))
                })
                .collect()
        };
        let consumer = self.consumer()?;
        let (commits, start, timeout) = (self.commits, self.start, self.timeout);
        let watermarks = Arc::clone(&self.watermarks);
        tokio::task::spawn_blocking(move || {
            let from_list = |list: &Option<TopicPartitionList>, partition: &TopicPartition| {
                let list = list.as_ref()?;
                let element = list
                    .find_partition(&partition.topic, i32::try_from(partition.partition).ok()?)?;
                match element.offset() {
                    Offset::Offset(offset) => u64::try_from(offset).ok(),
                    _ => None,
                }
            };
            // Asked only when some partition has no better answer: it is a round trip to the
            // group coordinator.
            let mut committed: Option<Option<TopicPartitionList>> = None;
            let mut positions = Vec::with_capacity(assigned.len());
            for partition in assigned {
                let number = i32::try_from(partition.partition).map_err(backend)?;
                // Through the producer's connection: the consumer's own may be held by a
                // fetch waiting for new records, for up to `fetch.wait.max.ms` per call.
                let (low, high) = fetch_watermarks(&watermarks, &partition.topic, number, timeout)
                    .map_err(|error| bus_error(error, Some(&partition.topic)))?;
                let (low, high) = (low.max(0) as u64, high.max(0) as u64);
                let next_offset = known
                    .get(&partition)
                    .copied()
                    .or_else(|| {
                        if !commits {
                            return None;
                        }
                        let list =
                            committed.get_or_insert_with(|| consumer.committed(timeout).ok());
                        from_list(list, &partition)
                    })
                    .unwrap_or(match start {
                        StartFrom::Earliest => low,
                        StartFrom::Latest => high,
                    });
                positions.push(PartitionPosition {
                    topic: partition.topic,
                    partition: partition.partition,
                    next_offset,
                    end_offset: high,
                });
            }
            Ok(positions)
        })
        .await
        .map_err(backend)?
    }
}
