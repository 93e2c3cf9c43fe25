"""Signals' HTTP API for history imports and for running the detectors on demand."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from bmw.contracts.taxonomy import Role
from bmw.servicekit.deps import CurrentPrincipal, RuntimeDep, UowFactoryDep
from bmw.servicekit.errors import error_responses
from bmw.signals.application.detection import evaluate_tenant
from bmw.signals.application.history import HistoryImport, import_history, list_imports
from bmw.signals.domain.history import template_csv
from bmw.signals.domain.weeks import AMSTERDAM

router = APIRouter(tags=["history"])


class HistoryImportRead(BaseModel):
    """An accepted history file."""

    id: uuid.UUID = Field(description="Id of the import.")
    tenant_id: uuid.UUID = Field(description="Client organisation the history belongs to.")
    rows: int = Field(description="Rows (unit × week × category counts) in the file.")
    unit_weeks: int = Field(description="Unit × week combinations written; each replaced any earlier import of it.")
    first_week: date | None = Field(description="Monday of the earliest week in the file.")
    last_week: date | None = Field(description="Monday of the latest week in the file.")
    imported_by: str = Field(description="Subject of the provider administrator who imported it.")
    imported_at: datetime = Field(description="When it was imported.")
    repeated: bool = Field(
        description="True when this exact file had been imported before: nothing changed, the earlier import is "
        "returned."
    )

    @classmethod
    def of(cls, result: HistoryImport) -> HistoryImportRead:
        return cls(**result.__dict__)


_UPLOAD = {
    "requestBody": {
        "required": True,
        "description": "The history file. CSV (UTF-8, ',' or ';' separated, header "
        "`week,org_unit,category,count[,employees]`) or JSON (a list of objects with the same keys, or "
        '`{"rows": [...]}`). `week` is an ISO week (`2025-W14`) or the Monday of the week; `org_unit` a unit '
        "name or id of the organisation; `category` a help-request category code; `count` the referrals that "
        "week (0–10000). Weeks must be complete, in the past, and at most three years old.",
        "content": {
            "text/csv": {"schema": {"type": "string"}, "example": template_csv()},
            "application/json": {
                "schema": {"type": "array", "items": {"type": "object"}},
                "example": [{"week": "2025-W14", "org_unit": "Finance", "category": "workload_stress", "count": 3}],
            },
        },
    }
}


@router.post(
    "/history-imports",
    status_code=201,
    response_model=HistoryImportRead,
    responses=error_responses(401, 403, 404, 422, 503),
    openapi_extra=_UPLOAD,
)
async def post_history_import(
    request: Request,
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    tenant_id: Annotated[uuid.UUID, Query(description="Client organisation the history belongs to.")],
) -> HistoryImportRead:
    """Import a client organisation's anonymised weekly referral counts from before it used this product, so
    that the detectors have a baseline at once (provider administrators). Every row is checked; a file with
    any error is refused whole, with every error named by line and column. Idempotent per unit × week."""
    result = await import_history(
        tenant_id=tenant_id,
        content=await request.body(),
        media_type=request.headers.get("content-type", ""),
        principal=principal,
        uow=uow,
        today=datetime.now(UTC).astimezone(AMSTERDAM).date(),
    )
    return HistoryImportRead.of(result)


@router.get("/history-imports", response_model=list[HistoryImportRead], responses=error_responses(401, 403, 503))
async def get_history_imports(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    tenant_id: Annotated[uuid.UUID, Query(description="Client organisation.")],
) -> list[HistoryImportRead]:
    """The history files imported for a client organisation, newest first."""
    return [
        HistoryImportRead.of(item) for item in await list_imports(tenant_id=tenant_id, principal=principal, uow=uow)
    ]


@router.get(
    "/history-imports/template.csv",
    # A plain Response: with PlainTextResponse FastAPI would document the JSON error bodies as text/plain.
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "An example history file."}
    },
)
async def get_history_template() -> PlainTextResponse:
    """An example history file to start from."""
    return PlainTextResponse(template_csv(), media_type="text/csv")


class DetectionRunRead(BaseModel):
    """What one run of the detectors did for a client organisation."""

    tenant_id: uuid.UUID = Field(description="Client organisation.")
    week: date = Field(description="Monday of the week evaluated (the current, still running week).")
    units: int = Field(description="Org units (and parent units) evaluated.")
    raised: list[uuid.UUID] = Field(description="Signals raised by this run.")
    resolved: list[uuid.UUID] = Field(description="Signals resolved by this run.")


@router.post("/detection-runs", response_model=DetectionRunRead, responses=error_responses(401, 403, 503))
async def post_detection_run(
    principal: CurrentPrincipal,
    uow: UowFactoryDep,
    runtime: RuntimeDep,
    tenant_id: Annotated[uuid.UUID, Query(description="Client organisation to evaluate now.")],
) -> DetectionRunRead:
    """Run the detectors for one client organisation now instead of waiting for the periodic run (provider
    administrators; e.g. right after a history import)."""
    principal.require_role(Role.PROVIDER_ADMIN)
    report = await evaluate_tenant(
        uow,
        tenant_id,
        today=datetime.now(UTC).astimezone(AMSTERDAM).date(),
        default_k=runtime.settings.small_cell_k,
    )
    return DetectionRunRead(
        tenant_id=report.tenant_id,
        week=report.week,
        units=report.units,
        raised=list(report.raised),
        resolved=list(report.resolved),
    )
