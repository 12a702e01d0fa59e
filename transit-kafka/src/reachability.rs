//! Whether the bootstrap servers can be reached at all, asked before librdkafka is: a name that
//! does not resolve or a list that does not parse is an operator's mistake to report at once,
//! while a broker that refuses connections or does not answer is an outage to wait out.
//! librdkafka tells the two apart only in its log lines, after its metadata request timed out.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::config::KafkaConfig;

/// The port a bootstrap server without one is reached on (librdkafka's default).
const DEFAULT_PORT: u16 = 9092;

/// How long a TCP connection to one bootstrap server may take before it counts as unanswered.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why the bootstrap servers cannot be reached.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReachabilityError {
    /// The list names no server.
    #[error("no bootstrap server given")]
    Empty,
    /// An entry of the list is not `host:port`.
    #[error("{entry:?} is not host:port")]
    Malformed {
        /// The entry.
        entry: String,
    },
    /// No server's host name resolves.
    #[error("cannot resolve {host} (tried {servers})")]
    Unresolvable {
        /// The first host that did not resolve.
        host: String,
        /// The bootstrap servers.
        servers: String,
        /// What the resolver said.
        #[source]
        source: std::io::Error,
    },
    /// Every server's address refused the connection or did not answer.
    #[error("no broker answers at {servers}: {reason}")]
    Unreachable {
        /// The bootstrap servers.
        servers: String,
        /// What the last connection attempt met (connection refused, timed out).
        reason: String,
    },
}

impl ReachabilityError {
    /// Whether trying again cannot help until the setting changes: an empty or malformed list,
    /// or host names that do not resolve. An unreachable broker is an outage, not a mistake.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Unreachable { .. })
    }
}

/// One bootstrap server: host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapServer {
    /// Host name or address (an IPv6 address without its brackets).
    pub host: String,
    /// Port.
    pub port: u16,
}

/// The bootstrap servers of a `host:port[,host:port]` list, as librdkafka reads it: an optional
/// `PROTOCOL://` prefix, `[v6]:port` brackets, and port 9092 when none is given.
pub fn bootstrap_servers(list: &str) -> Result<Vec<BootstrapServer>, ReachabilityError> {
    let mut servers = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let malformed = || ReachabilityError::Malformed {
            entry: entry.to_string(),
        };
        let address = entry.split_once("://").map_or(entry, |(_, rest)| rest);
        let (host, port) = if let Some(rest) = address.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(malformed)?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':').ok_or_else(malformed)?)),
            }
        } else {
            match address.rsplit_once(':') {
                Some((host, port)) if !host.contains(':') => (host, Some(port)),
                Some(_) => return Err(malformed()),
                None => (address, None),
            }
        };
        let port = match port {
            Some(port) => port.parse::<u16>().map_err(|_| malformed())?,
            None => DEFAULT_PORT,
        };
        if host.is_empty() || port == 0 || host.contains(char::is_whitespace) || host.contains('/')
        {
            return Err(malformed());
        }
        servers.push(BootstrapServer {
            host: host.to_string(),
            port,
        });
    }
    if servers.is_empty() {
        return Err(ReachabilityError::Empty);
    }
    Ok(servers)
}

/// Checks that the bootstrap servers of `config` parse, resolve and accept a TCP connection:
/// the first server that does is enough. Only a TCP connection: credentials and TLS are
/// librdkafka's to check, when [`KafkaBus::connect`](crate::KafkaBus::connect) runs.
pub async fn check_reachable(config: &KafkaConfig) -> Result<(), ReachabilityError> {
    let list = config.bootstrap_servers();
    let addresses = resolve(config).await?;
    let mut reason = String::new();
    for address in addresses {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await {
            Ok(Ok(_stream)) => return Ok(()),
            Ok(Err(error)) => reason = format!("{address}: {error}"),
            Err(_elapsed) => reason = format!("{address}: no answer within {CONNECT_TIMEOUT:?}"),
        }
    }
    Err(ReachabilityError::Unreachable {
        servers: list.to_string(),
        reason,
    })
}

/// The addresses of the bootstrap servers of `config`: an error only when the list does not
/// parse or none of its names resolves (those that do not are logged).
pub async fn resolve(config: &KafkaConfig) -> Result<Vec<SocketAddr>, ReachabilityError> {
    let list = config.bootstrap_servers();
    let servers = bootstrap_servers(list)?;
    let mut addresses = Vec::new();
    let mut unresolved = None;
    for server in &servers {
        match tokio::net::lookup_host((server.host.as_str(), server.port)).await {
            Ok(found) => addresses.extend(found),
            Err(source) => {
                unresolved.get_or_insert((server.host.clone(), source));
            }
        }
    }
    if addresses.is_empty() {
        // Every name failed (a list can hold none that resolves but not be empty here).
        let (host, source) = unresolved.ok_or(ReachabilityError::Empty)?;
        return Err(ReachabilityError::Unresolvable {
            host,
            servers: list.to_string(),
            source,
        });
    }
    if let Some((host, source)) = unresolved {
        tracing::warn!(
            %host,
            error = %source,
            "a Kafka bootstrap server's name does not resolve; using the others"
        );
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(list: &str) -> Vec<(String, u16)> {
        bootstrap_servers(list)
            .unwrap()
            .into_iter()
            .map(|s| (s.host, s.port))
            .collect()
    }

    #[test]
    fn lists_parse_as_librdkafka_reads_them() {
        assert_eq!(
            parsed("a:1, b ,SASL_SSL://c:3,[::1]:4,[::2]"),
            vec![
                ("a".into(), 1),
                ("b".into(), 9092),
                ("c".into(), 3),
                ("::1".into(), 4),
                ("::2".into(), 9092)
            ]
        );
    }

    #[test]
    fn malformed_lists_are_mistakes() {
        for list in [
            "",
            " , ",
            "a:notaport",
            "a:0",
            "a:99999",
            ":9092",
            "a::b:1",
            "[::1",
        ] {
            let error = bootstrap_servers(list).unwrap_err();
            assert!(error.is_permanent(), "{list:?}: {error}");
        }
    }

    #[tokio::test]
    async fn unknown_hosts_are_mistakes_and_closed_ports_outages() {
        let unknown = check_reachable(&KafkaConfig::new("no-such-host.invalid:9092"))
            .await
            .unwrap_err();
        assert!(
            matches!(unknown, ReachabilityError::Unresolvable { .. }),
            "{unknown}"
        );
        assert!(unknown.is_permanent());
        // A port just released: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let closed = check_reachable(&KafkaConfig::new(format!("127.0.0.1:{port}")))
            .await
            .unwrap_err();
        assert!(!closed.is_permanent(), "{closed}");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        check_reachable(&KafkaConfig::new(open)).await.unwrap();
    }
}
