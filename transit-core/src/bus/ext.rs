use async_trait::async_trait;

use super::{EventBus, PublishError, Record, RecordPosition};

/// Conveniences over any [`EventBus`]; implemented for every bus, never overridden, so a
/// wrapper bus cannot lose one of the inner bus's behaviours.
#[async_trait]
pub trait EventBusExt: EventBus {
    /// Publishes one record.
    async fn publish(&self, topic: &str, record: Record) -> Result<RecordPosition, PublishError> {
        let mut positions = self.publish_batch(topic, vec![record]).await?;
        positions.pop().ok_or_else(|| PublishError {
            error: super::Error::Backend {
                backend: "bus",
                source: "publish_batch returned no position for a record".into(),
            },
            unsent: Vec::new(),
        })
    }
}

impl<B: EventBus + ?Sized> EventBusExt for B {}
