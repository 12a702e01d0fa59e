//! A line's headway panel, from the latest headway at each of its platforms.
//!
//! The coefficient of variation (cv) is the standard deviation of the headways over their mean;
//! a rider arriving at random waits on average ½·h·(1 + cv²) for mean headway h (the classic
//! result for random incidence: bunched service makes the average wait longer than half the
//! mean headway, evenly spaced service makes it exactly half).

use super::snapshot::{round_to, HeadwayPanel};
use crate::event::{HeadwayEvent, HeadwayState};

/// Headways older than this (ms of simulated time) are left out of a line's figures: a
/// platform that saw no train for an hour has no current headway.
pub(crate) const RECENT_MS: i64 = 3_600_000;

/// The panel of a line from its platforms' latest headways and its trains' headway states.
pub(crate) fn line_panel<'a>(
    platforms: impl Iterator<Item = &'a HeadwayEvent>,
    trains: impl Iterator<Item = HeadwayState>,
) -> HeadwayPanel {
    let mut headways = Vec::new();
    let mut scheduled = Vec::new();
    for record in platforms {
        if let Some(headway) = record.headway_s {
            headways.push(f64::from(headway));
        }
        if let Some(s) = record.scheduled_headway_s {
            scheduled.push(f64::from(s));
        }
    }
    // Rounded (seconds to a tenth, cv to four places) so the board reads back from its JSON
    // as the very same numbers.
    let mut panel = HeadwayPanel {
        platforms: headways.len() as u32,
        mean_headway_s: mean(&headways).map(|m| round_to(m, 1)),
        scheduled_headway_s: mean(&scheduled).map(|m| round_to(m, 1)),
        ..HeadwayPanel::default()
    };
    if let Some(mean) = mean(&headways).filter(|m| *m > 0.0) {
        let variance =
            headways.iter().map(|h| (h - mean).powi(2)).sum::<f64>() / headways.len() as f64;
        let cv = variance.sqrt() / mean;
        panel.cv = Some(round_to(cv, 4));
        panel.expected_wait_s = Some(round_to(0.5 * mean * (1.0 + cv * cv), 1));
    }
    for state in trains {
        match state {
            HeadwayState::Bunched => panel.bunched += 1,
            HeadwayState::Gapped => panel.gapped += 1,
            HeadwayState::OnTime => panel.on_time += 1,
            HeadwayState::Unknown => {}
        }
    }
    panel
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Direction, StationId, TrainId};
    use crate::network::cta;
    use crate::time::SimTime;

    fn record(headway_s: Option<i32>) -> HeadwayEvent {
        HeadwayEvent {
            line: cta::RED,
            station_id: StationId(1),
            direction: Direction::A,
            train_id: TrainId {
                line: cta::RED,
                number: 1,
            },
            run_number: Some(1),
            arrival_time: SimTime(0),
            headway_s,
            scheduled_headway_s: Some(300),
            state: HeadwayState::Unknown,
            delay_s: None,
            source_partition: 0,
            source_offset: 0,
        }
    }

    #[test]
    fn even_service_waits_half_a_headway_and_bunching_waits_longer() {
        let even: Vec<_> = [300, 300, 300].map(|h| record(Some(h))).to_vec();
        let panel = line_panel(even.iter(), std::iter::empty());
        assert_eq!(panel.cv, Some(0.0));
        assert_eq!(panel.expected_wait_s, Some(150.0));

        // Pairs of trains 60 s apart every 600 s: mean 330, sd 270.
        let bunched: Vec<_> = [60, 600, 60, 600, 60].map(|h| record(Some(h))).to_vec();
        let panel = line_panel(
            bunched.iter().chain([record(None)].iter()),
            [
                HeadwayState::Bunched,
                HeadwayState::Gapped,
                HeadwayState::Bunched,
            ]
            .into_iter(),
        );
        assert_eq!(panel.platforms, 5);
        let mean = panel.mean_headway_s.unwrap();
        assert!((mean - 276.0).abs() < 1e-9, "{mean}");
        let cv = panel.cv.unwrap();
        assert!(cv > 0.9, "{cv}");
        assert!(panel.expected_wait_s.unwrap() > mean / 2.0 * 1.8);
        assert_eq!((panel.bunched, panel.gapped, panel.on_time), (2, 1, 0));
    }

    #[test]
    fn no_headway_no_figures() {
        let panel = line_panel(std::iter::empty(), std::iter::empty());
        assert_eq!(panel, HeadwayPanel::default());
    }
}
