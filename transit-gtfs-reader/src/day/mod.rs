//! One date's service of a feed as [`transit_core::network::service_day::ServiceDay`]: the
//! date taken, its start in the agency's time zone, the routes, the stops, the date's trips
//! (frequency trips expanded into their instances) and the vehicles that run them.
//!
//! Time zones: GTFS requires every agency of a feed to share one time zone, and the day's
//! times count from the first agency's "noon minus 12 h". A feed that breaks the rule
//! (sample-gtfs-feed has Europe/Warsaw and Europe/Berlin) is still run right: each trip's
//! times are read in its own agency's zone and shifted onto the first agency's day (the shift
//! is the difference between the two zones' day starts, 0 for two zones on the same clock).
//! A trip the shift would put before the day's start is left out with a warning.

mod vehicles;

use chrono::{Datelike, NaiveDate};
use rustc_hash::FxHashMap;
use transit_core::model::{LineId, Rgb as CoreRgb, Route as CoreRoute};
use transit_core::network::service_day::{
    ScheduledStop, ScheduledTrip, ServiceDay, StopIndex, StopPlace, VehicleIndex,
};

use crate::error::{GtfsError, Result};
use crate::model::{BlockIdx, Frequency, Rgb, StopIdx, StopTime, TripIdx};
use crate::service::service_day_start;
use crate::Feed;

pub use vehicles::{DEFAULT_MAX_LAYOVER_S, DEFAULT_MIN_LAYOVER_S};

/// WCAG's contrast ratio for normal text (AA): a route's text colour below it is replaced by
/// black or white, whichever reads better.
pub const MIN_TEXT_CONTRAST: f64 = 4.5;

/// How a [`ServiceDay`] is built from a feed ([`Feed::service_day_with`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDayOptions {
    /// Run this date's service whatever the date asked for (`--service-date`); `None` takes
    /// the date asked for, or the same weekday within the feed's calendar when it does not
    /// cover it ([`Feed::service_date`]).
    pub service_date: Option<NaiveDate>,
    /// The shortest time (s) from a vehicle's arrival at a terminal to the next trip it takes
    /// there, when a feed has no `block_id` and runs are paired at the terminals.
    pub min_layover_s: u32,
    /// The longest time (s) past [`ServiceDayOptions::min_layover_s`] a vehicle waits at a
    /// terminal for its next trip; with none in that time it leaves service, and a later trip
    /// takes a new vehicle.
    pub max_layover_s: u32,
}

impl Default for ServiceDayOptions {
    fn default() -> Self {
        ServiceDayOptions {
            service_date: None,
            min_layover_s: DEFAULT_MIN_LAYOVER_S,
            max_layover_s: DEFAULT_MAX_LAYOVER_S,
        }
    }
}

impl Feed {
    /// The service of `requested` (the date simulated), with the default options: see
    /// [`Feed::service_day_with`].
    pub fn service_day(&self, requested: NaiveDate) -> Result<ServiceDay> {
        self.service_day_with(requested, &ServiceDayOptions::default())
    }

    /// The service the feed runs on `requested` (the date simulated): the date's own service
    /// when the feed's calendar covers it, else the same weekday within the calendar (logged),
    /// or [`ServiceDayOptions::service_date`] when given.
    ///
    /// The day's times count from `requested`'s "noon minus 12 h" in the feed's time zone, so
    /// the service of the date taken lands on the date simulated, with that date's
    /// daylight-saving change if it has one.
    ///
    /// The routes are those of the route types read (every route whose trips the feed kept);
    /// every stop is kept. Each trip that runs on the date comes once, or once per instance
    /// of its `frequencies.txt` runs; trips with fewer than two stop times are left out with
    /// a warning. Trips are sorted by first departure. Vehicles: see
    /// [`ServiceDayOptions`] and the crate's documentation.
    pub fn service_day_with(
        &self,
        requested: NaiveDate,
        options: &ServiceDayOptions,
    ) -> Result<ServiceDay> {
        let date = match options.service_date {
            Some(date) => {
                tracing::info!(%requested, %date, weekday = %date.weekday(), "running the service of the date chosen");
                date
            }
            None => {
                let chosen = self.service_date(requested)?;
                let (first, last) = chosen.calendar;
                if chosen.is_substitute() {
                    tracing::info!(
                        %requested,
                        taken = %chosen.taken,
                        "the feed's calendar covers {first} to {last}; running the service of {}, the same weekday ({})",
                        chosen.taken,
                        chosen.taken.weekday()
                    );
                } else {
                    tracing::info!(%requested, "the feed's calendar covers {first} to {last}; running the date's own service");
                }
                chosen.taken
            }
        };
        let tz = self.timezone();
        let start = day_start_unix_s(tz, requested)?;
        let routes = self.day_routes()?;
        let stops = self.day_stops();
        let mut trips = self.day_trips(date, requested, start, &routes)?;
        // Stable: trips leaving together keep the feed's order, so a day is always the same.
        trips.sort_by_key(|t| t.trip.first_departure_s());
        let stations: Vec<StopIndex> = (0..self.stops.len())
            .map(|i| StopIndex(self.root_station(StopIdx(i as u32)).0))
            .collect();
        let vehicles = vehicles::assign(self, &mut trips, &stations, options);
        let trips: Vec<ScheduledTrip> = trips.into_iter().map(|t| t.trip).collect();
        tracing::info!(
            date = %date,
            routes = routes.kept.len(),
            trips = trips.len(),
            vehicles = vehicles.len(),
            "service day built"
        );
        Ok(ServiceDay {
            timezone: tz.name().to_owned(),
            requested,
            date,
            start_unix_s: start,
            routes: routes.kept,
            stops,
            trips,
            vehicles,
        })
    }

    /// The station a stop belongs to (a boarding area's platform's station), or the stop
    /// itself when it has none: where a vehicle turns, whichever platform it uses.
    pub fn root_station(&self, stop: StopIdx) -> StopIdx {
        let mut at = stop;
        // Parents were checked at read time (no circles, at most boarding area -> platform
        // -> station); the bound only keeps a broken model from looping.
        for _ in 0..3 {
            match self.stops.get(at.index()).and_then(|s| s.parent) {
                Some(parent) => at = parent,
                None => break,
            }
        }
        at
    }

    fn day_routes(&self) -> Result<DayRoutes> {
        let mut has_trips = vec![false; self.routes.len()];
        for trip in &self.trips {
            if let Some(has) = has_trips.get_mut(trip.route.index()) {
                *has = true;
            }
        }
        let mut kept = Vec::new();
        let mut ids = vec![None; self.routes.len()];
        for (i, route) in self.routes.iter().enumerate() {
            if !has_trips[i] {
                continue;
            }
            let id = LineId::new(&route.id).map_err(|e| GtfsError::File {
                file: "routes.txt",
                message: format!("route_id {:?}: {e}", route.id),
            })?;
            let (color, text_color) = route_colours(&route.id, route.color, route.text_color);
            ids[i] = Some(id);
            kept.push(CoreRoute {
                id,
                short_name: route.short_name.as_deref().unwrap_or_default().to_owned(),
                long_name: route.long_name.as_deref().unwrap_or_default().to_owned(),
                route_type: route.route_type,
                color,
                text_color,
            });
        }
        Ok(DayRoutes { kept, ids })
    }

    fn day_stops(&self) -> Vec<StopPlace> {
        self.stops
            .iter()
            .map(|stop| {
                // A node or boarding area may have no name: its parent's, else its id.
                let name = stop
                    .name
                    .as_deref()
                    .or_else(|| {
                        stop.parent
                            .and_then(|p| self.stops.get(p.index()))
                            .and_then(|p| p.name.as_deref())
                    })
                    .unwrap_or(&stop.id);
                StopPlace {
                    id: stop.id.to_string(),
                    name: name.to_owned(),
                    location: stop.lat.zip(stop.lon),
                    parent: stop.parent.map(|p| StopIndex(p.0)),
                }
            })
            .collect()
    }

    fn day_trips(
        &self,
        date: NaiveDate,
        requested: NaiveDate,
        start: i64,
        routes: &DayRoutes,
    ) -> Result<Vec<DayTrip>> {
        // Each agency's day start against the feed's: 0 unless the feed breaks GTFS's rule of
        // one time zone for all its agencies.
        let mut shifts = Vec::with_capacity(self.agencies.len());
        for agency in &self.agencies {
            shifts.push(day_start_unix_s(agency.timezone, requested)? - start);
        }
        if let Some(other) = self
            .agencies
            .iter()
            .skip(1)
            .find(|a| a.timezone != self.timezone())
        {
            tracing::warn!(
                feed_zone = self.timezone().name(),
                agency = &*other.name,
                zone = other.timezone.name(),
                "the feed's agencies are in different time zones (GTFS wants one); each trip's times are read in its agency's zone"
            );
        }
        let mut frequencies: FxHashMap<TripIdx, Vec<&Frequency>> = FxHashMap::default();
        for f in &self.frequencies {
            frequencies.entry(f.trip).or_default().push(f);
        }
        let mut out = Vec::new();
        let mut short = Vec::new();
        let mut before_start = Vec::new();
        for idx in self.trips_on(date) {
            let trip = &self.trips[idx.index()];
            let times = self.trip_stop_times(idx);
            if times.len() < 2 {
                short.push(&*trip.id);
                continue;
            }
            let Some(route) = routes.ids.get(trip.route.index()).copied().flatten() else {
                continue;
            };
            let shift = self
                .routes
                .get(trip.route.index())
                .and_then(|r| shifts.get(r.agency.index()))
                .copied()
                .unwrap_or(0);
            let base = ScheduledTrip {
                trip_id: trip.id.to_string(),
                route,
                direction_id: trip.direction,
                frequency_start_s: None,
                exact_times: false,
                shape_id: trip
                    .shape
                    .and_then(|s| self.shapes.get(s.index()))
                    .map(|s| s.id.to_string()),
                vehicle: VehicleIndex(0),
                stops: Vec::new(),
            };
            match frequencies.get(&idx) {
                None => match scheduled_stops(times, 0, shift) {
                    Some(stops) => out.push(DayTrip {
                        trip: ScheduledTrip { stops, ..base },
                        block: trip.block,
                    }),
                    None => before_start.push(&*trip.id),
                },
                Some(runs) => {
                    // The stop times give the pattern: offsets from the first departure.
                    let first = i64::from(times[0].departure);
                    for f in runs {
                        let mut at = f.start;
                        while at < f.end {
                            let offset = i64::from(at) - first;
                            match (
                                scheduled_stops(times, offset, shift),
                                u32::try_from(i64::from(at) + shift),
                            ) {
                                (Some(stops), Ok(begins)) => out.push(DayTrip {
                                    trip: ScheduledTrip {
                                        frequency_start_s: Some(begins),
                                        exact_times: f.exact_times,
                                        stops,
                                        ..base.clone()
                                    },
                                    block: trip.block,
                                }),
                                _ => before_start.push(&*trip.id),
                            }
                            at = at.saturating_add(f.headway_secs);
                        }
                    }
                }
            }
        }
        if let Some(first) = short.first() {
            tracing::warn!(
                trips = short.len(),
                first,
                "trips with fewer than two stop times left out"
            );
        }
        if let Some(first) = before_start.first() {
            tracing::warn!(
                trips = before_start.len(),
                first,
                "trips (or frequency instances) that their agency's time zone puts before the feed's day start left out"
            );
        }
        Ok(out)
    }
}

/// A trip of the day and its block, until vehicles are assigned.
struct DayTrip {
    trip: ScheduledTrip,
    block: Option<BlockIdx>,
}

/// The routes kept and the [`LineId`] of each route of the feed (`None`: left out).
struct DayRoutes {
    kept: Vec<CoreRoute>,
    ids: Vec<Option<LineId>>,
}

/// A trip's stops with its times moved by `offset` (a frequency instance) and `shift` (its
/// agency's zone); `None` if a time falls outside `u32` seconds from the day start. The first
/// stop's arrival alone may be brought up to the day's start (an instance leaving at 00:00:00
/// of a pattern that waits at its first stop): riders board at the departure.
fn scheduled_stops(times: &[StopTime], offset: i64, shift: i64) -> Option<Vec<ScheduledStop>> {
    let at = |t: u32| u32::try_from(i64::from(t) + offset + shift).ok();
    times
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let departure_s = at(st.departure)?;
            let arrival_s = match at(st.arrival) {
                None if i == 0 => 0,
                arrival => arrival?,
            };
            Some(ScheduledStop {
                stop: StopIndex(st.stop.0),
                arrival_s,
                departure_s,
                stop_sequence: st.sequence,
            })
        })
        .collect()
}

/// The Unix second `date`'s times count from in `tz`.
fn day_start_unix_s(tz: chrono_tz::Tz, date: NaiveDate) -> Result<i64> {
    service_day_start(tz, date)
        .map(|start| start.timestamp())
        .ok_or(GtfsError::NoDayStart {
            date,
            timezone: tz.name(),
        })
}

/// A route's colours as GTFS defines them (white, black text, when left out), the text
/// colour replaced (and logged) when it would not read on the route's colour.
fn route_colours(route_id: &str, color: Option<Rgb>, text: Option<Rgb>) -> (CoreRgb, CoreRgb) {
    let color = color.map_or(CoreRgb::WHITE, |c| CoreRgb(c.0));
    let given = text.map_or(CoreRgb::BLACK, |c| CoreRgb(c.0));
    let contrast = color.contrast(given);
    if contrast >= MIN_TEXT_CONTRAST {
        return (color, given);
    }
    let readable = color.readable_text();
    tracing::warn!(
        route_id,
        route_color = %color,
        route_text_color = %given,
        given = text.is_some(),
        contrast = format_args!("{contrast:.2}"),
        replaced_by = %readable,
        "a route's text colour would not read on its colour (contrast under {MIN_TEXT_CONTRAST}:1)"
    );
    (color, readable)
}

#[cfg(test)]
mod tests;
