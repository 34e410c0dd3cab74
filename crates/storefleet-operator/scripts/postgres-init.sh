#!/bin/sh
# Storefleet: run once by the official postgres image's entrypoint on an empty data directory
# (/docker-entrypoint-initdb.d), as the superuser POSTGRES_USER. Creates the application's role
# without any superuser power (it cannot read other databases' files, load extensions that are
# not trusted, or change roles) and its database, owned by it. Values come from the environment
# (the database-credentials Secret); psql quotes them (:"ident", :'literal'), nothing is printed.
set -eu
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
  --set=app_user="$APP_USER" --set=app_password="$APP_PASSWORD" --set=app_db="$APP_DB" <<'EOSQL'
CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
CREATE DATABASE :"app_db" OWNER :"app_user";
REVOKE ALL ON DATABASE postgres FROM PUBLIC;
EOSQL
