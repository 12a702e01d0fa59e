#!/usr/bin/env bash
# Prediction accuracy as a rider's app sees it, beside the pipeline's own scorer: runs
# `full_pipeline --gtfs` on NYC's lines 1 and 2 (gtfs-kit's feed, scripts/feeds.sh) from FROM at
# SPEED, polls its GTFS-realtime feeds with scripts/poll_accuracy.py (MobilityData's bindings,
# scripts/python.sh's venv) from FROM to TO, and prints beside them the pipeline's own scorer's
# figures for the samples it resolved over the same polling (/api/accuracy, read at the first
# sample and at the end).
#
#   scripts/bench-poll-accuracy.sh [DATE] [FROM] [TO] [SPEED] [SEED] [WARM]
#   scripts/bench-poll-accuracy.sh 2026-12-07 07:00 07:40 60 7 60    # the defaults
#
# The simulation starts WARM minutes before FROM (the day before that is not published): the
# predictor learns from that hour before it is measured. A measurement, not a test: it prints
# figures and asserts none.
set -euo pipefail
cd "$(dirname "$0")/.."
date=${1:-2026-12-07}
from=${2:-07:00}
to=${3:-07:40}
speed=${4:-60}
seed=${5:-7}
warm=${6:-60}

say() { printf '\n==> %s\n' "$*"; }

# shellcheck source=scripts/feeds.sh
source scripts/feeds.sh
need_feeds
# shellcheck source=scripts/python.sh
source scripts/python.sh
need_python_venv >/dev/null

say "building full_pipeline (release)"
cargo build --release --locked --example full_pipeline
target=${CARGO_TARGET_DIR:-target}
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
url="http://127.0.0.1:$port"
log=$(mktemp)
pipeline=""
trap 'kill "$pipeline" 2>/dev/null || true; rm -f "$log"' EXIT

start=$(date -d "$date $from $warm minutes ago" +%Y-%m-%dT%H:%M)
say "full_pipeline --gtfs nyc_subway_gtfs.zip --start $start --speed $speed --seed $seed on $url"
"$target/release/examples/full_pipeline" --gtfs "$TRANSIT_TEST_FEEDS/nyc_subway_gtfs.zip" \
  --start "$start" --speed "$speed" --seed "$seed" --address "127.0.0.1:$port" \
  --registry-address 127.0.0.1:0 --rest-proxy-address 127.0.0.1:0 >"$log" 2>&1 &
pipeline=$!
for _ in $(seq 1 600); do
  if curl -sf "$url/healthz" >/dev/null 2>&1; then break; fi
  kill -0 "$pipeline" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done

# The feed's clock is the agency's (America/New_York): the window in its Unix seconds.
window() { TZ=America/New_York date -d "$date $1" +%s; }
say "polling the GTFS-realtime feeds from $from to $to (feed time), every 0.1 s of wall time"
"$TRANSIT_TEST_PYTHON" scripts/poll_accuracy.py --url "$url" --from "$(window "$from")" \
  --to "$(window "$to")" --scorer
