#!/bin/sh
# Storefleet WooCommerce setup, run by the store's setup Job with the WP-CLI image.
#
# Idempotent: every step checks before it changes anything, so a retry (or a re-run after a
# spec change) converges instead of duplicating. Any failure exits non-zero with one line that
# says what failed; the operator copies the Job's failure into the Store's SetupComplete condition.
#
# Inputs (env): STORE_URL STORE_TITLE ADMIN_USER ADMIN_PASSWORD ADMIN_EMAIL THEME CURRENCY
# SAMPLE_PRODUCTS PAYMENT_METHODS (space separated, first one takes the test order)
# WOOCOMMERCE_VERSION (optional), RESTORED_FROM (optional: the store whose backup the restore Job
# put in place; that shop is adopted), WP_ENVIRONMENT_TYPE (staging for a clone of another store:
# no e-mail, no online payment) and the WORDPRESS_DB_* / salt variables of the storefront.
set -eu

log() { printf 'storefleet-setup: %s\n' "$*"; }
# The report's one line goes to $TERMINATION_LOG, or the kubelet's /dev/termination-log in a pod;
# on a machine with neither, nowhere (the file is never made in /dev).
report() {
  if [ -n "${TERMINATION_LOG:-}" ]; then
    printf '%s\n' "$1" 2>/dev/null >"$TERMINATION_LOG" || log "cannot write the report"
  elif [ -e /dev/termination-log ]; then
    printf '%s\n' "$1" 2>/dev/null >/dev/termination-log || log "cannot write the report"
  fi
}
# A JSON string's contents: backslashes and double quotes escaped.
json_escape() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
fail() { printf 'storefleet-setup: FAILED: %s\n' "$*" >&2; exit 1; }

for var in STORE_URL STORE_TITLE ADMIN_USER ADMIN_PASSWORD ADMIN_EMAIL THEME CURRENCY SAMPLE_PRODUCTS PAYMENT_METHODS WORDPRESS_DB_HOST; do
  eval "value=\${$var:-}"
  [ -n "$value" ] || fail "environment variable $var is not set"
done

DOCROOT=${DOCROOT:-/var/www/html}
export HOME=/tmp WP_CLI_CACHE_DIR=/tmp/wp-cli-cache
cd "$DOCROOT" || fail "cannot enter $DOCROOT"

# wp with the admin user (needed by the `wp wc` REST commands).
wpa() { wp --user="$ADMIN_USER" "$@"; }

wait_for() {
  what=$1; attempts=$2; shift 2
  i=0
  until "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -lt "$attempts" ] || fail "timed out waiting for $what"
    sleep 5
  done
}

log "waiting for the docroot (the pod's first containers lay it out from the storefront's image)"
wait_for "wp-config.php in $DOCROOT" 60 test -f "$DOCROOT/wp-config.php"
log "waiting for the database at $WORDPRESS_DB_HOST"
wait_for "the database at $WORDPRESS_DB_HOST" 60 wp db query "SELECT 1"

# Whose install is this? WordPress is loaded without plugins or themes, so that nothing a
# stranger installed runs next to our credentials. The marker option is a hash of the admin
# password (unguessable, the password never stored): set right after our own install.
# ours: our marker; adopt: installed by an earlier setup (our admin, our password, the only
# administrator); foreign-empty / foreign-with-orders: someone else finished the installer.
ownership() {
  # shellcheck disable=SC2016 # PHP, not shell: expanded by PHP
  wp --skip-plugins --skip-themes eval '
    $want = hash("sha256", "storefleet-install:" . getenv("ADMIN_PASSWORD"));
    $marker = get_option("storefleet_install");
    if (is_string($marker) && hash_equals($want, $marker)) { echo "ours"; return; }
    $user = get_user_by("login", getenv("ADMIN_USER"));
    $admins = get_users(array("role" => "administrator", "fields" => "user_login"));
    if ($user && wp_check_password(getenv("ADMIN_PASSWORD"), $user->data->user_pass, $user->ID)
        && $admins === array(getenv("ADMIN_USER"))) { echo "adopt"; return; }
    global $wpdb;
    $orders = (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->posts} WHERE post_type = \"shop_order\"");
    if ($wpdb->get_var($wpdb->prepare("SHOW TABLES LIKE %s", $wpdb->prefix . "wc_orders"))) {
      $orders += (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->prefix}wc_orders");
    }
    echo $orders > 0 ? "foreign-with-orders" : "foreign-empty";
  '
}
mark_ours() {
  # shellcheck disable=SC2016 # PHP, not shell
  wp --skip-plugins --skip-themes eval \
    'update_option("storefleet_install", hash("sha256", "storefleet-install:" . getenv("ADMIN_PASSWORD")));' \
    >/dev/null || fail "could not mark the install as ours"
}
# A WordPress someone else installed holds no shop of ours: remove what its admin could have
# added (plugins, themes, must-use plugins, uploads) and every table, then install again.
wipe_foreign_install() {
  content="$DOCROOT/wp-content"
  for dir in "$content"/plugins/*; do
    case "$(basename "$dir")" in woocommerce | akismet | hello.php | index.php) ;; *) rm -rf "$dir" ;; esac
  done
  for dir in "$content"/themes/*; do
    case "$(basename "$dir")" in "$THEME" | twenty* | index.php) ;; *) rm -rf "$dir" ;; esac
  done
  rm -rf "$content/mu-plugins" "$content/uploads"
  wp db reset --yes >/dev/null || fail "could not empty the database of the foreign install"
}

# A staging clone (restored from another store's backup) never mails the real shop's customers
# nor takes real payments: a must-use plugin stops every e-mail (`pre_wp_mail`) and offers only
# the offline payment methods; `staging_settings` switches the online gateways off (test mode
# where they have one), pauses webhooks and keeps search engines away. Both run on every setup.
staging_guard() {
  mu="$DOCROOT/wp-content/mu-plugins"
  mkdir -p "$mu" || fail "cannot make $mu"
  cat >"$mu/storefleet-staging.php" <<'PHP' || fail "cannot write the staging guard"
<?php
/*
 * Plugin Name: Storefleet staging clone
 * Description: This shop is a staging clone of another store: it sends no e-mail and offers only offline payment methods. Written by Storefleet's setup on every run.
 */
add_filter( 'pre_wp_mail', '__return_false', PHP_INT_MAX );
add_filter(
	'woocommerce_available_payment_gateways',
	function ( $gateways ) {
		foreach ( array_keys( (array) $gateways ) as $id ) {
			if ( ! in_array( $id, array( 'bacs', 'cheque', 'cod' ), true ) ) {
				unset( $gateways[ $id ] );
			}
		}
		return $gateways;
	},
	PHP_INT_MAX
);
PHP
  log "staging clone: e-mail is off, only offline payment methods are offered"
}
staging_settings() {
  # shellcheck disable=SC2016 # PHP, not shell
  wp eval '
    foreach (WC()->payment_gateways()->payment_gateways() as $id => $gateway) {
      if (in_array($id, array("bacs", "cheque", "cod"), true)) { continue; }
      $gateway->update_option("enabled", "no");
      if (array_key_exists("testmode", $gateway->get_form_fields())) { $gateway->update_option("testmode", "yes"); }
    }
    $webhooks = WC_Data_Store::load("webhook");
    foreach ($webhooks->get_webhooks_ids("active") as $id) {
      $webhook = wc_get_webhook($id);
      if ($webhook) { $webhook->set_status("paused"); $webhook->save(); }
    }
  ' >/dev/null || fail "could not switch the staging clone's online payments and webhooks off"
  wp option update blog_public 0 >/dev/null || fail "could not hide the staging clone from search engines"
  log "staging clone: online payment gateways off (test mode), webhooks paused, hidden from search engines"
}

# A shop restored from a backup of one of this owner's stores (the operator ran the restore Job,
# before anything could reach the shop): moved to this store's address, its admin is ours.
adopt_restored() {
  log "adopting the shop restored from a backup of store $RESTORED_FROM"
  # shellcheck disable=SC2016 # PHP, not shell
  old=$(wp --skip-plugins --skip-themes eval 'global $wpdb; echo $wpdb->get_var("SELECT option_value FROM {$wpdb->options} WHERE option_name = \"home\"");') \
    || fail "could not read the restored shop's address"
  if [ -n "$old" ] && [ "$old" != "$STORE_URL" ]; then
    log "moving the restored shop from $old to $STORE_URL"
    wp --skip-plugins --skip-themes search-replace "$old" "$STORE_URL" --all-tables-with-prefix \
      --skip-columns=guid --quiet || fail "could not move the restored shop to $STORE_URL"
  fi
  if wp --skip-plugins --skip-themes user get "$ADMIN_USER" --field=ID >/dev/null 2>&1; then
    wp --skip-plugins --skip-themes user update "$ADMIN_USER" --user_pass="$ADMIN_PASSWORD" \
      --user_email="$ADMIN_EMAIL" --role=administrator --skip-email >/dev/null \
      || fail "could not hand the restored shop to this store's admin"
  else
    wp --skip-plugins --skip-themes user create "$ADMIN_USER" "$ADMIN_EMAIL" --role=administrator \
      --user_pass="$ADMIN_PASSWORD" >/dev/null || fail "could not give the restored shop this store's admin"
  fi
  mark_ours
}

if wp core is-installed >/dev/null 2>&1; then
  owner=$(ownership) || fail "could not tell who installed WordPress"
  if [ "$owner" != ours ] && [ -n "${RESTORED_FROM:-}" ]; then
    adopt_restored
    owner=ours
  fi
  case "$owner" in
    ours) log "WordPress is already installed (by this setup)" ;;
    adopt) log "WordPress is already installed (by an earlier setup: admin verified)"; mark_ours ;;
    foreign-empty)
      log "WordPress was installed by someone else (not our admin) and holds no orders: wiping it and installing again"
      wipe_foreign_install ;;
    *) fail "WordPress was installed by someone else (not our admin) and holds orders: not touching it; restore the store from a backup or delete it" ;;
  esac
fi
if ! wp core is-installed >/dev/null 2>&1; then
  log "installing WordPress at $STORE_URL"
  wp core install --url="$STORE_URL" --title="$STORE_TITLE" --admin_user="$ADMIN_USER" \
    --admin_password="$ADMIN_PASSWORD" --admin_email="$ADMIN_EMAIL" --skip-email \
    || fail "wp core install failed"
  mark_ours
fi
wp core is-installed || fail "WordPress reports it is not installed"
# The WordPress running is the storefront image's (copied at the pod's start): after a new image
# tag it may be newer than the one that last wrote the database. Its database updates, now (a
# no-op when the database is current).
wp core update-db >/dev/null || fail "wp core update-db failed"
# A staging clone: the guard goes in before anything loads the restored shop's plugins.
[ "${WP_ENVIRONMENT_TYPE:-}" = staging ] && staging_guard
# The title is user input: passed on stdin, so that a title such as `--exec=...` is never
# read as an option by WP-CLI.
printf '%s' "$STORE_TITLE" | wp option update blogname >/dev/null || fail "could not set the shop title"
wp rewrite structure '/%postname%/' >/dev/null || fail "could not enable pretty permalinks"

installed_woocommerce=$(wp plugin get woocommerce --field=version 2>/dev/null || true)
if [ -n "$installed_woocommerce" ] && [ -n "${WOOCOMMERCE_VERSION:-}" ] && [ "$installed_woocommerce" != "$WOOCOMMERCE_VERSION" ]; then
  log "moving WooCommerce from $installed_woocommerce to $WOOCOMMERCE_VERSION"
  wp plugin install woocommerce --version="$WOOCOMMERCE_VERSION" --force || fail "could not install WooCommerce $WOOCOMMERCE_VERSION"
elif [ -n "$installed_woocommerce" ]; then
  log "WooCommerce $installed_woocommerce is already installed"
elif [ -n "${WOOCOMMERCE_VERSION:-}" ]; then
  log "installing WooCommerce $WOOCOMMERCE_VERSION"
  wp plugin install woocommerce --version="$WOOCOMMERCE_VERSION" || fail "could not install WooCommerce $WOOCOMMERCE_VERSION"
else
  log "installing the newest WooCommerce"
  wp plugin install woocommerce || fail "could not install WooCommerce"
fi
wp plugin is-active woocommerce || wp plugin activate woocommerce || fail "could not activate WooCommerce"
wp plugin is-active woocommerce || fail "WooCommerce is installed but not active"
log "WooCommerce is active"
# WooCommerce's own database updates (a newer plugin than the one that last wrote the
# database), run now instead of queued behind an admin's click.
wp wc update >/dev/null || fail "WooCommerce's database update (wp wc update) failed"
[ "${WP_ENVIRONMENT_TYPE:-}" = staging ] && staging_settings

wp theme is-installed "$THEME" || wp theme install "$THEME" || fail "could not install theme $THEME"
[ "$(wp theme list --status=active --field=name)" = "$THEME" ] || wp theme activate "$THEME" >/dev/null \
  || fail "could not activate theme $THEME"
[ "$(wp theme list --status=active --field=name)" = "$THEME" ] || fail "theme $THEME is not active"
log "theme $THEME is active"

wp option update woocommerce_currency "$CURRENCY" >/dev/null || fail "could not set the currency $CURRENCY"
# New WooCommerce shops start in "coming soon" mode, which hides the shop from customers.
wp option update woocommerce_coming_soon no >/dev/null || fail "could not open the shop to customers"
[ "$(wp option get woocommerce_currency)" = "$CURRENCY" ] || fail "currency is not $CURRENCY"

for method in $PAYMENT_METHODS; do
  wpa wc payment_gateway update "$method" --enabled=true >/dev/null || fail "could not enable payment method $method"
  # A plain boolean field prints as 1 or an empty line; JSON prints true or false.
  enabled=$(wpa wc payment_gateway get "$method" --field=enabled --format=json) || fail "could not read payment method $method"
  [ "$enabled" = "true" ] || fail "payment method $method is not enabled (enabled=$enabled)"
  log "payment method $method is enabled"
done

products=$(wpa wc product list --status=publish --format=ids) || fail "could not list products"
if [ -n "$products" ]; then
  log "the shop has products already; no sample products created"
else
  i=1
  while [ "$i" -le "$SAMPLE_PRODUCTS" ]; do
    wpa wc product create --name="Sample product $i" --type=simple --regular_price="$((i * 10 + 9)).99" \
      --status=publish --description="A sample product created by Storefleet." --porcelain >/dev/null \
      || fail "could not create sample product $i"
    i=$((i + 1))
  done
  log "created $SAMPLE_PRODUCTS sample products"
fi

# The test order: placed once, remembered in an option, verified on every run.
first_method=${PAYMENT_METHODS%% *}
case "$first_method" in
  cod) method_title="Cash on delivery" ;;
  bacs) method_title="Direct bank transfer" ;;
  cheque) method_title="Check payments" ;;
  *) method_title=$first_method ;;
esac
order_id=$(wp option get storefleet_test_order_id 2>/dev/null || true)
if [ -n "$order_id" ] && wpa wc shop_order get "$order_id" --field=id >/dev/null 2>&1; then
  log "test order #$order_id exists"
else
  product_id=$(wpa wc product list --status=publish --format=ids --per_page=1 | awk '{print $1}')
  if [ -z "$product_id" ]; then
    product_id=$(wpa wc product create --name="Storefleet test product" --type=simple --regular_price=1.00 \
      --status=private --porcelain) || fail "could not create a product for the test order"
  fi
  order_id=$(wpa wc shop_order create --status=processing --payment_method="$first_method" \
    --payment_method_title="$method_title" --set_paid=false --customer_note="Storefleet setup test order" \
    --billing="{\"first_name\":\"Test\",\"last_name\":\"Customer\",\"email\":\"$(json_escape "$ADMIN_EMAIL")\"}" \
    --line_items="[{\"product_id\":$product_id,\"quantity\":1}]" --porcelain) \
    || fail "could not place the test order"
  wp option update storefleet_test_order_id "$order_id" >/dev/null || fail "could not remember the test order"
  log "placed test order #$order_id"
fi
order_method=$(wpa wc shop_order get "$order_id" --field=payment_method) || fail "could not read test order #$order_id"
[ "$order_method" = "$first_method" ] || fail "test order #$order_id uses $order_method, expected $first_method"
order_total=$(wpa wc shop_order get "$order_id" --field=total) || fail "could not read the total of test order #$order_id"
case "$order_total" in
  "" | 0 | 0.0 | 0.00) fail "test order #$order_id has no total" ;;
esac
log "verified test order #$order_id ($order_method, total $order_total)"

# What the shop runs, read from it (the operator copies this to status.versions): one line of
# JSON to the termination log, which the kubelet puts in the container's status. A version that
# cannot be read is left empty: the report never fails a shop that sells.
wordpress_version=$(wp core version 2>/dev/null || true)
woocommerce_version=$(wp plugin get woocommerce --field=version 2>/dev/null || true)
database_version=$(wp db query "SELECT VERSION()" --skip-column-names 2>/dev/null || true)
php_version=$(php -r 'echo PHP_VERSION;' 2>/dev/null || true)
report "$(printf '{"wordpress": "%s", "woocommerce": "%s", "php": "%s", "database": "%s"}' \
  "$wordpress_version" "$woocommerce_version" "$php_version" "$database_version")"
log "runs WordPress ${wordpress_version:-?}, WooCommerce ${woocommerce_version:-?}, database ${database_version:-?}"
log "done: $STORE_URL is set up"
