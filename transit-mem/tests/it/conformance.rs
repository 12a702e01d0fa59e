//! The bus conformance suite on the in-memory bus, directly and through `Box<dyn>`.

use std::sync::Arc;

use transit_core::EventBus;
use transit_mem::MemBus;

async fn mem_bus() -> Arc<dyn EventBus> {
    Arc::new(MemBus::new())
}

transit_core::conformance_tests!(mem_bus);

mod boxed {
    use super::*;

    async fn boxed_bus() -> Arc<dyn EventBus> {
        let boxed: Box<dyn EventBus> = Box::new(MemBus::new());
        Arc::new(boxed)
    }

    transit_core::conformance_tests!(boxed_bus);
}
