//! Ctrl+C handling: the first press asks every part to finish cleanly (producers flush,
//! consumers commit); a second press forces the process out.

use tokio_util::sync::CancellationToken;

/// Exit status of a process stopped by a second Ctrl+C (128 + SIGINT, as shells report it).
const FORCED_EXIT_CODE: i32 = 130;

/// Returns a token cancelled on the first Ctrl+C (or SIGTERM); a second one exits at once.
pub fn on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        if let Err(error) = signal().await {
            tracing::warn!(%error, "cannot listen for Ctrl+C; stop the process another way");
            return;
        }
        tracing::info!("Ctrl+C: finishing cleanly (press again to force)");
        cancel.cancel();
        if signal().await.is_ok() {
            tracing::warn!("second Ctrl+C: exiting without finishing");
            std::process::exit(FORCED_EXIT_CODE);
        }
    });
    token
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
