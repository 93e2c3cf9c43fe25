"""Signals beyond trends: signals per audience, the opportunity pipeline, accounts, management actions and
observations; refusals as union members or coded errors; signals down fails only its own fields."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from bmw.gateway.testing import (
    ORG_UNIT,
    OTHER_TENANT,
    SIGNALS,
    TENANT,
    FakeServices,
    SigningKey,
    error_body,
    graphql,
    json_body,
)

SIGNAL_ID = uuid.UUID("81818181-8181-4181-8181-818181818181")
SECOND_SIGNAL_ID = uuid.UUID("82828282-8282-4282-8282-828282828282")
OPPORTUNITY_ID = uuid.UUID("91919191-9191-4191-8191-919191919191")
SECOND_OPPORTUNITY_ID = uuid.UUID("92929292-9292-4292-8292-929292929292")
ACTION_ID = uuid.UUID("a1a1a1a1-a1a1-41a1-81a1-a1a1a1a1a1a1")
SECOND_ACTION_ID = uuid.UUID("a2a2a2a2-a2a2-42a2-82a2-a2a2a2a2a2a2")
OBSERVATION_ID = uuid.UUID("b1b1b1b1-b1b1-41b1-81b1-b1b1b1b1b1b1")
CONTRACT_ID = uuid.UUID("c1c1c1c1-c1c1-41c1-81c1-c1c1c1c1c1c1")


# -- builders of signals' answers ---------------------------------------------------------------------------------


def signal_body(signal_id: uuid.UUID = SIGNAL_ID, **overrides: Any) -> dict[str, Any]:
    """A signal as signals shows it to a caller outside the provider (no counts)."""
    body: dict[str, Any] = {
        "id": str(signal_id),
        "tenant_id": str(TENANT),
        "kind": "reorganisation_wave",
        "org_unit_id": str(ORG_UNIT),
        "org_unit_name": "Logistiek",
        "raised_week": "2026-03-02",
        "status": "open",
        "resolved_week": None,
        "review_status": "confirmed",
        "weeks": ["2026-02-16", "2026-02-23", "2026-03-02"],
        "method": "poisson_tail",
        "strength": "very strong",
        "summary": "Referrals about reorganisation uncertainty rose in Logistiek over three weeks.",
        "evidence": None,
        "internal": None,
    }
    body.update(overrides)
    return body


INTERNAL = {
    "observed": 14,
    "expected": 3.5,
    "p_value": 0.0004,
    "score": 3.4,
    "suppressed": False,
    "explanation": "14 referrals against 3.5 expected",
    "reviewed_by": None,
    "reviewed_at": None,
    "review_reason": None,
    "review_note": None,
}


def opportunity_body(opportunity_id: uuid.UUID = OPPORTUNITY_ID, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(opportunity_id),
        "tenant_id": str(TENANT),
        "signal_id": str(SIGNAL_ID),
        "kind": "reorganisation_wave",
        "org_unit_id": str(ORG_UNIT),
        "org_unit_name": "Logistiek",
        "stage": "new",
        "recommended": ["training_dismissal_conversations", "secondment_on_site"],
        "estimated_value_cents": 345050,
        "evidence_text": "Rising reorganisation uncertainty in Logistiek.",
        "loss_reason": None,
        "won_intervention": None,
        "created_at": "2026-03-03T08:00:00Z",
        "updated_at": "2026-03-03T08:00:00Z",
    }
    body.update(overrides)
    return body


def recommendation_body(code: str = "training_dismissal_conversations") -> dict[str, Any]:
    return {
        "code": code,
        "title_nl": "Training slechtnieuwsgesprekken",
        "title_en": "Training: conducting dismissal conversations",
        "description": "Two sessions for managers.",
        "product_kind": "workshop_per_session",
        "quantity": "2",
        "unit_price_cents": 172525,
        "price_cents": 345050,
        "priced_from": "contract:WS-1",
        "won": 3,
        "lost": 1,
        "win_rate": 0.6667,
    }


def action_body(action_id: uuid.UUID = ACTION_ID, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(action_id),
        "tenant_id": str(TENANT),
        "org_unit_id": str(ORG_UNIT),
        "org_unit_name": "Logistiek",
        "action_type": "reorganisation_announced",
        "occurred_on": "2026-03-01",
        "week": "2026-02-23",
        "recorded_by": "contact-1",
        "recorded_at": "2026-03-01T10:00:00Z",
    }
    body.update(overrides)
    return body


def rates(before: int | None, after: int | None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "before_weeks": 12,
        "after_weeks": 12,
        "before_count": before,
        "after_count": after,
        "before_suppressed": before is None,
        "after_suppressed": after is None,
        "rate_before": before / 12 if before is not None else None,
        "rate_after": after / 12 if after is not None else None,
        "rate_ratio": 2.0,
        "ci_low": 1.1,
        "ci_high": 3.9,
        "p_value": 0.01,
        "ratio_withheld": False,
    }
    body.update(overrides)
    return body


def effects_body(action_id: uuid.UUID = ACTION_ID, *, unit: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "action": action_body(action_id),
        "k": 5,
        "first_week": "2025-12-01",
        "last_week": "2026-05-18",
        "weeks_before": 12,
        "weeks_after": 12,
        "too_early": False,
        "final": True,
        "comparison_unit": "the rest of the organisation",
        "note": None,
        "categories": [
            {
                "category": "reorganisation_uncertainty",
                "unit": unit or rates(6, 12),
                "comparison": rates(20, 22, rate_ratio=1.1),
                "difference_in_differences": {
                    "ratio": 1.8,
                    "ci_low": 1.0,
                    "ci_high": 3.2,
                    "p_value": 0.04,
                    "continuity_corrected": False,
                    "ratio_withheld": False,
                },
                "explanation": "Twice as many referrals after the announcement.",
            }
        ],
    }


def observation_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(OBSERVATION_ID),
        "tenant_id": str(TENANT),
        "org_unit_id": str(ORG_UNIT),
        "org_unit_name": "Logistiek",
        "bottleneck": "managers_avoid_individual_talks",
        "observed_on": "2026-03-04",
        "severity": 2,
        "recorded_by": "worker-7",
        "recorded_at": "2026-03-04T15:00:00Z",
    }
    body.update(overrides)
    return body


def account_manager(key: SigningKey, portfolio: tuple[uuid.UUID, ...] = (TENANT,)) -> str:
    return key.mint("account_manager", sub="am-1", portfolio=[str(t) for t in portfolio])


# -- signals ------------------------------------------------------------------------------------------------------

SIGNALS_QUERY = """
query Signals($tenantId: ID, $status: SignalStatus, $reviewStatus: ReviewStatus, $after: String) {
  signals(tenantId: $tenantId, status: $status, reviewStatus: $reviewStatus, first: 20, after: $after) {
    nodes {
      id tenantId kind orgUnitId orgUnitName raisedWeek status resolvedWeek reviewStatus weeks method strength
      summary evidence
      internal { observed expected pValue score suppressed explanation reviewReason }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.mark.asyncio
async def test_a_social_worker_sees_signals_with_their_counts_and_the_filters_reach_signals(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    evidence = {"weeks": ["2026-03-02"], "observed": 14}
    services.reply(
        "GET",
        SIGNALS,
        "/signals",
        200,
        {
            "items": [signal_body(review_status="pending", internal=INTERNAL, evidence=evidence)],
            "next_cursor": "c-2",
        },
    )
    token = signing_key.mint("social_worker", sub="worker-7")

    response = await graphql(
        gateway,
        SIGNALS_QUERY,
        {"tenantId": str(TENANT), "status": "OPEN", "reviewStatus": "PENDING", "after": "c-1"},
        token=token,
    )

    assert response.json() == {
        "data": {
            "signals": {
                "nodes": [
                    {
                        "id": str(SIGNAL_ID),
                        "tenantId": str(TENANT),
                        "kind": "REORGANISATION_WAVE",
                        "orgUnitId": str(ORG_UNIT),
                        "orgUnitName": "Logistiek",
                        "raisedWeek": "2026-03-02",
                        "status": "OPEN",
                        "resolvedWeek": None,
                        "reviewStatus": "PENDING",
                        "weeks": ["2026-02-16", "2026-02-23", "2026-03-02"],
                        "method": "POISSON_TAIL",
                        "strength": "VERY_STRONG",
                        "summary": "Referrals about reorganisation uncertainty rose in Logistiek over three weeks.",
                        "evidence": evidence,
                        "internal": {
                            "observed": 14,
                            "expected": 3.5,
                            "pValue": 0.0004,
                            "score": 3.4,
                            "suppressed": False,
                            "explanation": "14 referrals against 3.5 expected",
                            "reviewReason": None,
                        },
                    }
                ],
                "pageInfo": {"hasNextPage": True, "endCursor": "c-2"},
            }
        }
    }
    [call] = services.calls(SIGNALS, "/signals")
    assert dict(call.url.params) == {
        "tenant_id": str(TENANT),
        "status": "open",
        "review_status": "pending",
        "cursor": "c-1",
        "limit": "20",
    }
    assert call.headers["authorization"] == f"Bearer {token}"


@pytest.mark.asyncio
async def test_a_client_contact_sees_their_signals_without_counts(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, "/signals", 200, {"items": [signal_body()], "next_cursor": None})
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, SIGNALS_QUERY, {"tenantId": str(TENANT)}, token=token)

    signals = response.json()["data"]["signals"]
    [node] = signals["nodes"]
    assert node["summary"] == "Referrals about reorganisation uncertainty rose in Logistiek over three weeks."
    assert node["internal"] is None
    assert node["evidence"] is None
    assert signals["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    [call] = services.calls(SIGNALS, "/signals")
    assert dict(call.url.params) == {"tenant_id": str(TENANT), "limit": "20"}


@pytest.mark.asyncio
async def test_counts_signals_sends_a_client_contact_by_mistake_are_dropped(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    leaky = signal_body(internal=INTERNAL, evidence={"observed": 3})
    services.reply("GET", SIGNALS, "/signals", 200, {"items": [leaky], "next_cursor": None})
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, SIGNALS_QUERY, {}, token=token)

    [node] = response.json()["data"]["signals"]["nodes"]
    assert node["internal"] is None
    assert node["evidence"] is None
    assert "14 referrals" not in response.text


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("make_token", "variables", "message"),
    [
        pytest.param(
            lambda key: key.mint("employee", tenant_id=TENANT),
            {},
            "this needs one of the roles: account_manager, client_contact, integration, provider_admin, social_worker",
            id="employee",
        ),
        pytest.param(
            lambda key: key.mint("client_contact", tenant_id=TENANT),
            {"tenantId": str(OTHER_TENANT)},
            "not allowed for this client organisation",
            id="another-organisation",
        ),
        pytest.param(
            lambda key: account_manager(key, (OTHER_TENANT,)),
            {"tenantId": str(TENANT)},
            "not allowed for this client organisation",
            id="outside-portfolio",
        ),
    ],
)
async def test_who_may_not_see_signals_is_refused_before_signals_is_asked(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    make_token: Callable[[SigningKey], str],
    variables: dict[str, Any],
    message: str,
) -> None:
    response = await graphql(gateway, SIGNALS_QUERY, variables, token=make_token(signing_key))

    body = response.json()
    assert body["data"] == {"signals": None}
    [error] = body["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["message"] == message
    assert services.requests == []


@pytest.mark.asyncio
async def test_a_refused_filter_names_the_graphql_argument(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "GET",
        SIGNALS,
        "/signals",
        422,
        error_body(
            "validation_failed",
            "invalid input",
            [("query.review_status", "not a review state"), ("query.cursor", "not a cursor")],
        ),
    )
    token = signing_key.mint("provider_admin")

    response = await graphql(gateway, SIGNALS_QUERY, {"after": "bogus"}, token=token)

    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == [
        {"path": "reviewStatus", "message": "not a review state"},
        {"path": "after", "message": "not a cursor"},
    ]


@pytest.mark.asyncio
async def test_a_page_size_out_of_range_is_refused_without_asking_signals(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("provider_admin")

    response = await graphql(gateway, "{ signals(first: 500) { pageInfo { hasNextPage } } }", token=token)

    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"] == [{"path": "first", "message": "between 1 and 200"}]
    assert services.requests == []


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.asyncio
async def test_signals_down_fails_only_the_signals_field(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.on("GET", SIGNALS, "/signals", refuse_connection)
    token = signing_key.mint("client_contact", tenant_id=TENANT, sub="contact-1")

    response = await graphql(gateway, "{ me { subject tenantId } signals { nodes { id } } }", token=token)

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"me": {"subject": "contact-1", "tenantId": str(TENANT)}, "signals": None}
    [error] = body["errors"]
    assert error["path"] == ["signals"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["message"] == "the signals service is unavailable; retry shortly"


# -- reviewSignal -------------------------------------------------------------------------------------------------

REVIEW = """
mutation Review($input: ReviewSignalInput!) {
  reviewSignal(input: $input) {
    __typename
    ... on SignalReviewed { opportunityId signal { id reviewStatus internal { reviewReason } } }
    ... on ValidationFailed { message fields { path message } }
    ... on Forbidden { message }
    ... on NotFound { message }
    ... on Conflict { message }
    ... on ServiceUnavailable { message }
  }
}
"""


def review_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"signalId": str(SIGNAL_ID), "decision": "CONFIRMED", "reason": "MATCHES_WHAT_WE_SEE"}
    values.update(overrides)
    return values


@pytest.mark.asyncio
async def test_a_social_worker_confirms_a_signal_and_an_opportunity_opens(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    reviewed = signal_body(internal={**INTERNAL, "review_reason": "matches_what_we_see"})
    services.reply(
        "POST",
        SIGNALS,
        f"/signals/{SIGNAL_ID}/review",
        200,
        {"signal": reviewed, "opportunity_id": str(OPPORTUNITY_ID)},
    )
    token = signing_key.mint("social_worker", sub="worker-7")

    response = await graphql(
        gateway, REVIEW, {"input": review_input(note="Matches the intakes.", idempotencyKey="review-0001")}, token=token
    )

    assert response.json()["data"]["reviewSignal"] == {
        "__typename": "SignalReviewed",
        "opportunityId": str(OPPORTUNITY_ID),
        "signal": {
            "id": str(SIGNAL_ID),
            "reviewStatus": "CONFIRMED",
            "internal": {"reviewReason": "MATCHES_WHAT_WE_SEE"},
        },
    }
    [call] = services.calls(SIGNALS, f"/signals/{SIGNAL_ID}/review")
    assert json_body(call) == {"decision": "confirmed", "reason": "matches_what_we_see", "note": "Matches the intakes."}
    assert call.headers["idempotency-key"] == "review-0001"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        pytest.param(
            409,
            error_body("conflict", "the signal is confirmed already"),
            {"__typename": "Conflict", "message": "the signal is confirmed already"},
            id="not-pending",
        ),
        pytest.param(
            404,
            error_body("not_found", "no such signal"),
            {"__typename": "NotFound", "message": "no such signal"},
            id="not-visible",
        ),
        pytest.param(
            422,
            error_body(
                "validation_failed",
                "invalid input",
                [
                    ("body.reason", "for dismissed: one of ..."),
                    ("header.Idempotency-Key", "reused with a different body"),
                ],
            ),
            {
                "__typename": "ValidationFailed",
                "message": "invalid input",
                "fields": [
                    {"path": "input.reason", "message": "for dismissed: one of ..."},
                    {"path": "input.idempotencyKey", "message": "reused with a different body"},
                ],
            },
            id="invalid",
        ),
        pytest.param(
            503,
            error_body("unavailable", "database down"),
            {"__typename": "ServiceUnavailable", "message": "the signals service is unavailable; retry shortly"},
            id="unavailable",
        ),
    ],
)
async def test_refusals_of_a_review_are_members_of_its_result(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    status: int,
    body: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    services.reply("POST", SIGNALS, f"/signals/{SIGNAL_ID}/review", status, body)
    token = signing_key.mint("provider_admin")

    response = await graphql(gateway, REVIEW, {"input": review_input(decision="DISMISSED")}, token=token)

    assert response.json()["data"]["reviewSignal"] == expected


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("make_token", "values", "expected"),
    [
        pytest.param(
            lambda key: account_manager(key),
            {},
            {"__typename": "Forbidden", "message": "this needs one of the roles: provider_admin, social_worker"},
            id="account-manager",
        ),
        pytest.param(
            lambda key: key.mint("social_worker"),
            {"signalId": "signal-1", "idempotencyKey": "short"},
            {
                "__typename": "ValidationFailed",
                "message": "invalid input: input.signalId, input.idempotencyKey",
                "fields": [
                    {"path": "input.signalId", "message": "not a valid id"},
                    {"path": "input.idempotencyKey", "message": "between 8 and 200 characters"},
                ],
            },
            id="malformed",
        ),
    ],
)
async def test_a_review_the_gateway_can_refuse_never_reaches_signals(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    make_token: Callable[[SigningKey], str],
    values: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    response = await graphql(gateway, REVIEW, {"input": review_input(**values)}, token=make_token(signing_key))

    assert response.json()["data"]["reviewSignal"] == expected
    assert services.requests == []


# -- the pipeline -------------------------------------------------------------------------------------------------

PIPELINE = """
query Pipeline($stage: OpportunityStage) {
  opportunities(stage: $stage) {
    nodes { id stage kind orgUnitName recommended estimatedValueCents estimatedValueEuros evidenceText }
    pageInfo { hasNextPage endCursor }
  }
}
"""

MOVE = """
mutation Move($input: MoveOpportunityInput!) {
  moveOpportunity(input: $input) {
    __typename
    ... on OpportunityMoved { opportunity { id stage wonIntervention lossReason estimatedValueEuros } }
    ... on ValidationFailed { message fields { path message } }
    ... on Forbidden { message }
    ... on NotFound { message }
    ... on Conflict { message }
    ... on ServiceUnavailable { message }
  }
}
"""

DETAIL = """
query Detail($id: ID!) {
  opportunity(id: $id) {
    stage wonIntervention
    notes { fromStage toStage note author }
    recommendations { code titleEn priceCents priceEuros productKind pricedFrom winRate }
  }
}
"""

#: The pipeline's moves as signals allows them (never back; lost also from new and contacted).
ALLOWED_MOVES = {"new": {"contacted", "lost"}, "contacted": {"proposed", "lost"}, "proposed": {"won", "lost"}}


@dataclass
class FakePipeline:
    """Signals' side of one opportunity: stage moves with the pipeline's rules, and the notes they leave."""

    stage: str = "new"
    won_intervention: str | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)

    def current(self) -> dict[str, Any]:
        return opportunity_body(stage=self.stage, won_intervention=self.won_intervention)

    def move(self, request: httpx.Request) -> httpx.Response:
        body = json_body(request)
        target = body["stage"]
        if target not in ALLOWED_MOVES.get(self.stage, set()):
            return httpx.Response(
                409, json=error_body("conflict", f"the opportunity is {self.stage}: it cannot move to {target}")
            )
        if target == "won" and not body.get("won_intervention"):
            return httpx.Response(
                422,
                json=error_body(
                    "validation_failed",
                    "invalid input: body.won_intervention",
                    [("body.won_intervention", "required when the opportunity is won")],
                ),
            )
        self.notes.append(
            {
                "id": str(uuid.uuid4()),
                "author": "am-1",
                "from_stage": self.stage,
                "to_stage": target,
                "note": body.get("note"),
                "created_at": "2026-03-05T09:00:00Z",
            }
        )
        self.stage = target
        self.won_intervention = body.get("won_intervention")
        return httpx.Response(200, json=self.current())

    def detail(self, _: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={**self.current(), "notes": self.notes, "recommendations": [recommendation_body()]}
        )


@pytest.mark.asyncio
async def test_an_account_manager_works_an_opportunity_from_new_to_won(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    pipeline = FakePipeline()
    services.on(
        "GET",
        SIGNALS,
        "/opportunities",
        lambda _: httpx.Response(200, json={"items": [pipeline.current()], "next_cursor": None}),
    )
    services.on("POST", SIGNALS, f"/opportunities/{OPPORTUNITY_ID}/stage", pipeline.move)
    services.on("GET", SIGNALS, f"/opportunities/{OPPORTUNITY_ID}", pipeline.detail)
    token = account_manager(signing_key)

    listed = await graphql(gateway, PIPELINE, {"stage": "NEW"}, token=token)
    assert listed.json()["data"]["opportunities"] == {
        "nodes": [
            {
                "id": str(OPPORTUNITY_ID),
                "stage": "NEW",
                "kind": "REORGANISATION_WAVE",
                "orgUnitName": "Logistiek",
                "recommended": ["training_dismissal_conversations", "secondment_on_site"],
                "estimatedValueCents": 345050,
                "estimatedValueEuros": "3450.50",
                "evidenceText": "Rising reorganisation uncertainty in Logistiek.",
            }
        ],
        "pageInfo": {"hasNextPage": False, "endCursor": None},
    }
    assert dict(services.calls(SIGNALS, "/opportunities")[0].url.params) == {"stage": "new", "limit": "50"}

    moves = [
        {"stage": "CONTACTED", "note": "Called the HR manager."},
        {"stage": "PROPOSED", "note": "Sent the offer."},
        {"stage": "WON", "wonIntervention": "training_dismissal_conversations"},
    ]
    for number, move in enumerate(moves, start=1):
        key = f"move-{number:04d}"
        moved = await graphql(
            gateway,
            MOVE,
            {"input": {"opportunityId": str(OPPORTUNITY_ID), "idempotencyKey": key, **move}},
            token=token,
        )
        result = moved.json()["data"]["moveOpportunity"]
        assert result["__typename"] == "OpportunityMoved"
        assert result["opportunity"]["stage"] == move["stage"]
        call = services.calls(SIGNALS, f"/opportunities/{OPPORTUNITY_ID}/stage")[-1]
        assert call.headers["idempotency-key"] == key
    assert result["opportunity"]["wonIntervention"] == "training_dismissal_conversations"
    assert json_body(services.calls(SIGNALS, f"/opportunities/{OPPORTUNITY_ID}/stage")[-1]) == {
        "stage": "won",
        "note": None,
        "loss_reason": None,
        "won_intervention": "training_dismissal_conversations",
    }

    detail = await graphql(gateway, DETAIL, {"id": str(OPPORTUNITY_ID)}, token=token)
    opportunity = detail.json()["data"]["opportunity"]
    assert opportunity["stage"] == "WON"
    assert [(n["fromStage"], n["toStage"], n["note"]) for n in opportunity["notes"]] == [
        ("NEW", "CONTACTED", "Called the HR manager."),
        ("CONTACTED", "PROPOSED", "Sent the offer."),
        ("PROPOSED", "WON", None),
    ]
    assert opportunity["recommendations"] == [
        {
            "code": "training_dismissal_conversations",
            "titleEn": "Training: conducting dismissal conversations",
            "priceCents": 345050,
            "priceEuros": "3450.50",
            "productKind": "WORKSHOP_PER_SESSION",
            "pricedFrom": "contract:WS-1",
            "winRate": 0.6667,
        }
    ]
    # notes and recommendations came from the one detail call
    assert len(services.calls(SIGNALS, f"/opportunities/{OPPORTUNITY_ID}")) == 1


@pytest.mark.asyncio
async def test_a_move_the_pipeline_does_not_allow_is_a_conflict_and_a_win_needs_its_intervention(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    pipeline = FakePipeline(stage="proposed")
    services.on("POST", SIGNALS, f"/opportunities/{OPPORTUNITY_ID}/stage", pipeline.move)
    token = account_manager(signing_key)

    back = await graphql(
        gateway, MOVE, {"input": {"opportunityId": str(OPPORTUNITY_ID), "stage": "CONTACTED"}}, token=token
    )
    won = await graphql(gateway, MOVE, {"input": {"opportunityId": str(OPPORTUNITY_ID), "stage": "WON"}}, token=token)

    assert back.json()["data"]["moveOpportunity"] == {
        "__typename": "Conflict",
        "message": "the opportunity is proposed: it cannot move to contacted",
    }
    assert won.json()["data"]["moveOpportunity"] == {
        "__typename": "ValidationFailed",
        "message": "invalid input: body.won_intervention",
        "fields": [{"path": "input.wonIntervention", "message": "required when the opportunity is won"}],
    }
    assert pipeline.stage == "proposed"


@pytest.mark.asyncio
async def test_a_client_contact_cannot_reach_the_pipeline(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    listed = await graphql(gateway, PIPELINE, {}, token=token)
    moved = await graphql(
        gateway, MOVE, {"input": {"opportunityId": str(OPPORTUNITY_ID), "stage": "CONTACTED"}}, token=token
    )

    [error] = listed.json()["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert moved.json()["data"]["moveOpportunity"] == {
        "__typename": "Forbidden",
        "message": "this needs one of the roles: account_manager, provider_admin",
    }
    assert services.requests == []


@pytest.mark.asyncio
async def test_notes_of_a_page_of_opportunities_cost_one_call_per_opportunity(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    page = {"items": [opportunity_body(), opportunity_body(SECOND_OPPORTUNITY_ID)], "next_cursor": None}
    services.reply("GET", SIGNALS, "/opportunities", 200, page)
    for opportunity_id in (OPPORTUNITY_ID, SECOND_OPPORTUNITY_ID):
        services.reply(
            "GET",
            SIGNALS,
            f"/opportunities/{opportunity_id}",
            200,
            {**opportunity_body(opportunity_id), "notes": [], "recommendations": [recommendation_body()]},
        )
    query = """
    { opportunities { nodes { id notes { note } recommendations { code } again: recommendations { code } } } }
    """

    response = await graphql(gateway, query, token=account_manager(signing_key))

    nodes = response.json()["data"]["opportunities"]["nodes"]
    assert [node["recommendations"] for node in nodes] == [[{"code": "training_dismissal_conversations"}]] * 2
    assert len(services.calls(SIGNALS, f"/opportunities/{OPPORTUNITY_ID}")) == 1
    assert len(services.calls(SIGNALS, f"/opportunities/{SECOND_OPPORTUNITY_ID}")) == 1


# -- accounts -----------------------------------------------------------------------------------------------------

ACCOUNT = """
query Account($tenantId: ID!) {
  accountOverview(tenantId: $tenantId) {
    tenantId name asOf k
    contracts {
      id renewalDate daysToRenewal
      products { code kind used included percentUsed }
      burnDowns { productCode included used remaining runsOutBeforeRenewal weeks { week used planned } }
    }
    openSignals { id kind orgUnitName reviewStatus }
    pipeline { stage opportunities estimatedValueCents estimatedValueEuros }
    openOpportunityValueEuros
    workshops { theme sessions participants participantsSuppressed }
    secondmentHoursLast12Months secondmentHoursThisContractPeriod
  }
}
"""

ACCOUNT_BODY: dict[str, Any] = {
    "tenant_id": str(TENANT),
    "name": "Acme Logistics",
    "as_of": "2026-03-05",
    "k": 5,
    "contracts": [
        {
            "id": str(CONTRACT_ID),
            "period_start": "2026-01-01",
            "period_end": "2026-12-31",
            "renewal_date": "2026-12-31",
            "days_to_renewal": 301,
            "products": [
                {"code": "HB-40", "kind": "hour_bundle", "used": "32.50", "included": "40", "percent_used": 81.25}
            ],
            "burn_downs": [
                {
                    "product_code": "HB-40",
                    "included": "40",
                    "used": "32.50",
                    "remaining": "7.50",
                    "weeks": [{"week": "2026-03-02", "used": "32.50", "planned": "7.12"}],
                    "exhausted_on": None,
                    "projected_exhaustion": "2026-03-20",
                    "runs_out_before_renewal": True,
                }
            ],
        }
    ],
    "open_signals": [
        {
            "id": str(SIGNAL_ID),
            "kind": "bundle_threshold",
            "org_unit_id": None,
            "org_unit_name": None,
            "raised_week": "2026-03-02",
            "review_status": "not_required",
        }
    ],
    "pipeline": [{"stage": "new", "opportunities": 2, "estimated_value_cents": 690100}],
    "open_opportunity_value_cents": 690100,
    "workshops_since": "2025-03-03",
    "workshops_until": "2026-02-23",
    "workshops": [
        {"theme": "giving_and_receiving_feedback", "sessions": 3, "participants": 31, "participants_suppressed": False},
        {"theme": "self_management", "sessions": 1, "participants": 3, "participants_suppressed": False},
    ],
    "secondment_hours_last_12_months": "120.00",
    "contract_period_start": "2026-01-01",
    "secondment_hours_this_contract_period": "24.00",
}


@pytest.mark.asyncio
async def test_an_account_manager_sees_the_account_of_a_portfolio_organisation(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, f"/accounts/{TENANT}", 200, ACCOUNT_BODY)

    response = await graphql(gateway, ACCOUNT, {"tenantId": str(TENANT)}, token=account_manager(signing_key))

    account = response.json()["data"]["accountOverview"]
    assert account["name"] == "Acme Logistics"
    assert account["contracts"] == [
        {
            "id": str(CONTRACT_ID),
            "renewalDate": "2026-12-31",
            "daysToRenewal": 301,
            "products": [
                {"code": "HB-40", "kind": "HOUR_BUNDLE", "used": "32.50", "included": "40", "percentUsed": 81.25}
            ],
            "burnDowns": [
                {
                    "productCode": "HB-40",
                    "included": "40",
                    "used": "32.50",
                    "remaining": "7.50",
                    "runsOutBeforeRenewal": True,
                    "weeks": [{"week": "2026-03-02", "used": "32.50", "planned": "7.12"}],
                }
            ],
        }
    ]
    assert account["openSignals"] == [
        {"id": str(SIGNAL_ID), "kind": "BUNDLE_THRESHOLD", "orgUnitName": None, "reviewStatus": "NOT_REQUIRED"}
    ]
    assert account["pipeline"] == [
        {"stage": "NEW", "opportunities": 2, "estimatedValueCents": 690100, "estimatedValueEuros": "6901.00"}
    ]
    assert account["openOpportunityValueEuros"] == "6901.00"
    # 3 participants are fewer than k = 5: hidden even though signals sent the number
    assert account["workshops"] == [
        {"theme": "giving_and_receiving_feedback", "sessions": 3, "participants": 31, "participantsSuppressed": False},
        {"theme": "self_management", "sessions": 1, "participants": None, "participantsSuppressed": True},
    ]
    assert account["secondmentHoursThisContractPeriod"] == "24.00"


@pytest.mark.asyncio
async def test_an_account_outside_the_portfolio_is_forbidden_without_asking_signals(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    response = await graphql(
        gateway, ACCOUNT, {"tenantId": str(OTHER_TENANT)}, token=account_manager(signing_key, (TENANT,))
    )

    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert response.json()["data"] == {"accountOverview": None}
    assert services.requests == []


@pytest.mark.asyncio
async def test_the_portfolio_pages_the_whole_list_signals_returns(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    lines = [
        {
            "tenant_id": str(tenant),
            "name": name,
            "renewal_date": None,
            "days_to_renewal": None,
            "bundle_percent_used": None,
            "open_signals": signals,
            "open_opportunity_value_cents": 1999,
        }
        for tenant, name, signals in [(TENANT, "Acme", 2), (OTHER_TENANT, "Globex", 0)]
    ]
    services.reply("GET", SIGNALS, "/accounts", 200, lines)
    token = account_manager(signing_key, (TENANT, OTHER_TENANT))
    query = """
    query Portfolio($after: String) {
      portfolio(first: 1, after: $after) {
        nodes { tenantId name openSignals openOpportunityValueEuros }
        pageInfo { hasNextPage endCursor }
      }
    }
    """

    first = (await graphql(gateway, query, token=token)).json()["data"]["portfolio"]
    after = first["pageInfo"]["endCursor"]
    second = (await graphql(gateway, query, {"after": after}, token=token)).json()["data"]["portfolio"]

    assert first["nodes"] == [
        {"tenantId": str(TENANT), "name": "Acme", "openSignals": 2, "openOpportunityValueEuros": "19.99"}
    ]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [node["name"] for node in second["nodes"]] == ["Globex"]
    assert second["pageInfo"] == {"hasNextPage": False, "endCursor": None}


# -- management actions -------------------------------------------------------------------------------------------

ACTIONS = """
query Actions($tenantId: ID!) {
  managementActions(tenantId: $tenantId) {
    nodes {
      id actionType orgUnitName occurredOn week recordedBy
      effects {
        k final tooEarly weeksBefore weeksAfter comparisonUnit
        categories {
          category explanation
          unit {
            beforeCount afterCount beforeSuppressed afterSuppressed rateBefore rateAfter rateRatio ciLow ciHigh
            pValue ratioWithheld
          }
          comparison { beforeCount afterCount rateRatio }
          differenceInDifferences { ratio ratioWithheld }
        }
      }
    }
  }
}
"""


@pytest.mark.asyncio
async def test_a_client_contact_reads_actions_with_their_effects_in_one_call(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, "/management-actions", 200, [action_body(), action_body(SECOND_ACTION_ID)])
    services.reply("GET", SIGNALS, "/management-actions/effects", 200, [effects_body(SECOND_ACTION_ID), effects_body()])
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, ACTIONS, {"tenantId": str(TENANT)}, token=token)

    nodes = response.json()["data"]["managementActions"]["nodes"]
    assert [node["id"] for node in nodes] == [str(ACTION_ID), str(SECOND_ACTION_ID)]
    assert nodes[0]["actionType"] == "REORGANISATION_ANNOUNCED"
    assert nodes[0]["effects"]["final"] is True
    [category] = nodes[0]["effects"]["categories"]
    assert category["category"] == "REORGANISATION_UNCERTAINTY"
    assert category["unit"] == {
        "beforeCount": 6,
        "afterCount": 12,
        "beforeSuppressed": False,
        "afterSuppressed": False,
        "rateBefore": 0.5,
        "rateAfter": 1.0,
        "rateRatio": 2.0,
        "ciLow": 1.1,
        "ciHigh": 3.9,
        "pValue": 0.01,
        "ratioWithheld": False,
    }
    assert category["differenceInDifferences"] == {"ratio": 1.8, "ratioWithheld": False}
    [listed] = services.calls(SIGNALS, "/management-actions")
    assert dict(listed.url.params) == {"tenant_id": str(TENANT)}
    # The whole page's effects in one call, whatever order signals answers in.
    [batch] = services.calls(SIGNALS, "/management-actions/effects")
    assert batch.url.params.get_list("action_id") == [str(ACTION_ID), str(SECOND_ACTION_ID)]


@pytest.mark.asyncio
async def test_effects_are_fetched_only_when_selected(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, "/management-actions", 200, [action_body(), action_body(SECOND_ACTION_ID)])
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(
        gateway,
        "query A($t: ID!) { managementActions(tenantId: $t) { nodes { id } } }",
        {"t": str(TENANT)},
        token=token,
    )

    assert len(response.json()["data"]["managementActions"]["nodes"]) == 2
    assert [request.url.path for request in services.requests] == ["/management-actions"]


@pytest.mark.asyncio
async def test_a_small_count_around_an_action_is_hidden_with_the_ratio_it_would_reveal(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    # signals leaks a count of 3 (below k = 5) without suppressing it; the gateway hides it and, for a client
    # contact, the ratio, interval and difference in differences behind it
    services.reply("GET", SIGNALS, "/management-actions", 200, [action_body()])
    services.reply("GET", SIGNALS, "/management-actions/effects", 200, [effects_body(unit=rates(3, 12))])
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, ACTIONS, {"tenantId": str(TENANT)}, token=token)

    [node] = response.json()["data"]["managementActions"]["nodes"]
    [category] = node["effects"]["categories"]
    assert category["unit"] == {
        "beforeCount": None,
        "afterCount": 12,
        "beforeSuppressed": True,
        "afterSuppressed": False,
        "rateBefore": None,
        "rateAfter": 1.0,
        "rateRatio": None,
        "ciLow": None,
        "ciHigh": None,
        "pValue": None,
        "ratioWithheld": True,
    }
    assert category["differenceInDifferences"] == {"ratio": None, "ratioWithheld": True}


@pytest.mark.asyncio
async def test_effects_that_fail_null_only_themselves(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("GET", SIGNALS, "/management-actions", 200, [action_body(), action_body(SECOND_ACTION_ID)])
    # signals leaves out an action the caller may not see: only that action's effects fail
    services.reply("GET", SIGNALS, "/management-actions/effects", 200, [effects_body()])
    token = signing_key.mint("provider_admin")

    response = await graphql(gateway, ACTIONS, {"tenantId": str(TENANT)}, token=token)

    body = response.json()
    nodes = body["data"]["managementActions"]["nodes"]
    assert nodes[0]["effects"]["k"] == 5
    assert nodes[1]["id"] == str(SECOND_ACTION_ID)
    assert nodes[1]["effects"] is None
    [error] = body["errors"]
    assert error["path"] == ["managementActions", "nodes", 1, "effects"]
    assert error["extensions"]["code"] == "NOT_FOUND"


RECORD_ACTION = """
mutation Record($input: RecordManagementActionInput!) {
  recordManagementAction(input: $input) {
    __typename
    ... on ManagementActionRecorded { action { id tenantId actionType occurredOn week orgUnitName } }
    ... on ValidationFailed { message fields { path message } }
    ... on Forbidden { message }
    ... on ServiceUnavailable { message }
  }
}
"""


@pytest.mark.asyncio
async def test_a_client_contact_records_a_management_action_for_their_own_organisation(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("POST", SIGNALS, "/management-actions", 201, action_body())
    token = signing_key.mint("client_contact", tenant_id=TENANT, sub="contact-1")
    action = {
        "orgUnitId": str(ORG_UNIT),
        "actionType": "REORGANISATION_ANNOUNCED",
        "occurredOn": "2026-03-01",
        "idempotencyKey": "action-2026-03-01",
    }

    response = await graphql(gateway, RECORD_ACTION, {"input": action}, token=token)

    assert response.json()["data"]["recordManagementAction"] == {
        "__typename": "ManagementActionRecorded",
        "action": {
            "id": str(ACTION_ID),
            "tenantId": str(TENANT),
            "actionType": "REORGANISATION_ANNOUNCED",
            "occurredOn": "2026-03-01",
            "week": "2026-02-23",
            "orgUnitName": "Logistiek",
        },
    }
    [call] = services.calls(SIGNALS, "/management-actions")
    assert json_body(call) == {
        "tenant_id": str(TENANT),  # the caller's own
        "org_unit_id": str(ORG_UNIT),
        "action_type": "reorganisation_announced",
        "occurred_on": "2026-03-01",
    }
    assert call.headers["idempotency-key"] == "action-2026-03-01"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("make_token", "values", "expected"),
    [
        pytest.param(
            lambda key: key.mint("client_contact", tenant_id=TENANT),
            {"tenantId": str(OTHER_TENANT)},
            {"__typename": "Forbidden", "message": "not allowed for this client organisation"},
            id="another-organisation",
        ),
        pytest.param(
            lambda key: key.mint("social_worker"),
            {"tenantId": str(TENANT)},
            {
                "__typename": "Forbidden",
                "message": "this needs one of the roles: account_manager, client_contact, provider_admin",
            },
            id="social-worker",
        ),
        pytest.param(
            lambda key: key.mint("provider_admin"),
            {"orgUnitId": "logistics"},
            {
                "__typename": "ValidationFailed",
                "message": "invalid input: input.tenantId, input.orgUnitId",
                "fields": [
                    {"path": "input.tenantId", "message": "required for callers without a client organisation"},
                    {"path": "input.orgUnitId", "message": "not a valid id"},
                ],
            },
            id="staff-without-organisation",
        ),
    ],
)
async def test_an_action_the_gateway_can_refuse_never_reaches_signals(
    gateway: httpx.AsyncClient,
    services: FakeServices,
    signing_key: SigningKey,
    make_token: Callable[[SigningKey], str],
    values: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    action = {"actionType": "INDIVIDUAL_TALKS_HELD", "occurredOn": "2026-03-01", **values}

    response = await graphql(gateway, RECORD_ACTION, {"input": action}, token=make_token(signing_key))

    assert response.json()["data"]["recordManagementAction"] == expected
    assert services.requests == []


@pytest.mark.asyncio
async def test_signals_refusing_an_action_date_names_the_input_field(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "POST",
        SIGNALS,
        "/management-actions",
        422,
        error_body(
            "validation_failed", "invalid input: body.occurred_on", [("body.occurred_on", "at most 90 days ahead")]
        ),
    )
    token = account_manager(signing_key)
    action = {"tenantId": str(TENANT), "actionType": "RELOCATION_ANNOUNCED", "occurredOn": "2027-01-01"}

    response = await graphql(gateway, RECORD_ACTION, {"input": action}, token=token)

    assert response.json()["data"]["recordManagementAction"] == {
        "__typename": "ValidationFailed",
        "message": "invalid input: body.occurred_on",
        "fields": [{"path": "input.occurredOn", "message": "at most 90 days ahead"}],
    }
    assert json_body(services.calls(SIGNALS, "/management-actions")[0])["org_unit_id"] is None


POOLED = """
query Pooled($actionType: ManagementActionType!) {
  managementActionEffects(actionType: $actionType) {
    actionType minOrganisations enoughOrganisations note
    categories { category explanation effect { ratio ciLow ciHigh verdict organisations actions } }
  }
}
"""


@pytest.mark.asyncio
async def test_the_pooled_report_maps_for_provider_staff(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    report = {
        "action_type": "individual_talks_held",
        "min_organisations": 3,
        "enough_organisations": True,
        "note": None,
        "categories": [
            {
                "category": "reorganisation_uncertainty",
                "effect": {
                    "ratio": 0.62,
                    "ci_low": 0.45,
                    "ci_high": 0.85,
                    "p_value": 0.003,
                    "tau_squared": 0.02,
                    "i_squared": 0.3,
                    "actions": 9,
                    "organisations": 4,
                    "verdict": "helps",
                },
                "explanation": "Fewer referrals after individual talks.",
            },
            {"category": "dismissal", "effect": None, "explanation": "Too few organisations."},
        ],
    }
    services.reply("GET", SIGNALS, "/management-action-effects", 200, report)

    response = await graphql(
        gateway, POOLED, {"actionType": "INDIVIDUAL_TALKS_HELD"}, token=account_manager(signing_key)
    )

    assert response.json()["data"]["managementActionEffects"] == {
        "actionType": "INDIVIDUAL_TALKS_HELD",
        "minOrganisations": 3,
        "enoughOrganisations": True,
        "note": None,
        "categories": [
            {
                "category": "REORGANISATION_UNCERTAINTY",
                "explanation": "Fewer referrals after individual talks.",
                "effect": {
                    "ratio": 0.62,
                    "ciLow": 0.45,
                    "ciHigh": 0.85,
                    "verdict": "HELPS",
                    "organisations": 4,
                    "actions": 9,
                },
            },
            {"category": "DISMISSAL", "explanation": "Too few organisations.", "effect": None},
        ],
    }
    [call] = services.calls(SIGNALS, "/management-action-effects")
    assert dict(call.url.params) == {"action_type": "individual_talks_held"}


@pytest.mark.asyncio
async def test_the_pooled_report_is_not_for_client_organisations(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    token = signing_key.mint("client_contact", tenant_id=TENANT)

    response = await graphql(gateway, POOLED, {"actionType": "INDIVIDUAL_TALKS_HELD"}, token=token)

    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN"}
    assert error["message"] == "this report is for provider staff only"
    assert services.requests == []


# -- secondment observations --------------------------------------------------------------------------------------

RECORD_OBSERVATION = """
mutation Observe($input: RecordSecondmentObservationInput!) {
  recordSecondmentObservation(input: $input) {
    __typename
    ... on SecondmentObservationRecorded { observation { id bottleneck observedOn severity recordedBy } }
    ... on ValidationFailed { message fields { path message } }
    ... on Forbidden { message }
    ... on ServiceUnavailable { message }
  }
}
"""


def observation_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "tenantId": str(TENANT),
        "orgUnitId": str(ORG_UNIT),
        "bottleneck": "MANAGERS_AVOID_INDIVIDUAL_TALKS",
        "observedOn": "2026-03-04",
        "severity": 2,
    }
    values.update(overrides)
    return values


@pytest.mark.asyncio
async def test_a_seconded_social_worker_records_an_observation(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply("POST", SIGNALS, "/secondment-observations", 201, observation_body())
    token = signing_key.mint("social_worker", sub="worker-7")

    response = await graphql(
        gateway, RECORD_OBSERVATION, {"input": observation_input(idempotencyKey="observation-1")}, token=token
    )

    assert response.json()["data"]["recordSecondmentObservation"] == {
        "__typename": "SecondmentObservationRecorded",
        "observation": {
            "id": str(OBSERVATION_ID),
            "bottleneck": "MANAGERS_AVOID_INDIVIDUAL_TALKS",
            "observedOn": "2026-03-04",
            "severity": 2,
            "recordedBy": "worker-7",
        },
    }
    [call] = services.calls(SIGNALS, "/secondment-observations")
    assert json_body(call) == {
        "tenant_id": str(TENANT),
        "org_unit_id": str(ORG_UNIT),
        "bottleneck": "managers_avoid_individual_talks",
        "observed_on": "2026-03-04",
        "severity": 2,
    }
    assert call.headers["idempotency-key"] == "observation-1"


@pytest.mark.asyncio
async def test_observations_are_for_social_workers_and_signals_checks_the_severity(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    services.reply(
        "POST",
        SIGNALS,
        "/secondment-observations",
        422,
        error_body("validation_failed", "invalid input: body.severity", [("body.severity", "at most 3")]),
    )

    by_contact = await graphql(
        gateway,
        RECORD_OBSERVATION,
        {"input": observation_input()},
        token=signing_key.mint("client_contact", tenant_id=TENANT),
    )
    assert services.requests == []
    by_worker = await graphql(
        gateway, RECORD_OBSERVATION, {"input": observation_input(severity=7)}, token=signing_key.mint("social_worker")
    )

    assert by_contact.json()["data"]["recordSecondmentObservation"] == {
        "__typename": "Forbidden",
        "message": "this needs one of the roles: social_worker",
    }
    assert by_worker.json()["data"]["recordSecondmentObservation"] == {
        "__typename": "ValidationFailed",
        "message": "invalid input: body.severity",
        "fields": [{"path": "input.severity", "message": "at most 3"}],
    }


@pytest.mark.asyncio
async def test_a_client_contact_reads_observations_without_who_recorded_them(
    gateway: httpx.AsyncClient, services: FakeServices, signing_key: SigningKey
) -> None:
    # signals leaves the recorder out for client contacts; the gateway does so too, should signals not
    services.reply("GET", SIGNALS, "/secondment-observations", 200, [observation_body()])
    token = signing_key.mint("client_contact", tenant_id=TENANT)
    query = """
    query Observations($tenantId: ID!, $since: Date) {
      secondmentObservations(tenantId: $tenantId, since: $since) { nodes { id bottleneck severity recordedBy } }
    }
    """

    response = await graphql(gateway, query, {"tenantId": str(TENANT), "since": "2026-01-01"}, token=token)

    assert response.json()["data"]["secondmentObservations"]["nodes"] == [
        {"id": str(OBSERVATION_ID), "bottleneck": "MANAGERS_AVOID_INDIVIDUAL_TALKS", "severity": 2, "recordedBy": None}
    ]
    [call] = services.calls(SIGNALS, "/secondment-observations")
    assert dict(call.url.params) == {"tenant_id": str(TENANT), "since": "2026-01-01"}
