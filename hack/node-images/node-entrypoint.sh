#!/bin/sh
# The node tier's stand-in for the official node image's docker-entrypoint.sh, written for
# Storefleet from the image's documented behaviour; not the official file: a first argument
# that is an option, or no command on the PATH, runs under `node`.
set -e

if [ "${1#-}" != "$1" ] || [ -z "$(command -v "$1" || true)" ]; then
  set -- node "$@"
fi

exec "$@"
