#!/usr/bin/env bash
# The node tier's stand-in for the official postgres image's docker-entrypoint.sh (Debian
# variant), written for Storefleet from the image's documented behaviour; not the official file.
# What it reproduces, for the variables a Store's manifests set:
#   - `postgres` is added before arguments that start with `-`; any other command runs as is;
#   - POSTGRES_USER (default postgres), POSTGRES_PASSWORD, POSTGRES_DB (default the user),
#     POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default: the server's password_encryption,
#     scram-sha-256) and their *_FILE forms; PGDATA;
#   - PGDATA and /var/run/postgresql are made (0700 / 03775); as root it chowns them and runs
#     again as postgres (uid 999);
#   - on an empty PGDATA only: the password is required (unless trust), initdb as POSTGRES_USER
#     with that password, `host all all all <method>` appended to pg_hba.conf, a temporary server
#     on the socket only, POSTGRES_DB created, /docker-entrypoint-initdb.d/* run in order (*.sh
#     executed when executable, sourced otherwise; *.sql, *.sql.gz through psql), the temporary
#     server stopped;
#   - otherwise nothing is touched; then the server replaces the script (exec).
set -Eeo pipefail

# file_env VAR [DEFAULT]: VAR from VAR or VAR_FILE (not both).
file_env() {
  local var=$1 file_var="${1}_FILE" def=${2:-} val
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    echo >&2 "error: both $var and $file_var are set (but are exclusive)"
    exit 1
  fi
  val=$def
  if [ -n "${!var:-}" ]; then
    val=${!var}
  elif [ -n "${!file_var:-}" ]; then
    val=$(<"${!file_var}")
  fi
  export "$var"="$val"
  unset "$file_var"
}

setup_env() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=}"
  EXISTING=
  if [ -s "$PGDATA/PG_VERSION" ]; then
    EXISTING=true
  fi
}

create_directories() {
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" || :
  mkdir -p /var/run/postgresql || :
  chmod 03775 /var/run/postgresql || :
  if [ "$(id -u)" = 0 ]; then
    find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
  fi
}

verify_env() {
  if [ "${#POSTGRES_PASSWORD}" -ge 100 ]; then
    echo >&2 "WARNING: the superuser password is 100 characters or longer; psql may cut it"
  fi
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    cat >&2 <<'EOM'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
EOM
    exit 1
  fi
}

init_database_dir() {
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of words, as in the official image
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS
}

setup_hba() {
  if [ -z "$POSTGRES_HOST_AUTH_METHOD" ]; then
    POSTGRES_HOST_AUTH_METHOD=$(postgres -C password_encryption "$@")
  fi
  printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
}

# sql DATABASE [psql args...]: psql as the superuser on the socket, stopping at the first error.
sql() {
  local db=$1
  shift
  PGHOST='' PGHOSTADDR='' psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password \
    --no-psqlrc --dbname "$db" "$@"
}

temp_server_start() {
  PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -w start \
    -o "$(printf '%q ' "$@" -c listen_addresses= -p "${PGPORT:-5432}")"
}

temp_server_stop() {
  PGUSER=postgres pg_ctl -D "$PGDATA" -m fast -w stop
}

setup_db() {
  if [ "$POSTGRES_DB" != postgres ]; then
    sql postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
}

process_init_files() {
  local f
  for f in "$@"; do
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then
          echo "$0: running $f"
          "$f"
        else
          echo "$0: sourcing $f"
          # shellcheck disable=SC1090
          . "$f"
        fi
        ;;
      *.sql) echo "$0: running $f"; sql "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | sql "$POSTGRES_DB" ;;
      *) [ ! -e "$f" ] || echo "$0: ignoring $f" ;;
    esac
  done
}

main() {
  if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
  fi
  if [ "$1" != postgres ]; then
    exec "$@"
  fi
  setup_env
  create_directories
  if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
  fi
  if [ -z "$EXISTING" ]; then
    verify_env
    ls /docker-entrypoint-initdb.d/ >/dev/null
    init_database_dir
    setup_hba "${@:2}"
    export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
    temp_server_start "${@:2}"
    setup_db
    process_init_files /docker-entrypoint-initdb.d/*
    temp_server_stop
    unset PGPASSWORD
    echo
    echo 'PostgreSQL init process complete; ready for start up.'
    echo
  else
    echo
    echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
    echo
  fi
  exec "$@"
}

main "$@"
