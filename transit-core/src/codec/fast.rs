//! Hand-written Avro writers for the records on the hot path (arrivals, turnstile entries and
//! their key).
//!
//! apache-avro's schema-aware serde writer looks every field up by name and every named type
//! up in a map, which costs most of its ~300 ns per arrival. These writers follow the schemas
//! in `transit-core/schemas/` field by field. They return `false` for a value they cannot
//! write (an id beyond an Avro int), leaving it to the serde writer to report. Tests check
//! their bytes against apache-avro's for arbitrary values.

use crate::event::{ArrivalEvent, StationKey, TurnstileEvent};
use crate::model::StationId;

/// Avro's `long`/`int` encoding: zigzag, then a little-endian base-128 varint.
fn write_long(buf: &mut Vec<u8>, value: i64) {
    let mut n = ((value << 1) ^ (value >> 63)) as u64;
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

fn write_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    write_long(buf, bytes.len() as i64);
    buf.extend_from_slice(bytes);
}

/// An Avro `int` station id; `None` if it does not fit (the serde writer reports that).
fn station(id: StationId) -> Option<i64> {
    i32::try_from(id.0).ok().map(i64::from)
}

/// `StationKey`: `station_id` int.
pub(super) fn station_key(key: &StationKey, buf: &mut Vec<u8>) -> bool {
    let Some(id) = station(key.station_id) else {
        return false;
    };
    write_long(buf, id);
    true
}

/// `ArrivalEvent`: station_id, train_id, direction, line, train_status, then the two
/// `["null", …]` unions.
pub(super) fn arrival(event: &ArrivalEvent, buf: &mut Vec<u8>) -> bool {
    let Some(id) = station(event.station_id) else {
        return false;
    };
    let previous = match event.prev_station_id.map(station) {
        Some(None) => return false,
        Some(Some(previous)) => Some(previous),
        None => None,
    };
    write_long(buf, id);
    let (text, len) = event.train_id.text_bytes();
    write_bytes(buf, &text[..len]);
    write_long(buf, event.direction as i64);
    write_long(buf, event.line as i64);
    write_long(buf, event.train_status as i64);
    match previous {
        Some(previous) => {
            write_long(buf, 1);
            write_long(buf, previous);
        }
        None => write_long(buf, 0),
    }
    match event.prev_direction {
        Some(direction) => {
            write_long(buf, 1);
            write_long(buf, direction as i64);
        }
        None => write_long(buf, 0),
    }
    true
}

/// `TurnstileEvent`: station_id, station_name, line.
pub(super) fn turnstile(event: &TurnstileEvent, buf: &mut Vec<u8>) -> bool {
    let Some(id) = station(event.station_id) else {
        return false;
    };
    write_long(buf, id);
    write_bytes(buf, event.station_name.as_bytes());
    write_long(buf, event.line as i64);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_varints() {
        let encode = |v| {
            let mut buf = Vec::new();
            write_long(&mut buf, v);
            buf
        };
        assert_eq!(encode(0), [0]);
        assert_eq!(encode(-1), [1]);
        assert_eq!(encode(1), [2]);
        assert_eq!(encode(64), [0x80, 0x01]);
        assert_eq!(encode(40380), [0xf8, 0xf6, 0x04]);
        assert_eq!(encode(i64::MIN).len(), 10);
    }
}
