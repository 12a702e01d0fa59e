//! Faults, end to end: the production processes (`transit registry`, `process`, `dashboard`,
//! `produce`) as separate OS processes on Apache Kafka, and what operations do to them:
//! 1. a processor killed with `kill -9` inside a batch, three times, and restarted each time;
//! 2. a processor frozen (`SIGSTOP`) inside a batch past its session timeout, then thawed:
//!    another member took its partitions, and what it was writing is fenced;
//! 3. three members, one frozen while the others take its partitions, thawed, and handed one
//!    of its old partitions back;
//! 4. the brokers restarted under everything (`scripts/kafka.sh restart`): on the three-node
//!    cluster a rolling restart of all three, one after another (on one broker, its restart);
//! 5. `kill -9` of the node leading the count table's partitions mid-run, then its restart
//!    (three nodes);
//! 6. one node stopped for good, the run finishing on the other two (three nodes; the node is
//!    started again when the scenario ends, also when it fails);
//! 7. the schema registry (and REST Proxy) restarted, twice;
//! 8. the dashboard killed with `kill -9` and restarted.
//!
//! "Inside a batch" is checked, not hoped for: the member is frozen at random moments just
//! after the producer's entries reach it, each time only long enough to see whether a count of
//! one of its partitions is on the count table uncommitted (a `read_uncommitted` look that
//! transit's own readers never take) and stays so; if not, it is thawed and tried again. Each
//! such transaction must end aborted: its count is never read.
//!
//! Every scenario ends with the same accounting, against an undisturbed run of the same seed:
//! - every event the simulation made is on its topic exactly once (no loss, no duplicate from
//!   a retry), and the producer reports as many as the topics hold;
//! - the count table holds one record per station and line, equal to the entries counted
//!   straight from the entries topic and to what the simulation made, summing to the entries
//!   published;
//! - the station table has every station of the three lines exactly once, and the dead-letter
//!   topic the raw rows on no line (or several) and nothing else;
//! - the vehicle arrivals on their topic are the simulation's calls, each once; the predictor
//!   applied every one exactly once (its changelog's next offsets are the topic's end offsets,
//!   its learnt dwell windows a replay's of the topic) and the scorer read every arrival and
//!   every committed prediction once ([`predictions`] says which figures are exact and why);
//! - no count on the table ever went backwards, as a `read_committed` reader saw it live;
//! - the dashboard process shows the board of an in-memory run of the same seed at the same
//!   end time: its stations, counts, weather and clock first (what the faults could break),
//!   then where the trains stand;
//! - every process still running stops cleanly on Ctrl+C (exit 0), and no log of theirs, nor
//!   the dashboard's `/metrics`, shows a password (Kafka's, the registry users').
//!
//! Security as production runs it: the processes reach Kafka with the test broker's settings
//! (`TRANSIT_TEST_KAFKA_CONFIG`, on the secured cluster its SASL_SSL properties file: SCRAM
//! over TLS), and `transit registry` always serves the schema registry and the REST Proxy over
//! HTTPS (a test CA's certificate) with basic auth; every process logs in as a read-write user
//! whose `user:password` is in a file (`--registry-user-info-file`, `--rest-proxy-user-info-file`)
//! and trusts the CA (`--registry-ca`, `--rest-proxy-ca`). The test's own clients (its bus, its
//! registry client, the probe's rdkafka consumers) use the same settings.
//!
//! Needs: Apache Kafka started by `scripts/kafka.sh` (`TRANSIT_TEST_KAFKA`, and
//! `TRANSIT_TEST_KAFKA_CONTROL` for the brokers' faults), and the `transit` binary built
//! (`cargo build --bin transit`). No database: the raw station rows are published by the test
//! the way a database source publishes them. The scenarios are ignored in the workspace's test
//! run (one plaintext broker); `scripts/test.sh` runs them all on the secured three-node
//! cluster, as
//! `scripts/kafka.sh --brokers 3 --security secure cargo test -p transit --test faults -- --ignored --nocapture --test-threads 1`.
//! All but 5 and 6 (which take one of three nodes away) also run on one plaintext broker
//! (`scripts/kafka.sh cargo test ...` with the same arguments). The scenarios take turns (one
//! at a time even without `--test-threads 1`), but the brokers' faults disturb any other test
//! using them meanwhile. `TRANSIT_FAULTS_SEED` replays the random moments a failed run chose
//! (each scenario prints its seed).
//!
//! Members of the processors' groups run with `session.timeout.ms=6000` (the broker's minimum)
//! and `heartbeat.interval.ms=1000`, so a dead or frozen member is noticed in seconds. A
//! member killed inside a transaction leaves it open until the broker aborts it (the
//! processors' `transaction.timeout.ms`, 10 s, plus the broker's check interval, up to 10 s
//! more); readers of the count table, restores included, wait for it. That wait is most of
//! each fault's cost in wall time, and the producer is paced so that the faults come while it
//! produces.
//!
//! Layout: one module per scenario family ([`members`], [`broker`], [`registry`],
//! [`dashboard`]); what they share apart: the run of the production processes ([`run`]), the
//! check that a fault comes inside a batch ([`probe`]), the undisturbed run compared with
//! ([`expected`]), and the accounting every scenario ends with ([`accounting`], the
//! predictor's and scorer's part in [`predictions`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message as _;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use transit_core::bus::{Delivery, EventBus, StartFrom, SubscribeOptions};
use transit_core::codec::{SchemaRegistry, TopicCodec};
use transit_core::event::{
    AccuracyEvent, ProcessorState, StationEvent, TurnstileCount, TurnstileEvent,
    VehicleArrivalEvent,
};
use transit_core::model::LineId;
use transit_core::network::calls::NameCalls as _;
use transit_core::network::{cta, embedded_station_rows, Network};
use transit_core::processor::source::publish_station_rows;
use transit_core::processor::{read_table, read_topic};
use transit_core::status::StatusSnapshot;
use transit_core::testing::{unique_name, wait_for_board};
use transit_core::topics::Topics;
use transit_gtfs::vehicles::CallNames;
use transit_gtfs::Sources;
use transit_http::RegistryClient;
use transit_sim::testing::FlatOutRun;
use transit_sim::{SimConfig, SimTime, TickEvents};

use transit_testkit::browser::built_binary;
use transit_testkit::http::{free_address, request};
use transit_testkit::kafka::{nodes, process_args, rdkafka_settings};
use transit_testkit::processes::{control_broker, field, Dice, Launcher, LogDir, Proc};
use transit_testkit::secured::SecuredServices;

mod accounting;
mod broker;
mod dashboard;
mod expected;
mod members;
mod predictions;
mod probe;
mod registry;
mod run;

use accounting::*;
use expected::*;
use run::*;

// ---------------------------------------------------------------------------------------------
// What every scenario runs.

/// The simulation's seed in every scenario (one undisturbed run serves them all).
const SEED: u64 = 2026;
/// Simulated hours, from the simulation's start (05:00 on a Monday): about 77,000 records,
/// 74,000 of them turnstile entries, through the morning rush; a few seconds' work flat out.
const HOURS: u32 = 3;
/// Partitions of the arrivals and entries topics (`transit produce`'s default).
const PARTITIONS: u32 = 4;

/// librdkafka settings of every group member: a frozen or dead member is replaced within
/// seconds instead of librdkafka's default 45 s.
const MEMBER_SETTINGS: [&str; 2] = ["session.timeout.ms=6000", "heartbeat.interval.ms=1000"];

/// How long a server may take to answer after its process started.
const STARTUP: Duration = Duration::from_secs(60);
/// How long a member may take to be at work again after a fault: the group notices (6 s),
/// the transaction a dead member left open is aborted (up to 20 s), the state is restored.
const RECOVERY: Duration = Duration::from_secs(120);
/// How long the processors and the board may take to catch up once the producer finished.
const CATCH_UP: Duration = Duration::from_secs(180);
/// How long the trains on a board that shows every count may take to reach their platforms.
const TRAINS_SETTLE: Duration = Duration::from_secs(30);
/// How long a process may take to exit after Ctrl+C.
const STOP: Duration = Duration::from_secs(30);
/// The longest a whole scenario may take before it fails.
const SCENARIO_LIMIT: Duration = Duration::from_secs(600);
/// Lines of each process's log a failure shows.
const TAIL_LINES: usize = 12;

/// librdkafka settings of the test's own rdkafka clients: the test broker's, security
/// included.
fn rdkafka_config() -> ClientConfig {
    let mut config = ClientConfig::new();
    for (key, value) in rdkafka_settings() {
        config.set(key, value);
    }
    config
}
