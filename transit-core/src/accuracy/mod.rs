//! The accuracy read model: the prediction scorer's table (`<prefix>.predictions.accuracy.v1`,
//! one [`AccuracyEvent`] per route, hour, horizon bucket, method and partition) summed over
//! partitions, as the boards show it.
//!
//! - [`AccuracyModel`] applies accuracy rows and their tombstones; plain data with no I/O, so
//!   tests drive it directly.
//! - [`AccuracySnapshot`] is the model at one moment: per route, per bucket and method the
//!   predictions scored, the share accurate, the mean absolute error, and those that came late
//!   or never; and per hour the share accurate of the [`CHART_METHOD`], for the boards' chart.
//!   `/api/accuracy` returns it (serde).
//! - [`AccuracyService`] feeds a model from any [`crate::EventBus`] and publishes snapshots on
//!   a watch channel.
//!
//! It lives here, beside the records, so that CTA's dashboard and any agency's board both use
//! it without depending on the predictor's crate.
//!
//! A prediction sample is right when its vehicle came within its bucket's tolerance; a sample
//! whose window closed before its vehicle came (late, or never) counts as wrong. So the share
//! accurate is `accurate / (scored + expired)`, and the mean absolute error is over the
//! samples matched (`scored`), as the scorer's own summary counts them.

mod service;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::{AccuracyEvent, AccuracyKey};

pub use service::{AccuracyService, AccuracyStats, CONSUMER};

/// MBTA's horizon buckets as the scorer names them, the shortest first.
pub const BUCKETS: [&str; 4] = ["0-3", "3-6", "6-12", "12-30"];

/// The methods the boards show side by side, the one riders are served first: the name the
/// scorer gives each, and its label.
pub const METHODS: [(&str, &str); 4] = [
    ("learnt", "Learnt"),
    ("delay", "Timetable + delay"),
    ("timetable", "Timetable"),
    ("latest_segment", "Latest segment"),
];

/// The method whose accuracy per hour the boards chart: the one riders are served.
pub const CHART_METHOD: &str = "learnt";

/// The label of `method` on the boards: [`METHODS`]' one, else its name.
pub fn method_label(method: &str) -> &str {
    METHODS
        .iter()
        .find(|(name, _)| *name == method)
        .map_or(method, |(_, label)| label)
}

/// Counts of prediction samples, summed over the rows of a cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Samples whose arrival came within their window.
    pub scored: u64,
    /// Of those, the ones within the bucket's tolerance.
    pub accurate: u64,
    /// The scored ones' absolute errors summed, seconds.
    pub abs_error_sum_s: u64,
    /// Samples whose window closed before their arrival came (wrong).
    pub expired: u64,
    /// Of the expired, those whose arrival came afterwards.
    pub late: u64,
    /// Of the expired, those whose arrival never came.
    pub never: u64,
}

impl Tally {
    /// Adds `row`'s counts (saturating: a damaged row cannot wrap the sums).
    fn add(&mut self, row: &AccuracyEvent) {
        self.scored = self.scored.saturating_add(row.scored);
        self.accurate = self.accurate.saturating_add(row.accurate);
        self.abs_error_sum_s = self.abs_error_sum_s.saturating_add(row.abs_error_sum_s);
        self.expired = self.expired.saturating_add(row.expired);
        self.late = self.late.saturating_add(row.late);
        self.never = self.never.saturating_add(row.never);
    }

    /// Every sample counted: scored and expired.
    pub fn samples(&self) -> u64 {
        self.scored.saturating_add(self.expired)
    }

    /// The share of samples accurate, percent; `None` without samples.
    pub fn accurate_pct(&self) -> Option<f64> {
        let samples = self.samples();
        (samples > 0).then(|| 100.0 * self.accurate.min(samples) as f64 / samples as f64)
    }

    /// The mean absolute error of the scored samples, seconds; `None` without any.
    pub fn mae_s(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.abs_error_sum_s as f64 / self.scored as f64)
    }
}

/// One bucket and method of a route: its counts and figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyCell {
    /// The horizon bucket (`0-3`, `3-6`, `6-12`, `12-30`).
    pub bucket: String,
    /// The method.
    pub method: String,
    /// The counts, summed over partitions and hours.
    #[serde(flatten)]
    pub tally: Tally,
    /// The share accurate, percent (`accurate / (scored + expired)`); `None` without samples.
    pub accurate_pct: Option<f64>,
    /// The mean absolute error of the scored samples, seconds.
    pub mae_s: Option<f64>,
}

impl AccuracyCell {
    fn new(bucket: &str, method: &str, tally: Tally) -> Self {
        Self {
            bucket: bucket.to_string(),
            method: method.to_string(),
            tally,
            accurate_pct: tally.accurate_pct(),
            mae_s: tally.mae_s(),
        }
    }
}

/// One hour of the day of a route, for the chart: the [`CHART_METHOD`]'s samples over every
/// bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourAccuracy {
    /// The local hour the predictions were sampled at (past 23 for a service day's trips
    /// after midnight).
    pub hour: i32,
    /// The counts, summed over partitions and buckets.
    #[serde(flatten)]
    pub tally: Tally,
    /// The share accurate, percent.
    pub accurate_pct: Option<f64>,
}

/// A route's accuracy: every bucket with every method, and the chart's hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteAccuracy {
    /// The route (the static feed's `route_id`).
    pub route_id: String,
    /// Per bucket (in [`BUCKETS`]' order), per method (the [`METHODS`] in order, then any
    /// other the scorer named): every pair, with zero counts where none was scored.
    pub cells: Vec<AccuracyCell>,
    /// The methods of `cells`, in their order.
    pub methods: Vec<String>,
    /// The hours with [`CHART_METHOD`] samples, in order.
    pub hours: Vec<HourAccuracy>,
}

impl RouteAccuracy {
    /// The cell of `bucket` and `method`.
    pub fn cell(&self, bucket: &str, method: &str) -> Option<&AccuracyCell> {
        self.cells
            .iter()
            .find(|cell| cell.bucket == bucket && cell.method == method)
    }
}

/// The accuracy table summed, as the boards render it and `/api/accuracy` returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccuracySnapshot {
    /// Grows with every change applied.
    pub version: u64,
    /// The latest event time of a row, milliseconds since the Unix epoch.
    pub updated_at: Option<i64>,
    /// Per route, by `route_id`.
    pub routes: Vec<RouteAccuracy>,
}

impl AccuracySnapshot {
    /// The accuracy of `route_id`, if any prediction of it was scored.
    pub fn route(&self, route_id: &str) -> Option<&RouteAccuracy> {
        self.routes.iter().find(|route| route.route_id == route_id)
    }
}

/// The accuracy table as last seen: the latest row of each key (route, hour, bucket, method,
/// partition), as a compacted topic keeps it.
#[derive(Debug, Clone, Default)]
pub struct AccuracyModel {
    rows: BTreeMap<AccuracyKey, AccuracyEvent>,
    version: u64,
}

impl AccuracyModel {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Grows with every change applied.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Rows held (one per key).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Puts `row` in place of the one with its key (the scorer publishes running totals, so
    /// the latest row is the whole count). The same row again changes nothing.
    pub fn apply(&mut self, row: &AccuracyEvent) {
        let key = row.key();
        if self.rows.get(&key) == Some(row) {
            return;
        }
        self.rows.insert(key, row.clone());
        self.version += 1;
    }

    /// Removes the row of `key` (a tombstone).
    pub fn remove(&mut self, key: &AccuracyKey) {
        if self.rows.remove(key).is_some() {
            self.version += 1;
        }
    }

    /// The table summed over partitions: per route, bucket and method, and per hour.
    pub fn snapshot(&self) -> AccuracySnapshot {
        #[derive(Default)]
        struct Route<'a> {
            cells: BTreeMap<(usize, &'a str), Tally>,
            hours: BTreeMap<i32, Tally>,
        }
        let mut routes: BTreeMap<&str, Route<'_>> = BTreeMap::new();
        let mut updated_at: Option<i64> = None;
        for row in self.rows.values() {
            // A bucket the boards do not know (a later scorer's) has no place on them.
            let Some(bucket) = BUCKETS.iter().position(|b| *b == row.bucket) else {
                continue;
            };
            updated_at = Some(updated_at.map_or(row.updated_at, |at| at.max(row.updated_at)));
            let route = routes.entry(row.route_id.as_str()).or_default();
            route
                .cells
                .entry((bucket, row.method.as_str()))
                .or_default()
                .add(row);
            if row.method == CHART_METHOD {
                route.hours.entry(row.hour).or_default().add(row);
            }
        }
        let routes = routes
            .into_iter()
            .map(|(route_id, route)| {
                let mut methods: Vec<String> =
                    METHODS.iter().map(|(name, _)| name.to_string()).collect();
                for (_, method) in route.cells.keys() {
                    if !methods.iter().any(|m| m == method) {
                        methods.push(method.to_string());
                    }
                }
                let cells = BUCKETS
                    .iter()
                    .enumerate()
                    .flat_map(|(index, bucket)| {
                        let cells = &route.cells;
                        methods.iter().map(move |method| {
                            let tally = cells
                                .get(&(index, method.as_str()))
                                .copied()
                                .unwrap_or_default();
                            AccuracyCell::new(bucket, method, tally)
                        })
                    })
                    .collect();
                let hours = route
                    .hours
                    .into_iter()
                    .map(|(hour, tally)| HourAccuracy {
                        hour,
                        tally,
                        accurate_pct: tally.accurate_pct(),
                    })
                    .collect();
                RouteAccuracy {
                    route_id: route_id.to_string(),
                    cells,
                    methods,
                    hours,
                }
            })
            .collect();
        AccuracySnapshot {
            version: self.version,
            updated_at,
            routes,
        }
    }
}

#[cfg(test)]
mod tests;
