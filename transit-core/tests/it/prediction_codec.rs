//! The hand-written codec of the prediction records: byte for byte what apache-avro writes
//! under the registered schemas, read back as apache-avro reads it, and never a panic on bad
//! bytes (the reader either agrees with apache-avro or leaves the bytes to it).

use std::sync::Arc;

use proptest::prelude::*;
use transit_core::codec::{AvroRecord, Decoder, Encoder, SchemaRegistry};
use transit_core::event::{
    AccuracyEvent, PredictionEvent, PredictionKey, ProcessorState, ProcessorStateKey,
};
use transit_mem::MemRegistry;

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

/// The hand-written writer writes what apache-avro's serde writer writes, and the hand-written
/// reader reads it back as apache-avro does.
fn assert_fast_matches_apache_avro<T: AvroRecord + PartialEq + std::fmt::Debug>(value: &T) {
    let mut fast = Vec::new();
    assert!(value.write_body_fast(&mut fast), "no fast writer");
    let reference = apache_avro::writer::datum::GenericDatumWriter::builder(T::schema())
        .build()
        .unwrap()
        .write_ser_to_vec(value)
        .unwrap();
    assert_eq!(fast, reference);
    let (read, used) = T::read_body_fast(&fast).expect("the fast reader reads it");
    assert_eq!(used, fast.len());
    assert_eq!(&read, value);
    let mut body = fast.as_slice();
    let by_apache: T = apache_avro::reader::datum::GenericDatumReader::builder(T::schema())
        .build()
        .unwrap()
        .read_deser(&mut body)
        .unwrap();
    assert_eq!(&by_apache, value);
}

/// On any bytes, the fast reader agrees with apache-avro or leaves the bytes to it.
fn assert_fast_reader_agrees<T: AvroRecord + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    if let Some((fast, used)) = T::read_body_fast(bytes) {
        let mut body = bytes;
        let reference: T = apache_avro::reader::datum::GenericDatumReader::builder(T::schema())
            .build()
            .unwrap()
            .read_deser(&mut body)
            .expect("apache-avro reads what the fast reader read");
        assert_eq!(fast, reference);
        assert_eq!(used, bytes.len() - body.len());
    }
}

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,24}"
}

prop_compose! {
    fn prediction()(
        ids in prop::collection::vec(text(), 6),
        start_time in prop::option::of(text()),
        direction_id in prop::option::of(any::<i32>()),
        stop_sequence in 0u32..=(i32::MAX as u32),
        times in prop::array::uniform4(any::<i64>()),
        uncertainty_s in prop::option::of(any::<i32>()),
        source_partition in 0u32..=(i32::MAX as u32),
        source_offset in 0u64..=(i64::MAX as u64),
    ) -> PredictionEvent {
        PredictionEvent {
            vehicle_id: ids[0].clone(),
            stop_id: ids[1].clone(),
            method: ids[2].clone(),
            route_id: ids[3].clone(),
            trip_id: ids[4].clone(),
            start_date: ids[5].clone(),
            start_time,
            direction_id,
            stop_sequence,
            predicted_arrival_time: times[0],
            predicted_departure_time: times[1],
            scheduled_arrival_time: times[2],
            uncertainty_s,
            issued_at: times[3],
            source_partition,
            source_offset,
        }
    }
}

prop_compose! {
    fn accuracy()(
        route_id in text(),
        hour in any::<i32>(),
        bucket in text(),
        method in text(),
        partition in 0u32..=(i32::MAX as u32),
        counts in prop::array::uniform6(0u64..=(i64::MAX as u64)),
        updated_at in any::<i64>(),
    ) -> AccuracyEvent {
        AccuracyEvent {
            route_id, hour, bucket, method, partition,
            scored: counts[0],
            accurate: counts[1],
            abs_error_sum_s: counts[2],
            expired: counts[3],
            late: counts[4],
            never: counts[5],
            updated_at,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn prediction_records_are_written_and_read_as_apache_avro_does(
        event in prediction(),
        score in accuracy(),
        entry in (0u32..=(i32::MAX as u32), text(), text(), "\\PC{0,200}"),
    ) {
        assert_fast_matches_apache_avro(&event);
        assert_fast_matches_apache_avro(&transit_core::codec::Keyed::key(&event));
        assert_fast_matches_apache_avro(&score);
        let entry = ProcessorState { partition: entry.0, kind: entry.1, id: entry.2, state: entry.3 };
        assert_fast_matches_apache_avro(&entry);
        assert_fast_matches_apache_avro(&transit_core::codec::Keyed::key(&entry));
        // Every corruption and truncation of a valid body: the reader agrees or defers.
        let mut body = Vec::new();
        assert!(event.write_body_fast(&mut body));
        for at in 0..body.len() {
            assert_fast_reader_agrees::<PredictionEvent>(&body[..at]);
            let mut corrupt = body.clone();
            corrupt[at] ^= 0x5a;
            assert_fast_reader_agrees::<PredictionEvent>(&corrupt);
        }
        let mut body = Vec::new();
        assert!(score.write_body_fast(&mut body));
        for at in 0..body.len() {
            assert_fast_reader_agrees::<AccuracyEvent>(&body[..at]);
            let mut corrupt = body.clone();
            corrupt[at] ^= 0x5a;
            assert_fast_reader_agrees::<AccuracyEvent>(&corrupt);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..96)) {
        assert_fast_reader_agrees::<PredictionEvent>(&bytes);
        assert_fast_reader_agrees::<PredictionKey>(&bytes);
        assert_fast_reader_agrees::<AccuracyEvent>(&bytes);
        assert_fast_reader_agrees::<ProcessorState>(&bytes);
        assert_fast_reader_agrees::<ProcessorStateKey>(&bytes);
    }
}

#[test]
fn values_avro_cannot_carry_are_left_to_apache_avro_which_refuses_them() {
    let event = PredictionEvent {
        vehicle_id: "v1".into(),
        stop_id: "101N".into(),
        method: "learnt".into(),
        route_id: "1".into(),
        trip_id: "t1".into(),
        start_date: "20250113".into(),
        start_time: Some("25:10:00".into()),
        direction_id: Some(1),
        stop_sequence: u32::MAX,
        predicted_arrival_time: 1_736_770_000_000,
        predicted_departure_time: 1_736_770_030_000,
        scheduled_arrival_time: 1_736_769_990_000,
        uncertainty_s: None,
        issued_at: 1_736_769_000_000,
        source_partition: 2,
        source_offset: 77,
    };
    let mut buf = Vec::new();
    assert!(!event.write_body_fast(&mut buf));
    assert!(buf.is_empty());
    let fits = PredictionEvent {
        stop_sequence: 3,
        ..event
    };
    assert_fast_matches_apache_avro(&fits);
}

#[test]
fn a_prediction_round_trips_through_the_registry_framing() {
    block_on(async {
        let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
        let encoder = Encoder::<PredictionEvent>::register(registry.as_ref(), "p-value")
            .await
            .unwrap();
        let event = PredictionEvent {
            vehicle_id: "BL007".into(),
            stop_id: "30171".into(),
            method: "learnt".into(),
            route_id: "Blue".into(),
            trip_id: "1".into(),
            start_date: "20261207".into(),
            start_time: None,
            direction_id: None,
            stop_sequence: 12,
            predicted_arrival_time: 1_800_000_000_000,
            predicted_departure_time: 1_800_000_020_000,
            scheduled_arrival_time: 1_799_999_990_000,
            uncertainty_s: Some(35),
            issued_at: 1_799_999_000_000,
            source_partition: 0,
            source_offset: 5,
        };
        let bytes = encoder.encode(&event).unwrap();
        let back = Decoder::<PredictionEvent>::new(registry)
            .unwrap()
            .decode(&bytes)
            .await
            .unwrap();
        assert_eq!(back, event);
    });
}
