#!/usr/bin/env bash
# The one test command: installs and starts what the tests need, then runs every test.
#
#   scripts/test.sh            # formatting, lints, docs, unit + behaviour + property +
#                              # conformance tests on both buses, HTTP, Kafka, PostgreSQL and
#                              # Confluent-client tests, the end-to-end tests in a real headless
#                              # Chromium, the benchmarks once each as tests, and smoke runs of
#                              # the full_pipeline example on both buses
#   TRANSIT_TEST_TANSU=1 scripts/test.sh   # also runs the bus conformance suite on tansu
#
# What it installs when missing (each cached on the machine after the first run): rustfmt and
# clippy (rustup); Debian's postgresql (a cluster on 127.0.0.1:5432, local trust), chromium and
# chromium-driver (apt-get); Apache Kafka's jars (Maven, scripts/kafka/pom.xml); a Python venv
# with Confluent's client, a GTFS validator, GTFS-realtime's bindings and a Train Tracker client
# (PyPI, scripts/python/requirements.txt); the real GTFS feeds transit-gtfs-reader's tests read
# (scripts/feeds.sh: gtfs-kit's sdist from PyPI, sample-gtfs-feed from npm). It starts PostgreSQL, and
# Apache Kafka (KRaft, one node) on free loopback ports for the Kafka tests
# (TRANSIT_TEST_KAFKA), and stops the broker when it ends.
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
step "real GTFS feeds for transit-gtfs-reader's tests (gtfs-kit's sdist from PyPI, sample-gtfs-feed from npm; once per machine)"
need_feeds

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

# An embedder of the dashboard over the in-memory bus takes neither the Kafka client nor
# PostgreSQL: checked on the dependency tree, not assumed.
step "embedding the dashboard needs neither rdkafka nor PostgreSQL (cargo tree)"
embed_tree=$(cargo tree --locked -e normal -p transit-http --no-default-features --features dashboard -p transit-mem)
if grep -Eq '^.*(rdkafka|postgres|clap|mimalloc) v' <<<"$embed_tree"; then
  grep -E '(rdkafka|postgres|clap|mimalloc) v' <<<"$embed_tree" >&2
  echo "transit-http's dashboard pulls in a dependency an embedder should not need" >&2
  exit 1
fi
echo "transit-http (dashboard) + transit-mem: $(grep -c . <<<"$embed_tree") lines of dependency tree, no rdkafka, no PostgreSQL"

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

step "tests (unit, behaviour, property, conformance on both buses, HTTP, Kafka, PostgreSQL, Confluent clients, browser, end to end; benchmarks run once as tests)"
cargo test --workspace --all-targets --all-features --locked --no-fail-fast 2>&1 | tee -a "$log"

step "full_pipeline example: one simulated day flat out, processors and dashboard included"
cargo run --locked --example full_pipeline -- --flat-out --days 1 --report-every 2 \
  --address 127.0.0.1:0 --registry-address 127.0.0.1:0 --rest-proxy-address 127.0.0.1:0

step "full_pipeline example on Apache Kafka: one simulated weekday flat out"
cargo run --locked --example full_pipeline -- --flat-out --days 1 --report-every 5 \
  --address 127.0.0.1:0 --registry-address 127.0.0.1:0 --rest-proxy-address 127.0.0.1:0 \
  --kafka "$TRANSIT_TEST_KAFKA" --topic-prefix "smoke.$$" --registry-topic "_schemas.smoke.$$"

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
