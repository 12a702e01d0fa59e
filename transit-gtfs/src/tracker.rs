//! CTA's Train Tracker API v1.0 over a status board: arrivals (`ttarrivals.aspx`), locations
//! (`ttpositions.aspx`) and Follow This Train (`ttfollow.aspx`), as CTA documents them, so
//! rider apps written for CTA's service read the simulation unchanged.
//!
//! What CTA's clients rely on, kept here:
//! - The root element `ctatt` with `tmst` (when the answer was made), `errCd` and `errNm`
//!   (`"0"` and null when all went well); XML by default, JSON with `outputType=JSON` (the same
//!   tree: attributes become `@name` keys).
//! - Every value a string; times in Chicago local time without an offset
//!   (`2026-11-02T08:14:00`); flags `"0"`/`"1"`; coordinates with five decimals; `heading` in
//!   whole degrees.
//! - A failed request is still answered `200` with the error in `errCd`/`errNm`: CTA's codes
//!   and messages (see [`ErrorCode`]). Any `key` is accepted (the simulation has no accounts),
//!   so 101 and 102 never occur.
//! - Parameter names are matched without regard to case, values of `mapid`, `stpid` and `rt`
//!   may repeat or be comma-separated, route codes are CTA's (`Red`, `Blue`, `G`, any case).
//!
//! The simulation's own mappings:
//! - `trDr`: `"1"` towards a line's first station (Blue: O'Hare, Red: Howard, Green:
//!   Harlem/Lake; the simulation's direction `b`), `"5"` towards its last (Forest Park,
//!   95th/Dan Ryan, Ashland/63rd; direction `a`), as CTA numbers them.
//! - `rn`: CTA's runs are three digits, the hundreds telling the line (Blue 1xx, Red 8xx,
//!   Green 6xx, as on CTA's lines): a train's run number is its run modulo 100 over that base
//!   (`BL007` is run `107`, `RD012` run `812`); a line never runs 100 trains at once.
//! - Predictions (`arrT`, `prdt`, `isSch`, `isDly`, in `ttarrivals`, `ttfollow` and
//!   `ttpositions`): the predictor's learnt prediction (`transit-predict`, over the vehicles'
//!   arrivals; see [`LiveNetwork::board_with`]) where it has one for the train at the stop:
//!   `arrT` its predicted arrival, `prdt` when it was made (`issued_at`, the arrival it
//!   follows from), `isDly` `"1"` when predicted [`DELAYED_S`] or more behind the schedule
//!   there. Where it has none, the board's own estimate (the next train due at a platform, the
//!   timetable's run times on from there), made now: `prdt` the answer's time, `isDly` `"1"`
//!   when the train ran that far behind its schedule at its last station. `isSch` `"1"` where
//!   only the timetable is known: a train standing at its trip's first stop before its
//!   scheduled departure, with no prediction, is given its trip's scheduled times.
//! - `isApp`: the train stands at the platform or is due within a minute; `isDly` also `"1"`
//!   for a broken-down train; `isFlt` `"1"` for a broken-down train (a what-if); `flags` null.
//! - `destSt`/`destNm`: the platform and name of the last station of its trip; `stpDe`
//!   `Service toward` that station.
//!
//! # Example
//!
//! ```
//! use transit_core::status::StatusSnapshot;
//! use transit_gtfs::live::LiveNetwork;
//! use transit_gtfs::tracker::{self, Endpoint};
//! use transit_gtfs::Sources;
//!
//! # fn main() -> Result<(), transit_gtfs::GtfsError> {
//! let network = LiveNetwork::new(Sources::embedded()?);
//! let board = network.board(&StatusSnapshot::default());
//! let answer = tracker::answer(&network, &board, Endpoint::Arrivals, "outputType=JSON");
//! assert_eq!(answer.content_type, "application/json; charset=utf-8");
//! assert!(answer.body.contains(r#""errCd":"100""#));
//! # Ok(())
//! # }
//! ```

use std::fmt::Write as _;

use transit_core::model::{Direction, LineId};
use transit_core::network::cta;
use transit_core::time::SimTime;

use crate::live::{Call, CallSource, LiveBoard, LiveNetwork, LiveTrain};

/// How late a train is for Train Tracker's `isDly`, seconds: five minutes, as CTA flags it.
pub const DELAYED_S: i64 = 300;

/// The most `mapid`s or `stpid`s one arrivals request may name (CTA's limit).
pub const MAX_STATIONS: usize = 4;

/// The three Train Tracker services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `ttarrivals.aspx`: predicted arrivals at stations or platforms.
    Arrivals,
    /// `ttpositions.aspx`: every train of one or more routes.
    Positions,
    /// `ttfollow.aspx`: one train and its arrivals at the stops left on its trip.
    Follow,
}

/// The answer's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The default.
    Xml,
    /// With `outputType=JSON`.
    Json,
}

/// A Train Tracker answer: the body and its content type (the status is always 200).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `text/xml; charset=utf-8` or `application/json; charset=utf-8`.
    pub content_type: &'static str,
    /// The document.
    pub body: String,
    /// The error code it carries (`0` when none).
    pub error: u16,
}

/// CTA's error codes, with their messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// 100: a required parameter is missing (its names).
    Missing(&'static str),
    /// 103: a `mapid` that names no station.
    InvalidMapid(String),
    /// 104: a `mapid` that is not an integer.
    MapidNotInteger(String),
    /// 105: more than [`MAX_STATIONS`] `mapid`s.
    TooManyMapids,
    /// 106: a route code CTA does not have, or one the simulation does not run.
    InvalidRoute(String),
    /// 107: more route codes than the service takes.
    TooManyRoutes,
    /// 108: a `stpid` that names no platform.
    InvalidStpid(String),
    /// 109: more than [`MAX_STATIONS`] `stpid`s.
    TooManyStpids,
    /// 110: a `max` that is not a number.
    InvalidMax(String),
    /// 111: a `max` that is not positive.
    MaxNotPositive(String),
    /// 112: a `stpid` that is not an integer.
    StpidNotInteger(String),
    /// 500: a parameter the service does not take (or a value it cannot read).
    InvalidParameter(String),
    /// 501: no train runs with that run number.
    NoSuchRun(String),
    /// 900: the board cannot answer (it has no time yet).
    Server,
}

impl ErrorCode {
    /// The code, as `errCd` carries it.
    pub fn code(&self) -> u16 {
        match self {
            ErrorCode::Missing(_) => 100,
            ErrorCode::InvalidMapid(_) => 103,
            ErrorCode::MapidNotInteger(_) => 104,
            ErrorCode::TooManyMapids => 105,
            ErrorCode::InvalidRoute(_) => 106,
            ErrorCode::TooManyRoutes => 107,
            ErrorCode::InvalidStpid(_) => 108,
            ErrorCode::TooManyStpids => 109,
            ErrorCode::InvalidMax(_) => 110,
            ErrorCode::MaxNotPositive(_) => 111,
            ErrorCode::StpidNotInteger(_) => 112,
            ErrorCode::InvalidParameter(_) => 500,
            ErrorCode::NoSuchRun(_) => 501,
            ErrorCode::Server => 900,
        }
    }

    /// CTA's message, as `errNm` carries it.
    pub fn message(&self) -> String {
        match self {
            ErrorCode::Missing(names) => format!("Required parameter {names} is missing."),
            ErrorCode::InvalidMapid(v) => format!("Invalid mapid specified: '{v}'."),
            ErrorCode::MapidNotInteger(v) => {
                format!("mapid's need to be in integer format: '{v}'.")
            }
            ErrorCode::TooManyMapids => {
                "Maximum of mapid's you can specify has been exceeded.".into()
            }
            ErrorCode::InvalidRoute(v) => format!("Invalid route identifier: '{v}'."),
            ErrorCode::TooManyRoutes => {
                "Maximum of route identifiers you can specify has been exceeded.".into()
            }
            ErrorCode::InvalidStpid(v) => format!("Invalid stpid specified: '{v}'."),
            ErrorCode::TooManyStpids => {
                "Maximum of stpid's you can specify has been exceeded.".into()
            }
            ErrorCode::InvalidMax(v) => format!("Invalid max specified: '{v}'."),
            ErrorCode::MaxNotPositive(v) => {
                format!("Value of max must be a positive integer: '{v}'.")
            }
            ErrorCode::StpidNotInteger(v) => {
                format!("stpid's need to be in integer format: '{v}'.")
            }
            ErrorCode::InvalidParameter(v) => format!("Invalid parameter: '{v}'."),
            ErrorCode::NoSuchRun(v) => format!("No trains with runnumber {v} were found."),
            ErrorCode::Server => "Server Error.".into(),
        }
    }
}

/// CTA's route code of a line in answers (`rt`).
pub fn route_code(line: LineId) -> &'static str {
    crate::route_id(line)
}

/// The line of `lines` (a network's) a route code names (any case); `None` for codes the
/// simulation does not run.
pub fn line_of_route(lines: impl IntoIterator<Item = LineId>, code: &str) -> Option<LineId> {
    lines
        .into_iter()
        .find(|line| route_code(*line).eq_ignore_ascii_case(code.trim()))
}

/// `trDr`: `1` towards a line's first station, `5` towards its last.
pub fn train_direction(direction: Direction) -> &'static str {
    match direction {
        Direction::A => "5",
        Direction::B => "1",
    }
}

/// The hundreds of a line's run numbers: CTA's for its lines, none for another's.
fn run_base(line: LineId) -> i32 {
    cta::data(line).map_or(0, |data| data.run_base)
}

/// CTA's three-digit run number of a train of `line` with run `run`.
pub fn run_number(line: LineId, run: i32) -> i32 {
    run_base(line) + run.rem_euclid(100)
}

/// Train Tracker's time: Chicago local, no offset.
fn time(t: SimTime) -> String {
    t.to_naive()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

/// One parameter of a request: its name (lower case) and its values.
fn parameters(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect()
}

/// The values of `name`, repeated or comma-separated, empty ones left out.
fn values(params: &[(String, String)], name: &str) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// A JSON/XML tree, the shape both formats are rendered from.
#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Null,
    /// Fields in order; a name starting with `@` is an XML attribute.
    Object(Vec<(&'static str, Node)>),
    /// Repeated elements of one name (a JSON array).
    List(Vec<Node>),
}

fn text(s: impl Into<String>) -> Node {
    Node::Text(s.into())
}

fn flag(on: bool) -> Node {
    text(if on { "1" } else { "0" })
}

fn coordinate(value: f64) -> Node {
    text(format!("{value:.5}"))
}

/// Answers a request to `endpoint` with `query` (the URL's query string, undecoded).
pub fn answer(network: &LiveNetwork, board: &LiveBoard, endpoint: Endpoint, query: &str) -> Answer {
    let params = parameters(query);
    let format = requested_format(&params);
    let tmst = board.now.map(time).unwrap_or_default();
    let result = format.clone().and_then(|_| match endpoint {
        Endpoint::Arrivals => arrivals(network, board, &params),
        Endpoint::Positions => positions(network, board, &params),
        Endpoint::Follow => follow(network, board, &params),
    });
    render(format.unwrap_or(Format::Xml), tmst, result)
}

/// Error 900 (`Server Error.`) in the format `query` asks for: what a request gets when the
/// network cannot be loaded.
pub fn server_error(query: &str) -> Answer {
    let format = requested_format(&parameters(query)).unwrap_or(Format::Xml);
    render(format, String::new(), Err(ErrorCode::Server))
}

/// `outputType`: XML unless `JSON` (any case); another value is error 500.
fn requested_format(params: &[(String, String)]) -> Result<Format, ErrorCode> {
    match params.iter().rev().find(|(k, _)| k == "outputtype") {
        Some((_, v)) if v.eq_ignore_ascii_case("json") => Ok(Format::Json),
        Some((_, v)) if v.eq_ignore_ascii_case("xml") => Ok(Format::Xml),
        Some((_, v)) => Err(ErrorCode::InvalidParameter(format!("outputType={v}"))),
        None => Ok(Format::Xml),
    }
}

fn render(
    format: Format,
    tmst: String,
    result: Result<Vec<(&'static str, Node)>, ErrorCode>,
) -> Answer {
    let (error, mut fields) = match result {
        Ok(fields) => (None, fields),
        Err(e) => (Some(e), Vec::new()),
    };
    let code = error.as_ref().map_or(0, ErrorCode::code);
    let mut root = vec![
        ("tmst", text(tmst)),
        ("errCd", text(code.to_string())),
        (
            "errNm",
            error.as_ref().map_or(Node::Null, |e| text(e.message())),
        ),
    ];
    root.append(&mut fields);
    let document = Node::Object(root);
    match format {
        Format::Json => {
            let mut body = String::from("{\"ctatt\":");
            json(&document, &mut body);
            body.push('}');
            Answer {
                content_type: "application/json; charset=utf-8",
                body,
                error: code,
            }
        }
        Format::Xml => {
            let mut body = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
            xml("ctatt", &document, &mut body);
            body.push('\n');
            Answer {
                content_type: "text/xml; charset=utf-8",
                body,
                error: code,
            }
        }
    }
}

/// The parameters `endpoint` takes; any other is error 500.
fn check_known(params: &[(String, String)], known: &[&str]) -> Result<(), ErrorCode> {
    match params
        .iter()
        .find(|(k, _)| k != "key" && k != "outputtype" && !known.contains(&k.as_str()))
    {
        Some((k, _)) => Err(ErrorCode::InvalidParameter(k.clone())),
        None => Ok(()),
    }
}

/// Parses route codes; `None` when none were given.
fn routes(network: &LiveNetwork, values: &[String]) -> Result<Vec<LineId>, ErrorCode> {
    let lines = network.sources().network.line_ids();
    values
        .iter()
        .map(|v| line_of_route(lines.clone(), v).ok_or_else(|| ErrorCode::InvalidRoute(v.clone())))
        .collect()
}

fn arrivals(
    network: &LiveNetwork,
    board: &LiveBoard,
    params: &[(String, String)],
) -> Result<Vec<(&'static str, Node)>, ErrorCode> {
    check_known(params, &["mapid", "stpid", "rt", "max"])?;
    let mapids = values(params, "mapid");
    let stpids = values(params, "stpid");
    if mapids.is_empty() && stpids.is_empty() {
        return Err(ErrorCode::Missing("'mapid' or 'stpid'"));
    }
    if mapids.len() > MAX_STATIONS {
        return Err(ErrorCode::TooManyMapids);
    }
    if stpids.len() > MAX_STATIONS {
        return Err(ErrorCode::TooManyStpids);
    }
    let all_stations: Vec<(u32, u32)> = network
        .sources()
        .network
        .line_ids()
        .flat_map(|line| {
            network
                .stations(line)
                .iter()
                .flat_map(|s| s.stop_ids.map(|stop| (s.id.0, stop)))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut stations = Vec::new();
    for v in &mapids {
        let id: u32 = v
            .parse()
            .map_err(|_| ErrorCode::MapidNotInteger(v.clone()))?;
        if !all_stations.iter().any(|(s, _)| *s == id) {
            return Err(ErrorCode::InvalidMapid(v.clone()));
        }
        stations.push(id);
    }
    let mut stops = Vec::new();
    for v in &stpids {
        let id: u32 = v
            .parse()
            .map_err(|_| ErrorCode::StpidNotInteger(v.clone()))?;
        if !all_stations.iter().any(|(_, s)| *s == id) {
            return Err(ErrorCode::InvalidStpid(v.clone()));
        }
        stops.push(id);
    }
    let rt = values(params, "rt");
    if rt.len() > 1 {
        return Err(ErrorCode::TooManyRoutes);
    }
    let lines = routes(network, &rt)?;
    let max = match values(params, "max").last() {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(m) if m > 0 => Some(usize::try_from(m).unwrap_or(usize::MAX)),
            Ok(_) => return Err(ErrorCode::MaxNotPositive(v.clone())),
            Err(_) => return Err(ErrorCode::InvalidMax(v.clone())),
        },
    };
    let now = board.now.ok_or(ErrorCode::Server)?;
    let mut found: Vec<(&LiveTrain, &Call)> = board
        .trains
        .iter()
        .filter(|t| lines.is_empty() || lines.contains(&t.line))
        .flat_map(|t| t.calls.iter().map(move |c| (t, c)))
        .filter(|(_, c)| stations.contains(&c.station_id.0) || stops.contains(&c.stop_id))
        .collect();
    let place = |line| network.sources().network.position(line);
    found.sort_by_key(|(t, c)| (c.arrival, place(t.line), t.id.clone()));
    if let Some(max) = max {
        found.truncate(max);
    }
    let eta: Vec<Node> = found
        .into_iter()
        .map(|(train, call)| {
            let mut fields = eta_fields(network, train, call, now);
            fields.extend(position_fields(train));
            Node::Object(fields)
        })
        .collect();
    Ok(if eta.is_empty() {
        Vec::new()
    } else {
        vec![("eta", Node::List(eta))]
    })
}

/// The fields of an `eta`: a train's predicted arrival at one stop.
fn eta_fields(
    network: &LiveNetwork,
    train: &LiveTrain,
    call: &Call,
    now: SimTime,
) -> Vec<(&'static str, Node)> {
    let stations = network.stations(train.line);
    let name = stations
        .get(call.station)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let (dest_stop, dest_name) = destination(network, train);
    vec![
        ("staId", text(call.station_id.0.to_string())),
        ("stpId", text(call.stop_id.to_string())),
        ("staNm", text(name)),
        ("stpDe", text(format!("Service toward {dest_name}"))),
        ("rn", text(run_number(train.line, train.run).to_string())),
        ("rt", text(route_code(train.line))),
        ("destSt", text(dest_stop)),
        ("destNm", text(dest_name)),
        ("trDr", text(train_direction(train.direction))),
        ("prdt", text(time(predicted_at(call, now)))),
        // A train at the platform is due now, however long it has stood there.
        ("arrT", text(time(call.arrival.max(now)))),
        ("isApp", flag(call.approaching(now))),
        ("isSch", flag(call.source == CallSource::Timetable)),
        ("isDly", flag(delayed(train, call))),
        ("isFlt", flag(train.broken_down)),
        ("flags", Node::Null),
    ]
}

fn position_fields(train: &LiveTrain) -> Vec<(&'static str, Node)> {
    vec![
        ("lat", coordinate(train.position.0)),
        ("lon", coordinate(train.position.1)),
        (
            "heading",
            text(format!("{:.0}", train.bearing.round() % 360.0)),
        ),
    ]
}

/// A call's `isDly`: the train is broken down (stopped until repaired), or, where the
/// predictor predicts the call, predicted [`DELAYED_S`] or more behind its schedule there;
/// elsewhere, that far behind at its last station.
fn delayed(train: &LiveTrain, call: &Call) -> bool {
    let late = |d: i32| i64::from(d) >= DELAYED_S;
    train.broken_down
        || match call.source {
            CallSource::Predicted => call.delay_s().is_some_and(late),
            CallSource::Board | CallSource::Timetable => train.delay_s.is_some_and(late),
        }
}

/// A call's `prdt`: when its prediction was made, or now for the board's own estimate (made
/// afresh with every answer).
fn predicted_at(call: &Call, now: SimTime) -> SimTime {
    match call.source {
        CallSource::Predicted => call.issued_at.unwrap_or(now),
        CallSource::Board | CallSource::Timetable => now,
    }
}

/// The platform and name of the last station of the train's trip.
fn destination(network: &LiveNetwork, train: &LiveTrain) -> (String, String) {
    let index = network.terminal(train.line, train.direction);
    let stop = network
        .stop_id(train.line, index, train.direction)
        .map(|s| s.to_string())
        .unwrap_or_default();
    let name = network
        .stations(train.line)
        .get(index)
        .map(|s| s.name.clone())
        .unwrap_or_default();
    (stop, name)
}

fn positions(
    network: &LiveNetwork,
    board: &LiveBoard,
    params: &[(String, String)],
) -> Result<Vec<(&'static str, Node)>, ErrorCode> {
    check_known(params, &["rt"])?;
    let rt = values(params, "rt");
    if rt.is_empty() {
        return Err(ErrorCode::Missing("'rt'"));
    }
    // CTA runs eight routes; more codes than that repeat one.
    if rt.len() > 8 {
        return Err(ErrorCode::TooManyRoutes);
    }
    let lines = routes(network, &rt)?;
    let now = board.now.ok_or(ErrorCode::Server)?;
    let route = rt
        .iter()
        .zip(&lines)
        .map(|(code, line)| {
            let trains: Vec<Node> = board
                .trains
                .iter()
                .filter(|t| t.line == *line)
                .filter_map(|train| {
                    let call = train.calls.first()?;
                    let (dest_stop, dest_name) = destination(network, train);
                    let name = network
                        .stations(train.line)
                        .get(call.station)
                        .map(|s| s.name.clone())
                        .unwrap_or_default();
                    let mut fields = vec![
                        ("rn", text(run_number(train.line, train.run).to_string())),
                        ("destSt", text(dest_stop)),
                        ("destNm", text(dest_name)),
                        ("trDr", text(train_direction(train.direction))),
                        ("nextStaId", text(call.station_id.0.to_string())),
                        ("nextStpId", text(call.stop_id.to_string())),
                        ("nextStaNm", text(name)),
                        ("prdt", text(time(predicted_at(call, now)))),
                        ("arrT", text(time(call.arrival.max(now)))),
                        ("isApp", flag(call.approaching(now))),
                        ("isDly", flag(delayed(train, call))),
                        ("flags", Node::Null),
                    ];
                    fields.extend(position_fields(train));
                    Some(Node::Object(fields))
                })
                .collect();
            let mut fields = vec![("@name", text(code.to_ascii_lowercase()))];
            if !trains.is_empty() {
                fields.push(("train", Node::List(trains)));
            }
            Node::Object(fields)
        })
        .collect();
    Ok(vec![("route", Node::List(route))])
}

fn follow(
    network: &LiveNetwork,
    board: &LiveBoard,
    params: &[(String, String)],
) -> Result<Vec<(&'static str, Node)>, ErrorCode> {
    check_known(params, &["runnumber"])?;
    let runs = values(params, "runnumber");
    let Some(requested) = runs.last() else {
        return Err(ErrorCode::Missing("'runnumber'"));
    };
    let now = board.now.ok_or(ErrorCode::Server)?;
    let wanted: Option<i32> = requested.parse().ok();
    let train = wanted
        .and_then(|rn| {
            board
                .trains
                .iter()
                .find(|t| run_number(t.line, t.run) == rn)
        })
        .ok_or_else(|| ErrorCode::NoSuchRun(requested.clone()))?;
    let position = Node::Object(position_fields(train));
    let eta: Vec<Node> = train
        .calls
        .iter()
        .map(|call| Node::Object(eta_fields(network, train, call, now)))
        .collect();
    let mut fields = vec![("position", position)];
    if !eta.is_empty() {
        fields.push(("eta", Node::List(eta)));
    }
    Ok(fields)
}

fn json(node: &Node, out: &mut String) {
    match node {
        Node::Text(s) => {
            // A string of JSON cannot fail to serialise.
            out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
        }
        Node::Null => out.push_str("null"),
        Node::Object(fields) => {
            out.push('{');
            for (i, (name, value)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "\"{name}\":");
                json(value, out);
            }
            out.push('}');
        }
        Node::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json(item, out);
            }
            out.push(']');
        }
    }
}

/// Escapes `s` for XML text and double-quoted attributes. Values can echo the request (an
/// unknown `runnumber`, a bad parameter's name), so any character is possible: those XML 1.0
/// cannot hold at all (C0 controls other than tab, LF and CR; U+FFFE and U+FFFF) become U+FFFD,
/// as invalid UTF-8 in the query already has; tab, LF and CR are written as character
/// references, which parsers keep as they are (a raw CR would be read as LF, and all three as
/// spaces in an attribute). `>` is always escaped, so `]]>` cannot appear.
fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // Values go in text and in double-quoted attributes: an apostrophe needs no escape.
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

fn xml(name: &str, node: &Node, out: &mut String) {
    match node {
        Node::Text(s) if s.is_empty() => {
            let _ = write!(out, "<{name} />");
        }
        Node::Text(s) => {
            let _ = write!(out, "<{name}>");
            escape(s, out);
            let _ = write!(out, "</{name}>");
        }
        Node::Null => {
            let _ = write!(out, "<{name} />");
        }
        Node::Object(fields) => {
            let _ = write!(out, "<{name}");
            for (attribute, value) in fields.iter().filter(|(k, _)| k.starts_with('@')) {
                if let Node::Text(v) = value {
                    let _ = write!(out, " {}=\"", &attribute[1..]);
                    escape(v, out);
                    out.push('"');
                }
            }
            out.push('>');
            for (child, value) in fields.iter().filter(|(k, _)| !k.starts_with('@')) {
                xml(child, value, out);
            }
            let _ = write!(out, "</{name}>");
        }
        Node::List(items) => {
            for item in items {
                xml(name, item, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_numbers_carry_the_line_in_their_hundreds() {
        assert_eq!(run_number(cta::BLUE, 7), 107);
        assert_eq!(run_number(cta::RED, 12), 812);
        assert_eq!(run_number(cta::GREEN, 3), 603);
        assert_eq!(train_direction(Direction::A), "5");
        assert_eq!(train_direction(Direction::B), "1");
    }

    #[test]
    fn route_codes_are_ctas_in_any_case() {
        assert_eq!(line_of_route(cta::LINES, "red"), Some(cta::RED));
        assert_eq!(line_of_route(cta::LINES, "BLUE"), Some(cta::BLUE));
        assert_eq!(line_of_route(cta::LINES, "g"), Some(cta::GREEN));
        assert_eq!(line_of_route(cta::LINES, "Brn"), None);
    }

    #[test]
    fn values_repeat_or_are_comma_separated_and_names_ignore_case() {
        let params = parameters("MapId=40380,40260&mapid=41020&rt=&outputType=JSON");
        assert_eq!(values(&params, "mapid"), ["40380", "40260", "41020"]);
        assert!(values(&params, "rt").is_empty());
    }

    #[test]
    fn xml_escapes_and_turns_at_names_into_attributes() {
        let node = Node::Object(vec![
            ("@name", text("o'hare")),
            ("staNm", text("A & B <C>")),
            ("flags", Node::Null),
        ]);
        let mut out = String::new();
        xml("route", &node, &mut out);
        assert_eq!(
            out,
            "<route name=\"o'hare\"><staNm>A &amp; B &lt;C&gt;</staNm><flags /></route>"
        );
        let mut out = String::new();
        json(&node, &mut out);
        assert_eq!(
            out,
            r#"{"@name":"o'hare","staNm":"A & B <C>","flags":null}"#
        );
    }

    #[test]
    fn characters_xml_cannot_hold_are_replaced_and_line_breaks_kept() {
        let mut out = String::new();
        escape("a\u{0}\u{1}\u{1b}b\r\n\tc]]>\u{FFFF}\u{7f}é", &mut out);
        assert_eq!(
            out,
            "a\u{FFFD}\u{FFFD}\u{FFFD}b&#13;&#10;&#9;c]]&gt;\u{FFFD}\u{7f}é"
        );
    }
}
