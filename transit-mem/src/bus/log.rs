//! One partition's log: offsets, retention, compaction.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
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

/// How much a partition keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retention {
    pub(crate) records: u64,
    pub(crate) bytes: u64,
}

#[derive(Debug)]
enum Records {
    /// An append-only log trimmed from the front by retention.
    Plain(VecDeque<Stored>),
    /// The last record of each key, by offset, with where each key's record is.
    Compacted {
        records: BTreeMap<u64, Stored>,
        by_key: HashMap<Option<Bytes>, u64>,
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
}

impl PartitionLog {
    pub(crate) fn new(compacted: bool, retention: Retention) -> Self {
        let records = if compacted {
            Records::Compacted {
                records: BTreeMap::new(),
                by_key: HashMap::new(),
            }
        } else {
            Records::Plain(VecDeque::new())
        };
        Self {
            records,
            arena: BytesMut::new(),
            next_offset: 0,
            bytes: 0,
            retention,
        }
    }

    /// How many records retention keeps, if it trims this log by count (a compacted log keeps
    /// the last record of every key instead).
    pub(crate) fn retained_records(&self) -> Option<u64> {
        match self.records {
            Records::Plain(_) => Some(self.retention.records),
            Records::Compacted { .. } => None,
        }
    }

    /// The offset the next record will get.
    pub(crate) fn end_offset(&self) -> u64 {
        self.next_offset
    }

    /// The oldest offset still kept (the end offset when empty).
    pub(crate) fn start_offset(&self) -> u64 {
        match &self.records {
            Records::Plain(log) => log.front().map_or(self.next_offset, |r| r.offset),
            Records::Compacted { records, .. } => {
                records.keys().next().copied().unwrap_or(self.next_offset)
            }
        }
    }

    /// Records kept and their bytes.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        match &self.records {
            Records::Plain(log) => log.len(),
            Records::Compacted { records, .. } => records.len(),
        }
    }

    /// Appends a record and returns its offset.
    pub(crate) fn append(&mut self, record: Record) -> u64 {
        let offset = self.next_offset;
        self.next_offset += 1;
        let size = record.payload_len() as u64;
        let stored = Stored {
            offset,
            key: record.key.map(|key| self.copy(&key)),
            value: record.value.map(|value| self.copy(&value)),
            headers: record.headers,
            timestamp_ms: record.timestamp_ms,
            size,
        };
        self.bytes += size;
        match &mut self.records {
            Records::Plain(log) => {
                log.push_back(stored);
                // Retention keeps at least the newest record, whatever its size.
                while log.len() > 1
                    && (log.len() as u64 > self.retention.records
                        || self.bytes > self.retention.bytes)
                {
                    if let Some(old) = log.pop_front() {
                        self.bytes -= old.size;
                    }
                }
            }
            Records::Compacted { records, by_key } => {
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

    /// `bytes` copied into the partition's arena.
    fn copy(&mut self, bytes: &[u8]) -> Bytes {
        if self.arena.capacity() < bytes.len() {
            // A new chunk, or the same one again once every record in it was dropped.
            self.arena.reserve(ARENA_CHUNK.max(bytes.len()));
        }
        self.arena.extend_from_slice(bytes);
        self.arena.split().freeze()
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
            Records::Plain(log) => {
                let skip = (from - self.start_offset()) as usize;
                for stored in log.iter().skip(skip).take(max) {
                    out.push(stored.delivery(topic, partition));
                    next = stored.offset + 1;
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
        let topic: Arc<str> = Arc::from("t");
        let mut out = Vec::new();
        assert_eq!(log.read(0, 100, &topic, 0, &mut out), 4);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].offset, 2);
        assert_eq!(out[0].value.as_deref(), Some(&b"2"[..]));
        assert_eq!(log.bytes, 2);
    }
}
