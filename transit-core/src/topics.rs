//! Topic names: `<prefix>.<dataset>.<data>.v<N>`, with a configurable prefix.

use crate::model::LineId;

/// The prefix of every topic unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "org.chicago.cta";

/// The topic names of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

impl Default for Topics {
    fn default() -> Self {
        Self::new(DEFAULT_PREFIX)
    }
}

impl Topics {
    /// Names under `prefix` (without a trailing dot), e.g. `org.chicago.cta`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Arrivals of one line: `<prefix>.arrivals.<line>.v1`.
    pub fn arrivals(&self, line: LineId) -> String {
        format!("{}.arrivals.{}.v1", self.prefix, line.as_str())
    }

    /// A regular expression matching the arrivals topics of every line.
    pub fn arrivals_pattern(&self) -> String {
        format!(r"{}\.arrivals\.[a-z]+\.v1", escape(&self.prefix))
    }

    /// Arrivals of every vehicle of any feed, all routes in one topic keyed by vehicle:
    /// `<prefix>.vehicles.arrivals.v1`.
    pub fn vehicle_arrivals(&self) -> String {
        format!("{}.vehicles.arrivals.v1", self.prefix)
    }

    /// Trips of any feed dropped before they ran (service events), keyed by the vehicle that
    /// was to run them: `<prefix>.vehicles.cancellations.v1`.
    pub fn trip_cancellations(&self) -> String {
        format!("{}.vehicles.cancellations.v1", self.prefix)
    }

    /// Turnstile entries: `<prefix>.turnstile.entries.v1`.
    pub fn turnstile_entries(&self) -> String {
        format!("{}.turnstile.entries.v1", self.prefix)
    }

    /// Hourly weather: `<prefix>.weather.readings.v1`.
    pub fn weather(&self) -> String {
        format!("{}.weather.readings.v1", self.prefix)
    }

    /// Raw station rows, as the database source publishes them: `<prefix>.stations.raw.v1`.
    pub fn station_rows(&self) -> String {
        format!("{}.stations.raw.v1", self.prefix)
    }

    /// Where database sources store how far they have read, keyed by source name (compacted,
    /// like Kafka Connect's offsets topic): `<prefix>.connect.offsets.v1`.
    pub fn connect_offsets(&self) -> String {
        format!("{}.connect.offsets.v1", self.prefix)
    }

    /// The clean station table (compacted): `<prefix>.stations.table.v1`.
    pub fn stations(&self) -> String {
        format!("{}.stations.table.v1", self.prefix)
    }

    /// Turnstile counts per station and line (compacted): `<prefix>.turnstile.counts.v1`.
    pub fn turnstile_counts(&self) -> String {
        format!("{}.turnstile.counts.v1", self.prefix)
    }

    /// The latest headway at each platform (compacted): `<prefix>.headways.table.v1`.
    pub fn headways(&self) -> String {
        format!("{}.headways.table.v1", self.prefix)
    }

    /// Records no consumer could process, with the reason: `<prefix>.deadletter.records.v1`.
    pub fn dead_letter(&self) -> String {
        format!("{}.deadletter.records.v1", self.prefix)
    }
}

/// Escapes the regular-expression metacharacters a prefix may contain (dots, mostly).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::cta;

    #[test]
    fn names_follow_the_convention() {
        let topics = Topics::default();
        assert_eq!(
            topics.arrivals(cta::BLUE),
            "org.chicago.cta.arrivals.blue.v1"
        );
        assert_eq!(topics.stations(), "org.chicago.cta.stations.table.v1");
        assert_eq!(
            topics.arrivals_pattern(),
            r"org\.chicago\.cta\.arrivals\.[a-z]+\.v1"
        );
    }
}
