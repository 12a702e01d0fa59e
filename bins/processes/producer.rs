//! `transit produce`: the simulation's producers. Arrivals and turnstile entries go to Kafka
//! with their schemas in the registry; each weather reading is posted to the REST Proxy, as
//! the original weather hardware did. With `--gtfs`, the timetabled simulation of any
//! agency's feed publishes its arrivals instead (weather and turnstiles are CTA's alone).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;
use transit_core::codec::SchemaRegistry;
use transit_sim::driver::{self, SimulationCodecs, WeatherSink};
use transit_sim::timetabled::publish::{self, PublishConfig};
use transit_sim::Simulation;

use crate::agency::{AgencyArgs, AgencyDay};
use crate::probes::{ProbeArgs, ProcessHealth};
use crate::settings::{client_security, ClusterArgs, Secret, SimulationArgs};
use transit_http::rest_proxy::{RestProxyClient, RestProxyWeather};

/// Settings of `transit produce`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "With --gtfs PATH, the arrivals of the timetabled simulation of that \
feed's service day go to the arrivals topic instead: CTA's simulation is not run, and its \
turnstile entries and weather readings (CTA's alone) are not published. --seed, --start, \
--speed, --flat-out and --days apply; --live starts at the current wall-clock time in the \
agency's time zone at 1x. Serve it with `transit dashboard --gtfs PATH` (same --gtfs, \
--service-date, --route-types and --live)."
)]
pub struct ProducerArgs {
    /// The cluster, registry and topic names.
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// The simulation: data, seed, trains, clock and pace.
    #[command(flatten)]
    pub simulation: SimulationArgs,

    /// Any agency's static GTFS feed instead of CTA's network.
    #[command(flatten)]
    pub agency: AgencyArgs,

    /// Where the probes and metrics are served.
    #[command(flatten)]
    pub probes: ProbeArgs,

    /// The REST Proxy the weather readings are posted to.
    #[arg(
        long,
        env = "TRANSIT_REST_PROXY_URL",
        default_value = "http://127.0.0.1:8082"
    )]
    pub rest_proxy_url: String,

    /// A properties file with Confluent's client settings for the REST Proxy
    /// (`basic.auth.credentials.source=USER_INFO`, `basic.auth.user.info`, `ssl.ca.location`).
    #[arg(long, env = "TRANSIT_REST_PROXY_CONFIG", value_name = "FILE")]
    pub rest_proxy_config: Option<PathBuf>,

    /// `user:password` for the REST Proxy's HTTP basic auth; environment only.
    #[arg(
        long = "rest-proxy-user-info-env-only",
        env = "TRANSIT_REST_PROXY_USER_INFO",
        hide = true,
        hide_env_values = true
    )]
    pub rest_proxy_user_info: Option<Secret>,

    /// A file whose first line is `user:password` for the REST Proxy's HTTP basic auth (or set
    /// TRANSIT_REST_PROXY_USER_INFO).
    #[arg(long, env = "TRANSIT_REST_PROXY_USER_INFO_FILE", value_name = "FILE")]
    pub rest_proxy_user_info_file: Option<PathBuf>,

    /// The CA certificate(s) (PEM) to trust for an `https://` REST Proxy.
    #[arg(long, env = "TRANSIT_REST_PROXY_CA", value_name = "FILE")]
    pub rest_proxy_ca: Option<PathBuf>,

    /// Partitions of the arrivals and turnstile topics, when this creates them.
    #[arg(long, env = "TRANSIT_PARTITIONS", default_value_t = 4)]
    pub partitions: u32,

    /// Seconds between progress reports.
    #[arg(long, default_value_t = 5)]
    pub report_every: u64,
}

/// Runs the simulation until `shutdown` or its end time; flushes before returning.
pub async fn run(args: ProducerArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let sim_config = args.simulation.sim_config()?;
    if let Some(agency) = args.agency.day(sim_config.start)? {
        return run_agency(args, agency, shutdown).await;
    }
    let mut config = args.simulation.driver_config(sim_config.start)?;
    config.progress_every = Duration::from_secs(args.report_every.max(1));
    let mut sim = Simulation::new(
        args.simulation.network()?,
        args.simulation.ridership()?,
        sim_config,
    )
    .context("setting up the simulation")?;
    args.simulation.schedule_what_ifs(&mut sim)?;
    let mut health = ProcessHealth::starting(&args.probes, "produce", &shutdown).await?;
    let (bus, registry) = reach_cluster(
        &mut health,
        &args.cluster,
        "the simulation's schemas are not registered yet",
    )
    .await?;
    let topics = args.cluster.topics();
    driver::create_simulation_topics(&bus, &topics, args.partitions)
        .await
        .context("creating the simulation's topics")?;
    let codecs = SimulationCodecs::register(Arc::clone(&registry), &topics)
        .await
        .with_context(|| format!("registering schemas at {}", args.cluster.registry_url))?;
    // The trains' calls as any agency's vehicle arrivals too, in the static feed's ids, for
    // the predictor (when the feed describes this simulation).
    let codecs = match crate::predictions::cta_call_names(&args.simulation)? {
        Some(names) => {
            driver::create_vehicle_arrivals_topic(&bus, &topics, args.partitions)
                .await
                .context("creating the vehicle arrivals topic")?;
            codecs
                .with_vehicle_arrivals(registry, &topics, Arc::new(names))
                .await
                .with_context(|| format!("registering schemas at {}", args.cluster.registry_url))?
        }
        None => codecs,
    };
    health.readiness.pass("schemas");
    let proxy_security = client_security(
        args.rest_proxy_config.as_deref(),
        args.rest_proxy_user_info.as_ref().map(Secret::expose),
        "TRANSIT_REST_PROXY_USER_INFO",
        args.rest_proxy_user_info_file.as_deref(),
        args.rest_proxy_ca.as_deref(),
    )?;
    let proxy = RestProxyClient::with_security(
        &args.rest_proxy_url,
        proxy_security,
        transit_http::rest_proxy::DEFAULT_TIMEOUT,
    )
    .context("the REST Proxy's client")?;
    let weather =
        RestProxyWeather::new(proxy, topics.weather()).with_metrics(Arc::clone(&health.metrics));
    config.weather_sink = Some(Arc::new(NamedWeather {
        inner: weather,
        proxy_url: args.rest_proxy_url.clone(),
    }));
    crate::shutdown::enter(PRODUCING, PRODUCING_UNFINISHED);
    let stats = match driver::run(&bus, &mut sim, &codecs, &config, shutdown).await {
        // Ctrl+C while the REST Proxy did not take a reading: the sender says which.
        Err(driver::DriverError::WeatherStopped { .. }) => {
            health.stop().await?;
            return Err(crate::shutdown::Interrupted::current().into());
        }
        outcome => outcome?,
    };
    health.stop().await?;
    tracing::info!(
        published = stats.total(),
        ticks = stats.ticks,
        "producer stopped; everything published is flushed"
    );
    Ok(())
}

/// What the producer does once it works, and what a Ctrl+C that cannot wait leaves undone.
const PRODUCING: &str = "producing";
const PRODUCING_UNFINISHED: &str = "the records in flight were not all flushed";

/// The weather sender, naming what it does for the line a Ctrl+C prints while it waits for the
/// REST Proxy (`stopped by Ctrl+C while sending the weather reading of ... to the REST Proxy
/// at ...`).
#[derive(Debug)]
struct NamedWeather {
    inner: RestProxyWeather,
    proxy_url: String,
}

#[async_trait::async_trait]
impl WeatherSink for NamedWeather {
    async fn send(
        &self,
        time: transit_core::time::SimTime,
        reading: &transit_core::event::WeatherEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        crate::shutdown::enter(
            format!(
                "sending the weather reading of {time} to the REST Proxy at {}",
                self.proxy_url
            ),
            "that reading was not sent; everything published before it is flushed",
        );
        let sent = self.inner.send(time, reading).await;
        crate::shutdown::enter(PRODUCING, PRODUCING_UNFINISHED);
        sent
    }
}

/// Publishes the timetabled simulation of an agency's service day (`--gtfs`) until `shutdown`,
/// `--days` or the day's end; flushes before returning.
async fn run_agency(
    args: ProducerArgs,
    agency: AgencyDay,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.simulation.what_if.is_empty(),
        "--what-if runs on CTA's simulation only, not with --gtfs"
    );
    let clock = args
        .agency
        .clock(args.simulation.flat_out, args.simulation.speed)?;
    let mut sim = agency.simulation(args.simulation.seed)?;
    let mut config = PublishConfig {
        clock,
        until_s: AgencyDay::until(&sim, args.simulation.days),
        progress_every: Duration::from_secs(args.report_every.max(1)),
        cancellations: None,
    };
    let mut health = ProcessHealth::starting(&args.probes, "produce", &shutdown).await?;
    let (bus, registry) = reach_cluster(
        &mut health,
        &args.cluster,
        "the arrivals' schema is not registered yet",
    )
    .await?;
    let topics = agency.topics(args.cluster.topic_prefix.as_deref());
    publish::create_topic(&bus, &topics, args.partitions)
        .await
        .context("creating the arrivals and trip cancellations topics")?;
    let registering = || format!("registering schemas at {}", args.cluster.registry_url);
    let codec = publish::register_codec(Arc::clone(&registry), &topics)
        .await
        .with_context(registering)?;
    config.cancellations = Some(Arc::new(
        publish::register_cancellations(registry, &topics)
            .await
            .with_context(registering)?,
    ));
    health.readiness.pass("schemas");
    crate::shutdown::enter(PRODUCING, PRODUCING_UNFINISHED);
    let stats = publish::run(&bus, &mut sim, &codec, &config, shutdown).await?;
    health.stop().await?;
    let day = &agency.day;
    tracing::info!(
        published = stats.published,
        cancellations = stats.cancellations,
        service_date = %day.date,
        simulated_until = %publish::gtfs_time(stats.simulated_until_s),
        "producer stopped; everything published is flushed"
    );
    Ok(())
}

/// The cluster as a producer reaches it: its bus, counting what is published on `/metrics`,
/// and its registry, both watched by `health`, whose `schemas` check fails with `schemas`
/// until they are registered.
async fn reach_cluster(
    health: &mut ProcessHealth,
    cluster: &crate::settings::ClusterArgs,
    schemas: &str,
) -> anyhow::Result<(
    crate::probes::CountedBus<transit_kafka::KafkaBus>,
    Arc<dyn SchemaRegistry>,
)> {
    health.readiness.expect("schemas", schemas);
    let (kafka, client) = health.connect(cluster).await?;
    let bus = crate::probes::CountedBus::new(kafka, Arc::clone(&health.metrics));
    let registry = crate::reach::WaitedRegistry::shared(
        client,
        "nothing was published: the schemas were not registered yet",
    );
    Ok((bus, registry))
}
