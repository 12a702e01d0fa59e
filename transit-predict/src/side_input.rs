//! The predictor's side inputs: topics it reads whole, outside its consumer group, beside the
//! arrivals it is assigned (the weather, trip cancellations). Each member reads them from the
//! start, so what they say is not in the changelog; the predictor takes each record at the
//! instant it names, in event time.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use transit_core::bus::{Delivery, EventBus, SubscribeOptions};
use transit_core::codec::{DecodeError, Decoder, SchemaRegistry};
use transit_core::event::{TripCancellation, WeatherEvent, WeatherKey};
use transit_core::processor::BATCH;

/// Records read and not yet taken by the predictor, each with the instant it names (ms).
pub(crate) type Inbox<T> = Arc<Mutex<Vec<(i64, T)>>>;

/// Takes what `inbox` holds.
pub(crate) fn take<T>(inbox: &Inbox<T>) -> Vec<(i64, T)> {
    std::mem::take(&mut *inbox.lock().unwrap_or_else(PoisonError::into_inner))
}

/// How a side input's records read.
#[async_trait]
pub(crate) trait SideInput: std::fmt::Debug + Send + Sync + 'static {
    /// What a record holds.
    type Item: Send + 'static;
    /// What the input is, for logs ("the weather").
    const WHAT: &'static str;
    /// What the predictor does without it, for logs.
    const WITHOUT: &'static str;

    /// `delivery`'s record and the instant it names (ms).
    async fn read(
        &self,
        delivery: &Delivery,
        value: &[u8],
    ) -> Result<(i64, Self::Item), DecodeError>;
}

/// Weather readings, at the instant each was taken (the key's timestamp, else the record's).
#[derive(Debug)]
pub(crate) struct Weather {
    keys: Decoder<WeatherKey>,
    values: Decoder<WeatherEvent>,
}

impl Weather {
    pub(crate) fn new(
        registry: Arc<dyn SchemaRegistry>,
    ) -> Result<Self, transit_core::codec::RegistryError> {
        Ok(Self {
            keys: Decoder::new(Arc::clone(&registry))?,
            values: Decoder::new(registry)?,
        })
    }
}

#[async_trait]
impl SideInput for Weather {
    type Item = WeatherEvent;
    const WHAT: &'static str = "the weather";
    const WITHOUT: &'static str = "runs are predicted as in fair weather";

    async fn read(
        &self,
        delivery: &Delivery,
        value: &[u8],
    ) -> Result<(i64, WeatherEvent), DecodeError> {
        let reading = self.values.decode(value).await?;
        let at_ms = match &delivery.key {
            Some(key) => self
                .keys
                .decode(key)
                .await
                .map_or(delivery.timestamp_ms, |k| k.timestamp),
            None => delivery.timestamp_ms,
        };
        Ok((at_ms, reading))
    }
}

/// Trip cancellations, at the instant each was announced.
#[derive(Debug)]
pub(crate) struct Cancellations {
    values: Decoder<TripCancellation>,
}

impl Cancellations {
    pub(crate) fn new(
        registry: Arc<dyn SchemaRegistry>,
    ) -> Result<Self, transit_core::codec::RegistryError> {
        Ok(Self {
            values: Decoder::new(registry)?,
        })
    }
}

#[async_trait]
impl SideInput for Cancellations {
    type Item = TripCancellation;
    const WHAT: &'static str = "trip cancellations";
    const WITHOUT: &'static str =
        "cancelled trips are predicted until their vehicles are not seen on them";

    async fn read(
        &self,
        _: &Delivery,
        value: &[u8],
    ) -> Result<(i64, TripCancellation), DecodeError> {
        let cancellation = self.values.decode(value).await?;
        Ok((cancellation.announced_time, cancellation))
    }
}

/// Reads `topic` on `bus` from its start into `inbox` through `input` until `stop` is
/// cancelled or the bus closes; a record that does not read, or names no sane instant, is
/// logged and left out.
pub(crate) async fn follow<S: SideInput>(
    bus: Arc<dyn EventBus>,
    topic: String,
    input: S,
    inbox: Inbox<S::Item>,
    stop: CancellationToken,
) {
    let what = S::WHAT;
    let mut consumer = match bus
        .subscribe(SubscribeOptions::topics([topic.clone()]))
        .await
    {
        Ok(consumer) => consumer,
        Err(error) => {
            tracing::warn!(%topic, %error, "{what} is not read: {}", S::WITHOUT);
            return;
        }
    };
    let mut batch = Vec::new();
    loop {
        batch.clear();
        let received = tokio::select! {
            () = stop.cancelled() => return,
            received = consumer.recv_batch(&mut batch, BATCH) => received,
        };
        match received {
            Ok(0) => return,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%topic, %error, "reading {what} failed: it is not read further");
                return;
            }
        }
        for delivery in &batch {
            let Some(value) = &delivery.value else {
                continue;
            };
            match input.read(delivery, value).await {
                Ok((at_ms, item)) if crate::sane_ms(at_ms) => inbox
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((at_ms, item)),
                Ok((at_ms, _)) => {
                    tracing::warn!(%topic, offset = delivery.offset, at_ms, "a record of {what} names no sane instant; left out");
                }
                Err(error) => {
                    tracing::warn!(%topic, offset = delivery.offset, %error, "a record of {what} does not decode; left out");
                }
            }
        }
    }
}
