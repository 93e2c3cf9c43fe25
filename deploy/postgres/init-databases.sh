#!/bin/bash
# Run once by the postgres image, when its data volume is first created (docker-entrypoint-initdb.d).
#
# Per service: a database bmw_<service>, owned by the role bmw_<service> that runs the migrations, and a login role
# bmw_<service>_app that the service runs as. The app role owns nothing and cannot bypass row-level security, so the
# tenant walls (DESIGN §2) hold for every statement the service sends; it may read and write the tables the owner
# creates, now and in later migrations (default privileges), and nothing else.
set -euo pipefail

for service in intake scheduling billing signals; do
    upper="${service^^}"
    owner_password_var="${upper}_DB_OWNER_PASSWORD"
    app_password_var="${upper}_DB_APP_PASSWORD"
    owner_password="${!owner_password_var:?$owner_password_var is not set}"
    app_password="${!app_password_var:?$app_password_var is not set}"
    owner="bmw_${service}"
    app="bmw_${service}_app"

    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v owner="$owner" -v app="$app" -v owner_password="$owner_password" -v app_password="$app_password" <<'SQL'
CREATE ROLE :"owner" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE :"app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'app_password';
CREATE DATABASE :"owner" OWNER :"owner" ENCODING 'UTF8';
REVOKE ALL ON DATABASE :"owner" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"owner" TO :"app";
SQL

    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$owner" -v owner="$owner" -v app="$app" <<'SQL'
GRANT USAGE ON SCHEMA public TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO :"app";
SQL
    echo "bmw: database $owner with roles $owner (migrations) and $app (the service)"
done
