//! `--metrics-address`: liveness, readiness and Prometheus metrics of a long-running process,
//! for its supervisor and Prometheus (see `transit_http::probes`), and the checks that keep its
//! readiness true: the broker and the registry asked every [`CHECK_EVERY`], the database too
//! for the station source.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use transit_core::metrics::PipelineMetrics;
use transit_http::probes::{self, Probes, Readiness};

/// How often the broker, the registry and the database are asked whether they answer.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);

/// How long one check waits for an answer before it calls the service unreachable.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(4);

/// The readiness check of the Kafka cluster.
pub const BROKER: &str = "broker";
/// The readiness check of the schema registry.
pub const REGISTRY: &str = "registry";
/// The readiness check of PostgreSQL and its station table.
pub const DATABASE: &str = "database";

/// Where a process serves its probes and metrics.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// Where to serve `/healthz` (liveness), `/readyz` (readiness, 503 with the reasons while
    /// the broker or registry is unreachable or the state is not restored yet) and `/metrics`
    /// (Prometheus), e.g. 127.0.0.1:9101. None unless given: give each process its own.
    #[arg(long, env = "TRANSIT_METRICS_ADDRESS", value_name = "ADDRESS")]
    pub metrics_address: Option<SocketAddr>,
}

/// The health of one process: its readiness checks, its counters, and the probes' server and
/// checks while it runs.
#[derive(Debug)]
pub struct ProcessHealth {
    /// What the process must have to be ready.
    pub readiness: Arc<Readiness>,
    /// The process's counters, served on `/metrics`.
    pub metrics: Arc<PipelineMetrics>,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    server: Option<JoinHandle<Result<(), transit_http::server::ServeError>>>,
}

impl ProcessHealth {
    /// Serves the probes of `process` on `--metrics-address`, if given, until
    /// [`ProcessHealth::stop`] (or `shutdown`). An address in use is an error.
    pub async fn start(
        args: &ProbeArgs,
        process: &'static str,
        readiness: Arc<Readiness>,
        metrics: Arc<PipelineMetrics>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Self> {
        let stop = shutdown.child_token();
        let server = match args.metrics_address {
            Some(address) => {
                let listener = probes::bind(address).await?;
                let probes = Probes::new(process, Arc::clone(&readiness), Arc::clone(&metrics));
                Some(tokio::spawn(probes::serve(listener, probes, stop.clone())))
            }
            None => None,
        };
        Ok(Self {
            readiness,
            metrics,
            stop,
            tasks: Vec::new(),
            server,
        })
    }

    /// Asks the broker every [`CHECK_EVERY`] whether it answers: the `broker` check.
    pub fn watch_broker(&mut self, bus: &transit_kafka::KafkaBus) {
        let bus = bus.clone();
        self.readiness.pass(BROKER);
        self.every(BROKER, move || {
            let bus = bus.clone();
            async move {
                bus.ping(CHECK_TIMEOUT)
                    .await
                    .map(drop)
                    .map_err(|error| transit_core::error_chain(&error))
            }
        });
    }

    /// Asks the schema registry every [`CHECK_EVERY`] whether it answers: the `registry`
    /// check.
    pub fn watch_registry(&mut self, registry: &transit_http::RegistryClient) {
        let registry = registry.clone();
        self.readiness
            .expect(REGISTRY, format!("not asked yet ({})", registry.base_url()));
        self.every(REGISTRY, move || {
            let registry = registry.clone();
            async move {
                registry.ping().await.map_err(|error| {
                    format!(
                        "{} does not answer: {}",
                        registry.base_url(),
                        transit_core::error_chain(&error)
                    )
                })
            }
        });
    }

    /// Asks PostgreSQL every [`CHECK_EVERY`] how many rows the station table has: the
    /// `database` check fails while it is unreachable or the table is empty.
    pub fn watch_database(&mut self, options: transit_postgres::ConnectOptions) {
        self.readiness
            .expect(DATABASE, format!("not asked yet ({options})"));
        self.every(DATABASE, move || {
            let options = options.clone();
            async move { station_rows(&options).await }
        });
    }

    /// Runs `check` now and every [`CHECK_EVERY`] into the readiness check `name`, each
    /// waiting at most [`CHECK_TIMEOUT`].
    fn every<F, Fut>(&mut self, name: &'static str, check: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send,
    {
        let (readiness, stop) = (Arc::clone(&self.readiness), self.stop.clone());
        self.tasks.push(tokio::spawn(async move {
            loop {
                let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
                };
                readiness.set(name, outcome);
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(CHECK_EVERY) => {}
                }
            }
        }));
    }

    /// Stops the checks and the probes' server (the process is finishing).
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        for task in self.tasks {
            task.await.context("a readiness check panicked")?;
        }
        if let Some(server) = self.server {
            server.await.context("the probes' server panicked")??;
        }
        Ok(())
    }
}

/// `Ok` when PostgreSQL answers and the station table has rows.
async fn station_rows(options: &transit_postgres::ConnectOptions) -> Result<(), String> {
    let client = transit_postgres::connect(options.clone())
        .await
        .map_err(|error| transit_core::error_chain(&error))?;
    let row = client
        .query_one("SELECT count(*) FROM stations", &[])
        .await
        .map_err(|error| {
            format!(
                "counting the station table's rows: {}",
                transit_core::error_chain(&error)
            )
        })?;
    let rows: i64 = row.get(0);
    if rows == 0 {
        return Err(
            "the station table is empty: load it (`transit stations load`) or insert rows".into(),
        );
    }
    Ok(())
}
