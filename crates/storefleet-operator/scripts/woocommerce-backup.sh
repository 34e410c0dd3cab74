#!/bin/sh
# Storefleet WooCommerce backup, the database's half: `dump` runs before restic in the backup
# Job, `import` after restic in a restore (both on the MariaDB image, which has the client).
#
# dump:   mariadb-dump --single-transaction (routines, triggers, events) into $DUMP_DIR, and a
#         manifest beside it: engine, versions, counts of orders, products and customers, the
#         dump's sha256 and size, how long the dump took.
# import: checks the dump against the manifest's checksum, loads it into the store's database,
#         puts the restored wp-content in place, and checks that the counts equal the manifest's.
# drill:  the same import into a scratch database this pod starts for itself (mariadbd on a
#         socket in $TMPDIR) and a scratch folder: proves the backup restores, touches nothing of
#         the shop's, and reports the measured restore time (restic's and the load's) with the
#         snapshot and the restored counts: one line of JSON to $TERMINATION_LOG (default
#         /dev/termination-log; the operator copies it to status.backup.lastVerifiedRestore).
#
# Inputs (env): WORDPRESS_DB_HOST WORDPRESS_DB_USER WORDPRESS_DB_PASSWORD WORDPRESS_DB_NAME
# WORDPRESS_TABLE_PREFIX (default wp_) DUMP_DIR; import also RESTORED (restic's restore target,
# holding dump/ and files/wp-content/) and DOCROOT (the files volume). The password reaches the
# client through MYSQL_PWD, never a command line.
set -eu

log() { printf 'storefleet-backup: %s\n' "$*"; }
# The report's one line goes to $TERMINATION_LOG, or the kubelet's /dev/termination-log in a pod;
# on a machine with neither, nowhere (the file is never made in /dev).
report() {
  if [ -n "${TERMINATION_LOG:-}" ]; then
    printf '%s\n' "$1" 2>/dev/null >"$TERMINATION_LOG" || log "cannot write the report"
  elif [ -e /dev/termination-log ]; then
    printf '%s\n' "$1" 2>/dev/null >/dev/termination-log || log "cannot write the report"
  fi
}
fail() { printf 'storefleet-backup: FAILED: %s\n' "$*" >&2; exit 1; }

prefix=${WORDPRESS_TABLE_PREFIX:-wp_}
case $prefix in *[!A-Za-z0-9_]*) fail "WORDPRESS_TABLE_PREFIX may hold only letters, digits and _" ;; esac
# The store's database, from the storefront's variables (dump, import).
need_db() {
  for var in WORDPRESS_DB_HOST WORDPRESS_DB_USER WORDPRESS_DB_PASSWORD WORDPRESS_DB_NAME DUMP_DIR; do
    eval "value=\${$var:-}"
    [ -n "$value" ] || fail "environment variable $var is not set"
  done
  host=${WORDPRESS_DB_HOST%%:*}
  port=${WORDPRESS_DB_HOST#"$host"}
  port=${port#:}
  port=${port:-3306}
  MYSQL_PWD=$WORDPRESS_DB_PASSWORD
  export MYSQL_PWD
}
connection() {
  if [ -n "${WORDPRESS_DB_SOCKET:-}" ]; then
    printf '%s\n' --socket="$WORDPRESS_DB_SOCKET" --user="$WORDPRESS_DB_USER"
  else
    printf '%s\n' --host="$host" --port="$port" --user="$WORDPRESS_DB_USER"
  fi
}
sql() {
  # shellcheck disable=SC2046 # one option per line, none with spaces
  mariadb $(connection) --batch --skip-column-names "$WORDPRESS_DB_NAME" -e "$1"
}
exists() { [ "$(sql "SHOW TABLES LIKE '$1'")" = "$1" ]; }

# The shop's counts, as "orders products customers".
counts() {
  if exists "${prefix}wc_orders"; then
    orders=$(sql "SELECT COUNT(*) FROM ${prefix}wc_orders WHERE type = 'shop_order'")
  else
    orders=$(sql "SELECT COUNT(*) FROM ${prefix}posts WHERE post_type = 'shop_order'")
  fi
  products=$(sql "SELECT COUNT(*) FROM ${prefix}posts WHERE post_type = 'product' AND post_status = 'publish'")
  customers=$(sql "SELECT COUNT(*) FROM ${prefix}usermeta WHERE meta_key = '${prefix}capabilities' AND meta_value LIKE '%\"customer\"%'")
  printf '%s %s %s\n' "$orders" "$products" "$customers"
}

option() { sql "SELECT option_value FROM ${prefix}options WHERE option_name = '$1'"; }

manifest_field() {
  sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" "$DUMP_DIR/manifest.json" | head -n 1
}

dump() {
  need_db
  started=$(date +%s)
  mkdir -p "$DUMP_DIR"
  umask 077
  log "dumping database $WORDPRESS_DB_NAME"
  # shellcheck disable=SC2046 # one option per line, none with spaces
  mariadb-dump $(connection) --single-transaction --routines --triggers --events --hex-blob \
    --default-character-set=utf8mb4 "$WORDPRESS_DB_NAME" >"$DUMP_DIR/database.sql" \
    || fail "mariadb-dump of $WORDPRESS_DB_NAME failed"
  tail -n 1 "$DUMP_DIR/database.sql" | grep -q '^-- Dump completed' || fail "the dump is incomplete"
  # shellcheck disable=SC2046 # three numbers
  set -- $(counts)
  checksum=$(sha256sum "$DUMP_DIR/database.sql" | cut -d' ' -f1)
  size=$(wc -c <"$DUMP_DIR/database.sql" | tr -d ' ')
  cat >"$DUMP_DIR/manifest.json" <<JSON
{"engine": "woocommerce", "wordpress_db_version": "$(option db_version)", "woocommerce_version": "$(option woocommerce_version)", "orders": $1, "products": $2, "customers": $3, "sha256": "$checksum", "bytes": $size, "seconds": $(($(date +%s) - started))}
JSON
  log "dumped $size bytes: $1 orders, $2 products, $3 customers"
}

import() {
  [ -n "${WORDPRESS_DB_SOCKET:-}" ] || need_db
  for var in RESTORED DOCROOT; do
    eval "value=\${$var:-}"
    [ -n "$value" ] || fail "environment variable $var is not set"
  done
  DUMP_DIR=$RESTORED/dump
  [ -f "$DUMP_DIR/manifest.json" ] || fail "the snapshot holds no manifest.json"
  [ -f "$DUMP_DIR/database.sql" ] || fail "the snapshot holds no database.sql"
  want=$(manifest_field sha256)
  got=$(sha256sum "$DUMP_DIR/database.sql" | cut -d' ' -f1)
  [ "$want" = "$got" ] || fail "the dump's checksum is $got, the manifest says $want"
  log "loading the dump into $WORDPRESS_DB_NAME"
  # shellcheck disable=SC2046 # one option per line, none with spaces
  mariadb $(connection) "$WORDPRESS_DB_NAME" <"$DUMP_DIR/database.sql" || fail "loading the dump failed"
  if [ -d "$RESTORED/files/wp-content" ]; then
    log "putting wp-content in place"
    mkdir -p "$DOCROOT/wp-content"
    find "$DOCROOT/wp-content" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
    cp -a "$RESTORED/files/wp-content/." "$DOCROOT/wp-content/" || fail "copying wp-content failed"
  fi
  # shellcheck disable=SC2046 # three numbers
  set -- $(counts)
  for field in orders products customers; do
    want=$(manifest_field "$field")
    [ "$1" = "$want" ] || fail "$field: the restored shop has $1, the manifest says $want"
    shift
  done
  log "restored: the counts equal the manifest's ($(manifest_field orders) orders, $(manifest_field products) products, $(manifest_field customers) customers)"
}

drill() {
  [ -n "${RESTORED:-}" ] || fail "environment variable RESTORED is not set"
  started=$(date +%s)
  scratch=${TMPDIR:-/tmp}/drill
  rm -rf "$scratch"
  mkdir -p "$scratch/db" "$scratch/files" || fail "cannot make $scratch"
  log "starting a scratch database"
  unset MYSQL_PWD
  mariadb-install-db --no-defaults --datadir="$scratch/db" --auth-root-authentication-method=normal \
    --skip-test-db >"$scratch/install.log" 2>&1 || { cat "$scratch/install.log" >&2; fail "cannot initialise the scratch database"; }
  mariadbd --no-defaults --datadir="$scratch/db" --socket="$scratch/db.sock" --skip-networking \
    --skip-log-bin >"$scratch/mariadbd.log" 2>&1 &
  server=$!
  trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null' EXIT
  i=0
  until mariadb --no-defaults --socket="$scratch/db.sock" --user=root -e 'SELECT 1' >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -lt 120 ] || { cat "$scratch/mariadbd.log" >&2; fail "the scratch database did not start"; }
    sleep 0.5
  done
  mariadb --no-defaults --socket="$scratch/db.sock" --user=root \
    -e "CREATE DATABASE drill; CREATE USER 'drill'@'localhost' IDENTIFIED BY 'drill'; GRANT ALL ON drill.* TO 'drill'@'localhost';" \
    || fail "cannot prepare the scratch database"
  WORDPRESS_DB_SOCKET=$scratch/db.sock
  WORDPRESS_DB_USER=drill
  WORDPRESS_DB_NAME=drill
  MYSQL_PWD=drill
  DOCROOT=$scratch/files
  export MYSQL_PWD
  import
  fetched=${TMPDIR:-/tmp}/restored.json
  [ -f "$fetched" ] || fail "restic left no $fetched"
  fetch_seconds=$(sed -n 's/.*"seconds": *\([0-9]*\).*/\1/p' "$fetched")
  seconds=$(($(date +%s) - started + ${fetch_seconds:-0}))
  report "$(printf '{"snapshot": "%s", "snapshotTime": "%s", "seconds": %s, "manifest": %s}' \
    "$(sed -n 's/.*"snapshot": *"\([^"]*\)".*/\1/p' "$fetched")" \
    "$(sed -n 's/.*"snapshotTime": *"\([^"]*\)".*/\1/p' "$fetched")" \
    "$seconds" "$(tr -d '\n' <"$DUMP_DIR/manifest.json")")"
  log "verified: the backup restores in $seconds s"
}

case ${1:-} in
  dump) dump ;;
  import) import ;;
  drill) drill ;;
  *) fail "usage: $0 dump|import|drill" ;;
esac
