//! `GET /gtfs/static.zip` on the dashboard's server: the static GTFS feed, as a client
//! downloads it.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use transit_core::metrics::PipelineMetrics;
use transit_core::status::StatusSnapshot;
use transit_gtfs::{FeedOptions, Sources};
use transit_http::dashboard::{self, Dashboard};

#[tokio::test]
async fn the_dashboard_serves_the_static_feed_as_a_zip() {
    let (_snapshots, receiver) = watch::channel(Arc::new(StatusSnapshot::default()));
    let stop = CancellationToken::new();
    let listener = dashboard::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    let board = Dashboard::new(receiver, PipelineMetrics::new(), stop.clone());
    let task = tokio::spawn(dashboard::serve(listener, board, stop.clone()));

    let url = format!("http://{address}/gtfs/static.zip");
    let client = reqwest::Client::new();
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/zip"
    );
    let served = response.bytes().await.unwrap();
    // The feed is a pure function of the embedded data: the very bytes the library builds.
    let expected = transit_gtfs::build(&Sources::embedded().unwrap(), &FeedOptions::default())
        .unwrap()
        .to_zip()
        .unwrap();
    assert!(served.starts_with(b"PK\x03\x04"));
    assert_eq!(served.len(), expected.len());
    assert!(served == expected);
    // Built once: the next download is the same bytes.
    let again = client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(again == served);

    // The dashboard's own answers still hold around it.
    let post = client.post(&url).send().await.unwrap();
    assert_eq!(post.status(), 405);
    let other = client
        .get(format!("http://{address}/gtfs/nope.zip"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);

    stop.cancel();
    task.await.unwrap().unwrap();
}
