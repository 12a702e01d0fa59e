//! Scoring predictions against what then happened, without a bus: MBTA's horizon buckets, the
//! 30-second sampling a polling consumer sees, and a windowed join of the samples with the
//! arrivals whose state stays bounded. [`crate::scorer`] runs it on the processor loop.
//!
//! # What is scored
//!
//! A rider's app polls the feed, say every 30 s, and shows what it got. So the scorer samples
//! the predictions current at each 30-second instant of the predictions' own (event) time,
//! not every re-issue: a prediction re-issued ten times in a minute counts twice, one that
//! stood for ten minutes twenty times. A sample's horizon is its predicted arrival less the
//! instant; its bucket follows ([`BUCKETS`]); samples beyond 30 min, or already due, are not
//! scored.
//!
//! # The join and its bound
//!
//! Samples wait, by (vehicle, trip, service date, start time, stop place), for the arrival
//! that happens there. A sample whose arrival has not come by its predicted time plus its
//! bucket's late tolerance is **expired**: wrong, whatever happens next, and its state is
//! dropped. An expired sample's key is remembered for [`ScoreConfig::remember_s`] to tell
//! **late** arrivals (came after all) from **never** (the vehicle left service, the trip was
//! cut). Arrivals that come before any sample needs them are kept until the predictions'
//! clock has passed them (the predictor withdraws a prediction at the arrival it predicts, so
//! no sample is taken after it). So the state holds what the horizon, the tolerance and
//! the remembering allow, however long the run.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use transit_core::event::{AccuracyEvent, PredictionEvent, PredictionKey, VehicleArrivalEvent};

/// A horizon bucket and when a prediction in it is right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    /// Its name: `0-3`, `3-6`, `6-12`, `12-30` (minutes).
    pub name: &'static str,
    /// Horizons from (inclusive), seconds.
    pub from_s: i64,
    /// Horizons to (exclusive, but for the last bucket), seconds.
    pub to_s: i64,
    /// How early the vehicle may come and the prediction still be right, seconds.
    pub early_s: i64,
    /// How late.
    pub late_s: i64,
}

impl Bucket {
    /// Whether a vehicle that came `error_ms` after the predicted time (negative: before)
    /// makes the prediction right.
    pub fn accurate(&self, error_ms: i64) -> bool {
        (-self.early_s * 1_000..=self.late_s * 1_000).contains(&error_ms)
    }
}

/// MBTA's buckets: 0-3 min right from 1 min early to 1 min late; 3-6 min, 1.5 early to 2 late;
/// 6-12 min, 2.5 early to 3.5 late; 12-30 min, 4 early to 6 late.
pub const BUCKETS: [Bucket; 4] = [
    Bucket {
        name: "0-3",
        from_s: 0,
        to_s: 180,
        early_s: 60,
        late_s: 60,
    },
    Bucket {
        name: "3-6",
        from_s: 180,
        to_s: 360,
        early_s: 90,
        late_s: 120,
    },
    Bucket {
        name: "6-12",
        from_s: 360,
        to_s: 720,
        early_s: 150,
        late_s: 210,
    },
    Bucket {
        name: "12-30",
        from_s: 720,
        to_s: 1_800,
        early_s: 240,
        late_s: 360,
    },
];

/// The bucket of a horizon (ms), by index in [`BUCKETS`]; `None` for a past or too distant one.
pub fn bucket_of(horizon_ms: i64) -> Option<usize> {
    if horizon_ms < 0 {
        return None;
    }
    let last = BUCKETS.len() - 1;
    BUCKETS.iter().position(|b| {
        horizon_ms >= b.from_s * 1_000
            && (horizon_ms < b.to_s * 1_000
                || (b.to_s == BUCKETS[last].to_s && horizon_ms == b.to_s * 1_000))
    })
}

/// Bucket `index` of [`BUCKETS`] (the last for an index beyond them, which only a damaged
/// changelog entry could hold).
fn bucket(index: u8) -> &'static Bucket {
    BUCKETS
        .get(usize::from(index))
        .unwrap_or(&BUCKETS[BUCKETS.len() - 1])
}

/// The scorer's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreConfig {
    /// How often the polling consumer looks, seconds.
    pub poll_s: u32,
    /// How long an expired sample's key is remembered, to tell late arrivals from none, s.
    pub remember_s: u32,
    /// The instant local time of day counts from (the service day's start, Unix seconds), for
    /// the hour of a sample.
    pub day_start_unix_s: i64,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self {
            poll_s: 30,
            remember_s: 7_200,
            day_start_unix_s: 0,
        }
    }
}

/// One prediction as the polling consumer saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// The instant, ms.
    pub at_ms: i64,
    /// The arrival predicted then, ms.
    pub predicted_ms: i64,
    /// Its accuracy row.
    pub row: RowKey,
}

impl Sample {
    fn deadline_ms(&self) -> i64 {
        self.predicted_ms
            .saturating_add(bucket(self.row.bucket).late_s * 1_000)
    }
}

/// An accuracy row of one partition: route, hour, bucket, method.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RowKey {
    /// The route.
    pub route_id: Arc<str>,
    /// The local hour of the sample.
    pub hour: u8,
    /// The bucket (index in [`BUCKETS`]).
    pub bucket: u8,
    /// The method.
    pub method: Arc<str>,
}

/// The running counts of one accuracy row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Matched within the window.
    pub scored: u64,
    /// Of those, right.
    pub accurate: u64,
    /// Sum of absolute errors, s.
    pub abs_error_sum_s: u64,
    /// Window closed first.
    pub expired: u64,
    /// Of the expired, arrival came later.
    pub late: u64,
    /// Of the expired, arrival never came.
    pub never: u64,
    /// Event time of the last change, ms.
    pub updated_ms: i64,
}

/// Expired samples of one join key, waiting to be told late or never.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expired {
    /// Their rows, one entry per sample, each with the time until which an arrival counts
    /// as late (its window's end plus [`ScoreConfig::remember_s`]), ms; after it, never.
    pub rows: Vec<(RowKey, i64)>,
}

/// A prediction current now, with what its samples are filed under, made once rather than at
/// every instant it is sampled at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    /// The prediction.
    pub prediction: PredictionEvent,
    /// Its join key ([`join_key`]).
    pub join: String,
    /// Its route.
    pub route_id: Arc<str>,
    /// Its method.
    pub method: Arc<str>,
}

impl Current {
    /// `prediction`, with its join key, route and method.
    pub fn new(prediction: PredictionEvent) -> Self {
        Self {
            join: join_key(
                &prediction.vehicle_id,
                &prediction.trip_id,
                &prediction.start_date,
                prediction.start_time.as_deref(),
                prediction.stop_sequence,
            ),
            route_id: Arc::from(prediction.route_id.as_str()),
            method: Arc::from(prediction.method.as_str()),
            prediction,
        }
    }
}

/// Where one partition's scoring stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clocks {
    /// The next 30-second instant to sample, ms (0 before the first prediction).
    pub next_instant_ms: i64,
    /// The latest arrival time seen, ms.
    pub arrivals_ms: i64,
    /// The latest prediction time seen, ms.
    pub predictions_ms: i64,
    /// The next offset to apply of each input topic's partition (replays below it skipped).
    pub next_offsets: Vec<(String, u64)>,
}

/// What changed in one partition's state since it was last taken, for the changelog.
#[derive(Debug, Default)]
pub struct Dirty {
    /// Current predictions changed (or removed).
    pub current: FxHashSet<PredictionKey>,
    /// Pending join keys changed.
    pub pending: FxHashSet<String>,
    /// Arrivals kept changed.
    pub truth: FxHashSet<String>,
    /// Expired keys changed.
    pub expired: FxHashSet<String>,
    /// Accuracy rows changed.
    pub rows: FxHashSet<RowKey>,
    /// The clocks changed.
    pub clocks: bool,
}

/// The scoring state of one partition.
#[derive(Debug, Default)]
pub struct PartitionScore {
    /// Clocks and offsets.
    pub clocks: Clocks,
    /// The predictions current now.
    pub current: FxHashMap<PredictionKey, Current>,
    /// Samples waiting for their arrival, by join key.
    pub pending: FxHashMap<String, Vec<Sample>>,
    /// Arrivals that came before the samples that need them, by join key: when, ms.
    pub truth: FxHashMap<String, i64>,
    /// Expired samples' keys, by join key.
    pub expired: FxHashMap<String, Expired>,
    /// The accuracy rows.
    pub rows: FxHashMap<RowKey, Counts>,
    /// What changed.
    pub dirty: Dirty,
    /// When the kept arrivals are next looked through, in the predictions' time (ms).
    next_eviction_ms: i64,
}

/// The join key of a prediction's visit: vehicle, trip, date, start time, stop place.
pub fn join_key(
    vehicle: &str,
    trip: &str,
    date: &str,
    start_time: Option<&str>,
    stop_sequence: u32,
) -> String {
    format!(
        "{vehicle}|{trip}|{date}|{}|{stop_sequence}",
        start_time.unwrap_or("")
    )
}

impl PartitionScore {
    /// How many samples, kept arrivals and expired keys it holds: what the bound is about.
    pub fn held(&self) -> usize {
        self.pending.values().map(Vec::len).sum::<usize>() + self.truth.len() + self.expired.len()
    }

    /// Applies a prediction (or its withdrawal, `None`) made at `at_ms`, sampling first the
    /// instants before it.
    pub fn prediction(
        &mut self,
        key: PredictionKey,
        prediction: Option<PredictionEvent>,
        at_ms: i64,
        config: &ScoreConfig,
    ) {
        self.sample_until(at_ms, config);
        self.clocks.predictions_ms = self.clocks.predictions_ms.max(at_ms);
        self.dirty.clocks = true;
        self.dirty.current.insert(key.clone());
        match prediction {
            Some(prediction) => {
                self.current.insert(key, Current::new(prediction));
            }
            None => {
                self.current.remove(&key);
            }
        }
        // Kept arrivals no sample can need any more: the predictor withdrew their predictions
        // when it read them, and the predictions' clock is past them. Looked for once a poll
        // interval of the predictions' time, not at every record: safe whenever it is done.
        if self.clocks.predictions_ms >= self.next_eviction_ms {
            let poll_ms = i64::from(config.poll_s.max(1)) * 1_000;
            self.next_eviction_ms = self.clocks.predictions_ms.saturating_add(poll_ms);
            let horizon = self.clocks.predictions_ms.saturating_sub(2 * poll_ms);
            let dirty = &mut self.dirty.truth;
            self.truth.retain(|k, t| {
                let keep = *t >= horizon;
                if !keep {
                    dirty.insert(k.clone());
                }
                keep
            });
        }
    }

    /// Samples the current predictions at every poll instant before `until_ms`.
    fn sample_until(&mut self, until_ms: i64, config: &ScoreConfig) {
        let poll_ms = i64::from(config.poll_s.max(1)) * 1_000;
        if self.clocks.next_instant_ms == 0 {
            self.clocks.next_instant_ms = until_ms.div_euclid(poll_ms) * poll_ms + poll_ms;
            return;
        }
        while self.clocks.next_instant_ms < until_ms {
            let instant = self.clocks.next_instant_ms;
            if self.current.is_empty() {
                // Nothing to see: straight to the instant after the gap.
                self.clocks.next_instant_ms =
                    (until_ms - 1).div_euclid(poll_ms) * poll_ms + poll_ms;
                break;
            }
            let hour = ((instant.div_euclid(1_000) - config.day_start_unix_s)
                .div_euclid(3_600)
                .rem_euclid(24)) as u8;
            // Each sample waits for its arrival, or is scored at once when the arrival was read
            // first; the counts do not depend on the order the samples are taken in.
            let mut resolved = Vec::new();
            for current in self.current.values() {
                let prediction = &current.prediction;
                let horizon = prediction.predicted_arrival_time.saturating_sub(instant);
                if prediction.issued_at > instant {
                    continue;
                }
                let Some(bucket) = bucket_of(horizon) else {
                    continue;
                };
                let sample = Sample {
                    at_ms: instant,
                    predicted_ms: prediction.predicted_arrival_time,
                    row: RowKey {
                        route_id: Arc::clone(&current.route_id),
                        hour,
                        bucket: bucket as u8,
                        method: Arc::clone(&current.method),
                    },
                };
                if let Some(&arrived) = self.truth.get(&current.join) {
                    resolved.push((current.join.clone(), sample, arrived));
                } else if let Some(waiting) = self.pending.get_mut(&current.join) {
                    waiting.push(sample);
                    if !self.dirty.pending.contains(&current.join) {
                        self.dirty.pending.insert(current.join.clone());
                    }
                } else {
                    self.pending.insert(current.join.clone(), vec![sample]);
                    self.dirty.pending.insert(current.join.clone());
                }
            }
            for (key, sample, arrived) in resolved {
                self.resolve(&key, sample, arrived, config);
            }
            self.clocks.next_instant_ms += poll_ms;
        }
    }

    /// Applies an arrival: the truth of the samples waiting for it.
    pub fn arrival(&mut self, arrival: &VehicleArrivalEvent, config: &ScoreConfig) {
        let key = join_key(
            &arrival.vehicle_id,
            &arrival.trip_id,
            &arrival.start_date,
            arrival.start_time.as_deref(),
            arrival.stop_sequence,
        );
        let at = arrival.arrival_time;
        self.clocks.arrivals_ms = self.clocks.arrivals_ms.max(at);
        self.dirty.clocks = true;
        if let Some(samples) = self.pending.remove(&key) {
            self.dirty.pending.insert(key.clone());
            for sample in samples {
                self.resolve(&key, sample, at, config);
            }
        }
        if let Some(expired) = self.expired.remove(&key) {
            self.dirty.expired.insert(key.clone());
            for (row, until) in expired.rows {
                let counts = self.rows.entry(row.clone()).or_default();
                if at <= until {
                    counts.late += 1;
                } else {
                    counts.never += 1;
                }
                counts.updated_ms = counts.updated_ms.max(at);
                self.dirty.rows.insert(row);
            }
        }
        // Kept for the samples still to be taken before it (the predictions' stream may be
        // behind the arrivals'), until the predictions' clock has passed it.
        self.truth.insert(key.clone(), at);
        self.dirty.truth.insert(key);
    }

    /// Scores `sample` against an arrival at `arrived_ms`.
    fn resolve(&mut self, key: &str, sample: Sample, arrived_ms: i64, config: &ScoreConfig) {
        let bucket = bucket(sample.row.bucket);
        let counts = self.rows.entry(sample.row.clone()).or_default();
        counts.updated_ms = counts.updated_ms.max(arrived_ms);
        let deadline = sample.deadline_ms();
        if arrived_ms > deadline {
            // Its window had closed: expired; the arrival came late, or too late to count.
            counts.expired += 1;
            if arrived_ms <= deadline.saturating_add(i64::from(config.remember_s) * 1_000) {
                counts.late += 1;
            } else {
                counts.never += 1;
            }
        } else {
            let error = arrived_ms.saturating_sub(sample.predicted_ms);
            counts.scored += 1;
            counts.accurate += u64::from(bucket.accurate(error));
            counts.abs_error_sum_s += (error.unsigned_abs() + 500) / 1_000;
        }
        let _ = key;
        self.dirty.rows.insert(sample.row);
    }

    /// Closes the windows the arrivals' clock has passed: their samples expire, and expired
    /// keys remembered long enough count as never.
    pub fn expire(&mut self, config: &ScoreConfig) {
        let now = self.clocks.arrivals_ms;
        let mut closed: Vec<(String, Vec<Sample>)> = Vec::new();
        for (key, samples) in &mut self.pending {
            if samples.iter().any(|s| s.deadline_ms() < now) {
                let (gone, kept): (Vec<Sample>, Vec<Sample>) =
                    samples.drain(..).partition(|s| s.deadline_ms() < now);
                *samples = kept;
                closed.push((key.clone(), gone));
            }
        }
        closed.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, gone) in closed {
            if self.pending.get(&key).is_some_and(Vec::is_empty) {
                self.pending.remove(&key);
            }
            self.dirty.pending.insert(key.clone());
            let entry = self.expired.entry(key.clone()).or_default();
            for sample in gone {
                let counts = self.rows.entry(sample.row.clone()).or_default();
                counts.expired += 1;
                counts.updated_ms = counts.updated_ms.max(sample.deadline_ms());
                self.dirty.rows.insert(sample.row.clone());
                let until = sample
                    .deadline_ms()
                    .saturating_add(i64::from(config.remember_s) * 1_000);
                entry.rows.push((sample.row, until));
            }
            self.dirty.expired.insert(key);
        }
        let mut forgotten: Vec<String> = self
            .expired
            .iter()
            .filter(|(_, e)| e.rows.iter().any(|(_, until)| *until < now))
            .map(|(k, _)| k.clone())
            .collect();
        forgotten.sort();
        for key in forgotten {
            let Some(expired) = self.expired.get_mut(&key) else {
                continue;
            };
            let (gone, kept): (Vec<_>, Vec<_>) =
                expired.rows.drain(..).partition(|(_, until)| *until < now);
            expired.rows = kept;
            if expired.rows.is_empty() {
                self.expired.remove(&key);
            }
            for (row, until) in gone {
                let counts = self.rows.entry(row.clone()).or_default();
                counts.never += 1;
                counts.updated_ms = counts.updated_ms.max(until);
                self.dirty.rows.insert(row);
            }
            self.dirty.expired.insert(key);
        }
    }

    /// The accuracy record of `row` for partition `partition`.
    pub fn record(&self, row: &RowKey, partition: u32) -> Option<AccuracyEvent> {
        let counts = self.rows.get(row)?;
        Some(AccuracyEvent {
            route_id: row.route_id.to_string(),
            hour: i32::from(row.hour),
            bucket: bucket(row.bucket).name.to_string(),
            method: row.method.to_string(),
            partition,
            scored: counts.scored,
            accurate: counts.accurate,
            abs_error_sum_s: counts.abs_error_sum_s,
            expired: counts.expired,
            late: counts.late,
            never: counts.never,
            updated_at: counts.updated_ms,
        })
    }
}

/// Accuracy rows summed over partitions, hours and routes: per (bucket, method), the share
/// right and the mean absolute error, as a table prints it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Per (bucket index, method): the counts summed.
    pub cells: std::collections::BTreeMap<(usize, String), Counts>,
}

impl Summary {
    /// Sums `rows` (the accuracy table).
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a AccuracyEvent>) -> Self {
        let mut summary = Summary::default();
        for row in rows {
            let Some(bucket) = BUCKETS.iter().position(|b| b.name == row.bucket) else {
                continue;
            };
            let cell = summary
                .cells
                .entry((bucket, row.method.clone()))
                .or_default();
            cell.scored += row.scored;
            cell.accurate += row.accurate;
            cell.abs_error_sum_s += row.abs_error_sum_s;
            cell.expired += row.expired;
            cell.late += row.late;
            cell.never += row.never;
        }
        summary
    }

    /// The share of samples right (expired ones count as wrong), 0-1; `None` without samples.
    pub fn accuracy(&self, bucket: usize, method: &str) -> Option<f64> {
        let cell = self.cells.get(&(bucket, method.to_string()))?;
        let total = cell.scored + cell.expired;
        (total > 0).then(|| cell.accurate as f64 / total as f64)
    }

    /// The mean absolute error of the samples matched, seconds.
    pub fn mae_s(&self, bucket: usize, method: &str) -> Option<f64> {
        let cell = self.cells.get(&(bucket, method.to_string()))?;
        (cell.scored > 0).then(|| cell.abs_error_sum_s as f64 / cell.scored as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_mbta() {
        assert_eq!(bucket_of(-1), None);
        assert_eq!(bucket_of(0), Some(0));
        assert_eq!(bucket_of(179_999), Some(0));
        assert_eq!(bucket_of(180_000), Some(1));
        assert_eq!(bucket_of(360_000), Some(2));
        assert_eq!(bucket_of(720_000), Some(3));
        assert_eq!(bucket_of(1_800_000), Some(3));
        assert_eq!(bucket_of(1_800_001), None);
        let [short, three, six, twelve] = BUCKETS;
        assert!(short.accurate(-60_000) && short.accurate(60_000));
        assert!(!short.accurate(-60_001) && !short.accurate(60_001));
        assert!(three.accurate(-90_000) && three.accurate(120_000) && !three.accurate(120_001));
        assert!(six.accurate(-150_000) && six.accurate(210_000) && !six.accurate(-150_001));
        assert!(twelve.accurate(-240_000) && twelve.accurate(360_000) && !twelve.accurate(360_001));
    }

    fn prediction(vehicle: &str, seq: u32, predicted_ms: i64, issued_ms: i64) -> PredictionEvent {
        PredictionEvent {
            vehicle_id: vehicle.into(),
            stop_id: format!("s{seq}"),
            method: "learnt".into(),
            route_id: "R".into(),
            trip_id: format!("trip-{vehicle}"),
            start_date: "20250113".into(),
            start_time: None,
            direction_id: None,
            stop_sequence: seq,
            predicted_arrival_time: predicted_ms,
            predicted_departure_time: predicted_ms,
            scheduled_arrival_time: predicted_ms,
            uncertainty_s: None,
            issued_at: issued_ms,
            source_partition: 0,
            source_offset: 0,
        }
    }

    fn arrival(vehicle: &str, seq: u32, at_ms: i64) -> VehicleArrivalEvent {
        VehicleArrivalEvent {
            route_id: "R".into(),
            trip_id: format!("trip-{vehicle}"),
            start_date: "20250113".into(),
            start_time: None,
            direction_id: None,
            stop_id: format!("s{seq}"),
            stop_sequence: seq,
            vehicle_id: vehicle.into(),
            arrival_time: at_ms,
            departure_time: at_ms,
            scheduled_arrival_time: at_ms,
            scheduled_departure_time: at_ms,
            boarded: 0,
            alighted: 0,
        }
    }

    fn put(score: &mut PartitionScore, p: PredictionEvent, config: &ScoreConfig) {
        let key = PredictionKey {
            vehicle_id: p.vehicle_id.clone(),
            stop_id: p.stop_id.clone(),
            method: p.method.clone(),
        };
        let at = p.issued_at;
        score.prediction(key, Some(p), at, config);
    }

    #[test]
    fn samples_every_poll_instant_not_every_reissue() {
        let config = ScoreConfig::default();
        let mut score = PartitionScore::default();
        // Issued at 0 for 10 min ahead, re-issued every 5 s for a minute with the same time.
        for i in 0..=12 {
            put(&mut score, prediction("v", 3, 600_000, i * 5_000), &config);
        }
        // The clock moves to 5 min: instants 30 s .. 270 s sampled (9 of them).
        put(&mut score, prediction("w", 1, 900_000, 300_000), &config);
        let samples: usize = score.pending.values().map(Vec::len).sum();
        assert_eq!(samples, 9);
        score.arrival(&arrival("v", 3, 630_000), &config);
        let row = RowKey {
            route_id: "R".into(),
            hour: 0,
            bucket: 2,
            method: "learnt".into(),
        };
        // Horizons 570..330 s: the 3-6 bucket from 330 s, 6-12 above.
        let six = score.rows.get(&row).copied().unwrap_or_default();
        let three = score
            .rows
            .get(&RowKey { bucket: 1, ..row })
            .copied()
            .unwrap_or_default();
        assert_eq!(six.scored + three.scored, 9);
        assert_eq!(six.accurate + three.accurate, 9, "30 s late is right");
        assert_eq!(six.abs_error_sum_s + three.abs_error_sum_s, 9 * 30);
    }

    #[test]
    fn the_window_is_bounded_and_never_arriving_counted_apart() {
        let config = ScoreConfig {
            remember_s: 600,
            ..ScoreConfig::default()
        };
        let mut score = PartitionScore::default();
        // A vehicle predicted at 2 min ahead every poll for an hour of predictions that move on
        // (a new stop every 2 min), none of them ever reached.
        let mut max_held = 0;
        for minute in 0..120 {
            let now = minute * 60_000;
            put(
                &mut score,
                prediction("ghost", minute as u32, now + 120_000, now),
                &config,
            );
            // Other vehicles' arrivals move the arrivals' clock on.
            score.arrival(&arrival("other", minute as u32, now), &config);
            score.expire(&config);
            max_held = max_held.max(score.held());
        }
        // At most the samples of the stops within the horizon + tolerance, the keys remembered
        // for 10 min, and the arrivals kept: bounded, not growing with the hour.
        assert!(max_held < 60, "held {max_held}");
        let total: Counts = score.rows.values().fold(Counts::default(), |mut a, c| {
            a.expired += c.expired;
            a.never += c.never;
            a.late += c.late;
            a.scored += c.scored;
            a
        });
        assert_eq!(total.scored, 0);
        assert!(total.expired > 100, "{total:?}");
        assert!(total.never > 0 && total.late == 0, "{total:?}");
    }

    #[test]
    fn a_late_arrival_after_its_window_is_counted_late() {
        let config = ScoreConfig::default();
        let mut score = PartitionScore::default();
        put(&mut score, prediction("v", 1, 120_000, 0), &config);
        put(&mut score, prediction("w", 1, 900_000, 60_000), &config);
        // v comes 5 min late: past the 0-3 bucket's 1 min tolerance.
        score.arrival(&arrival("x", 0, 200_000), &config);
        score.expire(&config);
        score.arrival(&arrival("v", 1, 420_000), &config);
        let counts = score
            .rows
            .get(&RowKey {
                route_id: "R".into(),
                hour: 0,
                bucket: 0,
                method: "learnt".into(),
            })
            .copied()
            .unwrap_or_default();
        assert_eq!((counts.scored, counts.expired, counts.late), (0, 1, 1));
    }

    #[test]
    fn an_arrival_read_before_the_samples_still_scores_them() {
        let config = ScoreConfig::default();
        let mut score = PartitionScore::default();
        // The arrivals' stream is ahead of the predictions'.
        score.arrival(&arrival("v", 1, 100_000), &config);
        put(&mut score, prediction("v", 1, 100_000, 0), &config);
        put(&mut score, prediction("w", 1, 900_000, 90_000), &config);
        let counts: u64 = score.rows.values().map(|c| c.scored).sum();
        // Instants 30 s and 60 s (90 s is the record's own time: not yet).
        assert_eq!(counts, 2);
    }
}
