//! Repeats of librdkafka's log lines, held back. While a broker is down librdkafka says so for
//! every client, every connection attempt and every second (`1/1 brokers are down`, `Connect to
//! ipv4#127.0.0.1:9092 failed: Connection refused (after 0ms in state CONNECT)`): some sixty
//! lines a second from one process. A line is let through the first time, then once per
//! window that doubles with each repeat let through (5 s, 10 s, 20 s... up to 5 minutes),
//! saying how many were held back; a line not seen for 10 minutes starts afresh.
//!
//! Lines count as repeats when they differ only in their digits (a client's number, a
//! connection's milliseconds) and in the thread that logged them; a log line and the error
//! librdkafka reports with the same words are one.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// The window after a line is first let through.
const FIRST_WINDOW: Duration = Duration::from_secs(5);

/// The longest window: a line that keeps coming is still shown this often.
const LONGEST_WINDOW: Duration = Duration::from_secs(300);

/// A line not seen for this long is new again when it comes back.
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// Lines remembered before old ones are forgotten early.
const REMEMBERED: usize = 1024;

#[derive(Debug)]
struct Seen {
    let_through: Instant,
    last_seen: Instant,
    window: Duration,
    held_back: u64,
}

static SEEN: LazyLock<Mutex<HashMap<String, Seen>>> = LazyLock::new(Mutex::default);

/// Whether librdkafka's line `message` is to be logged now: `Some` with the number of
/// repeats held back since it last was, or `None` to hold it back.
pub(crate) fn admit(message: &str) -> Option<u64> {
    admit_at(&SEEN, key(message), Instant::now())
}

/// The line with its digits collapsed, and without the `[thrd:...]: ` prefix of librdkafka's
/// log lines: its error callback reports the same event without it, and one line says it.
fn key(message: &str) -> String {
    let message = match message.strip_prefix("[thrd:") {
        Some(rest) => rest.split_once("]: ").map_or(message, |(_, text)| text),
        None => message,
    };
    let mut key = String::with_capacity(message.len());
    let mut in_number = false;
    for c in message.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                key.push('#');
            }
            in_number = true;
        } else {
            key.push(c);
            in_number = false;
        }
    }
    key
}

fn admit_at(seen: &Mutex<HashMap<String, Seen>>, key: String, now: Instant) -> Option<u64> {
    // Nothing panics while holding the lock; a poisoned map still holds consistent entries.
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    if seen.len() >= REMEMBERED && !seen.contains_key(&key) {
        seen.retain(|_, line| now.duration_since(line.last_seen) < FORGET_AFTER);
        if seen.len() >= REMEMBERED {
            seen.clear();
        }
    }
    let fresh = Seen {
        let_through: now,
        last_seen: now,
        window: FIRST_WINDOW,
        held_back: 0,
    };
    match seen.get_mut(&key) {
        Some(line) if now.duration_since(line.last_seen) < FORGET_AFTER => {
            line.last_seen = now;
            if now.duration_since(line.let_through) < line.window {
                line.held_back += 1;
                return None;
            }
            let held_back = line.held_back;
            line.let_through = now;
            line.window = (line.window * 2).min(LONGEST_WINDOW);
            line.held_back = 0;
            Some(held_back)
        }
        _ => {
            seen.insert(key, fresh);
            Some(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_let_through_at_a_decreasing_rate() {
        let seen = Mutex::default();
        let start = Instant::now();
        let mut let_through = Vec::new();
        // One line a second for 60 s, as librdkafka's "brokers are down" comes.
        for second in 0..60 {
            let message = format!("{}/1 brokers are down (after {second}ms)", second % 2);
            let key = key(&message);
            if let Some(held) = admit_at(&seen, key, start + Duration::from_secs(second)) {
                let_through.push((second, held));
            }
        }
        assert_eq!(let_through, vec![(0, 0), (5, 4), (15, 9), (35, 19)]);
    }

    #[test]
    fn other_lines_are_their_own_and_threads_do_not_count() {
        let seen = Mutex::default();
        let now = Instant::now();
        let logged = "[thrd:ssl://h:1/bootstrap]: ssl://h:1/bootstrap: SSL handshake failed";
        let reported = "ssl://h:1/bootstrap: SSL handshake failed";
        assert_eq!(admit_at(&seen, key(logged), now), Some(0));
        assert_eq!(admit_at(&seen, key(reported), now), None);
        assert_eq!(admit_at(&seen, key("b"), now), Some(0));
        assert_eq!(admit_at(&seen, key("b"), now), None);
        // Quiet for long enough, a line is news again.
        let later = now + FORGET_AFTER;
        assert_eq!(admit_at(&seen, key("b"), later), Some(0));
    }
}
