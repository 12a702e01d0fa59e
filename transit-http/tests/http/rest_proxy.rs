//! The REST proxy over HTTP, on an in-memory bus and registry: the original weather hardware's
//! request byte for byte, schema ids, JSON records, order and offsets, every rejection (with
//! nothing published), a bus failure reported per record, the client, and shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value as Json};
use transit_core::bus::{Delivery, SubscribeOptions, TopicSpec};
use transit_core::codec::SchemaRegistry;
use transit_core::event::{WeatherEvent, WeatherKey, WeatherStatus};
use transit_core::EventBus;
use transit_http::rest_proxy::{RestProxyClient, RestProxyConfig, RestProxyError};
use transit_mem::{MemBus, MemRegistry};

use transit_testkit::rest_proxy::ProxyServer;
use transit_testkit::weather_request::{
    assert_hardware_reading, post_as_the_hardware, weather_body, weather_record, Answer,
    ANSWER_TYPE, AVRO, KEY_SCHEMA, VALUE_SCHEMA,
};

const TOPIC: &str = "org.chicago.cta.weather.v1";
const JSON_V2: &str = "application/vnd.kafka.json.v2+json";
const WAIT: Duration = Duration::from_secs(10);

struct Proxy {
    address: SocketAddr,
    bus: Arc<MemBus>,
    registry: Arc<MemRegistry>,
    server: ProxyServer,
}

impl Proxy {
    async fn start() -> Self {
        Self::start_with(RestProxyConfig::default(), 1).await
    }

    async fn start_with(config: RestProxyConfig, partitions: u32) -> Self {
        let bus = Arc::new(MemBus::new());
        let registry = Arc::new(MemRegistry::new());
        bus.create_topic(&TopicSpec::new(TOPIC, partitions))
            .await
            .expect("creating the topic");
        let server = ProxyServer::start(
            Arc::clone(&bus) as Arc<dyn EventBus>,
            Arc::clone(&registry) as Arc<dyn SchemaRegistry>,
            config,
        )
        .await;
        Self {
            address: server.address,
            bus,
            registry,
            server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The next offset of the topic's partition: how many records were ever published to it.
    fn end_offset(&self, partition: u32) -> u64 {
        self.bus
            .offsets(TOPIC, partition)
            .expect("the topic exists")
            .1
    }

    async fn consume(&self, count: usize) -> Vec<Delivery> {
        let mut consumer = self
            .bus
            .subscribe(SubscribeOptions::topics([TOPIC]))
            .await
            .expect("subscribing");
        let mut out = Vec::new();
        while out.len() < count {
            let delivery = tokio::time::timeout(WAIT, consumer.recv())
                .await
                .expect("a record in time")
                .expect("the bus is open")
                .expect("a delivery");
            out.push(delivery);
        }
        out
    }

    async fn post(
        &self,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Vec<u8>>,
    ) -> Answer {
        let client = reqwest::Client::new();
        let mut request = client.post(self.url(path)).body(body.into());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        Answer::read(request.send().await.expect("sending")).await
    }
}

async fn decode_weather(proxy: &Proxy, delivery: &Delivery) -> (WeatherKey, WeatherEvent) {
    let registry = Arc::clone(&proxy.registry) as Arc<dyn SchemaRegistry>;
    transit_testkit::weather_request::decode_weather(registry, delivery).await
}

#[tokio::test]
async fn the_weather_hardware_request_works_byte_for_byte() {
    let proxy = Proxy::start().await;
    let answer = post_as_the_hardware(proxy.address, TOPIC, WAIT).await;

    let delivered = proxy.consume(1).await;
    assert_hardware_reading(
        &answer,
        &delivered[0],
        Arc::clone(&proxy.registry) as Arc<dyn SchemaRegistry>,
        TOPIC,
        |subject| proxy.registry.latest(subject),
    )
    .await;
}

#[tokio::test]
async fn schema_ids_work_instead_of_inline_schemas() {
    let proxy = Proxy::start().await;
    let key_id = proxy
        .registry
        .register_schema(&format!("{TOPIC}-key"), KEY_SCHEMA)
        .expect("registering");
    let value_id = proxy
        .registry
        .register_schema(&format!("{TOPIC}-value"), VALUE_SCHEMA)
        .expect("registering");
    let body = json!({
        "key_schema_id": key_id.0,
        "value_schema_id": value_id.0,
        "records": [{"key": {"timestamp": 5}, "value": {"temperature": -3.5, "status": "windy"}}]
    });
    let answer = proxy
        .post(&format!("/topics/{TOPIC}"), Some(AVRO), body.to_string())
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["key_schema_id"], json!(key_id.0));
    assert_eq!(answer.body["value_schema_id"], json!(value_id.0));
    let delivered = proxy.consume(1).await;
    let (key, value) = decode_weather(&proxy, &delivered[0]).await;
    assert_eq!(key.timestamp, 5);
    assert_eq!(value.temperature, -3.5);
    assert_eq!(value.status, WeatherStatus::Windy);
}

#[tokio::test]
async fn json_records_are_published_as_their_json_bytes() {
    let proxy = Proxy::start().await;
    let body = json!({"records": [
        {"key": {"station": 40890}, "value": {"temperature": 41, "tags": ["a", null]}},
        {"value": "no key"}
    ]});
    let answer = proxy
        .post(&format!("/topics/{TOPIC}"), Some(JSON_V2), body.to_string())
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.content_type, ANSWER_TYPE);
    assert_eq!(answer.body["key_schema_id"], Json::Null);
    assert_eq!(answer.body["value_schema_id"], Json::Null);
    assert_eq!(answer.body["offsets"][1]["offset"], json!(1));

    let delivered = proxy.consume(2).await;
    let as_json = |bytes: Option<&[u8]>| {
        bytes.map(|b| serde_json::from_slice::<Json>(b).expect("JSON bytes"))
    };
    assert_eq!(
        as_json(delivered[0].key.as_deref()),
        Some(json!({"station": 40890}))
    );
    assert_eq!(
        as_json(delivered[0].value.as_deref()),
        Some(json!({"temperature": 41, "tags": ["a", null]}))
    );
    assert_eq!(delivered[1].key, None);
    assert_eq!(
        as_json(delivered[1].value.as_deref()),
        Some(json!("no key"))
    );
}

#[tokio::test]
async fn several_records_land_in_order_with_their_offsets() {
    let proxy = Proxy::start_with(RestProxyConfig::default(), 3).await;
    let statuses = ["sunny", "partly_cloudy", "cloudy", "windy", "precipitation"];
    let records: Vec<Json> = statuses
        .iter()
        .enumerate()
        .map(|(i, status)| {
            let mut record = weather_record(i as i64, 40 + i as i64, status);
            record["partition"] = json!(2);
            record
        })
        .collect();
    let answer = proxy
        .post(
            &format!("/topics/{TOPIC}"),
            Some(AVRO),
            weather_body(&records),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let offsets: Vec<(u64, u64)> = answer.body["offsets"]
        .as_array()
        .expect("offsets")
        .iter()
        .map(|o| {
            (
                o["partition"].as_u64().expect("partition"),
                o["offset"].as_u64().expect("offset"),
            )
        })
        .collect();
    assert_eq!(offsets, [(2, 0), (2, 1), (2, 2), (2, 3), (2, 4)]);

    let delivered = proxy.consume(5).await;
    for (i, delivery) in delivered.iter().enumerate() {
        assert_eq!((delivery.partition, delivery.offset), (2, i as u64));
        let (key, value) = decode_weather(&proxy, delivery).await;
        assert_eq!(key.timestamp, i as i64);
        assert_eq!(value.status.as_str(), statuses[i]);
    }

    // The next request continues where this one ended.
    let answer = proxy
        .post(
            &format!("/topics/{TOPIC}"),
            Some(AVRO),
            weather_body(&[records[0].clone()]),
        )
        .await;
    assert_eq!(answer.body["offsets"][0]["offset"], json!(5));
}

#[tokio::test]
async fn a_bad_record_rejects_the_whole_request_and_nothing_is_published() {
    let proxy = Proxy::start().await;
    let records = [
        weather_record(1, 41, "cloudy"),
        weather_record(2, 41, "foggy"),
    ];
    let answer = proxy
        .post(
            &format!("/topics/{TOPIC}"),
            Some(AVRO),
            weather_body(&records),
        )
        .await;
    let message = answer.error(422, 42203);
    assert!(
        message.contains(r#"records[1].value.status: "foggy" is not a symbol of WeatherStatus"#),
        "{message}"
    );
    assert_eq!(
        proxy.end_offset(0),
        0,
        "nothing of the request was published"
    );

    let records = [
        weather_record(1, 41, "cloudy"),
        json!({"key": {"timestamp": 2}, "value": {"temperature": 41, "status": "sunny", "humidity": 3}}),
        json!({"key": {"timestamp": 10_000_000_000_000_000_000u64}, "value": {"temperature": 41, "status": "sunny"}}),
    ];
    let answer = proxy
        .post(
            &format!("/topics/{TOPIC}"),
            Some(AVRO),
            weather_body(&records),
        )
        .await;
    let message = answer.error(422, 42203);
    assert!(
        message.contains(r#"records[1].value: unknown field "humidity""#),
        "{message}"
    );
    assert_eq!(proxy.end_offset(0), 0);

    let answer = proxy
        .post(
            &format!("/topics/{TOPIC}"),
            Some(AVRO),
            weather_body(&records[2..]),
        )
        .await;
    let message = answer.error(422, 42203);
    assert!(
        message
            .contains("records[0].key.timestamp: 10000000000000000000 is out of range for a long"),
        "{message}"
    );
    assert_eq!(proxy.end_offset(0), 0);
}

#[tokio::test]
async fn every_rejection_has_confluents_status_and_error_code() {
    let proxy = Proxy::start().await;
    let path = format!("/topics/{TOPIC}");
    let good = weather_body(&[weather_record(1, 41, "cloudy")]);

    // Content types.
    proxy
        .post(&path, Some("application/json"), good.clone())
        .await
        .error(415, 415);
    proxy.post(&path, None, good.clone()).await.error(415, 415);
    let binary = proxy
        .post(
            &path,
            Some("application/vnd.kafka.binary.v2+json"),
            good.clone(),
        )
        .await;
    assert!(binary.error(415, 415).contains("binary"));

    // Bodies.
    proxy
        .post(&path, Some(AVRO), "{\"records\": [")
        .await
        .error(400, 400);
    proxy.post(&path, Some(AVRO), "[]").await.error(422, 422);
    let empty = proxy.post(&path, Some(AVRO), r#"{"records": []}"#).await;
    assert!(empty.error(422, 422).contains("empty"));

    // Schemas.
    let no_key_schema =
        json!({"value_schema": VALUE_SCHEMA, "records": [weather_record(1, 41, "cloudy")]});
    let message = proxy
        .post(&path, Some(AVRO), no_key_schema.to_string())
        .await;
    assert!(message.error(422, 42201).contains("key_schema"));
    let no_value_schema =
        json!({"key_schema": KEY_SCHEMA, "records": [weather_record(1, 41, "cloudy")]});
    proxy
        .post(&path, Some(AVRO), no_value_schema.to_string())
        .await
        .error(422, 42202);
    let bad_key_schema = json!({"key_schema": "{\"type\": \"nonsense\"}", "value_schema": VALUE_SCHEMA, "records": [weather_record(1, 41, "cloudy")]});
    let answer = proxy
        .post(&path, Some(AVRO), bad_key_schema.to_string())
        .await;
    assert!(answer.error(422, 42205).contains("key schema"));
    let bad_value_schema = json!({"key_schema": KEY_SCHEMA, "value_schema": "{not json", "records": [weather_record(1, 41, "cloudy")]});
    let answer = proxy
        .post(&path, Some(AVRO), bad_value_schema.to_string())
        .await;
    assert!(answer.error(422, 42205).contains("value schema"));
    assert!(
        proxy.registry.subjects().is_empty(),
        "a rejected schema registers nothing: {:?}",
        proxy.registry.subjects()
    );
    let unknown_id = json!({"value_schema_id": 999, "records": [{"value": 1}]});
    proxy
        .post(&path, Some(AVRO), unknown_id.to_string())
        .await
        .error(404, 40403);

    // Topics and partitions.
    proxy
        .post("/topics/no.such.topic", Some(AVRO), good.clone())
        .await
        .error(404, 40401);
    let bad_partition = weather_body(&[
        json!({"key": {"timestamp": 1}, "value": {"temperature": 1, "status": "sunny"}, "partition": 7}),
    ]);
    proxy
        .post(&path, Some(AVRO), bad_partition)
        .await
        .error(404, 40402);

    // Routes and methods.
    proxy
        .post("/nope", Some(AVRO), good.clone())
        .await
        .error(404, 404);
    proxy
        .post("/topics", Some(AVRO), good.clone())
        .await
        .error(404, 404);
    let get = reqwest::get(proxy.url(&path)).await.expect("GET");
    assert_eq!(
        get.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    Answer::read(get).await.error(405, 405);

    assert_eq!(
        proxy.end_offset(0),
        0,
        "no rejected request published anything"
    );

    // And the same proxy still takes a good request.
    let answer = proxy.post(&path, Some(AVRO), good).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(proxy.end_offset(0), 1);
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let config = RestProxyConfig {
        max_body_bytes: 2048,
    };
    let proxy = Proxy::start_with(config, 1).await;
    let records: Vec<Json> = (0..100).map(|i| weather_record(i, 41, "cloudy")).collect();
    let body = weather_body(&records);
    assert!(body.len() > 2048);
    let answer = proxy
        .post(&format!("/topics/{TOPIC}"), Some(AVRO), body)
        .await;
    assert!(answer.error(413, 413).contains("2048"));
    assert_eq!(proxy.end_offset(0), 0);
}

#[tokio::test]
async fn a_bus_failure_is_reported_per_record_never_hidden() {
    let proxy = Proxy::start().await;
    proxy.bus.close();
    let body = weather_body(&[
        weather_record(1, 41, "cloudy"),
        weather_record(2, 42, "sunny"),
    ]);
    let answer = proxy
        .post(&format!("/topics/{TOPIC}"), Some(AVRO), body)
        .await;
    assert_eq!(answer.status, 200);
    for offset in answer.body["offsets"].as_array().expect("offsets") {
        assert_eq!(offset["error_code"], json!(50002), "{offset}");
        assert_eq!(offset["error"], json!("the bus is closed"));
        assert_eq!(offset["offset"], Json::Null);
    }

    let client = RestProxyClient::new(proxy.url("")).expect("client");
    let failure = client
        .produce_avro(
            TOPIC,
            KEY_SCHEMA,
            VALUE_SCHEMA,
            &[(
                json!({"timestamp": 1}),
                json!({"temperature": 1, "status": "sunny"}),
            )],
        )
        .await
        .expect_err("the client reports failed records");
    assert!(
        matches!(
            failure,
            RestProxyError::RecordsFailed {
                failed: 1,
                total: 1,
                ..
            }
        ),
        "{failure:?}"
    );
}

#[tokio::test]
async fn the_client_produces_and_reports_typed_errors() {
    let proxy = Proxy::start().await;
    let client = RestProxyClient::new(proxy.url("")).expect("client");
    let records = [
        (
            json!({"timestamp": 1_700_000_000_000i64}),
            json!({"temperature": 41, "status": "cloudy"}),
        ),
        (
            json!({"timestamp": 1_700_003_600_000i64}),
            json!({"temperature": 40.5, "status": "precipitation"}),
        ),
    ];
    let response = client
        .produce_avro(TOPIC, KEY_SCHEMA, VALUE_SCHEMA, &records)
        .await
        .expect("produced");
    assert_eq!(response.offsets.len(), 2);
    assert_eq!(response.offsets[1].offset, Some(1));
    assert!(response.key_schema_id.is_some() && response.value_schema_id.is_some());
    let delivered = proxy.consume(2).await;
    let (key, value) = decode_weather(&proxy, &delivered[1]).await;
    assert_eq!(key.timestamp, 1_700_003_600_000);
    assert_eq!(value.status, WeatherStatus::Precipitation);

    let bad = [(
        json!({"timestamp": 1}),
        json!({"temperature": "warm", "status": "cloudy"}),
    )];
    match client
        .produce_avro(TOPIC, KEY_SCHEMA, VALUE_SCHEMA, &bad)
        .await
    {
        Err(RestProxyError::Rejected {
            status: 422,
            error_code: 42203,
            message,
        }) => {
            assert!(
                message.contains("records[0].value.temperature"),
                "{message}"
            );
        }
        other => panic!("expected a 42203 rejection, got {other:?}"),
    }
    match client
        .produce_avro("no.such.topic", KEY_SCHEMA, VALUE_SCHEMA, &records)
        .await
    {
        Err(RestProxyError::Rejected {
            status: 404,
            error_code: 40401,
            ..
        }) => {}
        other => panic!("expected a 40401 rejection, got {other:?}"),
    }

    // Nothing listens here: a transport error, not a hang.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let closed = listener.local_addr().expect("address");
    drop(listener);
    let nowhere = RestProxyClient::with_timeout(format!("http://{closed}"), Duration::from_secs(2))
        .expect("client");
    assert!(matches!(
        nowhere
            .produce_avro(TOPIC, KEY_SCHEMA, VALUE_SCHEMA, &records)
            .await,
        Err(RestProxyError::Transport { .. })
    ));
}

#[tokio::test]
async fn serving_stops_when_shutdown_is_cancelled() {
    let mut proxy = Proxy::start().await;
    let result = proxy.server.stop(WAIT).await;
    assert!(result.is_ok(), "{result:?}");
}
