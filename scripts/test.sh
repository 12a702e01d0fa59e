#!/usr/bin/env bash
# The one test command: installs and starts what the tests need, then runs every test.
#
#   scripts/test.sh            # formatting, lints, unit + behaviour + property + conformance
#                              # tests, HTTP tests of the dashboard, the end-to-end test in a
#                              # real headless Chromium, the benchmarks once each as tests, and
#                              # a smoke run of the full_pipeline example
#
# What it installs when missing: rustfmt and clippy (rustup), Debian's chromium and
# chromium-driver (apt-get) for the browser test, and the Kafka-protocol broker tansu (cargo,
# into ~/.cargo/bin, about 10 minutes once per machine). It starts tansu on a free loopback
# port for the Kafka tests (TRANSIT_TEST_KAFKA) and stops it when it ends, and starts the
# local PostgreSQL cluster if it is stopped.
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

# The browser test drives Debian's Chromium through chromedriver.
need_chromium() {
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    return
  fi
  step "installing chromium and chromium-driver (Debian packages) for the browser test"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  command -v apt-get >/dev/null || { echo "apt-get not found: install chromium and chromedriver at /usr/bin yourself" >&2; exit 1; }
  $sudo apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] \
    || { echo "chromium or chromedriver still missing after apt-get install" >&2; exit 1; }
}
need_chromium

# The PostgreSQL tests (station loader and source, the production end-to-end test) use the
# local cluster at 127.0.0.1:5432 (TRANSIT_TEST_POSTGRES_URL overrides it): start it if it is
# installed but stopped.
need_postgres() {
  local url="${TRANSIT_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  if psql "$url" -Atc 'select 1' >/dev/null 2>&1; then
    return
  fi
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    step "starting the local PostgreSQL cluster"
    local version
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 1 30); do
      psql "$url" -Atc 'select 1' >/dev/null 2>&1 && return
      sleep 1
    done
  fi
  echo "PostgreSQL is not reachable at $url: install and start it (Debian: postgresql), or set TRANSIT_TEST_POSTGRES_URL" >&2
  exit 1
}
need_postgres

# shellcheck source=scripts/tansu.sh
source scripts/tansu.sh
install_tansu

# Two cores: keep the build from starving the tests that measure wall time.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CARGO_INCREMENTAL=0
export RUST_BACKTRACE=1

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "starting the Kafka-protocol broker (tansu)"
start_tansu

log=$(mktemp)
trap 'rm -f "$log"; stop_tansu' EXIT

step "doc tests"
cargo test --workspace --doc --all-features --locked 2>&1 | tee -a "$log"

# The browser test runs the example's binary as a user would: build it first (test builds of
# examples do not produce target/<profile>/examples/full_pipeline).
step "building the examples"
cargo build --workspace --examples --locked

step "tests (unit, behaviour, property, conformance on both buses, HTTP, Kafka, PostgreSQL, browser, end to end; benchmarks run once as tests)"
cargo test --workspace --all-targets --all-features --locked 2>&1 | tee -a "$log"

step "full_pipeline example: one simulated day flat out, processors and dashboard included"
cargo run --locked --example full_pipeline -- --flat-out --days 1 --report-every 2 \
  --address 127.0.0.1:0 --registry-address 127.0.0.1:0 --rest-proxy-address 127.0.0.1:0

step "full_pipeline example on Kafka (tansu): two simulated hours flat out"
cargo run --locked --example full_pipeline -- --flat-out --days 0.08 --report-every 2 \
  --address 127.0.0.1:0 --registry-address 127.0.0.1:0 --rest-proxy-address 127.0.0.1:0 \
  --kafka "$TRANSIT_TEST_KAFKA" -X batch.num.messages=1 --topic-prefix "smoke.$$" \
  --registry-topic "_schemas.smoke.$$"

passed=$(grep -Eo '^test result: ok\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
benches=$(grep -c '^Success$' "$log" || true)
step "all tests passed"
echo "tests: $((passed + benches)) passed, 0 failed"
