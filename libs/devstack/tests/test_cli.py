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


def test_a_social_worker_token_says_whom_they_serve_and_a_bad_id_is_named(tmp_path: Path) -> None:
    served = str(uuid.uuid4())
    args = ["dev", "token", "--role", "social_worker", "--data-dir", str(tmp_path)]
    result = runner.invoke(app, [*args, "--serves", served])
    assert result.exit_code == 0, result.output
    assert jwt.decode(result.stdout.strip(), options={"verify_signature": False})["serves"] == [served]
    bad = runner.invoke(app, [*args, "--serves", "not-an-id"])
    assert bad.exit_code == 2 and "--serves" in bad.output and "not-an-id" in bad.output


def test_replay_names_what_it_needs_when_there_is_no_stack_and_no_database(tmp_path: Path) -> None:
    help_text = runner.invoke(app, ["replay", "--help"])
    assert help_text.exit_code == 0 and "--since" in help_text.output and "original ids" in help_text.output
    result = runner.invoke(
        app,
        ["replay", "--service", "billing", "--since", "2026-11-27", "--data-dir", str(tmp_path)],
        env={"BILLING_DATABASE_URL": ""},
    )
    assert result.exit_code == 2
    assert "stack.json is missing" in result.output and "BILLING_DATABASE_URL" in result.output
    unknown = runner.invoke(app, ["replay", "--service", "payroll", "--since", "2026-11-27"])
    assert unknown.exit_code == 2 and "payroll" in unknown.output


def test_dlq_commands_explain_themselves_and_check_the_service(tmp_path: Path) -> None:
    listing = runner.invoke(app, ["dlq", "list", "--help"])
    assert listing.exit_code == 0 and "never the" in listing.output and "--all" in listing.output
    redrive = runner.invoke(app, ["dlq", "redrive", "--help"])
    assert redrive.exit_code == 0 and "--dry-run" in redrive.output
    unknown = runner.invoke(app, ["dlq", "list", "--service", "payroll", "--data-dir", str(tmp_path)])
    assert unknown.exit_code == 2 and "payroll" in unknown.output
