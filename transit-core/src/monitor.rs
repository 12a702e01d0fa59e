//! A flow monitor: consumes topics, checks each record, and reports what flows.
//!
//! It is the consumer-side view of a running pipeline: records and rejections per topic, the
//! rate of each, and the newest event time seen (simulated time, as consumers see it). The check
//! is a closure (typically "decodes with the topic's codec"), so the monitor knows no event
//! types.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::bus::{self, Consumer, Delivery};

/// How long the monitor keeps reading after shutdown, waiting for records still in flight.
const DRAIN_QUIET_PERIOD: Duration = Duration::from_millis(250);

/// Records per `recv_batch` call.
const BATCH: usize = 4096;

/// What flowed through one topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicFlow {
    /// Records received.
    pub records: u64,
    /// Records the check rejected.
    pub rejected: u64,
    /// Bytes of keys and values received.
    pub bytes: u64,
    /// The newest record timestamp seen, in milliseconds since the Unix epoch.
    pub newest_timestamp_ms: Option<i64>,
}

/// What flowed through every topic the monitor read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowTotals {
    /// Per topic, by name.
    pub topics: BTreeMap<Arc<str>, TopicFlow>,
}

impl FlowTotals {
    /// Records received over all topics.
    pub fn records(&self) -> u64 {
        self.topics.values().map(|flow| flow.records).sum()
    }

    /// Records rejected over all topics.
    pub fn rejected(&self) -> u64 {
        self.topics.values().map(|flow| flow.rejected).sum()
    }

    fn add(&mut self, delivery: &Delivery, accepted: bool) {
        let flow = match self.topics.get_mut(&delivery.topic) {
            Some(flow) => flow,
            None => self.topics.entry(Arc::clone(&delivery.topic)).or_default(),
        };
        flow.records += 1;
        if !accepted {
            flow.rejected += 1;
        }
        flow.bytes += delivery.key.as_ref().map_or(0, |k| k.len() as u64)
            + delivery.value.as_ref().map_or(0, |v| v.len() as u64);
        flow.newest_timestamp_ms = flow.newest_timestamp_ms.max(Some(delivery.timestamp_ms));
    }
}

/// Reads `consumer` until `shutdown`, checking every record with `check` and logging rates
/// every `every`. After shutdown it drains what is still arriving, then returns the totals.
///
/// A record the check rejects is logged with its topic, partition, offset and reason, counted,
/// and skipped: one bad record never stops the monitor.
pub async fn run<F>(
    mut consumer: Box<dyn Consumer>,
    mut check: F,
    every: Duration,
    shutdown: CancellationToken,
) -> Result<FlowTotals, bus::Error>
where
    F: FnMut(&Delivery) -> Result<(), String> + Send,
{
    let mut totals = FlowTotals::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut report = RateReport::new(every);
    loop {
        batch.clear();
        let received = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            received = consumer.recv_batch(&mut batch, BATCH) => received?,
        };
        if received == 0 {
            return Ok(totals);
        }
        tally(&batch, &mut check, &mut totals);
        report.maybe_log(&totals);
    }
    loop {
        batch.clear();
        match tokio::time::timeout(DRAIN_QUIET_PERIOD, consumer.recv_batch(&mut batch, BATCH)).await
        {
            Ok(Ok(received)) if received > 0 => tally(&batch, &mut check, &mut totals),
            Ok(Ok(_)) | Err(_) => break,
            Ok(Err(error)) => return Err(error),
        }
    }
    Ok(totals)
}

fn tally<F>(batch: &[Delivery], check: &mut F, totals: &mut FlowTotals)
where
    F: FnMut(&Delivery) -> Result<(), String>,
{
    for delivery in batch {
        let accepted = match check(delivery) {
            Ok(()) => true,
            Err(reason) => {
                tracing::warn!(
                    topic = %delivery.topic,
                    partition = delivery.partition,
                    offset = delivery.offset,
                    %reason,
                    "record rejected"
                );
                false
            }
        };
        totals.add(delivery, accepted);
    }
}

/// Per-topic rates over wall-clock periods: what the driver and the monitor log.
#[derive(Debug)]
pub struct RateMeter {
    every: Duration,
    last_at: Instant,
    last: BTreeMap<String, u64>,
}

/// Rates over the last period.
#[derive(Debug)]
pub struct Rates {
    /// Records per second over all topics.
    pub total_per_sec: f64,
    /// `topic=N/s` for each topic, space-separated.
    pub per_topic: String,
}

impl RateMeter {
    /// A meter that reports at most once per `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last_at: Instant::now(),
            last: BTreeMap::new(),
        }
    }

    /// The rates since the last report, once a period has passed since it.
    pub fn report<'a>(&mut self, counts: impl Iterator<Item = (&'a str, u64)>) -> Option<Rates> {
        let elapsed = self.last_at.elapsed();
        if elapsed < self.every {
            return None;
        }
        let secs = elapsed.as_secs_f64();
        let mut total = 0;
        let mut per_topic = Vec::new();
        for (topic, count) in counts {
            let before = self.last.insert(topic.to_string(), count).unwrap_or(0);
            let delta = count.saturating_sub(before);
            total += delta;
            per_topic.push(format!("{topic}={:.0}/s", delta as f64 / secs));
        }
        self.last_at = Instant::now();
        Some(Rates {
            total_per_sec: total as f64 / secs,
            per_topic: per_topic.join(" "),
        })
    }
}

/// Logs the monitor's per-topic rates at most once per period.
#[derive(Debug)]
struct RateReport {
    meter: RateMeter,
}

impl RateReport {
    fn new(every: Duration) -> Self {
        Self {
            meter: RateMeter::new(every),
        }
    }

    fn maybe_log(&mut self, totals: &FlowTotals) {
        let counts = totals.topics.iter().map(|(t, f)| (&**t, f.records));
        if let Some(rates) = self.meter.report(counts) {
            tracing::info!(
                received_per_sec = format!("{:.0}", rates.total_per_sec),
                rejected = totals.rejected(),
                per_topic = %rates.per_topic,
                "consuming"
            );
        }
    }
}
