//! The simulation: trains running along their lines in continuous time, turnstile entries,
//! hourly weather.
//!
//! Pure and deterministic: [`Simulation::step`] is a function of the state, the seeded random
//! streams and the simulated clock; nothing reads the wall clock or does I/O. Each component
//! draws from its own random stream derived from the seed, so a change in one (say, the
//! weather) does not shift the draws of another.

mod clock;
mod line;
pub mod service;
mod simulation;
mod turnstile;
mod weather;
pub mod whatif;

pub use clock::{InvalidSimTime, SimTime};
pub use line::{ring_slot, Empty, LineSim, Position, Surroundings};
pub use line::{NominalTimetable, StopOffset};
pub use simulation::{SimConfig, SimError, Simulation, TickEvents};
pub use turnstile::TurnstileModel;
pub use weather::WeatherModel;
pub use whatif::{AppliedWhatIf, InvalidWhatIf, ScheduledWhatIf, WhatIf, WhatIfOutcome};
