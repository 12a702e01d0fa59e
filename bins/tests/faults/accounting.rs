//! The accounting every scenario ends with (see the crate's documentation): exact counts
//! against the undisturbed run, and the count table watched live, as a `read_committed`
//! reader sees it, for a count that goes backwards.

use super::*;

/// What the watcher saw on the count table.
#[derive(Debug, Default)]
pub(crate) struct Watched {
    /// Per station and line: the last count seen and the offset of its record.
    pub(crate) last: HashMap<(u32, LineId), (u64, u64)>,
    /// Counts that went backwards (or did not decode).
    pub(crate) problems: Vec<String>,
    /// Count records seen per input partition they count (`source_partition`).
    pub(crate) by_partition: HashMap<u32, u64>,
    /// The sum of the last counts: the entries counted so far.
    pub(crate) sum: u64,
    /// The offsets of every count record read (committed ones only, as `read_committed`).
    pub(crate) offsets: BTreeSet<u64>,
}

impl Watched {
    /// Which counts stand below the simulation's, with the offset of their last record, and
    /// any count seen going backwards: what a table that never caught up is short of.
    pub(crate) fn short_of(&self, expected: &BTreeMap<(u32, LineId), u64>) -> String {
        let short: Vec<String> = expected
            .iter()
            .filter_map(|(key, &made)| {
                let (counted, offset) = self.last.get(key).copied().unwrap_or_default();
                (counted != made).then(|| {
                    format!(
                        "station {} on the {:?} line: {counted} of {made} (last at offset {offset})",
                        key.0, key.1
                    )
                })
            })
            .collect();
        format!(
            "{} count(s) off: [{}]; {} seen going backwards: [{}]",
            short.len(),
            short[..short.len().min(12)].join("; "),
            self.problems.len(),
            self.problems[..self.problems.len().min(6)].join("; ")
        )
    }
}

/// A reader following the count table from its start, checking that no count goes backwards.
pub(crate) struct CountWatch {
    pub(crate) state: Arc<Mutex<Watched>>,
    pub(crate) stop: CancellationToken,
    pub(crate) task: JoinHandle<()>,
}

impl CountWatch {
    pub(crate) fn start(bus: Arc<dyn EventBus>, codec: Arc<TopicCodec<TurnstileCount>>) -> Self {
        let state = Arc::new(Mutex::new(Watched::default()));
        let stop = CancellationToken::new();
        let task = tokio::spawn(watch_counts(bus, codec, Arc::clone(&state), stop.clone()));
        Self { state, stop, task }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Watched> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn sum(&self) -> u64 {
        self.lock().sum
    }

    pub(crate) fn by_partition(&self) -> HashMap<u32, u64> {
        self.lock().by_partition.clone()
    }

    /// Whether the record at `offset` of the count table was read (committed), once the
    /// watcher read past it: `None` while it has not.
    pub(crate) fn committed(&self, offset: u64) -> Option<bool> {
        let state = self.lock();
        let past = state.offsets.range(offset..).next().is_some();
        past.then(|| state.offsets.contains(&offset))
    }

    /// Stops watching; returns what went wrong, if anything.
    pub(crate) async fn finish(self) -> Vec<String> {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.problems.clone()
    }
}

pub(crate) async fn watch_counts(
    bus: Arc<dyn EventBus>,
    codec: Arc<TopicCodec<TurnstileCount>>,
    state: Arc<Mutex<Watched>>,
    stop: CancellationToken,
) {
    let topic = codec.topic().to_string();
    let mut consumer = match bus
        .subscribe(SubscribeOptions::topics([topic.clone()]))
        .await
    {
        Ok(consumer) => consumer,
        Err(error) => {
            let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
            state.problems.push(format!(
                "the watcher could not subscribe to {topic}: {error:?}"
            ));
            return;
        }
    };
    let mut batch: Vec<Delivery> = Vec::new();
    loop {
        batch.clear();
        let received = tokio::select! {
            () = stop.cancelled() => return,
            received = consumer.recv_batch(&mut batch, 4096) => received,
        };
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        match received {
            Ok(0) => return,
            Ok(_) => {}
            Err(error) => {
                state
                    .problems
                    .push(format!("the watcher's reader of {topic} failed: {error:?}"));
                return;
            }
        }
        for delivery in &batch {
            let count = match codec.decode_value_cached(delivery) {
                Ok(count) => count,
                Err(error) => {
                    state.problems.push(format!(
                        "{topic}[{}]@{} does not decode as a count: {error}",
                        delivery.partition, delivery.offset
                    ));
                    continue;
                }
            };
            let key = (count.station_id.0, count.line);
            state.offsets.insert(delivery.offset);
            *state
                .by_partition
                .entry(count.source_partition)
                .or_default() += 1;
            let before = state.last.insert(key, (count.entries, delivery.offset));
            let previous = before.map_or(0, |(entries, _)| entries);
            state.sum = state.sum - previous + count.entries;
            if let Some((entries, offset)) = before {
                if count.entries < entries {
                    state.problems.push(format!(
                        "the count of station {} on the {:?} line went backwards: {entries} at \
                         offset {offset}, then {} at offset {} (source {}@{})",
                        key.0,
                        key.1,
                        count.entries,
                        delivery.offset,
                        count.source_partition,
                        count.source_offset
                    ));
                }
            }
        }
    }
}

impl Run {
    /// Every running member's thread stacks, written beside its log: where a member that
    /// stopped counting waits. Says where they went.
    pub(crate) async fn dump_member_stacks(&self) -> String {
        let mut said = Vec::with_capacity(self.members.len());
        for member in &self.members {
            said.push(match member.dump_stacks().await {
                Ok(path) => format!("{}'s thread stacks in {}", member.label(), path.display()),
                Err(why) => why,
            });
        }
        said.join("; ")
    }

    /// The accounting every scenario ends with (see the module's documentation), then every
    /// process stopped with Ctrl+C.
    pub(crate) async fn finish(mut self) {
        let expected = Arc::clone(&self.expected);
        // 1. The producer finishes by itself at the end time.
        let limit = self.settings.plan.producing() * 3 + CATCH_UP;
        let status = self.producer.wait_exit(limit).await;
        assert!(
            status.success(),
            "transit produce failed ({status}); its last lines:\n{}",
            self.producer.last_lines(15)
        );
        let summary = self
            .producer
            .lines_with(&["producer stopped; everything published is flushed"])
            .pop()
            .unwrap_or_else(|| {
                panic!(
                    "the producer's log has no summary line; its last lines:\n{}",
                    self.producer.last_lines(10)
                )
            });
        let reported: u64 = field(&summary, "published")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no published=N in {summary:?}"));
        self.phase(&format!(
            "producer finished: it reports {reported} records published"
        ));

        // 2. The counter catches up: the live reader sees every entry counted.
        let deadline = Instant::now() + CATCH_UP;
        while self.watch().sum() != expected.entries {
            self.assert_running();
            assert!(
                self.watch().sum() < expected.entries,
                "the count table counts {} entries, more than the {} made",
                self.watch().sum(),
                expected.entries
            );
            if Instant::now() >= deadline {
                let stacks = self.dump_member_stacks().await;
                panic!(
                    "the count table reached {} of {} entries within {CATCH_UP:?}; {}; {stacks}",
                    self.watch().sum(),
                    expected.entries,
                    self.watch().lock().short_of(&expected.per_key)
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.phase("count table caught up");

        // 3. Every event on its topic exactly once, and as many as the producer reports.
        let entries_topic = self.settings.topics.turnstile_entries();
        let (entries, entry_ends) = self.end_offsets(&entries_topic).await;
        assert_eq!(
            entry_ends.len() as u32,
            PARTITIONS,
            "partitions of {entries_topic}"
        );
        assert_eq!(
            entries, expected.entries,
            "turnstile entries on {entries_topic} (end offsets {entry_ends:?}): the simulation \
             made {}; more is a duplicate, fewer a loss",
            expected.entries
        );
        let mut total = entries;
        for (index, line) in cta::LINES.into_iter().enumerate() {
            let topic = self.settings.topics.arrivals(line);
            let (arrivals, _) = self.end_offsets(&topic).await;
            assert_eq!(arrivals, expected.arrivals[index], "arrivals on {topic}");
            total += arrivals;
        }
        let (weather, _) = self.end_offsets(&self.settings.topics.weather()).await;
        assert_eq!(weather, expected.weather, "weather readings");
        total += weather;
        let vehicle_topic = self.settings.topics.vehicle_arrivals();
        let (vehicle_arrivals, _) = self.end_offsets(&vehicle_topic).await;
        assert_eq!(
            vehicle_arrivals,
            expected.vehicle_arrivals.len() as u64,
            "vehicle arrivals on {vehicle_topic}"
        );
        total += vehicle_arrivals;
        assert_eq!(
            total, reported,
            "records on the simulation's topics against what the producer reports published"
        );

        // 4. The count table against the entries counted straight from their topic.
        let entries_codec: TopicCodec<TurnstileEvent> =
            TopicCodec::register(Arc::clone(&self.registry_client), entries_topic.clone())
                .await
                .expect("the entries' codec");
        let mut counted: BTreeMap<(u32, LineId), u64> = BTreeMap::new();
        let mut undecodable = 0u64;
        let read = read_topic(
            self.bus.as_ref(),
            &entries_topic,
            |delivery| match entries_codec.decode_value_cached(&delivery) {
                Ok(entry) => *counted.entry((entry.station_id.0, entry.line)).or_default() += 1,
                Err(_) => undecodable += 1,
            },
        )
        .await
        .expect("reading the entries topic");
        assert_eq!((read, undecodable), (entries, 0), "entries read back");
        assert!(
            counted == expected.per_key,
            "the entries on the topic per station and line are not the simulation's: {}",
            map_diff(&counted, &expected.per_key)
        );
        let table = read_table(self.bus.as_ref(), &self.settings.topics.turnstile_counts())
            .await
            .expect("reading the count table");
        let mut counts: BTreeMap<(u32, LineId), u64> = BTreeMap::new();
        for delivery in &table {
            let count = self
                .counts
                .decode_value_cached(delivery)
                .unwrap_or_else(|e| panic!("a count record does not decode: {e}"));
            let previous = counts.insert((count.station_id.0, count.line), count.entries);
            assert!(previous.is_none(), "two keys for {count:?}");
        }
        assert!(
            counts == counted,
            "the count table is not the entries counted from their topic: {}",
            map_diff(&counts, &counted)
        );
        assert_eq!(
            counts.values().sum::<u64>(),
            entries,
            "sum of the count table"
        );
        self.phase(&format!(
            "{entries} entries published, counted once each: {} stations and lines on the \
             count table",
            counts.len()
        ));

        // 5. The predictor and the scorer: every arrival and prediction applied exactly once.
        self.account_predictions().await;

        // 6. The station table: every station once; the dead letters: the rows on no line.
        let stations_codec: TopicCodec<StationEvent> = TopicCodec::register(
            Arc::clone(&self.registry_client),
            self.settings.topics.stations(),
        )
        .await
        .expect("the station table's codec");
        let mut records: Vec<StationEvent> = Vec::new();
        read_topic(
            self.bus.as_ref(),
            &self.settings.topics.stations(),
            |delivery| {
                records.push(
                    stations_codec
                        .decode_value_cached(&delivery)
                        .expect("a station record decodes"),
                );
            },
        )
        .await
        .expect("reading the station table");
        let mut stations: BTreeMap<(u32, LineId), Vec<String>> = BTreeMap::new();
        for station in &records {
            stations
                .entry((station.station_id.0, station.line))
                .or_default()
                .push(station.station_name.to_string());
        }
        let twice: Vec<_> = stations
            .iter()
            .filter(|(_, names)| names.len() > 1)
            .collect();
        assert!(
            twice.is_empty(),
            "stations on the table more than once: {twice:?}"
        );
        let names: BTreeMap<(u32, LineId), String> = stations
            .into_iter()
            .map(|(key, mut names)| (key, names.remove(0)))
            .collect();
        assert!(
            names == expected.stations,
            "the station table is not the network's stations: {}",
            map_diff(&names, &expected.stations)
        );
        let mut dead_letters = 0u64;
        read_topic(
            self.bus.as_ref(),
            &self.settings.topics.dead_letter(),
            |_| {
                dead_letters += 1;
            },
        )
        .await
        .expect("reading the dead-letter topic");
        assert_eq!(
            dead_letters, expected.dead_letters,
            "dead letters: the raw rows on none or several of the lines, once each"
        );

        // 7. The dashboard shows the undisturbed board: first everything but where the trains
        // stand (what the faults could break), then the trains too.
        let stations = expected.stations.len() as u64;
        let deadline = Instant::now() + CATCH_UP;
        loop {
            let board = self.board().await;
            if without_trains(&board) == without_trains(&expected.board) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the dashboard's board is not the undisturbed run's within {CATCH_UP:?} \
                 (complete: {}):{}",
                complete(&board, &expected.last_tick, expected.entries, stations),
                board_diff(&board, &expected.board)
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        self.phase("the dashboard shows the undisturbed run's stations, counts, weather and time");
        // The rest of the arrivals of the last tick may still be on their way.
        let deadline = Instant::now() + TRAINS_SETTLE;
        let settled = without_next_trains(&expected.board);
        let mut board = self.board().await;
        while without_next_trains(&board) != settled && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            board = self.board().await;
        }
        assert!(
            without_next_trains(&board) == settled,
            "the dashboard shows every station, count, the weather and the time of the \
             undisturbed run, but not its trains: its read model applies a train's arrivals in \
             the order it reads the arrival topics' partitions (arrivals are keyed by station, \
             so one train's are spread over partitions), not in the order they happened, and a \
             reader that fell behind (a restart, a rebuild) puts trains on platforms they left:{}",
            board_diff(&board, &expected.board)
        );
        // The next trains come from the predictions (not compared: see
        // `without_next_trains`), on every line.
        let unpredicted = lines_without_next_trains(&board);
        assert!(
            unpredicted.is_empty(),
            "no platform of {unpredicted:?} names the next train due"
        );
        self.phase("... and its trains (the next trains due, from the predictions, on every line)");

        // 8. No count ever went backwards.
        let problems = match self.watch.take() {
            Some(watch) => watch.finish().await,
            None => Vec::new(),
        };
        assert!(
            problems.is_empty(),
            "the count table as a read_committed reader saw it live:\n{}",
            problems.join("\n")
        );

        // 9. No password on the dashboard's metrics.
        let secrets = self.secrets();
        let metrics = request(self.settings.dashboard_address, "GET", "/metrics", None)
            .await
            .unwrap_or_else(|e| panic!("GET /metrics: {e}"));
        for (what, secret) in &secrets {
            assert!(
                !metrics.body.contains(secret.as_str()),
                "the dashboard's /metrics shows {what}"
            );
        }

        // 10. Everything stops cleanly, and no log shows a password.
        self.assert_running();
        let mut stopping: Vec<&mut Proc> = self.members.iter_mut().collect();
        stopping.push(&mut self.dashboard);
        for proc in &mut stopping {
            proc.signal("INT");
        }
        for proc in stopping {
            let status = proc.wait_exit(STOP).await;
            assert!(
                status.success(),
                "{} exited with {status} after Ctrl+C; its last lines:\n{}",
                proc.label(),
                proc.last_lines(12)
            );
        }
        self.registry.interrupt(STOP).await;
        self.phase("every process stopped cleanly");
        self.launcher.logs().assert_no_secret(&secrets);
        self.phase(&format!(
            "no log shows a password ({} looked for)",
            secrets.len()
        ));
        assert!(
            self.findings.is_empty(),
            "the accounting holds, but:\n- {}",
            self.findings.join("\n- ")
        );
    }
}

impl Run {
    /// The passwords no log or page may show, each with what it is: the Kafka client's (from
    /// the test broker's properties file, if it has one) and the registry users'.
    pub(crate) fn secrets(&self) -> Vec<(String, String)> {
        let mut secrets = transit_testkit::kafka::secrets();
        for password in self.settings.services.passwords() {
            secrets.push((
                "a registry user's password".to_string(),
                password.to_string(),
            ));
        }
        secrets
    }
}

/// The keys whose values differ between two maps, for a failure message.
pub(crate) fn map_diff<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
    shown: &BTreeMap<K, V>,
    expected: &BTreeMap<K, V>,
) -> String {
    let mut out = Vec::new();
    for (key, value) in shown {
        match expected.get(key) {
            Some(want) if want == value => {}
            Some(want) => out.push(format!("{key:?}: {value:?}, expected {want:?}")),
            None => out.push(format!("{key:?}: {value:?}, not expected")),
        }
    }
    for (key, want) in expected {
        if !shown.contains_key(key) {
            out.push(format!("{key:?}: missing, expected {want:?}"));
        }
    }
    let more = out.len().saturating_sub(10);
    out.truncate(10);
    if more > 0 {
        out.push(format!("... and {more} more"));
    }
    out.join("; ")
}
