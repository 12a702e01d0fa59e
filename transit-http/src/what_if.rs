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
//! effect at once); `401` off loopback without the right bearer token (see below); `403` when
//! the server listens on an address other than loopback and was given no token (anyone who
//! reaches the board could disturb the simulation); `404` when no simulation runs in this
//! process (`transit dashboard` reads Kafka: give `transit produce --what-if` instead); `503`
//! when the simulation stopped or too many wait. Every error is JSON, `{"error": "..."}`.
//!
//! # Off loopback: a bearer token
//!
//! A server bound to a loopback address takes what-ifs from anyone (only this machine reaches
//! it). Bound elsewhere, `POST` needs `Authorization: Bearer <token>` with the
//! [`WhatIfToken`] the server was given (from a file or the environment, never a command-line
//! value, never logged), compared in constant time; without a token configured the controls
//! stay refused (403). `GET` (the list) stays open: it changes nothing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
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

/// The environment variable [`WhatIfToken::from_env`] reads.
pub const TOKEN_VAR: &str = "TRANSIT_WHAT_IF_TOKEN";

/// Fewest characters of a token: short ones can be guessed.
pub const MIN_TOKEN_LEN: usize = 16;

/// The bearer token that opens the what-if controls off loopback. Its `Debug` never shows it.
#[derive(Clone)]
pub struct WhatIfToken(Arc<[u8]>);

impl std::fmt::Debug for WhatIfToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WhatIfToken(<redacted>)")
    }
}

/// Why a token is refused. No variant holds the token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token file could not be read.
    #[error("reading the what-if token file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// Too short, or with characters a bearer token cannot hold.
    #[error(
        "the what-if token from {origin} must be at least {MIN_TOKEN_LEN} visible ASCII \
         characters, without spaces"
    )]
    Invalid {
        /// Where it came from (a file's path or the variable's name).
        origin: String,
    },
}

impl WhatIfToken {
    /// A token of at least [`MIN_TOKEN_LEN`] visible ASCII characters (no spaces); `origin`
    /// names where it came from, for the error.
    pub fn new(token: &str, origin: &str) -> Result<Self, TokenError> {
        let valid = token.len() >= MIN_TOKEN_LEN && token.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(TokenError::Invalid {
                origin: origin.to_string(),
            });
        }
        Ok(Self(Arc::from(token.as_bytes())))
    }

    /// The token in the first line of `path` (a trailing newline is not part of it).
    pub fn from_file(path: &Path) -> Result<Self, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::new(
            text.lines().next().unwrap_or_default(),
            &path.display().to_string(),
        )
    }

    /// The token in [`TOKEN_VAR`], if it is set.
    pub fn from_env() -> Result<Option<Self>, TokenError> {
        match std::env::var(TOKEN_VAR) {
            Ok(token) => Self::new(token.trim_end(), TOKEN_VAR).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Whether `header` is `Bearer <this token>`, compared in constant time (the time taken
    /// does not depend on where the first wrong byte is).
    fn accepts(&self, header: &[u8]) -> bool {
        const SCHEME: &[u8] = b"bearer ";
        let Some(scheme) = header.get(..SCHEME.len()) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case(SCHEME) {
            return false;
        }
        crate::server::constant_time_eq(header[SCHEME.len()..].trim_ascii(), &self.0)
    }
}

/// The controls of a simulation in this process, and who may use them.
#[derive(Debug, Clone)]
pub struct WhatIfControl {
    what_ifs: WhatIfs,
    /// The address the server listens on: off loopback, what-ifs need the token.
    bound: SocketAddr,
    token: Option<WhatIfToken>,
}

/// Whether a request may use the controls.
enum Access {
    Allowed,
    /// Off loopback with no token configured.
    Closed,
    /// Off loopback, and the request has no token or a wrong one.
    Unauthorized,
}

impl WhatIfControl {
    /// Controls over `what_ifs` for a server bound to `bound`. Off loopback, clients need
    /// `token` as a bearer token; without one they are refused there.
    pub fn new(what_ifs: WhatIfs, bound: SocketAddr, token: Option<WhatIfToken>) -> Self {
        Self {
            what_ifs,
            bound,
            token,
        }
    }

    /// Whether clients can use the controls at all (loopback, or a token configured).
    fn open(&self) -> bool {
        self.bound.ip().is_loopback() || self.token.is_some()
    }

    fn access(&self, headers: &HeaderMap) -> Access {
        if self.bound.ip().is_loopback() {
            return Access::Allowed;
        }
        let Some(token) = &self.token else {
            return Access::Closed;
        };
        let authorized = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .any(|value| token.accepts(value.as_bytes()));
        if authorized {
            Access::Allowed
        } else {
            Access::Unauthorized
        }
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
        "allowed": control.open(),
        "needs_token": !control.bound.ip().is_loopback(),
        "applied": control.what_ifs.applied(),
    }))
    .into_response()
}

async fn submit(State(controls): State<Controls>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(control) = controls.control else {
        return error(StatusCode::NOT_FOUND, NO_SIMULATION);
    };
    match control.access(&headers) {
        Access::Allowed => {}
        Access::Closed => {
            return error(
                StatusCode::FORBIDDEN,
                format!(
                    "what-ifs are refused on {}, not a loopback address: give the server a \
                     what-if token (--what-if-token-file or {TOKEN_VAR}) and send it as \
                     `Authorization: Bearer <token>`",
                    control.bound
                ),
            )
        }
        Access::Unauthorized => {
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "what-ifs off loopback need `Authorization: Bearer <token>` with the server's \
                 what-if token",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"transit what-if\""),
            );
            return response;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_whole_and_never_shown() {
        let token = WhatIfToken::new("0123456789abcdef-token", "test").unwrap();
        assert!(token.accepts(b"Bearer 0123456789abcdef-token"));
        assert!(token.accepts(b"bearer 0123456789abcdef-token"));
        for wrong in [
            &b""[..],
            b"Bearer",
            b"Bearer ",
            b"Basic 0123456789abcdef-token",
            b"Bearer 0123456789abcdef-toke",
            b"Bearer 0123456789abcdef-tokenX",
            b"Bearer 0123456789abcdef-tokeN",
            b"0123456789abcdef-token",
        ] {
            assert!(!token.accepts(wrong), "{}", String::from_utf8_lossy(wrong));
        }
        assert!(!format!("{token:?}").contains("0123"));
    }

    #[test]
    fn short_or_spaced_tokens_are_refused_without_being_quoted() {
        for bad in ["short", "sixteen chars ok", "", "0123456789abcdef\u{e9}"] {
            let error = WhatIfToken::new(bad, "TRANSIT_WHAT_IF_TOKEN").unwrap_err();
            let message = error.to_string();
            assert!(message.contains("TRANSIT_WHAT_IF_TOKEN"), "{message}");
            assert!(bad.is_empty() || !message.contains(bad), "{message}");
        }
    }
}
