#!/usr/bin/env bash
# Real GTFS feeds for transit-gtfs-reader's integration tests, downloaded once per machine and
# kept out of the repository (each beside its own licence):
#
#   - gtfs-kit 13.0.1's sdist (PyPI): data/nyc_subway_gtfs.zip (NYC subway lines 1 and 2) and
#     data/sample_gtfs.zip (a small demo feed), with the sdist's LICENSE;
#   - sample-gtfs-feed 0.13.0 (npm): package/gtfs.zip (two agencies in two time zones,
#     frequencies), with the package's licence.
#
#   source scripts/feeds.sh && need_feeds   # sets TRANSIT_TEST_FEEDS=<dir>
#   scripts/feeds.sh                        # the same, then prints the directory
#
# The cache is ${TRANSIT_FEEDS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/transit/feeds}; later runs
# only check that the three zips are there.

FEEDS_GTFS_KIT_VERSION="13.0.1"
FEEDS_SAMPLE_GTFS_FEED_VERSION="0.13.0"

feeds_fail() {
  echo "feeds: $1" >&2
  exit 1
}

need_feeds() {
  local dir="${TRANSIT_FEEDS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/transit/feeds}"
  if [ -s "$dir/nyc_subway_gtfs.zip" ] && [ -s "$dir/sample_gtfs.zip" ] && [ -s "$dir/sample-gtfs-feed.zip" ]; then
    export TRANSIT_TEST_FEEDS="$dir"
    return
  fi
  printf '\n==> downloading the test GTFS feeds into %s (once per machine)\n' "$dir"
  # In a subshell, so its temporary folder goes however it ends and a failure does not end a
  # shell that sourced this file.
  (feeds_download "$dir") || { echo "feeds: downloading the test feeds failed" >&2; return 1; }
  export TRANSIT_TEST_FEEDS="$dir"
}

feeds_download() {
  local dir="$1" tmp
  mkdir -p "$dir"
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT

  # gtfs-kit's sdist (the wheel does not carry the data folder).
  local pip=()
  if [ -x "${TRANSIT_PYTHON_VENV:-$HOME/.cache/transit/venv}/bin/pip" ]; then
    pip=("${TRANSIT_PYTHON_VENV:-$HOME/.cache/transit/venv}/bin/pip")
  elif command -v python3 >/dev/null; then
    pip=(python3 -m pip)
  else
    feeds_fail "neither the project's venv nor python3 found: cannot download gtfs-kit's sdist"
  fi
  "${pip[@]}" download --quiet --no-binary :all: --no-deps --dest "$tmp/pypi" \
    "gtfs-kit==$FEEDS_GTFS_KIT_VERSION" \
    || feeds_fail "pip download gtfs-kit==$FEEDS_GTFS_KIT_VERSION failed"
  local sdist
  sdist="$(find "$tmp/pypi" -maxdepth 1 \( -name 'gtfs_kit-*.tar.gz' -o -name 'gtfs-kit-*.tar.gz' \) | head -n 1)"
  [ -n "$sdist" ] || feeds_fail "gtfs-kit's sdist not found after pip download"
  mkdir -p "$tmp/sdist"
  tar -xzf "$sdist" -C "$tmp/sdist" || feeds_fail "cannot extract $sdist"
  local root
  root="$(find "$tmp/sdist" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
  for f in nyc_subway_gtfs.zip sample_gtfs.zip; do
    [ -f "$root/data/$f" ] || feeds_fail "data/$f missing from gtfs-kit's sdist"
  done
  local licence
  licence="$(find "$root" -maxdepth 1 -iname 'LICENSE*' | head -n 1)"
  [ -n "$licence" ] || feeds_fail "no licence file in gtfs-kit's sdist"

  # sample-gtfs-feed's npm package.
  command -v npm >/dev/null || feeds_fail "npm not found: install Node.js to download sample-gtfs-feed"
  mkdir -p "$tmp/npm"
  (cd "$tmp/npm" && npm pack --silent "sample-gtfs-feed@$FEEDS_SAMPLE_GTFS_FEED_VERSION" >/dev/null) \
    || feeds_fail "npm pack sample-gtfs-feed@$FEEDS_SAMPLE_GTFS_FEED_VERSION failed"
  tar -xzf "$tmp"/npm/sample-gtfs-feed-*.tgz -C "$tmp/npm" || feeds_fail "cannot extract sample-gtfs-feed's package"
  [ -f "$tmp/npm/package/gtfs.zip" ] || feeds_fail "package/gtfs.zip missing from sample-gtfs-feed"
  local npm_licence
  npm_licence="$(find "$tmp/npm/package" -maxdepth 1 -iname 'LICEN[CS]E*' | head -n 1)"

  # The zips last, so a download cut off halfway is done again next time.
  cp "$licence" "$dir/gtfs-kit-$FEEDS_GTFS_KIT_VERSION.LICENSE"
  if [ -n "$npm_licence" ]; then
    cp "$npm_licence" "$dir/sample-gtfs-feed-$FEEDS_SAMPLE_GTFS_FEED_VERSION.LICENSE"
  else
    # The package states its licence in package.json only.
    cp "$tmp/npm/package/package.json" "$dir/sample-gtfs-feed-$FEEDS_SAMPLE_GTFS_FEED_VERSION.package.json"
  fi
  cp "$root/data/sample_gtfs.zip" "$dir/sample_gtfs.zip"
  cp "$tmp/npm/package/gtfs.zip" "$dir/sample-gtfs-feed.zip"
  cp "$root/data/nyc_subway_gtfs.zip" "$dir/nyc_subway_gtfs.zip"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  need_feeds
  echo "$TRANSIT_TEST_FEEDS"
fi
