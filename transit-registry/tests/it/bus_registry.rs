//! The schema registry whose state lives on the bus, on the in-memory bus: restarts keep every
//! subject, version and id; concurrent registrations stay distinct.

use std::sync::Arc;

use transit_core::bus::{EventBus, Record};
use transit_registry::{BusRegistry, DEFAULT_TOPIC};

use transit_core::codec::SchemaId;
use transit_mem::MemBus;
use transit_registry::Compatibility;

const V1: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
const V2_DEFAULT: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}]}"#;
const V2_NO_DEFAULT: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}"#;

#[tokio::test]
async fn a_reopened_registry_has_every_subject_version_and_id() {
    let bus: Arc<dyn EventBus> = Arc::new(MemBus::new());
    let first = BusRegistry::open(Arc::clone(&bus), DEFAULT_TOPIC)
        .await
        .unwrap();
    let id1 = first.register_schema("s", V1).await.unwrap();
    let id2 = first.register_schema("s", V2_DEFAULT).await.unwrap();
    assert_eq!(first.register_schema("t", V1).await.unwrap(), id1);
    first.set_compatibility(Compatibility::None).await.unwrap();

    // A record nobody can read, written by someone else: skipped on restore.
    bus.publish_batch(DEFAULT_TOPIC, vec![Record::new("junk", "junk", 0)])
        .await
        .unwrap();

    let again = BusRegistry::open(Arc::clone(&bus), DEFAULT_TOPIC)
        .await
        .unwrap();
    assert_eq!(again.subjects(), vec!["s", "t"]);
    assert_eq!(again.versions("s").unwrap(), vec![1, 2]);
    assert_eq!(again.latest("s").unwrap().id, id2);
    assert_eq!(again.schema(id1).unwrap(), V1);
    assert_eq!(again.compatibility(), Compatibility::None);
    // Compatibility NONE came back: this would be refused under BACKWARD.
    let id3 = again.register_schema("s", V2_NO_DEFAULT).await.unwrap();
    assert_eq!(id3, SchemaId(3));
    assert_eq!(again.latest("s").unwrap().version, 3);
}

#[tokio::test]
async fn concurrent_registrations_get_distinct_ids_and_versions() {
    let bus: Arc<dyn EventBus> = Arc::new(MemBus::new());
    let registry = BusRegistry::open(bus, "schemas").await.unwrap();
    let schemas: Vec<String> = (0..8)
        // Each reads any other: its only field has a default.
        .map(|i| {
            format!(
                r#"{{"type":"record","name":"R","fields":[{{"name":"f{i}","type":"int","default":0}}]}}"#
            )
        })
        .collect();
    let tasks: Vec<_> = schemas
        .iter()
        .map(|schema| {
            let (registry, schema) = (registry.clone(), schema.clone());
            tokio::spawn(async move { registry.register_schema("many", &schema).await })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap().unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8);
    assert_eq!(
        registry.versions("many").unwrap(),
        (1..=8).collect::<Vec<u32>>()
    );
}

#[tokio::test]
async fn deletes_subject_levels_and_modes_survive_a_restart() {
    use transit_registry::{Mode, VersionSelector};
    let bus: Arc<dyn EventBus> = Arc::new(MemBus::new());
    let first = BusRegistry::open(Arc::clone(&bus), DEFAULT_TOPIC)
        .await
        .unwrap();
    let id1 = first.register_schema("s", V1).await.unwrap();
    first.register_schema("s", V2_DEFAULT).await.unwrap();
    first.register_schema("gone", V1).await.unwrap();
    first.register_schema("soft", V2_DEFAULT).await.unwrap();
    // Version 1 of s soft-deleted; "soft" soft-deleted whole; "gone" deleted for good.
    assert_eq!(
        first
            .delete_version("s", VersionSelector::Number(1), false)
            .await
            .unwrap(),
        1
    );
    assert_eq!(first.delete_subject("soft", false).await.unwrap(), vec![1]);
    first.delete_subject("gone", false).await.unwrap();
    first.delete_subject("gone", true).await.unwrap();
    first
        .set_subject_compatibility("s", Some(Compatibility::None))
        .await
        .unwrap();
    first
        .set_mode(Some("frozen"), Mode::ReadOnly, false)
        .await
        .unwrap();

    let again = BusRegistry::open(Arc::clone(&bus), DEFAULT_TOPIC)
        .await
        .unwrap();
    assert_eq!(again.subjects(), vec!["s"]);
    assert_eq!(again.versions("s").unwrap(), vec![2]);
    assert_eq!(
        again.read(|c| c.subjects_with_deleted(true)),
        vec!["s", "soft"]
    );
    // The soft-deleted version still decodes old records by id.
    assert_eq!(again.schema(id1).unwrap(), V1);
    assert_eq!(
        again.read(|c| c.subject_compatibility("s")),
        Compatibility::None
    );
    assert_eq!(
        again.read(|c| c.subject_compatibility("t")),
        Compatibility::Backward
    );
    assert_eq!(again.read(|c| c.subject_mode("frozen")), Mode::ReadOnly);
    assert_eq!(
        again
            .delete_subject("soft", false)
            .await
            .unwrap_err()
            .code(),
        40404
    );
    assert_eq!(
        again.delete_subject("gone", true).await.unwrap_err().code(),
        40401
    );
    // Under the subject's own NONE level an incompatible schema is taken.
    again.register_schema("s", V2_NO_DEFAULT).await.unwrap();
    // A read-only subject takes nothing new.
    let refused = again
        .register_request("frozen", V1, &[], None, None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), 42205, "{refused}");
}

#[tokio::test]
async fn references_survive_a_restart_even_when_stored_after_their_referrer() {
    use transit_core::codec::SchemaRegistry;
    use transit_registry::{SchemaReference, VersionSelector};
    const ADDRESS: &str = r#"{"type":"record","name":"Address","namespace":"org.example","fields":[{"name":"street","type":"string"}]}"#;
    const PERSON: &str = r#"{"type":"record","name":"Person","namespace":"org.example","fields":[{"name":"home","type":"Address"}]}"#;
    let references = vec![SchemaReference {
        name: "org.example.Address".into(),
        subject: "address".into(),
        version: 1,
    }];
    let bus: Arc<dyn EventBus> = Arc::new(MemBus::new());
    let first = BusRegistry::open(Arc::clone(&bus), DEFAULT_TOPIC)
        .await
        .unwrap();
    first.register_schema("address", ADDRESS).await.unwrap();
    let person = first
        .register_with_references("person", PERSON, &references)
        .await
        .unwrap();
    first.register_schema("other", V1).await.unwrap();
    // The referrer soft-deleted, then the version it references: the latter's record now
    // comes after the referrer's in the table.
    first
        .delete_version("person", VersionSelector::Number(1), false)
        .await
        .unwrap();
    first
        .delete_version("address", VersionSelector::Number(1), false)
        .await
        .unwrap();
    first.delete_subject("other", false).await.unwrap();

    let again = BusRegistry::open(Arc::clone(&bus), DEFAULT_TOPIC)
        .await
        .unwrap();
    assert_eq!(
        again.read(|c| c.schema_references(person).unwrap().to_vec()),
        references
    );
    assert_eq!(
        again.read(|c| c.referenced_by("address", 1, true)),
        vec![person]
    );
    assert_eq!(
        again.read(|c| c.versions_with_deleted("person", true).unwrap()),
        vec![1]
    );
    assert!(again.subjects().is_empty());
    // Old records of the referrer still decode: its id gives a self-contained schema.
    let standalone = again.schema_by_id(person).await.unwrap();
    assert!(standalone.contains("street"), "{standalone}");
    // And the referenced version cannot go for good while the referrer may come back.
    let refused = again
        .delete_version("address", VersionSelector::Number(1), true)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), 42206, "{refused}");
}
