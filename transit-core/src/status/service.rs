use std::sync::Arc;

use async_trait::async_trait;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{StatusModel, StatusSnapshot};
use crate::bus::{Delivery, EventBus, SubscribeOptions};
use crate::codec::{DecodeError, Decoder, SchemaRegistry};
use crate::event::{
    ArrivalEvent, HeadwayEvent, StationEvent, TurnstileCount, WeatherEvent, WeatherKey,
};
use crate::metrics::PipelineMetrics;
use crate::network::{cta, StationLocations};
use crate::processor::runner::{Output, Processor, ProcessorLoop};
use crate::processor::{applied_or_rejected, ProcessorError};
use crate::time::SimTime;
use crate::topics::Topics;

/// The name of the read model's consumer in metrics and dead letters.
pub const CONSUMER: &str = "transit-status";

/// The longest a change waits before a new snapshot is published.
pub const SNAPSHOT_EVERY: Duration = Duration::from_millis(100);

/// What a run of the status service did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusStats {
    /// Records applied to the model.
    pub applied: u64,
    /// Records sent to the dead-letter topic.
    pub dead_lettered: u64,
    /// Snapshots published.
    pub snapshots: u64,
}

impl std::fmt::Display for StatusStats {
    /// The counters in plain words, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::processor::runner::write_counts(
            f,
            &[
                ("applied", self.applied),
                ("dead-lettered", self.dead_lettered),
                ("snapshots", self.snapshots),
            ],
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Arrivals,
    Stations,
    Counts,
    Headways,
    Weather,
}

/// Feeds a [`StatusModel`] from the bus and publishes [`StatusSnapshot`]s.
///
/// It reads every partition of the station table, the arrivals of each line, the turnstile
/// counts, the headways and the weather from the earliest record kept (it is not a group member: every
/// dashboard shows the whole board). Snapshots go out on a watch channel at most every
/// [`SNAPSHOT_EVERY`], so readers such as the dashboard never wait on the model.
#[derive(Debug)]
pub struct StatusService {
    bus: Arc<dyn EventBus>,
    topics: Vec<(String, Source)>,
    arrivals: Decoder<ArrivalEvent>,
    stations: Decoder<StationEvent>,
    counts: Decoder<TurnstileCount>,
    headways: Decoder<HeadwayEvent>,
    weather: Decoder<WeatherEvent>,
    weather_keys: Decoder<WeatherKey>,
    dead_letter_topic: String,
    metrics: Arc<PipelineMetrics>,
    model: StatusModel,
    snapshots: watch::Sender<Arc<StatusSnapshot>>,
    published_version: u64,
    published_at: Instant,
}

impl StatusService {
    /// A service over `bus`, and the receiving end of its snapshots (which starts empty). The
    /// board's stations are at `locations`: those of the network it shows
    /// ([`Network::locations`](crate::network::Network::locations)).
    pub fn new(
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        topics: &Topics,
        locations: Arc<StationLocations>,
        metrics: Arc<PipelineMetrics>,
    ) -> Result<(Self, watch::Receiver<Arc<StatusSnapshot>>), ProcessorError> {
        let mut sources: Vec<(String, Source)> = cta::LINES
            .into_iter()
            .map(|line| (topics.arrivals(line), Source::Arrivals))
            .collect();
        sources.push((topics.stations(), Source::Stations));
        sources.push((topics.turnstile_counts(), Source::Counts));
        sources.push((topics.headways(), Source::Headways));
        sources.push((topics.weather(), Source::Weather));
        let model = StatusModel::new(locations);
        let (snapshots, receiver) = watch::channel(Arc::new(model.snapshot()));
        let service = Self {
            bus,
            topics: sources,
            arrivals: Decoder::new(Arc::clone(&registry))?,
            stations: Decoder::new(Arc::clone(&registry))?,
            counts: Decoder::new(Arc::clone(&registry))?,
            headways: Decoder::new(Arc::clone(&registry))?,
            weather: Decoder::new(Arc::clone(&registry))?,
            weather_keys: Decoder::new(registry)?,
            dead_letter_topic: topics.dead_letter(),
            metrics,
            published_version: model.version(),
            published_at: Instant::now(),
            model,
            snapshots,
        };
        Ok((service, receiver))
    }

    /// Applies records until `shutdown` is cancelled or the bus closes, then publishes a last
    /// snapshot.
    pub async fn run(self, shutdown: CancellationToken) -> Result<StatusStats, ProcessorError> {
        let names: Vec<String> = self.topics.iter().map(|(name, _)| name.clone()).collect();
        ProcessorLoop::new(
            Arc::clone(&self.bus),
            SubscribeOptions::topics(names),
            CONSUMER,
            self.dead_letter_topic.clone(),
            Arc::clone(&self.metrics),
        )
        .idle_every(SNAPSHOT_EVERY)
        .run(self, shutdown)
        .await
    }

    fn publish_snapshot(&mut self, stats: &mut StatusStats) {
        let snapshot = Arc::new(self.model.snapshot());
        self.published_version = snapshot.version;
        self.published_at = Instant::now();
        // No receiver left is not an error: the model keeps going for whoever subscribes.
        self.snapshots.send_replace(snapshot);
        stats.snapshots += 1;
    }

    async fn apply_one(&mut self, source: Source, delivery: &Delivery) -> Result<(), DecodeError> {
        let Some(value) = delivery.value.as_deref() else {
            // A tombstone on a table: nothing on the board depends on deletions yet.
            return Ok(());
        };
        match source {
            Source::Arrivals => {
                let arrival = self.arrivals.decode(value).await?;
                self.model.apply_arrival(&arrival);
                self.model.observe_time(SimTime(delivery.timestamp_ms));
            }
            Source::Stations => {
                let station = self.stations.decode(value).await?;
                self.model.apply_station(&station);
            }
            Source::Counts => {
                let count = self.counts.decode(value).await?;
                self.model.apply_count(&count);
            }
            Source::Headways => {
                let headway = self.headways.decode(value).await?;
                self.model.apply_headway(&headway);
            }
            Source::Weather => {
                let reading = self.weather.decode(value).await?;
                self.model.apply_weather(&reading);
                // A reading posted through the REST Proxy carries the proxy's wall-clock time
                // as its record time; the reading's own time is in its key.
                let time = match delivery.key.as_deref() {
                    Some(key) => self.weather_keys.decode(key).await?.timestamp,
                    None => delivery.timestamp_ms,
                };
                self.model.observe_time(SimTime(time));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Processor for StatusService {
    type Stats = StatusStats;

    async fn process(
        &mut self,
        batch: &[Delivery],
        output: &mut Output,
        stats: &mut StatusStats,
    ) -> Result<(), ProcessorError> {
        for delivery in batch {
            let Some(source) = self
                .topics
                .iter()
                .find(|(name, _)| *name == *delivery.topic)
                .map(|(_, source)| *source)
            else {
                continue;
            };
            let outcome = self.apply_one(source, delivery).await;
            if applied_or_rejected(outcome, delivery, output)? {
                stats.applied += 1;
            } else {
                stats.dead_lettered += 1;
            }
        }
        Ok(())
    }

    /// Publishes a snapshot when the model changed and the last one is [`SNAPSHOT_EVERY`] old.
    fn after_batch(&mut self, stats: &mut StatusStats) {
        let due = self.published_at.elapsed() >= SNAPSHOT_EVERY;
        if due && self.model.version() != self.published_version {
            self.publish_snapshot(stats);
        }
    }

    fn finish(&mut self, stats: &mut StatusStats) {
        if self.model.version() != self.published_version {
            self.publish_snapshot(stats);
        }
    }
}
