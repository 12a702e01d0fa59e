//! Confluent's compatibility levels and the check behind them, on apache-avro's schema
//! resolution rules.

use std::fmt;
use std::str::FromStr;

use apache_avro::schema_compatibility::{self, SchemaCompatibility};
use apache_avro::Schema;

/// Which new schemas a subject accepts: Confluent's levels, with Confluent's names.
///
/// "Backward" means the new schema can read data written with the old one (consumers upgrade
/// first); "forward" means data written with the new schema can be read with the old one
/// (producers upgrade first); "full" is both. A transitive level checks every earlier version,
/// the others only the latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compatibility {
    /// The new schema reads data written with the latest version (Confluent's default).
    #[default]
    Backward,
    /// The new schema reads data written with every earlier version.
    BackwardTransitive,
    /// The latest version reads data written with the new schema.
    Forward,
    /// Every earlier version reads data written with the new schema.
    ForwardTransitive,
    /// Backward and forward against the latest version.
    Full,
    /// Backward and forward against every earlier version.
    FullTransitive,
    /// Anything goes.
    None,
}

impl Compatibility {
    /// Every level, in Confluent's order of documentation.
    pub const ALL: [Compatibility; 7] = [
        Self::Backward,
        Self::BackwardTransitive,
        Self::Forward,
        Self::ForwardTransitive,
        Self::Full,
        Self::FullTransitive,
        Self::None,
    ];

    /// Confluent's name of the level, e.g. `BACKWARD_TRANSITIVE`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
            Self::None => "NONE",
        }
    }

    /// Whether a new schema is checked against every earlier version, not only the latest.
    pub fn is_transitive(self) -> bool {
        matches!(
            self,
            Self::BackwardTransitive | Self::ForwardTransitive | Self::FullTransitive
        )
    }

    fn backward(self) -> bool {
        matches!(
            self,
            Self::Backward | Self::BackwardTransitive | Self::Full | Self::FullTransitive
        )
    }

    fn forward(self) -> bool {
        matches!(
            self,
            Self::Forward | Self::ForwardTransitive | Self::Full | Self::FullTransitive
        )
    }

    /// Checks `new` against `old` (version `version` of the subject) under this level's
    /// directions, ignoring transitivity (the caller picks which versions to check).
    ///
    /// The error says which rule broke, against which version, and apache-avro's reason, which
    /// names the field concerned.
    pub fn check(self, new: &Schema, old: &Schema, version: u32) -> Result<(), String> {
        if self.backward() {
            can_read(old, new).map_err(|reason| {
                format!(
                    "{}: the new schema cannot read data written with version {version}: {reason}",
                    self.name()
                )
            })?;
        }
        if self.forward() {
            can_read(new, old).map_err(|reason| {
                format!(
                    "{}: version {version} cannot read data written with the new schema: {reason}",
                    self.name()
                )
            })?;
        }
        Ok(())
    }
}

/// Whether `reader` reads everything `writer` can write, with the whole reason when not.
fn can_read(writer: &Schema, reader: &Schema) -> Result<(), String> {
    match SchemaCompatibility::can_read(writer, reader) {
        Ok(schema_compatibility::Compatibility::Full) => Ok(()),
        // Avro's Java check, which Confluent runs, refuses these too: some values written
        // (an enum symbol, a union branch) would fail to resolve.
        Ok(schema_compatibility::Compatibility::Partial) => Err(
            "only some values can be read: the reader lacks an enum symbol or a union branch \
             the writer has"
                .to_string(),
        ),
        Err(error) => Err(transit_core::error_chain(&error)),
    }
}

impl fmt::Display for Compatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A compatibility level name that is not one of Confluent's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid compatibility level {0:?}: expected one of BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE")]
pub struct InvalidCompatibility(pub String);

impl FromStr for Compatibility {
    type Err = InvalidCompatibility;

    /// Parses Confluent's names, in any case (Confluent's own server accepts `backward`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|level| level.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| InvalidCompatibility(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Schema {
        Schema::parse_str(text).unwrap()
    }

    const V1: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
    const ADD_NO_DEFAULT: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}"#;
    const A_AS_STRING: &str =
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}"#;

    #[test]
    fn names_round_trip_in_any_case() {
        for level in Compatibility::ALL {
            assert_eq!(level.name().parse::<Compatibility>(), Ok(level));
            assert_eq!(
                level.name().to_lowercase().parse::<Compatibility>(),
                Ok(level)
            );
        }
        assert!("SIDEWAYS".parse::<Compatibility>().is_err());
    }

    #[test]
    fn backward_and_forward_look_in_opposite_directions() {
        let (v1, v2) = (parse(V1), parse(ADD_NO_DEFAULT));
        // A field added without a default cannot be filled from old data...
        let error = Compatibility::Backward.check(&v2, &v1, 1).unwrap_err();
        assert!(
            error.contains("BACKWARD") && error.contains("'b'"),
            "{error}"
        );
        assert!(error.contains("version 1"), "{error}");
        // ...but old readers just skip it.
        assert!(Compatibility::Forward.check(&v2, &v1, 1).is_ok());
        assert!(Compatibility::Full.check(&v2, &v1, 1).is_err());
        assert!(Compatibility::None.check(&v2, &v1, 1).is_ok());
    }

    #[test]
    fn a_changed_type_names_the_field_and_both_types() {
        let error = Compatibility::Backward
            .check(&parse(A_AS_STRING), &parse(V1), 3)
            .unwrap_err();
        assert!(
            error.contains("'a'") && error.contains("version 3"),
            "{error}"
        );
        let lower = error.to_lowercase();
        assert!(
            lower.contains("'int'") && lower.contains("'string'"),
            "{error}"
        );
    }
}
