//! CTA's own network predicted: a simulated hour through the one-process pipeline with the
//! predictor and its scorer, on the in-memory bus.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use transit_core::codec::{SchemaRegistry, TopicCodec};
use transit_core::event::{AccuracyEvent, PredictionEvent};
use transit_core::processor::read_table;
use transit_gtfs::vehicles::{self, CallNames};
use transit_gtfs::Sources;
use transit_mem::{MemBus, MemRegistry};
use transit_predict::{topics, Method};
use transit_sim::driver::{DriverConfig, Pace};
use transit_sim::pipeline::{self, PipelineConfig, Predictions};
use transit_sim::{SimConfig, SimTime, TickEvents};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_hour_of_cta_is_predicted_on_every_line_and_scored() {
    let start: SimTime = "2026-11-02 07:00:00".parse().unwrap();
    let until = SimTime(start.0 + 3_600_000);
    let sim = transit_sim::testing::simulation(SimConfig {
        start,
        ..SimConfig::default()
    });
    // A twin stepped alone: every call it makes is published once.
    let mut twin = sim.clone();
    let mut tick = TickEvents::default();
    let mut calls = 0;
    while twin.now() < until {
        twin.step(&mut tick);
        calls += tick.calls.len() as u64;
    }
    let sources = Sources::embedded().unwrap();
    let day = vehicles::service_day(&sources, start.date().unwrap()).unwrap();
    let bus = Arc::new(MemBus::new().wait_for_readers());
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let config = PipelineConfig {
        partitions: 2,
        driver: DriverConfig {
            pace: Pace::FlatOut,
            until: Some(until),
            ..DriverConfig::default()
        },
        predictions: Some(Predictions {
            names: Arc::new(CallNames::new(sources)),
            day: Arc::new(day),
        }),
        ..PipelineConfig::embedded().unwrap()
    };
    let topics = config.topics.clone();
    let running = pipeline::start(
        bus.clone(),
        Arc::clone(&registry),
        sim,
        config,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(300), running.simulation_ended()).await;
    assert!(matches!(ended, Ok(Ok(()))), "{ended:?}");
    let report = running.stop().await.unwrap();

    // Every call published, every one placed in the timetable, predictions issued.
    let published = report.driver.published[&topics.vehicle_arrivals()];
    assert_eq!(published, calls);
    let predictor = report.predictor.unwrap();
    assert_eq!(predictor.arrivals, published, "{predictor:?}");
    assert_eq!(
        predictor.unplaced + predictor.undecodable,
        0,
        "{predictor:?}"
    );
    assert!(predictor.issued > published, "{predictor:?}");
    let scorer = report.scorer.unwrap();
    // Every prediction issued and withdrawn is read by the scorer: the predictor's
    // transactions wait for it rather than let retention trim what it has not read.
    assert_eq!(
        scorer.predictions,
        predictor.issued + predictor.withdrawn,
        "{scorer:?}"
    );
    assert_eq!(scorer.arrivals, published, "{scorer:?}");
    assert!(scorer.published > 0, "{scorer:?}");

    // The current predictions at the end of the hour: every line, by the method riders get.
    let table = TopicCodec::<PredictionEvent>::register(
        Arc::clone(&registry),
        topics::predictions(&topics),
    )
    .await
    .unwrap();
    let mut routes = BTreeSet::new();
    for delivery in read_table(bus.as_ref(), table.topic()).await.unwrap() {
        if delivery.value.is_some() {
            let (_, prediction) = table.decode(&delivery).await.unwrap();
            if prediction.method == Method::Learnt.as_str() {
                routes.insert(prediction.route_id);
            }
        }
    }
    assert_eq!(
        routes,
        BTreeSet::from(["Blue".into(), "G".into(), "Red".into()])
    );

    // Accuracy rows for every line, the learnt method's among them, and samples scored.
    let accuracy =
        TopicCodec::<AccuracyEvent>::register(Arc::clone(&registry), topics::accuracy(&topics))
            .await
            .unwrap();
    let mut rows = Vec::new();
    for delivery in read_table(bus.as_ref(), accuracy.topic()).await.unwrap() {
        rows.push(accuracy.decode(&delivery).await.unwrap().1);
    }
    let learnt: Vec<&AccuracyEvent> = rows
        .iter()
        .filter(|row| row.method == Method::Learnt.as_str())
        .collect();
    let scored_routes: BTreeSet<&str> = learnt.iter().map(|row| row.route_id.as_str()).collect();
    assert_eq!(scored_routes, BTreeSet::from(["Blue", "G", "Red"]));
    assert!(learnt.iter().map(|row| row.scored).sum::<u64>() > 100);
    assert!(learnt.iter().all(|row| row.accurate <= row.scored));
}
