//! The read model of the prediction table (`<prefix>.predictions.table.v1`): the current
//! predictions of one method, by trip, by vehicle and by stop.
//!
//! [`PredictionTable`] is plain data with no I/O, fed the table's records in topic order by
//! whoever reads the topic ([`PredictionTable::apply`]: a key and its value, or no value for a
//! withdrawn prediction). It keeps only the predictions of its method (`learnt` by default,
//! [`LEARNT`]: what riders are served; the other methods are the scorer's baselines) and knows
//! nothing of any agency: ids are the static feed's (`trip_id`, `stop_id`) and the vehicles'
//! own, as the predictions name them.
//!
//! ```
//! use transit_core::event::{PredictionEvent, PredictionKey};
//! use transit_core::status::{PredictionTable, TripInstance};
//!
//! let mut table = PredictionTable::new();
//! let prediction = PredictionEvent {
//!     vehicle_id: "v1".into(),
//!     stop_id: "101N".into(),
//!     method: "learnt".into(),
//!     route_id: "1".into(),
//!     trip_id: "t1".into(),
//!     start_date: "20250113".into(),
//!     start_time: None,
//!     direction_id: Some(0),
//!     stop_sequence: 3,
//!     predicted_arrival_time: 1_736_770_000_000,
//!     predicted_departure_time: 1_736_770_030_000,
//!     scheduled_arrival_time: 1_736_769_990_000,
//!     uncertainty_s: Some(42),
//!     issued_at: 1_736_769_000_000,
//!     source_partition: 0,
//!     source_offset: 7,
//! };
//! let key = PredictionKey {
//!     vehicle_id: "v1".into(),
//!     stop_id: "101N".into(),
//!     method: "learnt".into(),
//! };
//! table.apply(&key, Some(&prediction));
//! let trip = TripInstance::of(&prediction);
//! assert_eq!(table.trip(&trip).count(), 1);
//! assert_eq!(table.at_stop("101N").count(), 1);
//! table.apply(&key, None); // withdrawn: the vehicle got there, or left service
//! assert!(table.is_empty());
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::bus::{self, Delivery, EventBus, SubscribeOptions};
use crate::codec::{Decoder, RegistryError, SchemaRegistry};
use crate::event::{PredictionEvent, PredictionKey};

/// The method riders are served; the others are baselines for the scorer.
pub const LEARNT: &str = "learnt";

/// A trip instance as GTFS-realtime names it: `trip_id`, `start_date` and, for a frequency
/// trip, its instance's `start_time`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TripInstance {
    /// The static feed's `trip_id`.
    pub trip_id: String,
    /// The service date, `YYYYMMDD`.
    pub start_date: String,
    /// A frequency instance's start (`HH:MM:SS`); `None` for a scheduled trip.
    pub start_time: Option<String>,
}

impl TripInstance {
    /// The trip instance a prediction is of.
    pub fn of(prediction: &PredictionEvent) -> Self {
        Self {
            trip_id: prediction.trip_id.clone(),
            start_date: prediction.start_date.clone(),
            start_time: prediction.start_time.clone(),
        }
    }
}

/// The current predictions of one method, indexed by trip instance, vehicle and stop.
#[derive(Debug, Clone)]
pub struct PredictionTable {
    method: String,
    /// Each vehicle's predictions by stop.
    by_vehicle: BTreeMap<String, BTreeMap<String, PredictionEvent>>,
    /// The predictions of each trip instance, by stop sequence (a stop a trip visits twice has
    /// a place per visit), each naming its vehicle and stop.
    by_trip: HashMap<TripInstance, BTreeMap<(u32, String), String>>,
    /// The vehicles predicted at each stop.
    by_stop: HashMap<String, BTreeSet<String>>,
    latest_issued_ms: Option<i64>,
    applied: u64,
}

impl Default for PredictionTable {
    fn default() -> Self {
        Self::new()
    }
}

impl PredictionTable {
    /// An empty table of the `learnt` predictions.
    pub fn new() -> Self {
        Self::of_method(LEARNT)
    }

    /// An empty table of `method`'s predictions (a baseline's, to compare).
    pub fn of_method(method: impl Into<String>) -> Self {
        Self {
            method: method.into(),
            by_vehicle: BTreeMap::new(),
            by_trip: HashMap::new(),
            by_stop: HashMap::new(),
            latest_issued_ms: None,
            applied: 0,
        }
    }

    /// The method kept.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Applies one record of the table, in topic order: `Some` sets the key's prediction,
    /// `None` (a tombstone) withdraws it. A key of another method is left alone. A value whose
    /// own vehicle, stop or method differs from its key's is taken by its key (the key is what
    /// compaction keeps). Returns whether the table changed.
    pub fn apply(&mut self, key: &PredictionKey, value: Option<&PredictionEvent>) -> bool {
        if key.method != self.method {
            return false;
        }
        self.applied += 1;
        if let Some(prediction) = value {
            if self.replace_same_visit(key, prediction) {
                self.note_issued(prediction.issued_at);
                return true;
            }
        }
        let removed = self.remove(&key.vehicle_id, &key.stop_id);
        let Some(prediction) = value else {
            return removed;
        };
        let prediction = keyed(key, prediction);
        self.note_issued(prediction.issued_at);
        self.by_trip
            .entry(TripInstance::of(&prediction))
            .or_default()
            .insert(
                (prediction.stop_sequence, key.stop_id.clone()),
                key.vehicle_id.clone(),
            );
        self.by_stop
            .entry(key.stop_id.clone())
            .or_default()
            .insert(key.vehicle_id.clone());
        self.by_vehicle
            .entry(key.vehicle_id.clone())
            .or_default()
            .insert(key.stop_id.clone(), prediction);
        true
    }

    /// Puts `prediction` in place of the key's when both are of the same visit (trip instance
    /// and stop sequence) and the trip's index still names this vehicle for it: the indexes
    /// then stand as they are. Most records re-issue a prediction so. Whether it did.
    fn replace_same_visit(&mut self, key: &PredictionKey, prediction: &PredictionEvent) -> bool {
        let Some(old) = self
            .by_vehicle
            .get_mut(&key.vehicle_id)
            .and_then(|stops| stops.get_mut(&key.stop_id))
        else {
            return false;
        };
        let same_visit = old.stop_sequence == prediction.stop_sequence
            && old.trip_id == prediction.trip_id
            && old.start_date == prediction.start_date
            && old.start_time == prediction.start_time;
        // Another vehicle may have taken the visit since (a trip handed over): then the
        // whole update moves it back, as the record says.
        let indexed = same_visit
            && self
                .by_trip
                .get(&TripInstance::of(old))
                .and_then(|visits| visits.get(&(old.stop_sequence, key.stop_id.clone())))
                .is_some_and(|vehicle| *vehicle == key.vehicle_id);
        if indexed {
            *old = keyed(key, prediction);
        }
        indexed
    }

    fn note_issued(&mut self, issued_at: i64) {
        self.latest_issued_ms = Some(
            self.latest_issued_ms
                .map_or(issued_at, |t| t.max(issued_at)),
        );
    }

    /// Takes a vehicle's prediction at a stop out of every index.
    fn remove(&mut self, vehicle_id: &str, stop_id: &str) -> bool {
        let Some(stops) = self.by_vehicle.get_mut(vehicle_id) else {
            return false;
        };
        let Some(old) = stops.remove(stop_id) else {
            return false;
        };
        if stops.is_empty() {
            self.by_vehicle.remove(vehicle_id);
        }
        let trip = TripInstance::of(&old);
        if let Some(visits) = self.by_trip.get_mut(&trip) {
            let slot = (old.stop_sequence, old.stop_id.clone());
            // Another vehicle may have taken the same visit since (a trip handed over):
            // only this vehicle's entry goes.
            if visits.get(&slot).is_some_and(|v| v == vehicle_id) {
                visits.remove(&slot);
            }
            if visits.is_empty() {
                self.by_trip.remove(&trip);
            }
        }
        if let Some(vehicles) = self.by_stop.get_mut(stop_id) {
            vehicles.remove(vehicle_id);
            if vehicles.is_empty() {
                self.by_stop.remove(stop_id);
            }
        }
        true
    }

    /// Forgets every prediction (the table's topic is read again from its start).
    pub fn clear(&mut self) {
        self.by_vehicle.clear();
        self.by_trip.clear();
        self.by_stop.clear();
        self.latest_issued_ms = None;
    }

    /// A vehicle's prediction at a stop.
    pub fn get(&self, vehicle_id: &str, stop_id: &str) -> Option<&PredictionEvent> {
        self.by_vehicle.get(vehicle_id)?.get(stop_id)
    }

    /// A vehicle's predictions, earliest predicted arrival first (its current trip's stops
    /// ahead, then those of the trips it runs next).
    pub fn vehicle(&self, vehicle_id: &str) -> Vec<&PredictionEvent> {
        let mut predictions: Vec<&PredictionEvent> = self
            .by_vehicle
            .get(vehicle_id)
            .map(|stops| stops.values().collect())
            .unwrap_or_default();
        predictions.sort_by(|a, b| Self::order(a, b));
        predictions
    }

    /// The vehicles with predictions, in id order.
    pub fn vehicles(&self) -> impl Iterator<Item = &str> {
        self.by_vehicle.keys().map(String::as_str)
    }

    /// A trip instance's predictions, in stop sequence order.
    pub fn trip<'a>(
        &'a self,
        trip: &TripInstance,
    ) -> impl Iterator<Item = &'a PredictionEvent> + 'a {
        self.by_trip
            .get(trip)
            .into_iter()
            .flatten()
            .filter_map(|((_, stop_id), vehicle_id)| self.get(vehicle_id, stop_id))
    }

    /// The trip instances with predictions, in no particular order.
    pub fn trips(&self) -> impl Iterator<Item = &TripInstance> {
        self.by_trip.keys()
    }

    /// The predictions at a stop (the static feed's `stop_id`), earliest predicted arrival
    /// first.
    pub fn at_stop<'a>(&'a self, stop_id: &str) -> impl Iterator<Item = &'a PredictionEvent> + 'a {
        let mut predictions: Vec<&PredictionEvent> = self
            .by_stop
            .get(stop_id)
            .into_iter()
            .flatten()
            .filter_map(|vehicle_id| self.get(vehicle_id, stop_id))
            .collect();
        predictions.sort_by(|a, b| Self::order(a, b));
        predictions.into_iter()
    }

    /// Every prediction, by vehicle and stop id.
    pub fn iter(&self) -> impl Iterator<Item = &PredictionEvent> {
        self.by_vehicle.values().flat_map(BTreeMap::values)
    }

    /// By predicted arrival, then vehicle and stop (a stable order for equal times).
    fn order(a: &PredictionEvent, b: &PredictionEvent) -> std::cmp::Ordering {
        (a.predicted_arrival_time, &a.vehicle_id, &a.stop_id).cmp(&(
            b.predicted_arrival_time,
            &b.vehicle_id,
            &b.stop_id,
        ))
    }

    /// How many predictions the table holds.
    pub fn len(&self) -> usize {
        self.by_vehicle.values().map(BTreeMap::len).sum()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.by_vehicle.is_empty()
    }

    /// The latest `issued_at` of the predictions applied (Unix ms): how recent the table is.
    pub fn latest_issued_ms(&self) -> Option<i64> {
        self.latest_issued_ms
    }

    /// Records of the table's method applied so far (values and withdrawals).
    pub fn applied(&self) -> u64 {
        self.applied
    }
}

/// `prediction` as the table holds it: its vehicle, stop and method are its key's (the key is
/// what compaction keeps).
fn keyed(key: &PredictionKey, prediction: &PredictionEvent) -> PredictionEvent {
    let mut prediction = prediction.clone();
    prediction.vehicle_id.clone_from(&key.vehicle_id);
    prediction.stop_id.clone_from(&key.stop_id);
    prediction.method.clone_from(&key.method);
    prediction
}

/// Why following a prediction topic stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FollowError {
    /// The decoders could not be set up.
    #[error("setting up the predictions' decoders")]
    Registry(#[source] RegistryError),
    /// Subscribing to or reading the topic failed.
    #[error("reading {topic}")]
    Bus {
        /// The topic.
        topic: String,
        /// What the bus said.
        #[source]
        source: bus::Error,
    },
}

/// What following a prediction topic did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowStats {
    /// Records handed on (values and withdrawals).
    pub applied: u64,
    /// Records of other methods passed over, their values not decoded.
    pub other_methods: u64,
    /// Records left out: without a key, or undecodable.
    pub skipped: u64,
}

/// Reads `topic` on `bus` from its earliest record, handing each batch of `method`'s records,
/// decoded and in topic order, to `apply` (a key and its prediction, or `None` when
/// withdrawn), until `shutdown` is cancelled or the bus closes. Records it cannot decode are
/// logged and skipped.
///
/// The topic holds every method's predictions, and the baselines' are about half: a reader
/// of one method ([`LEARNT`], what riders are served) decodes only their keys.
///
/// `topic` is the prediction table (`<prefix>.predictions.table.v1`) where the bus hands
/// withdrawals to readers already past the value (Kafka), or the issued predictions
/// (`<prefix>.predictions.issued.v1`, the same records, every one kept) where compaction drops
/// a withdrawal as it comes (the in-memory bus).
pub async fn follow(
    bus: Arc<dyn EventBus>,
    registry: Arc<dyn SchemaRegistry>,
    topic: &str,
    method: &str,
    shutdown: CancellationToken,
    mut apply: impl FnMut(&[(PredictionKey, Option<PredictionEvent>)]) + Send,
) -> Result<FollowStats, FollowError> {
    let keys =
        Decoder::<PredictionKey>::new(Arc::clone(&registry)).map_err(FollowError::Registry)?;
    let values = Decoder::<PredictionEvent>::new(registry).map_err(FollowError::Registry)?;
    let bus_error = |source| FollowError::Bus {
        topic: topic.to_string(),
        source,
    };
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([topic.to_string()]))
        .await
        .map_err(bus_error)?;
    let mut stats = FollowStats::default();
    let mut batch: Vec<Delivery> = Vec::new();
    let mut records = Vec::new();
    loop {
        batch.clear();
        let got = tokio::select! {
            () = shutdown.cancelled() => break,
            got = consumer.recv_batch(&mut batch, 1_000) => got.map_err(bus_error)?,
        };
        if got == 0 {
            break;
        }
        records.clear();
        for delivery in &batch {
            let Some(key_bytes) = delivery.key.as_deref() else {
                stats.skipped += 1;
                tracing::warn!(
                    topic,
                    offset = delivery.offset,
                    "a prediction without a key left out"
                );
                continue;
            };
            let key = match keys.decode(key_bytes).await {
                Ok(key) => key,
                Err(error) => {
                    stats.skipped += 1;
                    tracing::warn!(topic, offset = delivery.offset, error = %error,
                        "a prediction's key could not be decoded; left out");
                    continue;
                }
            };
            if key.method != method {
                stats.other_methods += 1;
                continue;
            }
            let value = match delivery.value.as_deref() {
                None => None,
                Some(bytes) => match values.decode(bytes).await {
                    Ok(value) => Some(value),
                    Err(error) => {
                        stats.skipped += 1;
                        tracing::warn!(topic, offset = delivery.offset, error = %error,
                            "a prediction could not be decoded; left out");
                        continue;
                    }
                },
            };
            records.push((key, value));
        }
        stats.applied += records.len() as u64;
        apply(&records);
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(
        vehicle: &str,
        stop: &str,
        trip: &str,
        sequence: u32,
        at: i64,
    ) -> PredictionEvent {
        PredictionEvent {
            vehicle_id: vehicle.into(),
            stop_id: stop.into(),
            method: LEARNT.into(),
            route_id: "1".into(),
            trip_id: trip.into(),
            start_date: "20250113".into(),
            start_time: None,
            direction_id: Some(0),
            stop_sequence: sequence,
            predicted_arrival_time: at,
            predicted_departure_time: at + 30_000,
            scheduled_arrival_time: at - 60_000,
            uncertainty_s: Some(30),
            issued_at: 1_000,
            source_partition: 0,
            source_offset: 0,
        }
    }

    fn key(p: &PredictionEvent) -> PredictionKey {
        PredictionKey {
            vehicle_id: p.vehicle_id.clone(),
            stop_id: p.stop_id.clone(),
            method: p.method.clone(),
        }
    }

    /// Trip `id`'s visits in the table: each one's vehicle and predicted arrival.
    fn visits<'a>(table: &'a PredictionTable, id: &str) -> Vec<(&'a str, i64)> {
        table
            .trip(&trip(id))
            .map(|p| (p.vehicle_id.as_str(), p.predicted_arrival_time))
            .collect()
    }

    fn trip(id: &str) -> TripInstance {
        TripInstance {
            trip_id: id.into(),
            start_date: "20250113".into(),
            start_time: None,
        }
    }

    #[test]
    fn predictions_are_found_by_trip_vehicle_and_stop() {
        let mut table = PredictionTable::new();
        let ps = [
            prediction("v1", "B", "t1", 2, 20_000),
            prediction("v1", "A", "t1", 1, 10_000),
            prediction("v1", "C", "t2", 0, 30_000),
            prediction("v2", "B", "t3", 4, 15_000),
        ];
        for p in &ps {
            assert!(table.apply(&key(p), Some(p)));
        }
        assert_eq!(table.len(), 4);
        let stops: Vec<&str> = table
            .trip(&trip("t1"))
            .map(|p| p.stop_id.as_str())
            .collect();
        assert_eq!(stops, ["A", "B"]);
        let by_vehicle: Vec<&str> = table
            .vehicle("v1")
            .into_iter()
            .map(|p| p.stop_id.as_str())
            .collect();
        assert_eq!(by_vehicle, ["A", "B", "C"]);
        let at_b: Vec<&str> = table.at_stop("B").map(|p| p.vehicle_id.as_str()).collect();
        assert_eq!(at_b, ["v2", "v1"]);
        assert_eq!(table.trips().count(), 3);
        assert_eq!(table.vehicles().collect::<Vec<_>>(), ["v1", "v2"]);
    }

    #[test]
    fn a_withdrawal_removes_the_prediction_from_every_index() {
        let mut table = PredictionTable::new();
        let p = prediction("v1", "A", "t1", 1, 10_000);
        table.apply(&key(&p), Some(&p));
        assert!(table.apply(&key(&p), None));
        assert!(table.is_empty());
        assert_eq!(table.trip(&trip("t1")).count(), 0);
        assert_eq!(table.at_stop("A").count(), 0);
        assert_eq!(table.trips().count(), 0);
        // Withdrawing what is not there changes nothing.
        assert!(!table.apply(&key(&p), None));
    }

    #[test]
    fn a_new_value_replaces_the_old_in_every_index() {
        let mut table = PredictionTable::new();
        let old = prediction("v1", "A", "t1", 1, 10_000);
        table.apply(&key(&old), Some(&old));
        // The vehicle's next visit to A is on its next trip.
        let new = prediction("v1", "A", "t2", 5, 50_000);
        table.apply(&key(&new), Some(&new));
        assert_eq!(table.len(), 1);
        assert_eq!(table.trip(&trip("t1")).count(), 0);
        assert_eq!(
            table
                .trip(&trip("t2"))
                .map(|p| p.stop_sequence)
                .collect::<Vec<_>>(),
            [5]
        );
        assert_eq!(
            table.get("v1", "A").map(|p| p.predicted_arrival_time),
            Some(50_000)
        );
    }

    #[test]
    fn a_prediction_issued_again_for_the_same_visit_is_replaced_where_it_stands() {
        let mut table = PredictionTable::new();
        let old = prediction("v1", "A", "t1", 1, 10_000);
        table.apply(&key(&old), Some(&old));
        let mut again = prediction("v1", "A", "t1", 1, 12_000);
        again.issued_at = 2_000;
        // A value naming another vehicle is still the key's.
        again.vehicle_id = "elsewhere".into();
        assert!(table.apply(&key(&old), Some(&again)));
        assert_eq!(table.len(), 1);
        assert_eq!(visits(&table, "t1"), [("v1", 12_000)]);
        assert_eq!(table.at_stop("A").count(), 1);
        assert_eq!(table.latest_issued_ms(), Some(2_000));
        assert_eq!(table.applied(), 2);
    }

    #[test]
    fn a_visit_taken_by_another_vehicle_goes_back_to_the_one_predicted_last() {
        let mut table = PredictionTable::new();
        let first = prediction("v1", "A", "t1", 1, 10_000);
        let second = prediction("v2", "A", "t1", 1, 11_000);
        table.apply(&key(&first), Some(&first));
        table.apply(&key(&second), Some(&second));
        // v1 predicted again for the visit v2 took: the trip's visit is v1's again.
        let again = prediction("v1", "A", "t1", 1, 10_500);
        table.apply(&key(&again), Some(&again));
        assert_eq!(visits(&table, "t1"), [("v1", 10_500)]);
        assert_eq!(table.at_stop("A").count(), 2);
    }

    #[test]
    fn other_methods_are_left_out() {
        let mut table = PredictionTable::new();
        let mut p = prediction("v1", "A", "t1", 1, 10_000);
        p.method = "delay".into();
        assert!(!table.apply(&key(&p), Some(&p)));
        assert!(table.is_empty());
        assert_eq!(table.applied(), 0);
        let mut baseline = PredictionTable::of_method("delay");
        assert!(baseline.apply(&key(&p), Some(&p)));
        assert_eq!(baseline.len(), 1);
    }

    #[test]
    fn a_trip_handed_to_another_vehicle_keeps_the_new_one() {
        let mut table = PredictionTable::new();
        let first = prediction("v1", "A", "t1", 1, 10_000);
        let second = prediction("v2", "A", "t1", 1, 11_000);
        table.apply(&key(&first), Some(&first));
        table.apply(&key(&second), Some(&second));
        table.apply(&key(&first), None);
        let left: Vec<&str> = table
            .trip(&trip("t1"))
            .map(|p| p.vehicle_id.as_str())
            .collect();
        assert_eq!(left, ["v2"]);
    }
}
