//! The trains of a status board as the realtime feeds publish them: where each one is (on the
//! map, between which platforms), which scheduled trip it runs, and when it is due at each
//! stop left on that trip.
//!
//! Everything comes from a [`StatusSnapshot`] (the board's read model) and the static feed's
//! [`Sources`], so GTFS-realtime and Train Tracker say what the board says and name what the
//! static feed names:
//!
//! - **Position**: between the platform of `from` and that of `to` (the stops of the static
//!   feed, at CTA's platform coordinates), `progress` of the way; at the platform while it
//!   stands there. The bearing is the course from the station before to the station after.
//! - **Trip**: a train's `scheduled_time` at `from` is a trip's departure from its terminal
//!   plus that trip's scheduled offset of the stop (offsets differ from trip to trip with the
//!   riders expected): of the terminal departures early enough, the latest whose own offset
//!   puts it within [`SLOT_TOLERANCE_MS`] of that time is the simulated departure, and
//!   [`ScheduledTrips::trip_of_departure`] names its trip and service day.
//! - **Predictions** ([`CallSource`]): the predictor's learnt prediction of the train at the
//!   stop (`transit-predict`'s table, read by a [`PredictionTable`];
//!   [`LiveNetwork::board_with`]) where it has one, with when it was made and its expected
//!   error; elsewhere the board's own prediction where the train is the next one due at a
//!   platform (the snapshot's `next_a` / `next_b`), and beyond that the timetable's nominal
//!   time between consecutive stops added on from the call before (a train never arrives
//!   before it left the stop before). A train standing at its trip's first stop before its
//!   scheduled departure, with no prediction, keeps its trip's scheduled times. The board's
//!   "N min" is taken from the same calls ([`LiveNetwork::with_predicted_next_trains`]), so
//!   the feeds and the board never disagree.
//!
//! The predictions name trains, stops and trips as the feeds do: `vehicle_id` the train's id
//! (`BL007`), `stop_id` the platform's stop id of the static feed, `trip_id` its trip's.

use chrono::{NaiveDateTime, TimeZone};
use transit_core::event::PredictionEvent;
use transit_core::model::{Direction, LineId, StationId, TrainStatus};
use transit_core::network::timetable::StopOffset;
use transit_core::status::{LineView, NextTrain, PredictionTable, StatusSnapshot, TrainPosition};
use transit_core::time::SimTime;

use crate::model::ServiceTime;
use crate::{ScheduledTrips, Sources};

/// How far a trip's departure worked back from a stop's scheduled time may be from the
/// timetable's slot: the snapshot gives whole seconds, and departures each way are minutes
/// apart, so a minute either side finds the one slot and never a neighbour.
pub const SLOT_TOLERANCE_MS: i64 = 60_000;

/// A train is "approaching" a stop (Train Tracker's `isApp`, GTFS-realtime's `INCOMING_AT`)
/// when it is due there within this many seconds: CTA's signs show "Due" for under a minute.
pub const APPROACHING_S: i64 = 60;

/// The network the realtime feeds describe: the static feed's sources and, per line and
/// direction, the shortest offsets of a trip's stops (for a train whose trip is not known).
#[derive(Debug, Clone)]
pub struct LiveNetwork {
    sources: Sources,
    /// Per line (its position in the network), per direction (`Direction as usize`): a trip's
    /// offsets at its stops, in calling order; empty for a line without a timetable.
    offsets: Vec<[Vec<StopOffset>; 2]>,
}

/// One train in revenue service, as the realtime feeds publish it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveTrain {
    /// Its line.
    pub line: LineId,
    /// Its id on the board, e.g. `BL007`.
    pub id: String,
    /// Its run number (the number of its id when the board has none).
    pub run: i32,
    /// The direction it runs in.
    pub direction: Direction,
    /// The index on the line of the station it last arrived at.
    pub from: usize,
    /// The index of the station it runs to; `None` while it stands at `from`.
    pub to: Option<usize>,
    /// How far from `from` to `to` it is, 0 to 1.
    pub progress: f64,
    /// Latitude and longitude (degrees).
    pub position: (f64, f64),
    /// Its course, degrees clockwise from north (0 to 360).
    pub bearing: f64,
    /// The scheduled trip it runs; `None` for a train not running to a schedule.
    pub trip: Option<LiveTrip>,
    /// Seconds behind its schedule at its last station (negative: early).
    pub delay_s: Option<i32>,
    /// The stops left on its trip, the one it stands at first, with predicted times.
    pub calls: Vec<Call>,
    /// Stopped with a fault (a breakdown): still in revenue service, its riders on board.
    pub broken_down: bool,
}

/// The scheduled trip a train runs, as the static feed names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTrip {
    /// GTFS `trip_id`.
    pub trip_id: String,
    /// Its service day (GTFS-realtime `start_date`).
    pub start_date: chrono::NaiveDate,
    /// Its first departure, service-day time (GTFS-realtime `start_time`, `24:xx:xx` on).
    pub start_time: ServiceTime,
    /// Its departure from the terminal (simulated time, ms).
    pub departure: SimTime,
}

/// Where a call's times come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallSource {
    /// The predictor's learnt prediction (`transit-predict`, method
    /// [`LEARNT`](transit_core::status::LEARNT)).
    Predicted,
    /// The board's own estimate: the next train due at a platform, and beyond that the
    /// timetable's time between consecutive stops added on.
    Board,
    /// The timetable alone: a train standing at its trip's first stop before its scheduled
    /// departure, with no prediction, leaves and calls as scheduled.
    Timetable,
}

/// A stop a train is due at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The station's index on the line.
    pub station: usize,
    /// The station (CTA `mapid`, GTFS parent station).
    pub station_id: StationId,
    /// The platform (CTA `stpid`, GTFS `stop_id`).
    pub stop_id: u32,
    /// Its place in the trip, from 1 (GTFS `stop_sequence`).
    pub stop_sequence: u32,
    /// When the train arrives there (predicted; for the stop it stands at, when it arrived).
    pub arrival: SimTime,
    /// When it leaves (predicted, or its arrival plus the timetable's dwell there; never
    /// before its arrival).
    pub departure: SimTime,
    /// When its trip is scheduled there; `None` without a trip.
    pub scheduled: Option<SimTime>,
    /// When its trip is scheduled to leave; `None` without a trip.
    pub scheduled_departure: Option<SimTime>,
    /// Whether the train stands there now.
    pub here: bool,
    /// Where the times come from.
    pub source: CallSource,
    /// When the prediction was made ([`CallSource::Predicted`] only).
    pub issued_at: Option<SimTime>,
    /// The prediction's expected error, seconds ([`CallSource::Predicted`] only, when the
    /// predictor states one).
    pub uncertainty_s: Option<i32>,
}

impl Call {
    /// Seconds from `now` until the train arrives (0 once it is there).
    pub fn seconds_from(&self, now: SimTime) -> i64 {
        ((self.arrival.0 - now.0) / 1000).max(0)
    }

    /// Whether the train stands there or is due within [`APPROACHING_S`].
    pub fn approaching(&self, now: SimTime) -> bool {
        self.here || self.seconds_from(now) <= APPROACHING_S
    }

    /// Seconds late arriving against its trip's schedule (negative: early); `None` without a
    /// trip.
    pub fn delay_s(&self) -> Option<i32> {
        self.scheduled
            .map(|s| ((self.arrival.0 - s.0) as f64 / 1000.0).round() as i32)
    }

    /// Seconds late leaving against its trip's schedule; `None` without a trip.
    pub fn departure_delay_s(&self) -> Option<i32> {
        self.scheduled_departure
            .map(|s| ((self.departure.0 - s.0) as f64 / 1000.0).round() as i32)
    }
}

/// The trains of one snapshot, at its time.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveBoard {
    /// The board's time (simulated local time); `None` before its first event.
    pub now: Option<SimTime>,
    /// Its trains in revenue service, by line, then id.
    pub trains: Vec<LiveTrain>,
}

impl LiveNetwork {
    /// The network of `sources`.
    ///
    /// ```
    /// use transit_core::status::StatusSnapshot;
    /// use transit_gtfs::{live::LiveNetwork, Sources};
    ///
    /// # fn main() -> Result<(), transit_gtfs::GtfsError> {
    /// let network = LiveNetwork::new(Sources::embedded()?);
    /// let board = network.board(&StatusSnapshot::default());
    /// assert!(board.now.is_none() && board.trains.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(sources: Sources) -> Self {
        let offsets = sources
            .network
            .line_ids()
            .map(|line| {
                [Direction::A, Direction::B].map(|d| {
                    sources
                        .trips
                        .timetable(line)
                        .map(|t| t.shortest_offsets(d))
                        .unwrap_or_default()
                })
            })
            .collect();
        Self { sources, offsets }
    }

    /// What the feeds are made of.
    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// The scheduled trips.
    pub fn trips(&self) -> &ScheduledTrips {
        &self.sources.trips
    }

    /// The stations of `line`, first to last.
    pub fn stations(&self, line: LineId) -> &[transit_core::model::Station] {
        self.sources
            .network
            .line(line)
            .map_or(&[][..], |line| line.stations())
    }

    /// The index on `line` of station `id`.
    pub fn station_index(&self, line: LineId, id: StationId) -> Option<usize> {
        self.stations(line).iter().position(|s| s.id == id)
    }

    /// The platform stop id of station `index` of `line` in `direction`.
    pub fn stop_id(&self, line: LineId, index: usize, direction: Direction) -> Option<u32> {
        self.sources
            .platforms
            .get(line, index, direction)
            .map(|p| p.stop_id)
    }

    /// The last station of a trip of `line` in `direction`.
    pub fn terminal(&self, line: LineId, direction: Direction) -> usize {
        match direction {
            Direction::A => self.stations(line).len().saturating_sub(1),
            Direction::B => 0,
        }
    }

    /// The trains of `snapshot` in revenue service, placed and predicted by the board alone.
    pub fn board(&self, snapshot: &StatusSnapshot) -> LiveBoard {
        self.board_with(snapshot, None)
    }

    /// The trains of `snapshot` in revenue service, placed, and predicted by `predictions`
    /// (the predictor's learnt table; see [`CallSource`]) where it has a prediction, by the
    /// board elsewhere.
    pub fn board_with(
        &self,
        snapshot: &StatusSnapshot,
        predictions: Option<&PredictionTable>,
    ) -> LiveBoard {
        let now = snapshot
            .simulated_time
            .as_deref()
            .and_then(|t| t.parse::<SimTime>().ok());
        let mut trains = Vec::new();
        for view in &snapshot.lines {
            for train in &view.trains {
                let predicted = predictions
                    .map(|table| table.vehicle(&train.id))
                    .unwrap_or_default();
                if let Some(live) = self.train(view, train, now, &predicted) {
                    trains.push(live);
                }
            }
        }
        // Lines in the network's order, not by id.
        let place = |line| self.sources.network.position(line);
        trains.sort_by(|a, b| (place(a.line), &a.id).cmp(&(place(b.line), &b.id)));
        LiveBoard { now, trains }
    }

    fn train(
        &self,
        view: &LineView,
        train: &TrainPosition,
        now: Option<SimTime>,
        predicted: &[&PredictionEvent],
    ) -> Option<LiveTrain> {
        // Out of service, a train carries no riders (bound for the yard): the feeds leave it
        // out. A broken-down train still has its riders on board: it stays, flagged.
        if train.status == TrainStatus::OutOfService {
            return None;
        }
        let line = view.line;
        let stations = self.stations(line);
        let n = stations.len();
        let d = train.direction;
        let from = self.station_index(line, train.from)?;
        let to = match train.to {
            // A train turning at a terminal runs to the same station's other platform: the
            // feeds show it at the terminal until it arrives there.
            Some(to) if to != train.from => Some(self.station_index(line, to)?),
            _ => None,
        };
        let progress = if to.is_some() {
            train.progress.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let here = self.sources.platforms.get(line, from, d)?.location;
        let position = match to.and_then(|t| self.sources.platforms.get(line, t, d)) {
            Some(next) => (
                here.0 + (next.location.0 - here.0) * progress,
                here.1 + (next.location.1 - here.1) * progress,
            ),
            None => here,
        };
        let bearing = self.course(line, from, d);
        let run = train
            .run
            .or_else(|| train.id.get(2..).and_then(|n| n.parse().ok()))
            .unwrap_or(0);
        let order = |index: usize| match d {
            Direction::A => index,
            Direction::B => n - 1 - index,
        };
        let trip = self.trip(line, d, train, order(from));
        // The trip's own scheduled offsets; a train without one, the shortest.
        let trip_offsets = trip.as_ref().and_then(|trip| {
            self.sources
                .trips
                .timetable(line)
                .map(|t| t.stop_offsets(d, trip.departure.0))
        });
        let offsets = trip_offsets.as_deref().unwrap_or_else(|| {
            self.sources
                .network
                .position(line)
                .and_then(|i| self.offsets.get(i))
                .map_or(&[][..], |offsets| &offsets[d as usize][..])
        });
        let calls = now
            .map(|now| {
                self.calls(
                    view,
                    train,
                    from,
                    to,
                    progress,
                    now,
                    offsets,
                    trip.as_ref(),
                    predicted,
                )
            })
            .unwrap_or_default();
        Some(LiveTrain {
            line,
            id: train.id.clone(),
            run,
            direction: d,
            from,
            to,
            progress,
            position,
            bearing,
            trip,
            delay_s: train.delay_s,
            calls,
            broken_down: train.status == TrainStatus::BrokenDown,
        })
    }

    /// `snapshot` with each platform's next train (its `next_a` / `next_b`, the board's "N min")
    /// from `board`'s learnt predictions where a train has one at that platform: the earliest
    /// of the predicted trains and the board's own next train (when that one is not predicted
    /// there). Platforms no train is predicted at keep the board's estimate. `board` is
    /// [`LiveNetwork::board_with`] of `snapshot`.
    pub fn with_predicted_next_trains(
        &self,
        snapshot: &StatusSnapshot,
        board: &LiveBoard,
    ) -> StatusSnapshot {
        let mut out = snapshot.clone();
        let Some(now) = board.now else {
            return out;
        };
        for view in &mut out.lines {
            let line = view.line;
            for station in &mut view.stations {
                let Some(index) = self.station_index(line, station.station_id) else {
                    continue;
                };
                for d in [Direction::A, Direction::B] {
                    let predicted: Vec<(&str, SimTime)> = board
                        .trains
                        .iter()
                        .filter(|t| t.line == line && t.direction == d)
                        .filter_map(|t| {
                            t.calls
                                .iter()
                                .find(|c| {
                                    c.station == index
                                        && !c.here
                                        && c.source == CallSource::Predicted
                                })
                                .map(|c| (t.id.as_str(), c.arrival.max(now)))
                        })
                        .collect();
                    if predicted.is_empty() {
                        continue;
                    }
                    let slot = match d {
                        Direction::A => &mut station.next_a,
                        Direction::B => &mut station.next_b,
                    };
                    let board_next = slot
                        .as_ref()
                        .filter(|next| !predicted.iter().any(|(id, _)| *id == next.id))
                        .map(|next| {
                            (
                                next.id.as_str(),
                                SimTime(now.0 + i64::from(next.seconds) * 1000),
                            )
                        });
                    let earliest = predicted
                        .iter()
                        .copied()
                        .chain(board_next)
                        .min_by_key(|(id, at)| (*at, *id))
                        .map(|(id, at)| (id.to_string(), at));
                    if let Some((id, at)) = earliest {
                        *slot = Some(NextTrain::due(id, now, at));
                    }
                }
            }
        }
        out
    }

    /// The trip `train` runs: its scheduled time at its last stop (the `stop`th of its trip)
    /// less that stop's offset in the trip is its departure from the terminal.
    fn trip(
        &self,
        line: LineId,
        d: Direction,
        train: &TrainPosition,
        stop: usize,
    ) -> Option<LiveTrip> {
        let scheduled: SimTime = train.scheduled_time.as_deref()?.parse().ok()?;
        let timetable = self.sources.trips.timetable(line)?;
        // No trip reaches the stop sooner than the shortest offset: look back from there, the
        // latest departure first, over the longest a trip's dwells could add (two hours).
        let latest = scheduled.0 - timetable.shortest_offsets(d).get(stop)?.arrival_ms;
        let mut candidates = timetable.terminal_departures(
            d,
            latest - 2 * 3_600_000,
            latest + SLOT_TOLERANCE_MS + 1,
        );
        candidates.reverse();
        let slot = candidates.into_iter().find(|slot| {
            timetable
                .stop_offsets(d, *slot)
                .get(stop)
                .is_some_and(|o| (slot + o.arrival_ms - scheduled.0).abs() <= SLOT_TOLERANCE_MS)
        })?;
        let trip = self
            .sources
            .trips
            .trip_of_departure(line, d, SimTime(slot))?;
        let midnight = SimTime::from_naive(trip.start_date.and_hms_opt(0, 0, 0)?);
        let start = u32::try_from((slot - midnight.0 + 500).div_euclid(1000)).ok()?;
        Some(LiveTrip {
            trip_id: trip.trip_id,
            start_date: trip.start_date,
            start_time: ServiceTime(start),
            departure: SimTime(slot),
        })
    }

    /// The stops left on the train's trip with their predicted arrivals and departures: the
    /// learnt prediction where `predicted` has one for the stop (of the train's trip, when it
    /// is known), else the board's estimate, chained on from the call before.
    #[allow(clippy::too_many_arguments)]
    fn calls(
        &self,
        view: &LineView,
        train: &TrainPosition,
        from: usize,
        to: Option<usize>,
        progress: f64,
        now: SimTime,
        offsets: &[StopOffset],
        trip: Option<&LiveTrip>,
        predicted: &[&PredictionEvent],
    ) -> Vec<Call> {
        let line = view.line;
        let d = train.direction;
        let stations = self.stations(line);
        let n = stations.len();
        if offsets.len() != n {
            return Vec::new();
        }
        let order = |index: usize| match d {
            Direction::A => index,
            Direction::B => n - 1 - index,
        };
        let scheduled_at =
            |index: usize| trip.map(|t| SimTime(t.departure.0 + offsets[order(index)].arrival_ms));
        let scheduled_departure = |index: usize| {
            trip.map(|t| SimTime(t.departure.0 + offsets[order(index)].departure_ms))
        };
        let dwell_ms = |index: usize| {
            let o = &offsets[order(index)];
            (o.departure_ms - o.arrival_ms).max(0)
        };
        // The board's prediction for this train at a platform, if it is the next one due.
        let board_says = |index: usize| {
            let station = view
                .stations
                .iter()
                .find(|s| s.station_id == stations[index].id)?;
            let next = match d {
                Direction::A => station.next_a.as_ref(),
                Direction::B => station.next_b.as_ref(),
            }?;
            (next.id == train.id).then(|| SimTime(now.0 + i64::from(next.seconds) * 1000))
        };
        // The learnt prediction at a platform, of the train's own trip when it is known (a
        // vehicle's next trip may call at the same platform).
        let prediction_at = |stop_id: u32| {
            let stop_id = stop_id.to_string();
            predicted
                .iter()
                .copied()
                .find(|p| p.stop_id == stop_id && trip.is_none_or(|t| t.trip_id == p.trip_id))
        };
        let k = order(from);
        // Standing at its trip's first stop before the scheduled departure, with nothing
        // predicted: it leaves as scheduled, and the timetable is all there is to go by.
        let waiting = to.is_none()
            && k == 0
            && predicted.is_empty()
            && scheduled_departure(from).is_some_and(|t| t > now);
        let mut calls = Vec::new();
        let mut previous_departure = None;
        let mut push = |index: usize, arrival: SimTime, here: bool| {
            let Some(stop_id) = self.stop_id(line, index, d) else {
                return arrival;
            };
            let mut arrival = arrival;
            let (departure, source, issued_at, uncertainty_s) = match prediction_at(stop_id)
                .filter(|_| !here)
                .and_then(|p| Some((p, posix_ms_to_sim(p.predicted_arrival_time)?)))
            {
                Some((p, predicted_arrival)) => {
                    arrival = predicted_arrival;
                    let departure = posix_ms_to_sim(p.predicted_departure_time)
                        .map_or(arrival, |t| t.max(arrival));
                    (
                        departure,
                        CallSource::Predicted,
                        posix_ms_to_sim(p.issued_at),
                        p.uncertainty_s,
                    )
                }
                None => {
                    if !here {
                        // A train cannot arrive before it left the stop before.
                        if let Some(left) = previous_departure {
                            arrival = arrival.max(left);
                        }
                    }
                    let mut departure = SimTime(arrival.0 + dwell_ms(index));
                    let source = if waiting {
                        if let Some(scheduled) = scheduled_departure(index) {
                            departure = departure.max(scheduled);
                        }
                        CallSource::Timetable
                    } else {
                        if here {
                            // Standing past its dwell, it leaves now at the earliest.
                            departure = departure.max(now);
                        }
                        CallSource::Board
                    };
                    (departure, source, None, None)
                }
            };
            previous_departure = Some(departure);
            calls.push(Call {
                station: index,
                station_id: stations[index].id,
                stop_id,
                stop_sequence: order(index) as u32 + 1,
                arrival,
                departure,
                scheduled: scheduled_at(index),
                scheduled_departure: scheduled_departure(index),
                here,
                source,
                issued_at,
                uncertainty_s,
            });
            arrival
        };
        let mut at = if to.is_none() {
            // Standing at `from`: it arrived at its scheduled time plus its delay, or now.
            let arrived = scheduled_at(from)
                .zip(train.delay_s)
                .map(|(s, delay)| SimTime(s.0 + i64::from(delay) * 1000))
                .filter(|t| *t <= now)
                .unwrap_or(now);
            push(from, arrived, true);
            if waiting {
                // It leaves at its scheduled departure: each stop at its scheduled time.
                for next in k + 1..n {
                    let index = match d {
                        Direction::A => next,
                        Direction::B => n - 1 - next,
                    };
                    if let Some(scheduled) = scheduled_at(index) {
                        push(index, scheduled.max(now), false);
                    }
                }
                return calls;
            }
            // The nominal segment counts from its arrival: it has stood part of its dwell.
            let segment = offsets.get(k + 1).map_or(0, |o| o.arrival_ms) - offsets[k].arrival_ms;
            (arrived.0 + segment.max(0)).max(now.0)
        } else {
            let run = offsets.get(k + 1).map_or(0, |o| o.arrival_ms) - offsets[k].departure_ms;
            now.0 + (run as f64 * (1.0 - progress)).max(0.0) as i64
        };
        for next in k + 1..n {
            let index = match d {
                Direction::A => next,
                Direction::B => n - 1 - next,
            };
            if next > k + 1 {
                at += offsets[next].arrival_ms - offsets[next - 1].arrival_ms;
            }
            if let Some(said) = board_says(index) {
                at = said.0;
            }
            at = at.max(now.0);
            // A predicted (or held) call sets the time the later ones count on from.
            at = push(index, SimTime(at), false).0;
        }
        calls
    }

    /// The course of `line` at station `index` in `direction`, from the station before to the
    /// station after (itself at a terminal), degrees clockwise from north.
    fn course(&self, line: LineId, index: usize, direction: Direction) -> f64 {
        let stations = self.stations(line);
        let n = stations.len();
        let place = |i: usize| {
            stations
                .get(i)
                .and_then(|s| self.sources.network.locations().get(s.id))
        };
        let (before, after) = (
            index.saturating_sub(1),
            (index + 1).min(n.saturating_sub(1)),
        );
        let (start, end) = match direction {
            Direction::A => (before, after),
            Direction::B => (after, before),
        };
        match (place(start), place(end)) {
            (Some(a), Some(b)) => bearing(a, b),
            _ => 0.0,
        }
    }
}

/// The initial great-circle bearing from `a` to `b` (latitude, longitude in degrees), degrees
/// clockwise from north in `[0, 360)`.
pub fn bearing(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let dlon = (b.1 - a.1).to_radians();
    let y = dlon.sin() * lat2.cos();
    let x = lat1.cos() * lat2.sin() - lat1.sin() * lat2.cos() * dlon.cos();
    let degrees = y.atan2(x).to_degrees();
    (degrees + 360.0) % 360.0
}

/// Seconds since the Unix epoch of a simulated moment: the simulation's clock is Chicago
/// local time, so this is where the feeds that speak POSIX time (GTFS-realtime) convert. A
/// local time skipped by the spring-forward shift counts from the shift.
pub fn posix_seconds(time: SimTime) -> Option<u64> {
    let naive: NaiveDateTime = time.to_naive()?;
    let tz = chrono_tz::America::Chicago;
    let local = tz.from_local_datetime(&naive).earliest().or_else(|| {
        tz.from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
    })?;
    u64::try_from(local.timestamp()).ok()
}

/// The simulated moment (Chicago local time) of `ms` milliseconds since the Unix epoch, as
/// the predictions give their times.
pub fn posix_ms_to_sim(ms: i64) -> Option<SimTime> {
    let utc = chrono::DateTime::from_timestamp_millis(ms)?;
    Some(SimTime::from_naive(
        utc.with_timezone(&chrono_tz::America::Chicago)
            .naive_local(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use transit_core::network::cta;

    #[test]
    fn bearings_point_the_way() {
        assert!((bearing((41.0, -87.0), (42.0, -87.0)) - 0.0).abs() < 1e-9);
        assert!((bearing((41.0, -87.0), (41.0, -86.0)) - 90.0).abs() < 1.0);
        assert!((bearing((41.0, -87.0), (40.0, -87.0)) - 180.0).abs() < 1e-9);
        assert!((bearing((41.0, -87.0), (41.0, -88.0)) - 270.0).abs() < 1.0);
    }

    #[test]
    fn a_train_is_named_by_the_trip_whose_schedule_it_keeps() {
        use transit_core::event::HeadwayState;
        use transit_core::status::{LineView, StatusSnapshot};

        let sources = Sources::embedded().unwrap();
        let blue = sources.trips.timetable(cta::BLUE).unwrap().clone();
        let five: SimTime = "2026-11-02 05:00:00".parse().unwrap();
        let slot = blue.terminal_departures(Direction::B, five.0, five.0 + 3_600_000)[0];
        let expected = sources
            .trips
            .trip_of_departure(cta::BLUE, Direction::B, SimTime(slot))
            .unwrap();
        let offsets = blue.stop_offsets(Direction::B, slot);
        let network = LiveNetwork::new(sources.clone());
        let stations = network.stations(cta::BLUE).to_vec();
        let n = stations.len();
        // Direction B calls at the last station first: its fourth stop is station n - 4.
        let index = n - 4;
        let scheduled = SimTime(slot + offsets[3].arrival_ms);
        let train = TrainPosition {
            id: "BL009".into(),
            run: Some(9),
            direction: Direction::B,
            from: stations[index].id,
            to: Some(stations[index - 1].id),
            progress: 0.5,
            status: TrainStatus::InService,
            headway: HeadwayState::Unknown,
            headway_s: None,
            delay_s: Some(30),
            // The snapshot carries whole seconds.
            scheduled_time: Some(scheduled.to_string()),
        };
        let snapshot = StatusSnapshot {
            simulated_time: Some(SimTime(scheduled.0 + 60_000).to_string()),
            lines: vec![LineView {
                line: cta::BLUE,
                stations: Vec::new(),
                trains: vec![train],
                headways: Default::default(),
            }],
            ..StatusSnapshot::default()
        };
        let board = network.board(&snapshot);
        let live = &board.trains[0];
        let trip = live.trip.as_ref().unwrap();
        assert_eq!(trip.trip_id, expected.trip_id);
        assert_eq!(trip.start_date, expected.start_date);
        assert_eq!(trip.departure, SimTime(slot));
        // Halfway to the next station, then every stop to O'Hare, in order.
        assert_eq!(live.calls.len(), index);
        assert_eq!(live.calls[0].station, index - 1);
        assert_eq!(live.calls[0].stop_sequence, 5);
        assert_eq!(live.calls.last().map(|c| c.station), Some(0));
        let lat = |i: usize| {
            sources
                .platforms
                .get(cta::BLUE, i, Direction::B)
                .unwrap()
                .location
        };
        let middle = (lat(index).0 + lat(index - 1).0) / 2.0;
        assert!((live.position.0 - middle).abs() < 1e-9);
        assert!(!live.broken_down);

        // Broken down (a what-if), it stays in the feeds, flagged; out of service, it leaves.
        let with_status = |status| {
            let mut snapshot = snapshot.clone();
            snapshot.lines[0].trains[0].status = status;
            network.board(&snapshot).trains
        };
        let broken = with_status(TrainStatus::BrokenDown);
        assert_eq!(broken.len(), 1);
        assert!(broken[0].broken_down);
        assert!(with_status(TrainStatus::OutOfService).is_empty());
    }

    #[test]
    fn a_train_waiting_at_its_first_stop_keeps_its_timetable_unless_predicted() {
        use transit_core::event::{HeadwayState, PredictionKey};
        use transit_core::status::{LineView, StatusSnapshot, LEARNT};

        let sources = Sources::embedded().unwrap();
        let blue = sources.trips.timetable(cta::BLUE).unwrap().clone();
        let five: SimTime = "2026-11-02 05:00:00".parse().unwrap();
        let slot = blue.terminal_departures(Direction::B, five.0, five.0 + 3_600_000)[0];
        let offsets = blue.stop_offsets(Direction::B, slot);
        let network = LiveNetwork::new(sources);
        let stations = network.stations(cta::BLUE).to_vec();
        let n = stations.len();
        // Direction B's first stop is the line's last station; two minutes before it leaves.
        let now = SimTime(slot - 120_000);
        let snapshot = StatusSnapshot {
            simulated_time: Some(now.to_string()),
            lines: vec![LineView {
                line: cta::BLUE,
                stations: Vec::new(),
                trains: vec![TrainPosition {
                    id: "BL004".into(),
                    run: Some(4),
                    direction: Direction::B,
                    from: stations[n - 1].id,
                    to: None,
                    progress: 0.0,
                    status: TrainStatus::InService,
                    headway: HeadwayState::Unknown,
                    headway_s: None,
                    delay_s: Some(0),
                    scheduled_time: Some(SimTime(slot).to_string()),
                }],
                headways: Default::default(),
            }],
            ..StatusSnapshot::default()
        };
        let board = network.board(&snapshot);
        let calls = &board.trains[0].calls;
        assert_eq!(calls.len(), n);
        assert!(calls[0].here);
        assert_eq!(calls[0].departure, SimTime(slot), "it leaves as scheduled");
        for (i, call) in calls.iter().enumerate() {
            assert_eq!(call.source, CallSource::Timetable);
            if i > 0 {
                assert_eq!(call.arrival, SimTime(slot + offsets[i].arrival_ms));
                assert_eq!(call.delay_s(), Some(0));
            }
        }

        // Predicted, it is the predictor's: a minute late at its second stop.
        let second = &calls[1];
        let ms = |t: SimTime| posix_seconds(t).unwrap() as i64 * 1000;
        let prediction = PredictionEvent {
            vehicle_id: "BL004".into(),
            stop_id: second.stop_id.to_string(),
            method: LEARNT.into(),
            route_id: "Blue".into(),
            trip_id: board.trains[0].trip.as_ref().unwrap().trip_id.clone(),
            start_date: "20261102".into(),
            start_time: None,
            direction_id: Some(1),
            stop_sequence: 1,
            predicted_arrival_time: ms(second.arrival) + 60_000,
            predicted_departure_time: ms(second.arrival) + 90_000,
            scheduled_arrival_time: ms(second.arrival),
            uncertainty_s: Some(20),
            issued_at: ms(now),
            source_partition: 0,
            source_offset: 0,
        };
        let mut table = PredictionTable::new();
        let key = PredictionKey {
            vehicle_id: prediction.vehicle_id.clone(),
            stop_id: prediction.stop_id.clone(),
            method: LEARNT.into(),
        };
        table.apply(&key, Some(&prediction));
        let predicted = network.board_with(&snapshot, Some(&table));
        let calls = &predicted.trains[0].calls;
        assert_eq!(calls[1].source, CallSource::Predicted);
        assert_eq!(calls[1].delay_s(), Some(60));
        assert_eq!(calls[1].departure.0 - calls[1].arrival.0, 30_000);
        assert!(calls.iter().all(|c| c.source != CallSource::Timetable));
    }

    #[test]
    fn predictions_times_are_read_as_chicago_local_time() {
        // 2026-11-02 14:00 UTC is 08:00 in Chicago (CST).
        let local = posix_ms_to_sim(1_793_628_000_000).unwrap();
        assert_eq!(local.to_string(), "2026-11-02 08:00:00");
        assert_eq!(posix_seconds(local), Some(1_793_628_000));
    }

    #[test]
    fn chicago_local_time_becomes_posix_time() {
        // 2026-11-02 08:00 CST is 14:00 UTC; 2026-07-01 08:00 CDT is 13:00 UTC.
        let winter: SimTime = "2026-11-02 08:00:00".parse().unwrap();
        assert_eq!(posix_seconds(winter), Some(1_793_628_000));
        let summer: SimTime = "2026-07-01 08:00:00".parse().unwrap();
        assert_eq!(posix_seconds(summer), Some(1_782_910_800));
    }
}
