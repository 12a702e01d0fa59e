#!/usr/bin/env bash
# axe-core, the accessibility engine the browser tests inject into the pages they open to audit
# them against WCAG 2.1 A and AA; downloaded once per machine from npm and kept out of the
# repository, beside its licence (MPL-2.0) and its third-party notices:
#
#   source scripts/axe.sh && need_axe   # sets TRANSIT_TEST_AXE=<dir>/axe.min.js
#   scripts/axe.sh                      # the same, then prints the file's path
#
# The cache is ${TRANSIT_AXE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/transit/axe-core-<version>};
# later runs only check that axe.min.js is there. The test only reads the file and hands its
# text to the browser: nothing is fetched at run time, and no page refers to it.

AXE_CORE_VERSION="4.14.1"

axe_fail() {
  echo "axe: $1" >&2
  exit 1
}

need_axe() {
  local dir="${TRANSIT_AXE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/transit/axe-core-$AXE_CORE_VERSION}"
  if [ -s "$dir/axe.min.js" ]; then
    export TRANSIT_TEST_AXE="$dir/axe.min.js"
    return
  fi
  printf '\n==> downloading axe-core %s into %s (once per machine)\n' "$AXE_CORE_VERSION" "$dir"
  # In a subshell, so its temporary folder goes however it ends and a failure does not end a
  # shell that sourced this file.
  (axe_download "$dir") || { echo "axe: downloading axe-core failed" >&2; return 1; }
  export TRANSIT_TEST_AXE="$dir/axe.min.js"
}

axe_download() {
  local dir="$1" tmp
  command -v npm >/dev/null || axe_fail "npm not found: install Node.js to download axe-core"
  mkdir -p "$dir"
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  # npm checks the tarball against the registry's integrity hash.
  (cd "$tmp" && npm pack --silent "axe-core@$AXE_CORE_VERSION" >/dev/null) \
    || axe_fail "npm pack axe-core@$AXE_CORE_VERSION failed"
  tar -xzf "$tmp/axe-core-$AXE_CORE_VERSION.tgz" -C "$tmp" || axe_fail "cannot extract axe-core's package"
  [ -s "$tmp/package/axe.min.js" ] || axe_fail "axe.min.js missing from axe-core's package"
  [ -f "$tmp/package/LICENSE" ] || axe_fail "no licence file in axe-core's package"
  cp "$tmp/package/LICENSE" "$dir/LICENSE"
  if [ -f "$tmp/package/LICENSE-3RD-PARTY.txt" ]; then
    cp "$tmp/package/LICENSE-3RD-PARTY.txt" "$dir/LICENSE-3RD-PARTY.txt"
  fi
  cp "$tmp/package/package.json" "$dir/package.json"
  # The script last, so a download cut off halfway is done again next time.
  cp "$tmp/package/axe.min.js" "$dir/axe.min.js"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  need_axe
  echo "$TRANSIT_TEST_AXE"
fi
