//! Reading the files of a feed into the model, in dependency order, each reference checked.

use std::io::Read;

use chrono::NaiveDate;
use chrono_tz::Tz;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Deserialize;

use crate::error::{GtfsError, Result};
use crate::model::*;
use crate::source::Source;
use crate::table::Table;
use crate::{Feed, ReadOptions};

/// A stop time whose arrival or departure the feed left out, until interpolated.
const NO_TIME: u32 = u32::MAX;

pub(crate) fn read_feed(mut src: Source, options: &ReadOptions) -> Result<Feed> {
    let mut feed = Feed::default();
    required(&mut src, "agency.txt", |t| read_agencies(t, &mut feed))?;
    required(&mut src, "routes.txt", |t| read_routes(t, &mut feed))?;
    let kept_routes: Vec<bool> = feed
        .routes
        .iter()
        .map(|r| options.keeps(r.route_type))
        .collect();
    let mut stop_lines = Vec::new();
    required(&mut src, "stops.txt", |t| {
        read_stops(t, &mut feed, &mut stop_lines)
    })?;
    check_parents(&feed, &stop_lines)?;
    let calendar = optional(&mut src, "calendar.txt", |t| read_calendar(t, &mut feed))?;
    let dates = optional(&mut src, "calendar_dates.txt", |t| {
        read_calendar_dates(t, &mut feed)
    })?;
    if calendar.is_none() && dates.is_none() {
        return Err(GtfsError::MissingFile {
            file: "calendar.txt",
        });
    }
    let mut skipped = FxHashSet::default();
    let mut shape_ids = FxHashMap::default();
    required(&mut src, "trips.txt", |t| {
        read_trips(t, &mut feed, &kept_routes, &mut skipped, &mut shape_ids)
    })?;
    // Each stop time's shape_dist_traveled, only while the untimed stops are interpolated (and
    // only if the feed gives any): 4 bytes a stop time the model does not keep.
    let mut distances = Vec::new();
    required(&mut src, "stop_times.txt", |t| {
        read_stop_times(t, &mut feed, &skipped, &mut distances)
    })?;
    finish_stop_times(&mut feed, distances)?;
    optional(&mut src, "frequencies.txt", |t| {
        read_frequencies(t, &mut feed, &skipped)
    })?;
    optional(&mut src, "shapes.txt", |t| {
        read_shapes(t, &mut feed, &shape_ids)
    })?;
    // A trip naming a shape shapes.txt does not have: GTFS requires it to exist.
    if let Some((id, _)) = shape_ids.iter().find(|(_, idx)| {
        feed.shapes
            .get(idx.index())
            .is_none_or(|s| s.points.is_empty())
    }) {
        return Err(GtfsError::File {
            file: "trips.txt",
            message: format!("shape_id {id:?} is not in shapes.txt"),
        });
    }
    tracing::debug!(
        routes = feed.routes.len(),
        stops = feed.stops.len(),
        trips = feed.trips.len(),
        stop_times = feed.stop_times.len(),
        "GTFS feed read"
    );
    Ok(feed)
}

fn required(
    src: &mut Source,
    file: &'static str,
    read: impl FnOnce(&mut dyn Read) -> Result<()>,
) -> Result<()> {
    src.with_file(file, read)?
        .ok_or(GtfsError::MissingFile { file })
}

fn optional(
    src: &mut Source,
    file: &'static str,
    read: impl FnOnce(&mut dyn Read) -> Result<()>,
) -> Result<Option<()>> {
    src.with_file(file, read)
}

fn boxed(value: Option<&str>) -> Option<Box<str>> {
    value.filter(|v| !v.is_empty()).map(Box::from)
}

fn parse_tz(t: &Table<'_>, field: &str, value: &str) -> Result<Tz> {
    value
        .parse()
        .map_err(|_| t.error(field, format!("{value:?} is not an IANA time zone")))
}

#[derive(Deserialize)]
struct RawAgency<'a> {
    #[serde(borrow)]
    agency_id: Option<&'a str>,
    #[serde(borrow)]
    agency_name: Option<&'a str>,
    #[serde(borrow)]
    agency_timezone: Option<&'a str>,
}

fn read_agencies(input: &mut dyn Read, feed: &mut Feed) -> Result<()> {
    let mut t = Table::new("agency.txt", input, &["agency_name", "agency_timezone"])?;
    while t.advance()? {
        let raw: RawAgency<'_> = t.row()?;
        let name = t.required("agency_name", raw.agency_name)?;
        let tz = t.required("agency_timezone", raw.agency_timezone)?;
        let timezone = parse_tz(&t, "agency_timezone", tz)?;
        feed.agencies.push(Agency {
            id: boxed(raw.agency_id),
            name: name.into(),
            timezone,
        });
    }
    if feed.agencies.is_empty() {
        return Err(GtfsError::File {
            file: "agency.txt",
            message: "no agency".to_owned(),
        });
    }
    Ok(())
}

#[derive(Deserialize)]
struct RawRoute<'a> {
    #[serde(borrow)]
    route_id: Option<&'a str>,
    #[serde(borrow)]
    agency_id: Option<&'a str>,
    #[serde(borrow)]
    route_short_name: Option<&'a str>,
    #[serde(borrow)]
    route_long_name: Option<&'a str>,
    #[serde(borrow)]
    route_type: Option<&'a str>,
    #[serde(borrow)]
    route_color: Option<&'a str>,
    #[serde(borrow)]
    route_text_color: Option<&'a str>,
}

fn parse_rgb(t: &Table<'_>, field: &str, value: Option<&str>) -> Result<Option<Rgb>> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let bad = || t.error(field, format!("{v:?} is not a colour of six hex digits"));
    if v.len() != 6 || !v.is_ascii() {
        return Err(bad());
    }
    let byte = |i: usize| u8::from_str_radix(&v[i..i + 2], 16).map_err(|_| bad());
    Ok(Some(Rgb([byte(0)?, byte(2)?, byte(4)?])))
}

fn read_routes(input: &mut dyn Read, feed: &mut Feed) -> Result<()> {
    let mut t = Table::new("routes.txt", input, &["route_id", "route_type"])?;
    while t.advance()? {
        let raw: RawRoute<'_> = t.row()?;
        let id = t.required("route_id", raw.route_id)?;
        let agency = match raw.agency_id.filter(|a| !a.is_empty()) {
            Some(a) => feed
                .agencies
                .iter()
                .position(|ag| ag.id.as_deref() == Some(a))
                .ok_or_else(|| t.error("agency_id", format!("{a:?} is not in agency.txt")))?,
            None if feed.agencies.len() == 1 => 0,
            None => {
                return Err(t.error("agency_id", "empty, but the feed has more than one agency"))
            }
        };
        let route_type = t.required("route_type", raw.route_type)?;
        let route_type = t.parse("route_type", route_type, "a route type (a number)")?;
        let idx = RouteIdx(feed.routes.len() as u32);
        if feed.route_ids.insert(id.into(), idx).is_some() {
            return Err(t.error("route_id", format!("{id:?} appears twice")));
        }
        feed.routes.push(Route {
            id: id.into(),
            agency: AgencyIdx(agency as u32),
            short_name: boxed(raw.route_short_name),
            long_name: boxed(raw.route_long_name),
            route_type,
            color: parse_rgb(&t, "route_color", raw.route_color)?,
            text_color: parse_rgb(&t, "route_text_color", raw.route_text_color)?,
        });
    }
    Ok(())
}

#[derive(Deserialize)]
struct RawStop<'a> {
    #[serde(borrow)]
    stop_id: Option<&'a str>,
    #[serde(borrow)]
    stop_code: Option<&'a str>,
    #[serde(borrow)]
    stop_name: Option<&'a str>,
    #[serde(borrow)]
    stop_lat: Option<&'a str>,
    #[serde(borrow)]
    stop_lon: Option<&'a str>,
    #[serde(borrow)]
    location_type: Option<&'a str>,
    #[serde(borrow)]
    parent_station: Option<&'a str>,
    #[serde(borrow)]
    stop_timezone: Option<&'a str>,
}

fn read_stops(input: &mut dyn Read, feed: &mut Feed, lines: &mut Vec<u64>) -> Result<()> {
    let mut t = Table::new("stops.txt", input, &["stop_id"])?;
    // Parents may come after their children: resolved once every stop is read.
    let mut parents: Vec<(u32, Box<str>, u64)> = Vec::new();
    while t.advance()? {
        let raw: RawStop<'_> = t.row()?;
        let id = t.required("stop_id", raw.stop_id)?;
        let location_type = match raw.location_type.unwrap_or("") {
            "" | "0" => LocationType::Platform,
            "1" => LocationType::Station,
            "2" => LocationType::Entrance,
            "3" => LocationType::GenericNode,
            "4" => LocationType::BoardingArea,
            other => {
                return Err(t.error(
                    "location_type",
                    format!("{other:?} is not a location type (0 to 4)"),
                ))
            }
        };
        let coordinate = |field: &str, v: Option<&str>, limit: f64| -> Result<Option<f64>> {
            match v.filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => {
                    let x: f64 = t.parse(field, v, "a number of degrees")?;
                    if x.is_finite() && x.abs() <= limit {
                        Ok(Some(x))
                    } else {
                        Err(t.error(field, format!("{v} is out of range")))
                    }
                }
            }
        };
        let lat = coordinate("stop_lat", raw.stop_lat, 90.0)?;
        let lon = coordinate("stop_lon", raw.stop_lon, 180.0)?;
        if matches!(
            location_type,
            LocationType::Platform | LocationType::Station | LocationType::Entrance
        ) && (lat.is_none() || lon.is_none())
        {
            let field = if lat.is_none() {
                "stop_lat"
            } else {
                "stop_lon"
            };
            return Err(t.error(field, "empty, but GTFS requires it for this location type"));
        }
        let timezone = match raw.stop_timezone.filter(|v| !v.is_empty()) {
            Some(v) => Some(parse_tz(&t, "stop_timezone", v)?),
            None => None,
        };
        let idx = feed.stops.len() as u32;
        if feed.stop_ids.insert(id.into(), StopIdx(idx)).is_some() {
            return Err(t.error("stop_id", format!("{id:?} appears twice")));
        }
        if let Some(p) = raw.parent_station.filter(|p| !p.is_empty()) {
            parents.push((idx, p.into(), t.line()));
        }
        lines.push(t.line());
        feed.stops.push(Stop {
            id: id.into(),
            code: boxed(raw.stop_code),
            name: boxed(raw.stop_name),
            lat,
            lon,
            location_type,
            parent: None,
            timezone,
        });
    }
    for (child, parent, line) in parents {
        let p = feed
            .stop_ids
            .get(&parent)
            .copied()
            .ok_or_else(|| GtfsError::Field {
                file: "stops.txt",
                line,
                field: "parent_station".to_owned(),
                message: format!("{parent:?} is not a stop_id of stops.txt"),
            })?;
        feed.stops[child as usize].parent = Some(p);
    }
    Ok(())
}

/// A circle of parents first (its own, clearer error), then each parent's type: a station has
/// no parent; platforms, entrances and nodes have a station; a boarding area has a platform.
fn check_parents(feed: &Feed, lines: &[u64]) -> Result<()> {
    let err = |own: usize, stop: &Stop, message: String| GtfsError::Field {
        file: "stops.txt",
        line: lines.get(own).copied().unwrap_or(0),
        field: "parent_station".to_owned(),
        message: format!("stop_id {:?}: {message}", stop.id),
    };
    for (own, stop) in feed.stops.iter().enumerate() {
        // Followed until it ends, comes back to the stop, or runs longer than the deepest
        // legal chain (boarding area, platform, station): the type checks below name that.
        let mut chain = vec![&*stop.id];
        let mut at = stop.parent;
        while let Some(p) = at {
            chain.push(&*feed.stops[p.index()].id);
            if p.index() == own {
                return Err(err(
                    own,
                    stop,
                    format!("a circle of parent stations: {}", chain.join(" -> ")),
                ));
            }
            if chain.len() > 4 {
                break;
            }
            at = feed.stops[p.index()].parent;
        }
    }
    for (own, stop) in feed.stops.iter().enumerate() {
        let Some(p) = stop.parent else { continue };
        let parent = &feed.stops[p.index()];
        let wanted = match stop.location_type {
            LocationType::Station => {
                return Err(err(
                    own,
                    stop,
                    format!(
                        "a station cannot have a parent station, yet names {:?}",
                        parent.id
                    ),
                ))
            }
            LocationType::BoardingArea => LocationType::Platform,
            _ => LocationType::Station,
        };
        if parent.location_type != wanted {
            return Err(err(
                own,
                stop,
                format!(
                    "its parent {:?} is a {:?}, not a {:?} (location_type {})",
                    parent.id,
                    parent.location_type,
                    wanted,
                    if wanted == LocationType::Station {
                        1
                    } else {
                        0
                    }
                ),
            ));
        }
    }
    Ok(())
}

pub(crate) fn parse_date(t: &Table<'_>, field: &str, value: Option<&str>) -> Result<NaiveDate> {
    let v = t.required(field, value)?;
    NaiveDate::parse_from_str(v, "%Y%m%d")
        .ok()
        .filter(|_| v.len() == 8)
        .ok_or_else(|| t.error(field, format!("{v:?} is not a date YYYYMMDD")))
}

fn service_idx(feed: &mut Feed, id: &str) -> ServiceIdx {
    if let Some(&idx) = feed.service_ids.get(id) {
        return idx;
    }
    let idx = ServiceIdx(feed.services.len() as u32);
    feed.service_ids.insert(id.into(), idx);
    feed.services.push(Service {
        id: id.into(),
        weekdays: 0,
        range: None,
        added: Vec::new(),
        removed: Vec::new(),
    });
    idx
}

#[derive(Deserialize)]
struct RawCalendar<'a> {
    #[serde(borrow)]
    service_id: Option<&'a str>,
    #[serde(borrow)]
    monday: Option<&'a str>,
    #[serde(borrow)]
    tuesday: Option<&'a str>,
    #[serde(borrow)]
    wednesday: Option<&'a str>,
    #[serde(borrow)]
    thursday: Option<&'a str>,
    #[serde(borrow)]
    friday: Option<&'a str>,
    #[serde(borrow)]
    saturday: Option<&'a str>,
    #[serde(borrow)]
    sunday: Option<&'a str>,
    #[serde(borrow)]
    start_date: Option<&'a str>,
    #[serde(borrow)]
    end_date: Option<&'a str>,
}

/// calendar.txt's weekday columns, Monday first (the bit order of a service's weekdays).
pub(crate) const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn read_calendar(input: &mut dyn Read, feed: &mut Feed) -> Result<()> {
    let mut columns = vec!["service_id", "start_date", "end_date"];
    columns.extend(DAYS);
    let mut t = Table::new("calendar.txt", input, &columns)?;
    while t.advance()? {
        let raw: RawCalendar<'_> = t.row()?;
        let id = t.required("service_id", raw.service_id)?;
        let values = [
            raw.monday,
            raw.tuesday,
            raw.wednesday,
            raw.thursday,
            raw.friday,
            raw.saturday,
            raw.sunday,
        ];
        let mut weekdays = 0u8;
        for (bit, (day, v)) in DAYS.iter().zip(values).enumerate() {
            match t.required(day, v)? {
                "1" => weekdays |= 1 << bit,
                "0" => {}
                other => return Err(t.error(day, format!("{other:?} is neither 0 nor 1"))),
            }
        }
        let start = parse_date(&t, "start_date", raw.start_date)?;
        let end = parse_date(&t, "end_date", raw.end_date)?;
        if end < start {
            return Err(t.error("end_date", format!("{end} is before start_date {start}")));
        }
        if feed.service_ids.contains_key(id) {
            return Err(t.error("service_id", format!("{id:?} appears twice")));
        }
        let idx = service_idx(feed, id);
        let service = &mut feed.services[idx.index()];
        service.weekdays = weekdays;
        service.range = Some((start, end));
    }
    Ok(())
}

#[derive(Deserialize)]
struct RawCalendarDate<'a> {
    #[serde(borrow)]
    service_id: Option<&'a str>,
    #[serde(borrow)]
    date: Option<&'a str>,
    #[serde(borrow)]
    exception_type: Option<&'a str>,
}

fn read_calendar_dates(input: &mut dyn Read, feed: &mut Feed) -> Result<()> {
    let mut t = Table::new(
        "calendar_dates.txt",
        input,
        &["service_id", "date", "exception_type"],
    )?;
    while t.advance()? {
        let raw: RawCalendarDate<'_> = t.row()?;
        let id = t.required("service_id", raw.service_id)?;
        let date = parse_date(&t, "date", raw.date)?;
        let added = match t.required("exception_type", raw.exception_type)? {
            "1" => true,
            "2" => false,
            other => {
                return Err(t.error(
                    "exception_type",
                    format!("{other:?} is neither 1 (added) nor 2 (removed)"),
                ))
            }
        };
        let idx = service_idx(feed, id);
        let service = &mut feed.services[idx.index()];
        if added {
            service.added.push(date);
        } else {
            service.removed.push(date);
        }
    }
    for s in &mut feed.services {
        s.added.sort_unstable();
        s.removed.sort_unstable();
    }
    Ok(())
}

#[derive(Deserialize)]
struct RawTrip<'a> {
    #[serde(borrow)]
    route_id: Option<&'a str>,
    #[serde(borrow)]
    service_id: Option<&'a str>,
    #[serde(borrow)]
    trip_id: Option<&'a str>,
    #[serde(borrow)]
    trip_headsign: Option<&'a str>,
    #[serde(borrow)]
    direction_id: Option<&'a str>,
    #[serde(borrow)]
    block_id: Option<&'a str>,
    #[serde(borrow)]
    shape_id: Option<&'a str>,
}

fn read_trips(
    input: &mut dyn Read,
    feed: &mut Feed,
    kept_routes: &[bool],
    skipped: &mut FxHashSet<Box<str>>,
    shape_ids: &mut FxHashMap<Box<str>, ShapeIdx>,
) -> Result<()> {
    let mut t = Table::new("trips.txt", input, &["route_id", "service_id", "trip_id"])?;
    let mut block_ids: FxHashMap<Box<str>, BlockIdx> = FxHashMap::default();
    while t.advance()? {
        let raw: RawTrip<'_> = t.row()?;
        let id = t.required("trip_id", raw.trip_id)?;
        let route_id = t.required("route_id", raw.route_id)?;
        let route = *feed
            .route_ids
            .get(route_id)
            .ok_or_else(|| t.error("route_id", format!("{route_id:?} is not in routes.txt")))?;
        let service_id = t.required("service_id", raw.service_id)?;
        let service = *feed.service_ids.get(service_id).ok_or_else(|| {
            t.error(
                "service_id",
                format!("{service_id:?} is in neither calendar.txt nor calendar_dates.txt"),
            )
        })?;
        if feed.trip_ids.contains_key(id) || skipped.contains(id) {
            return Err(t.error("trip_id", format!("{id:?} appears twice")));
        }
        if !kept_routes[route.index()] {
            skipped.insert(id.into());
            continue;
        }
        let direction = match raw.direction_id.unwrap_or("") {
            "" => None,
            "0" => Some(0),
            "1" => Some(1),
            other => return Err(t.error("direction_id", format!("{other:?} is neither 0 nor 1"))),
        };
        let shape = raw.shape_id.filter(|s| !s.is_empty()).map(|s| {
            let next = ShapeIdx(shape_ids.len() as u32);
            *shape_ids.entry(s.into()).or_insert(next)
        });
        let block = raw.block_id.filter(|b| !b.is_empty()).map(|b| {
            *block_ids.entry(b.into()).or_insert_with(|| {
                feed.blocks.push(b.into());
                BlockIdx(feed.blocks.len() as u32 - 1)
            })
        });
        let idx = TripIdx(feed.trips.len() as u32);
        feed.trip_ids.insert(id.into(), idx);
        feed.trips.push(Trip {
            id: id.into(),
            route,
            service,
            direction,
            headsign: boxed(raw.trip_headsign),
            shape,
            block,
            first_stop_time: 0,
            stop_time_count: 0,
        });
    }
    Ok(())
}

#[derive(Deserialize)]
struct RawStopTime<'a> {
    #[serde(borrow)]
    trip_id: Option<&'a str>,
    #[serde(borrow)]
    arrival_time: Option<&'a str>,
    #[serde(borrow)]
    departure_time: Option<&'a str>,
    #[serde(borrow)]
    stop_id: Option<&'a str>,
    #[serde(borrow)]
    stop_sequence: Option<&'a str>,
    #[serde(borrow)]
    shape_dist_traveled: Option<&'a str>,
}

/// `H:MM:SS` or `HH:MM:SS`, hours past 24 allowed, as seconds; `None` if malformed.
pub(crate) fn parse_time(v: &str) -> Option<u32> {
    let mut parts = v.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || h.is_empty() || h.len() > 3 || m.len() != 2 || s.len() != 2 {
        return None;
    }
    let num = |x: &str| -> Option<u32> {
        x.bytes().try_fold(0u32, |acc, b| {
            b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
        })
    };
    let (h, m, s) = (num(h)?, num(m)?, num(s)?);
    (m < 60 && s < 60).then_some(h * 3600 + m * 60 + s)
}

fn time_field(t: &Table<'_>, field: &str, value: Option<&str>) -> Result<u32> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(NO_TIME),
        Some(v) => parse_time(v).ok_or_else(|| {
            t.error(
                field,
                format!("{v:?} is not a time HH:MM:SS (minutes and seconds below 60)"),
            )
        }),
    }
}

/// A stop time without `shape_dist_traveled`, in the distances kept while reading.
const NO_DISTANCE: f32 = f32::NAN;

fn read_stop_times(
    input: &mut dyn Read,
    feed: &mut Feed,
    skipped: &FxHashSet<Box<str>>,
    distances: &mut Vec<f32>,
) -> Result<()> {
    let mut t = Table::new(
        "stop_times.txt",
        input,
        &["trip_id", "stop_id", "stop_sequence"],
    )?;
    // Stop times come grouped by trip in nearly every feed: one lookup per trip, not per row.
    let mut last: Option<(Box<str>, Option<TripIdx>)> = None;
    while t.advance()? {
        let raw: RawStopTime<'_> = t.row()?;
        let trip_id = t.required("trip_id", raw.trip_id)?;
        let trip = match &last {
            Some((id, trip)) if **id == *trip_id => *trip,
            _ => {
                let trip = match feed.trip_ids.get(trip_id) {
                    Some(&idx) => Some(idx),
                    None if skipped.contains(trip_id) => None,
                    None => {
                        return Err(t.error(
                            "trip_id",
                            format!("{trip_id:?} is not a trip_id of trips.txt"),
                        ))
                    }
                };
                last = Some((trip_id.into(), trip));
                trip
            }
        };
        let Some(trip) = trip else { continue };
        let stop_id = t.required("stop_id", raw.stop_id)?;
        let stop = *feed.stop_ids.get(stop_id).ok_or_else(|| {
            t.error(
                "stop_id",
                format!("{stop_id:?} is not a stop_id of stops.txt"),
            )
        })?;
        let sequence = t.required("stop_sequence", raw.stop_sequence)?;
        let sequence = t.parse(
            "stop_sequence",
            sequence,
            "a stop sequence (a whole number)",
        )?;
        let mut arrival = time_field(&t, "arrival_time", raw.arrival_time)?;
        let mut departure = time_field(&t, "departure_time", raw.departure_time)?;
        if arrival == NO_TIME {
            arrival = departure;
        } else if departure == NO_TIME {
            departure = arrival;
        } else if departure < arrival {
            return Err(t.error(
                "departure_time",
                format!(
                    "{} is before arrival_time {}",
                    raw.departure_time.unwrap_or_default(),
                    raw.arrival_time.unwrap_or_default()
                ),
            ));
        }
        match raw.shape_dist_traveled.filter(|v| !v.is_empty()) {
            Some(v) => {
                let d: f32 = t.parse("shape_dist_traveled", v, "a distance (a number)")?;
                if !d.is_finite() || d < 0.0 {
                    return Err(t.error("shape_dist_traveled", format!("{v} is not a distance")));
                }
                // The first distance of the file: the stop times before it had none.
                distances.resize(feed.stop_times.len(), NO_DISTANCE);
                distances.push(d);
            }
            None if !distances.is_empty() => distances.push(NO_DISTANCE),
            None => {}
        }
        feed.stop_times.push(StopTime {
            trip,
            stop,
            sequence,
            arrival,
            departure,
        });
    }
    Ok(())
}

/// Sorts the stop times by trip and sequence, gives each trip its range, fills in the times a
/// feed may leave out between timed stops (by `shape_dist_traveled` where the feed gives it,
/// else by position).
fn finish_stop_times(feed: &mut Feed, mut distances: Vec<f32>) -> Result<()> {
    let sorted = feed
        .stop_times
        .windows(2)
        .all(|w| (w[0].trip, w[0].sequence) < (w[1].trip, w[1].sequence));
    if !sorted {
        if distances.is_empty() {
            feed.stop_times
                .sort_unstable_by_key(|st| (st.trip, st.sequence));
        } else {
            distances.resize(feed.stop_times.len(), NO_DISTANCE);
            let mut paired: Vec<(StopTime, f32)> =
                feed.stop_times.drain(..).zip(distances).collect();
            paired.sort_unstable_by_key(|(st, _)| (st.trip, st.sequence));
            (feed.stop_times, distances) = paired.into_iter().unzip();
        }
    }
    if !distances.is_empty() {
        distances.resize(feed.stop_times.len(), NO_DISTANCE);
    }
    feed.stop_times.shrink_to_fit();
    let err = |trip: &Trip, message: String| GtfsError::File {
        file: "stop_times.txt",
        message: format!("trip_id {:?}: {message}", trip.id),
    };
    let mut start = 0usize;
    while start < feed.stop_times.len() {
        let trip_idx = feed.stop_times[start].trip;
        let end = start
            + feed.stop_times[start..]
                .iter()
                .position(|st| st.trip != trip_idx)
                .unwrap_or(feed.stop_times.len() - start);
        let trip = &mut feed.trips[trip_idx.index()];
        trip.first_stop_time = start as u32;
        trip.stop_time_count = (end - start) as u32;
        let times = &mut feed.stop_times[start..end];
        if let Some(w) = times.windows(2).find(|w| w[0].sequence == w[1].sequence) {
            return Err(err(
                trip,
                format!("stop_sequence {} appears twice", w[0].sequence),
            ));
        }
        let untimed_end = |st: Option<&StopTime>| st.is_none_or(|st| st.arrival == NO_TIME);
        if untimed_end(times.first()) || untimed_end(times.last()) {
            return Err(err(trip, "its first and last stops need times".to_owned()));
        }
        interpolate(times, distances.get(start..end));
        if let Some(w) = times.windows(2).find(|w| w[1].arrival < w[0].departure) {
            return Err(err(
                trip,
                format!(
                    "stop_sequence {} arrives at {} before stop_sequence {} departs at {}",
                    w[1].sequence,
                    clock(w[1].arrival),
                    w[0].sequence,
                    clock(w[0].departure)
                ),
            ));
        }
        start = end;
    }
    // GTFS's validator only warns about such a trip, and real feeds have them: kept, with no
    // stop times, for the caller to leave out.
    let empty: Vec<&str> = feed
        .trips
        .iter()
        .filter(|t| t.stop_time_count == 0)
        .map(|t| &*t.id)
        .collect();
    if let Some(first) = empty.first() {
        tracing::warn!(
            trips = empty.len(),
            first,
            "trips without stop times in stop_times.txt"
        );
    }
    Ok(())
}

/// Seconds as GTFS writes them, `25:10:00`.
fn clock(secs: u32) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Fills untimed stops linearly between the timed ones around them: by `shape_dist_traveled`
/// when every stop between has one and they do not go back, else by position.
fn interpolate(times: &mut [StopTime], distances: Option<&[f32]>) {
    let mut prev = 0usize;
    for i in 1..times.len() {
        if times[i].arrival == NO_TIME {
            continue;
        }
        let gap = i - prev;
        if gap > 1 {
            let (a, b) = (times[prev].departure, times[i].arrival);
            let span = u64::from(b.saturating_sub(a));
            let along = distances.and_then(|d| d.get(prev..=i)).filter(|d| {
                d.iter().all(|x| x.is_finite())
                    && d.windows(2).all(|w| w[0] <= w[1])
                    && d[d.len() - 1] > d[0]
            });
            for (k, st) in times[prev + 1..i].iter_mut().enumerate() {
                let offset = match along {
                    Some(d) => {
                        let share = f64::from(d[k + 1] - d[0]) / f64::from(d[gap] - d[0]);
                        (span as f64 * share).round() as u64
                    }
                    None => span * (k as u64 + 1) / gap as u64,
                };
                let at = a + offset.min(span) as u32;
                st.arrival = at;
                st.departure = at;
            }
        }
        prev = i;
    }
}

#[derive(Deserialize)]
struct RawFrequency<'a> {
    #[serde(borrow)]
    trip_id: Option<&'a str>,
    #[serde(borrow)]
    start_time: Option<&'a str>,
    #[serde(borrow)]
    end_time: Option<&'a str>,
    #[serde(borrow)]
    headway_secs: Option<&'a str>,
    #[serde(borrow)]
    exact_times: Option<&'a str>,
}

fn read_frequencies(
    input: &mut dyn Read,
    feed: &mut Feed,
    skipped: &FxHashSet<Box<str>>,
) -> Result<()> {
    let mut t = Table::new(
        "frequencies.txt",
        input,
        &["trip_id", "start_time", "end_time", "headway_secs"],
    )?;
    while t.advance()? {
        let raw: RawFrequency<'_> = t.row()?;
        let trip_id = t.required("trip_id", raw.trip_id)?;
        let trip = match feed.trip_ids.get(trip_id) {
            Some(&idx) => idx,
            None if skipped.contains(trip_id) => continue,
            None => {
                return Err(t.error(
                    "trip_id",
                    format!("{trip_id:?} is not a trip_id of trips.txt"),
                ))
            }
        };
        let time = |field: &str, v: Option<&str>| -> Result<u32> {
            let v = t.required(field, v)?;
            parse_time(v).ok_or_else(|| t.error(field, format!("{v:?} is not a time HH:MM:SS")))
        };
        let start = time("start_time", raw.start_time)?;
        let end = time("end_time", raw.end_time)?;
        if end < start {
            return Err(t.error("end_time", "before start_time"));
        }
        let headway = t.required("headway_secs", raw.headway_secs)?;
        let headway_secs: u32 = t.parse("headway_secs", headway, "a number of seconds")?;
        if headway_secs == 0 {
            return Err(t.error("headway_secs", "0: a headway must be positive"));
        }
        let exact_times = match raw.exact_times.unwrap_or("") {
            "" | "0" => false,
            "1" => true,
            other => return Err(t.error("exact_times", format!("{other:?} is neither 0 nor 1"))),
        };
        feed.frequencies.push(Frequency {
            trip,
            start,
            end,
            headway_secs,
            exact_times,
        });
    }
    Ok(())
}

#[derive(Deserialize)]
struct RawShapePoint<'a> {
    #[serde(borrow)]
    shape_id: Option<&'a str>,
    #[serde(borrow)]
    shape_pt_lat: Option<&'a str>,
    #[serde(borrow)]
    shape_pt_lon: Option<&'a str>,
    #[serde(borrow)]
    shape_pt_sequence: Option<&'a str>,
    #[serde(borrow)]
    shape_dist_traveled: Option<&'a str>,
}

fn read_shapes(
    input: &mut dyn Read,
    feed: &mut Feed,
    shape_ids: &FxHashMap<Box<str>, ShapeIdx>,
) -> Result<()> {
    let mut t = Table::new(
        "shapes.txt",
        input,
        &[
            "shape_id",
            "shape_pt_lat",
            "shape_pt_lon",
            "shape_pt_sequence",
        ],
    )?;
    let mut points: Vec<Vec<(u32, ShapePoint)>> = vec![Vec::new(); shape_ids.len()];
    while t.advance()? {
        let raw: RawShapePoint<'_> = t.row()?;
        let id = t.required("shape_id", raw.shape_id)?;
        // Only the shapes of the trips kept: a bus feed's shapes are most of its size.
        let Some(&idx) = shape_ids.get(id) else {
            continue;
        };
        let number = |field: &str, v: Option<&str>| -> Result<f64> {
            let v = t.required(field, v)?;
            t.parse(field, v, "a number")
        };
        let lat = number("shape_pt_lat", raw.shape_pt_lat)?;
        let lon = number("shape_pt_lon", raw.shape_pt_lon)?;
        let seq = t.required("shape_pt_sequence", raw.shape_pt_sequence)?;
        let seq: u32 = t.parse("shape_pt_sequence", seq, "a whole number")?;
        let dist_traveled = match raw.shape_dist_traveled.filter(|v| !v.is_empty()) {
            Some(v) => Some(t.parse("shape_dist_traveled", v, "a number")?),
            None => None,
        };
        points[idx.index()].push((
            seq,
            ShapePoint {
                lat,
                lon,
                dist_traveled,
            },
        ));
    }
    let mut shapes: Vec<Shape> = points
        .into_iter()
        .map(|mut p| {
            p.sort_by_key(|(seq, _)| *seq);
            Shape {
                id: Box::from(""),
                points: p.into_iter().map(|(_, pt)| pt).collect(),
            }
        })
        .collect();
    for (id, idx) in shape_ids {
        shapes[idx.index()].id = id.clone();
    }
    feed.shapes = shapes;
    Ok(())
}
