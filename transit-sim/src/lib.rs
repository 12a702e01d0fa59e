//! The simulator of transit: trains running along their lines in continuous time, turnstile
//! entries, hourly weather, the driver that publishes them onto a bus, the what-if controls,
//! and the whole one-process pipeline.
//!
//! Nothing that reads the bus depends on this crate: the processors, the read model and the
//! feeds (in `transit-core`, `transit-gtfs`, `transit-http`) see only the records it publishes.
//! What both sides need is network data in `transit-core`: the scheduled timetable the trains
//! run by and the feeds publish (`transit_core::network::timetable`), and the riders expected
//! at each station (`transit_core::network::ExpectedRiders`), around which the turnstiles
//! draw.
//!
//! # Layout
//!
//! - [`Simulation`]: the lines ([`LineSim`]), turnstiles ([`TurnstileModel`]) and weather
//!   ([`WeatherModel`]) stepped together; a pure, seeded [`Simulation::step`].
//! - [`timetabled`]: any agency's [`ServiceDay`](transit_core::network::service_day::ServiceDay)
//!   simulated: its trips run by their vehicles, riders, dwell and rail's one train per block.
//! - [`whatif`]: what-ifs (a delay, a train out of service, a breakdown) and their outcomes.
//! - [`driver`]: runs the simulation against any bus, paced or flat out, until shut down.
//! - [`what_if`]: the way into a running simulation for what-ifs from outside.
//! - [`pipeline`]: every part (station rows, the processors, the simulation, the read model)
//!   over one bus, started and stopped together. It lives here because it is the one place
//!   that wires the simulator to what reads it; a deployment on Kafka runs the same parts as
//!   separate processes instead.
//! - `testing` (feature `testing`): fixtures over the embedded data for every crate's tests.
//!
//! The simulation is pure and deterministic: [`Simulation::step`] is a function of the state, the seeded random
//! streams and the simulated clock; nothing reads the wall clock or does I/O. Each component
//! draws from its own random stream derived from the seed, so a change in one (say, the
//! weather) does not shift the draws of another.
//!
//! # Example
//!
//! The embedded CTA network and its riders ([`Simulation::embedded`]) with the processors and
//! the read model on the in-memory bus
//! ([`PipelineConfig::embedded`](pipeline::PipelineConfig::embedded) publishes the stations'
//! rows), flat out for ten simulated minutes:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use tokio_util::sync::CancellationToken;
//! use transit_mem::{MemBus, MemRegistry};
//! use transit_sim::driver::{DriverConfig, Pace};
//! use transit_sim::pipeline::{self, PipelineConfig};
//! use transit_sim::{SimConfig, SimTime, Simulation};
//!
//! let sim = Simulation::embedded(SimConfig::default())?;
//! let until = SimTime(sim.now().0 + 10 * 60 * 1000);
//! let config = PipelineConfig {
//!     driver: DriverConfig {
//!         pace: Pace::FlatOut,
//!         until: Some(until),
//!         ..DriverConfig::default()
//!     },
//!     ..PipelineConfig::embedded()?
//! };
//! let running = pipeline::start(
//!     Arc::new(MemBus::new()),
//!     Arc::new(MemRegistry::new()),
//!     sim,
//!     config,
//!     CancellationToken::new(),
//! )
//! .await?;
//! let board = running.snapshots();
//! let report = running.stop().await?; // waits for `until`, then stops the rest
//! assert_eq!(report.driver.simulated_until, Some(until));
//! // Every station of the three lines is on the board, trains among them.
//! let snapshot = board.borrow();
//! assert_eq!(snapshot.lines.len(), 3);
//! for line in &snapshot.lines {
//!     assert!(!line.stations.is_empty() && !line.trains.is_empty());
//! }
//! # Ok(())
//! # }
//! ```

pub mod driver;
mod line;
pub mod pipeline;
mod simulation;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timetabled;
mod turnstile;
mod weather;
pub mod what_if;
pub mod whatif;

pub use line::{Empty, LineSim, Position, Surroundings};
pub use simulation::{EmbeddedError, SimConfig, SimError, Simulation, TickEvents};
pub use turnstile::TurnstileModel;
pub use weather::WeatherModel;
pub use whatif::{AppliedWhatIf, InvalidWhatIf, ScheduledWhatIf, WhatIf, WhatIfOutcome};

/// The simulated clock's time, shared with everything that reads the bus.
pub use transit_core::time::{InvalidSimTime, SimTime};
