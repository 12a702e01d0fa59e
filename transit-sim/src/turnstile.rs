use std::sync::Arc;

use rand::Rng;
use rand_distr::{Distribution, Poisson};

use crate::SimTime;
use transit_core::event::TurnstileEvent;
use transit_core::model::{LineId, StationId};
use transit_core::network::{ExpectedRiders, Network, Ridership};

#[derive(Debug, Clone)]
struct Gate {
    station_id: StationId,
    name: Arc<str>,
    line: LineId,
}

/// Turnstile entries: for each station and tick, a Poisson draw whose mean is the riders
/// [`ExpectedRiders`] expects then (the station's daily riders for the day type × the hour's
/// share of the day × the part of that hour the tick covers).
///
/// A station on two of the three lines (Clark/Lake, Roosevelt) splits its riders evenly between
/// them, so each station's daily total matches the CTA's figure (the original counted such
/// stations twice, used weekday riders every day, and miscounted ticks per hour).
#[derive(Debug, Clone)]
pub struct TurnstileModel {
    /// The gates in network order, as `riders` numbers the stations.
    gates: Vec<Gate>,
    riders: ExpectedRiders,
}

impl TurnstileModel {
    /// The model for every station of `network`.
    pub fn new(network: &Network, ridership: &Ridership) -> Self {
        let gates = network
            .lines()
            .flat_map(|line| line.stations())
            .map(|station| Gate {
                station_id: station.id,
                name: Arc::from(station.name.as_str()),
                line: station.line,
            })
            .collect();
        Self {
            gates,
            riders: ExpectedRiders::new(network, ridership),
        }
    }

    /// The riders the draws are around: the mean of every station's entries.
    pub fn riders(&self) -> &ExpectedRiders {
        &self.riders
    }

    /// The expected entries of every station between `from` and `to`, in network order.
    pub fn expected(&self, from: SimTime, to: SimTime) -> impl Iterator<Item = f64> + '_ {
        self.riders.expected(from, to)
    }

    /// The expected entries of one station (its index in network order: the lines in order,
    /// each line's stations in order) between `from` and `to`.
    pub fn expected_at(&self, gate: usize, from: SimTime, to: SimTime) -> f64 {
        self.riders.expected_at(gate, from, to)
    }

    /// Draws the entries between `from` and `to` and appends one event per rider to `out`.
    pub fn step(
        &self,
        from: SimTime,
        to: SimTime,
        rng: &mut impl Rng,
        out: &mut Vec<TurnstileEvent>,
    ) {
        for (gate, mean) in self.gates.iter().zip(self.expected(from, to)) {
            // Poisson::new refuses a zero mean (a closed station, or no time at all).
            let Ok(poisson) = Poisson::new(mean) else {
                continue;
            };
            let entries = poisson.sample(rng) as u64;
            out.extend((0..entries).map(|_| TurnstileEvent {
                station_id: gate.station_id,
                station_name: Arc::clone(&gate.name),
                line: gate.line,
            }));
        }
    }
}
