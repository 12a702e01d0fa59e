//! A way into a running simulation for what-ifs ([`crate::WhatIf`]): a handle that
//! accepts them from anywhere in the process (an HTTP endpoint, a test) and a list of what the
//! simulation did with them.
//!
//! The driver owns the simulation and steps it in its own task, so what-ifs reach it through a
//! channel: before each tick it schedules what came in (to take effect at their time, or at
//! the start of that tick), after it records what took effect. What-ifs known at start (the
//! `--what-if` flag) go straight to [`Simulation::schedule`] instead.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::{AppliedWhatIf, InvalidWhatIf, ScheduledWhatIf, Simulation, WhatIf, WhatIfOutcome};
use transit_core::model::LineId;
use transit_core::network::{Network, UnknownLine};

/// What-ifs waiting for the next tick at most; more is a client flooding the endpoint.
const QUEUE: usize = 1024;

/// The list of applied what-ifs keeps the latest this many.
const KEPT: usize = 1000;

/// Why a what-if was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WhatIfError {
    /// The what-if itself is wrong.
    #[error(transparent)]
    Invalid(#[from] InvalidWhatIf),
    /// The line is not one of the network's.
    #[error(transparent)]
    UnknownLine(#[from] UnknownLine),
    /// The station is not on the line.
    #[error("station {station} is not on the {line} line")]
    UnknownStation {
        /// The line.
        line: LineId,
        /// The station id asked for.
        station: u32,
    },
    /// 1024 what-ifs are already waiting for the next tick.
    #[error("too many what-ifs waiting for the next tick; try again")]
    Busy,
    /// The simulation has stopped.
    #[error("the simulation has stopped")]
    Stopped,
}

#[derive(Debug)]
struct Shared {
    network: Arc<Network>,
    receiver: Mutex<mpsc::Receiver<ScheduledWhatIf>>,
    applied: Mutex<Vec<AppliedWhatIf>>,
}

/// The handle: clone it to submit from several places; give one to
/// [`crate::driver::DriverConfig::what_ifs`].
#[derive(Debug, Clone)]
pub struct WhatIfs {
    sender: mpsc::Sender<ScheduledWhatIf>,
    shared: Arc<Shared>,
}

impl WhatIfs {
    /// A handle for a simulation of `network` (what-ifs are checked against its stations).
    pub fn new(network: Arc<Network>) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        Self {
            sender,
            shared: Arc::new(Shared {
                network,
                receiver: Mutex::new(receiver),
                applied: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Checks a what-if (durations, the station on its line) and queues it for the next tick.
    /// Whether its train is in service is known only when it takes effect: see
    /// [`WhatIfs::applied`].
    pub fn submit(&self, what_if: ScheduledWhatIf) -> Result<(), WhatIfError> {
        what_if.what.check()?;
        if let WhatIf::Delay { line, station, .. } = what_if.what {
            let network = &self.shared.network;
            let known = network
                .line(line)
                .ok_or_else(|| UnknownLine {
                    given: line.to_string(),
                    known: network.line_ids().map(LineId::as_str).collect(),
                })?
                .stations()
                .iter()
                .any(|s| s.id == station);
            if !known {
                return Err(WhatIfError::UnknownStation {
                    line,
                    station: station.0,
                });
            }
        }
        self.sender.try_send(what_if).map_err(|error| match error {
            mpsc::error::TrySendError::Full(_) => WhatIfError::Busy,
            mpsc::error::TrySendError::Closed(_) => WhatIfError::Stopped,
        })
    }

    /// What the simulation did with the what-ifs so far (the latest 1000), oldest first.
    pub fn applied(&self) -> Vec<AppliedWhatIf> {
        self.lock_applied().clone()
    }

    fn lock_applied(&self) -> std::sync::MutexGuard<'_, Vec<AppliedWhatIf>> {
        // A poisoned list is still a list: a panic elsewhere must not stop the controls.
        self.shared
            .applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Schedules on `sim` what was submitted since the last call (the driver, before a tick).
    pub fn schedule_submitted(&self, sim: &mut Simulation) {
        let mut receiver = self
            .shared
            .receiver
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        while let Ok(what_if) = receiver.try_recv() {
            sim.schedule(what_if);
        }
    }

    /// Records what `sim` applied (the driver, after a tick).
    pub fn record_applied(&self, sim: &mut Simulation) {
        record(sim, Some(self));
    }
}

/// Takes what `sim` applied, logs it, and adds it to `what_ifs`' list if there is one.
pub(crate) fn record(sim: &mut Simulation, what_ifs: Option<&WhatIfs>) {
    let applied = sim.take_applied();
    if applied.is_empty() {
        return;
    }
    for done in &applied {
        if done.outcome == WhatIfOutcome::Applied {
            tracing::info!(what_if = %done.what_if, time = %done.time, "what-if applied");
        } else {
            // Asked for and not done: say so louder, the caller expected an effect.
            tracing::warn!(
                what_if = %done.what_if,
                time = %done.time,
                outcome = ?done.outcome,
                "what-if not applied"
            );
        }
    }
    if let Some(what_ifs) = what_ifs {
        let mut list = what_ifs.lock_applied();
        list.extend(applied);
        let excess = list.len().saturating_sub(KEPT);
        list.drain(..excess);
    }
}
