#!/bin/sh
# Storefleet Medusa backup, the database's half: `dump` runs before restic in the backup Job,
# `import` after restic in a restore, `drill` after restic in a drill (all on the store's
# PostgreSQL image, which has the client and the server).
#
# dump:   pg_dump --format=custom (one consistent snapshot) into $DUMP_DIR, and a manifest beside
#         it: engine, PostgreSQL version, the store's URL, counts of orders, published products
#         and customers, the dump's sha256 and size, how long the dump took.
# import: checks the dump against the manifest's checksum, restores it into the store's database
#         (pg_restore --clean --if-exists --single-transaction, owned by the store's role), moves
#         uploaded files' URLs from the backed-up store's address to this store's, puts the
#         restored uploads in place, and checks that the counts equal the manifest's.
# drill:  the same import into a scratch PostgreSQL this pod starts for itself (initdb, a socket
#         in $TMPDIR) and a scratch folder: proves the backup restores, touches nothing of the
#         shop's, and reports the measured restore time (restic's and the load's) with the
#         snapshot and the restored counts: one line of JSON to $TERMINATION_LOG (default
#         /dev/termination-log; the operator copies it to status.backup.lastVerifiedRestore).
#
# Inputs (env): PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE (the store's database, from its
# Secret) STORE_URL DUMP_DIR; import also RESTORED (restic's restore target, holding dump/ and
# files/uploads/) and UPLOADS (the files volume). The password reaches the client through
# PGPASSWORD, never a command line.
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
need() {
  for var in "$@"; do
    eval "value=\${$var:-}"
    [ -n "$value" ] || fail "environment variable $var is not set"
  done
}

sql() { psql --no-psqlrc --quiet --tuples-only --no-align --set ON_ERROR_STOP=1 -c "$1"; }
exists() { [ "$(sql "SELECT to_regclass('public.\"$1\"') IS NOT NULL")" = t ]; }

# The shop's counts, as "orders products customers".
counts() {
  orders=0 products=0 customers=0
  if exists order; then orders=$(sql 'SELECT count(*) FROM "order" WHERE deleted_at IS NULL'); fi
  if exists product; then
    products=$(sql "SELECT count(*) FROM product WHERE deleted_at IS NULL AND status = 'published'")
  fi
  if exists customer; then customers=$(sql 'SELECT count(*) FROM customer WHERE deleted_at IS NULL'); fi
  printf '%s %s %s\n' "$orders" "$products" "$customers"
}

manifest_field() {
  sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" "$DUMP_DIR/manifest.json" | head -n 1
}

dump() {
  need PGHOST PGUSER PGPASSWORD PGDATABASE STORE_URL DUMP_DIR
  started=$(date +%s)
  mkdir -p "$DUMP_DIR"
  umask 077
  log "dumping database $PGDATABASE"
  pg_dump --format=custom --no-owner --no-privileges --file="$DUMP_DIR/database.dump" \
    || fail "pg_dump of $PGDATABASE failed"
  pg_restore --list "$DUMP_DIR/database.dump" >/dev/null || fail "the dump is unreadable"
  # shellcheck disable=SC2046 # three numbers
  set -- $(counts)
  checksum=$(sha256sum "$DUMP_DIR/database.dump" | cut -d' ' -f1)
  size=$(wc -c <"$DUMP_DIR/database.dump" | tr -d ' ')
  cat >"$DUMP_DIR/manifest.json" <<JSON
{"engine": "medusa", "postgres_version": "$(sql 'SHOW server_version')", "url": "$STORE_URL", "orders": $1, "products": $2, "customers": $3, "sha256": "$checksum", "bytes": $size, "seconds": $(($(date +%s) - started))}
JSON
  log "dumped $size bytes: $1 orders, $2 products, $3 customers"
}

# Uploaded files are served from the store's address: their URLs move with the shop.
move_urls() {
  old=$1
  [ -n "$old" ] && [ "$old" != "$STORE_URL" ] || return 0
  log "moving uploaded files' addresses from $old to $STORE_URL"
  for column in image.url product.thumbnail; do
    table=${column%.*}
    field=${column#*.}
    exists "$table" || continue
    psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 -v old="$old" -v new="$STORE_URL" <<SQL \
      || fail "could not move the addresses in $column"
UPDATE $table SET $field = :'new' || substr($field, length(:'old') + 1)
 WHERE starts_with($field, :'old');
SQL
  done
}

import() {
  need PGHOST PGUSER PGDATABASE STORE_URL RESTORED UPLOADS
  DUMP_DIR=$RESTORED/dump
  [ -f "$DUMP_DIR/manifest.json" ] || fail "the snapshot holds no manifest.json"
  [ -f "$DUMP_DIR/database.dump" ] || fail "the snapshot holds no database.dump"
  want=$(manifest_field sha256)
  got=$(sha256sum "$DUMP_DIR/database.dump" | cut -d' ' -f1)
  [ "$want" = "$got" ] || fail "the dump's checksum is $got, the manifest says $want"
  log "restoring the dump into $PGDATABASE"
  pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error \
    --dbname="$PGDATABASE" "$DUMP_DIR/database.dump" || fail "restoring the dump failed"
  move_urls "$(manifest_field url)"
  if [ -d "$RESTORED/files/uploads" ]; then
    log "putting the uploads in place"
    mkdir -p "$UPLOADS"
    find "$UPLOADS" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
    cp -a "$RESTORED/files/uploads/." "$UPLOADS/" || fail "copying the uploads failed"
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
  need RESTORED
  started=$(date +%s)
  scratch=${TMPDIR:-/tmp}/drill
  rm -rf "$scratch"
  mkdir -p "$scratch/files" || fail "cannot make $scratch"
  log "starting a scratch database"
  # Nothing of a store's database: the server and the client take their defaults from these.
  unset PGPASSWORD PGPORT PGHOST PGUSER PGDATABASE
  initdb --pgdata="$scratch/db" --username=drill --auth=trust --no-sync >"$scratch/initdb.log" 2>&1 \
    || { cat "$scratch/initdb.log" >&2; fail "cannot initialise the scratch database"; }
  postgres -D "$scratch/db" -k "$scratch" -c listen_addresses= -c fsync=off \
    >"$scratch/postgres.log" 2>&1 &
  server=$!
  trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null' EXIT
  PGHOST=$scratch PGUSER=drill PGDATABASE=postgres
  export PGHOST PGUSER PGDATABASE
  i=0
  until sql 'SELECT 1' >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -lt 120 ] || { cat "$scratch/postgres.log" >&2; fail "the scratch database did not start"; }
    sleep 0.5
  done
  sql 'CREATE DATABASE drill' >/dev/null || fail "cannot prepare the scratch database"
  PGDATABASE=drill
  UPLOADS=$scratch/files
  DUMP_DIR=$RESTORED/dump
  # The shop stays at its own address: nothing to move.
  STORE_URL=$(manifest_field url)
  [ -n "$STORE_URL" ] || STORE_URL=unknown
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
