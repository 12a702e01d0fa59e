//! `transit stations load` and `transit stations source`: the PostgreSQL side of the pipeline.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use tokio_util::sync::CancellationToken;
use transit_core::bus::EventBus;
use transit_core::codec::SchemaRegistry;

use crate::probes::{ProbeArgs, ProcessHealth};
use crate::settings::ClusterArgs;
use transit_postgres::source::{SourceConfig, StationSource};
use transit_postgres::{loader, ConnectOptions};

/// The default database: the local cluster's `postgres` database.
const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// `transit stations ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum StationsCommand {
    /// Create the `stations` table and load the CTA stations CSV into it (idempotent).
    Load(LoadArgs),
    /// Publish the table's rows to the raw station topic as they appear (the JDBC source).
    Source(SourceArgs),
}

/// The database to use.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// libpq's connection URL or `key=value` string, TLS included:
    /// `postgres://user[:password]@host[:port]/database?sslmode=verify-full&sslrootcert=ca.pem`
    /// (sslmode: disable, prefer, require, verify-ca, verify-full).
    // `hide_env_values`: the variable may hold a password, which `--help` would print.
    #[arg(
        long,
        env = "TRANSIT_DATABASE_URL",
        default_value = DEFAULT_DATABASE_URL,
        hide_env_values = true
    )]
    pub database_url: String,

    /// A file holding the database password (its first line), used instead of one in the URL.
    #[arg(long, env = "TRANSIT_DATABASE_PASSWORD_FILE")]
    pub database_password_file: Option<PathBuf>,
}

impl DatabaseArgs {
    /// The connection settings: the URL's, with the password file's password if one is given.
    pub fn options(&self) -> anyhow::Result<ConnectOptions> {
        let mut options: ConnectOptions = self.database_url.parse().map_err(|error| {
            crate::retry::Mistake::new(crate::reach::DATABASE, "the database URL", &error)
        })?;
        if let Some(path) = &self.database_password_file {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("reading the database password file {}", path.display())
            })?;
            let password = text.lines().next().unwrap_or_default();
            anyhow::ensure!(
                !password.is_empty(),
                "the database password file {} is empty",
                path.display()
            );
            options.set_password(password);
        }
        Ok(options)
    }
}

/// Settings of `transit stations load`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// The stations CSV (columns of cta_stations.csv); the embedded CTA data if omitted.
    #[arg(long, env = "TRANSIT_STATIONS_CSV")]
    pub csv: Option<PathBuf>,
}

/// Settings of `transit stations source`.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// The cluster, registry and topic names.
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Where the probes and metrics are served.
    #[command(flatten)]
    pub probes: ProbeArgs,

    /// Milliseconds between polls of the table.
    #[arg(long, env = "TRANSIT_POLL_MS", default_value_t = 1000)]
    pub poll_ms: u64,

    /// Seconds between re-scans for rows committed out of order (0: never).
    #[arg(long, env = "TRANSIT_RESCAN_SECONDS", default_value_t = 60)]
    pub rescan_seconds: u64,

    /// The source's name: its position is stored under it.
    #[arg(long, env = "TRANSIT_SOURCE_NAME", default_value = "stations-source")]
    pub name: String,
}

/// Runs a `transit stations` command.
pub async fn run(command: StationsCommand, shutdown: CancellationToken) -> anyhow::Result<()> {
    match command {
        StationsCommand::Load(args) => load(args).await,
        StationsCommand::Source(args) => source(args, shutdown).await,
    }
}

async fn load(args: LoadArgs) -> anyhow::Result<()> {
    let (name, text) = match &args.csv {
        Some(path) => (
            path.display().to_string(),
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        None => (
            "the embedded cta_stations.csv".to_string(),
            transit_core::network::EMBEDDED_STATIONS.as_bytes().to_vec(),
        ),
    };
    let options = args.database.options()?;
    crate::reach::database(&options).await?;
    crate::shutdown::enter(
        "loading the stations table",
        "the rows loaded so far stay; loading again adds the rest",
    );
    let mut client = transit_postgres::connect(&options).await?;
    loader::create_table(&client).await?;
    let report = loader::load_csv(&mut client, &name, text.as_slice()).await?;
    for rejected in &report.rejected {
        tracing::warn!(%rejected, "row skipped");
    }
    println!(
        "{name}: {} rows, {} inserted, {} already present, {} skipped (lines {:?})",
        report.rows,
        report.inserted,
        report.already_present,
        report.rejected.len(),
        report.rejected_lines()
    );
    Ok(())
}

async fn source(args: SourceArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    // The database first: a mistake in its settings is found without Kafka. The probes answer
    // meanwhile (alive, not ready).
    let options = args.database.options()?;
    let mut health = ProcessHealth::starting(&args.probes, "stations source", &shutdown).await?;
    health
        .readiness
        .expect(crate::probes::DATABASE, format!("connecting ({options})"));
    crate::reach::database(&options).await?;
    let (kafka, client) = health.connect(&args.cluster).await?;
    let bus: Arc<dyn EventBus> = Arc::new(kafka);
    let registry: Arc<dyn SchemaRegistry> = crate::reach::WaitedRegistry::shared(
        client,
        "no row was published yet; the rows are read again at the next start",
    );
    let config = SourceConfig {
        name: args.name.clone(),
        poll_interval: Duration::from_millis(args.poll_ms.max(10)),
        rescan_every: (args.rescan_seconds > 0).then(|| Duration::from_secs(args.rescan_seconds)),
        ..SourceConfig::default()
    };
    health.watch_database(options.clone());
    tracing::info!(
        database = %options,
        name = %args.name,
        "station source polling"
    );
    let source = StationSource::new(options, bus, registry, &args.cluster.topics(), config)
        .with_metrics(Arc::clone(&health.metrics));
    crate::shutdown::enter(
        "publishing the station table's rows",
        "the position was not stored; a restart publishes the last rows again",
    );
    let stats = source.run(shutdown).await.map_err(|error| match error {
        transit_postgres::source::SourceError::Refused { .. } => {
            crate::retry::Mistake::new(crate::reach::DATABASE, "the station source", &error).into()
        }
        other => anyhow::Error::new(other),
    })?;
    health.stop().await?;
    tracing::info!(%stats, "station source stopped; position stored");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::DatabaseArgs;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        database: DatabaseArgs,
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        let cli = Cli::parse_from([
            "t",
            "--database-url",
            "postgres://ann:secret@db:5432/cta?sslmode=verify-full&sslrootcert=/ca.pem",
        ]);
        let options = cli.database.options().unwrap();
        assert_eq!(options.to_string(), "ann@db:5432/cta (sslmode=verify-full)");
        assert!(!format!("{options:?}").contains("secret"));
    }

    #[test]
    fn help_never_shows_the_url_from_the_environment() {
        use clap::CommandFactory;
        // The only test here that reads the variable (the others give --database-url).
        std::env::set_var("TRANSIT_DATABASE_URL", "postgres://ann:env-secret@db/cta");
        let help = Cli::command().render_long_help().to_string();
        std::env::remove_var("TRANSIT_DATABASE_URL");
        assert!(help.contains("TRANSIT_DATABASE_URL"), "{help}");
        assert!(!help.contains("env-secret"), "{help}");
    }

    #[test]
    fn the_password_file_wins() {
        let path = std::env::temp_dir().join(format!("transit-pw-{}", std::process::id()));
        std::fs::write(&path, "from-file\n").unwrap();
        let cli = Cli::parse_from([
            "t",
            "--database-url",
            "postgres://ann:in-url@db/cta",
            "--database-password-file",
            path.to_str().unwrap(),
        ]);
        let options = cli.database.options().unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(options.config().get_password(), Some(&b"from-file"[..]));
    }
}
