#!/usr/bin/env bash
# A test of `scripts/kafka.sh serve` as the runbook and a supervisor use it:
#
# 1. `scripts/kafka.sh --data-dir DIR --port P serve` started in the background from this script
#    (so bash starts it with SIGINT ignored, as every background job of a script), stopped with
#    SIGINT: it exits, and no JVM of it is left;
# 2. served again from the same directory, without --port: the same port, and the topic made in
#    the first run is still there; stopped with SIGTERM (a supervisor's stop): nothing left;
# 3. `scripts/kafka.sh serve` without a data directory, stopped with SIGINT: nothing left, and
#    its temporary directory is gone.
#
# 4. `scripts/kafka.sh sleep 600` in the background, SIGINT: the command and the broker stop,
#    it exits 130, nothing is left; `scripts/kafka.sh sh -c 'exit 3'` exits 3.
#
#   scripts/kafka-serve-test.sh          # a minute or so; exits non-zero on a failure
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
work="$(mktemp -d "${TMPDIR:-/tmp}/transit-kafka-serve-test.XXXXXX")"
dir="$work/data"
pid=""
cleanup() {  # a failed check leaves nothing running either
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "kafka-serve-test: FAIL: $1" >&2
  for log in "$work"/serve.*.log; do
    [ -f "$log" ] && { echo "--- $log ---" >&2; tail -n 20 "$log" >&2; }
  done
  exit 1
}

# Starts serve in the background with "$@"; sets pid and the settings line it printed.
serve() {
  local log="$work/serve.$1.log"
  shift
  "$repo/scripts/kafka.sh" "$@" serve >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 240); do
    grep -q '^TRANSIT_KAFKA_BROKERS=' "$log" && break
    kill -0 "$pid" 2>/dev/null || fail "serve exited during its start"
    sleep 0.5
  done
  line="$(grep -m1 '^TRANSIT_KAFKA_BROKERS=' "$log")" || fail "serve printed no settings line"
}

# Sends signal $1 to serve, waits for it to exit, and checks no JVM with config $2 is left.
stop_and_check() {
  kill -s "$1" "$pid"
  for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && fail "serve still runs 60 s after SIG$1"
  wait "$pid" 2>/dev/null || true
  pid=""
  if pgrep -f -- "$2" >/dev/null; then
    fail "a JVM with $2 is left after SIG$1"
  fi
  echo "kafka-serve-test: SIG$1 stopped serve and its broker"
}

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
serve 1 --data-dir "$dir" --port "$port"
[ "$line" = "TRANSIT_KAFKA_BROKERS=127.0.0.1:$port" ] || fail "printed '$line', not port $port"
[ "$(cat "$dir/transit-kafka.env")" = "$line" ] || fail "$dir/transit-kafka.env does not hold '$line'"
# shellcheck source=scripts/kafka.sh
source "$repo/scripts/kafka.sh"
KAFKA_RUN_DIR="$dir"
kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$port" \
  --create --topic kept --partitions 1 >/dev/null
stop_and_check INT "$dir/server.properties"

serve 2 --data-dir "$dir"
[ "$line" = "TRANSIT_KAFKA_BROKERS=127.0.0.1:$port" ] || fail "served again on '$line', not port $port"
kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$port" --list \
  | grep -qx kept || fail "the topic made in the first run is gone"
echo "kafka-serve-test: the data directory kept the topic and the port"
stop_and_check TERM "$dir/server.properties"

other="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
serve 3 --port "$other"
run_dir="$(sed -n 's/.*dir \(.*\), new).*/\1/p' "$work/serve.3.log")"
[ -d "$run_dir" ] || fail "no temporary directory in its start line"
stop_and_check INT "$run_dir/server.properties"
[ ! -e "$run_dir" ] || fail "the temporary directory $run_dir is left"
# 4. The command form.
set +e
"$repo/scripts/kafka.sh" sh -c 'exit 3' >"$work/serve.4.log" 2>&1
status=$?
set -e
[ "$status" = 3 ] || fail "scripts/kafka.sh sh -c 'exit 3' exited $status, not 3"
"$repo/scripts/kafka.sh" sleep 600 >"$work/serve.5.log" 2>&1 &
pid=$!
for _ in $(seq 240); do
  grep -q 'is ready on' "$work/serve.5.log" && break
  kill -0 "$pid" 2>/dev/null || fail "scripts/kafka.sh sleep 600 exited during its start"
  sleep 0.5
done
run_dir="$(sed -n 's/.*dir \(.*\), new).*/\1/p' "$work/serve.5.log")"
[ -d "$run_dir" ] || fail "no temporary directory in the start line of scripts/kafka.sh sleep 600"
kill -s INT "$pid"
for _ in $(seq 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
kill -0 "$pid" 2>/dev/null && fail "scripts/kafka.sh sleep 600 still runs 60 s after SIGINT"
set +e
wait "$pid"
status=$?
set -e
pid=""
[ "$status" = 130 ] || fail "scripts/kafka.sh sleep 600 exited $status after SIGINT, not 130"
pgrep -f -- "$run_dir/server.properties" >/dev/null && fail "a JVM is left after SIGINT to scripts/kafka.sh sleep 600"
[ ! -e "$run_dir" ] || fail "the temporary directory $run_dir is left"
echo "kafka-serve-test: SIGINT stopped scripts/kafka.sh sleep 600, its command and its broker"
echo "kafka-serve-test: ok"
