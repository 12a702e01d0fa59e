//! Probes for process supervisors (Kubernetes, systemd, a load balancer) and metrics for
//! Prometheus, for any process: `GET /healthz`, `GET /readyz` and `GET /metrics`.
//!
//! - `/healthz` is liveness: `200` with `{"status": "ok", ...}` while the process serves at
//!   all. It says nothing of the broker or the registry: a supervisor restarts a process whose
//!   liveness fails, and restarting does not bring a broker back.
//! - `/readyz` is readiness: `200` with `{"status": "ready", "checks": {...}}` when every
//!   check of the process's [`Readiness`] passes, else `503` with `{"status": "not ready",
//!   "reasons": [...], "checks": {...}}`, each reason naming its check (the broker
//!   unreachable, the registry unreachable, state not restored yet, an empty station table).
//! - `/metrics` is the Prometheus text format (0.0.4): the pipeline's counters (records in
//!   and out, lag per partition, commits, aborted transactions, retries, errors and the last
//!   error per component), `transit_ready` and one `transit_readiness_check` per check, and
//!   `transit_uptime_seconds`.
//!
//! # Example
//!
//! A process that is not ready until its broker answers:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tokio_util::sync::CancellationToken;
//! use transit_core::metrics::PipelineMetrics;
//! use transit_http::probes::{self, Probes, Readiness};
//!
//! let readiness = Readiness::new();
//! readiness.expect("broker", "not connected yet");
//! let shutdown = CancellationToken::new();
//! let listener = probes::bind("127.0.0.1:0".parse()?).await?;
//! let ready = format!("http://{}/readyz", listener.local_addr()?);
//! let probes = Probes::new("example", readiness.clone(), PipelineMetrics::new());
//! let server = tokio::spawn(probes::serve(listener, probes, shutdown.clone()));
//!
//! assert_eq!(reqwest::get(&ready).await?.status(), 503);
//! readiness.pass("broker");
//! assert_eq!(reqwest::get(&ready).await?.status(), 200);
//!
//! shutdown.cancel();
//! server.await??;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use transit_core::metrics::PipelineMetrics;

use crate::prometheus::{self, family, sample};
use crate::server::{self, ServeError};

/// The server's name in errors and logs.
const SERVER: &str = "probes and metrics";

/// A check computed at each probe: `Ok` when it passes, else the reason.
type Watch = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// What a process must have before it is ready: named checks, each passing or failing with a
/// reason. Some are set by the process as it goes ([`Readiness::pass`], [`Readiness::fail`]),
/// others computed at each probe ([`Readiness::watch`]). Shared behind an `Arc`.
#[derive(Default)]
pub struct Readiness {
    set: Mutex<BTreeMap<String, CheckState>>,
    watches: Mutex<Vec<(String, Watch)>>,
}

/// A check set by the process.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CheckState {
    /// Not passed yet since the start, with the reason: its first pass is no news.
    Pending(String),
    /// Failing after it passed (or failing as checked), with the reason.
    Failing(String),
    Passing,
}

impl CheckState {
    fn reason(&self) -> Option<&String> {
        match self {
            Self::Pending(reason) | Self::Failing(reason) => Some(reason),
            Self::Passing => None,
        }
    }
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("report", &self.report())
            .finish()
    }
}

/// One check in a [`ReadinessReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// Whether it passes.
    pub ok: bool,
    /// Why not, when it fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer of `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadinessReport {
    /// `ready` or `not ready`.
    pub status: &'static str,
    /// Each failing check as `name: reason`, in the order of the names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Every check by name.
    pub checks: BTreeMap<String, CheckReport>,
}

impl ReadinessReport {
    /// Whether every check passes.
    pub fn is_ready(&self) -> bool {
        self.checks.values().all(|check| check.ok)
    }
}

impl Readiness {
    /// No checks yet (ready), shared.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock_set(&self) -> MutexGuard<'_, BTreeMap<String, CheckState>> {
        // Nothing panics while holding the lock; a poisoned one still holds valid checks.
        self.set.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds the check `name`, failing with `reason` until it passes (a check already there
    /// keeps its state).
    pub fn expect(&self, name: &str, reason: impl Display) {
        self.lock_set()
            .entry(name.to_string())
            .or_insert_with(|| CheckState::Pending(reason.to_string()));
    }

    /// The check `name` passes (it is added if new). A check that was failing logs that it
    /// passes again.
    pub fn pass(&self, name: &str) {
        let before = self
            .lock_set()
            .insert(name.to_string(), CheckState::Passing);
        if let Some(CheckState::Failing(reason)) = before {
            tracing::info!(check = name, was = %reason, "readiness check passes again");
        }
    }

    /// The check `name` fails with `reason` (it is added if new). A check that passed logs
    /// that it fails now.
    pub fn fail(&self, name: &str, reason: impl Display) {
        let reason = reason.to_string();
        let mut set = self.lock_set();
        let state = match set.get(name) {
            // Still on its way up: a failed attempt is not news either.
            Some(CheckState::Pending(_)) => CheckState::Pending(reason.clone()),
            _ => CheckState::Failing(reason.clone()),
        };
        let before = set.insert(name.to_string(), state);
        drop(set);
        if matches!(before, None | Some(CheckState::Passing)) {
            tracing::warn!(check = name, %reason, "readiness check fails: not ready");
        }
    }

    /// Sets the check `name` from `outcome`: passes on `Ok`, fails with the error otherwise.
    pub fn set<E: Display>(&self, name: &str, outcome: Result<(), E>) {
        match outcome {
            Ok(()) => self.pass(name),
            Err(error) => self.fail(name, error),
        }
    }

    /// Adds the check `name`, computed by `check` at each probe.
    pub fn watch(
        &self,
        name: &str,
        check: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.watches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name.to_string(), Box::new(check)));
    }

    /// Every check now.
    pub fn report(&self) -> ReadinessReport {
        let mut checks: BTreeMap<String, CheckReport> = self
            .lock_set()
            .iter()
            .map(|(name, state)| {
                (
                    name.clone(),
                    CheckReport {
                        ok: state.reason().is_none(),
                        reason: state.reason().cloned(),
                    },
                )
            })
            .collect();
        for (name, check) in self
            .watches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let reason = check().err();
            checks.insert(
                name.clone(),
                CheckReport {
                    ok: reason.is_none(),
                    reason,
                },
            );
        }
        let reasons: Vec<String> = checks
            .iter()
            .filter_map(|(name, check)| Some(format!("{name}: {}", check.reason.as_ref()?)))
            .collect();
        ReadinessReport {
            status: if reasons.is_empty() {
                "ready"
            } else {
                "not ready"
            },
            reasons,
            checks,
        }
    }

    /// Whether every check passes now.
    pub fn is_ready(&self) -> bool {
        self.report().is_ready()
    }
}

/// What the probes of one process serve.
#[derive(Debug, Clone)]
pub struct Probes {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    process: String,
    readiness: Arc<Readiness>,
    metrics: Arc<PipelineMetrics>,
    started: Instant,
}

impl Probes {
    /// The probes of `process` (its name in `/healthz`), ready as `readiness` says, with the
    /// counters of `metrics`.
    pub fn new(
        process: impl Into<String>,
        readiness: Arc<Readiness>,
        metrics: Arc<PipelineMetrics>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                process: process.into(),
                readiness,
                metrics,
                started: Instant::now(),
            }),
        }
    }

    /// The routes: `/healthz`, `/readyz` and `/metrics` (anything else is 404).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics_text))
            .fallback(not_found)
            .with_state(self.clone())
    }
}

/// Binds `address` for the probes.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, ServeError> {
    server::bind(SERVER, address).await
}

/// Serves `probes` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    probes: Probes,
    shutdown: CancellationToken,
) -> Result<(), ServeError> {
    if let Ok(address) = listener.local_addr() {
        tracing::info!(
            %address,
            process = %probes.shared.process,
            "probes and metrics listening (/healthz, /readyz, /metrics)"
        );
    }
    let served = server::serve(SERVER, listener, probes.router(), shutdown).await;
    tracing::info!(process = %probes.shared.process, "probes and metrics stopped");
    served
}

/// `/readyz`'s answer for `readiness`: 200 when ready, else 503, with the report as JSON.
pub fn readyz_response(readiness: &Readiness) -> Response {
    let report = readiness.report();
    let code = if report.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(report),
    )
        .into_response()
}

/// Appends the readiness families to a Prometheus page: `transit_ready` (1 or 0) and
/// `transit_readiness_check{check}` (1 passing, 0 failing).
pub(crate) fn readiness_metrics(out: &mut String, readiness: &Readiness) {
    let report = readiness.report();
    family(
        out,
        "transit_ready",
        "gauge",
        "1 when every readiness check passes (/readyz answers 200), else 0.",
    );
    sample(
        out,
        "transit_ready",
        &[],
        if report.is_ready() { 1.0 } else { 0.0 },
    );
    family(
        out,
        "transit_readiness_check",
        "gauge",
        "Each readiness check: 1 passing, 0 failing (/readyz says why).",
    );
    for (name, check) in &report.checks {
        sample(
            out,
            "transit_readiness_check",
            &[("check", name)],
            if check.ok { 1.0 } else { 0.0 },
        );
    }
}

async fn healthz(State(probes): State<Probes>) -> Response {
    let body = serde_json::json!({
        "status": "ok",
        "process": probes.shared.process,
        "uptime_seconds": probes.shared.started.elapsed().as_secs(),
    });
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(body),
    )
        .into_response()
}

async fn readyz(State(probes): State<Probes>) -> Response {
    readyz_response(&probes.shared.readiness)
}

async fn metrics_text(State(probes): State<Probes>) -> Response {
    let mut out = String::with_capacity(4096);
    prometheus::pipeline(&mut out, &probes.shared.metrics.snapshot());
    readiness_metrics(&mut out, &probes.shared.readiness);
    family(
        &mut out,
        "transit_uptime_seconds",
        "gauge",
        "Seconds since the process started serving its probes.",
    );
    sample(
        &mut out,
        "transit_uptime_seconds",
        &[],
        probes.shared.started.elapsed().as_secs_f64(),
    );
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(prometheus::CONTENT_TYPE),
        )],
        out,
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({
            "error": "not found",
            "routes": ["/healthz", "/readyz", "/metrics"],
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_check_passes() {
        let readiness = Readiness::new();
        assert!(readiness.is_ready(), "no checks: ready");
        readiness.expect("broker", "not connected yet");
        readiness.watch("stations", || Err("the table is empty".into()));
        let report = readiness.report();
        assert_eq!(report.status, "not ready");
        assert_eq!(
            report.reasons,
            ["broker: not connected yet", "stations: the table is empty"]
        );
        readiness.pass("broker");
        readiness.expect("broker", "ignored: the check is there");
        let report = readiness.report();
        assert!(report.checks["broker"].ok);
        assert_eq!(report.reasons, ["stations: the table is empty"]);
        readiness.set("broker", Err::<(), _>("connection refused"));
        assert_eq!(
            readiness.report().checks["broker"].reason.as_deref(),
            Some("connection refused")
        );
    }
}
