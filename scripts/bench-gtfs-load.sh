#!/usr/bin/env bash
# Load time and peak memory of transit's GTFS reader against gtfs-structures on a feed of
# about 10 million stop_times, both reading the same file in the same run.
#
#   scripts/bench-gtfs-load.sh [STOP_TIMES] [--service-day YYYY-MM-DD] [--transit-only]
#
# STOP_TIMES defaults to 10000000. With --service-day, transit's runs also build that date's
# ServiceDay (the conversion a simulation starts with: the date's trips, frequency instances,
# vehicles) and print its time; its memory is in the same peak RSS. --transit-only leaves
# gtfs-structures out.
#
# It measures NYC's subway feed (lines 1 and 2, from scripts/feeds.sh) as published, then
# tiled: its trips copied under new trip_ids until the stop_times reach the count asked for
# (77 MB zipped for 10 million, 660 MB of stop_times.txt, cached). transit's side is the
# `load_gtfs` example of transit-gtfs-reader (release build); gtfs-structures' side a little
# cargo project this script writes into the cache, outside the workspace. Each is run under /usr/bin/time -v for its wall time and peak RSS;
# the load average is printed with the figures, as they depend on what else the machine runs.
# Targets for transit: at most 10 s and 1.5 GB for 10 million stop_times.
set -euo pipefail
cd "$(dirname "$0")/.."

target_rows=10000000
service_day=""
transit_only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --service-day) service_day="${2:?--service-day wants a date YYYY-MM-DD}"; shift 2 ;;
    --transit-only) transit_only=1; shift ;;
    *) target_rows="$1"; shift ;;
  esac
done
transit_args=(--all-route-types)
[ -z "$service_day" ] || transit_args+=(--service-day "$service_day")
cache="${XDG_CACHE_HOME:-$HOME/.cache}/transit/bench-gtfs"
mkdir -p "$cache"

# shellcheck source=scripts/feeds.sh
source scripts/feeds.sh
need_feeds

[ -x /usr/bin/time ] || { echo "/usr/bin/time not found: apt-get install time" >&2; exit 1; }
python="${TRANSIT_TEST_PYTHON:-python3}"

feed="$cache/nyc-tiled-$target_rows.zip"
if [ ! -s "$feed" ]; then
  printf '==> tiling %s to %s stop_times into %s\n' "$TRANSIT_TEST_FEEDS/nyc_subway_gtfs.zip" "$target_rows" "$feed"
  "$python" - "$TRANSIT_TEST_FEEDS/nyc_subway_gtfs.zip" "$feed.part" "$target_rows" <<'PY'
"""Copies every trip of a feed (and its stop_times) under new trip_ids until the stop_times
reach the count asked for; the other files are kept as they are."""
import csv
import io
import math
import sys
import zipfile

source, out, target = sys.argv[1], sys.argv[2], int(sys.argv[3])
with zipfile.ZipFile(source) as z:
    files = {name: z.read(name).decode("utf-8-sig") for name in z.namelist()}

def table(name):
    rows = list(csv.reader(io.StringIO(files[name])))
    return rows[0], rows[1:]

trip_header, trips = table("trips.txt")
st_header, stop_times = table("stop_times.txt")
trip_col, st_trip_col = trip_header.index("trip_id"), st_header.index("trip_id")
copies = max(1, math.ceil(target / len(stop_times)))

def write(z, name, header, rows, col):
    with z.open(name, "w", force_zip64=True) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        w = csv.writer(text, lineterminator="\n")
        w.writerow(header)
        for k in range(copies):
            suffix = "" if k == 0 else f"~{k}"
            for row in rows:
                row = list(row)
                row[col] += suffix
                w.writerow(row)
        text.flush()
        text.detach()

with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
    for name, content in files.items():
        if name not in ("trips.txt", "stop_times.txt"):
            z.writestr(name, content)
    write(z, "trips.txt", trip_header, trips, trip_col)
    write(z, "stop_times.txt", st_header, stop_times, st_trip_col)
print(f"{copies} copies: {copies * len(trips)} trips, {copies * len(stop_times)} stop_times")
PY
  mv "$feed.part" "$feed"
fi

printf '==> building transit-gtfs-reader'"'"'s load_gtfs example (release)\n'
cargo build --release --locked -p transit-gtfs-reader --example load_gtfs
transit_bin="${CARGO_TARGET_DIR:-target}/release/examples/load_gtfs"

peer="$cache/gtfs-structures-peer"
if [ -z "$transit_only" ]; then
mkdir -p "$peer/src"
cat > "$peer/Cargo.toml" <<'TOML'
[package]
name = "gtfs-structures-peer"
version = "0.0.0"
edition = "2021"
publish = false

# Not a member of transit's workspace.
[workspace]

[dependencies]
gtfs-structures = { version = "=0.52.0", default-features = false }

[profile.release]
debug = false
TOML
cat > "$peer/src/main.rs" <<'RS'
//! Loads a GTFS feed with gtfs-structures and prints how long it took and what it holds.
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: gtfs-structures-peer FEED");
    let started = Instant::now();
    let gtfs = gtfs_structures::Gtfs::from_path(&path).expect("gtfs-structures reads the feed");
    let secs = started.elapsed().as_secs_f64();
    let stop_times: usize = gtfs.trips.values().map(|t| t.stop_times.len()).sum();
    println!(
        "gtfs-structures: {secs:.2} s, {} stops, {} trips, {stop_times} stop_times, {} shapes",
        gtfs.stops.len(),
        gtfs.trips.len(),
        gtfs.shapes.len()
    );
}
RS
printf '==> building the gtfs-structures peer (release, in %s)\n' "$peer"
(cd "$peer" && CARGO_TARGET_DIR="$peer/target" cargo build --release --quiet)
fi
peer_bin="$peer/target/release/gtfs-structures-peer"

measure() {
  local name="$1"; shift
  local log
  log="$(mktemp)"
  printf '==> %s (load average %s)\n' "$name" "$(cut -d' ' -f1-3 /proc/loadavg)"
  /usr/bin/time -v "$@" 2>"$log" || { cat "$log" >&2; rm -f "$log"; exit 1; }
  local wall rss
  wall="$(sed -n 's/^\s*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log")"
  rss="$(sed -n 's/^\s*Maximum resident set size (kbytes): //p' "$log")"
  printf '%s: process wall %s, peak RSS %d MB\n' "$name" "$wall" "$((rss / 1024))"
  rm -f "$log"
}

printf '\nfeed: %s (NYC as published, 86 150 stop_times)\n' "$TRANSIT_TEST_FEEDS/nyc_subway_gtfs.zip"
measure transit-gtfs-reader "$transit_bin" "$TRANSIT_TEST_FEEDS/nyc_subway_gtfs.zip" "${transit_args[@]}"
[ -n "$transit_only" ] || measure gtfs-structures "$peer_bin" "$TRANSIT_TEST_FEEDS/nyc_subway_gtfs.zip"

printf '\nfeed: %s (%d MB)\n' "$feed" "$(( $(stat -c %s "$feed") / 1024 / 1024 ))"
measure transit-gtfs-reader "$transit_bin" "$feed" "${transit_args[@]}"
[ -n "$transit_only" ] || measure gtfs-structures "$peer_bin" "$feed"
