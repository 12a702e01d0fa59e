//! CTA's trains as any agency's vehicles, for the processes and examples that run CTA's
//! simulation: the static feed's names for their calls (so the simulation publishes them as
//! vehicle arrivals) and its service day (so the predictor reads its timetable).
//!
//! The static feed describes the embedded network run by CTA's schedule with the embedded
//! ridership (its scheduled times depend on the riders expected): a simulation of another
//! stations file or ridership, or of a fixed fleet with no schedule, has calls the feed does
//! not name, and gets neither.

use std::sync::Arc;

use anyhow::Context;
use transit_gtfs::vehicles::{self, CallNames};
use transit_gtfs::Sources;
use transit_sim::pipeline::Predictions;
use transit_sim::SimTime;

use crate::settings::SimulationArgs;

/// The static feed's names for the calls of the simulation `args` describe; `None` (logged)
/// when the feed does not describe it (see the module docs).
pub fn cta_call_names(args: &SimulationArgs) -> anyhow::Result<Option<CallNames>> {
    if args.stations.is_some() || args.ridership.is_some() || args.trains_per_line.is_some() {
        tracing::warn!(
            "not CTA's embedded network, ridership and schedule: the trains' calls are not \
             published as vehicle arrivals and nothing is predicted"
        );
        return Ok(None);
    }
    let sources = Sources::embedded().context("CTA's static feed")?;
    Ok(Some(CallNames::new(sources)))
}

/// What the one-process pipeline needs to predict the trains of the simulation `args`
/// describe, starting at `start`: the feed's names and its service day of the start's date;
/// `None` when the feed does not describe the simulation.
///
/// A finite run flat out keeps every prediction issued on the bus, so that the scorer, which
/// falls behind, reads every one.
pub fn cta_predictions(
    args: &SimulationArgs,
    start: SimTime,
) -> anyhow::Result<Option<Predictions>> {
    let Some(names) = cta_call_names(args)? else {
        return Ok(None);
    };
    let date = start
        .date()
        .context("the simulation's start is out of range")?;
    let day = vehicles::service_day(names.sources(), date)
        .with_context(|| format!("CTA's service day of {date}"))?;
    tracing::info!(
        %date,
        trips = day.trips.len(),
        "predicting CTA's trains against the static feed's service day"
    );
    Ok(Some(Predictions {
        names: Arc::new(names),
        day: Arc::new(day),
    }))
}
