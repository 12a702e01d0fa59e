#!/usr/bin/env bash
# The viewers load test (benches/viewers.rs) in its three modes, at 1 000, 5 000 and 10 000
# viewers (or the numbers given, comma-separated), each against `full_pipeline --speed 600`:
#   delta   /events as it is: the whole board on connect, deltas after
#   full    /events?full=1: the whole board on every update
#   legacy  /events of the dashboard before deltas (commit e265695, built from `git archive`
#           into a temporary directory): a whole board per viewer every 250 ms of its own
# Usage: scripts/bench-viewers.sh [VIEWERS] [extra arguments for the benchmark]
set -euo pipefail
cd "$(dirname "$0")/.."
viewers=${1:-1000,5000,10000}
shift || true
legacy_commit=e265695

# One socket a viewer here and one in the server.
ulimit -n "$(ulimit -Hn)"

cargo build --release --locked --example full_pipeline
target=${CARGO_TARGET_DIR:-target}
# Other work trees may build into the same target directory: run a copy.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$target/release/examples/full_pipeline" "$work/full_pipeline"

# The legacy tree builds into a target directory of its own: cargo names a workspace crate's
# artifacts by its path inside the workspace, so in a shared one the two trees' crates would
# take each other's place.
old="$work/legacy"
mkdir -p "$old"
git archive "$legacy_commit" | tar -x -m -C "$old"
(cd "$old" && CARGO_TARGET_DIR="$old/target" cargo build --release --locked --example full_pipeline)
cp "$old/target/release/examples/full_pipeline" "$work/full_pipeline_legacy"

for mode in delta full; do
  cargo bench --locked --bench viewers -- --viewers "$viewers" --mode "$mode" \
    --pipeline "$work/full_pipeline" "$@"
done
cargo bench --locked --bench viewers -- --viewers "$viewers" --mode legacy \
  --pipeline "$work/full_pipeline_legacy" "$@"
