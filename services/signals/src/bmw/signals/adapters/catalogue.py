"""The provider's default interventions catalogue: what an account manager can offer for each signal kind.

Provider admins edit the catalogue over HTTP (``PUT /interventions/{code}``); this is the starting point the
migration seeds (inlined there, because a migration must not import application code; a unit test keeps the
two equal). An intervention is sold as one contract product kind, in a typical quantity: the tenant's contract
price of that kind is used where the contract has it, the list price below otherwise. Prices are euro cents
per unit, excluding VAT. ``rank`` orders the whole catalogue; within a signal kind the interventions that won
most often are recommended first, ties in catalogue order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bmw.contracts.taxonomy import ProductKind, SignalKind


@dataclass(frozen=True)
class CatalogueEntry:
    """One intervention of the catalogue."""

    code: str
    title_nl: str
    title_en: str
    description: str
    product_kind: ProductKind
    quantity: Decimal
    list_price_cents: int
    signal_kinds: tuple[SignalKind, ...]
    rank: int

    def as_row(self) -> dict[str, object]:
        """The row of the ``interventions`` table (as the migration seeds it)."""
        return {
            "code": self.code,
            "title_nl": self.title_nl,
            "title_en": self.title_en,
            "description": self.description,
            "product_kind": self.product_kind.value,
            "quantity": self.quantity,
            "list_price_cents": self.list_price_cents,
            "signal_kinds": [kind.value for kind in self.signal_kinds],
            "rank": self.rank,
        }


DEFAULT_INTERVENTIONS: tuple[CatalogueEntry, ...] = (
    CatalogueEntry(
        code="dismissal_conversations_training",
        title_nl="Training slechtnieuws- en ontslaggesprekken voeren",
        title_en="Training: conducting dismissal conversations",
        description="Two sessions for managers who must announce redundancies: preparing the conversation, "
        "delivering the message, handling emotion and what comes after, with a trained actor.",
        product_kind=ProductKind.WORKSHOP_PER_SESSION,
        quantity=Decimal(2),
        list_price_cents=165_000,
        signal_kinds=(SignalKind.REORGANISATION_WAVE,),
        rank=10,
    ),
    CatalogueEntry(
        code="reorganisation_secondment",
        title_nl="Detachering op locatie tijdens de reorganisatie",
        title_en="On-site secondment during the reorganisation",
        description="A social worker works on site two days a week for two months: open consultation hours, "
        "quick help for worried employees and advice to managers while the reorganisation runs.",
        product_kind=ProductKind.SECONDMENT_HOURLY,
        quantity=Decimal(64),
        list_price_cents=9_800,
        signal_kinds=(SignalKind.REORGANISATION_WAVE,),
        rank=20,
    ),
    CatalogueEntry(
        code="manager_theme_session",
        title_nl="Themabijeenkomst voor leidinggevenden",
        title_en="Theme session for all managers",
        description="One session on the theme managers keep asking advice about, so that all managers hear it "
        "once instead of one consultation at a time.",
        product_kind=ProductKind.WORKSHOP_PER_SESSION,
        quantity=Decimal(1),
        list_price_cents=125_000,
        signal_kinds=(SignalKind.REPEATED_MANAGER_CONSULTATIONS,),
        rank=25,
    ),
    CatalogueEntry(
        code="reorganisation_manager_handbook",
        title_nl="Handboek voor leidinggevenden bij reorganisatie",
        title_en="Manager handbook: reorganisation",
        description="A handbook tailored to the organisation: how to inform teams, hold individual talks, spot "
        "employees who struggle and when to refer them to the social worker.",
        product_kind=ProductKind.TRAJECTORY_FIXED_PRICE,
        quantity=Decimal(1),
        list_price_cents=345_000,
        signal_kinds=(SignalKind.REORGANISATION_WAVE, SignalKind.REPEATED_MANAGER_CONSULTATIONS),
        rank=30,
    ),
    CatalogueEntry(
        code="hybrid_working_workshop",
        title_nl="Workshop werken in een hybride team",
        title_en="Workshop: working in a hybrid team",
        description="A workshop for a team after the move to flexible working: agreements on availability, "
        "boundaries between home and work, and keeping in touch with colleagues who are rarely seen.",
        product_kind=ProductKind.WORKSHOP_PER_SESSION,
        quantity=Decimal(1),
        list_price_cents=125_000,
        signal_kinds=(SignalKind.NEW_WAYS_OF_WORKING_STRAIN,),
        rank=40,
    ),
    CatalogueEntry(
        code="team_coaching",
        title_nl="Teamcoaching",
        title_en="Team coaching",
        description="Twelve hours of coaching of a team and its manager on cooperation, roles and how "
        "disagreements are handled.",
        product_kind=ProductKind.HOUR_BUNDLE,
        quantity=Decimal(12),
        list_price_cents=11_500,
        signal_kinds=(SignalKind.LEADERSHIP_CONFLICT_CLUSTER, SignalKind.NEW_WAYS_OF_WORKING_STRAIN),
        rank=50,
    ),
    CatalogueEntry(
        code="feedback_workshop",
        title_nl="Workshop feedback geven en ontvangen",
        title_en="Workshop: giving and receiving feedback",
        description="A practical workshop for managers and their teams on giving and receiving feedback before "
        "irritation becomes conflict.",
        product_kind=ProductKind.WORKSHOP_PER_SESSION,
        quantity=Decimal(1),
        list_price_cents=125_000,
        signal_kinds=(SignalKind.LEADERSHIP_CONFLICT_CLUSTER,),
        rank=60,
    ),
    CatalogueEntry(
        code="leading_through_change_training",
        title_nl="Training leidinggeven aan verandering",
        title_en="Training: leading through change",
        description="Two sessions for managers on guiding a team through change: explaining why, giving room "
        "to uncertainty, and keeping the work going.",
        product_kind=ProductKind.WORKSHOP_PER_SESSION,
        quantity=Decimal(2),
        list_price_cents=155_000,
        signal_kinds=(
            SignalKind.REORGANISATION_WAVE,
            SignalKind.LEADERSHIP_CONFLICT_CLUSTER,
            SignalKind.REPEATED_MANAGER_CONSULTATIONS,
        ),
        rank=70,
    ),
    CatalogueEntry(
        code="resilience_training",
        title_nl="Training veerkracht en stressbestendigheid",
        title_en="Resilience training",
        description="A training for up to twelve employees on recognising stress early, setting limits and "
        "recovering, priced per participant.",
        product_kind=ProductKind.WORKSHOP_PER_PARTICIPANT,
        quantity=Decimal(12),
        list_price_cents=29_500,
        signal_kinds=(SignalKind.STRESS_SURGE, SignalKind.BURNOUT_RISK_CLUSTER),
        rank=75,
    ),
    CatalogueEntry(
        code="burnout_prevention_trajectory",
        title_nl="Preventietraject burn-out",
        title_en="Burnout prevention trajectory",
        description="Individual trajectories for employees at risk of burnout, each a fixed-price series of "
        "consults with a specialised social worker; offered for six employees.",
        product_kind=ProductKind.TRAJECTORY_FIXED_PRICE,
        quantity=Decimal(6),
        list_price_cents=145_000,
        signal_kinds=(SignalKind.BURNOUT_RISK_CLUSTER, SignalKind.STRESS_SURGE),
        rank=80,
    ),
    CatalogueEntry(
        code="extra_intake_capacity",
        title_nl="Extra intakecapaciteit",
        title_en="Extra intake capacity",
        description="Twenty extra hours of social worker time reserved for this client's intakes, so that urgent "
        "referrals are seen within their deadline.",
        product_kind=ProductKind.HOUR_BUNDLE,
        quantity=Decimal(20),
        list_price_cents=10_500,
        signal_kinds=(SignalKind.CAPACITY_SHORTFALL,),
        rank=90,
    ),
    CatalogueEntry(
        code="bundle_top_up",
        title_nl="Aanvulling strippenkaart",
        title_en="Hour bundle top-up",
        description="Forty extra prepaid hours when the current bundle (strippenkaart) runs out, so that help "
        "does not stop or fall into overage.",
        product_kind=ProductKind.HOUR_BUNDLE,
        quantity=Decimal(40),
        list_price_cents=10_500,
        signal_kinds=(SignalKind.BUNDLE_THRESHOLD, SignalKind.CAPACITY_SHORTFALL),
        rank=100,
    ),
    CatalogueEntry(
        code="contract_renewal",
        title_nl="Contractverlenging",
        title_en="Contract renewal",
        description="Renewal of the contract for another year with a yearly hour bundle, discussed together with "
        "the year's usage and trends.",
        product_kind=ProductKind.HOUR_BUNDLE,
        quantity=Decimal(80),
        list_price_cents=10_000,
        signal_kinds=(SignalKind.CONTRACT_ENDING, SignalKind.BUNDLE_THRESHOLD),
        rank=110,
    ),
)


def default_for(kind: SignalKind) -> CatalogueEntry:
    """The default catalogue's first intervention for a kind (every kind has one)."""
    return min((entry for entry in DEFAULT_INTERVENTIONS if kind in entry.signal_kinds), key=lambda e: e.rank)
