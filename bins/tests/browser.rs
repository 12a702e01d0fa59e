//! End to end in a real browser: the `full_pipeline` example as a user runs it, and Debian's
//! headless Chromium driven over WebDriver (chromedriver). The page must show the three lines,
//! their stations, trains and the weather, and change as the simulation runs, without a reload.
//!
//! Needs `chromium` and `chromedriver` (Debian packages `chromium`, `chromium-driver`; the test
//! script installs them) and the example built (`cargo test --all-targets` builds it). A missing
//! piece fails the test with what to do; it never passes silently.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::{Child, Command};

use support::{free_address, request};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The example binary cargo built beside this test (`target/<profile>/examples/`).
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let binary = profile_dir.join("examples").join("full_pipeline");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build --example full_pipeline` \
         (`cargo test --all-targets` and scripts/test.sh do)",
        binary.display()
    );
    binary
}

fn require(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install Debian's {package} (scripts/test.sh does: apt-get install chromium chromium-driver)"
    );
}

/// Polls `url` until it answers 200, or fails after `limit`.
async fn wait_ready(address: SocketAddr, path: &str, limit: Duration, what: &str) -> String {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Ok(response) = request(address, "GET", path, None).await {
            if response.status == 200 {
                return response.body;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never became ready on {address}{path}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn spawn(program: &Path, args: &[String]) -> Child {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("starting {}: {error}", program.display()))
}

/// A WebDriver session.
struct Browser {
    driver: SocketAddr,
    session: String,
}

impl Browser {
    async fn start(driver: SocketAddr) -> Self {
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu",
                         "--disable-background-networking", "--no-first-run",
                         "--disable-dev-shm-usage", "--window-size=1400,1000"]
            }
        }}});
        let value = Self::call(driver, "POST", "/session", Some(capabilities)).await;
        let session = value["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        Self { driver, session }
    }

    async fn call(driver: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let response = request(driver, method, path, body.as_deref())
            .await
            .unwrap_or_else(|error| panic!("WebDriver {method} {path}: {error}"));
        let parsed: Value = serde_json::from_str(&response.body).unwrap_or_else(|error| {
            panic!("WebDriver {method} {path}: {error}: {}", response.body)
        });
        assert_eq!(response.status, 200, "WebDriver {method} {path}: {parsed}");
        parsed["value"].clone()
    }

    async fn go(&self, url: &str) {
        let path = format!("/session/{}/url", self.session);
        Self::call(self.driver, "POST", &path, Some(json!({ "url": url }))).await;
    }

    async fn eval(&self, script: &str) -> Value {
        let path = format!("/session/{}/execute/sync", self.session);
        Self::call(
            self.driver,
            "POST",
            &path,
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    async fn close(self) {
        let path = format!("/session/{}", self.session);
        Self::call(self.driver, "DELETE", &path, None).await;
    }
}

/// What the page shows, read from the live DOM.
const READ_BOARD: &str = r#"
const text = (id) => (document.getElementById(id) || {}).textContent || "";
return {
  lines: [...document.querySelectorAll("section.line h2")].map((h) => h.textContent),
  stations: [...document.querySelectorAll("section.line tbody tr td:first-child")].map((td) => td.textContent),
  trains: [...document.querySelectorAll("svg.diagram .train")].map((g) => g.dataset.train + "@" + g.style.transform),
  chips: [...document.querySelectorAll("td .chip")].map((c) => c.textContent),
  simTime: text("sim-time"),
  temperature: text("weather-temp"),
  weather: text("weather-status"),
  live: document.getElementById("live").className,
  marker: window.transitTestMarker || null,
};
"#;

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_browser_shows_the_lines_and_changes_live() {
    require(CHROMIUM, "chromium");
    require(CHROMEDRIVER, "chromium-driver");
    let dashboard = free_address();
    let _pipeline = spawn(
        &example_binary(),
        &[
            "--speed".into(),
            "600".into(),
            "--address".into(),
            dashboard.to_string(),
            "--registry-address".into(),
            "127.0.0.1:0".into(),
            "--rest-proxy-address".into(),
            "127.0.0.1:0".into(),
            "--report-every".into(),
            "60".into(),
        ],
    );
    let driver_address = free_address();
    let _driver = spawn(
        Path::new(CHROMEDRIVER),
        &[format!("--port={}", driver_address.port())],
    );
    wait_ready(
        dashboard,
        "/healthz",
        Duration::from_secs(30),
        "the pipeline",
    )
    .await;
    // The station table arrives through the processor: wait until the board has all of it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status: Value = serde_json::from_str(
            &wait_ready(dashboard, "/api/status", Duration::from_secs(5), "the API").await,
        )
        .unwrap();
        if status["totals"]["stations"] == 94 && status["weather"].is_object() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the board never filled: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_ready(
        driver_address,
        "/status",
        Duration::from_secs(30),
        "chromedriver",
    )
    .await;

    let browser = Browser::start(driver_address).await;
    browser.go(&format!("http://{dashboard}/")).await;
    browser
        .eval("window.transitTestMarker = 'same page'; return null;")
        .await;
    let before = browser.eval(READ_BOARD).await;

    let lines = strings(&before["lines"]);
    assert_eq!(lines.len(), 3, "{before}");
    for (line, name) in lines.iter().zip(["Blue Line", "Red Line", "Green Line"]) {
        assert!(line.contains(name), "{line:?}");
    }
    let stations = strings(&before["stations"]);
    assert_eq!(stations.len(), 94, "every station of the three lines");
    for name in [
        "O'Hare",
        "Forest Park",
        "Howard",
        "95th/Dan Ryan",
        "Harlem/Lake",
        "Clark/Lake",
    ] {
        assert!(
            stations.iter().any(|s| s == name),
            "{name} missing from {stations:?}"
        );
    }
    let trains = strings(&before["trains"]);
    assert_eq!(
        trains.len(),
        30,
        "ten trains per line on the diagrams: {trains:?}"
    );
    for prefix in ["BL", "RL", "GL"] {
        assert!(
            trains.iter().any(|t| t.starts_with(prefix)),
            "no {prefix} train in {trains:?}"
        );
    }
    assert_eq!(strings(&before["chips"]).len(), 30, "and in the tables");
    assert!(
        before["temperature"].as_str().unwrap_or("").ends_with("°F"),
        "{before}"
    );
    assert!(
        !before["weather"].as_str().unwrap_or("").is_empty(),
        "{before}"
    );

    // At 600x a tick (two simulated minutes) passes every 0.2 s: the page must follow.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let after = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = browser.eval(READ_BOARD).await;
        if now["simTime"] != before["simTime"] && now["trains"] != before["trains"] {
            break now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page never changed: {now}"
        );
    };
    assert_eq!(
        after["marker"], "same page",
        "updated in place, not reloaded"
    );
    assert_eq!(after["live"], "live on", "connected to the event stream");
    assert_eq!(
        strings(&after["trains"]).len(),
        30,
        "trains move, none is lost or doubled"
    );
    browser.close().await;
}
