"""Write the schema as SDL to ``gateway/schema.graphql``, the committed public contract.

python -m bmw.gateway.export_schema           # (re)write gateway/schema.graphql
python -m bmw.gateway.export_schema --check   # exit 1 if the file differs from the code
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bmw.gateway.schema import schema_sdl

EXPORT_HINT = "run `python -m bmw.gateway.export_schema` and commit gateway/schema.graphql"


def default_schema_path() -> Path:
    """``gateway/schema.graphql`` of the source checkout this module lives in."""
    return Path(__file__).resolve().parents[3] / "schema.graphql"


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m bmw.gateway.export_schema",
        description="Export the GraphQL schema as SDL, or check that the exported file is current.",
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    parser.add_argument("--output", type=Path, default=None, help="default: gateway/schema.graphql")
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
    if current != sdl:
        path.write_text(sdl, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
