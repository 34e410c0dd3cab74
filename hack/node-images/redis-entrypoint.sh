#!/bin/sh
# The node tier's stand-in for the official redis image's docker-entrypoint.sh, written for
# Storefleet from the image's documented behaviour; not the official file. Arguments that start
# with `-` or name a `.conf` file go to redis-server; as root, redis-server runs as redis (uid
# 999) after the files in its folder are given to it; redis-server runs with umask 0077 when it
# was left at 0022 (its files are readable by it alone).
set -e

case "$1" in
  -* | *.conf) set -- redis-server "$@" ;;
esac

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

if [ "$1" = redis-server ] && [ "$(umask)" = 0022 ]; then
  umask 0077
fi

exec "$@"
