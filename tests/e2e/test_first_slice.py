"""The first slice end to end: a referral submitted through GraphQL is stored by intake, travels
through the outbox and Kafka into signals' aggregates, and comes back as suppressed or visible trends."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from gql import Client, GraphQLRequest, gql
from gql.transport.httpx import HTTPXAsyncTransport

from bmw.devstack.stack import Stack
from bmw.devstack.testing import eventually

pytestmark = pytest.mark.e2e

SUBMIT = gql(
    """
    mutation Submit($input: ReferralInput!) {
      submitReferral(input: $input) {
        __typename
        ... on ReferralSubmitted { referral { id status caseId orgUnitId category } }
        ... on ValidationFailed { message fields { path message } }
        ... on Forbidden { message }
      }
    }
    """
)

TRENDS = gql(
    """
    query Trends($tenantId: ID!, $from: Date!, $to: Date!) {
      trends(tenantId: $tenantId, from: $from, to: $to) {
        k
        cells { month orgUnitId orgUnitName category count suppressed }
      }
    }
    """
)


def with_variables(request: GraphQLRequest, variables: dict[str, Any]) -> GraphQLRequest:
    return GraphQLRequest(request, variable_values=variables)


def client(stack: Stack, token: str) -> Client:
    transport = HTTPXAsyncTransport(url=stack.graphql_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Client(transport=transport, fetch_schema_from_transport=False)


def referral_input(org_unit: str, category: str = "REORGANISATION_UNCERTAINTY", **extra: Any) -> dict[str, Any]:
    return {
        "orgUnitId": org_unit,
        "category": category,
        "urgency": "NORMAL",
        "channel": "HR",
        "employeeConsented": True,
        "employee": {"name": "Sanne de Vries", "email": "sanne@example.nl"},
        **extra,
    }


def this_month() -> str:
    """The month of this ISO week on signals' monthly grid: the month of its Thursday."""
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    return (today - timedelta(days=today.weekday()) + timedelta(days=3)).strftime("%Y-%m")


def period() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": str(today - timedelta(days=7)), "to": str(today)}


async def test_the_stack_writes_stack_json_with_the_demo_tenants(stack: Stack) -> None:
    described = json.loads(stack.stack_file.read_text())
    assert described["gateway_url"] == stack.gateway_url
    assert set(described["services"]) == {"intake", "scheduling", "billing", "signals"}
    assert len(described["tenants"]) >= 2
    assert all(tenant["org_units"] for tenant in described["tenants"])
    async with httpx.AsyncClient() as http:
        for service in described["services"].values():
            assert (await http.get(f"{service['url']}/readyz")).json()["status"] == "ok"


async def test_a_referral_flows_from_the_gateway_to_suppressed_then_visible_trends(stack: Stack) -> None:
    tenant = stack.tenants[0]
    unit = tenant.org_units[-1]
    token = stack.mint("client_contact", tenant_id=tenant.id)
    category = "DISMISSAL"
    variables = {"tenantId": str(tenant.id), **period()}

    async with client(stack, token) as session:

        async def cell() -> dict[str, Any] | None:
            report = await session.execute(with_variables(TRENDS, variables))
            matching = [
                c
                for c in report["trends"]["cells"]
                if c["orgUnitId"] == str(unit.id) and c["category"] == category and c["month"] == this_month()
            ]
            return matching[0] if matching else None

        before = await cell()
        assert before is None, "the demo data has no dismissal referrals in this unit"
        for number in range(1, 6):
            result = await session.execute(with_variables(SUBMIT, {"input": referral_input(str(unit.id), category)}))
            submitted = result["submitReferral"]
            assert submitted["__typename"] == "ReferralSubmitted", submitted
            assert submitted["referral"]["status"] == "CASE_OPENED" or submitted["referral"]["status"] == "case_opened"
            assert submitted["referral"]["caseId"]
            if number == 4:

                async def four_hidden() -> bool:
                    found = await cell()
                    return found is not None and found["suppressed"] and found["count"] is None

                await eventually(four_hidden, what="four referrals counted and suppressed")

        async def five_visible() -> bool:
            found = await cell()
            return found is not None and found["count"] == 5 and not found["suppressed"]

        await eventually(five_visible, what="five referrals counted and visible")
        final = await cell()
        assert final is not None and final["orgUnitName"] == unit.name


async def test_bad_input_is_refused_with_the_field_named_and_nothing_counted(stack: Stack) -> None:
    tenant = stack.tenants[1]
    token = stack.mint("client_contact", tenant_id=tenant.id)
    async with client(stack, token) as session:
        result = await session.execute(with_variables(SUBMIT, {"input": referral_input(str(uuid.uuid4()), "GRIEF")}))
        refused = result["submitReferral"]
        assert refused["__typename"] == "ValidationFailed"
        assert [f["path"] for f in refused["fields"]] == ["input.orgUnitId"]

    # A value outside the enum never reaches intake: GraphQL itself names the variable.
    async with httpx.AsyncClient() as http:
        response = await http.post(
            stack.graphql_url,
            json={
                "query": "mutation($i: ReferralInput!) { submitReferral(input: $i) { __typename } }",
                "variables": {"i": referral_input(str(tenant.org_units[0].id), "FEELING_BLUE")},
            },
            headers={"Authorization": f"Bearer {token}", "Accept": "application/graphql-response+json"},
        )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "FEELING_BLUE" in errors[0]["message"] and "category" in errors[0]["message"]


async def test_tenant_a_cannot_submit_for_or_read_tenant_b(stack: Stack) -> None:
    tenant_a, tenant_b = stack.tenants[0], stack.tenants[1]
    token_a = stack.mint("client_contact", tenant_id=tenant_a.id)
    async with client(stack, token_a) as session:
        result = await session.execute(
            with_variables(SUBMIT, {"input": referral_input(str(tenant_b.org_units[0].id), tenantId=str(tenant_b.id))})
        )
        assert result["submitReferral"]["__typename"] == "Forbidden"
    async with httpx.AsyncClient() as http:
        response = await http.post(
            stack.graphql_url,
            json={
                "query": "query($t: ID!, $f: Date!, $u: Date!) { trends(tenantId: $t, from: $f, to: $u) { k } }",
                "variables": {"t": str(tenant_b.id), "f": period()["from"], "u": period()["to"]},
            },
            headers={"Authorization": f"Bearer {token_a}"},
        )
    body = response.json()
    assert body["data"] == {"trends": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert str(tenant_b.id) not in json.dumps(body["errors"][0]["message"])


async def test_an_opened_case_gets_its_intake_booked_automatically(stack: Stack) -> None:
    """intake.case.opened → scheduling books the earliest slot of a suitable worker → intake assigns the case."""
    tenant = stack.tenants[0]
    contact = stack.mint("client_contact", tenant_id=tenant.id)
    async with client(stack, contact) as session:
        result = await session.execute(
            with_variables(SUBMIT, {"input": referral_input(str(tenant.org_units[0].id), "BURNOUT_RISK")})
        )
    case_id = result["submitReferral"]["referral"]["caseId"]
    # Only the demo's first social worker has the burnout specialism; her token's subject is her worker id.
    worker = {"Authorization": f"Bearer {stack.mint('social_worker')}"}
    intake_url = stack.services["intake"].url

    async def scheduled() -> bool:
        async with httpx.AsyncClient() as http:
            response = await http.get(f"{intake_url}/cases/{case_id}", headers=worker)
        return response.status_code == 200 and response.json()["status"] == "intake_scheduled"

    await eventually(scheduled, timeout=60, what="the intake to be booked and the case assigned")
