"""GraphQL types of cases, dossiers, consent and erasure.

Only ``caseload`` and ``case`` lead to these case types: no field of a portal type (organisations,
contracts, invoices, trends, signals, referrals) refers to a case, so a client contact can never
navigate to one (DESIGN §2 rule 1).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Self
from urllib.parse import quote

import strawberry

from bmw.gateway.cases.bodies import CaseBody, ConsentBody, DossierEntryBody, DossierPageBody, TransitionBody
from bmw.gateway.cases.enums import (
    CaseOutcome,
    CaseStatus,
    ConsentItem,
    ConsentMethod,
    ConsentRecipient,
    DossierEntryKind,
    DossierLayer,
    ErasedData,
)
from bmw.gateway.context import GatewayInfo
from bmw.gateway.errors import graphql_error
from bmw.gateway.outcomes import Conflict, Forbidden, NotFound, ServiceUnavailable, ValidationFailed
from bmw.gateway.pagination import Connection, from_service_page, from_whole_list, page_size
from bmw.gateway.taxonomy import Category, Urgency
from bmw.servicekit.errors import DomainError

#: Intake pages hold at most this many items; a larger ``first`` gets a shorter page (Relay allows it).
INTAKE_MAX_PAGE = 100


def intake_page_params(first: int | None, after: str | None) -> dict[str, str]:
    """``first``/``after`` as intake's ``limit``/``cursor``: ``first`` checked like every page size, then capped
    at intake's maximum."""
    params = {"limit": str(min(page_size(first), INTAKE_MAX_PAGE))}
    if after is not None:
        params["cursor"] = after
    return params


def page_argument_path(path: str) -> str:
    """Intake's query parameter paths as the GraphQL arguments they came from."""
    return {"query.cursor": "after", "query.limit": "first", "query.include_closed": "status"}.get(path, path)


@strawberry.type(description="One state a case entered.")
class CaseTransition:
    status: CaseStatus = strawberry.field(description="The state entered.")
    at: datetime = strawberry.field(description="When (UTC).")
    actor: str = strawberry.field(description="Who: a subject id, or the service that caused it.")

    @classmethod
    def of(cls, body: TransitionBody) -> CaseTransition:
        """A transition from intake's answer."""
        return cls(status=body.status, at=body.at, actor=body.actor)


@strawberry.type(description="What a social worker sees of a case at a glance.")
class CaseFacts:
    id: strawberry.ID = strawberry.field(description="Case id.")
    tenant_id: strawberry.ID = strawberry.field(description="Client organisation of the employee.")
    client_ref: str = strawberry.field(description="Pseudonym of the employee (never their name).")
    org_unit_id: strawberry.ID = strawberry.field(description="Org unit of the employee.")
    category: Category = strawberry.field(description="Help request category (as triaged).")
    urgency: Urgency = strawberry.field(description="Urgency (as triaged).")
    status: CaseStatus = strawberry.field(description="Where the case stands.")
    sla_deadline: datetime = strawberry.field(description="Latest first contact under the SLA (UTC).")
    needed_specialism: str | None = strawberry.field(description="Specialism the social worker needs, if any.")
    language: str = strawberry.field(description="Conversation language (ISO 639-1 code).")
    worker_id: strawberry.ID | None = strawberry.field(description="The assigned social worker; null while unassigned.")
    outcome: CaseOutcome | None = strawberry.field(description="How the case ended; null while open.")
    escalation: str | None = strawberry.field(
        description="Why the case needs someone to act (e.g. no intake slot within the SLA); null when nothing is."
    )
    opened_at: datetime = strawberry.field(description="When the case opened (UTC).")
    closed_at: datetime | None = strawberry.field(description="When it closed (UTC); null while open.")
    reopened_count: int = strawberry.field(description="How often it was reopened.")

    @classmethod
    def of(cls, body: CaseBody) -> Self:
        """A case from intake's answer."""
        return cls(
            id=strawberry.ID(str(body.id)),
            tenant_id=strawberry.ID(str(body.tenant_id)),
            client_ref=body.client_ref,
            org_unit_id=strawberry.ID(str(body.org_unit_id)),
            category=body.category,
            urgency=body.urgency,
            status=body.status,
            sla_deadline=body.sla_deadline,
            needed_specialism=body.needed_specialism,
            language=body.language,
            worker_id=strawberry.ID(str(body.worker_id)) if body.worker_id else None,
            outcome=body.outcome,
            escalation=body.escalation,
            opened_at=body.opened_at,
            closed_at=body.closed_at,
            reopened_count=body.reopened_count,
        )


@strawberry.type(description="A case in a caseload. Ask `case(id)` for its history and dossier.")
class CaseSummary(CaseFacts):
    pass


@strawberry.type(description="One text of a case's dossier.")
class DossierEntry:
    id: strawberry.ID = strawberry.field(description="Entry id.")
    layer: DossierLayer = strawberry.field(description="The formal dossier or the private working notes.")
    kind: DossierEntryKind = strawberry.field(description="Which document.")
    text: str | None = strawberry.field(description="The text; null when the person was erased.")
    author: str = strawberry.field(description="Subject id of the social worker who wrote it.")
    created_at: datetime = strawberry.field(description="When it was written (UTC).")

    @classmethod
    def of(cls, body: DossierEntryBody) -> DossierEntry:
        """A dossier entry from intake's answer."""
        return cls(
            id=strawberry.ID(str(body.id)),
            layer=body.layer,
            kind=body.kind,
            text=body.text,
            author=body.author,
            created_at=body.created_at,
        )


FirstArgument = Annotated[
    int | None, strawberry.argument(description="Page size (1-200, at most 100 per page; default 50).")
]
AfterArgument = Annotated[str | None, strawberry.argument(description="The endCursor of the previous page.")]


def case_history(
    root: Case,
    first: Annotated[int | None, strawberry.argument(description="Page size (1-200; default 50).")] = None,
    after: AfterArgument = None,
) -> Connection[CaseTransition]:
    """A page of the history intake sent with the case."""
    try:
        return from_whole_list(root.transitions, first=first, after=after)
    except DomainError as error:
        raise graphql_error(error) from error


#: What intake asks of a break-glass reason (characters, trimmed).
MIN_REASON = 10
MAX_REASON = 500
#: Printable ASCII but ``%`` stays readable in the header; the rest is percent-encoded UTF-8, as intake expects.
_READABLE = "".join(chr(code) for code in range(0x20, 0x7F) if chr(code) not in "%")


def break_glass_header(reason: str | None) -> dict[str, str] | None:
    """The ``X-Break-Glass-Reason`` header of a reason (percent-encoded where not plain ASCII), if any."""
    return {"X-Break-Glass-Reason": quote(reason, safe=_READABLE)} if reason is not None else None


async def case_dossier(
    root: Case, info: GatewayInfo, first: FirstArgument = None, after: AfterArgument = None
) -> Connection[DossierEntry] | None:
    """A page of the dossier, asked from intake only when the field is selected."""
    try:
        # The id came from intake itself (Case.of), so it is a UUID and safe in the path.
        response = await info.context.intake.request(
            "GET",
            f"/cases/{root.id}/dossier",
            params=intake_page_params(first, after),
            headers=break_glass_header(root.break_glass_reason),
        )
    except DomainError as error:
        raise graphql_error(error, field_path=page_argument_path) from error
    page = info.context.intake.parse(DossierPageBody, response)
    return from_service_page([DossierEntry.of(entry) for entry in page.items], page.next_cursor)


@strawberry.type(
    description="A case with its history, for its assigned social worker. Appointments are in the agenda, not here."
)
class Case(CaseFacts):
    transitions: strawberry.Private[list[CaseTransition]] = dataclasses.field(default_factory=list)
    #: The reason a colleague gave to read the case, sent again for its dossier.
    break_glass_reason: strawberry.Private[str | None] = None
    history: Connection[CaseTransition] = strawberry.field(
        resolver=case_history, description="Every state the case went through, oldest first."
    )
    dossier: Connection[DossierEntry] | None = strawberry.field(
        resolver=case_dossier,
        description="The dossier, both layers, oldest first. Intake shows it to the assigned social worker "
        "(and to a colleague who gave a `breakGlassReason`, logged): anyone else gets this field as null with a "
        "FORBIDDEN or NOT_FOUND error, and the rest of the case still resolves.",
    )

    @classmethod
    def of(cls, body: CaseBody) -> Self:
        """A case with its history, from intake's answer to ``GET /cases/{id}``."""
        case = super().of(body)
        case.transitions = [CaseTransition.of(transition) for transition in body.history]
        return case


# -- consent ---------------------------------------------------------------------------------------


@strawberry.type(description="One entry of an employee's consent history: a grant or a withdrawal.")
class ConsentRecord:
    id: strawberry.ID = strawberry.field(description="Consent record id.")
    recipient: ConsentRecipient = strawberry.field(description="Who may (or may no longer) receive it.")
    item: ConsentItem = strawberry.field(description="What may be shared or done.")
    granted: bool = strawberry.field(description="True for a grant, false for a withdrawal.")
    recorded_at: datetime = strawberry.field(description="When it was recorded (UTC).")
    valid_until: datetime | None = strawberry.field(description="When the grant lapses by itself; null: never.")
    recorded_by: str = strawberry.field(description="Subject id of who recorded it.")
    method: ConsentMethod = strawberry.field(description="How it was given or withdrawn.")

    @classmethod
    def of(cls, body: ConsentBody) -> ConsentRecord:
        """A consent record from intake's answer."""
        return cls(
            id=strawberry.ID(str(body.id)),
            recipient=body.recipient,
            item=body.item,
            granted=body.granted,
            recorded_at=body.recorded_at,
            valid_until=body.valid_until,
            recorded_by=body.recorded_by,
            method=body.method,
        )


@strawberry.input(description="A consent of the employee behind a referral: one recipient, one item.")
class GiveConsentInput:
    referral_id: strawberry.ID = strawberry.field(description="The referral whose employee consents.")
    recipient: ConsentRecipient = strawberry.field(description="Who may receive it.")
    item: ConsentItem = strawberry.field(
        description="What is allowed. REFERRAL and ANONYMISED_STATISTICS go to PROVIDER, the others to MANAGER, "
        "HR or COMPANY_DOCTOR."
    )
    valid_until: datetime | None = strawberry.field(
        default=None, description="When the consent lapses by itself, with a UTC offset; omit for no end."
    )
    method: ConsentMethod | None = strawberry.field(
        default=None,
        description="How the employee gave it. Omit as the employee (PORTAL); a social worker or provider admin "
        "recording it says VERBAL or WRITTEN.",
    )


@strawberry.input(description="Withdraw a consent of the employee behind a referral: one recipient, one item.")
class WithdrawConsentInput:
    referral_id: strawberry.ID = strawberry.field(description="The referral whose employee withdraws.")
    recipient: ConsentRecipient = strawberry.field(description="Who may no longer receive it.")
    item: ConsentItem = strawberry.field(description="What is no longer allowed.")
    method: ConsentMethod | None = strawberry.field(
        default=None,
        description="How the employee withdrew it. Omit as the employee (PORTAL); a social worker or provider "
        "admin recording it says VERBAL or WRITTEN.",
    )


@strawberry.type(
    description="The consent was recorded and is in force from now on. Consent to the REFERRAL opens its case."
)
class ConsentGiven:
    consent: ConsentRecord = strawberry.field(description="The new entry of the consent history.")


@strawberry.type(
    description="The withdrawal was recorded: from now on nothing more is shared under the consent. What was "
    "shared before stays shared."
)
class ConsentWithdrawn:
    consent: ConsentRecord = strawberry.field(description="The new entry of the consent history.")


GiveConsentResult = Annotated[
    ConsentGiven | ValidationFailed | Forbidden | NotFound | Conflict | ServiceUnavailable,
    strawberry.union(
        "GiveConsentResult",
        description="The outcome of giveConsent: the recorded consent, or why it was not recorded. Conflict: the "
        "referral can no longer be consented to (it expired).",
    ),
]

WithdrawConsentResult = Annotated[
    ConsentWithdrawn | ValidationFailed | Forbidden | NotFound | Conflict | ServiceUnavailable,
    strawberry.union(
        "WithdrawConsentResult",
        description="The outcome of withdrawConsent: the recorded withdrawal, or why it was not recorded.",
    ),
]


# -- erasure ---------------------------------------------------------------------------------------


@strawberry.input(description="A person to erase (right to erasure, AVG article 17).")
class EraseClientInput:
    client_ref: str = strawberry.field(
        description="The person's pseudonym (client reference, `c_` and 10-40 letters, digits, `_` or `-`), "
        "as cases show it."
    )


@strawberry.type(
    description="The person was erased from intake, which announced it (intake.client.erased) so that every other "
    "service forgets them as well. What stays: referrals and cases without the person (category, urgency, org "
    "unit, dates) for anonymised statistics and billing; invoices, kept for the fiscal retention period, never "
    "named anyone."
)
class ClientErased:
    client_ref: str = strawberry.field(description="The erased pseudonym; it leads to no one any more.")
    erased: list[ErasedData] = strawberry.field(description="What intake erased.")


EraseClientResult = Annotated[
    ClientErased | ValidationFailed | Forbidden | NotFound | ServiceUnavailable,
    strawberry.union(
        "EraseClientResult",
        description="The outcome of eraseClient: what was erased, or why nothing was. NotFound: no person has this "
        "client reference (any more).",
    ),
]
