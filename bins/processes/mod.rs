//! The processes of the production pipeline, each run by a `transit` subcommand: the wiring
//! of one part to Kafka, the schema registry and its neighbours. Everything with behaviour is
//! in `transit-core` and the bus crates; these only parse, connect and start.

pub mod board;
pub mod processors;
pub mod producer;
pub mod registry;
pub mod stations;

use std::future::Future;

use anyhow::Context;
use tokio::task::JoinHandle;

/// Runs a server or processor as a task whose error names it.
pub fn spawn_named<T, E>(
    what: &'static str,
    task: impl Future<Output = Result<T, E>> + Send + 'static,
) -> JoinHandle<anyhow::Result<T>>
where
    T: Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    tokio::spawn(async move { task.await.with_context(|| format!("the {what} failed")) })
}

/// Waits for a task spawned with [`spawn_named`].
pub async fn join<T>(task: JoinHandle<anyhow::Result<T>>) -> anyhow::Result<T> {
    task.await.context("a task panicked")?
}
