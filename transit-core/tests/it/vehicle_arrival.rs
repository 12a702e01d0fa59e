//! The any-feed arrival record: its codec round trip, its subjects in the registry, its key,
//! and a reader of the current schema reading what an older writer (without the optional
//! fields) wrote.

use std::sync::Arc;

use proptest::prelude::*;
use transit_core::bus::Delivery;
use transit_core::codec::{AvroRecord, Decoder, Encoder, Keyed, SchemaRegistry, TopicCodec};
use transit_core::event::{VehicleArrivalEvent, VehicleKey};
use transit_core::topics::Topics;
use transit_mem::MemRegistry;

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn sample() -> VehicleArrivalEvent {
    VehicleArrivalEvent {
        route_id: "M15-SBS".into(),
        trip_id: "OH_D4-Weekday-SDon-088500_M15_53".into(),
        start_date: "20261207".into(),
        start_time: Some("25:10:00".into()),
        direction_id: Some(1),
        stop_id: "401921".into(),
        stop_sequence: 12,
        vehicle_id: "OH_D4-Weekday-SDon_M15_53".into(),
        arrival_time: 1_796_652_000_000,
        departure_time: 1_796_652_030_000,
        scheduled_arrival_time: 1_796_651_940_000,
        scheduled_departure_time: 1_796_651_940_000,
        boarded: 7,
        alighted: 3,
    }
}

fn arrival() -> impl Strategy<Value = VehicleArrivalEvent> {
    (
        ("\\PC{1,30}", "\\PC{1,60}", "[0-9]{8}"),
        (
            prop::option::of("[0-9]{2}:[0-5][0-9]:[0-5][0-9]"),
            prop::option::of(0i32..2),
            "\\PC{1,20}",
            0u32..=i32::MAX as u32,
            "\\PC{1,40}",
        ),
        (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>()),
        (0u32..=i32::MAX as u32, 0u32..=i32::MAX as u32),
    )
        .prop_map(
            |(
                (route_id, trip_id, start_date),
                (start_time, direction_id, stop_id, stop_sequence, vehicle_id),
                (arrival_time, departure_time, scheduled_arrival_time, scheduled_departure_time),
                (boarded, alighted),
            )| VehicleArrivalEvent {
                route_id,
                trip_id,
                start_date,
                start_time,
                direction_id,
                stop_id,
                stop_sequence,
                vehicle_id,
                arrival_time,
                departure_time,
                scheduled_arrival_time,
                scheduled_departure_time,
                boarded,
                alighted,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn vehicle_arrivals_round_trip(event in arrival()) {
        let decoded = block_on(async {
            let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
            let encoder = Encoder::<VehicleArrivalEvent>::register(registry.as_ref(), "v-value")
                .await
                .unwrap();
            let bytes = encoder.encode(&event).unwrap();
            Decoder::<VehicleArrivalEvent>::new(registry).unwrap().decode(&bytes).await
        });
        prop_assert_eq!(decoded.unwrap(), event);
    }
}

#[test]
fn counts_beyond_an_avro_int_are_refused_not_wrapped() {
    block_on(async {
        let registry = MemRegistry::new();
        let encoder = Encoder::<VehicleArrivalEvent>::register(&registry, "v-value")
            .await
            .unwrap();
        let event = VehicleArrivalEvent {
            boarded: u32::MAX,
            ..sample()
        };
        assert!(encoder.encode(&event).is_err());
    });
}

#[test]
fn one_topic_keyed_by_vehicle_under_the_topic_name_subjects() {
    block_on(async {
        let registry = Arc::new(MemRegistry::new());
        let topic = Topics::default().vehicle_arrivals();
        assert_eq!(topic, "org.chicago.cta.vehicles.arrivals.v1");
        let codec = TopicCodec::<VehicleArrivalEvent>::register(registry.clone(), topic.clone())
            .await
            .unwrap();
        assert_eq!(
            registry.subjects(),
            [format!("{topic}-key"), format!("{topic}-value")]
        );
        // Registering again (a restarted driver) finds the same schemas.
        TopicCodec::<VehicleArrivalEvent>::register(registry.clone(), topic.clone())
            .await
            .unwrap();
        assert_eq!(registry.subjects().len(), 2);

        let record = codec.record(&sample(), sample().arrival_time).unwrap();
        let other_route = VehicleArrivalEvent {
            route_id: "M101".into(),
            stop_id: "1".into(),
            ..sample()
        };
        let same_vehicle = codec.record(&other_route, 0).unwrap();
        assert_eq!(record.key, same_vehicle.key, "the key is the vehicle alone");
        let delivery = Delivery {
            topic: Arc::from(topic.as_str()),
            partition: 0,
            offset: 0,
            key: record.key.clone(),
            value: record.value.clone(),
            headers: Vec::new(),
            timestamp_ms: record.timestamp_ms,
        };
        let (key, value) = codec.decode(&delivery).await.unwrap();
        assert_eq!(
            key,
            VehicleKey {
                vehicle_id: "OH_D4-Weekday-SDon_M15_53".into()
            }
        );
        assert_eq!(key, sample().key());
        assert_eq!(value, sample());
        assert_eq!(codec.decode_value_cached(&delivery).unwrap(), sample());
    });
}

/// The schema without its optional fields, as a first version would have been.
fn without_optional_fields() -> String {
    let mut schema: serde_json::Value =
        serde_json::from_str(VehicleArrivalEvent::schema_json()).unwrap();
    let fields = schema["fields"].as_array_mut().unwrap();
    fields.retain(|field| field.get("default").is_none());
    schema.to_string()
}

#[test]
fn the_optional_fields_evolve_backward() {
    block_on(async {
        let registry = Arc::new(MemRegistry::new());
        let older = without_optional_fields();
        let older_id = registry.register_schema("v-value", &older).unwrap();
        // The registry's BACKWARD check takes the current schema over the older one.
        let current = registry
            .register_schema("v-value", VehicleArrivalEvent::schema_json())
            .unwrap();
        assert_ne!(older_id, current);

        // A record the older writer wrote: the same fields in order, without the optional ones.
        let parsed = apache_avro::Schema::parse_str(&older).unwrap();
        let event = sample();
        let value = apache_avro::to_value(&event).unwrap();
        let apache_avro::types::Value::Record(fields) = value else {
            panic!("not a record");
        };
        let kept = apache_avro::types::Value::Record(
            fields
                .into_iter()
                .filter(|(name, _)| name != "start_time" && name != "direction_id")
                .map(|(name, value)| match (name.as_str(), value) {
                    (
                        "arrival_time"
                        | "departure_time"
                        | "scheduled_arrival_time"
                        | "scheduled_departure_time",
                        apache_avro::types::Value::Long(ms),
                    ) => (name, apache_avro::types::Value::TimestampMillis(ms)),
                    (_, value) => (name, value),
                })
                .collect(),
        );
        let body = apache_avro::writer::datum::GenericDatumWriter::builder(&parsed)
            .build()
            .unwrap()
            .write_value_to_vec(kept)
            .unwrap();
        let mut bytes = Vec::new();
        transit_core::codec::write_header(&mut bytes, older_id);
        bytes.extend(body);

        let decoder = Decoder::<VehicleArrivalEvent>::new(registry).unwrap();
        let read = decoder.decode(&bytes).await.unwrap();
        assert_eq!(
            read,
            VehicleArrivalEvent {
                start_time: None,
                direction_id: None,
                ..event
            }
        );
    });
}
