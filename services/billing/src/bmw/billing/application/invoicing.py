"""Billing runs, invoices and credit notes.

A **billing run** for a period (a month or a quarter), over every client organisation or one, makes one
**draft** invoice per organisation: its open usage up to the end of the period (late usage of an earlier
period included), aggregated per product and price, and its subscriptions' share of the year. Running a
period again creates nothing new (one invoice per organisation and period, enforced by a unique index). A
provider admin reviews a draft and **issues** it, or the periodic job issues it after the grace period: then
it gets its gapless number, its UBL 2.1 XML and HTML rendering are frozen, and ``billing.invoice.issued.v1``
is published. An issued invoice never changes (a trigger refuses it); a **credit note** corrects it.

Invoice lines carry no person: usage is aggregated per product, and a trajectory appears only under a
pseudonymous reference derived from its case id.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from time import perf_counter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ARRAY, any_, bindparam, case, func, insert, null, select, text, update
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bmw.billing.adapters.invoice_json import invoice_from_json, invoice_to_json
from bmw.billing.adapters.invoice_tables import BILLING_RUNS, INVOICE_LINES, INVOICES
from bmw.billing.adapters.metrics import BILLING_RUN_DURATION
from bmw.billing.adapters.rendering import render_html
from bmw.billing.adapters.tables import (
    CONTRACTS,
    ORGANISATION_ADDRESSES,
    ORGANISATION_CONTACTS,
    ORGANISATIONS,
    USAGE,
)
from bmw.billing.adapters.ubl import to_ubl
from bmw.billing.application.numbering import next_invoice_number
from bmw.billing.domain.contracts import Product
from bmw.billing.domain.invoices import (
    Address,
    DocumentKind,
    ElectronicAddress,
    InvalidInvoice,
    Invoice,
    InvoiceLine,
    InvoicePeriod,
    Party,
    UnitCode,
    VatTreatment,
    credit_note_for,
)
from bmw.billing.domain.periods import Period, subscription_months
from bmw.billing.settings import BillingSettings
from bmw.contracts.events.billing import InvoiceIssued
from bmw.contracts.taxonomy import ProductKind, Role
from bmw.servicekit.auth import Principal
from bmw.servicekit.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from bmw.servicekit.uow import UnitOfWork, UnitOfWorkFactory

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

#: How a product's line reads on an invoice (Dutch), by product kind and whether it is overage.
DESCRIPTIONS: dict[ProductKind, str] = {
    ProductKind.SUBSCRIPTION_PER_EMPLOYEE_YEAR: "Abonnement bedrijfsmaatschappelijk werk per medewerker",
    ProductKind.HOUR_BUNDLE: "Begeleidingsuren (uurbundel)",
    ProductKind.TRAJECTORY_FIXED_PRICE: "Traject vaste prijs",
    ProductKind.WORKSHOP_PER_SESSION: "Workshop (per sessie)",
    ProductKind.WORKSHOP_PER_PARTICIPANT: "Workshop (per deelnemer)",
    ProductKind.SECONDMENT_HOURLY: "Detachering (uren op locatie)",
    ProductKind.LATE_CANCELLATION_FEE: "Late annulering",
    ProductKind.NO_SHOW_FEE: "Niet verschenen (no-show)",
}
UNITS: dict[str, UnitCode] = {"hour": UnitCode.HOUR}


@dataclass(frozen=True)
class Skipped:
    tenant_id: uuid.UUID
    reason: str


@dataclass
class RunResult:
    run_id: uuid.UUID
    period: Period
    drafts: list[uuid.UUID] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True)
class InvoiceView:
    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    status: str
    number: str | None
    period_start: date
    period_end: date
    issue_date: date | None
    due_date: date | None
    net_cents: int
    vat_cents: int
    gross_cents: int
    corrects_invoice_id: uuid.UUID | None
    credited_by_id: uuid.UUID | None
    document: dict[str, Any]

    @classmethod
    def of(cls, row: Any, *, document: dict[str, Any] | None = None) -> InvoiceView:
        return cls(
            id=row.id,
            tenant_id=row.tenant_id,
            kind=row.kind,
            status=row.status,
            number=row.number,
            period_start=row.period_start,
            period_end=row.period_end,
            issue_date=row.issue_date,
            due_date=row.due_date,
            net_cents=row.net_cents,
            vat_cents=row.vat_cents,
            gross_cents=row.gross_cents,
            corrects_invoice_id=row.corrects_invoice_id,
            credited_by_id=row.credited_by_id,
            document=row.document if document is None else document,
        )


#: The columns an InvoiceView is made of, but its document.
_VIEW_COLUMNS = tuple(
    INVOICES.c[name]
    for name in (
        "id",
        "tenant_id",
        "kind",
        "status",
        "number",
        "period_start",
        "period_end",
        "issue_date",
        "due_date",
        "net_cents",
        "vat_cents",
        "gross_cents",
        "corrects_invoice_id",
        "credited_by_id",
    )
)


# The statements a billing run sends for every organisation, built once: building a statement and computing its
# cache key cost more CPU than PostgreSQL spends running most of them.

_CONTRACTS_OF_PERIOD = select(CONTRACTS).where(
    CONTRACTS.c.tenant_id == bindparam("tenant_id"),
    CONTRACTS.c.period_start <= bindparam("last"),
    CONTRACTS.c.period_end >= bindparam("first"),
)

#: This period's invoice and any other overlapping it (credited or not), in one round trip.
_INVOICES_OF_PERIOD = select(
    INVOICES.c.status, INVOICES.c.period_start, INVOICES.c.period_end, INVOICES.c.credited_by_id
).where(
    INVOICES.c.tenant_id == bindparam("tenant_id"),
    INVOICES.c.kind == "invoice",
    INVOICES.c.period_start <= bindparam("last"),
    INVOICES.c.period_end >= bindparam("first"),
)

#: The organisation and its addresses in one round trip (one row per address, or one without any).
_BUYER = (
    select(
        ORGANISATIONS.c.name,
        ORGANISATIONS.c.kvk_number,
        ORGANISATIONS.c.vat_id,
        ORGANISATIONS.c.invoice_email,
        ORGANISATIONS.c.payment_terms_days,
        ORGANISATIONS.c.electronic_address,
        ORGANISATIONS.c.electronic_address_scheme,
        ORGANISATION_ADDRESSES.c.kind,
        ORGANISATION_ADDRESSES.c.street,
        ORGANISATION_ADDRESSES.c.house_number,
        ORGANISATION_ADDRESSES.c.postal_code,
        ORGANISATION_ADDRESSES.c.city,
        ORGANISATION_ADDRESSES.c.country,
    )
    .select_from(
        ORGANISATIONS.outerjoin(ORGANISATION_ADDRESSES, ORGANISATION_ADDRESSES.c.tenant_id == ORGANISATIONS.c.id)
    )
    .where(ORGANISATIONS.c.id == bindparam("tenant_id"))
)

# PostgreSQL sums the open usage per invoice line (exact numeric) and hands back each line's usage ids: 200 rows of
# usage become a dozen rows here. The rows are locked first (a materialised CTE: FOR UPDATE cannot be combined with
# GROUP BY), so that nothing metered meanwhile is marked invoiced without being on the invoice.
_LOCKED_USAGE = (
    select(
        USAGE.c.id,
        USAGE.c.contract_id,
        USAGE.c.product_code,
        USAGE.c.unit_price_cents,
        USAGE.c.overage,
        USAGE.c.unit,
        case((USAGE.c.kind == ProductKind.TRAJECTORY_FIXED_PRICE.value, USAGE.c.case_id), else_=null()).label(
            "reference"
        ),
        USAGE.c.quantity,
    )
    .where(
        USAGE.c.tenant_id == bindparam("tenant_id"),
        USAGE.c.status == "open",
        USAGE.c.occurred_at < bindparam("end"),
    )
    .with_for_update()
    .cte("locked")
    .prefix_with("MATERIALIZED")
)
_LINE_KEYS = (
    _LOCKED_USAGE.c.contract_id,
    _LOCKED_USAGE.c.product_code,
    _LOCKED_USAGE.c.unit_price_cents,
    _LOCKED_USAGE.c.overage,
    _LOCKED_USAGE.c.unit,
    _LOCKED_USAGE.c.reference,
)
_OPEN_USAGE_LINES = select(
    *_LINE_KEYS,
    func.sum(_LOCKED_USAGE.c.quantity).label("quantity"),
    func.array_agg(_LOCKED_USAGE.c.id).label("ids"),
).group_by(*_LINE_KEYS)

#: One array parameter rather than one bind parameter per row: one statement text (one prepared statement) whatever
#: the count.
_MARK_INVOICED = (
    update(USAGE)
    .where(USAGE.c.id == any_(bindparam("ids", type_=ARRAY(PG_UUID(as_uuid=True)))))
    .values(status="invoiced", invoice_id=bindparam("invoice_id"), updated_at=func.now())
)


def seller_of(settings: BillingSettings) -> Party:
    """The provider, as the seller on every invoice."""
    return Party(
        name=settings.seller_name,
        address=Address(
            settings.seller_street, settings.seller_postal_code, settings.seller_city, settings.seller_country
        ),
        email=settings.seller_email,
        kvk_number=settings.seller_kvk_number,
        vat_id=settings.seller_vat_id,
    )


def _today() -> date:
    return datetime.now(AMSTERDAM).date()


def trajectory_reference(case_id: uuid.UUID) -> str:
    """A pseudonymous reference of a trajectory on an invoice: not the case id, not the client's pseudonym."""
    return "T-" + hashlib.sha256(b"bmw:trajectory:" + case_id.bytes).hexdigest()[:10].upper()


def _end_of(period: Period) -> datetime:
    return datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=AMSTERDAM)


async def _buyer(session: AsyncSession, tenant_id: uuid.UUID) -> tuple[Party, int]:
    """The client organisation as buyer, and its payment terms; InvalidInvoice when the profile is short."""
    rows = (await session.execute(_BUYER, {"tenant_id": tenant_id})).all()
    if not rows:
        raise InvalidInvoice("unknown client organisation")
    organisation = rows[0]
    addresses = {row.kind: row for row in rows if row.kind is not None}
    address = addresses.get("invoice") or addresses.get("postal") or addresses.get("visiting")
    if address is None:
        raise InvalidInvoice("the client organisation has no address: add an invoice, postal or visiting address")
    email = organisation.invoice_email or await session.scalar(
        select(ORGANISATION_CONTACTS.c.email)
        .where(ORGANISATION_CONTACTS.c.tenant_id == tenant_id, ORGANISATION_CONTACTS.c.role == "finance")
        .order_by(ORGANISATION_CONTACTS.c.position)
        .limit(1)
    )
    if email is None:
        raise InvalidInvoice("the client organisation has no invoice email and no finance contact")
    electronic = (
        ElectronicAddress(organisation.electronic_address, organisation.electronic_address_scheme)
        if organisation.electronic_address
        else None
    )
    party = Party(
        name=organisation.name,
        address=Address(f"{address.street} {address.house_number}", address.postal_code, address.city, address.country),
        email=email,
        kvk_number=organisation.kvk_number,
        vat_id=organisation.vat_id,
        electronic_address=electronic,
    )
    return party, int(organisation.payment_terms_days)


async def _lines(
    session: AsyncSession, tenant_id: uuid.UUID, period: Period
) -> tuple[list[InvoiceLine], list[uuid.UUID], list[Any]]:
    """Invoice lines from open usage up to the end of the period and the subscriptions in force in it;
    the usage ids they bill, and the contracts involved."""
    contracts = {
        row.id: row
        for row in await session.execute(
            _CONTRACTS_OF_PERIOD, {"tenant_id": tenant_id, "first": period.start, "last": period.end}
        )
    }
    usage = (await session.execute(_OPEN_USAGE_LINES, {"tenant_id": tenant_id, "end": _end_of(period)})).all()
    for row in usage:  # usage of an earlier contract billed late: its contract's products still apply
        if row.contract_id not in contracts:
            contract = (await session.execute(select(CONTRACTS).where(CONTRACTS.c.id == row.contract_id))).first()
            if contract is not None:
                contracts[contract.id] = contract
    products = {
        (contract_id, raw["code"]): Product.from_json(raw)
        for contract_id, contract in contracts.items()
        for raw in contract.products
    }
    groups: dict[tuple[Any, ...], Decimal] = {}
    billed: dict[tuple[Any, ...], list[uuid.UUID]] = {}
    for row in usage:
        key = (row.contract_id, row.product_code, row.unit_price_cents, row.overage, row.unit, row.reference)
        groups[key] = Decimal(row.quantity)
        billed[key] = list(row.ids)
    lines: list[InvoiceLine] = []
    usage_ids: list[uuid.UUID] = []

    def add(
        product: Product, description: str, quantity: Decimal, unit: UnitCode, price: int, base_quantity: int = 1
    ) -> None:
        lines.append(
            InvoiceLine(
                line_id=str(len(lines) + 1),
                product_code=product.code,
                description=description,
                quantity=quantity.quantize(Decimal("0.01")),
                unit_code=unit,
                unit_price_cents=price,
                vat=VatTreatment.from_rate(product.vat_rate, exemption_reason=product.vat_exemption_reason),
                base_quantity=base_quantity,
            )
        )

    for contract in contracts.values():
        months = subscription_months(period, contract.invoicing_period, contract.period_start, contract.period_end)
        if not months or not contract.employees:
            continue
        for raw in contract.products:
            product = products[(contract.id, raw["code"])]
            if product.kind is ProductKind.SUBSCRIPTION_PER_EMPLOYEE_YEAR:
                # The yearly price per employee, priced per 12 employee-months (BT-149): exact, no rounded
                # monthly price that would make twelve months cost more than a year.
                label = (
                    f"{DESCRIPTIONS[product.kind]} ({period.label}: {contract.employees} medewerkers x {months} mnd)"
                )
                employee_months = Decimal(contract.employees * months)
                add(product, label, employee_months, UnitCode.MONTH, product.unit_price_cents, base_quantity=12)
    for key in sorted(groups, key=lambda k: (str(k[0]), k[1], k[3], str(k[5]))):
        contract_id, code, price, overage, unit, reference = key
        quantity = groups[key]
        if quantity <= 0:
            continue  # a correction larger than what is still open: billed with later usage
        product = products[(contract_id, code)]
        description = DESCRIPTIONS[product.kind] + (" boven de bundel" if overage else "")
        if reference is not None:
            description = f"{description}, ref. {trajectory_reference(reference)}"
        add(product, description, quantity, UNITS.get(unit, UnitCode.ONE), int(price))
        usage_ids.extend(billed[key])
    return lines, usage_ids, list(contracts.values())


async def run_billing(
    period: Period,
    *,
    tenant_id: uuid.UUID | None,
    principal: Principal,
    uow: UnitOfWorkFactory,
    settings: BillingSettings,
    today: date | None = None,
) -> RunResult:
    """A billing run: one draft invoice per client organisation with something to bill in the period."""
    principal.require_role(Role.PROVIDER_ADMIN)
    result = RunResult(uuid.uuid4(), period)
    started = perf_counter()
    async with uow() as work:
        await work.session.execute(
            insert(BILLING_RUNS).values(
                id=result.run_id,
                period_start=period.start,
                period_end=period.end,
                tenant_id=tenant_id,
                started_by=principal.subject,
            )
        )
        if tenant_id is None:
            tenants = list(await work.session.scalars(select(ORGANISATIONS.c.id).order_by(ORGANISATIONS.c.name)))
        else:
            if await work.session.scalar(select(ORGANISATIONS.c.id).where(ORGANISATIONS.c.id == tenant_id)) is None:
                raise NotFound("client organisation not found")
            tenants = [tenant_id]
        await work.commit()
    for tenant in tenants:  # one transaction per organisation: one that cannot be billed stops no other
        async with uow(tenant_id=tenant) as work:
            outcome = await _draft(work, tenant, period, result.run_id, settings, today or _today())
            if isinstance(outcome, Skipped):
                result.skipped.append(outcome)
                continue
            await work.commit()
            result.drafts.append(outcome)
    async with uow() as work:
        await work.session.execute(
            update(BILLING_RUNS).where(BILLING_RUNS.c.id == result.run_id).values(drafts_created=len(result.drafts))
        )
        await work.commit()
    BILLING_RUN_DURATION.labels("all" if tenant_id is None else "one").observe(perf_counter() - started)
    return result


async def _draft(
    work: UnitOfWork, tenant_id: uuid.UUID, period: Period, run_id: uuid.UUID, settings: BillingSettings, today: date
) -> uuid.UUID | Skipped:
    session = work.session
    invoiced = (
        await session.execute(_INVOICES_OF_PERIOD, {"tenant_id": tenant_id, "first": period.start, "last": period.end})
    ).all()
    existing = next(
        (row.status for row in invoiced if (row.period_start, row.period_end) == (period.start, period.end)), None
    )
    if existing is not None:
        return Skipped(tenant_id, f"already has a {existing} invoice for {period.label}")
    overlapping = next((row for row in invoiced if row.credited_by_id is None), None)
    if overlapping is not None:  # a month inside an invoiced quarter, or the other way round: bill nothing twice
        return Skipped(
            tenant_id, f"{period.label} overlaps the invoice of {overlapping.period_start}..{overlapping.period_end}"
        )
    lines, usage_ids, contracts = await _lines(session, tenant_id, period)
    if not lines:
        return Skipped(tenant_id, f"nothing to bill for {period.label}")
    references = [c for c in contracts if c.buyer_reference or c.purchase_order]
    buyer_reference = references[0].buyer_reference if references else None
    order_reference = references[0].purchase_order if references else None
    try:
        buyer, terms = await _buyer(session, tenant_id)
        invoice = Invoice(
            kind=DocumentKind.INVOICE,
            number=None,
            issue_date=today,
            payment_terms_days=terms,
            period=InvoicePeriod(period.start, period.end),
            seller=seller_of(settings),
            buyer=buyer,
            seller_iban=settings.seller_iban,
            lines=tuple(lines),
            buyer_reference=buyer_reference or (None if order_reference else f"BMW {period.label}"),
            order_reference=order_reference,
        )
    except InvalidInvoice as error:
        return Skipped(tenant_id, str(error))
    invoice_id = uuid.uuid4()
    inserted = await session.execute(
        pg_insert(INVOICES)
        .values(
            id=invoice_id,
            tenant_id=tenant_id,
            kind="invoice",
            status="draft",
            period_start=period.start,
            period_end=period.end,
            buyer_reference=invoice.buyer_reference,
            purchase_order=invoice.order_reference,
            net_cents=invoice.totals.net_cents,
            vat_cents=invoice.totals.vat_cents,
            gross_cents=invoice.totals.gross_cents,
            document=invoice_to_json(invoice),
            run_id=run_id,
        )
        .on_conflict_do_nothing(
            index_elements=[INVOICES.c.tenant_id, INVOICES.c.period_start, INVOICES.c.period_end],
            # A literal, not a bind parameter: once asyncpg's prepared statement goes generic, PostgreSQL could no
            # longer match a parameter against the partial index's predicate.
            index_where=text("kind = 'invoice'"),
        )
        .returning(INVOICES.c.id)
    )
    if inserted.first() is None:  # a concurrent run of the same period was first
        return Skipped(tenant_id, f"already has an invoice for {period.label}")
    await _store_lines(session, invoice_id, invoice)
    if usage_ids:
        await session.execute(_MARK_INVOICED, {"ids": usage_ids, "invoice_id": invoice_id})
    return invoice_id


async def _store_lines(session: AsyncSession, invoice_id: uuid.UUID, invoice: Invoice) -> None:
    # With RETURNING, SQLAlchemy sends the lines as one multi-row INSERT ("insertmanyvalues") from a cached
    # compilation; a plain executemany runs one statement per line, and .values([...]) is compiled anew every time.
    await session.execute(
        insert(INVOICE_LINES).returning(INVOICE_LINES.c.line_no),
        [
            {
                "invoice_id": invoice_id,
                "line_no": number,
                "product_code": line.product_code,
                "description": line.description,
                "quantity": line.quantity,
                "unit_code": line.unit_code.value,
                "unit_price_cents": line.unit_price_cents,
                "net_cents": line.net_cents,
                "vat_rate": f"{line.vat.category.value}:{line.vat.rate}",
            }
            for number, line in enumerate(invoice.lines, start=1)
        ],
    )


def _require_reader(principal: Principal, tenant_id: uuid.UUID, status: str) -> None:
    if principal.has_role(Role.PROVIDER_ADMIN):
        return
    if not principal.may_act_for(tenant_id) or principal.has_role(Role.SOCIAL_WORKER):
        raise NotFound("invoice not found")
    if status != "issued":
        raise NotFound("invoice not found")  # drafts are the provider's until issued
    if principal.has_role(Role.INTEGRATION) and "invoices:read" not in principal.scopes:
        raise Forbidden("this integration lacks the scope invoices:read")
    if not principal.has_role(Role.CLIENT_CONTACT, Role.ACCOUNT_MANAGER, Role.INTEGRATION):
        raise NotFound("invoice not found")


async def read_invoice(
    invoice_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory
) -> tuple[InvoiceView, Any]:
    """An invoice and its frozen documents (row), for those who may read it."""
    async with uow() as work:
        row = (await work.session.execute(select(INVOICES).where(INVOICES.c.id == invoice_id))).first()
    if row is None:
        raise NotFound("invoice not found")
    _require_reader(principal, row.tenant_id, row.status)
    return InvoiceView.of(row), row


async def list_invoices(
    *,
    principal: Principal,
    uow: UnitOfWorkFactory,
    tenant_id: uuid.UUID | None,
    status: str | None,
    limit: int = 100,
) -> list[InvoiceView]:
    """Invoices, newest period first: all for provider admins, issued ones of the caller's organisations else."""
    conditions: list[Any] = []
    if not principal.has_role(Role.PROVIDER_ADMIN):
        if tenant_id is None:
            raise InvalidInput(
                "say which client organisation", fields=[FieldError(path="query.tenant_id", message="required")]
            )
        _require_reader(principal, tenant_id, "issued")
        conditions.append(INVOICES.c.status == "issued")
    if tenant_id is not None:
        conditions.append(INVOICES.c.tenant_id == tenant_id)
    if status is not None:
        conditions.append(INVOICES.c.status == status)
    async with uow() as work:
        rows = await work.session.execute(
            select(INVOICES)
            .where(*conditions)
            .order_by(INVOICES.c.period_start.desc(), INVOICES.c.number.desc().nulls_first(), INVOICES.c.id)
            .limit(limit)
        )
        return [InvoiceView.of(row) for row in rows]


async def _locked(session: AsyncSession, invoice_id: uuid.UUID) -> Any:
    row = (await session.execute(select(INVOICES).where(INVOICES.c.id == invoice_id).with_for_update())).first()
    if row is None:
        raise NotFound("invoice not found")
    return row


async def _issue_locked(work: UnitOfWork, row: Any, issuer: str, today: date) -> InvoiceView:
    """Number, freeze and announce a draft whose row the caller holds locked."""
    if row.status != "draft":
        raise Conflict(f"invoice {row.number} is already issued", current_state=row.status)
    draft = invoice_from_json(row.document)
    number = await next_invoice_number(work.session, today.year)
    invoice = draft.issued(number, today)
    document = invoice_to_json(invoice)
    changed = (
        await work.session.execute(
            update(INVOICES)
            .where(INVOICES.c.id == row.id)
            .values(
                status="issued",
                number=number,
                issue_date=today,
                due_date=invoice.due_date,
                document=document,
                ubl_xml=to_ubl(invoice).decode(),
                html=render_html(invoice),
                issued_at=datetime.now(UTC),
                issued_by=issuer,
            )
            # Not the frozen XML and HTML just written, nor the document in hand: sent back, they cost time only.
            .returning(*_VIEW_COLUMNS)
        )
    ).one()
    totals = invoice.signed_totals
    await work.emit(
        InvoiceIssued(
            invoice_id=row.id,
            number=number,
            issue_date=today,
            net_cents=totals.net_cents,
            vat_cents=totals.vat_cents,
            gross_cents=totals.gross_cents,
            corrects_invoice_id=row.corrects_invoice_id,
        ),
        tenant_id=row.tenant_id,
        subject=str(row.id),
    )
    return InvoiceView.of(changed, document=document)


async def issue_invoice(
    invoice_id: uuid.UUID, *, principal: Principal, uow: UnitOfWorkFactory, today: date | None = None
) -> InvoiceView:
    """Issue a reviewed draft (provider admins): it gets its number and never changes again."""
    principal.require_role(Role.PROVIDER_ADMIN)
    async with uow() as work:
        row = await _locked(work.session, invoice_id)
        issued = await _issue_locked(work, row, principal.subject, today or _today())
        await work.commit()
    return issued


async def issue_due_drafts(uow: UnitOfWorkFactory, settings: BillingSettings, *, now: datetime | None = None) -> int:
    """The periodic job: issue drafts whose billing run is older than the grace period."""
    if settings.auto_issue_after_hours <= 0:
        return 0
    moment = now or datetime.now(UTC)
    cutoff = moment - timedelta(hours=settings.auto_issue_after_hours)
    async with uow() as work:
        due = list(
            await work.session.scalars(
                select(INVOICES.c.id)
                .join(BILLING_RUNS, BILLING_RUNS.c.id == INVOICES.c.run_id)
                .where(INVOICES.c.status == "draft", BILLING_RUNS.c.created_at < cutoff)
            )
        )
    issued = 0
    for invoice_id in due:
        async with uow() as work:
            row = await _locked(work.session, invoice_id)
            if row.status != "draft":
                continue  # issued by hand meanwhile
            await _issue_locked(work, row, "auto", moment.astimezone(AMSTERDAM).date())
            await work.commit()
            issued += 1
    return issued


async def credit_invoice(
    invoice_id: uuid.UUID,
    *,
    release_usage: bool,
    principal: Principal,
    uow: UnitOfWorkFactory,
    today: date | None = None,
) -> InvoiceView:
    """Correct an issued invoice with a credit note that nets it to zero (provider admins). With
    ``release_usage`` its usage is open again, to be billed right by the next run."""
    principal.require_role(Role.PROVIDER_ADMIN)
    day = today or _today()
    async with uow() as work:
        original = await _locked(work.session, invoice_id)
        if original.kind != "invoice" or original.status != "issued":
            raise Conflict("only an issued invoice is credited", current_state=f"{original.kind}:{original.status}")
        if original.credited_by_id is not None:
            raise Conflict("this invoice has been credited already", current_state="credited")
        number = await next_invoice_number(work.session, day.year)
        note = credit_note_for(invoice_from_json(original.document), number, day)
        note_id = uuid.uuid4()
        totals = note.totals
        await work.session.execute(
            insert(INVOICES).values(
                id=note_id,
                tenant_id=original.tenant_id,
                kind="credit_note",
                status="issued",
                number=number,
                period_start=original.period_start,
                period_end=original.period_end,
                issue_date=day,
                due_date=note.due_date,
                buyer_reference=note.buyer_reference,
                purchase_order=note.order_reference,
                corrects_invoice_id=original.id,
                net_cents=-totals.net_cents,
                vat_cents=-totals.vat_cents,
                gross_cents=-totals.gross_cents,
                document=invoice_to_json(note),
                ubl_xml=to_ubl(note).decode(),
                html=render_html(note),
                issued_at=datetime.now(UTC),
                issued_by=principal.subject,
            )
        )
        await _store_lines(work.session, note_id, note)
        await work.session.execute(update(INVOICES).where(INVOICES.c.id == original.id).values(credited_by_id=note_id))
        if release_usage:
            await work.session.execute(
                update(USAGE)
                .where(USAGE.c.invoice_id == original.id)
                .values(status="open", invoice_id=None, updated_at=func.now())
            )
        signed = note.signed_totals
        await work.emit(
            InvoiceIssued(
                invoice_id=note_id,
                number=number,
                issue_date=day,
                net_cents=signed.net_cents,
                vat_cents=signed.vat_cents,
                gross_cents=signed.gross_cents,
                corrects_invoice_id=original.id,
            ),
            tenant_id=original.tenant_id,
            subject=str(note_id),
        )
        row = (await work.session.execute(select(INVOICES).where(INVOICES.c.id == note_id))).one()
        await work.commit()
    return InvoiceView.of(row)


async def draft_html(view: InvoiceView) -> str:
    """A draft's rendering (marked CONCEPT); issued invoices serve their frozen HTML."""
    return render_html(invoice_from_json(view.document))
