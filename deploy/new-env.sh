#!/bin/sh
# Print a new .env for docker-compose.yml: random passwords and keys, and the settings only you can fill in.
#   deploy/new-env.sh > .env && chmod 600 .env
# Keep the file secret and backed up: INTAKE_KEY_ENCRYPTION_KEY wraps every person's data key, and a lost key
# makes their data unreadable (deploy/README.md, "Back up").
set -eu

secret() { openssl rand -hex 24; }

cat <<ENV
# --- generated $(date -u +%Y-%m-%dT%H:%M:%SZ) by deploy/new-env.sh ---
POSTGRES_PASSWORD=$(secret)
INTAKE_DB_OWNER_PASSWORD=$(secret)
INTAKE_DB_APP_PASSWORD=$(secret)
SCHEDULING_DB_OWNER_PASSWORD=$(secret)
SCHEDULING_DB_APP_PASSWORD=$(secret)
BILLING_DB_OWNER_PASSWORD=$(secret)
BILLING_DB_APP_PASSWORD=$(secret)
SIGNALS_DB_OWNER_PASSWORD=$(secret)
SIGNALS_DB_APP_PASSWORD=$(secret)
BMW_LOGIN_DIGEST_KEY=$(secret)
INTAKE_KEY_ENCRYPTION_KEY=$(openssl rand -base64 32)
INTAKE_SUBJECT_PEPPER=$(secret)

# --- fill in: your identity provider (its JWKS URL, or one PEM public key in double quotes) ---
BMW_JWT_JWKS_URL=
BMW_JWT_PUBLIC_KEY=
BMW_JWT_ISSUER=
BMW_JWT_AUDIENCE=bmw

# --- fill in: the provider's details on every invoice ---
BILLING_SELLER_NAME=
BILLING_SELLER_KVK_NUMBER=
BILLING_SELLER_VAT_ID=
BILLING_SELLER_STREET=
BILLING_SELLER_POSTAL_CODE=
BILLING_SELLER_CITY=
BILLING_SELLER_EMAIL=
BILLING_SELLER_IBAN=

# --- optional ---
# OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4318   # with: docker compose --profile observability up
# OTEL_TRACES_SAMPLER_ARG=0.1                               # share of new traces kept
# BMW_GATEWAY_PORT=8080
ENV
