"""The shared taxonomies of ``bmw.contracts`` as GraphQL enums (one definition, on the wire and here).

GraphQL names are the Python member names (``WORKLOAD_STRESS``); resolvers receive the
``bmw.contracts`` members themselves.
"""

from __future__ import annotations

import strawberry

from bmw.contracts.taxonomy import Category, Channel, Role, Urgency

strawberry.enum(
    Category,
    description="What a help request (hulpvraag) is about: work-related or personal.",
)
strawberry.enum(
    Urgency,
    description="How soon a social worker must make contact: CRISIS within 24 hours, "
    "URGENT within 3 working days, NORMAL within 5.",
)
strawberry.enum(
    Channel,
    description="How a referral (aanmelding) reached the provider: by the employee, their "
    "manager, HR, the company doctor (bedrijfsarts) or an integration.",
)
strawberry.enum(Role, description="Role claims of an identity token.")

__all__ = ["Category", "Channel", "Role", "Urgency"]
