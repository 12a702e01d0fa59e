//! JSON to Avro by schema, as Confluent's REST Proxy reads records: Avro's JSON encoding.
//!
//! The rules are the Avro specification's JSON encoding, which is what the original weather
//! hardware (and every Confluent REST client) sends:
//! - a union is `null` or `{"<branch type name>": value}`; as a convenience a bare value is also
//!   taken when the union has exactly one non-null branch (`["null", T]`), since that is what a
//!   hand-written client sends most often and it cannot be ambiguous;
//! - `int` and `long` take integral numbers in range (`41.0` is integral, `41.5` is not);
//!   `float` and `double` take any number, and the strings `NaN`, `Infinity`, `-Infinity`;
//! - `bytes` and `fixed` are strings whose code points (0-255) are the bytes;
//! - an enum is its symbol; a record is an object whose missing fields take their defaults, and
//!   whose unknown fields are an error (a typo would otherwise be dropped without a word);
//! - logical types are written as their underlying type.
//!
//! The result is an apache-avro `Value`, checked against the schema again and written by
//! apache-avro's own encoder, so the bytes are exactly what any Avro library writes.

use std::collections::HashMap;
use std::fmt;

use apache_avro::schema::{
    DecimalSchema, EnumSchema, FixedSchema, InnerDecimalSchema, Name, NamesRef, RecordSchema,
    ResolvedSchema, UnionSchema, UuidSchema,
};
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{Decimal, Duration, Schema, Uuid};
use serde_json::Value as Json;

/// How much of an offending JSON value an error message quotes.
const QUOTE_LIMIT: usize = 60;

/// A record's JSON that does not fit its schema: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub(crate) struct ConversionError {
    /// Where in the request, e.g. `records[0].value.status`.
    pub(crate) path: String,
    /// What is wrong, e.g. `"foggy" is not a symbol of WeatherStatus`.
    pub(crate) reason: String,
}

/// A schema that could not be used at all (a reference to an undefined name...).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SchemaError(String);

/// Where a value sits in the request, built without allocating until an error needs it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    /// The start, such as `records[3].value`.
    Root(&'a str),
    /// A record field.
    Field(&'a Path<'a>, &'a str),
    /// An array item.
    Index(&'a Path<'a>, usize),
    /// A map entry.
    Key(&'a Path<'a>, &'a str),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(root) => f.write_str(root),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
            Path::Key(parent, key) => write!(f, "{parent}[{}]", Json::from(*key)),
        }
    }
}

/// Whether JSON comes from a request (Avro's JSON encoding) or from a field's default (where a
/// union's value is always its first branch's, unwrapped, as the specification says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Request,
    Default,
}

/// Turns JSON records into Avro binary by one schema. Build it once per schema and request;
/// it resolves named types once for all records.
pub(crate) struct AvroJson<'s> {
    schema: &'s Schema,
    names: NamesRef<'s>,
    writer: GenericDatumWriter<'s>,
}

impl fmt::Debug for AvroJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvroJson")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

type Converted = Result<Value, ConversionError>;

impl<'s> AvroJson<'s> {
    /// A converter for `schema`; fails if the schema names a type it does not define.
    pub(crate) fn new(schema: &'s Schema) -> Result<Self, SchemaError> {
        let names = ResolvedSchema::new(schema)
            .map_err(|error| SchemaError(error.to_string()))?
            .get_names()
            .clone();
        let writer = GenericDatumWriter::builder(schema)
            .build()
            .map_err(|error| SchemaError(error.to_string()))?;
        Ok(Self {
            schema,
            names,
            writer,
        })
    }

    /// The Avro binary body (no Confluent header) of `json`, or where and why it does not fit.
    pub(crate) fn encode(&self, json: &Json, path: &Path<'_>) -> Result<Vec<u8>, ConversionError> {
        let value = self.to_value(json, path)?;
        self.writer
            .write_value_to_vec(value)
            .map_err(|error| ConversionError {
                path: path.to_string(),
                reason: format!("the Avro encoder refused the value: {error}"),
            })
    }

    /// The apache-avro `Value` of `json`.
    pub(crate) fn to_value(&self, json: &Json, path: &Path<'_>) -> Converted {
        self.convert(self.schema, json, None, path, Mode::Request)
    }

    fn resolve<'n>(
        &self,
        name: &'n Name,
        namespace: Option<&'n str>,
        path: &Path<'_>,
    ) -> Result<&'s Schema, ConversionError> {
        let full = name.fully_qualified_name(namespace);
        self.names.get(full.as_ref()).copied().ok_or_else(|| {
            fail(
                path,
                format!("the schema refers to {full}, which it does not define"),
            )
        })
    }

    fn convert(
        &self,
        schema: &'s Schema,
        json: &Json,
        namespace: Option<&'s str>,
        path: &Path<'_>,
        mode: Mode,
    ) -> Converted {
        match schema {
            Schema::Ref { name } => {
                let target = self.resolve(name, namespace, path)?;
                self.convert(target, json, namespace, path, mode)
            }
            Schema::Null => match json {
                Json::Null => Ok(Value::Null),
                other => Err(expected(path, "null", other)),
            },
            Schema::Boolean => match json {
                Json::Bool(b) => Ok(Value::Boolean(*b)),
                other => Err(expected(path, "a boolean", other)),
            },
            Schema::Int => int(json, path).map(Value::Int),
            Schema::Long => long(json, path).map(Value::Long),
            Schema::Float => float(json, path).map(Value::Float),
            Schema::Double => double(json, path).map(Value::Double),
            Schema::String => match json {
                Json::String(s) => Ok(Value::String(s.clone())),
                other => Err(expected(path, "a string", other)),
            },
            Schema::Bytes => byte_string(json, path).map(Value::Bytes),
            Schema::Fixed(fixed) => {
                fixed_bytes(fixed, json, path).map(|b| Value::Fixed(b.len(), b))
            }
            Schema::Enum(schema) => symbol(schema, json, path),
            Schema::Array(array) => match json {
                Json::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| {
                        self.convert(
                            &array.items,
                            item,
                            namespace,
                            &Path::Index(path, index),
                            mode,
                        )
                    })
                    .collect::<Result<_, _>>()
                    .map(Value::Array),
                other => Err(expected(path, "an array", other)),
            },
            Schema::Map(map) => match json {
                Json::Object(entries) => entries
                    .iter()
                    .map(|(key, item)| {
                        self.convert(&map.types, item, namespace, &Path::Key(path, key), mode)
                            .map(|value| (key.clone(), value))
                    })
                    .collect::<Result<HashMap<_, _>, _>>()
                    .map(Value::Map),
                other => Err(expected(path, "an object (a map)", other)),
            },
            Schema::Union(union) => self.union(union, json, namespace, path, mode),
            Schema::Record(record) => self.record(record, json, namespace, path, mode),
            Schema::Decimal(DecimalSchema { inner, .. }) => {
                let bytes = match inner {
                    InnerDecimalSchema::Bytes => byte_string(json, path)?,
                    InnerDecimalSchema::Fixed(fixed) => fixed_bytes(fixed, json, path)?,
                };
                Ok(Value::Decimal(Decimal::from(bytes)))
            }
            Schema::BigDecimal => Err(fail(
                path,
                "the big-decimal logical type is not supported by this proxy; use decimal",
            )),
            Schema::Uuid(UuidSchema::String) => match json {
                Json::String(text) => Uuid::parse_str(text)
                    .map(Value::Uuid)
                    .map_err(|error| fail(path, format!("{} is not a UUID: {error}", quote(json)))),
                other => Err(expected(path, "a UUID string", other)),
            },
            Schema::Uuid(UuidSchema::Bytes | UuidSchema::Fixed(_)) => {
                let bytes = match schema {
                    Schema::Uuid(UuidSchema::Fixed(fixed)) => fixed_bytes(fixed, json, path)?,
                    _ => byte_string(json, path)?,
                };
                Uuid::from_slice(&bytes)
                    .map(Value::Uuid)
                    .map_err(|_| fail(path, format!("a UUID is 16 bytes, not {}", bytes.len())))
            }
            Schema::Date => int(json, path).map(Value::Date),
            Schema::TimeMillis => int(json, path).map(Value::TimeMillis),
            Schema::TimeMicros => long(json, path).map(Value::TimeMicros),
            Schema::TimestampMillis => long(json, path).map(Value::TimestampMillis),
            Schema::TimestampMicros => long(json, path).map(Value::TimestampMicros),
            Schema::TimestampNanos => long(json, path).map(Value::TimestampNanos),
            Schema::LocalTimestampMillis => long(json, path).map(Value::LocalTimestampMillis),
            Schema::LocalTimestampMicros => long(json, path).map(Value::LocalTimestampMicros),
            Schema::LocalTimestampNanos => long(json, path).map(Value::LocalTimestampNanos),
            Schema::Duration(fixed) => {
                let bytes = fixed_bytes(fixed, json, path)?;
                let array: [u8; 12] = bytes
                    .try_into()
                    .map_err(|_| fail(path, "a duration is fixed(12)"))?;
                Ok(Value::Duration(Duration::from(array)))
            }
        }
    }

    fn union(
        &self,
        union: &'s UnionSchema,
        json: &Json,
        namespace: Option<&'s str>,
        path: &Path<'_>,
        mode: Mode,
    ) -> Converted {
        let variants = union.variants();
        if mode == Mode::Default {
            let first = variants
                .first()
                .ok_or_else(|| fail(path, "an empty union has no values"))?;
            let value = self.convert(first, json, namespace, path, mode)?;
            return Ok(Value::Union(0, Box::new(value)));
        }
        if json.is_null() {
            return match variants.iter().position(|v| matches!(v, Schema::Null)) {
                Some(index) => Ok(Value::Union(index as u32, Box::new(Value::Null))),
                None => Err(fail(
                    path,
                    format!(
                        "null is not allowed here (the union is {})",
                        self.labels(variants, namespace)
                    ),
                )),
            };
        }
        if let Json::Object(object) = json {
            if let Some((label, inner)) = single_entry(object) {
                let branch = variants
                    .iter()
                    .position(|v| self.label_matches(v, label, namespace));
                if let Some(index) = branch {
                    let value = self.convert(&variants[index], inner, namespace, path, mode)?;
                    return Ok(Value::Union(index as u32, Box::new(value)));
                }
            }
        }
        let mut non_null = variants
            .iter()
            .enumerate()
            .filter(|(_, v)| !matches!(v, Schema::Null));
        match (non_null.next(), non_null.next()) {
            (Some((index, only)), None) => {
                let value = self.convert(only, json, namespace, path, mode)?;
                Ok(Value::Union(index as u32, Box::new(value)))
            }
            _ => Err(fail(
                path,
                format!(
                    "a union value is null or {{\"<type>\": value}} with <type> one of {}, found {}",
                    self.labels(variants, namespace),
                    quote(json)
                ),
            )),
        }
    }

    fn record(
        &self,
        record: &'s RecordSchema,
        json: &Json,
        namespace: Option<&'s str>,
        path: &Path<'_>,
        mode: Mode,
    ) -> Converted {
        let Json::Object(object) = json else {
            return Err(expected(
                path,
                &format!("an object (a {} record)", record.name.name()),
                json,
            ));
        };
        let namespace = record.name.namespace().or(namespace);
        if mode == Mode::Request {
            if let Some(unknown) = object
                .keys()
                .find(|k| !record.lookup.contains_key(k.as_str()))
            {
                let known: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
                return Err(fail(
                    path,
                    format!(
                        "unknown field {} ({} has {})",
                        Json::from(unknown.as_str()),
                        record.name.name(),
                        known.join(", ")
                    ),
                ));
            }
        }
        let mut fields = Vec::with_capacity(record.fields.len());
        for field in &record.fields {
            let field_path = Path::Field(path, &field.name);
            let value = match (object.get(&field.name), &field.default) {
                (Some(value), _) => {
                    self.convert(&field.schema, value, namespace, &field_path, mode)?
                }
                (None, Some(default)) => self.convert(
                    &field.schema,
                    default,
                    namespace,
                    &field_path,
                    Mode::Default,
                )?,
                (None, None) => {
                    return Err(fail(
                        &field_path,
                        "missing, and the schema gives it no default",
                    ));
                }
            };
            fields.push((field.name.clone(), value));
        }
        Ok(Value::Record(fields))
    }

    /// Whether `label` names the branch `schema` in a union's JSON encoding: the type name for
    /// primitives (a logical type goes by its underlying type), the full name for named types
    /// (the short name is taken too, as a convenience).
    fn label_matches(&self, schema: &'s Schema, label: &str, namespace: Option<&'s str>) -> bool {
        let named = |name: &Name| {
            label == name.name() || label == name.fully_qualified_name(namespace).to_string()
        };
        if let Schema::Ref { name } = schema {
            return match self
                .names
                .get(name.fully_qualified_name(namespace).as_ref())
            {
                Some(target) => self.label_matches(target, label, namespace),
                None => named(name),
            };
        }
        match type_name(schema) {
            Some(name) => named(name),
            None => primitive_label(schema) == Some(label),
        }
    }

    fn labels(&self, variants: &'s [Schema], namespace: Option<&'s str>) -> String {
        let labels: Vec<String> = variants
            .iter()
            .map(|v| match type_name(v) {
                Some(name) => name.fully_qualified_name(namespace).to_string(),
                None => primitive_label(v).unwrap_or("?").to_string(),
            })
            .collect();
        format!("[{}]", labels.join(", "))
    }
}

/// The name of a named type (or of a reference to one); `None` for the unnamed types.
fn type_name(schema: &Schema) -> Option<&Name> {
    match schema {
        Schema::Ref { name }
        | Schema::Record(RecordSchema { name, .. })
        | Schema::Enum(EnumSchema { name, .. })
        | Schema::Fixed(FixedSchema { name, .. })
        | Schema::Duration(FixedSchema { name, .. })
        | Schema::Uuid(UuidSchema::Fixed(FixedSchema { name, .. }))
        | Schema::Decimal(DecimalSchema {
            inner: InnerDecimalSchema::Fixed(FixedSchema { name, .. }),
            ..
        }) => Some(name),
        _ => None,
    }
}

/// The JSON-encoding label of an unnamed type.
fn primitive_label(schema: &Schema) -> Option<&'static str> {
    Some(match schema {
        Schema::Null => "null",
        Schema::Boolean => "boolean",
        Schema::Int | Schema::Date | Schema::TimeMillis => "int",
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => "long",
        Schema::Float => "float",
        Schema::Double => "double",
        Schema::Bytes
        | Schema::BigDecimal
        | Schema::Uuid(UuidSchema::Bytes)
        | Schema::Decimal(DecimalSchema {
            inner: InnerDecimalSchema::Bytes,
            ..
        }) => "bytes",
        Schema::String | Schema::Uuid(UuidSchema::String) => "string",
        Schema::Array(_) => "array",
        Schema::Map(_) => "map",
        _ => return None,
    })
}

fn single_entry(object: &serde_json::Map<String, Json>) -> Option<(&str, &Json)> {
    let mut entries = object.iter();
    match (entries.next(), entries.next()) {
        (Some((label, value)), None) => Some((label.as_str(), value)),
        _ => None,
    }
}

fn fail(path: &Path<'_>, reason: impl Into<String>) -> ConversionError {
    ConversionError {
        path: path.to_string(),
        reason: reason.into(),
    }
}

fn expected(path: &Path<'_>, what: &str, found: &Json) -> ConversionError {
    fail(path, format!("expected {what}, found {}", quote(found)))
}

/// The JSON text of `value`, cut short: error messages name the value without echoing a
/// megabyte back.
fn quote(value: &Json) -> String {
    let text = value.to_string();
    match text.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

fn integral(
    json: &Json,
    path: &Path<'_>,
    type_name: &str,
    min: i64,
    max: i64,
) -> Result<i64, ConversionError> {
    let Json::Number(number) = json else {
        return Err(expected(path, &format!("an integer ({type_name})"), json));
    };
    let out_of_range = || {
        fail(
            path,
            format!("{number} is out of range for {type_name} ({min} to {max})"),
        )
    };
    if let Some(i) = number.as_i64() {
        return if (min..=max).contains(&i) {
            Ok(i)
        } else {
            Err(out_of_range())
        };
    }
    if number.is_u64() {
        return Err(out_of_range());
    }
    let f = number.as_f64().unwrap_or(f64::NAN);
    if f.fract() != 0.0 || !f.is_finite() {
        return Err(fail(
            path,
            format!("{number} is not an integer ({type_name})"),
        ));
    }
    // `max as f64 + 1.0` is exact for an int and rounds to 2^63 for a long: both are the first
    // value out of range.
    if f < min as f64 || f >= max as f64 + 1.0 {
        return Err(out_of_range());
    }
    Ok(f as i64)
}

fn int(json: &Json, path: &Path<'_>) -> Result<i32, ConversionError> {
    // The range check above makes the narrowing exact.
    integral(json, path, "an int", i32::MIN.into(), i32::MAX.into()).map(|i| i as i32)
}

fn long(json: &Json, path: &Path<'_>) -> Result<i64, ConversionError> {
    integral(json, path, "a long", i64::MIN, i64::MAX)
}

fn double(json: &Json, path: &Path<'_>) -> Result<f64, ConversionError> {
    match json {
        Json::Number(number) => number
            .as_f64()
            .ok_or_else(|| fail(path, format!("{number} is not a number"))),
        Json::String(text) => match text.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => Err(expected(path, "a number", json)),
        },
        other => Err(expected(path, "a number", other)),
    }
}

fn float(json: &Json, path: &Path<'_>) -> Result<f32, ConversionError> {
    let value = double(json, path)?;
    let narrowed = value as f32;
    if value.is_finite() && !narrowed.is_finite() {
        return Err(fail(path, format!("{value} is out of range for a float")));
    }
    Ok(narrowed)
}

/// The bytes of a JSON string whose code points are each one byte (Avro's JSON encoding).
fn byte_string(json: &Json, path: &Path<'_>) -> Result<Vec<u8>, ConversionError> {
    let Json::String(text) = json else {
        return Err(expected(
            path,
            "a string of bytes (code points 0-255)",
            json,
        ));
    };
    text.chars()
        .enumerate()
        .map(|(index, c)| {
            u8::try_from(u32::from(c)).map_err(|_| {
                fail(
                    path,
                    format!("character {index} (U+{:04X}) is not a byte: bytes are written as code points 0-255", u32::from(c)),
                )
            })
        })
        .collect()
}

fn fixed_bytes(
    fixed: &FixedSchema,
    json: &Json,
    path: &Path<'_>,
) -> Result<Vec<u8>, ConversionError> {
    let bytes = byte_string(json, path)?;
    if bytes.len() != fixed.size {
        return Err(fail(
            path,
            format!(
                "{} is fixed({}) but got {} bytes",
                fixed.name.name(),
                fixed.size,
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

fn symbol(schema: &EnumSchema, json: &Json, path: &Path<'_>) -> Converted {
    let Json::String(text) = json else {
        return Err(expected(
            path,
            &format!("a symbol of {}", schema.name.name()),
            json,
        ));
    };
    match schema.symbols.iter().position(|s| s == text) {
        Some(index) => Ok(Value::Enum(index as u32, text.clone())),
        None => Err(fail(
            path,
            format!(
                "{} is not a symbol of {} (symbols: {})",
                quote(json),
                schema.name.name(),
                schema.symbols.join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use apache_avro::reader::datum::GenericDatumReader;
    use serde_json::json;

    use super::*;

    const WEATHER: &str = include_str!("../../../transit-core/schemas/weather.avsc");
    const ARRIVAL: &str = include_str!("../../../transit-core/schemas/arrival.avsc");

    fn schema(text: &str) -> Schema {
        Schema::parse_str(text).expect("test schema parses")
    }

    fn value(schema_text: &str, json: Json) -> Converted {
        let schema = schema(schema_text);
        let converter = AvroJson::new(&schema).expect("converter");
        converter.to_value(&json, &Path::Root("v"))
    }

    fn reason(schema_text: &str, json: Json) -> String {
        value(schema_text, json)
            .expect_err("conversion should fail")
            .to_string()
    }

    /// Encodes and decodes back with apache-avro, which proves the bytes are valid Avro.
    fn round_trip(schema_text: &str, json: Json) -> Value {
        let schema = schema(schema_text);
        let converter = AvroJson::new(&schema).expect("converter");
        let bytes = converter.encode(&json, &Path::Root("v")).expect("encodes");
        GenericDatumReader::builder(&schema)
            .build()
            .expect("reader")
            .read_value(&mut bytes.as_slice())
            .expect("decodes")
    }

    #[test]
    fn primitives_convert() {
        assert_eq!(value(r#""null""#, json!(null)), Ok(Value::Null));
        assert_eq!(value(r#""boolean""#, json!(true)), Ok(Value::Boolean(true)));
        assert_eq!(value(r#""int""#, json!(-7)), Ok(Value::Int(-7)));
        assert_eq!(value(r#""int""#, json!(41.0)), Ok(Value::Int(41)));
        assert_eq!(
            value(r#""long""#, json!(1_700_000_000_000i64)),
            Ok(Value::Long(1_700_000_000_000))
        );
        assert_eq!(
            value(r#""long""#, json!(i64::MIN)),
            Ok(Value::Long(i64::MIN))
        );
        assert_eq!(value(r#""float""#, json!(41)), Ok(Value::Float(41.0)));
        assert_eq!(value(r#""double""#, json!(1.5)), Ok(Value::Double(1.5)));
        assert_eq!(
            value(r#""string""#, json!("BL007")),
            Ok(Value::String("BL007".into()))
        );
        assert_eq!(
            value(r#""bytes""#, json!("\u{0}\u{ff}A")),
            Ok(Value::Bytes(vec![0, 255, 65]))
        );
        assert!(matches!(value(r#""double""#, json!("NaN")), Ok(Value::Double(d)) if d.is_nan()));
        assert_eq!(
            value(r#""float""#, json!("-Infinity")),
            Ok(Value::Float(f32::NEG_INFINITY))
        );
    }

    #[test]
    fn integers_must_be_integral_and_in_range() {
        assert_eq!(
            reason(r#""int""#, json!(2_147_483_648i64)),
            "v: 2147483648 is out of range for an int (-2147483648 to 2147483647)"
        );
        assert!(reason(r#""int""#, json!(-2_147_483_649i64)).contains("out of range"));
        assert!(reason(r#""long""#, json!(u64::MAX)).contains("out of range for a long"));
        assert!(reason(r#""long""#, json!(1e19)).contains("out of range for a long"));
        assert_eq!(
            reason(r#""int""#, json!(1.5)),
            "v: 1.5 is not an integer (an int)"
        );
        assert_eq!(
            reason(r#""long""#, json!("12")),
            "v: expected an integer (a long), found \"12\""
        );
        assert_eq!(value(r#""int""#, json!(i32::MAX)), Ok(Value::Int(i32::MAX)));
        assert!(reason(r#""float""#, json!(1e300)).contains("out of range for a float"));
        assert!(reason(r#""boolean""#, json!(1)).contains("expected a boolean, found 1"));
    }

    #[test]
    fn bytes_and_fixed_take_code_points_up_to_255() {
        assert!(
            reason(r#""bytes""#, json!("a\u{100}")).contains("character 1 (U+0100) is not a byte")
        );
        let fixed = r#"{"type":"fixed","name":"Four","size":4}"#;
        assert_eq!(
            value(fixed, json!("abcd")),
            Ok(Value::Fixed(4, b"abcd".to_vec()))
        );
        assert_eq!(
            reason(fixed, json!("abc")),
            "v: Four is fixed(4) but got 3 bytes"
        );
        assert_eq!(
            round_trip(fixed, json!("\u{1}\u{2}\u{3}\u{fe}")),
            Value::Fixed(4, vec![1, 2, 3, 254])
        );
    }

    #[test]
    fn enums_take_their_symbols() {
        let event = json!({"temperature": 41, "status": "foggy"});
        assert_eq!(
            reason(WEATHER, event),
            "v.status: \"foggy\" is not a symbol of WeatherStatus \
             (symbols: sunny, partly_cloudy, cloudy, windy, precipitation)"
        );
        assert_eq!(
            value(WEATHER, json!({"temperature": 41, "status": "cloudy"})),
            Ok(Value::Record(vec![
                ("temperature".into(), Value::Float(41.0)),
                ("status".into(), Value::Enum(2, "cloudy".into())),
            ]))
        );
        assert!(reason(WEATHER, json!({"temperature": 41, "status": 2}))
            .contains("expected a symbol of WeatherStatus"));
    }

    #[test]
    fn unions_take_the_json_encoding_and_a_bare_value_when_unambiguous() {
        let base = json!({"station_id": 40890, "train_id": "BL007", "direction": "a", "line": "blue", "train_status": "in_service"});
        let with = |field: &str, v: Json| {
            let mut record = base.clone();
            record[field] = v;
            record
        };
        let decoded = round_trip(ARRIVAL, with("prev_station_id", json!({"int": 40820})));
        let Value::Record(fields) = decoded else {
            panic!("a record")
        };
        assert_eq!(fields[5].1, Value::Union(1, Box::new(Value::Int(40820))));
        assert_eq!(
            fields[6].1,
            Value::Union(0, Box::new(Value::Null)),
            "default null"
        );

        // route_id, the last field: a bare string is its string branch, and left out it is
        // its default, null (a producer written before the field still posts valid records).
        let routed = value(ARRIVAL, with("route_id", json!("Blue"))).expect("a route id");
        let Value::Record(fields) = routed else {
            panic!("a record")
        };
        assert_eq!(
            fields.last(),
            Some(&(
                "route_id".to_string(),
                Value::Union(1, Box::new(Value::String("Blue".into())))
            ))
        );
        let Value::Record(fields) = round_trip(ARRIVAL, base.clone()) else {
            panic!("a record")
        };
        assert_eq!(
            fields.last(),
            Some(&(
                "route_id".to_string(),
                Value::Union(0, Box::new(Value::Null))
            )),
            "default null"
        );

        let bare = value(ARRIVAL, with("prev_station_id", json!(40820))).expect("bare value");
        let Value::Record(fields) = bare else {
            panic!("a record")
        };
        assert_eq!(fields[5].1, Value::Union(1, Box::new(Value::Int(40820))));

        // A named branch goes by its full name (and, as a convenience, its short one); the
        // reference to Direction is resolved.
        for label in ["org.chicago.cta.Direction", "Direction"] {
            let converted =
                value(ARRIVAL, with("prev_direction", json!({label: "b"}))).expect(label);
            let Value::Record(fields) = converted else {
                panic!("a record")
            };
            assert_eq!(
                fields[6].1,
                Value::Union(1, Box::new(Value::Enum(1, "b".into())))
            );
        }
        assert_eq!(
            reason(
                ARRIVAL,
                with("prev_direction", json!({"org.chicago.cta.Direction": "c"}))
            ),
            "v.prev_direction: \"c\" is not a symbol of Direction (symbols: a, b)"
        );

        let two = r#"["null", "int", "string"]"#;
        assert_eq!(
            value(two, json!({"string": "x"})),
            Ok(Value::Union(2, Box::new(Value::String("x".into()))))
        );
        assert_eq!(
            value(two, json!(null)),
            Ok(Value::Union(0, Box::new(Value::Null)))
        );
        assert_eq!(
            reason(two, json!(5)),
            "v: a union value is null or {\"<type>\": value} with <type> one of [null, int, string], found 5"
        );
        assert_eq!(
            reason(r#"["int", "string"]"#, json!(null)),
            "v: null is not allowed here (the union is [int, string])"
        );
        assert_eq!(
            value(r#"["null", "long"]"#, json!({"long": 3})),
            Ok(Value::Union(1, Box::new(Value::Long(3))))
        );
    }

    #[test]
    fn records_fill_defaults_and_refuse_unknown_or_missing_fields() {
        let schema = r#"{"type": "record", "name": "R", "fields": [
            {"name": "a", "type": "int"},
            {"name": "b", "type": "string", "default": "x"},
            {"name": "c", "type": ["null", "int"], "default": null},
            {"name": "d", "type": ["int", "null"], "default": 4},
            {"name": "e", "type": {"type": "array", "items": "int"}, "default": [1, 2]},
            {"name": "f", "type": "bytes", "default": "\u00ff"}
        ]}"#;
        assert_eq!(
            round_trip(schema, json!({"a": 1})),
            Value::Record(vec![
                ("a".into(), Value::Int(1)),
                ("b".into(), Value::String("x".into())),
                ("c".into(), Value::Union(0, Box::new(Value::Null))),
                ("d".into(), Value::Union(0, Box::new(Value::Int(4)))),
                ("e".into(), Value::Array(vec![Value::Int(1), Value::Int(2)])),
                ("f".into(), Value::Bytes(vec![255])),
            ])
        );
        assert_eq!(
            reason(schema, json!({"b": "y"})),
            "v.a: missing, and the schema gives it no default"
        );
        assert_eq!(
            reason(schema, json!({"a": 1, "z": 2})),
            "v: unknown field \"z\" (R has a, b, c, d, e, f)"
        );
        assert_eq!(
            reason(schema, json!([1])),
            "v: expected an object (a R record), found [1]"
        );
    }

    #[test]
    fn arrays_and_maps_name_the_failing_element() {
        let array = r#"{"type": "array", "items": "int"}"#;
        assert_eq!(
            round_trip(array, json!([1, 2])),
            Value::Array(vec![Value::Int(1), Value::Int(2)])
        );
        assert_eq!(
            reason(array, json!([1, "x"])),
            "v[1]: expected an integer (an int), found \"x\""
        );
        assert!(reason(array, json!({})).contains("expected an array"));

        let map = r#"{"type": "map", "values": "long"}"#;
        let decoded = round_trip(map, json!({"k": 5}));
        assert_eq!(
            decoded,
            Value::Map(HashMap::from([("k".to_string(), Value::Long(5))]))
        );
        assert_eq!(
            reason(map, json!({"a b": 1.5})),
            "v[\"a b\"]: 1.5 is not an integer (a long)"
        );
    }

    #[test]
    fn nested_and_recursive_named_types_resolve() {
        let schema = r#"{"type": "record", "name": "Node", "namespace": "t", "fields": [
            {"name": "value", "type": "int"},
            {"name": "next", "type": ["null", "Node"], "default": null}
        ]}"#;
        let decoded = round_trip(
            schema,
            json!({"value": 1, "next": {"t.Node": {"value": 2}}}),
        );
        let Value::Record(fields) = decoded else {
            panic!("a record")
        };
        let Value::Union(1, inner) = &fields[1].1 else {
            panic!("the Node branch")
        };
        assert!(matches!(&**inner, Value::Record(f) if f[0].1 == Value::Int(2)));
        assert_eq!(
            reason(schema, json!({"value": 1, "next": {"value": "x"}})),
            "v.next.value: expected an integer (an int), found \"x\""
        );
    }

    #[test]
    fn logical_types_take_their_underlying_type() {
        assert_eq!(
            value(r#"{"type": "int", "logicalType": "date"}"#, json!(19000)),
            Ok(Value::Date(19000))
        );
        assert_eq!(
            value(
                r#"{"type": "long", "logicalType": "timestamp-millis"}"#,
                json!(1_700_000_000_000i64)
            ),
            Ok(Value::TimestampMillis(1_700_000_000_000))
        );
        let uuid = r#"{"type": "string", "logicalType": "uuid"}"#;
        assert!(matches!(
            value(uuid, json!("550e8400-e29b-41d4-a716-446655440000")),
            Ok(Value::Uuid(_))
        ));
        assert!(reason(uuid, json!("nope")).contains("is not a UUID"));
        let decimal = r#"{"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}"#;
        assert_eq!(
            round_trip(decimal, json!("\u{4}\u{d2}")),
            Value::Decimal(Decimal::from(vec![4u8, 210]))
        );
        assert_eq!(
            value(
                r#"["null", {"type": "long", "logicalType": "timestamp-millis"}]"#,
                json!({"long": 5})
            ),
            Ok(Value::Union(1, Box::new(Value::TimestampMillis(5))))
        );
    }

    #[test]
    fn long_values_are_cut_short_in_messages() {
        let long_text = "x".repeat(500);
        let message = reason(r#""int""#, json!(long_text));
        assert!(message.len() < 150, "{message}");
        assert!(message.ends_with("..."));
    }
}
