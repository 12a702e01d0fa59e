//! One partition's log: offsets, retention, compaction.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use rustc_hash::FxHashMap;
use transit_core::bus::{Delivery, Header, Record};

/// A record as a partition keeps it.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    offset: u64,
    key: Option<Bytes>,
    value: Option<Bytes>,
    headers: Vec<Header>,
    timestamp_ms: i64,
    size: u64,
}

impl Stored {
    fn delivery(&self, topic: &Arc<str>, partition: u32) -> Delivery {
        Delivery {
            topic: Arc::clone(topic),
            partition,
            offset: self.offset,
            key: self.key.clone(),
            value: self.value.clone(),
            headers: self.headers.clone(),
            timestamp_ms: self.timestamp_ms,
        }
    }
}

/// Bytes of each chunk of a partition's arena.
const ARENA_CHUNK: usize = 16 * 1024;

/// Most records in one segment of a plain log.
const SEGMENT_RECORDS: u64 = 1024;

/// How much a partition keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retention {
    pub(crate) records: u64,
    pub(crate) bytes: u64,
}

/// Marks an absent key, value or header list in an [`Entry`].
const NONE: u32 = u32::MAX;

/// A record of a plain log: where its bytes are in its segment, and what else it carries.
///
/// Plain old data, so trimming records from the front of a log touches nothing but their
/// sizes: an old record's memory is cold by the time retention drops it, and dropping
/// reference-counted keys and values one by one cost a cache miss each, more than the append.
#[derive(Debug, Clone, Copy)]
struct Entry {
    timestamp_ms: i64,
    /// The piece of the segment holding its bytes, and where in it they start: the key, then
    /// the value.
    piece: u32,
    start: u32,
    key_len: u32,
    value_len: u32,
    /// Its index in the segment's headers, or [`NONE`].
    headers: u32,
    /// Bytes it counts for byte retention (key, value and headers).
    size: u32,
}

/// Consecutive records of a plain log, freed all at once.
#[derive(Debug)]
struct Segment {
    /// The offset of its first record.
    base: u64,
    entries: Vec<Entry>,
    /// The bytes of its records: each published batch's keys and values as one slice of the
    /// partition's arena.
    pieces: Vec<Bytes>,
    /// The headers of the few records that have any.
    headers: Vec<Vec<Header>>,
}

impl Segment {
    /// Whether its last records wait for their piece (appended since the last seal).
    fn awaits_piece(&self) -> bool {
        self.entries
            .last()
            .is_some_and(|last| last.piece as usize == self.pieces.len())
    }

    fn delivery(&self, index: usize, topic: &Arc<str>, partition: u32) -> Option<Delivery> {
        let entry = self.entries.get(index)?;
        let piece = self.pieces.get(entry.piece as usize)?;
        let start = entry.start as usize;
        let slice =
            |from: usize, len: u32| (len != NONE).then(|| piece.slice(from..from + len as usize));
        let key_len = if entry.key_len == NONE {
            0
        } else {
            entry.key_len as usize
        };
        Some(Delivery {
            topic: Arc::clone(topic),
            partition,
            offset: self.base + index as u64,
            key: slice(start, entry.key_len),
            value: slice(start + key_len, entry.value_len),
            headers: self
                .headers
                .get(entry.headers as usize)
                .cloned()
                .unwrap_or_default(),
            timestamp_ms: entry.timestamp_ms,
        })
    }
}

/// The bytes the record at `offset` counts for byte retention (0 if it is not kept).
fn entry_size(segments: &VecDeque<Segment>, offset: u64) -> u64 {
    let first = segments.front().map_or(0, |s| s.base);
    offset
        .checked_sub(first)
        .and_then(|from_first| segments.get((from_first / SEGMENT_RECORDS) as usize))
        .and_then(|s| s.entries.get((offset - s.base) as usize))
        .map_or(0, |e| u64::from(e.size))
}

#[derive(Debug)]
enum Records {
    /// An append-only log trimmed from the front by retention, in segments.
    Plain {
        segments: VecDeque<Segment>,
        /// The oldest offset still kept: retention moves it record by record, and frees a
        /// segment once all of its records are before it.
        start: u64,
        /// Bytes copied into the arena for records whose piece is not cut yet (see
        /// [`PartitionLog::seal`]).
        pending: usize,
    },
    /// The last record of each key, by offset, with where each key's record is.
    Compacted {
        records: BTreeMap<u64, Stored>,
        /// Hashed with FxHash: the keys come from the process's own producers, so SipHash's
        /// guard against chosen keys buys nothing here, and it showed in every publish.
        by_key: FxHashMap<Option<Bytes>, u64>,
    },
}

/// One partition.
#[derive(Debug)]
pub(crate) struct PartitionLog {
    records: Records,
    /// Where the keys and values of this partition's records are copied to: chunks of
    /// [`ARENA_CHUNK`] that only this partition's records share. A reader's clone of a record
    /// counts a reference rather than allocating, and a chunk goes once retention (or
    /// compaction) dropped every record in it, so memory follows what the partition keeps,
    /// whatever the publisher's bytes shared their allocation with.
    arena: BytesMut,
    next_offset: u64,
    bytes: u64,
    retention: Retention,
    /// The oldest offset a reader still has to read, on a bus that waits for readers:
    /// retention trims nothing from there on (see [`PartitionLog::hold_from`]).
    held_from: Option<u64>,
}

impl PartitionLog {
    pub(crate) fn new(compacted: bool, retention: Retention) -> Self {
        let records = if compacted {
            Records::Compacted {
                records: BTreeMap::new(),
                by_key: FxHashMap::default(),
            }
        } else {
            Records::Plain {
                segments: VecDeque::new(),
                start: 0,
                pending: 0,
            }
        };
        Self {
            records,
            arena: BytesMut::new(),
            next_offset: 0,
            bytes: 0,
            retention,
            held_from: None,
        }
    }

    /// Keeps every record from `offset` on, whatever retention says, until told otherwise: on
    /// a bus that waits for readers, the slowest reader's next offset. The log then outgrows
    /// its retention by at most what was published in one go while that reader was behind,
    /// and a publish waits until it has read down to where retention would trim.
    pub(crate) fn hold_from(&mut self, offset: Option<u64>) {
        self.held_from = offset;
    }

    /// The oldest offset retention would keep now, by count and by bytes as
    /// [`PartitionLog::append`] trims, were nothing held for readers; `None` for a compacted
    /// log, which keeps the last record of every key instead.
    pub(crate) fn retention_start(&self) -> Option<u64> {
        let Records::Plain {
            segments, start, ..
        } = &self.records
        else {
            return None;
        };
        if self.bytes <= self.retention.bytes {
            // Within its bytes: only the count trims, and the newest record stays.
            let by_count = self
                .next_offset
                .saturating_sub(self.retention.records)
                .min(self.next_offset.saturating_sub(1));
            return Some((*start).max(by_count));
        }
        let (mut oldest, mut kept) = (*start, self.bytes);
        while oldest + 1 < self.next_offset
            && (self.next_offset - oldest > self.retention.records || kept > self.retention.bytes)
        {
            kept = kept.saturating_sub(entry_size(segments, oldest));
            oldest += 1;
        }
        Some(oldest)
    }

    /// The offset the next record will get.
    pub(crate) fn end_offset(&self) -> u64 {
        self.next_offset
    }

    /// The oldest offset still kept (the end offset when empty).
    pub(crate) fn start_offset(&self) -> u64 {
        match &self.records {
            Records::Plain { start, .. } => *start,
            Records::Compacted { records, .. } => {
                records.keys().next().copied().unwrap_or(self.next_offset)
            }
        }
    }

    /// Records kept and their bytes.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        match &self.records {
            Records::Plain { start, .. } => (self.next_offset - start) as usize,
            Records::Compacted { records, .. } => records.len(),
        }
    }

    /// Appends a record and returns its offset. A plain log's record is readable once
    /// [`PartitionLog::seal`] has cut its bytes from the arena.
    pub(crate) fn append(&mut self, record: Record) -> u64 {
        let offset = self.next_offset;
        self.next_offset += 1;
        let size = record.payload_len() as u64;
        self.bytes += size;
        match &mut self.records {
            Records::Plain {
                segments,
                start,
                pending,
            } => {
                let key = record.key.as_deref().unwrap_or_default();
                let value = record.value.as_deref().unwrap_or_default();
                let needed = key.len() + value.len();
                if self.arena.capacity() - self.arena.len() < needed {
                    // A new chunk (the pending bytes move into it), or the same one again
                    // once every record in it was dropped.
                    self.arena.reserve(ARENA_CHUNK.max(needed));
                }
                let at = *pending;
                self.arena.extend_from_slice(key);
                self.arena.extend_from_slice(value);
                *pending += needed;
                if segments
                    .back()
                    .is_none_or(|last| last.entries.len() as u64 >= SEGMENT_RECORDS)
                {
                    segments.push_back(Segment {
                        base: offset,
                        entries: Vec::new(),
                        pieces: Vec::new(),
                        headers: Vec::new(),
                    });
                }
                let Some(segment) = segments.back_mut() else {
                    return offset;
                };
                // Its bytes are in the piece `seal` cuts next.
                let piece = segment.pieces.len();
                let headers = if record.headers.is_empty() {
                    NONE
                } else {
                    segment.headers.push(record.headers);
                    (segment.headers.len() - 1) as u32
                };
                let length =
                    |bytes: &Option<Bytes>| bytes.as_ref().map_or(NONE, |b| b.len() as u32);
                segment.entries.push(Entry {
                    timestamp_ms: record.timestamp_ms,
                    piece: piece as u32,
                    start: at as u32,
                    key_len: length(&record.key),
                    value_len: length(&record.value),
                    headers,
                    size: size as u32,
                });
                // Retention keeps at least the newest record, whatever its size.
                while *start + 1 < self.next_offset
                    && self.held_from.is_none_or(|held| *start < held)
                    && (self.next_offset - *start > self.retention.records
                        || self.bytes > self.retention.bytes)
                {
                    self.bytes -= entry_size(segments, *start);
                    *start += 1;
                }
                while segments
                    .front()
                    .is_some_and(|s| s.base + s.entries.len() as u64 <= *start)
                {
                    segments.pop_front();
                }
            }
            Records::Compacted { records, by_key } => {
                let stored = Stored {
                    offset,
                    key: record.key.map(|key| copy(&mut self.arena, &key)),
                    value: record.value.map(|value| copy(&mut self.arena, &value)),
                    headers: record.headers,
                    timestamp_ms: record.timestamp_ms,
                    size,
                };
                let tombstone = stored.value.is_none();
                let key = stored.key.clone();
                if let Some(previous) = by_key.remove(&key) {
                    if let Some(old) = records.remove(&previous) {
                        self.bytes -= old.size;
                    }
                }
                if tombstone {
                    // The delete itself is not kept: readers from before it saw the old value,
                    // readers after it see nothing for the key.
                    self.bytes -= size;
                } else {
                    by_key.insert(key, offset);
                    records.insert(offset, stored);
                }
            }
        }
        offset
    }

    /// Cuts the bytes of the records appended since the last seal from the arena, as one
    /// piece, which makes them readable. Called once per published batch, so a record costs
    /// no reference count of its own until a reader takes it.
    pub(crate) fn seal(&mut self) {
        let Records::Plain {
            segments, pending, ..
        } = &mut self.records
        else {
            return;
        };
        if !segments.back().is_some_and(Segment::awaits_piece) {
            return;
        }
        let piece = self.arena.split_to(*pending).freeze();
        *pending = 0;
        // Every segment with records in the piece gets it (a batch may straddle segments).
        for segment in segments.iter_mut().rev() {
            if !segment.awaits_piece() {
                break;
            }
            segment.pieces.push(piece.clone());
        }
    }

    /// Moves records from `from` on into `out`, at most `max`; returns the next offset to read.
    pub(crate) fn read(
        &self,
        from: u64,
        max: usize,
        topic: &Arc<str>,
        partition: u32,
        out: &mut Vec<Delivery>,
    ) -> u64 {
        let from = from.max(self.start_offset());
        let mut next = from;
        match &self.records {
            Records::Plain { segments, .. } => {
                let Some(first) = segments.front().map(|s| s.base) else {
                    return next;
                };
                let mut index = ((from.max(first) - first) / SEGMENT_RECORDS) as usize;
                let mut taken = 0;
                while taken < max {
                    let Some(segment) = segments.get(index) else {
                        break;
                    };
                    let Some(at) = next.checked_sub(segment.base) else {
                        break;
                    };
                    if at >= segment.entries.len() as u64 {
                        index += 1;
                        continue;
                    }
                    // A record not sealed yet is not readable yet, nor anything after it.
                    let Some(delivery) = segment.delivery(at as usize, topic, partition) else {
                        break;
                    };
                    out.push(delivery);
                    next += 1;
                    taken += 1;
                }
            }
            Records::Compacted { records, .. } => {
                let mut taken = 0;
                for stored in records.range(from..).map(|(_, s)| s).take(max) {
                    out.push(stored.delivery(topic, partition));
                    next = stored.offset + 1;
                    taken += 1;
                }
                // Everything from `from` on was read: skip the gaps compaction left behind.
                if taken < max {
                    next = self.next_offset;
                }
            }
        }
        next
    }
}

/// `bytes` copied into `arena`, cut off as their own slice.
fn copy(arena: &mut BytesMut, bytes: &[u8]) -> Bytes {
    if arena.capacity() < bytes.len() {
        // A new chunk, or the same one again once every record in it was dropped.
        arena.reserve(ARENA_CHUNK.max(bytes.len()));
    }
    arena.extend_from_slice(bytes);
    arena.split().freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, value: Option<&str>) -> Record {
        Record {
            key: Some(Bytes::copy_from_slice(key.as_bytes())),
            value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            ..Record::default()
        }
    }

    const ROOMY: Retention = Retention {
        records: u64::MAX,
        bytes: u64::MAX,
    };

    #[test]
    fn retention_by_records_trims_the_front() {
        let mut log = PartitionLog::new(
            false,
            Retention {
                records: 3,
                bytes: u64::MAX,
            },
        );
        for i in 0..10 {
            assert_eq!(log.append(record("k", Some(&i.to_string()))), i);
        }
        log.seal();
        assert_eq!(
            (log.start_offset(), log.end_offset(), log.len()),
            (7, 10, 3)
        );
        let topic: Arc<str> = Arc::from("t");
        let mut out = Vec::new();
        assert_eq!(log.read(0, 100, &topic, 0, &mut out), 10);
        assert_eq!(out.iter().map(|d| d.offset).collect::<Vec<_>>(), [7, 8, 9]);
    }

    #[test]
    fn retention_by_bytes_trims_the_front() {
        let mut log = PartitionLog::new(
            false,
            Retention {
                records: u64::MAX,
                bytes: 10,
            },
        );
        for _ in 0..10 {
            log.append(record("k", Some("1234")));
        }
        assert_eq!(log.len(), 2);
        assert!(log.bytes <= 10);
    }

    #[test]
    fn compaction_keeps_the_last_value_per_key() {
        let mut log = PartitionLog::new(true, ROOMY);
        log.append(record("a", Some("1")));
        log.append(record("b", Some("1")));
        log.append(record("a", Some("2")));
        log.append(record("b", None));
        log.seal();
        let topic: Arc<str> = Arc::from("t");
        let mut out = Vec::new();
        assert_eq!(log.read(0, 100, &topic, 0, &mut out), 4);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].offset, 2);
        assert_eq!(out[0].value.as_deref(), Some(&b"2"[..]));
        assert_eq!(log.bytes, 2);
    }

    #[test]
    fn records_read_back_across_segments_and_batches_with_what_they_carry() {
        let mut log = PartitionLog::new(
            false,
            Retention {
                records: 3 * SEGMENT_RECORDS,
                bytes: u64::MAX,
            },
        );
        let total = 5 * SEGMENT_RECORDS + 17;
        let mut batch = 0;
        for i in 0..total {
            let mut r = record(
                &format!("k{i}"),
                (i % 7 != 0).then(|| i.to_string()).as_deref(),
            );
            if i % 5 == 0 {
                r.key = None;
            }
            if i % 11 == 0 {
                r.headers = vec![Header {
                    name: "n".into(),
                    value: Bytes::from(i.to_string()),
                }];
            }
            r.timestamp_ms = i as i64;
            log.append(r);
            batch += 1;
            // Batches of varying sizes, some straddling segments.
            if batch == 1 + (i % 300) as usize {
                log.seal();
                batch = 0;
            }
        }
        log.seal();
        assert_eq!(log.start_offset(), total - 3 * SEGMENT_RECORDS);
        assert_eq!(log.len() as u64, 3 * SEGMENT_RECORDS);
        // Whole segments before the start are freed: at most one more than retention needs.
        if let Records::Plain { segments, .. } = &log.records {
            assert!(segments.len() <= 4, "{} segments kept", segments.len());
        }
        let topic: Arc<str> = Arc::from("t");
        let mut out = Vec::new();
        let mut next = 0;
        loop {
            let before = out.len();
            next = log.read(next, 100, &topic, 3, &mut out);
            if out.len() == before {
                break;
            }
        }
        assert_eq!(next, total);
        assert_eq!(out.len() as u64, 3 * SEGMENT_RECORDS);
        for (delivery, i) in out.iter().zip(log.start_offset()..) {
            assert_eq!(delivery.offset, i);
            assert_eq!(delivery.partition, 3);
            assert_eq!(delivery.timestamp_ms, i as i64);
            let key = (i % 5 != 0).then(|| format!("k{i}"));
            assert_eq!(delivery.key.as_deref(), key.as_deref().map(str::as_bytes));
            let value = (i % 7 != 0).then(|| i.to_string());
            assert_eq!(
                delivery.value.as_deref(),
                value.as_deref().map(str::as_bytes)
            );
            assert_eq!(delivery.headers.len(), usize::from(i % 11 == 0));
        }
    }

    #[test]
    fn a_record_is_read_only_once_its_batch_is_sealed() {
        let mut log = PartitionLog::new(false, ROOMY);
        log.append(record("a", Some("1")));
        let topic: Arc<str> = Arc::from("t");
        let mut out = Vec::new();
        assert_eq!(log.read(0, 10, &topic, 0, &mut out), 0);
        assert!(out.is_empty());
        log.seal();
        assert_eq!(log.read(0, 10, &topic, 0, &mut out), 1);
        assert_eq!(out.len(), 1);
    }
}
