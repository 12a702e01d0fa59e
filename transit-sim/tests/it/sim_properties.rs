//! Property tests of the service model (trains in continuous time on one line, by a fixed
//! fleet or by a schedule) and of the whole simulation's determinism.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use transit_core::event::ArrivalEvent;
use transit_core::model::{Direction, LineId, StationId, TrainId, TrainStatus};
use transit_core::network::{
    cta, LineSchedule, Network, Ridership, Schedule, StationLocations, SERVICE_HOURS,
};
use transit_core::speed::Conditions;
use transit_sim::{
    LineSim, Position, ScheduledWhatIf, SimConfig, SimTime, Simulation, Surroundings, TickEvents,
    TurnstileModel, WeatherModel, WhatIf,
};

/// Monday 2026-11-02 05:00, Chicago local time.
const START: SimTime = SimTime(1_793_595_600_000);

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

/// How a line runs: a fixed fleet, or a schedule.
#[derive(Debug, Clone)]
enum Service {
    Fleet(u16),
    Schedule(Box<LineSchedule>),
}

/// Any schedule of a line of `stations`: departures per service hour at a reference station,
/// each direction, every day type.
fn schedule(stations: usize) -> impl Strategy<Value = LineSchedule> {
    schedule_up_to(stations, 20)
}

/// Any schedule with at most `most` departures an hour (a service day's hours past midnight,
/// which add to the next day's first hours, run none when `most` is below 20).
fn schedule_up_to(stations: usize, most: u16) -> impl Strategy<Value = LineSchedule> {
    let counts = prop::sample::select(
        [0u16, 1, 2, 4, 5, 8, 12, 20]
            .into_iter()
            .filter(|c| *c <= most)
            .collect::<Vec<_>>(),
    );
    (
        0..stations,
        prop::collection::vec(counts, 2 * 3 * SERVICE_HOURS),
    )
        .prop_map(move |(station, counts)| {
            let mut departures = [[[0; SERVICE_HOURS]; 3]; 2];
            for (i, count) in counts.into_iter().enumerate() {
                let count = if most < 20 && i % SERVICE_HOURS >= 24 {
                    0
                } else {
                    count
                };
                departures[i / (3 * SERVICE_HOURS)][(i / SERVICE_HOURS) % 3][i % SERVICE_HOURS] =
                    count;
            }
            LineSchedule {
                station,
                departures,
            }
        })
}

/// A line: its station spacings (m), how it runs, and what its platforms see.
fn line_setup() -> impl Strategy<Value = (Vec<f64>, Service, Steady)> {
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
            let service = prop_oneof![
                (0..(2 * stations) as u16).prop_map(Service::Fleet),
                schedule(stations).prop_map(|s| Service::Schedule(Box::new(s))),
            ];
            (Just(spacings), service, Just(steady))
        })
}

fn ids(stations: usize) -> Vec<StationId> {
    (0..stations as u32)
        .map(|i| StationId(40_000 + i))
        .collect()
}

fn line_sim(spacings: &[f64], service: &Service, around: &Steady, seed: u64) -> LineSim {
    let ids = ids(spacings.len() + 1);
    let rng = ChaCha8Rng::seed_from_u64(seed);
    match service {
        Service::Fleet(trains) => LineSim::new(cta::GREEN, ids, spacings, *trains, START, rng),
        Service::Schedule(schedule) => LineSim::scheduled(
            cta::GREEN,
            ids,
            spacings,
            (**schedule).clone(),
            around,
            START,
            rng,
        ),
    }
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

/// The cell of the line's ring a position is: platforms even, the track after each odd;
/// `None` laying over at a terminal, off the ring.
fn cell(position: Position, n: usize) -> Option<usize> {
    let ring = |station: usize, direction| match direction {
        Direction::A => station,
        Direction::B => 2 * n - 1 - station,
    };
    match position {
        Position::Platform { station, direction } => Some(2 * ring(station, direction)),
        Position::Track {
            from, direction, ..
        } => Some(2 * ring(from, direction) + 1),
        Position::Layover { .. } => None,
    }
}

/// The trains on the ring, in ring order.
fn ring_order(line: &LineSim, n: usize) -> Vec<TrainId> {
    let mut trains: Vec<_> = line
        .positions()
        .filter_map(|(id, p)| Some((cell(p, n)?, id)))
        .collect();
    trains.sort();
    trains.into_iter().map(|(_, id)| id).collect()
}

/// The cyclic order of the trains of `order` that are also in `among`, from the lowest.
fn cyclic(order: &[TrainId], among: &[TrainId]) -> Vec<TrainId> {
    let kept: Vec<_> = order
        .iter()
        .filter(|t| among.contains(t))
        .copied()
        .collect();
    let first = kept
        .iter()
        .enumerate()
        .min_by_key(|(_, id)| **id)
        .map_or(0, |(i, _)| i);
    kept[first..]
        .iter()
        .chain(&kept[..first])
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

/// Moments every `step` ms after `START`, to `START + span`.
fn every(step: i64, span: i64) -> Vec<i64> {
    (1..=span / step)
        .map(|k| START.0 + k * step)
        .chain([START.0 + span])
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn trains_never_pass_never_share_a_platform_and_arrive_in_line_order(
        (spacings, service, around) in line_setup(),
        seed in any::<u64>(),
        tick_s in 1i64..900,
        ticks in 1usize..60,
    ) {
        let n = spacings.len() + 1;
        let ids = ids(n);
        let index_of: HashMap<StationId, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let mut line = line_sim(&spacings, &service, &around, seed);
        let mut order = ring_order(&line, n);
        let mut last: HashMap<TrainId, (SimTime, usize, Direction)> = HashMap::new();
        for k in 1..=ticks as i64 {
            let until = START.0 + k * tick_s * 1000;
            let arrivals = run_to(&mut line, &around, &[until]);
            // Every cell (platform, or track between two platforms) holds at most one train,
            // and the trains that stayed in service keep their order round the ring: no train
            // passes another.
            let mut cells: Vec<_> = line.positions().filter_map(|(_, p)| cell(p, n)).collect();
            let on_ring = cells.len();
            cells.sort();
            cells.dedup();
            prop_assert_eq!(cells.len(), on_ring);
            prop_assert_eq!(line.positions().count(), line.in_service());
            // Laying over only at a terminal, for a departure from there.
            for (_, position) in line.positions() {
                if let Position::Layover { station, direction } = position {
                    prop_assert!((station, direction) == (0, Direction::A) || (station, direction) == (n - 1, Direction::B));
                }
            }
            if let Service::Fleet(trains) = service {
                prop_assert_eq!(line.in_service(), usize::from(trains));
            }
            // A train that entered service during the tick (perhaps under a number that left
            // service in it) is new: compare the others.
            let entered: Vec<TrainId> = arrivals
                .iter()
                .filter(|(_, a)| a.prev_station_id.is_none())
                .map(|(_, a)| a.train_id)
                .collect();
            // A train that reached a terminal's departure platform in the tick may have come
            // from the terminal's layover tracks, which trains leave in the order of their
            // departures, not of their arrivals (a late train swaps runs with one waiting):
            // passing is only possible there, off the signal blocks. Compare the others.
            let turned: Vec<TrainId> = arrivals
                .iter()
                .filter(|(_, a)| {
                    let here = (index_of[&a.station_id], a.direction);
                    here == (0, Direction::A) || here == (n - 1, Direction::B)
                })
                .map(|(_, a)| a.train_id)
                .collect();
            let now = ring_order(&line, n);
            let stayed: Vec<TrainId> = now
                .iter()
                .filter(|t| !entered.contains(t) && !turned.contains(t))
                .copied()
                .collect();
            prop_assert_eq!(cyclic(&stayed, &order), cyclic(&order, &stayed));
            order = now;
            for (time, arrival) in arrivals {
                prop_assert!(time.0 <= until);
                prop_assert_eq!(arrival.line, cta::GREEN);
                let here = (index_of[&arrival.station_id], arrival.direction);
                match (arrival.prev_station_id, last.get(&arrival.train_id)) {
                    (None, _) => {
                        // Into service: at the start anywhere, later at a terminal.
                        prop_assert_eq!(arrival.prev_direction, None);
                        prop_assert!(
                            time == START || here == (0, Direction::A) || here == (n - 1, Direction::B),
                            "{} entered service at {:?}", arrival.train_id, here
                        );
                    }
                    (Some(_), None) => prop_assert!(false, "{} came from nowhere", arrival.train_id),
                    (Some(_), Some(&(before, index, direction))) if arrival.train_status == TrainStatus::OutOfService && arrival.prev_station_id == Some(arrival.station_id) && here == (index, direction) => {
                        // Out of service where it stands, later: to the yard from a
                        // terminal's arrival platform (its next arrival starts a new entry
                        // into service), or anywhere taken out of service by a controller
                        // for running late past its run's end (it runs on empty to its
                        // terminal).
                        prop_assert!(time >= before);
                        continue;
                    }
                    (Some(_), Some(&(before, index, direction))) => {
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
        (spacings, service, around) in line_setup(),
        seed in any::<u64>(),
        tick_a in 1i64..1_800,
        tick_b in 1i64..1_800,
    ) {
        let span = 3 * 3_600_000;
        let a = run_to(&mut line_sim(&spacings, &service, &around, seed), &around, &every(tick_a * 1000, span));
        let b = run_to(&mut line_sim(&spacings, &service, &around, seed), &around, &every(tick_b * 1000, span));
        prop_assert_eq!(a, b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn trains_leave_the_terminals_by_the_schedule(
        (spacings, schedule) in prop::collection::vec(300.0f64..2_500.0, 5..35)
            .prop_flat_map(|spacings| {
                let stations = spacings.len() + 1;
                (Just(spacings), schedule_up_to(stations, 8))
            }),
        seed in any::<u64>(),
        riders_per_hour in 0.0f64..800.0,
    ) {
        // Every scheduled departure gets a train, turned at the terminal or from the yard, and
        // none leaves ahead of the schedule: by the end of every hour, no more trains have left
        // than were scheduled to (counting from an hour before the start, whose trips may
        // still be at the terminal then), and every departure scheduled before the last two
        // hours has left. Per hour the counts can differ by more than one here: a held train
        // and the one stuck behind it can both slip past an hour at these schedules and riders
        // (CTA's own schedule keeps within one train an hour: the test below).
        let around = Steady { riders_per_hour, conditions: Conditions::default() };
        let mut line = line_sim(&spacings, &Service::Schedule(Box::new(schedule)), &around, seed);
        let hours = 30;
        let end = START.0 + hours * 3_600_000;
        run_to(&mut line, &around, &every(120_000, hours * 3_600_000));
        for d in [Direction::A, Direction::B] {
            let departed: Vec<i64> = line
                .terminal_departures(d)
                .iter()
                .copied()
                .filter(|at| (START.0..end).contains(at))
                .collect();
            let scheduled = line.scheduled_departures(d, START.0 - 3_600_000, end);
            for hour in 1..=hours {
                let by = START.0 + hour * 3_600_000;
                let left = departed.iter().filter(|at| **at < by).count();
                let due = scheduled.iter().filter(|slot| **slot < by).count();
                prop_assert!(left <= due, "{} by hour {}: {} left, {} scheduled", d, hour, left, due);
            }
            let due = line.scheduled_departures(d, START.0, end - 2 * 3_600_000).len();
            prop_assert!(
                departed.len() >= due,
                "{}: {} departures, {} scheduled before the last two hours", d, departed.len(), due
            );
        }
    }
}

fn simulation(seed: u64, trains: Option<u16>, tick: Duration) -> Simulation {
    let config = SimConfig {
        seed,
        trains_per_line: trains,
        tick,
        ..SimConfig::default()
    };
    transit_sim::testing::simulation(config)
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
            let index = cta::position(arrival.line).expect("a CTA line");
            lines[index].push((arrival.arrival_time.expect("a time"), *arrival));
        }
    }
    lines
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn the_same_seed_gives_identical_event_streams(
        seed in any::<u64>(),
        trains in prop::option::of(1u16..=55),
    ) {
        let tick = Duration::from_secs(120);
        let a = run(&mut simulation(seed, trains, tick), 60);
        let b = run(&mut simulation(seed, trains, tick), 60);
        prop_assert_eq!(&a, &b);
        prop_assert!(!a[0].arrivals.is_empty());
        for arrival in a.iter().flat_map(|tick| &tick.arrivals) {
            // Every arrival says when, which run, and (by the schedule) how late.
            let time = arrival.arrival_time.expect("a time");
            prop_assert_eq!(arrival.run_number, Some(i32::from(arrival.train_id.number)));
            // The route as data: the static feed's route_id of its line, on every arrival.
            prop_assert_eq!(arrival.route_id, Some(cta::route_id(arrival.line)));
            match trains {
                Some(_) => {
                    prop_assert_eq!(arrival.scheduled_time, None);
                    prop_assert_eq!(arrival.delay_s, None);
                    prop_assert_eq!(arrival.scheduled_headway_s, None);
                }
                None if arrival.train_status == TrainStatus::OutOfService => {
                    // Leaving service: no trip, so no schedule to be late for.
                    prop_assert_eq!(arrival.scheduled_time, None);
                    prop_assert_eq!(arrival.delay_s, None);
                }
                None => {
                    let scheduled = arrival.scheduled_time.expect("a scheduled time");
                    let delay = i64::from(arrival.delay_s.expect("a delay"));
                    prop_assert_eq!(delay, (time.0 - scheduled.0).div_euclid(1000));
                    prop_assert!(arrival.scheduled_headway_s.is_some_and(|h| h > 0));
                }
            }
        }
        let c = run(&mut simulation(seed.wrapping_add(1), trains, tick), 60);
        let entries = |ticks: &[TickEvents]| ticks.iter().map(|t| t.turnstile_entries.len()).collect::<Vec<_>>();
        prop_assert_ne!(entries(&a), entries(&c));
    }

    #[test]
    fn the_whole_network_arrives_alike_at_any_tick_length(
        seed in any::<u64>(),
        trains in prop::option::of(1u16..=20),
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

/// Any what-if on any line within the first two hours: a breakdown or taking out of service
/// of a train number that may or may not be in service, or a delay at one of the line's
/// stations.
fn what_if() -> impl Strategy<Value = ScheduledWhatIf> {
    let network = Network::embedded().unwrap();
    let stations: Vec<Vec<StationId>> = cta::LINES
        .into_iter()
        .map(|line| {
            network
                .line(line)
                .unwrap()
                .stations()
                .iter()
                .map(|s| s.id)
                .collect()
        })
        .collect();
    (
        0usize..3,
        0u8..3,
        0u16..25,
        0usize..100,
        1u32..1_200,
        0i64..7_200,
    )
        .prop_map(move |(line, kind, number, station, seconds, at_s)| {
            let color = cta::LINES[line];
            let train = TrainId {
                line: color,
                number,
            };
            let what = match kind {
                0 => WhatIf::BreakDown {
                    train,
                    minutes: seconds / 60,
                },
                1 => WhatIf::OutOfService { train },
                _ => WhatIf::Delay {
                    line: color,
                    station: stations[line][station % stations[line].len()],
                    direction: None,
                    seconds,
                },
            };
            ScheduledWhatIf {
                at: Some(SimTime(START.0 + at_s * 1000)),
                what,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn the_same_what_ifs_at_the_same_times_give_the_same_arrivals_at_any_tick_length(
        seed in any::<u64>(),
        what_ifs in prop::collection::vec(what_if(), 1..8),
        tick_s in prop::sample::select(vec![1u64, 7, 45, 600, 3_600]),
    ) {
        let span: u64 = 7_200;
        let with = |tick: u64| {
            let mut sim = simulation(seed, None, Duration::from_secs(tick));
            for what_if in &what_ifs {
                sim.schedule(*what_if);
            }
            let ticks = run(&mut sim, span.div_ceil(tick) as usize);
            (ticks, sim.take_applied())
        };
        let (reference, applied) = with(120);
        let (other, applied_other) = with(tick_s);
        prop_assert_eq!(applied.len(), what_ifs.len());
        prop_assert_eq!(&applied, &applied_other);
        // The events the what-ifs make (a train taken out, broken down) name the route too.
        for arrival in reference.iter().flat_map(|tick| &tick.arrivals) {
            prop_assert_eq!(arrival.route_id, Some(cta::route_id(arrival.line)));
        }
        let end = reference.last().map(|t| t.time).unwrap_or_default();
        let mut other = arrivals_by_line(&other);
        for line in &mut other {
            line.retain(|(time, _)| *time <= end);
        }
        prop_assert_eq!(arrivals_by_line(&reference), other);
    }
}

#[test]
fn a_day_of_ctas_schedule_leaves_every_terminal_on_time_within_one_train_an_hour() {
    for seed in [1, 2026] {
        let mut sim = simulation(seed, None, Duration::from_secs(120));
        let start = sim.now().0;
        let hours = 24;
        run(&mut sim, (hours * 30) as usize);
        for line in sim.lines() {
            for d in [Direction::A, Direction::B] {
                let departed = line.terminal_departures(d);
                for hour in 0..hours {
                    let from = start + hour * 3_600_000;
                    let to = from + 3_600_000;
                    let scheduled = line.scheduled_departures(d, from, to).len() as i64;
                    let actual = departed
                        .iter()
                        .filter(|at| (from..to).contains(*at))
                        .count() as i64;
                    assert!(
                        (scheduled - actual).abs() <= 1,
                        "seed {seed}, {} {d}, hour {hour}: {actual} departures, {scheduled} scheduled",
                        line.line()
                    );
                }
            }
        }
    }
}

#[test]
fn too_many_trains_is_refused() {
    let config = SimConfig {
        trains_per_line: Some(56),
        ..SimConfig::default()
    };
    let result = Simulation::new(
        transit_sim::testing::network(),
        Arc::new(Ridership::embedded().unwrap()),
        config,
    );
    assert!(result.is_err());
}

/// One line of the embedded network as the simulation sees it: the turnstile model's expected
/// riders at its stations, and the weather model's conditions of the hour.
struct Real<'a> {
    turnstiles: &'a TurnstileModel,
    /// Where the line's stations start in the turnstile model's network order.
    base: usize,
    conditions: Conditions,
}

impl Surroundings for Real<'_> {
    fn entries(&self, station: usize, from: i64, to: i64) -> f64 {
        self.turnstiles
            .expected_at(self.base + station, SimTime(from), SimTime(to))
    }
    fn conditions(&self) -> Conditions {
        self.conditions
    }
}

/// Runs one embedded line by CTA's schedule for a day from `start`, under the turnstile
/// model's riders and the weather model (a new reading each hour, as the simulation draws
/// them), and gives the trains in service and the runs the plan has under way at each hour.
fn trains_and_runs_each_hour(seed: u64, line: LineId, start: SimTime) -> Vec<(i64, i64, i64)> {
    let network = Network::embedded().unwrap();
    let ridership = Ridership::embedded().unwrap();
    let places = StationLocations::embedded().unwrap();
    let turnstiles = TurnstileModel::new(&network, &ridership);
    let base: usize = network
        .lines()
        .take_while(|l| l.id() != line)
        .map(|l| l.len())
        .sum();
    let stations: Vec<StationId> = network
        .line(line)
        .unwrap()
        .stations()
        .iter()
        .map(|s| s.id)
        .collect();
    let distances: Vec<f64> = stations
        .windows(2)
        .map(|pair| places.distance_m(pair[0], pair[1]).unwrap())
        .collect();
    let schedule = Schedule::embedded()
        .unwrap()
        .for_line(network.line(line).unwrap())
        .unwrap();
    let month = |at: i64| {
        SimTime(at)
            .date()
            .map_or(1, |d| chrono::Datelike::month(&d))
    };
    let mut weather_rng = ChaCha8Rng::seed_from_u64(seed);
    weather_rng.set_stream(2);
    let mut weather = WeatherModel::new(month(start.0), &mut weather_rng);
    let mut around = Real {
        turnstiles: &turnstiles,
        base,
        conditions: Conditions::of(&weather.reading()),
    };
    let mut sim = LineSim::scheduled(
        line,
        stations,
        &distances,
        schedule,
        &around,
        start,
        ChaCha8Rng::seed_from_u64(seed),
    )
    .unwrap();
    let mut out = Vec::new();
    let first_hour = (start.0.div_euclid(3_600_000) + 1) * 3_600_000;
    (0..24)
        .map(|k| {
            let hour = first_hour + k * 3_600_000;
            // Moves before the hour under the old reading, from the hour on under the new.
            sim.advance(hour - 1, &around, &mut out);
            around.conditions =
                Conditions::of(&weather.advance_hour(month(hour), &mut weather_rng));
            sim.advance(hour, &around, &mut out);
            out.clear();
            let scheduled = sim.scheduled_runs(hour).expect("a schedule") as i64;
            (hour, sim.in_passenger_service() as i64, scheduled)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    // Any seed, line, day and start, in the weather the model draws (rain, snow, cold): the
    // trains carrying riders are the plan's runs under way within one. A train whose run ends
    // stands at its last terminal until the run's end, so none is gone early; a train late on
    // its run's last trip (rain's 10 % and snow's 20 % longer runs, a held dwell) carries on,
    // and of two such trains a controller takes one out of service. 5 000 cases passed; over
    // 2 000 sampled days 1 321 of 48 000 hours were off by one, none by more, with about 1.8
    // trains a line a day taken out of service so.
    #[test]
    fn the_trains_in_service_are_the_schedules_within_one_at_every_hour(
        seed in any::<u64>(),
        line in prop::sample::select(cta::LINES.to_vec()),
        day in 0i64..365,
        minute in 0i64..1_440,
    ) {
        // Any day of the year (weekdays, Saturdays, Sundays; winter's snow and cold, summer's
        // rain), from any minute.
        let start = SimTime(START.0 - 5 * 3_600_000 + day * 86_400_000 + minute * 60_000);
        for (hour, actual, scheduled) in trains_and_runs_each_hour(seed, line, start) {
            prop_assert!(
                (actual - scheduled).abs() <= 1,
                "{} at {}: {} trains in service, {} scheduled", line, SimTime(hour), actual, scheduled
            );
        }
    }
}

#[test]
fn a_day_of_ctas_schedule_keeps_its_runs_in_service_within_one_train() {
    // The whole simulation (riders drawn at the turnstiles, the weather of the hour), from
    // Monday 05:00 for a day: at every hour each line's trains in service are the plan's runs
    // under way, within one (a late train about to pull in, or an early one gone).
    for seed in [1, 2026] {
        let mut sim = simulation(seed, None, Duration::from_secs(120));
        let start = sim.now().0;
        for hour in 1..=24 {
            run(&mut sim, 30);
            let at = start + hour * 3_600_000;
            assert_eq!(sim.now().0, at);
            for line in sim.lines() {
                let actual = line.in_passenger_service() as i64;
                let scheduled = line.scheduled_runs(at).expect("a schedule") as i64;
                assert!(
                    (actual - scheduled).abs() <= 1,
                    "seed {seed}, {} at {}: {actual} trains in service, {scheduled} scheduled",
                    line.line(),
                    SimTime(at)
                );
            }
        }
    }
}
