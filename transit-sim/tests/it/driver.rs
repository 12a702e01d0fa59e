//! The publishing driver on the in-memory bus: everything simulated is published and
//! readable, paced runs keep to simulated time, and shutdown loses nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use transit_core::bus::{Consumer, SubscribeOptions};
use transit_core::codec::SchemaRegistry;
use transit_core::topics::Topics;
use transit_core::EventBus;
use transit_mem::{MemBus, MemRegistry};
use transit_sim::driver::{self, DriverConfig, DriverStats, Pace, SimulationCodecs};
use transit_sim::testing::simulation;
use transit_sim::{SimConfig, SimTime, Simulation};

struct Bed {
    bus: MemBus,
    codecs: Arc<SimulationCodecs>,
    sim: Simulation,
    consumer: Box<dyn Consumer>,
}

async fn bed() -> Bed {
    let bus = MemBus::new();
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topics = Topics::default();
    driver::create_simulation_topics(&bus, &topics, 4)
        .await
        .unwrap();
    let codecs = Arc::new(SimulationCodecs::register(registry, &topics).await.unwrap());
    let sim = simulation(SimConfig::default());
    let consumer = bus
        .subscribe(SubscribeOptions::topics(codecs.topic_names()))
        .await
        .unwrap();
    Bed {
        bus,
        codecs,
        sim,
        consumer,
    }
}

/// Reads everything the run published and checks every record decodes.
async fn consume_all(bed: &mut Bed, stats: &DriverStats) {
    let records =
        transit_core::testing::receive(bed.consumer.as_mut(), stats.total() as usize).await;
    for delivery in &records {
        bed.codecs.check(delivery).unwrap();
    }
    transit_core::testing::receive_nothing(bed.consumer.as_mut(), Duration::from_millis(100)).await;
}

#[tokio::test]
async fn a_flat_out_run_publishes_every_event_of_the_period() {
    let mut bed = bed().await;
    let start = bed.sim.now();
    // The same simulation stepped alone says how many arrivals the period has.
    let mut twin = bed.sim.clone();
    let mut tick = transit_sim::TickEvents::default();
    let expected_arrivals: u64 = (0..90)
        .map(|_| {
            twin.step(&mut tick);
            tick.arrivals.len() as u64
        })
        .sum();
    let config = DriverConfig {
        pace: Pace::FlatOut,
        until: Some(SimTime(start.0 + 3 * 3_600_000)),
        ..DriverConfig::default()
    };
    let stats = driver::run(
        &bed.bus,
        &mut bed.sim,
        &bed.codecs,
        &config,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(stats.ticks, 90, "3 hours of 2-minute ticks");
    assert_eq!(
        stats.simulated_until,
        Some(SimTime(start.0 + 3 * 3_600_000))
    );
    let arrivals: u64 = stats
        .published
        .iter()
        .filter(|(topic, _)| topic.contains(".arrivals."))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(arrivals, expected_arrivals);
    assert!(arrivals > 90 * 30 / 2, "{arrivals} arrivals in 3 hours");
    assert_eq!(stats.published.get(bed.codecs.weather_topic()), Some(&4));
    consume_all(&mut bed, &stats).await;
}

#[tokio::test(start_paused = true)]
async fn a_paced_run_keeps_to_the_speed_and_stops_cleanly_on_shutdown() {
    let mut bed = bed().await;
    let config = DriverConfig {
        pace: Pace::Speed(60.0),
        ..DriverConfig::default()
    };
    let shutdown = CancellationToken::new();
    let bus = bed.bus.clone();
    let codecs = Arc::clone(&bed.codecs);
    let mut sim = bed.sim.clone();
    let run = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { driver::run(&bus, &mut sim, &codecs, &config, shutdown).await }
    });
    // At 60x, a 2-minute tick takes 2 s: 60 s of wall time is about 30 ticks.
    tokio::time::sleep(Duration::from_secs(60)).await;
    shutdown.cancel();
    let stats = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("the driver stops promptly")
        .unwrap()
        .unwrap();
    assert!((29..=32).contains(&stats.ticks), "{} ticks", stats.ticks);
    consume_all(&mut bed, &stats).await;
}
