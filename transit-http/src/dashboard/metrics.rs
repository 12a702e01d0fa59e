//! `/metrics` in the Prometheus text exposition format (version 0.0.4).

use std::time::Duration;

use transit_core::metrics::MetricsSnapshot;
use transit_core::status::StatusSnapshot;

use crate::prometheus::{self, family, sample};

/// The metrics page.
pub(crate) fn render(
    metrics: &MetricsSnapshot,
    status: &StatusSnapshot,
    uptime: Duration,
) -> String {
    let mut out = String::with_capacity(4096);
    prometheus::pipeline(&mut out, metrics);
    family(
        &mut out,
        "transit_board_stations",
        "gauge",
        "Stations on the board.",
    );
    sample(
        &mut out,
        "transit_board_stations",
        &[],
        status.totals.stations as f64,
    );
    family(
        &mut out,
        "transit_board_trains",
        "gauge",
        "Trains at a platform on the board.",
    );
    sample(
        &mut out,
        "transit_board_trains",
        &[],
        status.totals.trains as f64,
    );
    family(
        &mut out,
        "transit_board_trains_in_service",
        "gauge",
        "Trains in service on the board, at platforms or between stations.",
    );
    sample(
        &mut out,
        "transit_board_trains_in_service",
        &[],
        status.totals.in_service as f64,
    );
    for (name, help) in [
        (
            "transit_line_headway_cv",
            "Coefficient of variation of the line's latest headways (0: evenly spaced).",
        ),
        (
            "transit_line_expected_wait_seconds",
            "Expected wait of a rider arriving at random: half the mean headway times (1 + cv^2).",
        ),
        (
            "transit_line_trains_bunched",
            "Trains in service whose latest headway is bunched.",
        ),
        (
            "transit_line_trains_gapped",
            "Trains in service whose latest headway is gapped.",
        ),
    ] {
        family(&mut out, name, "gauge", help);
        for line in &status.lines {
            let panel = &line.headways;
            let value = match name {
                "transit_line_headway_cv" => panel.cv,
                "transit_line_expected_wait_seconds" => panel.expected_wait_s,
                "transit_line_trains_bunched" => Some(f64::from(panel.bunched)),
                _ => Some(f64::from(panel.gapped)),
            };
            if let Some(value) = value {
                sample(&mut out, name, &[("line", line.line.as_str())], value);
            }
        }
    }
    family(
        &mut out,
        "transit_board_entries",
        "gauge",
        "Turnstile entries counted on the board.",
    );
    sample(
        &mut out,
        "transit_board_entries",
        &[],
        status.totals.entries as f64,
    );
    family(
        &mut out,
        "transit_board_version",
        "counter",
        "Changes the read model has applied.",
    );
    sample(
        &mut out,
        "transit_board_version",
        &[],
        status.version as f64,
    );
    family(
        &mut out,
        "transit_uptime_seconds",
        "gauge",
        "Seconds since the dashboard started.",
    );
    sample(
        &mut out,
        "transit_uptime_seconds",
        &[],
        uptime.as_secs_f64(),
    );
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn families_are_declared_and_labels_escaped() {
        let mut metrics = MetricsSnapshot::default();
        metrics
            .consumed
            .insert(("status".into(), Arc::from("a\"b\\c\nd")), 3);
        let text = render(&metrics, &StatusSnapshot::default(), Duration::from_secs(2));
        assert!(text.contains("# TYPE transit_records_consumed_total counter\n"));
        assert!(
            text.contains(
                r#"transit_records_consumed_total{consumer="status",topic="a\"b\\c\nd"} 3"#
            ),
            "{text}"
        );
        assert!(text.contains("transit_uptime_seconds 2\n"));
    }
}
