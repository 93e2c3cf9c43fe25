#!/bin/sh
# The image's entry point: <component> <command> [options], e.g. "intake serve --host 0.0.0.0 --port 8000".
set -eu

usage() {
    cat <<'TEXT'
usage: <component> <command> [options]

components: intake, scheduling, billing, signals (serve, migrate, replay and their own jobs) and gateway (serve)
examples:
  intake serve --host 0.0.0.0 --port 8000     serve the HTTP API and consume events
  billing migrate                              bring billing's database schema to the newest revision
  signals replay --since 2026-11-01T00:00Z     publish a period's events again after the broker lost them
  <component> --help                           the component's own commands and options
TEXT
}

component="${1:-help}"
case "$component" in
    intake | scheduling | billing | signals | gateway)
        shift
        exec python -m "bmw.$component" "$@"
        ;;
    help | -h | --help)
        usage
        ;;
    *)
        echo "unknown component '$component'" >&2
        usage >&2
        exit 64
        ;;
esac
