//! The station loader and the station source against a real PostgreSQL (the local cluster, or
//! `TRANSIT_TEST_POSTGRES_URL`), on the in-memory bus and registry.
//!
//! Each test works in a schema of its own (`search_path` set through the connection's
//! `options`) and names its connections with an `application_name` of its own, so tests run in
//! parallel without seeing each other and a test can terminate only its own source's backends.
//! A PostgreSQL that cannot be reached fails the tests with a message saying how to start it:
//! they never skip.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, GenericClient};
use tokio_util::sync::CancellationToken;
use transit_core::bus::{Delivery, Record, SubscribeOptions};
use transit_core::codec::{SchemaRegistry, TopicCodec};
use transit_core::event::StationRow;
use transit_core::network::{embedded_station_rows, EMBEDDED_STATIONS};
use transit_core::topics::Topics;
use transit_core::{EventBus, EventBusExt};
use transit_mem::{MemBus, MemRegistry};
use transit_postgres::loader::{create_table, load_csv};
use transit_postgres::source::{
    SourceConfig, SourceError, SourceStats, StationSource, HEADER_SOURCE, HEADER_STOP_ID,
};

use transit_testkit::postgres;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Rows in the CTA's `cta_stations.csv`.
const CSV_ROWS: usize = 230;

/// How long a test waits for something that should happen within a few polls.
const PATIENCE: Duration = Duration::from_secs(20);

/// A schema of its own in the test database, and the connection settings that use it.
/// The tests share the local cluster; the one that restarts it has it to itself meanwhile.
static CLUSTER: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// How a test holds the cluster.
#[allow(dead_code)] // held for its drop only
enum ClusterUse {
    Shared(tokio::sync::RwLockReadGuard<'static, ()>),
    Exclusive(tokio::sync::RwLockWriteGuard<'static, ()>),
}

struct Db {
    schema: String,
    base: Config,
    admin: Client,
    _cluster: ClusterUse,
}

impl Db {
    async fn new(tag: &str) -> Self {
        Self::holding(tag, ClusterUse::Shared(CLUSTER.read().await)).await
    }

    /// A test database while no other test uses the cluster.
    async fn exclusive(tag: &str) -> Self {
        Self::holding(tag, ClusterUse::Exclusive(CLUSTER.write().await)).await
    }

    async fn holding(tag: &str, cluster: ClusterUse) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let (base, admin) = postgres::connect(&postgres::url(DEFAULT_URL)).await;
        let schema = format!(
            "transit_t_{tag}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        postgres::create_schema(&admin, &schema).await;
        Self {
            schema,
            base,
            admin,
            _cluster: cluster,
        }
    }

    /// Settings that use this test's schema, and name the connection after it.
    fn config(&self) -> Config {
        let mut config = self.base.clone();
        config.options(format!("-c search_path={}", self.schema));
        config.application_name(self.app());
        config
    }

    /// The `application_name` of this test's source connections.
    fn app(&self) -> String {
        format!("{}_src", self.schema)
    }

    /// Where the real server listens (for the proxy).
    fn server(&self) -> SocketAddr {
        let host = match self.base.get_hosts().first() {
            Some(Host::Tcp(host)) if host != "localhost" => host.clone(),
            _ => "127.0.0.1".to_string(),
        };
        let port = self.base.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}")
            .parse()
            .unwrap_or_else(|e| panic!("the test server's address {host}:{port}: {e}"))
    }

    /// A client in this test's schema (not named like the source's).
    async fn client(&self) -> Client {
        let mut config = self.config();
        config.application_name(format!("{}_test", self.schema));
        transit_postgres::connect(&config).await.unwrap()
    }

    /// A client with the table created.
    async fn with_table(&self) -> Client {
        let client = self.client().await;
        create_table(&client).await.unwrap();
        client
    }

    async fn drop_schema(self) {
        self.admin
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .await
            .unwrap();
    }

    /// Restarts the local PostgreSQL cluster the way its administrator would, and reconnects
    /// this test's own admin connection.
    async fn restart_cluster(&mut self) {
        let versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
            .expect(
                "restarting the database needs the local Debian cluster (/etc/postgresql and \
                 pg_ctlcluster); this test does not skip without it",
            )
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .collect();
        for version in versions {
            let status = tokio::process::Command::new("pg_ctlcluster")
                .args(["--skip-systemctl-redirect", &version, "main", "restart"])
                .status()
                .await
                .expect("running pg_ctlcluster");
            assert!(
                status.success(),
                "pg_ctlcluster {version} main restart: {status}"
            );
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        self.admin = loop {
            match transit_postgres::connect(&self.base).await {
                Ok(client) => break client,
                Err(error) => {
                    assert!(
                        Instant::now() < deadline,
                        "the cluster never came back: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
    }
}

/// The in-memory bus and registry a test's sources share.
struct Bed {
    bus: MemBus,
    registry: Arc<MemRegistry>,
    topics: Topics,
}

impl Bed {
    fn new() -> Self {
        Self {
            bus: MemBus::new(),
            registry: Arc::new(MemRegistry::new()),
            topics: Topics::default(),
        }
    }

    fn start(&self, pg: Config, config: SourceConfig) -> Running {
        let source = StationSource::new(
            pg,
            Arc::new(self.bus.clone()),
            Arc::clone(&self.registry) as Arc<dyn SchemaRegistry>,
            &self.topics,
            config,
        );
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let task = tokio::spawn(async move { source.run(token).await });
        Running { shutdown, task }
    }

    /// Every record on the raw topic: its `stop_id` (from the value) and source header.
    async fn raw(&self) -> Vec<(u32, Option<String>)> {
        let topic = self.topics.station_rows();
        let codec = TopicCodec::<StationRow>::register(
            Arc::clone(&self.registry) as Arc<dyn SchemaRegistry>,
            topic.clone(),
        )
        .await
        .unwrap();
        let mut out = Vec::new();
        for delivery in read_all(&self.bus, &topic).await {
            let (_key, row) = codec.decode(&delivery).await.unwrap();
            let header = delivery
                .header(HEADER_SOURCE)
                .map(|v| String::from_utf8_lossy(v).into_owned());
            let stop_header = delivery
                .header(HEADER_STOP_ID)
                .map(|v| String::from_utf8_lossy(v).into_owned());
            assert_eq!(stop_header, Some(row.stop_id.to_string()));
            out.push((row.stop_id, header));
        }
        out
    }

    /// The raw topic's `stop_id`s, in publish order.
    async fn stop_ids(&self) -> Vec<u32> {
        self.raw().await.into_iter().map(|(id, _)| id).collect()
    }

    /// Waits until the raw topic holds at least `count` records; returns their `stop_id`s.
    async fn wait_for(&self, count: usize) -> Vec<u32> {
        let started = Instant::now();
        loop {
            let ids = self.stop_ids().await;
            if ids.len() >= count {
                return ids;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{} of {count} rows on the raw topic after {PATIENCE:?}",
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The positions stored on the offsets topic, by source name.
    async fn stored_positions(&self) -> BTreeMap<String, String> {
        read_all(&self.bus, &self.topics.connect_offsets())
            .await
            .into_iter()
            .filter_map(|d| {
                let key = String::from_utf8_lossy(d.key.as_deref()?).into_owned();
                let value = String::from_utf8_lossy(d.value.as_deref()?).into_owned();
                Some((key, value))
            })
            .collect()
    }
}

/// Every record of `topic` (partition 0) published so far.
async fn read_all(bus: &MemBus, topic: &str) -> Vec<Delivery> {
    let Some((_, end)) = bus.offsets(topic, 0) else {
        return Vec::new();
    };
    if end == 0 {
        return Vec::new();
    }
    let mut consumer = bus
        .subscribe(SubscribeOptions::topics([topic]))
        .await
        .unwrap();
    let mut out = Vec::new();
    loop {
        let delivery = tokio::time::timeout(Duration::from_secs(5), consumer.recv())
            .await
            .expect("a record within 5 s")
            .expect("the bus is open")
            .unwrap();
        // A compacted topic may have dropped records: stop at the last offset, not a count.
        let last = delivery.offset + 1 >= end;
        if delivery.offset < end {
            out.push(delivery);
        }
        if last {
            return out;
        }
    }
}

/// A source running on its own task.
struct Running {
    shutdown: CancellationToken,
    task: JoinHandle<Result<SourceStats, SourceError>>,
}

impl Running {
    async fn stop(self) -> SourceStats {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the source stops within 10 s of shutdown")
            .expect("the source's task does not panic")
            .expect("the source stops without an error")
    }
}

fn config(name: &str) -> SourceConfig {
    SourceConfig {
        name: name.to_string(),
        poll_interval: Duration::from_millis(100),
        batch_size: 64,
        rescan_every: None,
        retry_min: Duration::from_millis(50),
        retry_max: Duration::from_millis(400),
        query_timeout: Duration::from_secs(5),
    }
}

/// Inserts a made-up station row with this `stop_id`.
async fn insert(client: &(impl GenericClient + Sync), stop_id: i32) {
    client
        .execute(
            r#"INSERT INTO stations (stop_id, direction_id, stop_name, station_name,
                   station_descriptive_name, station_id, "order", red, blue, green)
               VALUES ($1, 'N', 'Test stop', 'Test', 'Test (Blue Line)', $2, 99, false, true, false)"#,
            &[&stop_id, &(40_000 + stop_id % 1000)],
        )
        .await
        .unwrap();
}

async fn load_embedded(client: &mut Client) {
    let report = load_csv(client, "cta_stations.csv", EMBEDDED_STATIONS.as_bytes())
        .await
        .unwrap();
    assert_eq!(report.inserted, CSV_ROWS as u64);
}

fn assert_unique(ids: &[u32]) {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        ids.len(),
        "duplicates on the raw topic: {ids:?}"
    );
}

fn csv_stop_ids() -> Vec<u32> {
    let mut ids: Vec<u32> = embedded_station_rows()
        .unwrap()
        .iter()
        .map(|r| r.stop_id)
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn loader_is_idempotent_and_loads_the_whole_csv() {
    let db = Db::new("load").await;
    let mut client = db.with_table().await;
    // Creating the table again is harmless too.
    create_table(&client).await.unwrap();

    let first = load_csv(
        &mut client,
        "cta_stations.csv",
        EMBEDDED_STATIONS.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(first.rows, CSV_ROWS as u64);
    assert_eq!(first.inserted, CSV_ROWS as u64);
    assert_eq!(first.already_present, 0);
    assert!(first.rejected.is_empty(), "{:?}", first.rejected);

    let second = load_csv(
        &mut client,
        "cta_stations.csv",
        EMBEDDED_STATIONS.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(second.inserted, 0);
    assert_eq!(second.already_present, CSV_ROWS as u64);

    let count: i64 = client
        .query_one("SELECT count(*) FROM stations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, CSV_ROWS as i64);
    // The rows are the CSV's, column for column.
    let first_row = embedded_station_rows().unwrap().remove(0);
    let row = client
        .query_one(
            r#"SELECT direction_id, stop_name, station_id, "order", red, blue, green
               FROM stations WHERE stop_id = $1"#,
            &[&(first_row.stop_id as i32)],
        )
        .await
        .unwrap();
    let expected = first_row;
    assert_eq!(row.get::<_, String>(0), expected.direction_id);
    assert_eq!(row.get::<_, String>(1), expected.stop_name);
    assert_eq!(row.get::<_, i32>(2) as u32, expected.station_id.0);
    assert_eq!(row.get::<_, i32>(3) as u32, expected.order);
    assert_eq!(
        (row.get(4), row.get(5), row.get(6)),
        (expected.red, expected.blue, expected.green)
    );
    db.drop_schema().await;
}

#[tokio::test]
async fn loader_skips_bad_rows_reports_their_lines_and_loads_the_rest() {
    let db = Db::new("badrows").await;
    let mut client = db.with_table().await;
    let csv = "stop_id,direction_id,stop_name,station_name,station_descriptive_name,station_id,order,red,blue,green\n\
        1,N,Good one,One,One (Blue Line),40001,1,FALSE,TRUE,FALSE\n\
        two,S,Bad id,Two,Two (Blue Line),40002,2,FALSE,TRUE,FALSE\n\
        3,S,Good three,Three,Three (Blue Line),40003,3,FALSE,TRUE,FALSE\n\
        4,S,Short row,Four,Four (Blue Line),40004,4,FALSE,TRUE\n\
        5,E,Bad flag,Five,Five (Blue Line),40005,5,FALSE,maybe,FALSE\n\
        6,W,Nul \0 byte,Six,Six (Blue Line),40006,6,FALSE,TRUE,FALSE\n\
        7,W,Good seven,Seven,Seven (Blue Line),40007,7,TRUE,FALSE,FALSE\n\
        1,N,Same stop again,One,One (Blue Line),40001,1,FALSE,TRUE,FALSE\n";
    let report = load_csv(&mut client, "mine.csv", csv.as_bytes())
        .await
        .unwrap();
    assert_eq!(report.rows, 8);
    assert_eq!(
        report.rejected_lines(),
        [3, 5, 6, 7],
        "{:?}",
        report.rejected
    );
    assert_eq!(report.inserted, 3);
    assert_eq!(report.already_present, 1);
    let messages: Vec<String> = report.rejected.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages[0],
        r#"mine.csv line 3: stop_id "two" is not a number"#
    );
    assert!(messages[2].contains(r#"blue "maybe" is not TRUE or FALSE"#));
    assert!(
        messages[3].starts_with("mine.csv line 7: refused by the database"),
        "{}",
        messages[3]
    );

    let ids: Vec<i32> = client
        .query("SELECT stop_id FROM stations ORDER BY stop_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, [1, 3, 7]);
    let name: String = client
        .query_one("SELECT stop_name FROM stations WHERE stop_id = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        name, "Good one",
        "a second row with the same stop_id changes nothing"
    );
    db.drop_schema().await;
}

#[tokio::test]
async fn source_publishes_every_row_once_and_stores_its_position() {
    let db = Db::new("once").await;
    let mut client = db.with_table().await;
    load_embedded(&mut client).await;
    let bed = Bed::new();
    let running = bed.start(db.config(), config("once"));

    let ids = bed.wait_for(CSV_ROWS).await;
    // A few more polls: nothing else may appear.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stats = running.stop().await;

    let raw = bed.raw().await;
    assert_eq!(raw.len(), CSV_ROWS);
    assert!(raw.iter().all(|(_, s)| s.as_deref() == Some("once")));
    assert_unique(&ids);
    assert_eq!(ids, csv_stop_ids(), "published in stop_id order, every row");
    assert_eq!(stats.published, CSV_ROWS as u64);
    assert_eq!(stats.restored_position, None);
    let max = i64::from(*csv_stop_ids().last().unwrap());
    assert_eq!(stats.position, Some(max));
    assert_eq!(
        bed.stored_positions().await.get("once").map(String::as_str),
        Some(format!(r#"{{"incrementing":{max}}}"#).as_str())
    );

    // The values are the table's rows, keyed by station as the station processor expects.
    let codec = TopicCodec::<StationRow>::register(
        Arc::clone(&bed.registry) as Arc<dyn SchemaRegistry>,
        bed.topics.station_rows(),
    )
    .await
    .unwrap();
    let expected: BTreeMap<u32, StationRow> = embedded_station_rows()
        .unwrap()
        .into_iter()
        .map(|r| (r.stop_id, r))
        .collect();
    for delivery in read_all(&bed.bus, &bed.topics.station_rows()).await {
        let (key, row) = codec.decode(&delivery).await.unwrap();
        assert_eq!(key.station_id, row.station_id);
        assert_eq!(Some(&row), expected.get(&row.stop_id));
    }
    db.drop_schema().await;
}

#[tokio::test]
async fn a_row_inserted_while_running_appears_within_a_poll_interval() {
    let db = Db::new("live").await;
    let mut client = db.with_table().await;
    load_embedded(&mut client).await;
    let bed = Bed::new();
    let running = bed.start(db.config(), config("live"));
    bed.wait_for(CSV_ROWS).await;

    let inserted = Instant::now();
    insert(&client, 99_001).await;
    let ids = bed.wait_for(CSV_ROWS + 1).await;
    let took = inserted.elapsed();
    assert_eq!(ids.last(), Some(&99_001));
    // One poll interval (100 ms) plus generous room for a shared, busy machine.
    assert!(took < Duration::from_secs(2), "took {took:?}");

    insert(&client, 99_002).await;
    insert(&client, 99_003).await;
    let ids = bed.wait_for(CSV_ROWS + 3).await;
    let stats = running.stop().await;
    assert_unique(&ids);
    assert_eq!(&ids[CSV_ROWS..], [99_001, 99_002, 99_003]);
    assert_eq!(stats.published, CSV_ROWS as u64 + 3);
    db.drop_schema().await;
}

#[tokio::test]
async fn a_restart_publishes_only_the_rows_added_while_stopped() {
    let db = Db::new("restart").await;
    let mut client = db.with_table().await;
    load_embedded(&mut client).await;
    let bed = Bed::new();
    let running = bed.start(db.config(), config("restart"));
    bed.wait_for(CSV_ROWS).await;
    running.stop().await;

    insert(&client, 99_010).await;
    insert(&client, 99_011).await;
    let running = bed.start(db.config(), config("restart"));
    bed.wait_for(CSV_ROWS + 2).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stats = running.stop().await;

    let ids = bed.stop_ids().await;
    assert_eq!(ids.len(), CSV_ROWS + 2);
    assert_unique(&ids);
    assert_eq!(&ids[CSV_ROWS..], [99_010, 99_011]);
    let max = i64::from(*csv_stop_ids().last().unwrap());
    assert_eq!(stats.restored_position, Some(max));
    assert_eq!(stats.published, 2);
    assert_eq!(stats.position, Some(99_011));
    db.drop_schema().await;
}

#[tokio::test]
async fn a_crash_before_the_position_was_stored_publishes_no_duplicate() {
    let db = Db::new("crash").await;
    let mut client = db.with_table().await;
    load_embedded(&mut client).await;
    let bed = Bed::new();
    let running = bed.start(db.config(), config("crash"));
    bed.wait_for(CSV_ROWS).await;
    running.stop().await;

    // The position record lost (a tombstone): as if the source died right after publishing.
    let offsets = bed.topics.connect_offsets();
    let tombstone = Record {
        key: Some(b"crash".to_vec().into()),
        ..Record::default()
    };
    bed.bus.publish(&offsets, tombstone).await.unwrap();
    insert(&client, 99_020).await;
    let running = bed.start(db.config(), config("crash"));
    bed.wait_for(CSV_ROWS + 1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stats = running.stop().await;
    let max = i64::from(*csv_stop_ids().last().unwrap());
    assert_eq!(
        stats.restored_position,
        Some(max),
        "restored from the raw topic"
    );
    assert_eq!(stats.published, 1);
    assert_eq!(
        bed.stored_positions()
            .await
            .get("crash")
            .map(String::as_str),
        Some(r#"{"incrementing":99020}"#)
    );

    // A position behind what is on the topic (stored before the last batch was published).
    let behind = Record::new(&b"crash"[..], &br#"{"incrementing":30000}"#[..], 0);
    bed.bus.publish(&offsets, behind).await.unwrap();
    insert(&client, 99_021).await;
    let running = bed.start(db.config(), config("crash"));
    bed.wait_for(CSV_ROWS + 2).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stats = running.stop().await;
    assert_eq!(stats.restored_position, Some(99_020));
    assert_eq!(stats.published, 1);

    let ids = bed.stop_ids().await;
    assert_eq!(ids.len(), CSV_ROWS + 2);
    assert_unique(&ids);
    db.drop_schema().await;
}

/// A TCP proxy in front of PostgreSQL that can be taken down (refusing and cutting
/// connections) and brought back: a database outage that touches nothing else.
struct Proxy {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: SocketAddr, up: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(up));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let up = Arc::clone(&up);
            let connections = Arc::clone(&connections);
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let forward = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    connections.lock().unwrap().push(forward);
                }
            }
        });
        Self {
            address,
            up,
            connections,
            accept,
        }
    }

    /// Settings like `config`'s, through the proxy (`Config::host` adds a host rather than
    /// replacing one, so the settings are copied into a fresh `Config`).
    fn config(&self, config: &Config) -> Config {
        let mut through = Config::new();
        if let Some(user) = config.get_user() {
            through.user(user);
        }
        if let Some(password) = config.get_password() {
            through.password(password);
        }
        if let Some(dbname) = config.get_dbname() {
            through.dbname(dbname);
        }
        if let Some(options) = config.get_options() {
            through.options(options);
        }
        if let Some(name) = config.get_application_name() {
            through.application_name(name);
        }
        through.host(self.address.ip().to_string());
        through.port(self.address.port());
        through
    }

    fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// Refuses new connections and cuts the open ones.
    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Log lines, captured from a subscriber set for the test's (single) thread.
#[derive(Clone, Default)]
pub(super) struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Captures the log of this thread (the default current-thread runtime runs the source's
    /// task here too) until the returned guard is dropped.
    fn capture() -> CapturedLogs {
        Self::capture_at(tracing::Level::INFO)
    }

    /// [`Logs::capture`], of the lines at `level` and above.
    pub(super) fn capture_at(level: tracing::Level) -> CapturedLogs {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_ansi(false)
            .with_max_level(level)
            .finish();
        CapturedLogs {
            _guard: tracing::subscriber::set_default(subscriber),
            logs,
        }
    }

    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Logs being captured, and the guard that keeps capturing them.
pub(super) struct CapturedLogs {
    _guard: tracing::subscriber::DefaultGuard,
    logs: Logs,
}

impl std::ops::Deref for CapturedLogs {
    type Target = Logs;

    fn deref(&self) -> &Logs {
        &self.logs
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn the_source_waits_for_postgres_and_rides_out_an_outage() {
    // The default (current-thread) runtime runs the source's task on this thread, where the
    // subscriber is set.
    let logs = Logs::capture();

    let db = Db::new("outage").await;
    let mut client = db.with_table().await;
    let proxy = Proxy::start(db.server(), false).await;
    let bed = Bed::new();
    let running = bed.start(proxy.config(&db.config()), config("outage"));

    // Down at start: it keeps trying, says so, and does not exit.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(!running.task.is_finished(), "the source must not exit");
    assert!(bed.stop_ids().await.is_empty());
    let text = logs.text();
    assert!(
        text.contains("WARN") && text.contains("PostgreSQL unavailable; retrying"),
        "{text}"
    );
    // The proxy hangs up at once: on the TLS request (`sslmode=prefer`, the default, asks
    // for TLS first) that reads as an early end of the stream.
    assert!(
        text.contains("error=connecting: error communicating with the server: early eof"),
        "the warning says why: {text}"
    );

    load_embedded(&mut client).await;
    proxy.up();
    bed.wait_for(CSV_ROWS).await;

    // Down mid-run: rows inserted meanwhile are published once it is back.
    proxy.down();
    insert(&client, 99_030).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(bed.stop_ids().await.len(), CSV_ROWS);
    assert!(!running.task.is_finished(), "the source must not exit");
    proxy.up();
    let ids = bed.wait_for(CSV_ROWS + 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = running.stop().await;

    assert_unique(&ids);
    assert_eq!(ids.len(), CSV_ROWS + 1);
    assert_eq!(ids.last(), Some(&99_030));
    assert!(stats.retries >= 2, "{stats:?}");
    assert!(logs.text().contains("PostgreSQL reachable again"));
    db.drop_schema().await;
}

#[tokio::test]
async fn the_source_reconnects_after_its_backend_is_terminated() {
    let logs = Logs::capture();
    let db = Db::new("terminate").await;
    let mut client = db.with_table().await;
    load_embedded(&mut client).await;
    let bed = Bed::new();
    let running = bed.start(db.config(), config("terminate"));
    bed.wait_for(CSV_ROWS).await;

    // What a database restart does to the source: its backend goes away under it.
    let terminated: i64 = db
        .admin
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1) AS t",
            &[&db.app()],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        terminated >= 1,
        "the source's connection was found and terminated"
    );
    insert(&client, 99_040).await;
    let ids = bed.wait_for(CSV_ROWS + 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = running.stop().await;

    assert_unique(&ids);
    assert_eq!(ids.last(), Some(&99_040));
    assert!(stats.connections >= 2, "reconnected: {stats:?}");
    assert_eq!(stats.published, CSV_ROWS as u64 + 1);
    assert!(
        logs.text()
            .contains("PostgreSQL connection lost; reconnecting"),
        "{}",
        logs.text()
    );
    db.drop_schema().await;
}

/// Commits stop 150 after stop 200 was read: incrementing mode alone never sees it.
async fn commit_out_of_order(db: &Db, bed: &Bed, client: &Client) {
    insert(client, 100).await;
    bed.wait_for(1).await;
    let mut late = db.client().await;
    let transaction = late.transaction().await.unwrap();
    insert(&transaction, 150).await;
    insert(client, 200).await;
    bed.wait_for(2).await;
    transaction.commit().await.unwrap();
}

#[tokio::test]
async fn the_rescan_publishes_a_row_committed_out_of_order_once() {
    let db = Db::new("rescan").await;
    let client = db.with_table().await;
    let bed = Bed::new();
    let mut settings = config("rescan");
    settings.rescan_every = Some(Duration::from_millis(300));
    let running = bed.start(db.config(), settings.clone());
    commit_out_of_order(&db, &bed, &client).await;

    let ids = bed.wait_for(3).await;
    assert_eq!(ids, [100, 200, 150]);
    insert(&client, 300).await;
    bed.wait_for(4).await;
    // Several more re-scans: nothing is published again.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let stats = running.stop().await;
    assert_eq!(bed.stop_ids().await, [100, 200, 150, 300]);
    assert_eq!(stats.rescanned, 1);
    assert_eq!(stats.published, 4);

    // After a restart the re-scan knows what is on the topic.
    let running = bed.start(db.config(), settings);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let stats = running.stop().await;
    assert_eq!(stats.published, 0);
    assert_eq!(bed.stop_ids().await, [100, 200, 150, 300]);
    db.drop_schema().await;
}

#[tokio::test]
async fn without_the_rescan_a_row_committed_out_of_order_is_missed() {
    // The documented limit of incrementing mode, which the re-scan exists for.
    let db = Db::new("norescan").await;
    let client = db.with_table().await;
    let bed = Bed::new();
    let running = bed.start(db.config(), config("norescan"));
    commit_out_of_order(&db, &bed, &client).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let stats = running.stop().await;
    assert_eq!(bed.stop_ids().await, [100, 200]);
    assert_eq!(stats.rescanned, 0);
    db.drop_schema().await;
}

#[tokio::test]
async fn invalid_rows_in_a_foreign_table_are_skipped_and_the_rest_published() {
    // A table someone else made, without the loader's NOT NULLs.
    let db = Db::new("foreign").await;
    let client = db.client().await;
    client
        .batch_execute(
            r#"CREATE TABLE stations (stop_id integer PRIMARY KEY, direction_id text,
                   stop_name text, station_name text, station_descriptive_name text,
                   station_id integer, "order" integer, red boolean, blue boolean, green boolean);
               INSERT INTO stations VALUES
                   (-5, 'N', 'a', 'b', 'c', 40000, 1, false, true, false),
                   (1, 'N', 'a', 'b', 'c', 40001, 1, false, true, false),
                   (2, 'N', NULL, 'b', 'c', 40002, 2, false, true, false),
                   (3, 'N', 'a', 'b', 'c', -1, 3, false, true, false),
                   (4, 'S', 'a', 'b', 'c', 40004, 4, false, true, NULL),
                   (5, 'S', 'a', 'b', 'c', 40005, 5, false, true, false);"#,
        )
        .await
        .unwrap();
    let bed = Bed::new();
    let mut settings = config("foreign");
    settings.rescan_every = Some(Duration::from_millis(100));
    let running = bed.start(db.config(), settings);
    bed.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = running.stop().await;
    assert_eq!(bed.stop_ids().await, [1, 5]);
    assert_eq!(stats.rejected, 4, "each bad row reported once: {stats:?}");
    assert_eq!(stats.position, Some(5));
    db.drop_schema().await;
}

/// A real restart of the database server while the source polls it: it retries, reconnects,
/// keeps its position and publishes what was inserted after the restart, once.
#[tokio::test]
async fn the_source_rides_out_a_restart_of_the_database_server() {
    let logs = Logs::capture();
    let mut db = Db::exclusive("restart").await;
    let mut client = db.with_table().await;
    load_embedded(&mut client).await;
    drop(client);
    let bed = Bed::new();
    let running = bed.start(db.config(), config("restart"));
    bed.wait_for(CSV_ROWS).await;

    db.restart_cluster().await;
    let client = db.client().await;
    insert(&client, 99_050).await;
    let ids = bed.wait_for(CSV_ROWS + 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = running.stop().await;

    assert_unique(&ids);
    assert_eq!(ids.last(), Some(&99_050));
    assert!(stats.connections >= 2, "reconnected: {stats:?}");
    assert_eq!(stats.published, CSV_ROWS as u64 + 1);
    let text = logs.text();
    assert!(
        text.contains("PostgreSQL connection lost; reconnecting")
            || text.contains("PostgreSQL unavailable; retrying"),
        "the source said it lost the database: {text}"
    );
    drop(client);
    db.drop_schema().await;
}

/// A table that does not exist, or a database, is a mistake in the settings: the source ends at
/// once saying so, where an outage would be waited for.
#[tokio::test]
async fn a_missing_table_or_database_ends_the_source_at_once() {
    let db = Db::new("missing").await;
    let bed = Bed::new();
    // The schema has no stations table.
    let running = bed.start(db.config(), config("missing-table"));
    let ended = tokio::time::timeout(Duration::from_secs(10), running.task)
        .await
        .expect("the source ends at once")
        .expect("the source's task does not panic");
    match ended {
        Err(SourceError::Refused { message }) => {
            assert!(message.contains("does not exist"), "{message}")
        }
        other => panic!("not a refusal: {other:?}"),
    }

    let mut elsewhere = db.config();
    elsewhere.dbname("transit_no_such_database");
    let error = transit_postgres::connect(&elsewhere).await.unwrap_err();
    assert!(error.is_permanent(), "{error:?}");
    let running = bed.start(elsewhere, config("missing-database"));
    let ended = tokio::time::timeout(Duration::from_secs(10), running.task)
        .await
        .expect("the source ends at once")
        .expect("the source's task does not panic");
    assert!(
        matches!(ended, Err(SourceError::Refused { .. })),
        "{ended:?}"
    );

    // Nothing listening is an outage, not a mistake.
    let mut closed = Config::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    closed.host("127.0.0.1").port(port).user("postgres");
    let error = transit_postgres::connect(&closed).await.unwrap_err();
    assert!(!error.is_permanent(), "{error:?}");
    db.drop_schema().await;
}
