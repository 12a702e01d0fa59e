//! What the browser tests share: finding a binary cargo built beside the test, starting
//! processes that die with the test, waiting for a server, and a tiny WebDriver client that
//! drives Debian's headless Chromium through chromedriver (no client library in between).

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::http::{free_address, request};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The environment variable that asks the browser tests for a screenshot of the board, and
/// where to save it ([`Browser::save_screenshot_if_asked`]).
pub const SCREENSHOT_ENV: &str = "TRANSIT_SCREENSHOT";
/// The environment variable naming axe-core's `axe.min.js`, which `scripts/axe.sh` downloads
/// from npm ([`Browser::audit_accessibility`]).
pub const AXE_ENV: &str = "TRANSIT_TEST_AXE";

/// The rules [`Browser::audit_accessibility`] runs: WCAG 2.0 and 2.1, levels A and AA.
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
  .then((results) => done({
    violations: results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.map(String).join(" "), summary: n.failureSummary || "" })),
    })),
    passes: results.passes.length,
  }))
  .catch((error) => done({ error: String(error) }));
"#;

/// axe-core's script, from the file [`AXE_ENV`] names; fails, saying how to get it, when the
/// variable is not set or the file cannot be read.
pub fn axe_script() -> String {
    let Some(path) = std::env::var_os(AXE_ENV) else {
        panic!(
            "{AXE_ENV} is not set: the browser tests audit the pages with axe-core, which is \
             downloaded from npm, not committed. Run `source scripts/axe.sh && need_axe`, or \
             scripts/test.sh"
        );
    };
    let path = PathBuf::from(path);
    std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "reading axe-core from {} ({AXE_ENV}): {error}; run `source scripts/axe.sh && need_axe`",
            path.display()
        )
    })
}

/// A binary cargo built beside this test: `target/<profile>/<relative>` (e.g.
/// `examples/full_pipeline`, or `transit`). Fails, saying how to build it (`build`, a cargo
/// command), when it is missing.
pub fn built_binary(relative: &str, build: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let binary = profile_dir.join(relative);
    assert!(
        binary.exists(),
        "{} is missing: build it with `{build}` \
         (`cargo test --all-targets` and scripts/test.sh do)",
        binary.display()
    );
    binary
}

/// Fails unless `path` exists, naming the Debian package that installs it.
pub fn require(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install Debian's {package} (scripts/test.sh does: apt-get install chromium chromium-driver)"
    );
}

/// Fails unless Chromium and chromedriver are installed.
pub fn require_chromium() {
    require(CHROMIUM, "chromium");
    require(CHROMEDRIVER, "chromium-driver");
}

/// Fails unless axe-core's script is at hand ([`axe_script`]), before a test starts anything.
pub fn require_axe() {
    axe_script();
}

/// Polls `path` on `address` until it answers 200, or fails after `limit`; returns the body.
pub async fn wait_ready(address: SocketAddr, path: &str, limit: Duration, what: &str) -> String {
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

/// Starts `program` with its output discarded; it is killed when the returned child drops.
pub fn spawn(program: &Path, args: &[String]) -> Child {
    spawn_with(program, args, |_| {})
}

/// [`spawn`], with `adjust` given the command before it starts (an environment of its own).
fn spawn_with(program: &Path, args: &[String], adjust: impl FnOnce(&mut Command)) -> Child {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    adjust(&mut command);
    command
        .spawn()
        .unwrap_or_else(|error| panic!("starting {}: {error}", program.display()))
}

/// Starts chromedriver on a free port, and returns its address and the process, killed when
/// it drops.
pub fn start_chromedriver() -> (SocketAddr, Chromedriver) {
    let address = free_address();
    // Chromium leaves a directory or two in the temporary directory after each session (its
    // singleton socket, chromedriver's profile): a directory of their own goes with the test.
    let temporary = std::env::temp_dir().join(transit_core::testing::unique_name("chromedriver"));
    std::fs::create_dir_all(&temporary)
        .unwrap_or_else(|error| panic!("creating {}: {error}", temporary.display()));
    let child = spawn_with(
        Path::new(CHROMEDRIVER),
        &[format!("--port={}", address.port())],
        |command| {
            command.env("TMPDIR", &temporary);
        },
    );
    (address, Chromedriver { child, temporary })
}

/// A running chromedriver ([`start_chromedriver`]): killed when it drops, and its temporary
/// directory removed.
#[derive(Debug)]
pub struct Chromedriver {
    child: Child,
    temporary: PathBuf,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.temporary);
    }
}

/// A WebDriver session.
#[derive(Debug)]
pub struct Browser {
    driver: SocketAddr,
    session: String,
}

impl Browser {
    /// Opens a session of headless Chromium on the chromedriver at `driver`, once it answers.
    pub async fn start(driver: SocketAddr) -> Self {
        wait_ready(driver, "/status", Duration::from_secs(30), "chromedriver").await;
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

    /// Navigates to `url`.
    pub async fn go(&self, url: &str) {
        let path = format!("/session/{}/url", self.session);
        Self::call(self.driver, "POST", &path, Some(json!({ "url": url }))).await;
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub async fn eval(&self, script: &str) -> Value {
        let path = format!("/session/{}/execute/sync", self.session);
        Self::call(
            self.driver,
            "POST",
            &path,
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Runs `script` (a function body whose last argument is the callback to call with the
    /// result) in the page, and returns what it passes to the callback.
    pub async fn eval_async(&self, script: &str) -> Value {
        let path = format!("/session/{}/execute/async", self.session);
        Self::call(
            self.driver,
            "POST",
            &path,
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Audits the current page with axe-core ([`axe_script`]) against WCAG 2.1 A and AA, and
    /// returns its violations, each as `{id, impact, help, nodes: [{target, summary}]}`.
    /// axe-core's text is injected over WebDriver: the page itself never refers to it.
    pub async fn audit_accessibility(&self) -> Vec<Value> {
        let axe = axe_script();
        let timeouts = format!("/session/{}/timeouts", self.session);
        // A whole board takes axe a few seconds on a shared machine.
        Self::call(
            self.driver,
            "POST",
            &timeouts,
            Some(json!({ "script": 120_000 })),
        )
        .await;
        self.eval(&format!("{axe}\nreturn typeof axe;")).await;
        let result = self.eval_async(AXE_RUN).await;
        assert!(
            result["error"].is_null(),
            "axe-core failed on the page: {}",
            result["error"]
        );
        assert!(
            result["passes"].as_u64().unwrap_or(0) > 0,
            "axe-core checked nothing: {result}"
        );
        result["violations"].as_array().cloned().unwrap_or_default()
    }

    /// Audits the current page ([`Browser::audit_accessibility`]) and fails, listing every
    /// violation (its rule, impact, help and the elements concerned), unless there is none;
    /// `page` names the page in the message.
    pub async fn assert_accessible(&self, page: &str) {
        let violations = self.audit_accessibility().await;
        if violations.is_empty() {
            return;
        }
        let mut report = String::new();
        for violation in &violations {
            report.push_str(&format!(
                "\n- {} ({}): {}",
                violation["id"].as_str().unwrap_or("?"),
                violation["impact"].as_str().unwrap_or("?"),
                violation["help"].as_str().unwrap_or("?"),
            ));
            for node in violation["nodes"].as_array().into_iter().flatten() {
                report.push_str(&format!(
                    "\n    {}: {}",
                    node["target"].as_str().unwrap_or("?"),
                    node["summary"].as_str().unwrap_or("").replace('\n', " ")
                ));
            }
        }
        panic!(
            "{page} fails WCAG 2.1 AA by axe-core ({} rules violated):{report}",
            violations.len()
        );
    }

    /// Opens the dashboard served at `dashboard`, marks the page (so that a reload would show:
    /// the mark reads back as `marker` in [`READ_BOARD`] until then), and reads what it shows.
    pub async fn open_board(&self, dashboard: SocketAddr) -> Value {
        self.go(&format!("http://{dashboard}/")).await;
        self.eval("window.transitTestMarker = 'same page'; return null;")
            .await;
        self.eval(READ_BOARD).await
    }

    /// A PNG of what the browser shows (its window, 1400 × 1000).
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let path = format!("/session/{}/screenshot", self.session);
        let value = Self::call(self.driver, "GET", &path, None).await;
        let encoded = value
            .as_str()
            .expect("WebDriver's screenshot as base64 text");
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_else(|error| panic!("WebDriver's screenshot: {error}"))
    }

    /// Saves a [`Browser::screenshot`] where the environment variable [`SCREENSHOT_ENV`]
    /// says (a path relative to the test's package, e.g. `docs/board.png` from the root
    /// package's tests), if it is set; the README's picture of the board is made this way.
    pub async fn save_screenshot_if_asked(&self) {
        let Some(path) = std::env::var_os(SCREENSHOT_ENV) else {
            return;
        };
        let png = self.screenshot().await;
        let path = PathBuf::from(path);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|error| panic!("creating {}: {error}", parent.display()));
        }
        std::fs::write(&path, &png)
            .unwrap_or_else(|error| panic!("writing the screenshot {}: {error}", path.display()));
        eprintln!(
            "screenshot of the board: {} ({} bytes)",
            path.display(),
            png.len()
        );
    }

    /// Ends the session (closing the browser).
    pub async fn close(self) {
        let path = format!("/session/{}", self.session);
        Self::call(self.driver, "DELETE", &path, None).await;
    }
}

/// What the dashboard page shows, read from the live DOM by [`Browser::eval`].
pub const READ_BOARD: &str = r#"
const text = (id) => (document.getElementById(id) || {}).textContent || "";
return {
  lines: [...document.querySelectorAll("section.line h2")].map((h) => h.textContent),
  stations: [...document.querySelectorAll("section.line tbody tr td:first-child")].map((td) => td.textContent),
  trains: [...document.querySelectorAll("svg.diagram .train")].map((g) => g.dataset.train + "@" + g.style.transform),
  // Trains drawn between two stations: not at any station's x on their diagram.
  between: [...document.querySelectorAll("svg.diagram")].flatMap((svg) => {
    const xs = [...svg.querySelectorAll(".station")].map((s) => Number(s.dataset.x));
    return [...svg.querySelectorAll(".train")]
      .filter((g) => {
        const match = /translate\(([-\d.]+)px/.exec(g.style.transform);
        const x = match ? Number(match[1]) : NaN;
        return !Number.isNaN(x) && xs.every((sx) => Math.abs(sx - x) > 0.5);
      })
      .map((g) => g.dataset.train);
  }),
  bunched: [...document.querySelectorAll("svg.diagram .train.hw-bunched")].map((g) => g.dataset.train),
  irregular: text("total-irregular"),
  nextTrains: [...document.querySelectorAll("td .next")].map((n) => n.textContent),
  chips: [...document.querySelectorAll("td .chip")].map((c) => c.textContent),
  entries: [...document.querySelectorAll("section.line tbody td.entries")].map((td) => td.textContent),
  totalEntries: text("total-entries"),
  simTime: text("sim-time"),
  temperature: text("weather-temp"),
  weather: text("weather-status"),
  live: document.getElementById("live").className,
  marker: window.transitTestMarker || null,
};
"#;

/// What each prediction accuracy panel of a board page shows, read from the live DOM: its
/// route, title, the bucket rows and method columns of its table, the learnt column's cells,
/// and its chart's role, accessible name and points.
pub const READ_ACCURACY_PANELS: &str = r#"
return [...document.querySelectorAll("section.accuracy")].map((panel) => {
  const table = panel.querySelector(".acc-body > table");
  const chart = panel.querySelector("svg.acc-chart");
  const named = chart ? (chart.getAttribute("aria-labelledby") || "").split(" ")
    .map((id) => (document.getElementById(id) || {}).textContent || "").join(" ") : "";
  return {
    route: panel.dataset.route,
    title: (panel.querySelector("h2, h3") || {}).textContent || "",
    empty: (panel.querySelector(".acc-none") || {}).textContent || "",
    buckets: table ? [...table.querySelectorAll("tbody th[scope=row]")].map((th) => th.firstChild.textContent.trim()) : [],
    methods: table ? [...table.querySelectorAll("thead th[scope=col]")].map((th) => th.textContent.trim()) : [],
    learnt: table ? [...table.querySelectorAll("tbody td.served")].map((td) => td.textContent.trim()) : [],
    chartRole: chart ? chart.getAttribute("role") : null,
    chartName: named,
    points: panel.querySelectorAll("svg.acc-chart circle").length,
  };
});
"#;

/// Checks an accuracy panel that has scores, as [`READ_ACCURACY_PANELS`] read it: MBTA's four
/// buckets, the four methods side by side with the served one named, a share right in the
/// learnt column, and a chart that is a named image with a point per hour scored.
pub fn assert_accuracy_panel(panel: &Value) {
    assert_eq!(
        strings(&panel["buckets"]),
        ["0-3 min", "3-6 min", "6-12 min", "12-30 min"],
        "{panel}"
    );
    assert_eq!(
        strings(&panel["methods"]),
        [
            "Minutes ahead",
            "Learnt (served)",
            "Timetable + delay",
            "Timetable",
            "Latest segment"
        ],
        "{panel}"
    );
    assert!(
        strings(&panel["learnt"])
            .iter()
            .any(|cell| cell.contains(" %")),
        "a share right in the learnt column: {panel}"
    );
    assert_eq!(panel["chartRole"], "img", "{panel}");
    assert!(
        panel["chartName"]
            .as_str()
            .is_some_and(|name| name.contains("right per hour")),
        "{panel}"
    );
    assert!(panel["points"].as_u64().unwrap_or(0) >= 1, "{panel}");
}

/// The strings of a JSON array (nothing if it is not one).
pub fn strings(value: &Value) -> Vec<String> {
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

/// A count as the page formats it (`12,345`), if it is one.
pub fn page_number(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit() || c == ',') {
        return None;
    }
    text.replace(',', "").parse().ok()
}

/// Checks what the board page shows, as [`READ_BOARD`] read it: the Blue, Red and Green lines,
/// `stations` stations among which every terminus and Clark/Lake, a number of trains in
/// `trains` on the diagrams with some of every line, and the weather.
pub fn assert_board_page(page: &Value, stations: usize, trains: RangeInclusive<usize>) {
    let lines = strings(&page["lines"]);
    assert_eq!(lines.len(), 3, "{page}");
    for (line, name) in lines.iter().zip(["Blue Line", "Red Line", "Green Line"]) {
        assert!(line.contains(name), "{line:?}");
    }
    let shown = strings(&page["stations"]);
    assert_eq!(
        shown.len(),
        stations,
        "every station of the three lines: {shown:?}"
    );
    for name in [
        "O'Hare",
        "Forest Park",
        "Howard",
        "95th/Dan Ryan",
        "Harlem/Lake",
        "Clark/Lake",
    ] {
        assert!(
            shown.iter().any(|s| s == name),
            "{name} missing from {shown:?}"
        );
    }
    let moving = strings(&page["trains"]);
    assert!(
        trains.contains(&moving.len()),
        "{trains:?} trains on the diagrams: {moving:?}"
    );
    for prefix in ["BL", "RL", "GL"] {
        assert!(
            moving.iter().any(|t| t.starts_with(prefix)),
            "no {prefix} train in {moving:?}"
        );
    }
    assert!(
        page["temperature"].as_str().unwrap_or("").ends_with("°F"),
        "{page}"
    );
    assert!(!page["weather"].as_str().unwrap_or("").is_empty(), "{page}");
}

/// Waits (up to 20 s, calling `between` before each look) until the page shows another
/// simulated time and moved trains than `before`, and checks it changed in place, live, with
/// a number of trains in `trains` still; returns what it showed.
pub async fn wait_for_page_change(
    browser: &Browser,
    before: &Value,
    trains: RangeInclusive<usize>,
    mut between: impl FnMut(),
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let after = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        between();
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
    let moving = strings(&after["trains"]);
    assert!(
        trains.contains(&moving.len()),
        "trains move, none is lost or doubled: {moving:?}"
    );
    after
}
