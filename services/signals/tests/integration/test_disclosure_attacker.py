"""A client contact plays attacker against the running signals service (DESIGN §2 rule 2, issue 8).

The organisation: a department with two teams below it and a second department; 40 weeks of referrals in two
categories, mostly 0 to 3 a week per unit (written into the weekly table, as an import would), so that most
monthly cells are small, and one quiet month without workload stress; in the current week five conflicts with a
manager in one team beside one in its sibling team (published as intake's events), which the detectors raise as
a signal and a social worker confirms. The ground truth is what the service counted (its weekly table, read
back).

The attacker holds a client contact's token and asks, in any order and number hypothesis picks, everything such
a token may ask for numbers: trends over any period; management actions recorded on any day (one, or a run a
week apart) with their before/after effects; the latest actions' effects at once; the signals list and each
signal. Every answer becomes linear facts over the atomic cells (unit's own referrals × category × week):

- a shown count: the cells it adds up sum to it;
- a hidden count: they sum to at least one (zeros are shown, so a hidden number is never zero), except the rest
  of the organisation beside an action's unit, which is hidden with the unit or the total whatever it is;
- a category an answer leaves out: its cells are zero;
- a signal the client sees: at least k referrals of its kind in its unit (its subtree for a parent unit) in its
  weeks, since a client is shown only signals whose observed count is at least k;
- an explanation that says a hidden count is "fewer than k": that it is at most k-1.

The attacker knows the org tree, k, the calendar and every rule of this service (the module docstrings). The
check, per example: every number that should stay unknown (a hidden count of 1..k-1, a unit's own count in a
month of 1..k-1, one week's count of 1..k-1 in a unit, a subtree or the organisation) must have a second
possible world: non-negative integer cells that meet every fact and differ on that number. Worlds are searched
as single moves of one referral from the truth (between units in the same week, between weeks of one unit and
month, or in or out of the organisation): a witness proves the number unknown; a number without one fails the
test, with the published numbers that give it exactly when a linear combination does.

Before the fixes this found: the organisation's conflicts of a hidden month (1) as an action's 12-week window
minus the visible month inside it; one week's count (1) as two windows a week apart; the sibling team's single
conflict (1) beside the confirmed signal in its team and their visible department; and an explanation that
called a hidden count of 29 "fewer than 5".
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from bmw.contracts.envelope import CloudEvent
from bmw.contracts.events.billing import ClientRegistered, OrgUnit
from bmw.contracts.events.intake import ReferralReceived
from bmw.contracts.taxonomy import Category, Channel, Urgency
from bmw.devstack.testing import ServiceUnderTest, bearer, eventually
from bmw.servicekit.tenants import ORG_UNITS
from bmw.signals.adapters.tables import WEEKLY_COUNTS
from bmw.signals.application.trends import month_of_week, month_weeks
from bmw.signals.domain.codes import ManagementActionType
from bmw.signals.domain.detection import DEFAULT_SPECS
from bmw.signals.domain.weeks import AMSTERDAM

pytestmark = pytest.mark.integration

K = 5
WEEKS = 40
TODAY = datetime.now(UTC).astimezone(AMSTERDAM).date()
THIS_WEEK = TODAY - timedelta(days=TODAY.weekday())
FIRST_WEEK = THIS_WEEK - timedelta(weeks=WEEKS)
#: The attacker's unknowns: every week a query can touch, also before the data and after today (zero, but the
#: attacker only knows what is published).
MODEL_FIRST = FIRST_WEEK - timedelta(weeks=20)
MODEL_LAST = THIS_WEEK + timedelta(weeks=8)
MODEL_WEEKS = [MODEL_FIRST + timedelta(weeks=i) for i in range((MODEL_LAST - MODEL_FIRST).days // 7 + 1)]

TREE: dict[str, str | None] = {
    "Operaties": None,
    "Operaties Noord": "Operaties",
    "Operaties Zuid": "Operaties",
    "Financien": None,
}
CATEGORIES = (Category.WORKLOAD_STRESS, Category.CONFLICT_MANAGER)
#: The signal of the current week: a cluster in one team, one referral in its sibling.
CLUSTER = {"Operaties Noord": 5, "Operaties Zuid": 1}
#: A quiet (holiday) month without workload stress anywhere: the trends show it as zeros, so every one of its weeks is
#: known to be zero, the anchor a sliding window needs to turn a difference of two windows into one week.
QUIET = month_of_week(FIRST_WEEK + timedelta(weeks=17))
QUIET_WEEKS_BACK = (THIS_WEEK - month_weeks(QUIET)[0]).days // 7
SPEC_CATEGORIES = {spec.kind.value: {c.value for c in spec.categories} for spec in DEFAULT_SPECS}

T = TypeVar("T")


# -- the organisation and its referrals ------------------------------------------------------------------------------


@dataclass
class World:
    """The seeded organisation, what the service counted, and the attacker's token."""

    tenant: uuid.UUID
    units: dict[str, uuid.UUID]
    truth: dict[tuple[uuid.UUID, str, date], int]
    token: str
    signal_ids: list[str]

    @property
    def unit_ids(self) -> list[uuid.UUID]:
        return [self.units[name] for name in TREE]

    def subtree(self, unit: uuid.UUID | None) -> frozenset[uuid.UUID]:
        if unit is None:
            return frozenset(self.unit_ids)
        names = {name for name, uid in self.units.items() if uid == unit}
        grown = True
        while grown:
            grown = False
            for name, parent in TREE.items():
                if parent in names and name not in names:
                    names.add(name)
                    grown = True
        return frozenset(self.units[name] for name in names)


def background(seed: int = 8) -> dict[tuple[str, Category, date], int]:
    """Mostly 0 to 3 referrals a week per unit and category; no conflicts in the cluster's month, no stress in
    the quiet month."""
    rng = random.Random(seed)
    cluster_month = month_of_week(THIS_WEEK)
    counts: dict[tuple[str, Category, date], int] = {}
    for i in range(WEEKS):
        week = FIRST_WEEK + timedelta(weeks=i)
        for name in TREE:
            for category in CATEGORIES:
                if category is Category.CONFLICT_MANAGER and month_of_week(week) == cluster_month:
                    continue
                if category is Category.WORKLOAD_STRESS and month_of_week(week) == QUIET:
                    continue
                weights = (55, 25, 12, 8) if category is Category.WORKLOAD_STRESS else (85, 12, 3, 0)
                n = rng.choices(range(4), weights=weights)[0]
                if n:
                    counts[(name, category, week)] = n
    for name, n in CLUSTER.items():
        counts[(name, Category.CONFLICT_MANAGER, THIS_WEEK)] = n
    return counts


def referral(tenant: uuid.UUID, unit: uuid.UUID, category: Category, week: date) -> CloudEvent:
    assert week == THIS_WEEK
    data = ReferralReceived(
        referral_id=uuid.uuid4(),
        channel=Channel.HR,
        org_unit_id=unit,
        category=category,
        urgency=Urgency.NORMAL,
        received_at=datetime.now(UTC),
    )
    return CloudEvent.create(data, tenant_id=tenant)


@pytest.fixture(scope="module")
async def world(signals: ServiceUnderTest, dev_keys: Any) -> World:
    tenant = uuid.uuid4()
    units = {name: uuid.uuid4() for name in TREE}
    profile = ClientRegistered(
        tenant_id=tenant,
        name="Doelwit BV",
        org_units=[
            OrgUnit(id=units[name], name=name, parent_id=units[parent] if parent else None)
            for name, parent in TREE.items()
        ],
        k_anonymity=K,
    )
    await signals.publish([CloudEvent.create(profile, tenant_id=tenant)])

    async def registered() -> bool:
        async with signals.sessions() as session:
            rows = (await session.execute(select(ORG_UNITS.c.id).where(ORG_UNITS.c.tenant_id == tenant))).all()
        return len(rows) == len(TREE)

    await eventually(registered, what="the organisation known to signals")
    seeded = background()
    # The weeks before this one straight into the weekly table (as an import would); this week's cluster as the
    # referrals intake publishes, so that the detectors see it arrive.
    async with signals.sessions() as session, session.begin():
        await session.execute(
            insert(WEEKLY_COUNTS),
            [
                {
                    "tenant_id": tenant,
                    "org_unit_id": units[name],
                    "category": category.value,
                    "week_start": week,
                    "referrals": n,
                }
                for (name, category, week), n in seeded.items()
                if week != THIS_WEEK
            ],
        )
    events = [
        referral(tenant, units[name], category, week)
        for (name, category, week), n in seeded.items()
        if week == THIS_WEEK
        for _ in range(n)
    ]
    await signals.publish(events)
    expected = {(units[name], category.value, week): n for (name, category, week), n in seeded.items()}
    truth: dict[tuple[uuid.UUID, str, date], int] = {}

    async def counted() -> bool:
        nonlocal truth
        async with signals.sessions() as session:
            rows = await session.execute(
                select(
                    WEEKLY_COUNTS.c.org_unit_id,
                    WEEKLY_COUNTS.c.category,
                    WEEKLY_COUNTS.c.week_start,
                    WEEKLY_COUNTS.c.referrals,
                ).where(WEEKLY_COUNTS.c.tenant_id == tenant, WEEKLY_COUNTS.c.referrals > 0)
            )
            truth = {(row[0], row[1], row[2]): int(row[3]) for row in rows}
        return sum(truth.values()) == sum(seeded.values())

    await eventually(counted, what="this week's referrals counted")
    assert truth == expected  # the ground truth is what the service holds

    admin = dev_keys.mint("provider_admin")
    run = await signals.client.post("/detection-runs", params={"tenant_id": str(tenant)}, headers=bearer(admin))
    assert run.status_code == 200, run.text
    raised = run.json()["raised"]
    worker = dev_keys.mint("social_worker", sub="disclosure-reviewer")
    for signal_id in raised:
        answer = await signals.client.post(
            f"/signals/{signal_id}/review",
            json={"decision": "confirmed", "reason": "matches_what_we_see"},
            headers=bearer(worker),
        )
        assert answer.status_code == 200, answer.text
    staff_view = await signals.client.get("/signals", params={"tenant_id": str(tenant)}, headers=bearer(admin))
    cluster = [
        s
        for s in staff_view.json()["items"]
        if s["kind"] == "leadership_conflict_cluster" and s["org_unit_id"] == str(units["Operaties Noord"])
    ]
    # The scenario needs its signal: a confirmed, unsuppressed cluster in the team (else the test proves nothing).
    assert cluster and not cluster[0]["internal"]["suppressed"], staff_view.text
    return World(tenant, units, truth, dev_keys.mint("client_contact", tenant_id=tenant), raised)


# -- what the attacker learns ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """sum(cells) == value ("eq"), >= value ("ge") or <= value ("le"); ``what`` says where it was published."""

    cells: frozenset[int]
    relation: str
    value: int
    what: str
    hidden: bool = False


@dataclass
class Model:
    """The attacker's unknowns (unit × category × week cells) and the facts gathered so far."""

    world: World
    index: dict[tuple[uuid.UUID, str, date], int] = field(default_factory=dict)
    facts: list[Fact] = field(default_factory=list)
    trend_months: set[tuple[date, date]] = field(default_factory=set)

    def __post_init__(self) -> None:
        for unit in self.world.unit_ids:
            for category in CATEGORIES:
                for week in MODEL_WEEKS:
                    self.index[(unit, category.value, week)] = len(self.index)

    def cells(self, units: Iterable[uuid.UUID], categories: Iterable[str], weeks: Iterable[date]) -> frozenset[int]:
        """The modelled cells of a published number; weeks outside the model hold no referral, known to all."""
        weeks = list(weeks)
        return frozenset(
            self.index[(unit, category, week)]
            for unit in units
            for category in categories
            for week in weeks
            if (unit, category, week) in self.index
        )

    def count(
        self, cells: frozenset[int], count: int | None, suppressed: bool, what: str, *, derived: bool = False
    ) -> None:
        """A published count; a hidden one is at least one, except a difference of hidden numbers (``derived``),
        which is hidden whenever they are, zero or not."""
        if suppressed or count is None:
            assert suppressed and count is None, f"{what}: a count is either shown or hidden"
            self.facts.append(Fact(cells, "ge", 0 if derived else 1, what, hidden=True))
        else:
            assert not 0 < count < K, f"{what}: a count of {count} is shown under k={K}"
            self.facts.append(Fact(cells, "eq", count, what))


def weeks_between(first: date, last: date) -> list[date]:
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


def learn_trends(model: Model, report: dict[str, Any]) -> None:
    world = model.world
    modelled = {c.value for c in CATEGORIES}
    for month in report["months"]:
        weeks = weeks_between(date.fromisoformat(month["first_week"]), date.fromisoformat(month["last_week"]))
        model.trend_months.add((weeks[0], weeks[-1]))
        shown = set()
        for entry in month["categories"]:
            category = entry["category"]
            assert category in modelled, f"trends show {category}, which had no referral"
            shown.add(category)
            where = f"trends {month['month']} {category}"
            model.count(
                model.cells(world.unit_ids, [category], weeks), entry["total"], entry["total_suppressed"], where
            )
            for unit in entry["units"]:
                uid = uuid.UUID(unit["org_unit_id"])
                model.count(
                    model.cells(world.subtree(uid), [category], weeks),
                    unit["count"],
                    unit["suppressed"],
                    f"{where} {unit['org_unit_name']}",
                )
        for category in modelled - shown:
            model.facts.append(
                Fact(model.cells(world.unit_ids, [category], weeks), "eq", 0, f"trends {month['month']} no {category}")
            )


def learn_effects(model: Model, effects: dict[str, Any]) -> None:
    world = model.world
    if not effects["categories"] and not effects["final"]:
        return  # nothing shown yet, as the client organisation sees an action before its windows are final
    assert effects["final"], "a client organisation sees categories only once the windows are final"
    first, last = date.fromisoformat(effects["first_week"]), date.fromisoformat(effects["last_week"])
    weeks = weeks_between(first, last)
    assert len(weeks) == effects["weeks_before"] + effects["weeks_after"]
    before, after = weeks[: effects["weeks_before"]], weeks[effects["weeks_before"] :]
    raw_unit = effects["action"]["org_unit_id"]
    unit = uuid.UUID(raw_unit) if raw_unit else None
    inside = world.subtree(unit)
    rest = frozenset(world.unit_ids) - inside
    label = f"effects of {effects['action']['action_type']} on {effects['action']['org_unit_name']} week {after[0]}"
    shown = set()
    for entry in effects["categories"]:
        category = entry["category"]
        shown.add(category)
        for side, span, seen in (("unit", inside, entry["unit"]), ("rest", rest, entry["comparison"])):
            if seen is None:
                continue
            for when, window in (("before", before), ("after", after)):
                model.count(
                    model.cells(span, [category], window),
                    seen[f"{when}_count"],
                    seen[f"{when}_suppressed"],
                    f"{label} {category} {side} {when}",
                    derived=side == "rest",
                )
            hidden = [when for when in ("before", "after") if seen[f"{when}_suppressed"]]
            text = entry["explanation"].lower()
            small = f"fewer than {K} referrals before or after" if side == "unit" else f"rests on fewer than {K}"
            if len(hidden) == 1 and small in text:
                # Only one of the two is hidden and the text calls it small: an upper bound on it.
                window = before if hidden[0] == "before" else after
                model.facts.append(
                    Fact(model.cells(span, [category], window), "le", K - 1, f"{label} {category} {side} text")
                )
    for category in {c.value for c in CATEGORIES} - shown:
        model.facts.append(Fact(model.cells(inside, [category], weeks), "eq", 0, f"{label} no {category}"))


def learn_signal(model: Model, signal: dict[str, Any]) -> None:
    categories = SPEC_CATEGORIES.get(signal["kind"])
    if categories is None or signal["org_unit_id"] is None:
        return  # capacity, contracts, consultations: not referral cells
    assert signal["evidence"] is None and signal["internal"] is None, "a client sees no counts of a signal"
    unit = uuid.UUID(signal["org_unit_id"])
    scope = model.world.subtree(unit)
    weeks = [date.fromisoformat(week) for week in signal["weeks"]]
    model.facts.append(
        Fact(
            model.cells(scope, categories, weeks),
            "ge",
            K,
            f"signal {signal['kind']} in {signal['org_unit_name']} weeks {weeks[0]}..{weeks[-1]}",
        )
    )


# -- the audit ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A number no one may learn: its cells and its true value (1..k-1)."""

    cells: frozenset[int]
    value: int
    what: str


def truth_vector(model: Model) -> np.ndarray:
    x = np.zeros(len(model.index), dtype=np.int64)
    for key, n in model.world.truth.items():
        assert key in model.index, f"a referral outside the model: {key}"
        x[model.index[key]] = n
    return x


def targets(model: Model, x: np.ndarray) -> list[Target]:
    found: dict[frozenset[int], Target] = {}

    def consider(cells: frozenset[int], what: str) -> None:
        value = int(sum(x[i] for i in cells))
        if 0 < value < K and cells not in found:
            found[cells] = Target(cells, value, what)

    for fact in model.facts:
        if fact.hidden:
            consider(fact.cells, fact.what)
    names = {uid: name for name, uid in model.world.units.items()}
    for first, last in sorted(model.trend_months):
        for unit in model.world.unit_ids:
            for category in CATEGORIES:
                weeks = weeks_between(first, last)
                consider(model.cells([unit], [category.value], weeks), f"own {names[unit]} {category.value} {first}")
    scopes = {frozenset({unit}): f"{names[unit]} (own)" for unit in model.world.unit_ids}
    for unit in model.world.unit_ids:
        scopes.setdefault(model.world.subtree(unit), names[unit])
    scopes[frozenset(model.world.unit_ids)] = "the organisation"
    for scope, name in scopes.items():
        for category in CATEGORIES:
            for week in MODEL_WEEKS:
                consider(model.cells(scope, [category.value], [week]), f"week {name} {category.value} {week}")
    return list(found.values())


def moves(model: Model) -> tuple[np.ndarray, np.ndarray]:
    """One referral from cell I to cell J (index n: nowhere): between units in one week, between the weeks of
    one unit's month, or into or out of the organisation."""
    n = len(model.index)
    sources: list[int] = []
    sinks: list[int] = []
    units = model.world.unit_ids
    for category in CATEGORIES:
        for week in MODEL_WEEKS:
            column = [model.index[(unit, category.value, week)] for unit in units] + [n]
            for i in column:
                for j in column:
                    if i != j:
                        sources.append(i)
                        sinks.append(j)
        for unit in units:
            by_month: dict[date, list[int]] = defaultdict(list)
            for week in MODEL_WEEKS:
                by_month[month_of_week(week)].append(model.index[(unit, category.value, week)])
            for cells in by_month.values():
                for i in cells:
                    for j in cells:
                        if i != j:
                            sources.append(i)
                            sinks.append(j)
    return np.array(sources), np.array(sinks)


def matrix(rows: Iterable[frozenset[int]], n: int) -> np.ndarray:
    """Rows of 0/1 over the cells, and a last zero column for "nowhere"."""
    rows = list(rows)
    out = np.zeros((len(rows), n + 1), dtype=np.int32)
    for r, cells in enumerate(rows):
        out[r, list(cells)] = 1
    return out


def derivation(model: Model, target: Target) -> str:
    """How the published numbers give the target exactly, when a linear combination of them does (a published
    zero counts for each of its cells: none of them can be negative)."""
    equal = [fact for fact in model.facts if fact.relation == "eq"]
    zeros = {i for fact in equal if fact.value == 0 for i in fact.cells}
    rows = equal + [Fact(frozenset({i}), "eq", 0, "a cell of a published zero") for i in sorted(zeros)]
    if not rows:
        return "and nothing equal was published"
    n = len(model.index)
    a = matrix([fact.cells for fact in rows], n)[:, :n].astype(float)
    t = matrix([target.cells], n)[0, :n].astype(float)
    y, *_ = np.linalg.lstsq(a.T, t, rcond=None)
    if np.abs(a.T @ y - t).max() > 1e-6:
        return "has no second world one move away (no linear combination of the shown numbers gives it)"
    terms = sorted(
        ((abs(c), c, fact) for c, fact in zip(y, rows, strict=True) if abs(c) > 1e-6 and fact.value),
        key=lambda term: (-term[0], term[2].what),
    )
    shown = " ".join(f"{c:+.2g}×[{fact.what} = {fact.value}]" for _, c, fact in terms[:6])
    return f"is derived: {shown}{' …' if len(terms) > 6 else ''} (minus published zeros)"


def audit(model: Model) -> list[str]:
    """The numbers that should stay unknown but have no second possible world, with how they are pinned."""
    x = truth_vector(model)
    n = len(model.index)
    for fact in model.facts:  # the model of what each number means must hold for the truth
        total = int(sum(x[i] for i in fact.cells))
        holds = {"eq": total == fact.value, "ge": total >= fact.value, "le": total <= fact.value}[fact.relation]
        assert holds, f"{fact.what}: published {fact.relation} {fact.value}, the truth is {total}"
    wanted = targets(model, x)
    if not wanted:
        return []
    source, sink = moves(model)
    x_ext = np.append(x, 1)  # "nowhere" can always give or take one
    ok = x_ext[source] >= 1
    for relation in ("eq", "ge", "le"):
        facts = [fact for fact in model.facts if fact.relation == relation]
        if not facts:
            continue
        a = matrix([fact.cells for fact in facts], n)
        delta = a[:, sink] - a[:, source]
        if relation == "eq":
            ok &= (delta == 0).all(axis=0)
        else:
            now = a[:, :n] @ x
            bound = np.array([fact.value for fact in facts])[:, None]
            after = now[:, None] + delta
            ok &= (after >= bound).all(axis=0) if relation == "ge" else (after <= bound).all(axis=0)
    t = matrix([target.cells for target in wanted], n)
    changed = (t[:, sink[ok]] - t[:, source[ok]]) != 0
    pinned = [target for target, free in zip(wanted, changed.any(axis=1), strict=True) if not free]
    return [f"{target.what} (true value {target.value}) {derivation(model, target)}" for target in pinned]


# -- the attacker ---------------------------------------------------------------------------------------------------

SPAN_DAYS = (TODAY - MODEL_FIRST).days
unit_choice = st.integers(0, len(TREE))  # len(TREE): the whole organisation
query = st.one_of(
    st.tuples(st.just("trends"), st.integers(0, SPAN_DAYS), st.integers(0, 400)),
    st.tuples(st.just("action"), unit_choice, st.integers(0, WEEKS * 7)),
    st.tuples(st.just("run"), unit_choice, st.integers(12, WEEKS - 10), st.integers(2, 4)),
    st.tuples(st.just("signals")),
    st.tuples(st.just("all_effects")),
)
ACTION_TYPES = sorted(ManagementActionType)
#: The actions whose effects "all_effects" reads: one batch call.
MAX_EFFECTS = 50


class Attacker:
    """Sends a client contact's queries from hypothesis's thread on the session's event loop."""

    def __init__(self, signals: ServiceUnderTest, world: World, loop: asyncio.AbstractEventLoop) -> None:
        self.signals, self.world, self.loop = signals, world, loop

    def wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)

    def get(self, path: str, params: Any = None) -> Any:
        answer = self.wait(self.signals.client.get(path, params=params, headers=bearer(self.world.token)))
        assert answer.status_code == 200, f"GET {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def record(self, choice: int, day: date) -> str:
        unit = self.world.unit_ids[choice] if choice < len(TREE) else None
        body = {
            "tenant_id": str(self.world.tenant),
            "org_unit_id": str(unit) if unit else None,
            "action_type": ACTION_TYPES[day.toordinal() % len(ACTION_TYPES)].value,
            "occurred_on": day.isoformat(),
        }
        answer = self.wait(self.signals.client.post("/management-actions", json=body, headers=bearer(self.world.token)))
        assert answer.status_code == 201, answer.text
        action_id: str = answer.json()["id"]
        return action_id

    def effects(self, model: Model, action_ids: list[str]) -> None:
        for start in range(0, len(action_ids), 50):
            batch = [("action_id", action) for action in action_ids[start : start + 50]]
            for effects in self.get("/management-actions/effects", batch):
                learn_effects(model, effects)

    def ask(self, model: Model, step: tuple[Any, ...]) -> None:
        kind = step[0]
        if kind == "trends":
            start = MODEL_FIRST + timedelta(days=step[1])
            end = start + timedelta(days=step[2])
            params = {"tenant_id": str(self.world.tenant), "from": start.isoformat(), "to": end.isoformat()}
            learn_trends(model, self.get("/trends", params))
        elif kind == "action":
            self.effects(model, [self.record(step[1], TODAY - timedelta(days=step[2]))])
        elif kind == "run":
            first = THIS_WEEK - timedelta(weeks=step[2]) + timedelta(days=2)
            self.effects(model, [self.record(step[1], first + timedelta(weeks=i)) for i in range(step[3])])
        elif kind == "signals":
            page = self.get("/signals", {"tenant_id": str(self.world.tenant), "limit": 200})
            for signal in page["items"]:
                assert self.get(f"/signals/{signal['id']}") == signal
                learn_signal(model, signal)
        else:  # the latest actions anyone recorded (earlier examples' too), latest first
            actions = self.get("/management-actions", {"tenant_id": str(self.world.tenant)})
            self.effects(model, [action["id"] for action in actions[:MAX_EFFECTS]])


# Hypothesis notes any change of the global random state while it draws; the service's own tasks on the event loop
# (Kafka clients) draw from it meanwhile, which is no strategy's doing.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module:hypothesis.errors.HypothesisDeprecationWarning")
async def test_no_sequence_of_client_queries_pins_a_hidden_number(signals: ServiceUnderTest, world: World) -> None:
    attacker = Attacker(signals, world, asyncio.get_running_loop())
    whole = ("trends", 0, SPAN_DAYS + 60)
    examples_run = 0

    @settings(
        max_examples=12,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.lists(query, min_size=1, max_size=4))
    # The classic attacks, always tried: overlapping windows a week apart beside the months; the signal beside its
    # month's cells; everything at once.
    @example([whole, ("run", len(TREE), QUIET_WEEKS_BACK, 2)])
    @example([whole, ("run", 1, QUIET_WEEKS_BACK - 1, 3)])
    @example([whole, ("signals",)])
    @example([whole, ("run", len(TREE), 16, 2), ("run", 0, 24, 3), ("all_effects",), ("signals",)])
    def attack(steps: list[tuple[Any, ...]]) -> None:
        nonlocal examples_run
        examples_run += 1
        model = Model(world)
        for step in steps:
            attacker.ask(model, step)
        leaks = audit(model)
        assert not leaks, "the published numbers pin hidden ones:\n" + "\n".join(leaks[:12])

    await asyncio.to_thread(attack)
    assert examples_run >= 12
