#!/usr/bin/env bash
# Builds the node tier's stand-in images, without a registry or a Docker engine, into a cache
# folder outside the repository, and prints the variable that points the node tier at them:
#
#   eval "$(hack/node-images.sh ../shared)"   # then: make test
#
# STOREFLEET_NODE_IMAGES   folders (`:`-separated) of OCI archives, each with `refs` (archive →
#                          reference): the Debian-based images, and the Medusa image in its own
#                          folder (rebuilt when medusa/ changes, without the others)
#
# These are STAND-INS, not the official images: a Debian 12 root (debootstrap) with Debian's
# packages (PHP 8.2, MariaDB 10.11, ...) plus the official images' own start-up files from
# `shared/fixtures/` (entrypoints, healthcheck, WordPress tarball, WP-CLI) and the official
# Dockerfiles' users, paths, volumes, entrypoints and commands. Each one says so in its labels
# (`io.storefleet.stand-in`). They are imported under the references a Store's manifests use, so
# the manifests run unchanged.
#
# The Medusa image is built as medusa/Dockerfile builds it (`medusa build`, then the production
# modules with `npm ci --omit=dev`), from the locked modules of hack/medusa-deps.sh, on this
# machine's Node 20 in place of the node:20-bookworm-slim base.
#
# Built once per content (this script, hack/node-images/, the fixture files, medusa/); about 3½
# minutes the first time (the Medusa application builds meanwhile), the Medusa image alone about
# 1½ when only medusa/ changed. Needs root, debootstrap (`make test-deps` installs it) and gcc
# (the pause binary); otherwise, or when the build fails, it prints why and nothing else, and the
# node tier skips with one line. Without node/npm or the
# Medusa modules only the Medusa image is missing, and only the tests that need it skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
medusa_src="$here/../medusa"
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
key=$(cat "${BASH_SOURCE[0]}" "$here"/node-images/{lib,postgres-entrypoint,redis-entrypoint}.sh "$wordpress_tar" "$wp_cli" \
  "$wp_src/docker-entrypoint-apache.sh" "$wp_src/docker-entrypoint-cli.sh" "$wp_src/wp-config-docker.php" \
  "$mariadb_src/docker-entrypoint.sh" "$mariadb_src/healthcheck.sh" | sha256sum | cut -c1-16)
out="$cache/$key"

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

# json_array, pack, config, phase_cleanup: shared with the Medusa image's phase.
# shellcheck source=hack/node-images/lib.sh
. "$here/node-images/lib.sh"
# medusa_image: the Medusa image's phase (its own cache key: editing it rebuilds only that image).
# shellcheck source=hack/node-images/medusa-image.sh
. "$here/node-images/medusa-image.sh"

# --- The Debian-based images (one phase, in a subshell: its own work folder and clean-up) ----------
debian_images() {
work=$(mktemp -d /var/tmp/storefleet-node-images.XXXXXX)
dest=$out
trap 'phase_cleanup "$out" "the stand-in images" "the node tier will skip"' EXIT
rm -rf "$out" && mkdir -p "$out"
echo "node-images: building the stand-in images into $out (once per content)" >&2

debootstrap --variant=minbase bookworm "$work/base" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
# No service starts while packages install; apt finds the same mirror.
printf '#!/bin/sh\nexit 101\n' >"$work/base/usr/sbin/policy-rc.d"
chmod +x "$work/base/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$work/base/etc/resolv.conf"
# debian:bookworm-slim's trim, which the official images start from: no documentation (but the
# copyrights), manuals or translations, from the packages installed so far and from every later one.
printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
  'path-exclude /usr/share/groff/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/linda/*' \
  'path-exclude /usr/share/lintian/*' 'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/man/*' \
  >"$work/base/etc/dpkg/dpkg.cfg.d/docker"
find "$work/base/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
find "$work/base/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$work/base"/usr/share/{groff,info,linda,lintian,locale,man}/*
# The base root, kept for the Medusa image (built later, and again whenever medusa/ changes).
tar --numeric-owner --xattrs -C "$work/base" -cf "$out/base.tar" .


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
pack "$work/pause" "$out/pause.tar" registry.k8s.io/pause:3.10 "$(config 65535:65535 '["/pause"]' '[]' / "" "" \
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
  '["docker-entrypoint.sh"]' '["mariadbd"]' / /var/lib/mysql "" \
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
  '["docker-entrypoint.sh"]' '["apache2-foreground"]' /var/www/html /var/www/html SIGWINCH \
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
  '["docker-entrypoint.sh"]' '["wp","shell"]' /var/www/html /var/www/html "" \
  "stand-in for wordpress:cli-2.12.0-php8.3: Debian 12 PHP 8.2 CLI, WP-CLI $(basename "$wp_cli" .phar | sed 's/^wp-cli-//'), busybox sh, the official entrypoint" \
  PAGER=more)"
rm -rf "$root"


# --- docker.io/library/postgres:17.6 ------------------------------------------------------------
# As the official Dockerfile (Debian variant): user postgres uid/gid 999 before the packages, no
# cluster made by the package, the en_US.UTF-8 locale, the server's binaries on the PATH,
# listen_addresses = '*' in the sample configuration, PGDATA (1777) and /var/run/postgresql
# (3777) owned by postgres, /docker-entrypoint-initdb.d, stop signal SIGINT (a fast shutdown).
root="$work/postgres"
new_root postgres
chroot "$root" groupadd -r -g 999 postgres
chroot "$root" useradd -r -g postgres -u 999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres
mkdir -p "$root/var/lib/postgresql" && chroot "$root" chown -R postgres:postgres /var/lib/postgresql
# As the official Dockerfile: translations are kept in this image (initdb's locale).
sed -i '/\/usr\/share\/locale/d' "$root/etc/dpkg/dpkg.cfg.d/docker"
apt_install "$root" postgresql-common locales
sed -ri 's/#(create_main_cluster) .*$/\1 = false/' "$root/etc/postgresql-common/createcluster.conf"
grep -q '^create_main_cluster = false' "$root/etc/postgresql-common/createcluster.conf"
chroot "$root" localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8
apt_install "$root" postgresql-15
pg_bin=/usr/lib/postgresql/15/bin
sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$root/usr/share/postgresql/15/postgresql.conf.sample"
grep -F "listen_addresses = '*'" "$root/usr/share/postgresql/15/postgresql.conf.sample" >/dev/null
mkdir -p "$root/var/run/postgresql" "$root/var/lib/postgresql/data" "$root/docker-entrypoint-initdb.d"
chroot "$root" chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql/data
chmod 3777 "$root/var/run/postgresql"
chmod 1777 "$root/var/lib/postgresql/data"
install -m 0755 "$here/node-images/postgres-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
finish "$root"
pack "$root" "$out/postgres.tar" docker.io/library/postgres:17.6 "$(config "" \
  '["docker-entrypoint.sh"]' '["postgres"]' / /var/lib/postgresql/data SIGINT \
  "stand-in for postgres:17.6: Debian 12 PostgreSQL 15 with a Storefleet-written entrypoint of the official one's behaviour (hack/node-images/postgres-entrypoint.sh)" \
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$pg_bin" \
  LANG=en_US.utf8 PG_MAJOR=15 PGDATA=/var/lib/postgresql/data)"
rm -rf "$root"

# --- docker.io/library/redis:7.4.5 --------------------------------------------------------------
# As the official Dockerfile: user redis uid/gid 999 before the package, /data owned by it as the
# volume and working folder, redis-server as the command.
root="$work/redis"
new_root redis
chroot "$root" groupadd -r -g 999 redis
chroot "$root" useradd -r -g redis -u 999 redis
apt_install "$root" redis-server
mkdir -p "$root/data" && chroot "$root" chown redis:redis /data
install -m 0755 "$here/node-images/redis-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
finish "$root"
pack "$root" "$out/redis.tar" docker.io/library/redis:7.4.5 "$(config "" \
  '["docker-entrypoint.sh"]' '["redis-server"]' /data /data "" \
  "stand-in for redis:7.4.5: Debian 12 Redis 7.0 with a Storefleet-written entrypoint of the official one's behaviour (hack/node-images/redis-entrypoint.sh)")"
rm -rf "$root"

# --- docker.io/restic/restic:0.18.0 --------------------------------------------------------------
# The official image is Alpine with restic as its entrypoint; Storefleet's backup, restore and
# drill pods run their script with `sh` (its sed, date, tr). Here: Debian's restic, dash and
# coreutils, ca-certificates.
root="$work/restic"
new_root restic
apt_install "$root" restic ca-certificates
restic_version=$(chroot "$root" restic version | cut -d' ' -f2)
finish "$root"
pack "$root" "$out/restic.tar" docker.io/restic/restic:0.18.0 "$(config "" \
  '["/usr/bin/restic"]' '[]' / "" "" \
  "stand-in for restic/restic:0.18.0: Debian 12 restic $restic_version with a POSIX shell and coreutils")"
rm -rf "$root"

mv "$out/refs.partial" "$out/refs"
touch "$out/.done"
}

started=$(date +%s)
# The Medusa modules (hack/medusa-deps.sh), when node and npm are here.
modules=${STOREFLEET_MEDUSA_MODULES:-}
if [ -z "$modules" ] && command -v node >/dev/null && command -v npm >/dev/null; then
  modules=$(STOREFLEET_MEDUSA_MODULES='' "$here/medusa-deps.sh" | sed -n 's/^export STOREFLEET_MEDUSA_MODULES=//p')
fi
mkey='' mout='' mstage='' build=''
if [ -z "$modules" ] || [ ! -x "$modules/.bin/medusa" ]; then
  echo "node-images: no Medusa modules (hack/medusa-deps.sh): the Medusa store of the node tier will skip" >&2
else
  medusa_version=$(sed -n 's/^  "version": "\([^"]*\)",$/\1/p' "$medusa_src/package.json")
  mkey=$( (cat "$here"/node-images/{lib,medusa-image,node-entrypoint}.sh; echo "$key $modules"
    node --version; npm --version
    cd "$medusa_src" && find . \( -name node_modules -o -name .medusa \) -prune -o -type f -print | LC_ALL=C sort \
      | while read -r f; do echo "$f"; cat "$f"; done) | sha256sum | cut -c1-16)
  mout="$cache/medusa-$mkey"
  mstage="$mout.stage"
  if [ ! -f "$mout/.done" ] && [ ! -f "$mstage/.done" ]; then
    (medusa_build) &
    build=$!
  fi
fi
[ -f "$out/.done" ] || (debian_images)
[ -z "$build" ] || wait "$build" || true
[ -f "$out/.done" ] || exit 0
folders=$out
if [ -n "$mout" ]; then
  [ -f "$mout/.done" ] || [ ! -f "$mstage/.done" ] || (medusa_image)
  [ ! -f "$mout/.done" ] || folders="$folders:$mout"
fi
find "$cache" -mindepth 1 -maxdepth 1 -type d ! -name "$key" ! -name "medusa-$mkey" -exec rm -rf {} + 2>/dev/null || true
if [ $(($(date +%s) - started)) -gt 5 ]; then
  echo "node-images: ready in $(($(date +%s) - started)) s: $folders" >&2
fi
echo "export STOREFLEET_NODE_IMAGES=$folders"
