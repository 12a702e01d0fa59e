//! The Avro codec over the in-memory registry: round trips, the exact wire bytes, schema
//! evolution, and bad bytes (which give typed errors, never panics).

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use transit_core::bus::Delivery;
use transit_core::codec::{
    split_header, AvroRecord, DecodeError, Decoder, Encoder, SchemaId, SchemaRegistry, TopicCodec,
};
use transit_core::event::{
    ArrivalEvent, HeadwayEvent, HeadwayKey, HeadwayState, StationEvent, StationKey, StationLineKey,
    StationRow, TurnstileCount, TurnstileEvent, WeatherEvent, WeatherKey, WeatherStatus,
};
use transit_core::model::{Direction, LineId, StationId, TrainId, TrainStatus};
use transit_core::network::cta;
use transit_core::time::SimTime;
use transit_mem::MemRegistry;

fn registry() -> Arc<dyn SchemaRegistry> {
    Arc::new(MemRegistry::new())
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn round_trip<T: AvroRecord + PartialEq + std::fmt::Debug>(value: &T) -> Result<T, DecodeError> {
    block_on(async {
        let registry = registry();
        let encoder = Encoder::<T>::register(registry.as_ref(), "s-value")
            .await
            .unwrap();
        let bytes = encoder.encode(value).unwrap();
        Decoder::<T>::new(registry).unwrap().decode(&bytes).await
    })
}

/// The fast path writes what apache-avro's serde writer writes, byte for byte.
fn assert_fast_matches_serde<T: AvroRecord>(value: &T) {
    let mut fast = Vec::new();
    assert!(value.write_body_fast(&mut fast), "no fast writer");
    let serde = apache_avro::writer::datum::GenericDatumWriter::builder(T::schema())
        .build()
        .unwrap()
        .write_ser_to_vec(value)
        .unwrap();
    assert_eq!(fast, serde);
    let (read, used) = T::read_body_fast(&fast).expect("the fast reader reads it");
    assert_eq!(used, fast.len());
    let mut body = fast.as_slice();
    let reference: T = apache_avro::reader::datum::GenericDatumReader::builder(T::schema())
        .build()
        .unwrap()
        .read_deser(&mut body)
        .unwrap();
    assert_eq!(
        apache_avro::to_value(&read).unwrap(),
        apache_avro::to_value(&reference).unwrap()
    );
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

fn line() -> impl Strategy<Value = LineId> {
    prop::sample::select(cta::LINES.to_vec())
}

fn direction() -> impl Strategy<Value = Direction> {
    prop::sample::select(vec![Direction::A, Direction::B])
}

fn station_id() -> impl Strategy<Value = StationId> {
    (0..=i32::MAX as u32).prop_map(StationId)
}

/// A route id: CTA's (what the simulation writes) or any other id a writer may send.
fn route_id() -> impl Strategy<Value = LineId> {
    prop_oneof![
        prop::sample::select(cta::LINES.to_vec()).prop_map(cta::route_id),
        "\\PC{1,40}".prop_map(|text| LineId::new(&text).unwrap()),
    ]
}

fn arrival() -> impl Strategy<Value = ArrivalEvent> {
    (
        station_id(),
        line(),
        any::<u16>(),
        direction(),
        prop::sample::select(vec![
            TrainStatus::InService,
            TrainStatus::OutOfService,
            TrainStatus::BrokenDown,
        ]),
        prop::option::of((station_id(), direction())),
        prop::option::of(any::<i64>()),
        (
            prop::option::of(any::<i64>()),
            prop::option::of(any::<i32>()),
            prop::option::of(any::<i32>()),
            prop::option::of(any::<i32>()),
            prop::option::of(any::<i64>()),
        ),
        prop::option::of(route_id()),
    )
        .prop_map(
            |(
                station_id,
                line,
                number,
                direction,
                train_status,
                previous,
                time,
                service,
                route,
            )| {
                let (scheduled, headway, delay, run, previous_time) = service;
                ArrivalEvent {
                    station_id,
                    train_id: TrainId { line, number },
                    direction,
                    line,
                    train_status,
                    prev_station_id: previous.map(|p| p.0),
                    prev_direction: previous.map(|p| p.1),
                    arrival_time: time.map(SimTime),
                    scheduled_time: scheduled.map(SimTime),
                    scheduled_headway_s: headway,
                    delay_s: delay,
                    run_number: run,
                    prev_arrival_time: previous_time.map(SimTime),
                    route_id: route,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arrivals_round_trip(event in arrival()) {
        prop_assert_eq!(round_trip(&event).unwrap(), event);
    }

    #[test]
    fn turnstile_entries_round_trip(id in station_id(), name in "\\PC{0,40}", line in line()) {
        let event = TurnstileEvent { station_id: id, station_name: Arc::from(name.as_str()), line };
        prop_assert_eq!(round_trip(&event).unwrap(), event);
    }

    #[test]
    fn weather_round_trips(temperature in -50.0f32..120.0, status in prop::sample::select(WeatherStatus::ALL.to_vec()), timestamp in any::<i64>()) {
        let event = WeatherEvent { temperature, status };
        prop_assert_eq!(round_trip(&event).unwrap(), event);
        let key = WeatherKey { timestamp };
        prop_assert_eq!(round_trip(&key).unwrap(), key);
    }

    #[test]
    fn stations_round_trip(
        id in station_id(), stop_id in 0..=i32::MAX as u32, order in 0..=i32::MAX as u32,
        name in "\\PC{0,30}", flags in any::<(bool, bool, bool)>(), line in line(),
    ) {
        let row = StationRow {
            stop_id,
            direction_id: "N".into(),
            stop_name: name.clone(),
            station_name: name.clone(),
            station_descriptive_name: format!("{name} (Line)"),
            station_id: id,
            order,
            red: flags.0,
            blue: flags.1,
            green: flags.2,
        };
        prop_assert_eq!(round_trip(&row).unwrap(), row);
        let station = StationEvent { station_id: id, station_name: Arc::from(name.as_str()), order, line };
        prop_assert_eq!(round_trip(&station).unwrap(), station);
        prop_assert_eq!(round_trip(&StationKey { station_id: id }).unwrap(), StationKey { station_id: id });
        let key = StationLineKey { station_id: id, line };
        prop_assert_eq!(round_trip(&key).unwrap(), key);
        let count = TurnstileCount {
            station_id: id,
            line,
            entries: u64::from(order),
            source_partition: stop_id,
            source_offset: u64::from(order) * 3,
        };
        prop_assert_eq!(round_trip(&count).unwrap(), count);
    }

    #[test]
    fn hand_written_writers_match_apache_avro(event in arrival(), name in "\\PC{0,40}", line in line()) {
        assert_fast_matches_serde(&event);
        assert_fast_matches_serde(&StationKey { station_id: event.station_id });
        assert_fast_matches_serde(&TurnstileEvent { station_id: event.station_id, station_name: Arc::from(name.as_str()), line });
        assert_fast_matches_serde(&StationLineKey { station_id: event.station_id, line });
        let count = TurnstileCount {
            station_id: event.station_id,
            line,
            entries: event.arrival_time.map_or(0, |t| t.0.unsigned_abs() >> 1),
            source_partition: u32::from(event.train_id.number),
            source_offset: event.scheduled_time.map_or(0, |t| t.0.unsigned_abs() >> 1),
        };
        assert_fast_matches_serde(&count);
        let states = [HeadwayState::Unknown, HeadwayState::OnTime, HeadwayState::Bunched, HeadwayState::Gapped];
        let headway = HeadwayEvent {
            line: event.line,
            station_id: event.station_id,
            direction: event.direction,
            train_id: event.train_id,
            run_number: event.run_number,
            arrival_time: event.arrival_time.unwrap_or_default(),
            headway_s: event.delay_s,
            scheduled_headway_s: event.scheduled_headway_s,
            state: states[usize::from(event.train_id.number) % states.len()],
            delay_s: event.delay_s.map(|d| d.wrapping_neg()),
            source_partition: u32::from(event.train_id.number),
            source_offset: count.source_offset,
        };
        assert_fast_matches_serde(&headway);
        assert_fast_matches_serde(&headway.key());
        // Every corruption and truncation of a valid body: the readers agree or defer.
        let mut body = Vec::new();
        assert!(event.write_body_fast(&mut body));
        for at in 0..body.len() {
            assert_fast_reader_agrees::<ArrivalEvent>(&body[..at]);
            let mut corrupt = body.clone();
            corrupt[at] ^= 0x5a;
            assert_fast_reader_agrees::<ArrivalEvent>(&corrupt);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        assert_fast_reader_agrees::<ArrivalEvent>(&bytes);
        assert_fast_reader_agrees::<TurnstileEvent>(&bytes);
        assert_fast_reader_agrees::<StationKey>(&bytes);
        assert_fast_reader_agrees::<StationLineKey>(&bytes);
        assert_fast_reader_agrees::<TurnstileCount>(&bytes);
        assert_fast_reader_agrees::<HeadwayEvent>(&bytes);
        assert_fast_reader_agrees::<HeadwayKey>(&bytes);
        let registry = MemRegistry::new();
        registry.register_schema("s", ArrivalEvent::schema_json()).unwrap();
        let decoder = Decoder::<ArrivalEvent>::new(Arc::new(registry)).unwrap();
        let _ = block_on(decoder.decode(&bytes));
        let mut framed = vec![0, 0, 0, 0, 1];
        framed.extend(&bytes);
        let _ = block_on(decoder.decode(&framed));
    }
}

fn sample_arrival() -> ArrivalEvent {
    ArrivalEvent {
        station_id: StationId(40380),
        train_id: TrainId {
            line: cta::BLUE,
            number: 7,
        },
        direction: Direction::B,
        line: cta::BLUE,
        train_status: TrainStatus::InService,
        prev_station_id: Some(StationId(40370)),
        prev_direction: Some(Direction::B),
        arrival_time: Some(SimTime(1_793_595_720_000)),
        scheduled_time: None,
        scheduled_headway_s: Some(360),
        delay_s: Some(-1),
        run_number: Some(7),
        prev_arrival_time: Some(SimTime(1_793_595_600_000)),
        route_id: Some(cta::route_id(cta::BLUE)),
    }
}

#[test]
fn the_wire_format_byte_for_byte() {
    let encoder = Encoder::<ArrivalEvent>::with_id(SchemaId(7)).unwrap();
    let bytes = encoder.encode(&sample_arrival()).unwrap();
    let mut expected = vec![0, 0, 0, 0, 7];
    expected.extend([0xf8, 0xf6, 0x04]); // station_id 40380: zigzag 80760 as a varint
    expected.push(10); // train_id: length 5, zigzag
    expected.extend(b"BL007");
    expected.push(2); // direction: symbol 1 ("b")
    expected.push(0); // line: symbol 0 ("blue")
    expected.push(0); // train_status: symbol 0 ("in_service")
    expected.push(2); // prev_station_id: union branch 1 (int)
    expected.extend([0xe4, 0xf6, 0x04]); // 40370: zigzag 80740
    expected.push(2); // prev_direction: union branch 1 (Direction)
    expected.push(2); // symbol 1 ("b")
    expected.push(2); // arrival_time: union branch 1 (long)
    expected.extend([0x80, 0x85, 0x96, 0xaa, 0xb3, 0x68]); // 1_793_595_720_000, zigzag
    expected.push(0); // scheduled_time: union branch 0 (null)
    expected.extend([2, 0xd0, 0x05]); // scheduled_headway_s: branch 1 (int), 360: zigzag 720
    expected.extend([2, 1]); // delay_s: branch 1 (int), -1: zigzag 1
    expected.extend([2, 14]); // run_number: branch 1 (int), 7: zigzag 14
    expected.push(2); // prev_arrival_time: union branch 1 (long)
    expected.extend([0x80, 0xb2, 0x87, 0xaa, 0xb3, 0x68]); // 1_793_595_600_000, zigzag
    expected.push(2); // route_id: union branch 1 (string)
    expected.push(8); // length 4, zigzag
    expected.extend(b"Blue");
    assert_eq!(bytes.as_ref(), expected.as_slice());
}

/// The arrival schema as first published (before `arrival_time` and the schedule's fields).
const ARRIVAL_V1: &str = include_str!("data/arrival.v1.avsc");

/// The arrival schemas published since, each the one before with fields added at the end:
/// `arrival_time` (v2); `scheduled_time`, `scheduled_headway_s`, `delay_s`, `run_number` (v3);
/// `prev_arrival_time` (v4). The current one adds `route_id`.
const ARRIVAL_HISTORY: [&str; 4] = [
    ARRIVAL_V1,
    include_str!("data/arrival.v2.avsc"),
    include_str!("data/arrival.v3.avsc"),
    include_str!("data/arrival.v4.avsc"),
];

/// The Avro body `schema` (an older arrival schema) writes for `event`: its fields only, as a
/// writer that predates the others wrote it.
fn written_with(schema: &str, event: &ArrivalEvent) -> Vec<u8> {
    let schema = apache_avro::Schema::parse_str(schema).unwrap();
    let apache_avro::schema::Schema::Record(record) = &schema else {
        panic!("a record schema")
    };
    let apache_avro::types::Value::Record(fields) = apache_avro::to_value(event).unwrap() else {
        panic!("a record value")
    };
    let kept: Vec<_> = fields
        .into_iter()
        .filter(|(name, _)| record.fields.iter().any(|field| &field.name == name))
        .collect();
    assert_eq!(kept.len(), record.fields.len(), "every field of the schema");
    let value = apache_avro::types::Value::Record(kept)
        .resolve(&schema)
        .unwrap();
    apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
        .build()
        .unwrap()
        .write_value_to_vec(value)
        .unwrap()
}

#[test]
fn the_arrival_schema_evolves_backward_and_reads_what_every_earlier_one_wrote() {
    block_on(async {
        // The registry checks BACKWARD at each step: every version must read what the one
        // before wrote, the current one (route_id) included over the previous (v4).
        let registry = MemRegistry::new();
        let mut ids = Vec::new();
        for schema in ARRIVAL_HISTORY {
            ids.push(registry.register_schema("arrivals-value", schema).unwrap());
        }
        let current = registry
            .register_schema("arrivals-value", ArrivalEvent::schema_json())
            .unwrap();
        assert!(!ids.contains(&current));
        assert_eq!(
            registry.versions("arrivals-value").unwrap(),
            [1, 2, 3, 4, 5]
        );
        // What the previous version needs to change into the current one: one optional field
        // at the end.
        let previous: serde_json::Value = serde_json::from_str(ARRIVAL_HISTORY[3]).unwrap();
        let mut now: serde_json::Value = serde_json::from_str(ArrivalEvent::schema_json()).unwrap();
        let added = now["fields"].as_array_mut().unwrap().pop().unwrap();
        assert_eq!(now, previous, "the current schema is v4 and one field");
        assert_eq!(added["name"], "route_id");
        assert_eq!(added["type"], serde_json::json!(["null", "string"]));
        assert_eq!(added["default"], serde_json::Value::Null);
        // The check is real: the same field without its default is refused over v4.
        let mut no_default =
            serde_json::from_str::<serde_json::Value>(ArrivalEvent::schema_json()).unwrap();
        let fields = no_default["fields"].as_array_mut().unwrap();
        fields
            .last_mut()
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("default");
        let strict = MemRegistry::new();
        strict.register_schema("v", ARRIVAL_HISTORY[3]).unwrap();
        assert!(matches!(
            strict.register_schema("v", &no_default.to_string()),
            Err(transit_core::codec::RegistryError::Incompatible { .. })
        ));
        let decoder = Decoder::<ArrivalEvent>::new(Arc::new(registry)).unwrap();

        // A record written with v1 (no arrival_time), byte by byte: the fields added since at
        // their defaults, the route from its line.
        let mut body = vec![0, 0, 0, 0, ids[0].0 as u8];
        body.extend([0xf8, 0xf6, 0x04, 10]);
        body.extend(b"BL007");
        body.extend([2, 0, 0, 2, 0xe4, 0xf6, 0x04, 2, 2]);
        let decoded = decoder.decode(&body).await.unwrap();
        let v1 = ArrivalEvent {
            arrival_time: None,
            scheduled_time: None,
            scheduled_headway_s: None,
            delay_s: None,
            run_number: None,
            prev_arrival_time: None,
            route_id: None,
            ..sample_arrival()
        };
        assert_eq!(decoded, v1);
        assert_eq!(decoded.route(), cta::route_id(cta::BLUE));

        // Records written with each later version, every field it has set.
        let full = ArrivalEvent {
            scheduled_time: Some(SimTime(1_793_595_660_000)),
            ..sample_arrival()
        };
        let expected = [
            ArrivalEvent {
                arrival_time: full.arrival_time,
                ..v1
            },
            ArrivalEvent {
                prev_arrival_time: None,
                route_id: None,
                ..full
            },
            ArrivalEvent {
                route_id: None,
                ..full
            },
        ];
        for (version, (schema, expected)) in (2..).zip(ARRIVAL_HISTORY[1..].iter().zip(expected)) {
            let mut bytes = vec![0, 0, 0, 0, ids[version - 1].0 as u8];
            bytes.extend(written_with(schema, &full));
            let decoded = decoder.decode(&bytes).await.unwrap();
            assert_eq!(decoded, expected, "a record written with v{version}");
            assert_eq!(
                decoded.route().as_str(),
                "Blue",
                "v{version}: from its line"
            );
        }
        // And the current one, route_id and all.
        let mut bytes = vec![0, 0, 0, 0, current.0 as u8];
        bytes.extend(written_with(ArrivalEvent::schema_json(), &full));
        let encoded = Encoder::<ArrivalEvent>::with_id(current)
            .unwrap()
            .encode(&full)
            .unwrap();
        assert_eq!(
            encoded.as_ref(),
            bytes.as_slice(),
            "the fast writer's bytes"
        );
        let decoded = decoder.decode(&bytes).await.unwrap();
        assert_eq!(decoded, full);
        assert_eq!(decoded.route_id.map(LineId::as_str), Some("Blue"));
    });
}

#[test]
fn an_arrival_names_its_route_by_the_static_feeds_route_id() {
    // The same ids the static GTFS feed, GTFS-realtime and Train Tracker use.
    let ids: Vec<_> = cta::LINES
        .into_iter()
        .map(|line| cta::route_id(line).as_str())
        .collect();
    assert_eq!(ids, ["Blue", "Red", "G"]);
    for line in cta::LINES {
        let older = ArrivalEvent {
            line,
            route_id: None,
            ..sample_arrival()
        };
        assert_eq!(older.route(), cta::route_id(line), "from the line");
        let newer = ArrivalEvent {
            route_id: Some(cta::route_id(line)),
            ..older
        };
        assert_eq!(newer.route(), cta::route_id(line));
    }
    // The route as data: whatever id the writer gave, interned once.
    let other = ArrivalEvent {
        route_id: Some(LineId::new("Yellow").unwrap()),
        ..sample_arrival()
    };
    assert_eq!(round_trip(&other).unwrap(), other);
    assert_eq!(other.route().as_str(), "Yellow");
    let json = serde_json::to_value(sample_arrival()).unwrap();
    assert_eq!(json["route_id"], "Blue");
    let mut older_json = json.clone();
    older_json.as_object_mut().unwrap().remove("route_id");
    let back: ArrivalEvent = serde_json::from_value(older_json).unwrap();
    assert_eq!(
        back.route_id, None,
        "JSON without the field reads as before"
    );
    // A route id that is no id (empty) is refused, by the fast reader and apache-avro alike.
    let mut body = Vec::new();
    assert!(sample_arrival().write_body_fast(&mut body));
    let cut = body.len() - b"Blue".len() - 1;
    body.truncate(cut);
    body.push(0); // length 0
    assert!(ArrivalEvent::read_body_fast(&body).is_none());
    let mut bytes = vec![0, 0, 0, 0, 1];
    bytes.extend(&body);
    let registry = MemRegistry::new();
    registry
        .register_schema("a-value", ArrivalEvent::schema_json())
        .unwrap();
    let decoder = Decoder::<ArrivalEvent>::new(Arc::new(registry)).unwrap();
    assert!(matches!(
        block_on(decoder.decode(&bytes)),
        Err(DecodeError::Body { .. })
    ));
}

#[test]
fn bad_bytes_are_typed_errors() {
    block_on(async {
        let registry = registry();
        let encoder = Encoder::<ArrivalEvent>::register(registry.as_ref(), "a-value")
            .await
            .unwrap();
        let decoder = Decoder::<ArrivalEvent>::new(Arc::clone(&registry)).unwrap();
        let good = encoder.encode(&sample_arrival()).unwrap();
        assert_eq!(decoder.decode(&good).await.unwrap(), sample_arrival());

        assert!(matches!(decoder.decode(&[]).await, Err(DecodeError::Empty)));
        let mut wrong_magic = good.to_vec();
        wrong_magic[0] = 1;
        assert!(matches!(
            decoder.decode(&wrong_magic).await,
            Err(DecodeError::BadMagic { found: 1 })
        ));
        let mut unknown = good.to_vec();
        unknown[4] = 99;
        assert!(matches!(
            decoder.decode(&unknown).await,
            Err(DecodeError::UnknownSchemaId { id: SchemaId(99) })
        ));
        for len in 1..good.len() {
            let result = decoder.decode(&good[..len]).await;
            assert!(result.is_err(), "a record truncated to {len} bytes decoded");
        }
        let mut trailing = good.to_vec();
        trailing.push(0);
        assert!(matches!(
            decoder.decode(&trailing).await,
            Err(DecodeError::TrailingBytes { count: 1, .. })
        ));
        // A string claiming a gigabyte fails without allocating it.
        let huge = [
            0, 0, 0, 0, 1, 0xf8, 0xf6, 0x04, 0xfe, 0xff, 0xff, 0xff, 0x0f,
        ];
        assert!(matches!(
            decoder.decode(&huge).await,
            Err(DecodeError::Body { .. })
        ));
        // Records of another type, framed with another type's schema id.
        let turnstile = Encoder::<TurnstileEvent>::register(registry.as_ref(), "t-value")
            .await
            .unwrap();
        let other = turnstile
            .encode(&TurnstileEvent {
                station_id: StationId(1),
                station_name: Arc::from("x"),
                line: cta::RED,
            })
            .unwrap();
        assert!(decoder.decode(&other).await.is_err());
    });
}

#[test]
fn a_newer_writer_schema_still_decodes() {
    block_on(async {
        let registry = MemRegistry::new();
        let newer = r#"{"type": "record", "name": "WeatherEvent", "namespace": "org.chicago.cta",
          "fields": [
            {"name": "temperature", "type": "float"},
            {"name": "status", "type": {"type": "enum", "name": "WeatherStatus", "symbols": ["sunny", "partly_cloudy", "cloudy", "windy", "precipitation"]}},
            {"name": "humidity", "type": "int", "default": 50}
          ]}"#;
        let id = registry.register_schema("w-value", newer).unwrap();
        // temperature 41.5 (float LE), status 2 (cloudy), humidity 80 (zigzag 160)
        let mut bytes = vec![0, 0, 0, 0, id.0 as u8];
        bytes.extend(41.5f32.to_le_bytes());
        bytes.extend([4, 0xa0, 0x01]);
        let decoder = Decoder::<WeatherEvent>::new(Arc::new(registry)).unwrap();
        let event = decoder.decode(&bytes).await.unwrap();
        assert_eq!(
            event,
            WeatherEvent {
                temperature: 41.5,
                status: WeatherStatus::Cloudy
            }
        );
    });
}

#[test]
fn topic_codecs_key_by_station_and_refuse_tombstones() {
    block_on(async {
        let codec = TopicCodec::<ArrivalEvent>::register(registry(), "arrivals")
            .await
            .unwrap();
        let record = codec.record(&sample_arrival(), 42).unwrap();
        let delivery = Delivery {
            topic: Arc::from("arrivals"),
            partition: 0,
            offset: 0,
            key: record.key.clone(),
            value: record.value.clone(),
            headers: Vec::new(),
            timestamp_ms: 42,
        };
        let (key, value) = codec.decode(&delivery).await.unwrap();
        assert_eq!(
            key,
            StationKey {
                station_id: StationId(40380)
            }
        );
        assert_eq!(value, sample_arrival());
        assert_eq!(
            codec.decode_value_cached(&delivery).unwrap(),
            sample_arrival()
        );
        let tombstone = Delivery {
            value: None,
            ..delivery.clone()
        };
        assert!(matches!(
            codec.decode(&tombstone).await,
            Err(DecodeError::MissingValue)
        ));
        let keyless = Delivery {
            key: None,
            value: Some(Bytes::new()),
            ..delivery
        };
        assert!(matches!(
            codec.decode(&keyless).await,
            Err(DecodeError::MissingKey)
        ));
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn headways_round_trip(
        line in line(), id in station_id(), direction in direction(), number in 0u16..1000,
        time in any::<i64>(), headway in prop::option::of(0i32..7200),
        scheduled in prop::option::of(60i32..3600), delay in prop::option::of(-3600i32..3600),
        state in prop::sample::select(vec![HeadwayState::Unknown, HeadwayState::OnTime, HeadwayState::Bunched, HeadwayState::Gapped]),
        partition in 0u32..64, offset in 0u64..(i64::MAX as u64),
    ) {
        let event = HeadwayEvent {
            line, station_id: id, direction,
            train_id: TrainId { line, number },
            run_number: Some(i32::from(number)),
            arrival_time: SimTime(time),
            headway_s: headway,
            scheduled_headway_s: scheduled,
            state,
            delay_s: delay,
            source_partition: partition,
            source_offset: offset,
        };
        prop_assert_eq!(round_trip(&event).unwrap(), event);
        let key = event.key();
        prop_assert_eq!(round_trip(&key).unwrap(), key);
    }
}

#[test]
fn a_line_the_schemas_enum_cannot_carry_is_refused_by_name() {
    let encoder = Encoder::<ArrivalEvent>::with_id(SchemaId(7)).unwrap();
    let brown = LineId::new("brown").unwrap();
    let event = ArrivalEvent {
        line: brown,
        ..sample_arrival()
    };
    let error = encoder.encode(&event).unwrap_err();
    let message = format!("{}: {}", error, error.source);
    assert!(
        message.contains("\"brown\"") && message.contains("blue, red, green"),
        "{message}"
    );
    // A line it can carry reads back as the same id, and as JSON the symbol's text.
    let bytes = encoder.encode(&sample_arrival()).unwrap();
    let (_, body) = split_header(&bytes).unwrap();
    let (read, _) = ArrivalEvent::read_body_fast(body).unwrap();
    assert_eq!(read.line, cta::BLUE);
    let json = serde_json::to_value(sample_arrival()).unwrap();
    assert_eq!(json["line"], "blue");
    let back: ArrivalEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back.line, cta::BLUE);
}
