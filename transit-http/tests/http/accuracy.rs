//! The accuracy panel on both boards, over real HTTP: accuracy rows published on the in-memory
//! bus (as the scorer publishes them), read by the accuracy read model, shown on CTA's
//! dashboard and on any agency's board, with the same figures on `/api/accuracy` and
//! `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use transit_core::accuracy::{AccuracyService, AccuracySnapshot};
use transit_core::bus::{EventBus, EventBusExt};
use transit_core::codec::{SchemaRegistry, TopicCodec};
use transit_core::event::AccuracyEvent;
use transit_core::metrics::PipelineMetrics;
use transit_core::model::{LineId, Rgb, Route};
use transit_core::network::cta;
use transit_core::network::service_day::ServiceDay;
use transit_core::status::{HeadwayPanel, LineView, StatusSnapshot};
use transit_core::topics::Topics;
use transit_http::agency_board::{self, AgencyBoard, AgencyNetwork};
use transit_http::dashboard::{self, Dashboard};
use transit_mem::{MemBus, MemRegistry};
use transit_testkit::http::request;

fn row(route: &str, hour: i32, bucket: &str, method: &str, partition: u32) -> AccuracyEvent {
    AccuracyEvent {
        route_id: route.into(),
        hour,
        bucket: bucket.into(),
        method: method.into(),
        partition,
        scored: 90,
        accurate: 81,
        abs_error_sum_s: 90 * 40,
        expired: 10,
        late: 7,
        never: 3,
        updated_at: 1_800_000_000_000,
    }
}

/// The accuracy read model over a bus on which `rows` were published, once it has them all.
async fn accuracy_of(
    rows: &[AccuracyEvent],
    shutdown: &CancellationToken,
) -> watch::Receiver<Arc<AccuracySnapshot>> {
    let bus: Arc<dyn EventBus> = Arc::new(MemBus::new());
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topics = Topics::default();
    let topic = format!("{}.predictions.accuracy.v1", topics.prefix());
    let (service, mut snapshots) = AccuracyService::new(
        Arc::clone(&bus),
        Arc::clone(&registry),
        topic.clone(),
        topics.dead_letter(),
        PipelineMetrics::new(),
    )
    .unwrap();
    tokio::spawn(service.run(shutdown.clone()));
    let codec = TopicCodec::<AccuracyEvent>::register(registry, topic.clone())
        .await
        .unwrap();
    // The service creates the table; publishing waits until it has.
    for row in rows {
        let record = codec.record(row, row.updated_at).unwrap();
        loop {
            match bus.publish(&topic, record.clone()).await {
                Ok(_) => break,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
    let expected = rows.len() as u64;
    tokio::time::timeout(Duration::from_secs(10), async {
        while snapshots.borrow_and_update().version < expected {
            snapshots.changed().await.unwrap();
        }
    })
    .await
    .expect("the read model applies every row");
    snapshots
}

async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let response = request(address, "GET", path, None).await.unwrap();
    (response.status, response.body)
}

#[tokio::test]
async fn ctas_dashboard_shows_each_lines_panel_and_serves_its_figures() {
    let shutdown = CancellationToken::new();
    let accuracy = accuracy_of(
        &[
            row("Blue", 7, "6-12", "learnt", 0),
            row("Blue", 7, "6-12", "learnt", 1),
            row("Blue", 8, "6-12", "delay", 0),
        ],
        &shutdown,
    )
    .await;
    let status = StatusSnapshot {
        version: 1,
        lines: [cta::BLUE, cta::RED]
            .into_iter()
            .map(|line| LineView {
                line,
                stations: Vec::new(),
                trains: Vec::new(),
                headways: HeadwayPanel::default(),
            })
            .collect(),
        ..StatusSnapshot::default()
    };
    let (_status, snapshots) = watch::channel(Arc::new(status));
    let listener = dashboard::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let board =
        Dashboard::new(snapshots, PipelineMetrics::new(), shutdown.clone()).with_accuracy(accuracy);
    let server = tokio::spawn(dashboard::serve(listener, board, shutdown.clone()));

    let (code, page) = get(address, "/").await;
    assert_eq!(code, 200);
    assert!(page.contains(r#"id="accuracy-Blue""#), "{page}");
    assert!(page.contains("Prediction accuracy · Blue Line"));
    // Partitions summed: 162 right of 200 samples.
    assert!(page.contains("81.0 %"));
    assert!(page.contains("MAE 40 s · 200 scored"));
    assert!(page.contains("<svg class=\"acc-chart\""));
    assert!(page.contains("No predictions of Red Line scored yet."));

    let (code, fragment) = get(address, "/fragment/accuracy?route=Blue").await;
    assert_eq!(code, 200);
    assert!(fragment.starts_with("<section class=\"accuracy\" id=\"accuracy-Blue\""));
    assert_eq!(get(address, "/fragment/accuracy?route=Nope").await.0, 404);

    let (code, json) = get(address, "/api/accuracy").await;
    assert_eq!(code, 200);
    let json: Value = serde_json::from_str(&json).unwrap();
    let blue = &json["routes"][0];
    assert_eq!(blue["route_id"], "Blue");
    let cell = blue["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["bucket"] == "6-12" && c["method"] == "learnt")
        .unwrap();
    assert_eq!(cell["scored"], 180);
    assert_eq!(cell["accurate_pct"], 81.0);
    assert_eq!(cell["late"], 14);
    assert_eq!(blue["hours"][0]["hour"], 7);

    let (_, metrics) = get(address, "/metrics").await;
    for needle in [
        r#"transit_prediction_accuracy_ratio{route="Blue",bucket="6-12",method="learnt"} 0.81"#,
        r#"transit_predictions_scored_total{route="Blue",bucket="6-12",method="delay"} 100"#,
        r#"transit_prediction_hour_accuracy_ratio{route="Blue",hour="7"} 0.81"#,
    ] {
        assert!(metrics.contains(needle), "{needle:?} missing:\n{metrics}");
    }

    shutdown.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_dashboard_without_the_table_has_no_panel() {
    let shutdown = CancellationToken::new();
    let status = StatusSnapshot {
        version: 1,
        lines: vec![LineView {
            line: cta::BLUE,
            stations: Vec::new(),
            trains: Vec::new(),
            headways: HeadwayPanel::default(),
        }],
        ..StatusSnapshot::default()
    };
    let (_status, snapshots) = watch::channel(Arc::new(status));
    let listener = dashboard::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let board = Dashboard::new(snapshots, PipelineMetrics::new(), shutdown.clone());
    let server = tokio::spawn(dashboard::serve(listener, board, shutdown.clone()));
    let (_, page) = get(address, "/").await;
    assert!(!page.contains("accuracy"), "{page}");
    let (code, json) = get(address, "/api/accuracy").await;
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&json).unwrap()["routes"],
        Value::Array(Vec::new())
    );
    assert_eq!(get(address, "/fragment/accuracy?route=Blue").await.0, 404);
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

fn route(id: &'static str, short: &str, long: &str) -> Route {
    Route {
        id: LineId::from_static(id),
        short_name: short.into(),
        long_name: long.into(),
        route_type: 1,
        color: Rgb([0xEE, 0x35, 0x2E]),
        text_color: Rgb::WHITE,
    }
}

#[tokio::test]
async fn an_agencys_board_shows_the_chosen_routes_panel_and_serves_its_figures() {
    let shutdown = CancellationToken::new();
    let accuracy = accuracy_of(
        &[
            row("1", 7, "0-3", "learnt", 0),
            row("1", 7, "0-3", "latest_segment", 2),
        ],
        &shutdown,
    )
    .await;
    let date = NaiveDate::from_ymd_opt(2025, 1, 13).unwrap();
    let day = ServiceDay {
        timezone: "America/New_York".into(),
        requested: date,
        date,
        start_unix_s: 1_736_744_400,
        routes: vec![
            route("1", "1", "Broadway - 7 Avenue Local"),
            route("2", "2", "7 Avenue Express"),
        ],
        stops: Vec::new(),
        trips: Vec::new(),
        vehicles: Vec::new(),
    };
    let board = AgencyBoard::new(AgencyNetwork {
        name: "MTA New York City Transit".into(),
        day: Arc::new(day),
        shapes: Vec::new(),
    })
    .with_accuracy(accuracy);
    let listener = agency_board::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(agency_board::serve(listener, board, shutdown.clone()));

    let (code, page) = get(address, "/").await;
    assert_eq!(code, 200);
    assert!(
        page.contains(
            r#"<h2 id="accuracy-1-title">Prediction accuracy · 1 (Broadway - 7 Avenue Local)</h2>"#
        ),
        "{page}"
    );
    assert!(page.contains("81.0 %"));
    assert!(page.contains("Learnt (served)"));
    let (_, other) = get(address, "/?route=2").await;
    assert!(other.contains("No predictions of 2 (7 Avenue Express) scored yet."));

    let (code, fragment) = get(address, "/fragment/accuracy?route=1").await;
    assert_eq!(code, 200);
    assert!(fragment.contains("accuracy-1"));
    assert_eq!(get(address, "/fragment/accuracy?route=9").await.0, 404);

    let (_, json) = get(address, "/api/accuracy").await;
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["routes"][0]["route_id"], "1");
    let (code, metrics) = get(address, "/metrics").await;
    assert_eq!(code, 200);
    assert!(
        metrics.contains(
            r#"transit_prediction_mean_absolute_error_seconds{route="1",bucket="0-3",method="latest_segment"} 40"#
        ),
        "{metrics}"
    );

    shutdown.cancel();
    server.await.unwrap().unwrap();
}
