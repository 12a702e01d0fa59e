//! What the tests of every transit crate share: the real services they run against and the
//! clients that reach them. A dev-dependency only.
//!
//! - [`kafka`]: the test broker (Apache Kafka, named by `TRANSIT_TEST_KAFKA`; `scripts/kafka.sh`
//!   starts one) and buses on it;
//! - [`postgres`]: the test database (the local cluster, or `TRANSIT_TEST_POSTGRES_URL`);
//! - [`browser`]: built binaries, child processes that die with the test, and a WebDriver
//!   client for Debian's headless Chromium;
//! - [`feeds`]: the real GTFS feeds `scripts/feeds.sh` downloads, and one unpacked to alter;
//! - [`http`]: a bare HTTP/1.1 client and free loopback ports;
//! - [`processes`]: processes of the `transit` binary with their logs, the signals a fault
//!   test sends them (`kill -9`, `SIGSTOP`/`SIGCONT`, Ctrl+C), and the test broker restarted;
//! - [`registry`], [`rest_proxy`], [`weather_request`]: the schema registry and the REST
//!   Proxy served for a test (over HTTPS with users too), and the original weather hardware's
//!   request;
//! - [`secured`]: `transit registry`'s HTTPS certificate and users, and its clients' flags,
//!   with every secret in a file;
//! - [`tls`]: a test CA and server certificate, made with `openssl`;
//! - [`prometheus`]: a strict check of a `/metrics` page with `prometheus_client`'s parser.
//!
//! Each service that is missing fails the test with how to start it: a test that quietly
//! passes without its broker or database would prove nothing.

#![allow(missing_docs, clippy::missing_panics_doc)]

pub mod browser;
pub mod feeds;
pub mod http;
pub mod kafka;
pub mod postgres;
pub mod processes;
pub mod prometheus;
pub mod registry;
pub mod rest_proxy;
pub mod secured;
pub mod tls;
pub mod weather_request;
