//! The undisturbed run every scenario is compared with: what the simulation makes, and the
//! board an in-memory run of the same seed shows; and how two boards differ.

use super::*;

/// What an undisturbed run of [`SEED`] over [`HOURS`] publishes and shows.
#[derive(Debug)]
pub(crate) struct Expected {
    /// The last tick's time, as the board shows it.
    pub(crate) last_tick: String,
    /// Turnstile entries made.
    pub(crate) entries: u64,
    /// Arrivals made, per line (Blue, Red, Green).
    pub(crate) arrivals: [u64; 3],
    /// Weather readings made.
    pub(crate) weather: u64,
    /// The trains' calls, as the vehicle arrivals the producer publishes (named by CTA's
    /// static feed), in the order they were made.
    pub(crate) vehicle_arrivals: Vec<VehicleArrivalEvent>,
    /// Entries per station and line.
    pub(crate) per_key: BTreeMap<(u32, LineId), u64>,
    /// The stations of the three lines, by station and line: their names.
    pub(crate) stations: BTreeMap<(u32, LineId), String>,
    /// Raw station rows on none or several of the three lines: the dead letters.
    pub(crate) dead_letters: u64,
    /// The board of an in-memory run, version zeroed.
    pub(crate) board: StatusSnapshot,
}

impl Expected {
    pub(crate) fn records(&self) -> u64 {
        self.entries
            + self.arrivals.iter().sum::<u64>()
            + self.weather
            + self.vehicle_arrivals.len() as u64
    }
}

/// The undisturbed run every scenario is compared with: [`SEED`] over [`HOURS`].
pub(crate) fn undisturbed() -> FlatOutRun {
    FlatOutRun::new(SEED, None, i64::from(HOURS))
}

/// Computed once per test binary: every scenario compares against it.
pub(crate) async fn expected() -> Arc<Expected> {
    static EXPECTED: OnceLock<Arc<Expected>> = OnceLock::new();
    if let Some(expected) = EXPECTED.get() {
        return Arc::clone(expected);
    }
    let computed = Arc::new(compute_expected().await);
    Arc::clone(EXPECTED.get_or_init(|| computed))
}

pub(crate) async fn compute_expected() -> Expected {
    // The simulation stepped alone: every event it makes.
    let run = undisturbed();
    let mut twin = run.simulation();
    let end = run.until();
    let mut tick = TickEvents::default();
    let (mut entries, mut arrivals, mut weather) = (0u64, [0u64; 3], 0u64);
    let mut per_key: BTreeMap<(u32, LineId), u64> = BTreeMap::new();
    let names = CallNames::new(Sources::embedded().expect("CTA's static feed's sources"));
    let mut vehicle_arrivals = Vec::new();
    while twin.now() < end {
        twin.step(&mut tick);
        vehicle_arrivals.extend(tick.calls.iter().filter_map(|c| names.vehicle_arrival(c)));
        for arrival in &tick.arrivals {
            arrivals[cta::position(arrival.line).expect("a CTA line")] += 1;
        }
        for entry in &tick.turnstile_entries {
            entries += 1;
            *per_key.entry((entry.station_id.0, entry.line)).or_default() += 1;
        }
        weather += u64::from(tick.weather.is_some());
    }
    let last_tick = tick.time.to_string();
    let network = Network::embedded().expect("the embedded network");
    let stations: BTreeMap<(u32, LineId), String> = network
        .lines()
        .flat_map(|line| {
            line.stations()
                .iter()
                .map(move |s| ((s.id.0, line.id()), s.name.clone()))
        })
        .collect();
    let rows = embedded_station_rows().expect("the embedded station rows");
    let dead_letters = rows.iter().filter(|row| row.lines().count() != 1).count() as u64;

    // The same seed through the whole pipeline on the in-memory bus, kept whole, with one
    // partition per topic: the read model then applies every line's arrivals in the order
    // they happened, so the board is the same run after run. (With several partitions it
    // applies them in the order it reads the partitions, and a train's arrivals are keyed by
    // station: which platform shows a train then depends on how far behind the reader was.)
    let mem = transit_mem::MemBus::with_config(transit_mem::MemBusConfig {
        retention_records: u64::MAX,
        retention_bytes: u64::MAX,
    });
    let mem_topics = Topics::default();
    let running = run
        .clone()
        .on(mem_topics.clone())
        .partitions(1)
        .start(
            Arc::new(mem.clone()),
            Arc::new(transit_mem::MemRegistry::new()),
        )
        .await;
    let mut snapshots = running.snapshots();
    let station_count = stations.len() as u64;
    let at = last_tick.clone();
    wait_for_board(
        &mut snapshots,
        Duration::from_secs(180),
        "the in-memory board at the last tick",
        |s| complete(s, &at, entries, station_count),
    )
    .await;
    // Every count and station is in (counts only grow, so the total is reached only with
    // every station's last count); the last arrivals may still be on their way to the read
    // model. Once it has taken every arrival and reading, stopping it finishes the batch in
    // hand and publishes its last board.
    let read: Vec<String> = cta::LINES
        .into_iter()
        .map(|line| mem_topics.arrivals(line))
        .chain([mem_topics.weather()])
        .collect();
    let mut ends: BTreeMap<String, u64> = BTreeMap::new();
    for topic in &read {
        let mut consumer = mem
            .subscribe(SubscribeOptions::topics([topic.clone()]))
            .await
            .expect("reading the in-memory topics");
        let positions = consumer.positions().await.expect("in-memory positions");
        ends.insert(topic.clone(), positions.iter().map(|p| p.end_offset).sum());
    }
    let metrics = running.metrics();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let consumed = metrics.snapshot().consumed;
        let taken = |topic: &String| {
            consumed
                .get(&(
                    transit_core::status::CONSUMER.to_string(),
                    Arc::from(topic.as_str()),
                ))
                .copied()
                .unwrap_or_default()
        };
        if ends.iter().all(|(topic, &end)| taken(topic) >= end) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the in-memory read model did not take every record within 180 s: {:?} of {ends:?}",
            read.iter().map(|t| (t, taken(t))).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let report = running.stop().await.expect("the in-memory pipeline stops");
    mem.close();
    assert_eq!(
        report.status.dead_lettered, 0,
        "the in-memory read model refused records: {:?}",
        report.status
    );
    let mut board = (*snapshots.borrow()).as_ref().clone();
    board.version = 0;
    Expected {
        last_tick,
        entries,
        arrivals,
        weather,
        vehicle_arrivals,
        per_key,
        stations,
        dead_letters,
        board,
    }
}

/// Whether a board shows the last tick, every entry and station, and the weather.
pub(crate) fn complete(
    board: &StatusSnapshot,
    last_tick: &str,
    entries: u64,
    stations: u64,
) -> bool {
    board.simulated_time.as_deref() == Some(last_tick)
        && board.totals.entries == entries
        && board.totals.stations == stations
        && board.weather.is_some()
}

/// `board` without its trains and what follows from them (where they are, the next train at
/// each platform, headways): what the counts, stations, weather and clock show.
pub(crate) fn without_trains(board: &StatusSnapshot) -> StatusSnapshot {
    let mut board = board.clone();
    board.totals.trains = 0;
    board.totals.in_service = 0;
    board.totals.bunched = 0;
    board.totals.gapped = 0;
    for line in &mut board.lines {
        line.trains.clear();
        line.headways = Default::default();
        for station in &mut line.stations {
            station.train_a = None;
            station.train_b = None;
            station.next_a = None;
            station.next_b = None;
            station.headway_a = None;
            station.headway_b = None;
        }
    }
    board
}

/// `board` without the next train due at each platform: the board takes it from the
/// predictor's learnt predictions wherever there is one, and with several partitions those
/// read the other partitions as far as the predictor had got (`docs/predictions.md`, known
/// limits), so they are not a function of the input alone as the rest of the board is.
pub(crate) fn without_next_trains(board: &StatusSnapshot) -> StatusSnapshot {
    let mut board = board.clone();
    for line in &mut board.lines {
        for station in &mut line.stations {
            station.next_a = None;
            station.next_b = None;
        }
    }
    board
}

/// Lines of `board` on which no platform names the next train due.
pub(crate) fn lines_without_next_trains(board: &StatusSnapshot) -> Vec<String> {
    board
        .lines
        .iter()
        .filter(|line| {
            !line
                .stations
                .iter()
                .any(|station| station.next_a.is_some() || station.next_b.is_some())
        })
        .map(|line| line.line.to_string())
        .collect()
}

/// What differs between two boards, for a failure message.
pub(crate) fn board_diff(shown: &StatusSnapshot, expected: &StatusSnapshot) -> String {
    let mut out = String::new();
    if shown.simulated_time != expected.simulated_time {
        let _ = write!(
            out,
            "\n  time: {:?}, expected {:?}",
            shown.simulated_time, expected.simulated_time
        );
    }
    if shown.weather != expected.weather {
        let _ = write!(
            out,
            "\n  weather: {:?}, expected {:?}",
            shown.weather, expected.weather
        );
    }
    if shown.totals != expected.totals {
        let _ = write!(
            out,
            "\n  totals: {:?}, expected {:?}",
            shown.totals, expected.totals
        );
    }
    let mut differing = 0;
    for (line, want) in shown.lines.iter().zip(&expected.lines) {
        if line.stations.len() != want.stations.len() {
            let _ = write!(
                out,
                "\n  {:?} line: {} stations, expected {}",
                line.line,
                line.stations.len(),
                want.stations.len()
            );
        }
        for (station, want) in line.stations.iter().zip(&want.stations) {
            if station != want {
                differing += 1;
                if differing <= 8 {
                    let _ = write!(
                        out,
                        "\n  {:?} line: {station:?}\n      expected {want:?}",
                        line.line
                    );
                }
            }
        }
    }
    if differing > 8 {
        let _ = write!(out, "\n  ... {} stations differ in all", differing);
    }
    for (line, want) in shown.lines.iter().zip(&expected.lines) {
        if line.headways != want.headways {
            let _ = write!(
                out,
                "\n  {:?} line headways: {:?}\n      expected {:?}",
                line.line, line.headways, want.headways
            );
        }
        let trains: Vec<_> = line
            .trains
            .iter()
            .filter(|t| !want.trains.contains(t))
            .collect();
        let wanted: Vec<_> = want
            .trains
            .iter()
            .filter(|t| !line.trains.contains(t))
            .collect();
        if !trains.is_empty() || !wanted.is_empty() {
            let _ = write!(
                out,
                "\n  {:?} line trains: {trains:?}\n      expected {wanted:?}",
                line.line
            );
        }
    }
    if shown.lines.len() != expected.lines.len() {
        let _ = write!(
            out,
            "\n  {} lines, expected {}",
            shown.lines.len(),
            expected.lines.len()
        );
    }
    out
}
