//! Schema references over real HTTP, as Confluent's registry has them: a schema using the
//! types of other registered versions, `references` in the answers, `referencedby`, deletes
//! refused while referenced (42206), all of it after a restart; and a record whose schema has
//! references decoded through the registry client.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{json, Value};
use transit_core::bus::EventBus;
use transit_core::codec::{AvroRecord, Decoder, Encoder, SchemaId};
use transit_core::event::{WeatherEvent, WeatherStatus};
use transit_http::RegistryClient;
use transit_mem::MemBus;
use transit_registry::DEFAULT_TOPIC;
use transit_testkit::registry::{get, post, register, send_as, Answer, RegistryServer};

const ADDRESS: &str = r#"{"type":"record","name":"Address","namespace":"org.example","fields":[{"name":"street","type":"string"}]}"#;
const ADDRESS_V2: &str = r#"{"type":"record","name":"Address","namespace":"org.example","fields":[{"name":"street","type":"string"},{"name":"zip","type":"string","default":""}]}"#;
const PERSON: &str = r#"{"type":"record","name":"Person","namespace":"org.example","fields":[{"name":"home","type":"Address"}]}"#;
const COMPANY: &str = r#"{"type":"record","name":"Company","namespace":"org.example","fields":[{"name":"boss","type":"Person"}]}"#;

fn address_ref(version: i64) -> Value {
    json!([{ "name": "org.example.Address", "subject": "address", "version": version }])
}

async fn register_with(
    server: &RegistryServer,
    subject: &str,
    schema: &str,
    refs: Value,
) -> Answer {
    post(
        server,
        &format!("/subjects/{subject}/versions"),
        json!({ "schema": schema, "references": refs }),
    )
    .await
}

async fn delete(server: &RegistryServer, path: &str) -> Answer {
    send_as(server, Method::DELETE, path, None, None).await
}

#[tokio::test]
async fn schemas_with_references_register_answer_and_survive_a_restart() {
    references_survive_a_restart(Arc::new(MemBus::new()), DEFAULT_TOPIC).await;
}

/// Registers schemas with references in a registry kept in `topic` of `bus`, checks every
/// answer, restarts the registry and checks them again (also run on Kafka, in `on_kafka`).
pub(crate) async fn references_survive_a_restart(bus: Arc<dyn EventBus>, topic: &str) {
    let server = RegistryServer::start(Arc::clone(&bus), topic).await;
    let address = register(&server, "address", ADDRESS).await.body["id"].clone();
    register(&server, "address", ADDRESS_V2).await;

    // Alone, Person names a type it does not define; a missing reference is an invalid
    // schema, as Confluent answers.
    register(&server, "person", PERSON)
        .await
        .assert_error(422, 42201);
    let missing = register_with(&server, "person", PERSON, address_ref(9)).await;
    missing.assert_error(422, 42201);
    assert!(
        missing.message().contains("No schema reference found"),
        "{missing:?}"
    );
    register_with(
        &server,
        "person",
        PERSON,
        json!([{ "name": "org.example.Address", "subject": "address" }]),
    )
    .await
    .assert_error(422, 42201);

    let person = register_with(&server, "person", PERSON, address_ref(1)).await;
    assert_eq!(person.status, 200, "{person:?}");
    let person = person.body["id"].clone();
    assert_ne!(person, address);
    // The same text with other references is another schema; -1 is pinned to the latest.
    let latest = register_with(&server, "person-latest", PERSON, address_ref(-1)).await;
    assert_ne!(latest.body["id"], person, "{latest:?}");
    assert_eq!(
        get(&server, "/subjects/person-latest/versions/1")
            .await
            .body["references"],
        address_ref(2)
    );
    // Registering again with the same references is the same schema.
    assert_eq!(
        register_with(&server, "person", PERSON, address_ref(1))
            .await
            .body,
        json!({ "id": person })
    );
    // Transitively: Company uses Person, which uses Address.
    let company = register_with(
        &server,
        "company",
        COMPANY,
        json!([{ "name": "org.example.Person", "subject": "person", "version": 1 }]),
    )
    .await;
    assert_eq!(company.status, 200, "{company:?}");
    let company = company.body["id"].clone();

    let check = |server: &RegistryServer| {
        let (person, address, company) = (person.clone(), address.clone(), company.clone());
        let server_url = server.url();
        async move {
            let get = |path: String| {
                let url = format!("{server_url}{path}");
                async move {
                    let answer = reqwest::get(&url).await.unwrap();
                    assert_eq!(answer.status(), 200, "{url}");
                    answer.json::<Value>().await.unwrap()
                }
            };
            assert_eq!(
                get(format!("/schemas/ids/{person}")).await,
                json!({ "schema": PERSON, "references": address_ref(1) })
            );
            // Without references, none in the answer, as Confluent.
            assert_eq!(
                get(format!("/schemas/ids/{address}")).await,
                json!({ "schema": ADDRESS })
            );
            assert_eq!(
                get("/subjects/person/versions/1".into()).await,
                json!({
                    "subject": "person", "version": 1, "id": person,
                    "references": address_ref(1), "schema": PERSON,
                })
            );
            assert_eq!(
                get("/subjects/address/versions/1/referencedby".into()).await,
                json!([person])
            );
            assert_eq!(
                get("/subjects/person/versions/latest/referencedby".into()).await,
                json!([company])
            );
            assert_eq!(
                get("/subjects/company/versions/1/referencedby".into()).await,
                json!([])
            );
            assert_eq!(
                get("/subjects/address/versions/1/referencedby?offset=1&limit=-1".into()).await,
                json!([])
            );
            assert_eq!(
                get(format!("/schemas/ids/{person}/versions")).await,
                json!([{ "subject": "person", "version": 1 }])
            );
        }
    };
    check(&server).await;

    // A lookup needs the references it was registered with.
    let found = post(
        &server,
        "/subjects/person",
        json!({ "schema": PERSON, "references": address_ref(1) }),
    )
    .await;
    assert_eq!(found.body["version"], json!(1), "{found:?}");
    assert_eq!(found.body["references"], address_ref(1), "{found:?}");
    post(
        &server,
        "/subjects/person",
        json!({ "schema": PERSON, "references": address_ref(2) }),
    )
    .await
    .assert_error(404, 40403);
    // Compatibility is checked with the referenced types.
    let compatible = post(
        &server,
        "/compatibility/subjects/person/versions/latest",
        json!({ "schema": PERSON, "references": address_ref(2) }),
    )
    .await;
    assert_eq!(
        compatible.body,
        json!({ "is_compatible": true }),
        "{compatible:?}"
    );

    server.stop().await;
    let server = RegistryServer::start(Arc::clone(&bus), topic).await;
    check(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn referenced_versions_are_not_deleted_while_referenced() {
    let server = RegistryServer::start(Arc::new(MemBus::new()), DEFAULT_TOPIC).await;
    register(&server, "address", ADDRESS).await;
    let person = register_with(&server, "person", PERSON, address_ref(1))
        .await
        .body["id"]
        .clone();

    let refused = delete(&server, "/subjects/address/versions/1").await;
    refused.assert_error(422, 42206);
    assert_eq!(
        refused.message(),
        "One or more references exist to the schema {magic=1,keytype=SCHEMA,subject=address,version=1}."
    );
    delete(&server, "/subjects/address")
        .await
        .assert_error(422, 42206);

    // The referrer soft-deleted: the referenced version may be soft-deleted, not deleted for
    // good while the referrer may come back; referencedby lists it with ?deleted=true only.
    assert_eq!(delete(&server, "/subjects/person").await.body, json!([1]));
    assert_eq!(
        get(&server, "/subjects/address/versions/1/referencedby")
            .await
            .body,
        json!([])
    );
    assert_eq!(
        get(
            &server,
            "/subjects/address/versions/1/referencedby?deleted=true"
        )
        .await
        .body,
        json!([person])
    );
    assert_eq!(
        delete(&server, "/subjects/address/versions/1").await.body,
        json!(1)
    );
    // A soft-deleted version is still asked about, and still found with ?deleted=true.
    assert_eq!(
        get(
            &server,
            "/subjects/address/versions/1/referencedby?deleted=true"
        )
        .await
        .body,
        json!([person])
    );
    // Its only version soft-deleted, the subject is not found (as Confluent answers).
    get(&server, "/subjects/address/versions/1")
        .await
        .assert_error(404, 40401);
    assert_eq!(
        get(&server, "/subjects/address/versions/1?deleted=true")
            .await
            .body["schema"],
        json!(ADDRESS)
    );
    delete(&server, "/subjects/address/versions/1?permanent=true")
        .await
        .assert_error(422, 42206);
    delete(&server, "/subjects/address?permanent=true")
        .await
        .assert_error(422, 42206);
    // The referrer gone for good, so can the referenced version.
    assert_eq!(
        delete(&server, "/subjects/person?permanent=true")
            .await
            .body,
        json!([1])
    );
    assert_eq!(
        delete(&server, "/subjects/address/versions/1?permanent=true")
            .await
            .body,
        json!(1)
    );
    get(&server, "/subjects/address/versions/2/referencedby")
        .await
        .assert_error(404, 40401);
    server.stop().await;
}

#[tokio::test]
async fn a_record_whose_schema_has_references_decodes_through_the_client() {
    let server = RegistryServer::start(Arc::new(MemBus::new()), DEFAULT_TOPIC).await;
    const SOURCE: &str = r#"{"type":"enum","name":"Source","namespace":"org.example","symbols":["station","forecast"]}"#;
    register(&server, "weather-source", SOURCE).await;
    // A producer's schema: transit's weather event and one more field, of a referenced type.
    let mut writer: Value = serde_json::from_str(WeatherEvent::schema_json()).unwrap();
    writer["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "source", "type": "org.example.Source" }));
    let registered = register_with(
        &server,
        "weather-value",
        &writer.to_string(),
        json!([{ "name": "org.example.Source", "subject": "weather-source", "version": 1 }]),
    )
    .await;
    assert_eq!(registered.status, 200, "{registered:?}");
    let id = SchemaId(registered.body["id"].as_u64().unwrap() as u32);

    let value = WeatherEvent {
        temperature: 41.5,
        status: WeatherStatus::Windy,
    };
    // The event's own fields, then `source` = "forecast" (enum index 1, zigzag 2): a record
    // only the referencing schema describes.
    let mut record = Encoder::<WeatherEvent>::with_id(id)
        .unwrap()
        .encode(&value)
        .unwrap()
        .to_vec();
    record.push(2);

    let client = RegistryClient::new(&server.url()).unwrap();
    let standalone = client.schema(id).await.unwrap();
    assert!(standalone.contains("forecast"), "{standalone}");
    let decoder = Decoder::<WeatherEvent>::new(Arc::new(client)).unwrap();
    assert_eq!(decoder.decode(&record).await.unwrap(), value);
    server.stop().await;
}

/// Runs `tests/python/registry_references_client.py` (Confluent's Python client) against `url`.
async fn python_references_client(url: &str) -> Value {
    const VAR: &str = "TRANSIT_TEST_PYTHON";
    let python = std::env::var_os(VAR).unwrap_or_else(|| {
        panic!(
            "{VAR} is not set: this test runs Confluent's Python client. Run scripts/test.sh, or \
             `source scripts/python.sh; need_python_venv` first"
        )
    });
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python/registry_references_client.py");
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        tokio::process::Command::new(python)
            .arg(&script)
            .arg(url)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the Python client took over two minutes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{}:\n{stdout}\n{stderr}",
        script.display()
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|error| panic!("{error}: {stdout}"))
}

#[tokio::test]
async fn confluents_python_client_registers_reads_and_decodes_references() {
    let bus: Arc<dyn EventBus> = Arc::new(MemBus::new());
    let server = RegistryServer::start(Arc::clone(&bus), DEFAULT_TOPIC).await;
    let report = python_references_client(&server.url()).await;
    let person = report["person_id"].clone();
    let references = json!([{ "name": "org.example.Address", "subject": "address", "version": 1 }]);
    assert_ne!(person, report["address_id"], "{report}");
    assert_eq!(report["by_id"]["references"], references, "{report}");
    assert_eq!(
        report["by_version"],
        json!({ "id": person, "version": 1, "references": references }),
        "{report}"
    );
    assert_eq!(
        report["looked_up"],
        json!({ "id": person, "version": 1 }),
        "{report}"
    );
    assert_eq!(report["referenced_by"], json!([person]), "{report}");
    assert_eq!(
        report["delete_refused"],
        json!({ "status": 422, "code": 42206 }),
        "{report}"
    );
    assert_eq!(report["record_schema_id"], person, "{report}");
    assert_eq!(
        report["decoded"],
        json!({ "name": "Ada", "home": { "street": "W Madison St" } }),
        "{report}"
    );
    // What the Python client registered is what transit's own client reads after a restart.
    server.stop().await;
    let server = RegistryServer::start(Arc::clone(&bus), DEFAULT_TOPIC).await;
    let client = RegistryClient::new(&server.url()).unwrap();
    let id = SchemaId(person.as_u64().unwrap() as u32);
    let standalone = client.schema(id).await.unwrap();
    assert!(standalone.contains("street"), "{standalone}");
    server.stop().await;
}
