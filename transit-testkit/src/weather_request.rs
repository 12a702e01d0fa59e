//! What the REST Proxy tests share: the weather hardware's request (byte for byte, and as JSON
//! records), reading the proxy's answers, and decoding what it published.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value as Json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use transit_core::bus::Delivery;
use transit_core::codec::{Decoder, RegistryError, SchemaRegistry};
use transit_core::event::{WeatherEvent, WeatherKey, WeatherStatus};
use transit_registry::SubjectVersion;

use crate::http::content_type_of;

pub const KEY_SCHEMA: &str = include_str!("../../transit-core/schemas/weather_key.avsc");
pub const VALUE_SCHEMA: &str = include_str!("../../transit-core/schemas/weather.avsc");
pub const AVRO: &str = "application/vnd.kafka.avro.v2+json";
pub const ANSWER_TYPE: &str = "application/vnd.kafka.v2+json";

/// A proxy's answer: status, content type, JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Json,
}

impl Answer {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let content_type = content_type_of(&response);
        let text = response.text().await.expect("reading the answer");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("the answer is not JSON ({error}): {text:?}"));
        Self {
            status,
            content_type,
            body,
        }
    }

    /// Asserts a Confluent error answer and returns its message.
    pub fn error(&self, status: u16, error_code: u64) -> &str {
        assert_eq!(self.status, status, "{:?}", self.body);
        assert_eq!(self.content_type, ANSWER_TYPE);
        assert_eq!(
            self.body["error_code"],
            json!(error_code),
            "{:?}",
            self.body
        );
        self.body["message"].as_str().expect("a message")
    }
}

/// A request body with the weather schemas inline and `records`.
pub fn weather_body(records: &[Json]) -> String {
    json!({"key_schema": KEY_SCHEMA, "value_schema": VALUE_SCHEMA, "records": records}).to_string()
}

/// A weather record as JSON.
pub fn weather_record(timestamp: i64, temperature: i64, status: &str) -> Json {
    json!({"key": {"timestamp": timestamp}, "value": {"temperature": temperature, "status": status}})
}

/// Sends what the original Python hardware sends to publish one reading (41 °F, cloudy, at
/// timestamp 1700000000) to `topic`, over a raw connection, and returns the JSON answer after
/// checking it is a 200 with the proxy's content type. The body is json.dumps of the schemas,
/// as strings, inside json.dumps of the request (", " and ": " separators), with requests'
/// default headers.
pub async fn post_as_the_hardware(address: SocketAddr, topic: &str, wait: Duration) -> Json {
    let body = format!(
        r#"{{"key_schema": {}, "value_schema": {}, "records": [{{"key": {{"timestamp": 1700000000}}, "value": {{"temperature": 41, "status": "cloudy"}}}}]}}"#,
        Json::from(KEY_SCHEMA),
        Json::from(VALUE_SCHEMA)
    );
    let request = format!(
        "POST /topics/{topic} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: python-requests/2.24.0\r\n\
         Accept-Encoding: gzip, deflate\r\nAccept: */*\r\nConnection: close\r\n\
         Content-Type: application/vnd.kafka.avro.v2+json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(address)
        .await
        .expect("connecting to the proxy");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("sending the request");
    let mut raw = Vec::new();
    tokio::time::timeout(wait, stream.read_to_end(&mut raw))
        .await
        .expect("an answer in time")
        .expect("reading the answer");
    let raw = String::from_utf8(raw).expect("a UTF-8 answer");
    let (head, answer) = raw.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{raw}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/vnd.kafka.v2+json"),
        "{head}"
    );
    serde_json::from_str(answer).expect("a JSON answer")
}

/// The weather key and value of a published record, decoded with `registry`.
pub async fn decode_weather(
    registry: Arc<dyn SchemaRegistry>,
    delivery: &Delivery,
) -> (WeatherKey, WeatherEvent) {
    let keys = Decoder::<WeatherKey>::new(Arc::clone(&registry)).expect("a key decoder");
    let values = Decoder::<WeatherEvent>::new(registry).expect("a value decoder");
    let key = keys
        .decode(delivery.key.as_deref().expect("a key"))
        .await
        .expect("decoding the key");
    let value = values
        .decode(delivery.value.as_deref().expect("a value"))
        .await
        .expect("decoding the value");
    (key, value)
}

/// Checks what the proxy did with [`post_as_the_hardware`]'s request to `topic`: its `answer`
/// names the schemas registered under `<topic>-key` and `<topic>-value` (by `latest`) and the
/// first offset, and the record it published (`delivery`) is in the Confluent wire format and
/// decodes to the reading sent.
pub async fn assert_hardware_reading(
    answer: &Json,
    delivery: &Delivery,
    registry: Arc<dyn SchemaRegistry>,
    topic: &str,
    latest: impl Fn(&str) -> Result<SubjectVersion, RegistryError>,
) {
    let key_id = latest(&format!("{topic}-key"))
        .expect("the key schema registered under <topic>-key")
        .id;
    let value_id = latest(&format!("{topic}-value"))
        .expect("the value schema registered under <topic>-value")
        .id;
    assert_eq!(
        answer,
        &json!({
            "key_schema_id": key_id.0,
            "value_schema_id": value_id.0,
            "offsets": [{"partition": 0, "offset": 0, "error_code": null, "error": null}]
        })
    );
    let (key, value) = decode_weather(registry, delivery).await;
    assert_eq!(
        key,
        WeatherKey {
            timestamp: 1_700_000_000
        }
    );
    assert_eq!(
        value,
        WeatherEvent {
            temperature: 41.0,
            status: WeatherStatus::Cloudy
        }
    );
    // The Confluent wire format: magic byte, then the schema id the answer named.
    let value_bytes = delivery.value.as_deref().expect("a value");
    assert_eq!(value_bytes[0], 0, "the magic byte");
    assert_eq!(
        &value_bytes[1..5],
        &value_id.0.to_be_bytes(),
        "the schema id"
    );
}
