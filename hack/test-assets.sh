#!/usr/bin/env bash
# Unpacks the real components the test tiers use, from a `shared/` folder beside the repository,
# into a cache folder outside it, and prints the variables that point the tests at them:
#
#   eval "$(hack/test-assets.sh ../shared)"   # then: make test
#
# KUBEBUILDER_ASSETS            etcd, kube-apiserver, kube-controller-manager (control-plane tier)
# STOREFLEET_WORDPRESS_FIXTURES WordPress, WooCommerce, Storefront, WP-CLI (real WordPress tier)
# STOREFLEET_GATEWAY_API_CRDS   the Gateway API CRDs (Gateway routing on the control-plane tier)
# STOREFLEET_GARAGE             Garage, a real S3-compatible object store (the backup tests)
#
# Each folder is unpacked once (a marker names the source files' sizes). Missing sources print
# nothing for that tier; its tests then skip with one line.
set -euo pipefail

shared=${1:-../shared}
cache=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/storefleet}
mkdir -p "$cache"

stamp() { stat -c '%s %n' "$@" 2>/dev/null | md5sum | cut -d' ' -f1; }

envtest_src="$shared/envtest"
if [ -f "$envtest_src/kube-apiserver.xz" ]; then
  dir="$cache/envtest"
  want=$(stamp "$envtest_src"/*.xz)
  if [ "$(cat "$dir/.stamp" 2>/dev/null || true)" != "$want" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    for f in "$envtest_src"/*.xz; do
      xz -dc "$f" > "$dir/$(basename "$f" .xz)"
    done
    chmod +x "$dir"/*
    echo "$want" > "$dir/.stamp"
    echo "test-assets: unpacked the control plane into $dir" >&2
  fi
  echo "export KUBEBUILDER_ASSETS=$dir"
else
  echo "test-assets: no $envtest_src: the control-plane tier will skip" >&2
fi

wp_src="$shared/fixtures/wordpress"
if [ -f "$wp_src/wp-cli-2.10.0.phar" ]; then
  dir="$cache/wordpress"
  want=$(stamp "$wp_src"/* "$wp_src"/upgrade/* "${BASH_SOURCE[0]}")
  if [ "$(cat "$dir/.stamp" 2>/dev/null || true)" != "$want" ]; then
    rm -rf "$dir" && mkdir -p "$dir"/{wordpress,woocommerce,storefront}
    tar -xJf "$wp_src"/wordpress-*.tar.xz -C "$dir/wordpress"
    tar -xJf "$wp_src"/woocommerce-*.tar.xz -C "$dir/woocommerce"
    tar -xJf "$wp_src"/storefront-*.tar.xz -C "$dir/storefront"
    cp "$wp_src"/wp-cli-*.phar "$dir/wp-cli.phar"
    cp "$wp_src/wp-config-docker.php" "$dir/wp-config-docker.php"
    cp "$wp_src/docker-entrypoint-apache.sh" "$dir/docker-entrypoint-apache.sh"
    # The other releases, for upgrades: upgrade/wordpress (7.0.4), upgrade/woocommerce (9.9.5).
    if [ -d "$wp_src/upgrade" ]; then
      mkdir -p "$dir"/upgrade/{wordpress,woocommerce}
      tar -xJf "$wp_src"/upgrade/wordpress-*.tar.xz -C "$dir/upgrade/wordpress"
      tar -xJf "$wp_src"/upgrade/woocommerce-*.tar.xz -C "$dir/upgrade/woocommerce"
    fi
    echo "$want" > "$dir/.stamp"
    echo "test-assets: unpacked WordPress, WooCommerce, Storefront and WP-CLI into $dir" >&2
  fi
  echo "export STOREFLEET_WORDPRESS_FIXTURES=$dir"
else
  echo "test-assets: no $wp_src: the real WordPress tier will skip" >&2
fi

gateway_src="$shared/fixtures/gateway-api-v1.6.1"
if [ -f "$gateway_src/gateway.networking.k8s.io_httproutes.yaml" ]; then
  echo "export STOREFLEET_GATEWAY_API_CRDS=$(cd "$gateway_src" && pwd)"
else
  echo "test-assets: no $gateway_src: the Gateway routing tests will skip" >&2
fi

garage_src="$shared/fixtures/object-store/garage-2.5.0.xz"
if [ -f "$garage_src" ]; then
  dir="$cache/object-store"
  want=$(stamp "$garage_src")
  if [ "$(cat "$dir/.stamp" 2>/dev/null || true)" != "$want" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    xz -dc "$garage_src" > "$dir/garage"
    chmod +x "$dir/garage"
    echo "$want" > "$dir/.stamp"
    echo "test-assets: unpacked Garage (the S3-compatible object store) into $dir" >&2
  fi
  echo "export STOREFLEET_GARAGE=$dir/garage"
else
  echo "test-assets: no $garage_src: the backup tests will skip" >&2
fi
