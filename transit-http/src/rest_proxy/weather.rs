//! The weather station as the original hardware was: it posts each reading to the REST Proxy
//! over HTTP, in the very request shape the original sent.

use async_trait::async_trait;
use transit_core::codec::AvroRecord;
use transit_core::event::{WeatherEvent, WeatherKey};
use transit_core::time::SimTime;
use transit_sim::driver::WeatherSink;

use std::time::Duration;

use super::{RestProxyClient, RestProxyError};

/// How long a reading is sent again while the proxy cannot be reached or fails.
const RETRY_FOR: Duration = Duration::from_secs(120);

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
#[derive(Debug, Clone)]
pub struct RestProxyWeather {
    client: RestProxyClient,
    topic: String,
}

impl RestProxyWeather {
    /// Readings go to `topic` through the proxy `client` talks to.
    pub fn new(client: RestProxyClient, topic: impl Into<String>) -> Self {
        Self {
            client,
            topic: topic.into(),
        }
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
        let deadline = tokio::time::Instant::now() + RETRY_FOR;
        let mut pause = Duration::from_millis(200);
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
                    tracing::warn!(
                        error = %transit_core::error_chain(&error),
                        retry_in_ms = pause.as_millis() as u64,
                        "the REST Proxy did not take the weather reading; sending it again"
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                outcome => {
                    outcome?;
                    break;
                }
            }
        }
        Ok(())
    }
}
