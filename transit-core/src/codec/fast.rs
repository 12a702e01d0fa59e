//! Hand-written Avro writers and readers for the records on the hot path (arrivals, turnstile entries and
//! their key).
//!
//! apache-avro's schema-aware serde writer looks every field up by name and every named type
//! up in a map, which costs most of its ~300 ns per arrival. These writers follow the schemas
//! in `transit-core/schemas/` field by field. They return `false` for a value they cannot
//! write (an id beyond an Avro int), leaving it to the serde writer to report. Tests check
//! their bytes against apache-avro's for arbitrary values.

use std::sync::Arc;

use crate::event::{ArrivalEvent, StationKey, TurnstileEvent};
use crate::model::{Direction, LineColor, StationId, TrainId, TrainStatus};
use crate::sim::SimTime;

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

/// `ArrivalEvent`: station_id, train_id, direction, line, train_status, then the
/// `["null", …]` unions: prev_station_id, prev_direction, arrival_time, scheduled_time,
/// scheduled_headway_s, delay_s, run_number, prev_arrival_time.
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
    write_optional_long(buf, event.arrival_time.map(|t| t.0));
    write_optional_long(buf, event.scheduled_time.map(|t| t.0));
    write_optional_long(buf, event.scheduled_headway_s.map(i64::from));
    write_optional_long(buf, event.delay_s.map(i64::from));
    write_optional_long(buf, event.run_number.map(i64::from));
    write_optional_long(buf, event.prev_arrival_time.map(|t| t.0));
    true
}

/// A `["null", "long"]` or `["null", "int"]` union (an int is written as a long).
fn write_optional_long(buf: &mut Vec<u8>, value: Option<i64>) {
    match value {
        Some(value) => {
            write_long(buf, 1);
            write_long(buf, value);
        }
        None => write_long(buf, 0),
    }
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

/// A cursor over an Avro body; every read fails (`None`) rather than read past the end.
struct Reader<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn long(&mut self) -> Option<i64> {
        let mut n: u64 = 0;
        for shift in (0..70).step_by(7) {
            let byte = *self.body.get(self.at)?;
            self.at += 1;
            n |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(((n >> 1) as i64) ^ -((n & 1) as i64));
            }
        }
        None
    }

    fn int(&mut self) -> Option<i32> {
        i32::try_from(self.long()?).ok()
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = usize::try_from(self.long()?).ok()?;
        let end = self.at.checked_add(len)?;
        let bytes = self.body.get(self.at..end)?;
        self.at = end;
        std::str::from_utf8(bytes).ok()
    }

    fn station(&mut self) -> Option<StationId> {
        u32::try_from(self.int()?).ok().map(StationId)
    }

    fn index(&mut self) -> Option<usize> {
        usize::try_from(self.int()?).ok()
    }

    fn direction(&mut self) -> Option<Direction> {
        [Direction::A, Direction::B].get(self.index()?).copied()
    }

    fn line(&mut self) -> Option<LineColor> {
        LineColor::ALL.get(self.index()?).copied()
    }

    /// A `["null", T]` union read with `read`: `Some(None)` for null.
    fn optional<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.present()? {
            read(self).map(Some)
        } else {
            Some(None)
        }
    }

    /// The branch of a `["null", T]` union: `Some(false)` for null, `Some(true)` for T.
    fn present(&mut self) -> Option<bool> {
        match self.long()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

/// Reads what [`station_key`] writes.
pub(super) fn read_station_key(body: &[u8]) -> Option<(StationKey, usize)> {
    let mut reader = Reader { body, at: 0 };
    let station_id = reader.station()?;
    Some((StationKey { station_id }, reader.at))
}

/// Reads what [`arrival`] writes.
pub(super) fn read_arrival(body: &[u8]) -> Option<(ArrivalEvent, usize)> {
    let mut reader = Reader { body, at: 0 };
    let station_id = reader.station()?;
    let train_id: TrainId = reader.str()?.parse().ok()?;
    let direction = reader.direction()?;
    let line = reader.line()?;
    let train_status = [
        TrainStatus::InService,
        TrainStatus::OutOfService,
        TrainStatus::BrokenDown,
    ]
    .get(reader.index()?)
    .copied()?;
    let prev_station_id = if reader.present()? {
        Some(reader.station()?)
    } else {
        None
    };
    let prev_direction = if reader.present()? {
        Some(reader.direction()?)
    } else {
        None
    };
    let arrival_time = reader.optional(Reader::long)?.map(SimTime);
    let scheduled_time = reader.optional(Reader::long)?.map(SimTime);
    let scheduled_headway_s = reader.optional(Reader::int)?;
    let delay_s = reader.optional(Reader::int)?;
    let run_number = reader.optional(Reader::int)?;
    let prev_arrival_time = reader.optional(Reader::long)?.map(SimTime);
    let event = ArrivalEvent {
        station_id,
        train_id,
        direction,
        line,
        train_status,
        prev_station_id,
        prev_direction,
        arrival_time,
        scheduled_time,
        scheduled_headway_s,
        delay_s,
        run_number,
        prev_arrival_time,
    };
    Some((event, reader.at))
}

/// Reads what [`turnstile`] writes.
pub(super) fn read_turnstile(body: &[u8]) -> Option<(TurnstileEvent, usize)> {
    let mut reader = Reader { body, at: 0 };
    let station_id = reader.station()?;
    let station_name = Arc::from(reader.str()?);
    let line = reader.line()?;
    let event = TurnstileEvent {
        station_id,
        station_name,
        line,
    };
    Some((event, reader.at))
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
        for value in [0, -1, 1, 64, 40380, i64::MIN, i64::MAX, i64::from(i32::MIN)] {
            let bytes = encode(value);
            let mut reader = Reader {
                body: &bytes,
                at: 0,
            };
            assert_eq!(reader.long(), Some(value));
            assert_eq!(reader.at, bytes.len());
        }
        let mut overlong = Reader {
            body: &[0xff; 11],
            at: 0,
        };
        assert_eq!(overlong.long(), None);
    }
}
