#!/usr/bin/env bash
# Builds the node tier's stand-in images, without a registry or a Docker engine, into a cache
# folder outside the repository, and prints the variable that points the node tier at them:
#
#   eval "$(hack/node-images.sh ../shared)"   # then: make test
#
# STOREFLEET_NODE_IMAGES   a folder of OCI archives (one per image) and `refs` (archive → reference)
#
# These are STAND-INS, not the official images: a Debian 12 root (debootstrap) with Debian's
# packages (PHP 8.2, MariaDB 10.11, ...) plus the official images' own start-up files from
# `shared/fixtures/` (entrypoints, healthcheck, WordPress tarball, WP-CLI) and the official
# Dockerfiles' users, paths, volumes, entrypoints and commands. Each one says so in its labels
# (`io.storefleet.stand-in`). They are imported under the references a Store's manifests use, so
# the manifests run unchanged.
#
# Built once per content (this script and the fixture files it reads); about 2 minutes the first
# time. Needs root, debootstrap (`make test-deps` installs it) and gcc (the pause binary);
# otherwise, or when the build fails, it prints why and nothing else, and the node tier skips
# with one line.
set -euo pipefail

shared=${1:-../shared}
cache=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/storefleet}/node-images
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
wp_src="$shared/fixtures/wordpress"
mariadb_src="$shared/fixtures/mariadb"

if [ "$(id -u)" != 0 ]; then
  echo "node-images: not root: the node tier will skip" >&2
  exit 0
fi
for tool in debootstrap sha256sum tar gcc; do
  command -v "$tool" >/dev/null || { echo "node-images: no $tool (make test-deps): the node tier will skip" >&2; exit 0; }
done
for f in "$wp_src/docker-entrypoint-apache.sh" "$wp_src/docker-entrypoint-cli.sh" "$wp_src/wp-config-docker.php" \
  "$mariadb_src/docker-entrypoint.sh" "$mariadb_src/healthcheck.sh"; do
  [ -f "$f" ] || { echo "node-images: no $f: the node tier will skip" >&2; exit 0; }
done
wordpress_tar=$(find "$wp_src" -maxdepth 1 -name 'wordpress-*.tar.xz' | sort | head -n1)
wp_cli=$(find "$wp_src" -maxdepth 1 -name 'wp-cli-*.phar' | sort | head -n1)

# The cache key: this script and every file it puts into an image.
key=$(cat "${BASH_SOURCE[0]}" "$wordpress_tar" "$wp_cli" "$wp_src/docker-entrypoint-apache.sh" \
  "$wp_src/docker-entrypoint-cli.sh" "$wp_src/wp-config-docker.php" "$mariadb_src/docker-entrypoint.sh" \
  "$mariadb_src/healthcheck.sh" | sha256sum | cut -c1-16)
out="$cache/$key"
if [ -f "$out/.done" ]; then
  echo "export STOREFLEET_NODE_IMAGES=$out"
  exit 0
fi

work=$(mktemp -d /var/tmp/storefleet-node-images.XXXXXX)
# On any failure (a mirror that does not answer, a package that does not install) the build
# stops, says so, leaves no half-built folder, and the node tier skips (exit 0, no variable).
cleanup() {
  local status=$?
  for m in "$work"/*/proc; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
  rm -rf "$work"
  if [ "$status" != 0 ]; then
    rm -rf "$out"
    echo "node-images: the build failed (exit $status, see above): the node tier will skip" >&2
    exit 0
  fi
}
trap cleanup EXIT
started=$(date +%s)
echo "node-images: building the stand-in images into $out (once per content)" >&2

debootstrap --variant=minbase bookworm "$work/base" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
# No service starts while packages install; apt finds the same mirror.
printf '#!/bin/sh\nexit 101\n' >"$work/base/usr/sbin/policy-rc.d"
chmod +x "$work/base/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$work/base/etc/resolv.conf"

# new_root NAME: a copy of the base root to install into.
new_root() {
  cp -a "$work/base" "$work/$1"
  mount -t proc proc "$work/$1/proc"
}

# apt_install ROOT PACKAGES...: Debian packages into ROOT, without recommends.
apt_install() {
  local root=$1
  shift
  chroot "$root" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends "$@" \
    >"$root.apt.log" 2>&1 || { tail -n 30 "$root.apt.log" >&2; exit 1; }
}

# finish ROOT: what every image drops (package lists and archives, the build's policy and resolver).
finish() {
  local root=$1
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root/usr/sbin/policy-rc.d"
  : >"$root/etc/resolv.conf"
  umount -l "$root/proc"
}

# json_array A B ...: ["A","B",...] (the values here hold no quotes or backslashes).
json_array() {
  local out="" v
  for v in "$@"; do out="$out${out:+,}\"$v\""; done
  printf '[%s]' "$out"
}

# pack ROOT ARCHIVE REF CONFIG-JSON: ROOT as a one-layer OCI image archive named REF.
pack() {
  local root=$1 archive=$2 ref=$3 config=$4 oci
  oci="$work/oci-$(basename "$2" .tar)"
  mkdir -p "$oci/blobs/sha256"
  tar --numeric-owner --xattrs --one-file-system -C "$root" \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf "$oci/layer.tar" .
  local layer_sum layer_size config_sum config_size manifest manifest_sum
  layer_sum=$(sha256sum "$oci/layer.tar" | cut -d' ' -f1)
  layer_size=$(stat -c %s "$oci/layer.tar")
  mv "$oci/layer.tar" "$oci/blobs/sha256/$layer_sum"
  printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$config" "$layer_sum" >"$oci/config.json"
  config_sum=$(sha256sum "$oci/config.json" | cut -d' ' -f1)
  config_size=$(stat -c %s "$oci/config.json")
  mv "$oci/config.json" "$oci/blobs/sha256/$config_sum"
  manifest=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$config_sum" "$config_size" "$layer_sum" "$layer_size")
  printf '%s' "$manifest" >"$oci/manifest.json"
  manifest_sum=$(sha256sum "$oci/manifest.json" | cut -d' ' -f1)
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s"}}]}' \
    "$manifest_sum" "$(stat -c %s "$oci/manifest.json")" "$ref" >"$oci/index.json"
  mv "$oci/manifest.json" "$oci/blobs/sha256/$manifest_sum"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
  tar -C "$oci" -cf "$archive" oci-layout index.json blobs
  rm -rf "$oci"
  printf '%s %s\n' "$(basename "$archive")" "$ref" >>"$out/refs.partial"
}

# config USER ENTRYPOINT-JSON CMD-JSON WORKDIR VOLUME STANDIN-TEXT ENV...: an image config.
config() {
  local user=$1 entrypoint=$2 cmd=$3 workdir=$4 volume=$5 standin=$6
  shift 6
  local volumes="{}"
  [ -z "$volume" ] || volumes="{\"$volume\":{}}"
  printf '{"User":"%s","Env":%s,"Entrypoint":%s,"Cmd":%s,"WorkingDir":"%s","Volumes":%s,"Labels":{"io.storefleet.stand-in":"%s"}}' \
    "$user" "$(json_array "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "$@")" \
    "$entrypoint" "$cmd" "$workdir" "$volumes" "$standin"
}

rm -rf "$out" && mkdir -p "$out"

# --- registry.k8s.io/pause:3.10 ------------------------------------------------------------------
# The sandbox image: a static binary that waits for a signal (as Kubernetes' build/pause does).
mkdir -p "$work/pause"
cat >"$work/pause.c" <<'EOF'
#include <signal.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
int main(void) {
  signal(SIGINT, stop);
  signal(SIGTERM, stop);
  for (;;) pause();
}
EOF
gcc -static -O2 -o "$work/pause/pause" "$work/pause.c"
pack "$work/pause" "$out/pause.tar" registry.k8s.io/pause:3.10 "$(config 65535:65535 '["/pause"]' '[]' / "" \
  "stand-in for registry.k8s.io/pause:3.10: a static binary that waits for a signal")"

# --- docker.io/library/mariadb:11.4.8 ------------------------------------------------------------
# As the official Dockerfile: user mysql uid/gid 999 first, the server without its own datadir,
# /var/lib/mysql and /run/mysqld (1777), problematic settings commented out, no name resolution.
root="$work/mariadb"
new_root mariadb
chroot "$root" groupadd -r -g 999 mysql
chroot "$root" useradd -r -u 999 -g mysql mysql --home-dir /var/lib/mysql
mkdir -p "$root/var/lib/mysql/mysql" && touch "$root/var/lib/mysql/mysql/user.frm"
apt_install "$root" mariadb-server mariadb-backup socat pwgen tzdata xz-utils zstd ca-certificates gosu
rm -rf "$root/var/lib/mysql" && mkdir -p "$root/var/lib/mysql" "$root/run/mysqld" "$root/docker-entrypoint-initdb.d"
chroot "$root" chown -R mysql:mysql /var/lib/mysql /run/mysqld
chmod 1777 "$root/run/mysqld"
find "$root/etc/mysql/" -name '*.cnf' -print0 | xargs -0 grep -lZE '^(bind-address|log|user\s)' \
  | xargs -r -0 sed -Ei 's/^(bind-address|log|user\s)/#&/'
printf "[mariadb]\nhost-cache-size=0\nskip-name-resolve\n" >"$root/etc/mysql/mariadb.conf.d/05-skipcache.cnf"
if [ -L "$root/etc/mysql/my.cnf" ]; then
  sed -i -e '/includedir/ {N;s/\(.*\)\n\(.*\)/\n\2\n\1/}' "$root/etc/mysql/mariadb.cnf"
fi
install -m 0755 "$mariadb_src/healthcheck.sh" "$root/usr/local/bin/healthcheck.sh"
install -m 0755 "$mariadb_src/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
# The one shim of a stand-in: the 11.4 entrypoint starts its temporary server with
# --ssl-cert='' --ssl-key='' --ssl-ca='' (11.4: no certificate); Debian's 10.11 reads that as a
# certificate file named '' and aborts. Found by the node tier; not a difference of the manifests.
cat >"$root/usr/local/sbin/mariadbd" <<'EOF'
#!/bin/bash
args=()
for arg in "$@"; do
  case "$arg" in
    --ssl-cert= | --ssl-key= | --ssl-ca=) ;;
    *) args+=("$arg") ;;
  esac
done
exec /usr/sbin/mariadbd "${args[@]}"
EOF
chmod 0755 "$root/usr/local/sbin/mariadbd"
finish "$root"
pack "$root" "$out/mariadb.tar" docker.io/library/mariadb:11.4.8 "$(config "" \
  '["docker-entrypoint.sh"]' '["mariadbd"]' / /var/lib/mysql \
  "stand-in for mariadb:11.4.8: Debian 12 mariadb-server 10.11 with the official 11.4 entrypoint and healthcheck.sh" \
  LANG=C.UTF-8 MARIADB_VERSION=1:10.11-debian-stand-in)"
rm -rf "$root"

# --- docker.io/library/wordpress:<version>-php8.3-apache -----------------------------------------
# php:8.3-apache's Apache layout (envvars overridable, run/lock/log folders 1777 and owned by
# www-data, logs to stdout/stderr, prefork, docker-php.conf, apache2-foreground) and the wordpress
# Dockerfile's PHP settings, modules, /usr/src/wordpress and entrypoint. www-data is uid 33 in Debian.
root="$work/wordpress"
new_root wordpress
apt_install "$root" apache2 libapache2-mod-php php-mysql php-curl php-gd php-mbstring php-xml php-zip \
  php-intl php-bcmath php-imagick ghostscript ca-certificates
sed -ri 's/^export ([^=]+)=(.*)$/: ${\1:=\2}\nexport \1/' "$root/etc/apache2/envvars"
# shellcheck disable=SC2016 # expanded inside the image's root
chroot "$root" env APACHE_CONFDIR=/etc/apache2 sh -e -c '
  . /etc/apache2/envvars
  for dir in "$APACHE_LOCK_DIR" "$APACHE_RUN_DIR" "$APACHE_LOG_DIR" /var/www/html; do
    rm -rf "$dir"; mkdir -p "$dir"; chown "$APACHE_RUN_USER:$APACHE_RUN_GROUP" "$dir"; chmod 1777 "$dir"
  done
  ln -sfT /dev/stderr "$APACHE_LOG_DIR/error.log"
  ln -sfT /dev/stdout "$APACHE_LOG_DIR/access.log"
  ln -sfT /dev/stdout "$APACHE_LOG_DIR/other_vhosts_access.log"
  chown -R --no-dereference "$APACHE_RUN_USER:$APACHE_RUN_GROUP" "$APACHE_LOG_DIR"
  a2dismod -q mpm_event >/dev/null; a2enmod -q mpm_prefork rewrite expires remoteip >/dev/null
'
printf '<FilesMatch \\.php$>\n\tSetHandler application/x-httpd-php\n</FilesMatch>\n\nDirectoryIndex disabled\nDirectoryIndex index.php index.html\n\n<Directory /var/www/>\n\tOptions -Indexes\n\tAllowOverride All\n</Directory>\n' \
  >"$root/etc/apache2/conf-available/docker-php.conf"
printf 'RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 10.0.0.0/8\nRemoteIPInternalProxy 172.16.0.0/12\nRemoteIPInternalProxy 192.168.0.0/16\nRemoteIPInternalProxy 169.254.0.0/16\nRemoteIPInternalProxy 127.0.0.0/8\n' \
  >"$root/etc/apache2/conf-available/remoteip.conf"
chroot "$root" sh -c 'a2enconf -q docker-php remoteip >/dev/null'
find "$root/etc/apache2" -type f -name '*.conf' -exec sed -ri 's/([[:space:]]*LogFormat[[:space:]]+"[^"]*)%h([^"]*")/\1%a\2/g' '{}' +
for ini_dir in "$root"/etc/php/*/apache2/conf.d "$root"/etc/php/*/cli/conf.d; do
  printf 'opcache.memory_consumption=128\nopcache.interned_strings_buffer=8\nopcache.max_accelerated_files=4000\nopcache.revalidate_freq=2\n' \
    >"$ini_dir/90-opcache-recommended.ini"
  printf 'error_reporting = E_ERROR | E_WARNING | E_PARSE | E_CORE_ERROR | E_CORE_WARNING | E_COMPILE_ERROR | E_COMPILE_WARNING | E_RECOVERABLE_ERROR\ndisplay_errors = Off\ndisplay_startup_errors = Off\nlog_errors = On\nerror_log = /dev/stderr\nlog_errors_max_len = 1024\nignore_repeated_errors = On\nignore_repeated_source = Off\nhtml_errors = Off\n' \
    >"$ini_dir/90-error-logging.ini"
done
# php:*-apache's apache2-foreground: the envvars, a fresh pid file, Apache in the foreground.
cat >"$root/usr/local/bin/apache2-foreground" <<'EOF'
#!/bin/bash
set -e
: "${APACHE_CONFDIR:=/etc/apache2}"
: "${APACHE_ENVVARS:=$APACHE_CONFDIR/envvars}"
if test -f "$APACHE_ENVVARS"; then
	. "$APACHE_ENVVARS"
fi
: "${APACHE_RUN_DIR:=/var/run/apache2}"
: "${APACHE_PID_FILE:=$APACHE_RUN_DIR/apache2.pid}"
rm -f "$APACHE_PID_FILE"
for e in "${!APACHE_@}"; do
	if [[ "$e" == *_DIR ]] && [[ "${!e}" == /* ]]; then
		dir="${!e}"
		while [ "$dir" != "$(dirname "$dir")" ]; do
			dir="$(dirname "$dir")"
			if [ -d "$dir" ]; then
				break
			fi
			absDir="$(readlink -f "$dir" 2>/dev/null || :)"
			if [ -n "$absDir" ]; then
				mkdir -p "$absDir"
			fi
		done
		mkdir -p "${!e}"
	fi
done
exec apache2 -DFOREGROUND "$@"
EOF
chmod 0755 "$root/usr/local/bin/apache2-foreground"
mkdir -p "$root/usr/src/wordpress"
tar -xJf "$wordpress_tar" -C "$root/usr/src/wordpress"
printf '# BEGIN WordPress\n\nRewriteEngine On\nRewriteRule .* - [E=HTTP_AUTHORIZATION:%%{HTTP:Authorization}]\nRewriteBase /\nRewriteRule ^index\\.php$ - [L]\nRewriteCond %%{REQUEST_FILENAME} !-f\nRewriteCond %%{REQUEST_FILENAME} !-d\nRewriteRule . /index.php [L]\n\n# END WordPress\n' \
  >"$root/usr/src/wordpress/.htaccess"
cp "$wp_src/wp-config-docker.php" "$root/usr/src/wordpress/"
chroot "$root" chown -R www-data:www-data /usr/src/wordpress
mkdir -p "$root/var/www/html/wp-content/cache"
for d in "$root"/usr/src/wordpress/wp-content/*/; do mkdir -p "$root/var/www/html/wp-content/$(basename "$d")"; done
chroot "$root" chown -R www-data:www-data /var/www/html/wp-content
chmod -R 1777 "$root/var/www/html/wp-content"
install -m 0755 "$wp_src/docker-entrypoint-apache.sh" "$root/usr/local/bin/docker-entrypoint.sh"
ln -sfT docker-entrypoint.sh "$root/usr/local/bin/docker-ensure-installed.sh"
finish "$root"
wp_version=$(basename "$wordpress_tar" .tar.xz | sed 's/^wordpress-//')
pack "$root" "$out/wordpress.tar" "docker.io/library/wordpress:$wp_version-php8.3-apache" "$(config "" \
  '["docker-entrypoint.sh"]' '["apache2-foreground"]' /var/www/html /var/www/html \
  "stand-in for wordpress:$wp_version-php8.3-apache: Debian 12 Apache and PHP 8.2 with the official Dockerfile layout and docker-entrypoint.sh" \
  APACHE_CONFDIR=/etc/apache2 APACHE_ENVVARS=/etc/apache2/envvars)"
rm -rf "$root"

# --- docker.io/library/wordpress:cli-2.12.0-php8.3 -----------------------------------------------
# The CLI image: PHP CLI with the same extensions, the MariaDB client, wp at /usr/local/bin/wp,
# user www-data (uid 33), busybox `sh` as the shell (the official one is Alpine), its entrypoint.
root="$work/wp-cli"
new_root wp-cli
apt_install "$root" php-cli php-mysql php-curl php-gd php-mbstring php-xml php-zip php-intl php-bcmath \
  mariadb-client busybox less ca-certificates
ln -sf /bin/busybox "$root/bin/sh"
install -m 0755 "$wp_cli" "$root/usr/local/bin/wp"
install -m 0755 "$wp_src/docker-entrypoint-cli.sh" "$root/usr/local/bin/docker-entrypoint.sh"
mkdir -p "$root/var/www/html" && chroot "$root" chown www-data:www-data /var/www/html
finish "$root"
pack "$root" "$out/wp-cli.tar" docker.io/library/wordpress:cli-2.12.0-php8.3 "$(config 33:33 \
  '["docker-entrypoint.sh"]' '["wp","shell"]' /var/www/html /var/www/html \
  "stand-in for wordpress:cli-2.12.0-php8.3: Debian 12 PHP 8.2 CLI, WP-CLI $(basename "$wp_cli" .phar | sed 's/^wp-cli-//'), busybox sh, the official entrypoint" \
  PAGER=more)"
rm -rf "$root"

mv "$out/refs.partial" "$out/refs"
touch "$out/.done"
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} + 2>/dev/null || true
echo "node-images: built $(wc -l <"$out/refs") images in $(($(date +%s) - started)) s" >&2
echo "export STOREFLEET_NODE_IMAGES=$out"
