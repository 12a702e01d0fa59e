//! What-if controls over HTTP: `POST /api/what-if` injects a delay, takes a train out of
//! service or breaks one down in the simulation of this process; `GET /api/what-if` lists what
//! the simulation did with them. The dashboard merges [`router`] into its routes.
//!
//! The body is the JSON of [`ScheduledWhatIf`]:
//! `{"kind":"break_down","train":"BL007","minutes":10}`,
//! `{"kind":"out_of_service","train":"RL012","at":"2026-11-02T08:00"}`,
//! `{"kind":"delay","line":"blue","station":40380,"direction":"a","seconds":300}`.
//!
//! Answers: `202` accepted (it takes effect at `at`, or at the next tick); `400` a body that
//! is not a what-if, a station not on the line, a train not on the board (for one that takes
//! effect at once); `403` when the server listens on an address other than loopback and was not
//! told to allow what-ifs there (anyone who reaches the board could disturb the simulation);
//! `404` when no simulation runs in this process (`transit dashboard` reads Kafka: give
//! `transit produce --what-if` instead); `503` when the simulation stopped or too many wait.
//! Every error is JSON, `{"error": "..."}`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::sync::watch;
use transit_core::model::TrainStatus;
use transit_core::status::StatusSnapshot;
use transit_sim::what_if::{WhatIfError, WhatIfs};
use transit_sim::{ScheduledWhatIf, WhatIf};

/// The path of the what-if controls.
pub const PATH: &str = "/api/what-if";

/// The controls of a simulation in this process, and who may use them.
#[derive(Debug, Clone)]
pub struct WhatIfControl {
    what_ifs: WhatIfs,
    /// The address the server listens on: off loopback, what-ifs need `allow_remote`.
    bound: SocketAddr,
    allow_remote: bool,
}

impl WhatIfControl {
    /// Controls over `what_ifs` for a server bound to `bound`; `allow_remote` lets clients use
    /// them when `bound` is not a loopback address.
    pub fn new(what_ifs: WhatIfs, bound: SocketAddr, allow_remote: bool) -> Self {
        Self {
            what_ifs,
            bound,
            allow_remote,
        }
    }

    fn allowed(&self) -> bool {
        self.allow_remote || self.bound.ip().is_loopback()
    }
}

#[derive(Debug, Clone)]
struct Controls {
    control: Option<WhatIfControl>,
    snapshots: watch::Receiver<Arc<StatusSnapshot>>,
}

/// The routes of [`PATH`]: over `control`, or answering 404 without one; trains are checked
/// against the board of `snapshots`.
pub fn router(
    control: Option<WhatIfControl>,
    snapshots: watch::Receiver<Arc<StatusSnapshot>>,
) -> Router {
    Router::new()
        .route(PATH, get(list).post(submit))
        .with_state(Controls { control, snapshots })
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": message.to_string() })),
    )
        .into_response()
}

const NO_SIMULATION: &str = "no simulation runs in this process: give what-ifs to the process \
     that runs it (transit produce --what-if ..., or full_pipeline)";

async fn list(State(controls): State<Controls>) -> Response {
    let Some(control) = controls.control else {
        return error(StatusCode::NOT_FOUND, NO_SIMULATION);
    };
    Json(serde_json::json!({
        "allowed": control.allowed(),
        "applied": control.what_ifs.applied(),
    }))
    .into_response()
}

async fn submit(State(controls): State<Controls>, body: Bytes) -> Response {
    let Some(control) = controls.control else {
        return error(StatusCode::NOT_FOUND, NO_SIMULATION);
    };
    if !control.allowed() {
        return error(
            StatusCode::FORBIDDEN,
            format!(
                "what-ifs are refused on {}, not a loopback address: start with --allow-what-if to allow them",
                control.bound
            ),
        );
    }
    let what_if: ScheduledWhatIf = match serde_json::from_slice(&body) {
        Ok(what_if) => what_if,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not a what-if: {e}")),
    };
    // A train that is to change at once must be on the board now; a later one is checked
    // when it takes effect (GET lists the outcome).
    if let (None, WhatIf::OutOfService { train } | WhatIf::BreakDown { train, .. }) =
        (what_if.at, what_if.what)
    {
        let id = train.to_string();
        let on_board = controls.snapshots.borrow().lines.iter().any(|line| {
            line.trains
                .iter()
                .any(|t| t.id == id && t.status != TrainStatus::OutOfService)
        });
        if !on_board {
            return error(
                StatusCode::BAD_REQUEST,
                format!("train {id} is not in service on the board"),
            );
        }
    }
    match control.what_ifs.submit(what_if) {
        Ok(()) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "accepted": what_if, "applied": PATH })),
        )
            .into_response(),
        Err(e @ (WhatIfError::Busy | WhatIfError::Stopped)) => {
            error(StatusCode::SERVICE_UNAVAILABLE, e)
        }
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}
