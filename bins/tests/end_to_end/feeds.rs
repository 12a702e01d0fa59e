//! The live feeds as the dashboard process serves them, on whichever bus it reads: called by
//! the example's test (in-memory bus, the schedule) and the production one (`transit
//! dashboard` on Apache Kafka, a fixed fleet).

use std::net::SocketAddr;

use serde_json::Value;
use transit_testkit::http::request;

async fn get(address: SocketAddr, path: &str) -> (String, String) {
    let response = request(address, "GET", path, None)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(response.status, 200, "GET {path}: {}", response.body);
    let content_type = response.header("content-type").unwrap_or("").to_string();
    (content_type, response.body)
}

async fn json(address: SocketAddr, path: &str) -> Value {
    let (_, body) = get(address, path).await;
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON: {e}: {body}"))
}

/// GTFS-realtime and Train Tracker answer for the trains on the board; `scheduled`: the
/// trains run the schedule, so each names its trip.
pub(crate) async fn assert_live_feeds(address: SocketAddr, scheduled: bool) {
    let (content_type, _) = get(address, "/gtfs-rt/vehicle-positions").await;
    assert_eq!(content_type, "application/x-protobuf");
    let positions = json(address, "/gtfs-rt/vehicle-positions?format=json").await;
    assert_eq!(
        positions["header"]["gtfsRealtimeVersion"], "2.0",
        "{positions}"
    );
    let vehicles = positions["entity"].as_array().cloned().unwrap_or_default();
    assert!(!vehicles.is_empty(), "no vehicles: {positions}");
    for entity in &vehicles {
        let vehicle = &entity["vehicle"];
        let route = vehicle["trip"]["routeId"].as_str().unwrap_or("");
        assert!(["Blue", "Red", "G"].contains(&route), "{entity}");
        assert!(vehicle["stopId"].as_str().is_some(), "{entity}");
        assert_eq!(
            vehicle["trip"]["tripId"].is_string(),
            scheduled,
            "a trip id with the schedule only: {entity}"
        );
    }
    let updates = json(address, "/gtfs-rt/trip-updates?format=json").await;
    let trips = updates["entity"].as_array().map_or(0, Vec::len);
    if scheduled {
        assert!(trips > 0, "no trip updates: {updates}");
    } else {
        assert_eq!(trips, 0, "no trips without the schedule: {updates}");
    }

    let tracker = json(
        address,
        "/api/1.0/ttpositions.aspx?key=any&rt=red,blue,g&outputType=JSON",
    )
    .await;
    assert_eq!(tracker["ctatt"]["errCd"], "0", "{tracker}");
    let trains: Vec<&Value> = tracker["ctatt"]["route"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|route| route["train"].as_array().into_iter().flatten())
        .collect();
    // The board moves on between two requests: the count may differ, never to none; a train
    // may leave service before it is followed, not all of them.
    assert!(!trains.is_empty(), "no trains: {tracker}");
    let mut followed = Value::Null;
    for train in &trains {
        let run = train["rn"].as_str().unwrap_or("");
        followed = json(
            address,
            &format!("/api/1.0/ttfollow.aspx?key=any&runnumber={run}&outputType=JSON"),
        )
        .await;
        if followed["ctatt"]["errCd"] == "0" {
            break;
        }
    }
    assert_eq!(followed["ctatt"]["errCd"], "0", "{followed}");
    assert!(
        followed["ctatt"]["position"]["lat"].is_string(),
        "{followed}"
    );
    let (content_type, arrivals) =
        get(address, "/api/1.0/ttarrivals.aspx?key=any&mapid=40380").await;
    assert_eq!(content_type, "text/xml; charset=utf-8");
    assert!(arrivals.contains("<errCd>0</errCd>"), "{arrivals}");
    let (_, missing) = get(address, "/api/1.0/ttarrivals.aspx?key=any").await;
    assert!(missing.contains("<errCd>100</errCd>"), "{missing}");
}
