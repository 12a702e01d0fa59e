//! `transit registry`: the schema registry and the REST Proxy, over Kafka.

use std::net::SocketAddr;
use std::path::PathBuf;
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
use crate::probes::{ProbeArgs, ProcessHealth};
use crate::settings::{KafkaArgs, Secret};
use transit_http::registry as registry_server;
use transit_http::rest_proxy::{self, RestProxy, RestProxyConfig};
use transit_http::server::{Security, TlsIdentity, Users};

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

    /// Where the probes and metrics are served.
    #[command(flatten)]
    pub probes: ProbeArgs,

    /// The compacted topic the registry keeps its schemas in.
    #[arg(long, env = "TRANSIT_REGISTRY_TOPIC", default_value = DEFAULT_TOPIC)]
    pub registry_topic: String,

    /// The certificate chain (PEM) both servers serve HTTPS with; plain HTTP without it.
    #[arg(
        long,
        env = "TRANSIT_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert.
    #[arg(
        long,
        env = "TRANSIT_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Users of HTTP basic auth on both servers, a Jetty-style file as Confluent's
    /// `basic.auth` realm reads (`name: password,role`, role `read` or `write`); or the same
    /// lines in TRANSIT_USERS, `;` between them. Everyone gets in without either.
    #[arg(long, env = "TRANSIT_USERS_FILE", value_name = "FILE")]
    pub users_file: Option<PathBuf>,

    /// The same users from the environment, `;` or newlines between them; environment only.
    #[arg(
        long = "users-env-only",
        env = "TRANSIT_USERS",
        hide = true,
        hide_env_values = true
    )]
    pub users: Option<Secret>,
}

impl RegistryArgs {
    /// HTTPS and users, as the flags say.
    pub fn security(&self) -> anyhow::Result<Security> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsIdentity::from_pem_files(cert, key)?),
            _ => None,
        };
        let users = match (&self.users_file, &self.users) {
            (Some(_), Some(_)) => {
                anyhow::bail!("users come from --users-file or TRANSIT_USERS, not both")
            }
            (Some(path), None) => Some(Users::from_file(path)?),
            (None, Some(text)) => Some(Users::parse(
                "TRANSIT_USERS",
                &text.expose().replace(';', "\n"),
            )?),
            (None, None) => None,
        };
        if users.as_ref().is_some_and(Users::is_empty) {
            anyhow::bail!("the users list is empty: nobody could get in");
        }
        if users.is_some() && tls.is_none() {
            tracing::warn!("basic auth over plain HTTP: passwords cross the network in clear");
        }
        Ok(Security { tls, users })
    }
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
    start_secured_services(
        bus,
        registry_topic,
        registry_listener,
        proxy_listener,
        Security::open(),
        shutdown,
    )
    .await
}

/// [`start_services`] with HTTPS and users as `security` says, on both servers.
pub async fn start_secured_services(
    bus: Arc<dyn EventBus>,
    registry_topic: &str,
    registry_listener: TcpListener,
    proxy_listener: TcpListener,
    security: Security,
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
        tasks.spawn("schema registry", {
            let (registry, security, shutdown) =
                (registry.clone(), security.clone(), shutdown.clone());
            async move {
                registry_server::serve_secured(registry_listener, registry, &security, shutdown)
                    .await
            }
        }),
        tasks.spawn("REST Proxy", async move {
            rest_proxy::serve_secured(proxy_listener, proxy, &security, shutdown).await
        }),
    ];
    Ok(SchemaServices {
        tasks,
        registry,
        servers,
    })
}

/// Serves the registry and the REST Proxy until `shutdown`.
pub async fn run(args: RegistryArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let security = args.security()?;
    let registry_listener = registry_server::bind(args.registry_address).await?;
    let proxy_listener = rest_proxy::bind(args.rest_proxy_address).await?;
    tracing::info!(
        registry = %registry_listener.local_addr().context("the registry's address")?,
        rest_proxy = %proxy_listener.local_addr().context("the REST Proxy's address")?,
        schemas_topic = %args.registry_topic,
        "schema registry and REST Proxy starting"
    );
    let mut health = ProcessHealth::starting(&args.probes, "registry", &shutdown).await?;
    health
        .readiness
        .expect("schemas", "the schemas topic is not read yet");
    let kafka = args.kafka.connect().await?;
    health.watch_broker(&kafka);
    let bus: Arc<dyn EventBus> = Arc::new(kafka);
    let services = start_secured_services(
        Arc::clone(&bus),
        &args.registry_topic,
        registry_listener,
        proxy_listener,
        security,
        shutdown,
    )
    .await?;
    health.readiness.pass("schemas");
    crate::shutdown::enter(
        "serving the schema registry and the REST Proxy",
        "the requests in progress were cut off",
    );
    for server in services.servers {
        join(server).await?;
    }
    services.tasks.wait().await;
    bus.flush().await.context("flushing the bus")?;
    health.stop().await?;
    tracing::info!("schema registry and REST Proxy stopped");
    Ok(())
}
