//! The standard feeds of any agency's simulated day (a static GTFS feed as the input), in the
//! input feed's own ids:
//!
//! - `GET /gtfs/static.zip`: the input feed (a folder input zipped), describing the date
//!   simulated: as given when the simulated date runs its own service; re-dated when the
//!   service was taken from another date (a feed whose calendar does not cover the date
//!   simulated), every date moved by whole weeks ([`transit_gtfs_reader::redate_zip`]) so that
//!   each `(trip_id, start_date)` of GTFS-realtime is a trip active on that date in it.
//! - `GET /gtfs-rt/vehicle-positions`, `GET /gtfs-rt/trip-updates`: GTFS-realtime
//!   ([`transit_gtfs::agency`]), protobuf or, with `?format=json`, protobuf's JSON mapping.
//! - Train Tracker's paths: CTA's API describes only CTA's 'L', so for another network they
//!   answer `404` saying so.
//!
//! [`AgencyFeeds`] is the whole of it: built with the feed's path and the service day the
//! simulator runs, it reads the arrivals topic ([`AgencyFeeds::follow`], any bus) into its read
//! model and serves [`AgencyFeeds::router`]. It knows the bus and the static feed only, never the
//! simulator. Built over a board [`AgencyBoard::with_predictions`], its trip updates are the
//! predictor's `learnt` predictions, read from the prediction table
//! ([`AgencyFeeds::follow_predictions`]).
//!
//! ```no_run
//! # async fn run(
//! #     day: std::sync::Arc<transit_core::network::service_day::ServiceDay>,
//! #     bus: std::sync::Arc<dyn transit_core::EventBus>,
//! #     registry: std::sync::Arc<dyn transit_core::codec::SchemaRegistry>,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! use tokio_util::sync::CancellationToken;
//! use transit_core::topics::Topics;
//! use transit_http::agency::{AgencyFeeds, FeedClock};
//!
//! let feeds = AgencyFeeds::new("nyc_subway_gtfs.zip", day, FeedClock::Wall);
//! let shutdown = CancellationToken::new();
//! let reader = tokio::spawn({
//!     let feeds = feeds.clone();
//!     let shutdown = shutdown.clone();
//!     async move { feeds.follow(bus, registry, &Topics::default(), shutdown).await }
//! });
//! let app = feeds.router(); // merge into the dashboard's routes, or serve on its own
//! # drop((app, reader));
//! # Ok(())
//! # }
//! ```

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prost::Message;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;
use transit_core::bus::{self, Delivery, EventBus, SubscribeOptions};
use transit_core::codec::{AvroRecord, Decoder, RegistryError, SchemaRegistry};
use transit_core::network::service_day::ServiceDay;
use transit_core::status::predictions;
use transit_core::topics::Topics;
use transit_gtfs::agency::{self, AgencyBoard};
use transit_gtfs::realtime::proto::FeedMessage;
use transit_gtfs_reader::{redate_zip, Redate};

use crate::gtfs::STATIC_ZIP_PATH;
use crate::realtime::{
    ARRIVALS_PATH, FOLLOW_PATH, POSITIONS_PATH, TRIP_UPDATES_PATH, VEHICLE_POSITIONS_PATH,
};

/// Which clock the realtime feeds are stamped and computed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedClock {
    /// The wall clock (UTC): for a live run, whose records name real instants.
    Wall,
    /// The latest record's time: for a run faster than real time (a speed factor, flat out).
    Records,
}

/// Why following the arrivals stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgencyFeedsError {
    /// The decoder could not be set up.
    #[error("setting up the decoder of the records followed")]
    Registry(#[source] RegistryError),
    /// Subscribing to or reading the topic failed.
    #[error("reading {topic}")]
    Bus {
        /// The topic.
        topic: String,
        /// What the bus said.
        #[source]
        source: bus::Error,
    },
}

/// What following the arrivals did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowStats {
    /// Records applied to the read model.
    pub applied: u64,
    /// Records left out: undecodable, or naming a trip the service day does not have.
    pub skipped: u64,
}

#[derive(Debug)]
struct Inner {
    feed_path: PathBuf,
    clock: FeedClock,
    board: RwLock<AgencyBoard>,
    /// The zip, once read; a failed read is not kept, so the next request tries again.
    static_zip: OnceCell<Bytes>,
}

/// Any agency's feeds: the read model of the arrivals and the routes that serve it.
#[derive(Debug, Clone)]
pub struct AgencyFeeds {
    inner: Arc<Inner>,
}

impl AgencyFeeds {
    /// The feeds of the static feed at `feed_path` (a zip or a folder, the simulator's input)
    /// whose service `day` is simulated, computed at `clock`. The static feed is served
    /// re-dated when `day` runs another date's service ([`ServiceDay::date`] is not
    /// [`ServiceDay::requested`]).
    pub fn new(feed_path: impl Into<PathBuf>, day: Arc<ServiceDay>, clock: FeedClock) -> Self {
        Self::with_board(feed_path, AgencyBoard::new(day), clock)
    }

    /// The same over a `board` built by the caller: with the feed's shapes
    /// ([`AgencyBoard::with_shapes`]), so vehicles are placed along them.
    pub fn with_board(feed_path: impl Into<PathBuf>, board: AgencyBoard, clock: FeedClock) -> Self {
        Self {
            inner: Arc::new(Inner {
                feed_path: feed_path.into(),
                clock,
                board: RwLock::new(board),
                static_zip: OnceCell::new(),
            }),
        }
    }

    /// The instant the feeds describe now (Unix ms): the wall clock, or the latest record's
    /// time (the service day's start before any).
    pub fn now_ms(&self) -> i64 {
        match self.inner.clock {
            FeedClock::Wall => wall_ms(),
            FeedClock::Records => self.read_board(|board| {
                board
                    .clock_ms()
                    .unwrap_or_else(|| board.day().start_unix_s * 1_000)
            }),
        }
    }

    fn read_board<T>(&self, f: impl FnOnce(&AgencyBoard) -> T) -> T {
        // A writer that panicked left a board that is still whole (each apply is one insert).
        let board = self
            .inner
            .board
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&board)
    }

    /// The vehicle positions now.
    pub fn vehicle_positions(&self) -> FeedMessage {
        let now = self.now_ms();
        self.read_board(|board| board.vehicle_positions(now))
    }

    /// The trip updates now.
    pub fn trip_updates(&self) -> FeedMessage {
        let now = self.now_ms();
        self.read_board(|board| board.trip_updates(now))
    }

    /// Arrivals applied so far.
    pub fn applied(&self) -> u64 {
        self.read_board(AgencyBoard::applied)
    }

    /// Reads the arrivals topic of `topics` on `bus` from its earliest record into the read
    /// model until `shutdown` is cancelled or the bus closes. Records it cannot use are
    /// logged and skipped.
    pub async fn follow(
        &self,
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        topics: &Topics,
        shutdown: CancellationToken,
    ) -> Result<FollowStats, AgencyFeedsError> {
        let topic = topics.vehicle_arrivals();
        self.follow_topic(
            bus,
            registry,
            topic,
            shutdown,
            "an arrival",
            |board, event, time| {
                let applied = board.apply(event);
                board.observe_time(time);
                applied
            },
        )
        .await
    }

    /// Reads the trip cancellations topic of `topics` ([`Topics::trip_cancellations`]) on
    /// `bus` from its earliest record into the read model, as [`AgencyFeeds::follow`] reads the
    /// arrivals: each trip is `CANCELED` in the trip updates from the instant it was announced.
    pub async fn follow_cancellations(
        &self,
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        topics: &Topics,
        shutdown: CancellationToken,
    ) -> Result<FollowStats, AgencyFeedsError> {
        let topic = topics.trip_cancellations();
        // Not the board's clock: a cancellation is told ahead of the trip it names.
        self.follow_topic(
            bus,
            registry,
            topic,
            shutdown,
            "a trip cancellation",
            |board, c, _| board.apply_cancellation(c),
        )
        .await
    }

    /// Reads `topic` from its earliest record, `apply`ing each record (`what` it is, for logs)
    /// and the time it is stamped with to the board.
    async fn follow_topic<E: AvroRecord>(
        &self,
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        topic: String,
        shutdown: CancellationToken,
        what: &str,
        mut apply: impl FnMut(&mut AgencyBoard, &E, i64) -> Result<(), agency::AgencyError>,
    ) -> Result<FollowStats, AgencyFeedsError> {
        let decoder = Decoder::<E>::new(registry).map_err(AgencyFeedsError::Registry)?;
        let bus_error = |source| AgencyFeedsError::Bus {
            topic: topic.clone(),
            source,
        };
        let mut consumer = bus
            .subscribe(SubscribeOptions::topics([topic.clone()]))
            .await
            .map_err(bus_error)?;
        let mut stats = FollowStats::default();
        let mut batch: Vec<Delivery> = Vec::new();
        loop {
            batch.clear();
            let got = tokio::select! {
                () = shutdown.cancelled() => break,
                got = consumer.recv_batch(&mut batch, 1_000) => got.map_err(bus_error)?,
            };
            if got == 0 {
                break;
            }
            let mut events = Vec::with_capacity(batch.len());
            for delivery in &batch {
                let Some(value) = delivery.value.as_deref() else {
                    continue;
                };
                match decoder.decode(value).await {
                    Ok(event) => events.push((event, delivery.timestamp_ms)),
                    Err(error) => {
                        stats.skipped += 1;
                        tracing::warn!(%topic, offset = delivery.offset, error = %error,
                            "{what} could not be decoded; left out of the feeds");
                    }
                }
            }
            let mut board = self
                .inner
                .board
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (event, timestamp_ms) in &events {
                match apply(&mut board, event, *timestamp_ms) {
                    Ok(()) => stats.applied += 1,
                    Err(error @ agency::AgencyError::OtherDay { .. }) => {
                        // An earlier run's records are expected on a kept topic: not a warning each.
                        stats.skipped += 1;
                        tracing::debug!(%topic, error = %error, "{what} of another day left out");
                    }
                    Err(error) => {
                        stats.skipped += 1;
                        tracing::warn!(%topic, error = %error, "{what} left out of the feeds");
                    }
                }
            }
        }
        Ok(stats)
    }

    /// Reads the predictor's records from `topic` (its table, or the issued predictions on a
    /// bus that drops withdrawals as they come: [`predictions::follow`]) into the read model
    /// until `shutdown` is cancelled or the bus closes; the trip updates are served from them
    /// when the board was built [`AgencyBoard::with_predictions`].
    pub async fn follow_predictions(
        &self,
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        topic: &str,
        shutdown: CancellationToken,
    ) -> Result<predictions::FollowStats, predictions::FollowError> {
        predictions::follow(
            bus,
            registry,
            topic,
            predictions::LEARNT,
            shutdown,
            |records| {
                let mut board = self
                    .inner
                    .board
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for (key, value) in records {
                    board.apply_prediction(key, value.as_ref());
                }
            },
        )
        .await
    }

    /// Prediction records of the `learnt` method applied so far (none unless the trip
    /// updates are served from predictions).
    pub fn predictions_applied(&self) -> u64 {
        self.read_board(|board| board.predictions().map_or(0, |table| table.applied()))
    }

    /// The feeds' routes: the static feed, GTFS-realtime, and Train Tracker's paths answering
    /// that they describe CTA only.
    pub fn router(&self) -> Router {
        Router::new()
            .route(STATIC_ZIP_PATH, get(static_zip))
            .route(VEHICLE_POSITIONS_PATH, get(vehicle_positions))
            .route(TRIP_UPDATES_PATH, get(trip_updates))
            .route(ARRIVALS_PATH, get(not_cta))
            .route(POSITIONS_PATH, get(not_cta))
            .route(FOLLOW_PATH, get(not_cta))
            .with_state(self.clone())
    }
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The static feed at `path` as served: zipped, and re-dated by `redate` unless the simulated
/// date runs its own service.
fn served_zip(path: &Path, redate: Redate) -> Result<Vec<u8>, String> {
    let zip = agency::static_zip(path).map_err(|e| transit_core::error_chain(&e))?;
    if redate.is_identity() {
        return Ok(zip);
    }
    let capacity = zip.len() + 1_024;
    let redated = redate_zip(
        Cursor::new(zip),
        Cursor::new(Vec::with_capacity(capacity)),
        &redate,
    )
    .map_err(|e| format!("re-dating it: {}", transit_core::error_chain(&e)))?
    .into_inner();
    tracing::info!(
        feed = %path.display(),
        service_of = %redate.source,
        simulated = %redate.simulated,
        shift_days = redate.shift_days(),
        "the static feed is served re-dated, so that the simulated date runs the service taken"
    );
    Ok(redated)
}

async fn static_zip(State(feeds): State<AgencyFeeds>) -> Response {
    let read = feeds
        .inner
        .static_zip
        .get_or_try_init(|| async {
            let path = feeds.inner.feed_path.clone();
            let redate = feeds.read_board(|board| {
                let day = board.day();
                Redate::new(day.date, day.requested)
            });
            tokio::task::spawn_blocking(move || served_zip(&path, redate))
                .await
                .map_err(|e| format!("reading the feed stopped: {e}"))?
                .map(Bytes::from)
        })
        .await;
    match read {
        Ok(zip) => (
            [
                (header::CONTENT_TYPE, "application/zip"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"gtfs.zip\"",
                ),
            ],
            zip.clone(),
        )
            .into_response(),
        Err(message) => {
            tracing::error!(%message, "the static GTFS feed could not be read");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the static GTFS feed could not be read: {message}\n"),
            )
                .into_response()
        }
    }
}

async fn gtfs_rt(query: Option<String>, feed: impl FnOnce() -> FeedMessage) -> Response {
    let json = match crate::realtime::wants_json(query.as_deref()) {
        Ok(json) => json,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let feed = feed();
    let no_store = (header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if !json {
        let content_type = (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        return ([content_type, no_store], feed.encode_to_vec()).into_response();
    }
    match serde_json::to_vec_pretty(&feed) {
        Ok(body) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                no_store,
            ],
            body,
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the feed could not be written as JSON: {e}\n"),
        )
            .into_response(),
    }
}

async fn vehicle_positions(
    State(feeds): State<AgencyFeeds>,
    RawQuery(query): RawQuery,
) -> Response {
    gtfs_rt(query, || feeds.vehicle_positions()).await
}

async fn trip_updates(State(feeds): State<AgencyFeeds>, RawQuery(query): RawQuery) -> Response {
    gtfs_rt(query, || feeds.trip_updates()).await
}

async fn not_cta() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!(
            "Train Tracker is CTA's API and describes only the simulated CTA 'L'; this server \
             simulates another network's GTFS feed: read its GTFS-realtime at \
             {VEHICLE_POSITIONS_PATH} and {TRIP_UPDATES_PATH}\n"
        ),
    )
        .into_response()
}
