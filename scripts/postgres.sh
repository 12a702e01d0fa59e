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
#
# TLS and a password, for the tests of `sslmode=require`/`verify-full` and SCRAM: the script
# makes a CA and a server certificate for localhost and 127.0.0.1 with openssl (nothing is
# downloaded), turns `ssl=on` with them, and creates the role `transit_tls` with a random
# SCRAM-SHA-256 password that may log in over TLS only (`hostssl` lines ahead of the trust
# ones; every other role keeps trust). Its files are in TRANSIT_TEST_POSTGRES_TLS_DIR
# (/var/lib/postgresql/transit-tls unless set): ca.crt, the CA to trust; wrong-ca.crt, a CA
# that signed nothing (for the refusal tests); password, the role's password.

POSTGRES_DEFAULT_URL="postgres://postgres@127.0.0.1:5432/postgres"
POSTGRES_TLS_ROLE="transit_tls"

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

# Whether the TLS role logs in over TLS with its password and the CA checked (libpq's own
# verify-full, as a cross-check of what the Rust tests do).
postgres_tls_answers() {
  local dir="$TRANSIT_TEST_POSTGRES_TLS_DIR"
  [ -s "$dir/ca.crt" ] && [ -s "$dir/password" ] && [ -s "$dir/wrong-ca.crt" ] || return 1
  PGPASSWORD="$(cat "$dir/password")" psql \
    "postgres://$POSTGRES_TLS_ROLE@localhost:5432/postgres?sslmode=verify-full&sslrootcert=$dir/ca.crt" \
    -Atc 'select ssl from pg_stat_ssl where pid = pg_backend_pid()' 2>/dev/null | grep -qx t
}

# The CA, the server certificate and key, the wrong CA, and the role's password, made once.
make_postgres_tls_files() {
  local dir="$TRANSIT_TEST_POSTGRES_TLS_DIR" log
  log="$(mktemp)"
  as_root install -d -o postgres -g postgres -m 0755 "$dir"
  if ! as_root test -s "$dir/server.key" || ! as_root test -s "$dir/ca.crt" \
    || ! as_root openssl x509 -checkend 86400 -noout -in "$dir/server.crt" >/dev/null 2>&1; then
    {
      as_root openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=transit test CA" \
        -keyout "$dir/ca.key" -out "$dir/ca.crt" \
      && as_root openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
        -subj "/CN=transit wrong CA" -keyout "$dir/wrong-ca.key" -out "$dir/wrong-ca.crt" \
      && as_root openssl req -new -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout "$dir/server.key" -out "$dir/server.csr" \
      && printf 'subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\nextendedKeyUsage = serverAuth\n' \
        | as_root tee "$dir/server.ext" >/dev/null \
      && as_root openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 3650 -extfile "$dir/server.ext" -out "$dir/server.crt"
    } >"$log" 2>&1 || postgres_fail "making the test certificates with openssl failed" "$log"
    as_root rm -f "$dir/server.csr" "$dir/server.ext" "$dir/ca.srl"
    # PostgreSQL refuses a key others can read; the CAs' keys are only ever needed here.
    as_root chown postgres:postgres "$dir"/*
    as_root chmod 0600 "$dir/server.key" "$dir/ca.key" "$dir/wrong-ca.key"
    as_root chmod 0644 "$dir/ca.crt" "$dir/wrong-ca.crt" "$dir/server.crt"
  fi
  if ! as_root test -s "$dir/password"; then
    # A throwaway role on loopback of a test machine: the password is readable by the tests.
    openssl rand -hex 16 | as_root tee "$dir/password" >/dev/null
    as_root chmod 0644 "$dir/password"
  fi
  rm -f "$log"
}

# The role with its SCRAM password (set again each time, so the file and the role agree). It
# owns nothing and may create nothing: tests give it a schema of their own.
make_postgres_tls_role() {
  local password
  password="$(cat "$TRANSIT_TEST_POSTGRES_TLS_DIR/password")"
  # printf is a shell builtin: the password goes through a pipe, not a command line.
  printf "SET password_encryption = 'scram-sha-256';
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN CREATE ROLE %s LOGIN; END IF;
END \$\$;
ALTER ROLE %s LOGIN PASSWORD '%s';\n" \
    "$POSTGRES_TLS_ROLE" "$POSTGRES_TLS_ROLE" "$POSTGRES_TLS_ROLE" "$password" \
    | psql "$TRANSIT_TEST_POSTGRES_URL" -q -v ON_ERROR_STOP=1 >/dev/null \
    || postgres_fail "creating the role $POSTGRES_TLS_ROLE failed"
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
  export TRANSIT_TEST_POSTGRES_TLS_DIR="${TRANSIT_TEST_POSTGRES_TLS_DIR:-/var/lib/postgresql/transit-tls}"
  if postgres_answers "$TRANSIT_TEST_POSTGRES_URL" && postgres_tls_answers; then
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
  make_postgres_tls_files
  # Port 5432 on loopback, whatever port the package picked (it takes the next free one), and
  # TLS with the test CA's certificate.
  printf "# Written by scripts/postgres.sh for the tests.\nlisten_addresses = 'localhost'\nport = 5432\nssl = on\nssl_cert_file = '%s/server.crt'\nssl_key_file = '%s/server.key'\nssl_ca_file = ''\npassword_encryption = 'scram-sha-256'\n" \
    "$TRANSIT_TEST_POSTGRES_TLS_DIR" "$TRANSIT_TEST_POSTGRES_TLS_DIR" \
    | as_root tee "$conf/conf.d/transit.conf" >/dev/null
  # Trust before Debian's peer/scram lines: pg_hba.conf takes the first line that matches.
  hba="$conf/pg_hba.conf"
  if ! as_root grep -q '^# transit: trust' "$hba"; then
    as_root sed -i '1i # transit: trust local connections (scripts/postgres.sh)\
local   all   all                  trust\
host    all   all   127.0.0.1/32   trust\
host    all   all   ::1/128        trust' "$hba"
  fi
  # The TLS role: a SCRAM password over TLS only, ahead of the trust lines above.
  if ! as_root grep -q '^# transit: tls' "$hba"; then
    as_root sed -i "1i # transit: tls role, SCRAM over TLS only (scripts/postgres.sh)\\
hostssl     all   $POSTGRES_TLS_ROLE   127.0.0.1/32   scram-sha-256\\
hostssl     all   $POSTGRES_TLS_ROLE   ::1/128        scram-sha-256\\
hostnossl   all   $POSTGRES_TLS_ROLE   0.0.0.0/0      reject\\
hostnossl   all   $POSTGRES_TLS_ROLE   ::/0           reject\\
local       all   $POSTGRES_TLS_ROLE                  reject" "$hba"
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
  make_postgres_tls_role
  postgres_tls_answers \
    || postgres_fail "PostgreSQL $version does not let $POSTGRES_TLS_ROLE in over TLS (sslmode=verify-full, CA $TRANSIT_TEST_POSTGRES_TLS_DIR/ca.crt)" "$log"
  echo "PostgreSQL $version is ready at $TRANSIT_TEST_POSTGRES_URL, and over TLS for $POSTGRES_TLS_ROLE (files in $TRANSIT_TEST_POSTGRES_TLS_DIR)"
}

# Run as a command: make sure PostgreSQL runs, then run the arguments (it keeps running).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  start_postgres
  if [ "$#" -gt 0 ]; then "$@"; fi
fi
