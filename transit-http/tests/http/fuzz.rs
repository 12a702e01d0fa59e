//! Every route of every server under random requests: a seeded, bounded fuzz test.
//!
//! The dashboard (with its feeds, Train Tracker and the what-if controls of a running
//! simulation), the schema registry and the REST Proxy, all over the in-memory bus, get a few
//! thousand requests with random query strings, path parameters and bodies (random bytes,
//! control characters, invalid UTF-8, `]]>`, CRLF, mutated valid bodies), plus requests whose
//! raw request line carries bytes no client library would send. Every answer must be below 500,
//! well-formed for its content type (XML, JSON, GTFS-realtime protobuf), and free of CR/LF in
//! its headers; the servers must keep answering. `TRANSIT_FUZZ_SEED` replays another seed (the
//! seed is printed).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use transit_core::bus::TopicSpec;
use transit_core::codec::SchemaRegistry;
use transit_core::network::{embedded_station_rows, Network, Ridership};
use transit_core::EventBus;
use transit_gtfs::realtime::proto::FeedMessage;
use transit_http::dashboard::{self, Dashboard};
use transit_http::rest_proxy::RestProxyConfig;
use transit_http::what_if::{WhatIfControl, WhatIfToken};
use transit_mem::{MemBus, MemRegistry};
use transit_registry::DEFAULT_TOPIC;
use transit_sim::driver::{DriverConfig, Pace};
use transit_sim::pipeline::{self, PipelineConfig};
use transit_sim::what_if::WhatIfs;
use transit_sim::{SimConfig, Simulation};
use transit_testkit::registry::RegistryServer;
use transit_testkit::rest_proxy::ProxyServer;

/// Requests through the HTTP client.
const REQUESTS: usize = 3000;
/// Requests with raw bytes in the request line.
const RAW_REQUESTS: usize = 300;
/// The whole test's bound.
const BUDGET: Duration = Duration::from_secs(50);

/// SplitMix64: small, seeded, the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Pieces queries and path parameters are made of: names and values the routes know, and
/// what breaks documents (percent-encoded, as they travel in a URL).
const PIECES: &[&str] = &[
    "runnumber=",
    "mapid=",
    "stpid=",
    "rt=",
    "max=",
    "key=",
    "outputType=JSON",
    "outputType=xml",
    "outputType=",
    "format=json",
    "format=pb",
    "format=",
    "=",
    "&",
    ",",
    "40380",
    "30171",
    "107",
    "812",
    "Red",
    "blue",
    "G",
    "-1",
    "0",
    "99999999999999999999999",
    "%00",
    "%01",
    "%1B",
    "%7F",
    "%0D%0A",
    "%0D%0AX-Injected:%20yes",
    "%0A",
    "%09",
    "]]%3E",
    "%3C!%5BCDATA%5B",
    "%3C",
    "%3E",
    "%26",
    "%22",
    "'",
    "%FF",
    "%FE%FF",
    "%C0%80",
    "%ED%A0%80",
    "%EF%BF%BF",
    "%EF%BF%BE",
    "%E2%80%A8",
    "%F0%9F%9A%86",
    "%25",
    "%",
    "%G0",
    "+",
    "..%2F",
    "\u{e9}",
];

/// A random percent-encoded byte string.
fn random_bytes_encoded(rng: &mut Rng, max: usize) -> String {
    let len = rng.below(max + 1);
    (0..len)
        .map(|_| format!("%{:02X}", rng.below(256)))
        .collect()
}

/// A random query string (without the `?`).
fn random_query(rng: &mut Rng) -> String {
    let mut query = String::new();
    for _ in 0..rng.below(8) {
        if rng.chance(20) {
            query.push_str(&random_bytes_encoded(rng, 6));
        } else {
            query.push_str(rng.pick(PIECES));
        }
    }
    query
}

/// A random path segment (percent-encoded; never empty, never a bare `/`).
fn random_segment(rng: &mut Rng) -> String {
    let mut segment = String::new();
    for _ in 0..1 + rng.below(3) {
        match rng.below(4) {
            0 => segment.push_str(&random_bytes_encoded(rng, 5)),
            1 => segment.push_str(&rng.below(100_000).to_string()),
            2 => segment.push_str(rng.pick(&["latest", "-1", "1", "arrivals-value", "x"])),
            _ => segment.push_str(&rng.pick(PIECES).replace(['&', '=', ','], "")),
        }
    }
    if segment.is_empty() {
        segment.push('x');
    }
    segment
}

/// Valid bodies of the routes that take one, to mutate.
const BODIES: &[&str] = &[
    r#"{"kind":"break_down","train":"BL007","minutes":10}"#,
    r#"{"kind":"out_of_service","train":"RL012","at":"2026-11-02T08:00"}"#,
    r#"{"kind":"delay","line":"blue","station":40380,"direction":"a","seconds":300}"#,
    r#"{"schema":"{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}"}"#,
    r#"{"schema":"\"string\""}"#,
    r#"{"compatibility":"BACKWARD"}"#,
    r#"{"value_schema_id":1,"key_schema_id":2,"records":[{"key":{"timestamp":1},"value":{"temperature":12.5,"status":"sunny"}}]}"#,
    r#"{"value_schema":"\"string\"","records":[{"value":"x"}]}"#,
    r#"{"records":[{"value":{"a":1}}]}"#,
    "[]",
    "{}",
    "null",
];

/// A random body: a valid one mutated, or random bytes.
fn random_body(rng: &mut Rng) -> Vec<u8> {
    if rng.chance(15) {
        let len = rng.below(64);
        return (0..len).map(|_| rng.next() as u8).collect();
    }
    let mut body = rng.pick(BODIES).as_bytes().to_vec();
    for _ in 0..rng.below(4) {
        let at = rng.below(body.len() + 1);
        match rng.below(4) {
            0 => body.truncate(at),
            1 => body.insert(at, rng.next() as u8),
            2 => {
                let piece: &[u8] = rng.pick(&[
                    &b"\x00"[..],
                    b"\r\n",
                    b"]]>",
                    b"\xff\xfe",
                    b"\\u0000",
                    b"\"",
                    b"99999999999999999999999999",
                    b"-1",
                    b"{",
                    b"}",
                ]);
                body.splice(at..at, piece.iter().copied());
            }
            _ => {
                if at < body.len() {
                    body.remove(at);
                }
            }
        }
    }
    body
}

/// The servers under test.
struct Servers {
    dashboard: SocketAddr,
    /// A dashboard whose what-ifs act as off loopback: a bearer token needed.
    guarded: SocketAddr,
    registry: RegistryServer,
    proxy: ProxyServer,
}

/// One request's shape: which server, the method, the path (with `{}` for parameters).
struct Route {
    server: usize,
    method: &'static str,
    path: &'static str,
}

const DASHBOARD: usize = 0;
const REGISTRY: usize = 1;
const PROXY: usize = 2;
const GUARDED: usize = 3;

/// The guarded dashboard's what-if token.
const TOKEN: &str = "fuzz-what-if-token-0123456789";

const ROUTES: &[Route] = &[
    route(DASHBOARD, "GET", "/"),
    route(DASHBOARD, "GET", "/api/status"),
    route(DASHBOARD, "GET", "/healthz"),
    route(DASHBOARD, "GET", "/metrics"),
    route(DASHBOARD, "GET", "/gtfs/static.zip"),
    route(DASHBOARD, "GET", "/gtfs-rt/vehicle-positions"),
    route(DASHBOARD, "GET", "/gtfs-rt/trip-updates"),
    route(DASHBOARD, "GET", "/api/1.0/ttarrivals.aspx"),
    route(DASHBOARD, "GET", "/api/1.0/ttpositions.aspx"),
    route(DASHBOARD, "GET", "/api/1.0/ttfollow.aspx"),
    route(DASHBOARD, "GET", "/api/1.0/ttfollow.aspx"),
    route(DASHBOARD, "GET", "/api/1.0/ttarrivals.aspx"),
    route(DASHBOARD, "GET", "/api/what-if"),
    route(DASHBOARD, "POST", "/api/what-if"),
    route(DASHBOARD, "POST", "/api/what-if"),
    route(DASHBOARD, "GET", "/{}"),
    route(DASHBOARD, "DELETE", "/api/status"),
    route(REGISTRY, "GET", "/"),
    route(REGISTRY, "GET", "/schemas/types"),
    route(REGISTRY, "GET", "/schemas/ids/{}"),
    route(REGISTRY, "GET", "/schemas/ids/{}/schema"),
    route(REGISTRY, "GET", "/schemas/ids/{}/versions"),
    route(REGISTRY, "GET", "/subjects"),
    route(REGISTRY, "POST", "/subjects/{}"),
    route(REGISTRY, "GET", "/subjects/{}/versions"),
    route(REGISTRY, "POST", "/subjects/{}/versions"),
    route(REGISTRY, "GET", "/subjects/{}/versions/{}"),
    route(REGISTRY, "GET", "/subjects/{}/versions/{}/schema"),
    route(REGISTRY, "POST", "/compatibility/subjects/{}/versions"),
    route(REGISTRY, "POST", "/compatibility/subjects/{}/versions/{}"),
    route(REGISTRY, "GET", "/config"),
    route(REGISTRY, "PUT", "/config"),
    route(REGISTRY, "GET", "/config/{}"),
    route(REGISTRY, "PUT", "/config/{}"),
    route(REGISTRY, "DELETE", "/subjects/{}"),
    route(REGISTRY, "DELETE", "/subjects/{}/versions/{}"),
    route(PROXY, "POST", "/topics/{}"),
    route(PROXY, "POST", "/topics/org.chicago.cta.weather.v1"),
    route(PROXY, "GET", "/topics/{}"),
    route(GUARDED, "POST", "/api/what-if"),
    route(GUARDED, "POST", "/api/what-if"),
    route(GUARDED, "GET", "/api/what-if"),
];

const fn route(server: usize, method: &'static str, path: &'static str) -> Route {
    Route {
        server,
        method,
        path,
    }
}

/// `Authorization` headers for the what-if routes: none, wrong ones, and the right one.
fn random_authorization(rng: &mut Rng) -> Option<String> {
    match rng.below(6) {
        0 => None,
        1 => Some(format!("Bearer {TOKEN}")),
        2 => Some(format!("Bearer {}", &TOKEN[..rng.below(TOKEN.len())])),
        3 => Some(format!("Basic {TOKEN}")),
        4 => Some(format!("Bearer {TOKEN}{}", rng.below(10))),
        _ => Some(
            (0..rng.below(40))
                .map(|_| char::from(b' ' + (rng.below(95) as u8)))
                .collect(),
        ),
    }
}

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/vnd.schemaregistry.v1+json",
    "application/vnd.kafka.avro.v2+json",
    "application/vnd.kafka.json.v2+json",
    "application/vnd.kafka.binary.v2+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "",
];

impl Servers {
    fn address(&self, server: usize) -> SocketAddr {
        match server {
            DASHBOARD => self.dashboard,
            GUARDED => self.guarded,
            REGISTRY => self.registry.address,
            _ => self.proxy.address,
        }
    }
}

/// Checks one answer: below 500, no CR/LF in headers, a body well-formed for its type.
fn check(what: &str, status: u16, headers: &[(String, Vec<u8>)], body: &[u8]) {
    assert!(
        status < 500,
        "{what}: {status}: {}",
        String::from_utf8_lossy(body)
    );
    let mut content_type = String::new();
    for (name, value) in headers {
        assert!(
            !value.contains(&b'\r') && !value.contains(&b'\n'),
            "{what}: header {name} holds CR or LF: {value:?}"
        );
        assert!(
            !name.eq_ignore_ascii_case("x-injected"),
            "{what}: a header was injected"
        );
        if name.eq_ignore_ascii_case("content-type") {
            content_type = String::from_utf8_lossy(value).to_ascii_lowercase();
        }
    }
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if media == "application/json" || media.ends_with("+json") {
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(body) {
            panic!(
                "{what}: {status} {media} is not JSON ({e}): {:?}",
                String::from_utf8_lossy(body)
            );
        }
    } else if media.ends_with("/xml") {
        let text = std::str::from_utf8(body)
            .unwrap_or_else(|e| panic!("{what}: {media} is not UTF-8: {e}"));
        if let Err(e) = roxmltree::Document::parse(text) {
            panic!("{what}: {status} {media} is not XML ({e}): {text:?}");
        }
    } else if media == "application/x-protobuf" {
        if let Err(e) = FeedMessage::decode(body) {
            panic!("{what}: {status} protobuf is not a FeedMessage: {e}");
        }
    } else if media == "application/zip" {
        assert!(body.starts_with(b"PK"), "{what}: not a zip");
    }
}

/// Sends raw bytes as a request and reads the answer's status line and headers; `None` when
/// the server closes without answering (never acceptable: hyper answers 400 to a bad request
/// line).
async fn raw_request(
    address: SocketAddr,
    request: &[u8],
) -> (u16, Vec<(String, Vec<u8>)>, Vec<u8>) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer));
    // A reset after the answer is fine; the answer must be there.
    let _ = read.await.expect("an answer within 10 s");
    let text = answer.clone();
    let head_end = text
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no HTTP answer to {:?}: {:?}",
                String::from_utf8_lossy(request),
                String::from_utf8_lossy(&text)
            )
        });
    let head = &text[..head_end];
    let mut lines = head.split(|&b| b == b'\n');
    let status_line = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {status_line:?}"));
    let headers = lines
        .map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = line.iter().position(|&b| b == b':').unwrap_or(line.len());
            let name = String::from_utf8_lossy(&line[..colon]).into_owned();
            let value = line
                .get(colon + 1..)
                .unwrap_or_default()
                .trim_ascii()
                .to_vec();
            (name, value)
        })
        .collect();
    (status, headers, text[head_end + 4..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_random_requests_well_formed_and_below_500() {
    let seed: u64 = std::env::var("TRANSIT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7261_6e73_6974);
    println!("fuzz seed {seed} (TRANSIT_FUZZ_SEED replays it)");
    let mut rng = Rng(seed);
    let started = Instant::now();

    // A running simulation, so Train Tracker and the feeds have trains and the what-ifs act.
    let network = Arc::new(Network::embedded().unwrap());
    let what_ifs = WhatIfs::new(Arc::clone(&network));
    let sim = Simulation::new(
        network,
        Arc::new(Ridership::embedded().unwrap()),
        SimConfig {
            tick: Duration::from_secs(15),
            ..SimConfig::default()
        },
    )
    .unwrap();
    let shutdown = CancellationToken::new();
    let bus = Arc::new(MemBus::new());
    let running = pipeline::start(
        Arc::clone(&bus) as Arc<dyn EventBus>,
        Arc::new(MemRegistry::new()),
        sim,
        PipelineConfig {
            driver: DriverConfig {
                pace: Pace::Speed(300.0),
                what_ifs: Some(what_ifs.clone()),
                ..DriverConfig::default()
            },
            station_rows: Some(embedded_station_rows().unwrap()),
            ..PipelineConfig::without_station_rows()
        },
        shutdown.clone(),
    )
    .await
    .unwrap();
    let mut snapshots = running.snapshots();
    tokio::time::timeout(
        Duration::from_secs(60),
        snapshots.wait_for(|s| s.lines.iter().any(|l| !l.trains.is_empty())),
    )
    .await
    .expect("trains on the board within 60 s")
    .unwrap();

    let stop = CancellationToken::new();
    let listener = dashboard::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dashboard_address = listener.local_addr().unwrap();
    let board = Dashboard::new(running.snapshots(), running.metrics(), stop.clone()).with_what_ifs(
        WhatIfControl::new(what_ifs.clone(), dashboard_address, None),
    );
    tokio::spawn(dashboard::serve(listener, board, stop.clone()));
    let guarded_listener = dashboard::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let guarded = guarded_listener.local_addr().unwrap();
    let token = WhatIfToken::new(TOKEN, "the fuzz test").unwrap();
    let public: SocketAddr = "0.0.0.0:3000".parse().unwrap();
    let board = Dashboard::new(running.snapshots(), running.metrics(), stop.clone())
        .with_what_ifs(WhatIfControl::new(what_ifs, public, Some(token)));
    tokio::spawn(dashboard::serve(guarded_listener, board, stop.clone()));
    let registry_bus: Arc<dyn EventBus> = Arc::new(MemBus::new());
    let registry = RegistryServer::start(Arc::clone(&registry_bus), DEFAULT_TOPIC).await;
    let proxy_bus = Arc::new(MemBus::new());
    proxy_bus
        .create_topic(&TopicSpec::new("org.chicago.cta.weather.v1", 1))
        .await
        .unwrap();
    let proxy = ProxyServer::start(
        proxy_bus as Arc<dyn EventBus>,
        Arc::new(MemRegistry::new()) as Arc<dyn SchemaRegistry>,
        RestProxyConfig::default(),
    )
    .await;
    let servers = Servers {
        dashboard: dashboard_address,
        guarded,
        registry,
        proxy,
    };

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // The event stream, briefly: it opens, then the client goes.
    for _ in 0..3 {
        let url = format!(
            "http://{}/events?{}",
            servers.dashboard,
            random_query(&mut rng)
        );
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{url}");
        drop(response);
    }

    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..REQUESTS {
        assert!(started.elapsed() < BUDGET, "over budget after {i} requests");
        let route = &ROUTES[rng.below(ROUTES.len())];
        let mut path = String::new();
        for (n, part) in route.path.split("{}").enumerate() {
            if n > 0 {
                path.push_str(&random_segment(&mut rng));
            }
            path.push_str(part);
        }
        let query = if rng.chance(85) {
            format!("?{}", random_query(&mut rng))
        } else {
            String::new()
        };
        let url = format!("http://{}{path}{query}", servers.address(route.server));
        let method = reqwest::Method::from_bytes(route.method.as_bytes()).unwrap();
        let mut request = client.request(method, &url);
        if route.method != "GET" {
            let content_type = rng.pick(CONTENT_TYPES);
            if !content_type.is_empty() {
                request = request.header("content-type", content_type);
            }
            request = request.body(random_body(&mut rng));
        }
        if route.server == GUARDED {
            if let Some(value) = random_authorization(&mut rng) {
                request = request.header("authorization", value);
            }
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {i} {} {url}: no answer: {e}", route.method));
        let status = response.status().as_u16();
        *statuses.entry(status).or_default() += 1;
        let headers: Vec<(String, Vec<u8>)> = response
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect();
        let body = response.bytes().await.unwrap();
        check(
            &format!("request {i} {} {url}", route.method),
            status,
            &headers,
            &body,
        );
    }

    // Bytes no client library sends: controls, CR, bare LF and high bytes in the request line.
    let raw_pieces: &[&[u8]] = &[
        b"\x00",
        b"\x01",
        b"\x7f",
        b"\r",
        b"\t",
        b"\xff",
        b"\xc0\x80",
        b"]]>",
        b"<",
        b"\"",
        b"runnumber=",
        b"mapid=",
        b"&",
        b"=",
        b"%",
        b" ",
        b"\x0b",
    ];
    for i in 0..RAW_REQUESTS {
        let route = &ROUTES[rng.below(13)];
        let mut target = route.path.replace("{}", "x").into_bytes();
        target.push(b'?');
        for _ in 0..1 + rng.below(6) {
            target.extend_from_slice(rng.pick(raw_pieces));
        }
        let mut request = b"GET ".to_vec();
        request.extend_from_slice(&target);
        request.extend_from_slice(b" HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n");
        let (status, headers, body) = raw_request(servers.dashboard, &request).await;
        check(
            &format!("raw request {i} {:?}", String::from_utf8_lossy(&request)),
            status,
            &headers,
            &body,
        );
    }

    // Still answering, every one of them.
    for server in [DASHBOARD, GUARDED, REGISTRY, PROXY] {
        let path = match server {
            DASHBOARD | GUARDED => "/healthz",
            REGISTRY => "/subjects",
            _ => "/topics/org.chicago.cta.weather.v1",
        };
        let url = format!("http://{}{path}", servers.address(server));
        let response = if server == PROXY {
            client
                .post(&url)
                .header("content-type", "application/vnd.kafka.json.v2+json")
                .body("{}")
                .send()
                .await
        } else {
            client.get(&url).send().await
        };
        let status = response.unwrap().status().as_u16();
        assert!(status < 500, "{url} after the fuzz: {status}");
    }
    println!(
        "{REQUESTS} requests and {RAW_REQUESTS} raw ones in {:?}; statuses {statuses:?}",
        started.elapsed()
    );

    stop.cancel();
    servers.registry.stop().await;
    let mut proxy = servers.proxy;
    proxy.stop(Duration::from_secs(10)).await.unwrap();
    shutdown.cancel();
    running.stop().await.unwrap();
}
