"""Billing through the gateway: client organisations, contract usage, invoices and the billing mutations.

Billing is faked: each test says what billing answers and checks what the gateway asked and showed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bmw.gateway.testing import (
    BILLING,
    ORG_UNIT,
    OTHER_TENANT,
    TENANT,
    FakeServices,
    SigningKey,
    error_body,
    graphql,
    json_body,
)

THIRD_TENANT = uuid.UUID("88888888-8888-4888-8888-888888888888")
WAREHOUSE = uuid.UUID("66666666-6666-4666-8666-666666666666")
FINANCE = uuid.UUID("77777777-7777-4777-8777-777777777777")
CONTRACT = uuid.UUID("99999999-9999-4999-8999-999999999991")
OLD_CONTRACT = uuid.UUID("99999999-9999-4999-8999-999999999992")
NEXT_CONTRACT = uuid.UUID("99999999-9999-4999-8999-999999999993")
INVOICE = uuid.UUID("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaa1")
DRAFT = uuid.UUID("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaa2")
CREDIT_NOTE = uuid.UUID("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaa3")
RUN = uuid.UUID("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbb1")


# -- billing's answers --------------------------------------------------------------------------


def unit(
    unit_id: uuid.UUID, name: str, parent: uuid.UUID | None = None, employees: int | None = None
) -> dict[str, Any]:
    return {
        "id": str(unit_id),
        "name": name,
        "parent_id": str(parent) if parent else None,
        "kind": "department",
        "employees": employees,
    }


def organisation(
    tenant: uuid.UUID = TENANT, name: str = "Acme Logistiek B.V.", units: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "id": str(tenant),
        "name": name,
        "kvk_number": "12345678",
        "vat_id": "NL004495445B01",
        "account_manager_id": "am-1",
        "k_anonymity": 5,
        "payment_terms_days": 30,
        "invoice_email": "facturen@acme.example",
        "electronic_address": {"scheme": "0106", "identifier": "12345678"},
        "addresses": {
            "visiting": {
                "street": "Havenweg",
                "house_number": "12A",
                "postal_code": "3011 AB",
                "city": "Rotterdam",
                "country": "NL",
            },
            "postal": None,
            "invoice": None,
        },
        "contacts": [{"role": "hr", "name": "Petra Jansen", "email": "p.jansen@acme.example", "phone": None}],
        "org_units": units if units is not None else [],
    }


UNITS = [
    unit(WAREHOUSE, "Warehouse", parent=ORG_UNIT, employees=40),
    unit(ORG_UNIT, "Logistiek", employees=10),
    unit(FINANCE, "Financiën", employees=None),
]


def product(kind: str = "hour_bundle", **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": "BUNDLE-40",
        "kind": kind,
        "unit_price_cents": 9500,
        "vat_rate": "21",
        "vat_exemption_reason": None,
        "included_quantity": "40.00",
        "overage_unit_price_cents": 11000,
        "sessions_per_employee_per_year": None,
    }
    values.update(overrides)
    return values


def contract(
    contract_id: uuid.UUID = CONTRACT,
    tenant: uuid.UUID = TENANT,
    start: str = "2026-01-01",
    end: str = "2026-12-31",
    products: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "id": str(contract_id),
        "tenant_id": str(tenant),
        "status": "active",
        "period_start": start,
        "period_end": end,
        "products": products if products is not None else [product()],
        "buyer_reference": "HR-2026",
        "purchase_order": None,
        "employees": None,
        "invoicing_period": "month",
        "auto_renew": False,
        "renewal_months": 12,
        "indexation_percent": "3.50",
        "renewed_from_id": None,
        "renewal_id": None,
        "ended_at": None,
    }


USAGE = {
    "contract_id": str(CONTRACT),
    "tenant_id": str(TENANT),
    "period_from": "2026-01-01",
    "period_to": "2026-12-31",
    "computed_at": "2026-06-15T10:00:00Z",
    "products": [
        {
            "code": "BUNDLE-40",
            "kind": "hour_bundle",
            "vat_rate": "21",
            "unit": "hour",
            "quantity": "33.00",
            "amount_cents": 313500,
            "overage_quantity": "0",
            "overage_amount_cents": 0,
            "invoiced_amount_cents": 285000,
            "included_quantity": "40.00",
            "bundle_hours_used": "33.00",
        }
    ],
}


def invoice(
    invoice_id: uuid.UUID = INVOICE, tenant: uuid.UUID = TENANT, status: str = "issued", **overrides: Any
) -> dict[str, Any]:
    issued = status == "issued"
    values: dict[str, Any] = {
        "id": str(invoice_id),
        "tenant_id": str(tenant),
        "kind": "invoice",
        "status": status,
        "number": "2026-000123" if issued else None,
        "period_start": "2026-05-01",
        "period_end": "2026-05-31",
        "issue_date": "2026-06-02" if issued else None,
        "due_date": "2026-07-02" if issued else None,
        "buyer_reference": "HR-2026",
        "order_reference": None,
        "net_cents": 123456,
        "vat_cents": 25926,
        "gross_cents": 149382,
        "corrects_invoice_id": None,
        "credited_by_id": None,
        "lines": [
            {
                "line_id": "1",
                "product_code": "BUNDLE-40",
                "description": "Uren strippenkaart",
                "quantity": "12.5",
                "unit_code": "HUR",
                "unit_price_cents": 9500,
                "vat_category": "S",
                "vat_rate": "21",
            }
        ],
    }
    values.update(overrides)
    return values


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def only_errors(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert response.status_code == 200, body
    return list(body["errors"])


# -- clientOrganisations ------------------------------------------------------------------------

ORGANISATIONS = """
query Organisations {
  clientOrganisations {
    pageInfo { hasNextPage endCursor }
    nodes {
      id name kvkNumber vatId accountManagerId kAnonymity paymentTermsDays invoiceEmail totalEmployees
      electronicAddress { scheme identifier }
      addresses { visiting { street houseNumber postalCode city country } postal { city } }
      contacts { role name email phone }
      orgUnits {
        id name kind parentId employees totalEmployees
        children { id name employees totalEmployees children { id } }
      }
    }
  }
}
"""


async def test_client_organisations_show_profiles_and_org_unit_trees(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", BILLING, "/client-organisations", 200, [organisation(units=UNITS)])
    token = signing_key.mint("provider_admin")

    response = await graphql(gateway, ORGANISATIONS, token=token)

    assert response.json() == {
        "data": {
            "clientOrganisations": {
                "pageInfo": {"hasNextPage": False, "endCursor": None},
                "nodes": [
                    {
                        "id": str(TENANT),
                        "name": "Acme Logistiek B.V.",
                        "kvkNumber": "12345678",
                        "vatId": "NL004495445B01",
                        "accountManagerId": "am-1",
                        "kAnonymity": 5,
                        "paymentTermsDays": 30,
                        "invoiceEmail": "facturen@acme.example",
                        "totalEmployees": 50,
                        "electronicAddress": {"scheme": "0106", "identifier": "12345678"},
                        "addresses": {
                            "visiting": {
                                "street": "Havenweg",
                                "houseNumber": "12A",
                                "postalCode": "3011 AB",
                                "city": "Rotterdam",
                                "country": "NL",
                            },
                            "postal": None,
                        },
                        "contacts": [
                            {"role": "HR", "name": "Petra Jansen", "email": "p.jansen@acme.example", "phone": None}
                        ],
                        "orgUnits": [  # top-level units by name; the warehouse under Logistiek
                            {
                                "id": str(FINANCE),
                                "name": "Financiën",
                                "kind": "DEPARTMENT",
                                "parentId": None,
                                "employees": None,
                                "totalEmployees": 0,
                                "children": [],
                            },
                            {
                                "id": str(ORG_UNIT),
                                "name": "Logistiek",
                                "kind": "DEPARTMENT",
                                "parentId": None,
                                "employees": 10,
                                "totalEmployees": 50,
                                "children": [
                                    {
                                        "id": str(WAREHOUSE),
                                        "name": "Warehouse",
                                        "employees": 40,
                                        "totalEmployees": 40,
                                        "children": [],
                                    }
                                ],
                            },
                        ],
                    }
                ],
            }
        }
    }
    [call] = services.calls(BILLING, "/client-organisations")
    assert call.headers["authorization"] == f"Bearer {token}"


async def test_client_organisations_are_paged_by_the_gateway(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "GET",
        BILLING,
        "/client-organisations",
        200,
        [organisation(TENANT, "A"), organisation(OTHER_TENANT, "B"), organisation(THIRD_TENANT, "C")],
    )
    token = signing_key.mint("provider_admin")
    query = "query($after: String) { clientOrganisations(first: 2, after: $after) { pageInfo { hasNextPage endCursor } nodes { name } } }"  # noqa: E501

    first = (await graphql(gateway, query, token=token)).json()["data"]["clientOrganisations"]
    cursor = first["pageInfo"]["endCursor"]
    second = (await graphql(gateway, query, {"after": cursor}, token=token)).json()["data"]["clientOrganisations"]

    assert [node["name"] for node in first["nodes"]] == ["A", "B"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [node["name"] for node in second["nodes"]] == ["C"]
    assert second["pageInfo"] == {"hasNextPage": False, "endCursor": None}


async def test_contracts_of_a_list_of_organisations_cost_one_billing_call(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "GET",
        BILLING,
        "/client-organisations",
        200,
        [organisation(TENANT, "A"), organisation(OTHER_TENANT, "B"), organisation(THIRD_TENANT, "C")],
    )
    services.reply(
        "GET",
        BILLING,
        "/contracts",
        200,
        [
            contract(CONTRACT, TENANT),
            contract(OLD_CONTRACT, OTHER_TENANT, start="2025-01-01", end="2025-12-31"),
            contract(NEXT_CONTRACT, OTHER_TENANT, start="2026-01-01", end="2026-12-31"),
        ],
    )
    token = signing_key.mint("account_manager", portfolio=[str(TENANT), str(OTHER_TENANT), str(THIRD_TENANT)])
    query = """{ clientOrganisations {
      nodes { name all: contracts { id } current: contracts(inForceOn: "2026-03-01") { id } } } }"""

    response = await graphql(gateway, query, token=token)

    nodes = response.json()["data"]["clientOrganisations"]["nodes"]
    assert nodes == [
        {"name": "A", "all": [{"id": str(CONTRACT)}], "current": [{"id": str(CONTRACT)}]},
        {
            "name": "B",
            "all": [{"id": str(OLD_CONTRACT)}, {"id": str(NEXT_CONTRACT)}],
            "current": [{"id": str(NEXT_CONTRACT)}],
        },
        {"name": "C", "all": [], "current": []},
    ]
    [call] = services.calls(BILLING, "/contracts")
    assert "tenant_id" not in call.url.params  # one call for every organisation on the page
    assert len(services.calls(BILLING, "/client-organisations")) == 1


async def test_a_page_size_out_of_range_is_refused_before_billing_is_asked(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    query = "{ clientOrganisations(first: 0) { nodes { id } } }"

    response = await graphql(gateway, query, token=signing_key.mint("provider_admin"))

    [error] = only_errors(response)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == [{"path": "first", "message": "between 1 and 200"}]
    assert services.requests == []


@pytest.mark.parametrize("role", ["social_worker", "employee"])
async def test_who_has_no_business_in_billing_is_refused_before_billing_is_asked(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, role: str
) -> None:
    tenant = TENANT if role == "employee" else None
    response = await graphql(gateway, ORGANISATIONS, token=signing_key.mint(role, tenant_id=tenant))

    [error] = only_errors(response)
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["path"] == ["clientOrganisations"]
    assert services.requests == []


# -- clientOrganisation -------------------------------------------------------------------------

ORGANISATION = """
query Organisation($id: ID!) {
  clientOrganisation(id: $id) { id name contacts { name } orgUnits { name children { name } } }
}
"""


async def test_a_client_contact_reads_their_own_organisation(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", BILLING, f"/client-organisations/{TENANT}", 200, organisation(units=UNITS))
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, ORGANISATION, {"id": str(TENANT)}, token=token)

    assert response.json() == {
        "data": {
            "clientOrganisation": {
                "id": str(TENANT),
                "name": "Acme Logistiek B.V.",
                "contacts": [{"name": "Petra Jansen"}],
                "orgUnits": [
                    {"name": "Financiën", "children": []},
                    {"name": "Logistiek", "children": [{"name": "Warehouse"}]},
                ],
            }
        }
    }


async def test_contacts_withheld_by_billing_are_null(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", BILLING, f"/client-organisations/{TENANT}", 200, {**organisation(), "contacts": None})
    token = signing_key.mint("integration", tenant_id=TENANT)

    response = await graphql(gateway, ORGANISATION, {"id": str(TENANT)}, token=token)

    assert response.json()["data"]["clientOrganisation"]["contacts"] is None


CROSS_TENANT_QUERIES = {
    "clientOrganisation": (ORGANISATION, {"id": str(OTHER_TENANT)}),
    "contractUsage": ("query($t: ID!) { contractUsage(tenantId: $t) { tenantId } }", {"t": str(OTHER_TENANT)}),
    "invoices": ("query($t: ID) { invoices(tenantId: $t) { nodes { id } } }", {"t": str(OTHER_TENANT)}),
}


@pytest.mark.parametrize("field", sorted(CROSS_TENANT_QUERIES))
@pytest.mark.parametrize("role", ["client_contact", "integration"])
async def test_a_tenant_bound_caller_cannot_ask_for_another_tenant(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, field: str, role: str
) -> None:
    query, variables = CROSS_TENANT_QUERIES[field]
    token = signing_key.mint(role, tenant_id=TENANT, scopes=["usage:read", "invoices:read"])

    response = await graphql(gateway, query, variables, token=token)

    [error] = only_errors(response)
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["message"] == "not allowed for this client organisation"
    assert error["path"] == [field]
    assert services.requests == []


async def test_an_account_manager_reads_only_their_portfolio(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", BILLING, f"/client-organisations/{TENANT}", 200, organisation())
    token = signing_key.mint("account_manager", portfolio=[str(TENANT)])

    inside = await graphql(gateway, ORGANISATION, {"id": str(TENANT)}, token=token)
    outside = await graphql(gateway, ORGANISATION, {"id": str(OTHER_TENANT)}, token=token)

    assert inside.json()["data"]["clientOrganisation"]["name"] == "Acme Logistiek B.V."
    [error] = only_errors(outside)
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert [call.url.path for call in services.requests] == [f"/client-organisations/{TENANT}"]


async def test_an_unknown_organisation_is_not_found(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", BILLING, f"/client-organisations/{OTHER_TENANT}", 404, error_body("not_found", "not found"))

    response = await graphql(gateway, ORGANISATION, {"id": str(OTHER_TENANT)}, token=signing_key.mint("provider_admin"))

    [error] = only_errors(response)
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert response.json()["data"] == {"clientOrganisation": None}


async def test_a_malformed_organisation_id_is_bad_user_input(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    response = await graphql(gateway, ORGANISATION, {"id": "acme"}, token=signing_key.mint("provider_admin"))

    [error] = only_errors(response)
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "fields": [{"path": "id", "message": "not a valid id"}],
    }
    assert services.requests == []


# -- contractUsage ------------------------------------------------------------------------------

USAGE_QUERY = """
query Usage($tenantId: ID!, $on: Date) {
  contractUsage(tenantId: $tenantId, on: $on) {
    tenantId on
    contracts {
      contract { id periodStart periodEnd status products { code unitPrice { cents formatted } } }
      periodFrom periodTo computedAt
      products {
        code kind vatRate unit quantity overageQuantity includedHours bundleHoursUsed bundleUsedPercent
        sessionsPerEmployeePerYear
        amount { cents amount formatted currency } overageAmount { cents } invoicedAmount { formatted }
      }
    }
  }
}
"""


async def test_contract_usage_shows_the_contracts_in_force_with_use_against_entitlement(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "GET",
        BILLING,
        "/contracts",
        200,
        [
            contract(OLD_CONTRACT, start="2025-01-01", end="2025-12-31"),
            contract(CONTRACT),
            contract(NEXT_CONTRACT, start="2027-01-01", end="2027-12-31"),
        ],
    )
    services.reply("GET", BILLING, f"/contracts/{CONTRACT}/usage", 200, USAGE)
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, USAGE_QUERY, {"tenantId": str(TENANT), "on": "2026-06-15"}, token=token)

    assert response.json() == {
        "data": {
            "contractUsage": {
                "tenantId": str(TENANT),
                "on": "2026-06-15",
                "contracts": [
                    {
                        "contract": {
                            "id": str(CONTRACT),
                            "periodStart": "2026-01-01",
                            "periodEnd": "2026-12-31",
                            "status": "ACTIVE",
                            "products": [{"code": "BUNDLE-40", "unitPrice": {"cents": 9500, "formatted": "€ 95,00"}}],
                        },
                        "periodFrom": "2026-01-01",
                        "periodTo": "2026-12-31",
                        "computedAt": "2026-06-15T10:00:00+00:00",
                        "products": [
                            {
                                "code": "BUNDLE-40",
                                "kind": "HOUR_BUNDLE",
                                "vatRate": "STANDARD",
                                "unit": "hour",
                                "quantity": "33.00",
                                "overageQuantity": "0",
                                "includedHours": "40.00",
                                "bundleHoursUsed": "33.00",
                                "bundleUsedPercent": "82.5",
                                "sessionsPerEmployeePerYear": None,
                                "amount": {
                                    "cents": 313500,
                                    "amount": "3135.00",
                                    "formatted": "€ 3.135,00",
                                    "currency": "EUR",
                                },
                                "overageAmount": {"cents": 0},
                                "invoicedAmount": {"formatted": "€ 2.850,00"},
                            }
                        ],
                    }
                ],
            }
        }
    }
    [listing] = services.calls(BILLING, "/contracts")
    assert dict(listing.url.params) == {"tenant_id": str(TENANT)}
    # Usage only of the contract in force: not of the ended one, nor of the next one.
    assert [call.url.path for call in services.requests if call.url.path.endswith("/usage")] == [
        f"/contracts/{CONTRACT}/usage"
    ]


async def test_a_subscription_shows_its_sessions_per_employee(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    subscription = product(
        "subscription_per_employee_year",
        code="SUB",
        unit_price_cents=4500,
        included_quantity=None,
        sessions_per_employee_per_year=3,
    )
    services.reply("GET", BILLING, "/contracts", 200, [contract(products=[subscription])])
    usage = {
        **USAGE,
        "products": [
            {
                **USAGE["products"][0],  # type: ignore[index]
                "code": "SUB",
                "kind": "subscription_per_employee_year",
                "unit": "session",
                "quantity": "41",
                "overage_quantity": "2",
                "included_quantity": None,
                "bundle_hours_used": None,
            }
        ],
    }
    services.reply("GET", BILLING, f"/contracts/{CONTRACT}/usage", 200, usage)
    token = signing_key.mint("account_manager", portfolio=[str(TENANT)])

    response = await graphql(gateway, USAGE_QUERY, {"tenantId": str(TENANT), "on": "2026-06-15"}, token=token)

    [entry] = response.json()["data"]["contractUsage"]["contracts"]
    [used] = entry["products"]
    assert used["sessionsPerEmployeePerYear"] == 3
    assert (used["quantity"], used["overageQuantity"]) == ("41", "2")
    assert (used["includedHours"], used["bundleUsedPercent"]) == (None, None)


async def test_without_contracts_in_force_usage_is_empty_and_costs_one_call(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", BILLING, "/contracts", 200, [contract(start="2025-01-01", end="2025-12-31")])
    token = signing_key.mint("provider_admin")

    response = await graphql(gateway, USAGE_QUERY, {"tenantId": str(TENANT), "on": "2026-06-15"}, token=token)

    assert response.json()["data"]["contractUsage"]["contracts"] == []
    assert len(services.requests) == 1


async def test_an_integration_needs_the_usage_scope(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", BILLING, "/contracts", 200, [])
    variables = {"tenantId": str(TENANT)}

    without = await graphql(gateway, USAGE_QUERY, variables, token=signing_key.mint("integration", tenant_id=TENANT))
    allowed = await graphql(
        gateway, USAGE_QUERY, variables, token=signing_key.mint("integration", tenant_id=TENANT, scopes=["usage:read"])
    )

    [error] = only_errors(without)
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["message"] == "this integration lacks the scope usage:read"
    assert allowed.json()["data"]["contractUsage"]["contracts"] == []
    assert len(services.requests) == 1  # only the allowed one reached billing


# -- invoices -----------------------------------------------------------------------------------

INVOICES = """
query Invoices($tenantId: ID, $status: InvoiceStatus, $first: Int, $after: String) {
  invoices(tenantId: $tenantId, status: $status, first: $first, after: $after) {
    pageInfo { hasNextPage }
    nodes { id number status kind net { cents formatted } gross { formatted } }
  }
}
"""


async def test_a_client_contact_lists_their_issued_invoices(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "GET",
        BILLING,
        "/invoices",
        200,
        [
            invoice(),
            # Billing shows a client no drafts; should one slip through, the gateway leaves it out.
            invoice(DRAFT, status="draft"),
            invoice(
                CREDIT_NOTE,
                kind="credit_note",
                number="2026-000124",
                net_cents=-123456,
                vat_cents=-25926,
                gross_cents=-149382,
            ),
        ],
    )
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, INVOICES, token=token)

    assert response.json() == {
        "data": {
            "invoices": {
                "pageInfo": {"hasNextPage": False},
                "nodes": [
                    {
                        "id": str(INVOICE),
                        "number": "2026-000123",
                        "status": "ISSUED",
                        "kind": "INVOICE",
                        "net": {"cents": 123456, "formatted": "€ 1.234,56"},
                        "gross": {"formatted": "€ 1.493,82"},
                    },
                    {
                        "id": str(CREDIT_NOTE),
                        "number": "2026-000124",
                        "status": "ISSUED",
                        "kind": "CREDIT_NOTE",
                        "net": {"cents": -123456, "formatted": "€ -1.234,56"},
                        "gross": {"formatted": "€ -1.493,82"},
                    },
                ],
            }
        }
    }
    [call] = services.calls(BILLING, "/invoices")
    assert dict(call.url.params) == {"tenant_id": str(TENANT), "limit": "500"}  # their own, by default


async def test_an_admin_lists_drafts_of_every_organisation(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "GET", BILLING, "/invoices", 200, [invoice(DRAFT, status="draft"), invoice(INVOICE, OTHER_TENANT, "draft")]
    )

    response = await graphql(
        gateway, INVOICES, {"status": "DRAFT", "first": 1}, token=signing_key.mint("provider_admin")
    )

    page = response.json()["data"]["invoices"]
    assert [node["id"] for node in page["nodes"]] == [str(DRAFT)]
    assert page["pageInfo"] == {"hasNextPage": True}
    [call] = services.calls(BILLING, "/invoices")
    assert dict(call.url.params) == {"status": "draft", "limit": "500"}


async def test_an_account_manager_must_say_which_organisation(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("account_manager", portfolio=[str(TENANT)])

    response = await graphql(gateway, INVOICES, token=token)

    [error] = only_errors(response)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == [{"path": "tenantId", "message": "required"}]
    assert services.requests == []


async def test_an_integration_needs_the_invoices_scope(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    response = await graphql(gateway, INVOICES, token=signing_key.mint("integration", tenant_id=TENANT))

    [error] = only_errors(response)
    assert error["message"] == "this integration lacks the scope invoices:read"
    assert services.requests == []


# -- invoice ------------------------------------------------------------------------------------

INVOICE_FIELDS = """
query Invoice($id: ID!) {
  invoice(id: $id) {
    id tenantId number status kind periodStart periodEnd issueDate dueDate buyerReference orderReference
    correctsInvoiceId creditedById
    net { cents } vat { cents } gross { cents formatted }
    lines { lineId productCode description quantity unitCode unitPrice { cents formatted } vatCategory vatRate }
  }
}
"""

INVOICE_DOCUMENTS = """
query Invoice($id: ID!) {
  invoice(id: $id) {
    number ublXml html
    usageStatement { invoiceId kAnonymity lines { productCode description quantity people suppressed } }
  }
}
"""


async def test_an_invoice_shows_lines_and_totals_without_fetching_its_documents(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", BILLING, f"/invoices/{INVOICE}", 200, invoice())
    token = signing_key.mint("integration", tenant_id=TENANT, scopes=["invoices:read"])

    response = await graphql(gateway, INVOICE_FIELDS, {"id": str(INVOICE)}, token=token)

    assert response.json() == {
        "data": {
            "invoice": {
                "id": str(INVOICE),
                "tenantId": str(TENANT),
                "number": "2026-000123",
                "status": "ISSUED",
                "kind": "INVOICE",
                "periodStart": "2026-05-01",
                "periodEnd": "2026-05-31",
                "issueDate": "2026-06-02",
                "dueDate": "2026-07-02",
                "buyerReference": "HR-2026",
                "orderReference": None,
                "correctsInvoiceId": None,
                "creditedById": None,
                "net": {"cents": 123456},
                "vat": {"cents": 25926},
                "gross": {"cents": 149382, "formatted": "€ 1.493,82"},
                "lines": [
                    {
                        "lineId": "1",
                        "productCode": "BUNDLE-40",
                        "description": "Uren strippenkaart",
                        "quantity": "12.5",
                        "unitCode": "HUR",
                        "unitPrice": {"cents": 9500, "formatted": "€ 95,00"},
                        "vatCategory": "S",
                        "vatRate": "21",
                    }
                ],
            }
        }
    }
    assert [call.url.path for call in services.requests] == [f"/invoices/{INVOICE}"]


async def test_the_ubl_xml_html_and_usage_statement_are_fetched_when_selected(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    ubl = '<?xml version="1.0"?><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>'
    services.reply("GET", BILLING, f"/invoices/{INVOICE}", 200, invoice())
    services.on(
        "GET",
        BILLING,
        f"/invoices/{INVOICE}/ubl.xml",
        lambda _: httpx.Response(200, text=ubl, headers={"content-type": "application/xml"}),
    )
    services.on(
        "GET",
        BILLING,
        f"/invoices/{INVOICE}/invoice.html",
        lambda _: httpx.Response(200, text="<html><h1>Factuur 2026-000123</h1></html>"),
    )
    services.reply(
        "GET",
        BILLING,
        f"/invoices/{INVOICE}/usage-statement",
        200,
        {
            "invoice_id": str(INVOICE),
            "k_anonymity": 5,
            "lines": [
                {
                    "product_code": "BUNDLE-40",
                    "description": "Uren",
                    "quantity": "12.5",
                    "people": 7,
                    "suppressed": False,
                },
                {
                    "product_code": "NO-SHOW",
                    "description": "No-show",
                    "quantity": "1",
                    "people": None,
                    "suppressed": True,
                },
                # A small count billing failed to hide: the gateway hides it.
                {"product_code": "WS", "description": "Workshop", "quantity": "3", "people": 3, "suppressed": False},
            ],
        },
    )
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, INVOICE_DOCUMENTS, {"id": str(INVOICE)}, token=token)

    assert response.json() == {
        "data": {
            "invoice": {
                "number": "2026-000123",
                "ublXml": ubl,
                "html": "<html><h1>Factuur 2026-000123</h1></html>",
                "usageStatement": {
                    "invoiceId": str(INVOICE),
                    "kAnonymity": 5,
                    "lines": [
                        {
                            "productCode": "BUNDLE-40",
                            "description": "Uren",
                            "quantity": "12.5",
                            "people": 7,
                            "suppressed": False,
                        },
                        {
                            "productCode": "NO-SHOW",
                            "description": "No-show",
                            "quantity": "1",
                            "people": None,
                            "suppressed": True,
                        },
                        {
                            "productCode": "WS",
                            "description": "Workshop",
                            "quantity": "3",
                            "people": None,
                            "suppressed": True,
                        },
                    ],
                },
            }
        }
    }
    assert len(services.requests) == 4


async def test_a_draft_has_no_ubl_xml_and_billing_is_not_asked_for_it(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", BILLING, f"/invoices/{DRAFT}", 200, invoice(DRAFT, status="draft"))

    response = await graphql(
        gateway,
        "query($id: ID!) { invoice(id: $id) { status ublXml } }",
        {"id": str(DRAFT)},
        token=signing_key.mint("provider_admin"),
    )

    assert response.json() == {"data": {"invoice": {"status": "DRAFT", "ublXml": None}}}
    assert [call.url.path for call in services.requests] == [f"/invoices/{DRAFT}"]


async def test_an_invoice_of_another_tenant_is_not_found_even_if_billing_sends_it(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", BILLING, f"/invoices/{INVOICE}", 200, invoice(tenant=OTHER_TENANT))
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, INVOICE_FIELDS, {"id": str(INVOICE)}, token=token)

    [error] = only_errors(response)
    assert error["extensions"] == {"code": "NOT_FOUND"}
    assert error["message"] == "invoice not found"
    assert str(OTHER_TENANT) not in response.text


async def test_a_failing_document_fails_only_its_own_field(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", BILLING, f"/invoices/{INVOICE}", 200, invoice())
    services.on("GET", BILLING, f"/invoices/{INVOICE}/ubl.xml", lambda _: httpx.Response(200, text="<Invoice/>"))
    services.on("GET", BILLING, f"/invoices/{INVOICE}/invoice.html", refuse_connection)
    services.reply(
        "GET",
        BILLING,
        f"/invoices/{INVOICE}/usage-statement",
        200,
        {"invoice_id": str(INVOICE), "k_anonymity": 5, "lines": []},
    )

    response = await graphql(gateway, INVOICE_DOCUMENTS, {"id": str(INVOICE)}, token=signing_key.mint("provider_admin"))

    body = response.json()
    assert body["data"]["invoice"]["number"] == "2026-000123"
    assert body["data"]["invoice"]["ublXml"] == "<Invoice/>"
    assert body["data"]["invoice"]["html"] is None
    [error] = body["errors"]
    assert error["path"] == ["invoice", "html"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"


# -- billing down -------------------------------------------------------------------------------


async def test_billing_down_fails_only_the_billing_fields(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.on("GET", BILLING, "/client-organisations", refuse_connection)
    services.on("GET", BILLING, "/invoices", lambda _: httpx.Response(503, json=error_body("unavailable", "down")))
    token = signing_key.mint("client_contact", tenant_id=TENANT, sub="petra")

    response = await graphql(
        gateway,
        "{ me { subject } clientOrganisations { nodes { id } } invoices { nodes { id } } }",
        token=token,
    )

    body = response.json()
    assert response.status_code == 200
    assert body["data"] == {"me": {"subject": "petra"}, "clientOrganisations": None, "invoices": None}
    errors = {tuple(error["path"]): error for error in body["errors"]}
    assert set(errors) == {("clientOrganisations",), ("invoices",)}
    for error in errors.values():
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert error["message"] == "the billing service is unavailable; retry shortly"


# -- mutations ----------------------------------------------------------------------------------

FAILURES = """
    ... on ValidationFailed { message fields { path message } }
    ... on Forbidden { message }
    ... on ServiceUnavailable { message }
"""

REGISTER = (
    """
mutation Register($input: RegisterClientOrganisationInput!) {
  registerClientOrganisation(input: $input) {
    __typename
    ... on ClientOrganisationRegistered { clientOrganisation { id name orgUnits { id name children { id } } } }
    ... on Conflict { message }
"""
    + FAILURES
    + "}}"
)


def created_organisation(request: httpx.Request) -> httpx.Response:
    body = json_body(request)
    units = [
        unit(uuid.UUID(u["id"]), u["name"], uuid.UUID(u["parent_id"]) if u.get("parent_id") else None)
        for u in body.get("org_units", [])
    ]
    return httpx.Response(201, json=organisation(TENANT, body["name"], units))


async def test_an_admin_registers_a_client_organisation(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.on("POST", BILLING, "/client-organisations", created_organisation)
    registration = {
        "name": "Acme Logistiek B.V.",
        "kvkNumber": "12345678",
        "kAnonymity": 7,
        "addresses": {
            "visiting": {"street": "Havenweg", "houseNumber": "12A", "postalCode": "3011ab", "city": "Rotterdam"}
        },
        "contacts": [{"role": "HR", "name": "Petra Jansen", "email": "p.jansen@acme.example"}],
        "orgUnits": [
            {"id": str(ORG_UNIT), "name": "Logistiek", "employees": 10},
            {"id": str(WAREHOUSE), "name": "Warehouse", "parentId": str(ORG_UNIT), "kind": "LOCATION"},
        ],
    }

    response = await graphql(gateway, REGISTER, {"input": registration}, token=signing_key.mint("provider_admin"))

    assert response.json()["data"]["registerClientOrganisation"] == {
        "__typename": "ClientOrganisationRegistered",
        "clientOrganisation": {
            "id": str(TENANT),
            "name": "Acme Logistiek B.V.",
            "orgUnits": [{"id": str(ORG_UNIT), "name": "Logistiek", "children": [{"id": str(WAREHOUSE)}]}],
        },
    }
    [call] = services.calls(BILLING, "/client-organisations")
    assert json_body(call) == {  # what was not given is left to billing's defaults
        "name": "Acme Logistiek B.V.",
        "kvk_number": "12345678",
        "k_anonymity": 7,
        "addresses": {
            "visiting": {"street": "Havenweg", "house_number": "12A", "postal_code": "3011ab", "city": "Rotterdam"}
        },
        "contacts": [{"role": "hr", "name": "Petra Jansen", "email": "p.jansen@acme.example"}],
        "org_units": [
            {"id": str(ORG_UNIT), "name": "Logistiek", "employees": 10},
            {"id": str(WAREHOUSE), "name": "Warehouse", "kind": "location", "parent_id": str(ORG_UNIT)},
        ],
    }


async def test_billing_field_errors_come_back_as_input_paths(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "POST",
        BILLING,
        "/client-organisations",
        422,
        error_body(
            "validation_failed",
            "invalid input",
            [
                ("body.addresses.visiting.postal_code", "not a Dutch postal code"),
                ("body.org_units.1.parent_id", "no such unit in this request"),
                ("body.kvk_number", "a KvK number has 8 digits"),
            ],
        ),
    )

    response = await graphql(gateway, REGISTER, {"input": {"name": "Acme"}}, token=signing_key.mint("provider_admin"))

    result = response.json()["data"]["registerClientOrganisation"]
    assert result["__typename"] == "ValidationFailed"
    assert result["fields"] == [
        {"path": "input.addresses.visiting.postalCode", "message": "not a Dutch postal code"},
        {"path": "input.orgUnits.1.parentId", "message": "no such unit in this request"},
        {"path": "input.kvkNumber", "message": "a KvK number has 8 digits"},
    ]


async def test_a_malformed_unit_id_is_refused_before_billing_is_asked(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    registration = {"name": "Acme", "orgUnits": [{"name": "Logistiek"}, {"name": "Warehouse", "parentId": "logistiek"}]}

    response = await graphql(gateway, REGISTER, {"input": registration}, token=signing_key.mint("provider_admin"))

    result = response.json()["data"]["registerClientOrganisation"]
    assert result == {
        "__typename": "ValidationFailed",
        "message": "invalid input: input.orgUnits.1.parentId",
        "fields": [{"path": "input.orgUnits.1.parentId", "message": "not a valid id"}],
    }
    assert services.requests == []


async def test_a_known_kvk_number_is_a_conflict(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "POST", BILLING, "/client-organisations", 409, error_body("conflict", "KvK number 12345678 is registered")
    )

    response = await graphql(gateway, REGISTER, {"input": {"name": "Acme"}}, token=signing_key.mint("provider_admin"))

    assert response.json()["data"]["registerClientOrganisation"] == {
        "__typename": "Conflict",
        "message": "KvK number 12345678 is registered",
    }


MUTATIONS_FOR_ADMINS: dict[str, tuple[str, dict[str, Any]]] = {
    "registerClientOrganisation": ("RegisterClientOrganisationInput", {"name": "Acme"}),
    "createContract": (
        "CreateContractInput",
        {
            "tenantId": str(TENANT),
            "periodStart": "2026-01-01",
            "periodEnd": "2026-12-31",
            "products": [{"code": "B", "kind": "HOUR_BUNDLE", "unitPriceCents": 9500, "vatRate": "STANDARD"}],
        },
    ),
    "runBilling": ("RunBillingInput", {"period": "2026-11"}),
    "issueInvoice": ("IssueInvoiceInput", {"invoiceId": str(INVOICE)}),
    "issueCreditNote": ("IssueCreditNoteInput", {"invoiceId": str(INVOICE)}),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS_FOR_ADMINS))
@pytest.mark.parametrize("role", ["account_manager", "client_contact"])
async def test_mutations_for_admins_are_forbidden_to_others_before_billing_is_asked(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, mutation: str, role: str
) -> None:
    input_type, value = MUTATIONS_FOR_ADMINS[mutation]
    document = f"""mutation($input: {input_type}!) {{
      {mutation}(input: $input) {{ __typename ... on Forbidden {{ message }} }} }}"""
    token = signing_key.mint(role, tenant_id=TENANT if role == "client_contact" else None, portfolio=[str(TENANT)])

    response = await graphql(gateway, document, {"input": value}, token=token)

    assert response.json()["data"][mutation] == {
        "__typename": "Forbidden",
        "message": "this operation needs one of the roles: provider_admin",
    }
    assert services.requests == []


ADD_UNIT = (
    """
mutation Add($input: AddOrgUnitInput!) {
  addOrgUnit(input: $input) {
    __typename
    ... on OrgUnitAdded { orgUnit { id name kind parentId employees } clientOrganisation { id orgUnits { name } } }
    ... on NotFound { message }
    ... on Conflict { message }
"""
    + FAILURES
    + "}}"
)


def added_unit(request: httpx.Request) -> httpx.Response:
    body = json_body(request)
    new = {
        "id": body["id"],
        "name": body["name"],
        "parent_id": body.get("parent_id"),
        "kind": body.get("kind", "department"),
        "employees": body.get("employees"),
    }
    return httpx.Response(201, json=organisation(units=[unit(ORG_UNIT, "Logistiek"), new]))


async def test_a_client_contact_adds_an_org_unit_to_their_own_organisation(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.on("POST", BILLING, f"/client-organisations/{TENANT}/org-units", added_unit)
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(
        gateway, ADD_UNIT, {"input": {"name": "Warehouse", "parentId": str(ORG_UNIT), "employees": 40}}, token=token
    )

    result = response.json()["data"]["addOrgUnit"]
    [call] = services.calls(BILLING, f"/client-organisations/{TENANT}/org-units")
    sent = json_body(call)
    new_id = sent.pop("id")  # chosen by the gateway, so that the answer can name the new unit
    assert uuid.UUID(new_id)
    assert sent == {"name": "Warehouse", "parent_id": str(ORG_UNIT), "employees": 40}
    assert result == {
        "__typename": "OrgUnitAdded",
        "orgUnit": {
            "id": new_id,
            "name": "Warehouse",
            "kind": "DEPARTMENT",
            "parentId": str(ORG_UNIT),
            "employees": 40,
        },
        "clientOrganisation": {"id": str(TENANT), "orgUnits": [{"name": "Logistiek"}]},
    }


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"roles": ["client_contact"], "tenant_id": OTHER_TENANT}, "not allowed for this client organisation"),
        ({"roles": ["integration"], "tenant_id": TENANT}, "this integration lacks the scope org_units:write"),
        (
            {"roles": ["account_manager"], "portfolio": [str(TENANT)]},
            "this operation needs one of the roles: client_contact, integration, provider_admin",
        ),
    ],
    ids=["other-tenant", "integration-without-scope", "account-manager"],
)
async def test_who_may_not_add_units_there_is_forbidden_before_billing_is_asked(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey, claims: dict[str, Any], message: str
) -> None:
    roles = claims.pop("roles")
    token = signing_key.mint(*roles, **claims)

    response = await graphql(gateway, ADD_UNIT, {"input": {"tenantId": str(TENANT), "name": "Warehouse"}}, token=token)

    assert response.json()["data"]["addOrgUnit"] == {"__typename": "Forbidden", "message": message}
    assert services.requests == []


async def test_an_integration_with_the_scope_adds_units_and_billing_refusals_map(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "POST",
        BILLING,
        f"/client-organisations/{TENANT}/org-units",
        422,
        error_body("validation_failed", "invalid input", [("body.parent_id", "not a unit of this organisation")]),
    )
    token = signing_key.mint("integration", tenant_id=TENANT, scopes=["org_units:write"])

    response = await graphql(gateway, ADD_UNIT, {"input": {"name": "X", "parentId": str(FINANCE)}}, token=token)

    assert response.json()["data"]["addOrgUnit"]["fields"] == [
        {"path": "input.parentId", "message": "not a unit of this organisation"}
    ]


async def test_an_admin_must_name_the_organisation_of_a_unit(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    response = await graphql(
        gateway, ADD_UNIT, {"input": {"name": "X", "id": "x"}}, token=signing_key.mint("provider_admin")
    )

    assert response.json()["data"]["addOrgUnit"] == {
        "__typename": "ValidationFailed",
        "message": "invalid input: input.id, input.tenantId",
        "fields": [
            {"path": "input.id", "message": "not a valid id"},
            {"path": "input.tenantId", "message": "required for callers without a client organisation"},
        ],
    }
    assert services.requests == []


async def test_a_unit_for_an_unknown_organisation_is_not_found(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "POST",
        BILLING,
        f"/client-organisations/{OTHER_TENANT}/org-units",
        404,
        error_body("not_found", "client organisation not found"),
    )

    response = await graphql(
        gateway,
        ADD_UNIT,
        {"input": {"tenantId": str(OTHER_TENANT), "name": "X"}},
        token=signing_key.mint("provider_admin"),
    )

    assert response.json()["data"]["addOrgUnit"] == {
        "__typename": "NotFound",
        "message": "client organisation not found",
    }


CREATE_CONTRACT = (
    """
mutation Create($input: CreateContractInput!) {
  createContract(input: $input) {
    __typename
    ... on ContractCreated {
      contract {
        id tenantId invoicingPeriod indexationPercent
        products { code kind vatRate includedQuantity overageUnitPrice { cents } }
      }
    }
    ... on Conflict { message }
"""
    + FAILURES
    + "}}"
)

CONTRACT_INPUT: dict[str, Any] = {
    "tenantId": str(TENANT),
    "periodStart": "2026-01-01",
    "periodEnd": "2026-12-31",
    "indexationPercent": "3.50",
    "products": [
        {
            "code": "BUNDLE-40",
            "kind": "HOUR_BUNDLE",
            "unitPriceCents": 9500,
            "vatRate": "STANDARD",
            "includedQuantity": "40.00",
            "overageUnitPriceCents": 11000,
        }
    ],
}


async def test_an_admin_records_a_contract(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("POST", BILLING, "/contracts", 201, contract())

    response = await graphql(
        gateway, CREATE_CONTRACT, {"input": CONTRACT_INPUT}, token=signing_key.mint("provider_admin")
    )

    assert response.json()["data"]["createContract"] == {
        "__typename": "ContractCreated",
        "contract": {
            "id": str(CONTRACT),
            "tenantId": str(TENANT),
            "invoicingPeriod": "MONTH",
            "indexationPercent": "3.50",
            "products": [
                {
                    "code": "BUNDLE-40",
                    "kind": "HOUR_BUNDLE",
                    "vatRate": "STANDARD",
                    "includedQuantity": "40.00",
                    "overageUnitPrice": {"cents": 11000},
                }
            ],
        },
    }
    [call] = services.calls(BILLING, "/contracts")
    assert json_body(call) == {
        "tenant_id": str(TENANT),
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
        "indexation_percent": "3.50",
        "products": [
            {
                "code": "BUNDLE-40",
                "kind": "hour_bundle",
                "unit_price_cents": 9500,
                "vat_rate": "21",
                "included_quantity": "40.00",
                "overage_unit_price_cents": 11000,
            }
        ],
    }


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            409,
            error_body("conflict", "overlaps contract 9999 with a product of the same kind"),
            {"__typename": "Conflict", "message": "overlaps contract 9999 with a product of the same kind"},
        ),
        (
            422,
            error_body(
                "validation_failed",
                "the contract is not valid: see fields",
                [
                    ("body.products.0.included_quantity", "required for an hour bundle"),
                    ("body.period_end", "too early"),
                ],
            ),
            {
                "__typename": "ValidationFailed",
                "message": "the contract is not valid: see fields",
                "fields": [
                    {"path": "input.products.0.includedQuantity", "message": "required for an hour bundle"},
                    {"path": "input.periodEnd", "message": "too early"},
                ],
            },
        ),
        (
            503,
            error_body("unavailable", "database unavailable"),
            {"__typename": "ServiceUnavailable", "message": "the billing service is unavailable; retry shortly"},
        ),
    ],
    ids=["conflict", "validation", "unavailable"],
)
async def test_refusals_of_a_contract_are_members_of_the_result(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    status: int,
    body: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    services.reply("POST", BILLING, "/contracts", status, body)

    response = await graphql(
        gateway, CREATE_CONTRACT, {"input": CONTRACT_INPUT}, token=signing_key.mint("provider_admin")
    )

    assert response.json()["data"]["createContract"] == expected


RUN_BILLING = (
    """
mutation Run($input: RunBillingInput!) {
  runBilling(input: $input) {
    __typename
    ... on BillingRunCompleted { run { id period periodStart periodEnd draftInvoiceIds skipped { tenantId reason } } }
    ... on NotFound { message }
"""
    + FAILURES
    + "}}"
)


async def test_an_admin_runs_billing_for_a_quarter(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "POST",
        BILLING,
        "/billing-runs",
        201,
        {
            "run_id": str(RUN),
            "period": "2026-Q4",
            "period_start": "2026-10-01",
            "period_end": "2026-12-31",
            "drafts": [str(DRAFT)],
            "skipped": [{"tenant_id": str(OTHER_TENANT), "reason": "nothing to bill"}],
        },
    )

    response = await graphql(
        gateway, RUN_BILLING, {"input": {"period": "2026-q4"}}, token=signing_key.mint("provider_admin")
    )

    assert response.json()["data"]["runBilling"] == {
        "__typename": "BillingRunCompleted",
        "run": {
            "id": str(RUN),
            "period": "2026-Q4",
            "periodStart": "2026-10-01",
            "periodEnd": "2026-12-31",
            "draftInvoiceIds": [str(DRAFT)],
            "skipped": [{"tenantId": str(OTHER_TENANT), "reason": "nothing to bill"}],
        },
    }
    [call] = services.calls(BILLING, "/billing-runs")
    assert json_body(call) == {"period": "2026-q4"}
    assert "idempotency-key" not in call.headers  # billing takes none; the gateway makes none up


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            lambda _: httpx.Response(
                422, json=error_body("validation_failed", "not a period", [("body.period", "use 2026-11 or 2026-Q4")])
            ),
            {
                "__typename": "ValidationFailed",
                "message": "not a period",
                "fields": [{"path": "input.period", "message": "use 2026-11 or 2026-Q4"}],
            },
        ),
        (
            lambda _: httpx.Response(404, json=error_body("not_found", "client organisation not found")),
            {"__typename": "NotFound", "message": "client organisation not found"},
        ),
        (
            refuse_connection,
            {"__typename": "ServiceUnavailable", "message": "the billing service is unavailable; retry shortly"},
        ),
    ],
    ids=["bad-period", "unknown-tenant", "billing-down"],
)
async def test_refusals_of_a_billing_run_are_members_of_the_result(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    answer: Callable[[httpx.Request], httpx.Response],
    expected: dict[str, Any],
) -> None:
    services.on("POST", BILLING, "/billing-runs", answer)

    response = await graphql(
        gateway,
        RUN_BILLING,
        {"input": {"period": "2026-13", "tenantId": str(OTHER_TENANT)}},
        token=signing_key.mint("provider_admin"),
    )

    assert response.json()["data"]["runBilling"] == expected


ISSUE = (
    """
mutation Issue($input: IssueInvoiceInput!) {
  issueInvoice(input: $input) {
    __typename
    ... on InvoiceIssued { invoice { id number status } }
    ... on NotFound { message }
    ... on Conflict { message }
"""
    + FAILURES
    + "}}"
)

CREDIT = (
    """
mutation Credit($input: IssueCreditNoteInput!) {
  issueCreditNote(input: $input) {
    __typename
    ... on CreditNoteIssued { creditNote { id kind correctsInvoiceId gross { cents } } }
    ... on NotFound { message }
    ... on Conflict { message }
"""
    + FAILURES
    + "}}"
)


async def test_an_admin_issues_a_draft(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("POST", BILLING, f"/invoices/{DRAFT}/issue", 200, invoice(DRAFT))

    response = await graphql(
        gateway, ISSUE, {"input": {"invoiceId": str(DRAFT)}}, token=signing_key.mint("provider_admin")
    )

    assert response.json()["data"]["issueInvoice"] == {
        "__typename": "InvoiceIssued",
        "invoice": {"id": str(DRAFT), "number": "2026-000123", "status": "ISSUED"},
    }


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            409,
            error_body("conflict", "invoice 2026-000123 is already issued"),
            {"__typename": "Conflict", "message": "invoice 2026-000123 is already issued"},
        ),
        (404, error_body("not_found", "invoice not found"), {"__typename": "NotFound", "message": "invoice not found"}),
        (
            403,
            error_body("forbidden", "this operation needs one of the roles: provider_admin"),
            {"__typename": "Forbidden", "message": "this operation needs one of the roles: provider_admin"},
        ),
    ],
    ids=["issued-already", "unknown", "refused-by-billing"],
)
async def test_refusals_of_issuing_are_members_of_the_result(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    status: int,
    body: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    services.reply("POST", BILLING, f"/invoices/{INVOICE}/issue", status, body)

    response = await graphql(
        gateway, ISSUE, {"input": {"invoiceId": str(INVOICE)}}, token=signing_key.mint("provider_admin")
    )

    assert response.json()["data"]["issueInvoice"] == expected


async def test_a_malformed_invoice_id_is_refused_before_billing_is_asked(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    response = await graphql(
        gateway, CREDIT, {"input": {"invoiceId": "2026-000123"}}, token=signing_key.mint("provider_admin")
    )

    assert response.json()["data"]["issueCreditNote"] == {
        "__typename": "ValidationFailed",
        "message": "invalid input: input.invoiceId",
        "fields": [{"path": "input.invoiceId", "message": "not a valid id"}],
    }
    assert services.requests == []


async def test_an_admin_credits_an_invoice_without_releasing_its_usage(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    note = invoice(CREDIT_NOTE, kind="credit_note", corrects_invoice_id=str(INVOICE), gross_cents=-149382)
    services.reply("POST", BILLING, f"/invoices/{INVOICE}/credit-note", 201, note)

    response = await graphql(
        gateway,
        CREDIT,
        {"input": {"invoiceId": str(INVOICE), "releaseUsage": False}},
        token=signing_key.mint("provider_admin"),
    )

    assert response.json()["data"]["issueCreditNote"] == {
        "__typename": "CreditNoteIssued",
        "creditNote": {
            "id": str(CREDIT_NOTE),
            "kind": "CREDIT_NOTE",
            "correctsInvoiceId": str(INVOICE),
            "gross": {"cents": -149382},
        },
    }
    [call] = services.calls(BILLING, f"/invoices/{INVOICE}/credit-note")
    assert json_body(call) == {"release_usage": False}


async def test_crediting_a_credited_invoice_is_a_conflict(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "POST",
        BILLING,
        f"/invoices/{INVOICE}/credit-note",
        409,
        error_body("conflict", "this invoice has been credited already"),
    )

    response = await graphql(
        gateway, CREDIT, {"input": {"invoiceId": str(INVOICE)}}, token=signing_key.mint("provider_admin")
    )

    assert response.json()["data"]["issueCreditNote"] == {
        "__typename": "Conflict",
        "message": "this invoice has been credited already",
    }
    [call] = services.calls(BILLING, f"/invoices/{INVOICE}/credit-note")
    assert json_body(call) == {"release_usage": True}


async def test_organisations_asked_for_twice_or_together_cost_one_billing_call(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", BILLING, f"/client-organisations/{TENANT}", 200, organisation(TENANT, "A"))
    services.reply(
        "GET", BILLING, "/client-organisations", 200, [organisation(TENANT, "A"), organisation(OTHER_TENANT, "B")]
    )
    token = signing_key.mint("provider_admin")
    twice = "query($a: ID!) { x: clientOrganisation(id: $a) { name } y: clientOrganisation(id: $a) { name } }"
    together = (
        "query($a: ID!, $b: ID!) { x: clientOrganisation(id: $a) { name } y: clientOrganisation(id: $b) { name } }"
    )

    same = await graphql(gateway, twice, {"a": str(TENANT)}, token=token)
    both = await graphql(gateway, together, {"a": str(TENANT), "b": str(OTHER_TENANT)}, token=token)

    assert same.json() == {"data": {"x": {"name": "A"}, "y": {"name": "A"}}}
    assert both.json() == {"data": {"x": {"name": "A"}, "y": {"name": "B"}}}
    assert [call.url.path for call in services.requests] == [f"/client-organisations/{TENANT}", "/client-organisations"]
