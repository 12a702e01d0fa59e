#!/usr/bin/env bash
# Apache Kafka itself for the tests and benchmarks: one KRaft node (broker + controller) on free
# loopback ports, with transactions, compaction, idempotence and consumer groups as users have
# them (only the internal topics are sized for one node).
#
#   source scripts/kafka.sh && start_kafka   # sets TRANSIT_TEST_KAFKA=127.0.0.1:<port>
#   restart_kafka                            # same ports, same log directory: a broker restart
#   scripts/kafka.sh cargo test --test kafka # runs a command with a broker, then stops it
#
# A broker for people and supervisors (the runbook's): `serve` runs one in the foreground until
# SIGINT (Ctrl+C) or SIGTERM, then stops it cleanly and leaves nothing running, also when it was
# started in the background from a script (where bash starts it with SIGINT ignored):
#
#   scripts/kafka.sh serve                          # data in a temporary directory, removed at
#                                                   # the stop; port 9092 if free, else any
#   scripts/kafka.sh --data-dir ~/transit-kafka serve   # (9092 too, if free)
#                                                   # data kept in that directory: stop and
#                                                   # serve again, and topics, offsets and
#                                                   # schemas are still there, on the same port
#   scripts/kafka.sh --data-dir DIR --port 9093 serve   # a port of your choice (first run)
#
# (or TRANSIT_KAFKA_DATA_DIR and TRANSIT_KAFKA_PORT.) Once ready it prints the line for your
# settings file, `TRANSIT_KAFKA_BROKERS=127.0.0.1:<port>`, and with --data-dir writes it to
# DIR/transit-kafka.env too. A directory in use by a running broker is refused.
#   scripts/kafka.sh --brokers 3 --security secure cargo test ...
#                                            # the same with a cluster of three, SASL_SSL and
#                                            # mTLS listeners (start_kafka_cluster, below)
#
# start_kafka exports TRANSIT_TEST_KAFKA, TRANSIT_TEST_KAFKA_CONTROL, KAFKA_PID, KAFKA_RUN_DIR
# (config, logs, data), KAFKA_LOG_DIR (the broker's log.dirs) and KAFKA_LOG (its own log file),
# and sets an EXIT trap (remove_kafka; it replaces an earlier EXIT trap, so a caller that sets
# its own calls remove_kafka in it).
#
# (`scripts/kafka.sh <command...>` passes SIGINT and SIGTERM on to its command, as SIGTERM, and
# stops its broker once the command ended; for a broker alone, use `serve`.)
#
# A separate process (a fault test) controls the broker through the env file named by
# TRANSIT_TEST_KAFKA_CONTROL, which start_kafka exports:
#
#   scripts/kafka.sh restart | stop | start | kill   # kill = SIGKILL (a crash), then start
#   scripts/kafka.sh kill 2 | start 2 | stop 2       # on a cluster: one node by its node.id
#   scripts/kafka.sh restart                         # on a cluster: a rolling restart
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
  [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]
}

# The control file: everything a restart needs, readable by `source` from another process.
kafka_write_control() {
  kafka_command
  {
    printf 'KAFKA_RUN_DIR=%q\nKAFKA_PORT=%q\nKAFKA_CONTROLLER_PORT=%q\nKAFKA_PID=%q\n' \
      "$KAFKA_RUN_DIR" "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "${KAFKA_PID:-}"
    printf 'KAFKA_LOG_DIR=%q\nKAFKA_LOG=%q\nKAFKA_COMMAND=%q\n' \
      "$KAFKA_LOG_DIR" "$KAFKA_LOG" "${KAFKA_CMD[*]}"
    # A node of a cluster (start_kafka_cluster): its heap, and how to tell it is ready.
    printf 'KAFKA_HEAP_OPTS=%q\nKAFKA_READY_BY=%q\n' "$KAFKA_HEAP_OPTS" "${KAFKA_READY_BY:-metadata}"
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
  kafka_write_log4j
}

# The broker's logging (to stdout, which the start sends to kafka.log) and the tools' (to stderr,
# warnings only).
kafka_write_log4j() {
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

# Whether `pid` is a broker started with the config in KAFKA_RUN_DIR (never a reused pid).
kafka_ours() {
  [ -n "$1" ] && kafka_alive "$1" \
    && grep -qF "$KAFKA_RUN_DIR/server.properties" "/proc/$1/cmdline" 2>/dev/null
}

# Whether 127.0.0.1:$1 is free to listen on.
kafka_port_free() {
  python3 -c 'import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

# Starts a new broker, or, when KAFKA_RUN_DIR holds a control file (restart_kafka, or
# `scripts/kafka.sh start` after `stop`), the same broker again on its ports and log directory.
# KAFKA_DATA_DIR names a directory to keep the broker in (made if missing; never removed), and
# KAFKA_WANTED_PORT the port a new one listens on (else a free one).
start_kafka() {
  install_kafka
  local owner="" deadline
  if [ -n "${KAFKA_DATA_DIR:-}" ]; then
    mkdir -p "$KAFKA_DATA_DIR" || kafka_fail "cannot make the data directory $KAFKA_DATA_DIR"
    KAFKA_RUN_DIR="$(cd "$KAFKA_DATA_DIR" && pwd)"
    KAFKA_KEEP_DIR=1
  fi
  if [ -n "${KAFKA_RUN_DIR:-}" ] && [ -f "$KAFKA_RUN_DIR/control.env" ]; then
    # shellcheck source=/dev/null
    source "$KAFKA_RUN_DIR/control.env"
    if kafka_ours "$KAFKA_PID"; then
      kafka_fail "a broker is already running on 127.0.0.1:$KAFKA_PORT (pid $KAFKA_PID, dir $KAFKA_RUN_DIR)"
    fi
    if [ -n "${KAFKA_WANTED_PORT:-}" ] && [ "$KAFKA_WANTED_PORT" != "$KAFKA_PORT" ]; then
      # Another client port for a kept broker: its controller's port stays (the metadata log
      # names it).
      KAFKA_PORT="$KAFKA_WANTED_PORT"
      kafka_write_config
    fi
  else
    owner=1
    if [ -z "${KAFKA_DATA_DIR:-}" ]; then
      KAFKA_RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/transit-kafka.XXXXXX")"
    fi
    KAFKA_PORT="${KAFKA_WANTED_PORT:-$(kafka_free_port)}"
    KAFKA_CONTROLLER_PORT="$(kafka_free_port)"
    while [ "$KAFKA_CONTROLLER_PORT" = "$KAFKA_PORT" ]; do KAFKA_CONTROLLER_PORT="$(kafka_free_port)"; done
    KAFKA_LOG_DIR="$KAFKA_RUN_DIR/data"
    KAFKA_LOG="$KAFKA_RUN_DIR/kafka.log"
    KAFKA_PID=""
    kafka_write_config
    # Stop and clean up when the starting shell exits, also when the start below fails.
    trap remove_kafka EXIT
  fi
  if [ -n "${KAFKA_WANTED_PORT:-}" ] && ! kafka_port_free "$KAFKA_PORT"; then
    kafka_fail "127.0.0.1:$KAFKA_PORT is in use: choose another port (--port)"
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

# The EXIT trap of the shell that started the broker: stop it and remove its directory (not a
# data directory the user named: that one is kept).
remove_kafka() {
  stop_kafka
  [ -z "${KAFKA_KEEP_DIR:-}" ] || return 0
  case "${KAFKA_RUN_DIR:-}" in
    */transit-kafka.*) rm -rf "$KAFKA_RUN_DIR" ;;
  esac
}

# `scripts/kafka.sh serve`: one broker in the foreground until SIGINT or SIGTERM, then stopped
# (and its directory removed, unless it is a kept data directory).
serve_kafka() {
  local stopping=""
  # The traps first: a signal during the start stops what was started.
  trap 'stopping=INT' INT
  trap 'stopping=TERM' TERM
  trap remove_kafka EXIT
  # A new broker listens on Kafka's usual port when it is free (a kept one on its own port).
  if [ -z "${KAFKA_WANTED_PORT:-}" ] && [ ! -f "${KAFKA_DATA_DIR:-/nonexistent}/control.env" ] \
    && kafka_port_free 9092; then
    KAFKA_WANTED_PORT=9092
  fi
  start_kafka
  trap remove_kafka EXIT  # start_kafka sets it only for a new directory
  echo "Put this line in your settings file (transit.env):"
  echo "TRANSIT_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
  if [ -n "${KAFKA_KEEP_DIR:-}" ]; then
    echo "TRANSIT_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT" >"$KAFKA_RUN_DIR/transit-kafka.env"
    echo "(also in $KAFKA_RUN_DIR/transit-kafka.env; the data stays in $KAFKA_RUN_DIR)"
  fi
  echo "Ctrl+C (SIGINT) or SIGTERM stops it."
  # `wait` returns at once when a trapped signal comes; the broker's own end ends it too.
  while [ -z "$stopping" ] && kafka_ours "$KAFKA_PID"; do
    sleep 1 &
    wait $! 2>/dev/null || true
  done
  if [ -z "$stopping" ]; then
    kafka_fail "the broker on 127.0.0.1:$KAFKA_PORT exited by itself" "$KAFKA_LOG"
  fi
  echo "kafka: SIG$stopping: stopping the broker on 127.0.0.1:$KAFKA_PORT"
  remove_kafka
  trap - EXIT
  echo "kafka: stopped${KAFKA_KEEP_DIR:+; its data is kept in $KAFKA_RUN_DIR}"
}

# ---------------------------------------------------------------------------------------------
# Clusters: several combined KRaft nodes (broker + controller) on loopback, plaintext or secured.
#
#   start_kafka_cluster 3                   # three nodes, PLAINTEXT
#   start_kafka_cluster 3 sasl_ssl          # SASL_SSL (SCRAM-SHA-256/512, PLAIN, OAUTHBEARER)
#   start_kafka_cluster 3 mtls              # SSL with ssl.client.auth=required
#   start_kafka_cluster 3 secure            # both listeners on every node
#
# Each node has a heap of KAFKA_NODE_HEAP_OPTS (-Xmx384m unless set), so three fit beside the
# tests on two cores. Topics get replication factor min(3, nodes) and min.insync.replicas
# min(2, nodes); the internal topics (groups, transactions) too.
#
# A secured cluster makes its own CA and certificates with openssl (nothing is downloaded):
# one broker certificate for 127.0.0.1/localhost, one client certificate for mTLS (its key
# encrypted), and random passwords, in files of mode 600 under $KAFKA_CLUSTER_DIR/secrets. The
# SCRAM users (`transit` for clients, `broker` between brokers) go into the metadata log when
# the nodes are formatted (`kafka-storage format --add-scram`). Secrets are in files only: none
# is printed, logged or put in an environment variable.
#
# It exports:
#   TRANSIT_TEST_KAFKA            the first secured listener of every node (SASL_SSL if there is
#                                 one), or the PLAINTEXT one
#   TRANSIT_TEST_KAFKA_CONFIG     the librdkafka properties for it (bootstrap servers, security
#                                 protocol, CA, SCRAM-SHA-512 credentials); unset on PLAINTEXT
#   TRANSIT_TEST_KAFKA_SASL_SSL, TRANSIT_TEST_KAFKA_MTLS   the properties file of each listener
#   TRANSIT_TEST_KAFKA_CONTROL    the cluster's control file, for `scripts/kafka.sh <command> <node>`
#   TRANSIT_TEST_KAFKA_NODES      how many nodes
#   KAFKA_CLUSTER_DIR             everything: nodes/<n>/ (config, data, log), tls/, secrets/
# and sets an EXIT trap (remove_kafka_cluster).
#
# The controller quorum talks PLAINTEXT on loopback (a listener of its own, which clients never
# see); brokers talk to each other over SASL_SSL with SCRAM-SHA-512 (mtls: SSL, each broker's
# certificate its client certificate).

KAFKA_NODE_HEAP_OPTS="${KAFKA_NODE_HEAP_OPTS:--Xmx384m -Xms128m}"

# A random password into a file only its owner reads.
kafka_secret() {
  (umask 077 && openssl rand -hex 24 >"$1")
}

# The CA, the broker's keystore (PKCS12) and the client's certificate and encrypted key.
kafka_make_certificates() {
  local tls="$KAFKA_CLUSTER_DIR/tls" secrets="$KAFKA_CLUSTER_DIR/secrets"
  mkdir -p "$tls"
  {
    openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=transit test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "$tls/ca.key" -out "$tls/ca.pem"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
      -keyout "$tls/broker.key" -out "$tls/broker.csr"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$tls/broker.ext"
    openssl x509 -req -days 7 -in "$tls/broker.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
      -CAcreateserial -extfile "$tls/broker.ext" -out "$tls/broker.pem"
    openssl pkcs12 -export -in "$tls/broker.pem" -inkey "$tls/broker.key" -certfile "$tls/ca.pem" \
      -name broker -passout "file:$secrets/keystore.password" -out "$tls/broker.p12"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=transit-client" \
      -keyout "$tls/client.plain.key" -out "$tls/client.csr"
    printf 'extendedKeyUsage=clientAuth\n' >"$tls/client.ext"
    openssl x509 -req -days 7 -in "$tls/client.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
      -CAcreateserial -extfile "$tls/client.ext" -out "$tls/client.pem"
    openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$tls/client.plain.key" \
      -passout "file:$secrets/client-key.password" -out "$tls/client.key"
  } >>"$KAFKA_CLUSTER_DIR/tls.log" 2>&1 || kafka_fail "making the test CA and certificates failed" "$KAFKA_CLUSTER_DIR/tls.log"
  rm -f "$tls/client.plain.key" "$tls/broker.key" "$tls/ca.key" "$tls"/*.csr
  chmod 600 "$tls/client.key" "$tls/broker.p12"
}

# One node's server.properties: $1 node id, then the cluster's settings in globals.
kafka_write_node_config() {
  local id="$1" dir="$KAFKA_CLUSTER_DIR/nodes/$1" listeners="" advertised="" map="CONTROLLER:PLAINTEXT"
  local replicas=$((KAFKA_NODES < 3 ? KAFKA_NODES : 3)) min_isr=$((KAFKA_NODES < 2 ? KAFKA_NODES : 2))
  local port name
  for name in $KAFKA_LISTENERS; do
    port="$(kafka_node_port "$id" "$name")"
    listeners+="$name://127.0.0.1:$port,"
    advertised+="$name://127.0.0.1:$port,"
    map+=",$name:$name"
  done
  local secrets="$KAFKA_CLUSTER_DIR/secrets" tls="$KAFKA_CLUSTER_DIR/tls"
  (umask 077 && cat >"$dir/server.properties") <<PROPS
# Node $id of a cluster of $KAFKA_NODES combined KRaft nodes (start_kafka_cluster).
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$KAFKA_VOTERS
listeners=${listeners}CONTROLLER://127.0.0.1:$(kafka_node_port "$id" CONTROLLER)
advertised.listeners=${advertised%,}
controller.listener.names=CONTROLLER
inter.broker.listener.name=$KAFKA_INTER_BROKER
listener.security.protocol.map=$map
log.dirs=$dir/data
num.partitions=1
default.replication.factor=$replicas
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$replicas
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=$replicas
transaction.state.log.min.isr=$min_isr
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=$replicas
share.coordinator.state.topic.min.isr=$min_isr
group.initial.rebalance.delay.ms=0
# A node that was killed is back in the ISR soon after its restart.
replica.lag.time.max.ms=10000
PROPS
  if [ "$KAFKA_SECURITY" != plaintext ]; then
    cat >>"$dir/server.properties" <<PROPS
ssl.keystore.type=PKCS12
ssl.keystore.location=$tls/broker.p12
ssl.keystore.password=$(cat "$secrets/keystore.password")
ssl.key.password=$(cat "$secrets/keystore.password")
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem
PROPS
  fi
  case " $KAFKA_LISTENERS " in *" SASL_SSL "*)
    cat >>"$dir/server.properties" <<PROPS
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN,OAUTHBEARER
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="$(cat "$secrets/broker.password")";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_transit="$(cat "$secrets/transit.password")";
# OAUTHBEARER with Kafka's unsecured validator (unsigned tokens: a test of the client's SASL
# path only; a real deployment validates signed tokens against its identity provider).
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
PROPS
  esac
  case " $KAFKA_LISTENERS " in *" SSL "*)
    echo "listener.name.ssl.ssl.client.auth=required" >>"$dir/server.properties"
  esac
  cp "$KAFKA_CLUSTER_DIR/log4j2.properties" "$dir/log4j2.properties"
}

# The port of a node's listener, from the cluster's control file.
kafka_node_port() {
  local var="KAFKA_NODE$1_$2"
  printf '%s' "${!var}"
}

# A librdkafka properties file for one listener, for clients (transit, Confluent's Python).
kafka_write_client_config() {
  local name="$1" file="$2" servers="" id
  for id in $(seq 1 "$KAFKA_NODES"); do
    servers+="127.0.0.1:$(kafka_node_port "$id" "$name"),"
  done
  local secrets="$KAFKA_CLUSTER_DIR/secrets" tls="$KAFKA_CLUSTER_DIR/tls"
  case "$name" in
    SASL_SSL)
      (umask 077 && cat >"$file") <<PROPS
# The test cluster's SASL_SSL listener, SCRAM-SHA-512 (start_kafka_cluster).
bootstrap.servers=${servers%,}
security.protocol=SASL_SSL
sasl.mechanisms=SCRAM-SHA-512
sasl.username=transit
sasl.password=$(cat "$secrets/transit.password")
ssl.ca.location=$tls/ca.pem
PROPS
      ;;
    SSL)
      (umask 077 && cat >"$file") <<PROPS
# The test cluster's mTLS listener (ssl.client.auth=required; start_kafka_cluster).
bootstrap.servers=${servers%,}
security.protocol=SSL
ssl.ca.location=$tls/ca.pem
ssl.certificate.location=$tls/client.pem
ssl.key.location=$tls/client.key
ssl.key.password=$(cat "$secrets/client-key.password")
PROPS
      ;;
  esac
}

# Launches one node from its control file, without waiting.
kafka_node_launch() {
  # A node's settings in locals: a single broker's globals (start_kafka) stay as they were.
  local KAFKA_RUN_DIR KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_PID KAFKA_LOG_DIR KAFKA_LOG KAFKA_COMMAND KAFKA_HEAP_OPTS KAFKA_READY_BY
  KAFKA_RUN_DIR="$KAFKA_CLUSTER_DIR/nodes/$1"
  # shellcheck source=/dev/null
  source "$KAFKA_RUN_DIR/control.env"
  if [ -n "$KAFKA_PID" ] && kafka_alive "$KAFKA_PID"; then
    kafka_fail "node $1 is already running (pid $KAFKA_PID)"
  fi
  # Where its log stands now: ready means "started" written after this.
  if [ -f "$KAFKA_LOG" ]; then wc -c <"$KAFKA_LOG"; else echo 0; fi >"$KAFKA_RUN_DIR/log.offset"
  kafka_command
  "${KAFKA_CMD[@]}" </dev/null >>"$KAFKA_LOG" 2>&1 &
  KAFKA_PID=$!
  kafka_write_control
}

# Waits until node $1 has started: its log says so since the launch.
kafka_node_wait() {
  local KAFKA_RUN_DIR KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_PID KAFKA_LOG_DIR KAFKA_LOG KAFKA_COMMAND KAFKA_HEAP_OPTS KAFKA_READY_BY
  local deadline=$((SECONDS + KAFKA_START_TIMEOUT)) offset
  KAFKA_RUN_DIR="$KAFKA_CLUSTER_DIR/nodes/$1"
  # shellcheck source=/dev/null
  source "$KAFKA_RUN_DIR/control.env"
  offset="$(cat "$KAFKA_RUN_DIR/log.offset")"
  until [ "$(tail -c +"$((offset + 1))" "$KAFKA_LOG" | grep -c 'Kafka Server started')" -gt 0 ]; do
    kafka_alive "$KAFKA_PID" || kafka_fail "node $1 exited during start" "$KAFKA_LOG"
    if [ "$SECONDS" -ge "$deadline" ]; then
      kafka_fail "node $1 did not start within ${KAFKA_START_TIMEOUT}s" "$KAFKA_LOG"
    fi
    sleep 0.25
  done
}

# Sends a signal to node $1, if it runs, without waiting.
kafka_node_signal() {
  local KAFKA_RUN_DIR="$KAFKA_CLUSTER_DIR/nodes/$1" KAFKA_PID
  [ -f "$KAFKA_RUN_DIR/control.env" ] || return 0
  KAFKA_PID="$(sed -n 's/^KAFKA_PID=//p' "$KAFKA_RUN_DIR/control.env")"
  if [ -n "$KAFKA_PID" ] && kafka_alive "$KAFKA_PID" \
    && grep -qF "$KAFKA_RUN_DIR/server.properties" "/proc/$KAFKA_PID/cmdline" 2>/dev/null; then
    kill -s "$2" "$KAFKA_PID" 2>/dev/null || true
  fi
}

kafka_node_stop() {  # $1 node, $2 signal (TERM unless given)
  local KAFKA_RUN_DIR KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_PID KAFKA_LOG_DIR KAFKA_LOG KAFKA_COMMAND KAFKA_HEAP_OPTS KAFKA_READY_BY
  KAFKA_RUN_DIR="$KAFKA_CLUSTER_DIR/nodes/$1"
  stop_kafka "${2:-TERM}"
}

kafka_cluster_exports() {
  local id servers="" first=""
  for id in $(seq 1 "$KAFKA_NODES"); do
    servers+="127.0.0.1:$(kafka_node_port "$id" "${KAFKA_LISTENERS%% *}"),"
  done
  export TRANSIT_TEST_KAFKA="${servers%,}" TRANSIT_TEST_KAFKA_NODES="$KAFKA_NODES"
  export TRANSIT_TEST_KAFKA_CONTROL="$KAFKA_CLUSTER_DIR/cluster.env" KAFKA_CLUSTER_DIR
  unset TRANSIT_TEST_KAFKA_CONFIG TRANSIT_TEST_KAFKA_SASL_SSL TRANSIT_TEST_KAFKA_MTLS
  [ -f "$KAFKA_CLUSTER_DIR/client-sasl-ssl.properties" ] \
    && export TRANSIT_TEST_KAFKA_SASL_SSL="$KAFKA_CLUSTER_DIR/client-sasl-ssl.properties" \
    && first="${first:-$TRANSIT_TEST_KAFKA_SASL_SSL}"
  [ -f "$KAFKA_CLUSTER_DIR/client-mtls.properties" ] \
    && export TRANSIT_TEST_KAFKA_MTLS="$KAFKA_CLUSTER_DIR/client-mtls.properties" \
    && first="${first:-$TRANSIT_TEST_KAFKA_MTLS}"
  if [ -n "$first" ]; then export TRANSIT_TEST_KAFKA_CONFIG="$first"; fi
}

start_kafka_cluster() {
  local nodes="${1:-3}" security="${2:-${KAFKA_SECURITY:-plaintext}}" id name port voters="" taken=" "
  local KAFKA_RUN_DIR KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_PID KAFKA_LOG_DIR KAFKA_LOG KAFKA_COMMAND KAFKA_HEAP_OPTS KAFKA_READY_BY
  case "$nodes" in [1-9]) ;; *) kafka_fail "a cluster has 1 to 9 nodes, not '$nodes'" ;; esac
  install_kafka
  KAFKA_CLUSTER_DIR="$(mktemp -d "${TMPDIR:-/tmp}/transit-kafka-cluster.XXXXXX")"
  KAFKA_NODES="$nodes"
  KAFKA_SECURITY="$security"
  case "$security" in
    plaintext) KAFKA_LISTENERS="PLAINTEXT"; KAFKA_INTER_BROKER=PLAINTEXT ;;
    sasl_ssl) KAFKA_LISTENERS="SASL_SSL"; KAFKA_INTER_BROKER=SASL_SSL ;;
    mtls) KAFKA_LISTENERS="SSL"; KAFKA_INTER_BROKER=SSL ;;
    secure) KAFKA_LISTENERS="SASL_SSL SSL"; KAFKA_INTER_BROKER=SASL_SSL ;;
    *) kafka_fail "unknown security mode '$security' (plaintext, sasl_ssl, mtls or secure)" ;;
  esac
  trap remove_kafka_cluster EXIT
  mkdir -p "$KAFKA_CLUSTER_DIR/secrets"
  chmod 700 "$KAFKA_CLUSTER_DIR" "$KAFKA_CLUSTER_DIR/secrets"
  {
    printf 'KAFKA_CLUSTER_DIR=%q\nKAFKA_NODES=%q\nKAFKA_SECURITY=%q\n' "$KAFKA_CLUSTER_DIR" "$nodes" "$security"
    printf 'KAFKA_LISTENERS=%q\nKAFKA_INTER_BROKER=%q\n' "$KAFKA_LISTENERS" "$KAFKA_INTER_BROKER"
    for id in $(seq 1 "$nodes"); do
      for name in $KAFKA_LISTENERS CONTROLLER; do
        # Ports are taken one at a time and released at once: the system may hand the same
        # one out twice, so a port already given to another listener is asked for again.
        port="$(kafka_free_port)"
        while [[ "$taken" == *" $port "* ]]; do
          port="$(kafka_free_port)"
        done
        taken+="$port "
        printf 'KAFKA_NODE%s_%s=%q\n' "$id" "$name" "$port"
        declare -g "KAFKA_NODE${id}_${name}=$port"
      done
      voters+="$id@127.0.0.1:$(kafka_node_port "$id" CONTROLLER),"
    done
  } >"$KAFKA_CLUSTER_DIR/cluster.env"
  KAFKA_VOTERS="${voters%,}"
  echo "KAFKA_VOTERS=$KAFKA_VOTERS" >>"$KAFKA_CLUSTER_DIR/cluster.env"

  # The format's arguments in a java @-file of mode 600: the SCRAM passwords stay out of the
  # process list.
  local format_args="$KAFKA_CLUSTER_DIR/secrets/format.args"
  (umask 077 && : >"$format_args")
  if [ "$security" != plaintext ]; then
    for name in keystore client-key transit broker; do kafka_secret "$KAFKA_CLUSTER_DIR/secrets/$name.password"; done
    kafka_make_certificates
    local transit_pw broker_pw
    transit_pw="$(cat "$KAFKA_CLUSTER_DIR/secrets/transit.password")"
    broker_pw="$(cat "$KAFKA_CLUSTER_DIR/secrets/broker.password")"
    printf '%s\n' --add-scram "SCRAM-SHA-512=[name=transit,password=$transit_pw]" \
      --add-scram "SCRAM-SHA-256=[name=transit,password=$transit_pw]" \
      --add-scram "SCRAM-SHA-512=[name=broker,password=$broker_pw]" >>"$format_args"
  fi
  KAFKA_RUN_DIR="$KAFKA_CLUSTER_DIR"
  kafka_write_log4j
  local cluster_id
  cluster_id="$(python3 -c 'import base64, os
while (u := base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")).startswith("-"): pass
print(u)')"
  for id in $(seq 1 "$nodes"); do
    mkdir -p "$KAFKA_CLUSTER_DIR/nodes/$id"
    kafka_write_node_config "$id"
    # (The @-file holds the main class and its arguments: java expands it before reading them.)
    { printf '%s\n' kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_CLUSTER_DIR/nodes/$id/server.properties"
      cat "$format_args"; } >"$KAFKA_CLUSTER_DIR/secrets/format-$id.args"
    chmod 600 "$KAFKA_CLUSTER_DIR/secrets/format-$id.args"
    "$KAFKA_JAVA" -Xmx256m -cp "$KAFKA_CACHE/libs/*" "@$KAFKA_CLUSTER_DIR/secrets/format-$id.args" \
      >>"$KAFKA_CLUSTER_DIR/nodes/$id/format.log" 2>&1 \
      || kafka_fail "formatting node $id failed" "$KAFKA_CLUSTER_DIR/nodes/$id/format.log"
    # The node's control file, as start_kafka writes it for a single broker.
    KAFKA_RUN_DIR="$KAFKA_CLUSTER_DIR/nodes/$id"
    KAFKA_PORT="$(kafka_node_port "$id" "${KAFKA_LISTENERS%% *}")"
    KAFKA_CONTROLLER_PORT="$(kafka_node_port "$id" CONTROLLER)"
    KAFKA_LOG_DIR="$KAFKA_RUN_DIR/data" KAFKA_LOG="$KAFKA_RUN_DIR/kafka.log" KAFKA_PID=""
    KAFKA_READY_BY=log KAFKA_HEAP_OPTS="$KAFKA_NODE_HEAP_OPTS" kafka_write_control
  done
  for name in $KAFKA_LISTENERS; do
    case "$name" in
      SASL_SSL) kafka_write_client_config SASL_SSL "$KAFKA_CLUSTER_DIR/client-sasl-ssl.properties" ;;
      SSL) kafka_write_client_config SSL "$KAFKA_CLUSTER_DIR/client-mtls.properties" ;;
    esac
  done
  # All at once: a node has no quorum alone.
  for id in $(seq 1 "$nodes"); do kafka_node_launch "$id"; done
  for id in $(seq 1 "$nodes"); do kafka_node_wait "$id"; done
  kafka_cluster_exports
  echo "Apache Kafka $KAFKA_VERSION: $nodes nodes ($security) ready on $TRANSIT_TEST_KAFKA (dir $KAFKA_CLUSTER_DIR)"
}

# Loads a cluster's control file (a cluster another shell started).
kafka_load_cluster() {
  # shellcheck source=/dev/null
  source "$1"
}

# `scripts/kafka.sh stop|kill|start|restart <node>` on a cluster; restart without a node
# restarts every node in turn (a rolling restart), each back before the next goes down.
kafka_cluster_command() {
  local command="$1" node="${2:-}" id
  case "$command" in
    stop) [ -n "$node" ] || kafka_fail "stop needs a node (1..$KAFKA_NODES)"; kafka_node_stop "$node" ;;
    kill) [ -n "$node" ] || kafka_fail "kill needs a node (1..$KAFKA_NODES)"; kafka_node_stop "$node" KILL ;;
    start) [ -n "$node" ] || kafka_fail "start needs a node (1..$KAFKA_NODES)"; kafka_node_launch "$node"; kafka_node_wait "$node" ;;
    restart)
      for id in ${node:-$(seq 1 "$KAFKA_NODES")}; do
        kafka_node_stop "$id"
        kafka_node_launch "$id"
        kafka_node_wait "$id"
      done
      ;;
  esac
  echo "kafka: $command ${node:-all nodes} done"
}

# The EXIT trap of the shell that started the cluster: stop every node, remove the directory.
remove_kafka_cluster() {
  local id
  [ -n "${KAFKA_CLUSTER_DIR:-}" ] && [ -f "$KAFKA_CLUSTER_DIR/cluster.env" ] || return 0
  kafka_load_cluster "$KAFKA_CLUSTER_DIR/cluster.env"
  # SIGTERM to every node at once, then wait for each: one by one, the last nodes would wait
  # for a controller quorum that is gone. The data goes away, so a short wait is enough.
  for id in $(seq 1 "$KAFKA_NODES"); do
    kafka_node_signal "$id" TERM
  done
  for id in $(seq 1 "$KAFKA_NODES"); do
    [ -f "$KAFKA_CLUSTER_DIR/nodes/$id/control.env" ] && KAFKA_STOP_TIMEOUT=15 kafka_node_stop "$id"
  done
  case "$KAFKA_CLUSTER_DIR" in
    */transit-kafka-cluster.*) rm -rf "$KAFKA_CLUSTER_DIR" ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  # A script's background job starts with SIGINT ignored, and bash cannot trap a signal ignored
  # on entry: the script starts itself again with SIGINT and SIGQUIT at their defaults first.
  if [ -z "${KAFKA_SIGNALS_RESET:-}" ]; then
    KAFKA_SIGNALS_RESET=1 exec python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
signal.signal(signal.SIGQUIT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$BASH" "$0" "$@"
  fi
  unset KAFKA_SIGNALS_RESET  # a kafka.sh this one runs resets its own
  cd "$(dirname "$0")/.."
  brokers="" security=""
  KAFKA_DATA_DIR="${TRANSIT_KAFKA_DATA_DIR:-}"
  KAFKA_WANTED_PORT="${TRANSIT_KAFKA_PORT:-}"
  while [ $# -gt 0 ]; do
    case "$1" in
      --data-dir) KAFKA_DATA_DIR="$2"; shift 2 ;;
      --data-dir=*) KAFKA_DATA_DIR="${1#*=}"; shift ;;
      --port) KAFKA_WANTED_PORT="$2"; shift 2 ;;
      --port=*) KAFKA_WANTED_PORT="${1#*=}"; shift ;;
      --brokers) brokers="$2"; shift 2 ;;
      --brokers=*) brokers="${1#*=}"; shift ;;
      --security) security="$2"; shift 2 ;;
      --security=*) security="${1#*=}"; shift ;;
      *) break ;;
    esac
  done
  case "${1:-}" in
    "")
      echo "usage: scripts/kafka.sh [--brokers N] [--security plaintext|sasl_ssl|mtls|secure] <command...>" >&2
      echo "       scripts/kafka.sh [--data-dir DIR] [--port PORT] serve" >&2
      echo "       scripts/kafka.sh install | start | stop | restart | kill [node]" >&2
      exit 2
      ;;
    serve)
      [ -z "$brokers$security" ] || kafka_fail "serve runs one plaintext broker (no --brokers, --security)"
      case "$KAFKA_WANTED_PORT" in "" | [0-9]*) ;; *) kafka_fail "--port takes a number, not '$KAFKA_WANTED_PORT'" ;; esac
      serve_kafka
      ;;
    install)
      install_kafka
      echo "Apache Kafka $KAFKA_VERSION is in $KAFKA_CACHE/libs"
      ;;
    start | stop | restart | kill)
      # Control the broker or cluster that another shell started (TRANSIT_TEST_KAFKA_CONTROL).
      [ -f "${TRANSIT_TEST_KAFKA_CONTROL:-}" ] \
        || kafka_fail "'$1' needs TRANSIT_TEST_KAFKA_CONTROL, the control file of a running start_kafka (got '${TRANSIT_TEST_KAFKA_CONTROL:-}')"
      if [ "$(basename "$TRANSIT_TEST_KAFKA_CONTROL")" = cluster.env ]; then
        kafka_load_cluster "$TRANSIT_TEST_KAFKA_CONTROL"
        kafka_cluster_command "$1" "${2:-}"
        exit 0
      fi
      KAFKA_RUN_DIR="$(dirname "$TRANSIT_TEST_KAFKA_CONTROL")"
      case "$1" in
        start) start_kafka ;;
        stop) stop_kafka ;;
        restart) restart_kafka ;;
        kill) stop_kafka KILL ;;
      esac
      ;;
    *)
      # Run the arguments with a fresh broker (or cluster), which the EXIT trap then stops.
      if [ -n "$brokers$security" ]; then
        start_kafka_cluster "${brokers:-1}" "${security:-plaintext}"
      else
        start_kafka
      fi
      # The command runs in the background so a signal to this script is handled at once: it
      # is passed on to the command (as SIGTERM: a background job of a script ignores SIGINT),
      # and once the command ended the EXIT trap stops the broker. Its stdin stays this
      # script's. At a terminal, Ctrl+C reaches this script, which passes it on.
      "$@" <&0 &
      command_pid=$!
      signalled=""
      trap 'signalled=130; kill -s TERM "$command_pid" 2>/dev/null || true' INT
      trap 'signalled=143; kill -s TERM "$command_pid" 2>/dev/null || true' TERM
      status=0
      # `wait` returns early when a trapped signal comes: wait again until the command ended.
      while true; do
        wait "$command_pid" && status=0 || status=$?
        kill -0 "$command_pid" 2>/dev/null || break
      done
      exit "${signalled:-$status}"
      ;;
  esac
fi
