#!/usr/bin/env bash
# transit's turnstile counter against its Kafka Streams peer (benches/peers/kafka-streams), on
# one Apache Kafka broker, over the same turnstile entries:
#
#   scripts/bench-counter-peer.sh
#
# 1. builds `transit` (release) and the peer (Maven), starts a broker (scripts/kafka.sh) and a
#    schema registry (`transit registry`), and produces the entries ONCE (`transit produce
#    --flat-out --days $BENCH_DAYS`, about 500 000 entries a weekday);
# 2. runs `transit process` (one instance) with transactions off, again with them on, and
#    then the peer (one stream thread, exactly_once_v2): one at a time, each in its own consumer
#    group from the beginning of the entries topic (transit's count table is deleted between
#    its two runs, or the second would restore the first's counts and skip every entry);
# 3. times each from its launch until it is done: its group's committed offsets reached the end
#    of the entries topic AND its count table, as a read_committed reader sees it, adds up to
#    the number of entries (Kafka Streams commits the entries' offsets when it has written them
#    to its repartition topic, before it counts them); start-up, group join and the last commit
#    are inside the time. Then it is stopped (SIGTERM);
# 4. prints entries/s for each, transit's ratio to Kafka Streams, and whether each transit
#    table equals Kafka Streams' (latest value per key, read to the end with read_committed).
#    Exits 1 when a table differs.
#
# Settings (environment):
#   BENCH_DAYS=2                 simulated days of entries (2 from the default start: ~1M)
#   BENCH_PARTITIONS=4           partitions of the entries topic (transit produce's default)
#   BENCH_RUNS="transit-off transit streams"
#                                which runs, in this order (any subset)
#   TRANSIT_PROCESS_ARGS="--transactions on --processors turnstile-counter"
#                                `transit process` arguments of the run named transit
#   TRANSIT_PROCESS_ARGS_OFF="--transactions off --processors turnstile-counter"
#                                (the counter alone, as the peer is: the other processors
#                                would share its 2 cores; drop --processors to time them all)
#                                `transit process` arguments of the run named transit-off
#   STREAMS_COMMIT_INTERVAL_MS   the peer's commit.interval.ms; unset = Kafka Streams' default,
#                                100 ms under exactly_once_v2
#   STREAMS_GUARANTEE=exactly_once_v2
#   STREAMS_SET="k=v k=v"        more Kafka Streams properties for the peer
#   STREAMS_JAVA_OPTS="-Xms256m -Xmx1g"
#   BENCH_TIMEOUT=900            seconds each counter may take
#   BENCH_SKIP_BUILD=1           use the binaries already built
#   TRANSIT_BIN                  the transit binary (default target/release/transit)
#   TRANSIT_TEST_KAFKA           use this broker instead of starting one (then the broker's CPU
#                                is reported only with KAFKA_PID set)
#
# Everything is kept under a fresh run directory (printed), logs included; it is removed at the
# end unless BENCH_KEEP=1 or something failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PEER_DIR="$ROOT/benches/peers/kafka-streams"

BENCH_DAYS="${BENCH_DAYS:-2}"
BENCH_PARTITIONS="${BENCH_PARTITIONS:-4}"
BENCH_RUNS="${BENCH_RUNS:-transit-off transit streams}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-900}"
STREAMS_GUARANTEE="${STREAMS_GUARANTEE:-exactly_once_v2}"
STREAMS_JAVA_OPTS="${STREAMS_JAVA_OPTS:--Xms256m -Xmx1g}"
TRANSIT_PROCESS_ARGS="${TRANSIT_PROCESS_ARGS---transactions on --processors turnstile-counter}"
TRANSIT_PROCESS_ARGS_OFF="${TRANSIT_PROCESS_ARGS_OFF---transactions off --processors turnstile-counter}"

say() { printf '\n==> %s\n' "$*"; }
fail() { echo "bench-counter-peer: $*" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# --- build ----------------------------------------------------------------------------------
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
  say "building transit (release) and the Kafka Streams peer"
  cargo build --release --bin transit
  mvn -q -B -f "$PEER_DIR/pom.xml" package
fi
TRANSIT="${TRANSIT_BIN:-$ROOT/target/release/transit}"
[ -x "$TRANSIT" ] || fail "$TRANSIT is missing: cargo build --release --bin transit"
if [ ! -d "$PEER_DIR/target/classes" ] || [ ! -d "$PEER_DIR/target/lib" ]; then
  fail "the peer is not built: mvn -f $PEER_DIR/pom.xml package"
fi

# --- services -------------------------------------------------------------------------------
# shellcheck source=scripts/python.sh
source scripts/python.sh
need_python_venv
PY="$TRANSIT_TEST_PYTHON"
TOOLS=("$PY" "$PEER_DIR/bench_tools.py")

RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/bench-counter-peer.XXXXXX")"
REGISTRY_PID=""
OWN_KAFKA=""
cleanup() {
  local status=$?
  if [ -n "$REGISTRY_PID" ]; then
    kill "$REGISTRY_PID" 2>/dev/null || true
    wait "$REGISTRY_PID" 2>/dev/null || true
  fi
  if [ -n "$OWN_KAFKA" ]; then remove_kafka; fi
  if [ -z "${BENCH_KEEP:-}" ] && [ "$status" -eq 0 ]; then
    rm -rf "$RUN_DIR"
  else
    echo "run directory kept: $RUN_DIR" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "run directory: $RUN_DIR"

# shellcheck source=scripts/kafka.sh
source scripts/kafka.sh
if [ -z "${TRANSIT_TEST_KAFKA:-}" ]; then
  start_kafka
  OWN_KAFKA=1
  trap cleanup EXIT  # start_kafka set its own; ours calls remove_kafka
fi
BROKER="$TRANSIT_TEST_KAFKA"

REGISTRY_PORT="$(free_port)"
REST_PROXY_PORT="$(free_port)"
REGISTRY_URL="http://127.0.0.1:$REGISTRY_PORT"
start_registry() {
  "$TRANSIT" registry --kafka "$BROKER" --registry-address "127.0.0.1:$REGISTRY_PORT" \
    --rest-proxy-address "127.0.0.1:$REST_PROXY_PORT" >>"$RUN_DIR/registry.log" 2>&1 &
  REGISTRY_PID=$!
  for _ in $(seq 1 120); do
    curl -fsS "$REGISTRY_URL/subjects" >/dev/null 2>&1 && return 0
    if ! kill -0 "$REGISTRY_PID" 2>/dev/null; then
      wait "$REGISTRY_PID" 2>/dev/null || true
      REGISTRY_PID=""
      return 1
    fi
    sleep 0.25
  done
  return 1
}
# On a broker that has just started, the registry's first read of its new schemas topic can
# meet NotLeaderForPartition and exit; a second start finds the topic ready.
for attempt in 1 2 3; do
  start_registry && break
  echo "transit registry did not start (attempt $attempt); see $RUN_DIR/registry.log" >&2
  [ "$attempt" -lt 3 ] || fail "transit registry did not start: $(tail -n 1 "$RUN_DIR/registry.log")"
  sleep 1
done

# --- the entries, once ----------------------------------------------------------------------
PREFIX="bench$$"
ENTRIES_TOPIC="$PREFIX.turnstile.entries.v1"
TRANSIT_TABLE="$PREFIX.turnstile.counts.v1"
STREAMS_TABLE="$PREFIX.streams.turnstile.counts.v1"
# The entries carry simulated times (weeks before the wall clock by default), and Kafka's
# time retention (7 days) deletes closed segments by their record timestamps, the active
# segment too after a forced roll: the entries topic is made beforehand, with no time
# retention, so that both counters read all of it (the producer leaves a topic that exists).
"$PY" - "$BROKER" "$ENTRIES_TOPIC" "$BENCH_PARTITIONS" <<'EOF'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
broker, topic, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
admin = AdminClient({"bootstrap.servers": broker})
spec = NewTopic(topic, num_partitions=partitions, replication_factor=-1,
                config={"retention.ms": "-1"})
admin.create_topics([spec])[topic].result()
EOF
say "producing $BENCH_DAYS simulated days of entries into $ENTRIES_TOPIC"
produce_started=$SECONDS
"$TRANSIT" produce --kafka "$BROKER" --registry-url "$REGISTRY_URL" \
  --rest-proxy-url "http://127.0.0.1:$REST_PROXY_PORT" --topic-prefix "$PREFIX" \
  --flat-out --days "$BENCH_DAYS" --partitions "$BENCH_PARTITIONS" >"$RUN_DIR/produce.log" 2>&1 \
  || { tail -n 20 "$RUN_DIR/produce.log" >&2; fail "transit produce failed"; }
ENTRIES="$("${TOOLS[@]}" end-offsets --bootstrap "$BROKER" --topic "$ENTRIES_TOPIC")"
PARTITIONS="$("$PY" -c 'import sys
from confluent_kafka.admin import AdminClient
t = AdminClient({"bootstrap.servers": sys.argv[1]}).list_topics(sys.argv[2], timeout=10).topics[sys.argv[2]]
print(len(t.partitions))' "$BROKER" "$ENTRIES_TOPIC")"
echo "$ENTRIES entries in $PARTITIONS partitions, produced in $((SECONDS - produce_started)) s"
[ "$ENTRIES" -gt 0 ] || fail "no entries were produced; see $RUN_DIR/produce.log"

# --- the counters ---------------------------------------------------------------------------
declare -A RESULT
run_transit() {  # name, group prefix, extra args...
  local name="$1" group="$2"
  shift 2
  say "$name: transit process $* (group $group-turnstile-counter)"
  # A count table left by an earlier transit run would be restored and its entries skipped.
  "$PY" -c 'import sys
from confluent_kafka.admin import AdminClient
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
if sys.argv[2] in admin.list_topics(timeout=10).topics:
    admin.delete_topics([sys.argv[2]])[sys.argv[2]].result()
    import time
    while sys.argv[2] in admin.list_topics(timeout=10).topics: time.sleep(0.2)
    time.sleep(1)' "$BROKER" "$TRANSIT_TABLE"
  RESULT[$name]="$("${TOOLS[@]}" run --bootstrap "$BROKER" --topic "$ENTRIES_TOPIC" \
    --group "$group-turnstile-counter" --log "$RUN_DIR/$name.log" --timeout "$BENCH_TIMEOUT" \
    --table "$TRANSIT_TABLE" --format transit --schemas "$ROOT/transit-core/schemas" \
    ${KAFKA_PID:+--broker-pid "$KAFKA_PID"} -- \
    "$TRANSIT" process --kafka "$BROKER" --registry-url "$REGISTRY_URL" \
    --topic-prefix "$PREFIX" --group-prefix "$group" "$@")"
  echo "${RESULT[$name]}"
  "${TOOLS[@]}" table --bootstrap "$BROKER" --topic "$TRANSIT_TABLE" --format transit \
    --schemas "$ROOT/transit-core/schemas" --out "$RUN_DIR/$name.json"
}

run_streams() {
  local app="$PREFIX-streams-counter" streams_args=()
  if [ -n "${STREAMS_COMMIT_INTERVAL_MS:-}" ]; then
    streams_args+=(--commit-interval-ms "$STREAMS_COMMIT_INTERVAL_MS")
  fi
  for kv in ${STREAMS_SET:-}; do streams_args+=(--set "$kv"); done
  say "streams: Kafka Streams $STREAMS_GUARANTEE, one stream thread (application $app)${STREAMS_COMMIT_INTERVAL_MS:+, commit.interval.ms=$STREAMS_COMMIT_INTERVAL_MS}"
  local java_opts
  read -ra java_opts <<<"$STREAMS_JAVA_OPTS"
  RESULT[streams]="$("${TOOLS[@]}" run --bootstrap "$BROKER" --topic "$ENTRIES_TOPIC" \
    --group "$app" --log "$RUN_DIR/streams.log" --timeout "$BENCH_TIMEOUT" \
    --table "$STREAMS_TABLE" --format streams \
    ${KAFKA_PID:+--broker-pid "$KAFKA_PID"} -- \
    "${KAFKA_JAVA:-java}" "${java_opts[@]}" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "$PEER_DIR/target/classes:$PEER_DIR/target/lib/*" transit.peer.TurnstileCountStreams \
    --bootstrap "$BROKER" --entries-topic "$ENTRIES_TOPIC" --counts-topic "$STREAMS_TABLE" \
    --application-id "$app" --state-dir "$RUN_DIR/streams-state" \
    --guarantee "$STREAMS_GUARANTEE" --threads 1 "${streams_args[@]}")"
  echo "${RESULT[streams]}"
  "${TOOLS[@]}" table --bootstrap "$BROKER" --topic "$STREAMS_TABLE" --format streams \
    --out "$RUN_DIR/streams.json"
}

read -ra TRANSIT_ON_ARGS <<<"$TRANSIT_PROCESS_ARGS"
read -ra TRANSIT_OFF_ARGS <<<"$TRANSIT_PROCESS_ARGS_OFF"
for run in $BENCH_RUNS; do
  case "$run" in
    transit) run_transit transit "$PREFIX-on" "${TRANSIT_ON_ARGS[@]}" ;;
    transit-off) run_transit transit-off "$PREFIX-off" "${TRANSIT_OFF_ARGS[@]}" ;;
    streams) run_streams ;;
    *) fail "BENCH_RUNS names $run; expected transit-off, transit and streams" ;;
  esac
done

# --- the figures ----------------------------------------------------------------------------
say "results"
field() { "$PY" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
echo "entries: $ENTRIES (topic $ENTRIES_TOPIC, $PARTITIONS partitions), $(nproc) cores"
report() {  # label, result
  printf '%-44s %9s entries/s  (%s s: offsets at the end at %s s, table complete at %s s; first commit at %s s, then %s entries/s; CPU %s s, broker CPU %s s; load1 mean %s, max %s)\n' \
    "$1" "$(field "$2" entries_per_s)" "$(field "$2" seconds)" "$(field "$2" offsets_done_s)" \
    "$(field "$2" table_done_s)" "$(field "$2" first_commit_s)" \
    "$(field "$2" steady_entries_per_s)" "$(field "$2" cpu_s)" "$(field "$2" broker_cpu_s)" \
    "$(field "$2" load1_mean)" "$(field "$2" load1_max)"
}
declare -A LABEL=(
  [transit]="transit${TRANSIT_PROCESS_ARGS:+ $TRANSIT_PROCESS_ARGS}"
  [transit-off]="transit${TRANSIT_PROCESS_ARGS_OFF:+ $TRANSIT_PROCESS_ARGS_OFF}"
  [streams]="Kafka Streams $STREAMS_GUARANTEE${STREAMS_COMMIT_INTERVAL_MS:+ commit=${STREAMS_COMMIT_INTERVAL_MS}ms}"
)
for name in transit transit-off streams; do
  if [ -n "${RESULT[$name]:-}" ]; then report "${LABEL[$name]}" "${RESULT[$name]}"; fi
done
ratio() {  # label, transit result, streams result
  "$PY" - "$@" <<'EOF'
import json, sys
label, t, s = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
line = "ratio %s / Kafka Streams: %.2fx" % (label, t["entries_per_s"] / s["entries_per_s"])
if t["steady_entries_per_s"] and s["steady_entries_per_s"]:
    line += " (after each one's first commit: %.2fx)" % (t["steady_entries_per_s"] / s["steady_entries_per_s"])
if t["cpu_s"]:
    line += "; Kafka Streams used %.1fx this transit run's CPU time" % (s["cpu_s"] / t["cpu_s"])
print(line)
EOF
}
equal=0
if [ -n "${RESULT[streams]:-}" ]; then
  for name in transit transit-off; do
    [ -n "${RESULT[$name]:-}" ] || continue
    ratio "${LABEL[$name]}" "${RESULT[$name]}" "${RESULT[streams]}"
    printf '%s vs Kafka Streams: ' "${LABEL[$name]}"
    "${TOOLS[@]}" compare "$RUN_DIR/$name.json" "$RUN_DIR/streams.json" --entries "$ENTRIES" || equal=1
  done
elif [ -n "${RESULT[transit-off]:-}" ] && [ -n "${RESULT[transit]:-}" ]; then
  printf 'transit on vs off: '
  "${TOOLS[@]}" compare "$RUN_DIR/transit.json" "$RUN_DIR/transit-off.json" --entries "$ENTRIES" || equal=1
fi
exit "$equal"
