"""Taxonomies shared on the wire: help-request categories, urgency, referral channels, roles,
appointment kinds, products and VAT rates, signal kinds and the opportunity pipeline."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import ClassVar


class Category(StrEnum):
    """What a help request (hulpvraag) is about."""

    # work-related
    WORKLOAD_STRESS = "workload_stress"
    BURNOUT_RISK = "burnout_risk"
    CONFLICT_MANAGER = "conflict_manager"
    CONFLICT_COLLEAGUES = "conflict_colleagues"
    REORGANISATION_UNCERTAINTY = "reorganisation_uncertainty"
    DISMISSAL = "dismissal"
    NEW_WAYS_OF_WORKING = "new_ways_of_working"
    UNDESIRABLE_BEHAVIOUR = "undesirable_behaviour"
    CAREER = "career"
    ABSENCE_REINTEGRATION = "absence_reintegration"
    # personal
    FINANCES = "finances"
    RELATIONSHIP_FAMILY = "relationship_family"
    GRIEF = "grief"
    INFORMAL_CARE = "informal_care"
    ADDICTION = "addiction"
    HOUSING = "housing"
    OTHER = "other"

    @property
    def work_related(self) -> bool:
        """True for the categories that arise from work itself."""
        return self in WORK_RELATED


WORK_RELATED: frozenset[Category] = frozenset(
    {
        Category.WORKLOAD_STRESS,
        Category.BURNOUT_RISK,
        Category.CONFLICT_MANAGER,
        Category.CONFLICT_COLLEAGUES,
        Category.REORGANISATION_UNCERTAINTY,
        Category.DISMISSAL,
        Category.NEW_WAYS_OF_WORKING,
        Category.UNDESIRABLE_BEHAVIOUR,
        Category.CAREER,
        Category.ABSENCE_REINTEGRATION,
    }
)


class Urgency(StrEnum):
    """How soon a social worker must make contact."""

    CRISIS = "crisis"
    URGENT = "urgent"
    NORMAL = "normal"


class SlaTerm:
    """The contact deadline per urgency: crisis in hours, the others in Dutch working days."""

    CRISIS = timedelta(hours=24)
    WORKING_DAYS: ClassVar[dict[Urgency, int]] = {Urgency.URGENT: 3, Urgency.NORMAL: 5}


class Channel(StrEnum):
    """How a referral (aanmelding) reached the provider."""

    SELF = "self"
    MANAGER = "manager"
    HR = "hr"
    COMPANY_DOCTOR = "company_doctor"
    INTEGRATION = "integration"


class Role(StrEnum):
    """Role claims in an identity token (DESIGN §1)."""

    CLIENT_CONTACT = "client_contact"
    EMPLOYEE = "employee"
    SOCIAL_WORKER = "social_worker"
    ACCOUNT_MANAGER = "account_manager"
    PROVIDER_ADMIN = "provider_admin"
    INTEGRATION = "integration"


TENANT_BOUND_ROLES: frozenset[Role] = frozenset({Role.CLIENT_CONTACT, Role.EMPLOYEE, Role.INTEGRATION})


# -- scheduling -------------------------------------------------------------------------------


class AppointmentKind(StrEnum):
    """What an appointment in a social worker's agenda is for."""

    INTAKE = "intake"
    CONSULT = "consult"
    MANAGER_CONSULTATION = "manager_consultation"
    WORKSHOP = "workshop"
    SECONDMENT_BLOCK = "secondment_block"


#: Default length in minutes of the appointment kinds that have one (DESIGN §3 scheduling).
DEFAULT_DURATION_MINUTES: dict[AppointmentKind, int] = {
    AppointmentKind.INTAKE: 60,
    AppointmentKind.CONSULT: 45,
    AppointmentKind.MANAGER_CONSULTATION: 45,
}


class Location(StrEnum):
    """Where an appointment takes place."""

    CLIENT_SITE = "client_site"
    PROVIDER_OFFICE = "provider_office"
    VIDEO = "video"
    PHONE = "phone"


class CancelledBy(StrEnum):
    """Who cancelled an appointment (a role, never a person)."""

    EMPLOYEE = "employee"
    CLIENT_ORGANISATION = "client_organisation"
    SOCIAL_WORKER = "social_worker"
    PROVIDER = "provider"


class UnschedulableReason(StrEnum):
    """Why auto-scheduling found no intake slot for a case."""

    NO_WORKER_SERVES_TENANT = "no_worker_serves_tenant"
    NO_SPECIALISM = "no_specialism"
    NO_LANGUAGE = "no_language"
    NO_CAPACITY_BEFORE_DEADLINE = "no_capacity_before_deadline"


class WorkshopTheme(StrEnum):
    """Theme of a workshop or training from the provider's catalogue."""

    GIVING_AND_RECEIVING_FEEDBACK = "giving_and_receiving_feedback"
    CONDUCTING_DISMISSAL_CONVERSATIONS = "conducting_dismissal_conversations"
    SELF_MANAGEMENT = "self_management"
    WORKING_IN_A_HYBRID_TEAM = "working_in_a_hybrid_team"
    STRESS_AND_RESILIENCE = "stress_and_resilience"
    DEALING_WITH_CONFLICT = "dealing_with_conflict"
    LEADING_THROUGH_CHANGE = "leading_through_change"


# -- billing ------------------------------------------------------------------------------------


class ProductKind(StrEnum):
    """How a contract product is priced and metered."""

    SUBSCRIPTION_PER_EMPLOYEE_YEAR = "subscription_per_employee_year"
    HOUR_BUNDLE = "hour_bundle"
    TRAJECTORY_FIXED_PRICE = "trajectory_fixed_price"
    WORKSHOP_PER_SESSION = "workshop_per_session"
    WORKSHOP_PER_PARTICIPANT = "workshop_per_participant"
    SECONDMENT_HOURLY = "secondment_hourly"
    LATE_CANCELLATION_FEE = "late_cancellation_fee"
    NO_SHOW_FEE = "no_show_fee"


class VatRate(StrEnum):
    """Dutch VAT rate of a product: 21 %, 9 %, 0 % or exempt (vrijgesteld)."""

    STANDARD = "21"
    REDUCED = "9"
    ZERO = "0"
    EXEMPT = "exempt"


# -- signals ------------------------------------------------------------------------------------


class SignalKind(StrEnum):
    """What a detected signal is about (DESIGN §3 signals)."""

    REORGANISATION_WAVE = "reorganisation_wave"
    STRESS_SURGE = "stress_surge"
    BURNOUT_RISK_CLUSTER = "burnout_risk_cluster"
    LEADERSHIP_CONFLICT_CLUSTER = "leadership_conflict_cluster"
    NEW_WAYS_OF_WORKING_STRAIN = "new_ways_of_working_strain"
    CAPACITY_SHORTFALL = "capacity_shortfall"
    BUNDLE_THRESHOLD = "bundle_threshold"
    CONTRACT_ENDING = "contract_ending"
    REPEATED_MANAGER_CONSULTATIONS = "repeated_manager_consultations"


class DetectionMethod(StrEnum):
    """The explainable test that raised a signal."""

    POISSON_TAIL = "poisson_tail"
    NEGATIVE_BINOMIAL_TAIL = "negative_binomial_tail"
    EWMA = "ewma"
    CUSUM = "cusum"
    THRESHOLD = "threshold"


class OpportunityStage(StrEnum):
    """Sales pipeline stage of an opportunity: new → contacted → proposed → won | lost."""

    NEW = "new"
    CONTACTED = "contacted"
    PROPOSED = "proposed"
    WON = "won"
    LOST = "lost"


class Specialism(StrEnum):
    """What a social worker is specialised in; a case may need one (intake derives it from the category)."""

    BURNOUT = "burnout"
    EMPLOYMENT_LAW = "employment_law"
    CONFIDENTIAL_ADVISOR = "confidential_advisor"
    ADDICTION = "addiction"
    DEBT_COUNSELLING = "debt_counselling"
    GRIEF = "grief"
    MEDIATION = "mediation"
    CAREER_COACHING = "career_coaching"
