"""The published JSON Schemas in libs/contracts/schemas: current, and never broken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bmw.contracts.compat import breaking_changes
from bmw.contracts.events import all_event_types
from bmw.contracts.schemas import (
    SCHEMA_DIALECT,
    check_schemas,
    default_schema_dir,
    expected_files,
    export_schemas,
    main,
    render_schema,
    schema_for,
)

PUBLISHED = default_schema_dir()
PUBLISHED_FILES = sorted(PUBLISHED.glob("*.json"))


def test_published_schemas_are_current() -> None:
    problems = check_schemas(PUBLISHED)
    assert not problems, (
        "the committed JSON Schemas do not match the models:\n  "
        + "\n  ".join(problems)
        + "\nRun `python -m bmw.contracts.schemas` and commit libs/contracts/schemas/."
    )


def test_there_are_published_schemas() -> None:
    # guards the gate below against passing vacuously on an empty or misplaced directory
    assert PUBLISHED.is_dir()
    assert {p.name for p in PUBLISHED_FILES} >= set(expected_files())


@pytest.mark.parametrize("path", PUBLISHED_FILES, ids=lambda p: p.name)
def test_published_schema_is_not_broken(path: Path) -> None:
    published = json.loads(path.read_text(encoding="utf-8"))
    event_type = published["title"]
    base, version = event_type.rsplit(".v", 1)
    next_version = f"{base}.v{int(version) + 1}"
    advice = (
        f"{event_type} is published: producers and consumers rely on it. Leave its model as it was and "
        f"publish the change as a new type {next_version!r} side by side (DESIGN §4) until consumers moved."
    )

    assert event_type in all_event_types(), (
        f"{path.name}: {event_type} is published but no longer in the code. {advice} "
        "To retire it after every consumer moved, delete the schema file deliberately."
    )
    problems = breaking_changes(published, schema_for(event_type))
    assert not problems, (
        f"published schema {event_type} changed incompatibly:\n  " + "\n  ".join(problems) + (f"\n{advice}")
    )


# -- export -------------------------------------------------------------------------------------------


def test_export_writes_one_file_per_event_type(tmp_path: Path) -> None:
    paths = export_schemas(tmp_path)

    assert [p.name for p in paths] == [f"{t}.json" for t in all_event_types()]
    for path in paths:
        schema = json.loads(path.read_text(encoding="utf-8"))
        event_type = path.name.removesuffix(".json")
        assert schema["$id"] == f"urn:bmw:event:{event_type}"
        assert schema["title"] == event_type
        assert schema["$schema"] == SCHEMA_DIALECT
        assert schema["type"] == "object"


def test_export_is_deterministic(tmp_path: Path) -> None:
    first = {p.name: p.read_bytes() for p in export_schemas(tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in export_schemas(tmp_path / "b")}

    assert first == second
    for name, content in first.items():
        text = content.decode()
        assert text.endswith("}\n") and not text.endswith("\n\n"), name
        assert text == render_schema(json.loads(text)), f"{name}: keys sorted, 2-space indent"
        assert '\n  "$defs"' in text or '\n  "$id"' in text  # 2-space indent at the top level


def test_check_reports_missing_differing_and_stale_files(tmp_path: Path) -> None:
    export_schemas(tmp_path)
    assert check_schemas(tmp_path) == []

    (tmp_path / "intake.case.opened.v1.json").unlink()
    changed = tmp_path / "billing.invoice.issued.v1.json"
    changed.write_text(changed.read_text(encoding="utf-8").replace("Gapless", "Gappy"), encoding="utf-8")
    (tmp_path / "intake.case.teleported.v1.json").write_text("{}\n", encoding="utf-8")

    problems = check_schemas(tmp_path)

    assert len(problems) == 3
    assert any("intake.case.opened.v1.json: missing" in p for p in problems)
    assert any("billing.invoice.issued.v1.json: differs" in p for p in problems)
    assert any("intake.case.teleported.v1.json: no event type" in p for p in problems)


def test_cli_check_exits_non_zero_and_lists_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count(": missing") == len(all_event_types())
    assert "python -m bmw.contracts.schemas" in err

    assert main(["--dir", str(tmp_path)]) == 0
    assert main(["--check", "--dir", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.json"))) == len(all_event_types())


def test_export_rewrites_a_stale_file(tmp_path: Path) -> None:
    export_schemas(tmp_path)
    stale = tmp_path / "signals.signal.raised.v1.json"
    stale.write_text("{}\n", encoding="utf-8")

    export_schemas(tmp_path)

    assert stale.read_text(encoding="utf-8") == render_schema(schema_for("signals.signal.raised.v1"))


def test_schema_for_unknown_type() -> None:
    with pytest.raises(KeyError, match="unknown event type"):
        schema_for("intake.case.teleported.v1")
