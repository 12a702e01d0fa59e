//! The production transport of transit: an [`EventBus`](transit_core::EventBus) over Kafka.
//!
//! # Layout
//!
//! - [`KafkaBus`] (`bus`): topics through the admin API, one idempotent `acks=all` producer,
//!   consumers in groups or by assignment, over librdkafka (the `rdkafka` crate's bundled
//!   build, with OpenSSL: TLS, mTLS, SASL PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER's unsecured
//!   JWT; see `docs/security.md` for what is out). Topics get min(3, brokers) replicas and,
//!   with three, `min.insync.replicas=2`, unless set.
//! - [`KafkaConfig`] (`config`): the bootstrap servers and any librdkafka property, from a
//!   properties file, `TRANSIT_RDKAFKA_*` environment variables and overrides, so the same programs run
//!   against a local broker and a managed cluster (SASL, TLS); secrets are masked wherever
//!   settings are shown ([`is_secret`]).
//! - `consumer`: a librdkafka consumer polled on its own thread, handing records to the async
//!   side in batches (`consumer::batch`), with the consumer settings transit's workload needs
//!   where the user set none (`consumer::settings`, listed in `docs/kafka.md`); `context`:
//!   librdkafka's logs into `tracing` (their repeats held back by `log_limit`), rebalances into
//!   the assignment;
//!   `transaction`: a group member's transactional producer; `headers`: record headers to and
//!   from librdkafka's, for both producers and the consumer.
//! - [`reachability`]: whether the bootstrap servers parse, resolve and accept a connection,
//!   checked before librdkafka is asked, so that a mistake is told from an outage.
//!
//! The schema registry's client is `transit_http::registry_client`: it speaks HTTP, not Kafka.
//!
//! The bus passes the same conformance suite as the in-memory bus
//! (`transit_core::testing`), run against a real broker in this crate's tests.

mod bus;
mod config;
mod consumer;
mod context;
mod error;
mod headers;
mod log_limit;
pub mod reachability;
mod transaction;

pub use bus::{KafkaBus, KafkaBusError};
pub use config::{is_secret, ConfigError, KafkaConfig, ENV_PREFIX};
pub use reachability::{check_reachable, ReachabilityError};
