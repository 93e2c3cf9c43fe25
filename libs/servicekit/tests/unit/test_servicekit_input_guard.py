"""The input guard every service app has: forbidden characters refused with a 422 naming where they were, JSON
strings brought to NFC, oversized bodies refused with 413, and nothing reaching the route in either refusal."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from bmw.servicekit.app import FlowContextMiddleware
from bmw.servicekit.errors import install_error_handlers
from bmw.servicekit.input_guard import InputGuardMiddleware, problem_of


class Person(BaseModel):
    name: str
    notes: list[str] = []


def _app(seen: list[Any], *, max_body_bytes: int = 1_000) -> FastAPI:
    app = FastAPI()

    @app.post("/people")
    async def add(person: Person) -> dict[str, str]:
        seen.append(person)
        return {"name": person.name}

    @app.get("/people")
    async def find(name: str = "") -> dict[str, str]:
        seen.append(name)
        return {"name": name}

    app.add_middleware(InputGuardMiddleware, max_body_bytes=max_body_bytes)
    app.add_middleware(FlowContextMiddleware)
    install_error_handlers(app)
    return app


async def _send(app: FastAPI, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.request(method, url, **kwargs)


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("Jan\x00sen", "U+0000"),
        ("Jansen\u202egnirts", "U+202E"),
        ("Jan\u2066sen", "U+2066"),
        ("Jan\x1bsen", "U+001B"),
        ("Jan\x85sen", "U+0085"),
    ],
)
async def test_a_forbidden_character_in_a_body_is_refused_naming_its_field_and_the_route_never_runs(
    text: str, what: str
) -> None:
    seen: list[Any] = []
    body = json.dumps({"name": "Sanne", "notes": ["ok", text]})
    response = await _send(_app(seen), "POST", "/people", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["fields"][0]["path"] == "body.notes.1"
    assert what in error["fields"][0]["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    assert seen == []


async def test_a_lone_surrogate_is_refused_not_a_500() -> None:
    seen: list[Any] = []
    body = b'{"name": "Jan\\ud800sen"}'
    response = await _send(_app(seen), "POST", "/people", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["path"] == "body.name"
    assert seen == []


async def test_query_parameters_and_the_path_are_checked_too() -> None:
    seen: list[Any] = []
    app = _app(seen)
    query = await _send(app, "GET", "/people", params={"name": "a\x00b"})
    assert query.status_code == 422
    assert query.json()["error"]["fields"][0]["path"] == "query.name"
    path = await _send(app, "GET", "/people%00")
    assert path.status_code == 422
    assert path.json()["error"]["fields"][0]["path"] == "path"
    assert seen == []


async def test_tabs_and_line_breaks_are_text_and_pass() -> None:
    seen: list[Any] = []
    response = await _send(_app(seen), "POST", "/people", json={"name": "Sanne", "notes": ["regel 1\r\n\tregel 2"]})
    assert response.status_code == 200
    assert seen[0].notes == ["regel 1\r\n\tregel 2"]


async def test_names_reach_the_route_in_nfc_so_one_name_is_one_name() -> None:
    seen: list[Any] = []
    decomposed = unicodedata.normalize("NFD", "Zoë Hüsken")
    assert decomposed != "Zoë Hüsken"
    response = await _send(_app(seen), "POST", "/people", json={"name": decomposed})
    assert response.status_code == 200
    assert seen[0].name == "Zoë Hüsken"
    assert response.json()["name"] == "Zoë Hüsken"


async def test_an_oversized_body_is_refused_with_413_by_its_declared_length_and_while_streaming() -> None:
    seen: list[Any] = []
    app = _app(seen, max_body_bytes=100)
    declared = await _send(app, "POST", "/people", json={"name": "x" * 200})
    assert declared.status_code == 413
    assert declared.json()["error"]["details"] == {"max_bytes": 100}

    async def chunks() -> Any:
        for _ in range(10):
            yield b'{"name": "' + b"x" * 30

    streamed = await _send(app, "POST", "/people", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert seen == []


async def test_malformed_json_is_left_to_the_framework_s_own_422() -> None:
    seen: list[Any] = []
    response = await _send(
        _app(seen), "POST", "/people", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_failed"
    assert seen == []


def test_problem_of_accepts_every_letter_of_european_names() -> None:
    assert problem_of("Åsa Øberg-Çelik, Łódź; Müller ß; Ἀθῆναι; محمد; 李") is None
