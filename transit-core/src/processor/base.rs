//! What the three table processors share: their inputs' and table's codecs, the bus, where
//! dead letters go, metrics, the consumer group and whether it uses transactions; how they are
//! set up (register every schema, then create the topics) and run (one group member of
//! [`ProcessorLoop`]); and which of an assignment change's partitions are their inputs'.
//!
//! Each processor holds one [`TableBase`] and keeps only its own logic: its state, how it
//! processes a batch, what it restores and drops per partition.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::runner::{Output, ProcessorLoop, Transactions};
use super::{publish_rows, ProcessorError};
use crate::bus::{EventBus, SubscribeOptions, TopicPartition, TopicSpec};
use crate::codec::{Keyed, SchemaRegistry, TopicCodec};
use crate::metrics::PipelineMetrics;

/// A table processor's inputs (records of `I`) and table (rows of `T`), and how it runs.
#[derive(Debug)]
pub(crate) struct TableBase<I: Keyed, T: Keyed> {
    bus: Arc<dyn EventBus>,
    /// The input topics' codecs, in the order given to [`TableBase::new`].
    inputs: Vec<TopicCodec<I>>,
    table: TopicCodec<T>,
    dead_letter_topic: String,
    metrics: Arc<PipelineMetrics>,
    group: String,
    transactions: Transactions,
}

/// Everything [`TableBase::new`] needs besides the bus, the registry and the metrics.
#[derive(Debug)]
pub(crate) struct TableSetup {
    /// The input topics.
    pub(crate) inputs: Vec<String>,
    /// The table topic.
    pub(crate) table: String,
    /// The topics to create, in order (the table's among them).
    pub(crate) create: Vec<TopicSpec>,
    /// Where refused records go.
    pub(crate) dead_letter_topic: String,
    /// The consumer group until [`TableBase::set_group`].
    pub(crate) group: &'static str,
}

impl<I: Keyed, T: Keyed> TableBase<I, T> {
    /// Registers the inputs' schemas, then the table's, then creates `setup.create`'s topics.
    pub(crate) async fn new(
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        setup: TableSetup,
        metrics: Arc<PipelineMetrics>,
    ) -> Result<Self, ProcessorError> {
        let mut inputs = Vec::with_capacity(setup.inputs.len());
        for topic in setup.inputs {
            inputs.push(TopicCodec::register(Arc::clone(&registry), topic).await?);
        }
        let table = TopicCodec::register(registry, setup.table).await?;
        for spec in &setup.create {
            bus.create_topic(spec)
                .await
                .map_err(ProcessorError::bus("creating", spec.name.as_str()))?;
        }
        Ok(Self {
            bus,
            inputs,
            table,
            dead_letter_topic: setup.dead_letter_topic,
            metrics,
            group: setup.group.to_string(),
            transactions: Transactions::default(),
        })
    }

    /// Runs in another consumer group.
    pub(crate) fn set_group(&mut self, group: String) {
        self.group = group;
    }

    /// Whether output and input commits go in one transaction.
    pub(crate) fn set_transactions(&mut self, transactions: Transactions) {
        self.transactions = transactions;
    }

    /// The loop a member of the group runs: its inputs in its group, named by the group.
    pub(crate) fn processor_loop(&self) -> ProcessorLoop {
        let inputs: Vec<String> = self.inputs.iter().map(|c| c.topic().to_string()).collect();
        ProcessorLoop::new(
            Arc::clone(&self.bus),
            SubscribeOptions::topics(inputs).in_group(self.group.clone()),
            self.group.clone(),
            self.dead_letter_topic.clone(),
            Arc::clone(&self.metrics),
        )
        .transactions(self.transactions)
    }

    /// The codec of the first (for most processors, the only) input.
    pub(crate) fn input(&self) -> &TopicCodec<I> {
        &self.inputs[0]
    }

    /// The codec of input `topic`, if it is one.
    pub(crate) fn input_named(&self, topic: &str) -> Option<&TopicCodec<I>> {
        self.inputs.iter().find(|c| c.topic() == topic)
    }

    /// The table's codec.
    pub(crate) fn table(&self) -> &TopicCodec<T> {
        &self.table
    }

    /// Which of `partitions` (an assignment change) are the inputs'.
    pub(crate) fn inputs_among(&self, partitions: &[TopicPartition]) -> InputPartitions {
        InputPartitions(
            partitions
                .iter()
                .filter_map(|p| {
                    let input = self.inputs.iter().position(|c| c.topic() == &*p.topic)?;
                    Some((input, p.partition))
                })
                .collect(),
        )
    }

    /// Hands `rows` to `output` as table records, stamped `timestamp_ms`. Returns how many.
    pub(crate) fn publish<'a>(
        &self,
        rows: impl IntoIterator<Item = &'a T>,
        timestamp_ms: i64,
        output: &mut Output,
    ) -> Result<u64, ProcessorError>
    where
        T: 'a,
    {
        publish_rows(&self.table, rows, timestamp_ms, output)
    }
}

/// Partitions of a processor's inputs: (input, partition), the input by its place in the
/// order the processor gave its inputs.
#[derive(Debug, Default)]
pub(crate) struct InputPartitions(BTreeSet<(usize, u32)>);

impl InputPartitions {
    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether partition `partition` of input `input` is one of them.
    pub(crate) fn contains(&self, input: usize, partition: u32) -> bool {
        self.0.contains(&(input, partition))
    }
}
