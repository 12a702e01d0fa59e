//! GTFS-realtime of any agency's simulated day, in the input feed's own ids.
//!
//! [`AgencyBoard`] is the read model: it is fed the [`VehicleArrivalEvent`]s of the arrivals
//! topic (any bus) and knows only them and the static [`ServiceDay`] they name, never the
//! simulator's state. For each vehicle it keeps the trip it runs and its latest arrival (stop,
//! actual and scheduled times), so its delay. From it, at any instant `now`:
//!
//! - [`AgencyBoard::vehicle_positions`]: each vehicle on a trip, `STOPPED_AT` the stop it last
//!   arrived at until its departure (placed where the stop projects onto the trip's shape, when
//!   the board has it), then `IN_TRANSIT_TO` (`INCOMING_AT` within
//!   [`APPROACHING_S`] of its predicted arrival: the predictor's, when the board serves them)
//!   the next stop, as
//!   far along the way between the two stops as the time since its departure is of the
//!   scheduled run time between them: along the trip's shape when the board has it
//!   ([`AgencyBoard::with_shapes`]; the service day names shapes but does not carry them),
//!   else on the straight line between the stops' coordinates.
//! - [`AgencyBoard::trip_updates`]: each trip's stops ahead, predicted at the scheduled times
//!   plus the vehicle's current delay (its lateness leaving its last stop), never before `now`
//!   and never decreasing along the trip, each named by the feed's `stop_sequence` and
//!   `stop_id`.
//!
//! A board [`AgencyBoard::with_predictions`] serves its trip updates from the predictor's
//! instead: it is also fed the prediction table (`<prefix>.predictions.table.v1`,
//! [`AgencyBoard::apply_prediction`]) and each trip instance with `learnt` predictions has a
//! trip update with a stop time update per stop predicted: the arrival at the predicted
//! arrival, the departure at the predicted departure, each with the prediction's
//! `uncertainty` (seconds), never before `now` and never decreasing along the trip. A withdrawn
//! prediction (the vehicle got there, or left service) leaves the feed with its record; a trip
//! with none left leaves it too. The trips a vehicle runs next, predicted up to the predictor's
//! horizon, are served as well, named `VEHICLE/TRIP_ID` (the vehicle's current trip is named by
//! the vehicle alone, as the positions are).
//!
//! Trips are named as the static feed names them: `trip_id`, `route_id`, `direction_id`,
//! `start_date` and, for a frequency instance, `start_time`. A frequency trip with
//! `exact_times` 0 is `UNSCHEDULED` (the trip and every stop time update, with times and no
//! delays, as the GTFS-realtime reference requires); every other trip is `SCHEDULED`. A vehicle
//! that has reached its trip's last stop leaves the feeds once its departure time there passes.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use transit_core::event::{PredictionEvent, PredictionKey, TripCancellation, VehicleArrivalEvent};
use transit_core::network::service_day::{ScheduledTrip, ServiceDay, StopIndex, TripIndex};
use transit_core::status::{PredictionTable, TripInstance};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::live::APPROACHING_S;
use crate::realtime::proto::trip_update::stop_time_update;
use crate::realtime::proto::trip_update::{StopTimeEvent, StopTimeUpdate};
use crate::realtime::proto::vehicle_position::VehicleStopStatus;
use crate::realtime::proto::{
    feed_header, trip_descriptor, FeedEntity, FeedHeader, FeedMessage, Position, TripDescriptor,
    TripUpdate, VehicleDescriptor, VehiclePosition,
};
use crate::realtime::VERSION;

#[cfg(test)]
mod tests;

/// Why an arrival, or the static feed, could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgencyError {
    /// An arrival names a trip instance the service day does not have (another feed's or
    /// another day's record on the topic).
    #[error("trip {trip_id} (start_time {start_time:?}) is not in the service day")]
    UnknownTrip {
        /// The record's `trip_id`.
        trip_id: String,
        /// The record's `start_time`.
        start_time: Option<String>,
    },
    /// A record of another service date (an earlier run's record kept on the topic).
    #[error("the record is of {start_date}, not of the day simulated, {day}")]
    OtherDay {
        /// The record's `start_date`.
        start_date: String,
        /// The service day's, `YYYYMMDD`.
        day: String,
    },
    /// An arrival's stop position is past its trip's last stop.
    #[error("trip {trip_id} has no stop at position {position}")]
    NoSuchStop {
        /// The trip.
        trip_id: String,
        /// The record's `stop_sequence` (position in the trip).
        position: u32,
    },
    /// The static feed could not be read.
    #[error("reading the static feed {path}")]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A folder feed could not be zipped.
    #[error("zipping the static feed folder {path}")]
    Zip {
        /// The folder.
        path: PathBuf,
        /// What the zip writer said.
        #[source]
        source: zip::result::ZipError,
    },
}

/// A vehicle's latest arrival, as the board keeps it.
#[derive(Debug, Clone, PartialEq)]
struct VehicleState {
    trip: TripIndex,
    /// The stop's position in the trip.
    position: usize,
    event: VehicleArrivalEvent,
}

/// The read model of an agency's vehicles: each one's current trip and latest arrival.
#[derive(Debug, Clone)]
pub struct AgencyBoard {
    day: Arc<ServiceDay>,
    /// A trip instance by `trip_id` and frequency start (seconds), as the records name them.
    trips: HashMap<(String, Option<u32>), TripIndex>,
    /// The date simulated as the records name it, `YYYYMMDD`.
    start_date: String,
    vehicles: BTreeMap<String, VehicleState>,
    /// The trips' paths by `shape_id`, when given ([`AgencyBoard::with_shapes`]).
    shapes: HashMap<String, ShapePath>,
    /// The predictor's current `learnt` predictions, when the trip updates are served from
    /// them ([`AgencyBoard::with_predictions`]).
    predictions: Option<PredictionTable>,
    /// The trips cancelled (service events), by trip.
    cancelled: BTreeMap<TripIndex, TripCancellation>,
    clock_ms: Option<i64>,
    applied: u64,
}

/// A shape as a path: its points in a local plane (longitude scaled by the cosine of the
/// latitude, so distances are in the same units both ways) and the distance along it to each.
#[derive(Debug, Clone)]
struct ShapePath {
    /// Latitude, longitude.
    points: Vec<(f64, f64)>,
    /// Distance along the path to each point, in scaled degrees.
    along: Vec<f64>,
    scale: f64,
}

impl ShapePath {
    fn new(points: Vec<(f64, f64)>) -> Option<Self> {
        let first = *points.first()?;
        let scale = first.0.to_radians().cos();
        let mut along = Vec::with_capacity(points.len());
        let mut total = 0.0;
        for (i, p) in points.iter().enumerate() {
            if i > 0 {
                total += Self::distance(scale, points[i - 1], *p);
            }
            along.push(total);
        }
        (points.len() >= 2 && total > 0.0).then_some(Self {
            points,
            along,
            scale,
        })
    }

    fn distance(scale: f64, a: (f64, f64), b: (f64, f64)) -> f64 {
        ((b.0 - a.0).powi(2) + ((b.1 - a.1) * scale).powi(2)).sqrt()
    }

    /// The distance along the path of its point nearest `p`, at `from` or beyond (so a stop
    /// is found after the one before it on a path that passes a place twice).
    fn project(&self, p: (f64, f64), from: f64) -> Option<f64> {
        let mut best: Option<(f64, f64)> = None;
        for i in 0..self.points.len() - 1 {
            if self.along[i + 1] < from {
                continue;
            }
            let (a, b) = (self.points[i], self.points[i + 1]);
            let (dx, dy) = ((b.1 - a.1) * self.scale, b.0 - a.0);
            let (px, py) = ((p.1 - a.1) * self.scale, p.0 - a.0);
            let length2 = dx * dx + dy * dy;
            let t = if length2 > 0.0 {
                ((px * dx + py * dy) / length2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let at = (self.along[i] + t * (self.along[i + 1] - self.along[i])).max(from);
            let q = self.point_at(at);
            let d = Self::distance(self.scale, q, p);
            if best.is_none_or(|(best_d, _)| d < best_d) {
                best = Some((d, at));
            }
        }
        best.map(|(_, at)| at)
    }

    /// The segment `at` falls on.
    fn segment(&self, at: f64) -> usize {
        self.along
            .partition_point(|&d| d <= at)
            .clamp(1, self.points.len() - 1)
            - 1
    }

    /// The point `at` along the path.
    fn point_at(&self, at: f64) -> (f64, f64) {
        let i = self.segment(at);
        let (a, b) = (self.points[i], self.points[i + 1]);
        let length = self.along[i + 1] - self.along[i];
        let t = if length > 0.0 {
            ((at - self.along[i]) / length).clamp(0.0, 1.0)
        } else {
            0.0
        };
        (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
    }

    /// The point of the path nearest `p` (a stop projected onto the track it is on) and the
    /// course there.
    fn nearest(&self, p: (f64, f64)) -> Option<((f64, f64), Option<f64>)> {
        let at = self.project(p, 0.0)?;
        let i = self.segment(at);
        let course = between(self.points[i], self.points[i + 1], 0.0).1;
        Some((self.point_at(at), course))
    }

    /// The point `fraction` of the way along the path from `a` to `b` (both projected onto it)
    /// and the course there; `None` if the path does not run from `a` to `b`.
    fn between(
        &self,
        a: (f64, f64),
        b: (f64, f64),
        fraction: f64,
    ) -> Option<((f64, f64), Option<f64>)> {
        let from = self.project(a, 0.0)?;
        let to = self.project(b, from)?;
        if to <= from {
            return None;
        }
        let at = from + (to - from) * fraction;
        let i = self.segment(at);
        let course = between(self.points[i], self.points[i + 1], 0.0).1;
        Some((self.point_at(at), course))
    }
}

/// `HH:MM:SS` (past 24 after midnight) as seconds.
fn parse_gtfs_time(text: &str) -> Option<u32> {
    let mut parts = text.split(':').map(|p| p.trim().parse::<u32>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() || m >= 60 || s >= 60 {
        return None;
    }
    h.checked_mul(3_600)?.checked_add(m * 60 + s)
}

/// Seconds as GTFS's `HH:MM:SS`.
fn gtfs_time(seconds: u32) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// POSIX seconds of Unix milliseconds (rounded down, as a clock reads).
fn posix_s(ms: i64) -> i64 {
    ms.div_euclid(1_000)
}

impl AgencyBoard {
    /// An empty board over `day`, the service day the arrivals name.
    pub fn new(day: Arc<ServiceDay>) -> Self {
        let trips = day
            .trips
            .iter()
            .enumerate()
            .map(|(i, trip)| {
                (
                    (trip.trip_id.clone(), trip.frequency_start_s),
                    TripIndex(i as u32),
                )
            })
            .collect();
        Self {
            start_date: day.requested.format("%Y%m%d").to_string(),
            day,
            trips,
            vehicles: BTreeMap::new(),
            shapes: HashMap::new(),
            predictions: None,
            cancelled: BTreeMap::new(),
            clock_ms: None,
            applied: 0,
        }
    }

    /// The same board placing vehicles along their trips' shapes (`shape_id` and its points,
    /// latitude and longitude in sequence order, as `shapes.txt` gives them) rather than on the
    /// straight line between stops. A trip whose shape is not given, or does not pass its stops
    /// in order, keeps the straight line.
    pub fn with_shapes(
        mut self,
        shapes: impl IntoIterator<Item = (String, Vec<(f64, f64)>)>,
    ) -> Self {
        self.shapes = shapes
            .into_iter()
            .filter_map(|(id, points)| Some((id, ShapePath::new(points)?)))
            .collect();
        self
    }

    /// The same board serving its trip updates from the predictor's `learnt` predictions
    /// ([`AgencyBoard::apply_prediction`]) rather than from the timetable and each vehicle's
    /// current delay: a trip has a trip update only while it has predictions.
    pub fn with_predictions(mut self) -> Self {
        self.predictions = Some(PredictionTable::new());
        self
    }

    /// The predictions it serves, if it serves them.
    pub fn predictions(&self) -> Option<&PredictionTable> {
        self.predictions.as_ref()
    }

    /// Applies one record of the prediction table, in topic order (`None`: withdrawn). Returns
    /// whether the predictions served changed: never for a board that does not serve them, nor
    /// for another method's record.
    pub fn apply_prediction(
        &mut self,
        key: &PredictionKey,
        value: Option<&PredictionEvent>,
    ) -> bool {
        self.predictions
            .as_mut()
            .is_some_and(|table| table.apply(key, value))
    }

    /// The service day the board describes.
    pub fn day(&self) -> &ServiceDay {
        &self.day
    }

    /// The latest instant the board has seen (Unix ms): the latest record time observed.
    pub fn clock_ms(&self) -> Option<i64> {
        self.clock_ms
    }

    /// Arrivals applied so far.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Vehicles the board knows (some may have finished their trip).
    pub fn vehicle_count(&self) -> usize {
        self.vehicles.len()
    }

    /// Moves the board's clock to `ms` (Unix ms) if that is later: a record's time.
    pub fn observe_time(&mut self, ms: i64) {
        self.clock_ms = Some(self.clock_ms.map_or(ms, |c| c.max(ms)));
    }

    /// Applies an arrival: it becomes its vehicle's latest, unless the vehicle already has a
    /// later one (a record replayed out of order changes nothing). Records of another date
    /// (an earlier run's, still on the topic) are refused, so they never show as vehicles.
    pub fn apply(&mut self, event: &VehicleArrivalEvent) -> Result<(), AgencyError> {
        let trip = self.trip_named(
            &event.trip_id,
            &event.start_date,
            event.start_time.as_deref(),
        )?;
        let stops = self.day.trip(trip).map_or(0, |t| t.stops.len());
        let position = event.stop_sequence as usize;
        if position >= stops {
            return Err(AgencyError::NoSuchStop {
                trip_id: event.trip_id.clone(),
                position: event.stop_sequence,
            });
        }
        if let Some(current) = self.vehicles.get(&event.vehicle_id) {
            if current.event.arrival_time > event.arrival_time {
                return Ok(());
            }
        }
        self.vehicles.insert(
            event.vehicle_id.clone(),
            VehicleState {
                trip,
                position,
                event: event.clone(),
            },
        );
        self.applied += 1;
        Ok(())
    }

    /// Applies a trip cancellation (a service event): from the instant it was announced until
    /// the trip was due to end, the trip updates say the trip is `CANCELED`. Records of another
    /// date are refused, as arrivals are.
    pub fn apply_cancellation(
        &mut self,
        cancellation: &TripCancellation,
    ) -> Result<(), AgencyError> {
        let trip = self.trip_named(
            &cancellation.trip_id,
            &cancellation.start_date,
            cancellation.start_time.as_deref(),
        )?;
        self.cancelled.insert(trip, cancellation.clone());
        Ok(())
    }

    /// The trip instance a record names on `start_date`, or why the day does not have it.
    fn trip_named(
        &self,
        trip_id: &str,
        start_date: &str,
        start_time: Option<&str>,
    ) -> Result<TripIndex, AgencyError> {
        if start_date != self.start_date {
            return Err(AgencyError::OtherDay {
                start_date: start_date.to_string(),
                day: self.start_date.clone(),
            });
        }
        let unknown = || AgencyError::UnknownTrip {
            trip_id: trip_id.to_string(),
            start_time: start_time.map(str::to_string),
        };
        let start = match start_time {
            None => None,
            Some(text) => Some(parse_gtfs_time(text).ok_or_else(unknown)?),
        };
        self.trips
            .get(&(trip_id.to_string(), start))
            .copied()
            .ok_or_else(unknown)
    }

    /// The trips cancelled that riders are told of at `now_ms`: announced by then and not yet
    /// due to end, each a trip update whose trip is `CANCELED` (GTFS-realtime gives such a
    /// trip no stop time updates).
    fn cancelled_trip_updates(&self, now_ms: i64) -> impl Iterator<Item = FeedEntity> + '_ {
        let timestamp = u64::try_from(posix_s(now_ms)).ok();
        self.cancelled
            .iter()
            .filter(move |(_, c)| c.announced_time <= now_ms && now_ms < c.scheduled_end_time)
            .filter_map(move |(index, cancellation)| {
                let trip = self.day.trip(*index)?;
                let start_time = trip.frequency_start_s.map(gtfs_time);
                let id = match &start_time {
                    None => format!("cancelled/{}", cancellation.trip_id),
                    Some(start) => format!("cancelled/{}/{start}", cancellation.trip_id),
                };
                Some(FeedEntity {
                    id,
                    trip_update: Some(TripUpdate {
                        trip: TripDescriptor {
                            trip_id: Some(cancellation.trip_id.clone()),
                            route_id: Some(cancellation.route_id.clone()),
                            direction_id: trip.direction_id.map(u32::from),
                            start_date: Some(cancellation.start_date.clone()),
                            start_time,
                            schedule_relationship: Some(
                                trip_descriptor::ScheduleRelationship::Canceled as i32,
                            ),
                            ..TripDescriptor::default()
                        },
                        timestamp,
                        ..TripUpdate::default()
                    }),
                    ..FeedEntity::default()
                })
            })
    }

    /// Where a stop is: its own coordinates, else its parent station's.
    fn location(&self, stop: StopIndex) -> Option<(f64, f64)> {
        let place = self.day.stop(stop)?;
        place
            .location
            .or_else(|| place.parent.and_then(|p| self.day.stop(p)?.location))
    }

    /// The vehicles on a trip at `now_ms`, with their trip.
    fn active(&self, now_ms: i64) -> impl Iterator<Item = (&VehicleState, &ScheduledTrip)> {
        self.vehicles.values().filter_map(move |state| {
            let trip = self.day.trip(state.trip)?;
            let last = state.position + 1 >= trip.stops.len();
            (!last || now_ms < state.event.departure_time).then_some((state, trip))
        })
    }

    fn trip_descriptor(&self, state: &VehicleState, trip: &ScheduledTrip) -> TripDescriptor {
        let relationship = if unscheduled(trip) {
            trip_descriptor::ScheduleRelationship::Unscheduled
        } else {
            trip_descriptor::ScheduleRelationship::Scheduled
        };
        TripDescriptor {
            trip_id: Some(state.event.trip_id.clone()),
            route_id: Some(state.event.route_id.clone()),
            direction_id: trip.direction_id.map(u32::from),
            start_date: Some(state.event.start_date.clone()),
            start_time: trip.frequency_start_s.map(gtfs_time),
            schedule_relationship: Some(relationship as i32),
            ..TripDescriptor::default()
        }
    }

    fn header(now_ms: i64) -> FeedHeader {
        FeedHeader {
            gtfs_realtime_version: VERSION.into(),
            incrementality: Some(feed_header::Incrementality::FullDataset as i32),
            timestamp: u64::try_from(posix_s(now_ms)).ok(),
            feed_version: None,
        }
    }

    /// The vehicles' positions at `now_ms` (Unix ms), a full dataset.
    pub fn vehicle_positions(&self, now_ms: i64) -> FeedMessage {
        let timestamp = u64::try_from(posix_s(now_ms)).ok();
        let entity = self
            .active(now_ms)
            .map(|(state, trip)| {
                let here = &trip.stops[state.position];
                let dwelling = now_ms < state.event.departure_time;
                let next = trip.stops.get(state.position + 1);
                let (status, stop, position) = match next {
                    Some(next) if !dwelling => {
                        let delay_ms =
                            state.event.departure_time - state.event.scheduled_departure_time;
                        // The predictor's arrival at the next stop when the board serves
                        // predictions and has one for it, else the timetable plus the delay.
                        let predicted_ms = self.predictions.as_ref().and_then(|table| {
                            let stop_id = &self.day.stop(next.stop)?.id;
                            let p = table.get(&state.event.vehicle_id, stop_id)?;
                            (p.trip_id == state.event.trip_id).then_some(p.predicted_arrival_time)
                        });
                        let due_ms = predicted_ms
                            .unwrap_or(self.day.unix_s(next.arrival_s) * 1_000 + delay_ms)
                            .max(now_ms);
                        let status = if due_ms - now_ms <= APPROACHING_S * 1_000 {
                            VehicleStopStatus::IncomingAt
                        } else {
                            VehicleStopStatus::InTransitTo
                        };
                        let run_ms =
                            i64::from(next.arrival_s.saturating_sub(here.departure_s)) * 1_000;
                        let fraction = if run_ms <= 0 {
                            1.0
                        } else {
                            ((now_ms - state.event.departure_time) as f64 / run_ms as f64)
                                .clamp(0.0, 1.0)
                        };
                        let shape = trip.shape_id.as_ref().and_then(|id| self.shapes.get(id));
                        let position = match (self.location(here.stop), self.location(next.stop)) {
                            (Some(a), Some(b)) => Some(
                                shape
                                    .and_then(|path| path.between(a, b, fraction))
                                    .unwrap_or_else(|| between(a, b, fraction)),
                            ),
                            (Some(a), None) => Some((a, None)),
                            (None, Some(b)) => Some((b, None)),
                            (None, None) => None,
                        };
                        (status, next, position)
                    }
                    _ => {
                        // At the platform, on its track: the stop projected onto the trip's
                        // shape (a stop's own coordinates may lie a platform's width or a
                        // station's entrance away from it).
                        let shape = trip.shape_id.as_ref().and_then(|id| self.shapes.get(id));
                        let position = self
                            .location(here.stop)
                            .map(|a| shape.and_then(|path| path.nearest(a)).unwrap_or((a, None)));
                        (VehicleStopStatus::StoppedAt, here, position)
                    }
                };
                let stop_id = self.day.stop(stop.stop).map(|s| s.id.clone());
                FeedEntity {
                    id: state.event.vehicle_id.clone(),
                    vehicle: Some(VehiclePosition {
                        trip: Some(self.trip_descriptor(state, trip)),
                        vehicle: Some(VehicleDescriptor {
                            id: Some(state.event.vehicle_id.clone()),
                            ..VehicleDescriptor::default()
                        }),
                        position: position.map(|((lat, lon), bearing)| Position {
                            latitude: lat as f32,
                            longitude: lon as f32,
                            bearing: bearing.map(|b: f64| b as f32),
                            ..Position::default()
                        }),
                        current_stop_sequence: Some(stop.stop_sequence),
                        stop_id,
                        current_status: Some(status as i32),
                        timestamp,
                        ..VehiclePosition::default()
                    }),
                    ..FeedEntity::default()
                }
            })
            .collect();
        FeedMessage {
            header: Self::header(now_ms),
            entity,
        }
    }

    /// The trips' predicted times at their stops ahead at `now_ms` (Unix ms), a full dataset:
    /// the predictor's, when the board serves them ([`AgencyBoard::with_predictions`]), else
    /// the timetable plus each vehicle's current delay; and the trips cancelled
    /// ([`AgencyBoard::apply_cancellation`]), `CANCELED`.
    pub fn trip_updates(&self, now_ms: i64) -> FeedMessage {
        if let Some(table) = &self.predictions {
            return self.predicted_trip_updates(table, now_ms);
        }
        let timestamp = u64::try_from(posix_s(now_ms)).ok();
        let entity = self
            .active(now_ms)
            .filter_map(|(state, trip)| {
                let ahead = trip.stops.get(state.position + 1..)?;
                if ahead.is_empty() {
                    return None;
                }
                let unscheduled = unscheduled(trip);
                let delay_ms = state.event.departure_time - state.event.scheduled_departure_time;
                // Not before now, nor before the vehicle leaves the stop it stands at.
                let mut floor_s = posix_s(now_ms.max(state.event.departure_time));
                let stop_time_update = ahead
                    .iter()
                    .map(|stop| {
                        let scheduled_arrival = self.day.unix_s(stop.arrival_s);
                        let scheduled_departure = self.day.unix_s(stop.departure_s);
                        let arrival = (scheduled_arrival + delay_ms.div_euclid(1_000)).max(floor_s);
                        let departure =
                            (scheduled_departure + delay_ms.div_euclid(1_000)).max(arrival);
                        floor_s = departure;
                        let event = |time: i64, scheduled: i64| StopTimeEvent {
                            time: Some(time),
                            delay: (!unscheduled)
                                .then(|| i32::try_from(time - scheduled).ok())
                                .flatten(),
                            ..StopTimeEvent::default()
                        };
                        let relationship = if unscheduled {
                            stop_time_update::ScheduleRelationship::Unscheduled
                        } else {
                            stop_time_update::ScheduleRelationship::Scheduled
                        };
                        StopTimeUpdate {
                            stop_sequence: Some(stop.stop_sequence),
                            stop_id: self.day.stop(stop.stop).map(|s| s.id.clone()),
                            arrival: Some(event(arrival, scheduled_arrival)),
                            departure: Some(event(departure, scheduled_departure)),
                            schedule_relationship: Some(relationship as i32),
                            ..StopTimeUpdate::default()
                        }
                    })
                    .collect();
                Some(FeedEntity {
                    id: state.event.vehicle_id.clone(),
                    trip_update: Some(TripUpdate {
                        trip: self.trip_descriptor(state, trip),
                        vehicle: Some(VehicleDescriptor {
                            id: Some(state.event.vehicle_id.clone()),
                            ..VehicleDescriptor::default()
                        }),
                        stop_time_update,
                        timestamp,
                        delay: (!unscheduled)
                            .then(|| i32::try_from(delay_ms.div_euclid(1_000)).ok())
                            .flatten(),
                        ..TripUpdate::default()
                    }),
                    ..FeedEntity::default()
                })
            })
            .chain(self.cancelled_trip_updates(now_ms))
            .collect();
        FeedMessage {
            header: Self::header(now_ms),
            entity,
        }
    }
}

impl AgencyBoard {
    /// The trip instance a prediction names, as an index into the day; `None` for another
    /// day's or a trip the day does not have.
    fn trip_of(&self, trip: &TripInstance) -> Option<TripIndex> {
        if trip.start_date != self.start_date {
            return None;
        }
        let start = match &trip.start_time {
            None => None,
            Some(text) => Some(parse_gtfs_time(text)?),
        };
        self.trips.get(&(trip.trip_id.clone(), start)).copied()
    }

    /// The trip updates of the predictions in `table` at `now_ms`.
    fn predicted_trip_updates(&self, table: &PredictionTable, now_ms: i64) -> FeedMessage {
        let timestamp = u64::try_from(posix_s(now_ms)).ok();
        let mut instances: Vec<(&TripInstance, TripIndex)> = table
            .trips()
            .filter_map(|instance| Some((instance, self.trip_of(instance)?)))
            .collect();
        instances.sort();
        let entity = instances
            .into_iter()
            .filter_map(|(instance, index)| {
                let trip = self.day.trip(index)?;
                let predictions: Vec<&PredictionEvent> = table.trip(instance).collect();
                let vehicle_id = predictions.first()?.vehicle_id.clone();
                let current = self
                    .vehicles
                    .get(&vehicle_id)
                    .filter(|state| state.trip == index);
                let unscheduled = unscheduled(trip);
                // Not before now, nor before the vehicle leaves the stop it stands at.
                let mut floor_s =
                    posix_s(current.map_or(now_ms, |state| now_ms.max(state.event.departure_time)));
                let relationship = if unscheduled {
                    stop_time_update::ScheduleRelationship::Unscheduled
                } else {
                    stop_time_update::ScheduleRelationship::Scheduled
                };
                let stop_time_update: Vec<StopTimeUpdate> = predictions
                    .iter()
                    .filter_map(|prediction| {
                        // The prediction's `stop_sequence` is the stop's place in the trip;
                        // GTFS-realtime names it by the feed's own `stop_sequence`.
                        let stop = trip.stops.get(prediction.stop_sequence as usize)?;
                        let scheduled_arrival = self.day.unix_s(stop.arrival_s);
                        let scheduled_departure = self.day.unix_s(stop.departure_s);
                        let arrival = posix_s(prediction.predicted_arrival_time).max(floor_s);
                        let departure = posix_s(prediction.predicted_departure_time).max(arrival);
                        floor_s = departure;
                        let event = |time: i64, scheduled: i64| StopTimeEvent {
                            time: Some(time),
                            delay: (!unscheduled)
                                .then(|| i32::try_from(time - scheduled).ok())
                                .flatten(),
                            uncertainty: prediction.uncertainty_s,
                            ..StopTimeEvent::default()
                        };
                        Some(StopTimeUpdate {
                            stop_sequence: Some(stop.stop_sequence),
                            stop_id: Some(prediction.stop_id.clone()),
                            arrival: Some(event(arrival, scheduled_arrival)),
                            departure: Some(event(departure, scheduled_departure)),
                            schedule_relationship: Some(relationship as i32),
                            ..StopTimeUpdate::default()
                        })
                    })
                    .collect();
                let delay = stop_time_update
                    .first()
                    .and_then(|u| u.arrival.as_ref()?.delay);
                let descriptor = TripDescriptor {
                    trip_id: Some(instance.trip_id.clone()),
                    route_id: Some(predictions.first()?.route_id.clone()),
                    direction_id: trip.direction_id.map(u32::from),
                    start_date: Some(instance.start_date.clone()),
                    start_time: trip.frequency_start_s.map(gtfs_time),
                    schedule_relationship: Some(if unscheduled {
                        trip_descriptor::ScheduleRelationship::Unscheduled as i32
                    } else {
                        trip_descriptor::ScheduleRelationship::Scheduled as i32
                    }),
                    ..TripDescriptor::default()
                };
                let id = if current.is_some() {
                    vehicle_id.clone()
                } else {
                    match &instance.start_time {
                        None => format!("{vehicle_id}/{}", instance.trip_id),
                        Some(start) => format!("{vehicle_id}/{}/{start}", instance.trip_id),
                    }
                };
                (!stop_time_update.is_empty()).then(|| FeedEntity {
                    id,
                    trip_update: Some(TripUpdate {
                        trip: descriptor,
                        vehicle: Some(VehicleDescriptor {
                            id: Some(vehicle_id),
                            ..VehicleDescriptor::default()
                        }),
                        stop_time_update,
                        timestamp,
                        delay,
                        ..TripUpdate::default()
                    }),
                    ..FeedEntity::default()
                })
            })
            .chain(self.cancelled_trip_updates(now_ms))
            .collect();
        FeedMessage {
            header: Self::header(now_ms),
            entity,
        }
    }
}

/// A frequency instance of a headway-only frequency (`exact_times` 0): GTFS-realtime's
/// `UNSCHEDULED`.
fn unscheduled(trip: &ScheduledTrip) -> bool {
    trip.frequency_start_s.is_some() && !trip.exact_times
}

/// The point `fraction` of the way from `a` to `b` (latitude, longitude; a straight line, which
/// is close enough between neighbouring stops) and the course from `a` to `b` (degrees from
/// north), when they differ.
fn between(a: (f64, f64), b: (f64, f64), fraction: f64) -> ((f64, f64), Option<f64>) {
    let point = (a.0 + (b.0 - a.0) * fraction, a.1 + (b.1 - a.1) * fraction);
    if a == b {
        return (point, None);
    }
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let dlon = (b.1 - a.1).to_radians();
    let y = dlon.sin() * lat2.cos();
    let x = lat1.cos() * lat2.sin() - lat1.sin() * lat2.cos() * dlon.cos();
    (point, Some(y.atan2(x).to_degrees().rem_euclid(360.0)))
}

/// The static feed at `path` as a zip: a zip file's bytes as they are, a folder's `.txt` files
/// zipped (deflated, dated 1980-01-01, in name order, so the same folder gives the same bytes).
pub fn static_zip(path: &Path) -> Result<Vec<u8>, AgencyError> {
    let read_error = |source| AgencyError::Read {
        path: path.to_path_buf(),
        source,
    };
    if !path.is_dir() {
        return fs::read(path).map_err(read_error);
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(path).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".txt") && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    let zip_error = |source| AgencyError::Zip {
        path: path.to_path_buf(),
        source,
    };
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for name in names {
        let bytes = fs::read(path.join(&name)).map_err(read_error)?;
        zip.start_file(name, options).map_err(zip_error)?;
        zip.write_all(&bytes)
            .map_err(|e| zip_error(zip::result::ZipError::Io(e)))?;
    }
    zip.finish().map(Cursor::into_inner).map_err(zip_error)
}
