//! The standard feeds over HTTP: `GET /gtfs/static.zip`, the static GTFS feed of the
//! simulated network ([`transit_gtfs`]).
//!
//! The feed depends only on the embedded data, so it is built once, on the first request (a
//! second or so; off the async workers), and served from memory after that. The dashboard
//! merges [`router`] into its own routes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::OnceCell;
use transit_gtfs::{FeedOptions, Sources};

/// The path of the static feed.
pub const STATIC_ZIP_PATH: &str = "/gtfs/static.zip";

#[derive(Debug)]
struct Feeds {
    options: FeedOptions,
    /// The zip, once built; a failed build is not kept, so the next request tries again.
    static_zip: OnceCell<Bytes>,
}

/// The feeds' routes, with the feed's default dates ([`FeedOptions::default`]).
pub fn router() -> Router {
    router_with(FeedOptions::default())
}

/// The feeds' routes, with the feed saying `options`.
pub fn router_with(options: FeedOptions) -> Router {
    Router::new()
        .route(STATIC_ZIP_PATH, get(static_zip))
        .with_state(Arc::new(Feeds {
            options,
            static_zip: OnceCell::new(),
        }))
}

async fn static_zip(State(feeds): State<Arc<Feeds>>) -> Response {
    let built = feeds
        .static_zip
        .get_or_try_init(|| async {
            let options = feeds.options.clone();
            let zip = tokio::task::spawn_blocking(move || {
                let sources = Sources::embedded()?;
                transit_gtfs::build(&sources, &options)?.to_zip()
            })
            .await
            .map_err(|e| format!("building the feed stopped: {e}"))?
            .map_err(|e| chain(&e))?;
            Ok::<_, String>(Bytes::from(zip))
        })
        .await;
    match built {
        Ok(zip) => (
            [
                (header::CONTENT_TYPE, "application/zip"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"cta-sim-gtfs.zip\"",
                ),
            ],
            zip.clone(),
        )
            .into_response(),
        Err(message) => {
            tracing::error!(%message, "the static GTFS feed could not be built");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the static GTFS feed could not be built: {message}\n"),
            )
                .into_response()
        }
    }
}

/// An error and its causes, on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
