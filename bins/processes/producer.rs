//! `transit produce`: the simulation's producers. Arrivals and turnstile entries go to Kafka
//! with their schemas in the registry; each weather reading is posted to the REST Proxy, as
//! the original weather hardware did.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;
use transit_core::codec::SchemaRegistry;
use transit_sim::driver::{self, SimulationCodecs};
use transit_sim::Simulation;

use crate::settings::{client_security, ClusterArgs, Secret, SimulationArgs};
use transit_http::rest_proxy::{RestProxyClient, RestProxyWeather};

/// Settings of `transit produce`.
#[derive(Debug, Clone, Args)]
pub struct ProducerArgs {
    /// The cluster, registry and topic names.
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// The simulation: data, seed, trains, clock and pace.
    #[command(flatten)]
    pub simulation: SimulationArgs,

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
    let mut config = args.simulation.driver_config(sim_config.start)?;
    config.progress_every = Duration::from_secs(args.report_every.max(1));
    let mut sim = Simulation::new(
        args.simulation.network()?,
        args.simulation.ridership()?,
        sim_config,
    )
    .context("setting up the simulation")?;
    args.simulation.schedule_what_ifs(&mut sim)?;
    let bus = args.cluster.bus().await?;
    let registry: Arc<dyn SchemaRegistry> = Arc::new(args.cluster.registry()?);
    let topics = args.cluster.topics();
    driver::create_simulation_topics(&bus, &topics, args.partitions)
        .await
        .context("creating the simulation's topics")?;
    let codecs = SimulationCodecs::register(registry, &topics)
        .await
        .with_context(|| format!("registering schemas at {}", args.cluster.registry_url))?;
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
    config.weather_sink = Some(Arc::new(RestProxyWeather::new(proxy, topics.weather())));
    crate::shutdown::enter("producing", "the records in flight were not all flushed");
    let stats = driver::run(&bus, &mut sim, &codecs, &config, shutdown).await?;
    tracing::info!(
        published = stats.total(),
        ticks = stats.ticks,
        "producer stopped; everything published is flushed"
    );
    Ok(())
}
