//! Ten thousand viewers of the board: a bounded load test of the dashboard's `/events`.
//!
//! For each number of viewers it starts `full_pipeline --speed 600` (the whole pipeline on the
//! in-memory bus) on a free loopback port, measures the process alone for a few seconds, opens
//! that many `/events` streams over raw TCP, waits until each has its first board, measures for
//! `--seconds`, then stops the process and closes the streams. It reports:
//! - delay, to when a viewer had read the whole event, from: when the read model made the board
//!   the event carries (its `board` stamp); when the update went out (`published`); and when
//!   the first change since the previous update was made (`changed`: the dashboard sends at
//!   most 4 updates a second, so a change may wait up to 250 ms for its turn): p50, p99 and max
//!   over every event every viewer got (same machine, same clock);
//! - spread: for each version, how long after the first viewer each other viewer got it;
//! - whether every update reached every viewer: the versions published in the window, against
//!   the versions each viewer got (a viewer that fell behind gets the whole board, a gap);
//! - that each viewer's board is the server's, on a sample (`--sample-percent`, at least
//!   `--sample-min`, chosen by `--seed`): each viewer of the sample rebuilds its board from the
//!   whole boards and deltas it is sent, and every rebuilt version is compared with the whole
//!   board of that version (one extra stream asks for whole boards only, `?full=1`).
//!   Rebuilding is memoised: two viewers that hold the same board and are sent the same bytes
//!   rebuild the same board, so it is computed once and the bytes compared. Every other viewer
//!   reads only the events' framing (their `id:`, stamps, and the first bytes of a delta,
//!   `{"from":N,"to":M,`, checked against the version it holds), never decoding the JSON, so
//!   this client keeps up with 10 000 viewers on two cores;
//! - the mean size of a delta's data and of a whole board's;
//! - the server's CPU (from `/proc/<pid>/stat`, in % of one core) and resident memory, alone
//!   and with the viewers, and the memory per viewer; this client's own CPU.
//!
//! `--mode full` asks every viewer for whole boards (`?full=1`); `--mode legacy` reads a
//! dashboard from before deltas (whole boards, no ids or stamps: the version comes from the
//! JSON, and delays cannot be measured, only spreads), with `--pipeline` naming its binary.
//!
//! ```sh
//! cargo build --release --example full_pipeline
//! cargo bench --bench viewers -- --viewers 1000,5000,10000
//! ```
//!
//! It needs `ulimit -n` above the largest number of viewers (each is a socket here and one in
//! the server). Under `cargo test` it runs 50 viewers for 3 seconds as a check that it works,
//! and fails if a board was rebuilt wrong or an update lost.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use transit_http::dashboard::delta;

#[derive(Debug, Parser)]
struct Args {
    /// Numbers of viewers, one run each.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000")]
    viewers: Vec<usize>,
    /// How long each run measures, in seconds, once every viewer has its board.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// What viewers ask for: `delta` (the default `/events`), `full` (`/events?full=1`), or
    /// `legacy` (a dashboard from before deltas).
    #[arg(long, default_value = "delta")]
    mode: Mode,
    /// The `full_pipeline` binary (default: beside this benchmark's, in `examples/`).
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// Simulation speed.
    #[arg(long, default_value_t = 600)]
    speed: u32,
    /// Seconds the pipeline runs alone before it is measured (its bus fills meanwhile).
    #[arg(long, default_value_t = 20)]
    warm_up: u64,
    /// The share of viewers (in %) that rebuild their boards from what they are sent and
    /// compare them with the server's; the others only count the updates they get.
    #[arg(long, default_value_t = 1.0)]
    sample_percent: f64,
    /// … and at least this many.
    #[arg(long, default_value_t = 50)]
    sample_min: usize,
    /// Which viewers are in the sample.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Set by `cargo bench`; without it (under `cargo test`) a short check runs.
    #[arg(long)]
    bench: bool,
}

/// SplitMix64: a seeded sequence of well-mixed numbers, enough to pick a sample.
fn split_mix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Which of `viewers` verify their boards: `percent` of them and at least `min` (all when
/// fewer), chosen by `seed` (a partial Fisher–Yates shuffle).
fn sample(viewers: usize, percent: f64, min: usize, seed: u64) -> Vec<bool> {
    let wanted = ((viewers as f64 * percent / 100.0).ceil() as usize)
        .max(min)
        .min(viewers);
    let mut order: Vec<usize> = (0..viewers).collect();
    let mut state = seed;
    for i in 0..wanted {
        let j = i + (split_mix(&mut state) % (viewers - i) as u64) as usize;
        order.swap(i, j);
    }
    let mut chosen = vec![false; viewers];
    for &index in &order[..wanted] {
        chosen[index] = true;
    }
    chosen
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    Delta,
    Full,
    Legacy,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
        })
}

/// The server's CPU time (user + system, in clock ticks of 10 ms) and resident memory (bytes).
fn process_usage(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((utime + stime, rss_kb * 1024))
}

/// Linux counts CPU time in USER_HZ ticks, 100 a second on every architecture it runs on.
const TICKS_PER_SECOND: f64 = 100.0;

/// What an event is, by its `event:` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Status,
    Delta,
    Other,
}

/// One event as a viewer read it: its framing, and its `data:` line (whole for a viewer whose
/// boards are verified, else only its first [`KEPT`] bytes: enough for a delta's `from` and
/// `to`, or a legacy board's version, and the JSON is never decoded).
struct Received {
    name: Name,
    id: Option<u64>,
    changed: Option<u64>,
    board: Option<u64>,
    published: Option<u64>,
    /// The `data: ` line as kept, with its prefix.
    data: Vec<u8>,
    /// The length of the data (after `data: `), whether kept or not.
    data_len: usize,
    any: bool,
}

impl Received {
    fn new() -> Self {
        Self {
            name: Name::Other,
            id: None,
            changed: None,
            board: None,
            published: None,
            data: Vec::new(),
            data_len: 0,
            any: false,
        }
    }

    fn data(&self) -> &[u8] {
        self.data.get(DATA.len()..).unwrap_or_default()
    }

    fn reset(&mut self) {
        let mut data = std::mem::take(&mut self.data);
        data.clear();
        *self = Self {
            data,
            ..Self::new()
        };
    }
}

const DATA: &[u8] = b"data: ";

/// How much of a line a viewer whose boards are not verified keeps: every framing line whole
/// (the stamps' comment is the longest, about 80 bytes), and the start of the data.
const KEPT: usize = 128;

/// Where the first `\n` of `bytes` is: eight bytes at a time, since most of a stream is data
/// lines tens of kilobytes long.
fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut at = 0;
    for chunk in bytes.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ NEWLINES;
        // Some byte of x is zero, i.e. some byte of the word is `\n`.
        if x.wrapping_sub(ONES) & !x & HIGHS != 0 {
            break;
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&byte| byte == b'\n')
        .map(|offset| at + offset)
}

/// Server-sent events read from a body as it comes, a line at a time, without holding more of a
/// line than [`KEPT`] bytes unless `keep_data`.
struct Events {
    keep_data: bool,
    line: Vec<u8>,
    line_len: usize,
    event: Received,
}

impl Events {
    fn new(keep_data: bool) -> Self {
        Self {
            keep_data,
            line: Vec::new(),
            line_len: 0,
            event: Received::new(),
        }
    }

    /// Reads `bytes`, handing each complete event to `on_event`.
    fn feed(
        &mut self,
        mut bytes: &[u8],
        on_event: &mut impl FnMut(&Received) -> Result<(), BoxError>,
    ) -> Result<(), BoxError> {
        while !bytes.is_empty() {
            match find_newline(bytes) {
                Some(at) => {
                    self.push(&bytes[..at]);
                    bytes = &bytes[at + 1..];
                    self.end_line(on_event)?;
                }
                None => {
                    self.push(bytes);
                    break;
                }
            }
        }
        Ok(())
    }

    fn push(&mut self, part: &[u8]) {
        self.line_len += part.len();
        let room = if self.keep_data {
            part.len()
        } else {
            KEPT.saturating_sub(self.line.len()).min(part.len())
        };
        self.line.extend_from_slice(&part[..room]);
    }

    fn end_line(
        &mut self,
        on_event: &mut impl FnMut(&Received) -> Result<(), BoxError>,
    ) -> Result<(), BoxError> {
        let line = &self.line;
        let event = &mut self.event;
        if self.line_len == 0 {
            if event.any {
                on_event(event)?;
            }
            event.reset();
        } else if let Some(comment) = line.strip_prefix(b":") {
            for word in comment.split(|&byte| byte == b' ') {
                let number = |prefix: &[u8]| {
                    word.strip_prefix(prefix)
                        .and_then(|digits| std::str::from_utf8(digits).ok())
                        .and_then(|digits| digits.parse().ok())
                };
                event.published = event.published.or(number(b"published="));
                event.changed = event.changed.or(number(b"changed="));
                event.board = event.board.or(number(b"board="));
            }
        } else if let Some(name) = line.strip_prefix(b"event: ") {
            event.name = match name {
                b"status" => Name::Status,
                b"delta" => Name::Delta,
                _ => Name::Other,
            };
            event.any = true;
        } else if let Some(id) = line.strip_prefix(b"id: ") {
            event.id = std::str::from_utf8(id).ok().and_then(|id| id.parse().ok());
            event.any = true;
        } else if line.starts_with(DATA) {
            event.data_len = self.line_len - DATA.len();
            std::mem::swap(&mut event.data, &mut self.line);
            event.any = true;
        }
        self.line.clear();
        self.line_len = 0;
        Ok(())
    }
}

/// A legacy event's version: `{"version":N,...` from the snapshot's JSON.
fn version_in(data: &[u8]) -> Option<u64> {
    let key = b"\"version\":";
    let at = data.windows(key.len()).position(|window| window == key)? + key.len();
    let digits: Vec<u8> = data[at..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// Every board any viewer rebuilt, by version, and the bytes that built it: the check that
/// each viewer's board is the server's.
#[derive(Default)]
struct Boards {
    boards: HashMap<u64, Arc<Value>>,
    whole: HashMap<u64, Vec<u8>>,
    /// By (from, to).
    deltas: HashMap<(u64, u64), Vec<u8>>,
    /// Versions whose board was built by two paths (a whole board and a delta) and compared.
    compared: u64,
    mismatches: u64,
    errors: Vec<String>,
}

impl Boards {
    fn error(&mut self, error: String) {
        if self.errors.len() < 5 {
            self.errors.push(error);
        }
    }

    fn settle(&mut self, version: u64, board: Value, how: &str) {
        match self.boards.get(&version) {
            Some(known) if **known == board => self.compared += 1,
            Some(_) => {
                self.mismatches += 1;
                self.error(format!("version {version}: the board from {how} differs"));
            }
            None => {
                self.boards.insert(version, Arc::new(board));
            }
        }
    }

    fn whole_board(&mut self, version: u64, data: &[u8]) {
        if self.whole.get(&version).is_some_and(|known| known == data) {
            return;
        }
        match serde_json::from_slice::<Value>(data) {
            Ok(board) => self.settle(version, board, "a whole board"),
            Err(error) => self.error(format!(
                "version {version}: a board that is not JSON: {error}"
            )),
        }
        self.whole.insert(version, data.to_vec());
    }

    /// A delta to `version` for a viewer holding `holds`: whether it applied.
    fn delta(&mut self, holds: Option<u64>, version: u64, data: &[u8]) -> bool {
        if let Some(holds) = holds {
            if self
                .deltas
                .get(&(holds, version))
                .is_some_and(|known| known == data)
            {
                return true;
            }
        }
        let parsed: Value = match serde_json::from_slice(data) {
            Ok(parsed) => parsed,
            Err(error) => {
                self.error(format!(
                    "version {version}: a delta that is not JSON: {error}"
                ));
                return false;
            }
        };
        let from = parsed["from"].as_u64();
        if parsed["to"].as_u64() != Some(version) || from.is_none() || from != holds {
            self.error(format!(
                "version {version}: a delta from {from:?} to {} for a viewer holding {holds:?}",
                parsed["to"]
            ));
            return false;
        }
        let Some(base) = from.and_then(|from| self.boards.get(&from)) else {
            self.error(format!(
                "version {version}: a delta from a board no one holds"
            ));
            return false;
        };
        let mut board = Value::clone(base);
        if let Err(error) = delta::apply(&mut board, &parsed["patch"]) {
            self.error(format!("version {version}: {error}"));
            return false;
        }
        self.settle(version, board, "a delta");
        self.deltas
            .insert((from.unwrap_or_default(), version), data.to_vec());
        true
    }

    /// Keeps the newest `keep` boards only, so a long run's memory stays flat.
    fn keep_newest(&mut self, keep: usize) {
        let mut versions: Vec<u64> = self.boards.keys().copied().collect();
        versions.sort_unstable();
        let oldest = versions
            .len()
            .checked_sub(keep)
            .map_or(0, |cut| versions[cut]);
        self.boards.retain(|version, _| *version >= oldest);
        self.whole.retain(|version, _| *version >= oldest);
        self.deltas.retain(|(_, version), _| *version >= oldest);
    }
}

/// What one viewer saw during the window.
#[derive(Default)]
struct Seen {
    /// (version, when it was read, µs since the epoch), before the window too: an update that
    /// went out just before it started reached some viewers before and the others in it, and
    /// those before got it all the same.
    read: Vec<(u64, u64)>,
    delays_changed: Vec<u64>,
    delays_board: Vec<u64>,
    delays_published: Vec<u64>,
    whole: u64,
    deltas: u64,
    /// The data of those whole boards and deltas, in bytes.
    whole_bytes: u64,
    delta_bytes: u64,
    bytes: u64,
    /// Whether this viewer rebuilt its boards (one of the sample).
    verified: bool,
    failed: Option<String>,
}

struct Shared {
    mode: Mode,
    boards: Mutex<Boards>,
    /// Viewers that have their first board.
    ready: AtomicUsize,
    /// Set while measuring.
    measuring: AtomicBool,
    stop: AtomicBool,
}

/// One viewer: opens `/events`, reads it until told to stop, and, if `verify`, rebuilds its
/// board from what it is sent. `opening` is held until the server answered, to bound the
/// connections being opened at once.
async fn viewer(
    address: std::net::SocketAddr,
    path: &'static str,
    shared: Arc<Shared>,
    opening: Option<OwnedSemaphorePermit>,
    verify: bool,
) -> Seen {
    let mut seen = Seen {
        verified: verify,
        ..Seen::default()
    };
    if let Err(error) = watch(address, path, &shared, &mut seen, opening, verify).await {
        // Once told to stop, the server going away is the end, not a failure.
        if !shared.stop.load(Ordering::Relaxed) {
            seen.failed = Some(error.to_string());
        }
    }
    seen
}

thread_local! {
    /// Where each viewer's reads land: one buffer a thread rather than one a viewer (reads are
    /// handled whole before the task yields).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 64 * 1024]);
}

/// What a viewer holds, and what it does with each event.
struct Watcher<'a> {
    shared: &'a Shared,
    seen: &'a mut Seen,
    verify: bool,
    holds: Option<u64>,
    first: bool,
}

impl Watcher<'_> {
    fn receive(&mut self, event: &Received, read_at: u64, measuring: bool) -> Result<(), BoxError> {
        let shared = self.shared;
        let version = match shared.mode {
            Mode::Legacy => version_in(event.data()),
            Mode::Delta | Mode::Full => event.id,
        }
        .ok_or("an event without a version")?;
        let applied = match event.name {
            Name::Status => {
                if self.verify {
                    shared
                        .boards
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .whole_board(version, event.data());
                }
                if measuring {
                    self.seen.whole += 1;
                    self.seen.whole_bytes += event.data_len as u64;
                }
                true
            }
            Name::Delta => {
                if measuring {
                    self.seen.deltas += 1;
                    self.seen.delta_bytes += event.data_len as u64;
                }
                if self.verify {
                    shared
                        .boards
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .delta(self.holds, version, event.data())
                } else {
                    // Not decoded: only that it is a delta from the board held to this version.
                    self.holds.is_some_and(|holds| {
                        event
                            .data()
                            .starts_with(format!("{{\"from\":{holds},\"to\":{version},").as_bytes())
                    })
                }
            }
            Name::Other => false,
        };
        if !applied {
            return Err(format!(
                "event {:?} to version {version} did not apply to {:?}",
                event.name, self.holds
            )
            .into());
        }
        self.holds = Some(version);
        if self.first {
            self.first = false;
            shared.ready.fetch_add(1, Ordering::Relaxed);
        }
        self.seen.read.push((version, read_at));
        if measuring {
            let seen = &mut *self.seen;
            if let Some(changed) = event.changed {
                seen.delays_changed.push(read_at.saturating_sub(changed));
            }
            if let Some(board) = event.board {
                seen.delays_board.push(read_at.saturating_sub(board));
            }
            if let Some(published) = event.published {
                seen.delays_published
                    .push(read_at.saturating_sub(published));
            }
        }
        Ok(())
    }
}

async fn watch(
    address: std::net::SocketAddr,
    path: &str,
    shared: &Shared,
    seen: &mut Seen,
    mut opening: Option<OwnedSemaphorePermit>,
    verify: bool,
) -> Result<(), BoxError> {
    let mut stream = TcpStream::connect(address).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut head: Vec<u8> = Vec::new();
    let mut chunked = None;
    let mut dechunk = Dechunk::default();
    let mut events = Events::new(verify);
    let mut watcher = Watcher {
        shared,
        seen,
        verify,
        holds: None,
        first: true,
    };
    while !shared.stop.load(Ordering::Relaxed) {
        stream.readable().await?;
        SCRATCH.with(|scratch| -> Result<(), BoxError> {
            let mut buffer = scratch.borrow_mut();
            let n = match stream.try_read(&mut buffer) {
                Ok(0) => return Err("the server closed the stream".into()),
                Ok(n) => n,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) => return Err(error.into()),
            };
            let read_at = now_micros();
            let measuring = shared.measuring.load(Ordering::Relaxed);
            if measuring {
                watcher.seen.bytes += n as u64;
            }
            let mut rest = &buffer[..n];
            let after_head;
            if chunked.is_none() {
                head.extend_from_slice(rest);
                let Some(end) = head.windows(4).position(|window| window == b"\r\n\r\n") else {
                    return Ok(());
                };
                let text = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
                if !text.starts_with("http/1.1 200") {
                    return Err(format!("the server answered {text}").into());
                }
                chunked = Some(text.contains("transfer-encoding: chunked"));
                after_head = head.split_off(end + 4);
                rest = &after_head;
                opening.take();
            }
            let mut on_event = |event: &Received| watcher.receive(event, read_at, measuring);
            if chunked == Some(true) {
                dechunk.feed(rest, &mut |part| events.feed(part, &mut on_event))
            } else {
                events.feed(rest, &mut on_event)
            }
        })?;
    }
    Ok(())
}

/// Where a chunked body's decoder is.
#[derive(Clone, Copy, Default)]
enum Chunk {
    #[default]
    Size,
    Data(usize),
    /// The `\r\n` after a chunk's data: how many of its bytes are left.
    End(usize),
}

/// The chunked transfer coding's decoder, fed as bytes come.
#[derive(Default)]
struct Dechunk {
    state: Chunk,
    /// The chunk size line read so far.
    line: Vec<u8>,
}

impl Dechunk {
    /// Hands the data of `bytes` to `out`, part by part.
    fn feed(
        &mut self,
        mut bytes: &[u8],
        out: &mut impl FnMut(&[u8]) -> Result<(), BoxError>,
    ) -> Result<(), BoxError> {
        while !bytes.is_empty() {
            match self.state {
                Chunk::Size => match bytes.iter().position(|&byte| byte == b'\n') {
                    Some(at) => {
                        self.line.extend_from_slice(&bytes[..at]);
                        bytes = &bytes[at + 1..];
                        let line = std::str::from_utf8(&self.line)?;
                        let digits = line.split(';').next().unwrap_or("").trim();
                        let size = usize::from_str_radix(digits, 16)?;
                        self.line.clear();
                        if size == 0 {
                            return Err("the server ended the stream".into());
                        }
                        self.state = Chunk::Data(size);
                    }
                    None => {
                        self.line.extend_from_slice(bytes);
                        if self.line.len() > 100 {
                            return Err("a chunk size line over 100 bytes".into());
                        }
                        break;
                    }
                },
                Chunk::Data(left) => {
                    let take = left.min(bytes.len());
                    out(&bytes[..take])?;
                    bytes = &bytes[take..];
                    self.state = if take == left {
                        Chunk::End(2)
                    } else {
                        Chunk::Data(left - take)
                    };
                }
                Chunk::End(left) => {
                    let take = left.min(bytes.len());
                    bytes = &bytes[take..];
                    self.state = if take == left {
                        Chunk::Size
                    } else {
                        Chunk::End(left - take)
                    };
                }
            }
        }
        Ok(())
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(micros: u64) -> String {
    format!("{:.1}", micros as f64 / 1000.0)
}

/// The pipeline under test.
struct Server {
    child: Child,
    pid: u32,
    address: std::net::SocketAddr,
}

async fn start_server(binary: &PathBuf, speed: u32) -> Result<Server, BoxError> {
    let address = transit_testkit::http::free_address();
    let child = Command::new(binary)
        .args([
            "--speed",
            &speed.to_string(),
            "--address",
            &address.to_string(),
            "--registry-address",
            "127.0.0.1:0",
            "--rest-proxy-address",
            "127.0.0.1:0",
            "--report-every",
            "600",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("starting {}: {error}", binary.display()))?;
    let pid = child.id().ok_or("the pipeline exited at once")?;
    // Ready when the board has every station and the weather.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = client
            .get(format!("http://{address}/api/status"))
            .send()
            .await
        {
            if let Ok(status) = response.json::<Value>().await {
                if status["totals"]["stations"] == 94 && status["weather"].is_object() {
                    break;
                }
            }
        }
        if Instant::now() > deadline {
            return Err("the pipeline's board did not fill within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(Server {
        child,
        pid,
        address,
    })
}

/// CPU (% of one core) and the last resident memory of `pid` over `window`.
async fn measure(pid: u32, window: Duration) -> Result<(f64, u64), BoxError> {
    let (cpu_before, _) = process_usage(pid).ok_or("the pipeline is gone")?;
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let (cpu_after, rss) = process_usage(pid).ok_or("the pipeline is gone")?;
    let cpu = (cpu_after - cpu_before) as f64 / TICKS_PER_SECOND / started.elapsed().as_secs_f64();
    Ok((cpu * 100.0, rss))
}

/// This process's CPU ticks.
fn own_cpu() -> u64 {
    process_usage(std::process::id()).map_or(0, |(cpu, _)| cpu)
}

struct Outcome {
    lost: bool,
    wrong: bool,
}

async fn run(args: &Args, binary: &PathBuf, viewers: usize) -> Result<Outcome, BoxError> {
    let server = start_server(binary, args.speed).await?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    // The pipeline alone, once its in-memory bus has filled to its retention (its memory
    // grows until then, and that is not the viewers').
    tokio::time::sleep(Duration::from_secs(args.warm_up)).await;
    let (cpu_alone, rss_alone) = measure(server.pid, Duration::from_secs(3)).await?;

    let shared = Arc::new(Shared {
        mode: args.mode,
        boards: Mutex::new(Boards::default()),
        ready: AtomicUsize::new(0),
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
    });
    let path: &'static str = match args.mode {
        Mode::Full => "/events?full=1",
        Mode::Delta | Mode::Legacy => "/events",
    };
    let connecting = Instant::now();
    let opening = Arc::new(Semaphore::new(256));
    let mut tasks = Vec::with_capacity(viewers + 1);
    // The checker: whole boards of every version, to compare rebuilt ones with.
    let checker = (args.mode == Mode::Delta).then(|| {
        tokio::spawn(viewer(
            server.address,
            "/events?full=1",
            Arc::clone(&shared),
            None,
            true,
        ))
    });
    let verified = sample(viewers, args.sample_percent, args.sample_min, args.seed);
    for &verify in &verified {
        let permit = Arc::clone(&opening).acquire_owned().await?;
        let shared = Arc::clone(&shared);
        let address = server.address;
        tasks.push(tokio::spawn(viewer(
            address,
            path,
            shared,
            Some(permit),
            verify,
        )));
    }
    let sampled = verified.iter().filter(|verify| **verify).count();
    let wanted = viewers + usize::from(checker.is_some());
    let deadline = Instant::now() + Duration::from_secs(120);
    while shared.ready.load(Ordering::Relaxed) < wanted {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {wanted} viewers got a board within 120 s",
                shared.ready.load(Ordering::Relaxed)
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connected = connecting.elapsed();
    let rss_connected = process_usage(server.pid).map_or(0, |(_, rss)| rss);

    let window_start = now_micros();
    let own_before = own_cpu();
    shared.measuring.store(true, Ordering::Relaxed);
    let window = Duration::from_secs(args.seconds);
    let measured = Instant::now();
    let pruner = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            while !shared.stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                // Viewers hold one of the last few updates' boards; keep a minute's worth.
                shared
                    .boards
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .keep_newest(300);
            }
        })
    };
    let (cpu_with, rss_with) = measure(server.pid, window).await?;
    shared.measuring.store(false, Ordering::Relaxed);
    let own = (own_cpu() - own_before) as f64 / TICKS_PER_SECOND / measured.elapsed().as_secs_f64();
    let window_end = now_micros();
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    // Stop the server first: its side of each connection closes, the viewers' reads end.
    shared.stop.store(true, Ordering::Relaxed);
    drop(server.child);
    let mut seen = Vec::with_capacity(viewers);
    for task in tasks {
        seen.push(task.await?);
    }
    if let Some(checker) = checker {
        checker.await?;
    }
    pruner.abort();

    // Every version first read in the window; the ones out more than a second before its end
    // must have reached every viewer by then.
    let mut first_read: HashMap<u64, u64> = HashMap::new();
    for viewer in &seen {
        for &(version, at) in &viewer.read {
            let first = first_read.entry(version).or_insert(at);
            *first = (*first).min(at);
        }
    }
    let settled_before = window_end.saturating_sub(1_000_000);
    let published: Vec<u64> = first_read
        .iter()
        .filter(|(_, at)| **at >= window_start && **at < settled_before)
        .map(|(version, _)| *version)
        .collect();
    let mut missed_total = 0usize;
    let mut viewers_missing = 0usize;
    let mut spreads = Vec::new();
    let mut delays_changed = Vec::new();
    let mut delays_board = Vec::new();
    let mut delays_published = Vec::new();
    let (mut whole, mut deltas, mut bytes) = (0u64, 0u64, 0u64);
    let (mut whole_bytes, mut delta_bytes, mut verified_events) = (0u64, 0u64, 0usize);
    let mut failures = Vec::new();
    for viewer in &seen {
        let got: std::collections::HashSet<u64> =
            viewer.read.iter().map(|(version, _)| *version).collect();
        let missed = published
            .iter()
            .filter(|version| !got.contains(version))
            .count();
        missed_total += missed;
        viewers_missing += usize::from(missed > 0);
        let in_window = viewer
            .read
            .iter()
            .filter(|(_, at)| (window_start..window_end).contains(at));
        for &(version, at) in in_window.clone() {
            if let Some(first) = first_read.get(&version) {
                spreads.push(at - first);
            }
        }
        delays_changed.extend_from_slice(&viewer.delays_changed);
        delays_board.extend_from_slice(&viewer.delays_board);
        delays_published.extend_from_slice(&viewer.delays_published);
        whole += viewer.whole;
        deltas += viewer.deltas;
        whole_bytes += viewer.whole_bytes;
        delta_bytes += viewer.delta_bytes;
        if viewer.verified {
            verified_events += in_window.count();
        }
        bytes += viewer.bytes;
        if let Some(failure) = &viewer.failed {
            failures.push(failure.clone());
        }
    }
    for list in [
        &mut spreads,
        &mut delays_changed,
        &mut delays_board,
        &mut delays_published,
    ] {
        list.sort_unstable();
    }
    let boards = shared.boards.lock().unwrap_or_else(|e| e.into_inner());
    let seconds = window.as_secs_f64();
    let per_viewer_kb = rss_with.saturating_sub(rss_alone) as f64 / viewers.max(1) as f64 / 1e3;
    println!(
        "{mode:?} {viewers} viewers (connected in {connected:.1?}; load average before: {load}; after: {after}):",
        mode = args.mode,
        load = load.trim(),
        after = load_after.trim(),
    );
    println!(
        "  updates: {} published in the window (~{:.1}/s); every viewer got every one: {} ({} viewers missed {} updates in all); whole boards {whole}, deltas {deltas}",
        published.len(),
        published.len() as f64 / seconds.max(1.0),
        if missed_total == 0 { "yes" } else { "no" },
        viewers_missing,
        missed_total,
    );
    if !delays_board.is_empty() {
        let line = |what: &str, delays: &[u64]| {
            println!(
                "  delay from {what}: p50 {} ms, p99 {} ms, max {} ms",
                ms(percentile(delays, 50.0)),
                ms(percentile(delays, 99.0)),
                ms(percentile(delays, 100.0)),
            );
        };
        line("the board's change (the snapshot sent)", &delays_board);
        line("the update going out", &delays_published);
        line(
            "the first change since the previous update (waits for its turn, at most 4 a second)",
            &delays_changed,
        );
        println!("  ({} events)", delays_board.len());
    }
    println!(
        "  spread after the first viewer: p50 {} ms, p99 {} ms, max {} ms",
        ms(percentile(&spreads, 50.0)),
        ms(percentile(&spreads, 99.0)),
        ms(percentile(&spreads, 100.0)),
    );
    println!(
        "  traffic: {:.1} MB/s in all, {:.1} kB/s a viewer; a delta's data {:.1} kB on average, a whole board's {:.1} kB",
        bytes as f64 / seconds / 1e6,
        bytes as f64 / seconds / viewers.max(1) as f64 / 1e3,
        delta_bytes as f64 / deltas.max(1) as f64 / 1e3,
        whole_bytes as f64 / whole.max(1) as f64 / 1e3,
    );
    println!(
        "  server: CPU {cpu_alone:.0}% of a core alone, {cpu_with:.0}% with the viewers; RSS {:.0} MB alone, {:.0} MB once they connected, {:.0} MB at the end: {per_viewer_kb:.1} kB a viewer; this client: CPU {:.0}%",
        rss_alone as f64 / 1e6,
        rss_connected as f64 / 1e6,
        rss_with as f64 / 1e6,
        own * 100.0,
    );
    println!(
        "  boards rebuilt by {sampled} sampled viewers (seed {}; {verified_events} events in the window) and compared with the whole board of their version: {} versions, {} mismatches{}; every other viewer checked each delta's from and to against the version it held, without decoding it",
        args.seed,
        boards.compared,
        boards.mismatches,
        if boards.errors.is_empty() {
            String::new()
        } else {
            format!("; errors: {:?}", boards.errors)
        }
    );
    if !failures.is_empty() {
        println!("  {} viewers failed, e.g. {}", failures.len(), failures[0]);
    }
    Ok(Outcome {
        lost: missed_total > 0 || !failures.is_empty(),
        wrong: boards.mismatches > 0 || !boards.errors.is_empty(),
    })
}

/// The soft limit on open files.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn main() -> Result<(), BoxError> {
    let mut args = Args::parse();
    if !args.bench {
        // Under `cargo test`: a short check that it works, with viewers both in the sample and
        // not.
        args.viewers = vec![60];
        args.sample_min = 20;
        args.seconds = 3;
        args.warm_up = 1;
    }
    let binary = match &args.pipeline {
        Some(binary) => binary.clone(),
        // target/<profile>/deps/viewers-<hash> → target/<profile>/examples/full_pipeline
        None => std::env::current_exe()?
            .parent()
            .and_then(|deps| deps.parent())
            .map(|profile| profile.join("examples/full_pipeline"))
            .ok_or("no target directory beside this benchmark")?,
    };
    if !binary.exists() {
        return Err(format!(
            "{} is missing: build it first (cargo build --release --example full_pipeline)",
            binary.display()
        )
        .into());
    }
    let largest = args.viewers.iter().copied().max().unwrap_or(0);
    if let Some(limit) = open_files_limit() {
        if limit < largest + 200 {
            return Err(format!(
                "ulimit -n is {limit}: raise it above {} for {largest} viewers",
                largest + 200
            )
            .into());
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut ok = true;
        for &viewers in &args.viewers {
            let outcome = run(&args, &binary, viewers).await?;
            ok &= !outcome.wrong && (args.mode == Mode::Legacy || !outcome.lost);
        }
        if !args.bench {
            if !ok {
                return Err::<(), BoxError>("a board was rebuilt wrong or an update lost".into());
            }
            println!("Success");
        }
        Ok(())
    })
}
