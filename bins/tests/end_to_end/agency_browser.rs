//! End to end in a real browser over another agency's feed: `full_pipeline --gtfs` with NYC's
//! lines 1 and 2 (the feed `scripts/feeds.sh` downloads), its board in Debian's headless
//! Chromium. The page must list both routes in their colours with text that reads, draw each
//! route's stop patterns and the map of shapes and stations, place the trains on both, and
//! move them as the simulation runs, without a reload; the page's landmarks, names and
//! contrast are checked in the live DOM; each route's page shows its prediction accuracy panel
//! (the scorer's figures, by bucket and method, and a chart per hour), and axe-core audits both
//! routes' pages, panels included, against WCAG 2.1 A and AA (`TRANSIT_TEST_AXE` names its `axe.min.js`: `source scripts/axe.sh &&
//! need_axe`, or scripts/test.sh).

use std::time::Duration;

use serde_json::Value;

use transit_testkit::browser::{
    assert_accuracy_panel, built_binary, require_axe, require_chromium, spawn, start_chromedriver,
    strings, wait_ready, Browser, READ_ACCURACY_PANELS,
};
use transit_testkit::feeds;
use transit_testkit::http::free_address;

/// What the agency board shows, read from the live DOM, with the checks of accessibility a
/// script can make: WCAG's contrast of every route pill and train badge, names of links and
/// of the map, the document's language.
const READ_AGENCY_BOARD: &str = r#"
const rgb = (text) => (text.match(/\d+/g) || []).slice(0, 3).map(Number);
const luminance = ([r, g, b]) => {
  const c = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * c(r) + 0.7152 * c(g) + 0.0722 * c(b);
};
const contrast = (a, b) => {
  const [x, y] = [luminance(a), luminance(b)];
  return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
};
const pills = [...document.querySelectorAll("nav a, .train:not(circle)")];
const map = document.querySelector("svg.map");
return {
  lang: document.documentElement.lang,
  routes: [...document.querySelectorAll("nav a")].map((a) => a.textContent.trim()),
  current: [...document.querySelectorAll("nav a[aria-current=page]")].map((a) => a.textContent.trim()),
  unnamedLinks: [...document.querySelectorAll("a")].filter((a) => !a.textContent.trim()).length,
  lowContrast: pills
    .map((p) => { const s = getComputedStyle(p); return [p.textContent.trim(), contrast(rgb(s.color), rgb(s.backgroundColor))]; })
    .filter(([, ratio]) => ratio < 4.5)
    .map(([text, ratio]) => text + " " + ratio.toFixed(2)),
  patterns: document.querySelectorAll("ol.pattern").length,
  diagramTrains: [...document.querySelectorAll("ol.pattern .train")].map((t) => t.textContent + "@" + t.closest("li").textContent.split("Train")[0]),
  mapRole: map ? map.getAttribute("role") : null,
  mapName: map && map.getAttribute("aria-labelledby") ? (document.getElementById(map.getAttribute("aria-labelledby")) || {}).textContent || "" : "",
  shapes: document.querySelectorAll("svg.map polyline.shape").length,
  stations: document.querySelectorAll("svg.map circle.station").length,
  mapTrains: [...document.querySelectorAll("svg.map circle.train")].map((c) => c.dataset.vehicle + "@" + c.getAttribute("cx") + "," + c.getAttribute("cy")),
  serviceTime: (document.getElementById("service-time") || {}).textContent || "",
  marker: window.transitTestMarker || null,
};
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_agencys_board_in_a_real_browser_shows_its_routes_and_moves_its_trains() {
    require_chromium();
    require_axe();
    let feed = feeds::nyc();
    let board = free_address();
    let _pipeline = spawn(
        &built_binary(
            "examples/full_pipeline",
            "cargo build --example full_pipeline",
        ),
        &[
            "--gtfs".into(),
            feed.display().to_string(),
            // A Monday morning within the feed's calendar.
            "--start".into(),
            "2025-01-13T07:30".into(),
            "--speed".into(),
            "120".into(),
            "--address".into(),
            board.to_string(),
            "--registry-address".into(),
            "127.0.0.1:0".into(),
            "--rest-proxy-address".into(),
            "127.0.0.1:0".into(),
            "--report-every".into(),
            "60".into(),
        ],
    );
    let (driver_address, _driver) = start_chromedriver();
    wait_ready(board, "/healthz", Duration::from_secs(60), "the pipeline").await;
    // Trains show as they reach their next stop.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let trains: Value = serde_json::from_str(
            &wait_ready(board, "/api/trains", Duration::from_secs(5), "the API").await,
        )
        .unwrap();
        if trains["trains"].as_array().map_or(0, Vec::len) >= 20 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the board never filled: {trains}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The scorer's first figures: route 1's learnt predictions scored over an hour.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let accuracy: Value = serde_json::from_str(
            &wait_ready(board, "/api/accuracy", Duration::from_secs(5), "the API").await,
        )
        .unwrap();
        let route_1 = accuracy["routes"]
            .as_array()
            .and_then(|routes| routes.iter().find(|r| r["route_id"] == "1"));
        if route_1.is_some_and(|r| !r["hours"].as_array().is_none_or(Vec::is_empty)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no prediction of route 1 was ever scored: {accuracy}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let metrics = wait_ready(board, "/metrics", Duration::from_secs(5), "the metrics").await;
    assert!(
        metrics.contains(r#"transit_prediction_accuracy_ratio{route="1","#),
        "{metrics}"
    );

    let browser = Browser::start(driver_address).await;
    browser.go(&format!("http://{board}/")).await;
    browser
        .eval("window.transitTestMarker = 'same page'; return null;")
        .await;
    let before = browser.eval(READ_AGENCY_BOARD).await;
    assert_eq!(before["lang"], "en");
    assert_eq!(strings(&before["routes"]), ["1", "2"], "{before}");
    assert_eq!(strings(&before["current"]), ["1"]);
    assert_eq!(before["unnamedLinks"], 0);
    assert!(strings(&before["lowContrast"]).is_empty(), "{before}");
    assert!(before["patterns"].as_u64().unwrap_or(0) >= 2, "{before}");
    assert_eq!(before["mapRole"], "img");
    assert!(before["mapName"]
        .as_str()
        .unwrap_or("")
        .contains("stations"));
    assert!(before["shapes"].as_u64().unwrap_or(0) >= 2, "{before}");
    assert!(before["stations"].as_u64().unwrap_or(0) > 50, "{before}");
    let map_trains = strings(&before["mapTrains"]);
    assert!(map_trains.len() >= 20, "{before}");
    assert!(!strings(&before["diagramTrains"]).is_empty(), "{before}");
    let panels = browser.eval(READ_ACCURACY_PANELS).await;
    assert_eq!(panels.as_array().map_or(0, Vec::len), 1, "{panels}");
    assert_eq!(panels[0]["route"], "1");
    assert_accuracy_panel(&panels[0]);
    browser.assert_accessible("NYC's board, route 1").await;

    // The page polls: the trains move on the map without a reload.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let after = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = browser.eval(READ_AGENCY_BOARD).await;
        assert_eq!(now["marker"], "same page", "the page reloaded");
        let moved = strings(&now["mapTrains"])
            .into_iter()
            .filter(|t| !map_trains.contains(t))
            .count();
        if moved >= 3 && now["serviceTime"] != before["serviceTime"] {
            break now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the trains never moved: {now}"
        );
    };
    assert!(strings(&after["lowContrast"]).is_empty(), "{after}");

    // Route 2's diagram, picked from the list.
    browser.go(&format!("http://{board}/?route=2")).await;
    let second = browser.eval(READ_AGENCY_BOARD).await;
    assert_eq!(strings(&second["current"]), ["2"]);
    assert!(second["patterns"].as_u64().unwrap_or(0) >= 2, "{second}");
    assert!(strings(&second["lowContrast"]).is_empty(), "{second}");
    let panels = browser.eval(READ_ACCURACY_PANELS).await;
    assert_eq!(panels[0]["route"], "2", "{panels}");
    browser.assert_accessible("NYC's board, route 2").await;
    browser.close().await;
}
