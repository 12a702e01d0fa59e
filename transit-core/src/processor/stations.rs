//! The station processor: raw station rows in, one clean station per station and line out.
//!
//! Each station has one raw row per direction. The processor groups them by station and line,
//! agrees on a name (the real data spells one station two ways), and publishes a
//! [`StationEvent`] to the compacted station table whenever what it would say changes. Rows on
//! none or several of the three lines are refused: logged, counted, and copied to the
//! dead-letter topic with the reason, never dropped silently.
//!
//! Replays are harmless: the table is keyed by station and line, so publishing a station again
//! overwrites it with the same value.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{commit_positions, next_batch, publish, ProcessorError};
use crate::bus::{Delivery, EventBus, SubscribeOptions, TopicSpec};
use crate::codec::{SchemaRegistry, TopicCodec};
use crate::deadletter::DeadLetters;
use crate::event::{StationEvent, StationLineKey, StationRow};
use crate::metrics::PipelineMetrics;
use crate::model::LineColor;
use crate::topics::Topics;

/// The consumer group, and the name in metrics and dead letters.
pub const CONSUMER: &str = "transit-station-processor";

/// What a run of the station processor did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StationStats {
    /// Raw rows read.
    pub rows: u64,
    /// Stations published to the table (a station again when its name changed).
    pub published: u64,
    /// Rows on none of the three lines.
    pub off_line: u64,
    /// Rows on more than one of the three lines.
    pub multi_line: u64,
    /// Records that did not decode as station rows.
    pub undecodable: u64,
}

/// The station processor of one deployment.
#[derive(Debug)]
pub struct StationProcessor {
    bus: Arc<dyn EventBus>,
    rows: TopicCodec<StationRow>,
    table: TopicCodec<StationEvent>,
    dead_letters: DeadLetters,
    metrics: Arc<PipelineMetrics>,
    group: String,
    /// The rows seen per station and line, by stop id, and what was last published for it.
    stations: HashMap<StationLineKey, (BTreeMap<u32, StationRow>, Option<StationEvent>)>,
}

impl StationProcessor {
    /// Registers the schemas and creates the table and dead-letter topics.
    pub async fn new(
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        topics: &Topics,
        metrics: Arc<PipelineMetrics>,
    ) -> Result<Self, ProcessorError> {
        let rows = TopicCodec::register(Arc::clone(&registry), topics.station_rows()).await?;
        let table = TopicCodec::register(registry, topics.stations()).await?;
        let dead_letters = DeadLetters::new(topics.dead_letter(), CONSUMER, Arc::clone(&metrics));
        for spec in [
            TopicSpec::new(topics.station_rows(), 1),
            TopicSpec::new(topics.stations(), 1).compacted(),
            dead_letters.topic_spec(),
        ] {
            bus.create_topic(&spec)
                .await
                .map_err(ProcessorError::bus("creating", spec.name.as_str()))?;
        }
        Ok(Self {
            bus,
            rows,
            table,
            dead_letters,
            metrics,
            group: CONSUMER.to_string(),
            stations: HashMap::new(),
        })
    }

    /// The same processor in another consumer group (default [`CONSUMER`]): a group is one
    /// logical processor whose members share the input's partitions and its committed offsets.
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.group = group.into();
        self
    }

    /// Processes rows until `shutdown` is cancelled or the bus closes.
    pub async fn run(
        mut self,
        shutdown: CancellationToken,
    ) -> Result<StationStats, ProcessorError> {
        let input = self.rows.topic().to_string();
        let mut consumer = self
            .bus
            .subscribe(SubscribeOptions::topics([input.clone()]).in_group(self.group.clone()))
            .await
            .map_err(ProcessorError::bus("subscribing to", input.as_str()))?;
        tracing::info!(
            input,
            output = self.table.topic(),
            "station processor running"
        );
        let mut stats = StationStats::default();
        let mut batch = Vec::new();
        while next_batch(consumer.as_mut(), &mut batch, &shutdown, &input).await? {
            self.metrics.record_consumed(CONSUMER, &batch);
            self.process(&batch, &mut stats).await?;
            consumer
                .commit(&commit_positions(&batch))
                .await
                .map_err(ProcessorError::bus("committing", input.as_str()))?;
            if let Ok(positions) = consumer.positions().await {
                self.metrics.record_positions(CONSUMER, &positions);
            }
        }
        tracing::info!(
            rows = stats.rows,
            stations = stats.published,
            off_line = stats.off_line,
            multi_line = stats.multi_line,
            undecodable = stats.undecodable,
            "station processor stopped"
        );
        Ok(stats)
    }

    async fn process(
        &mut self,
        batch: &[Delivery],
        stats: &mut StationStats,
    ) -> Result<(), ProcessorError> {
        let mut rejected = Vec::new();
        let mut changed: Vec<StationLineKey> = Vec::new();
        for delivery in batch {
            stats.rows += 1;
            let row = match self.rows.decode(delivery).await {
                Ok((_, row)) => row,
                Err(error) => {
                    stats.undecodable += 1;
                    rejected.push((delivery.clone(), format!("not a station row: {error}")));
                    continue;
                }
            };
            let lines: Vec<LineColor> = row.lines().collect();
            let line = match lines.as_slice() {
                [line] => *line,
                [] => {
                    stats.off_line += 1;
                    rejected.push((delivery.clone(), off_line_reason(&row)));
                    continue;
                }
                several => {
                    stats.multi_line += 1;
                    rejected.push((delivery.clone(), multi_line_reason(&row, several)));
                    continue;
                }
            };
            let key = StationLineKey {
                station_id: row.station_id,
                line,
            };
            self.stations
                .entry(key)
                .or_default()
                .0
                .insert(row.stop_id, row);
            if !changed.contains(&key) {
                changed.push(key);
            }
        }
        let mut records = Vec::new();
        for key in changed {
            let Some((rows, published)) = self.stations.get_mut(&key) else {
                continue;
            };
            let station = clean_station(key, rows);
            if published.as_ref() == Some(&station) {
                continue;
            }
            let timestamp = batch.last().map_or(0, |d| d.timestamp_ms);
            let record = self.table.record(&station, timestamp).map_err(|source| {
                ProcessorError::Encode {
                    topic: self.table.topic().to_string(),
                    source,
                }
            })?;
            records.push(record);
            *published = Some(station);
        }
        let count = publish(self.bus.as_ref(), self.table.topic(), records).await?;
        stats.published += count;
        self.metrics.record_published(self.table.topic(), count);
        self.dead_letters
            .send(self.bus.as_ref(), &rejected)
            .await
            .map_err(ProcessorError::publish(self.dead_letters.topic()))?;
        Ok(())
    }
}

/// The clean station its rows describe: the name they agree on, and their order (rows of one
/// station share it; the lowest stop id's wins if they do not).
fn clean_station(key: StationLineKey, rows: &BTreeMap<u32, StationRow>) -> StationEvent {
    let rows: Vec<StationRow> = rows.values().cloned().collect();
    let (name, _) = crate::network::agreed_name(&rows);
    StationEvent {
        station_id: key.station_id,
        station_name: Arc::from(name.as_str()),
        order: rows.first().map_or(0, |r| r.order),
        line: key.line,
    }
}

fn off_line_reason(row: &StationRow) -> String {
    format!(
        "stop {} ({}) of station {} is on none of the Blue, Red and Green lines",
        row.stop_id, row.stop_name, row.station_id
    )
}

fn multi_line_reason(row: &StationRow, lines: &[LineColor]) -> String {
    let lines: Vec<&str> = lines.iter().map(|l| l.as_str()).collect();
    format!(
        "stop {} ({}) of station {} is flagged for several lines ({}); a stop belongs to one",
        row.stop_id,
        row.stop_name,
        row.station_id,
        lines.join(", ")
    )
}
