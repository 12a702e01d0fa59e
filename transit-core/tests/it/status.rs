//! The status read model: its invariants under any sequence of arrivals, and the whole
//! pipeline on the in-memory bus agreeing with what was published.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use tokio_util::sync::CancellationToken;
use transit_core::bus::Record;
use transit_core::codec::SchemaRegistry;
use transit_core::event::ArrivalEvent;
use transit_core::model::{Direction, LineId, StationId, TrainId, TrainStatus};
use transit_core::network::cta;
use transit_core::network::Network;
use transit_core::status::StatusModel;
use transit_core::testing::wait_for_board;
use transit_core::topics::Topics;
use transit_core::EventBus;
use transit_mem::{MemBus, MemRegistry};
use transit_sim::testing::{seeded, until_ended, FlatOutRun};
use transit_sim::{SimTime, TickEvents};

fn arrival(line: LineId, number: u16, station: u32, direction: Direction) -> ArrivalEvent {
    ArrivalEvent {
        station_id: StationId(station),
        train_id: TrainId { line, number },
        direction,
        line,
        train_status: TrainStatus::InService,
        prev_station_id: None,
        prev_direction: None,
        arrival_time: None,
        scheduled_time: None,
        scheduled_headway_s: None,
        delay_s: None,
        run_number: None,
        prev_arrival_time: None,
        route_id: None,
    }
}

/// Slots and trains are each other's inverse: no train on two platforms, no platform with two
/// trains.
fn assert_consistent(model: &StatusModel) {
    let mut seen = HashSet::new();
    for (slot, train) in model.occupied() {
        assert!(seen.insert(train), "{train} on two platforms");
        assert_eq!(model.train_slot(train), Some(slot));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_arrivals_leave_each_train_on_at_most_one_platform(
        arrivals in prop::collection::vec((0u16..6, 0u32..5, prop::bool::ANY), 0..200),
    ) {
        let mut model = StatusModel::default();
        for (number, station, a) in arrivals {
            let direction = if a { Direction::A } else { Direction::B };
            let event = arrival(cta::RED, number, station, direction);
            model.apply_arrival(&event);
            // The train that just arrived is where it arrived.
            let train = event.train_id;
            prop_assert_eq!(model.train_slot(train).map(|s| (s.station_id, s.direction)), Some((event.station_id, direction)));
            assert_consistent(&model);
        }
    }

    #[test]
    fn the_simulations_arrivals_put_every_train_on_exactly_one_platform(
        seed in any::<u64>(), trains in 1u16..20, ticks in 1usize..80,
    ) {
        let mut sim = seeded(seed, Some(trains));
        let mut model = StatusModel::default();
        let mut tick = TickEvents::default();
        let mut last: HashMap<TrainId, (StationId, Direction)> = HashMap::new();
        for _ in 0..ticks {
            sim.step(&mut tick);
            for event in &tick.arrivals {
                model.apply_arrival(event);
                last.insert(event.train_id, (event.station_id, event.direction));
            }
            assert_consistent(&model);
        }
        // A train between stations holds the block from the platform it left to the next: no
        // other train arrives at that platform before it arrives at the next one.
        prop_assert_eq!(model.occupied().count(), last.len(), "every train that arrived is on the board once");
        for (train, (station, direction)) in last {
            let slot = model.train_slot(train).unwrap();
            prop_assert_eq!((slot.station_id, slot.direction), (station, direction));
        }
    }
}

/// How long the board may take to show what a test waits for.
const BOARD_WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_counts_every_entry_published_and_shows_every_train() {
    let mem = MemBus::new();
    let bus: Arc<dyn EventBus> = Arc::new(mem.clone());
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let run = FlatOutRun::new(7, Some(10), 4);
    let topics = run.topics.clone();
    let start = run.simulation().now();
    let running = run.start(Arc::clone(&bus), registry).await;
    let mut snapshots = running.snapshots();
    until_ended(&running, Duration::from_secs(120)).await;
    // A record on an arrivals topic that is not an arrival: dead-lettered, the board goes on.
    bus.publish_batch(
        &topics.arrivals(cta::BLUE),
        vec![Record::new(
            "k",
            Bytes::from_static(b"\x00\x00\x00\x00\x01\xff"),
            start.0,
        )],
    )
    .await
    .unwrap();
    let entries_topic = topics.turnstile_entries();
    let published: u64 = (0..4)
        .map(|p| mem.offsets(&entries_topic, p).map_or(0, |(_, end)| end))
        .sum();
    // The same simulation stepped alone says when its last tick was.
    let last_tick = run.last_tick().time.to_string();
    let snapshot = wait_for_board(
        &mut snapshots,
        BOARD_WAIT,
        "every entry counted, at the last tick",
        |s| {
            s.totals.entries == published && s.simulated_time.as_deref() == Some(last_tick.as_str())
        },
    )
    .await;
    let report = running.stop().await.unwrap();

    assert_eq!(report.driver.published[&entries_topic], published);
    assert_eq!(report.counts.counted, published);
    assert_eq!(report.status.dead_lettered, 1);
    let network = Network::embedded().unwrap();
    assert_eq!(snapshot.lines.len(), 3);
    for (view, line) in snapshot.lines.iter().zip(network.lines()) {
        assert_eq!(view.line, line.id());
        let names: Vec<&str> = view.stations.iter().map(|s| s.name.as_str()).collect();
        let expected: Vec<&str> = line.stations().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, expected, "{} line in order", line.id());
    }
    // Each train once, from the platform it last arrived at (its arrivals at two stations may
    // come from two partitions in either order: the board keeps the latest by arrival time),
    // standing there or on its way to the next station.
    assert_eq!(snapshot.totals.in_service, 30, "ten trains per line");
    for view in &snapshot.lines {
        let mut ids: Vec<&str> = view.trains.iter().map(|t| t.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 10, "{}: {ids:?}", view.line);
        let standing = view.trains.iter().filter(|t| t.to.is_none()).count() as u64;
        let at_platforms: u64 = view
            .stations
            .iter()
            .map(|s| u64::from(s.train_a.is_some()) + u64::from(s.train_b.is_some()))
            .sum();
        assert_eq!(standing, at_platforms, "{}", view.line);
        // Every platform has a next train: ten trains cover the ring.
        assert!(view
            .stations
            .iter()
            .all(|s| s.next_a.is_some() && s.next_b.is_some()));
    }
    assert!(snapshot.totals.trains <= 30);
    assert!(snapshot.weather.is_some());
    assert_eq!(
        report.driver.simulated_until.map(|t| t.to_string()),
        Some(last_tick)
    );
}

/// A weather reading posted through a REST Proxy carries the proxy's wall-clock time as its
/// record time: the board's clock follows the reading's own time, in its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_clock_follows_the_weather_readings_own_time() {
    use transit_core::event::{WeatherEvent, WeatherStatus};
    use transit_core::metrics::PipelineMetrics;
    use transit_core::status::StatusService;
    use transit_sim::driver::{create_simulation_topics, SimulationCodecs};

    let bus: Arc<dyn EventBus> = Arc::new(MemBus::new());
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topics = Topics::default();
    create_simulation_topics(bus.as_ref(), &topics, 1)
        .await
        .unwrap();
    let codecs = SimulationCodecs::register(Arc::clone(&registry), &topics)
        .await
        .unwrap();
    let reading_time = SimTime(1_793_000_000_000);
    let mut record = codecs
        .weather_record(
            &WeatherEvent {
                temperature: 41.0,
                status: WeatherStatus::Cloudy,
            },
            reading_time,
        )
        .unwrap();
    record.timestamp_ms = reading_time.0 + 400 * 86_400_000;
    bus.publish_batch(&topics.weather(), vec![record])
        .await
        .unwrap();
    let (service, mut snapshots) = StatusService::new(
        Arc::clone(&bus),
        registry,
        &topics,
        Arc::default(),
        PipelineMetrics::new(),
    )
    .unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(service.run(stop.clone()));
    let expected = reading_time.to_string();
    let snapshot = wait_for_board(&mut snapshots, BOARD_WAIT, "the weather", |s| {
        s.weather.is_some()
    })
    .await;
    assert_eq!(snapshot.simulated_time.as_deref(), Some(expected.as_str()));
    stop.cancel();
    task.await.unwrap().unwrap();
}
