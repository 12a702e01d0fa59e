//! Property tests of the timetabled simulation (any agency's service day) on synthetic days:
//! routes of buses and trains running out and back by a regular headway, some sharing stops.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use proptest::prelude::*;
use transit_core::model::{LineId, Rgb, Route};
use transit_core::network::service_day::{
    ScheduledStop, ScheduledTrip, ServiceDay, StopIndex, StopPlace, TripIndex, Vehicle,
    VehicleIndex,
};
use transit_sim::timetabled::{
    Breakdown, Disturbances, Place, StopArrival, TimetabledConfig, TimetabledSimulation,
    Uncertainty,
};

/// The end of any synthetic day (GTFS times run to 47:59).
const DAY_END_S: u32 = 48 * 3_600;

/// The least share of the timetable's run time a late train takes over a stretch on the
/// calibrated (uncertain) railway.
pub(crate) fn fastest() -> f64 {
    Uncertainty::calibrated().min_run_fraction
}
/// The shortest layover between a vehicle's trips.
const LAYOVER_S: u32 = 60;

/// One synthetic route: a line of stops run out and back.
#[derive(Debug, Clone)]
struct RouteSpec {
    rail: bool,
    /// Run time between consecutive stops, outward.
    runs_s: Vec<u32>,
    /// Scheduled dwell at each stop but the ends (0: the timetable gives one time).
    dwells_s: Vec<u32>,
    headway_s: u32,
    first_s: u32,
    /// Trips each way.
    trips: u32,
    /// How many of its first stops are the previous route's first stops.
    shared: usize,
}

/// A synthetic service day (Monday 2026-12-07, New York): each route's outward trips leave
/// every headway from its first time, each run by a vehicle that comes back after a layover and
/// goes out again as many headways later as it takes to be back.
fn build(specs: &[RouteSpec]) -> ServiceDay {
    let date = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default();
    let mut day = ServiceDay {
        timezone: "America/New_York".into(),
        requested: date,
        date,
        start_unix_s: 1_796_619_600,
        routes: Vec::new(),
        stops: Vec::new(),
        trips: Vec::new(),
        vehicles: Vec::new(),
    };
    let mut previous: Vec<u32> = Vec::new();
    for (r, spec) in specs.iter().enumerate() {
        let id = LineId::new(&format!("R{r}")).unwrap_or(LineId::from_static("R"));
        day.routes.push(Route {
            id,
            short_name: format!("R{r}"),
            long_name: String::new(),
            route_type: if spec.rail { 1 } else { 3 },
            color: Rgb::WHITE,
            text_color: Rgb::BLACK,
        });
        let count = spec.runs_s.len() + 1;
        let mut stops: Vec<u32> = previous.iter().copied().take(spec.shared).collect();
        while stops.len() < count {
            stops.push(day.stops.len() as u32);
            day.stops.push(StopPlace {
                id: format!("S{}", day.stops.len()),
                name: format!("Stop {}", day.stops.len()),
                location: None,
                parent: None,
            });
        }
        previous = stops.clone();
        let dwell = |i: usize| {
            if i == 0 || i + 1 == count {
                0
            } else {
                spec.dwells_s[i]
            }
        };
        let duration: u32 = spec.runs_s.iter().sum::<u32>() + (0..count).map(dwell).sum::<u32>();
        let vehicles = (2 * (duration + LAYOVER_S)).div_ceil(spec.headway_s).max(1);
        let cycle = vehicles * spec.headway_s;
        let trip = |outward: bool, start: u32, vehicle: usize, n: u32| {
            let order: Vec<usize> = if outward {
                (0..count).collect()
            } else {
                (0..count).rev().collect()
            };
            let mut time = start;
            let mut scheduled = Vec::with_capacity(count);
            for (k, &i) in order.iter().enumerate() {
                if k > 0 {
                    let run = if outward { i - 1 } else { i };
                    time += spec.runs_s[run];
                }
                let arrival_s = time;
                time += dwell(i);
                scheduled.push(ScheduledStop {
                    stop: StopIndex(stops[i]),
                    arrival_s,
                    departure_s: time,
                    stop_sequence: k as u32 + 1,
                });
            }
            ScheduledTrip {
                trip_id: format!("R{r}-{}-{n}", if outward { "out" } else { "back" }),
                route: id,
                direction_id: Some(u8::from(!outward)),
                frequency_start_s: None,
                exact_times: false,
                shape_id: None,
                vehicle: VehicleIndex(vehicle as u32),
                stops: scheduled,
            }
        };
        for v in 0..vehicles {
            let vehicle = day.vehicles.len();
            let mut trips = Vec::new();
            let mut n = v;
            while n < spec.trips {
                let start = spec.first_s + n * spec.headway_s;
                for (outward, at) in [(true, start), (false, start + cycle / 2)] {
                    trips.push(TripIndex(day.trips.len() as u32));
                    day.trips.push(trip(outward, at, vehicle, n));
                }
                n += vehicles;
            }
            if !trips.is_empty() {
                day.vehicles.push(Vehicle {
                    id: format!("R{r}-V{v}"),
                    trips,
                });
            }
        }
    }
    day
}

/// Any route; `rail_shares`: whether a rail route may share stops with the one before (which
/// can make a timetable put two trains in one block).
fn route_spec(rail_shares: bool) -> impl Strategy<Value = RouteSpec> {
    (any::<bool>(), 2usize..9).prop_flat_map(move |(rail, stops)| {
        (
            prop::collection::vec(30u32..240, stops - 1),
            prop::collection::vec(prop_oneof![Just(0u32), 1u32..40], stops),
            120u32..900,
            4 * 3_600u32..20 * 3_600,
            1u32..8,
            0usize..3,
        )
            .prop_map(
                move |(runs_s, dwells_s, headway_s, first_s, trips, shared)| RouteSpec {
                    rail,
                    runs_s,
                    dwells_s,
                    headway_s,
                    first_s,
                    trips,
                    shared: if rail && !rail_shares { 0 } else { shared },
                },
            )
    })
}

fn specs(rail_shares: bool) -> impl Strategy<Value = Vec<RouteSpec>> {
    prop::collection::vec(route_spec(rail_shares), 1..5).prop_map(move |mut specs| {
        // A rail route shares no stops with a bus route before it, nor the reverse, when rail
        // may not share: keep sharing between buses only.
        for i in 1..specs.len() {
            if !rail_shares && (specs[i].rail || specs[i - 1].rail) {
                specs[i].shared = 0;
            }
        }
        specs
    })
}

fn config(seed: u64, undisturbed: bool, tick_s: u32) -> TimetabledConfig {
    TimetabledConfig {
        undisturbed,
        tick_s,
        ..TimetabledConfig::embedded(seed).expect("the embedded hourly curve")
    }
}

/// The whole day in ticks, and the simulation at its end.
fn run(
    day: &Arc<ServiceDay>,
    config: TimetabledConfig,
) -> (Vec<StopArrival>, TimetabledSimulation) {
    let mut sim = TimetabledSimulation::new(day.clone(), config).expect("a valid day");
    let mut arrivals = Vec::new();
    while sim.now() < DAY_END_S {
        sim.tick(&mut arrivals);
    }
    (arrivals, sim)
}

/// A rail platform as the simulation keys them: a stop, toward the trip's next stop (a stop
/// index), or at its last stop from its previous one (-1 - the stop index).
pub(crate) fn platform_of(trip: &ScheduledTrip, seq: usize) -> (u32, i64) {
    let toward = match trip.stops.get(seq + 1) {
        Some(next) => i64::from(next.stop.0),
        None => {
            -1 - seq
                .checked_sub(1)
                .map_or(0, |b| i64::from(trip.stops[b].stop.0))
        }
    };
    (trip.stops[seq].stop.0, toward)
}

/// Every trip ran, stopping at every stop in order, never leaving early, each vehicle running
/// its trips in order; with `rail_rules` (`Some(clearance)`), rail trains never passed nor
/// shared a platform; no stretch run faster than the timetable. `what` names the day (a feed
/// and its date) in every failure, beside the trip or vehicle at fault.
pub(crate) fn check_day(
    what: &str,
    day: &ServiceDay,
    arrivals: &[StopArrival],
    rail_rules: Option<u32>,
) {
    check_day_skipping(what, day, arrivals, rail_rules, &[], 1.0);
}

/// [`check_day`] of an uncertain railway: the trips `skipped` were dropped (the simulation's
/// [`TimetabledSimulation::skipped_trips`]) and they, and only they, have no arrivals; a late
/// train may run a stretch in as little as `fastest` of the timetable's run time
/// ([`Uncertainty::min_run_fraction`]).
pub(crate) fn check_day_skipping(
    what: &str,
    day: &ServiceDay,
    arrivals: &[StopArrival],
    rail_rules: Option<u32>,
    skipped: &[TripIndex],
    fastest: f64,
) {
    let mut by_trip: HashMap<u32, Vec<&StopArrival>> = HashMap::new();
    for arrival in arrivals {
        by_trip.entry(arrival.trip.0).or_default().push(arrival);
    }
    let skipped: std::collections::HashSet<u32> = skipped.iter().map(|trip| trip.0).collect();
    assert!(
        skipped.iter().all(|trip| !by_trip.contains_key(trip)),
        "{what}: a dropped trip has no arrivals"
    );
    assert_eq!(
        by_trip.len() + skipped.len(),
        day.trips.len(),
        "{what}: every trip runs but the dropped"
    );
    for (index, trip) in day.trips.iter().enumerate() {
        let id = &trip.trip_id;
        let Some(stops) = by_trip.get(&(index as u32)) else {
            assert!(
                skipped.contains(&(index as u32)),
                "{what}: trip {id} (index {index}) did not run"
            );
            continue;
        };
        assert_eq!(
            stops.len(),
            trip.stops.len(),
            "{what}: trip {id}: every stop"
        );
        for (seq, (done, scheduled)) in stops.iter().zip(&trip.stops).enumerate() {
            assert_eq!(
                done.stop_sequence as usize, seq,
                "{what}: trip {id}: stops in order"
            );
            assert_eq!(done.stop, scheduled.stop, "{what}: trip {id}: its stops");
            assert_eq!(done.route, trip.route, "{what}: trip {id}: its route");
            assert_eq!(done.vehicle, trip.vehicle, "{what}: trip {id}: its vehicle");
            assert_eq!(
                (done.scheduled_arrival_s, done.scheduled_departure_s),
                (scheduled.arrival_s, scheduled.departure_s),
                "{what}: trip {id}: its timetable"
            );
            assert!(
                done.arrival_s >= scheduled.arrival_s,
                "{what}: trip {id}: never early: {done:?}"
            );
            assert!(
                done.departure_s >= scheduled.departure_s,
                "{what}: trip {id}: never leaves before its scheduled departure: {done:?}"
            );
            assert!(
                done.departure_s >= done.arrival_s,
                "{what}: trip {id}: leaves after it arrives: {done:?}"
            );
            if seq > 0 {
                let before = stops[seq - 1];
                let run = scheduled
                    .arrival_s
                    .saturating_sub(trip.stops[seq - 1].departure_s);
                assert!(
                    f64::from(done.arrival_s)
                        >= f64::from(before.departure_s) + (f64::from(run) * fastest).floor(),
                    "{what}: trip {id}: no faster than {fastest} of the timetable: {done:?}"
                );
            }
        }
        assert_eq!(
            stops.iter().map(|s| s.boarded).sum::<u32>(),
            stops.iter().map(|s| s.alighted).sum::<u32>(),
            "{what}: trip {id}: everyone gets off"
        );
    }
    assert!(
        by_trip
            .keys()
            .all(|trip| (*trip as usize) < day.trips.len()),
        "{what}: arrivals of trips the day does not have"
    );
    for vehicle in &day.vehicles {
        let run: Vec<&TripIndex> = vehicle
            .trips
            .iter()
            .filter(|trip| !skipped.contains(&trip.0))
            .collect();
        for pair in run.windows(2) {
            let ended = by_trip[&pair[0].0].last().map(|s| s.departure_s);
            let started = by_trip[&pair[1].0].first().map(|s| s.arrival_s);
            assert!(
                started >= ended,
                "{what}: vehicle {}: its trips in order ({} then {})",
                vehicle.id,
                day.trips[pair[0].0 as usize].trip_id,
                day.trips[pair[1].0 as usize].trip_id
            );
        }
    }
    let Some(clearance_s) = rail_rules else {
        return;
    };
    let rail = |arrival: &StopArrival| day.route(arrival.route).is_some_and(Route::is_rail);
    let mut platforms: HashMap<(u32, i64), Vec<&StopArrival>> = HashMap::new();
    // A run's departure, arrival and trip, on each stretch between two stops.
    type Runs = Vec<(u32, u32, u32)>;
    let mut stretches: HashMap<(u32, u32), Runs> = HashMap::new();
    for arrival in arrivals.iter().filter(|a| rail(a)) {
        platforms
            .entry(platform_of(
                &day.trips[arrival.trip.0 as usize],
                arrival.stop_sequence as usize,
            ))
            .or_default()
            .push(arrival);
        if arrival.stop_sequence > 0 {
            let stops = &by_trip[&arrival.trip.0];
            let before = stops[arrival.stop_sequence as usize - 1];
            stretches
                .entry((before.stop.0, arrival.stop.0))
                .or_default()
                .push((before.departure_s, arrival.arrival_s, arrival.trip.0));
        }
    }
    let trip_id = |trip: u32| &day.trips[trip as usize].trip_id;
    for (key, mut visits) in platforms {
        visits.sort_by_key(|a| a.arrival_s);
        for pair in visits.windows(2) {
            assert!(
                pair[1].arrival_s >= pair[0].departure_s + clearance_s,
                "{what}: one train at platform {key:?}: trip {} {:?} then trip {} {:?}",
                trip_id(pair[0].trip.0),
                pair[0],
                trip_id(pair[1].trip.0),
                pair[1]
            );
        }
    }
    for (key, mut runs) in stretches {
        runs.sort();
        for pair in runs.windows(2) {
            assert!(
                pair[1].1 >= pair[0].1,
                "{what}: no passing between stops {key:?}: trip {} passed trip {}",
                trip_id(pair[1].2),
                trip_id(pair[0].2)
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_trip_runs_in_order_never_early_and_rail_keeps_its_blocks(
        specs in specs(true),
        seed in any::<u64>(),
    ) {
        let day = Arc::new(build(&specs));
        let config = config(seed, false, 60);
        let clearance = config.rail_clearance_s;
        let (arrivals, sim) = run(&day, config);
        prop_assert!(sim.is_finished());
        check_day_skipping("synthetic", &day, &arrivals, Some(clearance), sim.skipped_trips(), fastest());
    }

    #[test]
    fn undisturbed_arrivals_are_the_timetable_to_the_second(
        specs in specs(false),
        seed in any::<u64>(),
    ) {
        let day = Arc::new(build(&specs));
        let config = config(seed, true, 60);
        let clearance = config.rail_clearance_s;
        let (arrivals, _) = run(&day, config);
        check_day("synthetic", &day, &arrivals, Some(clearance));
        for arrival in &arrivals {
            prop_assert_eq!(
                (arrival.arrival_s, arrival.departure_s),
                (arrival.scheduled_arrival_s, arrival.scheduled_departure_s),
                "{:?}", arrival
            );
        }
    }

    #[test]
    fn undisturbed_without_rail_rules_any_timetable_runs_as_written(
        specs in specs(true),
        seed in any::<u64>(),
    ) {
        let day = Arc::new(build(&specs));
        let config = TimetabledConfig { rail_blocks: false, ..config(seed, true, 60) };
        let (arrivals, _) = run(&day, config);
        check_day("synthetic", &day, &arrivals, None);
        for arrival in &arrivals {
            prop_assert_eq!(
                (arrival.arrival_s, arrival.departure_s),
                (arrival.scheduled_arrival_s, arrival.scheduled_departure_s),
                "{:?}", arrival
            );
        }
    }

    #[test]
    fn a_day_with_its_times_out_of_order_still_runs_every_trip(
        specs in specs(true),
        seed in any::<u64>(),
        times in prop::collection::vec((0u32..DAY_END_S / 2, 0u32..DAY_END_S / 2), 1..64),
    ) {
        let mut day = build(&specs);
        let mut times = times.iter().cycle();
        for stop in day.trips.iter_mut().flat_map(|trip| trip.stops.iter_mut()) {
            if let Some(&(arrival_s, departure_s)) = times.next() {
                (stop.arrival_s, stop.departure_s) = (arrival_s, departure_s);
            }
        }
        let day = Arc::new(day);
        let config = config(seed, false, 600);
        let clearance = config.rail_clearance_s;
        let mut sim = TimetabledSimulation::new(day.clone(), config).expect("a valid day");
        let mut arrivals = Vec::new();
        sim.advance_to(u32::MAX, &mut arrivals);
        prop_assert!(sim.is_finished());
        check_day_skipping("synthetic", &day, &arrivals, Some(clearance), sim.skipped_trips(), fastest());
    }

    #[test]
    fn the_same_arrivals_at_any_tick_and_for_the_same_seed(
        specs in specs(true),
        seed in any::<u64>(),
        undisturbed in any::<bool>(),
    ) {
        let day = Arc::new(build(&specs));
        let (each_second, _) = run(&day, config(seed, undisturbed, 1));
        for tick in [7, 60, 3_600] {
            let (arrivals, _) = run(&day, config(seed, undisturbed, tick));
            prop_assert_eq!(&arrivals, &each_second, "tick {} s", tick);
        }
        let mut once = TimetabledSimulation::new(day.clone(), config(seed, undisturbed, 60))
            .expect("a valid day");
        let mut arrivals = Vec::new();
        once.advance_to(DAY_END_S, &mut arrivals);
        prop_assert_eq!(&arrivals, &each_second, "in one step");
    }

    #[test]
    fn positions_follow_the_arrivals(
        specs in specs(true),
        seed in any::<u64>(),
        at in 4 * 3_600u32..24 * 3_600,
    ) {
        let day = Arc::new(build(&specs));
        let mut sim = TimetabledSimulation::new(day.clone(), config(seed, false, 60))
            .expect("a valid day");
        let mut arrivals = Vec::new();
        sim.advance_to(at, &mut arrivals);
        for position in sim.positions() {
            let last = arrivals
                .iter()
                .rev()
                .find(|a| a.vehicle == position.vehicle)
                .expect("arrived somewhere");
            prop_assert_eq!(last.trip, position.trip);
            match position.place {
                Place::AtStop { stop_sequence, stop } => {
                    prop_assert_eq!((stop_sequence, stop), (last.stop_sequence, last.stop));
                    // A departure due by `at` has happened.
                    prop_assert!(last.departure_s > at);
                }
                Place::Between { from_sequence, from, fraction, .. } => {
                    prop_assert_eq!((from_sequence, from), (last.stop_sequence, last.stop));
                    prop_assert!(last.departure_s <= at);
                    prop_assert!((0.0..=1.0).contains(&fraction));
                }
            }
        }
    }
}

/// One crowded bus route: riders make buses late, lateness carries into the next trips, and
/// the buses bunch.
#[test]
fn crowds_make_buses_late_and_bunch() {
    let spec = RouteSpec {
        rail: false,
        runs_s: vec![90; 30],
        dwells_s: vec![0; 31],
        headway_s: 300,
        first_s: 6 * 3_600,
        trips: 40,
        shared: 0,
    };
    let day = Arc::new(build(&[spec]));
    let mut config = config(11, false, 60);
    config.riders.bus_load = 12.0;
    let (arrivals, sim) = run(&day, config);
    check_day_skipping(
        "synthetic",
        &day,
        &arrivals,
        None,
        sim.skipped_trips(),
        fastest(),
    );
    let late = arrivals.iter().filter(|a| a.delay_s() > 0).count();
    assert!(
        late > arrivals.len() / 2,
        "{late} of {} late",
        arrivals.len()
    );
    assert!(
        arrivals
            .iter()
            .any(|a| a.stop_sequence == 0 && a.delay_s() > 0),
        "a late bus starts its next trip late"
    );
    // Buses pass: a trip reaches some stop before the trip that left the first stop ahead of it.
    let outward = |a: &&StopArrival| day.trips[a.trip.0 as usize].direction_id == Some(0);
    let order_at = |seq: u32| -> Vec<u32> {
        let mut visits: Vec<(u32, u32)> = arrivals
            .iter()
            .filter(outward)
            .filter(|a| a.stop_sequence == seq)
            .map(|a| (a.arrival_s, a.trip.0))
            .collect();
        visits.sort_unstable();
        visits.into_iter().map(|(_, trip)| trip).collect()
    };
    assert!(
        (1..=30).any(|seq| order_at(seq) != order_at(0)),
        "no bus passed another"
    );
    let most = arrivals.iter().map(StopArrival::delay_s).max().unwrap_or(0);
    assert!(most > 300, "a bus a headway late somewhere: {most} s");
    // Bunching: at the far end of the outward trips the gaps between buses vary far more than
    // the timetable's even 300 s.
    let mut far: Vec<u32> = arrivals
        .iter()
        .filter(|a| a.stop_sequence == 30 && day.trips[a.trip.0 as usize].direction_id == Some(0))
        .map(|a| a.arrival_s)
        .collect();
    far.sort_unstable();
    let gaps: Vec<u32> = far.windows(2).map(|w| w[1] - w[0]).collect();
    let (short, long) = (
        gaps.iter().min().copied().unwrap_or(0),
        gaps.iter().max().copied().unwrap_or(0),
    );
    assert!(short < 200 && long > 400, "gaps from {short} to {long} s");
}

/// A train that breaks down between two stops stands there for the breakdown's time, and the
/// trains behind it wait (none passes it, none shares a block), then come on after it.
#[test]
fn a_broken_down_train_holds_the_trains_behind_it() {
    let spec = RouteSpec {
        rail: true,
        runs_s: vec![120; 9],
        dwells_s: vec![20; 10],
        headway_s: 240,
        first_s: 6 * 3_600,
        trips: 30,
        shared: 0,
    };
    let day = Arc::new(build(&[spec]));
    let mut sim = TimetabledSimulation::new(day.clone(), config(5, true, 60)).expect("a valid day");
    let route = day.routes[0].id;
    sim.break_down(Breakdown {
        route,
        at_s: 7 * 3_600,
        duration_s: 600,
    });
    let mut arrivals = Vec::new();
    while sim.now() < DAY_END_S {
        sim.tick(&mut arrivals);
    }
    check_day("synthetic, a breakdown", &day, &arrivals, Some(1));
    let [broken] = sim.broken_down() else {
        panic!("one breakdown: {:?}", sim.broken_down());
    };
    assert!(broken.stopped_s >= 7 * 3_600 && broken.stopped_s < 7 * 3_600 + 60);
    assert_eq!(broken.cleared_s - broken.stopped_s, 600);
    let trip = &day.trips[broken.trip.0 as usize];
    // It reaches the next stop a run after its clearing (undisturbed: the timetable's run).
    let reached = |a: &&StopArrival| a.stop == broken.to && a.route == route;
    let at_next = arrivals
        .iter()
        .filter(reached)
        .find(|a| a.trip == broken.trip)
        .expect("it gets there");
    assert_eq!(at_next.arrival_s, broken.cleared_s + 120);
    // The trains behind in its direction came after it, the next one some 6 minutes late.
    let behind: Vec<&StopArrival> = arrivals
        .iter()
        .filter(reached)
        .filter(|a| day.trips[a.trip.0 as usize].direction_id == trip.direction_id)
        .filter(|a| {
            day.trips[a.trip.0 as usize].stops[a.stop_sequence as usize].arrival_s
                > trip.stops[at_next.stop_sequence as usize].arrival_s
        })
        .collect();
    assert!(behind.iter().all(|a| a.arrival_s > at_next.arrival_s));
    let next = behind
        .iter()
        .min_by_key(|a| a.scheduled_arrival_s)
        .expect("a train behind");
    assert!(
        next.delay_s() >= 300,
        "the next train {} s late",
        next.delay_s()
    );
    // The breakdown is asked for once: nothing else broke down.
    assert_eq!(sim.broken_down().len(), 1);
}

/// A day of about NYC's size (some 2 000 trips, 86 000 stop times) simulated flat out.
#[test]
fn a_day_of_nyc_size_runs_flat_out() {
    let specs: Vec<RouteSpec> = (0..25)
        .map(|r| RouteSpec {
            rail: true,
            runs_s: (0..42).map(|i| 60 + (i * 37 + r * 11) % 120).collect(),
            dwells_s: vec![0; 43],
            headway_s: 360 + 24 * r,
            first_s: 5 * 3_600,
            trips: 40,
            shared: 0,
        })
        .collect();
    let day = Arc::new(build(&specs));
    let stop_times: usize = day.trips.iter().map(|t| t.stops.len()).sum();
    assert_eq!((day.trips.len(), stop_times), (2_000, 86_000));
    let started = Instant::now();
    let mut sim =
        TimetabledSimulation::new(day.clone(), config(2026, false, 60)).expect("a valid day");
    let mut arrivals = Vec::with_capacity(stop_times);
    sim.advance_to(DAY_END_S, &mut arrivals);
    let took = started.elapsed();
    println!(
        "{} trips, {stop_times} stop times, {} vehicles: a day flat out in {took:?}",
        day.trips.len(),
        day.vehicles.len()
    );
    assert!(sim.is_finished());
    let dropped: usize = sim
        .skipped_trips()
        .iter()
        .map(|trip| day.trips[trip.0 as usize].stops.len())
        .sum();
    assert_eq!(
        arrivals.len() + dropped,
        stop_times,
        "every stop of every trip run"
    );
}

/// Weather slows every run by its factor; the regular railway (riders only) has no
/// disturbance; the calibrated one drops no trip it does not report.
#[test]
fn weather_slows_the_runs_and_a_regular_railway_is_undisturbed() {
    let spec = RouteSpec {
        rail: true,
        runs_s: vec![120; 10],
        dwells_s: vec![0; 11],
        headway_s: 600,
        first_s: 6 * 3_600,
        trips: 12,
        shared: 0,
    };
    let day = Arc::new(build(&[spec]));
    let regular = TimetabledConfig {
        tick_s: 60,
        ..TimetabledConfig::regular(3).expect("the embedded hourly curve")
    };
    let (arrivals, sim) = run(&day, regular.clone());
    check_day(
        "synthetic, regular",
        &day,
        &arrivals,
        Some(regular.rail_clearance_s),
    );
    assert_eq!(sim.disturbances(), Disturbances::default());
    let runs = |arrivals: &[StopArrival]| -> Vec<u32> {
        let mut by_trip: HashMap<u32, Vec<&StopArrival>> = HashMap::new();
        for arrival in arrivals {
            by_trip.entry(arrival.trip.0).or_default().push(arrival);
        }
        by_trip
            .values()
            .flat_map(|stops| stops.windows(2).map(|w| w[1].arrival_s - w[0].departure_s))
            .collect()
    };
    assert!(
        runs(&arrivals).iter().all(|run| *run == 120),
        "the timetable's runs"
    );
    let mut wet = regular.clone();
    wet.uncertainty.weather_slowdown = vec![1.5; 48];
    let (wet_arrivals, _) = run(&day, wet);
    check_day(
        "synthetic, in the rain",
        &day,
        &wet_arrivals,
        Some(regular.rail_clearance_s),
    );
    assert!(
        runs(&wet_arrivals).iter().all(|run| *run >= 180),
        "half as long again in the rain"
    );
    let calibrated = config(3, false, 60);
    let (disturbed, sim) = run(&day, calibrated);
    check_day_skipping(
        "synthetic, calibrated",
        &day,
        &disturbed,
        Some(1),
        sim.skipped_trips(),
        fastest(),
    );
    assert_ne!(runs(&disturbed), runs(&arrivals), "runs vary");
}

#[test]
fn a_day_that_cannot_run_is_refused() {
    let spec = RouteSpec {
        rail: false,
        runs_s: vec![60],
        dwells_s: vec![0, 0],
        headway_s: 600,
        first_s: 3_600,
        trips: 2,
        shared: 0,
    };
    let mut day = build(&[spec]);
    day.vehicles[0].trips.push(TripIndex(99));
    assert!(TimetabledSimulation::new(Arc::new(day.clone()), config(1, false, 60)).is_err());
    day.vehicles[0].trips.pop();
    day.trips[0].stops[1].stop = StopIndex(500);
    assert!(TimetabledSimulation::new(Arc::new(day), config(1, false, 60)).is_err());
}
