//! The station source: Kafka Connect's JDBC source in incrementing mode on `stop_id`.
//!
//! It polls `SELECT … FROM stations WHERE stop_id > $position ORDER BY stop_id LIMIT $batch`,
//! publishes the rows to the raw station topic ([`Topics::station_rows`]), keyed by station as
//! the station processor expects, and stores its position on the bus, in the compacted
//! [`Topics::connect_offsets`] topic keyed by the source's name (see [`StationSource::run`]).
//!
//! # Exact across restarts and crashes
//!
//! Rows are published first and the position stored after, so a crash in between leaves rows
//! on the topic that the stored position does not cover. Each record this source publishes
//! carries two headers, [`HEADER_SOURCE`] (its name) and [`HEADER_STOP_ID`]; at start the
//! source reads the raw topic back and takes as its position the higher of the stored one and
//! the highest `stop_id` it finds there, and it keeps the set of `stop_id`s found, never
//! publishing one of them again. Headers rather than decoding values: restoring needs neither
//! the registry nor a schema, and records other producers put on the topic (the embedded rows
//! of the all-in-one example) are told apart. The raw topic holds one record per row, so
//! reading it is cheap; the stored position still matters when the topic's retention has
//! dropped old records, and for rows skipped as invalid.
//!
//! # What incrementing mode misses, and the re-scan
//!
//! A row committed with a `stop_id` below one the source has already read is never seen by
//! `stop_id > position` (two transactions committing out of order, or a back-filled id); the
//! same goes for updates and deletes of rows already read, which incrementing mode ignores by
//! design. With [`SourceConfig::rescan_every`] set, the source periodically reads every
//! `stop_id` up to its position and publishes the rows it has not published yet, and only
//! those. The set of published `stop_id`s is kept in memory (four bytes a row).
//!
//! # Database outages
//!
//! PostgreSQL unreachable at start or failing mid-run is not an error: the source logs a
//! warning saying why and when it retries (at attempts 1, 2, 4, 8...: a long outage is a few
//! lines), waits with exponential backoff
//! ([`SourceConfig::retry_min`] doubling up to [`SourceConfig::retry_max`]), reconnects and
//! goes on from its position. Bus and registry failures are fatal ([`SourceError`]): without
//! the bus, the position cannot be kept. So is PostgreSQL's refusal of what the settings ask
//! (a wrong password, a database or table that does not exist: [`SourceError::Refused`]),
//! which no retry mends.
//!
//! One instance per source name: two running with the same name would both publish.

mod backoff;
mod error;
mod offsets;
mod query;
mod restore;

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;
use transit_core::bus::{Record, TopicSpec};
use transit_core::codec::{SchemaRegistry, TopicCodec};
use transit_core::event::StationRow;
use transit_core::processor::ProcessorError;
use transit_core::topics::Topics;
use transit_core::EventBus;

use self::backoff::Backoff;
use self::error::DbError;
pub use self::error::SourceError;
use super::connection::{connect, ConnectOptions};
use super::table::TableRow;

/// Header naming the source that published a raw station record.
pub const HEADER_SOURCE: &str = "transit.source";

/// Header holding the record's `stop_id` in decimal, so the source can restore without
/// decoding values.
pub const HEADER_STOP_ID: &str = "transit.stop_id";

/// How the station source polls and retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    /// The source's name: the key of its position and the value of [`HEADER_SOURCE`].
    pub name: String,
    /// How long to wait between polls once caught up: new rows appear within about this long.
    pub poll_interval: Duration,
    /// Most rows read per query.
    pub batch_size: u32,
    /// Re-scan the table this often for rows committed out of order (see the
    /// [module documentation](self)); `None` is pure incrementing mode.
    pub rescan_every: Option<Duration>,
    /// First delay before retrying PostgreSQL.
    pub retry_min: Duration,
    /// Longest delay between retries.
    pub retry_max: Duration,
    /// Longest wait for PostgreSQL to connect or answer a query before retrying.
    pub query_timeout: Duration,
}

impl Default for SourceConfig {
    /// `stations-source`, polling every second 1000 rows at a time, no re-scan, retries from
    /// 200 ms to 10 s, 30 s per query.
    fn default() -> Self {
        Self {
            name: "stations-source".to_string(),
            poll_interval: Duration::from_secs(1),
            batch_size: 1000,
            rescan_every: None,
            retry_min: Duration::from_millis(200),
            retry_max: Duration::from_secs(10),
            query_timeout: Duration::from_secs(30),
        }
    }
}

/// What a run of the source did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// The position restored at start: the highest `stop_id` read before, if any.
    pub restored_position: Option<i64>,
    /// The position at the end: the highest `stop_id` read.
    pub position: Option<i64>,
    /// Rows published in this run (including those the re-scan found).
    pub published: u64,
    /// Rows published because a re-scan found them below the position.
    pub rescanned: u64,
    /// Rows skipped because they are invalid (NULLs, negative ids...), each logged.
    pub rejected: u64,
    /// Queries that returned (incrementing reads and re-scans).
    pub polls: u64,
    /// Failed attempts to reach PostgreSQL that were retried.
    pub retries: u64,
    /// Connections made to PostgreSQL (more than one: it reconnected).
    pub connections: u64,
}

/// The station source. See the [module documentation](self).
#[derive(Debug)]
pub struct StationSource {
    pg: ConnectOptions,
    bus: Arc<dyn EventBus>,
    registry: Arc<dyn SchemaRegistry>,
    raw_topic: String,
    offsets_topic: String,
    config: SourceConfig,
}

impl StationSource {
    /// A source reading the `stations` table through `pg` (a [`ConnectOptions`], TLS
    /// included, or a `tokio-postgres` `Config`; the table is looked up on the connection's
    /// `search_path`) and publishing onto `bus`. Without an `application_name` in `pg`, the
    /// connection is named `transit-<source name>`, so an operator can find it in
    /// `pg_stat_activity`.
    pub fn new(
        pg: impl Into<ConnectOptions>,
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        topics: &Topics,
        config: SourceConfig,
    ) -> Self {
        let mut pg = pg.into();
        let settings = pg.config_mut();
        if settings.get_application_name().is_none() {
            settings.application_name(format!("transit-{}", config.name));
        }
        // Bounds a connection attempt to a host that does not answer; a query's own bound is
        // `query_timeout`.
        if settings.get_connect_timeout().is_none() {
            settings.connect_timeout(config.query_timeout);
        }
        Self {
            pg,
            bus,
            registry,
            raw_topic: topics.station_rows(),
            offsets_topic: topics.connect_offsets(),
            config,
        }
    }

    /// [`StationSource::new`] with the connection given as libpq's URL
    /// (`postgres://user:password@host:port/db?sslmode=verify-full&sslrootcert=…`) or
    /// `key=value` string (see [`ConnectOptions`]).
    pub fn from_url(
        url: &str,
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        topics: &Topics,
        config: SourceConfig,
    ) -> Result<Self, SourceError> {
        let pg: ConnectOptions = url.parse().map_err(SourceError::Config)?;
        Ok(Self::new(pg, bus, registry, topics, config))
    }

    /// Restores the position, then polls until `shutdown` is cancelled; flushes the bus and
    /// returns what it did. Database failures are retried, never returned; bus and registry
    /// failures are.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<SourceStats, SourceError> {
        let codec =
            TopicCodec::<StationRow>::register(Arc::clone(&self.registry), self.raw_topic.clone())
                .await?;
        for spec in [
            TopicSpec::new(self.raw_topic.clone(), 1),
            TopicSpec::new(self.offsets_topic.clone(), 1).compacted(),
        ] {
            self.bus
                .create_topic(&spec)
                .await
                .map_err(ProcessorError::bus("creating", spec.name.as_str()))?;
        }
        let mut run = Run::restore(self, codec).await?;
        run.poll_until(&shutdown).await?;
        self.bus
            .flush()
            .await
            .map_err(ProcessorError::bus("flushing", self.raw_topic.as_str()))?;
        tracing::info!(
            source = %self.config.name,
            published = run.stats.published,
            position = run.position,
            "station source stopped"
        );
        run.stats.position = run.position;
        Ok(run.stats)
    }
}

/// Whether the last poll left rows behind.
enum Polled {
    /// The batch was full: poll again at once.
    More,
    /// Caught up: wait a poll interval.
    CaughtUp,
}

/// Why a step stopped early.
enum Stop {
    /// Shut down while waiting on the database.
    Shutdown,
    /// The database failed: retry.
    Database(DbError),
    /// The bus failed: give up.
    Fatal(SourceError),
}

impl From<SourceError> for Stop {
    fn from(error: SourceError) -> Self {
        Self::Fatal(error)
    }
}

/// One run's state: the connection, the position and what has been published.
struct Run<'a> {
    source: &'a StationSource,
    codec: TopicCodec<StationRow>,
    client: Option<Client>,
    backoff: Backoff,
    /// The highest `stop_id` read (published or rejected).
    position: Option<i64>,
    /// The position last stored on the bus.
    stored: Option<i64>,
    /// Every `stop_id` this source has published (restored from the raw topic).
    published: BTreeSet<u32>,
    /// `stop_id`s found invalid in this run, so the re-scan does not report them again.
    rejected: BTreeSet<i32>,
    next_rescan: Option<Instant>,
    stats: SourceStats,
}

impl<'a> Run<'a> {
    /// Reads the stored position and the rows already on the raw topic, and reconciles them.
    async fn restore(
        source: &'a StationSource,
        codec: TopicCodec<StationRow>,
    ) -> Result<Self, SourceError> {
        let name = source.config.name.as_str();
        let bus = source.bus.as_ref();
        let stored = offsets::stored_position(bus, &source.offsets_topic, name).await?;
        let published = restore::published_stop_ids(bus, &source.raw_topic, name).await?;
        let on_topic = published.last().map(|&id| i64::from(id));
        let position = stored.max(on_topic);
        tracing::info!(
            source = name,
            stored_position = stored,
            highest_on_topic = on_topic,
            rows_on_topic = published.len(),
            position,
            "station source position restored"
        );
        let config = &source.config;
        let mut run = Self {
            source,
            codec,
            client: None,
            backoff: Backoff::new(config.retry_min, config.retry_max),
            position,
            stored,
            published,
            rejected: BTreeSet::new(),
            next_rescan: config.rescan_every.map(|_| Instant::now()),
            stats: SourceStats {
                restored_position: position,
                ..SourceStats::default()
            },
        };
        // A crash after publishing and before storing: store what the topic shows now, so the
        // stored position alone is right again.
        run.store_position().await?;
        Ok(run)
    }

    async fn poll_until(&mut self, shutdown: &CancellationToken) -> Result<(), SourceError> {
        while !shutdown.is_cancelled() {
            let wait = match self.step(shutdown).await {
                Ok(Polled::More) => continue,
                Ok(Polled::CaughtUp) => self.source.config.poll_interval,
                Err(Stop::Shutdown) => break,
                Err(Stop::Fatal(error)) => return Err(error),
                Err(Stop::Database(error)) if error.is_permanent() => {
                    return Err(SourceError::Refused {
                        message: error.to_string(),
                    });
                }
                Err(Stop::Database(error)) => {
                    // Whatever broke, a fresh connection is the way back.
                    self.client = None;
                    self.stats.retries += 1;
                    let delay = self.backoff.next_delay();
                    // Said at attempts 1, 2, 4, 8...: an outage is a few lines, however long.
                    if self.backoff.attempts().is_power_of_two() {
                        tracing::warn!(
                            source = %self.source.config.name,
                            %error,
                            attempt = self.backoff.attempts(),
                            retry_in_ms = delay.as_millis() as u64,
                            position = self.position,
                            "PostgreSQL unavailable; retrying"
                        );
                    }
                    delay
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        Ok(())
    }

    /// Connects if needed, reads new rows, publishes them, and re-scans when due.
    async fn step(&mut self, shutdown: &CancellationToken) -> Result<Polled, Stop> {
        // The client is taken out while in use: a database error returns early and drops it,
        // so the next step reconnects.
        let client = match self.client.take() {
            Some(client) if !client.is_closed() => client,
            previous => {
                if previous.is_some() {
                    // Closed while idle (a server restart, an administrator's terminate):
                    // nothing failed yet, but the operator should know.
                    tracing::warn!(
                        source = %self.source.config.name,
                        position = self.position,
                        "PostgreSQL connection lost; reconnecting"
                    );
                }
                let client = self.connect(shutdown).await?;
                if self.backoff.attempts() > 0 {
                    tracing::info!(
                        source = %self.source.config.name,
                        attempts = self.backoff.attempts(),
                        "PostgreSQL reachable again"
                    );
                }
                self.stats.connections += 1;
                client
            }
        };
        let batch = self.source.config.batch_size.max(1);
        let after = self.position.unwrap_or(i64::MIN);
        let rows = self
            .db(
                shutdown,
                "reading new station rows",
                query::rows_after(&client, after, i64::from(batch)),
            )
            .await?;
        self.backoff.reset();
        self.stats.polls += 1;
        let full = rows.len() >= batch as usize;
        if let Some(last) = rows.last() {
            self.position = self.position.max(Some(i64::from(last.stop_id)));
        }
        let published = self.publish(rows).await?;
        self.store_position().await?;
        tracing::debug!(
            source = %self.source.config.name,
            rows = published,
            position = self.position,
            "station rows polled"
        );
        if published > 0 {
            tracing::info!(
                source = %self.source.config.name,
                rows = published,
                total = self.stats.published,
                position = self.position,
                "station rows published"
            );
        }
        if full {
            self.client = Some(client);
            return Ok(Polled::More);
        }
        if self.next_rescan.is_some_and(|due| Instant::now() >= due) {
            self.rescan(&client, shutdown).await?;
        }
        self.client = Some(client);
        Ok(Polled::CaughtUp)
    }

    /// Publishes the rows below the position that are in the table but not on the topic.
    async fn rescan(&mut self, client: &Client, shutdown: &CancellationToken) -> Result<(), Stop> {
        let Some(position) = self.position else {
            self.schedule_rescan();
            return Ok(());
        };
        let ids = self
            .db(
                shutdown,
                "re-scanning station ids",
                query::stop_ids_up_to(client, position),
            )
            .await?;
        let missing: Vec<i32> = ids
            .into_iter()
            .filter(|&id| !self.rejected.contains(&id))
            .filter(|&id| u32::try_from(id).map_or(true, |id| !self.published.contains(&id)))
            .collect();
        if !missing.is_empty() {
            let rows = self
                .db(
                    shutdown,
                    "reading re-scanned station rows",
                    query::rows_with_ids(client, &missing),
                )
                .await?;
            let published = self.publish(rows).await?;
            self.stats.rescanned += published;
            if published > 0 {
                tracing::info!(
                    source = %self.source.config.name,
                    rows = published,
                    position,
                    "re-scan published rows committed out of order"
                );
            }
        }
        self.stats.polls += 1;
        self.schedule_rescan();
        Ok(())
    }

    fn schedule_rescan(&mut self) {
        self.next_rescan = self
            .source
            .config
            .rescan_every
            .map(|every| Instant::now() + every);
    }

    /// Publishes the valid rows not published before, with this source's headers; skips and
    /// reports invalid ones. Returns how many were published.
    async fn publish(&mut self, rows: Vec<TableRow>) -> Result<u64, SourceError> {
        let name = self.source.config.name.as_str();
        let topic = self.source.raw_topic.as_str();
        let timestamp_ms = now_ms();
        let mut records: Vec<Record> = Vec::with_capacity(rows.len());
        let mut ids = Vec::with_capacity(rows.len());
        for table_row in rows {
            let row = match table_row.row {
                Ok(row) => row,
                Err(reason) => {
                    if self.rejected.insert(table_row.stop_id) {
                        self.stats.rejected += 1;
                        tracing::warn!(
                            source = name,
                            stop_id = table_row.stop_id,
                            %reason,
                            "invalid station row skipped"
                        );
                    }
                    continue;
                }
            };
            if self.published.contains(&row.stop_id) {
                continue;
            }
            let record = self
                .codec
                .record(&row, timestamp_ms)
                .map_err(|source| ProcessorError::Encode {
                    topic: topic.to_string(),
                    source,
                })?
                .with_header(HEADER_SOURCE, name.as_bytes().to_vec())
                .with_header(HEADER_STOP_ID, row.stop_id.to_string().into_bytes());
            records.push(record);
            ids.push(row.stop_id);
        }
        if records.is_empty() {
            return Ok(0);
        }
        self.source
            .bus
            .publish_batch(topic, records)
            .await
            .map_err(ProcessorError::publish(topic))?;
        let count = ids.len() as u64;
        self.published.extend(ids);
        self.stats.published += count;
        Ok(count)
    }

    /// Stores the position on the offsets topic, unless it is already stored.
    async fn store_position(&mut self) -> Result<(), SourceError> {
        let Some(position) = self.position else {
            return Ok(());
        };
        if self.stored == Some(position) {
            return Ok(());
        }
        let topic = self.source.offsets_topic.as_str();
        let record = offsets::record(&self.source.config.name, position, now_ms());
        self.source
            .bus
            .publish_batch(topic, vec![record])
            .await
            .map_err(ProcessorError::publish(topic))?;
        self.stored = Some(position);
        Ok(())
    }

    /// Connects with the query timeout, giving up on shutdown.
    async fn connect(&self, shutdown: &CancellationToken) -> Result<Client, Stop> {
        let after = self.source.config.query_timeout;
        tokio::select! {
            () = shutdown.cancelled() => Err(Stop::Shutdown),
            outcome = tokio::time::timeout(after, connect(&self.source.pg)) => match outcome {
                Ok(Ok(client)) => Ok(client),
                Ok(Err(source)) => Err(Stop::Database(DbError::Connect(source))),
                Err(_elapsed) => Err(Stop::Database(DbError::Timeout {
                    operation: "connecting",
                    after,
                })),
            },
        }
    }

    /// Runs a database call with the query timeout, giving up on shutdown.
    async fn db<T>(
        &self,
        shutdown: &CancellationToken,
        operation: &'static str,
        call: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, Stop> {
        let after = self.source.config.query_timeout;
        tokio::select! {
            () = shutdown.cancelled() => Err(Stop::Shutdown),
            outcome = tokio::time::timeout(after, call) => match outcome {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(source)) => Err(Stop::Database(DbError::Postgres { operation, source })),
                Err(_elapsed) => Err(Stop::Database(DbError::Timeout { operation, after })),
            },
        }
    }
}

/// Wall-clock time in milliseconds since the Unix epoch: the records' `CreateTime`.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
