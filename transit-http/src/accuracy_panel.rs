//! The accuracy panel both boards show per line: how often its predictions were right, by MBTA's
//! horizon buckets, each method side by side, and a small chart of the learnt method's
//! accuracy per hour over the day. Server-rendered HTML and inline SVG: no script library, no
//! CDN.
//!
//! Accessibility (WCAG 2.1 AA): the figures are a table with headers; the chart is an image
//! with a title and a description, and the same figures per hour are a table beside it; the
//! learnt method is told apart by its header's words and weight, not by colour; every colour
//! used for text or the chart's marks reads on white at 4.5:1 or more.

use std::fmt::Write as _;

use maud::{html, Markup};
use transit_core::accuracy::{
    method_label, AccuracyCell, AccuracySnapshot, HourAccuracy, RouteAccuracy, BUCKETS,
    CHART_METHOD,
};

/// How often the pages fetch each panel anew, milliseconds.
pub(crate) const POLL_EVERY_MS: u32 = 10_000;

/// The target the chart draws: MBTA's countdown clocks reach about 90 % when well tuned.
const TARGET_PCT: f64 = 90.0;

/// The chart's size in SVG units.
const CHART_WIDTH: f64 = 320.0;
const CHART_HEIGHT: f64 = 140.0;
/// Room for the axes' labels: left, right, top, bottom.
const PAD: (f64, f64, f64, f64) = (34.0, 20.0, 10.0, 22.0);

/// The panel's style, for a page's inline style sheet.
pub(crate) const STYLE: &str = r#"
.accuracy { margin: 10px 0; }
.accuracy h2, .accuracy h3 { margin: 4px 0 6px; font-size: 15px; }
.accuracy .acc-body { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.accuracy table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
.accuracy caption { text-align: left; font-size: 12px; color: #4a5561; padding-bottom: 4px; max-width: 40rem; }
.accuracy th, .accuracy td { padding: 3px 8px; border-bottom: 1px solid #dde2e8; text-align: right; vertical-align: top; }
.accuracy th[scope="row"] { text-align: left; }
.accuracy th.served, .accuracy td.served { font-weight: 700; background: #eef3f8; }
.accuracy .acc-detail { display: block; font-size: 11px; color: #4a5561; font-weight: 400; }
.accuracy .acc-none { color: #4a5561; }
.accuracy figure { margin: 0; }
.accuracy figcaption { font-size: 12px; color: #4a5561; }
.accuracy svg.acc-chart { width: 320px; max-width: 100%; height: auto; background: #fff; border: 1px solid #8a949e; }
.accuracy svg .acc-axis { stroke: #4a5561; stroke-width: 1; }
.accuracy svg .acc-grid { stroke: #dde2e8; stroke-width: 1; }
.accuracy svg .acc-target { stroke: #4a5561; stroke-width: 1; stroke-dasharray: 4 3; }
.accuracy svg .acc-line { fill: none; stroke: #0b5cad; stroke-width: 2; }
.accuracy svg .acc-point { fill: #0b5cad; stroke: #fff; stroke-width: 1; }
.accuracy svg text { font-size: 10px; fill: #1d232a; }
.accuracy details { font-size: 12px; margin-top: 4px; }
.accuracy .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
"#;

/// Fetches each panel anew every [`POLL_EVERY_MS`] from `/fragment/accuracy?route=…` and swaps
/// it in place (the server renders and escapes it).
pub(crate) const SCRIPT: &str = r#"
(() => {
  "use strict";
  const panels = () => Array.from(document.querySelectorAll("section.accuracy[data-route]"));
  const first = panels()[0];
  if (!first) return;
  const every = Number(first.dataset.pollMs) || 10000;
  const refresh = async () => {
    for (const panel of panels()) {
      try {
        const query = "?route=" + encodeURIComponent(panel.dataset.route);
        const response = await fetch("/fragment/accuracy" + query, { cache: "no-store" });
        if (!response.ok) continue;
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.querySelector("section.accuracy");
        if (!fresh) continue;
        // A reader who opened the per-hour table keeps it open.
        const open = panel.querySelector("details[open]");
        const details = fresh.querySelector("details");
        if (open && details) details.open = true;
        panel.replaceWith(document.adoptNode(fresh));
      } catch (error) { /* the next poll tries again */ }
    }
  };
  setInterval(refresh, every);
})();
"#;

/// The heading level of the panel's title: under the page's `h1` (2) or under a line's `h2` (3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// An `h2`.
    Two,
    /// An `h3`.
    Three,
}

/// When a prediction of each bucket counts as right (MBTA's tolerances).
fn tolerance(bucket: &str) -> &'static str {
    match bucket {
        "0-3" => "right from 1 min early to 1 min late",
        "3-6" => "right from 1.5 min early to 2 min late",
        "6-12" => "right from 2.5 min early to 3.5 min late",
        "12-30" => "right from 4 min early to 6 min late",
        _ => "",
    }
}

/// A route id as part of an element's id: letters, digits, `-` and `_` kept, the rest `_`.
fn dom_id(route_id: &str) -> String {
    route_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The panel of route `route_id`, named `name` on the page, from `snapshot`.
pub(crate) fn panel(
    snapshot: &AccuracySnapshot,
    route_id: &str,
    name: &str,
    level: Level,
) -> Markup {
    let id = format!("accuracy-{}", dom_id(route_id));
    let title = format!("Prediction accuracy · {name}");
    let route = snapshot.route(route_id);
    html! {
        section.accuracy #(id) aria-labelledby={ (id) "-title" }
            data-route=(route_id) data-poll-ms=(POLL_EVERY_MS) {
            @match level {
                Level::Two => h2 #{ (id) "-title" } { (title) },
                Level::Three => h3 #{ (id) "-title" } { (title) },
            }
            @match route {
                Some(route) => (route_body(route, name, &id)),
                None => p.acc-none { "No predictions of " (name) " scored yet." },
            }
        }
    }
}

fn route_body(route: &RouteAccuracy, name: &str, id: &str) -> Markup {
    html! {
        div.acc-body {
            table {
                caption {
                    "How often predictions of " (name) " were right, by how far ahead they were "
                    "made (MBTA's buckets), each method side by side; a prediction whose train "
                    "came too late or never counts as wrong. Learnt is what riders are served."
                }
                thead {
                    tr {
                        th scope="col" { "Minutes ahead" }
                        @for method in &route.methods {
                            @if method == CHART_METHOD {
                                th.served scope="col" { (method_label(method)) " (served)" }
                            } @else {
                                th scope="col" { (method_label(method)) }
                            }
                        }
                    }
                }
                tbody {
                    @for bucket in BUCKETS {
                        tr {
                            th scope="row" {
                                (bucket) " min"
                                span.acc-detail { (tolerance(bucket)) }
                            }
                            @for method in &route.methods {
                                @let served = method == CHART_METHOD;
                                td class=[served.then_some("served")] {
                                    (cell(route.cell(bucket, method)))
                                }
                            }
                        }
                    }
                }
            }
            (chart(&route.hours, name, id))
        }
    }
}

fn cell(cell: Option<&AccuracyCell>) -> Markup {
    let Some(cell) = cell.filter(|c| c.tally.samples() > 0) else {
        return html! { span.acc-none { "–" span.sr-only { " no predictions scored" } } };
    };
    let tally = &cell.tally;
    html! {
        (percent(cell.accurate_pct))
        span.acc-detail {
            "MAE " (cell.mae_s.map_or_else(|| "–".to_string(), minutes_seconds))
            " · " (thousands(tally.samples())) " scored"
        }
        span.acc-detail {
            (thousands(tally.late)) " late · " (thousands(tally.never)) " never"
        }
    }
}

/// `93.4 %`, or `–`.
fn percent(pct: Option<f64>) -> String {
    pct.map_or_else(|| "–".into(), |p| format!("{p:.1} %"))
}

/// `1:05` (minutes and seconds) for 65 s; `42 s` under a minute.
fn minutes_seconds(seconds: f64) -> String {
    let whole = seconds.round().max(0.0) as u64;
    if whole < 60 {
        format!("{whole} s")
    } else {
        format!("{}:{:02}", whole / 60, whole % 60)
    }
}

fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `07:00`; hours past midnight of the service day as GTFS writes them (`25:00`).
fn hour_label(hour: i32) -> String {
    format!("{hour:02}:00")
}

/// The learnt method's accuracy per hour: an SVG line over the day, 0 to 100 %, with the 90 %
/// target; and the same figures as a table for whoever does not see the chart.
fn chart(hours: &[HourAccuracy], name: &str, id: &str) -> Markup {
    let points: Vec<(i32, f64, u64)> = hours
        .iter()
        .filter_map(|h| h.accurate_pct.map(|pct| (h.hour, pct, h.tally.samples())))
        .collect();
    if points.is_empty() {
        return html! {};
    }
    let first = points.iter().map(|p| p.0).min().unwrap_or(0);
    let last = points
        .iter()
        .map(|p| p.0)
        .max()
        .unwrap_or(first)
        .max(first + 1);
    let (left, right, top, bottom) = PAD;
    let x = |hour: i32| {
        left + (CHART_WIDTH - left - right) * f64::from(hour - first) / f64::from(last - first)
    };
    let y =
        |pct: f64| top + (CHART_HEIGHT - top - bottom) * (100.0 - pct.clamp(0.0, 100.0)) / 100.0;
    let mut line = String::new();
    for (index, (hour, pct, _)) in points.iter().enumerate() {
        let _ = write!(
            line,
            "{}{:.1},{:.1}",
            if index == 0 { "" } else { " " },
            x(*hour),
            y(*pct)
        );
    }
    let lowest = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let highest = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let description = format!(
        "The learnt method's share of predictions right, per hour, from {} to {}: between {} and \
         {}; the dashed line is the 90 % target. The table below gives each hour.",
        hour_label(first),
        hour_label(points.iter().map(|p| p.0).max().unwrap_or(first)),
        percent(Some(lowest)),
        percent(Some(highest)),
    );
    // A label every few hours, so they do not overlap.
    let step = ((last - first) / 6).max(1);
    html! {
        figure {
            svg.acc-chart viewBox={ "0 0 " (CHART_WIDTH) " " (CHART_HEIGHT) }
                role="img" aria-labelledby={ (id) "-chart-title " (id) "-chart-desc" } {
                title #{ (id) "-chart-title" } { "Learnt predictions of " (name) " right per hour" }
                desc #{ (id) "-chart-desc" } { (description) }
                @for pct in [0.0, 50.0, 100.0] {
                    line.acc-grid x1=(left) x2=(CHART_WIDTH - right) y1=(y(pct)) y2=(y(pct)) {}
                    text x=(left - 4.0) y=(y(pct) + 3.0) text-anchor="end" { (format!("{pct:.0} %")) }
                }
                line.acc-target x1=(left) x2=(CHART_WIDTH - right) y1=(y(TARGET_PCT)) y2=(y(TARGET_PCT)) {}
                line.acc-axis x1=(left) x2=(left) y1=(top) y2=(CHART_HEIGHT - bottom) {}
                line.acc-axis x1=(left) x2=(CHART_WIDTH - right) y1=(CHART_HEIGHT - bottom) y2=(CHART_HEIGHT - bottom) {}
                @for hour in (first..=last).step_by(step as usize) {
                    text x=(x(hour)) y=(CHART_HEIGHT - 6.0) text-anchor="middle" { (hour_label(hour)) }
                }
                @if points.len() > 1 {
                    polyline.acc-line points=(line) {}
                }
                @for (hour, pct, samples) in &points {
                    circle.acc-point cx=(format!("{:.1}", x(*hour))) cy=(format!("{:.1}", y(*pct))) r="3" {
                        title { (hour_label(*hour)) ": " (percent(Some(*pct))) " of " (thousands(*samples)) }
                    }
                }
            }
            figcaption { "Learnt method, share right per hour; dashed: the 90 % target." }
        }
        details {
            summary { "Per hour (learnt)" }
            table {
                thead { tr { th scope="col" { "Hour" } th scope="col" { "Right" } th scope="col" { "Scored" } } }
                tbody {
                    @for (hour, pct, samples) in &points {
                        tr { th scope="row" { (hour_label(*hour)) } td { (percent(Some(*pct))) } td { (thousands(*samples)) } }
                    }
                }
            }
        }
    }
}

/// A family of `/metrics`: its name, its help, and its value of a cell.
type Family<T> = (&'static str, &'static str, fn(&AccuracyCell) -> T);

/// The accuracy families of `/metrics`: per route, bucket and method the samples scored,
/// accurate, expired late and never, the share right and the mean absolute error; per route
/// and hour the learnt method's share right.
pub(crate) fn metrics(out: &mut String, snapshot: &AccuracySnapshot) {
    use crate::prometheus::{family, sample};
    let counters: [Family<u64>; 4] = [
        (
            "transit_predictions_scored_total",
            "Prediction samples counted (matched with their arrival, or expired), per route, bucket and method.",
            |c| c.tally.samples(),
        ),
        (
            "transit_predictions_accurate_total",
            "Prediction samples within their bucket's tolerance, per route, bucket and method.",
            |c| c.tally.accurate,
        ),
        (
            "transit_predictions_late_total",
            "Prediction samples whose train came after their window closed, per route, bucket and method.",
            |c| c.tally.late,
        ),
        (
            "transit_predictions_never_total",
            "Prediction samples whose train never came, per route, bucket and method.",
            |c| c.tally.never,
        ),
    ];
    for (name, help, value) in counters {
        family(out, name, "counter", help);
        for route in &snapshot.routes {
            for cell in route.cells.iter().filter(|c| c.tally.samples() > 0) {
                sample(
                    out,
                    name,
                    &[
                        ("route", &route.route_id),
                        ("bucket", &cell.bucket),
                        ("method", &cell.method),
                    ],
                    value(cell) as f64,
                );
            }
        }
    }
    let gauges: [Family<Option<f64>>; 2] = [
        (
            "transit_prediction_accuracy_ratio",
            "Share of prediction samples right (expired ones count as wrong), 0-1, per route, bucket and method.",
            |c| c.accurate_pct.map(|p| p / 100.0),
        ),
        (
            "transit_prediction_mean_absolute_error_seconds",
            "Mean absolute error of the prediction samples matched, per route, bucket and method.",
            |c| c.mae_s,
        ),
    ];
    for (name, help, value) in gauges {
        family(out, name, "gauge", help);
        for route in &snapshot.routes {
            for cell in &route.cells {
                if let Some(value) = value(cell) {
                    sample(
                        out,
                        name,
                        &[
                            ("route", &route.route_id),
                            ("bucket", &cell.bucket),
                            ("method", &cell.method),
                        ],
                        value,
                    );
                }
            }
        }
    }
    let name = "transit_prediction_hour_accuracy_ratio";
    family(
        out,
        name,
        "gauge",
        "Share of the learnt method's prediction samples right, 0-1, per route and local hour sampled.",
    );
    for route in &snapshot.routes {
        for hour in &route.hours {
            if let Some(pct) = hour.accurate_pct {
                let label = hour.hour.to_string();
                sample(
                    out,
                    name,
                    &[("route", &route.route_id), ("hour", &label)],
                    pct / 100.0,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
