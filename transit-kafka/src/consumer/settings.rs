//! The consumer settings transit's workload needs, where the user has not set them.
//!
//! transit's readers (processors, the dashboard, the feeds, a table being restored) read whole
//! topics from the start at the rate they can decode, and then follow them. With librdkafka's
//! defaults, once its prefetch queue holds `queued.min.messages` of a partition (or
//! `queued.max.messages.kbytes` in all) it waits `fetch.queue.backoff.ms`, a full second,
//! before it fetches that partition again: a reader that drains the queue in 100 ms then
//! idles for 900 ms, a third of the client's speed over a long topic, and a second of latency
//! added to a processor catching up. docs/kafka.md says which and why.

use rdkafka::config::ClientConfig;

/// Settings of every consumer the bus starts, each applied only when the configuration does
/// not set it: `(property, value)`.
pub(crate) const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    // Fetch again 10 ms after the queue was full rather than 1 s: the queue refills while the
    // reader still has records in hand. The cost is a check every 10 ms while the queue stays
    // full, which is nothing next to reading.
    ("fetch.queue.backoff.ms", "10"),
];

/// Sets each of [`CONSUMER_DEFAULTS`] that `config` leaves unset.
pub(crate) fn apply_defaults(config: &mut ClientConfig) {
    for (key, value) in CONSUMER_DEFAULTS {
        if config.get(key).is_none() {
            config.set(*key, *value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_fill_in_but_never_override_the_users_settings() {
        let mut unset = ClientConfig::new();
        apply_defaults(&mut unset);
        assert_eq!(unset.get("fetch.queue.backoff.ms"), Some("10"));

        let mut set = ClientConfig::new();
        set.set("fetch.queue.backoff.ms", "1000");
        apply_defaults(&mut set);
        assert_eq!(set.get("fetch.queue.backoff.ms"), Some("1000"));
    }
}
