"""Billing's metering vocabulary as GraphQL enums, for the billing part of a person's data.

Each member's value is billing's wire value, so the bodies parse billing's JSON straight into these members.
"""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="What billing metered: which kind of billable activity.")
class MeteredActivity(Enum):
    APPOINTMENT_COMPLETED = strawberry.enum_value("appointment_completed", description="An appointment took place.")
    APPOINTMENT_NO_SHOW = strawberry.enum_value("appointment_no_show", description="The client did not come.")
    APPOINTMENT_LATE_CANCELLATION = strawberry.enum_value(
        "appointment_late_cancellation", description="An appointment cancelled less than 24 hours before."
    )
    CASE_OPENED = strawberry.enum_value("case_opened", description="A case opened: a trajectory at a fixed price.")
    WORKSHOP_COMPLETED = strawberry.enum_value("workshop_completed", description="A workshop took place.")
    WORKSHOP_LATE_CANCELLATION = strawberry.enum_value(
        "workshop_late_cancellation", description="A workshop cancelled late by the client organisation."
    )
    SECONDMENT_HOURS = strawberry.enum_value("secondment_hours", description="Hours of a social worker on site.")


@strawberry.enum(description="What a metered quantity counts.")
class MeteredUnit(Enum):
    HOUR = strawberry.enum_value("hour", description="Hours, exact to two decimals.")
    SESSION = strawberry.enum_value("session", description="Sessions.")
    PARTICIPANT = strawberry.enum_value("participant", description="Participants of a workshop.")
    CASE = strawberry.enum_value("case", description="Cases (trajectories).")
    OCCURRENCE = strawberry.enum_value(
        "occurrence", description="Occurrences of a fee (a no-show, a late cancellation)."
    )


@strawberry.enum(description="Where a metered usage row stands in billing.")
class UsageStatus(Enum):
    OPEN = strawberry.enum_value("open", description="Billable, not yet on an invoice.")
    HELD = strawberry.enum_value("held", description="No contract was in force on its day (yet): not billed.")
    INVOICED = strawberry.enum_value("invoiced", description="On an invoice.")
