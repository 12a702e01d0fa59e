use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::snapshot::{LineView, StationView, StatusSnapshot, Totals, TrainView, WeatherView};
use crate::event::{ArrivalEvent, StationEvent, StationLineKey, TurnstileCount, WeatherEvent};
use crate::model::{Direction, LineColor, StationId, TrainId, TrainStatus};
use crate::sim::SimTime;

/// A platform: one station of a line, in one direction. It holds at most one train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    /// The line.
    pub line: LineColor,
    /// The station.
    pub station_id: StationId,
    /// The direction of the platform.
    pub direction: Direction,
}

#[derive(Debug, Clone)]
struct KnownStation {
    id: StationId,
    name: Arc<str>,
    order: u32,
}

/// The status board's state, built by applying events in any order.
///
/// Trains and slots are kept as two maps that are each other's inverse, so a train is never on
/// two platforms: an arrival clears the train's previous slot (wherever it was, whatever the
/// event says it came from), and a train arriving at an occupied platform displaces the one
/// recorded there, whose position is then unknown until its next arrival. An arrival older than
/// the train's latest applied one (by `arrival_time`) is stale and left out: arrivals are keyed
/// by station, so one train's arrivals at two stations may come from two partitions in either
/// order, and a redelivered record may come again. Arrivals and counts
/// for stations not yet in the table are kept and show once the station arrives.
#[derive(Debug, Clone, Default)]
pub struct StatusModel {
    stations: [Vec<KnownStation>; 3],
    // Fx hashing: the keys are a few small integers, hashed several times per arrival, and
    // they come from our own records, so SipHash's resistance to chosen keys buys nothing.
    trains: FxHashMap<TrainId, Slot>,
    /// When each train last arrived, by the arrivals that carry a time.
    arrived_at: FxHashMap<TrainId, SimTime>,
    slots: FxHashMap<Slot, (TrainId, TrainStatus)>,
    counts: FxHashMap<StationLineKey, u64>,
    weather: Option<WeatherEvent>,
    simulated_time: Option<SimTime>,
    version: u64,
}

impl StatusModel {
    /// An empty board.
    pub fn new() -> Self {
        Self::default()
    }

    /// Grows with every change applied.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Adds a station to its line, or updates its name and order.
    pub fn apply_station(&mut self, station: &StationEvent) {
        let line = &mut self.stations[station.line.index()];
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
        self.version += 1;
    }

    /// Moves the train to the platform it arrived at, clearing the one it was at; leaves out an
    /// arrival older than the train's latest.
    pub fn apply_arrival(&mut self, arrival: &ArrivalEvent) {
        let train = arrival.train_id;
        if let Some(time) = arrival.arrival_time {
            if self
                .arrived_at
                .get(&train)
                .is_some_and(|latest| *latest > time)
            {
                return;
            }
            self.arrived_at.insert(train, time);
        }
        let slot = Slot {
            line: arrival.line,
            station_id: arrival.station_id,
            direction: arrival.direction,
        };
        if let Some(previous) = self.trains.remove(&train) {
            if self.slots.get(&previous).is_some_and(|(t, _)| *t == train) {
                self.slots.remove(&previous);
            }
        }
        if let Some((displaced, _)) = self.slots.insert(slot, (train, arrival.train_status)) {
            if displaced != train {
                self.trains.remove(&displaced);
            }
        }
        self.trains.insert(train, slot);
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

    /// Where a train is, if known.
    pub fn train_slot(&self, train: TrainId) -> Option<Slot> {
        self.trains.get(&train).copied()
    }

    /// The train at a platform, if any.
    pub fn train_at(&self, slot: Slot) -> Option<TrainId> {
        self.slots.get(&slot).map(|(train, _)| *train)
    }

    /// Every occupied platform and its train.
    pub fn occupied(&self) -> impl Iterator<Item = (Slot, TrainId)> + '_ {
        self.slots.iter().map(|(slot, (train, _))| (*slot, *train))
    }

    /// Entries counted at a station for a line.
    pub fn entries(&self, station_id: StationId, line: LineColor) -> u64 {
        self.counts
            .get(&StationLineKey { station_id, line })
            .copied()
            .unwrap_or(0)
    }

    /// The board as the dashboard shows it.
    pub fn snapshot(&self) -> StatusSnapshot {
        let mut totals = Totals::default();
        let lines = LineColor::ALL
            .into_iter()
            .map(|line| {
                let stations = self.stations[line.index()]
                    .iter()
                    .map(|station| {
                        let train = |direction| {
                            self.slots
                                .get(&Slot {
                                    line,
                                    station_id: station.id,
                                    direction,
                                })
                                .map(|(train, status)| TrainView {
                                    id: train.to_string(),
                                    status: *status,
                                })
                        };
                        let view = StationView {
                            station_id: station.id,
                            name: station.name.to_string(),
                            order: station.order,
                            train_a: train(Direction::A),
                            train_b: train(Direction::B),
                            entries: self.entries(station.id, line),
                        };
                        totals.stations += 1;
                        totals.entries += view.entries;
                        totals.trains +=
                            u64::from(view.train_a.is_some()) + u64::from(view.train_b.is_some());
                        view
                    })
                    .collect();
                LineView { line, stations }
            })
            .collect();
        StatusSnapshot {
            version: self.version,
            simulated_time: self.simulated_time.map(|t| t.to_string()),
            weather: self.weather.map(|w| WeatherView {
                temperature: w.temperature,
                status: w.status,
            }),
            lines,
            totals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(number: u16, station: u32, direction: Direction) -> ArrivalEvent {
        ArrivalEvent {
            station_id: StationId(station),
            train_id: TrainId {
                line: LineColor::Blue,
                number,
            },
            direction,
            line: LineColor::Blue,
            train_status: TrainStatus::InService,
            prev_station_id: None,
            prev_direction: None,
            arrival_time: None,
            scheduled_time: None,
            scheduled_headway_s: None,
            delay_s: None,
            run_number: None,
        }
    }

    fn station(id: u32, order: u32, name: &str) -> StationEvent {
        StationEvent {
            station_id: StationId(id),
            station_name: Arc::from(name),
            order,
            line: LineColor::Blue,
        }
    }

    #[test]
    fn an_arrival_clears_the_previous_platform() {
        let mut model = StatusModel::new();
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
        let mut model = StatusModel::new();
        model.apply_arrival(&arrival(1, 5, Direction::A));
        model.apply_arrival(&arrival(2, 5, Direction::A));
        let slot = model.train_slot(TrainId {
            line: LineColor::Blue,
            number: 2,
        });
        assert!(slot.is_some());
        assert_eq!(
            model.train_slot(TrainId {
                line: LineColor::Blue,
                number: 1
            }),
            None
        );
        assert_eq!(model.occupied().count(), 1);
    }

    #[test]
    fn an_arrival_older_than_the_trains_latest_is_left_out() {
        let mut model = StatusModel::new();
        let at = |number, station, time| ArrivalEvent {
            arrival_time: Some(SimTime(time)),
            ..arrival(number, station, Direction::A)
        };
        model.apply_arrival(&at(7, 2, 2_000));
        let version = model.version();
        model.apply_arrival(&at(7, 1, 1_000));
        assert_eq!(model.version(), version, "nothing changed");
        let train = TrainId {
            line: LineColor::Blue,
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
        let mut model = StatusModel::new();
        model.apply_arrival(&arrival(3, 9, Direction::A));
        model.apply_count(&TurnstileCount {
            station_id: StationId(9),
            line: LineColor::Blue,
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
        let mut model = StatusModel::new();
        model.observe_time(SimTime(2_000));
        let version = model.version();
        model.observe_time(SimTime(1_000));
        assert_eq!(model.version(), version, "an older time changes nothing");
        assert_eq!(
            model.snapshot().simulated_time,
            Some(SimTime(2_000).to_string())
        );
    }
}
