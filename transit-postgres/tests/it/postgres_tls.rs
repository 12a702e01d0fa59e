//! The loader and the station source over TLS with a SCRAM password, against the local cluster
//! as `scripts/postgres.sh` sets it up: `ssl=on` with a certificate for localhost and 127.0.0.1
//! signed by the script's CA, and the role `transit_tls`, which may only log in over TLS with
//! its SCRAM-SHA-256 password (see [`Tls`]). Without the script's files the tests fail saying
//! how to make them: they never skip.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;
use transit_core::codec::SchemaRegistry;
use transit_core::error_chain;
use transit_core::network::EMBEDDED_STATIONS;
use transit_core::topics::Topics;
use transit_mem::{MemBus, MemRegistry};
use transit_postgres::loader::{create_table, load_csv};
use transit_postgres::source::{SourceConfig, StationSource};
use transit_postgres::{connect, ConnectError, ConnectOptions, SslMode};
use transit_testkit::postgres::{self, Tls, TLS_ROLE as ROLE};

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const CSV_ROWS: u64 = 230;

/// A schema of the test's own, owned by the TLS role, dropped at the end.
struct Schema {
    name: String,
    admin: Client,
}

impl Schema {
    async fn new(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let (_, admin) = postgres::connect(&postgres::url(ADMIN_URL)).await;
        let name = format!(
            "transit_tls_{tag}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin
            .batch_execute(&format!("CREATE SCHEMA {name} AUTHORIZATION {ROLE}"))
            .await
            .unwrap();
        Self { name, admin }
    }

    fn use_in(&self, options: &mut ConnectOptions) {
        options
            .config_mut()
            .options(format!("-c search_path={}", self.name));
    }

    async fn drop(self) {
        self.admin
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name))
            .await
            .unwrap();
    }
}

/// Whether the client's own connection is encrypted, as the server sees it.
async fn encrypted(client: &Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// Loads the stations over `options` and runs the source over them until the whole table is
/// on the raw topic.
async fn load_and_source(tag: &str, mut options: ConnectOptions) {
    let schema = Schema::new(tag).await;
    schema.use_in(&mut options);
    let mut client = connect(&options).await.unwrap();
    assert!(encrypted(&client).await, "the connection is encrypted");
    let user: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(user, ROLE);
    create_table(&client).await.unwrap();
    let report = load_csv(
        &mut client,
        "cta_stations.csv",
        EMBEDDED_STATIONS.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(report.inserted, CSV_ROWS);

    let bus = MemBus::new();
    let topics = Topics::default();
    let source = StationSource::new(
        options,
        Arc::new(bus.clone()),
        Arc::new(MemRegistry::new()) as Arc<dyn SchemaRegistry>,
        &topics,
        SourceConfig {
            name: format!("{tag}-source"),
            poll_interval: Duration::from_millis(50),
            ..SourceConfig::default()
        },
    );
    let shutdown = CancellationToken::new();
    let running = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { source.run(shutdown).await }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while bus
        .offsets(&topics.station_rows(), 0)
        .map_or(0, |(_, end)| end)
        < CSV_ROWS
    {
        assert!(
            Instant::now() < deadline,
            "the source published every row within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    let stats = running.await.unwrap().unwrap();
    assert_eq!(stats.published, CSV_ROWS);
    assert_eq!(stats.connections, 1, "{stats:?}");
    schema.drop().await;
}

#[tokio::test]
async fn sslmode_require_with_a_scram_password_loads_and_sources() {
    let tls = Tls::load();
    let options: ConnectOptions = tls.url("127.0.0.1", "sslmode=require").parse().unwrap();
    assert_eq!(options.ssl_mode(), SslMode::Require);
    load_and_source("require", options).await;
}

#[tokio::test]
async fn sslmode_verify_full_with_the_ca_loads_and_sources() {
    let tls = Tls::load();
    for host in ["localhost", "127.0.0.1"] {
        let options: ConnectOptions = tls
            .url(
                host,
                &format!("sslmode=verify-full&sslrootcert={}", tls.ca()),
            )
            .parse()
            .unwrap();
        load_and_source("verify_full", options).await;
    }
}

/// `channel_binding=require`: SCRAM-SHA-256-PLUS, bound to the server's certificate, so a
/// man in the middle with a certificate of its own cannot relay the password exchange.
#[tokio::test]
async fn key_value_strings_and_the_source_url_work_too() {
    let tls = Tls::load();
    let text = format!(
        "host=localhost port=5432 user={ROLE} password='{}' dbname=postgres sslmode=verify-full \
         sslrootcert='{}' channel_binding=require",
        tls.password,
        tls.ca()
    );
    let options: ConnectOptions = text.parse().unwrap();
    let client = connect(&options).await.unwrap();
    assert!(encrypted(&client).await);
    StationSource::from_url(
        &text,
        Arc::new(MemBus::new()),
        Arc::new(MemRegistry::new()),
        &Topics::default(),
        SourceConfig::default(),
    )
    .unwrap();
}

/// The error's whole chain, checked to hold `expected` and never the password.
fn refused(error: &ConnectError, expected: &str, password: &str) -> String {
    let chain = error_chain(error);
    assert!(
        chain.to_lowercase().contains(&expected.to_lowercase()),
        "the error says {expected:?}: {chain}"
    );
    assert!(!chain.contains(password), "the password is echoed: {chain}");
    assert!(
        !format!("{error:?}").contains(password),
        "the password is in the error's Debug: {error:?}"
    );
    chain
}

#[tokio::test]
async fn verify_full_refuses_a_server_signed_by_another_ca() {
    let tls = Tls::load();
    let options: ConnectOptions = tls
        .url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={}", tls.wrong_ca()),
        )
        .parse()
        .unwrap();
    let error = connect(&options).await.unwrap_err();
    let chain = refused(&error, "invalid peer certificate", &tls.password);
    assert!(chain.contains("UnknownIssuer"), "{chain}");
    assert!(chain.contains("localhost:5432"), "it says where: {chain}");
    // `require` with a root certificate checks it too, as libpq does.
    let options: ConnectOptions = tls
        .url(
            "localhost",
            &format!("sslmode=require&sslrootcert={}", tls.wrong_ca()),
        )
        .parse()
        .unwrap();
    let error = connect(&options).await.unwrap_err();
    refused(&error, "UnknownIssuer", &tls.password);
}

#[tokio::test]
async fn verify_full_refuses_a_certificate_for_another_host_name_and_verify_ca_does_not() {
    let tls = Tls::load();
    // Connect to 127.0.0.1 while asking for a name the certificate does not hold.
    let text = |mode: &str| {
        format!(
            "host=db.transit.invalid hostaddr=127.0.0.1 port=5432 user={ROLE} password={} \
             dbname=postgres sslmode={mode} sslrootcert={}",
            tls.password,
            tls.ca()
        )
    };
    let options: ConnectOptions = text("verify-full").parse().unwrap();
    let error = connect(&options).await.unwrap_err();
    let chain = refused(&error, "not valid for name", &tls.password);
    assert!(chain.contains("db.transit.invalid"), "{chain}");

    let options: ConnectOptions = text("verify-ca").parse().unwrap();
    let client = connect(&options).await.unwrap();
    assert!(encrypted(&client).await);
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_being_echoed() {
    let tls = Tls::load();
    let wrong = format!("wrong-{}", tls.password.chars().rev().collect::<String>());
    let url = format!(
        "postgres://{ROLE}:{wrong}@localhost:5432/postgres?sslmode=verify-full&sslrootcert={}",
        tls.ca()
    );
    let options: ConnectOptions = url.parse().unwrap();
    assert!(!options.to_string().contains(&wrong), "{options}");
    let error = connect(&options).await.unwrap_err();
    let chain = refused(&error, "password authentication failed", &wrong);
    assert!(chain.contains(ROLE), "it names the role: {chain}");
    assert!(!chain.contains(&tls.password));
}

#[tokio::test]
async fn the_role_cannot_log_in_without_tls() {
    let tls = Tls::load();
    let options: ConnectOptions = tls.url("127.0.0.1", "sslmode=disable").parse().unwrap();
    let error = connect(&options).await.unwrap_err();
    refused(&error, "no encryption", &tls.password);
}

/// A wrong password is a mistake no retry mends: the source ends at once with PostgreSQL's
/// refusal, and neither its error nor its log shows the password.
#[tokio::test]
async fn a_wrong_password_ends_the_source_without_showing_it() {
    let logs = super::postgres_source::Logs::capture_at(tracing::Level::DEBUG);

    let tls = Tls::load();
    let wrong = "not-the-Password-42";
    let url = format!(
        "postgres://{ROLE}:{wrong}@localhost:5432/postgres?sslmode=verify-full&sslrootcert={}",
        tls.ca()
    );
    let source = StationSource::from_url(
        &url,
        Arc::new(MemBus::new()),
        Arc::new(MemRegistry::new()),
        &Topics::default(),
        SourceConfig {
            retry_min: Duration::from_millis(50),
            retry_max: Duration::from_millis(100),
            ..SourceConfig::default()
        },
    )
    .unwrap();
    assert!(!format!("{source:?}").contains(wrong));
    let ended = tokio::time::timeout(
        Duration::from_secs(10),
        source.run(CancellationToken::new()),
    )
    .await
    .expect("the source ends at once");
    let error = ended.expect_err("a wrong password ends the source");
    assert!(
        matches!(error, transit_postgres::source::SourceError::Refused { .. }),
        "{error:?}"
    );
    let message = transit_core::error_chain(&error);
    assert!(
        message.contains("password authentication failed"),
        "{message}"
    );
    assert!(
        !message.contains(wrong),
        "the password is in the error: {message}"
    );
    let text = logs.text();
    assert!(
        !text.contains("retrying"),
        "a refusal is not retried: {text}"
    );
    assert!(!text.contains(wrong), "the password is in the log: {text}");
}
