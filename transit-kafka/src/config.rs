//! How to reach a Kafka cluster: the bootstrap servers and any librdkafka setting.
//!
//! Every librdkafka property passes through unchanged (`security.protocol`, `sasl.*`, `ssl.*`,
//! `compression.type`, `linger.ms`...), so the same binaries run against a local broker and a
//! managed cluster. Settings come, later ones winning, from the defaults below, a properties
//! file (`key=value` lines, as Kafka's `client.properties`), environment variables
//! `TRANSIT_RDKAFKA_<NAME>` (`TRANSIT_RDKAFKA_SECURITY_PROTOCOL` is `security.protocol`), and
//! explicit `key=value` overrides. The prefix is transit's own, not Confluent's `KAFKA_`:
//! machines that run Kafka tools have `KAFKA_HOME`, `KAFKA_OPTS` and the like, which
//! librdkafka would refuse as unknown properties.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a setting could not be read from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The properties file could not be read.
    #[error("reading Kafka settings from {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// A line is not `key=value`. The line itself is not repeated: it may hold a secret
    /// (a password pasted alone, or written `key: value`).
    #[error(
        "{origin}: expected key=value, got a line without `=` (not shown: it may hold a secret)"
    )]
    Malformed {
        /// Which file and line, or which override.
        origin: String,
    },
    /// A setting this crate reads itself has a value it cannot use.
    #[error("Kafka setting {key}={value:?}: {reason}")]
    Invalid {
        /// The setting.
        key: String,
        /// Its value.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
}

/// The prefix of environment variables that set librdkafka properties.
pub const ENV_PREFIX: &str = "TRANSIT_RDKAFKA_";

/// Properties read by transit itself, not handed to librdkafka.
const REPLICATION_FACTOR: &str = "transit.replication.factor";
const MIN_INSYNC_REPLICAS: &str = "transit.min.insync.replicas";
const OPERATION_TIMEOUT_MS: &str = "transit.operation.timeout.ms";
const TRANSACTIONS: &str = "transit.transactions";
const TOPIC_RETENTION_MS: &str = "transit.topic.retention.ms";

/// The librdkafka defaults transit chooses over librdkafka's own, and why.
const DEFAULTS: &[(&str, &str)] = &[
    // Java's partitioner: a key lands in the same partition as with the in-memory bus and any
    // Java or Confluent producer, so per-key order and state partitioning agree across clients.
    ("partitioner", "murmur2_random"),
    // Pattern subscriptions see new topics within seconds, not the default five minutes.
    ("topic.metadata.refresh.interval.ms", "2000"),
    // Batches fill for a few milliseconds: many records per request at little added latency.
    ("linger.ms", "5"),
];

/// The Kafka connection settings: bootstrap servers plus any librdkafka property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    properties: BTreeMap<String, String>,
}

impl KafkaConfig {
    /// Settings for the brokers at `bootstrap_servers` (`host:port[,host:port...]`), with
    /// transit's defaults.
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        let mut properties: BTreeMap<String, String> = DEFAULTS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        properties.insert("bootstrap.servers".into(), bootstrap_servers.into());
        Self { properties }
    }

    /// Sets one property (librdkafka's name, or `transit.replication.factor` /
    /// `transit.operation.timeout.ms`).
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Adds the `key=value` lines of a properties file (`#` and `!` start comments).
    pub fn with_file(mut self, path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let origin = format!("{}:{}", path.display(), number + 1);
            let (key, value) = split_property(line, &origin)?;
            self.properties.insert(key, value);
        }
        Ok(self)
    }

    /// Adds properties from environment variables `TRANSIT_RDKAFKA_<NAME>`, where `<NAME>` is
    /// the property in capitals with `_` for `.` (`TRANSIT_RDKAFKA_SASL_USERNAME` sets
    /// `sasl.username`). Variables named in `skip` are left out.
    pub fn with_env<I>(mut self, vars: I, skip: &[&str]) -> Self
    where
        I: IntoIterator<Item = (String, String)>,
    {
        for (name, value) in vars {
            if skip.contains(&name.as_str()) {
                continue;
            }
            if let Some(property) = name.strip_prefix(ENV_PREFIX) {
                if !property.is_empty() {
                    let key = property.to_ascii_lowercase().replace('_', ".");
                    self.properties.insert(key, value);
                }
            }
        }
        self
    }

    /// Adds `key=value` overrides, as given on a command line.
    pub fn with_overrides<'a, I>(mut self, overrides: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        for line in overrides {
            let (key, value) = split_property(line, "override")?;
            self.properties.insert(key, value);
        }
        Ok(self)
    }

    /// The value of a property, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    /// The bootstrap servers.
    pub fn bootstrap_servers(&self) -> &str {
        self.get("bootstrap.servers").unwrap_or_default()
    }

    /// Replicas per partition of the topics transit creates (`transit.replication.factor`),
    /// or `None` when not set: the bus then takes min(3, the brokers in the cluster).
    pub fn replication_factor(&self) -> Result<Option<i32>, ConfigError> {
        self.optional_number(REPLICATION_FACTOR)?
            .map(|n| positive(REPLICATION_FACTOR, n))
            .transpose()
    }

    /// `min.insync.replicas` of the topics transit creates (`transit.min.insync.replicas`), or
    /// `None` when not set: the bus then sets 2 on topics with three replicas or more (an
    /// acknowledged record is on two brokers, and one broker may be down), and leaves the
    /// broker's default on smaller ones.
    pub fn min_insync_replicas(&self) -> Result<Option<i32>, ConfigError> {
        self.optional_number(MIN_INSYNC_REPLICAS)?
            .map(|n| positive(MIN_INSYNC_REPLICAS, n))
            .transpose()
    }

    /// How long an admin or metadata request may take (`transit.operation.timeout.ms`,
    /// 30 s unless set).
    pub fn operation_timeout(&self) -> Result<Duration, ConfigError> {
        let ms = self
            .number(OPERATION_TIMEOUT_MS, 30_000)
            .and_then(|n| positive(OPERATION_TIMEOUT_MS, n))?;
        Ok(Duration::from_millis(ms as u64))
    }

    /// Whether processors' group members use Kafka transactions (`transit.transactions`,
    /// `true` unless set to `false`; a broker without transactions, such as tansu, needs
    /// `false`).
    pub fn transactions(&self) -> Result<bool, ConfigError> {
        match self.properties.get(TRANSACTIONS).map(|v| v.trim()) {
            None | Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(ConfigError::Invalid {
                key: TRANSACTIONS.to_string(),
                value: other.to_string(),
                reason: "expected true or false",
            }),
        }
    }

    /// `retention.ms` of the topics transit creates (`transit.topic.retention.ms`, -1 unless
    /// set: no time-based retention, since records carry the simulated time, which can lie
    /// further in the past than any retention; size bounds them instead).
    pub fn topic_retention_ms(&self) -> Result<i64, ConfigError> {
        match self.properties.get(TOPIC_RETENTION_MS) {
            None => Ok(-1),
            Some(value) => value
                .trim()
                .parse::<i64>()
                .map_err(|_| ConfigError::Invalid {
                    key: TOPIC_RETENTION_MS.to_string(),
                    value: value.clone(),
                    reason: "expected milliseconds, or -1 for no time limit",
                }),
        }
    }

    /// The properties librdkafka gets: everything but transit's own.
    pub(crate) fn client_properties(&self) -> impl Iterator<Item = (&str, &str)> {
        self.properties
            .iter()
            .filter(|(k, _)| !k.starts_with("transit."))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The properties with secrets masked, for logs, errors and `Debug`: see [`is_secret`].
    pub fn redacted(&self) -> BTreeMap<&str, &str> {
        self.properties
            .iter()
            .map(|(k, v)| (k.as_str(), if is_secret(k) { "***" } else { v.as_str() }))
            .collect()
    }

    fn optional_number(&self, key: &str) -> Result<Option<i32>, ConfigError> {
        self.get(key)
            .map(|value| {
                value.trim().parse().map_err(|_| ConfigError::Invalid {
                    key: key.into(),
                    value: value.into(),
                    reason: "expected a whole number",
                })
            })
            .transpose()
    }

    fn number(&self, key: &str, default: i32) -> Result<i32, ConfigError> {
        Ok(self.optional_number(key)?.unwrap_or(default))
    }
}

/// Whether a property's value is a secret, which [`KafkaConfig::redacted`] masks: passwords
/// (`sasl.password`, `ssl.key.password`, `ssl.keystore.password`, `ssl.truststore.password`),
/// secrets and tokens (`sasl.oauthbearer.client.secret`), keys inline (`ssl.key.pem`) and
/// anything with "key" in its name, JAAS lines, and `sasl.oauthbearer.config` (which may carry
/// a token's claims). Masking more than needed only hides a file's path in a log.
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "key",
        "token",
        "jaas",
        "credential",
        "oauthbearer.config",
        "user.info",
    ]
    .iter()
    .any(|word| key.contains(word))
}

fn positive(key: &str, n: i32) -> Result<i32, ConfigError> {
    if n > 0 {
        Ok(n)
    } else {
        Err(ConfigError::Invalid {
            key: key.into(),
            value: n.to_string(),
            reason: "must be at least 1",
        })
    }
}

fn split_property(line: &str, origin: &str) -> Result<(String, String), ConfigError> {
    match line.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(ConfigError::Malformed {
            origin: origin.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_sources_win_and_transit_keys_stay_out_of_librdkafka() {
        let dir = std::env::temp_dir().join(format!("transit-kafka-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("client.properties");
        std::fs::write(
            &file,
            "# a comment\nsecurity.protocol=SASL_SSL\nsasl.password = hunter2\n\ntransit.replication.factor=3\n",
        )
        .unwrap();
        let config = KafkaConfig::new("b:9092")
            .with_file(&file)
            .unwrap()
            .with_env(
                [
                    (
                        "TRANSIT_RDKAFKA_SASL_USERNAME".to_string(),
                        "ann".to_string(),
                    ),
                    ("TRANSIT_RDKAFKA_BROKERS".to_string(), "ignored".to_string()),
                    ("KAFKA_HOME".to_string(), "/opt/kafka".to_string()),
                    ("PATH".to_string(), "/bin".to_string()),
                ],
                &["TRANSIT_RDKAFKA_BROKERS"],
            )
            .with_overrides(["linger.ms=50"])
            .unwrap();
        assert_eq!(config.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(config.get("sasl.username"), Some("ann"));
        assert_eq!(config.get("linger.ms"), Some("50"));
        assert_eq!(config.get("brokers"), None);
        assert_eq!(
            config.get("home"),
            None,
            "other KAFKA_ variables are not librdkafka's"
        );
        assert_eq!(config.replication_factor().unwrap(), Some(3));
        assert_eq!(config.min_insync_replicas().unwrap(), None);
        assert!(config
            .client_properties()
            .all(|(k, _)| !k.starts_with("transit.")));
        assert_eq!(config.redacted().get("sasl.password"), Some(&"***"));
        assert_eq!(
            config.redacted().get("partitioner"),
            Some(&"murmur2_random")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn every_secret_is_masked_and_no_error_repeats_one() {
        let mut config = KafkaConfig::new("b:9093");
        let secrets = [
            "sasl.password",
            "ssl.key.password",
            "ssl.keystore.password",
            "ssl.truststore.password",
            "ssl.key.pem",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.config",
            "sasl.jaas.config",
            "SASL.PASSWORD",
        ];
        for key in secrets {
            config = config.set(key, format!("hunter2-{key}"));
        }
        let config = config.set("sasl.username", "ann");
        let redacted = config.redacted();
        for key in secrets {
            assert_eq!(redacted.get(key), Some(&"***"), "{key} is masked");
        }
        assert_eq!(redacted.get("sasl.username"), Some(&"ann"));
        let shown = format!("{redacted:?}");
        assert!(!shown.contains("hunter2"), "{shown}");

        // A line without `=` (a password pasted alone, or `key: value`) is not echoed.
        let dir = std::env::temp_dir().join(format!("transit-kafka-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("client.properties");
        std::fs::write(&file, "sasl.username=ann\nsasl.password: hunter2\n").unwrap();
        let error = KafkaConfig::new("b").with_file(&file).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(":2:"), "names the line: {message}");
        assert!(!message.contains("hunter2"), "{message}");
        let error = KafkaConfig::new("b")
            .with_overrides(["hunter2"])
            .unwrap_err();
        assert!(!format!("{error} {error:?}").contains("hunter2"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn replication_is_chosen_unless_set() {
        let config = KafkaConfig::new("b");
        assert_eq!(config.replication_factor().unwrap(), None);
        assert_eq!(config.min_insync_replicas().unwrap(), None);
        let config = config
            .set(REPLICATION_FACTOR, "2")
            .set(MIN_INSYNC_REPLICAS, "1");
        assert_eq!(config.replication_factor().unwrap(), Some(2));
        assert_eq!(config.min_insync_replicas().unwrap(), Some(1));
        let config = KafkaConfig::new("b").set(MIN_INSYNC_REPLICAS, "0");
        assert!(config.min_insync_replicas().is_err());
    }

    #[test]
    fn bad_settings_are_named() {
        assert!(matches!(
            KafkaConfig::new("b").with_overrides(["no-equals"]),
            Err(ConfigError::Malformed { .. })
        ));
        let config = KafkaConfig::new("b").set(REPLICATION_FACTOR, "zero");
        assert!(matches!(
            config.replication_factor(),
            Err(ConfigError::Invalid { .. })
        ));
        let config = KafkaConfig::new("b").set(OPERATION_TIMEOUT_MS, "0");
        assert!(config.operation_timeout().is_err());
        assert!(matches!(
            KafkaConfig::new("b").with_file(Path::new("/nonexistent/x.properties")),
            Err(ConfigError::Read { .. })
        ));
    }
}
