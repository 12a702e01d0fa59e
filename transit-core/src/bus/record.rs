use std::sync::Arc;

use bytes::Bytes;

/// A record header: a name and opaque bytes, as in Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header's name.
    pub name: String,
    /// The header's value.
    pub value: Bytes,
}

/// A record to publish.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// Chooses the partition (records with equal keys share one) unless `partition` is set.
    pub key: Option<Bytes>,
    /// The payload; `None` is a tombstone on a compacted topic.
    pub value: Option<Bytes>,
    /// Metadata headers.
    pub headers: Vec<Header>,
    /// Event time in milliseconds since the Unix epoch (Kafka's `CreateTime`).
    pub timestamp_ms: i64,
    /// An explicit partition, overriding the key's.
    pub partition: Option<u32>,
}

impl Record {
    /// A record with a key and a value at the given time.
    pub fn new(key: impl Into<Bytes>, value: impl Into<Bytes>, timestamp_ms: i64) -> Self {
        Self {
            key: Some(key.into()),
            value: Some(value.into()),
            headers: Vec::new(),
            timestamp_ms,
            partition: None,
        }
    }

    /// The same record with one more header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// The same record sent to an explicit partition.
    pub fn with_partition(mut self, partition: u32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Bytes this record occupies in a log: key, value and headers.
    pub fn payload_len(&self) -> usize {
        self.key.as_ref().map_or(0, Bytes::len)
            + self.value.as_ref().map_or(0, Bytes::len)
            + self
                .headers
                .iter()
                .map(|h| h.name.len() + h.value.len())
                .sum::<usize>()
    }
}

/// A topic and one of its partitions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition number, from 0.
    pub partition: u32,
}

impl std::fmt::Display for TopicPartition {
    /// `topic[partition]`, as logs show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.topic, self.partition)
    }
}

/// Partitions in plain words for a log line: `a[0] a[1] b[0]`, each as `topic[partition]`
/// (what the fault suite and people's `grep` look for), in the order given; `none` when empty.
#[derive(Debug, Clone, Copy)]
pub struct PartitionList<'a>(pub &'a [TopicPartition]);

impl std::fmt::Display for PartitionList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        for (index, partition) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{partition}")?;
        }
        Ok(())
    }
}

/// A change of the partitions a consumer reads, as it happened.
///
/// A group member sees `Revoked` for what it lost and `Assigned` for what it gained at each
/// rebalance. A partition lost and handed back between two batches shows as both, in that
/// order: whatever the member held for it is stale, because another member may have processed
/// (and committed) records of it in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentChange {
    /// These partitions are now read by this consumer, from the group's committed offsets (or
    /// the subscription's start without one).
    Assigned(Vec<TopicPartition>),
    /// These partitions are no longer read by this consumer.
    Revoked(Vec<TopicPartition>),
}

/// Where a record is (or, for a commit, the next offset to read).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordPosition {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition number, from 0.
    pub partition: u32,
    /// The offset within the partition.
    pub offset: u64,
}

impl RecordPosition {
    /// The position after this one: what a consumer commits once it has processed this record.
    pub fn next(&self) -> Self {
        Self {
            topic: Arc::clone(&self.topic),
            partition: self.partition,
            offset: self.offset + 1,
        }
    }
}

/// A record as a consumer receives it: what was published, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The topic it was read from.
    pub topic: Arc<str>,
    /// Its partition.
    pub partition: u32,
    /// Its offset in the partition.
    pub offset: u64,
    /// The key it was published with.
    pub key: Option<Bytes>,
    /// The payload; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Its headers.
    pub headers: Vec<Header>,
    /// Its timestamp in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

impl Delivery {
    /// Where this record is.
    pub fn position(&self) -> RecordPosition {
        RecordPosition {
            topic: Arc::clone(&self.topic),
            partition: self.partition,
            offset: self.offset,
        }
    }

    /// The value of the first header with this name.
    pub fn header(&self, name: &str) -> Option<&Bytes> {
        self.headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| &h.value)
    }
}

/// A consumer's place in one of its partitions, against the partition's end.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionPosition {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition number, from 0.
    pub partition: u32,
    /// The offset of the next record the consumer will hand out.
    pub next_offset: u64,
    /// The offset the next record published to the partition will get (Kafka's high
    /// watermark).
    pub end_offset: u64,
}

impl PartitionPosition {
    /// Records published but not yet handed out.
    pub fn lag(&self) -> u64 {
        self.end_offset.saturating_sub(self.next_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_read_as_topic_and_number() {
        let tp = |topic: &str, partition| TopicPartition {
            topic: Arc::from(topic),
            partition,
        };
        let list = [tp("a", 0), tp("a", 1), tp("b", 0)];
        assert_eq!(PartitionList(&list).to_string(), "a[0] a[1] b[0]");
        assert_eq!(PartitionList(&[]).to_string(), "none");
    }
}
