"""Demo data for the local stack: two Dutch client organisations, their contracts and a few social workers.

:func:`load_demo` talks to the running services' HTTP APIs as a provider administrator, exactly as a real
client would: billing (client organisations, contracts) and scheduling (social workers). Any failed call
stops it with a :class:`DemoLoadError` that names the request and quotes the answer.
"""

from __future__ import annotations

import logging
import math
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import httpx

from bmw.contracts.taxonomy import ProductKind, Role, Specialism, VatRate

if TYPE_CHECKING:
    from bmw.devstack.stack import Stack

logger = logging.getLogger(__name__)

_NAMESPACE: Final = uuid.UUID("6f1c1a52-6f1e-4b8e-9c43-0d6a3c1e2b7a")


def demo_id(name: str) -> str:
    """A stable UUID for a named demo identity (the same on every run)."""
    return str(uuid.uuid5(_NAMESPACE, name))


#: ``sub`` of the demo provider administrator.
DEMO_PROVIDER_ADMIN_ID: Final = demo_id("provider-admin/fatima-yilmaz")
#: ``sub`` of the demo account manager; the demo client organisations name her as their account manager.
DEMO_ACCOUNT_MANAGER_ID: Final = demo_id("account-manager/pieter-de-groot")
#: ``sub`` of the demo client contact (an HR officer) of the first demo tenant.
DEMO_CLIENT_CONTACT_ID: Final = demo_id("client-contact/marloes-jansen")
#: ``sub`` of the demo employee of the first demo tenant.
DEMO_EMPLOYEE_ID: Final = demo_id("employee/kevin-smit")
#: ``sub`` of the demo HR-system integration of the first demo tenant.
DEMO_INTEGRATION_ID: Final = demo_id("integration/afas-hr-koppeling")
#: Scopes of the demo integration: push referrals and org units, pull invoices and usage.
DEMO_INTEGRATION_SCOPES: Final = ("referrals:write", "org_units:write", "invoices:read", "usage:read")


_DEFAULT_SUBJECTS: Final = {
    Role.PROVIDER_ADMIN: DEMO_PROVIDER_ADMIN_ID,
    Role.ACCOUNT_MANAGER: DEMO_ACCOUNT_MANAGER_ID,
    Role.SOCIAL_WORKER: demo_id("social-worker/dev"),
    Role.CLIENT_CONTACT: DEMO_CLIENT_CONTACT_ID,
    Role.EMPLOYEE: DEMO_EMPLOYEE_ID,
    Role.INTEGRATION: DEMO_INTEGRATION_ID,
}


def default_subject(role: Role) -> str:
    """The ``sub`` a dev token for ``role`` gets when none is given: the demo identity of that role."""
    return _DEFAULT_SUBJECTS[role]


class DemoLoadError(RuntimeError):
    """A demo-data request failed; the message names the request and quotes the response."""


@dataclass(frozen=True)
class DemoOrgUnit:
    """An org unit (department) of a demo client organisation."""

    id: str
    name: str


@dataclass(frozen=True)
class DemoTenant:
    """A demo client organisation as created by billing."""

    id: str
    name: str
    org_units: tuple[DemoOrgUnit, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """``{"id", "name", "org_units": [{"id", "name"}]}`` as written to ``stack.json``."""
        return {"id": self.id, "name": self.name, "org_units": [{"id": u.id, "name": u.name} for u in self.org_units]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DemoTenant:
        """The inverse of :meth:`as_json`."""
        units = tuple(DemoOrgUnit(id=str(u["id"]), name=str(u["name"])) for u in data.get("org_units", []))
        return cls(id=str(data["id"]), name=str(data["name"]), org_units=units)


@dataclass(frozen=True)
class DemoWorker:
    """A demo social worker as created by scheduling."""

    id: str
    name: str


@dataclass(frozen=True)
class _Organisation:
    name: str
    kvk_number: str
    org_units: tuple[str, ...]
    products: tuple[dict[str, Any], ...]
    contract_start: date
    contract_end: date
    profile: dict[str, Any] = field(default_factory=dict)  # VAT id, invoice address and mailbox, contacts
    contract_terms: dict[str, Any] = field(default_factory=dict)  # employees, buyer reference, purchase order


@dataclass(frozen=True)
class _Worker:
    name: str
    specialisms: tuple[Specialism, ...]
    languages: tuple[str, ...]
    serves: tuple[int, ...] = field(default=(0, 1))  # indexes into the organisations


def _product(
    code: str,
    kind: ProductKind,
    unit_price_cents: int,
    vat: VatRate = VatRate.STANDARD,
    *,
    included_quantity: str | None = None,
    overage_unit_price_cents: int | None = None,
) -> dict[str, Any]:
    product: dict[str, Any] = {
        "code": code,
        "kind": kind.value,
        "unit_price_cents": unit_price_cents,
        "vat_rate": vat.value,
    }
    if included_quantity is not None:
        product["included_quantity"] = included_quantity
    if overage_unit_price_cents is not None:
        product["overage_unit_price_cents"] = overage_unit_price_cents
    return product


def _organisations(today: date) -> tuple[_Organisation, ...]:
    year_start = date(today.year, 1, 1)
    ending_soon = today + timedelta(days=75)  # inside the 90-day window: a contract-ending trigger to work on
    return (
        _Organisation(
            name="Van der Veen Transport & Logistiek B.V.",
            kvk_number="17089342",
            org_units=("Logistiek", "Planning", "Finance", "HR"),
            products=(
                _product("BMW-ABO", ProductKind.SUBSCRIPTION_PER_EMPLOYEE_YEAR, 2_850),
                _product(
                    "STRIPPENKAART-40",
                    ProductKind.HOUR_BUNDLE,
                    11_500,
                    included_quantity="40.00",
                    overage_unit_price_cents=12_500,
                ),
                _product("WS-SESSIE", ProductKind.WORKSHOP_PER_SESSION, 145_000),
                _product("LAAT-ANNULEREN", ProductKind.LATE_CANCELLATION_FEE, 9_500),
                _product("NO-SHOW", ProductKind.NO_SHOW_FEE, 11_500),
            ),
            contract_start=year_start,
            contract_end=date(today.year, 12, 31),
            profile={
                "vat_id": "NL812345678B01",
                "invoice_email": "crediteuren@vanderveen-logistiek.example.nl",
                "payment_terms_days": 30,
                "addresses": {
                    "visiting": {
                        "street": "Transportweg",
                        "house_number": "12",
                        "postal_code": "1505HX",
                        "city": "Zaandam",
                    },
                    "invoice": {
                        "street": "Postbus",
                        "house_number": "2040",
                        "postal_code": "1500GA",
                        "city": "Zaandam",
                    },
                },
                "contacts": [
                    {"role": "hr", "name": "Marieke Dijkstra", "email": "hr@vanderveen-logistiek.example.nl"},
                    {"role": "finance", "name": "Peter Kuiper", "email": "finance@vanderveen-logistiek.example.nl"},
                ],
            },
            contract_terms={"employees": 420, "buyer_reference": "VDV-BMW-2026"},
        ),
        _Organisation(
            name="Gemeente Waterland aan Zee",
            kvk_number="50218764",
            org_units=("Burgerzaken", "Sociaal Domein", "ICT", "Facilitair"),
            products=(
                _product("TRAJECT-VAST", ProductKind.TRAJECTORY_FIXED_PRICE, 125_000),
                _product("DETACHERING-UUR", ProductKind.SECONDMENT_HOURLY, 10_450),
                _product("WS-DEELNEMER", ProductKind.WORKSHOP_PER_PARTICIPANT, 19_500),
                _product("NO-SHOW", ProductKind.NO_SHOW_FEE, 11_500),
            ),
            contract_start=ending_soon - timedelta(days=2 * 365),
            contract_end=ending_soon,
            profile={
                "vat_id": "NL817345607B01",
                "invoice_email": "facturen@waterlandaanzee.example.nl",
                "payment_terms_days": 30,
                "addresses": {
                    "visiting": {
                        "street": "Raadhuisplein",
                        "house_number": "1",
                        "postal_code": "1441CA",
                        "city": "Purmerend",
                    },
                },
                "contacts": [{"role": "finance", "name": "Ahmed Benali", "email": "inkoop@waterlandaanzee.example.nl"}],
            },
            contract_terms={"purchase_order": "IO-2026-0042"},
        ),
    )


_WORKERS: Final = (
    # The first one is the demo social worker: their id is the social_worker token's subject, so that token
    # sees the cases auto-scheduling books with her.
    _Worker("Sanne de Vries", (Specialism.BURNOUT, Specialism.EMPLOYMENT_LAW, Specialism.MEDIATION), ("nl", "en")),
    _Worker("Mohamed El Amrani", (Specialism.CONFIDENTIAL_ADVISOR, Specialism.MEDIATION), ("nl", "ar", "en")),
    _Worker("Ingrid Bakker", (Specialism.DEBT_COUNSELLING, Specialism.GRIEF), ("nl", "de"), serves=(1,)),
    _Worker("Joris Hendriks", (Specialism.ADDICTION, Specialism.CAREER_COACHING), ("nl", "en"), serves=(0,)),
)


def _post(
    client: httpx.Client, url: str, token: str, payload: dict[str, Any], *, with_id: bool = True
) -> dict[str, Any]:
    key = str(uuid.uuid5(_NAMESPACE, f"{url} {sorted(payload.items())!r}"))
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    try:
        response = client.post(url, json=payload, headers=headers)
    except httpx.HTTPError as error:
        raise DemoLoadError(f"POST {url} failed: {type(error).__name__}: {error}") from error
    if response.status_code not in (200, 201):
        raise DemoLoadError(f"POST {url} answered HTTP {response.status_code}: {response.text[:1000]}")
    try:
        body = response.json()
    except ValueError:
        raise DemoLoadError(f"POST {url} answered something that is not JSON: {response.text[:300]}") from None
    if not isinstance(body, dict) or (with_id and "id" not in body):
        raise DemoLoadError(f"POST {url} answered without an id: {response.text[:1000]}")
    return body


def _tenant(body: dict[str, Any], url: str) -> DemoTenant:
    try:
        units = tuple(DemoOrgUnit(id=str(u["id"]), name=str(u["name"])) for u in body.get("org_units", []))
    except (KeyError, TypeError) as error:
        raise DemoLoadError(f"POST {url} answered org_units without id or name: {body!r}") from error
    return DemoTenant(id=str(body["id"]), name=str(body.get("name", "")), org_units=units)


def load_demo(stack: Stack, admin_token: str, *, client: httpx.Client | None = None) -> list[DemoTenant]:
    """Create the demo data through the services' APIs and return the demo client organisations.

    As ``provider_admin`` (``admin_token``): billing ``POST /client-organisations`` twice (a regional
    logistics company and a municipality, each with four org units), scheduling ``POST /workers`` for four
    social workers serving them, and billing ``POST /contracts`` (``tenant_id``, ``products``,
    ``period_start``, ``period_end``) for each organisation. The social workers are stored in
    ``stack.demo_workers``. Raises :class:`DemoLoadError` on the first failed call.
    """
    billing = stack.services["billing"].url.rstrip("/")
    scheduling = stack.services["scheduling"].url.rstrip("/")
    organisations = _organisations(datetime.now(ZoneInfo("Europe/Amsterdam")).date())
    own_client = client is None
    http = client if client is not None else httpx.Client(timeout=30.0)
    try:
        tenants: list[DemoTenant] = []
        for org in organisations:
            url = f"{billing}/client-organisations"
            body = _post(
                http,
                url,
                admin_token,
                {
                    "name": org.name,
                    "kvk_number": org.kvk_number,
                    "org_units": [{"name": unit, "employees": _HEADCOUNTS[unit]} for unit in org.org_units],
                    "account_manager_id": DEMO_ACCOUNT_MANAGER_ID,
                    **org.profile,
                },
            )
            tenants.append(_tenant(body, url))

        workers: list[DemoWorker] = []
        for number, worker in enumerate(_WORKERS):
            body = _post(
                http,
                f"{scheduling}/workers",
                admin_token,
                {
                    **({"id": default_subject(Role.SOCIAL_WORKER)} if number == 0 else {}),
                    "name": worker.name,
                    "specialisms": [s.value for s in worker.specialisms],
                    "languages": list(worker.languages),
                    "tenant_ids": [tenants[i].id for i in worker.serves],
                },
            )
            workers.append(DemoWorker(id=str(body["id"]), name=worker.name))
        stack.demo_workers = workers

        for org, tenant in zip(organisations, tenants, strict=True):
            _post(
                http,
                f"{billing}/contracts",
                admin_token,
                {
                    "tenant_id": tenant.id,
                    "products": list(org.products),
                    "period_start": org.contract_start.isoformat(),
                    "period_end": org.contract_end.isoformat(),
                    **org.contract_terms,
                },
            )
        _refer(http, stack, tenants)
        _plan(http, scheduling, admin_token, tenants, workers)
        _signals_story(http, stack, admin_token, tenants)
        return tenants
    finally:
        if own_client:
            http.close()


#: This week's referrals that tell the demo's story, per organisation: (org unit, category, how many).
#: At Van der Veen a reorganisation of Logistiek was announced: uncertainty and dismissal questions pile up
#: there (visible, 5 or more), while smaller cells elsewhere stay suppressed. At the municipality the move to
#: flexible working shows in ICT and the workload in Sociaal Domein.
_REFERRAL_STORY: tuple[tuple[tuple[str, str, int], ...], ...] = (
    (
        ("Logistiek", "reorganisation_uncertainty", 7),
        ("Logistiek", "dismissal", 5),
        ("Planning", "workload_stress", 3),
        ("Finance", "conflict_manager", 2),
    ),
    (
        ("Sociaal Domein", "workload_stress", 6),
        ("ICT", "new_ways_of_working", 5),
        ("Burgerzaken", "grief", 1),
    ),
)

#: Headcount per org unit (billing's profile): the detectors judge a unit's referrals against its size.
_HEADCOUNTS: Final = {
    "Logistiek": 180,
    "Planning": 60,
    "Finance": 40,
    "HR": 15,
    "Burgerzaken": 90,
    "Sociaal Domein": 120,
    "ICT": 45,
    "Facilitair": 35,
}

#: Referrals per employee per year in the imported history, per category: about 10 % of employees a year in
#: all, most of them about workload, conflicts and private matters (the seed's picture of the field).
_HISTORY_RATES: Final = {
    "workload_stress": 0.025,
    "burnout_risk": 0.01,
    "conflict_manager": 0.012,
    "conflict_colleagues": 0.01,
    "reorganisation_uncertainty": 0.006,
    "dismissal": 0.003,
    "new_ways_of_working": 0.004,
    "relationship_family": 0.012,
    "finances": 0.008,
    "informal_care": 0.004,
    "absence_reintegration": 0.006,
}

_FIRST_NAMES = ("Sanne", "Daan", "Fatima", "Jeroen", "Noor", "Mohammed", "Lotte", "Bram", "Yara", "Kees")
_LAST_NAMES = ("de Vries", "Jansen", "El Amrani", "Bakker", "Visser", "Yilmaz", "Smit", "de Boer", "Mulder")


def _refer(http: httpx.Client, stack: Stack, tenants: list[DemoTenant]) -> None:
    """Submit the story's referrals through intake as each organisation's HR contact.

    Intake learns the org units from billing's event, so the first referral is retried until it knows them.
    """
    intake = stack.services["intake"].url.rstrip("/") + "/referrals"
    number = 0
    for story, tenant in zip(_REFERRAL_STORY, tenants, strict=False):
        token = stack.mint(Role.CLIENT_CONTACT, tenant_id=tenant.id)
        units = {unit.name: unit.id for unit in tenant.org_units}
        for unit_name, category, count in story:
            for _ in range(count):
                first, last = _FIRST_NAMES[number % len(_FIRST_NAMES)], _LAST_NAMES[number % len(_LAST_NAMES)]
                number += 1
                payload = {
                    "org_unit_id": units[unit_name],
                    "category": category,
                    "urgency": "urgent" if category == "dismissal" else "normal",
                    "channel": "hr",
                    "employee": {"name": f"{first} {last}", "email": f"{first.lower()}.{number}@example.nl"},
                    "employee_consented": True,
                }
                _post_when_known(http, intake, token, payload)


def _local(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo("Europe/Amsterdam")).isoformat()


def _weekday_after(today: date, weekday: int, weeks: int) -> date:
    """The given weekday (0 = Monday) in the week ``weeks`` weeks after this one."""
    return today - timedelta(days=today.weekday()) + timedelta(weeks=weeks, days=weekday)


def _plan(
    http: httpx.Client, scheduling: str, admin_token: str, tenants: list[DemoTenant], workers: list[DemoWorker]
) -> None:
    """The scheduling side of the story, two weeks out (after the intakes the referrals booked):

    * Van der Veen asked for a training *conducting dismissal conversations* for the Logistiek team leaders
      (participants nominated by HR, at the distribution centre);
    * the municipality offers its ICT staff a self-registration workshop on working in a hybrid team;
    * and a social worker holds walk-in consultation hours (spreekuur) at Sociaal Domein every Tuesday
      morning for six weeks, where the workload stress shows.

    Planned again on a later ``make dev`` the same times may be taken already: that is reported, not fatal.
    """
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    van_der_veen, municipality = tenants[0], tenants[1]
    sanne, mohamed = workers[0], workers[1]
    plans: list[tuple[str, dict[str, Any]]] = [
        (
            f"{scheduling}/workshops",
            {
                "tenant_id": van_der_veen.id,
                "theme": "conducting_dismissal_conversations",
                "title": "Slechtnieuwsgesprekken voeren — teamleiders Logistiek",
                "location": "client_site",
                "location_detail": "Distributiecentrum Zaandam, vergaderzaal 2",
                "start": _local(_weekday_after(today, 3, 2), 13, 30),
                "duration_minutes": 180,
                "capacity": 12,
                "trainer_ids": [sanne.id, mohamed.id],
                "self_registration": False,
            },
        ),
        (
            f"{scheduling}/workshops",
            {
                "tenant_id": municipality.id,
                "theme": "working_in_a_hybrid_team",
                "location": "video",
                "start": _local(_weekday_after(today, 2, 3), 9, 30),
                "capacity": 15,
                "trainer_ids": [mohamed.id],
                "self_registration": True,
            },
        ),
        (
            f"{scheduling}/secondments",
            {
                "worker_id": mohamed.id,
                "tenant_id": municipality.id,
                "start": _local(_weekday_after(today, 1, 2), 9),
                "end": _local(_weekday_after(today, 1, 2), 12),
                "walk_in": True,
                "repeat_weekly": 5,
            },
        ),
    ]
    # Walk-in consults already held this month (or late last month, early in a month): usage to bill.
    first_day = today.replace(day=1) if today.day > 4 else (today.replace(day=1) - timedelta(days=10))
    held_days = [first_day + timedelta(days=n) for n in range(10) if (first_day + timedelta(days=n)).weekday() < 5]
    for number, day in enumerate(held_days[:3]):
        held = {
            "worker_id": sanne.id,
            "tenant_id": van_der_veen.id,
            "kind": "consult",
            "start": _local(day, 10 + number),
            "location": "client_site",
        }
        plans.append((f"{scheduling}/appointments/held", held))
    for url, payload in plans:
        try:
            _post(http, url, admin_token, payload, with_id=False)
        except DemoLoadError as error:
            if "HTTP 409" not in str(error):
                raise
            logger.warning("demo: %s not planned again, its time is taken: %s", url.rsplit("/", 1)[-1], error)


def _post_when_known(http: httpx.Client, url: str, token: str, payload: dict[str, Any], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    # The same story referral on a later `make dev` over the same data is recognised, not referred twice.
    key = str(uuid.uuid5(_NAMESPACE, f"{url} {payload!r}"))
    while True:
        response = http.post(url, json=payload, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})
        if response.status_code == 201:
            return
        unknown_unit = response.status_code == 422 and "org_unit_id" in response.text
        if not unknown_unit or time.monotonic() > deadline:
            raise DemoLoadError(f"POST {url} answered {response.status_code}: {response.text[:500]}")
        time.sleep(0.2)


def history_csv(tenant: DemoTenant, today: date, *, weeks: int = 104, seed: int = 2026) -> str:
    """Two years of ordinary weeks before this product, as a client brings them (the history import's CSV):
    Poisson counts at :data:`_HISTORY_RATES` per employee, a little busier in January and quieter in summer.
    Only weeks with referrals are written; deterministic for a tenant name, seed and week."""
    rng = random.Random(f"{seed} {tenant.name}")  # noqa: S311 - demo data, not a secret
    this_week = today - timedelta(days=today.weekday())
    lines = ["week;org_unit;category;count;employees"]
    for back in range(weeks, 0, -1):
        monday = this_week - timedelta(weeks=back)
        season = 0.6 if monday.month in (7, 8) else 1.25 if monday.month == 1 else 1.0
        for unit in tenant.org_units:
            employees = _HEADCOUNTS.get(unit.name, 50)
            for category, yearly in _HISTORY_RATES.items():
                count = _poisson(rng, yearly * employees / 52 * season)
                if count:
                    lines.append(f"{monday.isoformat()};{unit.name};{category};{count};{employees}")
    return "\n".join(lines) + "\n"


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means of weekly referral counts."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _signals_story(http: httpx.Client, stack: Stack, admin_token: str, tenants: list[DemoTenant]) -> None:
    """The signals side: each organisation's history is imported, then the detectors run once this week's
    story referrals are counted, so that Logistiek's reorganisation wave waits for a social worker's review
    (and, once confirmed, becomes an opportunity for the account manager)."""
    signals = stack.services["signals"].url.rstrip("/")
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).date()
    headers = {"Authorization": f"Bearer {admin_token}"}
    for tenant in tenants:
        deadline = time.monotonic() + 30.0
        while True:  # signals learns the organisation from billing's event
            response = http.post(
                f"{signals}/history-imports",
                params={"tenant_id": tenant.id},
                content=history_csv(tenant, today).encode(),
                headers={**headers, "content-type": "text/csv"},
            )
            if response.status_code == 201:
                break
            if response.status_code not in (404, 422) or time.monotonic() > deadline:
                raise DemoLoadError(
                    f"POST {signals}/history-imports answered {response.status_code}: {response.text[:500]}"
                )
            time.sleep(0.3)
    van_der_veen, municipality = tenants[0], tenants[1]
    logistiek = next(unit.id for unit in van_der_veen.org_units if unit.name == "Logistiek")
    sociaal = next(unit.id for unit in municipality.org_units if unit.name == "Sociaal Domein")
    # HR at Van der Veen records what management did (a known change point that explains the wave); the
    # seconded social worker notes what she sees at the municipality.
    _post(
        http,
        f"{signals}/management-actions",
        stack.mint(Role.CLIENT_CONTACT, tenant_id=van_der_veen.id),
        {
            "tenant_id": van_der_veen.id,
            "org_unit_id": logistiek,
            "action_type": "reorganisation_announced",
            "occurred_on": (today - timedelta(days=10)).isoformat(),
        },
    )
    _post(
        http,
        f"{signals}/secondment-observations",
        stack.mint(Role.SOCIAL_WORKER),
        {
            "tenant_id": municipality.id,
            "org_unit_id": sociaal,
            "bottleneck": "workload_after_staff_cuts",
            "observed_on": (today - timedelta(days=3)).isoformat(),
            "severity": 2,
        },
    )
    story = sum(count for unit_story in _REFERRAL_STORY for _, _, count in unit_story)
    deadline = time.monotonic() + 60.0
    while True:
        raised = 0
        for tenant in tenants:
            run = http.post(f"{signals}/detection-runs", params={"tenant_id": tenant.id}, headers=headers)
            if run.status_code != 200:
                raise DemoLoadError(f"POST {signals}/detection-runs answered {run.status_code}: {run.text[:500]}")
            raised += len(run.json()["raised"])
        if raised:
            return
        pending = http.get(f"{signals}/signals", params={"tenant_id": tenants[0].id}, headers=headers)
        if pending.status_code == 200 and pending.json().get("items"):
            return  # raised by an earlier run (the periodic job, or a previous `make dev` over the same data)
        if time.monotonic() > deadline:
            logger.warning("demo: no signal raised within a minute (%d story referrals)", story)
            return
        time.sleep(1.0)
