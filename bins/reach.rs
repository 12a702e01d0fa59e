//! Reaching the services a process needs (Kafka, the schema registry, PostgreSQL) before it
//! starts: Kafka and PostgreSQL waited for while they are down ([`retry::wait_for`]), the
//! registry checked once, and a setting that can never work reported at once as a
//! [`Mistake`] naming the flag and variable to change.

use std::sync::Arc;

use transit_core::codec::{RegistryError, SchemaId, SchemaRegistry};
use transit_http::registry_client::RegistryClientError;
use transit_http::RegistryClient;
use transit_kafka::{check_reachable, KafkaBus, KafkaConfig};
use transit_postgres::ConnectOptions;

use crate::retry::{self, Failure, Mistake};

/// The Kafka bootstrap servers' settings.
pub const KAFKA: &str = "--kafka (TRANSIT_KAFKA_BROKERS)";
/// The Kafka client's other settings: security, credentials.
pub const KAFKA_CLIENT: &str =
    "the Kafka client settings (--kafka-config, -X, TRANSIT_RDKAFKA_*) and --kafka";
/// The schema registry's URL.
pub const REGISTRY: &str = "--registry-url (TRANSIT_REGISTRY_URL)";
/// The schema registry's credentials.
pub const REGISTRY_CREDENTIALS: &str = "the registry's credentials (--registry-user-info-file, \
     TRANSIT_REGISTRY_USER_INFO, --registry-config) and --registry-url (TRANSIT_REGISTRY_URL)";
/// The database's URL (and password file).
pub const DATABASE: &str = "--database-url (TRANSIT_DATABASE_URL) or --database-password-file";

/// Connects to the Kafka cluster of `config`, waiting while no broker answers; a list that
/// does not parse or resolve, or refused credentials, end it at once.
pub async fn kafka(config: KafkaConfig) -> anyhow::Result<KafkaBus> {
    let servers = config.bootstrap_servers().to_string();
    retry::wait_for("Kafka", &servers, || {
        let config = config.clone();
        let servers = servers.clone();
        async move {
            match check_reachable(&config).await {
                Ok(()) => {}
                Err(error) if error.is_permanent() => {
                    let message = format!("the Kafka bootstrap servers {servers:?}");
                    return Err(Failure::Permanent(
                        Mistake::new(KAFKA, message, &error).into(),
                    ));
                }
                Err(error) => return Err(Failure::Outage(error.to_string())),
            }
            match KafkaBus::connect(config).await {
                Ok(bus) => Ok(bus),
                Err(error) if error.is_permanent() => Err(Failure::Permanent(
                    Mistake::new(KAFKA_CLIENT, "connecting to Kafka", &error).into(),
                )),
                Err(error) => Err(Failure::Outage(retry::error_line(&error))),
            }
        }
    })
    .await
}

/// Checks what can be checked of `config` without a broker: the bootstrap servers parse, and
/// a name among them resolves. A process checks it first, before it waits for anything.
pub async fn kafka_names(config: &KafkaConfig) -> anyhow::Result<()> {
    transit_kafka::reachability::resolve(config)
        .await
        .map_err(|error| {
            let message = format!(
                "the Kafka bootstrap servers {:?}",
                config.bootstrap_servers()
            );
            Mistake::new(KAFKA, message, &error).into()
        })
        .map(drop)
}

/// Asks the schema registry of `client` (at `url`) once: a host that does not resolve,
/// refused credentials or any other refusal end the process at once. A registry that is down
/// is not waited for here: a process starts without it (a dashboard serves, a processor
/// consumes), and its calls to the registry wait for it (`transit_http::registry_client`).
pub async fn registry(url: &str, client: &RegistryClient) -> anyhow::Result<()> {
    if let Some((host, port)) = host_and_port(url) {
        if let Err(error) = tokio::net::lookup_host((host.as_str(), port)).await {
            let message = format!("the schema registry at {url}: cannot resolve {host}");
            return Err(Mistake::new(REGISTRY, message, &error).into());
        }
    }
    let refused = |setting, error: &(dyn std::error::Error + 'static)| {
        let message = format!("the schema registry at {url}");
        anyhow::Error::new(Mistake::new(setting, message, error))
    };
    let checked = tokio::select! {
        checked = client.check() => checked,
        () = crate::shutdown::cancelled() => {
            return Err(crate::shutdown::Interrupted::current().into());
        }
    };
    match checked {
        Ok(()) => Ok(()),
        Err(RegistryError::Backend { source }) => {
            match source.downcast_ref::<RegistryClientError>() {
                Some(error) if error.is_transient() => {
                    tracing::warn!(
                        reason = %retry::error_line(error),
                        "the schema registry is unreachable at {url}; starting without it: \
                         what needs it waits for it"
                    );
                    Ok(())
                }
                Some(
                    error @ RegistryClientError::Status {
                        status: 401 | 403, ..
                    },
                ) => Err(refused(REGISTRY_CREDENTIALS, error)),
                _ => Err(refused(REGISTRY, source.as_ref())),
            }
        }
        Err(other) => Err(refused(REGISTRY, &other)),
    }
}

/// The schema registry as a process uses it: each call, while it waits for an answer (the
/// client asks again while the registry is down), is what a Ctrl+C that cannot wait names
/// (`stopped by Ctrl+C while waiting for the schema registry at ...`).
#[derive(Debug)]
pub struct WaitedRegistry {
    client: RegistryClient,
    unfinished: &'static str,
}

impl WaitedRegistry {
    /// `client`, shared; `unfinished` says what a stop during a call leaves undone (`the
    /// records waiting for their schema were not handled; they are read again`).
    pub fn shared(client: RegistryClient, unfinished: &'static str) -> Arc<dyn SchemaRegistry> {
        Arc::new(Self { client, unfinished })
    }

    fn waiting(&self, what: std::fmt::Arguments<'_>) -> crate::shutdown::Waiting {
        crate::shutdown::waiting(
            format!(
                "waiting for the schema registry at {} ({what})",
                self.client.base_url()
            ),
            self.unfinished,
        )
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait::async_trait]
impl SchemaRegistry for WaitedRegistry {
    async fn register(&self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError> {
        let _waiting = self.waiting(format_args!("registering {subject}"));
        self.client.register(subject, schema).await
    }

    async fn schema_by_id(&self, id: SchemaId) -> Result<String, RegistryError> {
        let _waiting = self.waiting(format_args!("schema {}", id.0));
        self.client.schema_by_id(id).await
    }
}

/// Waits until PostgreSQL takes a connection with `options`; a host that does not resolve,
/// refused credentials or a missing database end it at once.
pub async fn database(options: &ConnectOptions) -> anyhow::Result<()> {
    let target = options.to_string();
    retry::wait_for("PostgreSQL", &target, || async {
        let config = options.config();
        let ports = config.get_ports();
        for (index, host) in config.get_hosts().iter().enumerate() {
            let tokio_postgres::config::Host::Tcp(name) = host else {
                continue;
            };
            let port = ports.get(index).or(ports.first()).copied().unwrap_or(5432);
            if let Err(error) = tokio::net::lookup_host((name.as_str(), port)).await {
                let message = format!("PostgreSQL at {target}: cannot resolve {name}");
                return Err(Failure::Permanent(
                    Mistake::new(DATABASE, message, &error).into(),
                ));
            }
        }
        match transit_postgres::connect(options.clone()).await {
            Ok(_client) => Ok(()),
            Err(error) if error.is_permanent() => {
                Err(Failure::Permanent(Mistake::of(DATABASE, &error).into()))
            }
            Err(error) => Err(Failure::Outage(retry::error_line(&error))),
        }
    })
    .await
}

/// The host and port of an `http://` or `https://` URL, to resolve (`None` when it does not
/// parse: the client's own check names what is wrong).
fn host_and_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().ok()?,
            None => default_port,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_string(), port.parse().ok()?)),
        None => Some((authority.to_string(), default_port)),
    }
    .filter(|(host, _)| !host.is_empty())
}

#[cfg(test)]
mod tests {
    use super::host_and_port;

    #[test]
    fn hosts_of_urls() {
        let of = |url| host_and_port(url);
        assert_eq!(of("http://reg:8081"), Some(("reg".into(), 8081)));
        assert_eq!(of("https://u:p@reg/x?y"), Some(("reg".into(), 443)));
        assert_eq!(of("http://[::1]:8081/"), Some(("::1".into(), 8081)));
        assert_eq!(of("reg:8081"), None);
        assert_eq!(of("http://:80"), None);
    }
}
