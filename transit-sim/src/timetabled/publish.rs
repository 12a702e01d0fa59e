//! The publishing driver of a [`TimetabledSimulation`]: any feed's day on any bus.
//!
//! Each step advances the simulation and publishes the step's arrivals, in the order they
//! happened, as [`VehicleArrivalEvent`]s on one topic ([`Topics::vehicle_arrivals`]) for every
//! route, keyed by vehicle (so a vehicle's records stay in order on one partition), in one
//! batch per step. Every record carries real instants (UTC): the service day's
//! [`ServiceDay::start_unix_s`] plus the simulated seconds, and is stamped with its arrival.
//!
//! Three clocks ([`Clock`]): flat out, a speed factor over simulated time, and **live**: the
//! simulation is brought to the current wall-clock time without publishing the day so far,
//! except the current state (each vehicle in service's latest arrival on the trip it runs), and
//! then runs at 1×, each step reaching the wall clock's current second, so a record is
//! published within about a second of the instant it names. The speed factor's steps, too,
//! aim at the time the clock says rather than sleeping a fixed time per step, so time spent
//! publishing does not make it drift.
//!
//! Trips the simulation drops ([`TimetabledSimulation::skipped_trips`]) are published, when
//! [`PublishConfig::cancellations`] says where, as [`TripCancellation`]s
//! ([`Topics::trip_cancellations`]) in the step they were dropped in, before its arrivals; a
//! live start publishes those of the trips not yet over.
//!
//! Shutdown is a [`CancellationToken`]: the driver publishes the step it holds, flushes the
//! bus and returns what it published.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use transit_core::bus::{self, EventBus, PublishError, Record, TopicSpec};
use transit_core::codec::{EncodeError, RegistryError, SchemaRegistry, TopicCodec};
use transit_core::event::{TripCancellation, VehicleArrivalEvent};
use transit_core::network::service_day::ServiceDay;
use transit_core::topics::Topics;

use super::{StopArrival, TimetabledSimulation, TripIndex};

/// How simulated time runs against the wall clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clock {
    /// As fast as the bus takes it, [`TimetabledConfig::tick_s`](super::TimetabledConfig)
    /// simulated seconds a step: for backfills and tests.
    FlatOut,
    /// This many simulated seconds per wall-clock second, from where the simulation stands.
    Speed(f64),
    /// The wall clock itself: start at the current time in the service day and run at 1×.
    Live,
}

/// What the driver does besides stepping.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// How simulated time runs.
    pub clock: Clock,
    /// Stop once the simulated clock reaches this (seconds from the day's start); `None` runs
    /// until the day is over or until shut down.
    pub until_s: Option<u32>,
    /// How often (wall clock) to log progress.
    pub progress_every: Duration,
    /// Where the trips dropped are said ([`register_cancellations`]); `None` says nothing of
    /// them (their vehicles' arrivals show only that they never ran).
    pub cancellations: Option<Arc<TopicCodec<TripCancellation>>>,
}

impl Default for PublishConfig {
    fn default() -> Self {
        Self {
            clock: Clock::Live,
            until_s: None,
            progress_every: Duration::from_secs(10),
            cancellations: None,
        }
    }
}

/// Why the driver stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TimetabledPublishError {
    /// Creating the topic failed.
    #[error("creating topic {topic}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// What the bus said.
        #[source]
        source: bus::Error,
    },
    /// An arrival names a trip or stop its day does not have (a bug: the simulation checks the
    /// day when it is built).
    #[error("an arrival names trip {trip} or stop {stop}, which the day does not have")]
    NotInDay {
        /// The trip's index.
        trip: u32,
        /// The stop's index.
        stop: u32,
    },
    /// An arrival could not be encoded (a bug in the schema or the event type).
    #[error("encoding an arrival for {topic}")]
    Encode {
        /// The topic it was meant for.
        topic: String,
        /// What the encoder said.
        #[source]
        source: EncodeError,
    },
    /// The bus refused a batch; the records it did not store are in the error.
    #[error("publishing to {topic}")]
    Publish {
        /// The topic.
        topic: String,
        /// What the bus said, with the records it did not store.
        #[source]
        source: PublishError,
    },
    /// The final flush failed: some records may not be stored.
    #[error("flushing the bus at shutdown")]
    Flush(#[source] bus::Error),
}

/// What a run published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimetabledPublishStats {
    /// Steps taken.
    pub steps: u64,
    /// Records published, the current state's at a live start among them.
    pub published: u64,
    /// Of those, the current state published at a live start: each vehicle in service's latest
    /// arrival, which happened before the run started.
    pub current_state: u64,
    /// Trips dropped, published as cancellations (none unless
    /// [`PublishConfig::cancellations`] is set).
    pub cancellations: u64,
    /// Arrivals before a live start, not published.
    pub skipped: u64,
    /// Where the simulated clock stood when publishing began (seconds from the day's start).
    pub started_at_s: u32,
    /// The simulated clock after the last step.
    pub simulated_until_s: u32,
}

/// Registers the any-feed arrivals topic's key and value schemas (`<topic>-key`,
/// `<topic>-value`).
pub async fn register_codec(
    registry: Arc<dyn SchemaRegistry>,
    topics: &Topics,
) -> Result<TopicCodec<VehicleArrivalEvent>, RegistryError> {
    TopicCodec::register(registry, topics.vehicle_arrivals()).await
}

/// Registers the trip cancellations topic's key and value schemas (`<topic>-key`,
/// `<topic>-value`), for [`PublishConfig::cancellations`].
pub async fn register_cancellations(
    registry: Arc<dyn SchemaRegistry>,
    topics: &Topics,
) -> Result<TopicCodec<TripCancellation>, RegistryError> {
    TopicCodec::register(registry, topics.trip_cancellations()).await
}

/// Creates the any-feed arrivals topic and the trip cancellations topic with `partitions`
/// partitions each (an existing one is left as it is): one topic each whatever the number of
/// routes.
pub async fn create_topic(
    bus: &dyn EventBus,
    topics: &Topics,
    partitions: u32,
) -> Result<(), TimetabledPublishError> {
    for name in [topics.vehicle_arrivals(), topics.trip_cancellations()] {
        let spec = TopicSpec::new(name, partitions);
        bus.create_topic(&spec)
            .await
            .map_err(|source| TimetabledPublishError::CreateTopic {
                topic: spec.name.clone(),
                source,
            })?;
    }
    Ok(())
}

/// The trip cancellation of `trip`, dropped at `at_s` (seconds from the day's start);
/// `None` if `day` does not have it.
pub fn cancellation_event(
    day: &ServiceDay,
    trip: TripIndex,
    at_s: u32,
) -> Option<TripCancellation> {
    let scheduled = day.trip(trip)?;
    let vehicle = day.vehicles.get(scheduled.vehicle.0 as usize)?;
    let ms = |seconds: u32| day.unix_s(seconds) * 1_000;
    Some(TripCancellation {
        route_id: scheduled.route.as_str().to_string(),
        trip_id: scheduled.trip_id.clone(),
        start_date: day.requested.format("%Y%m%d").to_string(),
        start_time: scheduled.frequency_start_s.map(gtfs_time),
        direction_id: scheduled.direction_id.map(i32::from),
        vehicle_id: vehicle.id.clone(),
        scheduled_start_time: ms(scheduled.stops.first()?.departure_s),
        scheduled_end_time: ms(scheduled.stops.last()?.arrival_s),
        announced_time: ms(at_s),
    })
}

/// `arrival` as the record the feeds read: the day's ids, real instants; `None` if it names a
/// trip or stop `day` does not have.
pub fn arrival_event(day: &ServiceDay, arrival: &StopArrival) -> Option<VehicleArrivalEvent> {
    let trip = day.trip(arrival.trip)?;
    let stop = day.stop(arrival.stop)?;
    let vehicle = day.vehicles.get(trip.vehicle.0 as usize)?;
    let ms = |seconds: u32| day.unix_s(seconds) * 1_000;
    Some(VehicleArrivalEvent {
        route_id: arrival.route.as_str().to_string(),
        trip_id: trip.trip_id.clone(),
        start_date: day.requested.format("%Y%m%d").to_string(),
        start_time: trip.frequency_start_s.map(gtfs_time),
        direction_id: trip.direction_id.map(i32::from),
        stop_id: stop.id.clone(),
        stop_sequence: arrival.stop_sequence,
        vehicle_id: vehicle.id.clone(),
        arrival_time: ms(arrival.arrival_s),
        departure_time: ms(arrival.departure_s),
        scheduled_arrival_time: ms(arrival.scheduled_arrival_s),
        scheduled_departure_time: ms(arrival.scheduled_departure_s),
        boarded: arrival.boarded,
        alighted: arrival.alighted,
    })
}

/// Seconds from the service day's start as GTFS writes them, `HH:MM:SS` (past `24:00:00`
/// after midnight).
pub fn gtfs_time(seconds: u32) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// The wall clock, milliseconds since the Unix epoch.
fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// Where the wall clock stands in `day`, whole seconds from its start (0 before it).
fn wall_seconds_in(day: &ServiceDay) -> u32 {
    let seconds = wall_ms().div_euclid(1_000) - day.start_unix_s;
    u32::try_from(seconds.max(0)).unwrap_or(u32::MAX)
}

/// Brings `sim` to the wall clock's second in its day without publishing, keeping each
/// vehicle's latest arrival; returns the arrivals of the vehicles in service then on the trips
/// they run, in the order they happened, and how many arrivals there were in all.
///
/// The clock is read again after each chunk: a big feed's day so far takes a moment to
/// simulate, and the run starts where the wall clock is once that is done.
fn catch_up(sim: &mut TimetabledSimulation) -> (Vec<StopArrival>, u64) {
    // A chunk at a time, so a big feed's morning is never held in memory at once.
    const CHUNK_S: u32 = 600;
    let mut latest: Vec<Option<StopArrival>> = vec![None; sim.day().vehicles.len()];
    let mut chunk = Vec::new();
    let mut skipped = 0;
    let day = Arc::clone(sim.day());
    loop {
        let until = wall_seconds_in(&day);
        if sim.now() >= until {
            break;
        }
        // A day over long ago (or a clock far ahead) has nothing left to go through.
        let to = if sim.is_finished() {
            until
        } else {
            sim.now().saturating_add(CHUNK_S).min(until)
        };
        chunk.clear();
        sim.advance_to(to, &mut chunk);
        skipped += chunk.len() as u64;
        for arrival in &chunk {
            if let Some(slot) = latest.get_mut(arrival.vehicle.0 as usize) {
                *slot = Some(*arrival);
            }
        }
    }
    let mut state: Vec<StopArrival> = sim
        .positions()
        .iter()
        .filter_map(|position| {
            latest
                .get(position.vehicle.0 as usize)
                .copied()
                .flatten()
                .filter(|arrival| arrival.trip == position.trip)
        })
        .collect();
    state.sort_by_key(|arrival| (arrival.arrival_s, arrival.vehicle));
    (state, skipped)
}

/// Runs `sim` against `bus` with `config`'s clock until `config.until_s`, the end of the day,
/// or until `shutdown` is cancelled; publishes through `codec` (see [`register_codec`]).
///
/// [`Clock::Live`] starts where the wall clock is in the day, having published the current
/// state (see the module docs); before the day starts it waits, publishing nothing, and a day
/// already over returns at once. The other clocks start where `sim` stands.
///
/// Cancel-safe at step granularity: a step's records are either all published or the error
/// says which were not. The bus is flushed before returning `Ok`.
///
/// # Example
///
/// One bus trip of two stops, flat out on the in-memory bus, read back:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
///
/// use chrono::NaiveDate;
/// use tokio_util::sync::CancellationToken;
/// use transit_core::bus::{Consumer, EventBus, SubscribeOptions};
/// use transit_core::model::{LineId, Rgb, Route};
/// use transit_core::network::service_day::*;
/// use transit_core::topics::Topics;
/// use transit_mem::{MemBus, MemRegistry};
/// use transit_sim::timetabled::publish::{self, Clock, PublishConfig};
/// use transit_sim::timetabled::{TimetabledConfig, TimetabledSimulation};
///
/// let route = LineId::new("M1")?;
/// let stop = |id: &str| StopPlace { id: id.into(), name: id.into(), location: None, parent: None };
/// let at = |stop, s| ScheduledStop { stop: StopIndex(stop), arrival_s: s, departure_s: s, stop_sequence: stop + 1 };
/// let date = NaiveDate::from_ymd_opt(2026, 12, 7).ok_or("a date")?;
/// let day = ServiceDay {
///     timezone: "America/New_York".into(),
///     requested: date,
///     date,
///     start_unix_s: 1_796_619_600,
///     routes: vec![Route {
///         id: route,
///         short_name: "M1".into(),
///         long_name: String::new(),
///         route_type: 3,
///         color: Rgb::WHITE,
///         text_color: Rgb::BLACK,
///     }],
///     stops: vec![stop("a"), stop("b")],
///     trips: vec![ScheduledTrip {
///         trip_id: "t1".into(),
///         route,
///         direction_id: Some(0),
///         frequency_start_s: None,
///         exact_times: false,
///         shape_id: None,
///         vehicle: VehicleIndex(0),
///         stops: vec![at(0, 8 * 3_600), at(1, 8 * 3_600 + 300)],
///     }],
///     vehicles: vec![Vehicle { id: "bus".into(), trips: vec![TripIndex(0)] }],
/// };
/// let mut sim = TimetabledSimulation::new(Arc::new(day), TimetabledConfig::embedded(7)?)?;
///
/// let bus = MemBus::new();
/// let topics = Topics::new("gov.example.transit");
/// publish::create_topic(&bus, &topics, 4).await?;
/// let codec = publish::register_codec(Arc::new(MemRegistry::new()), &topics).await?;
/// let config = PublishConfig { clock: Clock::FlatOut, ..PublishConfig::default() };
/// let stats = publish::run(&bus, &mut sim, &codec, &config, CancellationToken::new()).await?;
/// assert_eq!(stats.published, 2);
///
/// let mut consumer = bus.subscribe(SubscribeOptions::topics([codec.topic()])).await?;
/// let delivery = consumer.recv().await.ok_or("the bus is open")??;
/// let (_, arrival) = codec.decode(&delivery).await?;
/// assert_eq!((&*arrival.route_id, &*arrival.trip_id, &*arrival.stop_id), ("M1", "t1", "a"));
/// assert_eq!(arrival.start_date, "20261207");
/// // 08:00 of the day, as a real instant: its start plus the seconds.
/// assert_eq!(arrival.scheduled_arrival_time, (1_796_619_600 + 8 * 3_600) * 1_000);
/// # Ok(())
/// # }
/// ```
pub async fn run(
    bus: &dyn EventBus,
    sim: &mut TimetabledSimulation,
    codec: &TopicCodec<VehicleArrivalEvent>,
    config: &PublishConfig,
    shutdown: CancellationToken,
) -> Result<TimetabledPublishStats, TimetabledPublishError> {
    let day = Arc::clone(sim.day());
    let mut stats = TimetabledPublishStats::default();
    let mut arrivals = Vec::new();
    let cancellations = config.cancellations.as_deref();
    let mut dropped = Dropped::default();
    if config.clock == Clock::Live {
        let (state, skipped) = catch_up(sim);
        stats.skipped = skipped - state.len() as u64;
        stats.current_state = state.len() as u64;
        arrivals = state;
        // Of the trips dropped before the start, those over say nothing any more.
        dropped.over_before_s = Some(sim.now());
    }
    stats.started_at_s = sim.now();
    tracing::info!(
        topic = codec.topic(),
        clock = ?config.clock,
        start_s = stats.started_at_s,
        start_unix_s = day.unix_s(stats.started_at_s),
        skipped = stats.skipped,
        "timetabled simulation publishing"
    );
    let origin = (tokio::time::Instant::now(), sim.now());
    let tick_s = sim.config.tick_s.max(1);
    let mut last_log = tokio::time::Instant::now();
    loop {
        let target = match config.clock {
            Clock::FlatOut => sim.now().saturating_add(tick_s),
            Clock::Speed(speed) if speed.is_finite() && speed > 0.0 => {
                let elapsed = origin.0.elapsed().as_secs_f64() * speed;
                origin
                    .1
                    .saturating_add(elapsed.min(f64::from(u32::MAX)) as u32)
            }
            Clock::Speed(_) => sim.now().saturating_add(tick_s),
            Clock::Live => wall_seconds_in(&day),
        };
        let target = config.until_s.map_or(target, |until| target.min(until));
        sim.advance_to(target, &mut arrivals);
        if let Some(cancellations) = cancellations {
            dropped.publish(bus, sim, cancellations, &mut stats).await?;
        }
        publish(bus, &day, codec, &mut arrivals, &mut stats).await?;
        stats.steps += 1;
        stats.simulated_until_s = sim.now();
        if last_log.elapsed() >= config.progress_every {
            last_log = tokio::time::Instant::now();
            tracing::info!(
                simulated_s = stats.simulated_until_s,
                published = stats.published,
                "publishing"
            );
        }
        let until_reached = config.until_s.is_some_and(|until| sim.now() >= until);
        if shutdown.is_cancelled() || until_reached || sim.is_finished() {
            break;
        }
        let pause = match config.clock {
            Clock::FlatOut => None,
            Clock::Speed(speed) if speed.is_finite() && speed > 0.0 => Some(
                Duration::from_secs_f64(f64::from(tick_s) / speed).max(Duration::from_millis(1)),
            ),
            Clock::Speed(_) => None,
            // To just past the wall clock's next whole second, when its arrivals are all due.
            Clock::Live => Some(Duration::from_millis(
                1_000 - wall_ms().rem_euclid(1_000) as u64 + 5,
            )),
        };
        match pause {
            None => tokio::task::yield_now().await,
            Some(pause) => {
                tokio::select! {
                    biased;
                    () = shutdown.cancelled() => {}
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
        if shutdown.is_cancelled() {
            tracing::info!("shutdown requested: finishing");
            break;
        }
    }
    bus.flush().await.map_err(TimetabledPublishError::Flush)?;
    tracing::info!(
        steps = stats.steps,
        records = stats.published,
        cancellations = stats.cancellations,
        simulated_until_s = stats.simulated_until_s,
        "timetabled simulation stopped; everything published is flushed"
    );
    Ok(stats)
}

/// Where the driver stands in the simulation's list of trips dropped.
#[derive(Debug, Default)]
struct Dropped {
    /// The first of [`TimetabledSimulation::skipped_trips`] not yet published.
    next: usize,
    /// Trips whose last stop was due before this (seconds) are not published: the ones a live
    /// start went through.
    over_before_s: Option<u32>,
}

impl Dropped {
    /// Publishes the trips `sim` dropped since the last call as one batch.
    async fn publish(
        &mut self,
        bus: &dyn EventBus,
        sim: &TimetabledSimulation,
        codec: &TopicCodec<TripCancellation>,
        stats: &mut TimetabledPublishStats,
    ) -> Result<(), TimetabledPublishError> {
        let (trips, times) = (sim.skipped_trips(), sim.skipped_at_s());
        if self.next >= trips.len() {
            return Ok(());
        }
        let day = sim.day();
        let over_before_ms = self.over_before_s.map(|s| day.unix_s(s) * 1_000);
        let mut records = Vec::new();
        for (trip, at_s) in trips.iter().zip(times).skip(self.next) {
            let event =
                cancellation_event(day, *trip, *at_s).ok_or(TimetabledPublishError::NotInDay {
                    trip: trip.0,
                    stop: 0,
                })?;
            if over_before_ms.is_some_and(|over| event.scheduled_end_time < over) {
                continue;
            }
            records.push(
                codec
                    .record(&event, event.announced_time)
                    .map_err(|source| TimetabledPublishError::Encode {
                        topic: codec.topic().to_string(),
                        source,
                    })?,
            );
        }
        self.next = trips.len();
        self.over_before_s = None;
        if records.is_empty() {
            return Ok(());
        }
        let count = records.len() as u64;
        bus.publish_batch(codec.topic(), records)
            .await
            .map_err(|source| TimetabledPublishError::Publish {
                topic: codec.topic().to_string(),
                source,
            })?;
        stats.cancellations += count;
        Ok(())
    }
}

/// Publishes `arrivals` (emptied) as one batch.
async fn publish(
    bus: &dyn EventBus,
    day: &ServiceDay,
    codec: &TopicCodec<VehicleArrivalEvent>,
    arrivals: &mut Vec<StopArrival>,
    stats: &mut TimetabledPublishStats,
) -> Result<(), TimetabledPublishError> {
    if arrivals.is_empty() {
        return Ok(());
    }
    let records = arrivals
        .drain(..)
        .map(|arrival| {
            let event = arrival_event(day, &arrival).ok_or(TimetabledPublishError::NotInDay {
                trip: arrival.trip.0,
                stop: arrival.stop.0,
            })?;
            codec.record(&event, event.arrival_time).map_err(|source| {
                TimetabledPublishError::Encode {
                    topic: codec.topic().to_string(),
                    source,
                }
            })
        })
        .collect::<Result<Vec<Record>, _>>()?;
    let count = records.len() as u64;
    bus.publish_batch(codec.topic(), records)
        .await
        .map_err(|source| TimetabledPublishError::Publish {
            topic: codec.topic().to_string(),
            source,
        })?;
    stats.published += count;
    Ok(())
}
