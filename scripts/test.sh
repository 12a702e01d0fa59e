#!/usr/bin/env bash
# The one test command: installs and starts what the tests need, then runs every test.
#
#   scripts/test.sh            # formatting, lints, docs, unit + behaviour + property +
#                              # conformance tests on both buses, HTTP, Kafka, PostgreSQL and
#                              # Confluent-client tests, the end-to-end tests in a real headless
#                              # Chromium, the benchmarks once each as tests, and smoke runs of
#                              # the full_pipeline example on both buses and on two real GTFS
#                              # feeds; scripts/kafka.sh serve's own test; then, on a secured
#                              # cluster of three brokers, the production end-to-end test and
#                              # the fault suite, and every log searched for the passwords
#   TRANSIT_TEST_TANSU=1 scripts/test.sh   # also runs the bus conformance suite on tansu
#
# What it installs when missing (each cached on the machine after the first run): rustfmt and
# clippy (rustup); Debian's postgresql (a cluster on 127.0.0.1:5432, local trust), chromium and
# chromium-driver (apt-get); Apache Kafka's jars (Maven, scripts/kafka/pom.xml); a Python venv
# with Confluent's client, a GTFS validator, GTFS-realtime's bindings and a Train Tracker client
# (PyPI, scripts/python/requirements.txt); the real GTFS feeds the any-agency tests read
# (scripts/feeds.sh: gtfs-kit's sdist from PyPI, sample-gtfs-feed from npm); axe-core for the
# browser tests' accessibility audit (scripts/axe.sh, npm). It starts PostgreSQL, and
# Apache Kafka (KRaft, one node) on free loopback ports for the Kafka tests
# (TRANSIT_TEST_KAFKA), and stops the broker when it ends; then a secured cluster of three
# (SASL_SSL and mTLS listeners, its own CA) for the Kafka bus's secured and replicated tests,
# the production end-to-end test and the fault suite (their processes on SASL_SSL, the schema
# registry and REST Proxy on HTTPS with basic auth, PostgreSQL on TLS), stopped when they end.
# (libssl-dev and pkg-config come from apt-get when missing.)
#
# It stops at the first failing step and says which one. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

need_cargo_tool() {
  command -v cargo >/dev/null || { echo "cargo is not installed: install Rust with rustup first" >&2; exit 1; }
  cargo "$1" --version >/dev/null 2>&1 || rustup component add "$2"
}

need_cargo_tool fmt rustfmt
need_cargo_tool clippy clippy

# The browser tests drive Debian's Chromium through chromedriver.
need_chromium() {
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    return
  fi
  step "installing chromium and chromium-driver (Debian packages) for the browser tests"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  command -v apt-get >/dev/null || { echo "apt-get not found: install chromium and chromedriver at /usr/bin yourself" >&2; exit 1; }
  $sudo apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] \
    || { echo "chromium or chromedriver still missing after apt-get install" >&2; exit 1; }
}
need_chromium

# librdkafka is built with OpenSSL (TLS, SASL): its headers and pkg-config.
need_openssl_dev() {
  if pkg-config --exists openssl 2>/dev/null; then
    return
  fi
  step "installing libssl-dev and pkg-config (Debian packages) to build librdkafka with TLS"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  command -v apt-get >/dev/null || { echo "apt-get not found: install OpenSSL's headers and pkg-config yourself" >&2; exit 1; }
  $sudo apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libssl-dev pkg-config >/dev/null
  pkg-config --exists openssl \
    || { echo "OpenSSL's pkg-config file still missing after apt-get install" >&2; exit 1; }
}
need_openssl_dev

# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh
step "PostgreSQL for the station loader, source and end-to-end tests"
start_postgres

# shellcheck source=scripts/python.sh
source scripts/python.sh
step "Python venv with Confluent's client (confluent-kafka, fastavro), the GTFS validator, gtfs-realtime-bindings and python-cta"
need_python_venv

# shellcheck source=scripts/feeds.sh
source scripts/feeds.sh
step "real GTFS feeds for the any-agency tests: the reader, the timetabled simulation, its feeds and board (gtfs-kit's sdist from PyPI, sample-gtfs-feed from npm; once per machine)"
need_feeds

# shellcheck source=scripts/axe.sh
source scripts/axe.sh
step "axe-core for the browser tests' WCAG 2.1 AA audit (npm, once per machine)"
need_axe

# shellcheck source=scripts/kafka.sh
source scripts/kafka.sh
step "Apache Kafka's jars (Maven, once per machine)"
install_kafka

# Two cores: keep the build from starving the tests that measure wall time.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CARGO_INCREMENTAL=0
export RUST_BACKTRACE=1

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "docs (cargo doc -D warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked

# An embedder of the dashboard over the in-memory bus takes neither the Kafka client, nor
# PostgreSQL, nor the feeds (prost, zip: the `gtfs` feature); the read model's crate takes
# none of the simulator's random streams. Checked on the dependency tree, not assumed.
step "embedding the dashboard needs neither rdkafka, PostgreSQL nor the feeds; transit-core has no rand (cargo tree)"
embed_tree=$(cargo tree --locked -e normal -p transit-http --no-default-features --features dashboard -p transit-mem)
if grep -Eq '(rdkafka|postgres|prost|zip|clap|mimalloc) v' <<<"$embed_tree"; then
  grep -E '(rdkafka|postgres|prost|zip|clap|mimalloc) v' <<<"$embed_tree" >&2
  echo "transit-http's dashboard pulls in a dependency an embedder should not need" >&2
  exit 1
fi
echo "transit-http (dashboard) + transit-mem: $(grep -c . <<<"$embed_tree") lines of dependency tree, no rdkafka, no PostgreSQL, no prost, no zip"
# The workspace builds transit-http with every feature; the board alone must build too.
cargo check --locked --quiet -p transit-http --no-default-features --features dashboard
# apache-avro takes rand for its container files' sync markers (not something transit-core
# uses or can turn off): the check is that transit-core itself depends on no rand crate and
# that none of the simulator's (rand_chacha, rand_distr) is anywhere in its tree.
core_direct=$(cargo tree --locked -e normal -p transit-core --depth 1)
core_tree=$(cargo tree --locked -e normal -p transit-core)
if grep -Eq '^[^ ]*── rand[a-z_]* v' <<<"$core_direct" || grep -Eq '(rand_chacha|rand_distr) v' <<<"$core_tree"; then
  grep -E 'rand' <<<"$core_direct" >&2
  grep -E '(rand_chacha|rand_distr) v' <<<"$core_tree" >&2
  echo "transit-core (the read model's crate) depends on a random number crate" >&2
  exit 1
fi
echo "transit-core: no rand crate among its own dependencies, no rand_chacha or rand_distr in its tree"

step "scripts/kafka.sh serve as the runbook and a supervisor run it: a kept data directory, SIGINT and SIGTERM leave nothing running"
scripts/kafka-serve-test.sh

step "starting Apache Kafka (KRaft, one node, loopback)"
start_kafka

log=$(mktemp)
trap 'rm -f "$log"; remove_kafka' EXIT

step "doc tests"
cargo test --workspace --doc --all-features --locked 2>&1 | tee -a "$log"

# The browser tests run the binaries as a user would: build them first (test builds do not
# produce target/<profile>/examples/full_pipeline or target/<profile>/transit).
step "building the binary and the examples"
cargo build --workspace --bins --examples --locked

step "the runbook's systemd units (systemd-analyze verify, with ExecStart on the binary just built)"
if command -v systemd-analyze >/dev/null; then
  units="$(mktemp -d)"
  for unit in config/systemd/*.service; do
    sed "s#/usr/local/bin/transit#$PWD/target/debug/transit#g" "$unit" >"$units/$(basename "$unit")"
  done
  # verify exits 0 on some warnings: any output at all fails the step.
  if ! out="$(systemd-analyze verify "$units"/*.service 2>&1)" || [ -n "$out" ]; then
    echo "$out" >&2
    rm -rf "$units"
    echo "systemd-analyze verify refused the units in config/systemd" >&2
    exit 1
  fi
  rm -rf "$units"
else
  echo "systemd-analyze is not installed: the systemd units are not checked (Debian: systemd)"
fi

step "tests (unit, behaviour, property, conformance on both buses, HTTP, Kafka, PostgreSQL, Confluent clients, browser, end to end; benchmarks run once as tests)"
cargo test --workspace --all-targets --all-features --locked --no-fail-fast 2>&1 | tee -a "$log"

step "full_pipeline example: one simulated day flat out, processors and dashboard included"
cargo run --locked --example full_pipeline -- --flat-out --days 1 --report-every 2 \
  --address 127.0.0.1:0 --registry-address 127.0.0.1:0 --rest-proxy-address 127.0.0.1:0

# Any agency's feed as the input, as the README runs it: NYC's lines 1 and 2, and
# sample-gtfs-feed's two agencies; the service of a Monday flat out, the board and GTFS-realtime
# following it.
for feed in nyc_subway_gtfs.zip sample-gtfs-feed.zip; do
  step "full_pipeline example on a GTFS feed's network ($feed): a Monday's service flat out"
  cargo run --locked --example full_pipeline -- --gtfs "$TRANSIT_TEST_FEEDS/$feed" --flat-out \
    --days 1 --report-every 5 --address 127.0.0.1:0 --registry-address 127.0.0.1:0 \
    --rest-proxy-address 127.0.0.1:0
done
step "full_pipeline example on sample-gtfs-feed without the predictor and its scorer (--no-predictions)"
cargo run --locked --example full_pipeline -- --gtfs "$TRANSIT_TEST_FEEDS/sample-gtfs-feed.zip" \
  --flat-out --days 1 --report-every 5 --no-predictions --address 127.0.0.1:0 \
  --registry-address 127.0.0.1:0 --rest-proxy-address 127.0.0.1:0

step "full_pipeline example on Apache Kafka: one simulated weekday flat out"
cargo run --locked --example full_pipeline -- --flat-out --days 1 --report-every 5 \
  --address 127.0.0.1:0 --registry-address 127.0.0.1:0 --rest-proxy-address 127.0.0.1:0 \
  --kafka "$TRANSIT_TEST_KAFKA" --topic-prefix "smoke.$$" --registry-topic "_schemas.smoke.$$"

# Three KRaft nodes with a SASL_SSL listener (SCRAM users) and an mTLS listener, their CA and
# certificates made here; the one-node broker stops first to leave them its memory. In a
# subshell: its EXIT trap stops the cluster and removes its directory, also when a test fails.
step "on three brokers over SASL_SSL and mTLS: the Kafka bus's conformance, the documented settings, Confluent's Python client, brokers lost mid-run; the production end-to-end test and the fault suite (brokers killed, stopped and restarted under the processes); full_pipeline with the SASL_SSL settings; no password in any log"
stop_kafka
(
  start_kafka_cluster 3 secure
  # The tests' processes keep their logs here, and the registry users' passwords the tests make
  # are kept here (each alone in a *.password file), for the search below; both go at the end.
  run_dir="$(mktemp -d "${TMPDIR:-/tmp}/transit-secured-run.XXXXXX")"
  trap 'rm -rf "$run_dir"; remove_kafka_cluster' EXIT
  mkdir -p "$run_dir/logs" "$run_dir/secrets"
  chmod 700 "$run_dir/secrets"
  export TRANSIT_TEST_LOG_DIR="$run_dir/logs" TRANSIT_TEST_SECRETS_DIR="$run_dir/secrets"
  cargo test --locked -p transit-kafka --test secure --test broker_loss -- --ignored 2>&1 | tee -a "$log"
  # The production processes as OS processes (ignored in the workspace run, on one plaintext
  # broker): the end-to-end test with PostgreSQL and Chromium, then the fault suite, whose
  # scenarios take turns and take brokers away (kill -9 of the count table's leader, one node
  # stopped for good, a rolling restart), each ending in its exact accounting.
  suite_started=$SECONDS
  cargo test --locked -p transit --test end_to_end --test faults -- --ignored --test-threads 1 2>&1 | tee -a "$log"
  echo "the production end-to-end test and the fault suite took $((SECONDS - suite_started)) s on the cluster"
  # The example as an operator runs it: the cluster's SASL_SSL properties file, which holds the
  # password; none of its output may show it.
  out="$(mktemp)"
  cargo run --locked --example full_pipeline -- --flat-out --days 0.1 --report-every 5 \
    --address 127.0.0.1:0 --registry-address 127.0.0.1:0 --rest-proxy-address 127.0.0.1:0 \
    --kafka "$TRANSIT_TEST_KAFKA" --kafka-config "$TRANSIT_TEST_KAFKA_SASL_SSL" \
    --topic-prefix "secure.$$" --registry-topic "_schemas.secure.$$" 2>&1 | tee "$out"
  # Nor may the brokers' logs (Kafka prints its settings, passwords [hidden]), the tests'
  # output, or any log of the processes the tests ran: the Kafka users' and keys' passwords, the
  # registry users' (made by the tests), PostgreSQL's TLS role's.
  secrets=("$KAFKA_CLUSTER_DIR"/secrets/*.password)
  mapfile -t -O "${#secrets[@]}" secrets < <(find "$run_dir/secrets" -name '*.password' -type f)
  if [ -s "${TRANSIT_TEST_POSTGRES_TLS_DIR:-}/password" ]; then
    secrets+=("$TRANSIT_TEST_POSTGRES_TLS_DIR/password")
  fi
  for secret in "${secrets[@]}"; do
    if grep -rlF -f "$secret" "$out" "$log" "$run_dir/logs" "$KAFKA_CLUSTER_DIR"/nodes/*/kafka.log >&2; then
      echo "the files above show the secret of $secret" >&2
      exit 1
    fi
  done
  logs_searched=$(find "$out" "$log" "$run_dir/logs" "$KAFKA_CLUSTER_DIR"/nodes/*/kafka.log -type f | wc -l)
  rm -f "$out"
  echo "full_pipeline ran over SASL_SSL on three brokers; none of ${#secrets[@]} passwords in its output, the tests', the brokers' or the tests' processes' logs ($logs_searched files)"
)

if [ -n "${TRANSIT_TEST_TANSU:-}" ]; then
  # shellcheck source=scripts/tansu.sh
  source scripts/tansu.sh
  step "the bus conformance suite on tansu (opt-in: TRANSIT_TEST_TANSU=1)"
  stop_kafka
  start_tansu
  trap 'rm -f "$log"; stop_tansu; remove_kafka' EXIT
  cargo test --locked -p transit-kafka --test kafka conformance 2>&1 | tee -a "$log"
fi

passed=$(grep -Eo '^test result: ok\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
benches=$(grep -c '^Success$' "$log" || true)
step "all tests passed"
echo "tests: $((passed + benches)) passed, 0 failed"
