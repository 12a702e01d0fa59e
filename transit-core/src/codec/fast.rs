//! Hand-written Avro writers and readers for the records on the hot path: arrivals, turnstile
//! entries, the count and headway tables, and their keys.
//!
//! apache-avro's schema-aware serde writer looks every field up by name and every named type
//! up in a map, which costs most of its ~300 ns per arrival. These writers follow the schemas
//! in `transit-core/schemas/` field by field. They return `false` for a value they cannot
//! write (an id beyond an Avro int), leaving it to the serde writer to report. Tests check
//! their bytes against apache-avro's for arbitrary values.

pub(crate) mod prediction;

use std::cell::RefCell;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::event::{
    line_symbol, ArrivalEvent, HeadwayEvent, HeadwayKey, HeadwayState, StationKey, StationLineKey,
    TurnstileCount, TurnstileEvent, LINE_SYMBOL_IDS,
};
use crate::model::{Direction, LineId, StationId, TrainId, TrainStatus};
use crate::network::cta;
use crate::time::SimTime;

/// Avro's `long`/`int` encoding: zigzag, then a little-endian base-128 varint.
#[cfg(test)]
fn write_long(buf: &mut Vec<u8>, value: i64) {
    write(buf, |out| out.long(value), 0);
}

/// Bytes of the longest body these writers write but for its strings: an arrival, every
/// optional field set and every number at its widest, is 78 (its route id's length included,
/// not its text).
const MAX_BODY: usize = 96;

/// Appends what `body` writes to `buf`: `false`, and `buf` as it was, if it did not fit.
///
/// The body is written into zeroed room at the end of `buf`, which is then cut to length:
/// pushing byte by byte reloads and checks the `Vec`'s length and capacity at every byte, which
/// cost more than the encoding, and a buffer on the stack costs a copy.
fn write(buf: &mut Vec<u8>, body: impl FnOnce(&mut Out<'_>), extra: usize) -> bool {
    let start = buf.len();
    buf.resize(start + MAX_BODY + extra, 0);
    let (len, overflow) = match buf.get_mut(start..) {
        Some(bytes) => {
            let mut out = Out {
                bytes,
                len: 0,
                overflow: false,
            };
            body(&mut out);
            (out.len, out.overflow)
        }
        None => (0, true),
    };
    buf.truncate(if overflow { start } else { start + len });
    !overflow
}

/// Room a body is written into; each number checks its room once.
struct Out<'a> {
    bytes: &'a mut [u8],
    len: usize,
    /// A write found no room, or a line the schemas' enum lacks: the body is not written (the
    /// serde writer takes over, and reports the line).
    overflow: bool,
}

impl Out<'_> {
    /// Avro's `long`/`int` encoding: zigzag, then a little-endian base-128 varint (at most 10
    /// bytes).
    #[inline(always)]
    fn long(&mut self, value: i64) {
        let mut n = ((value << 1) ^ (value >> 63)) as u64;
        let Some(room) = self.bytes.get_mut(self.len..self.len + 10) else {
            self.overflow = true;
            return;
        };
        let mut used = 0;
        for slot in room.iter_mut() {
            used += 1;
            if n < 0x80 {
                *slot = n as u8;
                break;
            }
            *slot = (n as u8) | 0x80;
            n >>= 7;
        }
        self.len += used;
    }

    /// Avro's `bytes`/`string`: the length, then the bytes.
    #[inline(always)]
    fn bytes(&mut self, bytes: &[u8]) {
        self.long(bytes.len() as i64);
        match self.bytes.get_mut(self.len..self.len + bytes.len()) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.overflow = true,
        }
    }

    /// A line as its symbol in the schemas' `Line` enum.
    #[inline(always)]
    fn line(&mut self, line: LineId) {
        match line_symbol(line) {
            Some(symbol) => self.long(i64::from(symbol)),
            None => self.overflow = true,
        }
    }

    /// A train id as its text (`BL007`).
    #[inline(always)]
    fn train(&mut self, id: TrainId) {
        let (text, len) = id.text_bytes();
        self.bytes(&text[..len]);
    }

    /// A `["null", "string"]` union, given the string's bytes.
    #[inline(always)]
    fn optional_bytes(&mut self, value: Option<&[u8]>) {
        match value {
            Some(value) => {
                self.long(1);
                self.bytes(value);
            }
            None => self.long(0),
        }
    }

    /// A `["null", "long"]` or `["null", "int"]` union (an int is written as a long).
    #[inline(always)]
    fn optional_long(&mut self, value: Option<i64>) {
        match value {
            Some(value) => {
                self.long(1);
                self.long(value);
            }
            None => self.long(0),
        }
    }
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
    write(buf, |out| out.long(id), 0)
}

/// `ArrivalEvent`: station_id, train_id, direction, line, train_status, then the
/// `["null", …]` unions: prev_station_id, prev_direction, arrival_time, scheduled_time,
/// scheduled_headway_s, delay_s, run_number, prev_arrival_time, route_id.
pub(super) fn arrival(event: &ArrivalEvent, buf: &mut Vec<u8>) -> bool {
    let Some(id) = station(event.station_id) else {
        return false;
    };
    let previous = match event.prev_station_id.map(station) {
        Some(None) => return false,
        Some(Some(previous)) => Some(previous),
        None => None,
    };
    let route = event.route_id.map(|route| route.as_str().as_bytes());
    write(
        buf,
        |out| {
            out.long(id);
            out.train(event.train_id);
            out.long(event.direction as i64);
            out.line(event.line);
            out.long(event.train_status as i64);
            out.optional_long(previous);
            out.optional_long(event.prev_direction.map(|d| d as i64));
            out.optional_long(event.arrival_time.map(|t| t.0));
            out.optional_long(event.scheduled_time.map(|t| t.0));
            out.optional_long(event.scheduled_headway_s.map(i64::from));
            out.optional_long(event.delay_s.map(i64::from));
            out.optional_long(event.run_number.map(i64::from));
            out.optional_long(event.prev_arrival_time.map(|t| t.0));
            out.optional_bytes(route);
        },
        route.map_or(0, <[u8]>::len),
    )
}

/// `TurnstileEvent`: station_id, station_name, line.
pub(super) fn turnstile(event: &TurnstileEvent, buf: &mut Vec<u8>) -> bool {
    let Some(id) = station(event.station_id) else {
        return false;
    };
    let name = event.station_name.as_bytes();
    write(
        buf,
        |out| {
            out.long(id);
            out.bytes(name);
            out.line(event.line);
        },
        name.len(),
    )
}

/// `StationLineKey`: station_id int, line enum.
pub(super) fn station_line_key(key: &StationLineKey, buf: &mut Vec<u8>) -> bool {
    let Some(id) = station(key.station_id) else {
        return false;
    };
    write(
        buf,
        |out| {
            out.long(id);
            out.line(key.line);
        },
        0,
    )
}

/// `TurnstileCount`: station_id int, line enum, entries long, source_partition int,
/// source_offset long.
pub(super) fn turnstile_count(count: &TurnstileCount, buf: &mut Vec<u8>) -> bool {
    let (Some(id), Ok(entries), Ok(partition), Ok(offset)) = (
        station(count.station_id),
        i64::try_from(count.entries),
        i32::try_from(count.source_partition),
        i64::try_from(count.source_offset),
    ) else {
        return false;
    };
    write(
        buf,
        |out| {
            out.long(id);
            out.line(count.line);
            out.long(entries);
            out.long(i64::from(partition));
            out.long(offset);
        },
        0,
    )
}

/// `HeadwayKey`: line enum, station_id int, direction enum.
pub(super) fn headway_key(key: &HeadwayKey, buf: &mut Vec<u8>) -> bool {
    let Some(id) = station(key.station_id) else {
        return false;
    };
    write(
        buf,
        |out| {
            out.line(key.line);
            out.long(id);
            out.long(key.direction as i64);
        },
        0,
    )
}

/// `HeadwayEvent`: line, station_id, direction, train_id, run_number?, arrival_time,
/// headway_s?, scheduled_headway_s?, state, delay_s?, source_partition, source_offset.
pub(super) fn headway(event: &HeadwayEvent, buf: &mut Vec<u8>) -> bool {
    let (Some(id), Ok(partition), Ok(offset)) = (
        station(event.station_id),
        i32::try_from(event.source_partition),
        i64::try_from(event.source_offset),
    ) else {
        return false;
    };
    write(
        buf,
        |out| {
            out.line(event.line);
            out.long(id);
            out.long(event.direction as i64);
            out.train(event.train_id);
            out.optional_long(event.run_number.map(i64::from));
            out.long(event.arrival_time.0);
            out.optional_long(event.headway_s.map(i64::from));
            out.optional_long(event.scheduled_headway_s.map(i64::from));
            out.long(event.state as i64);
            out.optional_long(event.delay_s.map(i64::from));
            out.long(i64::from(partition));
            out.long(offset);
        },
        0,
    )
}

/// A cursor over an Avro body; every read fails (`None`) rather than read past the end.
struct Reader<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    #[inline(always)]
    fn long(&mut self) -> Option<i64> {
        // Most numbers here (enums, union branches, small ids) take one byte.
        let first = *self.body.get(self.at)?;
        if first & 0x80 == 0 {
            self.at += 1;
            let n = u64::from(first);
            return Some(((n >> 1) as i64) ^ -((n & 1) as i64));
        }
        self.long_varint()
    }

    /// [`Reader::long`] of more than one byte.
    fn long_varint(&mut self) -> Option<i64> {
        let bytes = self.body.get(self.at..)?;
        let mut n: u64 = 0;
        // At most 10 bytes: 70 bits hold any 64 (bits past 64 are dropped, as Avro's readers do).
        for (i, &byte) in bytes.iter().take(10).enumerate() {
            n |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.at += i + 1;
                return Some(((n >> 1) as i64) ^ -((n & 1) as i64));
            }
        }
        None
    }

    #[inline(always)]
    fn int(&mut self) -> Option<i32> {
        i32::try_from(self.long()?).ok()
    }

    /// Avro `bytes` (or a string's bytes, unchecked).
    #[inline(always)]
    fn raw_bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.long()?).ok()?;
        let end = self.at.checked_add(len)?;
        let bytes = self.body.get(self.at..end)?;
        self.at = end;
        Some(bytes)
    }

    /// A train id's text, read as the id.
    #[inline(always)]
    fn train(&mut self) -> Option<TrainId> {
        let len = usize::try_from(self.long()?).ok()?;
        let end = self.at.checked_add(len)?;
        let text = self.body.get(self.at..end)?;
        self.at = end;
        TrainId::from_text(text)
    }

    #[inline(always)]
    fn station(&mut self) -> Option<StationId> {
        u32::try_from(self.int()?).ok().map(StationId)
    }

    #[inline(always)]
    fn index(&mut self) -> Option<usize> {
        usize::try_from(self.int()?).ok()
    }

    #[inline(always)]
    fn direction(&mut self) -> Option<Direction> {
        [Direction::A, Direction::B].get(self.index()?).copied()
    }

    #[inline(always)]
    fn line(&mut self) -> Option<LineId> {
        LINE_SYMBOL_IDS.get(self.index()?).copied()
    }

    /// A route id's text, as the id: CTA's without a lookup (nearly every record carries one
    /// of them), any other interned. `None` for text that is not an id (apache-avro's reader
    /// then reports it).
    #[inline(always)]
    fn route(&mut self) -> Option<LineId> {
        let text = self.raw_bytes()?;
        if let Some(known) = cta::DATA
            .iter()
            .find(|line| line.route_id.as_bytes() == text)
        {
            return Some(LineId::from_static(known.route_id));
        }
        LineId::new(std::str::from_utf8(text).ok()?).ok()
    }

    /// A `["null", "long"]` union: `Some(None)` for null.
    #[inline(always)]
    fn optional_long(&mut self) -> Option<Option<i64>> {
        if self.present()? {
            self.long().map(Some)
        } else {
            Some(None)
        }
    }

    /// A `["null", "int"]` union: `Some(None)` for null.
    #[inline(always)]
    fn optional_int(&mut self) -> Option<Option<i32>> {
        if self.present()? {
            self.int().map(Some)
        } else {
            Some(None)
        }
    }

    /// The branch of a `["null", T]` union: `Some(false)` for null, `Some(true)` for T.
    #[inline(always)]
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
    let train_id = reader.train()?;
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
    let arrival_time = reader.optional_long()?.map(SimTime);
    let scheduled_time = reader.optional_long()?.map(SimTime);
    let scheduled_headway_s = reader.optional_int()?;
    let delay_s = reader.optional_int()?;
    let run_number = reader.optional_int()?;
    let prev_arrival_time = reader.optional_long()?.map(SimTime);
    let route_id = if reader.present()? {
        Some(reader.route()?)
    } else {
        None
    };
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
        route_id,
    };
    Some((event, reader.at))
}

/// Reads what [`station_line_key`] writes.
pub(super) fn read_station_line_key(body: &[u8]) -> Option<(StationLineKey, usize)> {
    let mut reader = Reader { body, at: 0 };
    let station_id = reader.station()?;
    let line = reader.line()?;
    Some((StationLineKey { station_id, line }, reader.at))
}

/// Reads what [`turnstile_count`] writes.
pub(super) fn read_turnstile_count(body: &[u8]) -> Option<(TurnstileCount, usize)> {
    let mut reader = Reader { body, at: 0 };
    let station_id = reader.station()?;
    let line = reader.line()?;
    let entries = u64::try_from(reader.long()?).ok()?;
    let source_partition = u32::try_from(reader.int()?).ok()?;
    let source_offset = u64::try_from(reader.long()?).ok()?;
    let count = TurnstileCount {
        station_id,
        line,
        entries,
        source_partition,
        source_offset,
    };
    Some((count, reader.at))
}

/// Reads what [`headway_key`] writes.
pub(super) fn read_headway_key(body: &[u8]) -> Option<(HeadwayKey, usize)> {
    let mut reader = Reader { body, at: 0 };
    let line = reader.line()?;
    let station_id = reader.station()?;
    let direction = reader.direction()?;
    let key = HeadwayKey {
        line,
        station_id,
        direction,
    };
    Some((key, reader.at))
}

/// Reads what [`headway`] writes.
pub(super) fn read_headway(body: &[u8]) -> Option<(HeadwayEvent, usize)> {
    let mut reader = Reader { body, at: 0 };
    let line = reader.line()?;
    let station_id = reader.station()?;
    let direction = reader.direction()?;
    let train_id = reader.train()?;
    let run_number = reader.optional_int()?;
    let arrival_time = SimTime(reader.long()?);
    let headway_s = reader.optional_int()?;
    let scheduled_headway_s = reader.optional_int()?;
    let state = [
        HeadwayState::Unknown,
        HeadwayState::OnTime,
        HeadwayState::Bunched,
        HeadwayState::Gapped,
    ]
    .get(reader.index()?)
    .copied()?;
    let delay_s = reader.optional_int()?;
    let source_partition = u32::try_from(reader.int()?).ok()?;
    let source_offset = u64::try_from(reader.long()?).ok()?;
    let event = HeadwayEvent {
        line,
        station_id,
        direction,
        train_id,
        run_number,
        arrival_time,
        headway_s,
        scheduled_headway_s,
        state,
        delay_s,
        source_partition,
        source_offset,
    };
    Some((event, reader.at))
}

/// Most station names [`shared_name`] keeps per thread before it starts over.
const NAMES_KEPT: usize = 4096;

/// The UTF-8 `name` as a shared string, the same one for every record that names it (per
/// thread); `None` if it is not UTF-8.
///
/// Every turnstile entry carries its station's name: a new string per entry cost a check, an
/// allocation and a copy, where a few hundred names recur.
fn shared_name(name: &[u8]) -> Option<Arc<str>> {
    thread_local! {
        static NAMES: RefCell<FxHashMap<Box<[u8]>, Arc<str>>> =
            RefCell::new(FxHashMap::default());
    }
    NAMES.with(|names| {
        let Ok(mut names) = names.try_borrow_mut() else {
            return std::str::from_utf8(name).ok().map(Arc::from);
        };
        if let Some(shared) = names.get(name) {
            return Some(Arc::clone(shared));
        }
        let shared: Arc<str> = Arc::from(std::str::from_utf8(name).ok()?);
        if names.len() >= NAMES_KEPT {
            names.clear();
        }
        names.insert(Box::from(name), Arc::clone(&shared));
        Some(shared)
    })
}

/// Reads what [`turnstile`] writes.
pub(super) fn read_turnstile(body: &[u8]) -> Option<(TurnstileEvent, usize)> {
    let mut reader = Reader { body, at: 0 };
    let station_id = reader.station()?;
    let station_name = shared_name(reader.raw_bytes()?)?;
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
