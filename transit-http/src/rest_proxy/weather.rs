//! The weather station as the original hardware was: it posts each reading to the REST Proxy
//! over HTTP, in the very request shape the original sent.

use async_trait::async_trait;
use transit_core::codec::AvroRecord;
use transit_core::driver::WeatherSink;
use transit_core::event::{WeatherEvent, WeatherKey};
use transit_core::sim::SimTime;

use super::RestProxyClient;

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
        self.client
            .produce_avro(
                &self.topic,
                WeatherKey::schema_json(),
                WeatherEvent::schema_json(),
                &[(key, value)],
            )
            .await?;
        Ok(())
    }
}
