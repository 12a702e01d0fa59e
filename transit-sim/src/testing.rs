//! Test fixtures over the embedded CTA data, shared by the tests and benchmarks of every crate
//! (feature `testing`): the simulation, a board simulated up to a time, a flat-out run of the
//! whole pipeline, waiting for such a run to end, and the accounting of what a run published
//! (the entries on the topic against the count table).
//!
//! They live here rather than in `transit-testkit` because `transit-sim`'s own tests use them,
//! and `transit-testkit` depends on crates that depend on this one: as a dev-dependency of
//! `transit-sim` it would link a second copy of this crate, whose `Simulation` is another type.
//! They also need nothing `transit-testkit` brings (no broker, database or browser): the bus
//! and registry a run uses are the caller's, in memory or on Kafka alike.
//!
//! The embedded data is compiled in, so failing to load it is a bug of this crate: the
//! fixtures panic rather than return errors.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use transit_core::bus::{EventBus, SubscribeOptions};
use transit_core::codec::{Decoder, SchemaRegistry};
use transit_core::event::{StationEvent, StationLineKey, TurnstileCount, TurnstileEvent};
use transit_core::network::{embedded_station_rows, Network, Ridership};
use transit_core::processor::read_table;
use transit_core::status::{StatusModel, StatusSnapshot};
use transit_core::topics::Topics;

use crate::driver::{self, DriverConfig, Pace, SimulationCodecs};
use crate::pipeline::{self, PipelineConfig, RunningPipeline};
use crate::{SimConfig, SimTime, Simulation, TickEvents};

/// The embedded network.
///
/// # Panics
///
/// If the embedded network does not load (a bug).
pub fn network() -> Arc<Network> {
    Arc::new(Network::embedded().expect("the embedded network"))
}

/// A simulation of the embedded network and ridership with `config`.
///
/// # Panics
///
/// If the embedded data does not load or `config` is refused.
pub fn simulation(config: SimConfig) -> Simulation {
    simulation_of(network(), config)
}

/// A simulation of `network` (the embedded one, shared with the caller) and the embedded
/// ridership with `config`.
///
/// # Panics
///
/// If the embedded ridership does not load or `config` is refused.
pub fn simulation_of(network: Arc<Network>, config: SimConfig) -> Simulation {
    Simulation::new(
        network,
        Arc::new(Ridership::embedded().expect("the embedded ridership")),
        config,
    )
    .expect("a simulation of the embedded network")
}

/// A simulation with the default settings but `seed` and, if given, `trains_per_line` trains
/// on each line instead of the schedule.
pub fn seeded(seed: u64, trains_per_line: Option<u16>) -> Simulation {
    simulation(SimConfig {
        seed,
        trains_per_line,
        ..SimConfig::default()
    })
}

/// The events of the last tick of `sim` stepped alone until `until`: its time is what a board
/// fed by the same simulation shows once it has taken everything.
pub fn last_tick(mut sim: Simulation, until: SimTime) -> TickEvents {
    let mut tick = TickEvents::default();
    while sim.now() < until {
        sim.step(&mut tick);
    }
    tick
}

/// The board the dashboard's read model shows of the simulation with `config` at `until`:
/// every station of the network, then every arrival up to `until` applied in order, as the
/// read model does.
pub fn board_at(config: SimConfig, until: SimTime) -> StatusSnapshot {
    let network = network();
    let mut sim = simulation_of(Arc::clone(&network), config);
    let mut model = StatusModel::new(Arc::clone(network.locations()));
    for line in network.lines() {
        for station in line.stations() {
            model.apply_station(&StationEvent {
                station_id: station.id,
                station_name: Arc::from(station.name.as_str()),
                order: station.order,
                line: line.id(),
            });
        }
    }
    let mut events = TickEvents::default();
    while sim.now() < until {
        sim.step(&mut events);
        for arrival in &events.arrivals {
            model.apply_arrival(arrival);
        }
        model.observe_time(events.time);
    }
    model.snapshot()
}

/// A run of the whole pipeline ([`pipeline::start`]) over the embedded data, flat out, for
/// `hours` simulated hours from the simulation's start, with the embedded station rows: the
/// set-up of every test that runs the pipeline end to end, on any bus.
#[derive(Debug, Clone)]
pub struct FlatOutRun {
    /// The simulation's settings.
    pub sim: SimConfig,
    /// Simulated hours the run lasts.
    pub hours: i64,
    /// The topic names.
    pub topics: Topics,
    /// Partitions of the arrivals and turnstile-entries topics.
    pub partitions: u32,
}

impl FlatOutRun {
    /// A run of `hours` with `seed` and, if given, `trains_per_line` trains on each line, on
    /// the default topics with 4 partitions.
    pub fn new(seed: u64, trains_per_line: Option<u16>, hours: i64) -> Self {
        Self {
            sim: SimConfig {
                seed,
                trains_per_line,
                ..SimConfig::default()
            },
            hours,
            topics: Topics::default(),
            partitions: 4,
        }
    }

    /// The same run on `topics`.
    #[must_use]
    pub fn on(mut self, topics: Topics) -> Self {
        self.topics = topics;
        self
    }

    /// The same run with `partitions` partitions.
    #[must_use]
    pub fn partitions(mut self, partitions: u32) -> Self {
        self.partitions = partitions;
        self
    }

    /// A fresh simulation of the run (the one it publishes, or a twin to step alone).
    pub fn simulation(&self) -> Simulation {
        simulation(self.sim.clone())
    }

    /// Where the run ends.
    pub fn until(&self) -> SimTime {
        let start = self.simulation().now();
        SimTime(start.0 + self.hours * 3_600_000)
    }

    /// The events of the run's last tick, from a twin stepped alone.
    pub fn last_tick(&self) -> TickEvents {
        last_tick(self.simulation(), self.until())
    }

    /// The pipeline's settings for the run.
    pub fn config(&self) -> PipelineConfig {
        PipelineConfig {
            topics: self.topics.clone(),
            partitions: self.partitions,
            driver: DriverConfig {
                pace: Pace::FlatOut,
                until: Some(self.until()),
                progress_every: Duration::from_secs(60),
                ..DriverConfig::default()
            },
            station_rows: Some(embedded_station_rows().expect("the embedded station rows")),
            predictions: None,
        }
    }

    /// Starts the run over `bus` and `registry`.
    ///
    /// # Panics
    ///
    /// If the pipeline does not start.
    pub async fn start(
        &self,
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
    ) -> RunningPipeline {
        pipeline::start(
            bus,
            registry,
            self.simulation(),
            self.config(),
            CancellationToken::new(),
        )
        .await
        .unwrap_or_else(|error| panic!("starting the pipeline: {error:?}"))
    }
}

/// Waits until the simulation of `running` has ended.
///
/// # Panics
///
/// If a consumer stops on its own first, or the simulation has not ended within `limit`.
pub async fn until_ended(running: &RunningPipeline, limit: Duration) {
    match tokio::time::timeout(limit, running.simulation_ended()).await {
        Ok(Ok(())) => {}
        Ok(Err(part)) => panic!("the {part} stopped while the simulation ran"),
        Err(_) => panic!("the simulation did not end within {limit:?}"),
    }
}

/// Publishes `minutes` more of `sim` flat out onto `bus`, and returns how many turnstile
/// entries the bus acknowledged.
///
/// # Panics
///
/// If publishing fails.
pub async fn publish_minutes(
    bus: &dyn EventBus,
    sim: &mut Simulation,
    codecs: &SimulationCodecs,
    topics: &Topics,
    minutes: i64,
) -> u64 {
    let config = DriverConfig {
        pace: Pace::FlatOut,
        until: Some(SimTime(sim.now().0 + minutes * 60_000)),
        progress_every: Duration::from_secs(60),
        ..DriverConfig::default()
    };
    let stats = driver::run(bus, sim, codecs, &config, CancellationToken::new())
        .await
        .unwrap_or_else(|error| panic!("publishing {minutes} minutes: {error}"));
    stats
        .published
        .get(&topics.turnstile_entries())
        .copied()
        .unwrap_or_default()
}

/// The turnstile entries on `topics`' entries topic, counted per station and line straight
/// from the topic: `total` of them, then (with a non-zero `then_quiet`) nothing more for that
/// long, so a duplicate shows.
///
/// # Panics
///
/// If fewer than `total` arrive, more arrive within `then_quiet`, or one does not decode.
pub async fn entries_on_topic(
    bus: &dyn EventBus,
    registry: &Arc<dyn SchemaRegistry>,
    topics: &Topics,
    total: u64,
    then_quiet: Duration,
) -> HashMap<StationLineKey, u64> {
    let decoder = Decoder::<TurnstileEvent>::new(Arc::clone(registry)).expect("a decoder");
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([topics.turnstile_entries()]))
        .await
        .expect("subscribing");
    let mut counts = HashMap::new();
    for delivery in transit_core::testing::receive(consumer.as_mut(), total as usize).await {
        let value = delivery.value.expect("entries have values");
        let entry = decoder.decode(&value).await.expect("an entry decodes");
        *counts
            .entry(StationLineKey {
                station_id: entry.station_id,
                line: entry.line,
            })
            .or_insert(0) += 1;
    }
    if !then_quiet.is_zero() {
        transit_core::testing::receive_nothing(consumer.as_mut(), then_quiet).await;
    }
    counts
}

/// The count table's rows once their entries add up to `total`, read back from the table
/// every half second.
///
/// # Panics
///
/// If the table does not reach `total` within `within`, or a row does not decode.
pub async fn count_table_when_complete(
    bus: &dyn EventBus,
    registry: &Arc<dyn SchemaRegistry>,
    topics: &Topics,
    total: u64,
    within: Duration,
) -> HashMap<StationLineKey, u64> {
    let decoder = Decoder::<TurnstileCount>::new(Arc::clone(registry)).expect("a decoder");
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let rows = read_table(bus, &topics.turnstile_counts())
            .await
            .expect("reading the count table");
        let mut table = HashMap::new();
        for row in rows {
            let value = row.value.expect("count rows have values");
            let count = decoder.decode(&value).await.expect("a count decodes");
            table.insert(
                StationLineKey {
                    station_id: count.station_id,
                    line: count.line,
                },
                count.entries,
            );
        }
        let counted: u64 = table.values().sum();
        if counted >= total {
            return table;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the table counts {counted} of {total} entries"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
