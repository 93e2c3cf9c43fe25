"""GraphQL enums of scheduling, each value described.

The values are scheduling's wire values (and, where ``bmw.contracts.taxonomy`` has the enum, the same as
there; a test keeps them equal). They are the gateway's own classes because strawberry takes value
descriptions only from ``strawberry.enum_value`` in the class body.
"""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum(description="What an appointment in a social worker's agenda is for.")
class AppointmentKind(Enum):
    INTAKE = strawberry.enum_value("intake", description="First conversation of a case (60 minutes by default).")
    CONSULT = strawberry.enum_value("consult", description="Follow-up conversation of a case (45 minutes).")
    MANAGER_CONSULTATION = strawberry.enum_value(
        "manager_consultation", description="Advice to a manager of a client organisation (45 minutes)."
    )
    WORKSHOP = strawberry.enum_value(
        "workshop", description="A trainer's block for a workshop; scheduled with scheduleWorkshop, not booked."
    )
    SECONDMENT_BLOCK = strawberry.enum_value(
        "secondment_block", description="The worker on site at a client (detachering); not booked here."
    )


@strawberry.enum(description="Where a social worker meets clients, or a workshop takes place.")
class MeetingLocation(Enum):
    CLIENT_SITE = strawberry.enum_value("client_site", description="At the client organisation's premises.")
    PROVIDER_OFFICE = strawberry.enum_value("provider_office", description="At the provider's office.")
    VIDEO = strawberry.enum_value("video", description="By video call.")
    PHONE = strawberry.enum_value("phone", description="By phone.")


@strawberry.enum(description="Which party cancelled (a role, never a person).")
class CancelledBy(Enum):
    EMPLOYEE = strawberry.enum_value("employee", description="The employee the appointment was for.")
    CLIENT_ORGANISATION = strawberry.enum_value(
        "client_organisation", description="The client organisation (its client contact)."
    )
    SOCIAL_WORKER = strawberry.enum_value("social_worker", description="The social worker.")
    PROVIDER = strawberry.enum_value("provider", description="The provider (an administrator).")


@strawberry.enum(description="Where an appointment stands.")
class AppointmentStatus(Enum):
    BOOKED = strawberry.enum_value("booked", description="Planned.")
    CANCELLED = strawberry.enum_value("cancelled", description="Called off; see lateCancellation and cancelledBy.")
    COMPLETED = strawberry.enum_value("completed", description="Took place.")
    NO_SHOW = strawberry.enum_value("no_show", description="The client did not come.")


@strawberry.enum(description="Theme of a workshop or training from the provider's catalogue.")
class WorkshopTheme(Enum):
    GIVING_AND_RECEIVING_FEEDBACK = strawberry.enum_value(
        "giving_and_receiving_feedback", description="Giving and receiving feedback."
    )
    CONDUCTING_DISMISSAL_CONVERSATIONS = strawberry.enum_value(
        "conducting_dismissal_conversations", description="Conducting dismissal conversations (for managers)."
    )
    SELF_MANAGEMENT = strawberry.enum_value("self_management", description="Self-management (zelfsturing).")
    WORKING_IN_A_HYBRID_TEAM = strawberry.enum_value(
        "working_in_a_hybrid_team", description="Working in a hybrid team (het nieuwe werken)."
    )
    STRESS_AND_RESILIENCE = strawberry.enum_value("stress_and_resilience", description="Stress and resilience.")
    DEALING_WITH_CONFLICT = strawberry.enum_value("dealing_with_conflict", description="Dealing with conflict.")
    LEADING_THROUGH_CHANGE = strawberry.enum_value(
        "leading_through_change", description="Leading through change (for managers)."
    )


@strawberry.enum(description="Lifecycle of a workshop session: SCHEDULED, then COMPLETED or CANCELLED.")
class WorkshopStatus(Enum):
    SCHEDULED = strawberry.enum_value("scheduled", description="Planned; registrations are open.")
    COMPLETED = strawberry.enum_value("completed", description="Took place; attendance is recorded.")
    CANCELLED = strawberry.enum_value("cancelled", description="Called off.")


@strawberry.enum(description="A participant's place in a workshop.")
class RegistrationStatus(Enum):
    REGISTERED = strawberry.enum_value("registered", description="Has a seat.")
    WAITLISTED = strawberry.enum_value("waitlisted", description="Waits for a seat; see waitlistPosition.")
    CANCELLED = strawberry.enum_value("cancelled", description="Gave up the seat or waitlist place.")
