#!/usr/bin/env bash
# The one test command: installs and starts what the tests need, then runs every test.
#
#   scripts/test.sh            # formatting, lints, unit + behaviour + property + conformance
#                              # tests, the benchmarks once each as tests, and a smoke run of
#                              # the full_pipeline example
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

# Two cores: keep the build from starving the tests that measure wall time.
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CARGO_INCREMENTAL=0
export RUST_BACKTRACE=1

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

log=$(mktemp)
trap 'rm -f "$log"' EXIT

step "doc tests"
cargo test --workspace --doc --all-features --locked 2>&1 | tee -a "$log"

step "tests (unit, behaviour, property, conformance; benchmarks run once as tests)"
cargo test --workspace --all-targets --all-features --locked 2>&1 | tee -a "$log"

step "full_pipeline example: one simulated day flat out, every record consumed and decoded"
cargo run --locked --example full_pipeline -- --flat-out --days 1 --report-every 2

passed=$(grep -Eo '^test result: ok\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
benches=$(grep -c '^Success$' "$log" || true)
step "all tests passed"
echo "tests: $((passed + benches)) passed, 0 failed"
