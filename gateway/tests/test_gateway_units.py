"""Settings, field path mapping and error codes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bmw.gateway.errors import argument_path, input_path
from bmw.gateway.settings import GatewaySettings
from bmw.gateway.testing import SigningKey, make_settings


@pytest.mark.parametrize(
    ("service_path", "graphql_path"),
    [
        ("body.category", "input.category"),
        ("body.employee.email", "input.employee.email"),
        ("body.org_unit_id", "input.orgUnitId"),
        ("body.employee_consented", "input.employeeConsented"),
        ("body", "input"),
        ("query.tenant_id", "query.tenant_id"),
        ("input.orgUnitId", "input.orgUnitId"),
    ],
)
def test_input_path(service_path: str, graphql_path: str) -> None:
    assert input_path(service_path) == graphql_path


@pytest.mark.parametrize(
    ("service_path", "graphql_path"),
    [("query.tenant_id", "tenantId"), ("query.to", "to"), ("query.from", "from"), ("tenantId", "tenantId")],
)
def test_argument_path(service_path: str, graphql_path: str) -> None:
    assert argument_path(service_path) == graphql_path


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_INTAKE_URL", "http://intake:8000/")
    monkeypatch.setenv("GATEWAY_MAX_DEPTH", "7")
    monkeypatch.setenv("BMW_ENVIRONMENT", "test")
    monkeypatch.delenv("GATEWAY_INTROSPECTION", raising=False)

    settings = GatewaySettings()

    assert settings.service_urls()["intake"] == "http://intake:8000"
    assert settings.max_depth == 7
    assert (settings.max_aliases, settings.max_tokens) == (15, 2000)
    assert (settings.jwt_issuer, settings.jwt_audience) == ("bmw-dev", "bmw")
    assert settings.introspection_enabled


def test_introspection_defaults_off_in_production_and_can_be_forced(signing_key: SigningKey) -> None:
    assert not make_settings(signing_key, environment="production").introspection_enabled
    assert make_settings(signing_key, environment="production", introspection=True).introspection_enabled
    assert not make_settings(signing_key, introspection=False).introspection_enabled


def test_production_refuses_a_missing_key_or_default_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in ("INTAKE", "SCHEDULING", "BILLING", "SIGNALS"):
        monkeypatch.delenv(f"GATEWAY_{service}_URL", raising=False)
    monkeypatch.delenv("BMW_JWT_PUBLIC_KEY", raising=False)

    with pytest.raises(ValidationError, match="BMW_JWT_PUBLIC_KEY"):
        GatewaySettings(environment="production")
    with pytest.raises(ValidationError, match="GATEWAY_SIGNALS_URL must be set"):
        GatewaySettings(
            environment="production",
            jwt_public_key="key",
            intake_url="http://intake",
            scheduling_url="http://scheduling",
            billing_url="http://billing",
        )
