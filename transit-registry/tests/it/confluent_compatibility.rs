//! The compatibility rules against Confluent's own test cases (schema-registry's
//! `AvroCompatibilityTest`: its schemas 1, 2, 3, 4, 6, 7 and 8, and each assertion of its
//! per-level tests), each level set globally and, again, as the subject's own level over
//! another global one.
//!
//! A case is (level, new schema, earlier versions oldest first, compatible?): as in
//! Confluent's checker, a non-transitive level checks the latest version only.

use transit_registry::{Change, Compatibility, SchemaCatalog};

/// A record with `f1` a string.
const S1: &str = r#"{"type":"record","name":"myrecord","fields":[{"type":"string","name":"f1"}]}"#;
/// Adds `f2` with a default.
const S2: &str = r#"{"type":"record","name":"myrecord","fields":[{"type":"string","name":"f1"},{"type":"string","name":"f2","default":"foo"}]}"#;
/// Adds `f2` without a default.
const S3: &str = r#"{"type":"record","name":"myrecord","fields":[{"type":"string","name":"f1"},{"type":"string","name":"f2"}]}"#;
/// Renames `f1` to `f1_new`, with `f1` as an alias.
const S4: &str = r#"{"type":"record","name":"myrecord","fields":[{"type":"string","name":"f1_new","aliases":["f1"]}]}"#;
/// `f1` a union of null and string.
const S6: &str = r#"{"type":"record","name":"myrecord","fields":[{"type":["null","string"],"name":"f1","doc":"doc of f1"}]}"#;
/// `f1` a union of null, string and int.
const S7: &str = r#"{"type":"record","name":"myrecord","fields":[{"type":["null","string","int"],"name":"f1","doc":"doc of f1"}]}"#;
/// Adds `f2` and `f3`, both with defaults.
const S8: &str = r#"{"type":"record","name":"myrecord","fields":[{"type":"string","name":"f1"},{"type":"string","name":"f2","default":"foo"},{"type":"string","name":"f3","default":"bar"}]}"#;

use Compatibility::*;

type Case = (
    Compatibility,
    &'static str,
    &'static [&'static str],
    bool,
    &'static str,
);

const CASES: &[Case] = &[
    // testBasicBackwardsCompatibility
    (Backward, S2, &[S1], true, "adding a field with a default"),
    (
        Backward,
        S3,
        &[S1],
        false,
        "adding a field without a default",
    ),
    (Backward, S4, &[S1], true, "renaming a field with an alias"),
    (
        Backward,
        S6,
        &[S1],
        true,
        "evolving a field type to a union",
    ),
    (Backward, S1, &[S6], false, "removing a type from a union"),
    (Backward, S7, &[S6], true, "adding a type to a union"),
    (Backward, S6, &[S7], false, "removing a type from a union"),
    // testBasicBackwardsTransitiveCompatibility
    (
        BackwardTransitive,
        S8,
        &[S1, S2],
        true,
        "iteratively adding fields with defaults",
    ),
    (
        BackwardTransitive,
        S2,
        &[S1],
        true,
        "adding a field with a default",
    ),
    (BackwardTransitive, S3, &[S2], true, "removing a default"),
    (
        BackwardTransitive,
        S3,
        &[S1, S2],
        false,
        "removing a default, transitively",
    ),
    // testBasicForwardsCompatibility
    (Forward, S2, &[S1], true, "adding a field"),
    (Forward, S3, &[S1], true, "adding a field without a default"),
    (Forward, S3, &[S2], true, "removing a default"),
    (Forward, S2, &[S3], true, "adding a default"),
    (
        Forward,
        S1,
        &[S3, S2],
        true,
        "only the latest version is checked",
    ),
    // testBasicForwardsTransitiveCompatibility
    (
        ForwardTransitive,
        S1,
        &[S8, S2],
        true,
        "iteratively removing fields with defaults",
    ),
    (
        ForwardTransitive,
        S2,
        &[S3],
        true,
        "adding a default to a field",
    ),
    (
        ForwardTransitive,
        S1,
        &[S2],
        true,
        "removing a field with a default",
    ),
    (
        ForwardTransitive,
        S1,
        &[S3, S2],
        false,
        "removing a default, transitively",
    ),
    // testBasicFullCompatibility
    (Full, S2, &[S1], true, "adding a field with a default"),
    (Full, S1, &[S2], true, "removing a field with a default"),
    (Full, S3, &[S1], false, "adding a field without a default"),
    (
        Full,
        S8,
        &[S1, S2],
        true,
        "only the latest version is checked",
    ),
    // testBasicFullTransitiveCompatibility
    (
        FullTransitive,
        S8,
        &[S1, S2],
        true,
        "iteratively adding fields with defaults",
    ),
    (
        FullTransitive,
        S1,
        &[S8, S2],
        true,
        "iteratively removing fields with defaults",
    ),
    (
        FullTransitive,
        S2,
        &[S3],
        true,
        "adding a default to a field",
    ),
    (
        FullTransitive,
        S1,
        &[S2],
        true,
        "removing a field with a default",
    ),
    (
        FullTransitive,
        S3,
        &[S2],
        true,
        "removing a default from a field",
    ),
    (
        FullTransitive,
        S3,
        &[S2, S1],
        false,
        "removing a default, transitively",
    ),
    // NONE takes anything.
    (None, S3, &[S1], true, "anything goes"),
    (None, S1, &[S6], true, "anything goes"),
];

/// A catalog holding `earlier` as versions of "s" (registered under NONE).
fn with_versions(earlier: &[&str]) -> SchemaCatalog {
    let mut catalog = SchemaCatalog::with_compatibility(None);
    for schema in earlier {
        catalog.register("s", schema).unwrap();
    }
    catalog
}

#[test]
fn every_level_agrees_with_confluents_test_cases() {
    for &(level, new, earlier, compatible, what) in CASES {
        let mut catalog = with_versions(earlier);
        catalog.set_compatibility(level);
        let report = catalog.check_registration("s", new, &[]).unwrap();
        assert_eq!(
            report.is_compatible(),
            compatible,
            "global {level}: {what}: {:?}",
            report.messages
        );
    }
}

#[test]
fn every_subject_level_agrees_with_confluents_test_cases_over_another_global_one() {
    for &(level, new, earlier, compatible, what) in CASES {
        let mut catalog = with_versions(earlier);
        // The opposite global level: only the subject's own may decide.
        catalog.set_compatibility(if compatible { FullTransitive } else { None });
        catalog
            .apply_change(Change::Config {
                subject: Some("s".into()),
                compatibility: Some(level),
            })
            .unwrap();
        let report = catalog.check_registration("s", new, &[]).unwrap();
        assert_eq!(
            report.is_compatible(),
            compatible,
            "subject {level}: {what}: {:?}",
            report.messages
        );
        // Another subject follows the global level still.
        assert_eq!(
            catalog.subject_compatibility("other"),
            catalog.compatibility()
        );
    }
}
