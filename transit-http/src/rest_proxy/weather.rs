//! The weather station as the original hardware was: it posts each reading to the REST Proxy
//! over HTTP, in the very request shape the original sent.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use transit_core::codec::AvroRecord;
use transit_core::event::{WeatherEvent, WeatherKey};
use transit_core::metrics::PipelineMetrics;
use transit_core::time::SimTime;
use transit_sim::driver::WeatherSink;

use super::{RestProxyClient, RestProxyError};

/// How long a reading is sent again while the proxy cannot be reached or fails.
const RETRY_FOR: Duration = Duration::from_secs(120);

/// The first pause before sending a reading again; it doubles up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(200);

/// The longest pause before sending a reading again.
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

/// Whether sending again may succeed: the proxy was not reached, or failed on its side.
fn is_transient(error: &RestProxyError) -> bool {
    match error {
        // An untrusted certificate is not a proxy restarting.
        RestProxyError::Transport { source, .. } => !crate::client_security::is_tls_refusal(source),
        RestProxyError::Rejected { status, .. } => *status >= 500,
        _ => false,
    }
}

/// Sends the simulation's weather readings to a REST Proxy's `POST /topics/{topic}`, with the
/// key and value schemas inline (`application/vnd.kafka.avro.v2+json`).
///
/// A proxy that is down or failing (5xx) is asked again with a growing pause for up to two
/// minutes per reading; the log says so at the reading's 1st, 2nd, 4th, 8th... failed
/// attempt, with the count, and once when the proxy takes it. With
/// [`RestProxyWeather::with_metrics`], each attempt sent again is counted as
/// [`RestProxyWeather::METRICS_COMPONENT`]'s retry, with its error as the last one.
#[derive(Debug, Clone)]
pub struct RestProxyWeather {
    client: RestProxyClient,
    topic: String,
    metrics: Option<Arc<PipelineMetrics>>,
}

impl RestProxyWeather {
    /// The component the weather sender's retries and errors are counted as in a process's
    /// metrics (`transit_retries_total{component="weather sender"}`): the REST Proxy client's
    /// failed requests, each sent again.
    pub const METRICS_COMPONENT: &'static str = "weather sender";

    /// Readings go to `topic` through the proxy `client` talks to.
    pub fn new(client: RestProxyClient, topic: impl Into<String>) -> Self {
        Self {
            client,
            topic: topic.into(),
            metrics: None,
        }
    }

    /// The same sender, counting its retries and errors in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<PipelineMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }
}

#[async_trait]
impl WeatherSink for RestProxyWeather {
    async fn send(
        &self,
        time: SimTime,
        reading: &WeatherEvent,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        // The events' serde form is Avro's JSON encoding of their schemas (plain fields, the
        // enum as its symbol), which is what the proxy takes.
        let key = serde_json::to_value(WeatherKey { timestamp: time.0 })?;
        let value = serde_json::to_value(reading)?;
        // A proxy restarting delays a reading, it does not lose it or stop the producer: asked
        // again while it cannot be reached or fails (5xx), as the original hardware would. The
        // reading's key is its time, so one sent twice is the same row.
        let started = tokio::time::Instant::now();
        let deadline = started + RETRY_FOR;
        let mut pause = FIRST_PAUSE;
        let mut failed: u32 = 0;
        loop {
            let outcome = self
                .client
                .produce_avro(
                    &self.topic,
                    WeatherKey::schema_json(),
                    WeatherEvent::schema_json(),
                    &[(key.clone(), value.clone())],
                )
                .await;
            match outcome {
                Err(error)
                    if is_transient(&error) && tokio::time::Instant::now() + pause < deadline =>
                {
                    failed += 1;
                    let error = transit_core::error_chain(&error);
                    if let Some(metrics) = &self.metrics {
                        metrics.record_retry(Self::METRICS_COMPONENT, &error);
                    }
                    if failed.is_power_of_two() {
                        tracing::warn!(
                            %error,
                            reading = %time,
                            attempt = failed,
                            waited_s = started.elapsed().as_secs(),
                            "the REST Proxy did not take the weather reading; sending it again"
                        );
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(LONGEST_PAUSE);
                }
                Err(error) => {
                    if let Some(metrics) = &self.metrics {
                        metrics.record_error(
                            Self::METRICS_COMPONENT,
                            &transit_core::error_chain(&error),
                        );
                    }
                    return Err(error.into());
                }
                Ok(_) => {
                    if failed > 0 {
                        tracing::info!(
                            reading = %time,
                            waited_s = started.elapsed().as_secs(),
                            "the REST Proxy took the weather reading after {failed} failed attempts"
                        );
                    }
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_reading_sent_again_is_a_counted_retry_with_the_last_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        drop(listener);
        let metrics = PipelineMetrics::new();
        let sender = RestProxyWeather::new(RestProxyClient::new(&url).expect("a client"), "w")
            .with_metrics(Arc::clone(&metrics));
        let reading = WeatherEvent {
            temperature: 41.5,
            status: transit_core::event::WeatherStatus::Cloudy,
        };
        // Abandoned while it still sends again (for RETRY_FOR): its retries are counted so far.
        let sent =
            tokio::time::timeout(Duration::from_secs(1), sender.send(SimTime(0), &reading)).await;
        assert!(sent.is_err(), "a proxy down is asked again");
        let snapshot = metrics.snapshot();
        let component = RestProxyWeather::METRICS_COMPONENT;
        assert!(snapshot.retries[component] >= 2, "{:?}", snapshot.retries);
        let last = &snapshot.last_error[component].message;
        assert!(last.contains(&format!("{url}/topics/w")), "{last}");
    }
}
