#!/usr/bin/env bash
# The Kafka-protocol broker the tests run against: tansu (Apache-2.0), in memory, on a free
# loopback port.
#
#   source scripts/tansu.sh && start_tansu     # sets TRANSIT_TEST_KAFKA=127.0.0.1:<port>
#   scripts/tansu.sh cargo bench --bench kafka_throughput   # runs a command with a broker
#
# tansu is installed once per machine with cargo into ~/.cargo/bin (about 10 minutes); later
# runs reuse it. The broker is stopped when the calling shell exits.

TANSU_VERSION="${TANSU_VERSION:-}"

install_tansu() {
  if command -v tansu >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/tansu" ]; then
    return
  fi
  printf '\n==> installing tansu (Kafka-protocol broker) with cargo: about 10 minutes, once per machine\n'
  cargo install --locked tansu --features dynostore ${TANSU_VERSION:+--version "$TANSU_VERSION"}
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_tansu() {
  install_tansu
  local tansu port log deadline
  tansu="$(command -v tansu || echo "$HOME/.cargo/bin/tansu")"
  port="$(free_port)"
  log="${TMPDIR:-/tmp}/tansu-$port.log"
  "$tansu" broker \
    --storage-engine memory://tansu/ \
    --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" \
    >"$log" 2>&1 &
  TANSU_PID=$!
  trap stop_tansu EXIT
  deadline=$((SECONDS + 30))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! kill -0 "$TANSU_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "tansu did not start on 127.0.0.1:$port; its log ($log):" >&2
      tail -n 40 "$log" >&2
      exit 1
    fi
    sleep 0.2
  done
  export TRANSIT_TEST_KAFKA="127.0.0.1:$port"
  echo "tansu is listening on $TRANSIT_TEST_KAFKA (pid $TANSU_PID, log $log)"
}

stop_tansu() {
  if [ -n "${TANSU_PID:-}" ] && kill -0 "$TANSU_PID" 2>/dev/null; then
    kill "$TANSU_PID" 2>/dev/null || true
    wait "$TANSU_PID" 2>/dev/null || true
  fi
}

# Run as a command: start a broker, run the arguments with it, stop it.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  start_tansu
  "$@"
fi
