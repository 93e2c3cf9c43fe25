"""The committed schema (gateway/schema.graphql) is the public contract: it must match the code."""

from __future__ import annotations

from pathlib import Path

from bmw.gateway.export_schema import EXPORT_HINT, default_schema_path, main
from bmw.gateway.schema import schema_sdl


def test_the_committed_schema_is_up_to_date() -> None:
    path = default_schema_path()
    assert path.exists(), f"{path} is missing; {EXPORT_HINT}"
    assert path.read_text(encoding="utf-8") == schema_sdl(), f"{path} differs from the code; {EXPORT_HINT}"


def test_the_export_writes_and_checks(tmp_path: Path) -> None:
    output = tmp_path / "schema.graphql"

    assert main(["--check", "--output", str(output)]) == 1
    assert main(["--output", str(output)]) == 0
    assert main(["--check", "--output", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == schema_sdl()


def test_a_change_that_breaks_clients_of_the_previous_export_is_refused(tmp_path: Path) -> None:
    output = tmp_path / "schema.graphql"
    # The previous export had a field the code no longer has: removing it would break clients.
    previous = schema_sdl().replace("type Query {", "type Query {\n  retiredField: String", 1)
    output.write_text(previous, encoding="utf-8")

    assert main(["--output", str(output)]) == 1
    assert output.read_text(encoding="utf-8") == previous, "nothing is written"
    assert main(["--allow-breaking", "--output", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == schema_sdl()


def test_an_addition_or_a_new_description_is_not_breaking(tmp_path: Path) -> None:
    from bmw.gateway.export_schema import breaking_changes

    with_more = schema_sdl().replace("type Query {", "type Query {\n  newField: String", 1)
    assert breaking_changes(schema_sdl(), with_more) == []
    assert breaking_changes(with_more, schema_sdl()) == ["FIELD_REMOVED: Field Query.newField was removed."]
    # A previous export that differs only in wording is rewritten without fuss.
    output = tmp_path / "schema.graphql"
    reworded = schema_sdl().replace('"""Read operations', '"""Earlier wording of read operations', 1)
    assert reworded != schema_sdl()
    output.write_text(reworded, encoding="utf-8")
    assert main(["--output", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == schema_sdl()


def test_every_type_field_and_argument_is_described() -> None:
    from graphql import GraphQLInputObjectType, GraphQLObjectType

    from bmw.gateway.schema import build_schema

    schema = build_schema()._schema
    missing: list[str] = []
    for name, graphql_type in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Boolean", "Int", "Float", "ID"}:
            continue
        if not graphql_type.description:
            missing.append(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for argument_name, argument in getattr(field, "args", {}).items():
                    if not argument.description:
                        missing.append(f"{name}.{field_name}({argument_name})")
    assert missing == []
