//! A REST Proxy served on a free loopback port for a test, over the bus and registry given.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use transit_core::codec::SchemaRegistry;
use transit_core::EventBus;
use transit_http::rest_proxy::{self, RestProxy, RestProxyConfig, ServeError};
use transit_http::server::Security;

/// A running proxy; dropping it shuts it down.
#[derive(Debug)]
pub struct ProxyServer {
    pub address: SocketAddr,
    pub shutdown: CancellationToken,
    pub task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl ProxyServer {
    /// Serves a proxy publishing to `bus` with schemas in `registry`.
    pub async fn start(
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        config: RestProxyConfig,
    ) -> Self {
        Self::start_secured(bus, registry, config, Security::open()).await
    }

    /// [`Self::start`] with HTTPS and users as `security` says.
    pub async fn start_secured(
        bus: Arc<dyn EventBus>,
        registry: Arc<dyn SchemaRegistry>,
        config: RestProxyConfig,
        security: Security,
    ) -> Self {
        let listener = rest_proxy::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("binding the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let proxy = RestProxy::new(bus, registry, config);
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            rest_proxy::serve_secured(listener, proxy, &security, stop).await
        });
        Self {
            address,
            shutdown,
            task: Some(task),
        }
    }

    /// Shuts the proxy down and returns how its server ended, failing unless it stops
    /// `within`.
    pub async fn stop(&mut self, within: Duration) -> Result<(), ServeError> {
        self.shutdown.cancel();
        let task = self.task.take().expect("the proxy's task, not yet stopped");
        tokio::time::timeout(within, task)
            .await
            .expect("the proxy stops in time")
            .expect("the proxy's task did not panic")
    }
}
