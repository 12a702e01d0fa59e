/// What a topic should look like when [`super::EventBus::create_topic`] makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Its name.
    pub name: String,
    /// How many partitions; at least 1.
    pub partitions: u32,
    /// Keep only the last record of each key (Kafka's `cleanup.policy=compact`), for tables.
    pub compacted: bool,
    /// Records to keep per partition before the oldest go; `None` leaves it to the backend.
    pub retention_records: Option<u64>,
    /// Bytes (keys, values, headers) to keep per partition before the oldest go; `None` leaves
    /// it to the backend.
    pub retention_bytes: Option<u64>,
}

impl TopicSpec {
    /// A topic with `partitions` partitions and the backend's retention.
    pub fn new(name: impl Into<String>, partitions: u32) -> Self {
        Self {
            name: name.into(),
            partitions,
            compacted: false,
            retention_records: None,
            retention_bytes: None,
        }
    }

    /// The same topic, compacted: a table of the last value per key.
    pub fn compacted(mut self) -> Self {
        self.compacted = true;
        self
    }

    /// The same topic, keeping at most `records` records per partition.
    pub fn with_retention_records(mut self, records: u64) -> Self {
        self.retention_records = Some(records);
        self
    }

    /// The same topic, keeping at most `bytes` bytes per partition.
    pub fn with_retention_bytes(mut self, bytes: u64) -> Self {
        self.retention_bytes = Some(bytes);
        self
    }
}

/// Which topics a subscription reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicSelector {
    /// These topics, by name.
    Names(Vec<String>),
    /// Every topic whose whole name matches this regular expression, including topics created
    /// after the subscription started.
    Pattern(String),
}

/// Where a consumer starts in a partition its group has no committed offset for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartFrom {
    /// The oldest record still kept.
    #[default]
    Earliest,
    /// Only records published after the consumer got the partition.
    Latest,
}

/// How to subscribe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// The topics to read.
    pub topics: TopicSelector,
    /// A consumer group to share partitions and committed offsets with; `None` reads every
    /// partition and commits nothing.
    pub group: Option<String>,
    /// Where to start without a committed offset.
    pub start: StartFrom,
}

impl SubscribeOptions {
    /// Reads these topics from the earliest record, without a group.
    pub fn topics<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            topics: TopicSelector::Names(names.into_iter().map(Into::into).collect()),
            group: None,
            start: StartFrom::Earliest,
        }
    }

    /// Reads every topic matching `regex` from the earliest record, without a group.
    pub fn pattern(regex: impl Into<String>) -> Self {
        Self {
            topics: TopicSelector::Pattern(regex.into()),
            group: None,
            start: StartFrom::Earliest,
        }
    }

    /// The same subscription as a member of `group`.
    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// The same subscription, starting at `start` where nothing is committed.
    pub fn starting_at(mut self, start: StartFrom) -> Self {
        self.start = start;
        self
    }
}
