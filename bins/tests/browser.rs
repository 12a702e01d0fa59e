//! End to end in a real browser: the `full_pipeline` example as a user runs it, and Debian's
//! headless Chromium driven over WebDriver (chromedriver). The page must show the three lines,
//! their stations, trains and the weather, and change as the simulation runs, without a reload.
//!
//! Needs `chromium` and `chromedriver` (Debian packages `chromium`, `chromium-driver`; the test
//! script installs them) and the example built (`cargo test --all-targets` builds it). A missing
//! piece fails the test with what to do; it never passes silently.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use support::browser::{
    built_binary, require, spawn, strings, wait_ready, Browser, CHROMEDRIVER, CHROMIUM, READ_BOARD,
};
use support::free_address;

/// The example binary cargo built beside this test (`target/<profile>/examples/`).
fn example_binary() -> PathBuf {
    built_binary(
        "examples/full_pipeline",
        "cargo build --example full_pipeline",
    )
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
