//! How the predictions of some vehicles fare over time around an instant: after a breakdown
//! clears, are the trains that waited behind it predicted right again, and how soon?
//!
//! The predictions issued (every version, in the order issued) and the arrivals that then
//! happened are sampled as the scorer samples them (every [`RecoverySampling::every_ms`], a
//! prediction neither already due nor past its vehicle's arrival, MBTA's buckets), and each
//! sample is counted right or wrong by the minute it was taken in, counted from the instant.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use transit_core::event::{PredictionEvent, VehicleArrivalEvent};

use crate::score::{bucket_of, BUCKETS};

/// Which samples to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoverySampling {
    /// The instant counted from (a breakdown's clearing), ms since the Unix epoch.
    pub from_ms: i64,
    /// The first sample, ms.
    pub start_ms: i64,
    /// After the last sample, ms.
    pub end_ms: i64,
    /// Between samples, ms.
    pub every_ms: i64,
}

/// Samples right and taken, by method and by whole minutes from the instant (negative before
/// it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// (method, minute) → (right, taken).
    pub cells: BTreeMap<(String, i64), (u64, u64)>,
}

impl Recovery {
    /// The share right of `method`'s samples taken from minute `from` (inclusive) to `to`
    /// (exclusive), and how many there were.
    pub fn accuracy(&self, method: &str, from: i64, to: i64) -> (Option<f64>, u64) {
        let (right, taken) = self
            .cells
            .range((method.to_string(), from)..(method.to_string(), to))
            .fold((0, 0), |(r, t), (_, (right, taken))| (r + right, t + taken));
        ((taken > 0).then(|| right as f64 / taken as f64), taken)
    }
}

/// The vehicles that came to `stop_id` on `route_id` in `direction_id` after `vehicle_id` did
/// (on or after `after_ms`), within `within_ms` of it: the trains behind it.
pub fn vehicles_behind(
    arrivals: &[VehicleArrivalEvent],
    vehicle_id: &str,
    route_id: &str,
    direction_id: Option<i32>,
    stop_id: &str,
    after_ms: i64,
    within_ms: i64,
) -> Vec<String> {
    let here = |a: &&VehicleArrivalEvent| {
        a.route_id == route_id && a.direction_id == direction_id && a.stop_id == stop_id
    };
    let Some(reached) = arrivals
        .iter()
        .filter(here)
        .filter(|a| a.vehicle_id == vehicle_id && a.arrival_time >= after_ms)
        .map(|a| a.arrival_time)
        .min()
    else {
        return Vec::new();
    };
    let mut behind: Vec<(i64, String)> = arrivals
        .iter()
        .filter(here)
        .filter(|a| {
            a.vehicle_id != vehicle_id
                && a.arrival_time > reached
                && a.arrival_time <= reached + within_ms
        })
        .map(|a| (a.arrival_time, a.vehicle_id.clone()))
        .collect();
    behind.sort();
    let mut seen = Vec::new();
    for (_, id) in behind {
        if !seen.contains(&id) {
            seen.push(id);
        }
    }
    seen
}

/// A prediction's vehicle, trip, stop and method.
type PredictionOf<'a> = (&'a str, &'a str, &'a str, &'a str);

/// Samples `predictions` (every version issued, in order) against `arrivals` as `sampling`
/// says.
pub fn recovery(
    predictions: &[PredictionEvent],
    arrivals: &[VehicleArrivalEvent],
    sampling: RecoverySampling,
) -> Recovery {
    let mut arrived: FxHashMap<(&str, &str, &str), i64> = FxHashMap::default();
    for a in arrivals {
        arrived
            .entry((&a.vehicle_id, &a.trip_id, &a.stop_id))
            .and_modify(|t| *t = (*t).min(a.arrival_time))
            .or_insert(a.arrival_time);
    }
    // Each prediction's versions, by (vehicle, trip, stop, method), in the order issued.
    let mut versions: FxHashMap<PredictionOf<'_>, Vec<(i64, i64)>> = FxHashMap::default();
    for p in predictions {
        versions
            .entry((&p.vehicle_id, &p.trip_id, &p.stop_id, &p.method))
            .or_default()
            .push((p.issued_at, p.predicted_arrival_time));
    }
    let mut out = Recovery::default();
    let every = sampling.every_ms.max(1);
    for ((vehicle, trip, stop, method), list) in versions {
        let actual = arrived.get(&(vehicle, trip, stop)).copied();
        let mut t = sampling.start_ms;
        let mut current = None;
        let mut next = 0;
        while t < sampling.end_ms {
            while next < list.len() && list[next].0 <= t {
                current = Some(list[next].1);
                next += 1;
            }
            let sample = current
                .filter(|predicted| *predicted > t && actual.is_none_or(|actual| actual > t));
            if let Some(predicted) = sample {
                if let Some(bucket) = bucket_of(predicted - t).and_then(|b| BUCKETS.get(b)) {
                    let right = actual.is_some_and(|actual| {
                        (-bucket.early_s * 1_000..=bucket.late_s * 1_000)
                            .contains(&(actual - predicted))
                    });
                    let minute = (t - sampling.from_ms).div_euclid(60_000);
                    let cell = out.cells.entry((method.to_string(), minute)).or_default();
                    cell.0 += u64::from(right);
                    cell.1 += 1;
                }
            }
            t += every;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(vehicle: &str, stop: &str, at_ms: i64) -> VehicleArrivalEvent {
        VehicleArrivalEvent {
            route_id: "L".into(),
            trip_id: format!("trip-{vehicle}"),
            start_date: "20250113".into(),
            start_time: None,
            direction_id: Some(0),
            stop_id: stop.into(),
            stop_sequence: 0,
            vehicle_id: vehicle.into(),
            arrival_time: at_ms,
            departure_time: at_ms,
            scheduled_arrival_time: at_ms,
            scheduled_departure_time: at_ms,
            boarded: 0,
            alighted: 0,
        }
    }

    fn prediction(vehicle: &str, stop: &str, issued_at: i64, at_ms: i64) -> PredictionEvent {
        PredictionEvent {
            vehicle_id: vehicle.into(),
            stop_id: stop.into(),
            method: "learnt".into(),
            route_id: "L".into(),
            trip_id: format!("trip-{vehicle}"),
            start_date: "20250113".into(),
            start_time: None,
            direction_id: Some(0),
            stop_sequence: 0,
            predicted_arrival_time: at_ms,
            predicted_departure_time: at_ms,
            scheduled_arrival_time: at_ms,
            uncertainty_s: None,
            issued_at,
            source_partition: 0,
            source_offset: 0,
        }
    }

    #[test]
    fn the_trains_behind_are_those_that_came_after_within_the_time() {
        let arrivals = [
            arrival("a", "s", 1_000),
            arrival("b", "s", 2_000),
            arrival("c", "s", 3_000),
            arrival("d", "s", 900_000),
            arrival("z", "s", 500),
        ];
        let behind = vehicles_behind(&arrivals, "a", "L", Some(0), "s", 0, 600_000);
        assert_eq!(behind, ["b", "c"]);
    }

    #[test]
    fn a_prediction_is_right_once_corrected_and_wrong_before() {
        // Cleared at 0; the train comes at 600 s. Predicted at 300 s until 120 s, then at 590 s.
        let arrivals = [arrival("b", "s", 600_000)];
        let predictions = [
            prediction("b", "s", -60_000, 300_000),
            prediction("b", "s", 120_000, 590_000),
        ];
        let sampling = RecoverySampling {
            from_ms: 0,
            start_ms: 0,
            end_ms: 600_000,
            every_ms: 30_000,
        };
        let r = recovery(&predictions, &arrivals, sampling);
        assert_eq!(r.accuracy("learnt", 0, 2), (Some(0.0), 4));
        assert_eq!(r.accuracy("learnt", 2, 10), (Some(1.0), 16));
        // Due at 300 s and not come: samples from then on are not taken of that version, but
        // the corrected one is sampled.
        assert_eq!(r.accuracy("timetable", 0, 10).1, 0);
    }
}
