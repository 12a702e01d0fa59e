//! "Inside a batch", checked: a member frozen while its transaction is open, seen by a
//! `read_uncommitted` look at the count table, and what became of that transaction.

use super::*;

impl Run {
    /// Freezes member `index` (`SIGSTOP`) at a moment it is inside a transaction, and leaves
    /// it frozen. Each attempt waits for the producer's next entries on one of its partitions
    /// (the member takes them at once), lets a random few milliseconds pass, freezes it, and
    /// looks whether a count of one of its partitions is on the count table uncommitted and
    /// stays so (its transaction is open, and frozen with it); if not, it thaws it and tries
    /// again. Returns that count's position, to tell afterwards whether its transaction
    /// committed ([`Run::fate`]), and the attempts taken.
    pub(crate) async fn freeze_in_transaction(
        &mut self,
        index: usize,
        dice: &mut Dice,
        limit: Duration,
    ) -> (InFlight, u32) {
        let probe = Arc::new(TableProbe::new(
            &self.settings.topics.turnstile_counts(),
            Arc::clone(&self.counts),
        ));
        let mut entries = self
            .bus
            .subscribe(
                SubscribeOptions::topics([self.settings.topics.turnstile_entries()])
                    .starting_at(StartFrom::Latest),
            )
            .await
            .expect("reading the entries as they come");
        let mut batch = Vec::new();
        let deadline = Instant::now() + limit;
        let mut attempts = 0;
        loop {
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "{} was never caught inside a transaction in {attempts} attempts within \
                 {limit:?}",
                self.members[index].label()
            );
            let held = self.assignment(index).1;
            // What came while the last attempt looked is old news.
            while let Ok(Ok(read)) = tokio::time::timeout(
                Duration::from_millis(1),
                entries.recv_batch(&mut batch, 4096),
            )
            .await
            {
                batch.clear();
                if read == 0 {
                    break;
                }
            }
            batch.clear();
            let fresh = tokio::time::timeout(
                Duration::from_millis(500),
                entries.recv_batch(&mut batch, 4096),
            )
            .await;
            let mine =
                matches!(fresh, Ok(Ok(_))) && batch.iter().any(|d| held.contains(&d.partition));
            if !mine {
                continue;
            }
            tokio::time::sleep(dice.between(Duration::ZERO, Duration::from_millis(40))).await;
            attempts += 1;
            self.members[index].pause();
            let looking = Arc::clone(&probe);
            let found = tokio::task::spawn_blocking(move || looking.uncommitted_of(&held))
                .await
                .expect("the probe of the count table");
            if let Some(in_flight) = found {
                // Its commit may be on its way (sent before the freeze): then the table's
                // stable offset passes the record within moments. Still stuck, it is open.
                let settled = Instant::now() + Duration::from_millis(1500);
                let mut open = true;
                while open && Instant::now() < settled {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let looking = Arc::clone(&probe);
                    let stable = tokio::task::spawn_blocking(move || looking.stable_offset())
                        .await
                        .expect("the probe of the count table");
                    open = stable <= in_flight.offset;
                }
                if open {
                    return (in_flight, attempts);
                }
            }
            self.members[index].resume();
        }
    }

    /// Whether the transaction that wrote `in_flight` committed, once the count table's
    /// reader has read past it: a transaction cut short by a fault is aborted, and its
    /// record is never read.
    pub(crate) async fn fate(&self, in_flight: &InFlight) -> &'static str {
        let deadline = Instant::now() + RECOVERY;
        loop {
            match self.watch().committed(in_flight.offset) {
                Some(true) => return "its transaction had committed already",
                Some(false) => {
                    return "mid-transaction: its count record at that offset was aborted, \
                            never read"
                }
                None => {}
            }
            assert!(
                Instant::now() < deadline,
                "the count table's reader never got past offset {} within {RECOVERY:?} (the \
                 last it read: {:?})",
                in_flight.offset,
                self.watch().lock().offsets.last()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A count record seen on the table before its transaction ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InFlight {
    /// Its offset on the count table.
    pub(crate) offset: u64,
    /// The entries partition it counts.
    pub(crate) source_partition: u32,
}

/// Looks at a one-partition table as the broker holds it: its last stable offset (before
/// the first transaction still open) and its end, and the records between them, which only a
/// `read_uncommitted` reader sees (transit's own readers never do).
pub(crate) struct TableProbe {
    pub(crate) topic: String,
    pub(crate) codec: Arc<TopicCodec<TurnstileCount>>,
    pub(crate) committed: BaseConsumer,
    pub(crate) uncommitted: BaseConsumer,
}

impl TableProbe {
    pub(crate) fn new(topic: &str, codec: Arc<TopicCodec<TurnstileCount>>) -> Self {
        let client = |isolation: &str| -> BaseConsumer {
            rdkafka_config()
                .set("group.id", unique_name("faults-probe"))
                .set("isolation.level", isolation)
                .set("enable.auto.commit", "false")
                .set("enable.partition.eof", "false")
                .set("fetch.wait.max.ms", "10")
                .create()
                .expect("a probe of the count table")
        };
        Self {
            topic: topic.to_string(),
            codec,
            committed: client("read_committed"),
            uncommitted: client("read_uncommitted"),
        }
    }

    /// The table's last stable offset: before it, every transaction has ended. Blocking.
    pub(crate) fn stable_offset(&self) -> u64 {
        // With read_committed, the broker answers the last stable offset as the end.
        let (_, stable) = self
            .committed
            .fetch_watermarks(&self.topic, 0, Duration::from_secs(10))
            .expect("the count table's last stable offset");
        stable.max(0) as u64
    }

    /// A count of one of `partitions` that is on the table but not committed, if any.
    /// Blocking.
    pub(crate) fn uncommitted_of(&self, partitions: &BTreeSet<u32>) -> Option<InFlight> {
        let timeout = Duration::from_secs(10);
        let stable = self.stable_offset() as i64;
        let (_, end) = self
            .uncommitted
            .fetch_watermarks(&self.topic, 0, timeout)
            .expect("the count table's end");
        if stable >= end {
            return None;
        }
        let mut from = TopicPartitionList::new();
        from.add_partition_offset(&self.topic, 0, Offset::Offset(stable))
            .expect("a position on the count table");
        self.uncommitted
            .assign(&from)
            .expect("reading the count table");
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            let Some(polled) = self.uncommitted.poll(Duration::from_millis(100)) else {
                continue;
            };
            let message = polled.expect("reading the count table uncommitted");
            let delivery = Delivery {
                topic: Arc::from(message.topic()),
                partition: message.partition() as u32,
                offset: message.offset() as u64,
                key: message.key().map(|k| k.to_vec().into()),
                value: message.payload().map(|v| v.to_vec().into()),
                headers: Vec::new(),
                timestamp_ms: 0,
            };
            let count = self
                .codec
                .decode_value_cached(&delivery)
                .unwrap_or_else(|e| panic!("a count on the table does not decode: {e}"));
            if partitions.contains(&count.source_partition) {
                return Some(InFlight {
                    offset: delivery.offset,
                    source_partition: count.source_partition,
                });
            }
            if delivery.offset + 1 >= end as u64 {
                return None;
            }
        }
        None
    }
}
