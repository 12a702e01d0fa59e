//! The processes of the production pipeline, each run by a `transit` subcommand: the wiring
//! of one part to Kafka, the schema registry and its neighbours. Everything with behaviour is
//! in `transit-core` and the bus crates; these only parse, connect and start.

pub mod board;
pub mod gtfs;
pub mod processors;
pub mod producer;
pub mod registry;
pub mod stations;

use std::future::Future;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

/// The long tasks of one process (servers, processors), tracked so that the process waits for
/// every one of them, each finishing its work in hand, before it flushes and exits.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
}

impl Tasks {
    /// No tasks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs a server or processor as a tracked task whose error names it.
    pub fn spawn<T, E>(
        &self,
        what: &'static str,
        task: impl Future<Output = Result<T, E>> + Send + 'static,
    ) -> JoinHandle<anyhow::Result<T>>
    where
        T: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        self.tracker
            .spawn(async move { task.await.with_context(|| format!("the {what} failed")) })
    }

    /// Runs a processor as a tracked task on `runtime` (another runtime than the caller's),
    /// whose error names it.
    pub fn spawn_on<T, E>(
        &self,
        runtime: &tokio::runtime::Handle,
        what: &'static str,
        task: impl Future<Output = Result<T, E>> + Send + 'static,
    ) -> JoinHandle<anyhow::Result<T>>
    where
        T: Send + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        self.tracker.spawn_on(
            async move { task.await.with_context(|| format!("the {what} failed")) },
            runtime,
        )
    }

    /// Waits until every task spawned has ended (after their shutdown was asked for).
    pub async fn wait(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// Waits for a task spawned with [`Tasks::spawn`] and returns its outcome.
pub async fn join<T>(task: JoinHandle<anyhow::Result<T>>) -> anyhow::Result<T> {
    task.await.context("a task panicked")?
}
