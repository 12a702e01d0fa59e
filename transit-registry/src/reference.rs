//! Schema references, as Confluent's registry has them: a schema may name types that other
//! registered schemas define, listing those schemas as `references: [{name, subject, version}]`.
//!
//! A schema with references does not parse alone. The registry parses it with the texts of
//! the schemas it references (theirs first, transitively, as Confluent's `AvroSchema` does),
//! and keeps a self-contained copy (every named type written out where it is first used) for
//! compatibility checks and for decoders, which take one schema text.

use apache_avro::schema::{ArraySchema, MapSchema, RecordSchema};
use apache_avro::Schema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One reference of a schema: the type `name` is defined by version `version` of `subject`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SchemaReference {
    /// The name the referencing schema uses (for Avro, the referenced type's full name).
    pub name: String,
    /// The subject of the referenced schema.
    pub subject: String,
    /// Its version (a number: a request's `-1`, the latest, is pinned when registering).
    pub version: u32,
}

/// A schema parsed with its references.
#[derive(Debug)]
pub(crate) struct Parsed {
    /// Every named type written out: what compatibility checks and decoders use.
    pub(crate) standalone: Schema,
    /// The schema as written, its references' types named only: what identifies it.
    pub(crate) own: Schema,
}

/// Parses `schema`, whose named types may be defined by `referenced` (schema texts, the
/// dependencies of each before it).
pub(crate) fn parse(schema: &str, referenced: &[String]) -> Result<Parsed, String> {
    if referenced.is_empty() {
        let own = Schema::parse_str(schema).map_err(|error| error.to_string())?;
        return Ok(Parsed {
            standalone: own.clone(),
            own,
        });
    }
    let (own, schemata) =
        Schema::parse_str_with_list(schema, referenced).map_err(|error| error.to_string())?;
    // A reference may define named types inside its own (a record's field's record): the
    // referencing schema may use those too.
    let mut named = Vec::new();
    for defined in &schemata {
        collect_named(defined, &mut named);
    }
    let mut standalone = own.clone();
    standalone
        .denormalize(&named)
        .map_err(|error| error.to_string())?;
    Ok(Parsed { standalone, own })
}

fn collect_named(schema: &Schema, named: &mut Vec<Schema>) {
    match schema {
        Schema::Ref { .. } => {}
        Schema::Record(RecordSchema { fields, .. }) => {
            named.push(schema.clone());
            for field in fields {
                collect_named(&field.schema, named);
            }
        }
        Schema::Array(ArraySchema { items, .. }) => collect_named(items, named),
        Schema::Map(MapSchema { types, .. }) => collect_named(types, named),
        Schema::Union(union) => {
            for variant in union.variants() {
                collect_named(variant, named);
            }
        }
        other if other.name().is_some() => named.push(other.clone()),
        _ => {}
    }
}

/// The self-contained text of a schema with references: `schema` with every named type
/// defined by `referenced` (schema texts, each one's dependencies before it) written out where
/// it is first used. What a decoder needs, since it parses one schema text.
///
/// # Example
///
/// ```
/// let address = r#"{"type":"record","name":"Address","namespace":"org.example",
///     "fields":[{"name":"street","type":"string"}]}"#;
/// let person = r#"{"type":"record","name":"Person","namespace":"org.example",
///     "fields":[{"name":"home","type":"Address"}]}"#;
/// let text = transit_registry::standalone_schema(person, &[address.to_string()]).unwrap();
/// assert!(apache_avro::Schema::parse_str(&text).is_ok());
/// assert!(text.contains("street"));
/// ```
pub fn standalone_schema(schema: &str, referenced: &[String]) -> Result<String, String> {
    if referenced.is_empty() {
        return Ok(schema.to_string());
    }
    Ok(standalone_text(&parse(schema, referenced)?.standalone))
}

/// The JSON of a self-contained schema. apache-avro writes names relative to nothing (a type
/// in no namespace has no `namespace` key, a use of it is its bare name); inside a namespace,
/// parsing that again would put the type in the enclosing namespace. Such definitions get
/// `"namespace": ""` and such uses a leading dot, which both mean "no namespace".
pub(crate) fn standalone_text(schema: &Schema) -> String {
    let Ok(mut json) = serde_json::to_value(schema) else {
        // Serialising a parsed schema does not fail (string keys, JSON values); should it,
        // its canonical form is still a self-contained schema a decoder can read.
        return schema.canonical_form();
    };
    qualify(&mut json, "");
    json.to_string()
}

const PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

fn qualify(json: &mut Value, enclosing: &str) {
    match json {
        Value::String(name)
            if !enclosing.is_empty()
                && !name.contains('.')
                && !PRIMITIVES.contains(&name.as_str()) =>
        {
            name.insert(0, '.');
        }
        Value::Array(variants) => {
            for variant in variants {
                qualify(variant, enclosing);
            }
        }
        Value::Object(object) => {
            let kind = object
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_string);
            match kind.as_deref() {
                Some("record" | "error" | "enum" | "fixed") => {
                    let namespace = match object.get("namespace").and_then(Value::as_str) {
                        Some(namespace) => namespace.to_string(),
                        None => {
                            if !enclosing.is_empty() {
                                object.insert("namespace".into(), Value::String(String::new()));
                            }
                            String::new()
                        }
                    };
                    if let Some(Value::Array(fields)) = object.get_mut("fields") {
                        for field in fields {
                            if let Some(field_type) = field.get_mut("type") {
                                qualify(field_type, &namespace);
                            }
                        }
                    }
                }
                Some("array") => {
                    if let Some(items) = object.get_mut("items") {
                        qualify(items, enclosing);
                    }
                }
                Some("map") => {
                    if let Some(values) = object.get_mut("values") {
                        qualify(values, enclosing);
                    }
                }
                _ => {
                    if let Some(inner) = object.get_mut("type") {
                        qualify(inner, enclosing);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDRESS: &str = r#"{"type":"record","name":"Address","namespace":"org.example","fields":[{"name":"street","type":"string"},{"name":"geo","type":{"type":"record","name":"Geo","fields":[{"name":"lat","type":"double"}]}}]}"#;
    const PERSON: &str = r#"{"type":"record","name":"Person","namespace":"org.example","fields":[{"name":"home","type":"Address"},{"name":"work","type":["null","Address"],"default":null},{"name":"where","type":"Geo"}]}"#;
    const BARE: &str = r#"{"type":"enum","name":"Colour","symbols":["RED","GREEN"]}"#;
    const USES_BARE: &str = r#"{"type":"record","name":"Car","namespace":"org.example","fields":[{"name":"paint","type":".Colour"},{"name":"trim","type":".Colour"}]}"#;

    #[test]
    fn a_schema_parses_with_its_references_and_writes_out_alone() {
        assert!(Schema::parse_str(PERSON).is_err());
        let parsed = parse(PERSON, &[ADDRESS.to_string()]).unwrap();
        let text = standalone_text(&parsed.standalone);
        let again = Schema::parse_str(&text).unwrap();
        assert_eq!(again.canonical_form(), parsed.standalone.canonical_form());
        assert!(text.contains("street") && text.contains("lat"), "{text}");
        // The schema's own form still names the referenced types only.
        let own = serde_json::to_string(&parsed.own).unwrap();
        assert!(!own.contains("street"), "{own}");
    }

    #[test]
    fn types_in_no_namespace_stay_there_inside_a_namespace() {
        let text = standalone_schema(USES_BARE, &[BARE.to_string()]).unwrap();
        let again = Schema::parse_str(&text).unwrap();
        let Schema::Record(record) = &again else {
            panic!("a record: {text}");
        };
        for field in &record.fields {
            let name = field.schema.name().unwrap();
            assert_eq!(name.fullname(None), "Colour", "{text}");
        }
    }

    #[test]
    fn a_missing_type_is_an_error() {
        assert!(parse(PERSON, &[BARE.to_string()]).is_err());
        assert!(standalone_schema(PERSON, &["{nope".to_string()]).is_err());
    }
}
