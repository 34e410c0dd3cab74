#!/bin/sh
# Storefleet WooCommerce backup, the database's half: `dump` runs before restic in the backup
# Job, `import` after restic in a restore (both on the MariaDB image, which has the client).
#
# dump:   mariadb-dump --single-transaction (routines, triggers, events) into $DUMP_DIR, and a
#         manifest beside it: engine, versions, counts of orders, products and customers, the
#         dump's sha256 and size, how long the dump took.
# import: checks the dump against the manifest's checksum, drops the shop's tables (those of
#         WORDPRESS_TABLE_PREFIX), loads the dump into the store's database,
#         puts the restored wp-content in place, and checks that the counts equal the manifest's.
# drill:  the same import into a drill's database (the shop's MariaDB image started beside it
#         in a throwaway namespace) and docroot, then hands the check (woocommerce-drill-check.php)
#         what it needs in $DRILL_DIR: the first administrator with a one-time password set in
#         this copy, and up to three published products. The check writes the drill's report.
#
# Inputs (env): WORDPRESS_DB_HOST WORDPRESS_DB_USER WORDPRESS_DB_PASSWORD WORDPRESS_DB_NAME
# WORDPRESS_TABLE_PREFIX (default wp_) DUMP_DIR; import and drill also RESTORED (restic's restore
# target, holding dump/ and files/wp-content/) and DOCROOT (the files volume); drill DRILL_DIR.
# The password reaches the client through MYSQL_PWD, never a command line.
set -eu

log() { printf 'storefleet-backup: %s\n' "$*"; }
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
  printf '%s\n' --host="$host" --port="$port" --user="$WORDPRESS_DB_USER"
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
  need_db
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
  # The database holds exactly the snapshot: the shop's tables are dropped first (a rollback of
  # an upgrade restores over tables the newer version added or changed).
  tables=$(sql "SHOW TABLES" | while IFS= read -r table; do
    case $table in "$prefix"*) printf '`%s`,' "$table" ;; esac
  done)
  if [ -n "$tables" ]; then
    log "dropping the shop's tables before loading"
    sql "SET FOREIGN_KEY_CHECKS = 0; DROP TABLE IF EXISTS ${tables%,}" || fail "dropping the shop's tables failed"
  fi
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
  need_db
  [ -n "${DRILL_DIR:-}" ] || fail "environment variable DRILL_DIR is not set"
  import
  # The check logs in as the shop's first administrator, with a one-time password set in this
  # copy only: the shop's own password never leaves its namespace.
  admin=$(sql "SELECT u.ID FROM ${prefix}users u JOIN ${prefix}usermeta m ON m.user_id = u.ID WHERE m.meta_key = '${prefix}capabilities' AND m.meta_value LIKE '%\"administrator\"%' ORDER BY u.ID LIMIT 1")
  [ -n "$admin" ] || fail "the restored shop has no administrator"
  login=$(sql "SELECT user_login FROM ${prefix}users WHERE ID = $admin")
  password=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)
  [ ${#password} -eq 32 ] || fail "cannot make a one-time password"
  # WordPress still accepts an MD5 hash (and rehashes it at the first login).
  sql "UPDATE ${prefix}users SET user_pass = MD5('$password') WHERE ID = $admin" \
    || fail "cannot set the drill's one-time password"
  umask 077
  printf '%s\n%s\n' "$login" "$password" >"$DRILL_DIR/admin"
  # Up to three published products the check opens as a customer would.
  sql "SELECT ID FROM ${prefix}posts WHERE post_type = 'product' AND post_status = 'publish' ORDER BY ID LIMIT 3" \
    >"$DRILL_DIR/products" || fail "cannot list the restored products"
  log "loaded for the drill: $(wc -l <"$DRILL_DIR/products" | tr -d ' ') products to open, administrator #$admin to log in as"
}

case ${1:-} in
  dump) dump ;;
  import) import ;;
  drill) drill ;;
  *) fail "usage: $0 dump|import|drill" ;;
esac
