"""Taxonomies shared on the wire: help-request categories, urgency, referral channels, roles."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum


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
    WORKING_DAYS: dict[Urgency, int] = {Urgency.URGENT: 3, Urgency.NORMAL: 5}


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


TENANT_BOUND_ROLES: frozenset[Role] = frozenset(
    {Role.CLIENT_CONTACT, Role.EMPLOYEE, Role.INTEGRATION}
)
