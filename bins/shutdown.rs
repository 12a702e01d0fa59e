//! Ctrl+C handling: the first press asks every part to finish cleanly (producers flush,
//! consumers commit); a second press forces the process out.
//!
//! The first press is honoured in every state. While a process is still getting ready
//! (connecting, waiting for the registry, PostgreSQL or a topic) there is nothing to finish,
//! and it stops at once; once it works, it has [`GRACE`] to finish what it holds, and then
//! stops anyway. Either way it says what it stopped before finishing: each process names what
//! it is doing as it goes ([`enter`]).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Exit status of a process stopped by Ctrl+C before it finished (128 + SIGINT, as shells
/// report it): by a second press, or by the first when finishing took longer than [`GRACE`].
pub const INTERRUPTED_EXIT_CODE: u8 = 130;

/// How long the first Ctrl+C leaves a working process to finish cleanly before it stops
/// anyway: under the 2 s an operator waits before pressing again.
pub const GRACE: Duration = Duration::from_millis(1500);

/// The process's shutdown token, once [`on_ctrl_c`] made it.
static TOKEN: OnceLock<CancellationToken> = OnceLock::new();

/// What the process is doing, and what stopping now leaves unfinished.
static PHASE: Mutex<Option<(String, String)>> = Mutex::new(None);

/// What the process waits for now, besides its phase (a call to the schema registry while it
/// is down), newest last, each with its number: while one is outstanding, a Ctrl+C names it
/// rather than the phase.
static WAITS: Mutex<Vec<(u64, String, String)>> = Mutex::new(Vec::new());

/// The number of the next [`Waiting`].
static NEXT_WAIT: AtomicU64 = AtomicU64::new(0);

/// Returns a token cancelled on the first Ctrl+C (or SIGTERM); a second one exits at once.
pub fn on_ctrl_c() -> CancellationToken {
    let token = TOKEN.get_or_init(CancellationToken::new).clone();
    let cancel = token.clone();
    tokio::spawn(async move {
        if let Err(error) = signal().await {
            tracing::warn!(%error, "cannot listen for Ctrl+C; stop the process another way");
            return;
        }
        tracing::info!("Ctrl+C: stopping (press again to force)");
        cancel.cancel();
        if signal().await.is_ok() {
            let Interrupted { doing, unfinished } = Interrupted::current();
            // Held until the process ends, so that no other thread's log line (a retry
            // logged in the same instant) lands after this one: it is the operator's last.
            let mut stderr = std::io::stderr().lock();
            // Nothing is left to tell the operator if stderr itself is gone.
            let _ = writeln!(
                stderr,
                "second Ctrl+C: stopped at once while {doing}: {unfinished}"
            );
            std::process::exit(i32::from(INTERRUPTED_EXIT_CODE));
        }
    });
    token
}

/// Waits until the first Ctrl+C (never, if [`on_ctrl_c`] was not called).
pub async fn cancelled() {
    match TOKEN.get() {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

/// Records what the process is doing now (`waiting for Kafka at host:9092`), and what stopping
/// during it leaves unfinished (`nothing was started`), for the line a Ctrl+C prints.
pub fn enter(doing: impl Into<String>, unfinished: impl Into<String>) {
    let mut phase = PHASE.lock().unwrap_or_else(|e| e.into_inner());
    *phase = Some((doing.into(), unfinished.into()));
}

/// Records that the process waits for something (`waiting for the schema registry at ...`)
/// until the returned guard drops, and what stopping during the wait leaves unfinished: a
/// Ctrl+C that cannot wait names the newest wait outstanding rather than the phase.
pub fn waiting(doing: impl Into<String>, unfinished: impl Into<String>) -> Waiting {
    let number = NEXT_WAIT.fetch_add(1, Ordering::Relaxed);
    let mut waits = WAITS.lock().unwrap_or_else(|e| e.into_inner());
    waits.push((number, doing.into(), unfinished.into()));
    Waiting(number)
}

/// A wait recorded by [`waiting`], until it drops.
#[derive(Debug)]
pub struct Waiting(u64);

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut waits = WAITS.lock().unwrap_or_else(|e| e.into_inner());
        waits.retain(|(number, _, _)| *number != self.0);
    }
}

/// A process stopped by Ctrl+C before it finished what it was doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    /// What it was doing.
    pub doing: String,
    /// What it left unfinished.
    pub unfinished: String,
}

impl Interrupted {
    /// Stopped now: in the newest [`waiting`] outstanding, else in the phase last
    /// [`enter`]ed.
    pub fn current() -> Self {
        let waits = WAITS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, doing, unfinished)) = waits.last() {
            return Self {
                doing: doing.clone(),
                unfinished: unfinished.clone(),
            };
        }
        drop(waits);
        let phase = PHASE.lock().unwrap_or_else(|e| e.into_inner());
        let (doing, unfinished) = phase
            .clone()
            .unwrap_or_else(|| ("starting".to_string(), "nothing was started".to_string()));
        Self { doing, unfinished }
    }
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stopped by Ctrl+C while {}: {}",
            self.doing, self.unfinished
        )
    }
}

impl std::error::Error for Interrupted {}

/// Runs a long-lived process on a new runtime until it ends; on the first Ctrl+C it gets
/// [`GRACE`] to finish, after which it is abandoned with an [`Interrupted`] error.
pub fn serve<F, Fut>(process: F) -> anyhow::Result<()>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| anyhow::anyhow!("starting the async runtime: {error}"))?;
    let result = runtime.block_on(async {
        let shutdown = on_ctrl_c();
        let process = process(shutdown.clone());
        tokio::pin!(process);
        tokio::select! {
            result = &mut process => result,
            () = shutdown.cancelled() => {
                match tokio::time::timeout(GRACE, &mut process).await {
                    Ok(result) => result,
                    Err(_elapsed) => Err(Interrupted::current().into()),
                }
            }
        }
    });
    // What was abandoned (a metadata request on a blocking thread, a commit waiting on a
    // broker) is not waited for: the process is stopping.
    runtime.shutdown_background();
    result
}

/// The exit status and the one line to print for a process that ended in `error`:
/// [`INTERRUPTED_EXIT_CODE`] and no `error:` prefix for a Ctrl+C, 1 otherwise.
pub fn exit_status(error: &anyhow::Error) -> (u8, String) {
    match error.downcast_ref::<Interrupted>() {
        Some(interrupted) => (INTERRUPTED_EXIT_CODE, interrupted.to_string()),
        None => (
            1,
            format!("error: {}{}", crate::retry::one_line(error), hint(error)),
        ),
    }
}

/// What to check after an error that is not a [`crate::retry::Mistake`] but comes from a
/// service a setting names: the registry or the REST Proxy that never came back, say.
fn hint(error: &anyhow::Error) -> &'static str {
    let registry = error.chain().any(|cause| {
        cause
            .downcast_ref::<transit_http::registry_client::RegistryClientError>()
            .is_some()
    });
    let rest_proxy = error.chain().any(|cause| {
        cause
            .downcast_ref::<transit_http::rest_proxy::RestProxyError>()
            .is_some()
    });
    if registry {
        "; check that the schema registry is up, and --registry-url (TRANSIT_REGISTRY_URL)"
    } else if rest_proxy {
        "; check that the REST Proxy is up, and --rest-proxy-url (TRANSIT_REST_PROXY_URL)"
    } else {
        ""
    }
}

#[cfg(unix)]
async fn signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ctrl_c_names_the_newest_wait_outstanding_then_the_phase() {
        enter("producing", "the records in flight were not all flushed");
        let first = waiting("waiting for the schema registry at r (schema 1)", "one");
        let second = waiting("waiting for the schema registry at r (schema 2)", "two");
        assert_eq!(Interrupted::current().unfinished, "two");
        drop(second);
        assert_eq!(
            Interrupted::current().to_string(),
            "stopped by Ctrl+C while waiting for the schema registry at r (schema 1): one"
        );
        drop(first);
        assert_eq!(Interrupted::current().doing, "producing");
    }

    #[test]
    fn an_error_of_the_rest_proxy_names_its_setting() {
        let error = anyhow::Error::new(transit_http::rest_proxy::RestProxyError::Rejected {
            status: 503,
            error_code: 50301,
            message: "unavailable".into(),
        })
        .context("sending the weather reading of 2026-11-02 05:15:00");
        let (status, line) = exit_status(&error);
        assert_eq!(status, 1);
        assert!(
            line.ends_with(
                "check that the REST Proxy is up, and --rest-proxy-url (TRANSIT_REST_PROXY_URL)"
            ),
            "{line}"
        );
    }
}
