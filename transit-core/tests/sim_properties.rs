//! Property tests of the service model (trains in continuous time on one line) and of the
//! whole simulation's determinism.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use transit_core::event::ArrivalEvent;
use transit_core::model::{Direction, LineColor, StationId, TrainId};
use transit_core::network::{Network, Ridership};
use transit_core::sim::service::Conditions;
use transit_core::sim::{
    LineSim, Position, SimConfig, SimTime, Simulation, Surroundings, TickEvents,
};

/// Riders at a steady rate at every station, and fixed weather.
#[derive(Debug, Clone, Copy)]
struct Steady {
    riders_per_hour: f64,
    conditions: Conditions,
}

impl Surroundings for Steady {
    fn entries(&self, _: usize, from: i64, to: i64) -> f64 {
        self.riders_per_hour * (to - from) as f64 / 3_600_000.0
    }
    fn conditions(&self) -> Conditions {
        self.conditions
    }
}

/// A line: its station spacings (m), a train count that fits, and what its platforms see.
fn line_setup() -> impl Strategy<Value = (Vec<f64>, u16, Steady)> {
    (
        prop::collection::vec(150.0f64..4_000.0, 1..40),
        0.0f64..3_000.0,
        1.0f64..1.5,
    )
        .prop_flat_map(|(spacings, riders_per_hour, slow)| {
            let stations = spacings.len() + 1;
            let steady = Steady {
                riders_per_hour,
                conditions: Conditions {
                    run: slow,
                    dwell: slow,
                },
            };
            (Just(spacings), 0..(2 * stations) as u16, Just(steady))
        })
}

fn ids(stations: usize) -> Vec<StationId> {
    (0..stations as u32)
        .map(|i| StationId(40_000 + i))
        .collect()
}

fn line_sim(spacings: &[f64], trains: u16, seed: u64) -> LineSim {
    LineSim::new(
        LineColor::Green,
        ids(spacings.len() + 1),
        spacings,
        trains,
        SimTime(0),
        ChaCha8Rng::seed_from_u64(seed),
    )
    .expect("fits")
}

/// Where a slot is one ring step after `(index, direction)` on a line of `n` stations.
fn next_slot(index: usize, direction: Direction, n: usize) -> (usize, Direction) {
    match direction {
        Direction::A if index + 1 < n => (index + 1, Direction::A),
        Direction::A => (index, Direction::B),
        Direction::B if index > 0 => (index - 1, Direction::B),
        Direction::B => (index, Direction::A),
    }
}

/// The cell of the line's ring a position is: platforms even, the track after each odd.
fn cell(position: Position, n: usize) -> usize {
    let ring = |station: usize, direction| match direction {
        Direction::A => station,
        Direction::B => 2 * n - 1 - station,
    };
    match position {
        Position::Platform { station, direction } => 2 * ring(station, direction),
        Position::Track {
            from, direction, ..
        } => 2 * ring(from, direction) + 1,
    }
}

/// The trains in ring order, starting from the lowest-numbered one.
fn ring_order(line: &LineSim, n: usize) -> Vec<TrainId> {
    let mut trains: Vec<_> = line.positions().map(|(id, p)| (cell(p, n), id)).collect();
    trains.sort();
    let order: Vec<_> = trains.into_iter().map(|(_, id)| id).collect();
    let first = order
        .iter()
        .enumerate()
        .min_by_key(|(_, id)| **id)
        .map_or(0, |(i, _)| i);
    order[first..]
        .iter()
        .chain(&order[..first])
        .copied()
        .collect()
}

/// Advances `line` to each moment of `stops` (ms), returning every arrival with its time.
fn run_to(line: &mut LineSim, around: &Steady, stops: &[i64]) -> Vec<(SimTime, ArrivalEvent)> {
    let mut out = Vec::new();
    for until in stops {
        line.advance(*until, around, &mut out);
    }
    out.into_iter()
        .map(|a| (a.arrival_time.expect("a time"), a))
        .collect()
}

/// Moments from `step` ms to `end` ms.
fn every(step: i64, end: i64) -> Vec<i64> {
    (1..=end / step).map(|k| k * step).chain([end]).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn trains_never_pass_never_share_a_platform_and_arrive_in_line_order(
        (spacings, trains, around) in line_setup(),
        seed in any::<u64>(),
        tick_s in 1i64..900,
        ticks in 1usize..60,
    ) {
        let n = spacings.len() + 1;
        let ids = ids(n);
        let index_of: HashMap<StationId, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let mut line = line_sim(&spacings, trains, seed);
        let order = ring_order(&line, n);
        let mut last: HashMap<TrainId, (SimTime, usize, Direction)> = HashMap::new();
        for k in 1..=ticks as i64 {
            let until = k * tick_s * 1000;
            let arrivals = run_to(&mut line, &around, &[until]);
            // Every cell (platform, or track between two platforms) holds at most one train, and
            // the trains keep their order round the ring: no train passes another.
            let positions: Vec<_> = line.positions().map(|(_, p)| cell(p, n)).collect();
            let mut distinct = positions.clone();
            distinct.sort();
            distinct.dedup();
            prop_assert_eq!(distinct.len(), usize::from(trains));
            prop_assert_eq!(&ring_order(&line, n), &order);
            for (time, arrival) in arrivals {
                prop_assert!(time.0 <= until);
                prop_assert_eq!(arrival.line, LineColor::Green);
                let here = (index_of[&arrival.station_id], arrival.direction);
                match last.get(&arrival.train_id) {
                    None => {
                        prop_assert_eq!(arrival.prev_station_id, None);
                        prop_assert_eq!(arrival.prev_direction, None);
                    }
                    Some(&(before, index, direction)) => {
                        // It came from where it last arrived, one station on (or turned at a
                        // terminal), later.
                        prop_assert!(time > before);
                        prop_assert_eq!(arrival.prev_station_id, Some(ids[index]));
                        prop_assert_eq!(arrival.prev_direction, Some(direction));
                        prop_assert_eq!(next_slot(index, direction, n), here);
                    }
                }
                last.insert(arrival.train_id, (time, here.0, here.1));
            }
        }
    }

    #[test]
    fn the_tick_length_does_not_change_the_arrivals(
        (spacings, trains, around) in line_setup(),
        seed in any::<u64>(),
        tick_a in 1i64..1_800,
        tick_b in 1i64..1_800,
    ) {
        let end = 3 * 3_600_000;
        let a = run_to(&mut line_sim(&spacings, trains, seed), &around, &every(tick_a * 1000, end));
        let b = run_to(&mut line_sim(&spacings, trains, seed), &around, &every(tick_b * 1000, end));
        prop_assert_eq!(a, b);
    }
}

fn simulation(seed: u64, trains: u16, tick: Duration) -> Simulation {
    let config = SimConfig {
        seed,
        trains_per_line: trains,
        tick,
        ..SimConfig::default()
    };
    Simulation::new(
        Arc::new(Network::embedded().unwrap()),
        Arc::new(Ridership::embedded().unwrap()),
        config,
    )
    .unwrap()
}

fn run(sim: &mut Simulation, ticks: usize) -> Vec<TickEvents> {
    (0..ticks)
        .map(|_| {
            let mut tick = TickEvents::default();
            sim.step(&mut tick);
            tick
        })
        .collect()
}

/// Each line's arrivals with their times, in the order they were emitted.
fn arrivals_by_line(ticks: &[TickEvents]) -> [Vec<(SimTime, ArrivalEvent)>; 3] {
    let mut lines: [Vec<_>; 3] = Default::default();
    for tick in ticks {
        for arrival in &tick.arrivals {
            lines[arrival.line.index()].push((arrival.arrival_time.expect("a time"), *arrival));
        }
    }
    lines
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn the_same_seed_gives_identical_event_streams(seed in any::<u64>(), trains in 1u16..=55) {
        let tick = Duration::from_secs(120);
        let a = run(&mut simulation(seed, trains, tick), 60);
        let b = run(&mut simulation(seed, trains, tick), 60);
        prop_assert_eq!(&a, &b);
        // Every train arrives somewhere on the first tick, and arrivals carry their times.
        prop_assert!(a[0].arrivals.len() >= 3 * usize::from(trains));
        prop_assert!(a.iter().flat_map(|tick| &tick.arrivals).all(|a| a.arrival_time.is_some()));
        let c = run(&mut simulation(seed.wrapping_add(1), trains, tick), 60);
        let entries = |ticks: &[TickEvents]| ticks.iter().map(|t| t.turnstile_entries.len()).collect::<Vec<_>>();
        prop_assert_ne!(entries(&a), entries(&c));
    }

    #[test]
    fn the_whole_network_arrives_alike_at_any_tick_length(
        seed in any::<u64>(),
        trains in 1u16..=20,
        tick_s in prop::sample::select(vec![1u64, 7, 30, 45, 120, 600, 3_600]),
    ) {
        // Two hours and a half, across two changes of the weather.
        let span: u64 = 9_000;
        let reference = run(&mut simulation(seed, trains, Duration::from_secs(120)), (span / 120) as usize);
        let other = run(&mut simulation(seed, trains, Duration::from_secs(tick_s)), span.div_ceil(tick_s) as usize);
        let end = reference.last().map(|t| t.time).unwrap_or_default();
        let mut other = arrivals_by_line(&other);
        for line in &mut other {
            line.retain(|(time, _)| *time <= end);
        }
        prop_assert_eq!(arrivals_by_line(&reference), other);
    }
}

#[test]
fn too_many_trains_is_refused() {
    let config = SimConfig {
        trains_per_line: 56,
        ..SimConfig::default()
    };
    let result = Simulation::new(
        Arc::new(Network::embedded().unwrap()),
        Arc::new(Ridership::embedded().unwrap()),
        config,
    );
    assert!(result.is_err());
}
