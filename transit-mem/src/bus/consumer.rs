//! A consumer of the in-memory bus: its assignment, its positions, and waiting for records.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;

use async_trait::async_trait;
use regex::Regex;
use tokio::sync::Notify;
use transit_core::bus::{
    AssignmentChange, Consumer, Delivery, Error, PartitionPosition, Record, RecordPosition, Result,
    StartFrom, TopicPartition, TopicSelector,
};

use super::{Shared, State, BACKEND};

/// What a look for records found.
enum Taken {
    /// This many records.
    Some(usize),
    /// None, and the bus is closed.
    Closed,
    /// None yet: these topics' appends (and any change of the bus) are worth waking for.
    Watch(Vec<Arc<Notify>>),
}

/// Records `recv` takes at a time into its own buffer.
const RECV_BUFFER: usize = 256;

/// Which topics a consumer reads.
#[derive(Debug)]
pub(crate) enum Selector {
    Names(HashSet<String>),
    Pattern(Regex),
}

impl Selector {
    pub(crate) fn new(selector: &TopicSelector) -> Result<Self> {
        match selector {
            TopicSelector::Names(names) => Ok(Self::Names(names.iter().cloned().collect())),
            TopicSelector::Pattern(pattern) => Regex::new(&format!("^(?:{pattern})$"))
                .map(Self::Pattern)
                .map_err(|error| Error::InvalidRequest {
                    message: format!("topic pattern {pattern:?}: {error}"),
                }),
        }
    }

    fn matches(&self, topic: &str) -> bool {
        match self {
            Self::Names(names) => names.contains(topic),
            Self::Pattern(regex) => regex.is_match(topic),
        }
    }
}

/// A partition this consumer reads, and the next offset it will read there.
#[derive(Debug)]
struct Assigned {
    topic: Arc<str>,
    partition: u32,
    next: u64,
}

#[derive(Debug)]
pub(crate) struct MemConsumer {
    shared: Arc<Shared>,
    selector: Selector,
    group: Option<String>,
    member: Option<u64>,
    /// This consumer's id among the bus's readers (see [`MemConsumer::report_position`]).
    reader: u64,
    start: StartFrom,
    assigned: Vec<Assigned>,
    /// The (topics version, group generation) the assignment was computed for.
    computed_for: Option<(u64, u64)>,
    /// Where the next fetch starts, so no partition is starved by a busier one.
    cursor: usize,
    buffer: VecDeque<Delivery>,
    /// What changed in the assignment since [`Consumer::assignment_changes`] last asked.
    changes: Vec<AssignmentChange>,
    /// The group generation under which records handed out since the last transaction were
    /// fetched: a transaction from an older generation than the group's is a stale member's.
    fetched_in: Option<u64>,
}

impl MemConsumer {
    pub(crate) fn new(
        shared: Arc<Shared>,
        selector: Selector,
        group: Option<String>,
        member: Option<u64>,
        reader: u64,
        start: StartFrom,
    ) -> Self {
        Self {
            shared,
            selector,
            group,
            member,
            reader,
            start,
            assigned: Vec::new(),
            computed_for: None,
            cursor: 0,
            buffer: VecDeque::new(),
            changes: Vec::new(),
            fetched_in: None,
        }
    }

    /// The partitions this member should read now: every matching partition without a group;
    /// with one, every n-th of them by the member's place in the group.
    fn target_assignment(&self, state: &State) -> Vec<TopicPartition> {
        let all = state
            .topics
            .values()
            .filter(|topic| self.selector.matches(&topic.name))
            .flat_map(|topic| {
                (0..topic.partitions.len() as u32).map(|partition| TopicPartition {
                    topic: Arc::clone(&topic.name),
                    partition,
                })
            });
        match (&self.group, self.member) {
            (Some(group), Some(member)) => {
                let members = state
                    .groups
                    .get(group)
                    .map(|g| g.members.as_slice())
                    .unwrap_or_default();
                match members.iter().position(|&m| m == member) {
                    Some(index) => all
                        .enumerate()
                        .filter(|(i, _)| i % members.len() == index)
                        .map(|(_, tp)| tp)
                        .collect(),
                    None => Vec::new(),
                }
            }
            _ => all.collect(),
        }
    }

    fn generation(&self, state: &State) -> u64 {
        self.group
            .as_ref()
            .and_then(|group| state.groups.get(group))
            .map_or(0, |g| g.generation)
    }

    /// Recomputes the assignment when topics or group members changed since last time.
    ///
    /// A new group generation is an eager rebalance, as in Kafka's classic protocol: every
    /// partition held is revoked and the new share is assigned from the group's committed
    /// offsets, so a partition another member read in between resumes where the group left
    /// it. Records fetched ahead and not handed out are dropped with it. A new topic alone
    /// (a pattern subscription) only adds or removes partitions.
    pub(crate) fn refresh(&mut self, state: &State) {
        let now = (state.topics_version, self.generation(state));
        if self.computed_for == Some(now) {
            return;
        }
        let rebalanced = self.computed_for.map(|(_, generation)| generation) != Some(now.1);
        self.computed_for = Some(now);
        let mut previous: HashMap<(Arc<str>, u32), u64> = self
            .assigned
            .drain(..)
            .map(|a| ((a.topic, a.partition), a.next))
            .collect();
        if rebalanced && !previous.is_empty() {
            let mut revoked: Vec<TopicPartition> = previous
                .drain()
                .map(|((topic, partition), _)| TopicPartition { topic, partition })
                .collect();
            revoked.sort();
            self.buffer.clear();
            self.changes.push(AssignmentChange::Revoked(revoked));
        }
        let committed = self
            .group
            .as_ref()
            .and_then(|group| state.groups.get(group))
            .map(|g| &g.committed);
        let mut assigned = Vec::new();
        for tp in self.target_assignment(state) {
            let key = (Arc::clone(&tp.topic), tp.partition);
            let kept = previous.remove(&key);
            if kept.is_none() {
                assigned.push(tp.clone());
            }
            let next = kept
                .or_else(|| committed.and_then(|c| c.get(&key).copied()))
                .unwrap_or_else(|| {
                    let log = state
                        .topics
                        .get(&tp.topic)
                        .and_then(|t| t.partitions.get(tp.partition as usize));
                    match (self.start, log) {
                        (StartFrom::Earliest, Some(log)) => log.start_offset(),
                        (StartFrom::Latest, Some(log)) => log.end_offset(),
                        (_, None) => 0,
                    }
                });
            self.assigned.push(Assigned {
                // A copy of the name of its own: every delivery clones it, and a count shared
                // with the producer's (and other readers') clones would bounce between cores.
                topic: Arc::from(&*tp.topic),
                partition: tp.partition,
                next,
            });
        }
        if !previous.is_empty() {
            let mut revoked: Vec<TopicPartition> = previous
                .into_keys()
                .map(|(topic, partition)| TopicPartition { topic, partition })
                .collect();
            revoked.sort();
            self.buffer.retain(|d| {
                !revoked
                    .iter()
                    .any(|tp| tp.topic == d.topic && tp.partition == d.partition)
            });
            self.changes.push(AssignmentChange::Revoked(revoked));
        }
        if !assigned.is_empty() {
            self.changes.push(AssignmentChange::Assigned(assigned));
        }
        self.cursor = 0;
    }

    /// Puts the member back where its group committed: everything held is revoked and
    /// assigned again from the group's committed positions.
    fn rewind(&mut self, state: &mut State) {
        self.fetched_in = None;
        self.computed_for = None;
        self.refresh(state);
        self.report_position(state);
    }

    /// One try of [`Consumer::publish_and_commit`] under the bus's lock: `Ok(None)` when the
    /// records do not fit yet (nothing done; `outputs` left as they were), else the topics
    /// whose readers to wake.
    fn try_transaction(
        &mut self,
        group: &str,
        outputs: &mut Vec<(String, Vec<Record>)>,
        positions: &[RecordPosition],
    ) -> Result<Option<Vec<Arc<Notify>>>> {
        let shared = Arc::clone(&self.shared);
        let mut state = shared.lock();
        let current = state.groups.get(group).map(|g| g.generation);
        let member_of = state
            .groups
            .get(group)
            .is_some_and(|g| self.member.is_some_and(|m| g.members.contains(&m)));
        let seen = self
            .fetched_in
            .or(self.computed_for.map(|(_, generation)| generation));
        if !member_of || current != seen {
            self.rewind(&mut state);
            return Err(Error::Fenced {
                reason: format!(
                    "group {group} is at generation {} and this member saw {}",
                    current.unwrap_or_default(),
                    seen.unwrap_or_default()
                ),
            });
        }
        let checked = outputs
            .iter()
            .try_for_each(|(topic, records)| state.check_publish(topic, records))
            .and_then(|()| state.check_positions(positions));
        if let Err(error) = checked {
            // Nothing published or committed: rewound as a fenced member is, so the batch
            // is read again against state restored from the committed positions.
            self.rewind(&mut state);
            return Err(error);
        }
        if !outputs
            .iter()
            .all(|(topic, records)| state.room_for(topic, records))
        {
            return Ok(None);
        }
        let mut appended = Vec::new();
        for (topic, records) in std::mem::take(outputs) {
            state.append(&topic, records);
            appended.extend(state.appended(&topic));
        }
        let committed = &mut state.groups.entry(group.to_string()).or_default().committed;
        for position in positions {
            committed.insert(
                (Arc::clone(&position.topic), position.partition),
                position.offset,
            );
        }
        Ok(Some(appended))
    }

    /// Tells a bus that waits for readers ([`super::MemBus::wait_for_readers`]) where this
    /// consumer is now, and wakes the publishers waiting for readers if it moved.
    pub(crate) fn report_position(&self, state: &mut State) {
        if !state.wait_for_readers {
            return;
        }
        let positions: Vec<(Arc<str>, u32, u64)> = self
            .assigned
            .iter()
            .map(|a| (Arc::clone(&a.topic), a.partition, a.next))
            .collect();
        if state.readers.get(&self.reader) != Some(&positions) {
            state.readers.insert(self.reader, positions);
            self.shared.readers_moved.notify_waiters();
        }
    }

    /// Takes what is available, or says which topics to watch for more.
    fn take_or_watch(&mut self, shared: &Shared, out: &mut Vec<Delivery>, max: usize) -> Taken {
        let mut state = shared.lock();
        if state.closed {
            return Taken::Closed;
        }
        self.refresh(&state);
        let taken = self.fetch(&state, out, max);
        self.report_position(&mut state);
        if taken > 0 {
            let generation = self.generation(&state);
            self.fetched_in.get_or_insert(generation);
            return Taken::Some(taken);
        }
        let mut topics: Vec<Arc<Notify>> = Vec::new();
        for assigned in &self.assigned {
            if let Some(appended) = state.appended(&assigned.topic) {
                if !topics.iter().any(|t| Arc::ptr_eq(t, &appended)) {
                    topics.push(appended);
                }
            }
        }
        Taken::Watch(topics)
    }

    /// Takes up to `max` available records, visiting partitions round-robin.
    fn fetch(&mut self, state: &State, out: &mut Vec<Delivery>, max: usize) -> usize {
        let before = out.len();
        let count = self.assigned.len();
        for step in 0..count {
            let taken = out.len() - before;
            if taken >= max {
                break;
            }
            let index = (self.cursor + step) % count;
            let assigned = &mut self.assigned[index];
            if let Some(log) = state
                .topics
                .get(&assigned.topic)
                .and_then(|t| t.partitions.get(assigned.partition as usize))
            {
                assigned.next = log.read(
                    assigned.next,
                    max - taken,
                    &assigned.topic,
                    assigned.partition,
                    out,
                );
            }
        }
        if count > 0 {
            self.cursor = (self.cursor + 1) % count;
        }
        out.len() - before
    }
}

#[async_trait]
impl Consumer for MemConsumer {
    async fn recv(&mut self) -> Option<Result<Delivery>> {
        if self.buffer.is_empty() {
            let mut batch = Vec::with_capacity(RECV_BUFFER);
            match self.recv_batch(&mut batch, RECV_BUFFER).await {
                Ok(0) => return None,
                Ok(_) => self.buffer.extend(batch),
                Err(error) => return Some(Err(error)),
            }
        }
        self.buffer.pop_front().map(Ok)
    }

    async fn recv_batch(&mut self, out: &mut Vec<Delivery>, max: usize) -> Result<usize> {
        let max = max.max(1);
        let buffered = self.buffer.len().min(max);
        if buffered > 0 {
            out.extend(self.buffer.drain(..buffered));
            return Ok(buffered);
        }
        let shared = Arc::clone(&self.shared);
        loop {
            // Registered before looking, so a change between the look and the wait still
            // wakes us: any change of the bus, or records appended to a topic this consumer
            // reads (not to the others, which would wake every reader on every publish).
            let changed = shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let topics = match self.take_or_watch(&shared, out, max) {
                Taken::Some(taken) => return Ok(taken),
                Taken::Closed => return Ok(0),
                Taken::Watch(topics) => topics,
            };
            let mut appended: Vec<_> = topics.iter().map(|t| Box::pin(t.notified())).collect();
            for notified in &mut appended {
                notified.as_mut().enable();
            }
            // Looked again once the topics are watched: a publish in between is seen here.
            match self.take_or_watch(&shared, out, max) {
                Taken::Some(taken) => return Ok(taken),
                Taken::Closed => return Ok(0),
                Taken::Watch(_) => {}
            }
            std::future::poll_fn(|cx| {
                if changed.as_mut().poll(cx).is_ready()
                    || appended.iter_mut().any(|n| n.as_mut().poll(cx).is_ready())
                {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
        }
    }

    async fn commit(&mut self, positions: &[RecordPosition]) -> Result<()> {
        let Some(group) = &self.group else {
            return Err(Error::NotSupported {
                operation: "commit without a consumer group",
                backend: BACKEND,
            });
        };
        let mut state = self.shared.lock();
        if state.closed {
            return Err(Error::Closed);
        }
        state.check_positions(positions)?;
        let committed = &mut state.groups.entry(group.clone()).or_default().committed;
        for position in positions {
            committed.insert(
                (Arc::clone(&position.topic), position.partition),
                position.offset,
            );
        }
        drop(state);
        self.fetched_in = None;
        Ok(())
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        let state = self.shared.lock();
        self.target_assignment(&state)
    }

    /// Atomic under the bus's one lock: either every record is appended and every position
    /// committed, or nothing is. A member whose group moved to a generation it has not seen
    /// (someone joined or left since it fetched) is fenced, as Kafka's group coordinator fences
    /// a commit from an old generation, and rewound to the group's committed positions; so is
    /// a member whose step is refused for any other reason.
    ///
    /// On a bus that waits for readers ([`super::MemBus::wait_for_readers`]) the transaction
    /// waits, whole, until its records fit without retention trimming what a reader has not
    /// read, as a plain publish does; the checks are made again once it fits.
    async fn publish_and_commit(
        &mut self,
        outputs: Vec<(String, Vec<Record>)>,
        positions: &[RecordPosition],
    ) -> Result<()> {
        let Some(group) = self.group.clone() else {
            return Err(Error::NotSupported {
                operation: "a transaction without a consumer group",
                backend: BACKEND,
            });
        };
        let mut outputs = outputs;
        let shared = Arc::clone(&self.shared);
        let appended = shared
            .when_readers_allow(|| self.try_transaction(&group, &mut outputs, positions))
            .await?;
        self.fetched_in = None;
        for topic in appended {
            topic.notify_waiters();
        }
        Ok(())
    }

    fn assignment_changes(&mut self) -> Vec<AssignmentChange> {
        let shared = Arc::clone(&self.shared);
        let mut state = shared.lock();
        self.refresh(&state);
        self.report_position(&mut state);
        drop(state);
        std::mem::take(&mut self.changes)
    }

    async fn positions(&mut self) -> Result<Vec<PartitionPosition>> {
        let shared = Arc::clone(&self.shared);
        let state = shared.lock();
        if state.closed {
            return Err(Error::Closed);
        }
        self.refresh(&state);
        Ok(self
            .assigned
            .iter()
            .map(|assigned| {
                // Records already fetched into `recv`'s buffer have not been handed out yet.
                let buffered = self
                    .buffer
                    .iter()
                    .find(|d| d.partition == assigned.partition && d.topic == assigned.topic)
                    .map(|d| d.offset);
                let end = state
                    .topics
                    .get(&assigned.topic)
                    .and_then(|t| t.partitions.get(assigned.partition as usize))
                    .map_or(assigned.next, |log| log.end_offset());
                PartitionPosition {
                    topic: Arc::clone(&assigned.topic),
                    partition: assigned.partition,
                    next_offset: buffered.unwrap_or(assigned.next),
                    end_offset: end,
                }
            })
            .collect())
    }
}

impl Drop for MemConsumer {
    fn drop(&mut self) {
        // A consumer gone holds no publisher back.
        if self.shared.lock().readers.remove(&self.reader).is_some() {
            self.shared.readers_moved.notify_waiters();
        }
        let (Some(group), Some(member)) = (&self.group, self.member) else {
            return;
        };
        {
            let mut state = self.shared.lock();
            if let Some(group) = state.groups.get_mut(group) {
                group.members.retain(|&m| m != member);
                group.generation += 1;
            }
        }
        self.shared.changed.notify_waiters();
    }
}
