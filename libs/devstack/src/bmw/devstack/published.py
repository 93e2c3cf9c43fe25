"""The public contracts kept in the repository: each service's OpenAPI and AsyncAPI documents.

``bmw contracts export`` writes them; ``bmw contracts check`` (and a test) fails when the code and the
committed files disagree, so every change to a public contract is a visible diff in review.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from bmw.devstack.topology import SERVICES
from bmw.servicekit.app import ServiceSpec, create_service_app
from bmw.servicekit.asyncapi import asyncapi_document
from bmw.servicekit.settings import ServiceSettings

#: Settings good enough to build an app without connecting anywhere.
_OFFLINE = {"database_url": "postgresql+asyncpg://export@/export", "kafka_bootstrap_servers": "127.0.0.1:9"}


def repository_root() -> Path:
    """The checkout this package was installed from (editable install)."""
    return Path(__file__).resolve().parents[5]


def service_settings(service: str, **values: Any) -> ServiceSettings:
    """The settings class of ``bmw.<service>`` filled with ``values`` (the environment fills the rest)."""
    settings_module = importlib.import_module(f"bmw.{service}.settings")
    settings_class: type[ServiceSettings] = getattr(settings_module, f"{service.capitalize()}Settings")
    return settings_class(**values)


def service_spec(service: str, settings: ServiceSettings) -> ServiceSpec:
    """The ServiceSpec of ``bmw.<service>``, from its composition root."""
    spec: ServiceSpec = importlib.import_module(f"bmw.{service}.bootstrap").service_spec(settings)
    return spec


def _spec(service: str) -> ServiceSpec:
    return service_spec(service, service_settings(service, **_OFFLINE))


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def documents(root: Path) -> dict[Path, str]:
    """Every published document: path → expected content."""
    expected: dict[Path, str] = {}
    for service in SERVICES:
        spec = _spec(service)
        folder = root / "services" / service
        expected[folder / "openapi.json"] = render(create_service_app(spec).openapi())
        expected[folder / "asyncapi.json"] = render(asyncapi_document(spec))
    return expected


def export(root: Path | None = None) -> list[Path]:
    """Write every document; returns the paths written."""
    written = []
    for path, content in documents(root or repository_root()).items():
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def stale(root: Path | None = None) -> list[Path]:
    """Documents whose committed file is missing or differs from the code."""
    return [
        path
        for path, content in documents(root or repository_root()).items()
        if not path.exists() or path.read_text(encoding="utf-8") != content
    ]
