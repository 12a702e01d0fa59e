//! (being written)
/// (being written)
#[derive(Debug)]
pub struct MemBus;
/// (being written)
#[derive(Debug)]
pub struct MemBusConfig;
