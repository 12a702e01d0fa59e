//! End to end in a real browser: the `full_pipeline` example as a user runs it, and Debian's
//! headless Chromium driven over WebDriver (chromedriver). The page must show the three lines,
//! their stations, trains and the weather, and change as the simulation runs, without a reload;
//! each line has its prediction accuracy panel.
//!
//! Needs `chromium` and `chromedriver` (Debian packages `chromium`, `chromium-driver`; the test
//! script installs them) and the example built (`cargo test --all-targets` builds it). A missing
//! piece fails the test with what to do; it never passes silently. The page is audited with
//! axe-core against WCAG 2.1 A and AA: `TRANSIT_TEST_AXE` names its `axe.min.js`
//! (`source scripts/axe.sh && need_axe`; scripts/test.sh does).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use transit_testkit::browser::{
    assert_accuracy_panel, assert_board_page, built_binary, require_axe, require_chromium, spawn,
    start_chromedriver, strings, wait_for_page_change, wait_ready, Browser, READ_ACCURACY_PANELS,
};
use transit_testkit::http::free_address;

/// The example binary cargo built beside this test (`target/<profile>/examples/`).
fn example_binary() -> PathBuf {
    built_binary(
        "examples/full_pipeline",
        "cargo build --example full_pipeline",
    )
}

/// A weekday's morning peak by CTA's schedule: by 08:00 ridership and chance have bunched
/// some trains (seed 2026; the headway test of the core shows the same on the bus).
const START: &str = "2026-11-02T07:00";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_browser_shows_the_lines_and_changes_live() {
    require_chromium();
    require_axe();
    let dashboard = free_address();
    let _pipeline = spawn(
        &example_binary(),
        &[
            "--start".into(),
            START.into(),
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
    // The station table arrives through the processor, the headways through theirs: wait
    // until the board has all of the stations and shows a bunched train.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status: Value = serde_json::from_str(
            &wait_ready(dashboard, "/api/status", Duration::from_secs(5), "the API").await,
        )
        .unwrap();
        let bunched = status["totals"]["bunched"].as_u64().unwrap_or(0);
        if status["totals"]["stations"] == 94 && status["weather"].is_object() && bunched > 0 {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the board never filled or never showed bunching: {}",
            status["totals"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The schedule's morning peak: eight trains a line or more, each with a headway panel.
    for line in status["lines"].as_array().into_iter().flatten() {
        assert!(
            line["trains"].as_array().map_or(0, Vec::len) >= 8,
            "{}",
            line["line"]
        );
        assert!(
            line["headways"]["cv"].as_f64().is_some(),
            "{}",
            line["headways"]
        );
        assert!(line["headways"]["expected_wait_s"]
            .as_f64()
            .is_some_and(|w| w > 0.0));
    }

    // The scorer's first figures: predictions of every line scored (the summed table on
    // /api/accuracy, the same on /metrics).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let scored = loop {
        let accuracy: Value = serde_json::from_str(
            &wait_ready(
                dashboard,
                "/api/accuracy",
                Duration::from_secs(5),
                "the API",
            )
            .await,
        )
        .unwrap();
        let scored: Vec<String> = accuracy["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| !r["hours"].as_array().is_none_or(Vec::is_empty))
            .filter_map(|r| r["route_id"].as_str().map(String::from))
            .collect();
        if scored.len() == 3 {
            break scored;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lines' predictions were never all scored: {accuracy}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let metrics = wait_ready(dashboard, "/metrics", Duration::from_secs(5), "the metrics").await;
    for route in &scored {
        assert!(
            metrics.contains(&format!(
                "transit_prediction_accuracy_ratio{{route=\"{route}\",bucket=\"0-3\",method=\"learnt\"}}"
            )),
            "{route}: {metrics}"
        );
    }

    // The example's dashboard serves the live feeds of the same board.
    crate::feeds::assert_live_feeds(dashboard, true).await;

    let browser = Browser::start(driver_address).await;
    let before = browser.open_board(dashboard).await;
    assert_board_page(&before, 94, 30..=400);
    // A prediction accuracy panel per line, by its route in CTA's static feed.
    let panels = browser.eval(READ_ACCURACY_PANELS).await;
    let routes: Vec<&str> = panels
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["route"].as_str())
        .collect();
    assert_eq!(routes, ["Blue", "Red", "G"], "{panels}");
    for panel in panels.as_array().into_iter().flatten() {
        assert_accuracy_panel(panel);
    }
    // WCAG 2.1 AA by axe-core, once the board has filled (the panels included).
    browser.assert_accessible("the CTA board").await;
    // Trains run between stations, not only at platforms, and every platform without a train
    // says when the next one comes.
    let between = strings(&before["between"]);
    assert!(between.len() > 10, "trains between stations: {before}");
    assert!(
        strings(&before["nextTrains"])
            .iter()
            .any(|n| n.contains(" min · ")),
        "minutes to the next train: {before}"
    );
    // Blue Line's two Harlems told apart.
    let stations = strings(&before["stations"]);
    for harlem in ["Harlem (O'Hare Branch)", "Harlem (Forest Park Branch)"] {
        assert!(
            stations.iter().any(|s| s == harlem),
            "{harlem} in {stations:?}"
        );
    }

    // At 600x a tick passes every 0.25 s: the page must follow; the trains move on, and
    // bunching shows on the diagram (outlined) and in the header's count.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut after = wait_for_page_change(&browser, &before, 30..=400, || {}).await;
    while strings(&after["bunched"]).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no bunched train on the diagrams: {after}"
        );
        after = wait_for_page_change(&browser, &after, 30..=400, || {}).await;
    }
    let irregular = after["irregular"].as_str().unwrap_or("");
    assert!(
        irregular
            .split(" · ")
            .next()
            .and_then(|n| n.trim().parse::<u32>().ok())
            .is_some_and(|n| n > 0),
        "bunched count in the header: {irregular:?}"
    );
    let moved: Vec<String> = strings(&after["trains"])
        .into_iter()
        .filter(|t| !strings(&before["trains"]).contains(t))
        .collect();
    assert!(!moved.is_empty(), "trains moved: {after}");
    // Again with bunched trains outlined and the header's counts up.
    browser
        .assert_accessible("the CTA board, bunching shown")
        .await;
    // The README's picture: the morning peak, bunching outlined (TRANSIT_SCREENSHOT).
    browser.save_screenshot_if_asked().await;
    browser.close().await;
}
