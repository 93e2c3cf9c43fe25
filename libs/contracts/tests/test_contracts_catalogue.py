"""The event catalogue: naming, documentation, data minimisation and money rules."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from bmw.contracts.compat import iter_properties
from bmw.contracts.envelope import CloudEvent, topic_for
from bmw.contracts.events import EventData, all_event_types, event, event_class
from bmw.contracts.events.billing import ClientRegistered, ContractActivated, InvoiceIssued, UsageRecorded
from bmw.contracts.events.scheduling import AppointmentCancelled, SecondmentHoursLogged
from bmw.contracts.events.signals import EvidenceSummary, OpportunityStageChanged
from bmw.contracts.schemas import schema_for

U = uuid.UUID("00000000-0000-4000-8000-000000000001")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EVIDENCE = {"method": "poisson_tail", "categories": ["conflict_manager"], "observed_count": 9, "expected_count": 2.5}
PRODUCT = {"code": "STRIPPENKAART-40", "kind": "hour_bundle", "unit_price_cents": 11_500, "vat_rate": "exempt"}
APPOINTMENT = {
    "appointment_id": U,
    "kind": "intake",
    "case_id": U,
    "worker_id": U,
    "start": START,
    "duration_minutes": 60,
}
WORKSHOP = {"workshop_id": U, "theme": "giving_and_receiving_feedback", "start": START, "participants_count": 12}
CLIENT = {"tenant_id": U, "name": "Gemeente Voorbeeld", "org_units": [{"id": U, "name": "Logistiek", "employees": 120}]}

#: One valid instance of every event type: a new type must add one here.
EXAMPLES: dict[str, dict[str, Any]] = {
    "intake.referral.received.v1": {
        "referral_id": U,
        "channel": "hr",
        "org_unit_id": U,
        "category": "workload_stress",
        "urgency": "normal",
        "received_at": START,
        "historical": True,
    },
    "intake.case.opened.v1": {
        "case_id": U,
        "referral_id": U,
        "client_ref": "cr_3f9a",
        "org_unit_id": U,
        "category": "burnout_risk",
        "urgency": "urgent",
        "sla_deadline": START,
    },
    "intake.case.assigned.v1": {"case_id": U, "worker_id": U},
    "intake.case.closed.v1": {"case_id": U, "outcome": "resolved", "duration_days": 40},
    "intake.consent.changed.v1": {"client_ref": "cr_3f9a", "purpose": "anonymised_statistics", "granted": True},
    "intake.client.erased.v1": {"client_ref": "cr_3f9a"},
    "intake.referral.expired.v1": {"referral_id": U, "org_unit_id": U},
    "intake.case.reopened.v1": {"case_id": U, "worker_id": U},
    "intake.case.escalated.v1": {"case_id": U, "reason": "no_capacity_before_deadline"},
    "scheduling.appointment.booked.v1": APPOINTMENT,
    "scheduling.appointment.rescheduled.v1": {**APPOINTMENT, "previous_start": START},
    "scheduling.appointment.cancelled.v1": {**APPOINTMENT, "late": True, "cancelled_by": "employee"},
    "scheduling.appointment.completed.v1": {
        **APPOINTMENT,
        "kind": "manager_consultation",
        "case_id": None,
        "topic": "conflict_manager",
    },
    "scheduling.appointment.no_show.v1": {**APPOINTMENT, "kind": "consult", "duration_minutes": 45},
    "scheduling.intake.unschedulable.v1": {"case_id": U, "reason": "no_capacity_before_deadline"},
    "scheduling.workshop.scheduled.v1": WORKSHOP,
    "scheduling.workshop.completed.v1": WORKSHOP,
    "scheduling.workshop.cancelled.v1": {**WORKSHOP, "late": True, "cancelled_by": "client_organisation"},
    "scheduling.secondment.hours_logged.v1": {"worker_id": U, "hours": "7.5", "date": date(2026, 3, 2)},
    "billing.client.registered.v1": CLIENT,
    "billing.client.updated.v1": CLIENT,
    "billing.contract.activated.v1": {
        "contract_id": U,
        "products": [{**PRODUCT, "included_quantity": "40", "overage_unit_price_cents": 12_500}],
        "period_start": date(2026, 1, 1),
        "period_end": date(2026, 12, 31),
    },
    "billing.contract.ended.v1": {
        "contract_id": U,
        "products": [PRODUCT],
        "period_start": date(2026, 1, 1),
        "period_end": date(2026, 6, 30),
    },
    "billing.contract.threshold_reached.v1": {"contract_id": U, "product_code": "STRIPPENKAART-40", "percent": 80},
    "billing.contract.expiring.v1": {"contract_id": U, "end_date": date(2026, 12, 31)},
    "billing.usage.recorded.v1": {
        "usage_id": U,
        "contract_id": U,
        "product_code": "STRIPPENKAART-40",
        "quantity": "1.25",
        "occurred_at": START,
        "source_event_id": U,
    },
    "billing.invoice.issued.v1": {
        "invoice_id": U,
        "number": "2026-000123",
        "issue_date": date(2026, 4, 1),
        "net_cents": 100_000,
        "vat_cents": 21_000,
        "gross_cents": 121_000,
    },
    "signals.signal.raised.v1": {
        "signal_id": U,
        "kind": "leadership_conflict_cluster",
        "org_unit_id": U,
        "evidence_summary": {**EVIDENCE, "p_value": 0.004, "weeks": 4, "baseline_weeks": 26},
        "suppressed": False,
    },
    "signals.signal.resolved.v1": {
        "signal_id": U,
        "kind": "stress_surge",
        "evidence_summary": {**EVIDENCE, "method": "cusum", "score": 1.2, "weeks": 4},
        "suppressed": True,
    },
    "signals.signal.reviewed.v1": {
        "signal_id": U,
        "kind": "reorganisation_wave",
        "org_unit_id": U,
        "evidence_summary": {**EVIDENCE, "p_value": 0.0004, "weeks": 2, "baseline_weeks": 52},
        "suppressed": False,
        "decision": "confirmed",
        "reason": "matches_what_we_see",
    },
    "signals.opportunity.created.v1": {
        "opportunity_id": U,
        "signal_id": U,
        "recommended_interventions": ["workshop_feedback", "coaching_managers"],
        "estimated_value_cents": 290_000,
    },
    "signals.opportunity.stage_changed.v1": {
        "opportunity_id": U,
        "signal_id": U,
        "recommended_interventions": ["secondment_on_site"],
        "estimated_value_cents": 1_250_000,
        "stage": "proposed",
        "previous_stage": "contacted",
    },
}

EVENT_TYPE = re.compile(r"^(?P<producer>[a-z]+)(\.[a-z][a-z_]*)+\.v(?P<version>[1-9][0-9]*)$")
PRODUCERS = {"intake", "scheduling", "billing", "signals"}


# -- naming -----------------------------------------------------------------------------------------


def test_catalogue_covers_every_producer() -> None:
    producers = {t.split(".", 1)[0] for t in all_event_types()}
    assert producers == PRODUCERS


@pytest.mark.parametrize("event_type", sorted(all_event_types()))
def test_event_type_is_versioned_and_lives_with_its_producer(event_type: str) -> None:
    model = all_event_types()[event_type]
    match = EVENT_TYPE.match(event_type)

    assert match, f"{event_type} must read <producer>.<aggregate>.<fact>.v<N>"
    producer = match["producer"]
    assert model.event_type == event_type
    assert model.producer == producer
    assert model.__module__ == f"bmw.contracts.events.{producer}", (
        f"{event_type} is produced by {producer}; define it in bmw.contracts.events.{producer}"
    )
    assert topic_for(event_type) == f"bmw.{producer}.events"
    assert event_class(event_type) is model


def test_event_decorator_rejects_an_unversioned_type() -> None:
    with pytest.raises(ValueError, match="version"):
        event("intake.case.reopened")


def test_event_decorator_rejects_a_duplicate_type() -> None:
    with pytest.raises(ValueError, match="registered twice"):

        @event("intake.case.opened.v1")
        class Again(EventData):
            pass


# -- examples: valid data of every type survives the wire -----------------------------------------


def test_every_event_type_has_an_example() -> None:
    assert set(EXAMPLES) == set(all_event_types())


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_example_round_trips_through_the_kafka_codec(event_type: str) -> None:
    payload = all_event_types()[event_type].model_validate(EXAMPLES[event_type])
    event = CloudEvent.create(payload, tenant_id=U)

    decoded = CloudEvent.from_kafka(event.kafka_headers(), event.kafka_value())

    assert decoded.payload() == payload
    json.loads(event.kafka_value())  # plain JSON: no Decimal or datetime objects leak


# -- documentation and shape of every schema -----------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(all_event_types()))
def test_every_field_is_described(event_type: str) -> None:
    undocumented = [path for path, prop in iter_properties(schema_for(event_type)) if not prop.get("description")]
    assert not undocumented, f"{event_type}: give these fields Field(description=...): {undocumented}"


@pytest.mark.parametrize("event_type", sorted(all_event_types()))
def test_every_object_rejects_unknown_fields(event_type: str) -> None:
    schema = schema_for(event_type)
    objects = [schema, *(d for d in schema.get("$defs", {}).values() if d.get("type") == "object")]
    assert all(obj.get("additionalProperties") is False for obj in objects), (
        f"{event_type}: models on the wire derive from WireModel (extra='forbid')"
    )


# -- data minimisation: no PII on the wire -------------------------------------------------------

#: Words that suggest a field carries a person's identity or words about them.
PII_WORDS = ("name", "email", "phone", "address", "birth", "note", "text", "description", "bsn", "iban", "comment")

#: Fields that match a PII word but are not about a person. Keep this list short and explicit.
PII_ALLOWED: dict[tuple[str, str], str] = {
    ("billing.client.registered.v1", "org_units[].name"): "name of a department or location, not a person",
    ("billing.client.updated.v1", "org_units[].name"): "name of a department or location, not a person",
    ("billing.client.registered.v1", "name"): "legal name of the client organisation, not a person",
    ("billing.client.updated.v1", "name"): "legal name of the client organisation, not a person",
}


def _pii_like_fields() -> list[tuple[str, str]]:
    found = []
    for event_type in all_event_types():
        for path, _ in iter_properties(schema_for(event_type)):
            field = path.rsplit(".", 1)[-1].lower()
            if any(word in field for word in PII_WORDS):
                found.append((event_type, path))
    return found


def test_no_event_carries_pii_looking_fields() -> None:
    offending = [f"{t}: {p}" for t, p in _pii_like_fields() if (t, p) not in PII_ALLOWED]
    assert not offending, (
        "events carry no names, contact data, notes or free text (DESIGN §2.1, §2.4); "
        f"found {offending}. Use ids, pseudonyms (client_ref) and enums instead."
    )


def test_pii_allow_list_has_no_stale_entries() -> None:
    stale = set(PII_ALLOWED) - set(_pii_like_fields())
    assert not stale, f"remove allow-list entries that no longer match a field: {sorted(stale)}"


def test_pii_scan_sees_nested_fields() -> None:
    # the scan must look inside nested models and arrays, or the allow-list above would be stale
    assert ("billing.client.registered.v1", "org_units[].name") in _pii_like_fields()


# -- money -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(all_event_types()))
def test_money_is_integer_cents(event_type: str) -> None:
    for path, prop in iter_properties(schema_for(event_type)):
        if path.endswith("_cents"):
            types = {prop.get("type")} | {b.get("type") for b in prop.get("anyOf", [])}
            assert types - {None, "null"} == {"integer"}, f"{event_type}: {path} must be integer cents"
        assert "price" not in path or path.endswith("_cents"), f"{event_type}: {path} must be in _cents"


def test_invoice_totals_must_add_up() -> None:
    base = EXAMPLES["billing.invoice.issued.v1"]
    with pytest.raises(ValidationError, match="net_cents \\+ vat_cents"):
        InvoiceIssued.model_validate({**base, "gross_cents": 121_001})


def test_invoice_has_no_negative_totals_but_a_credit_note_has() -> None:
    credit = {
        **EXAMPLES["billing.invoice.issued.v1"],
        "net_cents": -100_000,
        "vat_cents": -21_000,
        "gross_cents": -121_000,
    }
    with pytest.raises(ValidationError, match="credit note"):
        InvoiceIssued.model_validate(credit)
    assert InvoiceIssued.model_validate({**credit, "corrects_invoice_id": U}).gross_cents == -121_000
    with pytest.raises(ValidationError, match="no positive totals"):
        InvoiceIssued.model_validate({**EXAMPLES["billing.invoice.issued.v1"], "corrects_invoice_id": U})


@pytest.mark.parametrize("number", ["2026-123", "26-000123", "2026/000123", "2026-0001234"])
def test_invoice_number_pattern(number: str) -> None:
    with pytest.raises(ValidationError, match="number"):
        InvoiceIssued.model_validate({**EXAMPLES["billing.invoice.issued.v1"], "number": number})


@pytest.mark.parametrize("amount", [1.5, "1.5"])
def test_cents_reject_fractions(amount: object) -> None:
    with pytest.raises(ValidationError, match="net_cents"):
        InvoiceIssued.model_validate({**EXAMPLES["billing.invoice.issued.v1"], "net_cents": amount})


def test_hours_are_exact_to_two_places() -> None:
    logged = SecondmentHoursLogged.model_validate(EXAMPLES["scheduling.secondment.hours_logged.v1"])

    assert logged.hours == Decimal("7.50")
    assert json.loads(logged.model_dump_json())["hours"] == "7.50"
    for bad in ("7.505", "0", "-1", "24.25", "NaN"):
        with pytest.raises(ValidationError, match="hours"):
            SecondmentHoursLogged.model_validate({**EXAMPLES["scheduling.secondment.hours_logged.v1"], "hours": bad})


def test_usage_quantity_is_a_positive_decimal() -> None:
    usage = UsageRecorded.model_validate(EXAMPLES["billing.usage.recorded.v1"])
    assert usage.quantity == Decimal("1.25")
    with pytest.raises(ValidationError, match="quantity"):
        UsageRecorded.model_validate({**EXAMPLES["billing.usage.recorded.v1"], "quantity": "0"})


def test_an_org_unit_headcount_is_optional_and_a_positive_whole_number() -> None:
    unit = {"id": U, "name": "Logistiek"}
    assert ClientRegistered.model_validate({**CLIENT, "org_units": [unit]}).org_units[0].employees is None
    assert ClientRegistered.model_validate(CLIENT).org_units[0].employees == 120
    for bad in (0, -3, 12.5, "veel", 1_000_001):
        with pytest.raises(ValidationError, match="employees"):
            ClientRegistered.model_validate({**CLIENT, "org_units": [{**unit, "employees": bad}]})


# -- other domain rules ----------------------------------------------------------------------------


def test_contract_period_must_be_in_order() -> None:
    example = EXAMPLES["billing.contract.activated.v1"]
    with pytest.raises(ValidationError, match="period_end lies before period_start"):
        ContractActivated.model_validate({**example, "period_end": date(2025, 12, 31)})


@pytest.mark.parametrize("field", ["vat_rate", "kind"])
def test_contract_products_use_the_taxonomy(field: str) -> None:
    example = EXAMPLES["billing.contract.activated.v1"]
    with pytest.raises(ValidationError, match=field):
        ContractActivated.model_validate({**example, "products": [{**PRODUCT, field: "high"}]})


def test_catalogue_codes_cannot_carry_free_text() -> None:
    example = EXAMPLES["signals.opportunity.created.v1"]
    with pytest.raises(ValidationError, match="pattern"):
        all_event_types()["signals.opportunity.created.v1"].model_validate(
            {**example, "recommended_interventions": ["talk to Jan about his burnout"]}
        )


def test_appointment_start_must_be_aware() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        AppointmentCancelled.model_validate(
            {**EXAMPLES["scheduling.appointment.cancelled.v1"], "start": datetime(2026, 3, 2, 9)}
        )


def test_cancelled_by_is_a_party_not_a_person() -> None:
    with pytest.raises(ValidationError, match="cancelled_by"):
        AppointmentCancelled.model_validate(
            {**EXAMPLES["scheduling.appointment.cancelled.v1"], "cancelled_by": "Jan Jansen"}
        )


def test_evidence_needs_a_test_result() -> None:
    with pytest.raises(ValidationError, match="p_value or a score"):
        EvidenceSummary.model_validate({**EVIDENCE, "weeks": 4})
    with pytest.raises(ValidationError, match="p_value"):
        EvidenceSummary.model_validate({**EVIDENCE, "weeks": 4, "p_value": 1.5})


def test_opportunity_stage_change_must_move() -> None:
    example = EXAMPLES["signals.opportunity.stage_changed.v1"]
    with pytest.raises(ValidationError, match="previous_stage"):
        OpportunityStageChanged.model_validate({**example, "stage": "contacted"})


def test_opportunity_starts_new() -> None:
    created = all_event_types()["signals.opportunity.created.v1"].model_validate(
        EXAMPLES["signals.opportunity.created.v1"]
    )
    assert created.model_dump()["stage"] == "new"
