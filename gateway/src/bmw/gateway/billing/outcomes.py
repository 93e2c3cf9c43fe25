"""What the billing mutations return: a success type, or one of the expected failures they can meet."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

import strawberry

from bmw.gateway.billing.client import BillingRunBody
from bmw.gateway.billing.types import ClientOrganisation, Contract, Invoice, OrgUnit
from bmw.gateway.outcomes import Conflict, Forbidden, NotFound, ServiceUnavailable, ValidationFailed


@strawberry.type(description="The client organisation was onboarded; the other services learn of it by event.")
class ClientOrganisationRegistered:
    client_organisation: ClientOrganisation = strawberry.field(description="The organisation as stored.")


@strawberry.type(description="The org unit was added.")
class OrgUnitAdded:
    org_unit: OrgUnit = strawberry.field(description="The new unit (with no units below it yet).")
    client_organisation: ClientOrganisation = strawberry.field(
        description="The organisation with its whole org unit tree, the new unit included."
    )


@strawberry.type(description="The contract was recorded; held usage on the days it covers is now metered against it.")
class ContractCreated:
    contract: Contract = strawberry.field(description="The contract as stored.")


@strawberry.type(description="A client organisation that a billing run did not bill, and why.")
class SkippedOrganisation:
    tenant_id: strawberry.ID = strawberry.field(description="The client organisation.")
    reason: str = strawberry.field(description="Why: nothing to bill, already invoiced, or what its profile lacks.")


@strawberry.type(description="What a billing run made: draft invoices to review and issue.")
class BillingRun:
    id: strawberry.ID = strawberry.field(description="Id of the run.")
    period: str = strawberry.field(description="The period billed, e.g. `2026-11` or `2026-Q4`.")
    period_start: date = strawberry.field(description="First day of the period.")
    period_end: date = strawberry.field(description="Last day of the period (inclusive).")
    draft_invoice_ids: list[strawberry.ID] = strawberry.field(
        description="The draft invoices made, one per client organisation; read each with `invoice(id)`."
    )
    skipped: list[SkippedOrganisation] = strawberry.field(description="The client organisations not billed.")

    @classmethod
    def of(cls, body: BillingRunBody) -> BillingRun:
        """A run from billing's answer."""

        def ids(values: list[uuid.UUID]) -> list[strawberry.ID]:
            return [strawberry.ID(str(value)) for value in values]

        return cls(
            id=strawberry.ID(str(body.run_id)),
            period=body.period,
            period_start=body.period_start,
            period_end=body.period_end,
            draft_invoice_ids=ids(body.drafts),
            skipped=[
                SkippedOrganisation(tenant_id=strawberry.ID(str(skipped.tenant_id)), reason=skipped.reason)
                for skipped in body.skipped
            ],
        )


@strawberry.type(description="The period was billed; running it again makes nothing new.")
class BillingRunCompleted:
    run: BillingRun = strawberry.field(description="What the run made.")


@strawberry.type(description="The draft was issued: it has its number and never changes again.")
class InvoiceIssued:
    invoice: Invoice = strawberry.field(description="The issued invoice.")


@strawberry.type(description="The credit note was issued; it nets the invoice to zero.")
class CreditNoteIssued:
    credit_note: Invoice = strawberry.field(description="The credit note (kind CREDIT_NOTE, negative totals).")


RegisterClientOrganisationResult = Annotated[
    ClientOrganisationRegistered | ValidationFailed | Forbidden | Conflict | ServiceUnavailable,
    strawberry.union(
        "RegisterClientOrganisationResult",
        description="The outcome of registerClientOrganisation: the organisation, or why it was not onboarded "
        "(Conflict: its KvK number is registered already).",
    ),
]

AddOrgUnitResult = Annotated[
    OrgUnitAdded | ValidationFailed | Forbidden | NotFound | Conflict | ServiceUnavailable,
    strawberry.union(
        "AddOrgUnitResult",
        description="The outcome of addOrgUnit: the unit, or why it was not added (Conflict: the id is taken).",
    ),
]

CreateContractResult = Annotated[
    ContractCreated | ValidationFailed | Forbidden | Conflict | ServiceUnavailable,
    strawberry.union(
        "CreateContractResult",
        description="The outcome of createContract: the contract, or why it was not recorded (Conflict: it "
        "overlaps a contract with a product of the same kind).",
    ),
]

RunBillingResult = Annotated[
    BillingRunCompleted | ValidationFailed | Forbidden | NotFound | ServiceUnavailable,
    strawberry.union(
        "RunBillingResult",
        description="The outcome of runBilling: what the run made, or why it did not run.",
    ),
]

IssueInvoiceResult = Annotated[
    InvoiceIssued | ValidationFailed | Forbidden | NotFound | Conflict | ServiceUnavailable,
    strawberry.union(
        "IssueInvoiceResult",
        description="The outcome of issueInvoice: the issued invoice, or why not (Conflict: issued already).",
    ),
]

IssueCreditNoteResult = Annotated[
    CreditNoteIssued | ValidationFailed | Forbidden | NotFound | Conflict | ServiceUnavailable,
    strawberry.union(
        "IssueCreditNoteResult",
        description="The outcome of issueCreditNote: the credit note, or why not (Conflict: the invoice is a "
        "draft, a credit note, or credited already).",
    ),
]
