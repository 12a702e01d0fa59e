//! `/events`: the board's updates as server-sent events, each rendered once for every viewer.
//!
//! One task (the feed) takes the read model's latest snapshot at most every
//! [`EVENTS_EVERY`](super::EVENTS_EVERY), renders it once as a `status` event (the whole
//! board, each platform's next train with the instant it is due rather than the seconds to
//! go, which would change at every update) and once as a `delta` event (a [`delta`](super::delta) patch) against each of the
//! last [`DELTA_DEPTH`] updates, and hands them to every viewer through a watch channel. A
//! viewer's stream sends the delta from the version the viewer holds, and the whole board when
//! there is none: on connect, and after a longer gap. Since every viewer is sent the same updates, each
//! update costs one rendering and one diff, however many watch; a viewer costs a write of
//! shared bytes.
//!
//! A slow viewer never holds the others up and never makes the server queue without bound:
//! hyper asks a stream for its next event only when the last ones were written out (at most
//! its write buffer's worth, of shared bytes), and the watch channel keeps only the latest
//! update, so a viewer that fell behind skips to it, as a whole board.
//!
//! Each event carries the board's version as its `id:` (so a browser that reconnects with
//! `Last-Event-ID` resumes with a delta when it can) and a comment `:published=<µs> board=<µs>
//! changed=<µs>` (since the Unix epoch): when it went out, when the read model made the board
//! it carries, and when the first change in it since the previous update was made (it waited
//! for its turn under the 4-a-second rule since). Browsers ignore comments; load tests measure
//! delays by them.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use futures_util::stream::{self, Stream};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use transit_core::status::StatusSnapshot;

use super::delta;

/// How long a stream stays silent before it sends a comment, so proxies and browsers keep an
/// idle connection open (axum's `KeepAlive` default).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How many past updates each update has a delta from. A viewer that missed a few updates
/// (slow, or reconnecting) still gets a delta rather than the whole board, which is more than
/// twice its size when the simulation runs fast; beyond that it gets the whole board. Each is
/// one diff of the board per update, shared by every viewer.
const DELTA_DEPTH: usize = 8;

/// One update of the board, rendered once as the events every viewer is sent.
#[derive(Debug)]
pub(crate) struct Update {
    /// The board's version (the snapshot's).
    version: u64,
    /// The whole board: a `status` event whose data is the JSON of `/api/status` without the
    /// next trains' countdowns (see [`without_countdowns`]).
    full: Bytes,
    /// What changed since each of the last [`DELTA_DEPTH`] updates, the previous one first:
    /// the version it applies to, and the `delta` event `{"from": …, "to": …, "patch": …}`.
    deltas: Vec<(u64, Bytes)>,
}

/// The data of a `delta` event.
#[derive(Serialize)]
struct DeltaData<'a> {
    from: u64,
    to: u64,
    patch: &'a Value,
}

/// Starts the feed of `snapshots`: the receiver holds the current board at once, then an
/// update at most every `every`. The feed stops when `shutdown` is cancelled, the read model
/// stops, or no receiver is left.
pub(crate) fn start(
    mut snapshots: watch::Receiver<Arc<StatusSnapshot>>,
    every: Duration,
    shutdown: CancellationToken,
) -> watch::Receiver<Arc<Update>> {
    let snapshot = Arc::clone(&snapshots.borrow_and_update());
    let now = now_micros();
    let stamp = Stamp {
        changed: now,
        board: now,
        published: 0,
    };
    let mut recent = VecDeque::with_capacity(DELTA_DEPTH);
    let first = render(&mut recent, &snapshot, stamp);
    let (updates, receiver) = watch::channel(Arc::new(first));
    tokio::spawn(async move {
        // When the first change not yet sent was seen, and the latest: an update's board is
        // as old as the latest, and the oldest change in it waited since the first.
        let mut pending: Option<(u128, u128)> = None;
        let mut due = Instant::now() + every;
        loop {
            if pending.is_some() && Instant::now() >= due {
                let snapshot = Arc::clone(&snapshots.borrow_and_update());
                let (first, latest) = pending.take().unwrap_or((0, 0));
                if recent.back().map(|(version, _)| *version) != Some(snapshot.version) {
                    let stamp = Stamp {
                        changed: first,
                        board: latest,
                        published: 0,
                    };
                    let update = render(&mut recent, &snapshot, stamp);
                    updates.send_replace(Arc::new(update));
                    due = Instant::now() + every;
                }
            }
            // A board changing all the time goes out every `every`; a quiet one as soon as it
            // changes, once `every` has passed since the last update.
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = updates.closed() => return,
                changed = snapshots.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let now = now_micros();
                    pending = Some((pending.map_or(now, |(first, _)| first), now));
                }
                () = tokio::time::sleep_until(due), if pending.is_some() => {}
            }
        }
    });
    receiver
}

fn now_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_micros())
}

/// The update of `snapshot`, stamped `stamp` (its `published` set here), with its deltas
/// against each of the `recent` boards (versions and their JSON); the new board is added to
/// them.
fn render(recent: &mut VecDeque<(u64, Value)>, snapshot: &StatusSnapshot, stamp: Stamp) -> Update {
    let version = snapshot.version;
    let mut json = super::json_bytes(snapshot);
    // The diff is taken on the JSON as sent (parsed back), not on the snapshot's fields: so
    // it follows any shape the board takes, and numbers patch to exactly the text
    // `/api/status` shows. A board that does not parse back goes out whole each time.
    let mut board = serde_json::from_slice::<Value>(&json).ok();
    if let Some(board) = &mut board {
        without_countdowns(board);
        if let Ok(streamed) = serde_json::to_vec(board) {
            json = Bytes::from(streamed);
        }
    }
    let stamp = Stamp {
        published: now_micros(),
        ..stamp
    };
    let mut deltas = Vec::with_capacity(recent.len());
    if let Some(after) = &board {
        // The newest first: most viewers hold the previous update.
        for (from, before) in recent.iter().rev() {
            let patch = delta::diff(before, after);
            let data = DeltaData {
                from: *from,
                to: version,
                patch: &patch,
            };
            if let Ok(data) = serde_json::to_vec(&data) {
                deltas.push((*from, event("delta", version, stamp, &data)));
            }
        }
    }
    match board {
        Some(board) => {
            if recent.len() == DELTA_DEPTH {
                recent.pop_front();
            }
            recent.push_back((version, board));
        }
        None => recent.clear(),
    }
    Update {
        version,
        full: event("status", version, stamp, &json),
        deltas,
    }
}

/// Removes each next train's `seconds` and `minutes` from `board` (the JSON of `/api/status`):
/// they count down from the board's clock, so every one of them changes at every update,
/// while its `due_at` changes only when the estimate does. The page counts down to `due_at`
/// itself, against the board's `simulated_time`.
fn without_countdowns(board: &mut Value) {
    let Some(lines) = board.get_mut("lines").and_then(Value::as_array_mut) else {
        return;
    };
    for line in lines {
        let Some(stations) = line.get_mut("stations").and_then(Value::as_array_mut) else {
            continue;
        };
        for station in stations {
            for key in ["next_a", "next_b"] {
                if let Some(next) = station.get_mut(key).and_then(Value::as_object_mut) {
                    next.remove("seconds");
                    next.remove("minutes");
                }
            }
        }
    }
}

/// When an update's changes happened and when it went out, in µs since the Unix epoch.
#[derive(Debug, Clone, Copy)]
struct Stamp {
    /// The first change since the previous update (the read model's snapshot the feed saw).
    changed: u128,
    /// The board sent: the latest snapshot the feed saw.
    board: u128,
    /// When the update went out.
    published: u128,
}

/// One server-sent event. `data` is JSON, which serde_json writes on one line.
fn event(name: &str, id: u64, stamp: Stamp, data: &[u8]) -> Bytes {
    let Stamp {
        changed,
        board,
        published,
    } = stamp;
    let mut bytes = Vec::with_capacity(data.len() + 80);
    bytes.extend_from_slice(
        format!(
            "event: {name}\nid: {id}\n:published={published} board={board} changed={changed}\ndata: "
        )
            .as_bytes(),
    );
    bytes.extend_from_slice(data);
    bytes.extend_from_slice(b"\n\n");
    Bytes::from(bytes)
}

/// What a viewer asked for.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Viewer {
    /// The version it holds (`Last-Event-ID` on a reconnect), if any.
    pub(crate) holds: Option<u64>,
    /// Whole boards only (`?full=1`): for clients without a patcher, and to compare.
    pub(crate) full_only: bool,
}

/// The events a viewer is sent, until `shutdown` or the feed ends.
pub(crate) fn events(
    updates: watch::Receiver<Arc<Update>>,
    viewer: Viewer,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    struct State {
        updates: watch::Receiver<Arc<Update>>,
        viewer: Viewer,
        first: bool,
        keep_alive: Pin<Box<Sleep>>,
        shutdown: CancellationToken,
    }
    let state = State {
        updates,
        viewer,
        first: true,
        keep_alive: Box::pin(tokio::time::sleep(KEEP_ALIVE)),
        shutdown,
    };
    stream::unfold(state, |mut state| async move {
        loop {
            if state.first {
                state.first = false;
            } else {
                tokio::select! {
                    () = state.shutdown.cancelled() => return None,
                    changed = state.updates.changed() => changed.ok()?,
                    () = &mut state.keep_alive => {
                        state.keep_alive.as_mut().reset(Instant::now() + KEEP_ALIVE);
                        return Some((Ok(Bytes::from_static(b":\n\n")), state));
                    }
                }
            }
            let update = Arc::clone(&state.updates.borrow_and_update());
            let holds = state.viewer.holds;
            if holds == Some(update.version) {
                // It has this board already (a reconnect that missed nothing).
                continue;
            }
            let delta = update
                .deltas
                .iter()
                .find(|(from, _)| Some(*from) == holds && !state.viewer.full_only);
            let bytes = match delta {
                Some((_, delta)) => delta.clone(),
                None => update.full.clone(),
            };
            state.viewer.holds = Some(update.version);
            state.keep_alive.as_mut().reset(Instant::now() + KEEP_ALIVE);
            return Some((Ok(bytes), state));
        }
    })
}
