use std::collections::hash_map::Entry;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::motion::Geometry;
use crate::event::{
    ArrivalEvent, HeadwayEvent, HeadwayKey, StationEvent, StationLineKey, TurnstileCount,
    WeatherEvent,
};
use crate::model::{Direction, LineId, StationId, TrainId, TrainStatus};
use crate::network::{cta, StationLocations};
use crate::time::SimTime;

/// A platform: one station of a line, in one direction. It holds at most one train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    /// The line.
    pub line: LineId,
    /// The station.
    pub station_id: StationId,
    /// The direction of the platform.
    pub direction: Direction,
}

#[derive(Debug, Clone)]
pub(super) struct KnownStation {
    pub(super) id: StationId,
    pub(super) name: Arc<str>,
    pub(super) order: u32,
}

/// What the board knows of a train: its latest arrival.
#[derive(Debug, Clone, Copy)]
pub(super) struct TrainAt {
    pub(super) slot: Slot,
    pub(super) time: Option<SimTime>,
    pub(super) status: TrainStatus,
    pub(super) delay_s: Option<i32>,
    pub(super) run: Option<i32>,
    pub(super) scheduled: Option<SimTime>,
    /// Another train has arrived at its platform since: it has left it, and is placed on its
    /// way to the next (arrivals come from several partitions, so the one that shows the train
    /// arriving there may come later than the other's).
    pub(super) left: bool,
}

/// A segment longer than this (s) was a stop in service, not a trip: left out.
const SEGMENT_LIMIT_S: f64 = 1_800.0;

/// The status board's state, built by applying events in any order.
///
/// Trains and slots are kept as two maps that are each other's inverse, so a train is never on
/// two platforms: an arrival clears the train's previous slot (wherever it was, whatever the
/// event says it came from). An arrival older than the train's latest applied one (by
/// `arrival_time`) is stale and left out: arrivals are keyed by station, so one train's
/// arrivals at two stations may come from two partitions in either order, and a redelivered
/// record may come again. For the same reason a train may arrive at a platform the board still
/// holds for another: one train per block, so of the two the one that arrived first has left
/// it. It stays on the board, placed on its way to the next platform, until its next arrival
/// comes (without arrival times, the one recorded there is displaced and its position unknown
/// until its next arrival). Arrivals and counts
/// for stations not yet in the table are kept and show once the station arrives.
///
/// Between arrivals a train's place is estimated from the board's clock (the latest event
/// time) and the service model's run times (see the `motion` module): the snapshot (drawn by
/// the `view` module) shows
/// trains between stations and the minutes until the next train at each platform. A train
/// out of service (bound for the yard) shows where it left service for one dwell, then leaves
/// the board. Headways come from the headway table, one record per platform.
///
/// The nominal run times come from the coordinates of the network the board shows
/// ([`crate::network::Network::locations`]); the [`Default`] board has none, so it takes every
/// run to be the usual station spacing until trains have run it.
#[derive(Debug, Clone, Default)]
pub struct StatusModel {
    /// Where the stations are: the nominal run times between them.
    locations: Arc<StationLocations>,
    pub(super) stations: [Vec<KnownStation>; 3],
    /// Run times along each line, rebuilt when its stations change.
    pub(super) geometry: [Geometry; 3],
    // Fx hashing: the keys are a few small integers, hashed several times per arrival, and
    // they come from our own records, so SipHash's resistance to chosen keys buys nothing.
    pub(super) trains: FxHashMap<TrainId, TrainAt>,
    pub(super) slots: FxHashMap<Slot, (TrainId, TrainStatus)>,
    /// Seconds from an arrival at a platform to the same train's arrival at the next one, as
    /// the latest trip over it took (and when that trip arrived).
    pub(super) segments: FxHashMap<Slot, (SimTime, f64)>,
    pub(super) counts: FxHashMap<StationLineKey, u64>,
    pub(super) headways: FxHashMap<HeadwayKey, HeadwayEvent>,
    pub(super) weather: Option<WeatherEvent>,
    pub(super) simulated_time: Option<SimTime>,
    pub(super) version: u64,
}

impl StatusModel {
    /// An empty board of a network whose stations are at `locations` (its
    /// [`Network::locations`](crate::network::Network::locations)).
    pub fn new(locations: Arc<StationLocations>) -> Self {
        Self {
            locations,
            ..Self::default()
        }
    }

    /// Grows with every change applied.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Adds a station to its line, or updates its name and order.
    pub fn apply_station(&mut self, station: &StationEvent) {
        // The board shows CTA's lines; a station of another line has no place on it.
        let Some(index) = cta::position(station.line) else {
            return;
        };
        let line = &mut self.stations[index];
        match line.iter_mut().find(|s| s.id == station.station_id) {
            Some(known) => {
                if known.order == station.order && *known.name == *station.station_name {
                    return;
                }
                known.name = Arc::clone(&station.station_name);
                known.order = station.order;
            }
            None => line.push(KnownStation {
                id: station.station_id,
                name: Arc::clone(&station.station_name),
                order: station.order,
            }),
        }
        line.sort_by_key(|s| (s.order, s.id));
        let ids: Vec<StationId> = line.iter().map(|s| s.id).collect();
        self.geometry[index] = Geometry::new(&ids, &self.locations);
        self.version += 1;
    }

    /// Moves the train to the platform it arrived at, clearing the one it was at; leaves out an
    /// arrival older than the train's latest.
    pub fn apply_arrival(&mut self, arrival: &ArrivalEvent) {
        let train = arrival.train_id;
        let slot = Slot {
            line: arrival.line,
            station_id: arrival.station_id,
            direction: arrival.direction,
        };
        self.learn_segment(arrival);
        let at = TrainAt {
            slot,
            time: arrival.arrival_time,
            status: arrival.train_status,
            delay_s: arrival.delay_s,
            run: arrival.run_number,
            scheduled: arrival.scheduled_time,
            left: false,
        };
        // Entries rather than a look-up and then an insert or a removal: each arrival touches
        // both maps twice, and the hashing was most of applying one.
        match self.trains.entry(train) {
            Entry::Occupied(mut known) => {
                let previous = *known.get();
                if previous.time.zip(at.time).is_some_and(|(p, t)| p > t) {
                    return;
                }
                known.insert(at);
                if let Entry::Occupied(held) = self.slots.entry(previous.slot) {
                    if held.get().0 == train {
                        held.remove();
                    }
                }
            }
            Entry::Vacant(room) => {
                room.insert(at);
            }
        }
        let mut platform = match self.slots.entry(slot) {
            Entry::Occupied(platform) => platform,
            Entry::Vacant(room) => {
                room.insert((train, arrival.train_status));
                self.version += 1;
                return;
            }
        };
        let occupant = platform.get().0;
        if occupant != train {
            let occupant_time = self.trains.get(&occupant).and_then(|o| o.time);
            match occupant_time.zip(at.time) {
                // The other train arrived after this one: this one has left the platform.
                Some((theirs, ours)) if theirs > ours => {
                    if let Some(ours) = self.trains.get_mut(&train) {
                        ours.left = true;
                    }
                    self.version += 1;
                    return;
                }
                Some(_) => {
                    if let Some(theirs) = self.trains.get_mut(&occupant) {
                        theirs.left = true;
                    }
                }
                None => {
                    self.trains.remove(&occupant);
                }
            }
        }
        platform.insert((train, arrival.train_status));
        self.version += 1;
    }

    /// Learns how long the segment to this arrival's platform took, from the arrival alone:
    /// the latest trip over each segment (by arrival time) counts, so the same arrivals
    /// applied in any order teach the same times.
    fn learn_segment(&mut self, arrival: &ArrivalEvent) {
        let (Some(station_id), Some(direction), Some(from), Some(to)) = (
            arrival.prev_station_id,
            arrival.prev_direction,
            arrival.prev_arrival_time,
            arrival.arrival_time,
        ) else {
            return;
        };
        let seconds = (to.0 - from.0) as f64 / 1000.0;
        if arrival.train_status != TrainStatus::InService
            || !(0.0..=SEGMENT_LIMIT_S).contains(&seconds)
        {
            return;
        }
        let slot = Slot {
            line: arrival.line,
            station_id,
            direction,
        };
        match self.segments.get_mut(&slot) {
            Some((latest, _)) if *latest >= to => {}
            Some(known) => *known = (to, seconds),
            None => {
                self.segments.insert(slot, (to, seconds));
            }
        }
    }

    /// Sets a platform's latest headway (the headway table's latest value).
    pub fn apply_headway(&mut self, headway: &HeadwayEvent) {
        let key = headway.key();
        if self
            .headways
            .get(&key)
            .is_some_and(|known| known.arrival_time >= headway.arrival_time)
        {
            return;
        }
        self.headways.insert(key, *headway);
        self.version += 1;
    }

    /// Sets a station's count on a line (the table's latest value).
    pub fn apply_count(&mut self, count: &TurnstileCount) {
        let key = StationLineKey {
            station_id: count.station_id,
            line: count.line,
        };
        if self.counts.insert(key, count.entries) != Some(count.entries) {
            self.version += 1;
        }
    }

    /// Sets the current weather.
    pub fn apply_weather(&mut self, reading: &WeatherEvent) {
        self.weather = Some(*reading);
        self.version += 1;
    }

    /// Advances the board's clock to an event's time (it never goes back).
    pub fn observe_time(&mut self, time: SimTime) {
        if self.simulated_time.is_none_or(|now| time > now) {
            self.simulated_time = Some(time);
            self.version += 1;
        }
    }

    /// Where a train last arrived, if known.
    pub fn train_slot(&self, train: TrainId) -> Option<Slot> {
        self.trains.get(&train).map(|at| at.slot)
    }

    /// The train that last arrived at a platform, if any.
    pub fn train_at(&self, slot: Slot) -> Option<TrainId> {
        self.slots.get(&slot).map(|(train, _)| *train)
    }

    /// Every platform a train last arrived at, and the train.
    pub fn occupied(&self) -> impl Iterator<Item = (Slot, TrainId)> + '_ {
        self.slots.iter().map(|(slot, (train, _))| (*slot, *train))
    }

    /// Entries counted at a station for a line.
    pub fn entries(&self, station_id: StationId, line: LineId) -> u64 {
        self.counts
            .get(&StationLineKey { station_id, line })
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::HeadwayState;

    fn arrival(number: u16, station: u32, direction: Direction) -> ArrivalEvent {
        ArrivalEvent {
            station_id: StationId(station),
            train_id: TrainId {
                line: cta::BLUE,
                number,
            },
            direction,
            line: cta::BLUE,
            train_status: TrainStatus::InService,
            prev_station_id: None,
            prev_direction: None,
            arrival_time: None,
            scheduled_time: None,
            scheduled_headway_s: None,
            delay_s: None,
            run_number: None,
            prev_arrival_time: None,
            route_id: None,
        }
    }

    fn station(id: u32, order: u32, name: &str) -> StationEvent {
        StationEvent {
            station_id: StationId(id),
            station_name: Arc::from(name),
            order,
            line: cta::BLUE,
        }
    }

    #[test]
    fn an_arrival_clears_the_previous_platform() {
        let mut model = StatusModel::default();
        model.apply_station(&station(1, 2, "One"));
        model.apply_station(&station(2, 1, "Two"));
        model.apply_arrival(&arrival(7, 1, Direction::A));
        model.apply_arrival(&arrival(7, 2, Direction::B));
        let snapshot = model.snapshot();
        let blue = &snapshot.lines[0];
        assert_eq!(blue.stations[0].name, "Two", "ordered by `order`");
        assert_eq!(
            blue.stations[0].train_b.as_ref().map(|t| t.id.as_str()),
            Some("BL007")
        );
        assert!(blue.stations[1].train_a.is_none(), "cleared: {snapshot:?}");
        assert_eq!(snapshot.totals.trains, 1);
    }

    #[test]
    fn a_train_arriving_at_an_occupied_platform_displaces_the_other() {
        let mut model = StatusModel::default();
        model.apply_arrival(&arrival(1, 5, Direction::A));
        model.apply_arrival(&arrival(2, 5, Direction::A));
        let slot = model.train_slot(TrainId {
            line: cta::BLUE,
            number: 2,
        });
        assert!(slot.is_some());
        assert_eq!(
            model.train_slot(TrainId {
                line: cta::BLUE,
                number: 1
            }),
            None
        );
        assert_eq!(model.occupied().count(), 1);
    }

    #[test]
    fn of_two_trains_reported_at_one_platform_the_earlier_has_left_in_either_order() {
        for later_first in [false, true] {
            let mut model = StatusModel::default();
            for (id, order) in [(1, 0), (2, 1), (3, 2)] {
                model.apply_station(&station(id, order, "S"));
            }
            let at = |number, time| ArrivalEvent {
                arrival_time: Some(SimTime(time)),
                ..arrival(number, 2, Direction::A)
            };
            // Train 1 reached station 2 at 100 s, train 2 at 400 s; their arrivals at the
            // next stations are still on their way (another partition).
            let (first, then) = if later_first {
                (at(2, 400_000), at(1, 100_000))
            } else {
                (at(1, 100_000), at(2, 400_000))
            };
            model.apply_arrival(&first);
            model.apply_arrival(&then);
            model.observe_time(SimTime(400_000));
            let snapshot = model.snapshot();
            let blue = &snapshot.lines[0];
            assert_eq!(blue.trains.len(), 2, "neither is lost: {blue:?}");
            assert_eq!(
                blue.stations[1].train_a.as_ref().map(|t| t.id.as_str()),
                Some("BL002"),
                "the later arrival holds the platform"
            );
            let one = blue.trains.iter().find(|t| t.id == "BL001").unwrap();
            assert_eq!(one.from, StationId(2));
            assert_eq!(one.to, Some(StationId(3)), "on its way: {one:?}");
            assert_eq!(
                model.train_at(Slot {
                    line: cta::BLUE,
                    station_id: StationId(2),
                    direction: Direction::A
                }),
                Some(TrainId {
                    line: cta::BLUE,
                    number: 2
                })
            );
            // Its next arrival puts it back where it is.
            model.apply_arrival(&ArrivalEvent {
                arrival_time: Some(SimTime(300_000)),
                ..arrival(1, 3, Direction::A)
            });
            let snapshot = model.snapshot();
            let blue = &snapshot.lines[0];
            assert_eq!(
                blue.stations[2].train_a.as_ref().map(|t| t.id.as_str()),
                Some("BL001")
            );
            assert_eq!(snapshot.totals.in_service, 2);
        }
    }

    #[test]
    fn an_arrival_older_than_the_trains_latest_is_left_out() {
        let mut model = StatusModel::default();
        let at = |number, station, time| ArrivalEvent {
            arrival_time: Some(SimTime(time)),
            ..arrival(number, station, Direction::A)
        };
        model.apply_arrival(&at(7, 2, 2_000));
        let version = model.version();
        model.apply_arrival(&at(7, 1, 1_000));
        assert_eq!(model.version(), version, "nothing changed");
        let train = TrainId {
            line: cta::BLUE,
            number: 7,
        };
        assert_eq!(
            model.train_slot(train).map(|s| s.station_id),
            Some(StationId(2))
        );
        // The same arrival again (redelivered) changes nothing either; a later one moves it.
        model.apply_arrival(&at(7, 2, 2_000));
        model.apply_arrival(&at(7, 3, 3_000));
        assert_eq!(
            model.train_slot(train).map(|s| s.station_id),
            Some(StationId(3))
        );
        assert_eq!(model.occupied().count(), 1);
    }

    #[test]
    fn counts_and_trains_wait_for_their_station() {
        let mut model = StatusModel::default();
        model.apply_arrival(&arrival(3, 9, Direction::A));
        model.apply_count(&TurnstileCount {
            station_id: StationId(9),
            line: cta::BLUE,
            entries: 12,
            source_partition: 0,
            source_offset: 40,
        });
        assert_eq!(model.snapshot().totals.stations, 0);
        model.apply_station(&station(9, 1, "Nine"));
        let snapshot = model.snapshot();
        assert_eq!(snapshot.lines[0].stations[0].entries, 12);
        assert!(snapshot.lines[0].stations[0].train_a.is_some());
    }

    #[test]
    fn time_never_goes_back_and_versions_grow() {
        let mut model = StatusModel::default();
        model.observe_time(SimTime(2_000));
        let version = model.version();
        model.observe_time(SimTime(1_000));
        assert_eq!(model.version(), version, "an older time changes nothing");
        assert_eq!(
            model.snapshot().simulated_time,
            Some(SimTime(2_000).to_string())
        );
    }

    #[test]
    fn trains_run_between_stations_by_the_segment_times_seen_and_leave_when_out_of_service() {
        let mut model = StatusModel::default();
        for (id, order) in [(1, 0), (2, 1), (3, 2)] {
            model.apply_station(&station(id, order, "S"));
        }
        let at = |number, station, prev: Option<(u32, i64)>, time| ArrivalEvent {
            arrival_time: Some(SimTime(time)),
            prev_station_id: prev.map(|(id, _)| StationId(id)),
            prev_arrival_time: prev.map(|(_, time)| SimTime(time)),
            prev_direction: prev.map(|_| Direction::A),
            ..arrival(number, station, Direction::A)
        };
        // Train 1 took 100 s from station 1 to 2: the board learns the segment.
        model.apply_arrival(&at(1, 1, None, 0));
        model.apply_arrival(&at(1, 2, Some((1, 0)), 100_000));
        // Train 2 arrives at station 1 and, 60 s later, is 40 s into its 80 s run.
        model.apply_arrival(&at(2, 1, None, 200_000));
        model.observe_time(SimTime(260_000));
        let snapshot = model.snapshot();
        let blue = &snapshot.lines[0];
        let two = blue.trains.iter().find(|t| t.id == "BL002").unwrap();
        assert_eq!(two.to, Some(StationId(2)));
        assert!((two.progress - 0.5).abs() < 1e-9, "{two:?}");
        assert!(blue.stations[0].train_a.is_none(), "it has left station 1");
        let next = blue.stations[1].next_a.as_ref().unwrap();
        assert_eq!((next.id.as_str(), next.seconds), ("BL002", 40));
        // Its due time is its arrival plus the segment, whatever the clock says meanwhile:
        // what the live stream sends, so it does not change while the train runs as estimated.
        for now in [260_000, 275_000, 290_000, 299_999] {
            let mut later = model.clone();
            later.observe_time(SimTime(now));
            let next = later.snapshot().lines[0].stations[1]
                .next_a
                .clone()
                .unwrap();
            assert_eq!(
                next.due_at.as_deref(),
                Some("1970-01-01 00:05:00"),
                "at {now}"
            );
            assert_eq!(
                next.minutes_from(later.snapshot().simulated_time.as_deref()),
                u32::try_from((300_000 - now) / 60_000).unwrap()
            );
        }

        // Out of service at a terminal: shown there for a dwell, then gone from the board.
        model.apply_arrival(&ArrivalEvent {
            train_status: TrainStatus::OutOfService,
            ..at(1, 2, Some((2, 100_000)), 270_000)
        });
        assert!(model.snapshot().lines[0]
            .trains
            .iter()
            .any(|t| t.id == "BL001"));
        model.observe_time(SimTime(400_000));
        let trains: Vec<String> = model.snapshot().lines[0]
            .trains
            .iter()
            .map(|t| t.id.clone())
            .collect();
        assert_eq!(trains, ["BL002"]);
    }

    #[test]
    fn headways_colour_their_trains_and_make_the_line_figures() {
        let mut model = StatusModel::default();
        model.apply_station(&station(1, 0, "One"));
        model.apply_arrival(&arrival(7, 1, Direction::A));
        let headway = |number, time, headway_s, state| HeadwayEvent {
            line: cta::BLUE,
            station_id: StationId(1),
            direction: Direction::A,
            train_id: TrainId {
                line: cta::BLUE,
                number,
            },
            run_number: Some(i32::from(number)),
            arrival_time: SimTime(time),
            headway_s: Some(headway_s),
            scheduled_headway_s: Some(600),
            state,
            delay_s: None,
            source_partition: 0,
            source_offset: 0,
        };
        model.apply_headway(&headway(7, 2_000, 120, HeadwayState::Bunched));
        // An older record for the platform (another partition's replay) changes nothing.
        let version = model.version();
        model.apply_headway(&headway(6, 1_000, 900, HeadwayState::Gapped));
        assert_eq!(model.version(), version);
        let snapshot = model.snapshot();
        let blue = &snapshot.lines[0];
        assert_eq!(blue.trains[0].headway, HeadwayState::Bunched);
        assert_eq!(
            blue.stations[0].train_a.as_ref().map(|t| t.headway),
            Some(HeadwayState::Bunched)
        );
        assert_eq!(blue.headways.bunched, 1);
        assert_eq!(blue.headways.mean_headway_s, Some(120.0));
        assert_eq!(snapshot.totals.bunched, 1);
    }

    #[test]
    fn a_broken_down_train_stands_where_it_broke_down_and_teaches_no_run_time() {
        let mut model = StatusModel::default();
        for (id, order) in [(1, 0), (2, 1)] {
            model.apply_station(&station(id, order, "S"));
        }
        model.apply_arrival(&ArrivalEvent {
            arrival_time: Some(SimTime(0)),
            ..arrival(4, 1, Direction::A)
        });
        model.apply_arrival(&ArrivalEvent {
            train_status: TrainStatus::BrokenDown,
            arrival_time: Some(SimTime(60_000)),
            prev_station_id: Some(StationId(1)),
            prev_direction: Some(Direction::A),
            prev_arrival_time: Some(SimTime(0)),
            ..arrival(4, 1, Direction::A)
        });
        model.observe_time(SimTime(900_000));
        let snapshot = model.snapshot();
        let blue = &snapshot.lines[0];
        assert_eq!(
            blue.stations[0].train_a.as_ref().map(|t| t.status),
            Some(TrainStatus::BrokenDown)
        );
        assert!(blue.trains[0].to.is_none(), "{:?}", blue.trains[0]);
        assert!(model.segments.is_empty());
    }

    #[test]
    fn the_board_times_runs_by_the_coordinates_it_is_given() {
        use crate::speed::{self, DEFAULT_SPACING_M};
        // O'Hare to Rosemont, the first run of the Blue Line.
        let (ohare, rosemont) = (StationId(40890), StationId(40820));
        let locations = StationLocations::embedded().unwrap();
        let distance = locations.distance_m(ohare, rosemont).unwrap();
        let next_at_rosemont = |mut model: StatusModel| {
            model.apply_station(&station(ohare.0, 0, "O'Hare"));
            model.apply_station(&station(rosemont.0, 1, "Rosemont"));
            model.apply_arrival(&ArrivalEvent {
                arrival_time: Some(SimTime(0)),
                ..arrival(1, ohare.0, Direction::A)
            });
            model.observe_time(SimTime(0));
            let snapshot = model.snapshot();
            snapshot.lines[0].stations[1]
                .next_a
                .as_ref()
                .unwrap()
                .seconds
        };
        let nominal = |metres| (speed::MIN_DWELL_S + speed::run_time_s(metres)).round() as u32;
        assert_eq!(
            next_at_rosemont(StatusModel::new(Arc::new(locations))),
            nominal(distance)
        );
        // Without coordinates, the usual spacing.
        assert_eq!(
            next_at_rosemont(StatusModel::default()),
            nominal(DEFAULT_SPACING_M)
        );
        assert_ne!(nominal(distance), nominal(DEFAULT_SPACING_M));
    }
}
