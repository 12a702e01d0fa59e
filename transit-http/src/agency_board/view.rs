//! The board's HTML and SVG (maud): the route list, each pattern of the chosen route as an
//! ordered list of its stops with the trains among them, and the map.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use maud::{html, Markup, PreEscaped, DOCTYPE};
use transit_core::model::{Rgb, Route};
use transit_core::network::service_day::{ServiceDay, StopIndex};

use super::{AgencyNetwork, DueAt, Placed, Static, POLL_EVERY_MS};
use crate::accuracy_panel::{self, Level};
use transit_core::accuracy::AccuracySnapshot;

/// The predicted arrivals a stop of the diagram shows at most.
const DUE_SHOWN: usize = 2;

/// The map's width in SVG units; its height follows the network's shape.
const MAP_WIDTH: f64 = 1_000.0;

/// WCAG 2.1 AA's contrast for text.
const TEXT_CONTRAST: f64 = 4.5;

const STYLE: &str = r#"
:root { font-family: system-ui, sans-serif; color: #1a1a1a; background: #fff; }
body { margin: 0; }
header { padding: 0.75rem 1rem; background: #1a1a1a; color: #fff; }
header h1 { margin: 0; font-size: 1.4rem; }
main { padding: 0 1rem 1rem; display: grid; gap: 1rem; grid-template-columns: minmax(18rem, 1fr) minmax(18rem, 2fr); }
@media (max-width: 60rem) { main { grid-template-columns: 1fr; } }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4rem; }
nav a { display: inline-block; min-width: 2.2rem; padding: 0.3rem 0.5rem; border-radius: 1rem; text-align: center; font-weight: 700; text-decoration: none; border: 2px solid #1a1a1a; }
nav a[aria-current="page"] { outline: 3px solid #1a1a1a; outline-offset: 2px; }
.facts { display: flex; gap: 1.5rem; margin: 0.5rem 0; }
.facts .label { display: block; font-size: 0.8rem; color: #4a4a4a; }
ol.pattern { list-style: none; padding: 0 0 0 1rem; border-left: 6px solid var(--line); margin: 0 0 1rem; }
ol.pattern li { padding: 0.15rem 0; }
.train { display: inline-block; margin-left: 0.4rem; padding: 0 0.35rem; border-radius: 0.3rem; font-size: 0.85rem; font-weight: 700; }
.due { margin-left: 0.4rem; font-size: 0.85rem; font-weight: 700; color: #1a1a1a; }
.between { display: block; margin-left: 0.6rem; font-size: 0.85rem; color: #4a4a4a; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
svg.map { width: 100%; height: auto; background: #f4f4f2; border: 1px solid #767676; }
"#;

const SCRIPT: &str = r#"
(() => {
  const board = document.getElementById('board');
  if (!board) return;
  const route = board.dataset.route;
  const every = Number(board.dataset.pollMs) || 2000;
  async function refresh() {
    try {
      const query = route ? '?route=' + encodeURIComponent(route) : '';
      const [diagram, trains] = await Promise.all([
        fetch('/fragment/diagram' + query).then(r => r.ok ? r.text() : null),
        fetch('/fragment/trains').then(r => r.ok ? r.text() : null),
      ]);
      if (diagram !== null) document.getElementById('diagram').innerHTML = diagram;
      if (trains !== null) document.getElementById('trains').innerHTML = trains;
    } catch (e) { /* the next poll tries again */ }
  }
  setInterval(refresh, every);
})();
"#;

/// The route's colours as the page uses them: its own, with text that reads on it.
fn colours(route: &Route) -> (Rgb, Rgb) {
    let text = if route.text_color.contrast(route.color) >= TEXT_CONTRAST {
        route.text_color
    } else {
        route.color.readable_text()
    };
    (route.color, text)
}

fn pill_style(route: &Route) -> String {
    let (background, text) = colours(route);
    format!("background:#{background};color:#{text}")
}

/// Where a stop is drawn: its own location, else its parent station's.
fn location(day: &ServiceDay, stop: StopIndex) -> Option<(f64, f64)> {
    let place = day.stop(stop)?;
    place
        .location
        .or_else(|| place.parent.and_then(|parent| day.stop(parent)?.location))
}

/// A stop's name as riders know it: its parent station's when it is a platform of one.
pub(crate) fn stop_name(day: &ServiceDay, stop: StopIndex) -> &str {
    day.stop(stop).map_or("?", |place| {
        place
            .parent
            .and_then(|parent| day.stop(parent))
            .map_or(place.name.as_str(), |station| station.name.as_str())
    })
}

/// The map's projection (equirectangular, scaled at the network's middle latitude) and its
/// static part: the shapes and stations, rendered once.
#[derive(Debug)]
pub(crate) struct MapBase {
    min_lon: f64,
    max_lat: f64,
    scale_x: f64,
    scale_y: f64,
    pub(crate) height: f64,
    pub(crate) svg: String,
    pub(crate) stations: usize,
}

impl MapBase {
    pub(crate) fn new(network: &AgencyNetwork) -> Self {
        let day = &network.day;
        let mut shape_route: HashMap<&str, usize> = HashMap::new();
        let mut used_stops: HashSet<StopIndex> = HashSet::new();
        let route_index: HashMap<_, usize> = day
            .routes
            .iter()
            .enumerate()
            .map(|(i, route)| (route.id, i))
            .collect();
        for trip in &day.trips {
            if let (Some(shape), Some(&route)) = (&trip.shape_id, route_index.get(&trip.route)) {
                shape_route.entry(shape.as_str()).or_insert(route);
            }
            used_stops.extend(trip.stops.iter().map(|stop| stop.stop));
        }
        // Stations: the stops the trips call at, a platform drawn as its parent station.
        let mut stations: Vec<(StopIndex, (f64, f64))> = Vec::new();
        let mut seen: HashSet<StopIndex> = HashSet::new();
        let mut sorted_stops: Vec<StopIndex> = used_stops.into_iter().collect();
        sorted_stops.sort_unstable();
        for stop in sorted_stops {
            let station = day
                .stop(stop)
                .and_then(|place| {
                    place
                        .parent
                        .filter(|p| day.stop(*p).is_some_and(|s| s.location.is_some()))
                })
                .unwrap_or(stop);
            if let Some(point) = location(day, station) {
                if seen.insert(station) {
                    stations.push((station, point));
                }
            }
        }
        let shapes: Vec<(&super::MapShape, usize)> = network
            .shapes
            .iter()
            .filter_map(|shape| Some((shape, *shape_route.get(shape.id.as_str())?)))
            .collect();
        let points = shapes
            .iter()
            .flat_map(|(shape, _)| shape.points.iter().copied())
            .chain(stations.iter().map(|(_, point)| *point))
            .filter(|(lat, lon)| lat.is_finite() && lon.is_finite());
        let (mut min_lat, mut max_lat, mut min_lon, mut max_lon) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for (lat, lon) in points {
            min_lat = min_lat.min(lat);
            max_lat = max_lat.max(lat);
            min_lon = min_lon.min(lon);
            max_lon = max_lon.max(lon);
        }
        if !min_lat.is_finite() {
            (min_lat, max_lat, min_lon, max_lon) = (0.0, 1.0, 0.0, 1.0);
        }
        let margin = 20.0;
        let x_per_degree = ((min_lat + max_lat) / 2.0).to_radians().cos().max(0.01);
        let span_x = ((max_lon - min_lon) * x_per_degree).max(1e-6);
        let span_y = (max_lat - min_lat).max(1e-6);
        let scale = (MAP_WIDTH - 2.0 * margin) / span_x.max(span_y);
        let mut base = MapBase {
            min_lon: min_lon - margin / (scale * x_per_degree),
            max_lat: max_lat + margin / scale,
            scale_x: scale * x_per_degree,
            scale_y: scale,
            height: span_y * scale + 2.0 * margin,
            svg: String::new(),
            stations: stations.len(),
        };
        let mut svg = String::new();
        for (shape, route) in &shapes {
            let Some(route) = day.routes.get(*route) else {
                continue;
            };
            let colour = if route.color.contrast(Rgb([0xF4, 0xF4, 0xF2])) < 1.5 {
                Rgb([0x76, 0x76, 0x76])
            } else {
                route.color
            };
            let mut points = String::new();
            for &(lat, lon) in &shape.points {
                let (x, y) = base.project(lat, lon);
                let _ = write!(points, "{x:.1},{y:.1} ");
            }
            let _ = write!(
                svg,
                r##"<polyline class="shape" data-route="{}" points="{}" fill="none" stroke="#{colour}" stroke-width="4" stroke-linejoin="round"/>"##,
                maud::html! { (route.id.as_str()) }.into_string(),
                points.trim_end()
            );
        }
        for (stop, (lat, lon)) in &stations {
            let (x, y) = base.project(*lat, *lon);
            let _ = write!(
                svg,
                r##"<circle class="station" cx="{x:.1}" cy="{y:.1}" r="3" fill="#fff" stroke="#1a1a1a" stroke-width="1"><title>{}</title></circle>"##,
                maud::html! { (stop_name(day, *stop)) }.into_string()
            );
        }
        base.svg = svg;
        base
    }

    fn project(&self, lat: f64, lon: f64) -> (f64, f64) {
        (
            (lon - self.min_lon) * self.scale_x,
            (self.max_lat - lat) * self.scale_y,
        )
    }

    /// Where the map draws a train at `here` (or, with `next`, on its way from there to the
    /// next stop): on its trip's shape where it has one, else at the stops' own places.
    pub(crate) fn train_point(
        &self,
        network: &AgencyNetwork,
        shape: Option<usize>,
        here: StopIndex,
        next: Option<StopIndex>,
    ) -> Option<(f64, f64)> {
        let day = &network.day;
        let from = location(day, here)?;
        let to = next.and_then(|next| location(day, next));
        let shape = shape
            .and_then(|s| network.shapes.get(s))
            .filter(|s| !s.points.is_empty());
        let (lat, lon) = match (shape, to) {
            (Some(shape), to) => {
                let nearest = |(lat, lon): (f64, f64)| {
                    shape
                        .points
                        .iter()
                        .enumerate()
                        .min_by(|a, b| {
                            let d = |p: &(f64, f64)| (p.0 - lat).powi(2) + (p.1 - lon).powi(2);
                            d(a.1).total_cmp(&d(b.1))
                        })
                        .map_or(0, |(i, _)| i)
                };
                let start = nearest(from);
                let index = match to {
                    Some(to) => (start + nearest(to)) / 2,
                    None => start,
                };
                shape.points.get(index).copied().unwrap_or(from)
            }
            (None, Some(to)) => ((from.0 + to.0) / 2.0, (from.1 + to.1) / 2.0),
            (None, None) => from,
        };
        Some(self.project(lat, lon))
    }
}

/// The chosen route's prediction accuracy panel, under the page's `h1`.
pub(crate) fn accuracy_panel(route: &Route, accuracy: &AccuracySnapshot) -> Markup {
    accuracy_panel::panel(accuracy, route.id.as_str(), &route_title(route), Level::Two)
}

/// A route as a panel's title names it: its short name and its long one.
fn route_title(route: &Route) -> String {
    match (route.short_name.is_empty(), route.long_name.is_empty()) {
        (false, false) => format!("{} ({})", route.short_name, route.long_name),
        (false, true) => route.short_name.clone(),
        (true, false) => route.long_name.clone(),
        (true, true) => route.id.as_str().to_string(),
    }
}

/// The whole page, the diagram of `route` (an index into the day's routes), with its accuracy
/// panel when `accuracy`.
pub(crate) fn page(
    fixed: &Static,
    route: Option<usize>,
    placed: &(i64, Vec<Placed>),
    due: &DueAt,
    accuracy: Option<&AccuracySnapshot>,
) -> Markup {
    let day = &fixed.network.day;
    let chosen = route.and_then(|r| day.routes.get(r));
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (fixed.network.name) " live status · transit" }
                style { (PreEscaped(STYLE)) }
                @if accuracy.is_some() {
                    style { (PreEscaped(accuracy_panel::STYLE)) }
                }
            }
            body {
                header {
                    h1 { (fixed.network.name) " live status" }
                    p {
                        @if day.date == day.requested {
                            "Service of " (day.date)
                        } @else {
                            "The feed's service of " (day.date) " run on " (day.requested)
                        }
                        ", times in " (day.timezone)
                    }
                }
                main #board data-route=[chosen.map(|r| r.id.as_str())] data-poll-ms=(POLL_EVERY_MS) {
                    div {
                        nav aria-label="Routes" {
                            h2 { "Routes" }
                            ul {
                                @for r in &day.routes {
                                    li {
                                        a href={ "/?route=" (r.id.as_str()) }
                                            style=(pill_style(r))
                                            aria-current=[chosen.filter(|c| c.id == r.id).map(|_| "page")]
                                            title=(r.long_name) {
                                            (r.name())
                                        }
                                    }
                                }
                            }
                        }
                        section #diagram aria-label="Route diagram" {
                            (diagram(fixed, route, &placed.1, due))
                        }
                        @if let (Some(accuracy), Some(chosen)) = (accuracy, chosen) {
                            (accuracy_panel(chosen, accuracy))
                        }
                    }
                    section aria-labelledby="map-title" {
                        h2 #map-title { "Map" }
                        svg.map viewBox={ "0 0 " (MAP_WIDTH) " " (format!("{:.0}", fixed.map.height)) }
                            role="img" aria-labelledby="map-desc" {
                            desc #map-desc { "Map of the network's lines and " (fixed.map.stations) " stations with the trains in service placed on them; the route diagrams list the same trains." }
                            g #shapes { (PreEscaped(&fixed.map.svg)) }
                            g #trains { (map_trains(fixed, &placed.1)) }
                        }
                    }
                }
                script { (PreEscaped(SCRIPT)) }
                @if accuracy.is_some() {
                    script { (PreEscaped(accuracy_panel::SCRIPT)) }
                }
            }
        }
    }
}

/// The time of day `now_ms` is in the service day, as GTFS writes it.
fn service_time(day: &ServiceDay, now_ms: i64) -> String {
    if now_ms == 0 {
        return "waiting for the first train".into();
    }
    let seconds = (now_ms.div_euclid(1_000) - day.start_unix_s).max(0);
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// The chosen route's patterns, each an ordered list of its stops with the trains among them.
pub(crate) fn diagram(
    fixed: &Static,
    route: Option<usize>,
    placed: &[Placed],
    due: &DueAt,
) -> Markup {
    let day = &fixed.network.day;
    let Some((index, route)) = route.and_then(|r| Some((r, day.routes.get(r)?))) else {
        return html! { p { "This feed has no routes of the types read." } };
    };
    let patterns = fixed.patterns.get(index).map_or(&[][..], |p| &p[..]);
    let trains: Vec<&Placed> = placed.iter().filter(|p| p.route == index).collect();
    let (colour, _) = colours(route);
    let shown = patterns.len().min(super::MAX_PATTERNS);
    html! {
        h2 { span.train style=(pill_style(route)) { (route.name()) } " " (route.long_name) }
        div.facts {
            div { span.label { "Service time" } span #service-time { (service_time(day, placed_now(placed))) } }
            div { span.label { "Trains on this route" } span #route-trains { (trains.len()) } }
            div { span.label { "Trains in service" } span #total-trains { (placed.len()) } }
        }
        @if patterns.is_empty() {
            p { "No trips of this route run on this day." }
        }
        @for (p, pattern) in patterns.iter().take(shown).enumerate() {
            @let first = pattern.stops.first().map_or("?", |s| stop_name(day, *s));
            @let last = pattern.stops.last().map_or("?", |s| stop_name(day, *s));
            h3 { (first) " – " (last) ": " (pattern.stops.len()) " stops, " (pattern.trips) " trips" }
            ol.pattern style={ "--line:#" (colour) } aria-label={ (route.name()) " from " (first) " to " (last) } {
                @for (i, stop) in pattern.stops.iter().enumerate() {
                    li {
                        (stop_name(day, *stop))
                        @if let Some(trains) = due.get(&(p, *stop)) {
                            " "
                            span.due title="Predicted arrivals of the next trains" {
                                @for (n, train) in trains.iter().take(DUE_SHOWN).enumerate() {
                                    @if n > 0 { ", " }
                                    span data-vehicle=(train.vehicle_id) title={ "Train " (train.vehicle_id) @if let Some(u) = train.uncertainty_s { ", ± " (u) " s" } } {
                                        (train.label())
                                    }
                                }
                            }
                        }
                        @for train in trains.iter().filter(|t| t.pattern == p && t.at_stop && t.position == i as f64) {
                            (train_badge(route, train, if train.reversed { first } else { last }))
                        }
                        @let between: Vec<&&Placed> = trains.iter().filter(|t| t.pattern == p && !t.at_stop && t.position == i as f64 + 0.5).collect();
                        @if !between.is_empty() {
                            span.between {
                                "↓ between stops: "
                                @for train in between {
                                    (train_badge(route, train, if train.reversed { first } else { last }))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if patterns.len() > shown {
            p { (patterns.len() - shown) " rarer patterns not shown." }
        }
    }
}

fn placed_now(placed: &[Placed]) -> i64 {
    placed
        .iter()
        .map(|p| p.state.arrival_time)
        .max()
        .unwrap_or(0)
}

fn train_badge(route: &Route, train: &Placed, toward: &str) -> Markup {
    html! {
        span.train style=(pill_style(route)) title={ "Train " (train.state.vehicle_id) " toward " (toward) } {
            span.sr-only { "Train " }
            (train.state.vehicle_id)
            span.sr-only { " toward " (toward) }
        }
    }
}

/// The trains on the map: a circle each in its route's colour.
pub(crate) fn map_trains(fixed: &Static, placed: &[Placed]) -> Markup {
    let day = &fixed.network.day;
    html! {
        @for train in placed {
            @if let (Some((x, y)), Some(route)) = (train.point, day.routes.get(train.route)) {
                @let (fill, stroke) = colours(route);
                circle.train cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="7"
                    fill={ "#" (fill) } stroke={ "#" (stroke) } stroke-width="2"
                    data-vehicle=(train.state.vehicle_id) data-route=(route.id.as_str()) {
                    title { "Train " (train.state.vehicle_id) " of " (route.name()) @if train.at_stop { " at " } @else { " leaving " } (train.stop_name) }
                }
            }
        }
    }
}
