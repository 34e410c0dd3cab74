#!/usr/bin/env bash
# Installs the Medusa application's npm dependencies (medusa/package-lock.json, `npm ci`) into a
# cache folder outside the repository, once per lockfile, and prints the variable that points the
# Medusa test tier at them:
#
#   eval "$(hack/medusa-deps.sh)"   # then: make test
#
# STOREFLEET_MEDUSA_MODULES   node_modules of medusa/ (about 700 MB; reused while the lock is unchanged)
#
# Without node and npm it prints nothing, and the Medusa tier skips with one line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cache=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/storefleet/medusa}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "medusa-deps: no node/npm: the Medusa tier will skip" >&2
  exit 0
fi
hash=$(md5sum medusa/package-lock.json | cut -c1-12)
dir="$cache/$hash"
if [ ! -f "$dir/.done" ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  cp medusa/package.json medusa/package-lock.json "$dir/"
  echo "medusa-deps: npm ci into $dir (once per lockfile)" >&2
  if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2); then
    echo "medusa-deps: npm ci failed: the Medusa tier will skip" >&2
    rm -rf "$dir"
    exit 0
  fi
  touch "$dir/.done"
  # Older lockfiles' folders are not needed any more.
  find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$hash" -exec rm -rf {} + 2>/dev/null || true
fi
echo "export STOREFLEET_MEDUSA_MODULES=$dir/node_modules"
