"""The rights of the person in signals: the right-of-access export, erasure, and the retention job, against the
real database and broker.

Data is seeded the way it arrives in production: intake's referral, case and consent events.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.intake import CaseOpened, ClientErased, ConsentChanged, ReferralReceived
from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually
from bmw.servicekit.uow import UnitOfWorkFactory
from bmw.servicekit.walls import TenantScope, scoped
from bmw.signals.__main__ import retention
from bmw.signals.adapters.tables import REFERRAL_CONTRIBUTIONS, STATISTICS_OPT_OUTS, WEEKLY_COUNTS
from bmw.signals.application.persons import apply_retention
from bmw.signals.domain.weeks import week_start
from bmw.signals.settings import SignalsSettings

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def new_ref() -> str:
    return "c_" + secrets.token_urlsafe(16)


def admin(dev_keys: Any) -> dict[str, str]:
    return bearer(dev_keys.mint("provider_admin"))


def referral_and_case(
    tenant: uuid.UUID, unit: uuid.UUID, category: Category, client_ref: str | None, when: datetime
) -> list[CloudEvent]:
    """A referral, and (with a pseudonym) the case intake opened from it."""
    referral = ReferralReceived(
        referral_id=uuid.uuid4(),
        channel=Channel.SELF,
        org_unit_id=unit,
        category=category,
        urgency=Urgency.NORMAL,
        received_at=when,
    )
    events = [CloudEvent.create(referral, tenant_id=tenant)]
    if client_ref is not None:
        opened = CaseOpened(
            case_id=uuid.uuid4(),
            referral_id=referral.referral_id,
            client_ref=client_ref,
            org_unit_id=unit,
            category=category,
            urgency=Urgency.NORMAL,
            sla_deadline=when + timedelta(days=5),
        )
        events.append(CloudEvent.create(opened, tenant_id=tenant))
    return events


async def linked(signals: ServiceUnderTest, *client_refs: str) -> None:
    """Wait until every pseudonym is on a contribution or an opt-out."""

    async def all_there() -> bool:
        async with signals.sessions() as session:
            counted = set(
                (
                    await session.execute(
                        select(REFERRAL_CONTRIBUTIONS.c.client_ref).where(
                            REFERRAL_CONTRIBUTIONS.c.client_ref.in_(client_refs)
                        )
                    )
                ).scalars()
            )
            opted = set(
                (
                    await session.execute(
                        select(STATISTICS_OPT_OUTS.c.client_ref).where(
                            STATISTICS_OPT_OUTS.c.client_ref.in_(client_refs)
                        )
                    )
                ).scalars()
            )
        return counted | opted == set(client_refs)

    await eventually(all_there, what="signals to link the cases to their referrals")


async def export(signals: ServiceUnderTest, client_ref: str, headers: dict[str, str]) -> Any:
    response = await signals.client.get(f"/persons/{client_ref}/export", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_export_says_where_the_person_is_counted_and_nothing_after_erasure(
    signals: ServiceUnderTest, dev_keys: Any
) -> None:
    tenant, (logistics, finance) = await signals.register_tenant("Logistiek", "Finance")
    anna, bert, carla = new_ref(), new_ref(), new_ref()
    when = NOW - timedelta(days=3)
    anna_events = referral_and_case(tenant, logistics, Category.REORGANISATION_UNCERTAINTY, anna, when)
    events = [
        *anna_events,
        *referral_and_case(tenant, finance, Category.CONFLICT_MANAGER, bert, when),
        *referral_and_case(tenant, finance, Category.WORKLOAD_STRESS, carla, when),
    ]
    withdrawn = ConsentChanged(client_ref=carla, purpose="anonymised_statistics", granted=False)
    await signals.publish([*events, CloudEvent.create(withdrawn, tenant_id=tenant)])
    await linked(signals, anna, bert, carla)

    exported = await export(signals, anna, admin(dev_keys))
    assert exported["client_ref"] == anna
    assert exported["counted_referrals"] == [
        {
            "referral_id": anna_events[0].data["referral_id"],
            "tenant_id": str(tenant),
            "org_unit_id": str(logistics),
            "org_unit_name": "Logistiek",
            "category": "reorganisation_uncertainty",
            "week_start": week_start(when).isoformat(),
        }
    ]
    assert (exported["opted_out_of_statistics"], exported["statistics_opt_outs"]) == (False, [])
    assert str(finance) not in str(exported), "nobody else's referral"
    opted_out = await export(signals, carla, admin(dev_keys))
    assert opted_out["counted_referrals"] == [], "a withdrawn consent takes the referral out of the counts"
    assert opted_out["opted_out_of_statistics"] is True
    assert [o["tenant_id"] for o in opted_out["statistics_opt_outs"]] == [str(tenant)]

    erased = ClientErased(client_ref=anna, erased_at=datetime.now(UTC))
    await signals.publish([CloudEvent.create(erased, tenant_id=tenant, subject=anna)])

    async def forgotten() -> bool:
        return (await export(signals, anna, admin(dev_keys)))["counted_referrals"] == []

    await eventually(forgotten, what="signals to apply the erasure")
    assert len((await export(signals, bert, admin(dev_keys)))["counted_referrals"]) == 1, "Bert is still counted"


@pytest.mark.parametrize(
    ("role", "claims"),
    [
        ("social_worker", {}),
        ("account_manager", {"portfolio": []}),
        ("client_contact", {"tenant_id": uuid.uuid4()}),
        ("employee", {"tenant_id": uuid.uuid4()}),
        ("integration", {"tenant_id": uuid.uuid4(), "scopes": ["trends:read"]}),
    ],
)
async def test_only_provider_admins_ask(
    signals: ServiceUnderTest, dev_keys: Any, role: str, claims: dict[str, Any]
) -> None:
    refused = await signals.client.get(f"/persons/{new_ref()}/export", headers=bearer(dev_keys.mint(role, **claims)))
    assert refused.status_code == 403, refused.text


async def test_an_unknown_ref_is_empty_and_a_malformed_one_is_refused(signals: ServiceUnderTest, dev_keys: Any) -> None:
    unknown = new_ref()
    empty = await export(signals, unknown, admin(dev_keys))
    assert (empty["client_ref"], empty["counted_referrals"], empty["statistics_opt_outs"]) == (unknown, [], [])
    assert empty["opted_out_of_statistics"] is False
    assert (await signals.client.get(f"/persons/{unknown}/export")).status_code == 401
    for malformed in ("c_short", "C_0123456789ab", "c_0123456789ab!"):
        refused = await signals.client.get(f"/persons/{malformed}/export", headers=admin(dev_keys))
        assert refused.status_code == 422, (malformed, refused.text)
        assert refused.json()["error"]["fields"][0]["path"] == "path.client_ref"


async def test_retention_drops_old_weeks_links_and_keeps_the_counts(signals: ServiceUnderTest, dev_keys: Any) -> None:
    tenant, (unit,) = await signals.register_tenant("Productie")
    old, new = new_ref(), new_ref()
    old_week, new_week = NOW - timedelta(days=35), NOW - timedelta(days=7)
    await signals.publish(
        [
            *referral_and_case(tenant, unit, Category.BURNOUT_RISK, old, old_week),
            *referral_and_case(tenant, unit, Category.BURNOUT_RISK, None, old_week),  # no case (yet): no pseudonym
            *referral_and_case(tenant, unit, Category.BURNOUT_RISK, new, new_week),
        ]
    )
    await linked(signals, old, new)

    async def state() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        async with signals.sessions() as session:
            counts = await session.execute(
                select(WEEKLY_COUNTS.c.week_start, WEEKLY_COUNTS.c.category, WEEKLY_COUNTS.c.referrals)
                .where(WEEKLY_COUNTS.c.tenant_id == tenant)
                .order_by(WEEKLY_COUNTS.c.week_start)
            )
            contributions = await session.execute(
                select(REFERRAL_CONTRIBUTIONS.c.week_start, REFERRAL_CONTRIBUTIONS.c.client_ref)
                .where(REFERRAL_CONTRIBUTIONS.c.tenant_id == tenant)
                .order_by(REFERRAL_CONTRIBUTIONS.c.week_start, REFERRAL_CONTRIBUTIONS.c.client_ref)
            )
            return [tuple(r) for r in counts.all()], [tuple(r) for r in contributions.all()]

    counts_before, contributions_before = await state()
    assert counts_before == [
        (week_start(old_week), "burnout_risk", 2),
        (week_start(new_week), "burnout_risk", 1),
    ]
    # Two years and two weeks after the old week: it is past the period, the new week is not yet.
    now = old_week + timedelta(days=730 + 14)
    uow = UnitOfWorkFactory(signals.sessions)
    with scoped(TenantScope(tenant_ids=frozenset({tenant}))):  # this test's organisation only
        dry = await apply_retention(uow=uow, retention_days=730, now=now, dry_run=True)
        assert (dry.contributions, dry.with_pseudonym, dry.dry_run) == (2, 1, True)
        assert await state() == (counts_before, contributions_before), "a dry run changes nothing"
        report = await apply_retention(uow=uow, retention_days=730, now=now)
    assert (report.contributions, report.with_pseudonym, report.dry_run) == (2, 1, False)

    counts_after, contributions_after = await state()
    assert counts_after == counts_before, "the weekly counts stay"
    assert contributions_after == [(week_start(new_week), new)], "only the new week's link is kept"
    assert (await export(signals, old, admin(dev_keys)))["counted_referrals"] == []
    assert len((await export(signals, new, admin(dev_keys)))["counted_referrals"]) == 1

    # Both erased now: the recent referral leaves its week's count; the old week is anonymous history and stays.
    await signals.publish([CloudEvent.create(ClientErased(client_ref=ref), tenant_id=tenant) for ref in (old, new)])

    async def new_uncounted() -> bool:
        return (await state())[0][-1][2] == 0

    await eventually(new_uncounted, what="the erased recent referral to leave its week's count")
    async with signals.sessions() as session:
        old_count = await session.scalar(
            select(func.sum(WEEKLY_COUNTS.c.referrals)).where(
                WEEKLY_COUNTS.c.tenant_id == tenant, WEEKLY_COUNTS.c.week_start == week_start(old_week)
            )
        )
    assert old_count == 2


async def test_the_retention_command_says_in_one_line_what_a_dry_run_would_do(signals: ServiceUnderTest) -> None:
    # What `python -m bmw.signals retention --dry-run` prints, run in process (a new interpreter costs seconds).
    settings = SignalsSettings(database_url=signals.database_url, kafka_bootstrap_servers=signals.bootstrap)
    line = await retention(settings, dry_run=True)
    assert re.fullmatch(
        r"would drop \d+ referral contribution\(s\) \(\d+ with a pseudonym\) of weeks before "
        r"\d{4}-\d\d-\d\d \(730 days\); weekly counts unchanged",
        line,
    ), line
