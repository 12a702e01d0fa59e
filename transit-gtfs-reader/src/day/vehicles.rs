//! Which vehicle runs each trip of a service day.
//!
//! Trips with a `block_id` are chained in time order, one vehicle per block; two trips of a
//! block that overlap in time are a fault of the feed (a vehicle cannot run both): the later
//! one goes to another vehicle of the block, `<block_id>~2` (then `~3`...), and it is logged.
//!
//! Trips without one are paired at their terminals as CTA's block plan pairs its trips
//! (transit-sim's `line::plan`): taken in order of arrival, each trip's vehicle takes the
//! earliest trip not yet taken of the same route leaving from the same station (its last
//! stop, or that stop's parent station) at least [`DEFAULT_MIN_LAYOVER_S`] after the arrival
//! and at most [`DEFAULT_MAX_LAYOVER_S`] later than that; with none, it leaves service, and
//! a trip no vehicle takes gets a new one, `<route_id>-<n>` (numbered by first departure).
//! The shortest layover is CTA's physical turn: the shortest dwell, the turn and the lead onto
//! the departure platform. CTA's planned recovery is not added: a feed's schedule already
//! holds its own.

use std::collections::BTreeSet;

use rustc_hash::{FxHashMap, FxHashSet};
use transit_core::model::LineId;
use transit_core::network::service_day::{StopIndex, TripIndex, Vehicle, VehicleIndex};
use transit_core::speed;

use super::{DayTrip, ServiceDayOptions};
use crate::Feed;

/// The shortest layover (s) at a terminal between a vehicle's arrival and its next trip when
/// trips are paired at the terminals: CTA's shortest dwell, turn and platform lead (320 s).
pub const DEFAULT_MIN_LAYOVER_S: u32 =
    (speed::MIN_DWELL_S + speed::TURNAROUND_S + speed::PLATFORM_LEAD_S) as u32;

/// The longest a vehicle waits past [`DEFAULT_MIN_LAYOVER_S`] for its next trip: CTA's
/// [`speed::MAX_LAYOVER_S`] (900 s).
pub const DEFAULT_MAX_LAYOVER_S: u32 = speed::MAX_LAYOVER_S as u32;

/// A vehicle being built: its trips (positions in the day's trips, in time order).
struct Chain {
    /// `block_id` (with `~k` for a split), or `None` for a vehicle paired at terminals.
    block_id: Option<String>,
    route: LineId,
    trips: Vec<u32>,
    last_arrival: u32,
}

/// Gives every trip (sorted by first departure) its vehicle and returns the vehicles, by
/// first departure.
pub(super) fn assign(
    feed: &Feed,
    trips: &mut [DayTrip],
    stations: &[StopIndex],
    options: &ServiceDayOptions,
) -> Vec<Vehicle> {
    let mut chains: Vec<Chain> = Vec::new();
    let mut chain_of: Vec<Option<usize>> = vec![None; trips.len()];

    // Blocks: in departure order, each trip to the block's first vehicle free by then.
    let mut by_block: FxHashMap<u32, Vec<usize>> = FxHashMap::default();
    let mut overlapping: Vec<&str> = Vec::new();
    for (i, day_trip) in trips.iter().enumerate() {
        let Some(block) = day_trip.block else {
            continue;
        };
        let trip = &day_trip.trip;
        let subs = by_block.entry(block.0).or_default();
        let free = subs
            .iter()
            .copied()
            .find(|&c| chains[c].last_arrival <= trip.first_departure_s());
        let c = match free {
            Some(c) => c,
            None => {
                let name = feed.block_id(block).unwrap_or_default();
                if !subs.is_empty() && overlapping.last() != Some(&name) {
                    overlapping.push(name);
                }
                let block_id = match subs.len() {
                    0 => name.to_owned(),
                    n => format!("{name}~{}", n + 1),
                };
                chains.push(Chain {
                    block_id: Some(block_id),
                    route: trip.route,
                    trips: Vec::new(),
                    last_arrival: 0,
                });
                subs.push(chains.len() - 1);
                chains.len() - 1
            }
        };
        chains[c].trips.push(i as u32);
        chains[c].last_arrival = trip.last_arrival_s();
        chain_of[i] = Some(c);
    }
    if let Some(first) = overlapping.first() {
        tracing::warn!(
            blocks = overlapping.len(),
            first,
            "blocks whose trips overlap in time (one vehicle cannot run them): split into vehicles <block_id>~2, ~3..."
        );
    }

    // The others: paired at the terminals, in order of arrival.
    let station = |s: StopIndex| stations.get(s.0 as usize).copied().unwrap_or(s);
    let mut untaken: FxHashMap<(LineId, StopIndex), BTreeSet<(u32, u32)>> = FxHashMap::default();
    let mut by_arrival: Vec<u32> = Vec::new();
    for (i, day_trip) in trips.iter().enumerate() {
        if day_trip.block.is_some() {
            continue;
        }
        let trip = &day_trip.trip;
        if let Some(first) = trip.stops.first() {
            untaken
                .entry((trip.route, station(first.stop)))
                .or_default()
                .insert((trip.first_departure_s(), i as u32));
        }
        by_arrival.push(i as u32);
    }
    by_arrival.sort_by_key(|&i| {
        let t = &trips[i as usize].trip;
        (t.last_arrival_s(), t.first_departure_s(), i)
    });
    for i in by_arrival {
        let trip = &trips[i as usize].trip;
        let c = match chain_of[i as usize] {
            Some(c) => c,
            // No vehicle took it: every one that could arrived before it left.
            None => {
                chains.push(Chain {
                    block_id: None,
                    route: trip.route,
                    trips: vec![i],
                    last_arrival: trip.last_arrival_s(),
                });
                chain_of[i as usize] = Some(chains.len() - 1);
                chains.len() - 1
            }
        };
        let Some(last) = trip.stops.last() else {
            continue;
        };
        let ready = trip.last_arrival_s().saturating_add(options.min_layover_s);
        let latest = ready.saturating_add(options.max_layover_s);
        let Some(waiting) = untaken.get_mut(&(trip.route, station(last.stop))) else {
            continue;
        };
        let next = waiting
            .range((ready, 0)..=(latest, u32::MAX))
            .next()
            .copied();
        if let Some(next) = next {
            waiting.remove(&next);
            let (_, j) = next;
            chain_of[j as usize] = Some(c);
            chains[c].trips.push(j);
            chains[c].last_arrival = trips[j as usize].trip.last_arrival_s();
        }
    }

    // Vehicles by first departure; ids unique.
    chains.sort_by_key(|c| c.trips.first().copied().unwrap_or(u32::MAX));
    let mut per_route: FxHashMap<LineId, u32> = FxHashMap::default();
    let mut taken_ids: FxHashSet<String> = FxHashSet::default();
    let mut vehicles = Vec::with_capacity(chains.len());
    for (v, chain) in chains.into_iter().enumerate() {
        let base = chain.block_id.unwrap_or_else(|| {
            let n = per_route.entry(chain.route).or_insert(0);
            *n += 1;
            format!("{}-{n}", chain.route)
        });
        let mut id = base.clone();
        let mut k = 1;
        while taken_ids.contains(&id) {
            k += 1;
            id = format!("{base}~{k}");
        }
        taken_ids.insert(id.clone());
        for &t in &chain.trips {
            if let Some(day_trip) = trips.get_mut(t as usize) {
                day_trip.trip.vehicle = VehicleIndex(v as u32);
            }
        }
        vehicles.push(Vehicle {
            id,
            trips: chain.trips.into_iter().map(TripIndex).collect(),
        });
    }
    vehicles
}
