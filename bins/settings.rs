//! Command-line settings shared by the programs that run the simulation.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use transit_core::event::StationRow;
use transit_core::network::{embedded_station_rows, parse_station_rows, Network, Ridership};
use transit_sim::driver::{DriverConfig, Pace};
use transit_sim::{ScheduledWhatIf, SimConfig, SimTime, Simulation, WhatIf};

/// How to run the simulation: data, seed, trains, clock and pace.
#[derive(Debug, Clone, Args)]
pub struct SimulationArgs {
    /// Seed of the simulation's random draws: the same seed gives the same events.
    #[arg(long, env = "TRANSIT_SEED", default_value_t = 2026)]
    pub seed: u64,

    /// Trains running on each line all day, instead of CTA's schedule (fewer than two per
    /// station). Without it, trains enter and leave service by the schedule.
    #[arg(long, env = "TRANSIT_TRAINS_PER_LINE")]
    pub trains_per_line: Option<u16>,

    /// Simulated seconds per tick: how often events go out (trains run in continuous time, so
    /// the events are the same at any tick). Default: a quarter of a wall-clock second's worth
    /// when paced (15 at --speed 60), as often as the board redraws, so its trains move in
    /// small steps; 120 with --flat-out, where bigger batches go faster.
    #[arg(long, env = "TRANSIT_TICK_SECONDS")]
    pub tick_seconds: Option<u64>,

    /// Simulated start time, Chicago local (e.g. 2026-11-02T05:00).
    #[arg(long, env = "TRANSIT_START")]
    pub start: Option<String>,

    /// Simulated seconds per wall-clock second.
    #[arg(long, env = "TRANSIT_SPEED", default_value_t = 60.0)]
    pub speed: f64,

    /// Run as fast as the bus takes it, ignoring --speed.
    #[arg(long)]
    pub flat_out: bool,

    /// Stop after this many simulated days (fractions allowed); runs until Ctrl+C otherwise.
    #[arg(long, env = "TRANSIT_DAYS")]
    pub days: Option<f64>,

    /// A stations CSV to use instead of the embedded CTA data (columns of cta_stations.csv).
    #[arg(long, env = "TRANSIT_STATIONS_CSV")]
    pub stations: Option<PathBuf>,

    /// A ridership seed CSV and hourly curve CSV to use instead of the embedded ones.
    #[arg(long, num_args = 2, value_names = ["SEED_CSV", "CURVE_CSV"])]
    pub ridership: Option<Vec<PathBuf>>,

    /// An incident to inject (repeatable): `delay:LINE:STATION[:a|b]:SECONDS` holds the next
    /// train at a station, `out-of-service:TRAIN` takes a train out of service,
    /// `break-down:TRAIN:MINUTES` stops one; each at `@YYYY-MM-DDTHH:MM` (Chicago local) or
    /// at the start. E.g. `break-down:RL012:10@2026-11-02T08:00`.
    #[arg(long = "what-if", value_name = "SPEC")]
    pub what_if: Vec<ScheduledWhatIf>,
}

/// The network of the stations CSV at `stations` (placed by its own coordinates, if it has
/// them), or the embedded CTA network.
pub fn load_network(stations: Option<&Path>) -> anyhow::Result<Network> {
    match stations {
        Some(path) => Network::from_path(path)
            .with_context(|| format!("loading stations from {}", path.display())),
        None => Network::embedded().context("parsing the embedded CTA stations"),
    }
}

impl SimulationArgs {
    /// The network: the embedded CTA data or the file given, with its data quirks logged.
    pub fn network(&self) -> anyhow::Result<Arc<Network>> {
        let network = load_network(self.stations.as_deref())?;
        for line in network.lines() {
            tracing::info!(line = %line.id(), stations = line.len(), "line loaded");
        }
        for note in network.report().notes() {
            tracing::info!("station data: {note}");
        }
        Ok(Arc::new(network))
    }

    /// The raw station rows (the embedded CSV or `--stations`), as a database would hold them.
    pub fn station_rows(&self) -> anyhow::Result<Vec<StationRow>> {
        match &self.stations {
            Some(path) => {
                let file = std::fs::File::open(path)
                    .with_context(|| format!("opening {}", path.display()))?;
                Ok(parse_station_rows(&path.display().to_string(), file)?)
            }
            None => Ok(embedded_station_rows().context("parsing the embedded CTA stations")?),
        }
    }

    /// The ridership model: the embedded CTA data or the files given.
    pub fn ridership(&self) -> anyhow::Result<Arc<Ridership>> {
        let ridership = match self.ridership.as_deref() {
            Some([seed, curve]) => Ridership::from_paths(seed, curve).with_context(|| {
                format!(
                    "loading ridership from {} and {}",
                    seed.display(),
                    curve.display()
                )
            })?,
            Some(_) => anyhow::bail!("--ridership takes two files: the seed CSV and the curve CSV"),
            None => Ridership::embedded().context("parsing the embedded CTA ridership")?,
        };
        Ok(Arc::new(ridership))
    }

    /// The simulation's settings.
    pub fn sim_config(&self) -> anyhow::Result<SimConfig> {
        let tick_seconds = self.tick_seconds.unwrap_or_else(|| {
            if self.flat_out {
                120
            } else {
                (self.speed / 4.0).round().max(1.0) as u64
            }
        });
        anyhow::ensure!(tick_seconds > 0, "--tick-seconds must be at least 1");
        let mut config = SimConfig {
            seed: self.seed,
            trains_per_line: self.trains_per_line,
            tick: Duration::from_secs(tick_seconds),
            ..SimConfig::default()
        };
        if let Some(start) = &self.start {
            config.start = start.parse::<SimTime>().with_context(|| {
                format!("--start {start:?} is not a date and time like 2026-11-02T05:00")
            })?;
        }
        Ok(config)
    }

    /// Schedules the `--what-if`s on `sim`; a delay at a station not on its line is an error.
    pub fn schedule_what_ifs(&self, sim: &mut Simulation) -> anyhow::Result<()> {
        for what_if in &self.what_if {
            if let WhatIf::Delay { line, station, .. } = what_if.what {
                anyhow::ensure!(
                    sim.has_station(line, station),
                    "--what-if {what_if}: station {} is not on the {line} line",
                    station.0
                );
            }
            sim.schedule(*what_if);
        }
        Ok(())
    }

    /// The driver's settings: pace and end time, counted from `start`.
    pub fn driver_config(&self, start: SimTime) -> anyhow::Result<DriverConfig> {
        let pace = if self.flat_out {
            Pace::FlatOut
        } else {
            anyhow::ensure!(
                self.speed.is_finite() && self.speed > 0.0,
                "--speed must be a positive number, got {}",
                self.speed
            );
            Pace::Speed(self.speed)
        };
        let until = match self.days {
            Some(days) => {
                anyhow::ensure!(
                    days.is_finite() && days > 0.0,
                    "--days must be a positive number, got {days}"
                );
                let millis = (days * 86_400_000.0).round() as i64;
                Some(SimTime(start.0.saturating_add(millis)))
            }
            None => None,
        };
        Ok(DriverConfig {
            pace,
            until,
            ..DriverConfig::default()
        })
    }
}

/// Which Kafka cluster to use, and how to talk to it.
///
/// Every librdkafka property passes through: from a properties file, from `TRANSIT_RDKAFKA_*`
/// environment variables (`TRANSIT_RDKAFKA_SECURITY_PROTOCOL=SASL_SSL` sets
/// `security.protocol`), and
/// from `-X key=value` flags, later ones winning.
#[derive(Debug, Clone, Args)]
pub struct KafkaArgs {
    /// Bootstrap servers of the Kafka cluster (`host:port[,host:port]`); required by the
    /// pipeline's processes; without it `full_pipeline` runs on the in-memory bus.
    #[arg(long = "kafka", env = "TRANSIT_KAFKA_BROKERS", value_name = "BROKERS")]
    pub brokers: Option<String>,

    /// A librdkafka properties file (`key=value` lines; see config/kafka.properties.example).
    #[arg(long, env = "TRANSIT_KAFKA_CONFIG", value_name = "FILE")]
    pub kafka_config: Option<PathBuf>,

    /// One librdkafka property, `key=value` (repeatable), e.g. `-X security.protocol=SASL_SSL`.
    #[arg(short = 'X', long = "kafka-set", value_name = "KEY=VALUE")]
    pub kafka_set: Vec<String>,
}

impl KafkaArgs {
    /// The Kafka settings, if a cluster was named.
    pub fn config(&self) -> anyhow::Result<Option<transit_kafka::KafkaConfig>> {
        let Some(brokers) = &self.brokers else {
            return Ok(None);
        };
        let mut config = transit_kafka::KafkaConfig::new(brokers.clone());
        if let Some(path) = &self.kafka_config {
            config = config.with_file(path)?;
        }
        let config = config
            .with_env(std::env::vars(), &[])
            .with_overrides(self.kafka_set.iter().map(String::as_str))?;
        Ok(Some(config))
    }

    /// Connects to the named cluster; a process of the production pipeline needs one.
    pub async fn connect(&self) -> anyhow::Result<transit_kafka::KafkaBus> {
        let config = self.config()?.context(
            "no Kafka cluster named: pass --kafka host:port (or set TRANSIT_KAFKA_BROKERS)",
        )?;
        crate::reach::kafka(config).await
    }
}

/// How a separate process of the production pipeline finds the others: the Kafka cluster, the
/// schema registry and the topic names.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// The Kafka cluster.
    #[command(flatten)]
    pub kafka: KafkaArgs,

    /// The schema registry's URL (`transit registry` serves one; a Confluent registry works).
    #[arg(
        long,
        env = "TRANSIT_REGISTRY_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub registry_url: String,

    /// How the schema registry is reached: credentials and the CA for `https://`.
    #[command(flatten)]
    pub registry_security: Box<RegistrySecurityArgs>,

    /// Prefix of every topic name: `org.chicago.cta` for CTA's network, and for a --gtfs feed
    /// `gtfs.<agency_id, else the file's name>` [default: by network].
    #[arg(long, env = "TRANSIT_TOPIC_PREFIX")]
    pub topic_prefix: Option<String>,
}

/// Confluent's client settings for a secured schema registry. The password never goes on the
/// command line (where `ps` shows it): it comes from a file or the environment.
#[derive(Debug, Clone, Args)]
pub struct RegistrySecurityArgs {
    /// A properties file with Confluent's schema registry client settings:
    /// `basic.auth.credentials.source=USER_INFO`, `basic.auth.user.info=user:password` and
    /// `ssl.ca.location=FILE` (the `schema.registry.` prefix is taken too).
    #[arg(long, env = "TRANSIT_REGISTRY_CONFIG", value_name = "FILE")]
    pub registry_config: Option<PathBuf>,

    /// `user:password` for the registry's HTTP basic auth (Confluent's
    /// `basic.auth.user.info`); environment only.
    #[arg(
        long = "registry-user-info-env-only",
        env = "TRANSIT_REGISTRY_USER_INFO",
        hide = true,
        hide_env_values = true
    )]
    pub registry_user_info: Option<Secret>,

    /// A file whose first line is `user:password` for the registry's HTTP basic auth
    /// (Confluent's `basic.auth.user.info`; or set TRANSIT_REGISTRY_USER_INFO).
    #[arg(long, env = "TRANSIT_REGISTRY_USER_INFO_FILE", value_name = "FILE")]
    pub registry_user_info_file: Option<PathBuf>,

    /// The CA certificate(s) (PEM) to trust for an `https://` registry, instead of the
    /// system's (Confluent's `ssl.ca.location`).
    #[arg(long, env = "TRANSIT_REGISTRY_CA", value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
}

impl RegistrySecurityArgs {
    /// The client settings: the properties file first, then the variable, the file and the CA
    /// flag over it.
    pub fn security(&self) -> anyhow::Result<transit_http::ClientSecurity> {
        client_security(
            self.registry_config.as_deref(),
            self.registry_user_info.as_ref().map(Secret::expose),
            "TRANSIT_REGISTRY_USER_INFO",
            self.registry_user_info_file.as_deref(),
            self.registry_ca.as_deref(),
        )
    }
}

/// A secret from the environment (a password, `user:password`): shown as `***` by `Debug`, so
/// settings can be logged whole.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The secret's text, for where it is used and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Self(text.to_string()))
    }
}

/// Confluent's client settings from a properties file, a `user:password` variable, a user info
/// file and a CA file, later ones winning. Errors name files and variables, never values.
pub fn client_security(
    properties: Option<&std::path::Path>,
    user_info: Option<&str>,
    user_info_var: &str,
    user_info_file: Option<&std::path::Path>,
    ca: Option<&std::path::Path>,
) -> anyhow::Result<transit_http::ClientSecurity> {
    let mut security = transit_http::ClientSecurity::none();
    if let Some(path) = properties {
        let lines = key_values(path, "the client settings file")?;
        let pairs = lines.iter().map(|(_, key, value)| {
            (
                key.strip_prefix("schema.registry.").unwrap_or(key),
                value.as_str(),
            )
        });
        security = transit_http::ClientSecurity::from_confluent(pairs)
            .with_context(|| format!("the client settings in {}", path.display()))?;
    }
    if let Some(text) = user_info {
        security.user_info = Some(transit_http::UserInfo::parse(text, user_info_var)?);
    }
    if let Some(path) = user_info_file {
        security.user_info = Some(transit_http::UserInfo::from_file(path)?);
    }
    if let Some(path) = ca {
        security.ca_file = Some(path.to_path_buf());
    }
    Ok(security)
}

impl ClusterArgs {
    /// Connects to the Kafka cluster, once the schema registry answers; a process of the
    /// production pipeline needs both. Waits while either is down; a setting that can never
    /// work ends it at once (see [`crate::reach`]).
    pub async fn bus(&self) -> anyhow::Result<transit_kafka::KafkaBus> {
        // Mistakes first: a bootstrap server that cannot resolve is told before any wait.
        if let Some(config) = self.kafka.config()? {
            crate::reach::kafka_names(&config).await?;
        }
        crate::reach::registry(&self.registry_url, &self.registry()?).await?;
        self.kafka.connect().await
    }

    /// The schema registry's client.
    pub fn registry(&self) -> anyhow::Result<transit_http::RegistryClient> {
        let security = self.registry_security.security()?;
        if security.user_info.is_some() && self.registry_url.starts_with("http://") {
            tracing::warn!(
                url = %self.registry_url,
                "the schema registry's password goes over plain http: use https://"
            );
        }
        transit_http::RegistryClient::with_security(
            &self.registry_url,
            security,
            transit_http::registry_client::CONNECT_TIMEOUT,
            transit_http::registry_client::REQUEST_TIMEOUT,
        )
        .map_err(|error| match error {
            transit_http::registry_client::RegistryClientError::InvalidUrl { .. } => {
                let message = "the schema registry's URL";
                crate::retry::Mistake::new(crate::reach::REGISTRY, message, &error).into()
            }
            other => anyhow::Error::new(other).context("the schema registry's client"),
        })
    }

    /// The topic names of CTA's network: under `--topic-prefix`, else CTA's own prefix.
    pub fn topics(&self) -> transit_core::topics::Topics {
        transit_core::topics::Topics::new(
            self.topic_prefix
                .as_deref()
                .unwrap_or(transit_core::topics::DEFAULT_PREFIX),
        )
    }
}

/// The `KEY=VALUE` lines of a settings or properties file, each with its line number: blank
/// lines and `#` comments skipped, keys and values trimmed. A line without `=` is an error
/// naming the file and the line, not the line's text (it may hold a secret).
fn key_values(path: &Path, what: &str) -> anyhow::Result<Vec<(usize, String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {what} {}", path.display()))?;
    let mut pairs = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .with_context(|| format!("{}:{}: expected KEY=VALUE", path.display(), index + 1))?;
        pairs.push((index + 1, key.trim().to_string(), value.trim().to_string()));
    }
    Ok(pairs)
}

/// Reads `KEY=VALUE` lines of a settings file into the environment, for every key not already
/// set there, so the precedence is: flags, then environment, then the file, then defaults.
///
/// The file is named by `--config FILE` among `args` or by `TRANSIT_CONFIG`. Call it before
/// any thread starts (the environment is process-wide).
pub fn load_config_file(args: &[std::ffi::OsString]) -> anyhow::Result<Option<PathBuf>> {
    let named = args
        .iter()
        .enumerate()
        .find_map(|(index, arg)| {
            let arg = arg.to_str()?;
            if arg == "--config" {
                args.get(index + 1).map(PathBuf::from)
            } else {
                arg.strip_prefix("--config=").map(PathBuf::from)
            }
        })
        .or_else(|| std::env::var_os("TRANSIT_CONFIG").map(PathBuf::from));
    let Some(path) = named else {
        return Ok(None);
    };
    for (number, key, value) in key_values(&path, "the settings file")? {
        let (key, value) = (key.as_str(), value.trim_matches('"'));
        if key.is_empty() || key.contains(char::is_whitespace) {
            anyhow::bail!("{}:{number}: {key:?} is not a setting name", path.display());
        }
        if std::env::var_os(key).is_none() {
            std::env::set_var(key, value);
        }
    }
    Ok(Some(path))
}
