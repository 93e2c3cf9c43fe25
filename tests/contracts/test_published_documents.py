"""The public contracts in the repository match the code, and explain themselves."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bmw.devstack import published
from bmw.devstack.topology import SERVICES


def test_committed_openapi_and_asyncapi_documents_match_the_code() -> None:
    stale = published.stale()
    assert not stale, f"out of date: {[str(p) for p in stale]}; run `bmw contracts export` and commit the result"


@pytest.mark.parametrize("service", SERVICES)
def test_every_field_of_every_api_model_is_described(service: str) -> None:
    document: dict[str, Any] = json.loads(
        (published.repository_root() / "services" / service / "openapi.json").read_text()
    )
    undocumented = [
        f"{name}.{field}"
        for name, schema in document["components"]["schemas"].items()
        if name not in {"HTTPValidationError", "ValidationError"}
        for field, prop in schema.get("properties", {}).items()
        if not prop.get("description") and "$ref" not in prop and not prop.get("allOf")
    ]
    assert not undocumented, f"fields without a description in {service}'s OpenAPI: {undocumented}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_says_what_it_does(service: str) -> None:
    document: dict[str, Any] = json.loads(
        (published.repository_root() / "services" / service / "openapi.json").read_text()
    )
    silent = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if not operation.get("description") and not operation.get("summary")
    ]
    assert not silent, f"routes without a description in {service}: {silent}"


@pytest.mark.parametrize("service", SERVICES)
def test_the_asyncapi_document_names_what_the_service_sends_and_receives(service: str) -> None:
    document: dict[str, Any] = json.loads(
        (published.repository_root() / "services" / service / "asyncapi.json").read_text()
    )
    assert document["asyncapi"] == "3.0.0"
    for operation in document["operations"].values():
        for message in operation["messages"]:
            channel, _, message_id = message["$ref"].removeprefix("#/channels/").partition("/messages/")
            assert message_id in document["channels"][channel]["messages"]
            assert message_id in document["components"]["messages"]
