//! The block plan (the runs) of a scheduled line, built from its timetable alone, and the
//! line's scheduled state: the timetable, the plan, and the departures due at each terminal.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{other, TripRun, DAY_MS};
use transit_core::model::Direction;
use transit_core::network::timetable::NominalTimetable;
use transit_core::speed::{self, seconds_to_ms};

/// How far back of its start a line's block plan begins, so the runs under way at the start
/// (and the hours before it) are paired as on any other day.
pub(super) const PLAN_LEAD_MS: i64 = DAY_MS;

/// The scheduled arrivals of a trip at each of its stops, as offsets from its departure,
/// and the end of its run if the plan pulls its train in after it.
pub(super) fn trip_run(
    timetable: &NominalTimetable,
    plan: &mut Plan,
    d: Direction,
    slot: i64,
) -> TripRun {
    let run_ends = plan
        .trip(timetable, d, slot)
        .filter(|planned| planned.next.is_none())
        .map(|planned| planned.arrival + seconds_to_ms(speed::MIN_DWELL_S));
    TripRun {
        direction: d,
        slot,
        arrivals_ms: timetable
            .stop_offsets(d, slot)
            .iter()
            .map(|o| o.arrival_ms)
            .collect(),
        run_ends,
    }
}

/// One trip in the block plan: when it arrives at the other end (ms, scheduled), and the
/// departure the other way its train turns for (`None`: it pulls in to the yard).
#[derive(Debug, Clone, Copy)]
pub(super) struct Planned {
    pub(super) arrival: i64,
    pub(super) next: Option<i64>,
}

/// The block plan (the runs) of a scheduled line: which trip each trip's train runs next.
///
/// Built from the timetable alone, as an operator's crew and vehicle schedule is: the trips in
/// each direction, in order of departure, each pair their arrival at the other end with the
/// first departure the other way not yet paired, at or after the arrival plus the shortest
/// alighting dwell, the turn ([`speed::TURNAROUND_S`]), the lead onto the departure platform
/// ([`speed::PLATFORM_LEAD_S`]) and the recovery ([`speed::recovery_s`]), if it is within
/// [`speed::MAX_LAYOVER_S`] of that; otherwise the train pulls in after it. A departure no
/// trip pairs with pulls out of the yard. A run is such a chain of trips, from a pull-out to
/// a pull-in; the plan pairs lazily as time goes on, every decision final, so it is the same
/// plan however far and in what steps it was taken.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    /// Per direction: the trips paired so far, by departure.
    trips: [BTreeMap<i64, Planned>; 2],
    /// Per direction: the departures some trip the other way turns for.
    claimed: [BTreeSet<i64>; 2],
    /// Per direction: every trip leaving at or before this is paired.
    paired_through: [i64; 2],
    /// Per direction: the last departure claimed.
    last_claimed: [Option<i64>; 2],
}

impl Plan {
    pub(super) fn new(origin: i64) -> Self {
        Self {
            trips: Default::default(),
            claimed: Default::default(),
            paired_through: [origin; 2],
            last_claimed: [None; 2],
        }
    }

    /// The ms from a trip's scheduled arrival to the first departure its train may take.
    pub(super) fn turn_ms(trip_ms: i64) -> i64 {
        seconds_to_ms(
            speed::MIN_DWELL_S
                + speed::TURNAROUND_S
                + speed::PLATFORM_LEAD_S
                + speed::recovery_s(trip_ms as f64 / 1000.0),
        )
    }

    /// Pairs every trip in `d` leaving up to `upto`.
    pub(super) fn pair_through(&mut self, timetable: &NominalTimetable, d: Direction, upto: i64) {
        let i = d as usize;
        let back = other(d);
        let n = timetable.stations();
        while self.paired_through[i] < upto {
            let slot = match timetable.next_slot(d, self.paired_through[i] + 1) {
                Some(slot) if slot <= upto => slot,
                Some(_) => {
                    self.paired_through[i] = upto;
                    break;
                }
                // Nothing within two days: look on from there.
                None => {
                    self.paired_through[i] = (self.paired_through[i] + 2 * DAY_MS).min(upto);
                    continue;
                }
            };
            let offsets = timetable.stop_offsets(d, slot);
            let trip_ms = offsets.get(n - 1).map_or(0, |o| o.arrival_ms);
            let arrival = slot + trip_ms;
            let earliest = arrival + Self::turn_ms(trip_ms);
            let from = self.last_claimed[back as usize].map_or(earliest, |c| earliest.max(c + 1));
            let next = timetable
                .next_slot(back, from)
                .filter(|at| *at - earliest <= seconds_to_ms(speed::MAX_LAYOVER_S));
            if let Some(at) = next {
                self.claimed[back as usize].insert(at);
                self.last_claimed[back as usize] = Some(at);
            }
            self.trips[i].insert(slot, Planned { arrival, next });
            self.paired_through[i] = slot;
        }
    }

    /// The trip in `d` leaving at `slot`, paired.
    pub(super) fn trip(
        &mut self,
        timetable: &NominalTimetable,
        d: Direction,
        slot: i64,
    ) -> Option<Planned> {
        self.pair_through(timetable, d, slot);
        self.trips[d as usize].get(&slot).copied()
    }

    /// Whether the departure in `d` at `slot` is a pull-out: no trip the other way turns for
    /// it. Pairs the trips the other way that could.
    pub(super) fn pulls_out(
        &mut self,
        timetable: &NominalTimetable,
        d: Direction,
        slot: i64,
    ) -> bool {
        let back = other(d);
        // Rounding aside (a second), no trip leaving later than this arrives in time for it.
        let soonest = timetable.shortest_run_ms(back) + Self::turn_ms(0) - 1_000;
        self.pair_through(timetable, back, slot - soonest + 1);
        !self.claimed[d as usize].contains(&slot)
    }

    /// The first pull-out in `d` at or after `after`, within two days.
    pub(super) fn next_pull_out(
        &mut self,
        timetable: &NominalTimetable,
        d: Direction,
        after: i64,
    ) -> Option<i64> {
        let mut at = after;
        loop {
            let slot = timetable.next_slot(d, at)?;
            if slot > after + 2 * DAY_MS {
                return None;
            }
            if self.pulls_out(timetable, d, slot) {
                return Some(slot);
            }
            at = slot + 1;
        }
    }

    /// When the trip in `d` leaving at `slot` holds a run (train) of the plan: from its
    /// departure (a pull-out: [`speed::PLATFORM_LEAD_S`] before it, out of the yard) to the
    /// departure of its run's next trip, or to its arrival and alighting dwell if its train
    /// pulls in after it.
    pub(super) fn holds(
        &mut self,
        timetable: &NominalTimetable,
        d: Direction,
        slot: i64,
    ) -> Option<(i64, i64)> {
        let planned = self.trip(timetable, d, slot)?;
        let start = if self.pulls_out(timetable, d, slot) {
            slot - seconds_to_ms(speed::PLATFORM_LEAD_S)
        } else {
            slot
        };
        let end = planned
            .next
            .unwrap_or(planned.arrival + seconds_to_ms(speed::MIN_DWELL_S));
        Some((start, end))
    }

    /// Forgets the trips and claims of departures before `before`.
    pub(super) fn forget(&mut self, before: i64) {
        for trips in &mut self.trips {
            *trips = trips.split_off(&before);
        }
        for claimed in &mut self.claimed {
            *claimed = claimed.split_off(&before);
        }
    }
}

/// A scheduled line's timetable, plan and terminals.
#[derive(Debug, Clone)]
pub(super) struct Scheduled {
    pub(super) timetable: NominalTimetable,
    pub(super) plan: Plan,
    /// The simulation's start (ms): nothing happens before it.
    pub(super) start: i64,
    /// Per direction: departures no train has taken yet, oldest first, up to `fed_through`.
    pub(super) pending: [VecDeque<i64>; 2],
    /// Per direction: every departure up to this is in `pending` or taken.
    pub(super) fed_through: [i64; 2],
    /// Per direction: the next departure that pulls out of the yard.
    pub(super) yard_next: [Option<i64>; 2],
}

impl Scheduled {
    /// Puts the departures in `d` due onto the platform by `at` into `pending`.
    pub(super) fn feed(&mut self, d: Direction, at: i64) {
        let i = d as usize;
        let upto = at + seconds_to_ms(speed::PLATFORM_LEAD_S);
        while let Some(slot) = self
            .timetable
            .next_slot(d, self.fed_through[i] + 1)
            .filter(|slot| *slot <= upto)
        {
            self.pending[i].push_back(slot);
            self.fed_through[i] = slot;
        }
    }
}
