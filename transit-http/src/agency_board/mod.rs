//! The board for any agency's network: the routes of a static GTFS feed's service day, each
//! route's diagram from its stop patterns, and a map of the network's shapes and stations with
//! the trains placed on them, live.
//!
//! Its read model consumes only the bus (the any-feed arrivals topic,
//! [`Topics::vehicle_arrivals`](transit_core::topics::Topics::vehicle_arrivals)) beside the
//! static [`ServiceDay`] and the feed's shapes ([`AgencyNetwork`]): each vehicle's latest
//! arrival places it, at the stop until the departure time the record names and between that
//! stop and the next after it. "Now" is the latest instant the bus has carried, so a flat-out
//! run and a live one are placed the same way.
//!
//! Fed the predictor's records too ([`consume_predictions`]), each stop of a route's diagram
//! says when the next trains of that pattern are due ("N min", from their `learnt`
//! predictions), and `/api/arrivals?stop=ID` gives a stop's predicted arrivals.
//!
//! Routes: `/` (the page; `?route=ID` picks the route whose diagram it shows), `/fragment/diagram`
//! and `/fragment/trains` (the parts the page's script polls), `/api/trains` and
//! `/api/arrivals?stop=ID` (JSON), `/healthz`.
//! With the accuracy table ([`AgencyBoard::with_accuracy`]) the page shows the chosen route's
//! prediction accuracy panel (`/fragment/accuracy?route=ID`, fetched anew every ten seconds),
//! `/api/accuracy` gives the figures as JSON and `/metrics` in Prometheus text.
//! Everything is inline: no CDN, it works offline.

mod view;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use transit_core::accuracy::AccuracySnapshot;
use transit_core::bus::Consumer;
use transit_core::bus::EventBus;
use transit_core::codec::SchemaRegistry;
use transit_core::codec::TopicCodec;
use transit_core::event::{PredictionEvent, PredictionKey, VehicleArrivalEvent};
use transit_core::network::service_day::{ServiceDay, StopIndex};
use transit_core::status::{predictions, PredictionTable};

use crate::server::{self, ServeError};

const SERVER: &str = "agency board";

/// How often the page polls its live parts, milliseconds.
pub const POLL_EVERY_MS: u32 = 2_000;

/// A trip that reached its last stop this long ago (by the bus's clock) leaves the board, unless
/// its vehicle's next trip has replaced it before.
const FINISHED_KEPT_MS: i64 = 120_000;

/// The patterns a route's diagram shows at most (the most-run first).
const MAX_PATTERNS: usize = 8;

/// A shape of the feed (`shapes.txt`): its points in order.
#[derive(Debug, Clone, PartialEq)]
pub struct MapShape {
    /// `shape_id`.
    pub id: String,
    /// The points, (latitude, longitude).
    pub points: Vec<(f64, f64)>,
}

/// What the board knows of the network: the service day and the shapes its trips name.
#[derive(Debug, Clone)]
pub struct AgencyNetwork {
    /// The agency's name as riders know it (the page's title).
    pub name: String,
    /// The day's routes, stops and trips.
    pub day: Arc<ServiceDay>,
    /// The feed's shapes (those the day's trips do not name are left off the map).
    pub shapes: Vec<MapShape>,
}

/// One distinct stop sequence of a route's trips.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    /// Its stops in order (the first trip seen running it sets the direction).
    pub stops: Vec<StopIndex>,
    /// Trips of the day that run it, either way.
    pub trips: usize,
}

/// Where a trip runs: its pattern, and whether it runs it backwards.
#[derive(Debug, Clone, Copy)]
struct TripPlace {
    /// The trip's index in the day.
    index: usize,
    route: usize,
    pattern: usize,
    reversed: bool,
    stops: usize,
    shape: Option<usize>,
}

/// A vehicle as its latest arrival places it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrainState {
    /// The vehicle.
    pub vehicle_id: String,
    /// The route of its trip.
    pub route_id: String,
    /// The trip it runs.
    pub trip_id: String,
    /// The stop it arrived at last.
    pub stop_id: String,
    /// That stop's place in the trip, 0 for the first.
    pub stop_sequence: u32,
    /// When it arrived there, Unix milliseconds.
    pub arrival_time: i64,
    /// When it leaves (left) there, Unix milliseconds.
    pub departure_time: i64,
}

/// The live part of the board.
#[derive(Debug, Default)]
struct Live {
    trains: HashMap<String, TrainState>,
    /// The latest instant the bus has carried, Unix milliseconds.
    now_ms: i64,
    /// Records applied.
    applied: u64,
    /// Records naming a trip the day does not have.
    unknown: u64,
    /// The predictor's current `learnt` predictions.
    predictions: PredictionTable,
}

/// A train predicted at a stop, as the board says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Due {
    /// The vehicle.
    pub vehicle_id: String,
    /// The route of the trip it is predicted on.
    pub route_id: String,
    /// That trip.
    pub trip_id: String,
    /// The stop (the static feed's `stop_id`).
    pub stop_id: String,
    /// When it is predicted to arrive, Unix milliseconds.
    pub predicted_arrival_time: i64,
    /// Whole minutes from now until then (0: due now, or overdue).
    pub minutes: i64,
    /// The prediction's expected error, seconds, when stated.
    pub uncertainty_s: Option<i32>,
}

impl Due {
    fn of(prediction: &PredictionEvent, now_ms: i64) -> Self {
        Self {
            vehicle_id: prediction.vehicle_id.clone(),
            route_id: prediction.route_id.clone(),
            trip_id: prediction.trip_id.clone(),
            stop_id: prediction.stop_id.clone(),
            predicted_arrival_time: prediction.predicted_arrival_time,
            minutes: (prediction.predicted_arrival_time - now_ms).max(0) / 60_000,
            uncertainty_s: prediction.uncertainty_s,
        }
    }

    /// "Due" under a minute away, else "N min".
    pub fn label(&self) -> String {
        if self.minutes == 0 {
            "Due".into()
        } else {
            format!("{} min", self.minutes)
        }
    }
}

/// The trains due at a route's stops: per pattern and stop, the soonest first.
pub(crate) type DueAt = HashMap<(usize, StopIndex), Vec<Due>>;

/// The static part, worked out once.
#[derive(Debug)]
pub(crate) struct Static {
    pub network: AgencyNetwork,
    /// Per route (the day's order), its patterns, the most-run first.
    pub patterns: Vec<Vec<Pattern>>,
    trips: HashMap<String, TripPlace>,
    /// The map's projection and the static SVG of shapes and stations.
    pub map: view::MapBase,
}

/// The board; cheap to clone.
#[derive(Debug, Clone)]
pub struct AgencyBoard {
    fixed: Arc<Static>,
    live: Arc<Mutex<Live>>,
    /// The accuracy read model's snapshots, if the predictions are scored where it runs.
    accuracy: Option<watch::Receiver<Arc<AccuracySnapshot>>>,
}

/// A train as the page draws it.
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    pub state: TrainState,
    pub route: usize,
    pub pattern: usize,
    /// Its place along the pattern, stops from the pattern's first: whole at a stop, a half
    /// between two.
    pub position: f64,
    /// Where the map draws it.
    pub point: Option<(f64, f64)>,
    /// At the stop (else on its way to the next).
    pub at_stop: bool,
    /// Runs its pattern backwards.
    pub reversed: bool,
    /// The name of the stop it arrived at last.
    pub stop_name: String,
}

impl AgencyBoard {
    /// A board of `network`, with no trains yet.
    pub fn new(network: AgencyNetwork) -> Self {
        let day = &network.day;
        let shape_index: HashMap<&str, usize> = network
            .shapes
            .iter()
            .enumerate()
            .map(|(i, shape)| (shape.id.as_str(), i))
            .collect();
        let mut patterns: Vec<Vec<Pattern>> = vec![Vec::new(); day.routes.len()];
        let mut by_sequence: HashMap<(usize, Vec<StopIndex>), (usize, bool)> = HashMap::new();
        let mut trips = HashMap::with_capacity(day.trips.len());
        let route_index: HashMap<_, usize> = day
            .routes
            .iter()
            .enumerate()
            .map(|(i, route)| (route.id, i))
            .collect();
        for (index, trip) in day.trips.iter().enumerate() {
            let Some(&route) = route_index.get(&trip.route) else {
                continue;
            };
            let stops: Vec<StopIndex> = trip.stops.iter().map(|stop| stop.stop).collect();
            let found = by_sequence.get(&(route, stops.clone())).copied();
            let (pattern, reversed) = match found {
                Some(place) => place,
                None => {
                    let pattern = patterns[route].len();
                    let mut reverse = stops.clone();
                    reverse.reverse();
                    by_sequence.insert((route, stops.clone()), (pattern, false));
                    by_sequence.insert((route, reverse), (pattern, true));
                    patterns[route].push(Pattern {
                        stops: stops.clone(),
                        trips: 0,
                    });
                    (pattern, false)
                }
            };
            patterns[route][pattern].trips += 1;
            let shape = trip
                .shape_id
                .as_deref()
                .and_then(|id| shape_index.get(id).copied());
            trips.insert(
                trip.trip_id.clone(),
                TripPlace {
                    index,
                    route,
                    pattern,
                    reversed,
                    stops: stops.len(),
                    shape,
                },
            );
        }
        // The most-run first; the trips keep their pattern through the reordering.
        let mut order: Vec<Vec<usize>> = Vec::with_capacity(patterns.len());
        for route_patterns in &mut patterns {
            let mut indices: Vec<usize> = (0..route_patterns.len()).collect();
            indices.sort_by_key(|&i| std::cmp::Reverse(route_patterns[i].trips));
            let mut new_place = vec![0; indices.len()];
            for (new, &old) in indices.iter().enumerate() {
                new_place[old] = new;
            }
            let sorted = indices.iter().map(|&i| route_patterns[i].clone()).collect();
            *route_patterns = sorted;
            order.push(new_place);
        }
        for place in trips.values_mut() {
            place.pattern = order[place.route][place.pattern];
        }
        let map = view::MapBase::new(&network);
        Self {
            fixed: Arc::new(Static {
                network,
                patterns,
                trips,
                map,
            }),
            live: Arc::new(Mutex::new(Live::default())),
            accuracy: None,
        }
    }

    /// Shows the routes' prediction accuracy from `snapshots` (an
    /// [`AccuracyService`](transit_core::accuracy::AccuracyService)'s): the chosen route's
    /// panel on the page, every route's figures on `/api/accuracy` and `/metrics`.
    pub fn with_accuracy(mut self, snapshots: watch::Receiver<Arc<AccuracySnapshot>>) -> Self {
        self.accuracy = Some(snapshots);
        self
    }

    /// The accuracy table's current snapshot, if the board has one.
    pub(crate) fn accuracy(&self) -> Option<Arc<AccuracySnapshot>> {
        self.accuracy
            .as_ref()
            .map(|snapshots| Arc::clone(&snapshots.borrow()))
    }

    /// The network it shows.
    pub fn network(&self) -> &AgencyNetwork {
        &self.fixed.network
    }

    /// Applies one arrival: its vehicle is placed by it. Returns false for a trip the day does
    /// not have (counted, not shown).
    pub fn apply(&self, event: &VehicleArrivalEvent) -> bool {
        let known = self.fixed.trips.contains_key(&event.trip_id);
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.now_ms = live.now_ms.max(event.arrival_time);
        if !known {
            live.unknown += 1;
            return false;
        }
        live.applied += 1;
        let newer = live
            .trains
            .get(&event.vehicle_id)
            .is_none_or(|train| train.arrival_time <= event.arrival_time);
        if newer {
            live.trains.insert(
                event.vehicle_id.clone(),
                TrainState {
                    vehicle_id: event.vehicle_id.clone(),
                    route_id: event.route_id.clone(),
                    trip_id: event.trip_id.clone(),
                    stop_id: event.stop_id.clone(),
                    stop_sequence: event.stop_sequence,
                    arrival_time: event.arrival_time,
                    departure_time: event.departure_time,
                },
            );
        }
        true
    }

    /// Applies one record of the predictor's table, in topic order (`None`: withdrawn); only
    /// the `learnt` method's are kept. Returns whether the predictions changed.
    pub fn apply_prediction(&self, key: &PredictionKey, value: Option<&PredictionEvent>) -> bool {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.predictions.apply(key, value)
    }

    /// The predicted arrivals at a stop (the static feed's `stop_id`), the soonest first,
    /// counted from the board's now.
    pub fn arrivals_at(&self, stop_id: &str) -> (i64, Vec<Due>) {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let now = live.now_ms;
        let due = live
            .predictions
            .at_stop(stop_id)
            .map(|p| Due::of(p, now))
            .collect();
        (now, due)
    }

    /// The trains due at the stops of `route` (an index into the day's routes), by pattern.
    pub(crate) fn due(&self, route: Option<usize>) -> DueAt {
        let mut due = DueAt::new();
        let Some(route) = route else { return due };
        let day = &self.fixed.network.day;
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        for prediction in live.predictions.iter() {
            let Some(place) = self.fixed.trips.get(&prediction.trip_id) else {
                continue;
            };
            if place.route != route {
                continue;
            }
            let stop = day
                .trips
                .get(place.index)
                .and_then(|t| t.stops.get(prediction.stop_sequence as usize));
            if let Some(stop) = stop {
                due.entry((place.pattern, stop.stop))
                    .or_default()
                    .push(Due::of(prediction, live.now_ms));
            }
        }
        for trains in due.values_mut() {
            trains.sort_by(|a, b| {
                (a.predicted_arrival_time, &a.vehicle_id)
                    .cmp(&(b.predicted_arrival_time, &b.vehicle_id))
            });
        }
        due
    }

    /// Predictions of the `learnt` method applied so far.
    pub fn predictions_applied(&self) -> u64 {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .predictions
            .applied()
    }

    /// Records applied so far.
    pub fn applied(&self) -> u64 {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).applied
    }

    /// The trains in service now, placed, by route and vehicle.
    pub(crate) fn placed(&self) -> (i64, Vec<Placed>) {
        // Copied out, so placing them on the map does not hold the reader up.
        let (now, states) = {
            let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
            (
                live.now_ms,
                live.trains.values().cloned().collect::<Vec<_>>(),
            )
        };
        let mut placed: Vec<Placed> = states
            .iter()
            .filter_map(|state| self.place(state, now))
            .collect();
        placed.sort_by(|a, b| (a.route, &a.state.vehicle_id).cmp(&(b.route, &b.state.vehicle_id)));
        (now, placed)
    }

    fn place(&self, state: &TrainState, now: i64) -> Option<Placed> {
        let trip = self.fixed.trips.get(&state.trip_id)?;
        let sequence = state.stop_sequence as usize;
        let last = trip.stops.checked_sub(1)?;
        let at_stop = now < state.departure_time || sequence >= last;
        if sequence >= last && now - state.departure_time > FINISHED_KEPT_MS {
            return None;
        }
        let along = if at_stop {
            sequence as f64
        } else {
            sequence as f64 + 0.5
        };
        let position = if trip.reversed {
            last as f64 - along
        } else {
            along
        };
        let day = &self.fixed.network.day;
        let trip_stops = day.trips.get(trip.index).map(|t| &t.stops);
        let stop_name = trip_stops
            .and_then(|stops| stops.get(sequence))
            .map_or_else(
                || state.stop_id.clone(),
                |stop| view::stop_name(day, stop.stop).to_string(),
            );
        let point = trip_stops.and_then(|stops| {
            let here = stops.get(sequence)?.stop;
            let next = if at_stop {
                None
            } else {
                stops.get(sequence + 1).map(|s| s.stop)
            };
            self.fixed
                .map
                .train_point(&self.fixed.network, trip.shape, here, next)
        });
        Some(Placed {
            state: state.clone(),
            route: trip.route,
            pattern: trip.pattern,
            position,
            point,
            at_stop,
            reversed: trip.reversed,
            stop_name,
        })
    }

    /// The routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(index))
            .route("/fragment/diagram", get(diagram_fragment))
            .route("/fragment/trains", get(trains_fragment))
            .route("/api/trains", get(api_trains))
            .route("/api/arrivals", get(api_arrivals))
            .route("/api/accuracy", get(api_accuracy))
            .route("/fragment/accuracy", get(accuracy_fragment))
            .route("/metrics", get(metrics_text))
            .route("/healthz", get(healthz))
            .fallback(not_found)
            .with_state(self.clone())
    }
}

/// Why reading the arrivals stopped.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    /// The bus failed.
    #[error("reading the arrivals")]
    Bus(#[source] transit_core::bus::Error),
}

/// Reads the arrivals from `consumer` into `board` until `shutdown` is cancelled or the bus
/// closes; a record that cannot be decoded is logged and skipped (the board shows what it can).
/// Returns the records applied.
pub async fn consume(
    board: AgencyBoard,
    mut consumer: Box<dyn Consumer>,
    codec: Arc<TopicCodec<VehicleArrivalEvent>>,
    shutdown: CancellationToken,
) -> Result<u64, ConsumeError> {
    let mut undecodable = 0u64;
    loop {
        let delivery = tokio::select! {
            () = shutdown.cancelled() => break,
            delivery = consumer.recv() => delivery,
        };
        let Some(delivery) = delivery else { break };
        let delivery = delivery.map_err(ConsumeError::Bus)?;
        match codec.decode(&delivery).await {
            Ok((_, event)) => {
                board.apply(&event);
            }
            Err(error) => {
                undecodable += 1;
                tracing::warn!(
                    topic = %delivery.topic,
                    offset = delivery.offset,
                    undecodable,
                    error = %error,
                    "skipping an arrival the board cannot decode"
                );
            }
        }
    }
    Ok(board.applied())
}

/// Reads the predictor's records from `topic` into `board` until `shutdown` is cancelled or
/// the bus closes: the prediction table, or the issued predictions on a bus whose compaction
/// drops withdrawals as they come ([`predictions::follow`]).
pub async fn consume_predictions(
    board: AgencyBoard,
    bus: Arc<dyn EventBus>,
    registry: Arc<dyn SchemaRegistry>,
    topic: String,
    shutdown: CancellationToken,
) -> Result<predictions::FollowStats, predictions::FollowError> {
    predictions::follow(
        bus,
        registry,
        &topic,
        predictions::LEARNT,
        shutdown,
        |records| {
            let mut live = board.live.lock().unwrap_or_else(|e| e.into_inner());
            for (key, value) in records {
                live.predictions.apply(key, value.as_ref());
            }
        },
    )
    .await
}

/// Binds `address` for the board.
pub async fn bind(address: std::net::SocketAddr) -> Result<TcpListener, ServeError> {
    server::bind(SERVER, address).await
}

/// Serves `board` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    board: AgencyBoard,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    serve_with(listener, board, Router::new(), shutdown).await
}

/// Serves `board` and the routes of `feeds` beside it (any agency's static feed and
/// GTFS-realtime: `transit_http::agency::AgencyFeeds::router`, feature `gtfs`) on `listener`
/// until `shutdown` is cancelled.
pub async fn serve_with(
    listener: TcpListener,
    board: AgencyBoard,
    feeds: Router,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    server::serve(SERVER, listener, board.router().merge(feeds), shutdown).await
}

/// `?route=ID`.
#[derive(Debug, Deserialize)]
struct RouteQuery {
    route: Option<String>,
}

impl AgencyBoard {
    /// The route `query` names, else the first; `Err` with the id of one the day does not have.
    fn chosen_route<'q>(&self, query: &'q RouteQuery) -> Result<Option<usize>, &'q str> {
        let routes = &self.fixed.network.day.routes;
        match &query.route {
            None => Ok((!routes.is_empty()).then_some(0)),
            Some(id) => routes
                .iter()
                .position(|route| route.id.as_str() == id)
                .map(Some)
                .ok_or(id.as_str()),
        }
    }
}

/// The answer for a route the board does not have.
fn no_route(id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        format!("no route {id} on this board\n"),
    )
        .into_response()
}

fn html(body: String) -> Response {
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

async fn index(State(board): State<AgencyBoard>, Query(query): Query<RouteQuery>) -> Response {
    match board.chosen_route(&query) {
        Ok(route) => html(
            view::page(
                &board.fixed,
                route,
                &board.placed(),
                &board.due(route),
                board.accuracy().as_deref(),
            )
            .into_string(),
        ),
        Err(id) => no_route(id),
    }
}

async fn diagram_fragment(
    State(board): State<AgencyBoard>,
    Query(query): Query<RouteQuery>,
) -> Response {
    match board.chosen_route(&query) {
        Ok(route) => html(
            view::diagram(&board.fixed, route, &board.placed().1, &board.due(route)).into_string(),
        ),
        Err(id) => no_route(id),
    }
}

async fn trains_fragment(State(board): State<AgencyBoard>) -> Response {
    html(view::map_trains(&board.fixed, &board.placed().1).into_string())
}

async fn api_trains(State(board): State<AgencyBoard>) -> Response {
    let (now, placed) = board.placed();
    #[derive(Serialize)]
    struct Answer<'a> {
        now_ms: i64,
        trains: Vec<&'a TrainState>,
    }
    let answer = Answer {
        now_ms: now,
        trains: placed.iter().map(|p| &p.state).collect(),
    };
    server::json_response(StatusCode::OK, "application/json", &answer)
}

/// `?stop=ID`.
#[derive(Debug, Deserialize)]
struct StopQuery {
    stop: String,
}

async fn api_arrivals(
    State(board): State<AgencyBoard>,
    Query(query): Query<StopQuery>,
) -> Response {
    let (now, arrivals) = board.arrivals_at(&query.stop);
    #[derive(Serialize)]
    struct Answer<'a> {
        now_ms: i64,
        stop_id: &'a str,
        arrivals: Vec<Due>,
    }
    let answer = Answer {
        now_ms: now,
        stop_id: &query.stop,
        arrivals,
    };
    server::json_response(StatusCode::OK, "application/json", &answer)
}

async fn api_accuracy(State(board): State<AgencyBoard>) -> Response {
    let accuracy = board.accuracy().unwrap_or_default();
    server::json_response(StatusCode::OK, "application/json", accuracy.as_ref())
}

/// One route's accuracy panel: what the page's script swaps in.
async fn accuracy_fragment(
    State(board): State<AgencyBoard>,
    Query(query): Query<RouteQuery>,
) -> Response {
    let Some(accuracy) = board.accuracy() else {
        return (StatusCode::NOT_FOUND, "no accuracy on this board\n").into_response();
    };
    match board.chosen_route(&query) {
        Ok(Some(route)) => match board.fixed.network.day.routes.get(route) {
            Some(route) => html(view::accuracy_panel(route, &accuracy).into_string()),
            None => no_route(""),
        },
        Ok(None) => no_route(""),
        Err(id) => no_route(id),
    }
}

/// The accuracy figures in Prometheus text, and the records the board applied.
async fn metrics_text(State(board): State<AgencyBoard>) -> Response {
    let mut text = String::with_capacity(4096);
    crate::prometheus::family(
        &mut text,
        "transit_board_arrivals_applied_total",
        "counter",
        "Arrivals the board applied.",
    );
    crate::prometheus::sample(
        &mut text,
        "transit_board_arrivals_applied_total",
        &[],
        board.applied() as f64,
    );
    if let Some(accuracy) = board.accuracy() {
        crate::accuracy_panel::metrics(&mut text, &accuracy);
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::prometheus::CONTENT_TYPE),
        )],
        text,
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

#[cfg(test)]
mod tests;
