//! `transit registry` as Confluent runs its services: both servers on HTTPS (a test CA) with
//! basic auth (users from the environment), and `transit produce` reaching them with
//! Confluent's client settings from the environment. Then every log line of both processes,
//! their `--help`, and the servers' refusals are searched for the passwords.
//!
//! Needs the broker named by `TRANSIT_TEST_KAFKA` and the `transit` binary built beside the
//! test; `scripts/test.sh` provides both.

use std::time::Duration;

use transit_core::testing::unique_name;
use transit_http::{ClientSecurity, RegistryClient, UserInfo};
use transit_testkit::browser::built_binary;
use transit_testkit::http::free_address;
use transit_testkit::kafka::{broker_settings, brokers};
use transit_testkit::processes::{Launcher, LogDir};
use transit_testkit::tls::TestCertificates;

const WRITER_PASSWORD: &str = "wr1ter-Pa55-e2e-4b7";
const READER_PASSWORD: &str = "r3ader-Pa55-e2e-9c1";

fn assert_no_password(what: &str, text: &str) {
    for password in [WRITER_PASSWORD, READER_PASSWORD] {
        assert!(!text.contains(password), "{what} shows a password:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_and_rest_proxy_on_https_with_users_serve_the_producer() {
    let brokers = brokers();
    let binary = built_binary("transit", "cargo build --bin transit");
    let certs = TestCertificates::generate();
    let logs = LogDir::create("secured-services");
    let mut launcher = Launcher::new(binary.clone(), logs);
    launcher.env("RUST_LOG", "debug");
    let (registry_address, proxy_address) = (free_address(), free_address());
    let prefix = unique_name("secured").replace('-', "_");
    let mut kafka_args = vec!["--kafka".to_string(), brokers.clone()];
    for (key, value) in broker_settings() {
        kafka_args.extend(["-X".to_string(), format!("{key}={value}")]);
    }

    // The servers: certificate and users from the environment only.
    let mut registry_args = vec!["registry".to_string()];
    registry_args.extend(kafka_args.clone());
    registry_args.extend([
        "--registry-address".to_string(),
        registry_address.to_string(),
        "--rest-proxy-address".to_string(),
        proxy_address.to_string(),
        "--registry-topic".to_string(),
        format!("{prefix}_schemas"),
    ]);
    let server_env = [
        ("TRANSIT_TLS_CERT", certs.cert.display().to_string()),
        ("TRANSIT_TLS_KEY", certs.key.display().to_string()),
        (
            "TRANSIT_USERS",
            format!("producer: {WRITER_PASSWORD},write; reader: {READER_PASSWORD},read"),
        ),
    ];
    for (key, value) in &server_env {
        launcher.env(key, value);
    }
    let mut registry = launcher.start("registry", &registry_args);
    registry
        .wait_for_lines(&["listening", "tls=true"], 2, Duration::from_secs(60))
        .await;

    // The producer: Confluent's settings, the password from the environment.
    let registry_url = format!("https://localhost:{}", registry_address.port());
    let proxy_url = format!("https://localhost:{}", proxy_address.port());
    let mut producer_launcher = Launcher::new(binary.clone(), LogDir::create("secured-producer"));
    producer_launcher.env("RUST_LOG", "debug");
    let client_env = [
        (
            "TRANSIT_REGISTRY_USER_INFO",
            format!("producer:{WRITER_PASSWORD}"),
        ),
        ("TRANSIT_REGISTRY_CA", certs.ca.display().to_string()),
        (
            "TRANSIT_REST_PROXY_USER_INFO",
            format!("producer:{WRITER_PASSWORD}"),
        ),
        ("TRANSIT_REST_PROXY_CA", certs.ca.display().to_string()),
    ];
    for (key, value) in &client_env {
        producer_launcher.env(key, value);
    }
    let mut produce_args = vec!["produce".to_string()];
    produce_args.extend(kafka_args);
    produce_args.extend([
        "--registry-url".to_string(),
        registry_url.clone(),
        "--rest-proxy-url".to_string(),
        proxy_url,
        "--topic-prefix".to_string(),
        prefix,
        "--flat-out".to_string(),
        "--days".to_string(),
        "0.05".to_string(),
        "--partitions".to_string(),
        "1".to_string(),
    ]);
    let mut producer = producer_launcher.start("produce", &produce_args);
    let status = producer.wait_exit(Duration::from_secs(240)).await;
    assert!(
        status.success(),
        "transit produce failed:\n{}",
        producer.log()
    );

    // What it registered, read by the read-only user; a wrong password and a write refused.
    let reader = RegistryClient::with_security(
        &registry_url,
        ClientSecurity::none()
            .with_user_info(UserInfo::parse(&format!("reader:{READER_PASSWORD}"), "test").unwrap())
            .with_ca_file(&certs.ca),
        Duration::from_secs(5),
        Duration::from_secs(10),
    )
    .unwrap();
    let subjects = reader.subjects().await.unwrap();
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("weather") && s.ends_with("-value")),
        "the weather station's schema came through the REST Proxy: {subjects:?}"
    );
    assert!(subjects.len() >= 6, "{subjects:?}");
    let refused = reader
        .register_schema("nope-value", r#""string""#)
        .await
        .unwrap_err();
    let refused = transit_core::error_chain(&refused);
    assert!(refused.contains("403"), "{refused}");
    assert_no_password("a refusal", &refused);
    let raw = ClientSecurity::none()
        .with_ca_file(&certs.ca)
        .client_builder()
        .unwrap()
        .build()
        .unwrap();
    let answer = raw
        .get(format!("{registry_url}/subjects"))
        .basic_auth("reader", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);

    // --help with the secrets set shows none of them.
    for command in ["registry", "produce"] {
        let mut help = std::process::Command::new(&binary);
        help.args([command, "--help"]);
        for (key, value) in server_env.iter().chain(&client_env) {
            help.env(key, value);
        }
        let output = help.output().unwrap();
        assert!(output.status.success());
        assert_no_password(
            &format!("transit {command} --help"),
            &String::from_utf8_lossy(&output.stdout),
        );
    }

    registry.interrupt(Duration::from_secs(30)).await;
    let log = format!("{}\n{}", registry.log(), producer.log());
    assert!(log.contains("schema registered"), "{log}");
    assert_no_password("the processes' logs", &log);
    launcher.logs().remove();
    producer_launcher.logs().remove();
}
