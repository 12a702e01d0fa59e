//! The schema registry (and the REST Proxy) restarted.

use super::*;

/// Restarts `transit registry` (the schema registry and the REST Proxy) twice while everything
/// runs. First between two weather readings: the producer and the processors, whose schema
/// ids are cached, carry on; a processor started while the registry is down must wait for it
/// rather than fail, and a dashboard restarted meanwhile must not refuse good records because
/// it could not look their schemas up. Then across the hour: the producer's weather reading
/// falls due while the REST Proxy is down, and it must be posted once the proxy is back, not
/// lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the fault suite: run by scripts/test.sh on the secured cluster (see its doc)"]
async fn faults_the_schema_registry_restarts_mid_run() {
    scenario("registry-restart", |logs| async move {
        let mut run = Run::start(
            "registry-restart",
            logs,
            Plan {
                members: 1,
                speed: 360,
            },
        )
        .await;
        run.wait_counting(0, RECOVERY).await;
        run.wait_board_moving().await;
        // The weather readings say when an hour begins.
        let latest =
            |topic: String| SubscribeOptions::topics([topic]).starting_at(StartFrom::Latest);
        let mut weather = run
            .bus
            .subscribe(latest(run.settings.topics.weather()))
            .await
            .expect("subscribing to the weather");

        // 1. Down between two readings: right after one was posted.
        let reading = tokio::time::timeout(RECOVERY, weather.recv())
            .await
            .expect("a weather reading")
            .expect("the bus is open")
            .expect("a weather reading");
        let key = transit_core::codec::Decoder::<transit_core::event::WeatherKey>::new(Arc::clone(
            &run.registry_client,
        ))
        .expect("a decoder of weather keys")
        .decode(reading.key.as_deref().unwrap_or_default())
        .await
        .expect("a weather key");
        run.assert_producing("the first registry restart");
        run.registry.interrupt(STOP).await;
        let down = Instant::now();
        run.phase(&format!(
            "registry and REST Proxy stopped, after the reading of {}",
            SimTime(key.timestamp)
        ));
        // A new member starts meanwhile: it must register its schemas.
        let newcomer = run.launcher.start("process-b", &run.settings.member_args());
        run.members.push(newcomer);
        // And the dashboard restarts: it has no schema cached, and reads everything again.
        run.dashboard.kill9().await;
        run.dashboard = run.launcher.restart(&run.dashboard);
        run.wait_dashboard().await;
        // The registry stays down until the new dashboard has read records.
        let deadline = Instant::now() + STARTUP;
        let consumed = loop {
            run.dashboard.assert_running();
            let metrics = request(run.settings.dashboard_address, "GET", "/metrics", None)
                .await
                .map(|response| response.body)
                .unwrap_or_default();
            let consumed: u64 = metrics
                .lines()
                .filter(|line| line.starts_with("transit_records_consumed_total{"))
                .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
                .sum();
            if consumed > 0 {
                break consumed;
            }
            assert!(
                Instant::now() < deadline,
                "the restarted dashboard read nothing within {STARTUP:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        run.phase(&format!(
            "started process-b and {}, which read {consumed} records, while the registry is down",
            run.dashboard.label()
        ));
        // A refused registration fails at once; give it a moment to show.
        let moment = Instant::now() + Duration::from_secs(3);
        while Instant::now() < moment && run.members[1].exited().is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let newcomer_failed = run.members[1].exited();
        run.registry = run.launcher.restart(&run.registry);
        run.wait_registry().await;
        run.phase(&format!(
            "{} serving again after {:.1} s",
            run.registry.label(),
            down.elapsed().as_secs_f64()
        ));
        run.assert_producing("the end of the first registry restart");
        run.members[0].assert_running();
        run.dashboard.assert_running();
        let counted = run.watch().sum();
        // Dead letters other than the station processor's (the raw rows on no line).
        let mut refused: BTreeMap<(String, String), u64> = BTreeMap::new();
        let header = |delivery: &Delivery, name: &str| {
            delivery
                .header(name)
                .map(|value| String::from_utf8_lossy(value).into_owned())
                .unwrap_or_default()
        };
        read_topic(
            run.bus.as_ref(),
            &run.settings.topics.dead_letter(),
            |delivery| {
                let consumer = header(&delivery, transit_core::deadletter::HEADER_CONSUMER);
                if !consumer.ends_with("-station-processor") {
                    let topic = header(&delivery, transit_core::deadletter::HEADER_TOPIC);
                    let reason = header(&delivery, transit_core::deadletter::HEADER_REASON);
                    *refused
                        .entry((format!("{consumer} on {topic}"), reason))
                        .or_default() += 1;
                }
            },
        )
        .await
        .expect("reading the dead-letter topic");
        if !refused.is_empty() {
            run.finding(format!(
                "good records went to the dead-letter topic while the registry was down: a \
                 reader that could not fetch a schema refused them as undecodable, and they \
                 never reach its state: {refused:?}"
            ));
        }
        if let Some(status) = newcomer_failed {
            let line = run.members[1]
                .lines_with(&["error:"])
                .pop()
                .unwrap_or_else(|| run.members[1].last_lines(3));
            run.finding(format!(
                "a processor started while the registry was down exited ({status}) instead of \
                 waiting for it and retrying: {}",
                transit_testkit::processes::shorten(&line)
            ));
            let gone = run.members.remove(1);
            run.retired.push(gone);
        } else {
            run.wait_counting(1, RECOVERY).await;
            run.phase("the member started while the registry was down joined, and counts");
        }
        let deadline = Instant::now() + RECOVERY;
        while run.watch().sum() == counted {
            run.assert_running();
            assert!(
                Instant::now() < deadline,
                "nothing was counted within {RECOVERY:?} of the registry's restart"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        run.phase("the producer, the processor and the dashboard carried on with cached schemas");

        // 2. Down across the hour: a reading falls due while the REST Proxy is down. The Blue
        // arrivals from now on say how far the producer got.
        let mut arrivals = run
            .bus
            .subscribe(latest(run.settings.topics.arrivals(cta::BLUE)))
            .await
            .expect("subscribing to the arrivals");
        let next = tokio::time::timeout(RECOVERY, arrivals.recv())
            .await
            .expect("an arrival")
            .expect("the bus is open")
            .expect("an arrival");
        let hour = 3_600_000i64;
        let due = (next.timestamp_ms / hour + 1) * hour;
        run.assert_producing("the second registry restart");
        run.registry.interrupt(STOP).await;
        let down = Instant::now();
        run.phase(&format!(
            "registry and REST Proxy stopped again, at {}; the next reading is due at {}",
            SimTime(next.timestamp_ms),
            SimTime(due)
        ));
        let deadline = Instant::now() + RECOVERY;
        loop {
            if run.producer.exited().is_some() {
                break;
            }
            let next = tokio::time::timeout(Duration::from_millis(500), arrivals.recv()).await;
            if let Ok(Some(Ok(arrival))) = next {
                if arrival.timestamp_ms >= due {
                    run.phase(&format!(
                        "the producer reached {} while the REST Proxy is down",
                        SimTime(arrival.timestamp_ms)
                    ));
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the producer never reached {} within {RECOVERY:?}",
                SimTime(due)
            );
        }
        // A refused post fails at once; give it a moment to show.
        let moment = Instant::now() + Duration::from_secs(3);
        while Instant::now() < moment && run.producer.exited().is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let producer_failed = run.producer.exited();
        run.registry = run.launcher.restart(&run.registry);
        run.wait_registry().await;
        run.phase(&format!(
            "{} serving again after {:.1} s",
            run.registry.label(),
            down.elapsed().as_secs_f64()
        ));
        if let Some(status) = producer_failed {
            let line = run
                .producer
                .lines_with(&["error:"])
                .pop()
                .unwrap_or_else(|| run.producer.last_lines(3));
            let mut findings = run.findings.clone();
            findings.push(format!(
                "transit produce exited ({status}) when a weather reading fell due while the \
                 REST Proxy was down, instead of retrying it; the rest of its run is lost: {}",
                transit_testkit::processes::shorten(&line)
            ));
            panic!("the registry's restart:\n- {}", findings.join("\n- "));
        }
        run.finish().await;
    })
    .await;
}
