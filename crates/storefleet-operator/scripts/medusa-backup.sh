#!/bin/sh
# Storefleet Medusa backup, the database's half: `dump` runs before restic in the backup Job,
# `import` after restic in a restore, `drill` after restic in a drill (all on the store's
# PostgreSQL image, which has the client).
#
# dump:   pg_dump --format=custom (one consistent snapshot) into $DUMP_DIR, and a manifest beside
#         it: engine, PostgreSQL version, the store's URL, counts of orders, published products
#         and customers, the dump's sha256 and size, how long the dump took.
# import: checks the dump against the manifest's checksum, restores it into the store's database
#         (pg_restore --clean --if-exists --single-transaction, owned by the store's role), moves
#         uploaded files' URLs from the backed-up store's address to this store's, puts the
#         restored uploads in place, and checks that the counts equal the manifest's.
# drill:  the same import into a drill's database (the shop's PostgreSQL image started beside it
#         in a throwaway namespace) and uploads folder, then hands the check
#         (medusa-drill-check.js) what it needs in $DRILL_DIR: a publishable key and the
#         administrator's e-mail. The check writes the drill's report.
#
# Inputs (env): PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE (the store's database, from its
# Secret) STORE_URL DUMP_DIR; import also RESTORED (restic's restore target, holding dump/ and
# files/uploads/) and UPLOADS (the files volume); drill DRILL_DIR. The password reaches the client through
# PGPASSWORD, never a command line.
set -eu

log() { printf 'storefleet-backup: %s\n' "$*"; }
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
  need DRILL_DIR
  import
  # What the check needs: a publishable key (the Store API answers none without one), the one
  # whose sales channels sell the most published products, and the administrator it logs in as
  # (with a one-time password it sets in this copy only).
  if exists api_key && exists publishable_api_key_sales_channel && exists product_sales_channel; then
    sql "SELECT k.token FROM api_key k
           JOIN publishable_api_key_sales_channel l ON l.publishable_key_id = k.id AND l.deleted_at IS NULL
           JOIN product_sales_channel s ON s.sales_channel_id = l.sales_channel_id AND s.deleted_at IS NULL
           JOIN product p ON p.id = s.product_id AND p.status = 'published' AND p.deleted_at IS NULL
          WHERE k.type = 'publishable' AND k.revoked_at IS NULL AND k.deleted_at IS NULL
          GROUP BY k.token, k.created_at ORDER BY count(*) DESC, k.created_at LIMIT 1" \
      >"$DRILL_DIR/publishable-key" || fail "cannot read the restored publishable key"
  fi
  exists provider_identity || fail "the restored shop has no login identities"
  sql "SELECT p.entity_id FROM provider_identity p JOIN auth_identity a ON a.id = p.auth_identity_id WHERE p.provider = 'emailpass' AND a.app_metadata ? 'user_id' AND p.deleted_at IS NULL ORDER BY p.created_at LIMIT 1" \
    >"$DRILL_DIR/admin" || fail "cannot read the restored administrator"
  [ -s "$DRILL_DIR/admin" ] || fail "the restored shop has no administrator"
  log "loaded for the drill: the administrator and a publishable key handed to the check"
}

case ${1:-} in
  dump) dump ;;
  import) import ;;
  drill) drill ;;
  *) fail "usage: $0 dump|import|drill" ;;
esac
