//! Prometheus text exposition (version 0.0.4): the families every process serves on
//! `/metrics` (the pipeline's counters), and the writing of families and samples.

use std::fmt::Write;

use transit_core::metrics::MetricsSnapshot;

/// The content type of a Prometheus text page.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The pipeline's counters: records consumed, dead-lettered and published, lag per partition,
/// commits, aborted transactions, retries, errors and each component's last error.
pub(crate) fn pipeline(out: &mut String, metrics: &MetricsSnapshot) {
    family(
        out,
        "transit_records_consumed_total",
        "counter",
        "Records received, per consumer and topic.",
    );
    for ((consumer, topic), count) in &metrics.consumed {
        sample(
            out,
            "transit_records_consumed_total",
            &[("consumer", consumer), ("topic", topic)],
            *count as f64,
        );
    }
    family(out, "transit_records_dead_lettered_total", "counter", "Records refused and sent to the dead-letter topic, per consumer and the topic they came from.");
    for ((consumer, topic), count) in &metrics.dead_lettered {
        sample(
            out,
            "transit_records_dead_lettered_total",
            &[("consumer", consumer), ("topic", topic)],
            *count as f64,
        );
    }
    family(
        out,
        "transit_records_published_total",
        "counter",
        "Records the processors published, per topic.",
    );
    for (topic, count) in &metrics.published {
        sample(
            out,
            "transit_records_published_total",
            &[("topic", topic)],
            *count as f64,
        );
    }
    family(
        out,
        "transit_consumer_lag_records",
        "gauge",
        "Records published but not yet read, per consumer, topic and partition.",
    );
    for ((consumer, topic, partition), lag) in &metrics.lag {
        let partition = partition.to_string();
        sample(
            out,
            "transit_consumer_lag_records",
            &[
                ("consumer", consumer),
                ("topic", topic),
                ("partition", &partition),
            ],
            *lag as f64,
        );
    }
    for (name, help, counts, label) in [
        (
            "transit_commits_total",
            "Commits of input positions (or committed transactions), per consumer.",
            &metrics.commits,
            "consumer",
        ),
        (
            "transit_transactions_aborted_total",
            "Transactions aborted (fenced or failed; the batch is read again), per consumer.",
            &metrics.aborted_transactions,
            "consumer",
        ),
        (
            "transit_retries_total",
            "Operations retried after a failure, per component.",
            &metrics.retries,
            "component",
        ),
        (
            "transit_errors_total",
            "Errors seen, retried or not, per component.",
            &metrics.errors,
            "component",
        ),
    ] {
        family(out, name, "counter", help);
        for (who, count) in counts {
            sample(out, name, &[(label, who)], *count as f64);
        }
    }
    family(
        out,
        "transit_last_error_timestamp_seconds",
        "gauge",
        "When each component last saw an error (Unix time), the error in the label.",
    );
    for (component, error) in &metrics.last_error {
        sample(
            out,
            "transit_last_error_timestamp_seconds",
            &[
                ("component", component),
                ("error", &shortened(&error.message, 200)),
            ],
            error.at_unix_ms as f64 / 1000.0,
        );
    }
}

/// At most `max` characters of `text`, ending in `...` when cut: a label stays short.
fn shortened(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

/// A family's `# HELP` and `# TYPE` lines.
pub(crate) fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One sample line.
pub(crate) fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
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
    use super::*;

    #[test]
    fn a_long_error_is_cut_on_a_character() {
        assert_eq!(shortened("héllo", 2), "hé...");
        assert_eq!(shortened("héllo", 5), "héllo");
    }
}
