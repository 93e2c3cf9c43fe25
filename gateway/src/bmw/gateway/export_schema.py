"""Write the schema as SDL to ``gateway/schema.graphql``, the committed public contract.

python -m bmw.gateway.export_schema                    # (re)write gateway/schema.graphql
python -m bmw.gateway.export_schema --check            # exit 1 if the file differs from the code
python -m bmw.gateway.export_schema --allow-breaking   # write even a change that breaks clients

The previous export is what portals and integrations were built against: a change that would break them
(a removed field or enum value, a new required argument, a changed type, ...) is refused, listed by
graphql-core's ``find_breaking_changes``, until it is written with ``--allow-breaking`` on purpose (then it
needs a deprecation period or a note to the clients). Additions are never breaking.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from graphql import build_schema as build_sdl_schema
from graphql import find_breaking_changes

from bmw.gateway.schema import schema_sdl

EXPORT_HINT = "run `python -m bmw.gateway.export_schema` and commit gateway/schema.graphql"


def default_schema_path() -> Path:
    """``gateway/schema.graphql`` of the source checkout this module lives in."""
    return Path(__file__).resolve().parents[3] / "schema.graphql"


def breaking_changes(previous_sdl: str, sdl: str) -> list[str]:
    """What in ``sdl`` would break a client of ``previous_sdl``, one line each."""
    previous, current = build_sdl_schema(previous_sdl), build_sdl_schema(sdl)
    return [f"{change.type.name}: {change.description}" for change in find_breaking_changes(previous, current)]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m bmw.gateway.export_schema",
        description="Export the GraphQL schema as SDL, or check that the exported file is current.",
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    parser.add_argument("--output", type=Path, default=None, help="default: gateway/schema.graphql")
    parser.add_argument(
        "--allow-breaking",
        action="store_true",
        help="write a change that breaks clients of the previous export (removed fields, new required arguments)",
    )
    args = parser.parse_args(argv)
    path: Path = args.output or default_schema_path()
    sdl = schema_sdl()
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if args.check:
        if current != sdl:
            print(f"{path} is out of date; {EXPORT_HINT}", file=sys.stderr)
            return 1
        print(f"{path} is current")
        return 0
    if current is not None and current != sdl and not args.allow_breaking:
        breaking = breaking_changes(current, sdl)
        if breaking:
            print(f"{path} not written: the change breaks clients of the previous export:", file=sys.stderr)
            for line in breaking:
                print(f"  {line}", file=sys.stderr)
            print("deprecate instead, or pass --allow-breaking on purpose", file=sys.stderr)
            return 1
    if current != sdl:
        path.write_text(sdl, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
