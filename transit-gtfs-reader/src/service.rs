//! Which trips run on a date: `calendar.txt` and `calendar_dates.txt`, and the date taken
//! instead when the feed's calendar does not cover the one asked for.

use std::fmt;

use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;

use crate::error::{GtfsError, Result};
use crate::model::{Service, ServiceIdx, TripIdx};
use crate::Feed;

/// The service date a run uses: the one asked for, or the one taken in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceDate {
    /// The date asked for.
    pub requested: NaiveDate,
    /// The date whose service runs: `requested` when the feed's calendar covers it, else the
    /// same weekday within the calendar's range, the nearest one with service.
    pub taken: NaiveDate,
    /// The first and last date of the feed's calendar.
    pub calendar: (NaiveDate, NaiveDate),
}

impl ServiceDate {
    /// True when the feed's calendar did not cover the date asked for.
    pub fn is_substitute(&self) -> bool {
        self.requested != self.taken
    }
}

impl fmt::Display for ServiceDate {
    /// What a log line says: the date taken and, if it is a substitute, why.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_substitute() {
            write!(
                f,
                "{} ({}), taken for {} as the feed's calendar runs {} to {}",
                self.taken,
                self.taken.weekday(),
                self.requested,
                self.calendar.0,
                self.calendar.1
            )
        } else {
            write!(f, "{} ({})", self.taken, self.taken.weekday())
        }
    }
}

impl Service {
    /// Whether the service runs on `date`.
    pub fn runs_on(&self, date: NaiveDate) -> bool {
        if self.added.binary_search(&date).is_ok() {
            return true;
        }
        if self.removed.binary_search(&date).is_ok() {
            return false;
        }
        self.range.is_some_and(|(start, end)| {
            start <= date
                && date <= end
                && self.weekdays & (1 << date.weekday().num_days_from_monday()) != 0
        })
    }
}

/// The instant a service day's times count from: noon minus 12 hours in the zone, which is
/// midnight except on the days clocks change (GTFS's definition).
pub fn service_day_start(tz: Tz, date: NaiveDate) -> Option<chrono::DateTime<Tz>> {
    let noon = date.and_hms_opt(12, 0, 0)?;
    Some(tz.from_local_datetime(&noon).earliest()? - Duration::hours(12))
}

impl Feed {
    /// The first and last date any service of the feed runs, if any does.
    pub fn calendar_range(&self) -> Option<(NaiveDate, NaiveDate)> {
        let dates = self.services.iter().flat_map(|s| {
            let range = s.range.into_iter().flat_map(|(a, b)| [a, b]);
            range.chain(s.added.iter().copied())
        });
        let (mut lo, mut hi) = (None::<NaiveDate>, None::<NaiveDate>);
        for d in dates {
            lo = Some(lo.map_or(d, |l| l.min(d)));
            hi = Some(hi.map_or(d, |h| h.max(d)));
        }
        lo.zip(hi)
    }

    /// Whether a service runs on `date`.
    pub fn runs_on(&self, service: ServiceIdx, date: NaiveDate) -> bool {
        self.services
            .get(service.index())
            .is_some_and(|s| s.runs_on(date))
    }

    /// The trips (of the routes kept) that run on `date`.
    pub fn trips_on(&self, date: NaiveDate) -> Vec<TripIdx> {
        let active: Vec<bool> = self.services.iter().map(|s| s.runs_on(date)).collect();
        self.trips
            .iter()
            .enumerate()
            .filter(|(_, t)| active.get(t.service.index()).copied().unwrap_or(false))
            .map(|(i, _)| TripIdx(i as u32))
            .collect()
    }

    /// The date whose service to run for `requested`: itself if the feed's calendar covers
    /// it (even a day with no service, such as a holiday); otherwise the same weekday within
    /// the calendar, the nearest to `requested` on which trips run (or the nearest at all if
    /// none do), or the nearest date of a calendar shorter than a week without that weekday.
    /// The caller logs [`ServiceDate`] so a run says which date it took.
    pub fn service_date(&self, requested: NaiveDate) -> Result<ServiceDate> {
        let (first, last) = self.calendar_range().ok_or(GtfsError::NoService)?;
        let calendar = (first, last);
        if first <= requested && requested <= last {
            return Ok(ServiceDate {
                requested,
                taken: requested,
                calendar,
            });
        }
        let weekday = requested.weekday().num_days_from_monday() as i64;
        let shift = |from: NaiveDate, days: i64| from.checked_add_signed(Duration::days(days));
        // The same weekdays of the calendar, nearest to `requested` first.
        let mut candidates = Vec::new();
        if requested < first {
            let ahead = (weekday - first.weekday().num_days_from_monday() as i64).rem_euclid(7);
            let mut d = shift(first, ahead);
            while let Some(day) = d.filter(|d| *d <= last) {
                candidates.push(day);
                d = shift(day, 7);
            }
        } else {
            let back = (last.weekday().num_days_from_monday() as i64 - weekday).rem_euclid(7);
            let mut d = shift(last, -back);
            while let Some(day) = d.filter(|d| *d >= first) {
                candidates.push(day);
                d = shift(day, -7);
            }
        }
        let mut has_trips = vec![false; self.services.len()];
        for t in &self.trips {
            if let Some(h) = has_trips.get_mut(t.service.index()) {
                *h = true;
            }
        }
        let with_trips = candidates.iter().copied().find(|d| {
            self.services
                .iter()
                .zip(&has_trips)
                .any(|(s, has)| *has && s.runs_on(*d))
        });
        let nearest_end = if requested < first { first } else { last };
        let taken = with_trips
            .or_else(|| candidates.first().copied())
            .unwrap_or(nearest_end);
        Ok(ServiceDate {
            requested,
            taken,
            calendar,
        })
    }
}
