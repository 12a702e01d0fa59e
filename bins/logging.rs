//! Logging for the binaries: `tracing` to stderr, filtered by `RUST_LOG` (default `info`, and
//! PostgreSQL's notices only from `warn`), as
//! text for people or as JSON lines for log collectors.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line per event for people; coloured only when stderr is a terminal and `NO_COLOR`
    /// is not set.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, message, fields), for log collectors.
    Json,
}

/// The logging flag every program takes.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct LogArgs {
    /// How log lines are written: `text` for people, `json` for log collectors.
    #[arg(
        long,
        global = true,
        env = "TRANSIT_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    pub log_format: LogFormat,
}

/// Installs the process's log subscriber. Call once, before anything logs.
pub fn init(format: LogFormat) {
    // PostgreSQL's notices ("relation already exists, skipping" when the loader runs again)
    // are its chatter, not ours: tokio-postgres logs them at info.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tokio_postgres=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(colours_wanted()).init(),
        LogFormat::Json => builder.json().with_current_span(false).init(),
    }
}

/// Colours only for a person at a terminal who has not asked for none
/// (<https://no-color.org>: `NO_COLOR` set to anything but the empty string).
fn colours_wanted() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    !no_color && std::io::stderr().is_terminal()
}
