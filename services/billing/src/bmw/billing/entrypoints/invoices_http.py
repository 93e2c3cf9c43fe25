"""Billing runs, invoices, credit notes, their UBL 2.1 XML and HTML renderings, and usage statements."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from bmw.billing.application.invoicing import (
    InvoiceView,
    credit_invoice,
    draft_html,
    issue_invoice,
    list_invoices,
    read_invoice,
    run_billing,
)
from bmw.billing.application.statements import usage_statement
from bmw.billing.domain.periods import Period, PeriodError
from bmw.billing.settings import settings_of
from bmw.servicekit.deps import CurrentPrincipal, RuntimeDep, UowFactoryDep
from bmw.servicekit.errors import Conflict, FieldError, InvalidInput, error_responses

router = APIRouter(tags=["invoices"])


class BillingRunCreate(BaseModel):
    """Bill a period."""

    model_config = ConfigDict(extra="forbid")

    period: str = Field(description="A month (2026-11) or a quarter (2026-Q4).", examples=["2026-11"])
    tenant_id: uuid.UUID | None = Field(default=None, description="One client organisation; all when absent.")


class SkippedRead(BaseModel):
    tenant_id: uuid.UUID = Field(description="The client organisation not billed in this run.")
    reason: str = Field(description="Why: nothing to bill, already invoiced, or what its profile lacks.")


class BillingRunRead(BaseModel):
    """What a billing run made: drafts to review and issue."""

    run_id: uuid.UUID = Field(description="Id of the run.")
    period: str = Field(description="The period billed.")
    period_start: date = Field(description="First day of the period.")
    period_end: date = Field(description="Last day of the period (inclusive).")
    drafts: list[uuid.UUID] = Field(description="Draft invoices made, one per client organisation.")
    skipped: list[SkippedRead] = Field(description="Client organisations not billed, with the reason.")


class InvoiceLineRead(BaseModel):
    line_id: str = Field(description="Line number.")
    product_code: str = Field(description="Product code of the contract.")
    description: str = Field(description="What is billed; never a person.")
    quantity: str = Field(description="Exact quantity (hours, sessions, participants, employees, ...).")
    unit_code: str = Field(description="UN/ECE rec. 20 unit: HUR hours, C62 pieces.")
    unit_price_cents: int = Field(description="Price per unit excluding VAT, in euro cents.")
    vat_category: str = Field(description="EN 16931 VAT category: S standard, Z zero, E exempt.")
    vat_rate: str = Field(description="VAT percentage of the line.")


class InvoiceRead(BaseModel):
    """An invoice or credit note: drafts only to provider admins."""

    id: uuid.UUID = Field(description="Invoice id.")
    tenant_id: uuid.UUID = Field(description="The client organisation billed.")
    kind: Literal["invoice", "credit_note"] = Field(description="Invoice or credit note.")
    status: Literal["draft", "issued"] = Field(description="Draft (under review) or issued (final).")
    number: str | None = Field(description="Gapless number per year, given at issue, e.g. 2026-000123.")
    period_start: date = Field(description="First day of the period billed.")
    period_end: date = Field(description="Last day of the period billed.")
    issue_date: date | None = Field(description="Date of issue.")
    due_date: date | None = Field(description="Payment due date.")
    buyer_reference: str | None = Field(description="The client's reference (BT-10).")
    order_reference: str | None = Field(description="The client's purchase order number (BT-13).")
    net_cents: int = Field(description="Total excluding VAT in cents; negative for a credit note.")
    vat_cents: int = Field(description="VAT in cents; negative for a credit note.")
    gross_cents: int = Field(description="Total including VAT in cents; negative for a credit note.")
    corrects_invoice_id: uuid.UUID | None = Field(description="For a credit note: the invoice it corrects.")
    credited_by_id: uuid.UUID | None = Field(description="For a credited invoice: its credit note.")
    lines: list[InvoiceLineRead] = Field(description="The invoice lines.")

    @classmethod
    def of(cls, view: InvoiceView) -> InvoiceRead:
        document = view.document
        return cls(
            id=view.id,
            tenant_id=view.tenant_id,
            kind=view.kind,
            status=view.status,
            number=view.number,
            period_start=view.period_start,
            period_end=view.period_end,
            issue_date=view.issue_date,
            due_date=view.due_date,
            buyer_reference=document.get("buyer_reference"),
            order_reference=document.get("order_reference"),
            net_cents=view.net_cents,
            vat_cents=view.vat_cents,
            gross_cents=view.gross_cents,
            corrects_invoice_id=view.corrects_invoice_id,
            credited_by_id=view.credited_by_id,
            lines=[
                InvoiceLineRead(
                    line_id=line["line_id"],
                    product_code=line["product_code"],
                    description=line["description"],
                    quantity=line["quantity"],
                    unit_code=line["unit_code"],
                    unit_price_cents=line["unit_price_cents"],
                    vat_category=line["vat"]["category"],
                    vat_rate=line["vat"]["rate"],
                )
                for line in document["lines"]
            ],
        )


@router.post(
    "/billing-runs",
    status_code=status.HTTP_201_CREATED,
    response_model=BillingRunRead,
    responses=error_responses(401, 403, 404, 422),
)
async def create_billing_run(
    body: BillingRunCreate, principal: CurrentPrincipal, uow: UowFactoryDep, runtime: RuntimeDep
) -> BillingRunRead:
    """Bill a period (provider admins): one draft invoice per client organisation; running it again creates
    nothing new."""
    try:
        period = Period.parse(body.period)
    except PeriodError as error:
        raise InvalidInput(str(error), fields=[FieldError(path="body.period", message=str(error))]) from error
    result = await run_billing(
        period, tenant_id=body.tenant_id, principal=principal, uow=uow, settings=settings_of(runtime)
    )
    return BillingRunRead(
        run_id=result.run_id,
        period=period.label,
        period_start=period.start,
        period_end=period.end,
        drafts=result.drafts,
        skipped=[SkippedRead(tenant_id=s.tenant_id, reason=s.reason) for s in result.skipped],
    )


@router.get("/invoices", response_model=list[InvoiceRead], responses=error_responses(401, 403, 404, 422))
async def read_invoices(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    tenant_id: Annotated[
        uuid.UUID | None, Query(description="One client organisation (required but for admins).")
    ] = None,
    invoice_status: Annotated[
        Literal["draft", "issued"] | None, Query(alias="status", description="Only drafts or only issued ones.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many.")] = 100,
) -> list[InvoiceRead]:
    """Invoices and credit notes, newest period first: client contacts, integrations (invoices:read) and
    account managers see their organisations' issued ones; to anyone else an organisation's invoices are
    not there (404), as a single invoice is not."""
    views = await list_invoices(principal=principal, uow=uow, tenant_id=tenant_id, status=invoice_status, limit=limit)
    return [InvoiceRead.of(view) for view in views]


@router.get("/invoices/{invoice_id}", response_model=InvoiceRead, responses=error_responses(401, 403, 404))
async def get_invoice(invoice_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep) -> InvoiceRead:
    """One invoice or credit note."""
    view, _ = await read_invoice(invoice_id, principal=principal, uow=uow)
    return InvoiceRead.of(view)


@router.post("/invoices/{invoice_id}/issue", response_model=InvoiceRead, responses=error_responses(401, 403, 404, 409))
async def issue(invoice_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep) -> InvoiceRead:
    """Issue a reviewed draft (provider admins): it gets its gapless number and never changes again."""
    return InvoiceRead.of(await issue_invoice(invoice_id, principal=principal, uow=uow))


class CreditNoteCreate(BaseModel):
    """Correct an issued invoice."""

    model_config = ConfigDict(extra="forbid")

    release_usage: bool = Field(
        default=True,
        description="Open the invoice's usage again so that the next billing run bills it correctly; false when "
        "the usage itself should not be billed.",
    )


@router.post(
    "/invoices/{invoice_id}/credit-note",
    status_code=status.HTTP_201_CREATED,
    response_model=InvoiceRead,
    responses=error_responses(401, 403, 404, 409),
)
async def create_credit_note(
    invoice_id: uuid.UUID, body: CreditNoteCreate, principal: CurrentPrincipal, uow: UowFactoryDep
) -> InvoiceRead:
    """Issue a credit note that nets an issued invoice to zero (provider admins)."""
    note = await credit_invoice(invoice_id, release_usage=body.release_usage, principal=principal, uow=uow)
    return InvoiceRead.of(note)


@router.get(
    "/invoices/{invoice_id}/ubl.xml",
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {}}, "description": "UBL 2.1 (EN 16931, Peppol BIS 3)"},
        **error_responses(401, 403, 404, 409),
    },
)
async def get_ubl(invoice_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep) -> Response:
    """The e-invoice: UBL 2.1 following EN 16931 / Peppol BIS Billing 3.0 and NL-CIUS (issued invoices)."""
    view, row = await read_invoice(invoice_id, principal=principal, uow=uow)
    if row.ubl_xml is None:
        raise Conflict("a draft has no e-invoice yet: issue it first", current_state=view.status)
    filename = f"{view.number}.xml"
    return Response(
        row.ubl_xml,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/invoices/{invoice_id}/invoice.html",
    response_class=Response,
    responses={
        200: {"content": {"text/html": {}}, "description": "Readable rendering"},
        **error_responses(401, 403, 404),
    },
)
async def get_html(invoice_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep) -> Response:
    """A readable, printable rendering (Dutch); a draft is marked CONCEPT."""
    view, row = await read_invoice(invoice_id, principal=principal, uow=uow)
    html = row.html if row.html is not None else await draft_html(view)
    return Response(html, media_type="text/html; charset=utf-8")


class StatementLineRead(BaseModel):
    product_code: str = Field(description="Product code.")
    description: str = Field(description="What was used.")
    quantity: str = Field(description="Exact quantity billed.")
    people: int | None = Field(description="Distinct employees behind it; null when fewer than k (suppressed).")
    suppressed: bool = Field(description="True when the number of people is hidden (small-cell suppression).")


class UsageStatementRead(BaseModel):
    """What an invoice's usage consisted of, without exposing a person."""

    invoice_id: uuid.UUID = Field(description="The invoice.")
    k_anonymity: int = Field(description="Smallest number of people shown for the organisation.")
    lines: list[StatementLineRead] = Field(description="Per product and price.")


@router.get(
    "/invoices/{invoice_id}/usage-statement",
    response_model=UsageStatementRead,
    responses=error_responses(401, 403, 404),
)
async def get_usage_statement(
    invoice_id: uuid.UUID, principal: CurrentPrincipal, uow: UowFactoryDep
) -> UsageStatementRead:
    """The usage behind an invoice, per product, with the number of people only where at least k."""
    view, _ = await read_invoice(invoice_id, principal=principal, uow=uow)
    statement = await usage_statement(view, uow=uow)
    return UsageStatementRead(
        invoice_id=view.id,
        k_anonymity=statement.k,
        lines=[
            StatementLineRead(
                product_code=line.product_code,
                description=line.description,
                quantity=str(line.quantity),
                people=line.people,
                suppressed=line.people is None,
            )
            for line in statement.lines
        ],
    )
