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

    /// [`ProcessHealth::start`] with checks and counters of its own, the broker expected
    /// (`connecting`) until [`ProcessHealth::connect`] or [`ProcessHealth::watch_broker`].
    pub async fn starting(
        args: &ProbeArgs,
        process: &'static str,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Self> {
        let health = Self::start(
            args,
            process,
            Readiness::new(),
            PipelineMetrics::new(),
            shutdown,
        )
        .await?;
        health.readiness.expect(BROKER, "connecting");
        Ok(health)
    }

    /// Connects to the cluster's broker and registry and watches both (the `broker` and
    /// `registry` checks); the registry's client counts its retries and errors in the
    /// process's metrics.
    pub async fn connect(
        &mut self,
        cluster: &crate::settings::ClusterArgs,
    ) -> anyhow::Result<(transit_kafka::KafkaBus, transit_http::RegistryClient)> {
        let kafka = cluster.bus().await?;
        self.watch_broker(&kafka);
        let client = cluster.registry()?.with_metrics(Arc::clone(&self.metrics));
        self.watch_registry(&client);
        Ok((kafka, client))
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
                registry.check().await.map_err(|error| {
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

/// A bus that counts what it publishes in a process's metrics: the producer's `/metrics`
/// shows `transit_records_published_total` per topic as the processors' do.
#[derive(Debug)]
pub struct CountedBus<B> {
    inner: B,
    metrics: Arc<PipelineMetrics>,
}

impl<B> CountedBus<B> {
    /// `inner`, counting into `metrics`.
    pub fn new(inner: B, metrics: Arc<PipelineMetrics>) -> Self {
        Self { inner, metrics }
    }
}

impl<B: std::fmt::Display> std::fmt::Display for CountedBus<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait::async_trait]
impl<B: transit_core::EventBus> transit_core::EventBus for CountedBus<B> {
    async fn create_topic(
        &self,
        spec: &transit_core::bus::TopicSpec,
    ) -> transit_core::bus::Result<()> {
        self.inner.create_topic(spec).await
    }

    async fn publish_batch(
        &self,
        topic: &str,
        records: Vec<transit_core::bus::Record>,
    ) -> Result<Vec<transit_core::bus::RecordPosition>, transit_core::bus::PublishError> {
        let positions = self.inner.publish_batch(topic, records).await?;
        self.metrics.record_published(topic, positions.len() as u64);
        Ok(positions)
    }

    async fn subscribe(
        &self,
        options: transit_core::bus::SubscribeOptions,
    ) -> transit_core::bus::Result<Box<dyn transit_core::bus::Consumer>> {
        self.inner.subscribe(options).await
    }

    async fn flush(&self) -> transit_core::bus::Result<()> {
        self.inner.flush().await
    }

    fn supports_transactions(&self) -> bool {
        self.inner.supports_transactions()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use transit_core::bus::Record;
    use transit_core::EventBus;

    #[tokio::test]
    async fn a_counted_bus_counts_what_it_published_per_topic() {
        let metrics = PipelineMetrics::new();
        let bus = CountedBus::new(transit_mem::MemBus::new(), Arc::clone(&metrics));
        bus.create_topic(&transit_core::bus::TopicSpec::new("t", 1))
            .await
            .unwrap();
        let record = || Record::new("k", "v", 1);
        bus.publish_batch("t", vec![record(), record()])
            .await
            .unwrap();
        bus.publish_batch("t", vec![record()]).await.unwrap();
        assert_eq!(metrics.snapshot().published["t"], 3);
        assert_eq!(bus.to_string(), transit_mem::MemBus::new().to_string());
    }
}
