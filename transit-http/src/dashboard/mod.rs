//! The dashboard: an HTTP server (axum on hyper) that renders the status read model.
//!
//! Routes:
//! - `GET /`: the board as HTML (maud), with inline style and script: no external asset.
//! - `GET /events`: server-sent events, so the page updates in place: a `status` event with
//!   the JSON of `/api/status` on connect (and after a gap), less the next trains' `seconds`
//!   and `minutes` (the page counts down to their `due_at` against the board's
//!   `simulated_time`), then on each change of the board
//!   (at most every [`EVENTS_EVERY`]) a `delta` event, `{"from": version, "to": version,
//!   "patch": …}`, with what changed (see [`delta`]). Each event's `id:` is the board's
//!   version: a reconnect with `Last-Event-ID` resumes with a delta when it can. `?full=1`
//!   sends the whole board every time.
//! - `GET /api/status`: the read model's snapshot as JSON.
//! - `GET /healthz`: liveness: `200` while the read model runs, `503` once it stopped.
//! - `GET /readyz`: readiness (see [`crate::probes`]): `200` once the read model has restored
//!   its partitions and the board has stations, and every check added to
//!   [`Dashboard::readiness`] passes (the broker and the registry reachable, for
//!   `transit dashboard`); else `503` with the reasons as JSON.
//! - `GET /metrics`: Prometheus text: records in per consumer and topic, dead letters, lag,
//!   commits, retries, errors, readiness, the board's totals and headways, and the predictions'
//!   accuracy per line, bucket and method when the board has it ([`Dashboard::with_accuracy`]).
//! - `GET /api/accuracy`: the accuracy read model's snapshot as JSON (an empty one without it);
//!   `GET /fragment/accuracy?route=ID`: one line's accuracy panel, which the page fetches anew
//!   every ten seconds.
//! - with the `gtfs` feature on too, the feeds over the same board: `GET /gtfs/static.zip`
//!   (module `gtfs`), GTFS-realtime and Train Tracker (module `realtime`).
//!
//! The page and the JSON are rendered once per snapshot version and then served from memory,
//! and each update's events once for every viewer, so the cost of a request does not grow
//! with the number of viewers.

pub mod delta;
mod diagram;
mod feed;
mod metrics;
mod page;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::probes::Readiness;
use crate::server;
pub use crate::server::ServeError;
use transit_core::accuracy::AccuracySnapshot;
use transit_core::metrics::PipelineMetrics;
use transit_core::network::cta;
use transit_core::status::StatusSnapshot;

/// The most often the board is sent to viewers.
pub const EVENTS_EVERY: Duration = Duration::from_millis(250);

/// The address the dashboard binds to unless told otherwise: this machine only.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:3000";

/// The server's name in errors.
const SERVER: &str = "dashboard";

/// What a cached rendering was made from: the board's version, and the accuracy table's.
#[derive(Debug, Default)]
struct Cached {
    version: Option<(u64, u64)>,
    body: Bytes,
}

#[derive(Debug)]
struct Shared {
    snapshots: watch::Receiver<Arc<StatusSnapshot>>,
    /// The predictor's learnt predictions the feeds serve, if given.
    #[cfg(feature = "gtfs")]
    predictions: Option<watch::Receiver<Arc<transit_core::status::PredictionTable>>>,
    metrics: Arc<PipelineMetrics>,
    page: Mutex<Cached>,
    json: Mutex<Cached>,
    /// The updates every `/events` stream sends, started by the first one (a handler runs on
    /// the runtime the feed's task needs; `new` may not).
    feed: OnceLock<watch::Receiver<Arc<feed::Update>>>,
    started: Instant,
    shutdown: CancellationToken,
    readiness: Arc<Readiness>,
}

/// The dashboard's state: the read model's snapshots and the pipeline's counters.
#[derive(Debug, Clone)]
pub struct Dashboard {
    shared: Arc<Shared>,
    /// The what-if controls of a simulation in this process, if one runs here.
    #[cfg(feature = "what-if")]
    what_ifs: Option<crate::what_if::WhatIfControl>,
    /// The accuracy read model's snapshots, if the predictions are scored where it runs.
    accuracy: Option<watch::Receiver<Arc<AccuracySnapshot>>>,
}

impl Dashboard {
    /// A dashboard of `snapshots`; its event streams end when `shutdown` is cancelled.
    ///
    /// # Example
    ///
    /// A board served on a free port: healthy while its read model (the sender of
    /// `snapshots`) runs, unavailable once it stopped; then shut down:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    ///
    /// use tokio::sync::watch;
    /// use tokio_util::sync::CancellationToken;
    /// use transit_core::metrics::PipelineMetrics;
    /// use transit_core::status::StatusSnapshot;
    /// use transit_http::dashboard::{self, Dashboard};
    ///
    /// let (read_model, snapshots) = watch::channel(Arc::new(StatusSnapshot::default()));
    /// let shutdown = CancellationToken::new();
    /// let board = Dashboard::new(snapshots, PipelineMetrics::new(), shutdown.clone());
    ///
    /// let listener = dashboard::bind("127.0.0.1:0".parse()?).await?;
    /// let health = format!("http://{}/healthz", listener.local_addr()?);
    /// let server = tokio::spawn(dashboard::serve(listener, board, shutdown.clone()));
    ///
    /// assert_eq!(reqwest::get(&health).await?.status(), 200);
    /// drop(read_model);
    /// assert_eq!(reqwest::get(&health).await?.status(), 503);
    ///
    /// shutdown.cancel();
    /// server.await??;
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(
        snapshots: watch::Receiver<Arc<StatusSnapshot>>,
        metrics: Arc<PipelineMetrics>,
        shutdown: CancellationToken,
    ) -> Self {
        Self::build(snapshots, None, metrics, shutdown)
    }

    fn build(
        snapshots: watch::Receiver<Arc<StatusSnapshot>>,
        #[cfg_attr(not(feature = "gtfs"), allow(unused_variables))] predictions: Option<
            watch::Receiver<Arc<transit_core::status::PredictionTable>>,
        >,
        metrics: Arc<PipelineMetrics>,
        shutdown: CancellationToken,
    ) -> Self {
        let readiness = Readiness::new();
        {
            let metrics = Arc::clone(&metrics);
            readiness.watch("read model", move || {
                if metrics.has_restored(transit_core::status::CONSUMER) {
                    Ok(())
                } else {
                    Err("its partitions are not assigned and restored yet".into())
                }
            });
        }
        {
            let snapshots = snapshots.clone();
            readiness.watch("stations", move || {
                if snapshots.has_changed().is_err() {
                    Err("the read model stopped".into())
                } else if snapshots.borrow().totals.stations == 0 {
                    Err(
                        "the board has no stations yet: the station table is empty or not \
                         read yet (is `transit process` running, and `transit stations \
                         source`?)"
                            .into(),
                    )
                } else {
                    Ok(())
                }
            });
        }
        Self {
            shared: Arc::new(Shared {
                readiness,
                snapshots,
                #[cfg(feature = "gtfs")]
                predictions,
                metrics,
                page: Mutex::new(Cached::default()),
                json: Mutex::new(Cached::default()),
                feed: OnceLock::new(),
                started: Instant::now(),
                shutdown,
            }),
            #[cfg(feature = "what-if")]
            what_ifs: None,
            accuracy: None,
        }
    }

    /// A dashboard of `snapshots` whose next trains (the board's "N min") and feeds
    /// (GTFS-realtime, Train Tracker) are the predictor's learnt `predictions` wherever it has
    /// one, the board's own estimates elsewhere (see [`crate::realtime::predicted_snapshots`]).
    /// Call it from within a Tokio runtime: it starts the task that follows the predictions.
    #[cfg(feature = "gtfs")]
    pub fn predicted(
        snapshots: watch::Receiver<Arc<StatusSnapshot>>,
        predictions: watch::Receiver<Arc<transit_core::status::PredictionTable>>,
        metrics: Arc<PipelineMetrics>,
        shutdown: CancellationToken,
    ) -> Self {
        let board = crate::realtime::predicted_snapshots(snapshots, predictions.clone());
        Self::build(board, Some(predictions), metrics, shutdown)
    }

    /// Shows each line's prediction accuracy from `snapshots` (an
    /// [`AccuracyService`](transit_core::accuracy::AccuracyService)'s): a panel per line on the
    /// page, its figures on `/metrics` and `/api/accuracy`.
    pub fn with_accuracy(mut self, snapshots: watch::Receiver<Arc<AccuracySnapshot>>) -> Self {
        self.accuracy = Some(snapshots);
        self
    }

    #[cfg(feature = "what-if")]
    /// Serves `POST`/`GET /api/what-if` over `control` (see [`crate::what_if`]); without it
    /// they answer 404.
    pub fn with_what_ifs(mut self, control: crate::what_if::WhatIfControl) -> Self {
        self.what_ifs = Some(control);
        self
    }

    /// What the board's `/readyz` checks: its own checks (read model restored, stations on the
    /// board), and whatever checks the caller adds (the broker, the registry).
    pub fn readiness(&self) -> Arc<Readiness> {
        Arc::clone(&self.shared.readiness)
    }

    /// The routes.
    pub fn router(&self) -> Router {
        let router = Router::new()
            .route("/", get(index))
            .route("/events", get(events))
            .route("/api/status", get(api_status))
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics_text))
            .route("/api/accuracy", get(api_accuracy))
            .route("/fragment/accuracy", get(accuracy_fragment))
            .fallback(not_found)
            .with_state(self.clone());
        #[cfg(feature = "gtfs")]
        let router = router
            .merge(crate::gtfs::router())
            .merge(crate::realtime::router_with(
                self.shared.snapshots.clone(),
                self.shared.predictions.clone(),
            ));
        #[cfg(feature = "what-if")]
        let router = router.merge(crate::what_if::router(
            self.what_ifs.clone(),
            self.shared.snapshots.clone(),
        ));
        router
    }

    fn snapshot(&self) -> Arc<StatusSnapshot> {
        Arc::clone(&self.shared.snapshots.borrow())
    }

    /// The accuracy table's current snapshot, if the board has one.
    fn accuracy(&self) -> Option<Arc<AccuracySnapshot>> {
        self.accuracy
            .as_ref()
            .map(|snapshots| Arc::clone(&snapshots.borrow()))
    }

    /// The cached rendering of the current snapshot (and accuracy table, when `with_accuracy`),
    /// rendered anew if either changed.
    fn cached(
        &self,
        cache: &Mutex<Cached>,
        with_accuracy: bool,
        render: impl FnOnce(&StatusSnapshot, Option<&AccuracySnapshot>) -> Bytes,
    ) -> Bytes {
        let snapshot = self.snapshot();
        let accuracy = if with_accuracy { self.accuracy() } else { None };
        let version = (snapshot.version, accuracy.as_ref().map_or(0, |a| a.version));
        let mut cached = cache.lock().unwrap_or_else(|e| e.into_inner());
        if cached.version != Some(version) {
            cached.body = render(&snapshot, accuracy.as_deref());
            cached.version = Some(version);
        }
        cached.body.clone()
    }
}

/// Binds `address` for the dashboard.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, ServeError> {
    server::bind(SERVER, address).await
}

/// Serves `dashboard` on `listener` until `shutdown` is cancelled; open event streams end then
/// too, so shutdown does not wait on browsers.
pub async fn serve(
    listener: TcpListener,
    dashboard: Dashboard,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    server::serve(SERVER, listener, dashboard.router(), shutdown).await
}

/// The dashboard page of `snapshot`, as `/` serves it.
pub fn render_page(snapshot: &StatusSnapshot) -> String {
    page::render(snapshot, None).into_string()
}

/// The dashboard page of `snapshot` with each line's accuracy panel from `accuracy`, as `/`
/// serves it when the board has the accuracy table.
pub fn render_page_with_accuracy(snapshot: &StatusSnapshot, accuracy: &AccuracySnapshot) -> String {
    page::render(snapshot, Some(accuracy)).into_string()
}

fn json_bytes(snapshot: &StatusSnapshot) -> Bytes {
    // Serialising plain data with string keys cannot fail; an empty object would show if it
    // ever did, rather than a panic.
    serde_json::to_vec(snapshot)
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(b"{}"))
}

async fn index(State(dashboard): State<Dashboard>) -> Response {
    let body = dashboard.cached(&dashboard.shared.page, true, |s, accuracy| {
        Bytes::from(page::render(s, accuracy).into_string())
    });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

async fn api_status(State(dashboard): State<Dashboard>) -> Response {
    let body = dashboard.cached(&dashboard.shared.json, false, |s, _| json_bytes(s));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

async fn healthz(State(dashboard): State<Dashboard>) -> Response {
    let snapshot = dashboard.snapshot();
    // The sender is dropped when the read model stops: the board would no longer change.
    let running = dashboard.shared.snapshots.has_changed().is_ok();
    let body = serde_json::json!({
        "status": if running { "ok" } else { "read model stopped" },
        "version": snapshot.version,
        "simulated_time": snapshot.simulated_time,
        "stations": snapshot.totals.stations,
        "uptime_seconds": dashboard.shared.started.elapsed().as_secs(),
    });
    let code = if running {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

async fn readyz(State(dashboard): State<Dashboard>) -> Response {
    crate::probes::readyz_response(&dashboard.shared.readiness)
}

async fn metrics_text(State(dashboard): State<Dashboard>) -> Response {
    let snapshot = dashboard.snapshot();
    let mut text = metrics::render(
        &dashboard.shared.metrics.snapshot(),
        &snapshot,
        dashboard.shared.started.elapsed(),
    );
    crate::probes::readiness_metrics(&mut text, &dashboard.shared.readiness);
    if let Some(accuracy) = dashboard.accuracy() {
        crate::accuracy_panel::metrics(&mut text, &accuracy);
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

async fn api_accuracy(State(dashboard): State<Dashboard>) -> Response {
    let accuracy = dashboard.accuracy().unwrap_or_default();
    server::json_response(StatusCode::OK, "application/json", accuracy.as_ref())
}

/// `?route=ID`.
#[derive(Debug, serde::Deserialize)]
struct RouteQuery {
    route: Option<String>,
}

/// One line's accuracy panel, by its route id (CTA's `Blue`): what the page's script swaps in.
async fn accuracy_fragment(
    State(dashboard): State<Dashboard>,
    Query(query): Query<RouteQuery>,
) -> Response {
    let line = query.route.as_deref().and_then(|route| {
        cta::LINES
            .into_iter()
            .find(|&line| cta::route_id(line).as_str() == route)
    });
    match (line, dashboard.accuracy()) {
        (Some(line), Some(accuracy)) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            page::accuracy_panel(line, &accuracy).into_string(),
        )
            .into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            "no such line's accuracy on this board\n",
        )
            .into_response(),
    }
}

async fn events(
    State(dashboard): State<Dashboard>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let shared = &dashboard.shared;
    let updates = shared
        .feed
        .get_or_init(|| {
            feed::start(
                shared.snapshots.clone(),
                EVENTS_EVERY,
                shared.shutdown.clone(),
            )
        })
        .clone();
    let viewer = feed::Viewer {
        // A browser reconnecting says which board it holds; anything else gets the whole one.
        holds: headers
            .get("last-event-id")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse().ok()),
        full_only: query
            .as_deref()
            .is_some_and(|query| query.split('&').any(|pair| pair == "full=1")),
    };
    let events = feed::events(updates, viewer, shared.shutdown.clone());
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Body::from_stream(events),
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({
            "error": "not found",
            "routes": ["/", "/events", "/api/status", "/api/accuracy", "/fragment/accuracy", "/healthz", "/readyz", "/metrics"],
        })),
    )
        .into_response()
}
