#!/usr/bin/env bash
# transit on Apache Kafka, measured: one command builds in release, starts a broker
# (scripts/kafka.sh), runs each benchmark against it and prints a table of the figures.
#
#   scripts/bench-kafka.sh                       # everything (about 20 minutes, 10 of them paced)
#   scripts/bench-kafka.sh --paced-seconds 60    # the paced run shortened to a minute
#   scripts/bench-kafka.sh --only produce,python # some parts only
#   scripts/bench-kafka.sh --wait-load 1.5       # before each part, wait (--wait-max s, 600) for a quiet machine
#
# Parts (--only takes a comma-separated list; all by default):
#   codec, sweep, produce, e2e,          benches/kafka_throughput.rs (cargo bench), 1 000 000
#   consume, python                       (e2e and consume also with --consumer-tuning)
#                                         arrivals a run, sides interleaved over 5 rounds, medians
#                                         and ratios; python is the seed-style peer
#                                         benches/peers/python/produce_arrivals.py
#   flat                                  full_pipeline --kafka ... --flat-out --days 2 (release):
#                                         simulated days per wall-clock second, once for each
#                                         linger.ms of --flat-lingers ("0 5 20")
#   paced                                 full_pipeline --kafka ... --speed 600 for --paced-seconds
#                                         (600): the dashboard's /metrics (consumer lag) and the
#                                         process's RSS sampled every --sample-every seconds (5)
#
# Settings (flags, or the environment):
#   --arrivals N       TRANSIT_BENCH_ARRIVALS    arrivals a run (1000000)
#   --rounds N         TRANSIT_BENCH_ROUNDS      rounds of each comparison (5; the sweep 3)
#   --linger-ms N      TRANSIT_BENCH_LINGER_MS   producer linger.ms everywhere (5)
#   --batch-size N     TRANSIT_BENCH_BATCH_SIZE  producer batch.size everywhere (1000000)
#   --days N                                      simulated days of the flat-out run (2)
#   --flat-lingers "L.." BENCH_FLAT_LINGERS      linger.ms values of the flat-out runs ("0 5 20")
#   --consumer-tuning S  BENCH_CONSUMER_TUNING   e2e and consume run again with these consumer
#                                                settings, k=v,... ("fetch.queue.backoff.ms=10";
#                                                empty: not again)
#   --paced-seconds N  BENCH_PACED_SECONDS       wall seconds of the paced run (600)
#   TRANSIT_BENCH_SWEEP, TRANSIT_BENCH_CHUNK, TRANSIT_BENCH_WINDOW: see benches/kafka_throughput.rs
#
# Benchmarks measure; none asserts a time. Each part prints the load average it ran under: the
# broker, the clients and anything else on the machine share its cores. Logs and samples are
# kept in target/bench-kafka/<time>/.

set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

ONLY="codec,sweep,produce,e2e,consume,python,flat,paced"
DAYS=2
PACED_SECONDS="${BENCH_PACED_SECONDS:-600}"
SAMPLE_EVERY=5
WAIT_LOAD=""
WAIT_MAX=600
FLAT_LINGERS="${BENCH_FLAT_LINGERS:-0 5 20}"
CONSUMER_TUNING="${BENCH_CONSUMER_TUNING-fetch.queue.backoff.ms=10}"
export TRANSIT_BENCH_LINGER_MS="${TRANSIT_BENCH_LINGER_MS:-5}"
export TRANSIT_BENCH_BATCH_SIZE="${TRANSIT_BENCH_BATCH_SIZE:-1000000}"
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY="$2"; shift 2 ;;
    --arrivals) export TRANSIT_BENCH_ARRIVALS="$2"; shift 2 ;;
    --rounds) export TRANSIT_BENCH_ROUNDS="$2"; shift 2 ;;
    --linger-ms) export TRANSIT_BENCH_LINGER_MS="$2"; shift 2 ;;
    --batch-size) export TRANSIT_BENCH_BATCH_SIZE="$2"; shift 2 ;;
    --days) DAYS="$2"; shift 2 ;;
    --flat-lingers) FLAT_LINGERS="$2"; shift 2 ;;
    --consumer-tuning) CONSUMER_TUNING="$2"; shift 2 ;;
    --paced-seconds) PACED_SECONDS="$2"; shift 2 ;;
    --sample-every) SAMPLE_EVERY="$2"; shift 2 ;;
    --wait-load) WAIT_LOAD="$2"; shift 2 ;;
    --wait-max) WAIT_MAX="$2"; shift 2 ;;
    -h | --help) usage ;;
    *) echo "bench-kafka: unknown argument $1" >&2; usage ;;
  esac
done
wants() { [[ ",$ONLY," == *",$1,"* ]]; }

OUT="target/bench-kafka/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
ROWS="$OUT/rows.md"
: >"$ROWS"
PRODUCER_SETTINGS=(-X "linger.ms=$TRANSIT_BENCH_LINGER_MS" -X "batch.size=$TRANSIT_BENCH_BATCH_SIZE")

step() { printf '\n==> %s   [%s]\n' "$1" "$(uptime | sed 's/.*load/load/')"; }
row() { printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" >>"$ROWS"; }
load1() { cut -d' ' -f1 /proc/loadavg; }
cpu_ticks() { [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}' || echo 0; }
clk_tck="$(getconf CLK_TCK)"
seconds_of() { awk -v t="$1" -v hz="$clk_tck" 'BEGIN {printf "%.1f", t / hz}'; }
percent_of() { awk -v c="$1" -v w="$2" 'BEGIN {printf "%.0f%%", (w > 0 ? 100 * c / w : 0)}'; }

# Before a part: wait for the 1-minute load to fall under --wait-load, up to --wait-max seconds.
quiet_machine() {
  [ -n "$WAIT_LOAD" ] || return 0
  local deadline=$((SECONDS + WAIT_MAX))
  while awk -v l="$(load1)" -v max="$WAIT_LOAD" 'BEGIN {exit !(l >= max)}'; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "load $(load1) still >= $WAIT_LOAD after $WAIT_MAX s: measuring anyway"
      return 0
    fi
    echo "load $(load1) >= $WAIT_LOAD: waiting 20 s"
    sleep 20
  done
}

# --- build (release) ---------------------------------------------------------------------------
step "building in release: the full_pipeline example and the kafka_throughput bench"
cargo build --release --locked --example full_pipeline
cargo bench --locked --bench kafka_throughput --no-run 2>&1 | tee "$OUT/build-bench.log"
PIPELINE=target/release/examples/full_pipeline
# The built binaries run directly from here on: one build for every part, even when the sources
# change meanwhile (cargo bench would rebuild in the middle of the measurements).
BENCH="$(sed -n 's/^ *Executable benches\/kafka_throughput.rs (\(.*\))$/\1/p' "$OUT/build-bench.log" | tail -n1)"
[ -x "$BENCH" ] || { echo "bench-kafka: no kafka_throughput executable in cargo's output" >&2; exit 1; }
cp "$BENCH" "$OUT/kafka_throughput"
cp "$PIPELINE" "$OUT/full_pipeline"
BENCH="$OUT/kafka_throughput"
PIPELINE="$OUT/full_pipeline"

# shellcheck source=scripts/python.sh
source scripts/python.sh
wants python && need_python_venv

# shellcheck source=scripts/kafka.sh
source scripts/kafka.sh
step "starting Apache Kafka (KRaft, one node, loopback)"
paced_pid=""
cleanup() {
  if [ -n "$paced_pid" ] && kill -0 "$paced_pid" 2>/dev/null; then kill -KILL "$paced_pid" 2>/dev/null || true; fi
  remove_kafka
}
start_kafka
trap cleanup EXIT
row "setup" "machine" "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo)" "Apache Kafka $KAFKA_VERSION on one KRaft node, heap $KAFKA_HEAP_OPTS; producers: acks=all, idempotent, murmur2_random, linger.ms=$TRANSIT_BENCH_LINGER_MS, batch.size=$TRANSIT_BENCH_BATCH_SIZE"

# --- the Rust parts (and the Python peer) ------------------------------------------------------
run_bench() {  # part, log name, extra environment (KEY=VALUE...)
  local part="$1" log="$OUT/bench-$2.log"
  shift 2
  quiet_machine
  step "kafka_throughput --bench $part${*:+ with $*} (cargo bench --bench kafka_throughput -- $part)"
  env "$@" "$BENCH" --bench "$part" 2>&1 | tee "$log"
  sed -n '/^## kafka_throughput summary/,$p' "$log" | grep '^| ' | grep -v '^| part \|^|---' >>"$ROWS" || true
}
for part in codec sweep produce e2e consume python; do
  wants "$part" || continue
  run_bench "$part" "$part"
  # Reading again with the consumers tuned: librdkafka waits fetch.queue.backoff.ms (1 s by
  # default) before fetching again once its prefetch queue holds queued.min.messages.
  if [ -n "$CONSUMER_TUNING" ] && { [ "$part" = e2e ] || [ "$part" = consume ]; }; then
    run_bench "$part" "$part-tuned" TRANSIT_BENCH_CONSUMER="$CONSUMER_TUNING"
  fi
done

# Common flags of the example on this broker: own topics and registry topic per run, servers
# on free ports unless named.
pipeline_args() {
  local name="$1"
  echo --kafka "$TRANSIT_TEST_KAFKA" --topic-prefix "bench.$name.$$" --registry-topic "_schemas.bench.$name.$$" \
    --registry-address 127.0.0.1:0 --rest-proxy-address 127.0.0.1:0 --report-every 10
}

# --- full pipeline, flat out -------------------------------------------------------------------
# The driver publishes each tick's batches one after the other and awaits their acknowledgements,
# so linger.ms is paid on every batch: the run is repeated for each of --flat-lingers.
if wants flat; then
  for linger in $FLAT_LINGERS; do
    quiet_machine
    step "full_pipeline on Kafka, flat out, $DAYS simulated days, linger.ms=$linger"
    broker_before="$(cpu_ticks "$KAFKA_PID")"
    load_before="$(load1)"
    # shellcheck disable=SC2046
    /usr/bin/time -f '%e %U %S %M' -o "$OUT/flat-$linger.time" \
      "$PIPELINE" $(pipeline_args "flat$linger") --address 127.0.0.1:0 --flat-out --days "$DAYS" \
      -X "linger.ms=$linger" -X "batch.size=$TRANSIT_BENCH_BATCH_SIZE" 2>&1 | tee "$OUT/flat-$linger.log"
    broker_cpu=$(($(cpu_ticks "$KAFKA_PID") - broker_before))
    read -r elapsed user sys max_rss <"$OUT/flat-$linger.time"
    sim_seconds="$(sed -n 's/^simulated .* in \([0-9.]*\) s wall time.*/\1/p' "$OUT/flat-$linger.log" | tail -n1)"
    total="$(awk '$1 == "total" {print $2}' "$OUT/flat-$linger.log" | tail -n1)"
    days_per_second="$(awk -v d="$DAYS" -v s="$sim_seconds" 'BEGIN {printf "%.3f", d / s}')"
    records_per_second="$(awk -v n="$total" -v s="$sim_seconds" 'BEGIN {printf "%.0f", n / s}')"
    client="$(awk -v u="$user" -v s="$sys" -v e="$elapsed" 'BEGIN {printf "%.0f%%", 100 * (u + s) / e}')"
    broker="$(percent_of "$(seconds_of "$broker_cpu")" "$elapsed")"
    row "pipeline" "flat out, --days $DAYS, linger.ms=$linger: simulated days per wall second" "$days_per_second" \
      "$total records in ${sim_seconds} s ($records_per_second/s); process cpu $client of a core, max RSS $((max_rss / 1024)) MB; broker $broker; load $load_before..$(load1)"
  done
fi

# --- full pipeline, paced: lag and memory over time --------------------------------------------
if wants paced; then
  quiet_machine
  port="$(kafka_free_port)"
  step "full_pipeline on Kafka at --speed 600 for $PACED_SECONDS s: /metrics and RSS every $SAMPLE_EVERY s"
  # shellcheck disable=SC2046
  "$PIPELINE" $(pipeline_args paced) --address "127.0.0.1:$port" --speed 600 \
    "${PRODUCER_SETTINGS[@]}" >"$OUT/paced.log" 2>&1 &
  paced_pid=$!
  broker_before="$(cpu_ticks "$KAFKA_PID")"
  load_before="$(load1)"
  samples="$OUT/paced-samples.tsv"
  printf 'seconds\tlag_total\tlag_max_partition\trss_mb\tload\n' >"$samples"
  started=$SECONDS
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; do
    kill -0 "$paced_pid" 2>/dev/null || { cat "$OUT/paced.log" >&2; echo "bench-kafka: full_pipeline exited during start" >&2; exit 1; }
    [ $((SECONDS - started)) -lt 120 ] || { echo "bench-kafka: no dashboard on port $port after 120 s" >&2; exit 1; }
    sleep 0.5
  done
  started=$SECONDS
  next=0
  while [ $((SECONDS - started)) -lt "$PACED_SECONDS" ]; do
    kill -0 "$paced_pid" 2>/dev/null || { tail -n 30 "$OUT/paced.log" >&2; echo "bench-kafka: full_pipeline stopped during the paced run" >&2; exit 1; }
    if [ $((SECONDS - started)) -ge "$next" ]; then
      next=$((next + SAMPLE_EVERY))
      metrics="$(curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics" || true)"
      lag="$(awk '/^transit_consumer_lag_records\{/ {v = $NF + 0; t += v; if (v > m) m = v} END {printf "%d\t%d", t, m}' <<<"$metrics")"
      rss="$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$paced_pid/status" 2>/dev/null || echo 0)"
      printf '%s\t%s\t%s\t%s\n' "$((SECONDS - started))" "$lag" "$rss" "$(load1)" | tee -a "$samples"
    fi
    sleep 1
  done
  process_cpu="$(cpu_ticks "$paced_pid")"
  broker_cpu=$(($(cpu_ticks "$KAFKA_PID") - broker_before))
  elapsed=$((SECONDS - started))
  kill -INT "$paced_pid"
  for _ in $(seq 120); do kill -0 "$paced_pid" 2>/dev/null || break; sleep 0.5; done
  wait "$paced_pid" || echo "bench-kafka: full_pipeline exited with $? after Ctrl+C" >&2
  paced_pid=""
  tail -n 12 "$OUT/paced.log"
  read -r max_lag max_partition_lag max_rss last_lag first_rss last_rss n < <(awk -F'\t' 'NR > 1 {
      if ($2 > ml) ml = $2; if ($3 > mp) mp = $3; if ($4 > mr) mr = $4
      if (n == 0) fr = $4; lr = $4; ll = $2; n++
    } END {printf "%d %d %.1f %d %.1f %.1f %d\n", ml, mp, mr, ll, fr, lr, n}' "$samples")
  total="$(awk '$1 == "total" {print $2}' "$OUT/paced.log" | tail -n1)"
  row "pipeline" "--speed 600 for ${elapsed} s: max consumer lag (sum over partitions)" "$max_lag records" \
    "max on one partition $max_partition_lag, at the end $last_lag; $n samples every ${SAMPLE_EVERY}s; ${total:-?} records published"
  row "pipeline" "--speed 600 for ${elapsed} s: max RSS" "$max_rss MB" \
    "first sample $first_rss MB, last $last_rss MB; process cpu $(percent_of "$(seconds_of "$process_cpu")" "$elapsed") of a core (whole life), broker $(percent_of "$(seconds_of "$broker_cpu")" "$elapsed"); load $load_before..$(load1)"
fi

# --- the table ---------------------------------------------------------------------------------
step "figures"
{
  echo
  echo "## transit on Apache Kafka: figures ($(date -u '+%Y-%m-%d %H:%M UTC'), load average now $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "| part | figure | median / value | where the time goes, notes |"
  echo "|---|---|---|---|"
  cat "$ROWS"
  echo
  echo "client/broker percentages are CPU over the run's wall time, 100% = one core (the machine has $(nproc))."
  echo "logs: $OUT"
} | tee "$OUT/figures.md"
rm -f "$OUT/kafka_throughput" "$OUT/full_pipeline"
