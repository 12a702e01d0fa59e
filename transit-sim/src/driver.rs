//! The publishing driver: runs a [`Simulation`] against any [`EventBus`].
//!
//! It steps the simulation, encodes each tick's events with the registered Avro codecs and
//! publishes them in batches, one batch per topic and tick, a tick's topics at once. It runs
//! paced (a speed factor over simulated time) or flat out, until a simulated end time or until
//! shut down. Flat out, a batch holds several ticks (up to [`FLAT_OUT_TICKS`], and never more
//! than one weather reading): each publish waits for the bus's acknowledgements, which cost
//! the same for a tick as for a half hour. Shutdown is a [`CancellationToken`]: the driver
//! finishes publishing the ticks it holds, flushes the bus, and returns what it published, so
//! nothing that was simulated is lost on Ctrl+C.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{SimTime, Simulation, TickEvents};
use transit_core::bus::{self, Delivery, EventBus, PublishError, Record, TopicSpec};
use transit_core::codec::{
    DecodeError, Decoder, EncodeError, Encoder, RegistryError, SchemaRegistry, TopicCodec,
};
use transit_core::event::{
    ArrivalEvent, TurnstileEvent, VehicleArrivalEvent, WeatherEvent, WeatherKey,
};
use transit_core::model::LineId;
use transit_core::monitor::RateMeter;
use transit_core::network::calls::NameCalls;
use transit_core::network::cta;
use transit_core::topics::Topics;

/// Ticks a flat-out run publishes together, at most (with 2-minute ticks, half an hour).
pub const FLAT_OUT_TICKS: usize = 15;

/// Records a flat-out run holds before it publishes, at most: a processor's batch.
const FLAT_OUT_RECORDS: usize = transit_core::processor::BATCH;

/// How fast simulated time runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// As fast as the bus takes it: for benchmarks, backfills and tests.
    FlatOut,
    /// This many simulated seconds per wall-clock second (1.0 is real time).
    Speed(f64),
}

/// What the driver does besides stepping.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// How fast simulated time runs.
    pub pace: Pace,
    /// Stop once simulated time reaches this; `None` runs until shut down.
    pub until: Option<SimTime>,
    /// How often (wall clock) to log progress: simulated time and events per second per topic.
    pub progress_every: Duration,
    /// Where weather readings go: `None` publishes them on the bus like every other event;
    /// a sink sends them another way (the original hardware posts them to a REST Proxy).
    pub weather_sink: Option<Arc<dyn WeatherSink>>,
    /// What-ifs submitted while it runs (an HTTP endpoint); `None`: only those scheduled on
    /// the simulation before the start. Applied what-ifs are logged either way.
    pub what_ifs: Option<crate::what_if::WhatIfs>,
}

/// Takes the simulation's hourly weather readings somewhere other than straight onto the bus.
#[async_trait::async_trait]
pub trait WeatherSink: std::fmt::Debug + Send + Sync + 'static {
    /// Delivers the reading taken at `time`; returns once it is stored.
    async fn send(
        &self,
        time: SimTime,
        reading: &WeatherEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            pace: Pace::Speed(60.0),
            until: None,
            progress_every: Duration::from_secs(5),
            weather_sink: None,
            what_ifs: None,
        }
    }
}

/// Why the driver stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// Registering a schema failed.
    #[error("registering the simulation's schemas")]
    Registry(#[from] RegistryError),
    /// Creating a topic failed.
    #[error("creating topic {topic}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// What the bus said.
        #[source]
        source: bus::Error,
    },
    /// An event could not be encoded (a bug in a schema or an event type).
    #[error("encoding an event for {topic}")]
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
    /// An arrival of a line the simulation has no arrivals topic for (its topics are CTA's
    /// lines').
    #[error("no arrivals topic for line {line}")]
    NoTopic {
        /// The line.
        line: LineId,
    },
    /// The weather sink refused a reading.
    #[error("sending the weather reading of {time}")]
    Weather {
        /// The simulated time of the reading.
        time: SimTime,
        /// What the sink said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Shutdown came while the weather sink still tried to deliver the reading of `time` (its
    /// service down): that reading was not delivered; everything published before it is
    /// flushed.
    #[error(
        "stopped while sending the weather reading of {time}: it was not delivered; \
         everything published before it is flushed"
    )]
    WeatherStopped {
        /// The simulated time of the reading.
        time: SimTime,
    },
    /// The final flush failed: some records may not be stored.
    #[error("flushing the bus at shutdown")]
    Flush(#[source] bus::Error),
}

/// The codecs of everything the simulation publishes, registered once.
#[derive(Debug)]
pub struct SimulationCodecs {
    arrivals: [TopicCodec<ArrivalEvent>; 3],
    turnstile: TopicCodec<TurnstileEvent>,
    weather_topic: String,
    weather_key: Encoder<WeatherKey>,
    weather_value: Encoder<WeatherEvent>,
    weather_key_decoder: Decoder<WeatherKey>,
    weather_value_decoder: Decoder<WeatherEvent>,
    /// The trains' calls as any agency's arrivals, and what names them by the static feed's
    /// ids: see [`SimulationCodecs::with_vehicle_arrivals`].
    vehicle_arrivals: Option<(TopicCodec<VehicleArrivalEvent>, Arc<dyn NameCalls>)>,
}

/// Why [`SimulationCodecs::check`] refused a record.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The record is not on one of the simulation's topics.
    #[error("{0} is not a topic the simulation publishes to")]
    UnknownTopic(String),
    /// The record does not decode as its topic's event.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl SimulationCodecs {
    /// Registers the key and value schemas of every simulation topic (`<topic>-key`,
    /// `<topic>-value`).
    pub async fn register(
        registry: Arc<dyn SchemaRegistry>,
        topics: &Topics,
    ) -> Result<Self, RegistryError> {
        let [blue, red, green] = cta::LINES;
        let weather_topic = topics.weather();
        let weather_key =
            Encoder::register(registry.as_ref(), &format!("{weather_topic}-key")).await?;
        let weather_value =
            Encoder::register(registry.as_ref(), &format!("{weather_topic}-value")).await?;
        let weather_key_decoder = Decoder::new(Arc::clone(&registry))?;
        weather_key_decoder.learn_own(weather_key.schema_id());
        let weather_value_decoder = Decoder::new(Arc::clone(&registry))?;
        weather_value_decoder.learn_own(weather_value.schema_id());
        Ok(Self {
            arrivals: [
                TopicCodec::register(Arc::clone(&registry), topics.arrivals(blue)).await?,
                TopicCodec::register(Arc::clone(&registry), topics.arrivals(red)).await?,
                TopicCodec::register(Arc::clone(&registry), topics.arrivals(green)).await?,
            ],
            turnstile: TopicCodec::register(Arc::clone(&registry), topics.turnstile_entries())
                .await?,
            weather_key,
            weather_value,
            weather_key_decoder,
            weather_value_decoder,
            weather_topic,
            vehicle_arrivals: None,
        })
    }

    /// Also publishes every call of a train in revenue service at a stop of its scheduled trip
    /// as a [`VehicleArrivalEvent`] named by `names` (the static feed's trip, stop and times),
    /// keyed by vehicle on [`Topics::vehicle_arrivals`], the topic any agency's arrivals are
    /// on; registers its schemas. Create the topic with [`create_vehicle_arrivals_topic`].
    pub async fn with_vehicle_arrivals(
        mut self,
        registry: Arc<dyn SchemaRegistry>,
        topics: &Topics,
        names: Arc<dyn NameCalls>,
    ) -> Result<Self, RegistryError> {
        let codec = TopicCodec::register(registry, topics.vehicle_arrivals()).await?;
        self.vehicle_arrivals = Some((codec, names));
        Ok(self)
    }

    /// The codec of the vehicle arrivals topic, when the simulation publishes it.
    pub fn vehicle_arrivals(&self) -> Option<&TopicCodec<VehicleArrivalEvent>> {
        self.vehicle_arrivals.as_ref().map(|(codec, _)| codec)
    }

    /// The codec of one line's arrivals topic; `None` for a line that is not CTA's.
    pub fn arrivals(&self, line: LineId) -> Option<&TopicCodec<ArrivalEvent>> {
        self.arrivals.get(cta::position(line)?)
    }

    /// The codec of the turnstile entries topic.
    pub fn turnstile(&self) -> &TopicCodec<TurnstileEvent> {
        &self.turnstile
    }

    /// The weather topic's name.
    pub fn weather_topic(&self) -> &str {
        &self.weather_topic
    }

    /// Encodes a weather reading taken at `time` into a record.
    pub fn weather_record(
        &self,
        reading: &WeatherEvent,
        time: SimTime,
    ) -> Result<Record, EncodeError> {
        let key = self.weather_key.encode(&WeatherKey { timestamp: time.0 })?;
        let value = self.weather_value.encode(reading)?;
        Ok(Record::new(key, value, time.0))
    }

    /// Decodes `delivery` as the event of its topic, with the schemas already known: a check
    /// that what was published is readable.
    pub fn check(&self, delivery: &Delivery) -> Result<(), CheckError> {
        let topic = &*delivery.topic;
        let value = delivery.value.as_deref().ok_or(DecodeError::MissingValue);
        if let Some(codec) = self.arrivals.iter().find(|c| c.topic() == topic) {
            codec.decode_value_cached(delivery)?;
        } else if topic == self.turnstile.topic() {
            self.turnstile.decode_value_cached(delivery)?;
        } else if let Some(codec) = self.vehicle_arrivals().filter(|c| c.topic() == topic) {
            codec.decode_value_cached(delivery)?;
        } else if topic == self.weather_topic {
            let key = delivery.key.as_deref().ok_or(DecodeError::MissingKey)?;
            self.weather_key_decoder.decode_cached(key)?;
            self.weather_value_decoder.decode_cached(value?)?;
        } else {
            return Err(CheckError::UnknownTopic(topic.to_string()));
        }
        Ok(())
    }

    /// The topics the simulation publishes to, in a stable order.
    pub fn topic_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .arrivals
            .iter()
            .map(|codec| codec.topic().to_string())
            .collect();
        names.push(self.turnstile.topic().to_string());
        names.push(self.weather_topic.clone());
        if let Some(codec) = self.vehicle_arrivals() {
            names.push(codec.topic().to_string());
        }
        names
    }
}

/// Creates the vehicle arrivals topic ([`Topics::vehicle_arrivals`]) with `partitions`
/// partitions (keyed by vehicle), for a simulation that publishes its calls there
/// ([`SimulationCodecs::with_vehicle_arrivals`]); an existing one is left as it is.
pub async fn create_vehicle_arrivals_topic(
    bus: &dyn EventBus,
    topics: &Topics,
    partitions: u32,
) -> Result<(), DriverError> {
    let spec = TopicSpec::new(topics.vehicle_arrivals(), partitions);
    bus.create_topic(&spec)
        .await
        .map_err(|source| DriverError::CreateTopic {
            topic: spec.name.clone(),
            source,
        })
}

/// Creates every topic the simulation publishes to (existing topics are left as they are).
///
/// Arrivals and turnstile entries get `partitions` partitions (keyed by station); weather gets
/// one, since it is one reading an hour and its order matters.
pub async fn create_simulation_topics(
    bus: &dyn EventBus,
    topics: &Topics,
    partitions: u32,
) -> Result<(), DriverError> {
    let mut specs: Vec<TopicSpec> = cta::LINES
        .into_iter()
        .map(|line| TopicSpec::new(topics.arrivals(line), partitions))
        .collect();
    specs.push(TopicSpec::new(topics.turnstile_entries(), partitions));
    specs.push(TopicSpec::new(topics.weather(), 1));
    for spec in specs {
        bus.create_topic(&spec)
            .await
            .map_err(|source| DriverError::CreateTopic {
                topic: spec.name.clone(),
                source,
            })?;
    }
    Ok(())
}

/// What a driver run published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// Ticks simulated and published.
    pub ticks: u64,
    /// Records published per topic.
    pub published: BTreeMap<String, u64>,
    /// Simulated time after the last tick.
    pub simulated_until: Option<SimTime>,
}

impl DriverStats {
    /// Records published over all topics.
    pub fn total(&self) -> u64 {
        self.published.values().sum()
    }
}

/// Runs `sim` against `bus` until `config.until` or until `shutdown` is cancelled.
///
/// Cancel-safe at tick granularity: a tick's records are either all published or the error
/// says which were not. The bus is flushed before returning `Ok`.
pub async fn run(
    bus: &dyn EventBus,
    sim: &mut Simulation,
    codecs: &SimulationCodecs,
    config: &DriverConfig,
    shutdown: CancellationToken,
) -> Result<DriverStats, DriverError> {
    let mut stats = DriverStats::default();
    let mut tick = TickEvents::default();
    let mut batches = TickBatches::default();
    let mut pacer = Pacer::new(config.pace, sim.config().tick);
    let mut progress = Progress::new(config.progress_every);
    let flat_out = config.pace == Pace::FlatOut;
    let mut held = 0;
    tracing::info!(
        start = %sim.now(),
        pace = %match config.pace {
            Pace::FlatOut => "flat out".to_string(),
            Pace::Speed(speed) => format!("{speed}x"),
        },
        until = %config.until.map_or_else(|| "Ctrl+C".to_string(), |t| t.to_string()),
        "simulation publishing"
    );
    loop {
        if shutdown.is_cancelled() {
            tracing::info!("shutdown requested: finishing");
            break;
        }
        if config.until.is_some_and(|until| sim.now() >= until) {
            break;
        }
        if let Some(what_ifs) = &config.what_ifs {
            what_ifs.schedule_submitted(sim);
        }
        sim.step(&mut tick);
        crate::what_if::record(sim, config.what_ifs.as_ref());
        let sink = config.weather_sink.as_deref();
        batches.encode(&tick, codecs, sink.is_some())?;
        held += 1;
        let hold_more = flat_out
            && held < FLAT_OUT_TICKS
            && batches.records() < FLAT_OUT_RECORDS
            && !batches.has_weather()
            && config.until.is_none_or(|until| sim.now() < until)
            && !shutdown.is_cancelled();
        if hold_more {
            continue;
        }
        published(
            bus,
            batches
                .publish(bus, codecs, sink, &mut stats, &shutdown)
                .await,
        )
        .await?;
        stats.ticks += held as u64;
        held = 0;
        stats.simulated_until = Some(tick.time);
        progress.maybe_log(&stats);
        tokio::select! {
            biased;
            () = shutdown.cancelled() => {}
            () = pacer.wait() => {}
        }
    }
    if held > 0 {
        // Ticks held when a shutdown came between two checks: simulated, so published.
        let sink = config.weather_sink.as_deref();
        published(
            bus,
            batches
                .publish(bus, codecs, sink, &mut stats, &shutdown)
                .await,
        )
        .await?;
        stats.ticks += held as u64;
        stats.simulated_until = Some(tick.time);
    }
    bus.flush().await.map_err(DriverError::Flush)?;
    tracing::info!(
        ticks = stats.ticks,
        records = stats.total(),
        simulated_until = %stats.simulated_until.map_or_else(|| "start".to_string(), |t| t.to_string()),
        "simulation stopped; everything published is flushed"
    );
    Ok(stats)
}

/// How long a weather sink still has, once shutdown is asked for, to finish delivering a
/// reading: an answer on its way arrives in time; a sink waiting out an outage is stopped, and
/// the process still stops within the second an operator waits after Ctrl+C.
const WEATHER_STOP_GRACE: Duration = Duration::from_millis(500);

/// `outcome` of a tick's publishing; a weather reading abandoned at shutdown
/// ([`DriverError::WeatherStopped`]) first flushes what was published before it, so that the
/// error is all that is lost.
async fn published(
    bus: &dyn EventBus,
    outcome: Result<(), DriverError>,
) -> Result<(), DriverError> {
    if let Err(DriverError::WeatherStopped { time }) = &outcome {
        bus.flush().await.map_err(DriverError::Flush)?;
        tracing::info!(
            reading = %time,
            "shutdown while the weather reading was being sent: it was not delivered; \
             everything published before it is flushed"
        );
    }
    outcome
}

/// Resolves [`WEATHER_STOP_GRACE`] after `shutdown` is cancelled.
async fn stopping(shutdown: &CancellationToken) {
    shutdown.cancelled().await;
    tokio::time::sleep(WEATHER_STOP_GRACE).await;
}

/// One tick's records, grouped by topic; each vector starts with the size of the tick before.
#[derive(Debug, Default)]
struct TickBatches {
    arrivals: [Vec<Record>; 3],
    turnstile: Vec<Record>,
    vehicle_arrivals: Vec<Record>,
    weather: Option<Record>,
    /// The tick's reading, for a weather sink, with its time.
    reading: Option<(SimTime, WeatherEvent)>,
}

impl TickBatches {
    /// Records held.
    fn records(&self) -> usize {
        self.arrivals.iter().map(Vec::len).sum::<usize>()
            + self.turnstile.len()
            + self.vehicle_arrivals.len()
    }

    /// Whether a weather reading is held (a batch holds one at most).
    fn has_weather(&self) -> bool {
        self.weather.is_some() || self.reading.is_some()
    }

    fn encode(
        &mut self,
        tick: &TickEvents,
        codecs: &SimulationCodecs,
        to_sink: bool,
    ) -> Result<(), DriverError> {
        let time = tick.time.0;
        for arrival in &tick.arrivals {
            let line = arrival.line;
            let (Some(codec), Some(records)) = (
                codecs.arrivals(line),
                cta::position(line).and_then(|i| self.arrivals.get_mut(i)),
            ) else {
                return Err(DriverError::NoTopic { line });
            };
            let record = codec
                .record(arrival, time)
                .map_err(|source| encode_error(codec.topic(), source))?;
            records.push(record);
        }
        let codec = codecs.turnstile();
        for entry in &tick.turnstile_entries {
            let record = codec
                .record(entry, time)
                .map_err(|source| encode_error(codec.topic(), source))?;
            self.turnstile.push(record);
        }
        if let Some((codec, names)) = &codecs.vehicle_arrivals {
            for call in &tick.calls {
                let Some(event) = names.vehicle_arrival(call) else {
                    tracing::debug!(train = %call.train, stop = call.stop, "a call no trip of the feed names");
                    continue;
                };
                // Stamped with the instant it names, as any agency's arrivals are.
                let record = codec
                    .record(&event, event.arrival_time)
                    .map_err(|source| encode_error(codec.topic(), source))?;
                self.vehicle_arrivals.push(record);
            }
        }
        if to_sink {
            self.reading = tick.weather.map(|reading| (tick.time, reading));
            return Ok(());
        }
        self.weather = tick
            .weather
            .as_ref()
            .map(|reading| codecs.weather_record(reading, tick.time))
            .transpose()
            .map_err(|source| encode_error(codecs.weather_topic(), source))?;
        Ok(())
    }

    async fn publish(
        &mut self,
        bus: &dyn EventBus,
        codecs: &SimulationCodecs,
        sink: Option<&dyn WeatherSink>,
        stats: &mut DriverStats,
        shutdown: &CancellationToken,
    ) -> Result<(), DriverError> {
        let [blue, red, green] = &codecs.arrivals;
        let topics = [
            blue.topic(),
            red.topic(),
            green.topic(),
            codecs.turnstile().topic(),
            codecs.weather_topic(),
            codecs.vehicle_arrivals().map_or("", |codec| codec.topic()),
        ];
        let weather: Vec<Record> = self.weather.take().into_iter().collect();
        let [a, b, c] = &mut self.arrivals;
        // A tick's topics at once: each publish waits for its acknowledgements (a producer's
        // linger, the broker's round trip), and one topic after another those waits added up
        // to most of a flat-out run on Kafka. Order is kept where the bus promises it: per key,
        // within a topic.
        let outcomes = tokio::join!(
            publish_batch(bus, topics[0], take_sized(a)),
            publish_batch(bus, topics[1], take_sized(b)),
            publish_batch(bus, topics[2], take_sized(c)),
            publish_batch(bus, topics[3], take_sized(&mut self.turnstile)),
            publish_batch(bus, topics[4], weather),
            publish_batch(bus, topics[5], take_sized(&mut self.vehicle_arrivals)),
        );
        let outcomes = [
            outcomes.0, outcomes.1, outcomes.2, outcomes.3, outcomes.4, outcomes.5,
        ];
        let mut first_error = None;
        for (topic, outcome) in topics.into_iter().zip(outcomes) {
            match outcome {
                Ok(0) => {}
                Ok(count) => match stats.published.get_mut(topic) {
                    Some(total) => *total += count,
                    None => {
                        stats.published.insert(topic.to_string(), count);
                    }
                },
                Err(error) if first_error.is_none() => first_error = Some(error),
                Err(error) => {
                    tracing::warn!(error = %error, "another topic of the tick failed too");
                }
            }
        }
        if let Some(error) = first_error {
            return Err(error);
        }
        if let (Some((time, reading)), Some(sink)) = (self.reading.take(), sink) {
            // A sink waiting for its service (a REST Proxy down) would hold the process past
            // a Ctrl+C: shutdown stops it.
            let sent = tokio::select! {
                sent = sink.send(time, &reading) => sent,
                () = stopping(shutdown) => return Err(DriverError::WeatherStopped { time }),
            };
            sent.map_err(|source| DriverError::Weather { time, source })?;
            *stats
                .published
                .entry(codecs.weather_topic().to_string())
                .or_default() += 1;
        }
        Ok(())
    }
}

/// The records in `batch`, leaving it empty with room for as many: the bus takes the vector,
/// and growing a new one from nothing every tick (hundreds of records, some 100 KB) cost more
/// in reallocations and fresh pages than encoding them.
fn take_sized(batch: &mut Vec<Record>) -> Vec<Record> {
    let room = batch.len();
    std::mem::replace(batch, Vec::with_capacity(room))
}

fn encode_error(topic: &str, source: EncodeError) -> DriverError {
    DriverError::Encode {
        topic: topic.to_string(),
        source,
    }
}

/// Publishes `records` to `topic`; returns how many.
async fn publish_batch(
    bus: &dyn EventBus,
    topic: &str,
    records: Vec<Record>,
) -> Result<u64, DriverError> {
    if records.is_empty() {
        return Ok(0);
    }
    let count = records.len() as u64;
    bus.publish_batch(topic, records)
        .await
        .map_err(|source| DriverError::Publish {
            topic: topic.to_string(),
            source,
        })?;
    Ok(count)
}

/// Keeps simulated time in step with the wall clock at a speed factor.
///
/// It schedules against deadlines rather than sleeping a fixed time per tick, so the time spent
/// publishing does not make the simulation drift slower than asked.
#[derive(Debug)]
struct Pacer {
    period: Option<Duration>,
    next: tokio::time::Instant,
}

impl Pacer {
    fn new(pace: Pace, tick: Duration) -> Self {
        let period = match pace {
            Pace::FlatOut => None,
            Pace::Speed(speed) if speed.is_finite() && speed > 0.0 => {
                Some(tick.div_f64(speed).max(Duration::from_micros(1)))
            }
            Pace::Speed(_) => None,
        };
        Self {
            period,
            next: tokio::time::Instant::now(),
        }
    }

    async fn wait(&mut self) {
        match self.period {
            None => tokio::task::yield_now().await,
            Some(period) => {
                self.next += period;
                let now = tokio::time::Instant::now();
                // After a stall (a suspended laptop, a slow consumer), don't burst to catch up.
                if self.next + period * 10 < now {
                    self.next = now;
                }
                tokio::time::sleep_until(self.next).await;
            }
        }
    }
}

/// Logs simulated time and per-topic rates every so often (wall clock).
#[derive(Debug)]
struct Progress {
    meter: RateMeter,
}

impl Progress {
    fn new(every: Duration) -> Self {
        Self {
            meter: RateMeter::new(every),
        }
    }

    fn maybe_log(&mut self, stats: &DriverStats) {
        let counts = stats.published.iter().map(|(t, n)| (t.as_str(), *n));
        if let Some(rates) = self.meter.report(counts) {
            tracing::info!(
                simulated_time = %stats.simulated_until.map(|t| t.to_string()).unwrap_or_default(),
                ticks = stats.ticks,
                events_per_sec = format!("{:.0}", rates.total_per_sec),
                per_topic = %rates.per_topic,
                "publishing"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimConfig;

    /// A sink whose service never answers: it waits for ever, as one retrying would.
    #[derive(Debug)]
    struct Unanswered;

    #[async_trait::async_trait]
    impl WeatherSink for Unanswered {
        async fn send(
            &self,
            _time: SimTime,
            _reading: &WeatherEvent,
        ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn shutdown_stops_a_weather_sink_waiting_for_its_service_and_flushes_the_rest() {
        let bus = transit_mem::MemBus::new();
        let registry: Arc<dyn transit_core::codec::SchemaRegistry> =
            Arc::new(transit_mem::MemRegistry::new());
        let topics = Topics::default();
        create_simulation_topics(&bus, &topics, 1).await.unwrap();
        let codecs = SimulationCodecs::register(registry, &topics).await.unwrap();
        let mut sim = crate::testing::simulation(SimConfig::default());
        let config = DriverConfig {
            pace: Pace::FlatOut,
            weather_sink: Some(Arc::new(Unanswered)),
            ..DriverConfig::default()
        };
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let asked = Duration::from_millis(300);
        tokio::spawn(async move {
            tokio::time::sleep(asked).await;
            stop.cancel();
        });
        let started = std::time::Instant::now();
        let outcome = run(&bus, &mut sim, &codecs, &config, shutdown).await;
        let took = started.elapsed();
        assert!(
            matches!(outcome, Err(DriverError::WeatherStopped { .. })),
            "{outcome:?}"
        );
        assert!(
            took >= asked && took < asked + WEATHER_STOP_GRACE + Duration::from_millis(500),
            "stopped after {took:?}"
        );
        // The ticks before the reading were published.
        let published: u64 = codecs
            .topic_names()
            .iter()
            .filter_map(|topic| bus.offsets(topic, 0))
            .map(|(_, end)| end)
            .sum();
        assert!(published > 0);
    }
}
