"""JSON Schema export of the event catalogue: one ``<event_type>.json`` per event type.

The files in ``libs/contracts/schemas`` are the published contracts. Regenerate them after
changing a model, and check that they are current::

    python -m bmw.contracts.schemas           # (re)write libs/contracts/schemas/
    python -m bmw.contracts.schemas --check   # exit 1 listing every file that differs or is missing

The output is deterministic (sorted keys, 2-space indent, trailing newline) so that a diff
shows exactly what changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from bmw.contracts.events.base import all_event_types, event_class

SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
#: ``$id`` of an event type's schema is this prefix plus the type.
SCHEMA_ID_PREFIX: Final = "urn:bmw:event:"
REGENERATE_HINT: Final = "run `python -m bmw.contracts.schemas` to regenerate"


def default_schema_dir() -> Path:
    """``libs/contracts/schemas`` of the source checkout this module lives in."""
    return Path(__file__).resolve().parents[3] / "schemas"


def schema_for(event_type: str) -> dict[str, Any]:
    """The JSON Schema of an event type's data, with ``$schema``, ``$id`` and title set."""
    model = event_class(event_type)
    if model is None:
        raise KeyError(f"unknown event type {event_type!r}")
    schema = model.model_json_schema()
    schema["$schema"] = SCHEMA_DIALECT
    schema["$id"] = f"{SCHEMA_ID_PREFIX}{event_type}"
    schema["title"] = event_type
    return schema


def render_schema(schema: dict[str, Any]) -> str:
    """The canonical text of a schema file: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_filename(event_type: str) -> str:
    """File name of an event type's schema."""
    return f"{event_type}.json"


def expected_files() -> dict[str, str]:
    """File name → content for every registered event type, sorted by name."""
    return {schema_filename(t): render_schema(schema_for(t)) for t in all_event_types()}


def export_schemas(directory: Path) -> list[Path]:
    """Write one ``<event_type>.json`` per event type into ``directory``; return the paths.

    Files are rewritten only when their content changes. Files of event types no longer in the
    code are left alone: retiring a published version is a deliberate act (delete the file).
    """
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, text in expected_files().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def check_schemas(directory: Path) -> list[str]:
    """Problems with the schema files in ``directory``, one line each; empty when all current."""
    problems: list[str] = []
    expected = expected_files()
    for name, text in expected.items():
        path = directory / name
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs from the models")
    if directory.is_dir():
        for path in sorted(directory.glob("*.json")):
            if path.name not in expected:
                problems.append(f"{path}: no event type of that name in the code (retired? delete the file)")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m bmw.contracts.schemas",
        description="Export the event catalogue as JSON Schema files, or check that they are current.",
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if any file is stale")
    parser.add_argument("--dir", type=Path, default=None, help="schema directory (default: libs/contracts/schemas)")
    args = parser.parse_args(argv)
    directory: Path = args.dir or default_schema_dir()
    if args.check:
        problems = check_schemas(directory)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print(f"{len(problems)} schema file(s) out of date; {REGENERATE_HINT}", file=sys.stderr)
            return 1
        print(f"{len(expected_files())} schema files in {directory} are current")
        return 0
    paths = export_schemas(directory)
    print(f"wrote {len(paths)} schema files to {directory}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
