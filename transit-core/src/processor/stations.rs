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
//!
//! Its state (the rows of each station) is per input partition: dropped when the partition is
//! revoked, and restored by reading the partition's rows back when it is assigned (a few
//! hundred rows: one per station and direction).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::base::{TableBase, TableSetup};
use super::runner::{Output, Processor, Transactions};
use super::{decode_or_reject, read_topic, ChangedKeys, ProcessorError};
use crate::bus::{Delivery, EventBus, TopicPartition, TopicSpec};
use crate::codec::SchemaRegistry;
use crate::event::{StationEvent, StationLineKey, StationRow};
use crate::metrics::PipelineMetrics;
use crate::model::LineId;
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
    /// Rows read back to restore the state of partitions assigned.
    pub restored: u64,
}

impl std::fmt::Display for StationStats {
    /// The counters in plain words, for logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::processor::runner::write_counts(
            f,
            &[
                ("rows", self.rows),
                ("published", self.published),
                ("off the three lines", self.off_line),
                ("on several lines", self.multi_line),
                ("undecodable", self.undecodable),
                ("restored", self.restored),
            ],
        )
    }
}

/// What the processor knows of one station and line.
#[derive(Debug, Default)]
struct Known {
    /// The input partition its rows come from.
    partition: u32,
    /// Its rows, by stop id.
    rows: BTreeMap<u32, StationRow>,
    /// What was last published for it by this member.
    published: Option<StationEvent>,
}

/// The station processor of one deployment.
#[derive(Debug)]
pub struct StationProcessor {
    /// Raw rows in, the station table out.
    base: TableBase<StationRow, StationEvent>,
    stations: HashMap<StationLineKey, Known>,
}

impl StationProcessor {
    /// Registers the schemas and creates the table and dead-letter topics.
    pub async fn new(
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        topics: &Topics,
        metrics: Arc<PipelineMetrics>,
    ) -> Result<Self, ProcessorError> {
        let setup = TableSetup {
            inputs: vec![topics.station_rows()],
            table: topics.stations(),
            create: vec![
                TopicSpec::new(topics.station_rows(), 1),
                TopicSpec::new(topics.stations(), 1).compacted(),
            ],
            dead_letter_topic: topics.dead_letter(),
            group: CONSUMER,
        };
        Ok(Self {
            base: TableBase::new(bus, registry, setup, metrics).await?,
            stations: HashMap::new(),
        })
    }

    /// The same processor in another consumer group (default [`CONSUMER`]): a group is one
    /// logical processor whose members share the input's partitions and its committed offsets.
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.base.set_group(group.into());
        self
    }

    /// Whether its output and input commits go in one transaction (by default, when the bus
    /// supports them; see [`Transactions`]).
    pub fn transactions(mut self, transactions: Transactions) -> Self {
        self.base.set_transactions(transactions);
        self
    }

    /// Processes rows until `shutdown` is cancelled or the bus closes.
    pub async fn run(self, shutdown: CancellationToken) -> Result<StationStats, ProcessorError> {
        self.base.processor_loop().run(self, shutdown).await
    }

    /// Files `row` under its station and line; `None` (with the reason) for a row on none or
    /// several of the three lines.
    fn file(&mut self, partition: u32, row: StationRow) -> Result<StationLineKey, Refusal> {
        let lines: Vec<LineId> = row.lines().collect();
        let line = match lines.as_slice() {
            [line] => *line,
            [] => return Err(Refusal::OffLine(off_line_reason(&row))),
            several => return Err(Refusal::MultiLine(multi_line_reason(&row, several))),
        };
        let key = StationLineKey {
            station_id: row.station_id,
            line,
        };
        let known = self.stations.entry(key).or_default();
        known.partition = partition;
        known.rows.insert(row.stop_id, row);
        Ok(key)
    }
}

enum Refusal {
    OffLine(String),
    MultiLine(String),
}

#[async_trait]
impl Processor for StationProcessor {
    type Stats = StationStats;

    async fn assigned(
        &mut self,
        bus: &dyn EventBus,
        partitions: &[TopicPartition],
        stats: &mut StationStats,
    ) -> Result<(), ProcessorError> {
        let gained = self.base.inputs_among(partitions);
        if gained.is_empty() {
            return Ok(());
        }
        self.stations
            .retain(|_, known| !gained.contains(0, known.partition));
        let mut deliveries = Vec::new();
        read_topic(bus, self.base.input().topic(), |delivery| {
            if gained.contains(0, delivery.partition) {
                deliveries.push(delivery);
            }
        })
        .await?;
        for delivery in &deliveries {
            // A row that does not decode or is on no line is refused when it is processed.
            if let Ok((_, row)) = self.base.input().decode(delivery).await {
                if self.file(delivery.partition, row).is_ok() {
                    stats.restored += 1;
                }
            }
        }
        Ok(())
    }

    fn revoked(&mut self, partitions: &[TopicPartition]) {
        let lost = self.base.inputs_among(partitions);
        self.stations
            .retain(|_, known| !lost.contains(0, known.partition));
    }

    async fn process(
        &mut self,
        batch: &[Delivery],
        output: &mut Output,
        stats: &mut StationStats,
    ) -> Result<(), ProcessorError> {
        let mut changed = ChangedKeys::new();
        for delivery in batch {
            stats.rows += 1;
            let Some(row) =
                decode_or_reject(self.base.input(), delivery, output, "a station row").await?
            else {
                stats.undecodable += 1;
                continue;
            };
            match self.file(delivery.partition, row) {
                Ok(key) => changed.insert(key),
                Err(Refusal::OffLine(reason)) => {
                    stats.off_line += 1;
                    output.reject_by_design(delivery, reason);
                }
                Err(Refusal::MultiLine(reason)) => {
                    stats.multi_line += 1;
                    output.reject(delivery, reason);
                }
            }
        }
        let timestamp = batch.last().map_or(0, |d| d.timestamp_ms);
        for key in changed.iter() {
            let Some(known) = self.stations.get_mut(key) else {
                continue;
            };
            let station = clean_station(*key, &known.rows);
            if known.published.as_ref() == Some(&station) {
                continue;
            }
            stats.published += self.base.publish([&station], timestamp, output)?;
            known.published = Some(station);
        }
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

fn multi_line_reason(row: &StationRow, lines: &[LineId]) -> String {
    let lines: Vec<&str> = lines.iter().map(|l| l.as_str()).collect();
    format!(
        "stop {} ({}) of station {} is flagged for several lines ({}); a stop belongs to one",
        row.stop_id,
        row.stop_name,
        row.station_id,
        lines.join(", ")
    )
}
