//! The rest of the registry API that Confluent's tools call, over real HTTP: per-subject
//! levels, soft then permanent deletes with Confluent's codes, modes and imports, and
//! `referencedby`; all of it still there after a restart.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{json, Value};
use transit_core::bus::EventBus;
use transit_mem::MemBus;
use transit_registry::DEFAULT_TOPIC;
use transit_testkit::registry::{
    get, post, register, send_as, Answer, RegistryServer, NEXT, OTHER, V1, V2, V3_BREAKS,
};

async fn put(server: &RegistryServer, path: &str, body: Value) -> Answer {
    send_as(
        server,
        Method::PUT,
        path,
        Some(body.to_string()),
        Some("application/vnd.schemaregistry.v1+json"),
    )
    .await
}

async fn delete(server: &RegistryServer, path: &str) -> Answer {
    send_as(server, Method::DELETE, path, None, None).await
}

#[tokio::test]
async fn subject_levels_override_the_global_one_and_go_back_to_it() {
    let server = RegistryServer::start(Arc::new(MemBus::new()), DEFAULT_TOPIC).await;
    register(&server, "s", V1).await;
    get(&server, "/config/s").await.assert_error(404, 40408);
    assert_eq!(
        get(&server, "/config/s?defaultToGlobal=true").await.body,
        json!({ "compatibilityLevel": "BACKWARD" })
    );
    register(&server, "s", V3_BREAKS)
        .await
        .assert_error(409, 409);
    let answer = put(&server, "/config/s", json!({ "compatibility": "none" })).await;
    assert_eq!(
        answer.body,
        json!({ "compatibility": "NONE" }),
        "{answer:?}"
    );
    put(&server, "/config/s", json!({ "compatibility": "SIDEWAYS" }))
        .await
        .assert_error(422, 42203);
    assert_eq!(
        get(&server, "/config/s").await.body,
        json!({ "compatibilityLevel": "NONE" })
    );
    assert_eq!(
        get(&server, "/config").await.body,
        json!({ "compatibilityLevel": "BACKWARD" })
    );
    assert_eq!(register(&server, "s", V3_BREAKS).await.status, 200);
    assert_eq!(
        delete(&server, "/config/s").await.body,
        json!({ "compatibilityLevel": "NONE" })
    );
    delete(&server, "/config/s").await.assert_error(404, 40408);
    // Back under BACKWARD: V2 adds a field with a default, readable from V3_BREAKS's data? No:
    // V3 has `line` without a default, which V2 lacks; reading drops it, so it is compatible.
    assert_eq!(register(&server, "s", V2).await.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn deletes_are_soft_then_permanent_with_confluents_codes_and_survive_a_restart() {
    let bus: Arc<dyn EventBus> = Arc::new(MemBus::new());
    let server = RegistryServer::start(Arc::clone(&bus), DEFAULT_TOPIC).await;
    let id1 = register(&server, "s", V1).await.body["id"].clone();
    register(&server, "s", V2).await;
    register(&server, "t", OTHER).await;

    delete(&server, "/subjects/s/versions/1?permanent=true")
        .await
        .assert_error(404, 40407);
    assert_eq!(
        delete(&server, "/subjects/s/versions/1").await.body,
        json!(1)
    );
    delete(&server, "/subjects/s/versions/1")
        .await
        .assert_error(404, 40406);
    delete(&server, "/subjects/s/versions/9")
        .await
        .assert_error(404, 40402);
    delete(&server, "/subjects/nope/versions/1")
        .await
        .assert_error(404, 40401);
    delete(&server, "/subjects/s/versions/x")
        .await
        .assert_error(422, 42202);
    assert_eq!(get(&server, "/subjects/s/versions").await.body, json!([2]));
    assert_eq!(
        get(&server, "/subjects/s/versions?deleted=true").await.body,
        json!([1, 2])
    );
    get(&server, "/subjects/s/versions/1")
        .await
        .assert_error(404, 40402);
    // A soft-deleted version still decodes old records by id.
    assert_eq!(
        get(&server, &format!("/schemas/ids/{id1}")).await.body["schema"],
        json!(V1)
    );

    delete(&server, "/subjects/t?permanent=true")
        .await
        .assert_error(404, 40405);
    assert_eq!(delete(&server, "/subjects/t").await.body, json!([1]));
    delete(&server, "/subjects/t")
        .await
        .assert_error(404, 40404);
    assert_eq!(get(&server, "/subjects").await.body, json!(["s"]));
    assert_eq!(
        get(&server, "/subjects?deleted=true").await.body,
        json!(["s", "t"])
    );
    server.stop().await;

    // A restart keeps all of it, from Confluent's records in the topic.
    let server = RegistryServer::start(Arc::clone(&bus), DEFAULT_TOPIC).await;
    assert_eq!(get(&server, "/subjects").await.body, json!(["s"]));
    assert_eq!(
        get(&server, "/subjects/s/versions?deleted=true").await.body,
        json!([1, 2])
    );
    delete(&server, "/subjects/t")
        .await
        .assert_error(404, 40404);
    assert_eq!(
        delete(&server, "/subjects/t?permanent=true").await.body,
        json!([1])
    );
    delete(&server, "/subjects/t?permanent=true")
        .await
        .assert_error(404, 40401);
    assert_eq!(
        delete(&server, "/subjects/s/versions/1?permanent=true")
            .await
            .body,
        json!(1)
    );
    // Registering again after deletes: the next version number.
    assert_eq!(register(&server, "t", OTHER).await.status, 200);
    assert_eq!(get(&server, "/subjects/t/versions").await.body, json!([1]));
    server.stop().await;
    let server = RegistryServer::start(Arc::clone(&bus), DEFAULT_TOPIC).await;
    assert_eq!(
        get(&server, "/subjects/s/versions?deleted=true").await.body,
        json!([2])
    );
    assert_eq!(get(&server, "/subjects").await.body, json!(["s", "t"]));
    server.stop().await;
}

#[tokio::test]
async fn modes_refuse_writes_and_import_takes_ids_and_versions() {
    let bus: Arc<dyn EventBus> = Arc::new(MemBus::new());
    let server = RegistryServer::start(Arc::clone(&bus), DEFAULT_TOPIC).await;
    assert_eq!(
        get(&server, "/mode").await.body,
        json!({ "mode": "READWRITE" })
    );
    register(&server, "s", V1).await;
    assert_eq!(
        put(&server, "/mode/s", json!({ "mode": "READONLY" }))
            .await
            .body,
        json!({ "mode": "READONLY" })
    );
    put(&server, "/mode/s", json!({ "mode": "SLEEPY" }))
        .await
        .assert_error(422, 42204);
    register(&server, "s", V2).await.assert_error(422, 42205);
    delete(&server, "/subjects/s")
        .await
        .assert_error(422, 42205);
    // What exists is still found.
    assert_eq!(register(&server, "s", V1).await.body, json!({ "id": 1 }));
    get(&server, "/mode/t").await.assert_error(404, 40409);
    assert_eq!(
        get(&server, "/mode/t?defaultToGlobal=true").await.body,
        json!({ "mode": "READWRITE" })
    );

    // IMPORT into a registry with subjects needs force; ids and versions are the request's.
    put(&server, "/mode", json!({ "mode": "IMPORT" }))
        .await
        .assert_error(422, 42205);
    assert_eq!(
        put(&server, "/mode/imported", json!({ "mode": "IMPORT" }))
            .await
            .body,
        json!({ "mode": "IMPORT" })
    );
    let imported = post(
        &server,
        "/subjects/imported/versions",
        json!({ "schema": NEXT, "id": 100, "version": 7 }),
    )
    .await;
    assert_eq!(imported.body, json!({ "id": 100 }), "{imported:?}");
    post(
        &server,
        "/subjects/imported/versions",
        json!({ "schema": OTHER, "id": 100 }),
    )
    .await
    .assert_error(422, 42205);
    post(
        &server,
        "/subjects/t/versions",
        json!({ "schema": OTHER, "id": 101 }),
    )
    .await
    .assert_error(422, 42205);
    assert_eq!(
        get(&server, "/subjects/imported/versions/7").await.body["id"],
        json!(100)
    );
    assert_eq!(
        get(&server, "/subjects/imported/versions/7/referencedby")
            .await
            .body,
        json!([])
    );
    get(&server, "/subjects/imported/versions/8/referencedby")
        .await
        .assert_error(404, 40402);
    server.stop().await;

    let server = RegistryServer::start(Arc::clone(&bus), DEFAULT_TOPIC).await;
    assert_eq!(
        get(&server, "/mode/s").await.body,
        json!({ "mode": "READONLY" })
    );
    assert_eq!(
        get(&server, "/mode/imported").await.body,
        json!({ "mode": "IMPORT" })
    );
    assert_eq!(
        delete(&server, "/mode/s").await.body,
        json!({ "mode": "READONLY" })
    );
    // New ids continue after the imported one.
    assert_eq!(register(&server, "s", V2).await.body, json!({ "id": 101 }));
    server.stop().await;
}
