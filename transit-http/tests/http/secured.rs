//! The schema registry and the REST Proxy as Confluent runs them: HTTPS from a certificate
//! signed by a test CA, HTTP basic auth with a read-write and a read-only user, and the
//! clients (transit's and Confluent's Python `SchemaRegistryClient`) reaching them with
//! Confluent's settings. Every log line of the servers and clients, and every answer, is
//! searched for the passwords.
//!
//! The tests run on one thread, so the log subscriber they set sees every task's lines.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use transit_core::bus::TopicSpec;
use transit_core::codec::{AvroRecord, SchemaRegistry};
use transit_core::event::{WeatherEvent, WeatherKey};
use transit_core::topics::Topics;
use transit_core::EventBus;
use transit_http::rest_proxy::{RestProxyClient, RestProxyConfig, RestProxyError};
use transit_http::server::{Security, Users};
use transit_http::{ClientSecurity, RegistryClient, UserInfo};
use transit_mem::{MemBus, MemRegistry};
use transit_sim::driver::SimulationCodecs;
use transit_testkit::registry::{RegistryServer, REGISTRY_TYPE};
use transit_testkit::rest_proxy::ProxyServer;
use transit_testkit::tls::TestCertificates;

const WRITER_PASSWORD: &str = "w-Pa55word-7e1f";
const READER_PASSWORD: &str = "r-Pa55word-93ac";
const WRONG_PASSWORD: &str = "x-Wr0ng-55d0";
const PASSWORDS: [&str; 3] = [WRITER_PASSWORD, READER_PASSWORD, WRONG_PASSWORD];

/// Every line the servers and clients log, at every level.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> (CapturedLog, tracing::subscriber::DefaultGuard) {
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (log, tracing::subscriber::set_default(subscriber))
}

fn assert_no_password(what: &str, text: &str) {
    for password in PASSWORDS {
        assert!(!text.contains(password), "{what} shows a password:\n{text}");
    }
}

fn users() -> Users {
    Users::parse(
        "test users",
        &format!("writer: {WRITER_PASSWORD},write\nreader: {READER_PASSWORD},read\n"),
    )
    .unwrap()
}

fn as_user(certs: &TestCertificates, user: &str, password: &str) -> ClientSecurity {
    ClientSecurity::none()
        .with_user_info(UserInfo::parse(&format!("{user}:{password}"), "test").unwrap())
        .with_ca_file(&certs.ca)
}

/// A plain HTTP client trusting the test CA, for requests the API clients do not make.
fn raw_client(certs: &TestCertificates) -> reqwest::Client {
    ClientSecurity::none()
        .with_ca_file(&certs.ca)
        .client_builder()
        .unwrap()
        .build()
        .unwrap()
}

struct Raw {
    status: u16,
    www_authenticate: Option<String>,
    content_type: String,
    body: Value,
    text: String,
}

async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    user: Option<(&str, &str)>,
    body: Option<Value>,
) -> Raw {
    let mut request = client.request(method, url);
    if let Some((user, password)) = user {
        request = request.basic_auth(user, Some(password));
    }
    if let Some(body) = body {
        request = request
            .header("content-type", REGISTRY_TYPE)
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let www_authenticate = header("www-authenticate");
    let content_type = header("content-type").unwrap_or_default();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    Raw {
        status,
        www_authenticate,
        content_type,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

/// Runs `tests/python/registry_tls_client.py` with the user info in its environment.
async fn python_client(url: &str, ca: &Path, user_info: &str, extra: &[&str]) -> Value {
    const VAR: &str = "TRANSIT_TEST_PYTHON";
    let python = std::env::var_os(VAR).unwrap_or_else(|| {
        panic!(
            "{VAR} is not set: this test runs Confluent's Python client. Run scripts/test.sh, or \
             `source scripts/python.sh; need_python_venv` first"
        )
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/registry_tls_client.py");
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(python)
            .arg(&script)
            .arg(url)
            .arg(ca)
            .args(extra)
            .env("REGISTRY_USER_INFO", user_info)
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
    assert_no_password("the Python client's output", &format!("{stdout}{stderr}"));
    serde_json::from_str(stdout.trim()).unwrap_or_else(|error| panic!("{error}: {stdout}"))
}

#[tokio::test(flavor = "current_thread")]
async fn the_registry_over_https_with_users_serves_confluents_python_client_every_subject() {
    let (log, _guard) = capture_logs();
    let certs = TestCertificates::generate();
    let security = Security {
        tls: Some(certs.identity()),
        users: Some(users()),
    };
    let server = RegistryServer::start_secured(Arc::new(MemBus::new()), "_schemas", security).await;
    let url = server.url();
    assert!(url.starts_with("https://"), "{url}");
    let timeouts = (Duration::from_secs(5), Duration::from_secs(10));

    // The read-write user registers every topic's schemas, as the producer does.
    let writer = RegistryClient::with_security(
        &url,
        as_user(&certs, "writer", WRITER_PASSWORD),
        timeouts.0,
        timeouts.1,
    )
    .unwrap();
    assert!(!format!("{writer:?}").contains(WRITER_PASSWORD));
    SimulationCodecs::register(Arc::new(writer.clone()), &Topics::default())
        .await
        .unwrap();
    let subjects = writer.subjects().await.unwrap();
    assert!(subjects.len() >= 6, "{subjects:?}");

    // Missing or wrong credentials: 401 with Confluent's JSON and the challenge.
    let raw = raw_client(&certs);
    let subjects_url = format!("{url}/subjects");
    for user in [
        None,
        Some(("writer", WRONG_PASSWORD)),
        Some(("nobody", READER_PASSWORD)),
    ] {
        let answer = send(&raw, reqwest::Method::GET, &subjects_url, user, None).await;
        assert_eq!(answer.status, 401, "{user:?}: {}", answer.text);
        assert_eq!(
            answer.body,
            json!({ "error_code": 401, "message": "Unauthorized" })
        );
        assert_eq!(answer.content_type, REGISTRY_TYPE);
        assert!(
            answer
                .www_authenticate
                .as_deref()
                .is_some_and(|value| value.starts_with("Basic")),
            "{:?}",
            answer.www_authenticate
        );
    }

    // The read-only user reads, looks up and checks, but may not change anything.
    let reader = Some(("reader", READER_PASSWORD));
    let weather = WeatherEvent::schema_json();
    let subject = format!("{}-value", Topics::default().weather());
    let answer = send(&raw, reqwest::Method::GET, &subjects_url, reader, None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let lookup = send(
        &raw,
        reqwest::Method::POST,
        &format!("{url}/subjects/{subject}"),
        reader,
        Some(json!({ "schema": weather })),
    )
    .await;
    assert_eq!(lookup.status, 200, "{}", lookup.text);
    let check = send(
        &raw,
        reqwest::Method::POST,
        &format!("{url}/compatibility/subjects/{subject}/versions/latest"),
        reader,
        Some(json!({ "schema": weather })),
    )
    .await;
    assert_eq!(
        check.body,
        json!({ "is_compatible": true }),
        "{}",
        check.text
    );
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/subjects/new-value/versions",
            Some(json!({ "schema": weather })),
        ),
        (
            reqwest::Method::PUT,
            "/config",
            Some(json!({ "compatibility": "NONE" })),
        ),
    ] {
        let answer = send(&raw, method.clone(), &format!("{url}{path}"), reader, body).await;
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.text);
        assert_eq!(answer.body["error_code"], 403, "{}", answer.text);
        assert_no_password("an answer", &answer.text);
    }
    let reader_client = RegistryClient::with_security(
        &url,
        as_user(&certs, "reader", READER_PASSWORD),
        timeouts.0,
        timeouts.1,
    )
    .unwrap();
    let refused = reader_client
        .register_schema("new-value", weather)
        .await
        .unwrap_err();
    let refused = transit_core::error_chain(&refused);
    assert!(refused.contains("403"), "{refused}");
    assert_no_password("a refusal", &refused);
    assert_eq!(reader_client.subjects().await.unwrap(), subjects);

    // A client that does not trust the test CA does not connect.
    let untrusting = RegistryClient::with_security(
        &url,
        ClientSecurity::none()
            .with_user_info(UserInfo::parse(&format!("reader:{READER_PASSWORD}"), "test").unwrap()),
        timeouts.0,
        timeouts.1,
    )
    .unwrap();
    // A certificate refused is not a registry restarting: no asking again for minutes.
    let untrusted = tokio::time::timeout(Duration::from_secs(5), untrusting.subjects())
        .await
        .expect("an untrusted certificate fails at once, not after retries")
        .expect_err("an untrusted certificate was taken");
    let untrusted = transit_core::error_chain(&untrusted);
    assert!(untrusted.contains("https://"), "{untrusted}");
    assert_no_password("a TLS failure", &untrusted);

    // Confluent's Python client, with only its documented settings, reads every subject.
    let report = python_client(&url, &certs.ca, &format!("reader:{READER_PASSWORD}"), &[]).await;
    let report = report.as_object().unwrap();
    assert_eq!(
        report.keys().cloned().collect::<Vec<_>>(),
        subjects,
        "{report:?}"
    );
    for subject in &subjects {
        let latest = writer.latest(subject).await.unwrap();
        assert_eq!(report[subject]["id"], latest.id.0, "{subject}");
        assert_eq!(report[subject]["version"], latest.version, "{subject}");
        assert_eq!(report[subject]["schema"], latest.schema, "{subject}");
    }
    let refused = python_client(
        &url,
        &certs.ca,
        &format!("reader:{WRONG_PASSWORD}"),
        &["--expect-refusal"],
    )
    .await;
    assert_eq!(refused, json!({ "status": 401, "code": 401 }));

    server.stop().await;
    let log = log.text();
    assert!(log.contains("schema registry listening"), "{log}");
    assert_no_password("the log", &log);
}

#[tokio::test(flavor = "current_thread")]
async fn the_rest_proxy_over_https_takes_records_from_read_write_users_only() {
    let (log, _guard) = capture_logs();
    let certs = TestCertificates::generate();
    let bus = Arc::new(MemBus::new());
    bus.create_topic(&TopicSpec::new("weather", 1))
        .await
        .unwrap();
    let registry = Arc::new(MemRegistry::new());
    let mut server = ProxyServer::start_secured(
        bus.clone(),
        registry.clone() as Arc<dyn SchemaRegistry>,
        RestProxyConfig::default(),
        Security {
            tls: Some(certs.identity()),
            users: Some(users()),
        },
    )
    .await;
    let url = format!("https://localhost:{}", server.address.port());
    let record = [(
        json!({ "timestamp": 1_700_000_000_000_i64 }),
        json!({ "temperature": 41.5, "status": "cloudy" }),
    )];
    let produce = |security: ClientSecurity| {
        let url = url.clone();
        let record = record.clone();
        async move {
            RestProxyClient::with_security(&url, security, Duration::from_secs(10))
                .unwrap()
                .produce_avro(
                    "weather",
                    WeatherKey::schema_json(),
                    WeatherEvent::schema_json(),
                    &record,
                )
                .await
        }
    };

    let written = produce(as_user(&certs, "writer", WRITER_PASSWORD))
        .await
        .unwrap();
    assert_eq!(written.offsets[0].offset, Some(0));
    for (security, status) in [
        (as_user(&certs, "reader", READER_PASSWORD), 403),
        (as_user(&certs, "writer", WRONG_PASSWORD), 401),
        (ClientSecurity::none().with_ca_file(&certs.ca), 401),
    ] {
        match produce(security).await {
            Err(RestProxyError::Rejected {
                status: got,
                error_code,
                message,
            }) => {
                assert_eq!((got, u16::try_from(error_code).unwrap()), (status, status));
                assert_no_password("a refusal", &message);
            }
            other => panic!("expected a {status} refusal, got {other:?}"),
        }
    }
    assert_eq!(
        bus.offsets("weather", 0),
        Some((0, 1)),
        "only the writer's record"
    );
    let untrusted = produce(ClientSecurity::none()).await.unwrap_err();
    assert!(
        matches!(untrusted, RestProxyError::Transport { .. }),
        "{untrusted:?}"
    );

    server.stop(Duration::from_secs(10)).await.unwrap();
    assert_no_password("the log", &log.text());
}
