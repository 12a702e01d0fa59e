#!/usr/bin/env bash
# Apache Kafka itself for the tests and benchmarks: one KRaft node (broker + controller) on free
# loopback ports, with transactions, compaction, idempotence and consumer groups as users have
# them (only the internal topics are sized for one node).
#
#   source scripts/kafka.sh && start_kafka   # sets TRANSIT_TEST_KAFKA=127.0.0.1:<port>
#   restart_kafka                            # same ports, same log directory: a broker restart
#   scripts/kafka.sh cargo test --test kafka # runs a command with a broker, then stops it
#
# start_kafka exports TRANSIT_TEST_KAFKA, TRANSIT_TEST_KAFKA_CONTROL, KAFKA_PID, KAFKA_RUN_DIR
# (config, logs, data), KAFKA_LOG_DIR (the broker's log.dirs) and KAFKA_LOG (its own log file),
# and sets an EXIT trap (remove_kafka; it replaces an earlier EXIT trap, so a caller that sets
# its own calls remove_kafka in it).
#
# A separate process (a fault test) controls the broker through the env file named by
# TRANSIT_TEST_KAFKA_CONTROL, which start_kafka exports:
#
#   scripts/kafka.sh restart | stop | start | kill   # kill = SIGKILL (a crash), then start
#
# The jars come from Maven Central through scripts/kafka/pom.xml, once per machine (a few
# seconds, ~45 MB), into ${TRANSIT_KAFKA_HOME:-~/.cache/transit/kafka-<version>}/libs; later
# runs use that cache without the network. The broker is stopped and its directory removed when
# the shell that started it exits.

KAFKA_POM="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kafka/pom.xml"
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")"
KAFKA_CACHE="${TRANSIT_KAFKA_HOME:-$HOME/.cache/transit/kafka-$KAFKA_VERSION}"
KAFKA_JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
# Two cores and a Rust build beside it: a small heap, G1 with short pauses.
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1g -Xms256m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

kafka_fail() {
  echo "kafka: $1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    echo "--- last lines of $2 ---" >&2
    tail -n 40 "$2" >&2
    echo "--- its last errors ---" >&2
    grep -E ' (ERROR|FATAL) |^Caused by|^Exception' "$2" | tail -n 8 >&2 || true
  fi
  exit 1
}

# Resolves the jars once; the marker holds the pom's hash, so a changed pom resolves again.
install_kafka() {
  local hash
  hash="$(sha256sum "$KAFKA_POM" | cut -c1-64)"
  if [ "$(cat "$KAFKA_CACHE/.installed" 2>/dev/null)" = "$hash" ]; then
    return
  fi
  command -v mvn >/dev/null || kafka_fail "mvn not found: install Maven (Debian: maven) to fetch Apache Kafka"
  printf '\n==> resolving Apache Kafka %s with Maven into %s (once per machine)\n' "$KAFKA_VERSION" "$KAFKA_CACHE"
  mkdir -p "$KAFKA_CACHE"
  rm -rf "$KAFKA_CACHE/libs.new"
  mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$KAFKA_CACHE/libs.new" >"$KAFKA_CACHE/mvn.log" 2>&1 \
    || kafka_fail "Maven could not resolve $KAFKA_POM" "$KAFKA_CACHE/mvn.log"
  ls "$KAFKA_CACHE/libs.new"/kafka_2.13-*.jar >/dev/null 2>&1 \
    || kafka_fail "Maven finished but kafka_2.13 is not in $KAFKA_CACHE/libs.new" "$KAFKA_CACHE/mvn.log"
  rm -rf "$KAFKA_CACHE/libs" && mv "$KAFKA_CACHE/libs.new" "$KAFKA_CACHE/libs"
  echo "$hash" >"$KAFKA_CACHE/.installed"
}

kafka_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Ready means the broker answers a Kafka Metadata request (v4) listing itself, i.e. it is
# registered and unfenced; an open TCP port alone is not enough.
kafka_ready() {
  python3 - "$1" <<'EOF' 2>/dev/null
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
body = struct.pack(">hhih", 3, 4, 7, 5) + b"probe" + struct.pack(">i?", 0, False)
s.sendall(struct.pack(">i", len(body)) + body)
data = b""
while len(data) < 16:
    chunk = s.recv(65536)
    if not chunk:
        sys.exit(1)
    data += chunk
# size, correlation id, throttle time, broker count
size, corr, throttle, brokers = struct.unpack(">iiii", data[:16])
sys.exit(0 if corr == 7 and brokers > 0 else 1)
EOF
}

kafka_alive() {  # running and not a zombie
  [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]
}

# The control file: everything a restart needs, readable by `source` from another process.
kafka_write_control() {
  kafka_command
  {
    printf 'KAFKA_RUN_DIR=%q\nKAFKA_PORT=%q\nKAFKA_CONTROLLER_PORT=%q\nKAFKA_PID=%q\n' \
      "$KAFKA_RUN_DIR" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "${KAFKA_PID:-}"
    printf 'KAFKA_LOG_DIR=%q\nKAFKA_LOG=%q\nKAFKA_COMMAND=%q\n' \
      "$KAFKA_LOG_DIR" "$KAFKA_LOG" "${KAFKA_CMD[*]}"
  } >"$KAFKA_RUN_DIR/control.env.new"
  mv "$KAFKA_RUN_DIR/control.env.new" "$KAFKA_RUN_DIR/control.env"
}

# The broker's command line, as an array (the class path holds a literal `*` for java).
kafka_command() {
  local heap
  read -ra heap <<<"$KAFKA_HEAP_OPTS"
  KAFKA_CMD=("$KAFKA_JAVA" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$KAFKA_RUN_DIR/log4j2.properties"
    -cp "$KAFKA_CACHE/libs/*" kafka.Kafka "$KAFKA_RUN_DIR/server.properties")
}

kafka_write_config() {
  cat >"$KAFKA_RUN_DIR/server.properties" <<EOF
# One combined KRaft node (Kafka 4.x: a dynamic quorum, formatted with --standalone).
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_LOG_DIR
num.partitions=1
# One node: the internal topics (groups, transactions, share groups) with one replica, and
# few partitions so the first group or transaction does not wait for 50 of them.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
  cat >"$KAFKA_RUN_DIR/log4j2.properties" <<'EOF'
# To stdout, which start_kafka sends to kafka.log.
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
EOF
  sed 's/^rootLogger.level = INFO/rootLogger.level = WARN/; s/^appender.out.type = Console/&\nappender.out.target = SYSTEM_ERR/' \
    "$KAFKA_RUN_DIR/log4j2.properties" >"$KAFKA_RUN_DIR/tools-log4j2.properties"
}

# Runs one of Kafka's own tools against the broker, quietly, e.g.
#   kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$TRANSIT_TEST_KAFKA" --list
kafka_tool() {
  "$KAFKA_JAVA" -Xmx256m -Dlog4j2.configurationFile="$KAFKA_RUN_DIR/tools-log4j2.properties" \
    -cp "$KAFKA_CACHE/libs/*" "$@"
}

# Starts a new broker, or, when KAFKA_RUN_DIR holds a control file (restart_kafka, or
# `scripts/kafka.sh start` after `stop`), the same broker again on its ports and log directory.
start_kafka() {
  install_kafka
  local owner="" deadline
  if [ -n "${KAFKA_RUN_DIR:-}" ] && [ -f "$KAFKA_RUN_DIR/control.env" ]; then
    # shellcheck source=/dev/null
    source "$KAFKA_RUN_DIR/control.env"
    if [ -n "$KAFKA_PID" ] && kafka_alive "$KAFKA_PID"; then
      kafka_fail "a broker is already running on 127.0.0.1:$KAFKA_PORT (pid $KAFKA_PID)"
    fi
  else
    owner=1
    KAFKA_RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/transit-kafka.XXXXXX")"
    KAFKA_PORT="$(kafka_free_port)"
    KAFKA_CONTROLLER_PORT="$(kafka_free_port)"
    while [ "$KAFKA_CONTROLLER_PORT" = "$KAFKA_PORT" ]; do KAFKA_CONTROLLER_PORT="$(kafka_free_port)"; done
    KAFKA_LOG_DIR="$KAFKA_RUN_DIR/data"
    KAFKA_LOG="$KAFKA_RUN_DIR/kafka.log"
    KAFKA_PID=""
    kafka_write_config
    # Stop and clean up when the starting shell exits, also when the start below fails.
    trap remove_kafka EXIT
  fi
  if [ ! -f "$KAFKA_LOG_DIR/meta.properties" ]; then
    # A cluster id as `kafka-storage random-uuid` makes it (base64url of 16 random bytes, not
    # starting with "-"), without a second JVM start (~2 s).
    local cluster_id
    cluster_id="$(python3 -c 'import base64, os
while (u := base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")).startswith("-"): pass
print(u)')"
    "$KAFKA_JAVA" -cp "$KAFKA_CACHE/libs/*" kafka.tools.StorageTool format --standalone \
      -t "$cluster_id" -c "$KAFKA_RUN_DIR/server.properties" >>"$KAFKA_RUN_DIR/format.log" 2>&1 \
      || kafka_fail "formatting the KRaft log directory $KAFKA_LOG_DIR failed" "$KAFKA_RUN_DIR/format.log"
    # (Kafka 4.x: --standalone makes this node the one voter of a dynamic controller quorum,
    # the counterpart of controller.quorum.bootstrap.servers; without it format refuses.)
  fi
  # stdin and stdout detached, so a test that runs `scripts/kafka.sh restart` and reads its
  # output is not held open by the broker.
  kafka_command
  "${KAFKA_CMD[@]}" </dev/null >>"$KAFKA_LOG" 2>&1 &
  KAFKA_PID=$!
  kafka_write_control
  export TRANSIT_TEST_KAFKA="127.0.0.1:$KAFKA_PORT" TRANSIT_TEST_KAFKA_CONTROL="$KAFKA_RUN_DIR/control.env"
  export KAFKA_PID KAFKA_RUN_DIR KAFKA_LOG_DIR KAFKA_LOG
  deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  until kafka_ready "$KAFKA_PORT"; do
    if ! kafka_alive "$KAFKA_PID"; then
      kafka_fail "the broker exited during start (127.0.0.1:$KAFKA_PORT)" "$KAFKA_LOG"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      stop_kafka
      kafka_fail "the broker did not answer a Metadata request on 127.0.0.1:$KAFKA_PORT within ${KAFKA_START_TIMEOUT}s" "$KAFKA_LOG"
    fi
    sleep 0.25
  done
  echo "Apache Kafka $KAFKA_VERSION is ready on $TRANSIT_TEST_KAFKA (pid $KAFKA_PID, dir $KAFKA_RUN_DIR${owner:+, new})"
}

# SIGTERM (a clean shutdown), then SIGKILL after KAFKA_STOP_TIMEOUT seconds. The pid comes from
# the control file, since another process may have restarted the broker. `stop_kafka KILL`
# crashes it at once instead.
stop_kafka() {
  local signal="${1:-TERM}" deadline
  [ -n "${KAFKA_RUN_DIR:-}" ] && [ -f "$KAFKA_RUN_DIR/control.env" ] || return 0
  # shellcheck source=/dev/null
  source "$KAFKA_RUN_DIR/control.env"
  # Only a process started with this directory's config: never a reused pid.
  if [ -n "$KAFKA_PID" ] && kafka_alive "$KAFKA_PID" \
    && grep -qF "$KAFKA_RUN_DIR/server.properties" "/proc/$KAFKA_PID/cmdline" 2>/dev/null; then
    kill -s "$signal" "$KAFKA_PID" 2>/dev/null || true
    deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
    while kafka_alive "$KAFKA_PID"; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "kafka: pid $KAFKA_PID still running ${KAFKA_STOP_TIMEOUT}s after SIG$signal: SIGKILL" >&2
        kill -s KILL "$KAFKA_PID" 2>/dev/null || true
        deadline=$((SECONDS + 10))
      fi
      sleep 0.2
    done
    wait "$KAFKA_PID" 2>/dev/null || true  # reap it when it is this shell's child
  fi
  KAFKA_PID=""
  kafka_write_control
}

# A clean restart; for a crash, `stop_kafka KILL` then `start_kafka`.
restart_kafka() {
  stop_kafka
  start_kafka
}

# The EXIT trap of the shell that started the broker: stop it and remove its directory.
remove_kafka() {
  stop_kafka
  case "${KAFKA_RUN_DIR:-}" in
    */transit-kafka.*) rm -rf "$KAFKA_RUN_DIR" ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  case "${1:-}" in
    "")
      echo "usage: scripts/kafka.sh <command...> | install | start | stop | restart | kill" >&2
      exit 2
      ;;
    install)
      install_kafka
      echo "Apache Kafka $KAFKA_VERSION is in $KAFKA_CACHE/libs"
      ;;
    start | stop | restart | kill)
      # Control the broker that another shell started (see TRANSIT_TEST_KAFKA_CONTROL).
      [ -f "${TRANSIT_TEST_KAFKA_CONTROL:-}" ] \
        || kafka_fail "'$1' needs TRANSIT_TEST_KAFKA_CONTROL, the control file of a running start_kafka (got '${TRANSIT_TEST_KAFKA_CONTROL:-}')"
      KAFKA_RUN_DIR="$(dirname "$TRANSIT_TEST_KAFKA_CONTROL")"
      case "$1" in
        start) start_kafka ;;
        stop) stop_kafka ;;
        restart) restart_kafka ;;
        kill) stop_kafka KILL ;;
      esac
      ;;
    *)
      # Run the arguments with a fresh broker, which the EXIT trap then stops.
      start_kafka
      "$@"
      ;;
  esac
fi
