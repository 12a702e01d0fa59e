//! Property tests of the line simulation and the whole simulation's determinism.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use proptest::prelude::*;
use transit_core::model::{Direction, LineColor, StationId};
use transit_core::network::{Network, Ridership};
use transit_core::sim::{LineSim, SimConfig, Simulation, TickEvents};

/// A line of `stations` stations and a train count that fits.
fn line_and_trains() -> impl Strategy<Value = (usize, u16)> {
    (2usize..40).prop_flat_map(|stations| (Just(stations), 0..=(2 * stations) as u16))
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn trains_move_one_station_or_turn_and_never_share_a_slot(
        (stations, trains) in line_and_trains(),
        ticks in 1usize..150,
    ) {
        let ids: Vec<StationId> = (0..stations as u32).map(|i| StationId(40_000 + i)).collect();
        let index_of: HashMap<StationId, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let mut line = LineSim::new(LineColor::Green, ids.clone(), trains).expect("fits");
        let mut arrivals = Vec::new();
        let mut previous: Option<HashMap<_, (usize, Direction)>> = None;
        for _ in 0..ticks {
            arrivals.clear();
            line.step(&mut arrivals);
            let now: HashMap<_, _> = line.slots().map(|(train, i, d)| (train, (i, d))).collect();
            // Each train occupies exactly one slot, and no slot holds two trains.
            prop_assert_eq!(now.len(), usize::from(trains));
            let slots: HashSet<_> = now.values().collect();
            prop_assert_eq!(slots.len(), usize::from(trains));
            // One arrival per train, at its slot.
            prop_assert_eq!(arrivals.len(), usize::from(trains));
            for arrival in &arrivals {
                let slot = now[&arrival.train_id];
                prop_assert_eq!(ids[slot.0], arrival.station_id);
                prop_assert_eq!(slot.1, arrival.direction);
                prop_assert_eq!(arrival.line, LineColor::Green);
                match &previous {
                    None => {
                        prop_assert_eq!(arrival.prev_station_id, None);
                        prop_assert_eq!(arrival.prev_direction, None);
                    }
                    Some(before) => {
                        let was = before[&arrival.train_id];
                        // The arrival's previous station and direction are where the train was.
                        prop_assert_eq!(arrival.prev_station_id, Some(ids[was.0]));
                        prop_assert_eq!(arrival.prev_direction, Some(was.1));
                        // It moved exactly one station, or turned at a terminal.
                        prop_assert_eq!(next_slot(was.0, was.1, stations), slot);
                        let moved = index_of[&arrival.station_id].abs_diff(was.0);
                        prop_assert!(moved == 1 || (moved == 0 && (was.0 == 0 || was.0 == stations - 1)));
                    }
                }
            }
            previous = Some(now);
        }
    }
}

fn simulation(seed: u64, trains: u16) -> Simulation {
    let config = SimConfig {
        seed,
        trains_per_line: trains,
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn the_same_seed_gives_identical_event_streams(seed in any::<u64>(), trains in 1u16..=56) {
        let a = run(&mut simulation(seed, trains), 60);
        let b = run(&mut simulation(seed, trains), 60);
        prop_assert_eq!(&a, &b);
        // The number of trains never changes.
        prop_assert!(a.iter().all(|tick| tick.arrivals.len() == 3 * usize::from(trains)));
        let c = run(&mut simulation(seed.wrapping_add(1), trains), 60);
        let entries = |ticks: &[TickEvents]| ticks.iter().map(|t| t.turnstile_entries.len()).collect::<Vec<_>>();
        prop_assert_ne!(entries(&a), entries(&c));
    }
}

#[test]
fn too_many_trains_is_refused() {
    let config = SimConfig {
        trains_per_line: 57,
        ..SimConfig::default()
    };
    let result = Simulation::new(
        Arc::new(Network::embedded().unwrap()),
        Arc::new(Ridership::embedded().unwrap()),
        config,
    );
    assert!(result.is_err());
}
