//! `transit registry`: the schema registry and the REST Proxy, over Kafka.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;
use transit_core::bus::EventBus;
use transit_core::codec::SchemaRegistry;
use transit_core::registry::{BusRegistry, DEFAULT_TOPIC};

use super::{join, spawn_named};
use crate::rest_proxy::{self, RestProxy, RestProxyConfig};
use crate::settings::KafkaArgs;

/// Settings of `transit registry`.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// The Kafka cluster.
    #[command(flatten)]
    pub kafka: KafkaArgs,

    /// Where the schema registry listens (Confluent's API).
    #[arg(long, env = "TRANSIT_REGISTRY_ADDRESS", default_value = crate::registry::DEFAULT_ADDRESS)]
    pub registry_address: SocketAddr,

    /// Where the REST Proxy listens (Confluent's v2 produce API).
    #[arg(long, env = "TRANSIT_REST_PROXY_ADDRESS", default_value = rest_proxy::DEFAULT_ADDRESS)]
    pub rest_proxy_address: SocketAddr,

    /// The compacted topic the registry keeps its schemas in.
    #[arg(long, env = "TRANSIT_REGISTRY_TOPIC", default_value = DEFAULT_TOPIC)]
    pub registry_topic: String,
}

/// Serves the registry and the REST Proxy until `shutdown`.
pub async fn run(args: RegistryArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let registry_listener = crate::registry::bind(args.registry_address).await?;
    let proxy_listener = rest_proxy::bind(args.rest_proxy_address).await?;
    let config = args
        .kafka
        .config()?
        .context("no Kafka cluster named: pass --kafka host:port (or set TRANSIT_KAFKA_BROKERS)")?;
    let bus: Arc<dyn EventBus> = Arc::new(transit_kafka::KafkaBus::connect(config).await?);
    let schemas = BusRegistry::open(Arc::clone(&bus), &args.registry_topic)
        .await
        .context("opening the schema registry")?;
    let registry: Arc<dyn SchemaRegistry> = Arc::new(schemas.clone());
    let proxy = RestProxy::new(Arc::clone(&bus), registry, RestProxyConfig::default());
    tracing::info!(
        registry = %registry_listener.local_addr().context("the registry's address")?,
        rest_proxy = %proxy_listener.local_addr().context("the REST Proxy's address")?,
        schemas_topic = %args.registry_topic,
        bus = %bus,
        "schema registry and REST Proxy serving"
    );
    let registry_server = spawn_named(
        "schema registry",
        crate::registry::serve(registry_listener, schemas, shutdown.clone()),
    );
    let proxy_server = spawn_named(
        "REST Proxy",
        rest_proxy::serve(proxy_listener, proxy, shutdown.clone()),
    );
    join(registry_server).await?;
    join(proxy_server).await?;
    bus.flush().await.context("flushing the bus")?;
    Ok(())
}
