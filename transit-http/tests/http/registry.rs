//! The schema registry over real HTTP, on the in-memory bus: every route, Confluent's error
//! codes, a restart that keeps every subject, version and id, and transit-kafka's
//! `RegistryClient` against the server (caching and error mapping).

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use transit_core::bus::EventBus;
use transit_core::codec::{RegistryError, SchemaId, SchemaRegistry};
use transit_http::RegistryClient;
use transit_mem::MemBus;
use transit_registry::{VersionSelector, DEFAULT_TOPIC};

use transit_testkit::registry::{
    get, post, register, send_as, Answer, RegistryServer, NEXT, OTHER, V1, V2, V3_BREAKS,
};

async fn check(server: &RegistryServer, version: &str, schema: &str, verbose: bool) -> Answer {
    let query = if verbose { "?verbose=true" } else { "" };
    post(
        server,
        &format!("/compatibility/subjects/s/versions/{version}{query}"),
        json!({ "schema": schema }),
    )
    .await
}

async fn put_config(server: &RegistryServer, body: Value) -> Answer {
    send_as(
        server,
        Method::PUT,
        "/config",
        Some(body.to_string()),
        Some("application/json"),
    )
    .await
}

async fn send_raw(server: &RegistryServer, body: &str, content_type: &str) -> Answer {
    send_as(
        server,
        Method::POST,
        "/subjects/s/versions",
        Some(body.to_string()),
        Some(content_type),
    )
    .await
}

fn new_bus() -> Arc<dyn EventBus> {
    Arc::new(MemBus::new())
}

#[tokio::test]
async fn registers_and_looks_up_as_confluent_does() {
    let server = RegistryServer::start(new_bus(), DEFAULT_TOPIC).await;

    let first = register(&server, "arrivals-value", V1).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_eq!(first.content_type, "application/vnd.schemaregistry.v1+json");
    assert_eq!(first.body, json!({ "id": 1 }));
    // Idempotent, and one id per schema across subjects.
    assert_eq!(
        register(&server, "arrivals-value", V1).await.body,
        json!({ "id": 1 })
    );
    assert_eq!(
        register(&server, "copy-value", V1).await.body,
        json!({ "id": 1 })
    );
    assert_eq!(
        register(&server, "arrivals-value", V2).await.body,
        json!({ "id": 2 })
    );

    assert_eq!(
        get(&server, "/schemas/ids/1").await.body,
        json!({ "schema": V1 })
    );
    assert_eq!(get(&server, "/schemas/ids/2/schema").await.text, V2);
    assert_eq!(
        get(&server, "/schemas/ids/1/versions").await.body,
        json!([
            { "subject": "arrivals-value", "version": 1 },
            { "subject": "copy-value", "version": 1 }
        ])
    );
    assert_eq!(
        get(&server, "/subjects").await.body,
        json!(["arrivals-value", "copy-value"])
    );
    assert_eq!(
        get(&server, "/subjects/arrivals-value/versions").await.body,
        json!([1, 2])
    );
    let latest = json!({ "subject": "arrivals-value", "version": 2, "id": 2, "schema": V2 });
    assert_eq!(
        get(&server, "/subjects/arrivals-value/versions/latest")
            .await
            .body,
        latest
    );
    assert_eq!(
        get(&server, "/subjects/arrivals-value/versions/-1")
            .await
            .body,
        latest
    );
    assert_eq!(
        get(&server, "/subjects/arrivals-value/versions/1")
            .await
            .body,
        json!({ "subject": "arrivals-value", "version": 1, "id": 1, "schema": V1 })
    );
    assert_eq!(
        get(&server, "/subjects/arrivals-value/versions/1/schema")
            .await
            .text,
        V1
    );

    // Is this schema registered here? Whitespace does not matter.
    let spaced = V1.replace(',', ", ");
    let found = post(
        &server,
        "/subjects/arrivals-value",
        json!({ "schema": spaced }),
    )
    .await;
    assert_eq!(
        found.body,
        json!({ "subject": "arrivals-value", "version": 1, "id": 1, "schema": V1 })
    );

    // Every content type Confluent takes, and none at all.
    for content_type in [
        Some("application/vnd.schemaregistry.v1+json"),
        Some("application/vnd.schemaregistry+json"),
        Some("application/json; charset=utf-8"),
        None,
    ] {
        let body = json!({ "schema": OTHER, "schemaType": "AVRO" }).to_string();
        let answer = send_as(
            &server,
            Method::POST,
            "/subjects/directions-value/versions",
            Some(body),
            content_type,
        )
        .await;
        assert_eq!(
            answer.body,
            json!({ "id": 3 }),
            "{content_type:?}: {answer:?}"
        );
    }
    assert_eq!(get(&server, "/schemas/types").await.body, json!(["AVRO"]));
    assert_eq!(get(&server, "/").await.body, json!({}));
    server.stop().await;
}

#[tokio::test]
async fn errors_carry_confluents_codes() {
    let server = RegistryServer::start(new_bus(), DEFAULT_TOPIC).await;
    register(&server, "s", V1).await;

    // Incompatible: 409, naming the field and the rule.
    let conflict = register(&server, "s", V3_BREAKS).await;
    conflict.assert_error(409, 409);
    assert!(conflict.message().contains("'line'"), "{conflict:?}");
    assert!(conflict.message().contains("BACKWARD"), "{conflict:?}");
    assert!(conflict.message().contains("version 1"), "{conflict:?}");
    assert_eq!(get(&server, "/subjects/s/versions").await.body, json!([1]));

    register(&server, "s", "{\"type\":\"recrod\"}")
        .await
        .assert_error(422, 42201);
    let protobuf = post(
        &server,
        "/subjects/s/versions",
        json!({ "schema": "syntax = \"proto3\";", "schemaType": "PROTOBUF" }),
    )
    .await;
    protobuf.assert_error(422, 42201);

    for version in ["abc", "0", "-2", "99999999999"] {
        get(&server, &format!("/subjects/s/versions/{version}"))
            .await
            .assert_error(422, 42202);
    }
    get(&server, "/subjects/nope/versions")
        .await
        .assert_error(404, 40401);
    let unknown = get(&server, "/subjects/nope/versions/1").await;
    unknown.assert_error(404, 40401);
    assert_eq!(unknown.message(), "Subject 'nope' not found.");
    post(&server, "/subjects/nope", json!({ "schema": V1 }))
        .await
        .assert_error(404, 40401);
    get(&server, "/subjects/s/versions/9")
        .await
        .assert_error(404, 40402);
    get(&server, "/schemas/ids/99")
        .await
        .assert_error(404, 40403);
    get(&server, "/schemas/ids/x")
        .await
        .assert_error(404, 40403);
    let unregistered = post(&server, "/subjects/s", json!({ "schema": V2 })).await;
    unregistered.assert_error(404, 40403);
    assert_eq!(unregistered.message(), "Schema not found");

    get(&server, "/no/such/route").await.assert_error(404, 404);
    send_as(&server, Method::DELETE, "/subjects/s/versions", None, None)
        .await
        .assert_error(405, 405);
    get(&server, "/subjects/s").await.assert_error(405, 405);

    // Malformed JSON is a 400, the wrong shape a 422, a foreign content type a 415.
    send_raw(&server, "{\"schema\":", "application/json")
        .await
        .assert_error(400, 400);
    send_raw(&server, "{\"schema\": 7}", "application/json")
        .await
        .assert_error(422, 422);
    send_raw(&server, "{}", "application/json")
        .await
        .assert_error(422, 422);
    send_raw(&server, &json!({ "schema": V2 }).to_string(), "text/plain")
        .await
        .assert_error(415, 415);
    let huge = json!({ "schema": "x".repeat(17 * 1024 * 1024) }).to_string();
    send_raw(&server, &huge, "application/json")
        .await
        .assert_error(413, 413);
    server.stop().await;
}

#[tokio::test]
async fn compatibility_checks_register_nothing_and_config_changes_the_level() {
    let server = RegistryServer::start(new_bus(), DEFAULT_TOPIC).await;
    register(&server, "s", V1).await;

    assert_eq!(
        check(&server, "latest", V2, false).await.body,
        json!({ "is_compatible": true })
    );
    assert_eq!(
        check(&server, "1", V3_BREAKS, false).await.body,
        json!({ "is_compatible": false })
    );
    let verbose = check(&server, "latest", V3_BREAKS, true).await;
    assert_eq!(verbose.body["is_compatible"], json!(false));
    let messages = verbose.body["messages"].as_array().unwrap();
    assert!(
        messages[0].as_str().unwrap().contains("'line'"),
        "{verbose:?}"
    );
    assert_eq!(
        check(&server, "latest", V2, true).await.body,
        json!({ "is_compatible": true, "messages": [] })
    );
    check(&server, "7", V2, false)
        .await
        .assert_error(404, 40402);
    check(&server, "abc", V2, false)
        .await
        .assert_error(422, 42202);
    post(
        &server,
        "/compatibility/subjects/nope/versions/latest",
        json!({ "schema": V1 }),
    )
    .await
    .assert_error(404, 40401);
    assert_eq!(
        post(
            &server,
            "/compatibility/subjects/s/versions",
            json!({ "schema": V2 })
        )
        .await
        .body,
        json!({ "is_compatible": true })
    );
    // Checking registered nothing.
    assert_eq!(get(&server, "/subjects/s/versions").await.body, json!([1]));

    assert_eq!(
        get(&server, "/config").await.body,
        json!({ "compatibilityLevel": "BACKWARD" })
    );
    put_config(&server, json!({ "compatibility": "SIDEWAYS" }))
        .await
        .assert_error(422, 42203);
    assert_eq!(
        put_config(&server, json!({ "compatibility": "NONE" }))
            .await
            .body,
        json!({ "compatibility": "NONE" })
    );
    assert_eq!(
        get(&server, "/config").await.body,
        json!({ "compatibilityLevel": "NONE" })
    );
    assert_eq!(
        register(&server, "s", V3_BREAKS).await.body,
        json!({ "id": 2 })
    );
    server.stop().await;
}

#[tokio::test]
async fn a_restarted_registry_has_every_subject_version_and_id() {
    let bus = new_bus();
    let server = RegistryServer::start(Arc::clone(&bus), DEFAULT_TOPIC).await;
    for (subject, schema) in [("a", V1), ("a", V2), ("b", OTHER), ("c", V1)] {
        assert_eq!(
            register(&server, subject, schema).await.status,
            StatusCode::OK
        );
    }
    let paths = [
        "/subjects",
        "/subjects/a/versions",
        "/subjects/a/versions/1",
        "/subjects/a/versions/2",
        "/subjects/b/versions/latest",
        "/subjects/c/versions/latest",
        "/schemas/ids/1",
        "/schemas/ids/2",
        "/schemas/ids/3",
        "/schemas/ids/1/versions",
    ];
    let mut before = Vec::new();
    for path in paths {
        before.push(get(&server, path).await.body);
    }
    assert!(before
        .iter()
        .all(|body| !body.is_null() && body.get("error_code").is_none()));
    server.stop().await;

    let server = RegistryServer::start(Arc::clone(&bus), DEFAULT_TOPIC).await;
    for (path, expected) in paths.iter().zip(&before) {
        assert_eq!(&get(&server, path).await.body, expected, "{path}");
    }
    // Registering again is idempotent after a restart; new ids continue after the old ones.
    assert_eq!(register(&server, "a", V2).await.body, json!({ "id": 2 }));
    assert_eq!(register(&server, "d", NEXT).await.body, json!({ "id": 4 }));
    assert_eq!(
        get(&server, "/subjects/a/versions/latest").await.body["version"],
        json!(2)
    );
    server.stop().await;
}

#[tokio::test]
async fn a_failed_store_is_a_backend_error_and_registers_nothing() {
    let mem = Arc::new(MemBus::new());
    let server = RegistryServer::start(Arc::clone(&mem) as Arc<dyn EventBus>, DEFAULT_TOPIC).await;
    register(&server, "s", V1).await;
    mem.close();
    let failed = register(&server, "t", OTHER).await;
    failed.assert_error(500, 50001);
    assert_eq!(failed.message(), "Error in the backend data store");
    // Reads still work; nothing half-registered.
    get(&server, "/subjects/t/versions")
        .await
        .assert_error(404, 40401);
    assert_eq!(
        get(&server, "/schemas/ids/1").await.body,
        json!({ "schema": V1 })
    );
    server.stop().await;
}

#[tokio::test]
async fn the_client_caches_and_maps_errors() {
    let server = RegistryServer::start(new_bus(), DEFAULT_TOPIC).await;
    let client = RegistryClient::new(&server.url()).unwrap();

    // A subject with characters that need encoding in a path.
    let subject = "weird subject/value";
    let id = client.register(subject, V1).await.unwrap();
    assert_eq!(id, SchemaId(1));
    let id2 = client.register(subject, V2).await.unwrap();
    assert_eq!(client.subjects().await.unwrap(), vec![subject.to_string()]);
    assert_eq!(client.versions(subject).await.unwrap(), vec![1, 2]);
    let latest = client.latest(subject).await.unwrap();
    assert_eq!(
        (latest.version, latest.id, latest.schema.as_str()),
        (2, id2, V2)
    );
    let first = client
        .version(subject, VersionSelector::Number(1))
        .await
        .unwrap();
    assert_eq!(first.id, id);
    assert_eq!(client.lookup(subject, V1).await.unwrap().version, 1);

    // Error answers become the variants named by meaning.
    assert!(matches!(
        client.versions("nope").await,
        Err(RegistryError::SubjectNotFound { subject }) if subject == "nope"
    ));
    assert!(matches!(
        client.version(subject, VersionSelector::Number(9)).await,
        Err(RegistryError::VersionNotFound { version: 9, .. })
    ));
    assert!(matches!(
        client.schema_by_id(SchemaId(99)).await,
        Err(RegistryError::SchemaNotFound { id: SchemaId(99) })
    ));
    assert!(matches!(
        client.lookup(subject, OTHER).await,
        Err(RegistryError::SchemaNotFound { .. })
    ));
    match client.register(subject, V3_BREAKS).await {
        Err(RegistryError::Incompatible {
            subject: s,
            message,
        }) => {
            assert_eq!(s, subject);
            assert!(message.contains("'line'"), "{message}");
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
    assert!(matches!(
        client.register(subject, "{\"type\":").await,
        Err(RegistryError::InvalidSchema { .. })
    ));

    // A second client fetches id 2 once; with the server gone, what it cached still answers.
    let reader = RegistryClient::new(&server.url()).unwrap();
    assert_eq!(reader.schema_by_id(id2).await.unwrap(), V2);
    server.stop().await;
    assert_eq!(reader.schema_by_id(id2).await.unwrap(), V2);
    assert_eq!(client.schema_by_id(id).await.unwrap(), V1);
    assert_eq!(client.register(subject, V1).await.unwrap(), id);
    assert_eq!(client.register(subject, V2).await.unwrap(), id2);
    // What it never fetched fails, naming the URL.
    match reader.schema_by_id(id).await {
        Err(RegistryError::Backend { source }) => {
            assert!(source.to_string().contains("/schemas/ids/1"), "{source}");
        }
        other => panic!("expected Backend, got {other:?}"),
    }
}
