//! The predictor's and the scorer's part of the accounting: what they must have done exactly
//! once whatever was killed, frozen or restarted under them.
//!
//! Exact, and why:
//! - the vehicle arrivals on their topic are the undisturbed run's calls, each once (the
//!   producer's, as every other topic's);
//! - the predictor's changelog records, per partition, the next arrival offset to apply, and
//!   it equals the topic's end offset: every arrival applied (the producer publishes without
//!   transactions, so the end offsets count its records). The offset is committed in the same
//!   transaction as the state it produced, and a replayed arrival below it is skipped, so an
//!   arrival applied twice or lost shows in the state below;
//! - the predictor's learnt dwell windows (per partition, stop, hour and day type) equal those
//!   of a replay of the arrivals topic, partition by partition, through a fresh predictor:
//!   a dwell is learnt from one arrival alone, from the arrivals of its partition in offset
//!   order, so the windows are a function of the input whatever the members did. (Run windows
//!   and the latest segment runs are not asserted equal: a run is learnt from a vehicle's
//!   previous arrival only while the vehicle is held, and a vehicle is dropped when not heard of
//!   20 minutes after its predicted arrival, which with several partitions reads the others'
//!   state as far as the member had got; nor are the predictions themselves, for the same
//!   reason: docs/predictions.md, "Known limits".)
//! - the scorer's changelog records, per partition, the next offset of each of its inputs: the
//!   arrivals topic's end offset, and one past the last prediction a `read_committed` reader
//!   reads on the stream of the predictions issued (a transaction's commit marker, and aborted
//!   records, take offsets of their own): every arrival and every prediction issued and
//!   committed scored, each once, with its state and accuracy rows in the same transaction.
//!   The accuracy rows themselves are a function of the predictions, so not of the input.

use transit_predict::model::{LearnKey, Quantity};
use transit_predict::score::Clocks;
use transit_predict::timetable::Timetable;
use transit_predict::{topics as prediction_topics, PredictConfig, Predictor};

use super::*;

/// The predictor's methods, each scored.
const METHODS: [&str; 4] = ["learnt", "timetable", "delay", "latest_segment"];

/// A processor's changelog, as a member restores it.
async fn changelog(run: &Run, topic: &str) -> Vec<ProcessorState> {
    let codec: TopicCodec<ProcessorState> =
        TopicCodec::register(Arc::clone(&run.registry_client), topic)
            .await
            .unwrap_or_else(|e| panic!("the codec of {topic}: {e:?}"));
    let rows = read_table(run.bus.as_ref(), topic)
        .await
        .unwrap_or_else(|e| panic!("reading {topic}: {e:?}"));
    rows.iter()
        .map(|delivery| {
            codec
                .decode_value_cached(delivery)
                .unwrap_or_else(|e| panic!("an entry of {topic}: {e}"))
        })
        .collect()
}

/// The predictor's next arrival offset per partition.
fn predictor_offsets(entries: &[ProcessorState]) -> BTreeMap<u32, u64> {
    entries
        .iter()
        .filter(|entry| entry.kind == "offsets")
        .map(|entry| {
            let next: u64 = serde_json::from_str(&entry.state)
                .unwrap_or_else(|e| panic!("an offsets entry: {e}: {entry:?}"));
            (entry.partition, next)
        })
        .collect()
}

/// The scorer's next offset per partition of `topic`.
fn scorer_offsets(entries: &[ProcessorState], topic: &str) -> BTreeMap<u32, u64> {
    entries
        .iter()
        .filter(|entry| entry.kind == "clocks")
        .filter_map(|entry| {
            let clocks: Clocks = serde_json::from_str(&entry.state)
                .unwrap_or_else(|e| panic!("a clocks entry: {e}: {entry:?}"));
            let (_, next) = clocks.next_offsets.into_iter().find(|(t, _)| t == topic)?;
            Some((entry.partition, next))
        })
        .collect()
}

impl Run {
    /// The arrivals on the vehicle arrivals topic per partition, in offset order, checked to
    /// be the undisturbed run's, each once; returns them with the end offsets.
    pub(crate) async fn vehicle_arrivals(
        &self,
    ) -> (
        BTreeMap<u32, Vec<(u64, VehicleArrivalEvent)>>,
        BTreeMap<u32, u64>,
    ) {
        let topic = self.settings.topics.vehicle_arrivals();
        let (count, ends) = self.end_offsets(&topic).await;
        assert_eq!(ends.len() as u32, PARTITIONS, "partitions of {topic}");
        let codec: TopicCodec<VehicleArrivalEvent> =
            TopicCodec::register(Arc::clone(&self.registry_client), topic.clone())
                .await
                .expect("the vehicle arrivals' codec");
        let mut by_partition: BTreeMap<u32, Vec<(u64, VehicleArrivalEvent)>> = BTreeMap::new();
        let read = read_topic(self.bus.as_ref(), &topic, |delivery| {
            let arrival = codec
                .decode_value_cached(&delivery)
                .unwrap_or_else(|e| panic!("a vehicle arrival does not decode: {e}"));
            by_partition
                .entry(delivery.partition)
                .or_default()
                .push((delivery.offset, arrival));
        })
        .await
        .expect("reading the vehicle arrivals");
        assert_eq!(
            read, count,
            "vehicle arrivals read back against the end offsets"
        );
        let mut published: Vec<String> = by_partition
            .values()
            .flatten()
            .map(|(_, arrival)| format!("{arrival:?}"))
            .collect();
        let mut made: Vec<String> = self
            .expected
            .vehicle_arrivals
            .iter()
            .map(|arrival| format!("{arrival:?}"))
            .collect();
        published.sort_unstable();
        made.sort_unstable();
        assert!(
            published == made,
            "the vehicle arrivals on {topic} ({} records) are not the {} calls the simulation \
             made, each once; first differences: {:?}",
            published.len(),
            made.len(),
            published
                .iter()
                .zip(&made)
                .filter(|(a, b)| a != b)
                .take(2)
                .collect::<Vec<_>>()
        );
        let ends = ends
            .into_iter()
            .enumerate()
            .map(|(partition, end)| (partition as u32, end))
            .collect();
        (by_partition, ends)
    }

    /// The predictor's and the scorer's accounting (see the module's documentation).
    pub(crate) async fn account_predictions(&mut self) {
        let topics = self.settings.topics.clone();
        let (arrivals, ends) = self.vehicle_arrivals().await;
        let total: u64 = ends.values().sum();
        assert!(total > 0, "no vehicle arrivals: nothing to predict");

        // The predictor catches up: every arrival applied, by its changelog.
        let predictor_state = prediction_topics::predictor_state(&topics);
        let deadline = Instant::now() + CATCH_UP;
        let entries = loop {
            let entries = changelog(self, &predictor_state).await;
            let next = predictor_offsets(&entries);
            if next == ends {
                break entries;
            }
            self.assert_running();
            assert!(
                next.iter()
                    .all(|(p, n)| ends.get(p).is_some_and(|end| n <= end)),
                "the predictor applied arrivals past the topic's end: {next:?} against {ends:?}"
            );
            assert!(
                Instant::now() < deadline,
                "the predictor's changelog stands at {next:?} within {CATCH_UP:?}; the arrivals \
                 end at {ends:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        self.phase(&format!(
            "the predictor applied the {total} vehicle arrivals, up to each partition's end"
        ));

        // Its dwell windows against a replay of the same arrivals.
        let start = undisturbed().simulation().now();
        let date = start.to_naive().expect("the simulation's start").date();
        let day = transit_gtfs::vehicles::service_day(
            &Sources::embedded().expect("CTA's static feed's sources"),
            date,
        )
        .expect("CTA's service day");
        let mut replay = Predictor::new(
            Arc::new(Timetable::new(Arc::new(day))),
            PredictConfig::default(),
        );
        let mut learnt: BTreeSet<(u32, LearnKey)> = BTreeSet::new();
        for (partition, records) in &arrivals {
            for (offset, arrival) in records {
                let mut issued = transit_predict::model::Issued::default();
                replay.advance(*partition, arrival.arrival_time, &mut issued);
                replay
                    .observe(*partition, *offset, arrival, &mut issued)
                    .unwrap_or_else(|e| panic!("an arrival the timetable lacks: {e}"));
                learnt.extend(replay.take_changes().learnt);
            }
        }
        let dwells = |key: &LearnKey| key.quantity == Quantity::Dwell;
        let replayed: BTreeMap<(u32, LearnKey), String> = learnt
            .iter()
            .filter(|(_, key)| dwells(key))
            .filter_map(|(partition, key)| {
                let window = replay.window(*partition, key)?;
                Some(((*partition, *key), format!("{window:?}")))
            })
            .collect();
        let held: BTreeMap<(u32, LearnKey), String> = entries
            .iter()
            .filter(|entry| entry.kind == "learnt")
            .filter_map(|entry| {
                let (key, window): (LearnKey, transit_predict::estimate::Window) =
                    serde_json::from_str(&entry.state)
                        .unwrap_or_else(|e| panic!("a learnt entry: {e}: {entry:?}"));
                dwells(&key).then(|| ((entry.partition, key), format!("{window:?}")))
            })
            .collect();
        assert!(!replayed.is_empty(), "the replay learnt no dwell");
        assert!(
            held == replayed,
            "the predictor's dwell windows are not a replay's of the arrivals (an arrival \
             applied twice, or lost): {}",
            map_diff(&held, &replayed)
        );
        self.phase(&format!(
            "its {} dwell windows are a replay's of the arrivals, each applied once",
            held.len()
        ));

        // The scorer catches up: every arrival and every committed prediction scored once.
        let issued_topic = prediction_topics::issued(&topics);
        let arrivals_topic = topics.vehicle_arrivals();
        let scorer_state = prediction_topics::scorer_state(&topics);
        let mut after_last: BTreeMap<u32, u64> = BTreeMap::new();
        let issued = read_topic(self.bus.as_ref(), &issued_topic, |delivery| {
            let next = after_last.entry(delivery.partition).or_default();
            *next = (*next).max(delivery.offset + 1);
        })
        .await
        .expect("reading the predictions issued");
        assert!(
            issued > total,
            "{issued} predictions issued for {total} arrivals"
        );
        loop {
            let entries = changelog(self, &scorer_state).await;
            let (read_arrivals, read_issued) = (
                scorer_offsets(&entries, &arrivals_topic),
                scorer_offsets(&entries, &issued_topic),
            );
            if read_arrivals == ends && read_issued == after_last {
                break;
            }
            self.assert_running();
            assert!(
                Instant::now() < deadline,
                "the scorer stands at arrivals {read_arrivals:?} (end {ends:?}) and \
                 predictions {read_issued:?} (one past the last committed: {after_last:?}) \
                 within {CATCH_UP:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let accuracy: TopicCodec<AccuracyEvent> = TopicCodec::register(
            Arc::clone(&self.registry_client),
            prediction_topics::accuracy(&topics),
        )
        .await
        .expect("the accuracy table's codec");
        let mut scored: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for delivery in read_table(self.bus.as_ref(), accuracy.topic())
            .await
            .expect("reading the accuracy table")
        {
            let row = accuracy
                .decode_value_cached(&delivery)
                .unwrap_or_else(|e| panic!("an accuracy row: {e}"));
            assert!(row.accurate <= row.scored, "{row:?}");
            let sum = scored.entry(row.method.clone()).or_default();
            sum.0 += row.scored;
            sum.1 += row.accurate;
        }
        for method in METHODS {
            assert!(
                scored.get(method).is_some_and(|(n, _)| *n > 0),
                "no sample of {method} scored: {scored:?}"
            );
        }
        self.phase(&format!(
            "the scorer read the {total} arrivals and the {issued} predictions issued, each \
             once; scored and accurate by method: {scored:?}"
        ));
    }
}
