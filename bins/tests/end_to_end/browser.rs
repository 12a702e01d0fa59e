//! End to end in a real browser: the `full_pipeline` example as a user runs it, and Debian's
//! headless Chromium driven over WebDriver (chromedriver). The page must show the three lines,
//! their stations, trains and the weather, and change as the simulation runs, without a reload.
//!
//! Needs `chromium` and `chromedriver` (Debian packages `chromium`, `chromium-driver`; the test
//! script installs them) and the example built (`cargo test --all-targets` builds it). A missing
//! piece fails the test with what to do; it never passes silently.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use transit_testkit::browser::{
    assert_board_page, built_binary, require_chromium, spawn, start_chromedriver, strings,
    wait_for_page_change, wait_ready, Browser,
};
use transit_testkit::http::free_address;

/// The example binary cargo built beside this test (`target/<profile>/examples/`).
fn example_binary() -> PathBuf {
    built_binary(
        "examples/full_pipeline",
        "cargo build --example full_pipeline",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_browser_shows_the_lines_and_changes_live() {
    require_chromium();
    let dashboard = free_address();
    let _pipeline = spawn(
        &example_binary(),
        &[
            // A fixed fleet (rather than the schedule): ten trains a line on the board.
            "--trains-per-line".into(),
            "10".into(),
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
    let (driver_address, _driver) = start_chromedriver();
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

    let browser = Browser::start(driver_address).await;
    let before = browser.open_board(dashboard).await;

    assert_board_page(&before, 94, 30);
    assert_eq!(strings(&before["chips"]).len(), 30, "and in the tables");

    // At 600x a tick (two simulated minutes) passes every 0.2 s: the page must follow.
    wait_for_page_change(&browser, &before, 30, || {}).await;
    browser.close().await;
}
