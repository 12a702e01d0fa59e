//! The timetabled simulation's publishing driver on the in-memory bus: every arrival published
//! once on one topic whatever the number of routes, a vehicle's records in order on one
//! partition, and live mode's instants the wall clock's. Over synthetic bus days, and over
//! NYC's lines 1 and 2 (the feed `scripts/feeds.sh` downloads).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::NaiveDate;
use tokio_util::sync::CancellationToken;
use transit_core::bus::{Consumer, Delivery, SubscribeOptions};
use transit_core::codec::{SchemaRegistry, TopicCodec};
use transit_core::event::VehicleArrivalEvent;
use transit_core::model::{LineId, Rgb, Route};
use transit_core::network::service_day::{
    ScheduledStop, ScheduledTrip, ServiceDay, StopIndex, StopPlace, TripIndex, Vehicle,
    VehicleIndex,
};
use transit_core::topics::Topics;
use transit_core::EventBus;
use transit_mem::{MemBus, MemRegistry};
use transit_sim::timetabled::publish::{
    self, arrival_event, Clock, PublishConfig, TimetabledPublishStats,
};
use transit_sim::timetabled::{StopArrival, TimetabledConfig, TimetabledSimulation};

const STOPS_PER_ROUTE: u32 = 5;
const RUN_S: u32 = 40;
const LAYOVER_S: u32 = 60;

/// `routes` bus routes of five stops each, `vehicles` buses on each running back and forth
/// from `from_s` to `to_s`, the first route's trips frequency instances.
fn bus_day(routes: u32, vehicles: u32, start_unix_s: i64, from_s: u32, to_s: u32) -> ServiceDay {
    let date = NaiveDate::from_ymd_opt(2026, 12, 7).expect("a date");
    let mut stops = Vec::new();
    let mut trips = Vec::new();
    let mut route_list = Vec::new();
    for r in 0..routes {
        let id = LineId::new(&format!("R{r}")).expect("a route id");
        route_list.push(Route {
            id,
            short_name: format!("R{r}"),
            long_name: String::new(),
            route_type: 3,
            color: Rgb::WHITE,
            text_color: Rgb::BLACK,
        });
        let first_stop = stops.len() as u32;
        for s in 0..STOPS_PER_ROUTE {
            stops.push(StopPlace {
                id: format!("r{r}s{s}"),
                name: format!("Stop {s} of R{r}"),
                location: None,
                parent: None,
            });
        }
        let trip_s = (STOPS_PER_ROUTE - 1) * RUN_S;
        for v in 0..vehicles {
            let vehicle = VehicleIndex(r * vehicles + v);
            // Staggered, so the routes' buses do not all arrive in the same seconds.
            let cycle = trip_s + LAYOVER_S;
            let mut start = from_s + (v * cycle / vehicles + r * 7) % cycle;
            let mut n = 0;
            while start + trip_s <= to_s {
                let outbound = n % 2 == 0;
                let stop_times = (0..STOPS_PER_ROUTE)
                    .map(|k| {
                        let s = if outbound { k } else { STOPS_PER_ROUTE - 1 - k };
                        let at = start + k * RUN_S;
                        ScheduledStop {
                            stop: StopIndex(first_stop + s),
                            arrival_s: at,
                            departure_s: at,
                            stop_sequence: k + 1,
                        }
                    })
                    .collect();
                trips.push(ScheduledTrip {
                    trip_id: format!("R{r}-{v}-{n}"),
                    route: id,
                    direction_id: Some(u8::from(!outbound)),
                    frequency_start_s: (r == 0).then_some(start),
                    exact_times: false,
                    shape_id: None,
                    vehicle,
                    stops: stop_times,
                });
                start += trip_s + LAYOVER_S;
                n += 1;
            }
        }
    }
    trips.sort_by_key(|trip| (trip.first_departure_s(), trip.trip_id.clone()));
    let mut vehicle_list: Vec<Vehicle> = (0..routes * vehicles)
        .map(|index| Vehicle {
            id: format!("R{}-{}", index / vehicles, index % vehicles + 1),
            trips: Vec::new(),
        })
        .collect();
    for (index, trip) in trips.iter().enumerate() {
        vehicle_list[trip.vehicle.0 as usize]
            .trips
            .push(TripIndex(index as u32));
    }
    ServiceDay {
        timezone: "America/New_York".into(),
        requested: date,
        date,
        start_unix_s,
        routes: route_list,
        stops,
        trips,
        vehicles: vehicle_list,
    }
}

fn config() -> TimetabledConfig {
    TimetabledConfig::embedded(21).expect("the embedded hourly curve")
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

struct Bed {
    bus: Arc<MemBus>,
    codec: Arc<TopicCodec<VehicleArrivalEvent>>,
    consumer: Box<dyn Consumer>,
}

/// A bus with the topic (4 partitions), the codec, and a consumer of every topic of the bus.
async fn bed() -> Bed {
    let bus = Arc::new(MemBus::new());
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topics = Topics::default();
    publish::create_topic(bus.as_ref(), &topics, 4)
        .await
        .unwrap();
    let codec = Arc::new(publish::register_codec(registry, &topics).await.unwrap());
    let consumer = bus
        .subscribe(SubscribeOptions::pattern(".*"))
        .await
        .unwrap();
    Bed {
        bus,
        codec,
        consumer,
    }
}

/// Every record the run published, decoded, in the order read (per partition, by offset).
async fn consume_all(
    bed: &mut Bed,
    stats: &TimetabledPublishStats,
) -> Vec<(Delivery, VehicleArrivalEvent)> {
    let records =
        transit_core::testing::receive(bed.consumer.as_mut(), stats.published as usize).await;
    transit_core::testing::receive_nothing(bed.consumer.as_mut(), Duration::from_millis(100)).await;
    let mut out = Vec::new();
    for delivery in records {
        let (key, event) = bed.codec.decode(&delivery).await.unwrap();
        assert_eq!(key.vehicle_id, event.vehicle_id);
        assert_eq!(delivery.timestamp_ms, event.arrival_time);
        out.push((delivery, event));
    }
    out
}

/// Each vehicle's records are on one partition, in the order it made them.
fn assert_vehicles_in_order(records: &[(Delivery, VehicleArrivalEvent)]) {
    let mut by_vehicle: HashMap<&str, Vec<(u32, u64, i64)>> = HashMap::new();
    for (delivery, event) in records {
        by_vehicle.entry(&event.vehicle_id).or_default().push((
            delivery.partition,
            delivery.offset,
            event.arrival_time,
        ));
    }
    for (vehicle, mut seen) in by_vehicle {
        let partitions: BTreeSet<u32> = seen.iter().map(|(p, _, _)| *p).collect();
        assert_eq!(partitions.len(), 1, "{vehicle} on {partitions:?}");
        seen.sort_unstable();
        assert!(
            seen.windows(2).all(|pair| pair[0].2 <= pair[1].2),
            "{vehicle}'s records out of order"
        );
    }
}

/// Every arrival of `expected` published once, and nothing else.
fn assert_each_once(
    day: &ServiceDay,
    expected: &[StopArrival],
    records: &[(Delivery, VehicleArrivalEvent)],
) {
    let mut want: BTreeMap<(String, String, u32), u32> = BTreeMap::new();
    for arrival in expected {
        let event = arrival_event(day, arrival).expect("in the day");
        *want
            .entry((event.vehicle_id, event.trip_id, event.stop_sequence))
            .or_default() += 1;
    }
    assert!(want.values().all(|n| *n == 1), "an arrival twice in a day");
    let mut got: BTreeMap<(String, String, u32), u32> = BTreeMap::new();
    for (_, event) in records {
        *got.entry((
            event.vehicle_id.clone(),
            event.trip_id.clone(),
            event.stop_sequence,
        ))
        .or_default() += 1;
    }
    assert_eq!(got, want);
}

/// The whole day flat out on a fresh bed; what was published, decoded.
async fn flat_out(
    day: &Arc<ServiceDay>,
) -> (TimetabledPublishStats, Vec<(Delivery, VehicleArrivalEvent)>) {
    let mut bed = bed().await;
    let mut sim = TimetabledSimulation::new(Arc::clone(day), config()).unwrap();
    let config = PublishConfig {
        clock: Clock::FlatOut,
        ..PublishConfig::default()
    };
    let stats = publish::run(
        bed.bus.as_ref(),
        &mut sim,
        &bed.codec,
        &config,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(sim.is_finished());
    let records = consume_all(&mut bed, &stats).await;
    (stats, records)
}

/// The same day simulated alone.
fn every_arrival(day: &Arc<ServiceDay>) -> Vec<StopArrival> {
    let mut twin = TimetabledSimulation::new(Arc::clone(day), config()).unwrap();
    let mut arrivals = Vec::new();
    twin.advance_to(48 * 3_600, &mut arrivals);
    arrivals
}

#[tokio::test]
async fn a_flat_out_day_publishes_every_arrival_once_in_each_vehicles_order() {
    let start_unix_s = 1_796_619_600;
    let day = Arc::new(bus_day(20, 3, start_unix_s, 6 * 3_600, 8 * 3_600));
    let expected = every_arrival(&day);
    let (stats, records) = flat_out(&day).await;
    assert_eq!(stats.published, expected.len() as u64);
    assert_eq!((stats.skipped, stats.current_state), (0, 0));
    assert_each_once(&day, &expected, &records);
    assert_vehicles_in_order(&records);
    // The feed's ids and real instants, as the twin's seconds say.
    let first = &expected[0];
    let event = records
        .iter()
        .map(|(_, event)| event)
        .find(|event| event.trip_id == day.trips[first.trip.0 as usize].trip_id)
        .expect("the first trip published");
    assert_eq!(event.start_date, "20261207");
    assert_eq!(
        event.scheduled_arrival_time,
        (start_unix_s + i64::from(first.scheduled_arrival_s)) * 1_000
    );
    // Route R0's trips are frequency instances, named by their start time.
    for (_, event) in &records {
        let trip = day
            .trips
            .iter()
            .find(|trip| trip.trip_id == event.trip_id)
            .unwrap();
        assert_eq!(event.route_id, trip.route.as_str());
        let start = trip
            .frequency_start_s
            .map(|s| format!("{:02}:{:02}:{:02}", s / 3_600, s / 60 % 60, s % 60));
        assert_eq!(event.start_time, start);
    }
    assert!(records.iter().any(|(_, e)| e.start_time.is_some()));
    assert!(records.iter().any(|(_, e)| e.start_time.is_none()));
}

#[tokio::test]
async fn dropped_trips_are_published_as_cancellations_before_the_vehicle_runs_on() {
    let day = Arc::new(bus_day(6, 3, 1_796_619_600, 6 * 3_600, 9 * 3_600));
    let dropping = || {
        let mut config = config();
        config.uncertainty.skipped_trip_chance = 0.2;
        config
    };
    let mut twin = TimetabledSimulation::new(Arc::clone(&day), dropping()).unwrap();
    twin.advance_to(48 * 3_600, &mut Vec::new());
    let dropped: BTreeSet<&str> = twin
        .skipped_trips()
        .iter()
        .map(|trip| day.trips[trip.0 as usize].trip_id.as_str())
        .collect();
    assert!(dropped.len() > 5, "{} trips dropped", dropped.len());

    let mut bed = bed().await;
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topics = Topics::default();
    let cancellations = Arc::new(
        publish::register_cancellations(registry, &topics)
            .await
            .unwrap(),
    );
    let config = PublishConfig {
        clock: Clock::FlatOut,
        cancellations: Some(Arc::clone(&cancellations)),
        ..PublishConfig::default()
    };
    let mut sim = TimetabledSimulation::new(Arc::clone(&day), dropping()).unwrap();
    let stats = publish::run(
        bed.bus.as_ref(),
        &mut sim,
        &bed.codec,
        &config,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(stats.cancellations, dropped.len() as u64);
    let records = transit_core::testing::receive(
        bed.consumer.as_mut(),
        (stats.published + stats.cancellations) as usize,
    )
    .await;
    let mut arrivals = Vec::new();
    let mut cancelled = Vec::new();
    for delivery in &records {
        if &*delivery.topic == cancellations.topic() {
            let (key, event) = cancellations.decode(delivery).await.unwrap();
            assert_eq!(key.vehicle_id, event.vehicle_id);
            assert_eq!(delivery.timestamp_ms, event.announced_time);
            cancelled.push(event);
        } else {
            arrivals.push(bed.codec.decode(delivery).await.unwrap().1);
        }
    }
    let named: BTreeSet<&str> = cancelled.iter().map(|c| c.trip_id.as_str()).collect();
    assert_eq!(named, dropped);
    for cancellation in &cancelled {
        let trip = day
            .trips
            .iter()
            .find(|trip| trip.trip_id == cancellation.trip_id)
            .unwrap();
        assert_eq!(cancellation.route_id, trip.route.as_str());
        assert_eq!(cancellation.start_date, "20261207");
        assert_eq!(
            cancellation.scheduled_start_time,
            (day.start_unix_s + i64::from(trip.stops[0].departure_s)) * 1_000
        );
        assert!(cancellation.scheduled_end_time > cancellation.scheduled_start_time);
        // Not run, and said before its vehicle was seen on any trip after it.
        for arrival in arrivals
            .iter()
            .filter(|a| a.vehicle_id == cancellation.vehicle_id)
        {
            assert_ne!(arrival.trip_id, cancellation.trip_id);
            if arrival.scheduled_arrival_time >= cancellation.scheduled_start_time {
                assert!(
                    arrival.arrival_time >= cancellation.announced_time,
                    "{} at {} before its cancellation of {}",
                    arrival.trip_id,
                    arrival.arrival_time,
                    cancellation.trip_id
                );
            }
        }
    }
}

#[tokio::test]
async fn one_topic_whatever_the_number_of_routes() {
    for routes in [3, 200] {
        let day = Arc::new(bus_day(routes, 1, 1_796_619_600, 7 * 3_600, 8 * 3_600));
        let (stats, records) = flat_out(&day).await;
        let topics: BTreeSet<&str> = records.iter().map(|(d, _)| &*d.topic).collect();
        assert_eq!(
            topics,
            BTreeSet::from(["org.chicago.cta.vehicles.arrivals.v1"])
        );
        let route_ids: BTreeSet<&str> = records.iter().map(|(_, e)| &*e.route_id).collect();
        assert_eq!(route_ids.len(), routes as usize);
        assert_eq!(stats.published, records.len() as u64);
        assert_vehicles_in_order(&records);
    }
}

/// What a live run of `wall` over `day` published: its stats, and each record with the wall
/// clock when it was read.
async fn live(
    day: &Arc<ServiceDay>,
    wall: Duration,
) -> (
    TimetabledPublishStats,
    Vec<(Delivery, VehicleArrivalEvent, i64)>,
) {
    let mut bed = bed().await;
    let sim = TimetabledSimulation::new(Arc::clone(day), config()).unwrap();
    let shutdown = CancellationToken::new();
    let driver = {
        let (bus, codec, shutdown) = (
            Arc::clone(&bed.bus),
            Arc::clone(&bed.codec),
            shutdown.clone(),
        );
        tokio::spawn(async move {
            let mut sim = sim;
            let config = PublishConfig::default();
            assert_eq!(config.clock, Clock::Live);
            publish::run(bus.as_ref(), &mut sim, &codec, &config, shutdown).await
        })
    };
    let mut read = Vec::new();
    let deadline = tokio::time::Instant::now() + wall;
    let mut batch = Vec::new();
    while tokio::time::Instant::now() < deadline {
        batch.clear();
        let got =
            tokio::time::timeout_at(deadline, bed.consumer.recv_batch(&mut batch, 1_000)).await;
        let at = wall_ms();
        if got.is_ok() {
            for delivery in batch.drain(..) {
                let (_, event) = bed.codec.decode(&delivery).await.unwrap();
                read.push((delivery, event, at));
            }
        }
    }
    shutdown.cancel();
    let stats = tokio::time::timeout(Duration::from_secs(5), driver)
        .await
        .expect("the driver stops when cancelled")
        .unwrap()
        .unwrap();
    let at = wall_ms();
    let rest = transit_core::testing::receive(
        bed.consumer.as_mut(),
        stats.published as usize - read.len(),
    )
    .await;
    for delivery in rest {
        let (_, event) = bed.codec.decode(&delivery).await.unwrap();
        read.push((delivery, event, at));
    }
    (stats, read)
}

/// A live run's records: the current state at the start (arrivals at or before it, one per
/// vehicle), then arrivals each read within `slack_ms` of the instant it names.
fn check_live(
    day: &ServiceDay,
    started_ms: i64,
    stats: &TimetabledPublishStats,
    records: &[(Delivery, VehicleArrivalEvent, i64)],
    slack_ms: i64,
) -> usize {
    let run_start_ms = day.unix_s(stats.started_at_s) * 1_000;
    // The wall clock's second when the day so far was simulated (a moment on a busy machine).
    assert!(
        (started_ms - 1_000..=started_ms + 2_500).contains(&run_start_ms),
        "started at {run_start_ms}, the wall clock at {started_ms}"
    );
    let (state, live): (Vec<_>, Vec<_>) = records
        .iter()
        .partition(|(_, event, _)| event.arrival_time <= run_start_ms);
    assert_eq!(state.len() as u64, stats.current_state);
    let vehicles: BTreeSet<&str> = state.iter().map(|(_, e, _)| &*e.vehicle_id).collect();
    assert_eq!(
        vehicles.len(),
        state.len(),
        "one current arrival per vehicle"
    );
    for (_, event, read_at) in &live {
        let lag = read_at - event.arrival_time;
        assert!(
            (0..=slack_ms).contains(&lag),
            "arrival at {} read at {read_at}: {lag} ms",
            event.arrival_time
        );
    }
    // Exactly the arrivals the day has over the seconds the run simulated.
    let mut twin = TimetabledSimulation::new(Arc::new(day.clone()), config()).unwrap();
    let mut before = Vec::new();
    twin.advance_to(stats.started_at_s, &mut before);
    assert_eq!(before.len() as u64, stats.skipped + stats.current_state);
    let mut during = Vec::new();
    twin.advance_to(stats.simulated_until_s, &mut during);
    let live_events: Vec<(Delivery, VehicleArrivalEvent)> = live
        .iter()
        .map(|(d, e, _)| (d.clone(), e.clone()))
        .collect();
    assert_each_once(day, &during, &live_events);
    let pairs: Vec<(Delivery, VehicleArrivalEvent)> = records
        .iter()
        .map(|(d, e, _)| (d.clone(), e.clone()))
        .collect();
    assert_vehicles_in_order(&pairs);
    live.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_starts_at_the_wall_clock_and_keeps_to_it() {
    // An hour into a day of buses running from midnight to midnight, 200 of them.
    let now_s = wall_ms() / 1_000;
    let day = Arc::new(bus_day(100, 2, now_s - 3_600, 0, 24 * 3_600));
    let started = wall_ms();
    let (stats, records) = live(&day, Duration::from_secs(3)).await;
    println!(
        "live: {} current, {} skipped, {} published, {} steps, {}..{} s",
        stats.current_state,
        stats.skipped,
        stats.published,
        stats.steps,
        stats.started_at_s,
        stats.simulated_until_s
    );
    assert!(stats.skipped > 1_000, "the hour before is not published");
    assert!(stats.current_state > 100, "the buses in service are");
    let live = check_live(&day, started, &stats, &records, 2_000);
    assert!(live > 0, "buses arrive every few seconds");
    let ran = stats.simulated_until_s - stats.started_at_s;
    assert!((2..=5).contains(&ran), "{ran} s simulated in 3 s");
}

/// NYC's lines 1 and 2 on the date it is in New York now.
fn nyc_today() -> Arc<ServiceDay> {
    let path = crate::feed_path("nyc_subway_gtfs.zip");
    let feed = transit_gtfs_reader::Feed::read(&path, &Default::default()).expect("NYC reads");
    // New York is 4 or 5 hours behind UTC: 5 hours back is its date, give or take the hour.
    let date = (chrono::Utc::now() - chrono::Duration::hours(5)).date_naive();
    Arc::new(feed.service_day(date).expect("a service day"))
}

#[tokio::test]
async fn nyc_flat_out_publishes_every_arrival_once_in_the_feeds_ids() {
    let day = nyc_today();
    let expected = every_arrival(&day);
    let (stats, records) = flat_out(&day).await;
    println!(
        "NYC flat out: {} arrivals of {} trips published",
        stats.published,
        day.trips.len()
    );
    assert_each_once(&day, &expected, &records);
    assert_vehicles_in_order(&records);
    let routes: BTreeSet<&str> = day.routes.iter().map(|r| r.id.as_str()).collect();
    let stops: BTreeSet<&str> = day.stops.iter().map(|s| &*s.id).collect();
    for (_, event) in &records {
        assert!(routes.contains(&*event.route_id), "{}", event.route_id);
        assert!(stops.contains(&*event.stop_id), "{}", event.stop_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nyc_live_starts_at_the_wall_clock() {
    let day = nyc_today();
    let started = wall_ms();
    let (stats, records) = live(&day, Duration::from_secs(3)).await;
    let live = check_live(&day, started, &stats, &records, 2_000);
    println!(
        "NYC live: {} trains' current arrivals, {} skipped, {live} live arrivals in 3 s",
        stats.current_state, stats.skipped
    );
    assert!(stats.current_state > 0, "the subway runs at every hour");
}

#[tokio::test(start_paused = true)]
async fn a_speed_keeps_simulated_time_to_the_clock() {
    let day = Arc::new(bus_day(5, 2, 1_796_619_600, 6 * 3_600, 9 * 3_600));
    let mut bed = bed().await;
    let mut sim = TimetabledSimulation::new(Arc::clone(&day), config()).unwrap();
    let mut before = Vec::new();
    sim.advance_to(7 * 3_600, &mut before);
    let config = PublishConfig {
        clock: Clock::Speed(60.0),
        until_s: Some(7 * 3_600 + 600),
        ..PublishConfig::default()
    };
    let started = tokio::time::Instant::now();
    let stats = publish::run(
        bed.bus.as_ref(),
        &mut sim,
        &bed.codec,
        &config,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    // Ten simulated minutes at 60× are ten seconds (of the paused test clock).
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(10) && took < Duration::from_secs(11),
        "{took:?}"
    );
    assert_eq!(stats.started_at_s, 7 * 3_600);
    assert_eq!(stats.simulated_until_s, 7 * 3_600 + 600);
    let records = consume_all(&mut bed, &stats).await;
    let mut twin = TimetabledSimulation::new(Arc::clone(&day), self::config()).unwrap();
    let mut skipped = Vec::new();
    twin.advance_to(7 * 3_600, &mut skipped);
    let mut expected = Vec::new();
    twin.advance_to(7 * 3_600 + 600, &mut expected);
    assert_each_once(&day, &expected, &records);
}

#[tokio::test]
async fn shutdown_publishes_what_was_simulated_and_flushes() {
    let day = Arc::new(bus_day(50, 2, 1_796_619_600, 0, 24 * 3_600));
    let mut bed = bed().await;
    let mut sim = TimetabledSimulation::new(Arc::clone(&day), config()).unwrap();
    let shutdown = CancellationToken::new();
    let config = PublishConfig {
        clock: Clock::Speed(3_600.0),
        ..PublishConfig::default()
    };
    let cancel = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            shutdown.cancel();
        })
    };
    let stats = tokio::time::timeout(
        Duration::from_secs(5),
        publish::run(bed.bus.as_ref(), &mut sim, &bed.codec, &config, shutdown),
    )
    .await
    .expect("stops when cancelled")
    .unwrap();
    cancel.await.unwrap();
    assert!(!sim.is_finished(), "stopped mid-day");
    assert!(stats.published > 0);
    let records = consume_all(&mut bed, &stats).await;
    let mut twin = TimetabledSimulation::new(Arc::clone(&day), self::config()).unwrap();
    let mut expected = Vec::new();
    twin.advance_to(stats.simulated_until_s, &mut expected);
    assert_each_once(&day, &expected, &records);
}

#[tokio::test]
async fn live_on_a_day_already_over_publishes_nothing_and_returns() {
    let day = Arc::new(bus_day(3, 1, wall_ms() / 1_000 - 3 * 86_400, 0, 24 * 3_600));
    let mut bed = bed().await;
    let mut sim = TimetabledSimulation::new(Arc::clone(&day), config()).unwrap();
    let stats = tokio::time::timeout(
        Duration::from_secs(5),
        publish::run(
            bed.bus.as_ref(),
            &mut sim,
            &bed.codec,
            &PublishConfig::default(),
            CancellationToken::new(),
        ),
    )
    .await
    .expect("returns at once")
    .unwrap();
    assert!(sim.is_finished());
    assert_eq!((stats.published, stats.current_state), (0, 0));
    assert_eq!(stats.skipped, every_arrival(&day).len() as u64);
    transit_core::testing::receive_nothing(bed.consumer.as_mut(), Duration::from_millis(100)).await;
}
