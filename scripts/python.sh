#!/usr/bin/env bash
# A Python venv with the real third-party clients the tests drive (Confluent's confluent-kafka
# with its Avro and schema-registry client, fastavro), the GTFS validator (gtfs-validator),
# GTFS-realtime's bindings (gtfs-realtime-bindings) and a Train Tracker client (python-cta),
# pinned in scripts/python/requirements.txt.
#
#   source scripts/python.sh && need_python_venv   # sets TRANSIT_TEST_PYTHON=<venv>/bin/python
#   scripts/python.sh [command...]                 # the same, then runs the command
#
# The venv lives at ${TRANSIT_PYTHON_VENV:-~/.cache/transit/venv}, built once per machine from
# PyPI (about 10 s) and rebuilt when requirements.txt or the Python version changes (a hash of
# both is kept in the venv); later runs only check it.

PYTHON_REQUIREMENTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/python/requirements.txt"
PYTHON_VENV="${TRANSIT_PYTHON_VENV:-$HOME/.cache/transit/venv}"

python_fail() {
  echo "python: $1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    echo "--- last lines of $2 ---" >&2
    tail -n 30 "$2" >&2
  fi
  exit 1
}

need_python_venv() {
  local base="${TRANSIT_PYTHON:-python3}" key
  command -v "$base" >/dev/null || python_fail "$base not found: install Python 3 (3.11 is what requirements.txt was pinned on)"
  key="$({ cat "$PYTHON_REQUIREMENTS"; "$base" -c 'import sys; print(sys.version)'; } | sha256sum | cut -c1-64)"
  if [ "$(cat "$PYTHON_VENV/.transit-key" 2>/dev/null)" != "$key" ] \
    || ! "$PYTHON_VENV/bin/python" -c 'import confluent_kafka, fastavro, gtfs_validator, google.transit.gtfs_realtime_pb2, cta.client' 2>/dev/null; then
    printf '\n==> making the Python venv %s from %s (once per change)\n' "$PYTHON_VENV" "$PYTHON_REQUIREMENTS"
    # Built in place (a venv cannot be moved) with the key written last: a venv cut off halfway
    # has no key and is rebuilt next time.
    if [ -e "$PYTHON_VENV" ] && [ ! -f "$PYTHON_VENV/pyvenv.cfg" ]; then
      python_fail "$PYTHON_VENV exists and is not a venv: remove it or set TRANSIT_PYTHON_VENV"
    fi
    rm -rf "$PYTHON_VENV"
    mkdir -p "$(dirname "$PYTHON_VENV")"
    local log="${PYTHON_VENV}.log"
    "$base" -m venv "$PYTHON_VENV" >"$log" 2>&1 \
      || python_fail "$base -m venv failed (Debian's Python needs the python3-venv package)" "$log"
    "$PYTHON_VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input \
      -r "$PYTHON_REQUIREMENTS" >>"$log" 2>&1 \
      || python_fail "pip install -r $PYTHON_REQUIREMENTS failed" "$log"
    "$PYTHON_VENV/bin/python" -c 'import confluent_kafka, fastavro, gtfs_validator, google.transit.gtfs_realtime_pb2, cta.client' >>"$log" 2>&1 \
      || python_fail "the venv does not import confluent_kafka, fastavro, gtfs_validator, gtfs-realtime-bindings and python-cta" "$log"
    echo "$key" >"$PYTHON_VENV/.transit-key"
    rm -f "$log"
  fi
  export TRANSIT_TEST_PYTHON="$PYTHON_VENV/bin/python"
}

# Run as a command: make sure the venv is there, then run the arguments with it.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  need_python_venv
  if [ "$#" -gt 0 ]; then "$@"; else echo "TRANSIT_TEST_PYTHON=$TRANSIT_TEST_PYTHON"; fi
fi
