//! Where a line's trains are between arrivals, and when the next one is due at each platform.
//!
//! The board only hears of arrivals, so between two it estimates, as prediction systems such
//! as TheTransitClock do, from travel times it has seen: each segment's time (from a train's
//! arrival at one platform to its arrival at the next) is what the latest train to run it took
//! (arrival events carry the time of the train's previous arrival), and before any has, the service model's nominal figure: the shortest dwell
//! ([`speed::MIN_DWELL_S`]) plus the run time between the two stations' coordinates
//! (stretched by the current weather), or [`speed::TURNAROUND_S`] to turn at a terminal. A
//! train stands at its platform for the shortest dwell, then is drawn along the segment in
//! proportion to the time left. Trains on one track never pass each other, so the next train
//! at a platform is the nearest one behind it on the ring of platforms (see [`ring_slot`]): a
//! train serves the platforms ahead of it up to the next train's position.

use crate::model::ring_slot;
use crate::model::{Direction, StationId};
use crate::network::StationLocations;
use crate::speed::{self, Conditions, DEFAULT_SPACING_M};
use crate::time::SimTime;

/// The ring position of the platform of station `index` (of `n`) in direction `direction`.
pub(crate) fn ring_position(index: usize, direction: Direction, n: usize) -> usize {
    match direction {
        Direction::A => index,
        Direction::B => 2 * n - 1 - index,
    }
}

/// The nominal segment times of a line's ring: from a train's arrival at each ring position's
/// platform to its arrival at the next.
#[derive(Debug, Clone, Default)]
pub(crate) struct Geometry {
    run_s: Vec<f64>,
}

impl Geometry {
    /// The geometry of a line whose stations are `stations`, in order.
    pub(crate) fn new(stations: &[StationId], locations: &StationLocations) -> Self {
        let n = stations.len();
        let run_s = (0..2 * n)
            .map(|p| {
                let (from, _) = ring_slot(p, n);
                let (to, _) = ring_slot((p + 1) % (2 * n), n);
                if from == to {
                    speed::TURNAROUND_S
                } else {
                    let distance = locations
                        .distance_m(stations[from], stations[to])
                        .unwrap_or(DEFAULT_SPACING_M);
                    speed::run_time_s(distance)
                }
            })
            .collect();
        Self { run_s }
    }

    /// Platforms on the ring (two per station).
    pub(crate) fn ring(&self) -> usize {
        self.run_s.len()
    }

    /// Whether the run after ring position `p` is a turn at a terminal.
    pub(crate) fn turns_after(&self, p: usize) -> bool {
        let n = self.ring() / 2;
        n > 0 && (p == n - 1 || p == 2 * n - 1)
    }

    /// The nominal time (s) of the segment from ring position `p`: the shortest dwell and the
    /// run, in `conditions`.
    pub(crate) fn nominal_s(&self, p: usize, conditions: Conditions) -> f64 {
        speed::MIN_DWELL_S * conditions.dwell
            + self.run_s.get(p).copied().unwrap_or(0.0) * conditions.run
    }
}

/// A train's estimated place on the ring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Placed {
    /// The ring position of the platform it last arrived at.
    pub(crate) ring: usize,
    /// Whether it still stands there.
    pub(crate) at_platform: bool,
    /// How far along the run to the next ring position, 0 to 1 (uncapped estimate).
    pub(crate) progress: f64,
    /// Seconds until it reaches the next ring position's platform.
    pub(crate) to_next_s: f64,
}

/// Where a train that arrived at ring position `ring` at `arrived` is at `now`, its segment
/// taking `segment_s` of which the first `dwell_s` at the platform.
pub(crate) fn place(
    ring: usize,
    segment_s: f64,
    dwell_s: f64,
    arrived: Option<SimTime>,
    now: Option<SimTime>,
) -> Placed {
    let since = match (arrived, now) {
        (Some(arrived), Some(now)) => ((now.0 - arrived.0) as f64 / 1000.0).max(0.0),
        _ => 0.0,
    };
    let dwell = dwell_s.min(segment_s);
    let run = segment_s - dwell;
    if since < dwell || run <= 0.0 {
        return Placed {
            ring,
            at_platform: true,
            progress: 0.0,
            to_next_s: (segment_s - since).max(0.0),
        };
    }
    let progress = ((since - dwell) / run).min(1.0);
    Placed {
        ring,
        at_platform: false,
        progress,
        to_next_s: run * (1.0 - progress),
    }
}

/// For each ring position, the next train due there (by index into `trains`) and the seconds
/// until it arrives, the segments taking `segment_s` (by ring position).
pub(crate) fn next_due(segment_s: &[f64], trains: &[Placed]) -> Vec<Option<(usize, f64)>> {
    let ring = segment_s.len();
    let mut due = vec![None; ring];
    // Who holds each platform, and each run from a platform.
    let mut at_platform = vec![None; ring];
    let mut on_run = vec![None; ring];
    for (index, train) in trains.iter().enumerate() {
        if train.ring >= ring {
            continue;
        }
        if train.at_platform {
            at_platform[train.ring] = Some(index);
        } else {
            on_run[train.ring] = Some(index);
        }
    }
    for (index, train) in trains.iter().enumerate() {
        if train.ring >= ring {
            continue;
        }
        if train.at_platform {
            due[train.ring] = Some((index, 0.0));
            // Another train may be leaving this platform's run ahead of it.
            if on_run[train.ring].is_some() {
                continue;
            }
        }
        let mut seconds = train.to_next_s;
        let mut p = (train.ring + 1) % ring;
        for _ in 1..ring {
            if at_platform[p].is_some() {
                break;
            }
            due[p] = Some((index, seconds));
            if on_run[p].is_some() {
                break;
            }
            seconds += segment_s[p];
            p = (p + 1) % ring;
        }
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_train_stands_for_the_dwell_then_runs_the_rest_of_its_segment() {
        let at = |s: i64| place(1, 120.0, 20.0, Some(SimTime(0)), Some(SimTime(s * 1000)));
        assert!(at(10).at_platform);
        assert_eq!(at(10).to_next_s, 110.0);
        let running = at(70);
        assert!(!running.at_platform);
        assert!((running.progress - 0.5).abs() < 1e-9);
        assert_eq!(at(500).progress, 1.0, "overdue: at the next signal");
        assert_eq!(at(500).to_next_s, 0.0);
        assert!(place(1, 120.0, 20.0, None, Some(SimTime(70_000))).at_platform);
    }

    #[test]
    fn nominal_segments_come_from_the_speed_model_and_the_weather() {
        let places = StationLocations::embedded().unwrap();
        // Clark/Lake to State/Lake, about 250 m: a short hop.
        let geometry = Geometry::new(&[StationId(40380), StationId(40260)], &places);
        assert_eq!(geometry.ring(), 4);
        let fair = geometry.nominal_s(0, Conditions::default());
        assert!((40.0..80.0).contains(&fair), "{fair}");
        let snow = geometry.nominal_s(
            0,
            Conditions {
                run: 1.2,
                dwell: 1.1,
            },
        );
        assert!(snow > fair);
        assert!(geometry.turns_after(1) && geometry.turns_after(3) && !geometry.turns_after(0));
        assert_eq!(
            geometry.nominal_s(1, Conditions::default()),
            speed::MIN_DWELL_S + speed::TURNAROUND_S
        );
    }

    #[test]
    fn the_next_train_is_the_nearest_behind_and_turns_at_terminals() {
        // 4 stations: ring 0..8, segments of 120 s and 260 s turns; a train standing at ring 1
        // (station 1, A), one running from ring 5 (station 2, B) halfway.
        let segments = [120.0, 120.0, 120.0, 260.0, 120.0, 120.0, 120.0, 260.0];
        let trains = [
            Placed {
                ring: 1,
                at_platform: true,
                progress: 0.0,
                to_next_s: 120.0,
            },
            Placed {
                ring: 5,
                at_platform: false,
                progress: 0.5,
                to_next_s: 50.0,
            },
        ];
        let due = next_due(&segments, &trains);
        assert_eq!(due[1], Some((0, 0.0)));
        assert_eq!(due[2], Some((0, 120.0)));
        assert_eq!(due[3], Some((0, 240.0)));
        // Ring 4 (station 3, B) is reached by train 0 after turning at the terminal.
        assert_eq!(due[4], Some((0, 500.0)));
        assert_eq!(due[5], Some((0, 620.0)), "train 1 has left it");
        assert_eq!(due[6], Some((1, 50.0)));
        assert_eq!(due[7], Some((1, 170.0)));
        assert_eq!(due[0], Some((1, 430.0)), "after the turn");
        assert_eq!(ring_position(0, Direction::B, 4), 7);
    }
}
