//! The simulator of transit: trains running along their lines in continuous time, turnstile
//! entries, hourly weather, the driver that publishes them onto a bus, the what-if controls,
//! and the whole one-process pipeline.
//!
//! Nothing that reads the bus depends on this crate: the processors, the read model and the
//! feeds (in `transit-core`, `transit-gtfs`, `transit-http`) see only the records it publishes.
//!
//! # Layout
//!
//! - [`Simulation`]: the lines ([`LineSim`]), turnstiles ([`TurnstileModel`]) and weather
//!   ([`WeatherModel`]) stepped together; a pure, seeded [`Simulation::step`].
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

pub mod driver;
mod line;
pub mod pipeline;
mod simulation;
#[cfg(feature = "testing")]
pub mod testing;
mod turnstile;
mod weather;
pub mod what_if;
pub mod whatif;

pub use line::{Empty, LineSim, Position, Surroundings};
pub use line::{NominalTimetable, StopOffset};
pub use simulation::{SimConfig, SimError, Simulation, TickEvents};
pub use turnstile::TurnstileModel;
pub use weather::WeatherModel;
pub use whatif::{AppliedWhatIf, InvalidWhatIf, ScheduledWhatIf, WhatIf, WhatIfOutcome};

/// The simulated clock's time, shared with everything that reads the bus.
pub use transit_core::time::{InvalidSimTime, SimTime};
