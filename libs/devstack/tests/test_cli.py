"""The ``bmw`` command line (CliRunner, no processes)."""

from __future__ import annotations

import uuid
from pathlib import Path

import jwt
from typer.testing import CliRunner

from bmw.devstack.cli import app
from bmw.devstack.tokens import public_key_pem

runner = CliRunner()


def test_help_texts() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "dev" in result.output
    result = runner.invoke(app, ["dev", "--help"])
    assert result.exit_code == 0
    assert "up" in result.output and "token" in result.output
    result = runner.invoke(app, ["dev", "up", "--help"])
    assert result.exit_code == 0
    for option in ("--data-dir", "--no-demo", "--base-port", "KAFKA_BOOTSTRAP_SERVERS"):
        assert option in result.output
    result = runner.invoke(app, ["dev", "token", "--help"])
    assert result.exit_code == 0
    assert "--role" in result.output and "--tenant" in result.output


def test_token_prints_a_verifiable_token(tmp_path: Path) -> None:
    tenant = str(uuid.uuid4())
    data_dir = tmp_path / ".bmw"
    result = runner.invoke(
        app,
        [
            "dev",
            "token",
            "--role",
            "integration",
            "--tenant",
            tenant,
            "--scopes",
            "invoices:read,usage:read",
            "--ttl-hours",
            "1",
            "--data-dir",
            str(data_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    public = public_key_pem((data_dir / "dev-signing-key.pem").read_bytes())
    claims = jwt.decode(token, public, algorithms=["RS256"], audience="bmw", issuer="bmw-dev")
    assert claims["roles"] == ["integration"]
    assert claims["tenant_id"] == tenant
    assert claims["scopes"] == ["invoices:read", "usage:read"]
    assert claims["exp"] - claims["iat"] == 3600


def test_token_with_portfolio_and_sub(tmp_path: Path) -> None:
    tenants = [str(uuid.uuid4()), str(uuid.uuid4())]
    result = runner.invoke(
        app,
        [
            "dev",
            "token",
            "--role",
            "account_manager",
            "--sub",
            "am-1",
            "--portfolio",
            ",".join(tenants),
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims["sub"] == "am-1"
    assert claims["portfolio"] == tenants


def test_bad_role_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["dev", "token", "--role", "hr_officer", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "hr_officer" in result.output


def test_tenant_bound_role_without_tenant_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["dev", "token", "--role", "client_contact", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--tenant" in result.output
    assert "tenant_id" in result.output
