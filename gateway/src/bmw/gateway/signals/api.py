"""Typed calls of the signals service's HTTP API beyond trends, over the request's ``SignalsClient``.

Each method is one HTTP call; it returns the parsed answer or raises the service's refusal as the servicekit
error (``InvalidInput``, ``Forbidden``, ``NotFound``, ``Conflict``, ``ServiceUnavailable``), as
``ServiceClient.request`` does. The POST commands take an optional ``Idempotency-Key`` that a client passes
through so that a retried mutation acts once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from enum import Enum
from urllib.parse import quote

import httpx
from pydantic import RootModel

from bmw.contracts.taxonomy import OpportunityStage, SignalKind
from bmw.gateway.clients import ServiceClient
from bmw.gateway.signals.bodies import (
    AccountBody,
    ActionEffectsBody,
    ActionTypeEffectsBody,
    FalseAlarmReportBody,
    InterventionBody,
    InterventionListBody,
    InterventionPutBody,
    KindStatisticsBody,
    KindStatisticsListBody,
    ManagementActionBody,
    ManagementActionCreateBody,
    ManagementActionListBody,
    OpportunityBody,
    OpportunityDetailBody,
    OpportunityNoteBody,
    OpportunityNoteCreateBody,
    OpportunityPageBody,
    OpportunityStageChangeBody,
    PortfolioBody,
    PortfolioLineBody,
    SecondmentObservationBody,
    SecondmentObservationCreateBody,
    SecondmentObservationListBody,
    SignalBody,
    SignalPageBody,
    SignalReviewBody,
    SignalReviewCreateBody,
)
from bmw.gateway.signals.enums import ManagementActionType, ReviewStatus, SignalStatus

IDEMPOTENCY_HEADER = "Idempotency-Key"


def _keyed(idempotency_key: str | None) -> dict[str, str] | None:
    """The ``Idempotency-Key`` header of a command, when the caller gave one."""
    return {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key is not None else None


def wire(code: Enum) -> str:
    """A code's value on signals' wire (``ReviewStatus.NOT_REQUIRED`` → ``not_required``)."""
    return str(code.value)


def _params(**values: str | None) -> dict[str, str]:
    """Query parameters without the absent ones."""
    return {name: value for name, value in values.items() if value is not None}


class SignalsApi:
    """The signals service for one GraphQL request, on behalf of its caller."""

    def __init__(self, client: ServiceClient) -> None:
        self._client = client

    # -- signals --------------------------------------------------------------------------------------------------

    async def signals(
        self,
        *,
        tenant_id: uuid.UUID | None,
        status: SignalStatus | None,
        review_status: ReviewStatus | None,
        kind: SignalKind | None,
        cursor: str | None,
        limit: int,
    ) -> SignalPageBody:
        """``GET /signals``: what the caller may see, newest first."""
        params = _params(
            tenant_id=str(tenant_id) if tenant_id else None,
            status=wire(status) if status else None,
            review_status=wire(review_status) if review_status else None,
            kind=wire(kind) if kind else None,
            cursor=cursor,
            limit=str(limit),
        )
        response = await self._client.request("GET", "/signals", params=params)
        return self._client.parse(SignalPageBody, response)

    async def review_signal(
        self, signal_id: uuid.UUID, body: SignalReviewCreateBody, *, idempotency_key: str | None
    ) -> SignalReviewBody:
        """``POST /signals/{id}/review``."""
        response = await self._client.request(
            "POST", f"/signals/{signal_id}/review", json=body.model_dump(mode="json"), headers=_keyed(idempotency_key)
        )
        return self._client.parse(SignalReviewBody, response)

    async def signal(self, signal_id: uuid.UUID) -> SignalBody:
        """``GET /signals/{id}``: as the caller may see it (404 when they may not)."""
        response = await self._client.request("GET", f"/signals/{signal_id}")
        return self._client.parse(SignalBody, response)

    async def false_alarms(self, tenant_id: uuid.UUID) -> FalseAlarmReportBody:
        """``GET /false-alarms``: per reviewed kind over twelve months (provider staff)."""
        response = await self._client.request("GET", "/false-alarms", params={"tenant_id": str(tenant_id)})
        return self._client.parse(FalseAlarmReportBody, response)

    # -- interventions --------------------------------------------------------------------------------------------

    async def interventions(self, *, signal_kind: SignalKind | None) -> list[InterventionBody]:
        """``GET /interventions``: the catalogue in rank order."""
        params = _params(signal_kind=wire(signal_kind) if signal_kind else None)
        response = await self._client.request("GET", "/interventions", params=params)
        return self._client.parse(InterventionListBody, response).root

    async def put_intervention(self, code: str, body: InterventionPutBody) -> tuple[InterventionBody, bool]:
        """``PUT /interventions/{code}``: create or replace (idempotent by nature: PUT replaces). Returns the
        intervention and whether the code was new (signals answers 201 then)."""
        response = await self._client.request(
            "PUT", f"/interventions/{quote(code, safe='')}", json=body.model_dump(mode="json")
        )
        return self._client.parse(InterventionBody, response), response.status_code == httpx.codes.CREATED

    # -- opportunities --------------------------------------------------------------------------------------------

    async def opportunities(
        self,
        *,
        stage: OpportunityStage | None,
        tenant_id: uuid.UUID | None,
        cursor: str | None,
        limit: int,
    ) -> OpportunityPageBody:
        """``GET /opportunities``: the pipeline the caller works, newest first."""
        params = _params(
            stage=wire(stage) if stage else None,
            tenant_id=str(tenant_id) if tenant_id else None,
            cursor=cursor,
            limit=str(limit),
        )
        response = await self._client.request("GET", "/opportunities", params=params)
        return self._client.parse(OpportunityPageBody, response)

    async def opportunity(self, opportunity_id: uuid.UUID) -> OpportunityDetailBody:
        """``GET /opportunities/{id}``: with its notes and priced recommendations."""
        response = await self._client.request("GET", f"/opportunities/{opportunity_id}")
        return self._client.parse(OpportunityDetailBody, response)

    async def move_opportunity(
        self, opportunity_id: uuid.UUID, body: OpportunityStageChangeBody, *, idempotency_key: str | None
    ) -> OpportunityBody:
        """``POST /opportunities/{id}/stage``."""
        response = await self._client.request(
            "POST",
            f"/opportunities/{opportunity_id}/stage",
            json=body.model_dump(mode="json"),
            headers=_keyed(idempotency_key),
        )
        return self._client.parse(OpportunityBody, response)

    async def add_note(
        self, opportunity_id: uuid.UUID, body: OpportunityNoteCreateBody, *, idempotency_key: str | None
    ) -> OpportunityNoteBody:
        """``POST /opportunities/{id}/notes``."""
        response = await self._client.request(
            "POST",
            f"/opportunities/{opportunity_id}/notes",
            json=body.model_dump(mode="json"),
            headers=_keyed(idempotency_key),
        )
        return self._client.parse(OpportunityNoteBody, response)

    async def opportunity_statistics(self, tenant_id: uuid.UUID | None) -> list[KindStatisticsBody]:
        """``GET /opportunities/statistics``: won, lost, open and the win rate per signal kind."""
        params = _params(tenant_id=str(tenant_id) if tenant_id else None)
        response = await self._client.request("GET", "/opportunities/statistics", params=params)
        return self._client.parse(KindStatisticsListBody, response).root

    # -- accounts -------------------------------------------------------------------------------------------------

    async def account(self, tenant_id: uuid.UUID) -> AccountBody:
        """``GET /accounts/{tenant_id}``."""
        response = await self._client.request("GET", f"/accounts/{tenant_id}")
        return self._client.parse(AccountBody, response)

    async def portfolio(self) -> list[PortfolioLineBody]:
        """``GET /accounts``."""
        response = await self._client.request("GET", "/accounts")
        return self._client.parse(PortfolioBody, response).root

    # -- management actions ---------------------------------------------------------------------------------------

    async def management_actions(self, tenant_id: uuid.UUID) -> list[ManagementActionBody]:
        """``GET /management-actions``: latest first."""
        response = await self._client.request("GET", "/management-actions", params={"tenant_id": str(tenant_id)})
        return self._client.parse(ManagementActionListBody, response).root

    async def record_management_action(
        self, body: ManagementActionCreateBody, *, idempotency_key: str | None
    ) -> ManagementActionBody:
        """``POST /management-actions``."""
        response = await self._client.request(
            "POST", "/management-actions", json=body.model_dump(mode="json"), headers=_keyed(idempotency_key)
        )
        return self._client.parse(ManagementActionBody, response)

    async def action_effects(self, action_id: uuid.UUID) -> ActionEffectsBody:
        """``GET /management-actions/{id}/effects``."""
        response = await self._client.request("GET", f"/management-actions/{action_id}/effects")
        return self._client.parse(ActionEffectsBody, response)

    async def many_action_effects(self, action_ids: Sequence[uuid.UUID]) -> list[ActionEffectsBody]:
        """``GET /management-actions/effects?action_id=…``: several actions in one call; actions the caller may
        not see (or that do not exist) are left out."""
        response = await self._client.request(
            "GET",
            "/management-actions/effects",
            params=httpx.QueryParams([("action_id", str(action_id)) for action_id in action_ids]),
        )
        return self._client.parse(_EffectsList, response).root

    async def action_type_effects(self, action_type: ManagementActionType) -> ActionTypeEffectsBody:
        """``GET /management-action-effects``: pooled across client organisations."""
        response = await self._client.request(
            "GET", "/management-action-effects", params={"action_type": wire(action_type)}
        )
        return self._client.parse(ActionTypeEffectsBody, response)

    # -- secondment observations ----------------------------------------------------------------------------------

    async def secondment_observations(
        self, tenant_id: uuid.UUID, *, since: dt.date | None
    ) -> list[SecondmentObservationBody]:
        """``GET /secondment-observations``: latest first."""
        params: Mapping[str, str] = _params(tenant_id=str(tenant_id), since=since.isoformat() if since else None)
        response = await self._client.request("GET", "/secondment-observations", params=params)
        return self._client.parse(SecondmentObservationListBody, response).root

    async def record_secondment_observation(
        self, body: SecondmentObservationCreateBody, *, idempotency_key: str | None
    ) -> SecondmentObservationBody:
        """``POST /secondment-observations``."""
        response = await self._client.request(
            "POST", "/secondment-observations", json=body.model_dump(mode="json"), headers=_keyed(idempotency_key)
        )
        return self._client.parse(SecondmentObservationBody, response)


class _EffectsList(RootModel[list[ActionEffectsBody]]):
    """The body of the batch read of effects."""
