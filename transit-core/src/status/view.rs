//! The board as the dashboard shows it, drawn from a [`StatusModel`]: each line's stations,
//! its trains where they are estimated to be now, the next train due at each platform, and
//! its headways.
//!
//! Drawing reads the model and never changes it; applying records (the `model` module) never
//! draws. A line is drawn in steps, each its own function: which trains are on the line,
//! how long each segment takes, where each train is now ([`LineDraft::new`]), then the trains'
//! positions, the stations' rows and the headway panel from that draft.

use rustc_hash::FxHashMap;

use super::headways::{line_panel, RECENT_MS};
use super::model::{KnownStation, Slot, StatusModel, TrainAt};
use super::motion::{self, ring_position, Geometry, Placed};
use super::snapshot::{
    round_to, HeadwayPanel, LineView, NextTrain, PlatformHeadway, StationView, StatusSnapshot,
    Totals, TrainPosition, TrainView, WeatherView,
};
use crate::event::{HeadwayEvent, HeadwayKey, HeadwayState};
use crate::model::ring_slot;
use crate::model::{Direction, LineId, StationId, TrainId, TrainStatus};
use crate::network::cta;
use crate::speed::{self, Conditions};
use crate::time::SimTime;

impl StatusModel {
    /// The board as the dashboard shows it.
    pub fn snapshot(&self) -> StatusSnapshot {
        let mut totals = Totals::default();
        let lines = cta::LINES
            .into_iter()
            .enumerate()
            .map(|(index, line)| {
                let view = LineDraft::new(self, index, line).view();
                totals.add(&view);
                view
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

    fn conditions(&self) -> Conditions {
        self.weather
            .as_ref()
            .map(Conditions::of)
            .unwrap_or_default()
    }

    /// Every train of `line` at one of its known stations (`index_of`), by id.
    fn trains_on(
        &self,
        line: LineId,
        index_of: &FxHashMap<StationId, usize>,
    ) -> Vec<(TrainId, TrainAt)> {
        let mut trains: Vec<(TrainId, TrainAt)> = self
            .trains
            .iter()
            .filter(|(_, at)| at.slot.line == line && index_of.contains_key(&at.slot.station_id))
            .map(|(id, at)| (*id, *at))
            .collect();
        trains.sort_by_key(|(id, _)| *id);
        trains
    }

    /// Each segment's time (by ring position): what trains took lately, else the nominal
    /// figure.
    fn segment_times(
        &self,
        line: LineId,
        known: &[KnownStation],
        geometry: &Geometry,
        conditions: Conditions,
    ) -> Vec<f64> {
        let n = known.len();
        (0..geometry.ring())
            .map(|p| {
                let (index, direction) = ring_slot(p, n);
                let slot = Slot {
                    line,
                    station_id: known[index].id,
                    direction,
                };
                self.segments
                    .get(&slot)
                    .map(|(_, seconds)| *seconds)
                    .unwrap_or_else(|| geometry.nominal_s(p, conditions))
            })
            .collect()
    }

    /// Each train's latest headway record the table still holds (the table's rows, not the
    /// order they came in: a reader that rebuilt from a compacted table shows the same).
    fn latest_headways(&self, line: LineId) -> FxHashMap<TrainId, &HeadwayEvent> {
        let mut latest_of: FxHashMap<TrainId, &HeadwayEvent> = FxHashMap::default();
        for record in self.headways.values().filter(|h| h.line == line) {
            let newer = latest_of
                .get(&record.train_id)
                .is_none_or(|known| known.arrival_time < record.arrival_time);
            if newer {
                latest_of.insert(record.train_id, record);
            }
        }
        latest_of
    }

    /// The headway record of a platform, if the table has one.
    fn platform_headway(
        &self,
        line: LineId,
        station_id: StationId,
        direction: Direction,
    ) -> Option<&HeadwayEvent> {
        self.headways.get(&HeadwayKey {
            line,
            station_id,
            direction,
        })
    }
}

impl Totals {
    /// Adds a line's stations, entries, trains and headway figures.
    fn add(&mut self, view: &LineView) {
        self.stations += view.stations.len() as u64;
        self.entries += view.stations.iter().map(|s| s.entries).sum::<u64>();
        self.trains += view
            .stations
            .iter()
            .map(|s| u64::from(s.train_a.is_some()) + u64::from(s.train_b.is_some()))
            .sum::<u64>();
        self.in_service += view
            .trains
            .iter()
            .filter(|t| t.status == TrainStatus::InService)
            .count() as u64;
        self.bunched += u64::from(view.headways.bunched);
        self.gapped += u64::from(view.headways.gapped);
    }
}

/// One line placed at the board's time: what its view is drawn from.
struct LineDraft<'a> {
    model: &'a StatusModel,
    line: LineId,
    /// Its known stations, in order.
    known: &'a [KnownStation],
    /// The trains on the board, by id; `placed` says where each is.
    on_board: Vec<(TrainId, TrainAt)>,
    placed: Vec<Placed>,
    /// Per ring position, the next train due (by index into `on_board`) and in how many
    /// seconds.
    due: Vec<Option<(usize, f64)>>,
    latest_headway: FxHashMap<TrainId, &'a HeadwayEvent>,
}

impl<'a> LineDraft<'a> {
    /// Places every train of `line` on its ring at the model's time; trains out of service
    /// leave the board once they have pulled out.
    fn new(model: &'a StatusModel, index: usize, line: LineId) -> Self {
        let known = model.stations.get(index).map_or(&[][..], |s| &s[..]);
        let geometry = &model.geometry[index];
        let n = known.len();
        let index_of: FxHashMap<StationId, usize> =
            known.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
        let conditions = model.conditions();
        let now = model.simulated_time;
        let trains = model.trains_on(line, &index_of);
        let segment_s = model.segment_times(line, known, geometry, conditions);
        let dwell_s = speed::MIN_DWELL_S * conditions.dwell;
        let mut placed: Vec<Placed> = Vec::with_capacity(trains.len());
        let mut on_board: Vec<(TrainId, TrainAt)> = Vec::with_capacity(trains.len());
        for (id, at) in trains {
            let ring = ring_position(index_of[&at.slot.station_id], at.slot.direction, n);
            let spot = place_train(&at, ring, segment_s[ring], dwell_s, now);
            if at.status == TrainStatus::OutOfService && !spot.at_platform {
                continue;
            }
            // One that has left its platform for another train is not drawn back onto it.
            placed.push(if at.left {
                spot
            } else {
                drawn_at_terminal(spot, geometry)
            });
            on_board.push((id, at));
        }
        let due = motion::next_due(&segment_s, &placed);
        Self {
            model,
            line,
            known,
            on_board,
            placed,
            due,
            latest_headway: model.latest_headways(line),
        }
    }

    /// The line's view: its stations, its trains and its headways.
    fn view(self) -> LineView {
        let trains = self.train_positions();
        let stations = (0..self.known.len())
            .map(|index| self.station_view(index))
            .collect();
        let headways = self.headway_panel(&trains);
        LineView {
            line: self.line,
            stations,
            trains,
            headways,
        }
    }

    fn headway_state(&self, train: &TrainId) -> HeadwayState {
        self.latest_headway
            .get(train)
            .map_or(HeadwayState::Unknown, |h| h.state)
    }

    /// Every train on the board: where it is, bound where, and how its service runs.
    fn train_positions(&self) -> Vec<TrainPosition> {
        let n = self.known.len();
        self.on_board
            .iter()
            .zip(&self.placed)
            .map(|((id, at), spot)| {
                let to = (!spot.at_platform).then(|| {
                    let (next, _) = ring_slot((spot.ring + 1) % (2 * n), n);
                    self.known[next].id
                });
                let latest = self.latest_headway.get(id).copied();
                TrainPosition {
                    id: id.to_string(),
                    run: at.run,
                    direction: at.slot.direction,
                    from: at.slot.station_id,
                    to,
                    progress: if spot.at_platform {
                        0.0
                    } else {
                        // Four decimals: finer than any screen, and a short decimal reads back
                        // from the JSON as the same number.
                        round_to(spot.progress.min(TrainPosition::MAX_PROGRESS), 4)
                    },
                    status: at.status,
                    headway: latest.map_or(HeadwayState::Unknown, |h| h.state),
                    headway_s: latest.and_then(|h| h.headway_s),
                    delay_s: at.delay_s,
                    scheduled_time: at.scheduled.map(|t| t.to_string()),
                }
            })
            .collect()
    }

    /// The row of the station at `index`: the train at each platform, the next one due, its
    /// entries and its platforms' headways.
    fn station_view(&self, index: usize) -> StationView {
        let station = &self.known[index];
        StationView {
            station_id: station.id,
            name: station.name.to_string(),
            order: station.order,
            train_a: self.standing(index, Direction::A),
            train_b: self.standing(index, Direction::B),
            entries: self.model.entries(station.id, self.line),
            next_a: self.next_train(index, Direction::A),
            next_b: self.next_train(index, Direction::B),
            headway_a: self.platform_headway(station.id, Direction::A),
            headway_b: self.platform_headway(station.id, Direction::B),
        }
    }

    /// The train standing at the platform of station `index` in `direction`, if any.
    fn standing(&self, index: usize, direction: Direction) -> Option<TrainView> {
        let ring = ring_position(index, direction, self.known.len());
        self.on_board
            .iter()
            .zip(&self.placed)
            .find(|(_, spot)| spot.ring == ring && spot.at_platform)
            .map(|((id, at), _)| TrainView {
                id: id.to_string(),
                status: at.status,
                headway: self.headway_state(id),
            })
    }

    /// The next train due at the platform of station `index` in `direction`, if any.
    fn next_train(&self, index: usize, direction: Direction) -> Option<NextTrain> {
        let ring = ring_position(index, direction, self.known.len());
        self.due
            .get(ring)
            .copied()
            .flatten()
            .map(|(train, seconds)| {
                let seconds = seconds.max(0.0);
                let whole = seconds.round() as u32;
                NextTrain {
                    id: self.on_board[train].0.to_string(),
                    seconds: whole,
                    minutes: whole / 60,
                    due_at: self.model.simulated_time.map(|now| due_at(now, seconds)),
                }
            })
    }

    /// The latest headway at a platform, as the board shows it.
    fn platform_headway(
        &self,
        station_id: StationId,
        direction: Direction,
    ) -> Option<PlatformHeadway> {
        self.model
            .platform_headway(self.line, station_id, direction)
            .map(|h| PlatformHeadway {
                train: h.train_id.to_string(),
                headway_s: h.headway_s,
                scheduled_headway_s: h.scheduled_headway_s,
                state: h.state,
            })
    }

    /// The line's figures: from its platforms' recent headways, and its trains in service.
    fn headway_panel(&self, trains: &[TrainPosition]) -> HeadwayPanel {
        let now = self.model.simulated_time;
        let recent = |time: SimTime| now.is_none_or(|now| now.0 - time.0 <= RECENT_MS);
        let platform_headways = self.known.iter().flat_map(|station| {
            [Direction::A, Direction::B]
                .into_iter()
                .filter_map(move |direction| {
                    self.model
                        .platform_headway(self.line, station.id, direction)
                })
        });
        line_panel(
            platform_headways.filter(|h| recent(h.arrival_time)),
            trains
                .iter()
                .filter(|t| t.status == TrainStatus::InService)
                .map(|t| t.headway),
        )
    }
}

/// The instant `seconds` after `now`, as [`NextTrain::due_at`] gives it: rounded to whole
/// milliseconds first (for a train running as estimated `now + seconds` is the same instant
/// at every update, its arrival plus its segments' times, up to the float error this removes),
/// then to the nearest [`NextTrain::DUE_ROUNDING_S`].
pub(super) fn due_at(now: SimTime, seconds: f64) -> String {
    let grid = NextTrain::DUE_ROUNDING_S * 1000;
    let exact = now.0 + (seconds * 1000.0).round() as i64;
    SimTime((exact + grid / 2).div_euclid(grid) * grid).to_string()
}

/// Where a train that arrived at ring position `ring` is now. A broken-down train stands where
/// its latest event put it until it moves again.
fn place_train(
    at: &TrainAt,
    ring: usize,
    segment_s: f64,
    dwell_s: f64,
    now: Option<SimTime>,
) -> Placed {
    let since = if at.status == TrainStatus::BrokenDown {
        now
    } else {
        at.time
    };
    let spot = motion::place(ring, segment_s, dwell_s, since, now);
    if at.left && spot.at_platform {
        // Another train stands at its platform: it has just left, at the start of its run.
        return Placed {
            at_platform: false,
            progress: 0.0,
            to_next_s: (segment_s - dwell_s.min(segment_s)).max(0.0),
            ..spot
        };
    }
    spot
}

/// A train turning at a terminal is drawn at the terminal until it arrives on the other
/// platform.
fn drawn_at_terminal(spot: Placed, geometry: &Geometry) -> Placed {
    if geometry.turns_after(spot.ring) && !spot.at_platform {
        Placed {
            at_platform: true,
            ..spot
        }
    } else {
        spot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_round_to_the_half_minute_and_ignore_float_error() {
        let now = SimTime(1_000_000);
        // 1 000 s + 44.999 999 s: 1 045 s rounds to 1 050 s (17:30).
        assert_eq!(due_at(now, 44.999_999_9), "1970-01-01 00:17:30");
        assert_eq!(due_at(now, 34.0), "1970-01-01 00:17:00");
        assert_eq!(due_at(now, 0.0), "1970-01-01 00:16:30");
        // 1 005 s is halfway between two half minutes: a sum of floats that misses it by far
        // less than a millisecond rounds as the exact instant does.
        let five = 0.1 + 0.2 + 4.7;
        assert_eq!(due_at(now, five), "1970-01-01 00:17:00");
        assert_eq!(due_at(now, 5.0), "1970-01-01 00:17:00");
        assert_eq!(due_at(now, 4.999), "1970-01-01 00:16:30");
    }
}
