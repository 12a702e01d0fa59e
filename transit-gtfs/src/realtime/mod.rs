//! GTFS-realtime of a status board: `VehiclePositions` and `TripUpdates` (GTFS-realtime 2.0,
//! full datasets), naming the trips, stops and routes of the static feed.
//!
//! The messages ([`proto`]) are generated at build time from the official
//! `proto/gtfs-realtime.proto`, kept in this crate, by `prost` (parsed with `protox`, pure
//! Rust, so no `protoc` is needed) and `pbjson` (serde in protobuf's canonical JSON mapping,
//! what a person reads and what Python's `MessageToJson` writes). Extensions are not
//! generated; nothing here uses them.
//!
//! - A vehicle is a train (`id` its board id, `label` its Train Tracker run number), at its place along the
//!   line ([`LiveTrain::position`]): `STOPPED_AT` the platform it stands at, `INCOMING_AT` the
//!   next one when due there within [`APPROACHING_S`](crate::live::APPROACHING_S), else
//!   `IN_TRANSIT_TO` it.
//! - A trip update is the train's trip: the stops left, each with its predicted arrival and
//!   departure (POSIX time; the static feed gives both at every stop) and their delays against
//!   the static feed's schedule. The times are the predictor's learnt predictions where it has
//!   one ([`Call::source`](crate::live::Call::source)), with its `uncertainty` (the expected
//!   error, seconds) on both; elsewhere the board's estimate, with no `uncertainty` (unknown),
//!   the departure its arrival plus the timetable's dwell. Trains without a scheduled trip
//!   (the fixed-fleet mode) have a vehicle position with only the route and direction, and no
//!   trip update.
//!
//! # Example
//!
//! ```
//! use prost::Message;
//! use transit_core::status::StatusSnapshot;
//! use transit_gtfs::live::LiveNetwork;
//! use transit_gtfs::{realtime, Sources};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let network = LiveNetwork::new(Sources::embedded()?);
//! let board = network.board(&StatusSnapshot::default());
//! let feed = realtime::vehicle_positions(&board);
//! let bytes = feed.encode_to_vec();
//! let back = realtime::proto::FeedMessage::decode(bytes.as_slice())?;
//! assert_eq!(back.header.gtfs_realtime_version, "2.0");
//! # Ok(())
//! # }
//! ```

pub mod proto;

use proto::trip_update::{StopTimeEvent, StopTimeUpdate};
use proto::vehicle_position::VehicleStopStatus;
use proto::{
    feed_header, FeedEntity, FeedHeader, FeedMessage, Position, TripDescriptor, TripUpdate,
    VehicleDescriptor, VehiclePosition,
};

use crate::live::{posix_seconds, LiveBoard, LiveTrain};
use crate::route_id;

/// The GTFS-realtime version the feeds follow.
pub const VERSION: &str = "2.0";

fn header(board: &LiveBoard) -> FeedHeader {
    FeedHeader {
        gtfs_realtime_version: VERSION.into(),
        incrementality: Some(feed_header::Incrementality::FullDataset as i32),
        timestamp: board.now.and_then(posix_seconds),
        feed_version: None,
    }
}

fn trip_descriptor(train: &LiveTrain) -> TripDescriptor {
    let mut trip = TripDescriptor {
        route_id: Some(route_id(train.line).into()),
        direction_id: Some(train.direction as u32),
        ..TripDescriptor::default()
    };
    if let Some(scheduled) = &train.trip {
        trip.trip_id = Some(scheduled.trip_id.clone());
        trip.start_date = Some(scheduled.start_date.format("%Y%m%d").to_string());
        trip.start_time = Some(scheduled.start_time.to_string());
        trip.schedule_relationship =
            Some(proto::trip_descriptor::ScheduleRelationship::Scheduled as i32);
    }
    trip
}

fn vehicle(train: &LiveTrain) -> VehicleDescriptor {
    VehicleDescriptor {
        id: Some(train.id.clone()),
        // Train Tracker's run number, so riders see the same train in both feeds.
        label: Some(crate::tracker::run_number(train.line, train.run).to_string()),
        ..VehicleDescriptor::default()
    }
}

/// The positions of the board's trains (`VehiclePositions`).
pub fn vehicle_positions(board: &LiveBoard) -> FeedMessage {
    let timestamp = board.now.and_then(posix_seconds);
    let entity = board
        .trains
        .iter()
        .map(|train| {
            // The stop it stands at or runs to, and how near it is.
            let next = train.calls.first();
            let status = match (train.to, next, board.now) {
                (None, _, _) => VehicleStopStatus::StoppedAt,
                (Some(_), Some(call), Some(now)) if call.approaching(now) => {
                    VehicleStopStatus::IncomingAt
                }
                _ => VehicleStopStatus::InTransitTo,
            };
            FeedEntity {
                id: train.id.clone(),
                vehicle: Some(VehiclePosition {
                    trip: Some(trip_descriptor(train)),
                    vehicle: Some(vehicle(train)),
                    position: Some(Position {
                        latitude: train.position.0 as f32,
                        longitude: train.position.1 as f32,
                        bearing: Some(train.bearing as f32),
                        ..Position::default()
                    }),
                    current_stop_sequence: next.map(|c| c.stop_sequence),
                    stop_id: next.map(|c| c.stop_id.to_string()),
                    current_status: Some(status as i32),
                    timestamp,
                    ..VehiclePosition::default()
                }),
                ..FeedEntity::default()
            }
        })
        .collect();
    FeedMessage {
        header: header(board),
        entity,
    }
}

/// The predicted arrivals of the board's scheduled trips at their stops left (`TripUpdates`).
pub fn trip_updates(board: &LiveBoard) -> FeedMessage {
    let timestamp = board.now.and_then(posix_seconds);
    let entity = board
        .trains
        .iter()
        .filter(|train| train.trip.is_some() && !train.calls.is_empty())
        .map(|train| {
            let stop_time_update = train
                .calls
                .iter()
                .map(|call| {
                    let event = |time, delay| StopTimeEvent {
                        delay,
                        time: posix_seconds(time).and_then(|t| i64::try_from(t).ok()),
                        uncertainty: call.uncertainty_s.map(|u| u.max(0)),
                        ..StopTimeEvent::default()
                    };
                    StopTimeUpdate {
                        stop_sequence: Some(call.stop_sequence),
                        stop_id: Some(call.stop_id.to_string()),
                        arrival: Some(event(call.arrival, call.delay_s())),
                        departure: Some(event(call.departure, call.departure_delay_s())),
                        schedule_relationship: Some(
                            proto::trip_update::stop_time_update::ScheduleRelationship::Scheduled
                                as i32,
                        ),
                        ..StopTimeUpdate::default()
                    }
                })
                .collect();
            FeedEntity {
                id: train
                    .trip
                    .as_ref()
                    .map_or_else(|| train.id.clone(), |t| t.trip_id.clone()),
                trip_update: Some(TripUpdate {
                    trip: trip_descriptor(train),
                    vehicle: Some(vehicle(train)),
                    stop_time_update,
                    timestamp,
                    delay: train.delay_s,
                    ..TripUpdate::default()
                }),
                ..FeedEntity::default()
            }
        })
        .collect();
    FeedMessage {
        header: header(board),
        entity,
    }
}
