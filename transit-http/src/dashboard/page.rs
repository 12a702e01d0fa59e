//! The dashboard page: a header with the simulated time and the weather, then per line a
//! diagram and a table of its stations, and, when the board has the accuracy table, the line's
//! prediction accuracy panel. Everything it needs is inline: it works offline.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use transit_core::accuracy::AccuracySnapshot;
use transit_core::event::HeadwayState;
use transit_core::model::LineId;
use transit_core::network::cta;
use transit_core::status::{
    HeadwayPanel, LineView, NextTrain, PlatformHeadway, StationView, StatusSnapshot, TrainView,
};

use super::diagram::{clock, headway_label, line_diagram, status_class};
use crate::accuracy_panel::{self, Level};

const STYLE: &str = include_str!("assets/dashboard.css");
const SCRIPT: &str = include_str!("assets/dashboard.js");

/// The whole page for `snapshot`, with each line's accuracy panel from `accuracy` if given.
pub(crate) fn render(snapshot: &StatusSnapshot, accuracy: Option<&AccuracySnapshot>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Chicago 'L' live status · transit" }
                style { (PreEscaped(STYLE)) }
                @if accuracy.is_some() {
                    style { (PreEscaped(accuracy_panel::STYLE)) }
                }
            }
            body {
                header {
                    h1 { "Chicago " span.l { "'L'" } " live status" }
                    div.facts {
                        div.fact {
                            span.label { "Simulated time" }
                            span #sim-time { (snapshot.simulated_time.as_deref().unwrap_or("waiting for the first train")) }
                        }
                        div.fact #weather {
                            span.label { "Weather" }
                            span #weather-temp { (temperature(snapshot)) }
                            " "
                            span #weather-status { (weather_status(snapshot)) }
                        }
                        div.fact {
                            span.label { "Riders counted" }
                            span #total-entries { (thousands(snapshot.totals.entries)) }
                        }
                        div.fact {
                            span.label { "Trains in service" }
                            span #total-trains { (snapshot.totals.in_service) }
                        }
                        div.fact {
                            span.label { "Bunched · gapped" }
                            span #total-irregular { (irregular(snapshot.totals.bunched, snapshot.totals.gapped)) }
                        }
                        div #live .live .off { "connecting…" }
                    }
                }
                main #board data-version=(snapshot.version) {
                    @if snapshot.totals.stations == 0 {
                        p.empty { "No stations yet: waiting for the station table." }
                    }
                    @for line in &snapshot.lines {
                        (line_section(line, snapshot.simulated_time.as_deref(), accuracy))
                    }
                }
                footer {
                    "transit · " a href="/api/status" { "/api/status" }
                    " · " a href="/metrics" { "/metrics" } " · " a href="/healthz" { "/healthz" }
                }
                script { (PreEscaped(SCRIPT)) }
                @if accuracy.is_some() {
                    script { (PreEscaped(accuracy_panel::SCRIPT)) }
                }
            }
        }
    }
}

/// `now`: the board's clock, which the next trains' due times are counted down from.
fn line_section(line: &LineView, now: Option<&str>, accuracy: Option<&AccuracySnapshot>) -> Markup {
    let name = line.line.as_str();
    let entries: u64 = line.stations.iter().map(|s| s.entries).sum();
    let (towards_a, towards_b) = terminals(line);
    html! {
        section class={ "line line-" (name) } id={ "line-" (name) }
            data-stations=(station_ids(line)) {
            h2 {
                span.swatch {} (display_name(line.line)) " "
                small {
                    (line.stations.len()) " stations · "
                    span.line-entries id={ "entries-" (name) } { (thousands(entries)) } " riders"
                }
            }
            (headway_panel(name, &line.headways))
            @if let Some(accuracy) = accuracy {
                (accuracy_panel(line.line, accuracy))
            }
            div.diagram-wrap { (line_diagram(line)) }
            details open {
                summary { "Stations" }
                table {
                    thead {
                        tr {
                            th { "Station" }
                            th { "Towards " (towards_a) }
                            th.num { "Headway" }
                            th { "Towards " (towards_b) }
                            th.num { "Headway" }
                            th.num { "Entries" }
                        }
                    }
                    tbody {
                        @for station in &line.stations { (station_row(name, station, now)) }
                    }
                }
            }
        }
    }
}

/// A line's prediction accuracy panel: its predictions are those of its route in CTA's static
/// feed (`Blue`, `Red`, `G`).
pub(crate) fn accuracy_panel(line: LineId, accuracy: &AccuracySnapshot) -> Markup {
    accuracy_panel::panel(
        accuracy,
        cta::route_id(line).as_str(),
        &display_name(line),
        Level::Three,
    )
}

/// A line's headway figures, and a legend of the trains' outlines.
fn headway_panel(line: &str, panel: &HeadwayPanel) -> Markup {
    html! {
        div.headways id={ "headways-" (line) } {
            div.fig { span.label { "Mean headway" } span.hw-mean { (seconds_or_dash(panel.mean_headway_s)) } }
            div.fig { span.label { "Scheduled" } span.hw-scheduled { (seconds_or_dash(panel.scheduled_headway_s)) } }
            div.fig { span.label { "Variation (cv)" } span.hw-cv { (cv_text(panel.cv)) } }
            div.fig { span.label { "Expected wait" } span.hw-wait { (seconds_or_dash(panel.expected_wait_s)) } }
            div.fig { span.label { "Bunched" } span.hw-bunched { (panel.bunched) } }
            div.fig { span.label { "Gapped" } span.hw-gapped { (panel.gapped) } }
            div.legend {
                span.key.hw-on_time { "on time" }
                span.key.hw-bunched { "bunched" }
                span.key.hw-gapped { "gapped" }
            }
        }
    }
}

fn station_row(line: &str, station: &StationView, now: Option<&str>) -> Markup {
    html! {
        tr id={ "st-" (line) "-" (station.station_id.0) } {
            td { (station.name) }
            td.ta { (platform_cell(station.train_a.as_ref(), station.next_a.as_ref(), now)) }
            td.num.ha { (headway_cell(station.headway_a.as_ref())) }
            td.tb { (platform_cell(station.train_b.as_ref(), station.next_b.as_ref(), now)) }
            td.num.hb { (headway_cell(station.headway_b.as_ref())) }
            td.num.entries { (thousands(station.entries)) }
        }
    }
}

/// The train standing at a platform, or when the next one is due (counted from `now`).
fn platform_cell(train: Option<&TrainView>, next: Option<&NextTrain>, now: Option<&str>) -> Markup {
    html! {
        @if let Some(train) = train {
            span class={ "chip " (status_class(train)) } { (train.id) }
        } @else if let Some(next) = next {
            span.next { (due_text(next, now)) }
        }
    }
}

fn headway_cell(headway: Option<&PlatformHeadway>) -> Markup {
    html! {
        @if let Some(text) = headway.and_then(headway_text) {
            span class={ "hw hw-" (headway.map_or(HeadwayState::Unknown, |h| h.state).as_str()) }
                title=(headway.map_or("", |h| headway_label(h.state))) { (text) }
        }
    }
}

/// `4 min` (or `Due`) and the train, as Train Tracker shows arrivals: the whole minutes from
/// `now` to its due time, as the page's script counts them at each update.
pub(crate) fn due_text(next: &NextTrain, now: Option<&str>) -> String {
    match next.minutes_from(now) {
        0 => format!("Due · {}", next.id),
        minutes => format!("{minutes} min · {}", next.id),
    }
}

fn headway_text(headway: &PlatformHeadway) -> Option<String> {
    headway.headway_s.map(clock)
}

/// The names of the stations each direction runs towards: the line's last and first.
fn terminals(line: &LineView) -> (String, String) {
    let name = |s: Option<&StationView>| s.map_or_else(String::new, |s| s.name.clone());
    (name(line.stations.last()), name(line.stations.first()))
}

fn seconds_or_dash(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "–".into(), |s| clock(s.round() as i32))
}

fn cv_text(cv: Option<f64>) -> String {
    cv.map_or_else(|| "–".into(), |cv| format!("{cv:.2}"))
}

fn irregular(bunched: u64, gapped: u64) -> String {
    format!("{bunched} · {gapped}")
}

/// The ids of a line's stations in order, so the script can tell when the board's shape
/// changed (a station added) and fetch it anew.
fn station_ids(line: &LineView) -> String {
    let ids: Vec<String> = line
        .stations
        .iter()
        .map(|s| s.station_id.0.to_string())
        .collect();
    ids.join(",")
}

fn temperature(snapshot: &StatusSnapshot) -> String {
    snapshot
        .weather
        .map(|w| format!("{:.1} °F", w.temperature))
        .unwrap_or_else(|| "no reading yet".into())
}

fn weather_status(snapshot: &StatusSnapshot) -> String {
    snapshot
        .weather
        .map(|w| w.status.as_str().replace('_', " "))
        .unwrap_or_default()
}

/// A line's name on the board: its route's long name from the network's data (CTA's `Blue
/// Line`), else its id, title-cased, and `Line`.
fn display_name(line: LineId) -> String {
    cta::data(line).map_or_else(
        || format!("{} Line", title_case(line.as_str())),
        |data| data.long_name.to_string(),
    )
}

fn title_case(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(value: u64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
