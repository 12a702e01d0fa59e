//! `/metrics` in the Prometheus text exposition format (version 0.0.4).

use std::fmt::Write;
use std::time::Duration;

use transit_core::metrics::MetricsSnapshot;
use transit_core::status::StatusSnapshot;

/// The metrics page.
pub(crate) fn render(
    metrics: &MetricsSnapshot,
    status: &StatusSnapshot,
    uptime: Duration,
) -> String {
    let mut out = String::with_capacity(4096);
    family(
        &mut out,
        "transit_records_consumed_total",
        "counter",
        "Records received, per consumer and topic.",
    );
    for ((consumer, topic), count) in &metrics.consumed {
        sample(
            &mut out,
            "transit_records_consumed_total",
            &[("consumer", consumer), ("topic", topic)],
            *count as f64,
        );
    }
    family(&mut out, "transit_records_dead_lettered_total", "counter", "Records refused and sent to the dead-letter topic, per consumer and the topic they came from.");
    for ((consumer, topic), count) in &metrics.dead_lettered {
        sample(
            &mut out,
            "transit_records_dead_lettered_total",
            &[("consumer", consumer), ("topic", topic)],
            *count as f64,
        );
    }
    family(
        &mut out,
        "transit_records_published_total",
        "counter",
        "Records the processors published, per topic.",
    );
    for (topic, count) in &metrics.published {
        sample(
            &mut out,
            "transit_records_published_total",
            &[("topic", topic)],
            *count as f64,
        );
    }
    family(
        &mut out,
        "transit_consumer_lag_records",
        "gauge",
        "Records published but not yet read, per consumer, topic and partition.",
    );
    for ((consumer, topic, partition), lag) in &metrics.lag {
        let partition = partition.to_string();
        sample(
            &mut out,
            "transit_consumer_lag_records",
            &[
                ("consumer", consumer),
                ("topic", topic),
                ("partition", &partition),
            ],
            *lag as f64,
        );
    }
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

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (index, (label, value)) in labels.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str(label);
            out.push_str("=\"");
            escape_label(out, value);
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// Label values escape backslash, double quote and newline.
fn escape_label(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
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
