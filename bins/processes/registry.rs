//! `transit registry`: the schema registry and the REST Proxy, over Kafka.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use transit_core::bus::EventBus;
use transit_core::codec::SchemaRegistry;
use transit_registry::{BusRegistry, DEFAULT_TOPIC};

use super::{join, Tasks};
use crate::settings::KafkaArgs;
use transit_http::registry as registry_server;
use transit_http::rest_proxy::{self, RestProxy, RestProxyConfig};

/// Settings of `transit registry`.
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// The Kafka cluster.
    #[command(flatten)]
    pub kafka: KafkaArgs,

    /// Where the schema registry listens (Confluent's API).
    #[arg(long, env = "TRANSIT_REGISTRY_ADDRESS", default_value = registry_server::DEFAULT_ADDRESS)]
    pub registry_address: SocketAddr,

    /// Where the REST Proxy listens (Confluent's v2 produce API).
    #[arg(long, env = "TRANSIT_REST_PROXY_ADDRESS", default_value = rest_proxy::DEFAULT_ADDRESS)]
    pub rest_proxy_address: SocketAddr,

    /// The compacted topic the registry keeps its schemas in.
    #[arg(long, env = "TRANSIT_REGISTRY_TOPIC", default_value = DEFAULT_TOPIC)]
    pub registry_topic: String,
}

/// The schema registry and the REST Proxy over one bus, serving until their shutdown.
#[derive(Debug)]
pub struct SchemaServices {
    /// The servers' tasks, tracked; [`Tasks::wait`] after joining them.
    pub tasks: Tasks,
    /// The registry, for in-process users of the same schemas.
    pub registry: BusRegistry,
    /// The two servers' tasks; [`join`] them after shutdown.
    pub servers: [JoinHandle<anyhow::Result<()>>; 2],
}

/// Opens the registry kept in `registry_topic` of `bus` and serves it, and a REST Proxy
/// publishing to `bus`, on the listeners given, until `shutdown`.
pub async fn start_services(
    bus: Arc<dyn EventBus>,
    registry_topic: &str,
    registry_listener: TcpListener,
    proxy_listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<SchemaServices> {
    let registry = BusRegistry::open(Arc::clone(&bus), registry_topic)
        .await
        .context("opening the schema registry")?;
    let proxy = RestProxy::new(
        bus,
        Arc::new(registry.clone()) as Arc<dyn SchemaRegistry>,
        RestProxyConfig::default(),
    );
    let tasks = Tasks::new();
    let servers = [
        tasks.spawn(
            "schema registry",
            registry_server::serve(registry_listener, registry.clone(), shutdown.clone()),
        ),
        tasks.spawn(
            "REST Proxy",
            rest_proxy::serve(proxy_listener, proxy, shutdown),
        ),
    ];
    Ok(SchemaServices {
        tasks,
        registry,
        servers,
    })
}

/// Serves the registry and the REST Proxy until `shutdown`.
pub async fn run(args: RegistryArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let registry_listener = registry_server::bind(args.registry_address).await?;
    let proxy_listener = rest_proxy::bind(args.rest_proxy_address).await?;
    tracing::info!(
        registry = %registry_listener.local_addr().context("the registry's address")?,
        rest_proxy = %proxy_listener.local_addr().context("the REST Proxy's address")?,
        schemas_topic = %args.registry_topic,
        "schema registry and REST Proxy starting"
    );
    let bus: Arc<dyn EventBus> = Arc::new(args.kafka.connect().await?);
    let services = start_services(
        Arc::clone(&bus),
        &args.registry_topic,
        registry_listener,
        proxy_listener,
        shutdown,
    )
    .await?;
    for server in services.servers {
        join(server).await?;
    }
    services.tasks.wait().await;
    bus.flush().await.context("flushing the bus")?;
    Ok(())
}
