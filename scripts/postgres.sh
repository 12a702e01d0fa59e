#!/usr/bin/env bash
# PostgreSQL for the tests: Debian's `postgresql` package, its cluster `main` on 127.0.0.1:5432,
# and trust authentication for local connections, so the tests connect as `postgres` without a
# password (a throwaway test database on a test machine; never do this on a shared host).
#
#   source scripts/postgres.sh && start_postgres   # sets TRANSIT_TEST_POSTGRES_URL
#   scripts/postgres.sh [command...]               # the same, then runs the command
#
# Installs the package with apt-get when no server is installed (a minute or two, once per
# machine); on a warm machine where the cluster answers it returns at once. With
# TRANSIT_TEST_POSTGRES_URL set it only checks that that server answers. PostgreSQL is left
# running (there is no systemd here: pg_ctlcluster --skip-systemctl-redirect starts it).

POSTGRES_DEFAULT_URL="postgres://postgres@127.0.0.1:5432/postgres"

postgres_fail() {
  echo "postgres: $1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    echo "--- last lines of $2 ---" >&2
    tail -n 30 "$2" >&2
  fi
  exit 1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

postgres_answers() {
  command -v psql >/dev/null && psql "$1" -Atc 'select 1' >/dev/null 2>&1
}

# The newest installed server version (e.g. 15), or nothing.
postgres_version() {
  find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null \
    | cut -d/ -f5 | sort -V | tail -n 1
}

install_postgres() {
  if [ -n "$(postgres_version)" ] && command -v pg_ctlcluster >/dev/null; then
    return
  fi
  command -v apt-get >/dev/null || postgres_fail "no PostgreSQL server and no apt-get: install PostgreSQL or set TRANSIT_TEST_POSTGRES_URL"
  printf '\n==> installing PostgreSQL (Debian: postgresql) with apt-get, once per machine\n'
  local log
  log="$(mktemp)"
  { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >"$log" 2>&1 \
    || postgres_fail "apt-get install postgresql failed" "$log"
  rm -f "$log"
  [ -n "$(postgres_version)" ] || postgres_fail "apt-get installed postgresql but no server binary is under /usr/lib/postgresql"
}

start_postgres() {
  if [ -n "${TRANSIT_TEST_POSTGRES_URL:-}" ]; then
    # Someone else's server: only check it.
    postgres_answers "$TRANSIT_TEST_POSTGRES_URL" \
      || postgres_fail "TRANSIT_TEST_POSTGRES_URL=$TRANSIT_TEST_POSTGRES_URL does not answer 'select 1' (psql)"
    return
  fi
  export TRANSIT_TEST_POSTGRES_URL="$POSTGRES_DEFAULT_URL"
  if postgres_answers "$TRANSIT_TEST_POSTGRES_URL"; then
    return  # warm machine: already running and configured
  fi
  install_postgres
  local version conf hba log
  version="$(postgres_version)"
  conf="/etc/postgresql/$version/main"
  log="/var/log/postgresql/postgresql-$version-main.log"
  if [ ! -d "$conf" ]; then
    as_root pg_createcluster "$version" main >/dev/null || postgres_fail "pg_createcluster $version main failed"
  fi
  # Port 5432 on loopback, whatever port the package picked (it takes the next free one).
  printf "# Written by scripts/postgres.sh for the tests.\nlisten_addresses = 'localhost'\nport = 5432\n" \
    | as_root tee "$conf/conf.d/transit.conf" >/dev/null
  # Trust before Debian's peer/scram lines: pg_hba.conf takes the first line that matches.
  hba="$conf/pg_hba.conf"
  if ! as_root grep -q '^# transit: trust' "$hba"; then
    as_root sed -i '1i # transit: trust local connections (scripts/postgres.sh)\
local   all   all                  trust\
host    all   all   127.0.0.1/32   trust\
host    all   all   ::1/128        trust' "$hba"
  fi
  as_root install -d -o postgres -g postgres -m 2775 /var/run/postgresql
  if pg_lsclusters -h "$version" main 2>/dev/null | grep -q online; then
    # Running on another port or with the old pg_hba.conf: restart for the port.
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main restart \
      || postgres_fail "pg_ctlcluster $version main restart failed" "$log"
  else
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start \
      || postgres_fail "pg_ctlcluster $version main start failed" "$log"
  fi
  local deadline=$((SECONDS + 30))
  until postgres_answers "$TRANSIT_TEST_POSTGRES_URL"; do
    [ "$SECONDS" -lt "$deadline" ] \
      || postgres_fail "PostgreSQL $version does not answer at $TRANSIT_TEST_POSTGRES_URL after 30 s" "$log"
    sleep 0.5
  done
  echo "PostgreSQL $version is ready at $TRANSIT_TEST_POSTGRES_URL"
}

# Run as a command: make sure PostgreSQL runs, then run the arguments (it keeps running).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  start_postgres
  if [ "$#" -gt 0 ]; then "$@"; fi
fi
