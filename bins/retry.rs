//! Waiting for a service, and telling an outage from a mistake.
//!
//! A service that refuses connections or does not answer is an outage: the process waits for
//! it, with backoff, and says so when the state changes, not at every attempt: the first
//! failure, then attempts 2, 4, 8, 16... (a decreasing rate), each with the count and the time
//! waited, and once when the service is back. A setting that can never work (a host name that
//! does not resolve, refused credentials, a missing database, a malformed URL) is a
//! [`Mistake`]: the process ends at once with one line naming the setting to change.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::shutdown::{self, Interrupted};

/// The first pause between attempts; it doubles up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(500);

/// The longest pause between attempts.
const LONGEST_PAUSE: Duration = Duration::from_secs(10);

/// A setting that can never work as given: what was tried, what went wrong, and which setting
/// to change. Its message is the whole story (it has no source, so no cause is printed twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mistake {
    /// What was tried and what went wrong.
    pub message: String,
    /// The setting to change: `--kafka (TRANSIT_KAFKA_BROKERS)`.
    pub setting: &'static str,
}

impl Mistake {
    /// A mistake in `setting`: `message`, then the causes of `error`, in one line.
    pub fn new(
        setting: &'static str,
        message: impl std::fmt::Display,
        error: &(dyn std::error::Error + 'static),
    ) -> Self {
        let causes = error_line(error);
        Self {
            message: format!("{message}: {causes}"),
            setting,
        }
    }
}

impl Mistake {
    /// A mistake in `setting` that `error` tells whole (its causes in one line).
    pub fn of(setting: &'static str, error: &(dyn std::error::Error + 'static)) -> Self {
        Self {
            message: error_line(error),
            setting,
        }
    }
}

impl std::fmt::Display for Mistake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; check {}", self.message, self.setting)
    }
}

impl std::error::Error for Mistake {}

/// How an attempt to reach a service failed.
#[derive(Debug)]
pub enum Failure {
    /// Trying again cannot help: end the process with this error (a [`Mistake`], usually).
    Permanent(anyhow::Error),
    /// The service is down or not answering: try again later. Says what the attempt met.
    Outage(String),
}

/// Calls `attempt` until it succeeds, fails for good, or Ctrl+C; `service` (`Kafka`) at
/// `place` (its address) names what is waited for in the log and in the Ctrl+C line.
pub async fn wait_for<T, F, Fut>(service: &str, place: &str, mut attempt: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    shutdown::enter(
        format!("connecting to {service} at {place}"),
        "the process had not started its work",
    );
    let started = Instant::now();
    let mut failed: u32 = 0;
    let mut pause = FIRST_PAUSE;
    loop {
        let outcome = tokio::select! {
            outcome = attempt() => outcome,
            () = shutdown::cancelled() => return Err(Interrupted::current().into()),
        };
        match outcome {
            Ok(value) => {
                // What follows (topics, schemas, restoring state) is still getting ready.
                shutdown::enter(
                    "starting (topics, schemas, restoring state)",
                    "the process had not started its work",
                );
                if failed > 0 {
                    tracing::info!(
                        waited_s = started.elapsed().as_secs(),
                        "{service} reachable again after {failed} attempts"
                    );
                }
                return Ok(value);
            }
            Err(Failure::Permanent(error)) => return Err(error),
            Err(Failure::Outage(reason)) => {
                failed += 1;
                if failed == 1 {
                    shutdown::enter(
                        format!("waiting for {service} at {place}"),
                        "the process had not started its work",
                    );
                }
                if failed.is_power_of_two() {
                    tracing::warn!(
                        %reason,
                        "{service} unreachable at {place}, retrying (attempt {failed}, {} s)",
                        started.elapsed().as_secs()
                    );
                }
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = shutdown::cancelled() => return Err(Interrupted::current().into()),
                }
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
        }
    }
}

/// `error` and its causes in one line, each cause once: a cause whose text an earlier one
/// already holds (rdkafka's `Meta data fetch error: BrokerTransportFailure (...)` above its
/// own `BrokerTransportFailure (...)`) is left out.
pub fn one_line(error: &anyhow::Error) -> String {
    chain_line(error.chain())
}

/// [`one_line`] for any error.
pub fn error_line(error: &(dyn std::error::Error + 'static)) -> String {
    chain_line(std::iter::successors(Some(error), |e| e.source()))
}

fn chain_line<'a>(chain: impl Iterator<Item = &'a (dyn std::error::Error + 'static)>) -> String {
    let mut line = String::new();
    for cause in chain {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_cause_is_printed_twice() {
        let inner =
            std::io::Error::other("BrokerTransportFailure (Local: Broker transport failure)");
        let error = anyhow::Error::new(inner)
            .context(
                "Meta data fetch error: BrokerTransportFailure (Local: Broker transport failure)",
            )
            .context("no answer from the Kafka cluster at 127.0.0.1:9092");
        assert_eq!(
            one_line(&error),
            "no answer from the Kafka cluster at 127.0.0.1:9092: Meta data fetch error: \
             BrokerTransportFailure (Local: Broker transport failure)"
        );
    }

    #[test]
    fn a_mistake_names_its_setting_once() {
        let cause = std::io::Error::other("Name or service not known");
        let mistake = Mistake::new(
            "--kafka (TRANSIT_KAFKA_BROKERS)",
            "cannot resolve x",
            &cause,
        );
        assert_eq!(
            mistake.to_string(),
            "cannot resolve x: Name or service not known; check --kafka (TRANSIT_KAFKA_BROKERS)"
        );
        let error = anyhow::Error::new(mistake);
        assert_eq!(one_line(&error).matches("Name or service").count(), 1);
    }
}
