//! The what-if controls over real HTTP against a running pipeline on the in-memory bus:
//! refused off loopback without the server's bearer token, every bad request a 400 with a JSON
//! error, and an accepted breakdown on the board.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use transit_core::model::TrainStatus;
use transit_core::status::StatusSnapshot;
use transit_http::dashboard::{self, Dashboard};
use transit_http::what_if::{WhatIfControl, WhatIfToken};
use transit_mem::{MemBus, MemRegistry};
use transit_sim::driver::{DriverConfig, Pace};
use transit_sim::pipeline::{self, PipelineConfig};
use transit_sim::what_if::WhatIfs;
use transit_sim::SimConfig;

async fn serve(board: Dashboard, stop: &CancellationToken) -> String {
    let listener = dashboard::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}/api/what-if", listener.local_addr().unwrap());
    tokio::spawn(dashboard::serve(listener, board, stop.clone()));
    url
}

async fn post(url: &str, body: &str) -> (u16, serde_json::Value) {
    post_with(url, body, None).await
}

/// A POST with an `Authorization` header when `authorization` is given.
async fn post_with(url: &str, body: &str, authorization: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    if status == 401 {
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer realm=\"transit what-if\""),
            "a 401 says which scheme"
        );
    }
    (status, response.json().await.unwrap())
}

fn train_status(snapshot: &StatusSnapshot, id: &str) -> Option<TrainStatus> {
    snapshot
        .lines
        .iter()
        .flat_map(|line| &line.trains)
        .find(|t| t.id == id)
        .map(|t| t.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_ifs_are_refused_checked_and_shown_on_the_board() {
    let network = transit_sim::testing::network();
    let what_ifs = WhatIfs::new(Arc::clone(&network));
    let sim = transit_sim::testing::simulation_of(
        network,
        SimConfig {
            tick: Duration::from_secs(15),
            ..SimConfig::default()
        },
    );
    let shutdown = CancellationToken::new();
    let config = PipelineConfig {
        driver: DriverConfig {
            pace: Pace::Speed(300.0),
            what_ifs: Some(what_ifs.clone()),
            ..DriverConfig::default()
        },
        ..PipelineConfig::embedded().unwrap()
    };
    let running = pipeline::start(
        Arc::new(MemBus::new()),
        Arc::new(MemRegistry::new()),
        sim,
        config,
        shutdown.clone(),
    )
    .await
    .unwrap();
    let stop = CancellationToken::new();
    let board = || Dashboard::new(running.snapshots(), running.metrics(), stop.clone());
    let public: SocketAddr = "0.0.0.0:3000".parse().unwrap();

    // Off loopback without a token: refused, whatever the request sends.
    let refused = serve(
        board().with_what_ifs(WhatIfControl::new(what_ifs.clone(), public, None)),
        &stop,
    )
    .await;
    let out_of_service = r#"{"kind":"out_of_service","train":"BL001"}"#;
    for authorization in [None, Some("Bearer anything-at-all-goes-here")] {
        let (status, body) = post_with(&refused, out_of_service, authorization).await;
        assert_eq!(status, 403, "{body}");
        assert!(body["error"].as_str().unwrap().contains("what-if token"));
    }
    // Off loopback with a token: only the right bearer token gets through.
    const TOKEN: &str = "what-if-token-0123456789";
    let token = WhatIfToken::new(TOKEN, "test").unwrap();
    let guarded = serve(
        board().with_what_ifs(WhatIfControl::new(what_ifs.clone(), public, Some(token))),
        &stop,
    )
    .await;
    for wrong in [
        None,
        Some(TOKEN),
        Some("Bearer"),
        Some("Bearer what-if-token-012345678"),
        Some("Bearer what-if-token-0123456789x"),
        Some("Bearer WHAT-IF-TOKEN-0123456789"),
        Some("Basic d2hhdDppZg=="),
    ] {
        let (status, body) = post_with(&guarded, out_of_service, wrong).await;
        assert_eq!(status, 401, "{wrong:?}: {body}");
        assert!(!body.to_string().contains(TOKEN), "{body}");
    }
    for right in [format!("Bearer {TOKEN}"), format!("bearer {TOKEN}")] {
        assert_eq!(
            post_with(&guarded, "{}", Some(&right)).await.0,
            400,
            "with the token: checked, not refused"
        );
    }
    let listed: serde_json::Value = reqwest::get(&guarded).await.unwrap().json().await.unwrap();
    assert_eq!(listed["allowed"], true);
    assert_eq!(listed["needs_token"], true);
    // No simulation in the process (`transit dashboard`): 404, said why.
    let (status, body) = post(&serve(board(), &stop).await, "{}").await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("--what-if"));

    let local: SocketAddr = "127.0.0.1:3000".parse().unwrap();
    let url = serve(
        board().with_what_ifs(WhatIfControl::new(what_ifs.clone(), local, None)),
        &stop,
    )
    .await;
    for bad in [
        "",
        "not json",
        "[]",
        r#"{"kind":"teleport","train":"BL001"}"#,
        r#"{"kind":"break_down","train":"XX001","minutes":5}"#,
        r#"{"kind":"break_down","train":"BL001","minutes":-5}"#,
        r#"{"kind":"break_down","train":"BL001","minutes":100000}"#,
        r#"{"kind":"break_down","train":"BL999","minutes":5}"#,
        r#"{"kind":"out_of_service","train":"BL001","at":"someday"}"#,
        r#"{"kind":"delay","line":"purple","station":40380,"seconds":60}"#,
        r#"{"kind":"delay","line":"green","station":40890,"seconds":60}"#,
        r#"{"kind":"delay","line":"blue","station":40890,"direction":"c","seconds":60}"#,
    ] {
        let (status, body) = post(&url, bad).await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert!(body["error"].is_string(), "{bad:?}: {body}");
    }
    let method = reqwest::Client::new().delete(&url).send().await.unwrap();
    assert_eq!(method.status().as_u16(), 405);

    // A train in service on the board breaks down: 202, then the board shows it so.
    let mut snapshots = running.snapshots();
    let ready = snapshots.wait_for(|s| {
        s.lines[0]
            .trains
            .iter()
            .any(|t| t.status == TrainStatus::InService)
    });
    let snapshot = tokio::time::timeout(Duration::from_secs(60), ready)
        .await
        .unwrap()
        .unwrap()
        .clone();
    let train = snapshot.lines[0]
        .trains
        .iter()
        .find(|t| t.status == TrainStatus::InService)
        .unwrap()
        .id
        .clone();
    let body = format!(r#"{{"kind":"break_down","train":"{train}","minutes":30}}"#);
    let (status, answer) = post(&url, &body).await;
    assert_eq!(status, 202, "{answer}");
    let delay = r#"{"kind":"delay","line":"blue","station":40890,"seconds":60}"#;
    assert_eq!(post(&url, delay).await.0, 202);
    let broken = snapshots.wait_for(|s| train_status(s, &train) == Some(TrainStatus::BrokenDown));
    tokio::time::timeout(Duration::from_secs(60), broken)
        .await
        .unwrap()
        .unwrap();
    let listed: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    let applied = listed["applied"].as_array().unwrap();
    assert!(
        applied
            .iter()
            .any(|a| a["what_if"]["train"] == train.as_str() && a["outcome"] == "applied"),
        "{listed}"
    );

    shutdown.cancel();
    running.stop().await.unwrap();
    stop.cancel();
}
