//! Reading a produce request: its content type, then its body, into plain data.
//!
//! The body is walked by hand rather than through a serde derive so that every complaint names
//! the exact place (`records[2].partition: ...`), and so that an unknown field (a typo of
//! `value`) is an error instead of a record silently published without its value.

use axum::http::{header, HeaderMap, StatusCode};
use serde_json::{Map, Value as Json};

use super::api::{AVRO_V2, BINARY_V2, JSON_V2};
use super::error::{ApiError, MALFORMED_JSON, UNPROCESSABLE, UNSUPPORTED_MEDIA_TYPE};

/// How the records of a request are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EmbeddedFormat {
    /// Avro's JSON encoding, with schemas.
    Avro,
    /// Any JSON, published as its bytes.
    Json,
}

/// The two halves of a record, which have a schema each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Key,
    Value,
}

impl Part {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Part::Key => "key",
            Part::Value => "value",
        }
    }
}

/// Where a key or value schema comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SchemaSource {
    /// The schema's text, to register under the topic's subject.
    Inline(String),
    /// A schema already in the registry.
    Id(u32),
}

/// One record of the request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecordRequest {
    /// `None` when missing or `null`: a record without a key.
    pub(crate) key: Option<Json>,
    /// `None` when missing or `null`.
    pub(crate) value: Option<Json>,
    /// An explicit partition.
    pub(crate) partition: Option<u32>,
}

/// A produce request's body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProduceRequest {
    pub(crate) key_schema: Option<SchemaSource>,
    pub(crate) value_schema: Option<SchemaSource>,
    pub(crate) records: Vec<RecordRequest>,
}

/// The embedded format the `Content-Type` names; anything else is 415.
pub(crate) fn embedded_format(headers: &HeaderMap) -> Result<EmbeddedFormat, ApiError> {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let essence = raw
        .as_deref()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let unsupported = |detail: &str| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            UNSUPPORTED_MEDIA_TYPE,
            format!("HTTP 415 Unsupported Media Type: {detail}; use {AVRO_V2} or {JSON_V2}"),
        )
    };
    match essence.as_deref() {
        Some(AVRO_V2) => Ok(EmbeddedFormat::Avro),
        Some(JSON_V2) => Ok(EmbeddedFormat::Json),
        Some(BINARY_V2) => Err(unsupported("the binary embedded format is not supported")),
        Some(other) => Err(unsupported(&format!(
            "content type {other:?} is not supported"
        ))),
        None => Err(unsupported("the request has no Content-Type")),
    }
}

/// Parses a produce body; the schema fields are read only for Avro.
pub(crate) fn parse_body(body: &[u8], format: EmbeddedFormat) -> Result<ProduceRequest, ApiError> {
    let json: Json = serde_json::from_slice(body).map_err(|error| {
        let (status, code) = if error.is_syntax() || error.is_eof() {
            (StatusCode::BAD_REQUEST, MALFORMED_JSON)
        } else {
            (StatusCode::UNPROCESSABLE_ENTITY, UNPROCESSABLE)
        };
        ApiError::new(status, code, format!("malformed JSON body: {error}"))
    })?;
    let Json::Object(mut object) = json else {
        return Err(shape("the body must be a JSON object with \"records\""));
    };
    let known = [
        "records",
        "key_schema",
        "key_schema_id",
        "value_schema",
        "value_schema_id",
    ];
    if let Some(unknown) = object.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(shape(format!(
            "unknown field {} (a produce request has {})",
            Json::from(unknown.as_str()),
            known.join(", ")
        )));
    }
    let (key_schema, value_schema) = match format {
        EmbeddedFormat::Avro => (
            schema_source(&mut object, Part::Key)?,
            schema_source(&mut object, Part::Value)?,
        ),
        // Confluent ignores schema fields for JSON records; so do we.
        EmbeddedFormat::Json => (None, None),
    };
    let records = match object.remove("records") {
        Some(Json::Array(records)) if records.is_empty() => {
            return Err(shape("\"records\" is empty: nothing to produce"))
        }
        Some(Json::Array(records)) => records
            .into_iter()
            .enumerate()
            .map(|(index, record)| parse_record(index, record))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(shape("\"records\" must be an array")),
        None => return Err(shape("the body has no \"records\"")),
    };
    Ok(ProduceRequest {
        key_schema,
        value_schema,
        records,
    })
}

fn shape(message: impl Into<String>) -> ApiError {
    ApiError::unprocessable(UNPROCESSABLE, message)
}

fn schema_source(
    object: &mut Map<String, Json>,
    which: Part,
) -> Result<Option<SchemaSource>, ApiError> {
    let (text_field, id_field) = match which {
        Part::Key => ("key_schema", "key_schema_id"),
        Part::Value => ("value_schema", "value_schema_id"),
    };
    let text = match object.remove(text_field) {
        None | Some(Json::Null) => None,
        Some(Json::String(text)) => Some(text),
        Some(_) => {
            return Err(shape(format!(
                "\"{text_field}\" must be a string holding the schema's JSON"
            )))
        }
    };
    let id = match object.remove(id_field) {
        None | Some(Json::Null) => None,
        Some(Json::Number(n)) => Some(
            n.as_u64()
                .and_then(|id| u32::try_from(id).ok())
                .ok_or_else(|| {
                    shape(format!(
                        "\"{id_field}\" must be a schema id (0 to 4294967295), not {n}"
                    ))
                })?,
        ),
        Some(_) => return Err(shape(format!("\"{id_field}\" must be a number"))),
    };
    match (text, id) {
        (Some(_), Some(_)) => Err(shape(format!(
            "give \"{text_field}\" or \"{id_field}\", not both"
        ))),
        (Some(text), None) => Ok(Some(SchemaSource::Inline(text))),
        (None, Some(id)) => Ok(Some(SchemaSource::Id(id))),
        (None, None) => Ok(None),
    }
}

fn parse_record(index: usize, record: Json) -> Result<RecordRequest, ApiError> {
    let Json::Object(mut fields) = record else {
        return Err(shape(format!(
            "records[{index}] must be an object with \"value\" (and optionally \"key\", \"partition\")"
        )));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "key" | "value" | "partition"))
    {
        return Err(shape(format!(
            "records[{index}]: unknown field {} (a record has key, value, partition)",
            Json::from(unknown.as_str())
        )));
    }
    let non_null = |v: Option<Json>| v.filter(|v| !v.is_null());
    let partition = match fields.remove("partition") {
        None | Some(Json::Null) => None,
        Some(Json::Number(n)) => Some(n.as_u64().and_then(|p| u32::try_from(p).ok()).ok_or_else(
            || {
                shape(format!(
                    "records[{index}].partition must be a partition number, not {n}"
                ))
            },
        )?),
        Some(_) => {
            return Err(shape(format!(
                "records[{index}].partition must be a number"
            )))
        }
    };
    Ok(RecordRequest {
        key: non_null(fields.remove("key")),
        value: non_null(fields.remove("value")),
        partition,
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use serde_json::json;

    use super::*;

    fn headers(content_type: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
        }
        headers
    }

    fn parse(body: Json, format: EmbeddedFormat) -> Result<ProduceRequest, ApiError> {
        parse_body(body.to_string().as_bytes(), format)
    }

    fn code(result: Result<ProduceRequest, ApiError>) -> (u16, u32, String) {
        let error = result.expect_err("should be rejected");
        (error.status.as_u16(), error.error_code, error.message)
    }

    #[test]
    fn content_types_pick_the_format() {
        let avro = embedded_format(&headers(Some("application/vnd.kafka.avro.v2+json")));
        assert_eq!(avro, Ok(EmbeddedFormat::Avro));
        let json = embedded_format(&headers(Some(
            "Application/Vnd.Kafka.Json.V2+Json; charset=utf-8",
        )));
        assert_eq!(json, Ok(EmbeddedFormat::Json));
        for refused in [
            Some("application/json"),
            Some("application/vnd.kafka.binary.v2+json"),
            Some("application/vnd.kafka.avro.v1+json"),
            None,
        ] {
            let error = embedded_format(&headers(refused)).expect_err("415");
            assert_eq!(
                (error.status.as_u16(), error.error_code),
                (415, 415),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn the_weather_request_parses() {
        let body = json!({
            "key_schema": "{\"type\": \"record\"}",
            "value_schema": "{\"type\": \"enum\"}",
            "records": [{"key": {"timestamp": 1}, "value": {"temperature": 41, "status": "cloudy"}}]
        });
        let request = parse(body, EmbeddedFormat::Avro).expect("parses");
        assert_eq!(
            request.key_schema,
            Some(SchemaSource::Inline("{\"type\": \"record\"}".into()))
        );
        assert_eq!(
            request.value_schema,
            Some(SchemaSource::Inline("{\"type\": \"enum\"}".into()))
        );
        assert_eq!(
            request.records,
            vec![RecordRequest {
                key: Some(json!({"timestamp": 1})),
                value: Some(json!({"temperature": 41, "status": "cloudy"})),
                partition: None,
            }]
        );
    }

    #[test]
    fn ids_partitions_and_null_keys_parse() {
        let body = json!({
            "value_schema_id": 7,
            "key_schema_id": null,
            "records": [{"value": 1, "partition": 2}, {"key": null, "value": null}]
        });
        let request = parse(body, EmbeddedFormat::Avro).expect("parses");
        assert_eq!(request.key_schema, None);
        assert_eq!(request.value_schema, Some(SchemaSource::Id(7)));
        assert_eq!(request.records[0].partition, Some(2));
        assert_eq!(request.records[1].key, None);
        assert_eq!(request.records[1].value, None);
    }

    #[test]
    fn json_format_ignores_schemas() {
        let body = json!({"value_schema": 5, "records": [{"value": {"a": 1}}]});
        let request = parse(body, EmbeddedFormat::Json).expect("parses");
        assert_eq!(request.value_schema, None);
    }

    #[test]
    fn malformed_bodies_are_rejected_with_confluent_codes() {
        let error = parse_body(b"{\"records\": [", EmbeddedFormat::Avro).expect_err("400");
        assert_eq!((error.status.as_u16(), error.error_code), (400, 400));
        let error = parse_body(b"{nope}", EmbeddedFormat::Json).expect_err("400");
        assert_eq!((error.status.as_u16(), error.error_code), (400, 400));

        let cases = [
            (json!([1]), "the body must be a JSON object"),
            (json!({}), "the body has no \"records\""),
            (json!({"records": []}), "\"records\" is empty"),
            (json!({"records": {}}), "\"records\" must be an array"),
            (json!({"records": [5]}), "records[0] must be an object"),
            (
                json!({"records": [{"vaule": 1}]}),
                "records[0]: unknown field \"vaule\"",
            ),
            (
                json!({"records": [{"value": 1, "partition": -1}]}),
                "records[0].partition must be a partition number, not -1",
            ),
            (
                json!({"records": [{"value": 1, "partition": "0"}]}),
                "records[0].partition must be a number",
            ),
            (
                json!({"records": [{"value": 1}], "extra": 1}),
                "unknown field \"extra\"",
            ),
            (
                json!({"records": [{"value": 1}], "value_schema": {"type": "int"}}),
                "\"value_schema\" must be a string",
            ),
            (
                json!({"records": [{"value": 1}], "value_schema_id": 1.5}),
                "\"value_schema_id\" must be a schema id",
            ),
            (
                json!({"records": [{"value": 1}], "key_schema_id": 5_000_000_000u64}),
                "\"key_schema_id\" must be a schema id",
            ),
            (
                json!({"records": [{"value": 1}], "value_schema": "\"int\"", "value_schema_id": 1}),
                "not both",
            ),
        ];
        for (body, expected) in cases {
            let (status, error_code, message) = code(parse(body.clone(), EmbeddedFormat::Avro));
            assert_eq!((status, error_code), (422, 422), "{body}");
            assert!(message.contains(expected), "{body}: {message}");
        }
    }
}
