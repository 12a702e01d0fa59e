//! Predictions and their scores over any agency's weekday, flat out on the in-memory bus.
//!
//! What runs: the agency's static GTFS feed (`--gtfs PATH`, a zip or a folder; rail routes by
//! default, `--route-types` as `full_pipeline` takes it) is read and the service of a weekday
//! (`--date`, the next Monday by default; a date the feed's calendar does not cover runs the
//! same weekday of its own range) is simulated flat out by the timetabled simulation, which
//! publishes every arrival on the bus. The day is run twice, each on a bus of its own:
//!
//! 1. the simulation alone, timed;
//! 2. the simulation with the predictor (`transit_predict::PredictionProcessor`: the table of
//!    predictions, learnt from the arrivals, with its baselines) and the scorer
//!    (`transit_predict::ScoreProcessor`: MBTA's horizon buckets, as a consumer polling every
//!    30 s would see the predictions) reading along, timed until both have read everything.
//!
//! It prints the accuracy table, buckets × methods (the share right and the mean absolute
//! error), and both times. The predictor reads only the bus and the timetable; it never sees
//! the simulation's state.
//!
//! ```text
//! cargo run --release --example predictions -- --gtfs ~/.cache/transit/feeds/nyc_subway_gtfs.zip
//! cargo run --release --example predictions -- --gtfs feed.zip --date 2025-01-13 --partitions 1
//! ```
//!
//! `--breakdown ROUTE@HH:MM+MIN` has the first train of ROUTE to leave a stop from HH:MM on
//! stand between it and the next for MIN minutes (in both runs): the table is then that
//! day's, and the accuracy of the predictions of the trains that came behind it (those that
//! reached its next stop within 30 minutes after it) is printed minute by minute around its
//! clearing.
//!
//! Where it stops: the predictor sees the train ahead only among the vehicles of the
//! partitions it holds (all of them here: one member each).
//!
//! Pacing: flat out, the simulation runs at most `--lead` arrivals per partition ahead of its
//! slowest reader (the arrivals topic's retention, on a bus that waits for its readers), as a
//! live feed never runs far ahead of a predictor that keeps up: each batch the predictor reads
//! is then every partition's arrivals up to one instant, which it applies in event-time order.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{Datelike, NaiveDate, Utc, Weekday};
use clap::Parser;
use tokio_util::sync::CancellationToken;
use transit::agency::{AgencyArgs, AgencyDay};
use transit_core::bus::{Delivery, EventBus, SubscribeOptions, TopicSpec};
use transit_core::codec::{SchemaRegistry, TopicCodec};
use transit_core::event::AccuracyEvent;
use transit_core::metrics::PipelineMetrics;
use transit_core::processor::runner::Transactions;
use transit_core::processor::{read_table, BATCH};
use transit_core::topics::Topics;
use transit_mem::{MemBus, MemRegistry};
use transit_predict::{
    topics, Method, PredictConfig, PredictionProcessor, ScoreConfig, ScoreProcessor, Summary,
    BUCKETS,
};
use transit_sim::timetabled::publish::{self, Clock, PublishConfig};
use transit_sim::timetabled::{Breakdown, BrokenDown};
use transit_sim::SimTime;

/// Predictions over any agency's weekday, scored.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The feed, and which of its routes and service dates to run.
    #[command(flatten)]
    agency: AgencyArgs,

    /// The date simulated (YYYY-MM-DD); the next Monday by default.
    #[arg(long, value_name = "DATE")]
    date: Option<NaiveDate>,

    /// Partitions of the arrivals topic (and of the prediction table).
    #[arg(long, default_value_t = 4)]
    partitions: u32,

    /// How many arrivals per partition the simulation may publish ahead of its slowest
    /// reader (the predictor, the scorer). Flat out, a simulation far ahead hands the
    /// predictor a backlog, and the in-memory bus gives a reader that is behind a run of one
    /// partition at a time: the predictor would read one partition's day before the next one's,
    /// which no live deployment does. By default as many as one batch of the predictor holds
    /// over every partition, so each batch is every partition's arrivals up to one instant;
    /// 0 lets it run as far ahead as the bus keeps (100 000 records a partition).
    #[arg(long, value_name = "RECORDS")]
    lead: Option<u64>,

    /// The simulation's seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,

    /// How far a prediction must move before it is issued again, ms (0 with the next: every
    /// change).
    #[arg(long, default_value_t = transit_predict::model::ISSUE_RESOLUTION_MS)]
    issue_resolution_ms: u32,

    /// How much more it must move for each minute it is ahead, ms (0: the same at every
    /// horizon).
    #[arg(long, default_value_t = transit_predict::model::ISSUE_RESOLUTION_PER_MINUTE_MS)]
    issue_resolution_per_minute_ms: u32,

    /// A breakdown what-if: the first train of ROUTE to leave a stop from HH:MM on stands
    /// there MIN minutes (e.g. `1@08:00+10`).
    #[arg(long, value_name = "ROUTE@HH:MM+MIN", value_parser = parse_breakdown)]
    breakdown: Option<Breakdown>,

    /// Leave the predictor unaware of the trips the simulation drops (their cancellations are
    /// published, not read): its vehicles are then predicted on them until not seen there.
    #[arg(long)]
    unannounced_cancellations: bool,

    /// Announce each learnt arrival at the middle of its bucket's window rather than at its
    /// estimate (`PredictConfig::aim_at_window`).
    #[arg(long)]
    aim_at_window: bool,

    /// Predict a late vehicle on its next trip however late it would leave for it, rather than
    /// on the trip after when the dispatchers would turn it (`PredictConfig::turn_late_after_s`).
    #[arg(long)]
    no_turns: bool,

    /// How log lines look, and which.
    #[command(flatten)]
    log: transit::logging::LogArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    transit::logging::init(args.log.log_format);
    if args.agency.gtfs.is_none() {
        bail!("--gtfs PATH is required: the static GTFS feed (a zip or a folder) to simulate");
    }
    if args.agency.live {
        bail!("--live is not for this example: it runs a day flat out");
    }
    let date = args.date.unwrap_or_else(next_monday);
    let start = date
        .and_hms_opt(0, 0, 0)
        .map(SimTime::from_naive)
        .context("the date is out of range")?;
    let agency = args.agency.day(start)?.context("--gtfs names no feed")?;
    println!(
        "{}: the service of {} run on {} ({} routes, {} trips, {} vehicles)",
        agency.path.display(),
        agency.day.date,
        agency.day.requested,
        agency.day.routes.len(),
        agency.day.trips.len(),
        agency.day.vehicles.len()
    );

    let (published, without) = run(&args, &agency, false).await?;
    println!(
        "simulation alone:                  {published} arrivals in {:.3} s",
        without.elapsed.as_secs_f64()
    );
    let (_, with) = run(&args, &agency, true).await?;
    println!(
        "with the predictor and the scorer: {published} arrivals in {:.3} s ({:.2}x)",
        with.elapsed.as_secs_f64(),
        with.elapsed.as_secs_f64() / without.elapsed.as_secs_f64().max(1e-9)
    );
    if let Some(stats) = &with.predictor {
        println!("predictor: {stats}");
    }
    if let Some(stats) = &with.scorer {
        println!("scorer:    {stats}");
    }
    if let Some((entries, took)) = with.restore {
        println!(
            "the predictor's changelog at the end of the day: {entries} entries, read back in {} ms",
            took.as_millis()
        );
    }
    print_table(&Summary::of(&with.accuracy));
    if let Some((broken, recovery)) = &with.recovery {
        breakdown::print(&agency.day, broken, recovery);
    }
    Ok(())
}

/// What one run measured.
struct Run {
    elapsed: Duration,
    predictor: Option<transit_predict::PredictorStats>,
    scorer: Option<transit_predict::ScorerStats>,
    accuracy: Vec<AccuracyEvent>,
    /// The predictor's changelog read back (what a member given every partition restores):
    /// entries and time.
    restore: Option<(usize, Duration)>,
    /// The breakdown what-if's, and how the trains behind it were predicted around its clearing.
    recovery: Option<(BrokenDown, transit_predict::recovery::Recovery)>,
}

/// Simulates the day on a bus of its own, with the predictor and scorer when `predict`.
async fn run(args: &Args, agency: &AgencyDay, predict: bool) -> anyhow::Result<(u64, Run)> {
    // Flat out, every record must be read: a publisher waits for its slowest reader rather
    // than let retention trim what a reader has not read yet.
    let bus = Arc::new(MemBus::new().wait_for_readers());
    let shared: Arc<dyn EventBus> = bus.clone();
    let registry: Arc<dyn SchemaRegistry> = Arc::new(MemRegistry::new());
    let topics = Topics::new("gov.example.transit");
    let partitions = args.partitions.max(1);
    let lead = args
        .lead
        .unwrap_or(BATCH as u64 / u64::from(partitions))
        .max(1);
    if predict && args.lead != Some(0) {
        // Created first with a retention of `lead` records: the bus holds the simulation back
        // that far ahead of its readers.
        shared
            .create_topic(
                &TopicSpec::new(topics.vehicle_arrivals(), partitions).with_retention_records(lead),
            )
            .await?;
    }
    if predict && args.breakdown.is_some() {
        // The breakdown's measure reads the predictions issued back from the topic's start
        // once the day is over: the topic keeps the whole day (about 2 M records, 0.5 GB, on
        // NYC's two lines) rather than the bus's default retention, which kept only its last
        // hours.
        shared
            .create_topic(
                &TopicSpec::new(topics::issued(&topics), partitions)
                    .with_retention_records(u64::MAX)
                    .with_retention_bytes(u64::MAX),
            )
            .await?;
    }
    publish::create_topic(shared.as_ref(), &topics, partitions).await?;
    let codec = publish::register_codec(Arc::clone(&registry), &topics).await?;
    let cancellations =
        Arc::new(publish::register_cancellations(Arc::clone(&registry), &topics).await?);
    let mut sim = agency.simulation(args.seed)?;
    if let Some(breakdown) = args.breakdown {
        sim.break_down(breakdown);
    }
    let config = PublishConfig {
        clock: Clock::FlatOut,
        until_s: None,
        progress_every: Duration::from_secs(10),
        cancellations: Some(cancellations),
    };
    let metrics = PipelineMetrics::new();
    let (stop_predictor, stop_scorer) = (CancellationToken::new(), CancellationToken::new());
    let processors = if predict {
        let predictor = PredictionProcessor::new(
            Arc::clone(&shared),
            Arc::clone(&registry),
            &topics,
            Arc::clone(&agency.day),
            partitions,
            Arc::clone(&metrics),
        )
        .await?
        .config(PredictConfig {
            issue_resolution_ms: args.issue_resolution_ms,
            issue_resolution_per_minute_ms: args.issue_resolution_per_minute_ms,
            aim_at_window: args.aim_at_window,
            turn_late_after_s: PredictConfig::default()
                .turn_late_after_s
                .filter(|_| !args.no_turns),
            ..PredictConfig::default()
        });
        let predictor = if args.unannounced_cancellations {
            predictor
        } else {
            predictor.cancellations(Arc::clone(&registry), topics.trip_cancellations())?
        };
        let scorer = ScoreProcessor::new(
            Arc::clone(&shared),
            Arc::clone(&registry),
            &topics,
            ScoreConfig {
                day_start_unix_s: agency.day.start_unix_s,
                ..ScoreConfig::default()
            },
            Arc::clone(&metrics),
        )
        .await?;
        // Publish, then commit (replays made harmless by the offsets in their changelogs): the
        // in-memory bus holds a plain publish back for its readers, not a transaction's, and the
        // scorer must read every prediction issued.
        let predictor = predictor.transactions(Transactions::Off);
        let scorer = scorer.transactions(Transactions::Off);
        let running = (
            tokio::spawn(predictor.run(stop_predictor.clone())),
            tokio::spawn(scorer.run(stop_scorer.clone())),
        );
        // Both have their partitions (and read from the start of them) before the day
        // begins: a reader that is not there yet holds back nothing, and retention would
        // trim what it has not read.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(metrics.has_restored(transit_predict::predictor::PREDICTOR)
            && metrics.has_restored(transit_predict::scorer::SCORER))
        {
            if Instant::now() > deadline {
                bail!("the predictor and the scorer were not ready within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Some(running)
    } else {
        None
    };
    // The breakdown's measure reads the day's arrivals back, which a short retention trims:
    // a reader of its own keeps them.
    let keeper = if predict && args.breakdown.is_some() {
        Some(ArrivalKeeper::start(shared.as_ref(), &topics.vehicle_arrivals()).await?)
    } else {
        None
    };
    let started = Instant::now();
    let stats = publish::run(
        shared.as_ref(),
        &mut sim,
        &codec,
        &config,
        CancellationToken::new(),
    )
    .await?;
    let mut run = Run {
        elapsed: Duration::ZERO,
        predictor: None,
        scorer: None,
        accuracy: Vec::new(),
        restore: None,
        recovery: None,
    };
    if let Some((predictor, scorer)) = processors {
        // Each reads on to the end of what was published before its stop: the predictor the
        // whole day, then the scorer everything the predictor issued.
        stop_predictor.cancel();
        run.predictor = Some(predictor.await.context("the predictor's task")??);
        stop_scorer.cancel();
        run.scorer = Some(scorer.await.context("the scorer's task")??);
    }
    run.elapsed = started.elapsed();
    if predict {
        let codec =
            TopicCodec::<AccuracyEvent>::register(Arc::clone(&registry), topics::accuracy(&topics))
                .await?;
        for delivery in read_table(shared.as_ref(), codec.topic()).await? {
            run.accuracy.push(codec.decode(&delivery).await?.1);
        }
        let reading = Instant::now();
        let entries = read_table(shared.as_ref(), &topics::predictor_state(&topics)).await?;
        run.restore = Some((entries.len(), reading.elapsed()));
        let kept = match keeper {
            Some(keeper) => keeper.finish(stats.published).await?,
            None => Vec::new(),
        };
        if let Some(broken) = sim.broken_down().first() {
            let recovery = breakdown::recovery(
                shared.as_ref(),
                &registry,
                &topics,
                &agency.day,
                broken,
                &kept,
            )
            .await?;
            run.recovery = Some((*broken, recovery));
        }
    }
    Ok((stats.published, run))
}

/// A reader of the arrivals topic that keeps every record it reads (the bus would trim them).
struct ArrivalKeeper {
    target: tokio::sync::watch::Sender<Option<u64>>,
    task: tokio::task::JoinHandle<anyhow::Result<Vec<Delivery>>>,
}

impl ArrivalKeeper {
    /// Subscribes (from the start) before anything is published, so the bus waits for it too.
    async fn start(bus: &dyn EventBus, topic: &str) -> anyhow::Result<Self> {
        let mut consumer = bus.subscribe(SubscribeOptions::topics([topic])).await?;
        let mut kept = Vec::new();
        // A first look makes it a reader the bus knows of before the day begins.
        let _ = tokio::time::timeout(
            Duration::from_millis(20),
            consumer.recv_batch(&mut kept, BATCH),
        )
        .await;
        let (target, mut wanted) = tokio::sync::watch::channel(None::<u64>);
        let task = tokio::spawn(async move {
            let mut batch = Vec::new();
            loop {
                if wanted
                    .borrow_and_update()
                    .is_some_and(|n| kept.len() as u64 >= n)
                {
                    return Ok(kept);
                }
                batch.clear();
                match tokio::time::timeout(
                    Duration::from_millis(50),
                    consumer.recv_batch(&mut batch, BATCH),
                )
                .await
                {
                    Err(_quiet) => {}
                    Ok(Ok(0)) => return Ok(kept),
                    Ok(Ok(_)) => kept.append(&mut batch),
                    Ok(Err(error)) => return Err(error.into()),
                }
            }
        });
        Ok(Self { target, task })
    }

    /// Every arrival of the day, once `published` were read.
    async fn finish(self, published: u64) -> anyhow::Result<Vec<Delivery>> {
        self.target.send_replace(Some(published));
        self.task.await.context("the arrivals' keeper")?
    }
}

/// The Monday after today (UTC), or today if it is one.
fn next_monday() -> NaiveDate {
    let mut date = Utc::now().date_naive();
    while date.weekday() != Weekday::Mon {
        date = date.succ_opt().unwrap_or(date);
        if date == NaiveDate::MAX {
            break;
        }
    }
    date
}

/// Buckets down, methods across: the share right and the mean absolute error, and how many
/// samples each rests on.
fn print_table(summary: &Summary) {
    print!("\n{:<9}", "bucket");
    for method in Method::ALL {
        print!(" | {:^24}", method.as_str());
    }
    println!();
    for (bucket, b) in BUCKETS.iter().enumerate() {
        print!("{:<9}", format!("{} min", b.name));
        for method in Method::ALL {
            let cell = match (
                summary.accuracy(bucket, method.as_str()),
                summary.mae_s(bucket, method.as_str()),
            ) {
                (Some(accuracy), Some(mae)) => {
                    let n = summary
                        .cells
                        .get(&(bucket, method.as_str().to_string()))
                        .map_or(0, |c| c.scored + c.expired);
                    format!("{:5.1} % {:5.0} s n={n}", accuracy * 100.0, mae)
                }
                (Some(accuracy), None) => format!("{:5.1} %", accuracy * 100.0),
                _ => "-".to_string(),
            };
            print!(" | {cell:^24}");
        }
        println!();
    }
    println!("(right: MBTA's tolerance per bucket; MAE: mean absolute error of the arrivals that came within the window)");
    // Where the learnt method goes wrong: the arrival came, outside the tolerance (early, or
    // late within the window), later than the window, or never.
    println!("\nlearnt, wrong: came outside the tolerance / came after the window / never came");
    for (bucket, b) in BUCKETS.iter().enumerate() {
        let Some(cell) = summary
            .cells
            .get(&(bucket, Method::Learnt.as_str().to_string()))
        else {
            continue;
        };
        let total = (cell.scored + cell.expired).max(1) as f64;
        let share = |n: u64| 100.0 * n as f64 / total;
        println!(
            "{:<9} {:5.1} % / {:5.1} % / {:5.1} %",
            format!("{} min", b.name),
            share(cell.scored - cell.accurate),
            share(cell.late),
            share(cell.never)
        );
    }
}

/// `ROUTE@HH:MM+MIN` as a breakdown.
fn parse_breakdown(text: &str) -> Result<Breakdown, String> {
    let wrong = || format!("{text:?} is not ROUTE@HH:MM+MIN (e.g. 1@08:00+10)");
    let (route, rest) = text.split_once('@').ok_or_else(wrong)?;
    let (time, minutes) = rest.split_once('+').ok_or_else(wrong)?;
    let (hours, mins) = time.split_once(':').ok_or_else(wrong)?;
    let (hours, mins, minutes) = (
        hours.parse::<u32>().map_err(|_| wrong())?,
        mins.parse::<u32>().map_err(|_| wrong())?,
        minutes.parse::<u32>().map_err(|_| wrong())?,
    );
    if mins >= 60 || hours >= 48 || minutes == 0 || minutes > 24 * 60 {
        return Err(wrong());
    }
    Ok(Breakdown {
        route: transit_core::model::LineId::new(route).map_err(|e| format!("{route:?}: {e}"))?,
        at_s: hours * 3_600 + mins * 60,
        duration_s: minutes * 60,
    })
}

/// The breakdown what-if's measurement.
mod breakdown {
    use std::sync::Arc;

    use transit_core::bus::{Delivery, EventBus};
    use transit_core::codec::{SchemaRegistry, TopicCodec};
    use transit_core::event::{PredictionEvent, VehicleArrivalEvent};
    use transit_core::network::service_day::ServiceDay;
    use transit_core::processor::read_topic;
    use transit_core::topics::Topics;
    use transit_predict::recovery::{self, Recovery, RecoverySampling};
    use transit_predict::{topics, Method};
    use transit_sim::timetabled::BrokenDown;

    /// The trains that reached the stop after the breakdown within this long after the train
    /// that broke down are the trains behind it.
    const BEHIND_WITHIN_MS: i64 = 30 * 60_000;
    /// Sampled from this long before the clearing to this long after it.
    const BEFORE_MS: i64 = 10 * 60_000;
    const AFTER_MS: i64 = 30 * 60_000;

    /// Reads the day's predictions back from the bus and samples those of the trains behind
    /// `broken` around its clearing against the day's arrivals (`kept`, or the topic's when
    /// none were kept).
    pub async fn recovery(
        bus: &dyn EventBus,
        registry: &Arc<dyn SchemaRegistry>,
        topics: &Topics,
        day: &ServiceDay,
        broken: &BrokenDown,
        kept: &[Delivery],
    ) -> anyhow::Result<Recovery> {
        let trip = day
            .trip(broken.trip)
            .ok_or_else(|| anyhow::anyhow!("the broken-down trip is not the day's"))?;
        let vehicle = day
            .vehicles
            .get(broken.vehicle.0 as usize)
            .map_or_else(String::new, |v| v.id.clone());
        let to = day
            .stop(broken.to)
            .map_or_else(String::new, |s| s.id.clone());
        let ms = |seconds: u32| day.unix_s(seconds) * 1_000;
        let arrivals_codec = TopicCodec::<VehicleArrivalEvent>::register(
            Arc::clone(registry),
            topics.vehicle_arrivals(),
        )
        .await?;
        let mut arrivals = Vec::new();
        let mut undecodable = 0u64;
        if kept.is_empty() {
            read_topic(bus, arrivals_codec.topic(), |delivery| match arrivals_codec
                .decode_value_cached(&delivery)
            {
                Ok(arrival) => arrivals.push(arrival),
                Err(_) => undecodable += 1,
            })
            .await?;
        } else {
            for delivery in kept {
                match arrivals_codec.decode_value_cached(delivery) {
                    Ok(arrival) => arrivals.push(arrival),
                    Err(_) => undecodable += 1,
                }
            }
        }
        let behind = recovery::vehicles_behind(
            &arrivals,
            &vehicle,
            trip.route.as_str(),
            trip.direction_id.map(i32::from),
            &to,
            ms(broken.stopped_s),
            BEHIND_WITHIN_MS,
        );
        arrivals.retain(|a| behind.contains(&a.vehicle_id));
        let predictions_codec =
            TopicCodec::<PredictionEvent>::register(Arc::clone(registry), topics::issued(topics))
                .await?;
        let mut predictions = Vec::new();
        read_topic(bus, predictions_codec.topic(), |delivery| {
            if delivery.value.is_none() {
                return;
            }
            match predictions_codec.decode_value_cached(&delivery) {
                Ok(p) if behind.contains(&p.vehicle_id) => predictions.push(p),
                Ok(_) => {}
                Err(_) => undecodable += 1,
            }
        })
        .await?;
        if undecodable > 0 {
            anyhow::bail!("{undecodable} records of the day could not be read back");
        }
        let cleared = ms(broken.cleared_s);
        println!(
            "\nbreakdown: train {vehicle} (trip {}) stood from {} to {} after leaving {} for {to}; {} trains behind it: {}",
            trip.trip_id,
            transit_predict::model::gtfs_time(broken.stopped_s),
            transit_predict::model::gtfs_time(broken.cleared_s),
            day.stop(broken.from).map_or("", |s| s.id.as_str()),
            behind.len(),
            behind.join(" ")
        );
        Ok(recovery::recovery(
            &predictions,
            &arrivals,
            RecoverySampling {
                from_ms: cleared,
                start_ms: (ms(broken.stopped_s)).min(cleared - BEFORE_MS),
                end_ms: cleared + AFTER_MS,
                every_ms: 30_000,
            },
        ))
    }

    /// Minutes since the clearing down, methods across.
    pub fn print(_day: &ServiceDay, broken: &BrokenDown, recovery: &Recovery) {
        let stood = i64::from(broken.cleared_s - broken.stopped_s) / 60;
        println!("the trains behind it, right (samples) by minutes since its clearing:");
        print!("{:<14}", "minutes");
        for method in Method::ALL {
            print!(" | {:^16}", method.as_str());
        }
        println!();
        let mut bands: Vec<(i64, i64, String)> = vec![(-stood - 10, 0, format!("{} to 0", -stood))];
        bands.extend((0..10).map(|m| (m, m + 1, format!("{m} to {}", m + 1))));
        bands.push((10, 15, "10 to 15".into()));
        bands.push((15, 30, "15 to 30".into()));
        bands.push((5, 30, "5 to 30".into()));
        for (from, to, name) in bands {
            print!("{name:<14}");
            for method in Method::ALL {
                let cell = match recovery.accuracy(method.as_str(), from, to) {
                    (Some(share), n) => format!("{:5.1} % ({n})", share * 100.0),
                    (None, _) => "-".into(),
                };
                print!(" | {cell:^16}");
            }
            println!();
        }
    }
}
