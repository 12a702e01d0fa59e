//! The live feeds over HTTP, from the status board's snapshots:
//!
//! - `GET /gtfs-rt/vehicle-positions` and `GET /gtfs-rt/trip-updates`: GTFS-realtime
//!   ([`transit_gtfs::realtime`]), protobuf (`application/x-protobuf`), or protobuf's JSON
//!   mapping with `?format=json`. Another `format` is a `400` saying which there are.
//! - `GET /api/1.0/ttarrivals.aspx`, `/api/1.0/ttpositions.aspx`, `/api/1.0/ttfollow.aspx`:
//!   CTA's Train Tracker API ([`transit_gtfs::tracker`]), XML or JSON (`outputType=JSON`); a bad
//!   request is answered as CTA answers it, `200` with `errCd`/`errNm`.
//!
//! The network the feeds name (the static feed's stops and trips) is built once, on the first
//! request, off the async workers, as the static feed is; the dashboard merges [`router`]
//! into its own routes.
//!
//! With the predictor's table ([`PredictionTable`], learnt predictions; [`router_with`]),
//! GTFS-realtime's trip updates and Train Tracker's `arrT`/`prdt`/`isSch`/`isDly` are its
//! predictions wherever it has one for a train at a stop, the board's estimates elsewhere
//! ([`transit_gtfs::live::CallSource`]); [`predicted_snapshots`] gives the board's "N min"
//! from the same predictions.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prost::Message;
use tokio::sync::{watch, OnceCell};
use tokio_util::sync::CancellationToken;
use transit_core::bus::EventBus;
use transit_core::codec::SchemaRegistry;
use transit_core::status::{predictions, PredictionTable, StatusSnapshot};
use transit_gtfs::live::{LiveBoard, LiveNetwork};
use transit_gtfs::tracker::{self, Endpoint};
use transit_gtfs::{realtime, Sources};

/// The path of the GTFS-realtime vehicle positions.
pub const VEHICLE_POSITIONS_PATH: &str = "/gtfs-rt/vehicle-positions";
/// The path of the GTFS-realtime trip updates.
pub const TRIP_UPDATES_PATH: &str = "/gtfs-rt/trip-updates";
/// The path of Train Tracker's arrivals.
pub const ARRIVALS_PATH: &str = "/api/1.0/ttarrivals.aspx";
/// The path of Train Tracker's locations.
pub const POSITIONS_PATH: &str = "/api/1.0/ttpositions.aspx";
/// The path of Train Tracker's Follow This Train.
pub const FOLLOW_PATH: &str = "/api/1.0/ttfollow.aspx";

#[derive(Debug)]
struct Feeds {
    snapshots: watch::Receiver<Arc<StatusSnapshot>>,
    /// The predictor's learnt predictions, when the feeds serve them.
    predictions: Option<watch::Receiver<Arc<PredictionTable>>>,
    /// The network, once built; a failed build is not kept, so the next request tries again.
    network: OnceCell<Arc<LiveNetwork>>,
}

/// Builds the embedded network off the async workers.
async fn build_network() -> Result<Arc<LiveNetwork>, String> {
    tokio::task::spawn_blocking(|| Sources::embedded().map(LiveNetwork::new))
        .await
        .map_err(|e| format!("building the network stopped: {e}"))?
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

impl Feeds {
    async fn network(&self) -> Result<Arc<LiveNetwork>, String> {
        self.network.get_or_try_init(build_network).await.cloned()
    }

    /// The current snapshot's trains, as the feeds see them.
    async fn board(&self) -> Result<(Arc<LiveNetwork>, LiveBoard), String> {
        let network = self.network().await?;
        let snapshot = Arc::clone(&self.snapshots.borrow());
        let table = self
            .predictions
            .as_ref()
            .map(|predictions| Arc::clone(&predictions.borrow()));
        let board = network.board_with(&snapshot, table.as_deref());
        Ok((network, board))
    }
}

/// The live feeds' routes over the board's `snapshots`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
///
/// use tokio::sync::watch;
/// use tokio_util::sync::CancellationToken;
/// use transit_core::status::StatusSnapshot;
///
/// let (_board, snapshots) = watch::channel(Arc::new(StatusSnapshot::default()));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let base = format!("http://{}", listener.local_addr()?);
/// let shutdown = CancellationToken::new();
/// let app = transit_http::realtime::router(snapshots);
/// let server = tokio::spawn(transit_http::server::serve("feeds", listener, app, shutdown.clone()));
///
/// let answer = reqwest::get(format!("{base}/api/1.0/ttfollow.aspx?outputType=JSON")).await?;
/// assert_eq!(answer.status(), 200);
/// assert!(answer.text().await?.contains(r#""errCd":"100""#));
///
/// shutdown.cancel();
/// server.await??;
/// # Ok(())
/// # }
/// ```
pub fn router(snapshots: watch::Receiver<Arc<StatusSnapshot>>) -> Router {
    router_with(snapshots, None)
}

/// The live feeds' routes over the board's `snapshots`, timed by the learnt `predictions`
/// where they have one (see the module's doc); [`router`] without them.
pub fn router_with(
    snapshots: watch::Receiver<Arc<StatusSnapshot>>,
    predictions: Option<watch::Receiver<Arc<PredictionTable>>>,
) -> Router {
    Router::new()
        .route(VEHICLE_POSITIONS_PATH, get(vehicle_positions))
        .route(TRIP_UPDATES_PATH, get(trip_updates))
        .route(ARRIVALS_PATH, get(arrivals))
        .route(POSITIONS_PATH, get(positions))
        .route(FOLLOW_PATH, get(follow))
        .with_state(Arc::new(Feeds {
            snapshots,
            predictions,
            network: OnceCell::new(),
        }))
}

/// Reads the predictor's records from `topic` (its table, or the issued predictions on a bus
/// that drops withdrawals as they come: see [`predictions::follow`]) into the table `sender`
/// publishes, batch by batch (a batch that changes nothing is not published), until `shutdown`
/// is cancelled or the bus closes: what [`router_with`], [`predicted_snapshots`] and
/// [`crate::dashboard::Dashboard::predicted`] read.
pub async fn follow_predictions(
    bus: Arc<dyn EventBus>,
    registry: Arc<dyn SchemaRegistry>,
    topic: &str,
    sender: watch::Sender<Arc<PredictionTable>>,
    shutdown: CancellationToken,
) -> Result<predictions::FollowStats, predictions::FollowError> {
    let method = sender.borrow().method().to_string();
    predictions::follow(bus, registry, topic, &method, shutdown, |records| {
        sender.send_if_modified(|table| {
            // In place unless a reader holds the table (a request being answered): then a copy.
            let table = Arc::make_mut(table);
            let mut changed = false;
            for (key, value) in records {
                changed |= table.apply(key, value.as_ref());
            }
            changed
        });
    })
    .await
}

/// The most often [`predicted_snapshots`] makes a new snapshot: the predictions change with
/// every arrival, and a viewer's board needs no more than a few a second.
pub const PREDICTED_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// The board's `snapshots` with each platform's next train (the board's "N min") from the
/// learnt `predictions` where a train is predicted there
/// ([`LiveNetwork::with_predicted_next_trains`]), anew whenever either changes (at most every
/// [`PREDICTED_EVERY`]), each with a version of its own that grows with every change. It ends
/// (its receivers see the sender gone) when `snapshots`' sender is gone or no receiver is
/// left; if `predictions`' sender goes, the last predictions stay. Until the network is built
/// (off the async workers), and if it cannot be, the snapshots are passed on as they are.
///
/// Spawns its task on the current Tokio runtime: call it from within one.
pub fn predicted_snapshots(
    snapshots: watch::Receiver<Arc<StatusSnapshot>>,
    predictions: watch::Receiver<Arc<PredictionTable>>,
) -> watch::Receiver<Arc<StatusSnapshot>> {
    let first = Arc::clone(&snapshots.borrow());
    let (sender, receiver) = watch::channel(first);
    tokio::spawn(overlay_predictions(snapshots, predictions, sender));
    receiver
}

async fn overlay_predictions(
    mut snapshots: watch::Receiver<Arc<StatusSnapshot>>,
    mut predictions: watch::Receiver<Arc<PredictionTable>>,
    sender: watch::Sender<Arc<StatusSnapshot>>,
) {
    // Built alongside: the snapshots pass on as they are meanwhile.
    let mut building = Some(Box::pin(build_network()));
    let mut network: Option<Arc<LiveNetwork>> = None;
    let mut version = sender.borrow().version;
    let mut predictions_open = true;
    let mut last: Option<StatusSnapshot> = None;
    loop {
        let snapshot = Arc::clone(&snapshots.borrow_and_update());
        let table = Arc::clone(&predictions.borrow_and_update());
        let mut next = match &network {
            Some(network) => {
                let board = network.board_with(&snapshot, Some(&table));
                network.with_predicted_next_trains(&snapshot, &board)
            }
            None => StatusSnapshot::clone(&snapshot),
        };
        // Only a change is a new version: the predictions often change where no board shows.
        next.version = version;
        if last.as_ref() != Some(&next) {
            version += 1;
            next.version = version;
            last = Some(next.clone());
            if sender.send(Arc::new(next)).is_err() {
                return;
            }
        }
        tokio::select! {
            built = async {
                match building.as_mut() {
                    Some(build) => build.await,
                    None => std::future::pending().await,
                }
            }, if building.is_some() => {
                building = None;
                match built {
                    Ok(built) => network = Some(built),
                    Err(message) => tracing::error!(
                        %message,
                        "the board's next trains stay the board's own: the network cannot be built"
                    ),
                }
                continue;
            }
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            changed = predictions.changed(), if predictions_open => {
                predictions_open = changed.is_ok();
            }
            () = sender.closed() => return,
        }
        tokio::time::sleep(PREDICTED_EVERY).await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RtFormat {
    Protobuf,
    Json,
}

/// `format` from the query: `pb`/`protobuf` (the default) or `json`.
fn rt_format(query: Option<&str>) -> Result<RtFormat, String> {
    let mut format = RtFormat::Protobuf;
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if name != "format" {
            continue;
        }
        format = match value.to_ascii_lowercase().as_str() {
            "json" => RtFormat::Json,
            "pb" | "protobuf" | "" => RtFormat::Protobuf,
            other => {
                return Err(format!(
                    "unknown format {other:?}: `json` for protobuf's JSON mapping, or none (or \
                     `pb`) for protobuf\n"
                ))
            }
        };
    }
    Ok(format)
}

/// Whether the query asks for protobuf's JSON mapping; an unknown `format` is the `400`'s
/// message.
pub(crate) fn wants_json(query: Option<&str>) -> Result<bool, String> {
    rt_format(query).map(|format| format == RtFormat::Json)
}

type Build = fn(&LiveBoard) -> realtime::proto::FeedMessage;

async fn gtfs_rt(feeds: &Feeds, query: Option<String>, build: Build) -> Response {
    let format = match rt_format(query.as_deref()) {
        Ok(format) => format,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let board = match feeds.board().await {
        Ok((_, board)) => board,
        Err(message) => return unavailable(&message),
    };
    let feed = build(&board);
    match format {
        RtFormat::Protobuf => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-protobuf"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            feed.encode_to_vec(),
        )
            .into_response(),
        RtFormat::Json => match serde_json::to_vec_pretty(&feed) {
            Ok(body) => (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
                body,
            )
                .into_response(),
            Err(e) => unavailable(&format!("the feed could not be written as JSON: {e}")),
        },
    }
}

/// The network could not be built: the feeds cannot answer until it is.
fn unavailable(message: &str) -> Response {
    tracing::error!(%message, "the live feeds cannot answer");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the live feeds cannot answer: {message}\n"),
    )
        .into_response()
}

async fn vehicle_positions(State(feeds): State<Arc<Feeds>>, RawQuery(query): RawQuery) -> Response {
    gtfs_rt(&feeds, query, realtime::vehicle_positions).await
}

async fn trip_updates(State(feeds): State<Arc<Feeds>>, RawQuery(query): RawQuery) -> Response {
    gtfs_rt(&feeds, query, realtime::trip_updates).await
}

async fn train_tracker(feeds: &Feeds, endpoint: Endpoint, query: Option<String>) -> Response {
    let query = query.unwrap_or_default();
    let answer = match feeds.board().await {
        Ok((network, board)) => tracker::answer(&network, &board, endpoint, &query),
        Err(message) => {
            tracing::error!(%message, "Train Tracker cannot answer");
            tracker::server_error(&query)
        }
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(answer.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        answer.body,
    )
        .into_response()
}

async fn arrivals(State(feeds): State<Arc<Feeds>>, RawQuery(query): RawQuery) -> Response {
    train_tracker(&feeds, Endpoint::Arrivals, query).await
}

async fn positions(State(feeds): State<Arc<Feeds>>, RawQuery(query): RawQuery) -> Response {
    train_tracker(&feeds, Endpoint::Positions, query).await
}

async fn follow(State(feeds): State<Arc<Feeds>>, RawQuery(query): RawQuery) -> Response {
    train_tracker(&feeds, Endpoint::Follow, query).await
}
